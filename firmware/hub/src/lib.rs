//! The hub: the coordinators' machine that every kit syncs with. It keeps what kits send in
//! its own encrypted vault (the same `fieldkit-vault` as a kit, its X25519 static secret
//! sealed in it), matches separated children with tracing requests across every kit and
//! agency with the kit core's warm index, and routes back match notices, review decisions
//! and cases transferred between agencies. It keeps each kit's last-seen commit counter and
//! audit head, so a kit whose vault was rolled back is noticed, logged and shown to the
//! coordinator.
//!
//! - [`service`]: [`HubService`], the hub over its vault (receive, route, commit, transmit);
//! - [`store`]: how its state sits in the vault;
//! - [`codes`]: the deployment code lists the hub reads and announces to its kits;
//! - [`gateway`]: the LoRa gateway mode (a RAK3172 on a serial port) and the HTTP endpoint
//!   loop for kits on IP.
//!
//! **Never:** acknowledges a frame before what it delivered is committed (a hub killed at
//! any moment loses nothing acknowledged), writes case data or keys outside the vault, logs
//! case data (ids, counts and risk words only), or opens a device or reads a clock itself
//! (callers pass the port, the server and `now`).

pub mod codes;
pub mod gateway;
pub mod service;
pub mod store;

/// The deployment's configuration a hub opens with (the kit core's: location tree, lookups,
/// triage and matching settings).
pub use fieldkit_app::KitConfig;
pub use service::{
    EnrollKitError, HubService, InitError, KitView, NOTICES_PER_TRACE, OpenError, Receipt,
    ReceiveError, TransmitError, init,
};

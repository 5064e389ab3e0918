//! The kit's side of sync: its identity and protocol state kept in the vault, the outbox
//! hook that queues every saved change, and sync rounds over a link (LoRa through the
//! RAK3172, the cellular modem's IP path, or HTTP on any IP network).
//!
//! - [`state`]: what survives a restart (the X25519 secret, send-counter reservations, the
//!   replay window, the outbox and inbox of messages in transfer, the high-water stamp of
//!   what was sent), sealed in the vault through `Session::sync_write`;
//! - [`hook`]: [`hook::SyncOutbox`], the kit core's `Outbox`, which queues each saved record
//!   in the save's own vault transaction, with its priority;
//! - [`engine`]: [`engine::KitSync`]: provisioning, turning queued records into messages,
//!   and one exchange with the hub (frames out, frames in, what arrived applied through the
//!   kit core so it is triaged and matched like a registration);
//! - [`link`]: the [`link::Link`] a round runs over;
//! - [`radio`]: the radios as the jobs hold them: the LoRa link with its duty-cycle budget,
//!   and the cellular modem switched on for a round and off after it;
//! - [`jobs`]: the kiosk's background jobs (`BulkSync`, `Reindex`, `MatchRun`) with the
//!   unlocked kit.
//!
//! The order of writes makes a kit killed at any moment resume without losing or repeating
//! anything: a send counter is handed out only below a limit already committed; the outbox
//! is committed (with each message's fragment size) before its frames leave; what arrives
//! is applied (an idempotent merge) before the inbox and replay window that acknowledge it
//! are committed, and acknowledgements leave only after that commit.
//!
//! **Never:** keeps a key outside the vault or after the kit locks (it works only with an
//! unlocked kit), logs case data or key bytes, or sends GBV incidents (they leave a kit
//! only in an incident bundle).

pub mod engine;
pub mod hook;
pub mod jobs;
pub mod link;
pub mod radio;
pub mod state;

pub use engine::{Exchange, KitSync, Provision, SyncError};
pub use hook::SyncOutbox;
pub use link::{HttpLink, Link, LinkError, LoraLink};
pub use radio::{Cellular, CellularUp, LoraRound, ModemTiming, SwitchedModem};

/// Gives a freshly opened kit the sync outbox hook when it is provisioned for sync, so every
/// save is queued for the hub in its own transaction. Call right after `Kit::open` (the
/// command line, the touch screen's sign-in). Returns whether the kit is provisioned.
pub fn attach(kit: &mut fieldkit_app::Kit) -> Result<bool, SyncError> {
    let provisioned = KitSync::is_provisioned(kit.session())?;
    if provisioned {
        kit.set_outbox(Box::new(SyncOutbox::default()));
    }
    Ok(provisioned)
}

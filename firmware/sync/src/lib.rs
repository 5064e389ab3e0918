//! The sync protocol between kits and the hub, as a sans-IO library: what is said, how it
//! is packed, sealed, cut to the link's size, acknowledged and resumed.
//!
//! - [`codec`] and [`dict`]: the compact binary form of field-level operations;
//! - [`codes`]: a deployment's code lists (location codes and the like) and the handshake
//!   that lets a kit use them only when its hub reads the same list;
//! - [`message`]: alerts, match notices, review decisions, operations, status, and their
//!   priorities, compressed with DEFLATE against a preset dictionary ([`primer`]);
//! - [`seal`]: frames sealed end to end (X25519 static keys → HKDF-SHA256 →
//!   ChaCha20-Poly1305), addressed by a short kit id;
//! - [`counter`]: send counters reserved in persisted blocks, and the replay window;
//! - [`transfer`]: fragmentation, selective acknowledgements, the outbox and the inbox;
//! - [`endpoint`]: all of it as one state machine per kit–hub pair;
//! - [`hub`]: the hub's endpoints for every enrolled kit, routing by kit id, and the kits'
//!   vault status (a rolled-back vault is noticed);
//! - [`schedule`]: which link, and when, from the power mode, the links and the outbox.
//!
//! **Never:** does IO, reads a clock (callers pass `now`), draws random numbers (keys come
//! from the caller), panics on any input (every decoder is property tested), or prints a
//! key. State that must survive a power cut (counter limits, outbox, inbox, replay window)
//! is handed to the caller to persist, at the moment it must be persisted.
//!
//! ```
//! use std::convert::Infallible;
//! use fieldkit_sync::counter::{ReplayWindow, SendCounter};
//! use fieldkit_sync::endpoint::Endpoint;
//! use fieldkit_sync::message::{Alert, Body, Priority};
//! use fieldkit_sync::seal::{Channel, LinkKeys, StaticKey};
//! use fieldkit_domain::{RecordId, RecordKind};
//!
//! let kit_key = StaticKey::from_bytes([1; 32]);
//! let hub_key = StaticKey::from_bytes([2; 32]);
//! let channel = |keys| Channel::new(keys, SendCounter::resume(0, 64), ReplayWindow::default());
//! let mut kit = Endpoint::new(
//!     channel(LinkKeys::for_kit(&kit_key, &hub_key.public()).unwrap()),
//!     Default::default(),
//!     Default::default(),
//! );
//! let mut hub = Endpoint::new(
//!     channel(LinkKeys::for_hub(&hub_key, &kit_key.public()).unwrap()),
//!     Default::default(),
//!     Default::default(),
//! );
//! let alert = Body::Alert(Alert {
//!     kind: RecordKind::Case,
//!     record: RecordId::from_bytes([7; 16]),
//!     risk: "high".into(),
//!     concerns: vec!["unaccompanied".into()],
//!     raised_min: 29_600_000,
//! });
//! kit.queue(&alert);
//! let persist = |_| Ok::<_, Infallible>(());
//! let frame = kit.poll_transmit(0, 51, 10_000, Priority::Urgent, persist).unwrap().unwrap();
//! assert!(frame.len() <= 51);
//! let got = hub.handle(&frame).unwrap().unwrap();
//! assert_eq!(got.body, Ok(alert));
//! let ack = hub.poll_transmit(0, 51, 10_000, Priority::Urgent, persist).unwrap().unwrap();
//! kit.handle(&ack).unwrap();
//! assert!(kit.outbox().is_empty());
//! ```

pub mod codec;
pub mod codes;
pub mod counter;
pub mod dict;
pub mod endpoint;
pub mod hub;
pub mod message;
pub mod primer;
pub mod schedule;
pub mod seal;
pub mod transfer;
pub mod wire;

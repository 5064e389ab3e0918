//! The hook through which every saved change reaches the sync outbox.
//!
//! The kit calls [`Outbox::changed`] once per record saved, after the save committed, with the
//! session still open so an outbox kept in the vault can be written in the same sign-in. The
//! sync engine implements it; [`NoOutbox`] (a kit not provisioned for sync) drops the notices,
//! and sync finds unsent changes by their stamps when it is provisioned later.

use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_vault::Session;

/// How soon a change should leave the kit (sync sends the higher first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Any other change.
    Routine,
    /// A review decision on a potential match.
    Review,
    /// A new or changed potential match.
    Match,
    /// A case that raised an urgent protection alert.
    Urgent,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Typed or imported on this kit.
    Local,
    /// Received by sync (or a bundle from another kit); the kit may still have changed it
    /// afterwards (triage, matching), which then comes as a `Local` notice of its own.
    Received,
}

/// One saved change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record.
    pub id: RecordId,
    /// Its version after the save.
    pub version: u64,
    /// How soon to send it.
    pub priority: Priority,
    /// Where it came from.
    pub origin: Origin,
}

/// A failure of the outbox. The record is saved whatever happens here; the kit logs the
/// failure and the sync engine must find the change again by its stamps.
#[derive(Debug, thiserror::Error)]
#[error("sync outbox: {0}")]
pub struct OutboxError(pub String);

/// Receives every saved change. Implemented by the sync engine.
pub trait Outbox: Send {
    /// Called after each save committed.
    fn changed(&mut self, session: &mut Session, change: &Change) -> Result<(), OutboxError>;
}

/// The outbox of a kit without sync: notices are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOutbox;

impl Outbox for NoOutbox {
    fn changed(&mut self, _session: &mut Session, _change: &Change) -> Result<(), OutboxError> {
        Ok(())
    }
}

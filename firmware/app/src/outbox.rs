//! The hook through which every saved change reaches the sync outbox.
//!
//! The kit calls [`Outbox::changed`] once per record written, inside the vault transaction that
//! writes it ([`Tx`]), before the commit: the outbox entry is saved together with the change,
//! so a power cut can lose neither one without the other. The sync engine implements it (its
//! queue is a vault table written through the same `Tx`); [`NoOutbox`] (a kit not provisioned
//! for sync) drops the notices, and sync finds unsent changes by their stamps
//! (`Session::ops_since`) when it is provisioned later.

use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_vault::Tx;

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

impl Priority {
    /// The priority as a number, higher sooner: 0 routine, 1 review, 2 match, 3 urgent (what a
    /// queue kept in the vault stores, since the vault does not know this type).
    pub fn rank(self) -> u8 {
        match self {
            Priority::Routine => 0,
            Priority::Review => 1,
            Priority::Match => 2,
            Priority::Urgent => 3,
        }
    }
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

/// A failure of the outbox. The record is saved whatever happens here (the transaction still
/// commits); the kit logs the failure and the sync engine must find the change again by its
/// stamps.
#[derive(Debug, thiserror::Error)]
#[error("sync outbox: {0}")]
pub struct OutboxError(pub String);

/// Receives every saved change. Implemented by the sync engine.
pub trait Outbox: Send {
    /// Called for each record written, inside the transaction that writes it, before the
    /// commit; what the outbox writes through `tx` commits (or not) with the record.
    fn changed(&mut self, tx: &mut Tx<'_>, change: &Change) -> Result<(), OutboxError>;
}

/// The outbox of a kit without sync: notices are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOutbox;

impl Outbox for NoOutbox {
    fn changed(&mut self, _tx: &mut Tx<'_>, _change: &Change) -> Result<(), OutboxError> {
        Ok(())
    }
}

//! The kit core's outbox hook: every saved record is queued for sync in the vault
//! transaction that saves it, with its priority.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldkit_app::{Change, Origin, Outbox, OutboxError};
use fieldkit_vault::{Queued, Tx};

/// Queues each saved change in the vault's sync queue. Changes that the sync engine itself
/// applied from the hub are queued as `from_hub` (nothing to send back unless the kit
/// changes the record afterwards); records received any other way (a bundle, an import)
/// are sent whole. Made by `KitSync::outbox_hook`; a kit whose engine is not running
/// (locked, or sync not started yet) still queues with [`SyncOutbox::default`].
#[derive(Debug, Clone, Default)]
pub struct SyncOutbox {
    applying: Arc<AtomicBool>,
}

impl SyncOutbox {
    /// A hook sharing the engine's "applying what the hub sent" flag.
    pub fn sharing(applying: Arc<AtomicBool>) -> Self {
        Self { applying }
    }
}

impl Outbox for SyncOutbox {
    fn changed(&mut self, tx: &mut Tx<'_>, change: &Change) -> Result<(), OutboxError> {
        let received = change.origin == Origin::Received;
        let from_hub = received && self.applying.load(Ordering::SeqCst);
        tx.queue_outgoing(Queued {
            kind: change.kind,
            id: change.id,
            version: change.version,
            rank: change.priority.rank(),
            from_hub,
            whole: received && !from_hub,
        })
        .map_err(|e| OutboxError(e.to_string()))
    }
}

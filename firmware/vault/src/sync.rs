//! What sync keeps in the vault: the kit's sync identity, send-counter reservations, the
//! receiver's replay window, the outbox and inbox of messages in transfer (all as sealed,
//! named values the sync engine encodes), and the queue of records saved but not yet handed
//! to the outbox.
//!
//! The vault does not know the sync protocol: a value is bytes the engine gives and takes
//! back. Every value and queue entry is sealed under a key derived from the data key (so a
//! stolen card shows neither the kit's X25519 secret nor which children are urgent), bound
//! to its table and name, and sealed again when the keys rotate. Every write goes through
//! [`Session::commit`], like a record's. The kit's public key (not secret) is also kept in
//! plaintext, so a locked kit can say whether it is provisioned for sync.
//!
//! Rows are not bound into the sealed state: a row swapped back from an older copy of this
//! same file is caught only by the rollback anchor (TPM mode), as the file is.

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use fieldkit_domain::{RecordId, RecordKind};

use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};
use crate::schema;
use crate::session::Session;
use crate::storage::{Row, begin, decode, encode, hex, read_meta, write_meta};
use crate::tx::Tx;
use crate::vault::Vault;

/// Named sealed values (`identity`, `counter`, `window`, `outbox`, `inbox`, …).
pub(crate) const SYNC: TableDefinition<&str, &[u8]> = TableDefinition::new("sync");
/// Records saved and not yet in the outbox: kind byte + record id → sealed entry.
pub(crate) const SYNC_QUEUE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sync_queue");
/// The kit's sync public key, plaintext (32 bytes).
const META_PUBLIC: &str = "sync_public";

/// Longest name of a sync value.
pub const MAX_SYNC_NAME: usize = 64;

/// A record saved and waiting to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record.
    pub id: RecordId,
    /// Its version when queued.
    pub version: u64,
    /// How soon: 0 routine, 1 review decision, 2 match, 3 urgent (higher first).
    pub rank: u8,
    /// Came from the hub and not changed here since: nothing to send back.
    pub from_hub: bool,
    /// Send the whole record, not only what changed since the last send (records that
    /// arrived by a bundle or an import carry operations older than that).
    pub whole: bool,
}

#[derive(Serialize, Deserialize)]
struct QueueEntry {
    version: u64,
    rank: u8,
    from_hub: bool,
    whole: bool,
}

/// One sync write: values set and removed, queue entries taken into the outbox, in one
/// transaction.
#[derive(Debug, Default)]
pub struct SyncWrite<'a> {
    /// Values to set.
    pub put: Vec<(&'a str, &'a [u8])>,
    /// Values to remove.
    pub remove: Vec<&'a str>,
    /// Queue entries handed to the outbox: each is removed unless the record was saved
    /// again since (a newer version stays queued).
    pub dequeue: Vec<Queued>,
    /// The kit's public key, kept in plaintext (set at provisioning).
    pub public: Option<[u8; 32]>,
}

fn value_aad(table: &str, name: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + name.len());
    aad.extend_from_slice(b"fieldkit/sync|");
    aad.extend_from_slice(table.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(name);
    aad
}

fn seal_row(key: &Key, table: &str, name: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    let sealed = crypto::seal(key, &value_aad(table, name), plain)?;
    Ok(Row { version: 0, sealed }.to_bytes())
}

fn open_row(key: &Key, table: &str, name: &[u8], bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let what = || VaultError::Tampered {
        what: format!("sync {table} entry {}", String::from_utf8_lossy(name)),
    };
    let row = Row::from_bytes(bytes).ok_or_else(what)?;
    crypto::open(key, &value_aad(table, name), &row.sealed).map_err(|_| what())
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_SYNC_NAME {
        return Err(VaultError::BadChange(format!(
            "sync value name of {} bytes (1 to {MAX_SYNC_NAME})",
            name.len()
        )));
    }
    Ok(())
}

/// Queues records in a write transaction (the save's own, so a saved record is never left
/// unqueued). A record already queued keeps the higher rank, `from_hub` only while every
/// save since came from the hub, and `whole` once any save asked for it.
pub(crate) fn queue_in(txn: &WriteTransaction, key: &Key, entries: &[Queued]) -> Result<()> {
    let mut table = txn.open_table(SYNC_QUEUE)?;
    for q in entries {
        if q.kind == RecordKind::Incident {
            // GBV incidents never leave the kit by sync (only by an incident bundle).
            continue;
        }
        let k = schema::record_key(q.kind, q.id);
        let old = match table.get(k.as_slice())? {
            Some(v) => Some(decode::<QueueEntry>(
                &open_row(key, "sync_queue", &k, v.value())?,
                "sync queue entry",
            )?),
            None => None,
        };
        let entry = QueueEntry {
            version: old.as_ref().map_or(q.version, |o| o.version.max(q.version)),
            rank: old.as_ref().map_or(q.rank, |o| o.rank.max(q.rank)),
            from_hub: old.as_ref().is_none_or(|o| o.from_hub) && q.from_hub,
            whole: old.as_ref().is_some_and(|o| o.whole) || q.whole,
        };
        let row = seal_row(key, "sync_queue", &k, &encode(&entry)?)?;
        table.insert(k.as_slice(), row.as_slice())?;
    }
    Ok(())
}

/// Seals every sync value and queue entry again under new keys (key rotation).
pub(crate) fn reseal(txn: &WriteTransaction, old: &Key, new: &Key) -> Result<()> {
    let values: Vec<(String, Zeroizing<Vec<u8>>)> = {
        let table = txn.open_table(SYNC)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let name = k.value().to_string();
            let plain = open_row(old, "sync", name.as_bytes(), v.value())?;
            out.push((name, plain));
        }
        out
    };
    {
        let mut table = txn.open_table(SYNC)?;
        for (name, plain) in &values {
            let row = seal_row(new, "sync", name.as_bytes(), plain)?;
            table.insert(name.as_str(), row.as_slice())?;
        }
    }
    let queue: Vec<(Vec<u8>, Zeroizing<Vec<u8>>)> = {
        let table = txn.open_table(SYNC_QUEUE)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let key = k.value().to_vec();
            let plain = open_row(old, "sync_queue", &key, v.value())?;
            out.push((key, plain));
        }
        out
    };
    let mut table = txn.open_table(SYNC_QUEUE)?;
    for (key, plain) in &queue {
        let row = seal_row(new, "sync_queue", key, plain)?;
        table.insert(key.as_slice(), row.as_slice())?;
    }
    Ok(())
}

impl Session {
    /// A sync value, or `None` when never set.
    pub fn sync_value(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        check_name(name)?;
        let txn = self.vault.db.begin_read()?;
        let table = match txn.open_table(SYNC) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(name)? {
            Some(v) => Ok(Some(open_row(
                &self.keys.sync,
                "sync",
                name.as_bytes(),
                v.value(),
            )?)),
            None => Ok(None),
        }
    }

    /// The names of the sync values that start with `prefix`, in order.
    pub fn sync_names(&self, prefix: &str) -> Result<Vec<String>> {
        let txn = self.vault.db.begin_read()?;
        let table = match txn.open_table(SYNC) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.range(prefix..)? {
            let (k, _) = row?;
            let name = k.value();
            if !name.starts_with(prefix) {
                break;
            }
            out.push(name.to_string());
        }
        Ok(out)
    }

    /// Writes sync values and takes queue entries, in one committed transaction.
    pub fn sync_write(&mut self, w: &SyncWrite<'_>) -> Result<()> {
        for (name, _) in &w.put {
            check_name(name)?;
        }
        for name in &w.remove {
            check_name(name)?;
        }
        let txn = begin(&self.vault.db)?;
        {
            let mut table = txn.open_table(SYNC)?;
            for (name, plain) in &w.put {
                let row = seal_row(&self.keys.sync, "sync", name.as_bytes(), plain)?;
                table.insert(*name, row.as_slice())?;
            }
            for name in &w.remove {
                table.remove(*name)?;
            }
        }
        {
            let mut table = txn.open_table(SYNC_QUEUE)?;
            for q in &w.dequeue {
                let k = schema::record_key(q.kind, q.id);
                let stored = match table.get(k.as_slice())? {
                    Some(v) => Some(
                        decode::<QueueEntry>(
                            &open_row(&self.keys.sync, "sync_queue", &k, v.value())?,
                            "sync queue entry",
                        )?
                        .version,
                    ),
                    None => None,
                };
                if stored.is_some_and(|v| v <= q.version) {
                    table.remove(k.as_slice())?;
                }
            }
        }
        if let Some(public) = &w.public {
            write_meta(&txn, META_PUBLIC, public)?;
        }
        self.commit(txn)
    }

    /// Queues saved records for sync in their own transaction (when the save's transaction
    /// could not take them).
    pub fn queue_outgoing(&mut self, entries: &[Queued]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let txn = begin(&self.vault.db)?;
        queue_in(&txn, &self.keys.sync, entries)?;
        self.commit(txn)
    }

    /// Records waiting to be sent, most urgent first, at most `limit`.
    pub fn queued(&self, limit: usize) -> Result<Vec<Queued>> {
        let txn = self.vault.db.begin_read()?;
        let table = match txn.open_table(SYNC_QUEUE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let Some((kind, id)) = schema::parse_record_key(k.value()) else {
                return Err(VaultError::Tampered {
                    what: format!("sync queue key {}", hex(k.value())),
                });
            };
            let e: QueueEntry = decode(
                &open_row(&self.keys.sync, "sync_queue", k.value(), v.value())?,
                "sync queue entry",
            )?;
            out.push(Queued {
                kind,
                id,
                version: e.version,
                rank: e.rank,
                from_hub: e.from_hub,
                whole: e.whole,
            });
        }
        // Most urgent first, then oldest record id (ids are time-ordered).
        out.sort_by(|a, b| b.rank.cmp(&a.rank).then(a.id.cmp(&b.id)));
        out.truncate(limit);
        Ok(out)
    }
}

impl Tx<'_> {
    /// Queues a record for sync in this transaction (the kit core's outbox hook calls it for
    /// every record the transaction writes, so the save and its queue entry commit together).
    pub fn queue_outgoing(&mut self, q: Queued) -> Result<()> {
        queue_in(&self.txn, &self.session.keys.sync, &[q])
    }
}

impl Vault {
    /// The kit's sync public key, when provisioned for sync (readable while locked).
    pub fn sync_public(&self) -> Result<Option<[u8; 32]>> {
        let txn = self.db.begin_read()?;
        read_meta(&txn, META_PUBLIC)
    }
}

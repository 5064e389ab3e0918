//! The audit trail: a hash chain of logins, reads, writes and exports.
//!
//! Each entry holds the hash of the one before, so an entry cannot be changed or removed without
//! breaking every later link. The head (last sequence number and hash) is kept in `meta`; while a
//! caseworker is signed in, a checkpoint of the head is also MACed under a key only an unlocked
//! vault has, so rewriting the whole chain needs the vault's key. The head travels with sync, so
//! a hub notices a chain that was cut short. Entries name records by id and caseworkers by
//! user name; they never hold case data (a search is logged without its query).

use crate::error::{CheckError, ReadError, StoreError};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use fieldkit_domain::{RecordId, RecordKind};

use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};
use crate::schema::{AUDIT, meta};
use crate::session::Session;
use crate::storage::{begin, decode, encode, hex, read_meta, read_meta_w, write_meta};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    /// The vault was created.
    Init,
    /// A sign-in attempt, recorded before the credential is checked.
    LoginAttempt,
    /// The credential was right.
    LoginOk,
    /// The credential was wrong.
    LoginFailed,
    /// The caseworker key slots were erased after too many failures.
    Wiped,
    /// Access restored with the recovery key.
    Recovery,
    /// A record was opened.
    Read,
    /// A record was created or changed locally.
    Write,
    /// A record was merged from outside (import or sync).
    Merge,
    /// A search; the query is not kept.
    Search {
        /// How many results were shown.
        results: u32,
    },
    /// Every record of a kind was read (matching, export).
    BulkRead {
        /// How many.
        records: u32,
    },
    /// Records left the vault in a bundle or file.
    Export {
        /// How many.
        records: u32,
        /// `bundle` or `primero-json`.
        format: String,
    },
    /// Records came in from a bundle or file.
    Import {
        /// How many.
        records: u32,
        /// `bundle` or `primero-json`.
        format: String,
    },
    /// A caseworker was added.
    CaseworkerAdded {
        /// The new caseworker.
        username: String,
    },
    /// A credential was changed or reset.
    CredentialChanged {
        /// Whose.
        username: String,
    },
    /// The list of caseworkers and their rights was read.
    RosterRead {
        /// How many were listed.
        caseworkers: u32,
    },
    /// A caseworker was removed and the keys rotated.
    CaseworkerRemoved {
        /// Who.
        username: String,
        /// The new key epoch.
        epoch: u32,
    },
    /// The vault was accepted as it is, despite what the sign-in checks found.
    RollbackAccepted {
        /// What was found.
        findings: String,
    },
    /// A page of a list was shown.
    List {
        /// Which kind.
        kind: RecordKind,
        /// How many summaries were shown.
        results: u32,
    },
    /// The signing-in caseworker's key slot, made in software mode, was sealed anew in the
    /// hardware element (the first such sign-in also moved the vault to it).
    SealedInHardware {
        /// Which element (`tpm2`).
        hardware: String,
        /// Caseworkers' slots still protected by the PIN alone.
        still_in_software: u32,
    },
    /// A photo was attached to the record (a case).
    PhotoAdded {
        /// Its slot in the case.
        slot: u32,
    },
    /// A full photo of the record was opened.
    PhotoOpened {
        /// Its slot in the case.
        slot: u32,
    },
    /// A photo of the record was removed.
    PhotoRemoved {
        /// Its slot in the case.
        slot: u32,
    },
    /// A caseworker decided a potential match (the record); who, when and the note are kept
    /// in the match itself.
    MatchReviewed {
        /// True: confirmed as the same child; false: rejected.
        confirmed: bool,
    },
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 0.
    pub seq: u64,
    /// Wall time when it happened, as the kit believed.
    pub at_ms: u64,
    /// Who (a caseworker name; `?` before sign-in).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// Which record, if one.
    pub record: Option<(RecordKind, RecordId)>,
    /// Hash of the previous entry (zeros for the first).
    pub prev: [u8; 32],
}

impl AuditEntry {
    /// This entry's hash, which the next entry holds.
    pub fn hash(&self) -> Result<[u8; 32], VaultError> {
        let bytes = crate::storage::encode(self)?;
        Ok(crate::crypto::hash(&[b"fieldkit audit v1", &bytes]))
    }
}

/// The end of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Number of entries.
    pub len: u64,
    /// Hash of the last entry (zeros when empty).
    pub hash: [u8; 32],
}

/// A head authenticated under the vault's audit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditCheckpoint {
    pub head: AuditHead,
    pub mac: [u8; 32],
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The head.
    pub head_hash: String,
    /// Entries covered by the authenticated checkpoint.
    pub checkpoint_covers: u64,
}

/// One audit entry to append: when, who, what, which record.
pub(crate) type AuditItem<'a> = (u64, &'a str, AuditAction, Option<(RecordKind, RecordId)>);

/// Appends to the audit chain inside `txn`; with `key`, also moves the authenticated checkpoint.
pub(crate) fn append_audit(
    txn: &WriteTransaction,
    key: Option<&Key>,
    at_ms: u64,
    actor: &str,
    action: AuditAction,
    record: Option<(RecordKind, RecordId)>,
) -> Result<()> {
    append_audit_many(txn, key, vec![(at_ms, actor, action, record)])
}

/// Appends several entries in order, reading and writing the head once.
pub(crate) fn append_audit_many(
    txn: &WriteTransaction,
    key: Option<&Key>,
    items: Vec<AuditItem<'_>>,
) -> Result<()> {
    let mut head: AuditHead = read_meta_w(txn, meta::AUDIT_HEAD)?.unwrap_or(AuditHead {
        len: 0,
        hash: [0; 32],
    });
    {
        let mut table = txn.open_table(AUDIT)?;
        for (at_ms, actor, action, record) in items {
            let entry = AuditEntry {
                seq: head.len,
                at_ms,
                actor: actor.to_string(),
                action,
                record,
                prev: head.hash,
            };
            table.insert(entry.seq, encode(&entry)?.as_slice())?;
            head = AuditHead {
                len: head.len + 1,
                hash: entry.hash()?,
            };
        }
    }
    write_meta(txn, meta::AUDIT_HEAD, &head)?;
    if let Some(k) = key {
        let mac = crypto::mac(k, &[&head.len.to_le_bytes(), &head.hash]);
        write_meta(txn, meta::AUDIT_CHECKPOINT, &AuditCheckpoint { head, mac })?;
    }
    Ok(())
}

impl Session {
    pub(crate) fn audit(
        &self,
        txn: &WriteTransaction,
        now_ms: u64,
        action: AuditAction,
        record: Option<(RecordKind, RecordId)>,
    ) -> Result<()> {
        append_audit(
            txn,
            Some(&self.keys.audit),
            now_ms,
            &self.user.username,
            action,
            record,
        )
    }

    /// Appends one audit entry in a transaction of its own.
    pub(crate) fn audit_now(
        &mut self,
        now_ms: u64,
        action: AuditAction,
        record: Option<(RecordKind, RecordId)>,
    ) -> Result<()> {
        let txn = begin(&self.vault.db)?;
        self.audit(&txn, now_ms, action, record)?;
        self.commit(txn)
    }

    /// Walks the audit chain from the first entry and checks every link, the head, and the
    /// authenticated checkpoint.
    pub fn verify_audit(&self) -> Result<AuditReport, CheckError> {
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let head: AuditHead = read_meta(&txn, meta::AUDIT_HEAD)?
            .ok_or_else(|| VaultError::AuditBroken("no head".into()))?;
        let checkpoint: AuditCheckpoint = read_meta(&txn, meta::AUDIT_CHECKPOINT)?
            .ok_or_else(|| VaultError::AuditBroken("no checkpoint".into()))?;
        let mac = crypto::mac(
            &self.keys.audit,
            &[&checkpoint.head.len.to_le_bytes(), &checkpoint.head.hash],
        );
        if !crypto::ct_eq(&mac, &checkpoint.mac) {
            return Err(
                VaultError::AuditBroken("the checkpoint's authentication failed".into()).into(),
            );
        }
        let mut prev = [0u8; 32];
        let mut n = 0u64;
        let mut checkpoint_seen = checkpoint.head.len == 0;
        for row in table.iter()? {
            let (k, v) = row?;
            let entry: AuditEntry = decode(v.value(), "audit entry")?;
            if k.value() != n || entry.seq != n {
                return Err(VaultError::AuditBroken(format!(
                    "entry {n} is missing or out of place"
                ))
                .into());
            }
            if entry.prev != prev {
                return Err(VaultError::AuditBroken(format!(
                    "entry {n} does not link to entry {}",
                    n.wrapping_sub(1)
                ))
                .into());
            }
            prev = entry.hash()?;
            n += 1;
            if n == checkpoint.head.len {
                if prev != checkpoint.head.hash {
                    return Err(VaultError::AuditBroken(format!(
                        "entry {} differs from the authenticated checkpoint",
                        n - 1
                    ))
                    .into());
                }
                checkpoint_seen = true;
            }
        }
        if !checkpoint_seen {
            return Err(VaultError::AuditBroken(format!(
                "the chain has {n} entries but the authenticated checkpoint covers {}: entries were removed",
                checkpoint.head.len
            )).into());
        }
        if head.len != n || head.hash != prev {
            return Err(
                VaultError::AuditBroken("the head does not match the last entry".into()).into(),
            );
        }
        Ok(AuditReport {
            entries: n,
            head_hash: hex(&prev),
            checkpoint_covers: checkpoint.head.len,
        })
    }

    /// The audit entries, oldest first.
    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>, ReadError> {
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        table
            .iter()?
            .map(|row| {
                let (_, v) = row?;
                Ok(decode(v.value(), "audit entry")?)
            })
            .collect()
    }

    /// The audit head, which sync carries to the hub.
    pub fn audit_head(&self) -> Result<AuditHead, ReadError> {
        let txn = self.vault.db.begin_read()?;
        read_meta(&txn, meta::AUDIT_HEAD)?
            .ok_or_else(|| StoreError::Corrupt("the audit chain has no head".into()).into())
    }

    /// The vault's commit counter (raised by every commit): with [`Session::audit_head`], what a
    /// kit reports to its hub so a rolled-back vault is noticed.
    pub fn commit_counter(&self) -> Result<u64> {
        let txn = self.vault.db.begin_read()?;
        Ok(read_meta(&txn, meta::COUNTER)?.unwrap_or(0))
    }
}

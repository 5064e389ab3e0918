//! Bulk reads for the kit's application layer: every record of a kind streamed one at a time
//! (the matcher index at sign-in needs each record once, never all of them at once), and a
//! set of records by id (what a merge or an import changed). Each is one audit entry, and each
//! row is checked against the authenticated versions like every other read.

use crate::error::ReadError;
use redb::ReadableDatabase;

use fieldkit_domain::{Document, RecordId, RecordKind};

use crate::audit::AuditAction;
use crate::error::{Result, VaultError};
use crate::records::{Opened, kind_bounds};
use crate::schema::{self, RECORDS, VERSIONS};
use crate::session::Session;
use crate::storage::hex;

/// A document as a typed record.
fn opened(doc: &Document, version: u64) -> Result<Opened> {
    let record = doc
        .to_record()
        .map_err(|e| VaultError::Corrupt(format!("{}: {e}", doc.id())))?;
    Ok(Opened {
        record,
        conflicts: doc.conflicts(),
        version,
    })
}

impl Session {
    /// Decrypts every record of a kind in id order and hands each to `each`, holding one at a
    /// time. Audited first, as one bulk read of the records the kind holds. Returns how many
    /// were read. A record whose rows were deleted or rolled back fails loudly, as in `all`.
    pub fn scan(
        &mut self,
        kind: RecordKind,
        now_ms: u64,
        mut each: impl FnMut(Opened),
    ) -> Result<u64, ReadError> {
        self.keys.record_key(kind)?;
        let n = self.count(kind)?;
        self.audit_now(
            now_ms,
            AuditAction::BulkRead {
                records: u32::try_from(n).unwrap_or(u32::MAX),
            },
            None,
        )?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        let versions = txn.open_table(VERSIONS)?;
        let (lo, hi) = kind_bounds(kind);
        let mut read = 0;
        for row in versions.range(lo.as_slice()..hi.as_slice())? {
            let (k, expected) = row?;
            let key = schema::key17(k.value())?;
            let v = table
                .get(key.as_slice())?
                .ok_or_else(|| VaultError::Tampered {
                    what: format!("record {}: its rows were deleted", hex(&key)),
                })?;
            let (doc, version) = self.unseal_doc(&key, v.value(), expected.value())?;
            each(opened(&doc, version)?);
            read += 1;
        }
        if table.range(lo.as_slice()..hi.as_slice())?.count() as u64 != read {
            return Err(VaultError::Tampered {
                what: "a record the vault never wrote".into(),
            }
            .into());
        }
        Ok(read)
    }

    /// The records with these kinds and ids (those not in the vault, and incidents without
    /// incident access, are left out), audited as one bulk read.
    pub fn get_many(
        &mut self,
        wanted: &[(RecordKind, RecordId)],
        now_ms: u64,
    ) -> Result<Vec<Opened>, ReadError> {
        let mut out = Vec::with_capacity(wanted.len());
        {
            let txn = self.vault.db.begin_read()?;
            let table = txn.open_table(RECORDS)?;
            let versions = txn.open_table(VERSIONS)?;
            for &(kind, id) in wanted {
                if self.keys.record_key(kind).is_err() {
                    continue;
                }
                if let Some((doc, version)) = self.load_from(&table, &versions, kind, id)? {
                    out.push(opened(&doc, version)?);
                }
            }
        }
        self.audit_now(
            now_ms,
            AuditAction::BulkRead {
                records: u32::try_from(out.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        Ok(out)
    }
}

//! Bulk reads for the kit's application layer: every record of a kind streamed one at a time
//! (the matcher index at sign-in needs each record once, never all of them at once), and a
//! set of records by id (what a merge or an import changed). Each is one audit entry.

use redb::ReadableDatabase;

use fieldkit_domain::{RecordId, RecordKind};

use crate::audit::AuditAction;
use crate::error::{Result, VaultError};
use crate::records::{Opened, kind_bounds};
use crate::schema::{self, RECORDS};
use crate::session::Session;

impl Session {
    /// One sealed row as a typed record.
    fn open_row(&self, key: &[u8; 17], bytes: &[u8]) -> Result<Opened> {
        let (doc, version) = self.unseal_doc(key, bytes)?;
        let record = doc
            .to_record()
            .map_err(|e| VaultError::Corrupt(format!("{}: {e}", doc.id())))?;
        Ok(Opened {
            record,
            conflicts: doc.conflicts(),
            version,
        })
    }

    /// Decrypts every record of a kind in id order and hands each to `each`, holding one at a
    /// time. Audited first, as one bulk read of the records the kind holds. Returns how many
    /// were read.
    pub fn scan(
        &mut self,
        kind: RecordKind,
        now_ms: u64,
        mut each: impl FnMut(Opened),
    ) -> Result<u64> {
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
        let (lo, hi) = kind_bounds(kind);
        let mut read = 0;
        for row in table.range(lo.as_slice()..hi.as_slice())? {
            let (k, v) = row?;
            let key: [u8; 17] = k
                .value()
                .try_into()
                .map_err(|_| VaultError::Corrupt("record key of wrong length".into()))?;
            each(self.open_row(&key, v.value())?);
            read += 1;
        }
        Ok(read)
    }

    /// The records with these kinds and ids (those not in the vault, and incidents without
    /// incident access, are left out), audited as one bulk read.
    pub fn get_many(
        &mut self,
        wanted: &[(RecordKind, RecordId)],
        now_ms: u64,
    ) -> Result<Vec<Opened>> {
        let mut out = Vec::with_capacity(wanted.len());
        {
            let txn = self.vault.db.begin_read()?;
            let table = txn.open_table(RECORDS)?;
            for &(kind, id) in wanted {
                if self.keys.record_key(kind).is_err() {
                    continue;
                }
                let key = schema::record_key(kind, id);
                let Some(v) = table.get(key.as_slice())? else {
                    continue;
                };
                out.push(self.open_row(&key, v.value())?);
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

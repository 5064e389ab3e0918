//! Removing a caseworker, which rotates the keys: a new data key and incident key (a new key
//! epoch), every record, summary, index entry, sync value and photo sealed again under them, and every remaining
//! slot granted the new keys through its public key. The removed caseworker's slot is deleted;
//! a copy of it restored from an old backup opens only the old keys, which open nothing
//! written since (issue 8, finding 10).

use crate::error::CaseworkerError;
use redb::ReadableTable;

use fieldkit_domain::Document;

use crate::audit::AuditAction;
use crate::crypto::Key;
use crate::error::{Result, VaultError};
use crate::keyslot::{Keys, StoredSlot, is_reserved};
use crate::manifest::{Manifest, scan_versions, versions_of};
use crate::policy::CredentialPolicy;
use crate::records::Batch;
use crate::schema::{KEYSLOTS, NAME_INDEX, RECORDS, TERMS, meta};
use crate::session::Session;
use crate::signin::Lockouts;
use crate::storage::{begin, hex, read_meta_w, write_meta};

/// Records re-encrypted per step: read under the old keys, then written under the new.
const STEP: usize = 256;

impl Session {
    /// Removes a caseworker and rotates the keys, in one transaction. Supervisors with incident
    /// access only (every incident is sealed again). Every other slot must be in the current
    /// format: a caseworker whose slot predates schema 3 signs in once first (the recovery key
    /// too), since only then can the new keys be granted to them.
    pub fn remove_caseworker(
        &mut self,
        username: &str,
        now_ms: u64,
    ) -> Result<(), CaseworkerError> {
        self.require_supervisor()?;
        if is_reserved(username) {
            return Err(VaultError::Forbidden(format!(
                "`{username}` is not a caseworker and cannot be removed"
            ))
            .into());
        }
        if username == self.user.username {
            return Err(VaultError::Forbidden(
                "a supervisor cannot remove themself: another supervisor must".into(),
            )
            .into());
        }
        if self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "removing a caseworker re-encrypts every incident: a supervisor with incident access must do it".into(),
            ).into());
        }
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        let slots: Vec<(String, StoredSlot)> = {
            let table = txn.open_table(KEYSLOTS)?;
            let mut out = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                out.push((k.value().to_string(), StoredSlot::decode(v.value())?));
            }
            out
        };
        if !slots.iter().any(|(n, _)| n == username) {
            return Err(VaultError::NoSuchCaseworker(username.to_string()).into());
        }
        let legacy: Vec<&str> = slots
            .iter()
            .filter(|(n, s)| n != username && matches!(s, StoredSlot::Legacy(_)))
            .map(|(n, _)| n.as_str())
            .collect();
        if !legacy.is_empty() {
            return Err(VaultError::Forbidden(format!(
                "these key slots predate the current format and cannot receive new keys: {}; each must sign in once first (the recovery key with `fieldkit recover`)",
                legacy.join(", ")
            )).into());
        }

        let epoch = self
            .keys
            .epoch
            .checked_add(1)
            .ok_or_else(|| VaultError::Corrupt("the key epoch is at its maximum".into()))?;
        let mut new_keys = Keys::new(Key::random()?, Some(Key::random()?), epoch);
        let old_manifest = self.manifest;

        // Every record again, under the new keys; the index and term sets from scratch.
        txn.delete_multimap_table(NAME_INDEX)?;
        txn.delete_table(TERMS)?;
        let entries = versions_of(&txn)?;
        for step in entries.chunks(STEP) {
            let mut docs: Vec<(Document, u64)> = Vec::with_capacity(step.len());
            {
                let records = txn.open_table(RECORDS)?;
                for (key, version) in step {
                    let bytes =
                        records
                            .get(key.as_slice())?
                            .ok_or_else(|| VaultError::Tampered {
                                what: format!("record {}: its rows were deleted", hex(key)),
                            })?;
                    docs.push(self.unseal_doc(key, bytes.value(), *version)?);
                }
            }
            std::mem::swap(&mut self.keys, &mut new_keys);
            let mut batch = Batch {
                txn: &txn,
                manifest: Manifest::default(),
                listed: Vec::new(),
            };
            let stored: Result<()> = docs.iter().try_for_each(|(doc, version)| {
                self.store(&mut batch, doc, Some(*version), None)
                    .map(|_| ())
            });
            std::mem::swap(&mut self.keys, &mut new_keys);
            stored?;
        }
        std::mem::swap(&mut self.keys, &mut new_keys);
        // From here on `self.keys` are the new keys.
        let old_keys = new_keys;
        crate::sync::reseal(&txn, &old_keys.sync, &self.keys.sync)?;
        crate::photos::reseal(&txn, &old_keys.photos, &self.keys.photos)?;
        // Cached values are made again from the records under the new keys.
        crate::cache::remove_in(&txn, None)?;
        self.terms_seen.clear();
        let ctx = self.slot_context(&policy)?;
        {
            let mut table = txn.open_table(KEYSLOTS)?;
            for (name, slot) in &slots {
                if name == username {
                    table.remove(name.as_str())?;
                } else if let StoredSlot::Current(s) = slot {
                    let regranted = s.regranted(&ctx, &self.keys)?;
                    table.insert(name.as_str(), regranted.to_bytes()?.as_slice())?;
                }
            }
        }
        let mut lockouts = Lockouts::read_w(&txn)?;
        lockouts.names.remove(username);
        lockouts.write(&txn)?;
        write_meta(&txn, meta::EPOCH, &epoch)?;
        self.manifest = scan_versions(&txn, &self.keys)?;
        // The audit checkpoint moves under the new audit key with this entry.
        self.audit(
            &txn,
            now_ms,
            AuditAction::CaseworkerRemoved {
                username: username.to_string(),
                epoch,
            },
            None,
        )?;
        if let Err(e) = self.commit(txn) {
            // Nothing was written: the session keeps the keys the file still has.
            self.keys = old_keys;
            self.manifest = old_manifest;
            return Err(e.into());
        }
        tracing::info!(
            epoch,
            records = entries.len(),
            "caseworker removed, keys rotated"
        );
        Ok(())
    }
}

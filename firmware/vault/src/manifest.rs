//! The sealed state: one authenticated record of what the file must hold — the commit counter,
//! the manifest of every record's version, the audit head, the lockout counts, the credential
//! policy and a digest of every key slot — sealed under a key from the data key at every
//! authenticated commit, and checked at every sign-in. Also the whole-vault check, `verify`.
//!
//! The manifest is a keyed multiset hash (the sum modulo 2²⁵⁶ of HMAC-SHA256 over each record's
//! key and version, after Clarke et al., "Incremental Multiset Hash Functions", 2003): it is
//! updated in constant time per write, and without the key nobody can find another set of
//! records with the same sum (an unkeyed XOR of hashes, as schema 2 had, can be solved by
//! linear algebra).

use crate::error::CheckError;
use std::collections::{BTreeMap, BTreeSet};

use redb::{
    ReadableDatabase, ReadableMultimapTable, ReadableTable, ReadableTableMetadata, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use fieldkit_domain::RecordKind;

use crate::audit::AuditHead;
use crate::crypto::{self, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::index::{IndexDigest, buckets};
use crate::keyslot::Keys;
use crate::policy::CredentialPolicy;
use crate::records::unseal_summary;
use crate::schema::{self, KEYSLOTS, NAME_INDEX, RECORDS, SUMMARIES, TERMS, VERSIONS, meta};
use crate::session::Session;
use crate::signin::Lockouts;
use crate::storage::{Row, decode, encode, hex, read_meta_w, write_meta};

/// Count and keyed multiset hash of every record's key and version: a record deleted, added
/// or rolled back to an older copy changes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) records: u64,
    pub(crate) sum: [u8; 32],
}

impl Manifest {
    fn term(key: &Key, record: &[u8; 17], version: u64) -> [u8; 32] {
        crypto::mac(key, &[b"manifest v2", record, &version.to_le_bytes()])
    }

    /// Adds a record at `version`.
    pub(crate) fn add(&mut self, key: &Key, record: &[u8; 17], version: u64) {
        self.records += 1;
        add_mod(&mut self.sum, &Self::term(key, record, version), false);
    }

    /// Removes a record at `version`.
    pub(crate) fn remove(&mut self, key: &Key, record: &[u8; 17], version: u64) {
        self.records = self.records.saturating_sub(1);
        add_mod(&mut self.sum, &Self::term(key, record, version), true);
    }

    /// A photo's term: its key (case and slot) and version, under another label than a
    /// record's, so no photo can stand for a record. Photos are in the sum, not the count.
    fn photo_term(key: &Key, photo: &[u8; 21], version: u64) -> [u8; 32] {
        crypto::mac(key, &[b"manifest photo v1", photo, &version.to_le_bytes()])
    }

    /// Adds a photo at `version` (schema 4).
    pub(crate) fn add_photo(&mut self, key: &Key, photo: &[u8; 21], version: u64) {
        add_mod(&mut self.sum, &Self::photo_term(key, photo, version), false);
    }

    /// Removes a photo at `version`.
    pub(crate) fn remove_photo(&mut self, key: &Key, photo: &[u8; 21], version: u64) {
        add_mod(&mut self.sum, &Self::photo_term(key, photo, version), true);
    }
}

/// Why a manifest differs from the sealed one, in a caseworker's words: the record count, or,
/// with the count equal, a record or photo removed, replaced or put back.
pub(crate) fn difference(sealed: &Manifest, found: &Manifest) -> String {
    if sealed.records == found.records {
        format!(
            "the record and photo set ({} records as sealed, but a record or photo was removed, \
             added or put back from an older copy)",
            found.records
        )
    } else {
        format!(
            "the record set (the sealed state lists {} records, the file holds {})",
            sealed.records, found.records
        )
    }
}

/// `acc += x` (or `acc -= x`) modulo 2²⁵⁶, little-endian.
fn add_mod(acc: &mut [u8; 32], x: &[u8; 32], subtract: bool) {
    let mut carry = 0i16;
    for (a, b) in acc.iter_mut().zip(x) {
        let v = if subtract {
            i16::from(*a) - i16::from(*b) + carry
        } else {
            i16::from(*a) + i16::from(*b) + carry
        };
        *a = v.rem_euclid(256) as u8;
        carry = v.div_euclid(256);
    }
}

/// What the sealed state vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) counter: u64,
    pub(crate) manifest: Manifest,
    pub(crate) audit: AuditHead,
    pub(crate) lockouts: Lockouts,
    pub(crate) policy: CredentialPolicy,
    /// Each key slot's name and a digest of its row.
    pub(crate) roster: BTreeMap<String, [u8; 32]>,
    pub(crate) epoch: u32,
}

fn state_aad(vault_id: &[u8; 16]) -> Vec<u8> {
    let mut aad = b"fieldkit/state/v1|".to_vec();
    aad.extend_from_slice(vault_id);
    aad
}

pub(crate) fn open_state(keys: &Keys, vault_id: &[u8; 16], sealed: &Sealed) -> Result<State> {
    let plain = crypto::open(&keys.state, &state_aad(vault_id), sealed).map_err(|_| {
        VaultError::Tampered {
            what: "the vault's sealed state".into(),
        }
    })?;
    decode(&plain, "sealed state")
}

/// Each key slot's name and the digest of its row.
pub(crate) fn roster_digests(txn: &WriteTransaction) -> Result<BTreeMap<String, [u8; 32]>> {
    let table = txn.open_table(KEYSLOTS)?;
    let mut out = BTreeMap::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.insert(
            k.value().to_string(),
            crypto::hash(&[b"key slot", k.value().as_bytes(), v.value()]),
        );
    }
    Ok(out)
}

/// Every record's key and authenticated version, from the `record_versions` table.
pub(crate) fn versions_of(txn: &WriteTransaction) -> Result<Vec<([u8; 17], u64)>> {
    let table = txn.open_table(VERSIONS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((schema::key17(k.value())?, v.value()));
    }
    Ok(out)
}

/// The manifest of the `record_versions` and `photo_versions` tables as they are.
pub(crate) fn scan_versions(txn: &WriteTransaction, keys: &Keys) -> Result<Manifest> {
    let mut m = Manifest::default();
    for (key, version) in versions_of(txn)? {
        m.add(&keys.manifest, &key, version);
    }
    crate::photos::add_versions(txn, keys, &mut m)?;
    Ok(m)
}

impl Session {
    /// Commits a session's transaction: raises the commit counter, seals the state as it now
    /// is, commits (fsynced), then moves the rollback anchor. Every write a signed-in session
    /// makes goes through here.
    pub(crate) fn commit(&mut self, txn: WriteTransaction) -> Result<()> {
        let counter: u64 = read_meta_w::<u64>(&txn, meta::COUNTER)?.unwrap_or(0) + 1;
        write_meta(&txn, meta::COUNTER, &counter)?;
        let state = State {
            counter,
            manifest: self.manifest,
            audit: read_meta_w(&txn, meta::AUDIT_HEAD)?.unwrap_or(AuditHead {
                len: 0,
                hash: [0; 32],
            }),
            lockouts: Lockouts::read_w(&txn)?,
            policy: read_meta_w(&txn, meta::POLICY)?.unwrap_or_default(),
            roster: roster_digests(&txn)?,
            epoch: self.keys.epoch,
        };
        let sealed = crypto::seal(
            &self.keys.state,
            &state_aad(&self.vault.vault_id),
            &encode(&state)?,
        )?;
        write_meta(&txn, meta::STATE, &sealed)?;
        txn.commit()?;
        // The file is committed; an anchor that cannot move now is behind, which the next
        // sign-in tolerates (a file ahead of its anchor is not a rollback).
        if let Err(e) = self.vault.anchor(counter) {
            tracing::warn!(error = %e, "the rollback anchor could not be moved");
        }
        Ok(())
    }

    /// Commits with `manifest` as the session's manifest; on failure the session keeps the one
    /// it had (nothing was written).
    pub(crate) fn commit_with(&mut self, txn: WriteTransaction, manifest: Manifest) -> Result<()> {
        let before = std::mem::replace(&mut self.manifest, manifest);
        let done = self.commit(txn);
        if done.is_err() {
            self.manifest = before;
        }
        done
    }

    /// Checks every record: it decrypts, its summary matches its version, the set of records
    /// and versions matches the sealed manifest (nothing deleted or rolled back), and the name
    /// index holds exactly the terms each record's sealed term set lists (so a damaged index
    /// cannot silently hide a child from searches or show another). Every photo and thumbnail
    /// must open too, at the version the manifest vouches for, each of a case the vault holds.
    pub fn verify(&self) -> Result<u64, CheckError> {
        let txn = self.vault.db.begin_read()?;
        let records = txn.open_table(RECORDS)?;
        let summaries = txn.open_table(SUMMARIES)?;
        let terms = txn.open_table(TERMS)?;
        let versions = txn.open_table(VERSIONS)?;
        let mut seen = Manifest::default();
        let mut indexed = IndexDigest::default();
        for row in records.iter()? {
            let (k, v) = row?;
            let key = schema::key17(k.value())?;
            let Some((kind, _)) = schema::parse_record_key(&key) else {
                return Err(VaultError::Corrupt("record key of unknown kind".into()).into());
            };
            let row = Row::parse(v.value(), "record")?;
            if versions.get(key.as_slice())?.map(|g| g.value()) != Some(row.version) {
                return Err(VaultError::Tampered {
                    what: format!("the version of {}", hex(&key)),
                }
                .into());
            }
            seen.add(&self.keys.manifest, &key, row.version);
            if kind == RecordKind::Incident && self.keys.incidents.is_none() {
                continue;
            }
            let (_, version) = self.unseal_doc(&key, v.value(), row.version)?;
            let s = summaries
                .get(key.as_slice())?
                .ok_or_else(|| VaultError::Tampered {
                    what: format!("summary of {}", hex(&key)),
                })?;
            let row = Row::parse(s.value(), "summary")?;
            if row.version != version {
                return Err(VaultError::Tampered {
                    what: format!("summary of {}", hex(&key)),
                }
                .into());
            }
            unseal_summary(self.keys.record_key(kind)?, &key, s.value(), version)?;
            let tampered_terms = || VaultError::Tampered {
                what: format!("index terms of {}", hex(&key)),
            };
            let t = terms.get(key.as_slice())?.ok_or_else(tampered_terms)?;
            let row = Row::parse(t.value(), "terms")?;
            if row.version != version {
                return Err(tampered_terms().into());
            }
            let plain = crypto::open(
                self.keys.record_key(kind)?,
                &schema::row_aad("record_terms", &key, row.version),
                &row.sealed,
            )
            .map_err(|_| tampered_terms())?;
            for b in buckets(&decode::<BTreeSet<[u8; 16]>>(&plain, "terms")?) {
                indexed.add(&b, &key);
            }
        }
        // Every index entry of a kind this caseworker can read must be one of those terms.
        let index = txn.open_multimap_table(NAME_INDEX)?;
        let mut found = IndexDigest::default();
        for row in index.iter()? {
            let (term, keys) = row?;
            for k in keys {
                let k = k?;
                let readable = k
                    .value()
                    .first()
                    .and_then(|b| schema::kind_from_byte(*b))
                    .is_some_and(|kind| self.keys.index_key(kind).is_ok());
                if readable {
                    found.add(term.value(), k.value());
                }
            }
        }
        // Every photo opens and belongs to a case the vault holds; its version joins the sum.
        self.verify_photos(&mut seen)?;
        if seen != self.manifest || versions.len()? != seen.records {
            return Err(VaultError::Tampered {
                what: difference(&self.manifest, &seen),
            }
            .into());
        }
        if found != indexed {
            return Err(VaultError::Tampered {
                what: format!(
                    "the name index ({} entries where the records' sealed terms give {})",
                    found.entries, indexed.entries
                ),
            }
            .into());
        }
        Ok(seen.records)
    }
}

//! The sealed manifest: a count and digest over every record's key and version, so a record
//! deleted or rolled back is noticed; and the whole-vault check against it.

use std::collections::BTreeSet;

use redb::{ReadableDatabase, ReadableMultimapTable, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use fieldkit_domain::RecordKind;

use crate::crypto::{self, Sealed};
use crate::error::{Result, VaultError};
use crate::index::IndexDigest;
use crate::keyslot::Keys;
use crate::records::unseal_summary;
use crate::schema::{self, NAME_INDEX, RECORDS, SUMMARIES, TERMS, meta};
use crate::session::Session;
use crate::storage::{Row, decode, encode, hex, write_meta};

/// Count and digest over every record's key and version: a record deleted or rolled back to an
/// older copy changes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) records: u64,
    pub(crate) digest: [u8; 32],
}

impl Manifest {
    pub(crate) fn toggle(&mut self, key: &[u8; 17], version: u64) {
        let h = crypto::hash(&[b"manifest", key, &version.to_le_bytes()]);
        for (d, x) in self.digest.iter_mut().zip(h) {
            *d ^= x;
        }
    }
}

pub(crate) fn open_manifest(keys: &Keys, sealed: &Sealed) -> Result<Manifest> {
    let plain = crypto::open(&keys.manifest, b"fieldkit/manifest", sealed).map_err(|_| {
        VaultError::Tampered {
            what: "the record manifest".into(),
        }
    })?;
    decode(&plain, "manifest")
}

impl Session {
    pub(crate) fn seal_manifest(&self, txn: &WriteTransaction, manifest: &Manifest) -> Result<()> {
        let sealed = crypto::seal(&self.keys.manifest, b"fieldkit/manifest", &encode(manifest))?;
        write_meta(txn, meta::MANIFEST, &sealed)
    }

    /// Checks every record: it decrypts, its summary matches its version, the set of records
    /// and versions matches the sealed manifest (nothing deleted or rolled back), and the name
    /// index holds exactly the terms each record's sealed term set lists (so a damaged index
    /// cannot silently hide a child from searches or show another).
    pub fn verify(&self) -> Result<u64> {
        let txn = self.vault.db.begin_read()?;
        let records = txn.open_table(RECORDS)?;
        let summaries = txn.open_table(SUMMARIES)?;
        let terms = txn.open_table(TERMS)?;
        let mut seen = Manifest::default();
        let mut indexed = IndexDigest::default();
        for row in records.iter()? {
            let (k, v) = row?;
            let key: [u8; 17] = k
                .value()
                .try_into()
                .map_err(|_| VaultError::Corrupt("record key of wrong length".into()))?;
            let Some((kind, _)) = schema::parse_record_key(&key) else {
                return Err(VaultError::Corrupt("record key of unknown kind".into()));
            };
            seen.records += 1;
            if kind == RecordKind::Incident && self.keys.incidents.is_none() {
                let row = Row::parse(v.value(), "record")?;
                seen.toggle(&key, row.version);
                continue;
            }
            let (_, version) = self.unseal_doc(&key, v.value())?;
            seen.toggle(&key, version);
            let s = summaries
                .get(key.as_slice())?
                .ok_or_else(|| VaultError::Tampered {
                    what: format!("summary of {}", hex(&key)),
                })?;
            let row = Row::parse(s.value(), "summary")?;
            if row.version != version {
                return Err(VaultError::Tampered {
                    what: format!("summary of {}", hex(&key)),
                });
            }
            unseal_summary(self.keys.record_key(kind)?, &key, s.value())?;
            let tampered_terms = || VaultError::Tampered {
                what: format!("index terms of {}", hex(&key)),
            };
            let t = terms.get(key.as_slice())?.ok_or_else(tampered_terms)?;
            let row = Row::parse(t.value(), "terms")?;
            if row.version != version {
                return Err(tampered_terms());
            }
            let plain = crypto::open(
                self.keys.record_key(kind)?,
                &schema::row_aad("record_terms", &key, row.version),
                &row.sealed,
            )
            .map_err(|_| tampered_terms())?;
            for term in decode::<BTreeSet<[u8; 16]>>(&plain, "terms")? {
                indexed.add(&term, &key);
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
        if seen != self.manifest {
            return Err(VaultError::Tampered {
                what: format!(
                    "the record set (manifest lists {} records, the file holds {})",
                    self.manifest.records, seen.records
                ),
            });
        }
        if found != indexed {
            return Err(VaultError::Tampered {
                what: format!(
                    "the name index ({} entries where the records' sealed terms give {})",
                    found.entries, indexed.entries
                ),
            });
        }
        Ok(seen.records)
    }
}

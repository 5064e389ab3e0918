//! Bringing an older vault file up to the current schema at sign-in.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, Sealed};
use crate::error::{Result, VaultError};
use crate::keyslot::Keys;
use crate::manifest::Manifest;
use crate::schema::{self, META, RECORDS, SCHEMA_VERSION, VERSIONS, meta};
use crate::storage::{Row, decode, read_meta_w, write_meta};

/// Schema 2's manifest: a count and an unkeyed XOR of hashes, sealed under the manifest key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LegacyManifest {
    pub(crate) records: u64,
    pub(crate) digest: [u8; 32],
}

impl LegacyManifest {
    pub(crate) fn toggle(&mut self, key: &[u8; 17], version: u64) {
        let h = crypto::hash(&[b"manifest", key, &version.to_le_bytes()]);
        for (d, x) in self.digest.iter_mut().zip(h) {
            *d ^= x;
        }
    }
}

/// Every record's key and version, as its row says.
fn record_versions(txn: &WriteTransaction) -> Result<Vec<([u8; 17], u64)>> {
    let table = txn.open_table(RECORDS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let key = schema::key17(k.value())?;
        out.push((key, Row::parse(v.value(), "record")?.version));
    }
    Ok(out)
}

/// Writes the `record_versions` table from the records' rows as they are, and returns their
/// manifest with the photos' versions as they are. For a migration, and for a supervisor
/// accepting an altered vault as it is.
pub(crate) fn rebuild_versions(txn: &WriteTransaction, keys: &Keys) -> Result<Manifest> {
    let rows = record_versions(txn)?;
    txn.delete_table(VERSIONS)?;
    let mut manifest = Manifest::default();
    {
        let mut versions = txn.open_table(VERSIONS)?;
        for (key, version) in rows {
            versions.insert(key.as_slice(), version)?;
            manifest.add(&keys.manifest, &key, version);
        }
    }
    crate::photos::add_versions(txn, keys, &mut manifest)?;
    Ok(manifest)
}

/// Brings a vault older than schema 3 up to [`SCHEMA_VERSION`] inside the sign-in transaction,
/// and returns the manifest of its records. A schema 2 vault's records are first checked
/// against its sealed manifest. (Schema 3 → 4 happens after the sealed state's check, in
/// `signin.rs`: `photos::seal_unversioned`.)
pub(crate) fn migrate(txn: &WriteTransaction, keys: &Keys) -> Result<Manifest> {
    let schema: u32 = read_meta_w(txn, meta::SCHEMA)?.unwrap_or(1);
    if schema > SCHEMA_VERSION {
        return Err(VaultError::NewerSchema {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    if schema == 2 {
        let sealed: Sealed = read_meta_w(txn, meta::MANIFEST)?
            .ok_or_else(|| VaultError::Corrupt("no manifest".into()))?;
        let plain = crypto::open(&keys.manifest, b"fieldkit/manifest", &sealed).map_err(|_| {
            VaultError::Tampered {
                what: "the record manifest".into(),
            }
        })?;
        let sealed: LegacyManifest = decode(&plain, "manifest")?;
        let mut seen = LegacyManifest::default();
        for (key, version) in record_versions(txn)? {
            seen.records += 1;
            seen.toggle(&key, version);
        }
        if seen != sealed {
            return Err(VaultError::Tampered {
                what: format!(
                    "the record set (the manifest lists {} records, the file holds {})",
                    sealed.records, seen.records
                ),
            });
        }
    }
    let manifest = rebuild_versions(txn, keys)?;
    txn.open_table(META)?.remove(meta::MANIFEST)?;
    write_meta(txn, meta::SCHEMA, &SCHEMA_VERSION)?;
    Ok(manifest)
}

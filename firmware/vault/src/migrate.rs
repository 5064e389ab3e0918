//! Bringing an older vault file up to the current schema at sign-in.

use redb::{ReadableTable, WriteTransaction};

use crate::crypto;
use crate::error::{Result, VaultError};
use crate::keyslot::Keys;
use crate::manifest::Manifest;
use crate::schema::{RECORDS, SCHEMA_VERSION, meta};
use crate::storage::{Row, encode, read_meta_w, write_meta};

/// Brings an older vault up to [`SCHEMA_VERSION`] inside the sign-in transaction. Returns true
/// when anything changed.
pub(crate) fn migrate(txn: &WriteTransaction, keys: &Keys) -> Result<bool> {
    let mut schema: u32 = read_meta_w(txn, meta::SCHEMA)?.unwrap_or(1);
    let from = schema;
    while schema < SCHEMA_VERSION {
        match schema {
            1 => {
                // 1 → 2: compute the manifest over the records already there.
                let mut manifest = Manifest::default();
                let table = txn.open_table(RECORDS)?;
                for row in table.iter()? {
                    let (k, v) = row?;
                    let key: [u8; 17] = k
                        .value()
                        .try_into()
                        .map_err(|_| VaultError::Corrupt("record key of wrong length".into()))?;
                    let r = Row::parse(v.value(), "record")?;
                    manifest.records += 1;
                    manifest.toggle(&key, r.version);
                }
                drop(table);
                let sealed =
                    crypto::seal(&keys.manifest, b"fieldkit/manifest", &encode(&manifest))?;
                write_meta(txn, meta::MANIFEST, &sealed)?;
            }
            other => {
                return Err(VaultError::Corrupt(format!(
                    "no migration from schema {other}"
                )));
            }
        }
        schema += 1;
        write_meta(txn, meta::SCHEMA, &schema)?;
    }
    Ok(schema != from)
}

//! How values sit in redb: the sealed-row layout, postcard for plaintext settings, write
//! transactions that are durable when they return, and redb's errors in the vault's words.

use std::path::Path;

use redb::{Database, Durability, ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::crypto::Sealed;
use crate::error::{Result, VaultError};
use crate::schema::META;

/// The stored form of a record, summary or term set: the version (8 bytes, little-endian), the
/// nonce (24 bytes), then the ciphertext with its tag. Written by hand rather than through
/// postcard, which would encode the ciphertext byte by byte.
pub(crate) struct Row {
    pub(crate) version: u64,
    pub(crate) sealed: Sealed,
}

impl Row {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.sealed.ciphertext.len());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.sealed.nonce);
        out.extend_from_slice(&self.sealed.ciphertext);
        out
    }

    /// `None` for a row too short to hold a version, a nonce and a tag.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Row> {
        let version = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let nonce: [u8; 24] = bytes.get(8..32)?.try_into().ok()?;
        let ciphertext = bytes.get(32..).filter(|c| c.len() >= 16)?.to_vec();
        Some(Row {
            version,
            sealed: Sealed { nonce, ciphertext },
        })
    }

    pub(crate) fn parse(bytes: &[u8], what: &str) -> Result<Row> {
        Row::from_bytes(bytes).ok_or_else(|| VaultError::Tampered {
            what: what.to_string(),
        })
    }
}

/// A value's stored bytes. postcard fails only for types serde cannot describe, none of ours;
/// should it ever fail, the write is refused rather than an empty row stored.
pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(v)
        .map_err(|e| VaultError::Encoding(format!("{}: {e}", std::any::type_name::<T>())))
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| VaultError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn read_meta<T: for<'a> Deserialize<'a>>(
    txn: &ReadTransaction,
    key: &str,
) -> Result<Option<T>> {
    let table = txn.open_table(META)?;
    let v = table.get(key)?;
    v.map(|g| decode(g.value(), key)).transpose()
}

pub(crate) fn write_meta<T: Serialize>(txn: &WriteTransaction, key: &str, value: &T) -> Result<()> {
    let mut table = txn.open_table(META)?;
    table.insert(key, encode(value)?.as_slice())?;
    Ok(())
}

pub(crate) fn read_meta_w<T: for<'a> Deserialize<'a>>(
    txn: &WriteTransaction,
    key: &str,
) -> Result<Option<T>> {
    let table = txn.open_table(META)?;
    let v = table.get(key)?;
    v.map(|g| decode(g.value(), key)).transpose()
}

pub(crate) fn begin(db: &Database) -> Result<WriteTransaction> {
    let mut txn = db.begin_write()?;
    // Acknowledged means on disk: every commit is fsynced before it returns.
    txn.set_durability(Durability::Immediate)?;
    Ok(txn)
}

pub(crate) fn open_error(path: &Path, e: redb::DatabaseError) -> VaultError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => VaultError::InUse(path.to_path_buf()),
        // A file cut short inside its header, or not a redb file at all, is damage, not a
        // failing disk: say so instead of "failed to fill whole buffer".
        redb::DatabaseError::Storage(redb::StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            VaultError::Corrupt(format!("the file ends early, inside its header ({source})"))
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            VaultError::Corrupt(source.to_string())
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(source)) => VaultError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => VaultError::storage(other),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

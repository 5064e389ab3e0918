//! Derived values a kit keeps between sign-ins so it is ready sooner (the kit core's matcher
//! index): sealed, cut in chunks, and never trusted beyond their seal.
//!
//! A cached value is made from the records and can always be made again from them, so a value
//! that is missing, was sealed under keys since rotated, or does not open (damage, a row moved
//! from another value) is simply absent: the caller rebuilds it. It is never a reason to refuse
//! a sign-in, and it is not bound into the sealed state; a value swapped back from an older
//! copy of this file opens, so callers check it against the records themselves (the kit core
//! keeps each record's version in its value and compares them with [`Session::versions`]).
//!
//! Rows (`cache` table): `name` → the head (sealed: a random generation and the chunk count),
//! `name/NNNNNN` → one sealed chunk, bound to the name, the generation and its number, so
//! chunks of two values never mix and none can be reordered unnoticed; the sealed head's count
//! tells a value cut short (a missing chunk is an absent value). The head is written last, in
//! the same commit, so chunks are sealed and stored as their writer makes them and a value is
//! never whole in memory on either side (the reader and the writer hold one chunk at a time:
//! a kit's index snapshot at 50,000 cases is several MiB, and it is saved at sign-out, on top
//! of everything the screen holds). Sealed under a subkey of the data key (`fieldkit cache
//! v1`); a key rotation deletes every cached value. Values written by the first format (whose
//! chunks also bound the count) no longer open: they are absent once, and made again.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use zeroize::Zeroizing;

use fieldkit_domain::{RecordId, RecordKind};

use crate::crypto::{self, Key, Sealed};
use crate::error::{ReadError, Result, VaultError, WriteError};
use crate::schema::{self, VERSIONS};
use crate::session::Session;
use crate::storage::begin;

pub(crate) const CACHE: TableDefinition<&str, &[u8]> = TableDefinition::new("cache");

/// Longest name of a cached value.
pub const MAX_CACHE_NAME: usize = 64;

fn head_aad(name: &str) -> Vec<u8> {
    let mut aad = b"fieldkit/cache-head/v2|".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

fn chunk_aad(name: &str, generation: &[u8; 16], at: u32) -> Vec<u8> {
    let mut aad = b"fieldkit/cache/v2|".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(generation);
    aad.extend_from_slice(&at.to_le_bytes());
    aad
}

fn chunk_key(name: &str, at: u32) -> String {
    format!("{name}/{at:06}")
}

fn to_bytes(s: &Sealed) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + s.ciphertext.len());
    out.extend_from_slice(&s.nonce);
    out.extend_from_slice(&s.ciphertext);
    out
}

fn open_bytes(key: &Key, aad: &[u8], bytes: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; 24] = bytes.get(..24)?.try_into().ok()?;
    let sealed = Sealed {
        nonce,
        ciphertext: bytes.get(24..)?.to_vec(),
    };
    crypto::open(key, aad, &sealed).ok()
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_CACHE_NAME || name.contains('/') {
        return Err(VaultError::BadChange(format!(
            "cache name `{name}`: 1 to {MAX_CACHE_NAME} bytes, no `/`"
        )));
    }
    Ok(())
}

/// Removes every row of a cached value (or of all, with `None`) inside a write transaction.
pub(crate) fn remove_in(txn: &redb::WriteTransaction, name: Option<&str>) -> Result<()> {
    let mut table = txn.open_table(CACHE)?;
    let doomed: Vec<String> = match name {
        None => table
            .iter()?
            .map(|r| r.map(|(k, _)| k.value().to_string()))
            .collect::<std::result::Result<_, _>>()?,
        Some(name) => {
            let prefix = format!("{name}/");
            let mut keys: Vec<String> = table
                .range(prefix.as_str()..)?
                .map(|r| r.map(|(k, _)| k.value().to_string()))
                .take_while(|k| k.as_ref().map_or(true, |k| k.starts_with(&prefix)))
                .collect::<std::result::Result<_, _>>()?;
            keys.push(name.to_string());
            keys
        }
    };
    for k in doomed {
        table.remove(k.as_str())?;
    }
    Ok(())
}

impl Session {
    fn cache_key(&self) -> Key {
        self.keys.dek.derive("fieldkit cache v1")
    }

    /// Reads a cached value chunk by chunk: `visit` gets each in order and returns `false` to
    /// stop. Returns `Ok(false)` when the value is absent or does not open whole (see the
    /// module documentation: the caller rebuilds it), `Ok(true)` when every chunk was visited.
    /// Unaudited: it holds nothing the records do not.
    pub fn read_cache(
        &self,
        name: &str,
        mut visit: impl FnMut(&[u8]) -> bool,
    ) -> std::result::Result<bool, ReadError> {
        check_name(name)?;
        let key = self.cache_key();
        let txn = self.vault.db.begin_read()?;
        let table = match txn.open_table(CACHE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
            Err(e) => return Err(VaultError::from(e).into()),
        };
        let Some(head) = table.get(name)? else {
            return Ok(false);
        };
        let Some(head) = open_bytes(&key, &head_aad(name), head.value()) else {
            return Ok(false);
        };
        let (Some(generation), Some(count)) = (
            head.get(..16).and_then(|g| <[u8; 16]>::try_from(g).ok()),
            head.get(16..20)
                .and_then(|c| <[u8; 4]>::try_from(c).ok())
                .map(u32::from_le_bytes),
        ) else {
            return Ok(false);
        };
        for at in 0..count {
            let Some(row) = table.get(chunk_key(name, at).as_str())? else {
                return Ok(false);
            };
            let aad = chunk_aad(name, &generation, at);
            let Some(plain) = open_bytes(&key, &aad, row.value()) else {
                return Ok(false);
            };
            if !visit(&plain) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Replaces a cached value with these chunks, in one commit.
    pub fn write_cache(
        &mut self,
        name: &str,
        chunks: &[Vec<u8>],
    ) -> std::result::Result<(), WriteError> {
        self.write_cache_with(name, |w| chunks.iter().try_for_each(|c| w.chunk(c)))
    }

    /// Replaces a cached value with the chunks `produce` hands to the writer, in one commit.
    /// Each chunk is sealed and stored when it is handed over, so the caller can make the value
    /// piece by piece without holding it whole. An error from `produce` (or from storing a
    /// chunk) leaves the old value as it was.
    pub fn write_cache_with(
        &mut self,
        name: &str,
        produce: impl FnOnce(&mut CacheWriter<'_>) -> std::result::Result<(), WriteError>,
    ) -> std::result::Result<(), WriteError> {
        check_name(name)?;
        let key = self.cache_key();
        let mut generation = [0u8; 16];
        crypto::fill_random(&mut generation)?;
        let txn = begin(&self.vault.db)?;
        remove_in(&txn, Some(name))?;
        {
            let mut writer = CacheWriter {
                table: txn.open_table(CACHE).map_err(VaultError::from)?,
                key: &key,
                name,
                generation,
                count: 0,
            };
            produce(&mut writer)?;
            let CacheWriter {
                mut table, count, ..
            } = writer;
            let mut head = generation.to_vec();
            head.extend_from_slice(&count.to_le_bytes());
            let sealed = crypto::seal(&key, &head_aad(name), &head)?;
            table
                .insert(name, to_bytes(&sealed).as_slice())
                .map_err(VaultError::from)?;
        }
        Ok(self.commit(txn)?)
    }

    /// Removes a cached value (one commit; nothing when it is absent).
    pub fn remove_cache(&mut self, name: &str) -> std::result::Result<(), WriteError> {
        check_name(name)?;
        let txn = begin(&self.vault.db)?;
        remove_in(&txn, Some(name))?;
        Ok(self.commit(txn)?)
    }

    /// Every record of a kind with its version, in id order, without decrypting anything
    /// (what the sealed manifest digests): how a cached value made from the records tells
    /// which changed since. Unaudited, as [`Session::holds`].
    pub fn versions(
        &self,
        kind: RecordKind,
    ) -> std::result::Result<Vec<(RecordId, u64)>, ReadError> {
        self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(VERSIONS)?;
        let lo = [schema::kind_byte(kind)];
        let hi = [schema::kind_byte(kind) + 1];
        let mut out = Vec::new();
        for row in table.range(lo.as_slice()..hi.as_slice())? {
            let (k, v) = row?;
            let Some((_, id)) = schema::parse_record_key(k.value()) else {
                return Err(
                    VaultError::Corrupt("record version key of wrong length".into()).into(),
                );
            };
            out.push((id, v.value()));
        }
        Ok(out)
    }
}

/// Stores the chunks of one cached value as they are made ([`Session::write_cache_with`]).
pub struct CacheWriter<'t> {
    table: redb::Table<'t, &'static str, &'static [u8]>,
    key: &'t Key,
    name: &'t str,
    generation: [u8; 16],
    count: u32,
}

impl std::fmt::Debug for CacheWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of it.
        f.debug_struct("CacheWriter")
            .field("name", &self.name)
            .field("chunks", &self.count)
            .finish_non_exhaustive()
    }
}

impl CacheWriter<'_> {
    /// Seals and stores the next chunk.
    pub fn chunk(&mut self, bytes: &[u8]) -> std::result::Result<(), WriteError> {
        let at = self.count;
        let next = at
            .checked_add(1)
            .ok_or_else(|| VaultError::BadChange("too many cache chunks".into()))?;
        let sealed = crypto::seal(self.key, &chunk_aad(self.name, &self.generation, at), bytes)?;
        self.table
            .insert(
                chunk_key(self.name, at).as_str(),
                to_bytes(&sealed).as_slice(),
            )
            .map_err(VaultError::from)?;
        self.count = next;
        Ok(())
    }
}

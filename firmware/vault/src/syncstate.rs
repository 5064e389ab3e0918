//! Sync state: what the sync layer must keep across power cuts besides records (send-counter
//! limits, replay windows, outboxes, inboxes, the hub's static secret, enrolled kits), as
//! named opaque values sealed under a key derived from the data key.
//!
//! Each row is the commit counter it was written at and the sealed value; the associated data
//! binds the table, the name and that counter, so a value moved to another name does not
//! open. Writes go through [`Session::commit`] like every other write (the commit counter and
//! the rollback anchor move). A single row put back from an older copy of the same file is
//! not noticed here (the whole file rolled back is, by the anchor); callers that must never
//! reuse a value (send counters) reserve in blocks ahead and persist before use.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use zeroize::Zeroizing;

use crate::crypto::{self, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::keyslot::Keys;
use crate::schema::{SYNC_STATE, meta};
use crate::session::Session;
use crate::storage::{begin, read_meta_w};

/// Longest name of a sync-state value.
pub const MAX_SYNC_NAME: usize = 128;

fn aad(name: &str, written_at: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + name.len());
    aad.extend_from_slice(b"fieldkit/sync_state|");
    aad.extend_from_slice(name.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(&written_at.to_le_bytes());
    aad
}

fn to_row(written_at: u64, sealed: &Sealed) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + sealed.ciphertext.len());
    out.extend_from_slice(&written_at.to_le_bytes());
    out.extend_from_slice(&sealed.nonce);
    out.extend_from_slice(&sealed.ciphertext);
    out
}

fn from_row(name: &str, bytes: &[u8]) -> Result<(u64, Sealed)> {
    let bad = || VaultError::Tampered {
        what: format!("sync state `{name}`"),
    };
    let written_at = u64::from_le_bytes(
        bytes
            .get(..8)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    let nonce: [u8; 24] = bytes
        .get(8..32)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let ciphertext = bytes
        .get(32..)
        .filter(|c| c.len() >= 16)
        .ok_or_else(bad)?
        .to_vec();
    Ok((written_at, Sealed { nonce, ciphertext }))
}

fn open_row(key: &Key, name: &str, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let (at, sealed) = from_row(name, bytes)?;
    crypto::open(key, &aad(name, at), &sealed).map_err(|_| VaultError::Tampered {
        what: format!("sync state `{name}`"),
    })
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_SYNC_NAME {
        return Err(VaultError::BadChange(format!(
            "a sync-state name must be 1 to {MAX_SYNC_NAME} bytes"
        )));
    }
    Ok(())
}

/// Seals every sync-state row again under `new` (key rotation, inside its transaction).
pub(crate) fn reseal(txn: &WriteTransaction, old: &Keys, new: &Keys) -> Result<()> {
    let at = read_meta_w::<u64>(txn, meta::COUNTER)?.unwrap_or(0) + 1;
    let mut table = txn.open_table(SYNC_STATE)?;
    let mut rows = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let name = k.value().to_string();
        let plain = open_row(&old.sync, &name, v.value())?;
        rows.push((name, plain));
    }
    for (name, plain) in rows {
        let sealed = crypto::seal(&new.sync, &aad(&name, at), &plain)?;
        table.insert(name.as_str(), to_row(at, &sealed).as_slice())?;
    }
    Ok(())
}

impl Session {
    /// A sync-state value, or `None` if it was never written.
    pub fn sync_state(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let txn = self.vault.db.begin_read()?;
        let table = match txn.open_table(SYNC_STATE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(VaultError::storage(e)),
        };
        let Some(v) = table.get(name)? else {
            return Ok(None);
        };
        open_row(&self.keys.sync, name, v.value()).map(Some)
    }

    /// The names of the sync-state values starting with `prefix`, in order.
    pub fn sync_state_names(&self, prefix: &str) -> Result<Vec<String>> {
        let txn = self.vault.db.begin_read()?;
        let table = match txn.open_table(SYNC_STATE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(VaultError::storage(e)),
        };
        let mut out = Vec::new();
        for row in table.range(prefix..)? {
            let (k, _) = row?;
            let name = k.value();
            if !name.starts_with(prefix) {
                break;
            }
            out.push(name.to_string());
        }
        Ok(out)
    }

    /// Writes (`Some`) or removes (`None`) sync-state values, all in one durable commit:
    /// when this returns `Ok`, every change is on disk; on an error, none is.
    pub fn put_sync_state(&mut self, changes: &[(&str, Option<&[u8]>)]) -> Result<()> {
        for (name, _) in changes {
            check_name(name)?;
        }
        let txn = begin(&self.vault.db)?;
        let at = read_meta_w::<u64>(&txn, meta::COUNTER)?.unwrap_or(0) + 1;
        {
            let mut table = txn.open_table(SYNC_STATE)?;
            for (name, value) in changes {
                match value {
                    Some(v) => {
                        let sealed = crypto::seal(&self.keys.sync, &aad(name, at), v)?;
                        table.insert(*name, to_row(at, &sealed).as_slice())?;
                    }
                    None => {
                        table.remove(*name)?;
                    }
                }
            }
        }
        self.commit(txn)
    }

    /// The vault's commit counter (raised by every commit; what a kit reports to its hub so a
    /// rolled-back vault is noticed).
    pub fn commit_counter(&self) -> Result<u64> {
        let txn = self.vault.db.begin_read()?;
        Ok(crate::storage::read_meta(&txn, meta::COUNTER)?.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use redb::ReadableTable;

    use crate::{CredentialPolicy, InitOptions, OpenOptions, Role, Vault, VaultError};

    const NOW: u64 = 1_764_500_000_000;

    fn create(dir: &std::path::Path) -> crate::Session {
        let (s, _) = Vault::create(
            &dir.join("vault.redb"),
            InitOptions {
                username: "coord",
                display_name: "Coordinator",
                credential: b"482915",
                policy: CredentialPolicy::default(),
                now_ms: NOW,
            },
            OpenOptions::default(),
        )
        .unwrap();
        s
    }

    #[test]
    fn values_are_kept_sealed_listed_removed_and_survive_a_key_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = create(dir.path());
        assert_eq!(s.sync_state("hub/secret").unwrap(), None);
        let before = s.commit_counter().unwrap();
        s.put_sync_state(&[
            ("hub/secret", Some(b"very secret bytes".as_slice())),
            ("hub/kit/0a0b0c0d", Some(b"kit state".as_slice())),
            ("kit/hub", Some(b"other".as_slice())),
        ])
        .unwrap();
        assert_eq!(s.commit_counter().unwrap(), before + 1);
        assert_eq!(
            s.sync_state_names("hub/").unwrap(),
            vec!["hub/kit/0a0b0c0d".to_string(), "hub/secret".to_string()]
        );
        // Nothing of the value is in the file in the clear.
        let file = std::fs::read(dir.path().join("vault.redb")).unwrap();
        assert!(!file.windows(17).any(|w| w == b"very secret bytes"));

        s.add_caseworker("amal", "Amal", b"739164", Role::Supervisor, true, NOW)
            .unwrap();
        s.add_caseworker("ben", "Ben", b"591738", Role::Caseworker, false, NOW)
            .unwrap();
        s.remove_caseworker("ben", NOW).unwrap();
        let vault = s.lock();
        let mut s = vault.unlock("amal", b"739164", NOW).unwrap();
        assert_eq!(
            s.sync_state("hub/secret").unwrap().unwrap().as_slice(),
            b"very secret bytes"
        );
        s.put_sync_state(&[("hub/secret", None)]).unwrap();
        assert_eq!(s.sync_state("hub/secret").unwrap(), None);
        assert!(matches!(
            s.put_sync_state(&[("", Some(b"x".as_slice()))]),
            Err(VaultError::BadChange(_))
        ));
    }

    #[test]
    fn a_value_moved_to_another_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.redb");
        let mut s = create(dir.path());
        s.put_sync_state(&[
            ("hub/a", Some(b"aaaa".as_slice())),
            ("hub/b", Some(b"bbbb".as_slice())),
        ])
        .unwrap();
        drop(s.lock());
        {
            let db = redb::Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(crate::schema::SYNC_STATE).unwrap();
                let a = t.get("hub/a").unwrap().unwrap().value().to_vec();
                t.insert("hub/b", a.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let s = Vault::open(&path, OpenOptions::default())
            .unwrap()
            .unlock("coord", b"482915", NOW)
            .unwrap();
        assert!(matches!(
            s.sync_state("hub/b"),
            Err(VaultError::Tampered { .. })
        ));
        assert_eq!(s.sync_state("hub/a").unwrap().unwrap().as_slice(), b"aaaa");
    }
}

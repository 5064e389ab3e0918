//! Opening and creating a vault file. A [`Vault`] is locked: nothing in it can be read until a
//! caseworker signs in ([`crate::signin`]).

use crate::error::OpenError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable};

use fieldkit_domain::{DeviceId, HlcClock};

use crate::audit::{AuditAction, append_audit};
use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};
use crate::hardware::{HardwareSecret, NoHardwareSecret, RollbackAnchor};
use crate::index::{BasicIndexer, NameIndexer};
use crate::keyslot::{
    Caseworker, Credential, Keys, Role, SlotContext, SlotOwner, StoredSlot, new_slot, normalise,
    policy_digest, validate_username,
};
use crate::manifest::Manifest;
use crate::policy::CredentialPolicy;
use crate::recovery::RecoveryKey;
use crate::schema::{
    KEYSLOTS, META, NAME_INDEX, RECORDS, RECOVERY_SLOT, SCHEMA_VERSION, SUMMARIES, TERMS, VERSIONS,
    meta,
};
use crate::session::Session;
use crate::signin::{Lockouts, Mode};
use crate::storage::{begin, hex, open_error, read_meta, write_meta};
use crate::uptime::{BootClock, NoBootClock};

/// How to open a vault.
#[derive(Clone)]
pub struct OpenOptions {
    /// Turns names into blind-index terms.
    pub indexer: Arc<dyn NameIndexer>,
    /// The kit's hardware secret (a TPM), or [`NoHardwareSecret`] for software mode. A vault
    /// records the kind it was created with and opens only under the same kind.
    pub hardware: Arc<dyn HardwareSecret>,
    /// A counter outside the file that anchors the vault's commit counter (a TPM NV counter, or
    /// a [`FileAnchor`](crate::FileAnchor) on another partition). `None`: an older copy of the
    /// file cannot be told from the current one.
    pub anchor: Option<Arc<dyn RollbackAnchor>>,
    /// Verify every page checksum when opening (reads the whole file). On by default: a file
    /// changed outside fieldkit is then refused instead of trusted.
    pub verify_on_open: bool,
    /// redb's page cache in bytes.
    pub cache_bytes: usize,
    /// The boot-time clock lockout waits are measured on (the wall clock can be set by anyone
    /// at the kit); [`NoBootClock`] measures them on the wall clock.
    pub boot_clock: Arc<dyn BootClock>,
    /// Take a vault created in software mode into `hardware` (a kit provisioned on a PC,
    /// first signed in on the kit with its TPM): instead of refusing it, the first sign-in
    /// moves the vault to `hardware` and its anchor, and every slot moves into the element
    /// at its owner's next sign-in (see [`Vault::unlock`]). Off: such a vault is refused
    /// ([`SignInError::HardwareMismatch`](crate::SignInError::HardwareMismatch)).
    pub adopt_software: bool,
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("indexer", &self.indexer.id())
            .field("hardware", &self.hardware.kind())
            .field("anchor", &self.anchor.as_ref().map(|a| a.kind()))
            .field("verify_on_open", &self.verify_on_open)
            .field("cache_bytes", &self.cache_bytes)
            .field("adopt_software", &self.adopt_software)
            .finish_non_exhaustive()
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            indexer: Arc::new(BasicIndexer),
            hardware: Arc::new(NoHardwareSecret),
            anchor: None,
            verify_on_open: true,
            cache_bytes: 32 << 20,
            boot_clock: Arc::new(NoBootClock),
            adopt_software: false,
        }
    }
}

/// What `init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions<'a> {
    /// The first caseworker (a supervisor).
    pub username: &'a str,
    /// Their display name.
    pub display_name: &'a str,
    /// Their credential.
    pub credential: &'a [u8],
    /// Credential rules.
    pub policy: CredentialPolicy,
    /// Wall time now.
    pub now_ms: u64,
}

/// A vault file, opened but locked: nothing in it can be read until [`Vault::unlock`].
pub struct Vault {
    pub(crate) db: Arc<Database>,
    pub(crate) path: PathBuf,
    pub(crate) vault_id: [u8; 16],
    pub(crate) opts: OpenOptions,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// The file a vault lives in, inside a data directory.
    pub fn file_in(data_dir: &Path) -> PathBuf {
        data_dir.join("vault.redb")
    }

    /// Creates a new vault with its first caseworker (a supervisor). Returns the signed-in
    /// session and the recovery key, which is shown once and never stored.
    pub fn create(
        path: &Path,
        init: InitOptions<'_>,
        opts: OpenOptions,
    ) -> Result<(Session, RecoveryKey), OpenError> {
        validate_username(init.username)?;
        init.policy.check(&normalise(init.credential)?)?;
        if path.exists() {
            return Err(VaultError::Exists(path.to_path_buf()).into());
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir)?;
        }
        private_file(path)?;
        let db = match redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .create(path)
        {
            Ok(db) => db,
            Err(e) => {
                // Only the empty file made just above: nothing of a vault is lost.
                let _ = std::fs::remove_file(path);
                return Err(open_error(path, e).into());
            }
        };
        Ok(Self::initialise(db, path, init, opts)?)
    }

    /// Creates a vault on any redb storage backend (`label` names it in messages). Tests use
    /// this with a backend that loses unsynced writes, as a power cut does.
    pub fn create_on(
        backend: impl redb::StorageBackend,
        label: &Path,
        init: InitOptions<'_>,
        opts: OpenOptions,
    ) -> Result<(Session, RecoveryKey), OpenError> {
        validate_username(init.username)?;
        init.policy.check(&normalise(init.credential)?)?;
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| open_error(label, e))?;
        Ok(Self::initialise(db, label, init, opts)?)
    }

    pub(crate) fn initialise(
        db: Database,
        path: &Path,
        init: InitOptions<'_>,
        opts: OpenOptions,
    ) -> Result<(Session, RecoveryKey)> {
        // Never initialise over an existing vault: that would replace its key slots.
        {
            let txn = db.begin_read()?;
            match txn.open_table(META) {
                Ok(t) if t.get(meta::SCHEMA)?.is_some() => {
                    return Err(VaultError::Exists(path.to_path_buf()));
                }
                Ok(_) | Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let credential = normalise(init.credential)?;
        let mut vault_id = [0u8; 16];
        crypto::fill_random(&mut vault_id)?;
        let mut device = [0u8; 8];
        crypto::fill_random(&mut device)?;
        let device = DeviceId(u64::from_le_bytes(device));
        let recovery = Key::random()?;
        let keys = Keys::new(Key::random()?, Some(Key::random()?), 0);
        let mode = Mode {
            hardware: opts.hardware.kind().to_string(),
            anchor: opts.anchor.as_ref().map(|a| a.kind().to_string()),
        };
        // A new vault starts at whatever the anchor holds (a TPM counter starts high).
        let start = match &opts.anchor {
            Some(a) => a.read().map_err(VaultError::Hardware)?,
            None => 0,
        };
        let ctx = SlotContext {
            vault_id,
            policy: policy_digest(&init.policy)?,
            hardware: opts.hardware.as_ref(),
            software_slots: std::collections::BTreeSet::new(),
        };
        let slot = new_slot(
            &ctx,
            SlotOwner {
                username: init.username,
                display_name: init.display_name,
                role: Role::Supervisor,
                incident_access: true,
            },
            Credential::Secret(&credential),
            init.policy.kdf,
            &keys,
        )?;
        let rslot = new_slot(
            &ctx,
            SlotOwner {
                username: RECOVERY_SLOT,
                display_name: "recovery key",
                role: Role::Supervisor,
                incident_access: true,
            },
            Credential::Recovery(&recovery),
            init.policy.kdf,
            &keys,
        )?;
        let user = StoredSlot::Current(slot.clone()).caseworker();
        let mut session = Session {
            clock: HlcClock::new(device),
            user,
            keys,
            vault: Vault {
                db: Arc::new(db),
                path: path.to_path_buf(),
                vault_id,
                opts,
            },
            manifest: Manifest::default(),
            terms_seen: crate::index::TermCache::default(),
            listed: crate::listed::Lists::default(),
        };
        let txn = begin(&session.vault.db)?;
        write_meta(&txn, meta::SCHEMA, &SCHEMA_VERSION)?;
        write_meta(&txn, meta::VAULT_ID, &vault_id)?;
        write_meta(&txn, meta::DEVICE_ID, &device)?;
        write_meta(&txn, meta::CLOCK, &HlcClock::new(device).last())?;
        Lockouts::default().write(&txn)?;
        write_meta(&txn, meta::POLICY, &init.policy)?;
        write_meta(&txn, meta::MODE, &mode)?;
        write_meta(&txn, meta::EPOCH, &0u32)?;
        write_meta(&txn, meta::COUNTER, &start)?;
        let index_id = session.index_id();
        write_meta(&txn, meta::INDEXER, &index_id)?;
        write_meta(&txn, meta::INDEXER_INCIDENTS, &index_id)?;
        {
            let mut slots = txn.open_table(KEYSLOTS)?;
            slots.insert(init.username, slot.to_bytes()?.as_slice())?;
            slots.insert(RECOVERY_SLOT, rslot.to_bytes()?.as_slice())?;
        }
        // Create the other tables so a read transaction finds them.
        txn.open_table(RECORDS)?;
        txn.open_table(VERSIONS)?;
        txn.open_table(TERMS)?;
        txn.open_table(SUMMARIES)?;
        txn.open_multimap_table(NAME_INDEX)?;
        append_audit(
            &txn,
            Some(&session.keys.audit),
            init.now_ms,
            init.username,
            AuditAction::Init,
            None,
        )?;
        session.commit(txn)?;
        tracing::info!(path = %session.vault.path.display(), mode = %session.vault.opts.hardware.kind(), "vault created");
        Ok((session, RecoveryKey(recovery)))
    }

    /// Opens an existing vault (locked).
    pub fn open(path: &Path, opts: OpenOptions) -> Result<Vault, OpenError> {
        if !path.exists() {
            return Err(VaultError::Missing(path.to_path_buf()).into());
        }
        tighten_file(path);
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .set_check_integrity_on_open(opts.verify_on_open)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        Ok(Self::from_db(db, path, opts)?)
    }

    /// Opens a vault on any redb storage backend (`label` names it in messages).
    pub fn open_on(
        backend: impl redb::StorageBackend,
        label: &Path,
        opts: OpenOptions,
    ) -> Result<Vault, OpenError> {
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .set_check_integrity_on_open(opts.verify_on_open)
            .create_with_backend(backend)
            .map_err(|e| open_error(label, e))?;
        Ok(Self::from_db(db, label, opts)?)
    }

    pub(crate) fn from_db(db: Database, path: &Path, opts: OpenOptions) -> Result<Vault> {
        let txn = db.begin_read()?;
        // A redb file without the vault's meta table is some other database, not damage.
        let schema: Option<u32> = match txn.open_table(META) {
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
            Ok(_) => read_meta(&txn, meta::SCHEMA)?,
        };
        let schema: u32 = schema
            .ok_or_else(|| VaultError::Corrupt("no schema version: not a fieldkit vault".into()))?;
        if schema > SCHEMA_VERSION {
            return Err(VaultError::NewerSchema {
                found: schema,
                supported: SCHEMA_VERSION,
            });
        }
        let vault_id: [u8; 16] = read_meta(&txn, meta::VAULT_ID)?
            .ok_or_else(|| VaultError::Corrupt("no vault id".into()))?;
        drop(txn);
        Ok(Vault {
            db: Arc::new(db),
            path: path.to_path_buf(),
            vault_id,
            opts,
        })
    }

    /// The vault's id, as hex.
    pub fn id_hex(&self) -> String {
        hex(&self.vault_id)
    }

    /// Where the vault file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The caseworkers who can sign in (for a signed-in session: [`Session::caseworkers`]).
    pub(crate) fn roster(&self) -> Result<Vec<Caseworker>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(KEYSLOTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            if k.value() == RECOVERY_SLOT {
                continue;
            }
            out.push(StoredSlot::decode(v.value())?.caseworker());
        }
        Ok(out)
    }
}

/// The directory a vault is created in: made (with its missing parents) readable by the kit's
/// service user only, whatever the umask. A directory that already exists is left as it is (it
/// may be shared, such as the working directory), with a warning when others can read it; the
/// vault file itself is private either way.
fn private_dir(dir: &Path) -> Result<()> {
    let io = |source| VaultError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir).map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the vault's directory is open to other users: make it 700"
                );
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io)
}

/// Makes the empty vault file, mode 600, refusing to reuse anything already there (a planted
/// file or link).
fn private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            VaultError::Exists(path.to_path_buf())
        } else {
            VaultError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// A vault made by an older fieldkit may be readable by others: make it 600 when opening it.
fn tighten_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => tracing::info!(path = %path.display(), "vault file made private (600)"),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "the vault file is readable by other users and could not be made private"
                ),
            }
        }
    }
}

#[cfg(test)]
mod file_mode_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::policy::CredentialPolicy;

    fn create(path: &Path) -> Result<(Session, RecoveryKey), OpenError> {
        let init = InitOptions {
            username: "amina",
            display_name: "Amina",
            credential: b"482915",
            policy: CredentialPolicy::default(),
            now_ms: 1_764_500_000_000,
        };
        Vault::create(path, init, OpenOptions::default())
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_vault_and_the_directories_made_for_it_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("data").join("fieldkit").join("vault.redb");
        let (session, _) = create(&path).unwrap();
        drop(session);
        assert_eq!(mode(&path), 0o600, "vault file");
        assert_eq!(mode(&tmp.path().join("data")), 0o700);
        assert_eq!(mode(&tmp.path().join("data").join("fieldkit")), 0o700);

        // A vault left readable by an older fieldkit is made private when opened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let vault = Vault::open(&path, OpenOptions::default()).unwrap();
        drop(vault);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_planted_file_is_never_reused_as_a_vault() {
        let tmp = tempfile::tempdir().unwrap();
        // A dangling link: following it would create the vault where the link points.
        let target = tmp.path().join("elsewhere");
        let path = tmp.path().join("vault.redb");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = create(&path).unwrap_err();
        assert!(matches!(err, OpenError::Exists(_)), "{err}");
        assert!(!target.exists(), "the link was followed");
    }
}

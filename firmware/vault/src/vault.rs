//! The vault: opening, unlocking, and the signed-in session that reads and writes records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use fieldkit_domain::{
    Conflict, Date, DeviceId, Document, Hlc, HlcClock, Op, Record, RecordId, RecordKind, Summary,
    primero,
};

use fieldkit_domain::primero::Incoming;

use crate::audit::{AuditAction, AuditCheckpoint, AuditEntry, AuditHead, AuditReport};
use crate::crypto::{self, KdfParams, Key, Sealed};
use crate::error::{Result, VaultError};
use crate::index::{BasicIndexer, NameIndexer, searchable_names};
use crate::schema::{
    self, AUDIT, KEYSLOTS, META, NAME_INDEX, RECORDS, RECOVERY_SLOT, SCHEMA_VERSION, SUMMARIES,
    TERMS, meta,
};

/// What a caseworker may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Registers and manages cases.
    Caseworker,
    /// Also adds caseworkers and resets their credentials.
    Supervisor,
}

/// Rules for credentials and failed attempts, fixed when the vault is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialPolicy {
    /// Shortest credential accepted. A 6-digit PIN has a million values: an attacker with an image
    /// of the disk tries them all offline in hours whatever the KDF; see the README's security
    /// notes. Raise this (or require a passphrase) where kits may be seized.
    pub min_length: usize,
    /// Require letters as well as digits (a passphrase, not a PIN).
    pub require_passphrase: bool,
    /// Failed attempts allowed before delays begin.
    pub free_attempts: u32,
    /// First delay in seconds; it doubles with each further failure.
    pub base_delay_s: u64,
    /// Longest delay in seconds.
    pub max_delay_s: u64,
    /// Erase the caseworkers' key slots after this many failures in a row (the recovery key can
    /// still restore access). `None` never erases.
    pub wipe_after: Option<u32>,
    /// Argon2id cost; never below [`KdfParams::FLOOR`].
    pub kdf: KdfParams,
}

impl Default for CredentialPolicy {
    fn default() -> Self {
        CredentialPolicy {
            min_length: 6,
            require_passphrase: false,
            free_attempts: 3,
            base_delay_s: 30,
            max_delay_s: 3600,
            wipe_after: None,
            kdf: KdfParams::FLOOR,
        }
    }
}

impl CredentialPolicy {
    /// Seconds to wait after `failures` failures in a row.
    pub fn delay_s(&self, failures: u32) -> u64 {
        if failures < self.free_attempts.max(1) {
            return 0;
        }
        let doublings = (failures - self.free_attempts.max(1)).min(40);
        self.base_delay_s
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_s)
    }

    fn check(&self, credential: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(credential)
            .map_err(|_| VaultError::WeakCredential("not valid UTF-8".into()))?;
        let chars = text.chars().count();
        if chars < self.min_length {
            return Err(VaultError::WeakCredential(format!(
                "at least {} characters are required",
                self.min_length
            )));
        }
        if self.require_passphrase && !text.chars().any(char::is_alphabetic) {
            return Err(VaultError::WeakCredential(
                "a passphrase with letters is required".into(),
            ));
        }
        if !self.kdf.meets_floor() {
            return Err(VaultError::WeakKdf);
        }
        Ok(())
    }
}

/// A secret a hardware element (such as an ATECC608 on a HAT) contributes to every key
/// derivation, so an image of the disk alone is not enough to attack the PINs. Kits without one
/// use [`NoHardwareSecret`].
pub trait HardwareSecret: Send + Sync {
    /// The secret for this vault, or `None` when the kit has no secure element.
    fn secret(&self, vault_id: &[u8; 16]) -> Option<Key>;
}

/// No secure element: the credential alone protects the keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHardwareSecret;

impl HardwareSecret for NoHardwareSecret {
    fn secret(&self, _vault_id: &[u8; 16]) -> Option<Key> {
        None
    }
}

/// How to open a vault.
#[derive(Clone)]
pub struct OpenOptions {
    /// Turns names into blind-index terms.
    pub indexer: Arc<dyn NameIndexer>,
    /// The kit's secure element, if any.
    pub hardware: Arc<dyn HardwareSecret>,
    /// Verify every page checksum when opening (reads the whole file). On by default: a file
    /// changed outside fieldkit is then refused instead of trusted.
    pub verify_on_open: bool,
    /// redb's page cache in bytes.
    pub cache_bytes: usize,
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("indexer", &self.indexer.id())
            .field("verify_on_open", &self.verify_on_open)
            .field("cache_bytes", &self.cache_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            indexer: Arc::new(BasicIndexer),
            hardware: Arc::new(NoHardwareSecret),
            verify_on_open: true,
            cache_bytes: 32 << 20,
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

/// The recovery key, shown once at provisioning. Zeroized on drop.
pub struct RecoveryKey(Key);

impl RecoveryKey {
    /// The key as 13 groups of 4 base32 characters (plus a check group), for printing on paper.
    pub fn to_words(&self) -> Zeroizing<String> {
        crate::recovery::encode(self.0.expose())
    }

    /// Reads a recovery key typed back in.
    pub fn parse(text: &str) -> Result<RecoveryKey> {
        crate::recovery::decode(text).map(|b| RecoveryKey(Key::from_bytes(*b)))
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(<secret>)")
    }
}

/// A caseworker as listed (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caseworker {
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// May read GBV incidents.
    pub incident_access: bool,
}

#[derive(Clone, Serialize, Deserialize)]
struct KeySlot {
    username: String,
    display_name: String,
    role: Role,
    incident_access: bool,
    salt: [u8; 16],
    kdf: KdfParams,
    /// The data key, wrapped.
    dek: Sealed,
    /// The incident key, wrapped (only for slots with incident access, and the recovery slot).
    iek: Option<Sealed>,
}

impl KeySlot {
    fn caseworker(&self) -> Caseworker {
        Caseworker {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            incident_access: self.incident_access,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Lockout {
    failures: u32,
    last_attempt_ms: u64,
    wiped: bool,
}

/// Count and digest over every record's key and version: a record deleted or rolled back to an
/// older copy changes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    records: u64,
    digest: [u8; 32],
}

impl Manifest {
    fn toggle(&mut self, key: &[u8; 17], version: u64) {
        let h = crypto::hash(&[b"manifest", key, &version.to_le_bytes()]);
        for (d, x) in self.digest.iter_mut().zip(h) {
            *d ^= x;
        }
    }
}

/// Count and order-independent digest of (blind term, record key) pairs, to compare the name
/// index with the records' sealed term sets without holding either in memory.
#[derive(Debug, Default, PartialEq, Eq)]
struct IndexDigest {
    entries: u64,
    digest: [u8; 32],
}

impl IndexDigest {
    fn add(&mut self, term: &[u8], key: &[u8]) {
        self.entries += 1;
        let h = crypto::hash(&[b"index entry", term, key]);
        for (d, x) in self.digest.iter_mut().zip(h) {
            *d ^= x;
        }
    }
}

/// The stored form of a record, summary or term set: the version (8 bytes, little-endian), the
/// nonce (24 bytes), then the ciphertext with its tag. Written by hand rather than through
/// postcard, which would encode the ciphertext byte by byte.
struct Row {
    version: u64,
    sealed: Sealed,
}

impl Row {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.sealed.ciphertext.len());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.sealed.nonce);
        out.extend_from_slice(&self.sealed.ciphertext);
        out
    }

    /// `None` for a row too short to hold a version, a nonce and a tag.
    fn from_bytes(bytes: &[u8]) -> Option<Row> {
        let version = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let nonce: [u8; 24] = bytes.get(8..32)?.try_into().ok()?;
        let ciphertext = bytes.get(32..).filter(|c| c.len() >= 16)?.to_vec();
        Some(Row {
            version,
            sealed: Sealed { nonce, ciphertext },
        })
    }

    fn parse(bytes: &[u8], what: &str) -> Result<Row> {
        Row::from_bytes(bytes).ok_or_else(|| VaultError::Tampered {
            what: what.to_string(),
        })
    }
}

/// The keys of a signed-in session, zeroized on drop.
struct Keys {
    records: Key,
    index: Key,
    audit: Key,
    manifest: Key,
    bundle: Key,
    incidents: Option<Key>,
    incident_index: Option<Key>,
    dek: Key,
    iek: Option<Key>,
}

impl Keys {
    fn new(dek: Key, iek: Option<Key>) -> Keys {
        Keys {
            records: dek.derive("fieldkit records v1"),
            index: dek.derive("fieldkit name index v1"),
            audit: dek.derive("fieldkit audit v1"),
            manifest: dek.derive("fieldkit manifest v1"),
            bundle: dek.derive("fieldkit bundle v1"),
            incidents: iek.as_ref().map(|k| k.derive("fieldkit incidents v1")),
            incident_index: iek.as_ref().map(|k| k.derive("fieldkit incident index v1")),
            dek,
            iek,
        }
    }

    fn record_key(&self, kind: RecordKind) -> Result<&Key> {
        match kind {
            RecordKind::Incident => self.incidents.as_ref().ok_or_else(|| {
                VaultError::Forbidden("this caseworker has no access to GBV incidents".into())
            }),
            _ => Ok(&self.records),
        }
    }

    fn index_key(&self, kind: RecordKind) -> Result<&Key> {
        match kind {
            RecordKind::Incident => self.incident_index.as_ref().ok_or_else(|| {
                VaultError::Forbidden("this caseworker has no access to GBV incidents".into())
            }),
            _ => Ok(&self.index),
        }
    }
}

/// A vault file, opened but locked: nothing in it can be read until [`Vault::unlock`].
pub struct Vault {
    db: Arc<Database>,
    path: PathBuf,
    vault_id: [u8; 16],
    opts: OpenOptions,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // postcard only fails for types serde cannot describe (maps with non-string keys are fine);
    // none of ours, so an empty vector is never reached in practice and would fail to decode.
    postcard::to_allocvec(v).unwrap_or_default()
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| VaultError::Corrupt(format!("{what}: {e}")))
}

fn slot_aad(vault_id: &[u8; 16], slot: &KeySlot, which: &str) -> Vec<u8> {
    let mut aad = b"fieldkit/keyslot/v1|".to_vec();
    aad.extend_from_slice(vault_id);
    aad.push(b'|');
    aad.extend_from_slice(slot.username.as_bytes());
    aad.push(b'|');
    aad.extend_from_slice(match slot.role {
        Role::Caseworker => b"caseworker",
        Role::Supervisor => b"supervisor",
    });
    aad.push(if slot.incident_access { b'I' } else { b'-' });
    aad.push(b'|');
    aad.extend_from_slice(which.as_bytes());
    aad
}

fn read_meta<T: for<'a> Deserialize<'a>>(txn: &ReadTransaction, key: &str) -> Result<Option<T>> {
    let table = txn.open_table(META)?;
    let v = table.get(key)?;
    v.map(|g| decode(g.value(), key)).transpose()
}

fn write_meta<T: Serialize>(txn: &WriteTransaction, key: &str, value: &T) -> Result<()> {
    let mut table = txn.open_table(META)?;
    table.insert(key, encode(value).as_slice())?;
    Ok(())
}

fn read_meta_w<T: for<'a> Deserialize<'a>>(txn: &WriteTransaction, key: &str) -> Result<Option<T>> {
    let table = txn.open_table(META)?;
    let v = table.get(key)?;
    v.map(|g| decode(g.value(), key)).transpose()
}

fn begin(db: &Database) -> Result<WriteTransaction> {
    let mut txn = db.begin_write()?;
    // Acknowledged means on disk: every commit is fsynced before it returns.
    txn.set_durability(Durability::Immediate)?;
    Ok(txn)
}

/// One audit entry to append: when, who, what, which record.
type AuditItem<'a> = (u64, &'a str, AuditAction, Option<(RecordKind, RecordId)>);

/// Appends to the audit chain inside `txn`; with `key`, also moves the authenticated checkpoint.
fn append_audit(
    txn: &WriteTransaction,
    key: Option<&Key>,
    at_ms: u64,
    actor: &str,
    action: AuditAction,
    record: Option<(RecordKind, RecordId)>,
) -> Result<()> {
    append_audit_many(txn, key, vec![(at_ms, actor, action, record)])
}

/// Appends several entries in order, reading and writing the head once.
fn append_audit_many(
    txn: &WriteTransaction,
    key: Option<&Key>,
    items: Vec<AuditItem<'_>>,
) -> Result<()> {
    let mut head: AuditHead = read_meta_w(txn, meta::AUDIT_HEAD)?.unwrap_or(AuditHead {
        len: 0,
        hash: [0; 32],
    });
    {
        let mut table = txn.open_table(AUDIT)?;
        for (at_ms, actor, action, record) in items {
            let entry = AuditEntry {
                seq: head.len,
                at_ms,
                actor: actor.to_string(),
                action,
                record,
                prev: head.hash,
            };
            table.insert(entry.seq, encode(&entry).as_slice())?;
            head = AuditHead {
                len: head.len + 1,
                hash: entry.hash(),
            };
        }
    }
    write_meta(txn, meta::AUDIT_HEAD, &head)?;
    if let Some(k) = key {
        let mac = crypto::mac(k, &[&head.len.to_le_bytes(), &head.hash]);
        write_meta(txn, meta::AUDIT_CHECKPOINT, &AuditCheckpoint { head, mac })?;
    }
    Ok(())
}

fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(VaultError::BadChange(format!(
            "caseworker name `{name}`: use 1–64 letters, digits, '.', '_' or '-'"
        )))
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
    ) -> Result<(Session, RecoveryKey)> {
        validate_username(init.username)?;
        init.policy.check(init.credential)?;
        if path.exists() {
            return Err(VaultError::Exists(path.to_path_buf()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| VaultError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .create(path)
            .map_err(|e| open_error(path, e))?;
        Self::initialise(db, path, init, opts)
    }

    /// Creates a vault on any redb storage backend (`label` names it in messages). Tests use
    /// this with a backend that loses unsynced writes, as a power cut does.
    pub fn create_on(
        backend: impl redb::StorageBackend,
        label: &Path,
        init: InitOptions<'_>,
        opts: OpenOptions,
    ) -> Result<(Session, RecoveryKey)> {
        validate_username(init.username)?;
        init.policy.check(init.credential)?;
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .create_with_backend(backend)
            .map_err(|e| open_error(label, e))?;
        Self::initialise(db, label, init, opts)
    }

    fn initialise(
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
        let mut vault_id = [0u8; 16];
        crypto::fill_random(&mut vault_id)?;
        let mut device = [0u8; 8];
        crypto::fill_random(&mut device)?;
        let device = DeviceId(u64::from_le_bytes(device));
        let dek = Key::random()?;
        let iek = Key::random()?;
        let recovery = Key::random()?;
        let hw = opts.hardware.secret(&vault_id);

        let txn = begin(&db)?;
        write_meta(&txn, meta::SCHEMA, &SCHEMA_VERSION)?;
        write_meta(&txn, meta::VAULT_ID, &vault_id)?;
        write_meta(&txn, meta::DEVICE_ID, &device)?;
        write_meta(&txn, meta::CLOCK, &HlcClock::new(device).last())?;
        write_meta(&txn, meta::LOCKOUT, &Lockout::default())?;
        write_meta(&txn, meta::POLICY, &init.policy)?;
        write_meta(&txn, meta::INDEXER, &opts.indexer.id().to_string())?;
        let slot = wrap_slot(
            &vault_id,
            SlotOwner {
                username: init.username,
                display_name: init.display_name,
                role: Role::Supervisor,
                incident_access: true,
            },
            Credential::Secret(init.credential, hw.as_ref()),
            init.policy.kdf,
            &dek,
            Some(&iek),
        )?;
        let rslot = wrap_slot(
            &vault_id,
            SlotOwner {
                username: RECOVERY_SLOT,
                display_name: "recovery key",
                role: Role::Supervisor,
                incident_access: true,
            },
            Credential::Recovery(&recovery),
            init.policy.kdf,
            &dek,
            Some(&iek),
        )?;
        {
            let mut slots = txn.open_table(KEYSLOTS)?;
            slots.insert(init.username, encode(&slot).as_slice())?;
            slots.insert(RECOVERY_SLOT, encode(&rslot).as_slice())?;
        }
        // Create the other tables so a read transaction finds them.
        txn.open_table(RECORDS)?;
        txn.open_table(TERMS)?;
        txn.open_table(SUMMARIES)?;
        txn.open_multimap_table(NAME_INDEX)?;
        let keys = Keys::new(dek, Some(iek));
        let manifest = Manifest::default();
        let sealed = crypto::seal(&keys.manifest, b"fieldkit/manifest", &encode(&manifest))?;
        write_meta(&txn, meta::MANIFEST, &sealed)?;
        append_audit(
            &txn,
            Some(&keys.audit),
            init.now_ms,
            init.username,
            AuditAction::Init,
            None,
        )?;
        txn.commit()?;
        tracing::info!(path = %path.display(), "vault created");

        let vault = Vault {
            db: Arc::new(db),
            path: path.to_path_buf(),
            vault_id,
            opts,
        };
        let session = Session {
            clock: HlcClock::new(device),
            user: slot.caseworker(),
            keys,
            vault,
            manifest,
        };
        Ok((session, RecoveryKey(recovery)))
    }

    /// Opens an existing vault (locked).
    pub fn open(path: &Path, opts: OpenOptions) -> Result<Vault> {
        if !path.exists() {
            return Err(VaultError::Missing(path.to_path_buf()));
        }
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .set_check_integrity_on_open(opts.verify_on_open)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        Self::from_db(db, path, opts)
    }

    /// Opens a vault on any redb storage backend (`label` names it in messages).
    pub fn open_on(
        backend: impl redb::StorageBackend,
        label: &Path,
        opts: OpenOptions,
    ) -> Result<Vault> {
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .set_check_integrity_on_open(opts.verify_on_open)
            .create_with_backend(backend)
            .map_err(|e| open_error(label, e))?;
        Self::from_db(db, label, opts)
    }

    fn from_db(db: Database, path: &Path, opts: OpenOptions) -> Result<Vault> {
        let txn = db.begin_read()?;
        let schema: u32 = read_meta(&txn, meta::SCHEMA)?
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

    /// The caseworkers who can sign in.
    pub fn caseworkers(&self) -> Result<Vec<Caseworker>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(KEYSLOTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            if k.value() == RECOVERY_SLOT {
                continue;
            }
            let slot: KeySlot = decode(v.value(), "key slot")?;
            out.push(slot.caseworker());
        }
        Ok(out)
    }

    /// Failed sign-in attempts since the last success.
    pub fn failed_attempts(&self) -> Result<u32> {
        let txn = self.db.begin_read()?;
        Ok(read_meta::<Lockout>(&txn, meta::LOCKOUT)?
            .unwrap_or_default()
            .failures)
    }

    /// Signs a caseworker in. The failed-attempt counter is raised and committed to disk
    /// *before* the credential is checked, so cutting the power during the check cannot reset
    /// it; a success sets it back to zero.
    pub fn unlock(self, username: &str, credential: &[u8], now_ms: u64) -> Result<Session> {
        let hw = self.opts.hardware.secret(&self.vault_id);
        self.unlock_with(username, now_ms, |slot| match slot {
            Some(slot) => {
                let kek = crypto::credential_kek(credential, &slot.salt, slot.kdf, hw.as_ref())?;
                Ok(Some(kek))
            }
            None => {
                // Spend the same effort for an unknown name, so timing does not reveal names.
                let _ =
                    crypto::credential_kek(credential, &[0; 16], KdfParams::FLOOR, hw.as_ref())?;
                Ok(None)
            }
        })
    }

    /// Signs in with the recovery key, as a supervisor named `recovery`. Clears a wipe: the
    /// supervisor can then reset caseworkers' credentials.
    pub fn unlock_recovery(self, recovery: &RecoveryKey, now_ms: u64) -> Result<Session> {
        let mut session = self.unlock_with(RECOVERY_SLOT, now_ms, |slot| {
            Ok(slot.map(|s| crypto::recovery_kek(&recovery.0, &s.salt)))
        })?;
        session.user.username = "recovery".into();
        let txn = begin(&session.vault.db)?;
        write_meta(&txn, meta::LOCKOUT, &Lockout::default())?;
        append_audit(
            &txn,
            Some(&session.keys.audit),
            now_ms,
            "recovery",
            AuditAction::Recovery,
            None,
        )?;
        txn.commit()?;
        Ok(session)
    }

    fn unlock_with(
        self,
        username: &str,
        now_ms: u64,
        derive: impl FnOnce(Option<&KeySlot>) -> Result<Option<Key>>,
    ) -> Result<Session> {
        let is_recovery = username == RECOVERY_SLOT;
        let txn = begin(&self.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        let mut lockout: Lockout = read_meta_w(&txn, meta::LOCKOUT)?.unwrap_or_default();
        if lockout.wiped && !is_recovery {
            return Err(VaultError::Wiped);
        }
        // A clock that went backwards (a Pi without RTC after a power cut) must not shorten
        // the wait: count from now instead.
        let elapsed_s = now_ms.saturating_sub(lockout.last_attempt_ms) / 1000;
        let delay = policy.delay_s(lockout.failures);
        if !is_recovery && delay > elapsed_s {
            if now_ms < lockout.last_attempt_ms {
                lockout.last_attempt_ms = now_ms;
                write_meta(&txn, meta::LOCKOUT, &lockout)?;
                txn.commit()?;
            }
            return Err(VaultError::LockedOut {
                failures: lockout.failures,
                retry_after_s: delay - elapsed_s,
            });
        }
        lockout.failures = lockout.failures.saturating_add(1);
        lockout.last_attempt_ms = now_ms;
        write_meta(&txn, meta::LOCKOUT, &lockout)?;
        append_audit(
            &txn,
            None,
            now_ms,
            username,
            AuditAction::LoginAttempt,
            None,
        )?;
        let slot: Option<KeySlot> = {
            let slots = txn.open_table(KEYSLOTS)?;
            let v = slots.get(username)?;
            v.map(|g| decode(g.value(), "key slot")).transpose()?
        };
        txn.commit()?;
        tracing::debug!("sign-in attempt recorded");

        let kek = derive(slot.as_ref())?;
        let keys = match (slot.as_ref(), kek) {
            (Some(slot), Some(kek)) => unwrap_slot(&self.vault_id, slot, &kek).ok(),
            _ => None,
        };
        let (Some(slot), Some(keys)) = (slot, keys) else {
            let txn = begin(&self.db)?;
            append_audit(&txn, None, now_ms, username, AuditAction::LoginFailed, None)?;
            let wipe = policy.wipe_after.is_some_and(|n| lockout.failures >= n);
            if wipe && !is_recovery {
                wipe_slots(&txn)?;
                lockout.wiped = true;
                write_meta(&txn, meta::LOCKOUT, &lockout)?;
                append_audit(&txn, None, now_ms, username, AuditAction::Wiped, None)?;
                txn.commit()?;
                tracing::warn!(
                    failures = lockout.failures,
                    "caseworker key slots erased after repeated failures"
                );
                return Err(VaultError::Wiped);
            }
            txn.commit()?;
            tracing::warn!(failures = lockout.failures, "failed sign-in");
            return Err(VaultError::WrongCredential {
                failures: lockout.failures,
            });
        };

        let txn = begin(&self.db)?;
        write_meta(
            &txn,
            meta::LOCKOUT,
            &Lockout {
                wiped: lockout.wiped,
                ..Lockout::default()
            },
        )?;
        append_audit(
            &txn,
            Some(&keys.audit),
            now_ms,
            username,
            AuditAction::LoginOk,
            None,
        )?;
        let migrated = migrate(&txn, &keys)?;
        let clock: Hlc = read_meta_w(&txn, meta::CLOCK)?
            .ok_or_else(|| VaultError::Corrupt("no clock state".into()))?;
        let sealed: Sealed = read_meta_w(&txn, meta::MANIFEST)?
            .ok_or_else(|| VaultError::Corrupt("no manifest".into()))?;
        let manifest: Manifest = open_manifest(&keys, &sealed)?;
        let indexer_id: Option<String> = read_meta_w(&txn, meta::INDEXER)?;
        txn.commit()?;
        if migrated {
            tracing::info!(schema = SCHEMA_VERSION, "vault migrated");
        }
        let mut session = Session {
            clock: HlcClock::resume(clock),
            user: slot.caseworker(),
            keys,
            vault: self,
            manifest,
        };
        if indexer_id.as_deref() != Some(session.vault.opts.indexer.id()) {
            session.reindex()?;
        }
        Ok(session)
    }
}

fn open_manifest(keys: &Keys, sealed: &Sealed) -> Result<Manifest> {
    let plain = crypto::open(&keys.manifest, b"fieldkit/manifest", sealed).map_err(|_| {
        VaultError::Tampered {
            what: "the record manifest".into(),
        }
    })?;
    decode(&plain, "manifest")
}

/// Brings an older vault up to [`SCHEMA_VERSION`] inside the sign-in transaction. Returns true
/// when anything changed.
fn migrate(txn: &WriteTransaction, keys: &Keys) -> Result<bool> {
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

fn wipe_slots(txn: &WriteTransaction) -> Result<()> {
    let mut slots = txn.open_table(KEYSLOTS)?;
    let names: Vec<String> = slots
        .iter()?
        .filter_map(|r| r.ok().map(|(k, _)| k.value().to_string()))
        .filter(|n| n != RECOVERY_SLOT)
        .collect();
    for n in names {
        slots.remove(n.as_str())?;
    }
    Ok(())
}

struct SlotOwner<'a> {
    username: &'a str,
    display_name: &'a str,
    role: Role,
    incident_access: bool,
}

enum Credential<'a> {
    Secret(&'a [u8], Option<&'a Key>),
    Recovery(&'a Key),
}

fn wrap_slot(
    vault_id: &[u8; 16],
    owner: SlotOwner<'_>,
    credential: Credential<'_>,
    kdf: KdfParams,
    dek: &Key,
    iek: Option<&Key>,
) -> Result<KeySlot> {
    let mut salt = [0u8; 16];
    crypto::fill_random(&mut salt)?;
    let kek = match credential {
        Credential::Secret(c, hw) => crypto::credential_kek(c, &salt, kdf, hw)?,
        Credential::Recovery(r) => crypto::recovery_kek(r, &salt),
    };
    let mut slot = KeySlot {
        username: owner.username.to_string(),
        display_name: owner.display_name.to_string(),
        role: owner.role,
        incident_access: owner.incident_access && iek.is_some(),
        salt,
        kdf,
        dek: Sealed {
            nonce: [0; 24],
            ciphertext: Vec::new(),
        },
        iek: None,
    };
    slot.dek = crypto::seal(&kek, &slot_aad(vault_id, &slot, "dek"), dek.expose())?;
    if let Some(iek) = iek.filter(|_| slot.incident_access) {
        slot.iek = Some(crypto::seal(
            &kek,
            &slot_aad(vault_id, &slot, "iek"),
            iek.expose(),
        )?);
    }
    Ok(slot)
}

fn unwrap_slot(vault_id: &[u8; 16], slot: &KeySlot, kek: &Key) -> Result<Keys> {
    let key_of = |plain: Zeroizing<Vec<u8>>| -> Result<Key> {
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Corrupt("wrapped key of wrong length".into()))?;
        Ok(Key::from_bytes(bytes))
    };
    let dek = key_of(crypto::open(
        kek,
        &slot_aad(vault_id, slot, "dek"),
        &slot.dek,
    )?)?;
    let iek = match (&slot.iek, slot.incident_access) {
        (Some(w), true) => Some(key_of(crypto::open(
            kek,
            &slot_aad(vault_id, slot, "iek"),
            w,
        )?)?),
        _ => None,
    };
    Ok(Keys::new(dek, iek))
}

fn open_error(path: &Path, e: redb::DatabaseError) -> VaultError {
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

/// A record as read: the typed record, its conflicts, and its version.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The record.
    pub record: Record,
    /// Fields edited concurrently on different kits.
    pub conflicts: Vec<Conflict>,
    /// How many times it was saved here.
    pub version: u64,
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The record.
    pub id: RecordId,
    /// Its new version.
    pub version: u64,
    /// Field operations written.
    pub ops: usize,
}

/// A signed-in caseworker's view of the vault. Dropping it (or [`Session::lock`]) zeroizes the
/// keys.
pub struct Session {
    vault: Vault,
    keys: Keys,
    user: Caseworker,
    clock: HlcClock,
    manifest: Manifest,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("vault", &self.vault.path)
            .field("user", &self.user.username)
            .finish_non_exhaustive()
    }
}

/// What [`Session::store`]'s caller already has for a document: its JSON and its summary.
struct Known<'a> {
    json: &'a serde_json::Value,
    summary: Summary,
}

/// The records and summaries one write transaction changed, so the manifest is updated once.
struct Batch<'t> {
    txn: &'t WriteTransaction,
    manifest: Manifest,
}

impl Session {
    /// Signs out: the keys are zeroized and the locked vault is returned.
    pub fn lock(self) -> Vault {
        self.vault
    }

    /// Who is signed in.
    pub fn caseworker(&self) -> &Caseworker {
        &self.user
    }

    /// The vault's id, as hex.
    pub fn vault_id_hex(&self) -> String {
        hex(&self.vault.vault_id)
    }

    /// This kit's device id in clock stamps.
    pub fn device(&self) -> DeviceId {
        self.clock.device()
    }

    /// Mints a fresh record id (UUIDv7).
    pub fn mint_id(&self, now_ms: u64) -> Result<RecordId> {
        let mut r = [0u8; 10];
        crypto::fill_random(&mut r)?;
        Ok(RecordId::mint(now_ms, r))
    }

    fn require_supervisor(&self) -> Result<()> {
        if self.user.role == Role::Supervisor {
            Ok(())
        } else {
            Err(VaultError::Forbidden(
                "only a supervisor may manage caseworkers".into(),
            ))
        }
    }

    fn audit(
        &self,
        txn: &WriteTransaction,
        now_ms: u64,
        action: AuditAction,
        record: Option<(RecordKind, RecordId)>,
    ) -> Result<()> {
        append_audit(
            txn,
            Some(&self.keys.audit),
            now_ms,
            &self.user.username,
            action,
            record,
        )
    }

    /// Appends one audit entry in a transaction of its own.
    fn audit_now(
        &self,
        now_ms: u64,
        action: AuditAction,
        record: Option<(RecordKind, RecordId)>,
    ) -> Result<()> {
        let txn = begin(&self.vault.db)?;
        self.audit(&txn, now_ms, action, record)?;
        txn.commit()?;
        Ok(())
    }

    /// Adds a caseworker. Supervisors only.
    pub fn add_caseworker(
        &mut self,
        username: &str,
        display_name: &str,
        credential: &[u8],
        role: Role,
        incident_access: bool,
        now_ms: u64,
    ) -> Result<()> {
        self.require_supervisor()?;
        validate_username(username)?;
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        policy.check(credential)?;
        if txn.open_table(KEYSLOTS)?.get(username)?.is_some() {
            return Err(VaultError::CaseworkerExists(username.to_string()));
        }
        if incident_access && self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "only a caseworker with incident access can grant it".into(),
            ));
        }
        self.write_slot(
            &txn,
            SlotOwner {
                username,
                display_name,
                role,
                incident_access,
            },
            credential,
            policy.kdf,
        )?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::CaseworkerAdded {
                username: username.to_string(),
            },
            None,
        )?;
        txn.commit()?;
        Ok(())
    }

    /// Wraps this session's keys under `credential` (and the kit's hardware secret) for `owner`
    /// and writes the slot.
    fn write_slot(
        &self,
        txn: &WriteTransaction,
        owner: SlotOwner<'_>,
        credential: &[u8],
        kdf: KdfParams,
    ) -> Result<()> {
        let hw = self.vault.opts.hardware.secret(&self.vault.vault_id);
        let username = owner.username;
        let slot = wrap_slot(
            &self.vault.vault_id,
            owner,
            Credential::Secret(credential, hw.as_ref()),
            kdf,
            &self.keys.dek,
            self.keys.iek.as_ref(),
        )?;
        txn.open_table(KEYSLOTS)?
            .insert(username, encode(&slot).as_slice())?;
        Ok(())
    }

    /// Sets a caseworker's credential: one's own, or anyone's for a supervisor (a reset). Only the
    /// key slot is rewrapped; no record is re-encrypted.
    pub fn set_credential(&mut self, username: &str, credential: &[u8], now_ms: u64) -> Result<()> {
        if username != self.user.username {
            self.require_supervisor()?;
        }
        let txn = begin(&self.vault.db)?;
        let policy: CredentialPolicy = read_meta_w(&txn, meta::POLICY)?.unwrap_or_default();
        policy.check(credential)?;
        let old: KeySlot = {
            let slots = txn.open_table(KEYSLOTS)?;
            let v = slots.get(username)?;
            match v {
                Some(g) => decode(g.value(), "key slot")?,
                None => return Err(VaultError::NoSuchCaseworker(username.to_string())),
            }
        };
        if old.incident_access && self.keys.iek.is_none() {
            return Err(VaultError::Forbidden(
                "cannot reset a caseworker with incident access".into(),
            ));
        }
        self.write_slot(
            &txn,
            SlotOwner {
                username,
                display_name: &old.display_name,
                role: old.role,
                incident_access: old.incident_access,
            },
            credential,
            policy.kdf,
        )?;
        let mut lockout: Lockout = read_meta_w(&txn, meta::LOCKOUT)?.unwrap_or_default();
        lockout.wiped = false;
        write_meta(&txn, meta::LOCKOUT, &lockout)?;
        self.audit(
            &txn,
            now_ms,
            AuditAction::CredentialChanged {
                username: username.to_string(),
            },
            None,
        )?;
        txn.commit()?;
        Ok(())
    }

    /// The caseworkers who can sign in.
    pub fn caseworkers(&self) -> Result<Vec<Caseworker>> {
        self.vault.caseworkers()
    }

    /// Creates a record after validating it as of the day `now_ms` falls on. The record's id is
    /// kept (mint one with [`Session::mint_id`]).
    pub fn create(&mut self, record: &Record, now_ms: u64) -> Result<Saved> {
        let saved = self.create_many(std::slice::from_ref(record), now_ms)?;
        saved
            .into_iter()
            .next()
            .ok_or_else(|| VaultError::BadChange("nothing saved".into()))
    }

    /// Creates many records in one transaction (one fsync).
    pub fn create_many(&mut self, records: &[Record], now_ms: u64) -> Result<Vec<Saved>> {
        let today = Date::from_unix_ms(now_ms);
        for r in records {
            r.validate(today)?;
            self.keys.record_key(r.kind())?;
        }
        let txn = begin(&self.vault.db)?;
        let mut batch = Batch {
            txn: &txn,
            manifest: self.manifest,
        };
        let mut out = Vec::with_capacity(records.len());
        let mut audit = Vec::with_capacity(records.len());
        // One save, one stamp: every field of every record in it changes at the same moment.
        let stamp = self.clock.tick(now_ms);
        for r in records {
            let (kind, id) = (r.kind(), r.id());
            if txn
                .open_table(RECORDS)?
                .get(schema::record_key(kind, id).as_slice())?
                .is_some()
            {
                return Err(VaultError::BadChange(format!("{kind} {id} already exists")));
            }
            let json = r.to_json();
            let (doc, fields) = Document::create(kind, id, &json, stamp)
                .map_err(|e| VaultError::BadChange(e.to_string()))?;
            // A new document holds exactly `r`: its JSON and summary need not be rebuilt.
            let known = Known {
                json: &json,
                summary: Summary::of(r, 0),
            };
            let version = self.store(&mut batch, &doc, None, Some(known))?;
            audit.push((
                now_ms,
                self.user.username.as_str(),
                AuditAction::Write,
                Some((kind, id)),
            ));
            out.push(Saved {
                id,
                version,
                ops: fields,
            });
        }
        append_audit_many(&txn, Some(&self.keys.audit), audit)?;
        write_meta(&txn, meta::CLOCK, &self.clock.last())?;
        let manifest = batch.manifest;
        self.seal_manifest(&txn, &manifest)?;
        txn.commit()?;
        self.manifest = manifest;
        Ok(out)
    }

    /// Saves an edited record: `edited` is the whole record as a flat JSON object (the shape
    /// [`Opened::record`] gives); the difference becomes field operations.
    pub fn update(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: &serde_json::Value,
        now_ms: u64,
    ) -> Result<Saved> {
        self.keys.record_key(kind)?;
        let txn = begin(&self.vault.db)?;
        let (mut doc, version) = self
            .load_w(&txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        let stamp = self.clock.tick(now_ms);
        let ops = doc
            .diff(edited, || stamp)
            .map_err(|e| VaultError::BadChange(e.to_string()))?;
        apply_all(&mut doc, &ops)?;
        let record = doc
            .to_record()
            .map_err(|e| VaultError::BadChange(e.to_string()))?;
        record.validate(Date::from_unix_ms(now_ms))?;
        if ops.is_empty() {
            return Ok(Saved {
                id,
                version,
                ops: 0,
            });
        }
        let mut batch = Batch {
            txn: &txn,
            manifest: self.manifest,
        };
        let version = self.store(&mut batch, &doc, Some(version), None)?;
        self.audit(&txn, now_ms, AuditAction::Write, Some((kind, id)))?;
        write_meta(&txn, meta::CLOCK, &self.clock.last())?;
        let manifest = batch.manifest;
        self.seal_manifest(&txn, &manifest)?;
        txn.commit()?;
        self.manifest = manifest;
        Ok(Saved {
            id,
            version,
            ops: ops.len(),
        })
    }

    /// Merges documents received from elsewhere (import, sync). No validation: what other kits
    /// recorded is never dropped; conflicts show up on the records.
    pub fn merge(&mut self, docs: &[Document], now_ms: u64) -> Result<usize> {
        self.merge_audited(docs, now_ms, None)
    }

    /// [`Session::merge`], with `also` (the import that brought the documents) audited in the
    /// same transaction.
    fn merge_audited(
        &mut self,
        docs: &[Document],
        now_ms: u64,
        also: Option<AuditAction>,
    ) -> Result<usize> {
        let txn = begin(&self.vault.db)?;
        let mut batch = Batch {
            txn: &txn,
            manifest: self.manifest,
        };
        let mut changed = 0;
        for incoming in docs {
            let (kind, id) = (incoming.kind(), incoming.id());
            if kind == RecordKind::Incident && self.keys.incidents.is_none() {
                continue;
            }
            let existing = self.load_w(&txn, kind, id)?;
            let (doc, prev) = match existing {
                Some((mut doc, v)) => {
                    let before = doc.clone();
                    doc.merge(incoming)
                        .map_err(|e| VaultError::BadChange(e.to_string()))?;
                    if doc == before {
                        continue;
                    }
                    (doc, Some(v))
                }
                None => (incoming.clone(), None),
            };
            if let Some(s) = doc.latest_stamp() {
                self.clock.observe(s);
            }
            self.store(&mut batch, &doc, prev, None)?;
            self.audit(&txn, now_ms, AuditAction::Merge, Some((kind, id)))?;
            changed += 1;
        }
        if let Some(action) = also {
            self.audit(&txn, now_ms, action, None)?;
        }
        write_meta(&txn, meta::CLOCK, &self.clock.last())?;
        let manifest = batch.manifest;
        self.seal_manifest(&txn, &manifest)?;
        txn.commit()?;
        self.manifest = manifest;
        Ok(changed)
    }

    /// Applies field operations received from elsewhere.
    pub fn apply_ops(&mut self, ops: &[Op], now_ms: u64) -> Result<usize> {
        let mut docs: BTreeMap<(RecordKind, RecordId), Document> = BTreeMap::new();
        for op in ops {
            let doc = docs
                .entry((op.kind, op.record))
                .or_insert_with(|| Document::new(op.kind, op.record));
            doc.apply(op)
                .map_err(|e| VaultError::BadChange(e.to_string()))?;
        }
        let docs: Vec<Document> = docs.into_values().collect();
        self.merge(&docs, now_ms)
    }

    /// Opens a record (audited).
    pub fn get(&mut self, kind: RecordKind, id: RecordId, now_ms: u64) -> Result<Opened> {
        let txn = begin(&self.vault.db)?;
        let (doc, version) = self
            .load_w(&txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        self.audit(&txn, now_ms, AuditAction::Read, Some((kind, id)))?;
        txn.commit()?;
        let record = doc
            .to_record()
            .map_err(|e| VaultError::Corrupt(format!("{kind} {id}: {e}")))?;
        Ok(Opened {
            record,
            conflicts: doc.conflicts(),
            version,
        })
    }

    /// The document behind a record (for sync and export), unaudited: callers audit the bulk
    /// operation.
    fn load_w(
        &self,
        txn: &WriteTransaction,
        kind: RecordKind,
        id: RecordId,
    ) -> Result<Option<(Document, u64)>> {
        let key = schema::record_key(kind, id);
        let table = txn.open_table(RECORDS)?;
        let v = table.get(key.as_slice())?;
        match v {
            None => Ok(None),
            Some(g) => self.unseal_doc(&key, g.value()).map(Some),
        }
    }

    fn unseal_doc(&self, key: &[u8; 17], bytes: &[u8]) -> Result<(Document, u64)> {
        let (kind, id) = schema::parse_record_key(key)
            .ok_or_else(|| VaultError::Corrupt("malformed record key".into()))?;
        let what = || format!("{kind} {id}");
        let row = Row::from_bytes(bytes).ok_or_else(|| VaultError::Tampered { what: what() })?;
        let plain = crypto::open(
            self.keys.record_key(kind)?,
            &schema::row_aad("records", key, row.version),
            &row.sealed,
        )
        .map_err(|_| VaultError::Tampered { what: what() })?;
        let doc: Document =
            postcard::from_bytes(&plain).map_err(|_| VaultError::Tampered { what: what() })?;
        if doc.kind() != kind || doc.id() != id {
            return Err(VaultError::Tampered { what: what() });
        }
        Ok((doc, row.version))
    }

    /// Seals and writes a document, its summary and its index terms. `known` spares rebuilding
    /// the JSON and summary when the caller has them (a new record: the record it was made from).
    fn store(
        &self,
        batch: &mut Batch<'_>,
        doc: &Document,
        prev: Option<u64>,
        known: Option<Known<'_>>,
    ) -> Result<u64> {
        let (kind, id) = (doc.kind(), doc.id());
        let key = schema::record_key(kind, id);
        let version = prev.map_or(1, |v| v + 1);
        let rkey = self.keys.record_key(kind)?;
        let (json, summary) = match known {
            Some(k) => (std::borrow::Cow::Borrowed(k.json), Some(k.summary)),
            None => (std::borrow::Cow::Owned(doc.to_json()), None),
        };
        let json = json.as_ref();

        let sealed = crypto::seal(
            rkey,
            &schema::row_aad("records", &key, version),
            &encode(doc),
        )?;
        batch.txn.open_table(RECORDS)?.insert(
            key.as_slice(),
            Row { version, sealed }.to_bytes().as_slice(),
        )?;

        let summary = match summary {
            Some(s) => s,
            None => match doc.to_record() {
                Ok(r) => Summary::of(&r, doc.conflicts().len()),
                Err(_) => fallback_summary(doc, json),
            },
        };
        let sealed = crypto::seal(
            rkey,
            &schema::row_aad("summaries", &key, version),
            &encode(&summary),
        )?;
        batch.txn.open_table(SUMMARIES)?.insert(
            key.as_slice(),
            Row { version, sealed }.to_bytes().as_slice(),
        )?;

        // Index terms: drop the old ones, add the new.
        let ikey = self.keys.index_key(kind)?;
        let new_terms = self.terms_for(ikey, kind, json);
        // A new record has no terms to remove.
        let old_terms = match prev {
            Some(_) => self.stored_terms(batch.txn, kind, &key)?,
            None => None,
        };
        let mut index = batch.txn.open_multimap_table(NAME_INDEX)?;
        if let Some(old) = old_terms {
            for t in old.difference(&new_terms) {
                index.remove(t.as_slice(), key.as_slice())?;
            }
        }
        for t in &new_terms {
            index.insert(t.as_slice(), key.as_slice())?;
        }
        drop(index);
        store_terms(batch, &key, &new_terms, rkey, version)?;

        if let Some(p) = prev {
            batch.manifest.toggle(&key, p);
        } else {
            batch.manifest.records += 1;
        }
        batch.manifest.toggle(&key, version);
        Ok(version)
    }

    fn terms_for(
        &self,
        ikey: &Key,
        kind: RecordKind,
        json: &serde_json::Value,
    ) -> BTreeSet<[u8; 16]> {
        let mut out = BTreeSet::new();
        for name in searchable_names(kind, json) {
            for term in self.vault.opts.indexer.terms(&name) {
                out.insert(blind(ikey, kind, &term));
            }
        }
        out
    }

    /// The blind terms a record was last indexed under (sealed per record, so an edit removes
    /// the old terms without decrypting the old document).
    fn stored_terms(
        &self,
        txn: &WriteTransaction,
        kind: RecordKind,
        key: &[u8; 17],
    ) -> Result<Option<BTreeSet<[u8; 16]>>> {
        let table = txn.open_table(TERMS)?;
        let v = table.get(key.as_slice())?;
        let Some(g) = v else { return Ok(None) };
        let row = Row::parse(g.value(), "terms")?;
        let plain = crypto::open(
            self.keys.record_key(kind)?,
            &schema::row_aad("record_terms", key, row.version),
            &row.sealed,
        )
        .map_err(|_| VaultError::Tampered {
            what: format!("index terms of {}", hex(key)),
        })?;
        decode::<BTreeSet<[u8; 16]>>(&plain, "terms").map(Some)
    }

    fn seal_manifest(&self, txn: &WriteTransaction, manifest: &Manifest) -> Result<()> {
        let sealed = crypto::seal(&self.keys.manifest, b"fieldkit/manifest", &encode(manifest))?;
        write_meta(txn, meta::MANIFEST, &sealed)
    }

    /// Rebuilds the blind index (after the indexer changed).
    pub fn reindex(&mut self) -> Result<()> {
        let txn = begin(&self.vault.db)?;
        txn.delete_multimap_table(NAME_INDEX)?;
        txn.delete_table(TERMS)?;
        let keys: Vec<[u8; 17]> = {
            let table = txn.open_table(RECORDS)?;
            let mut keys = Vec::new();
            for row in table.iter()? {
                let (k, _) = row?;
                if let Ok(k) = <[u8; 17]>::try_from(k.value()) {
                    keys.push(k);
                }
            }
            keys
        };
        let mut index = txn.open_multimap_table(NAME_INDEX)?;
        let mut count = 0usize;
        for key in keys {
            let Some((kind, _)) = schema::parse_record_key(&key) else {
                continue;
            };
            let (Ok(ikey), Ok(rkey)) = (self.keys.index_key(kind), self.keys.record_key(kind))
            else {
                continue;
            };
            let bytes = {
                let table = txn.open_table(RECORDS)?;
                let v = table.get(key.as_slice())?;
                v.map(|g| g.value().to_vec())
            };
            let Some(bytes) = bytes else { continue };
            let (doc, version) = self.unseal_doc(&key, &bytes)?;
            let terms = self.terms_for(ikey, kind, &doc.to_json());
            for t in &terms {
                index.insert(t.as_slice(), key.as_slice())?;
            }
            let batch = Batch {
                txn: &txn,
                manifest: self.manifest,
            };
            store_terms(&batch, &key, &terms, rkey, version)?;
            count += 1;
        }
        drop(index);
        write_meta(
            &txn,
            meta::INDEXER,
            &self.vault.opts.indexer.id().to_string(),
        )?;
        txn.commit()?;
        tracing::info!(
            records = count,
            indexer = self.vault.opts.indexer.id(),
            "name index rebuilt"
        );
        Ok(())
    }

    /// The first `limit` summaries of a kind after skipping `offset`, in id order (ids are
    /// UUIDv7, so that is registration order). Only these summaries are decrypted.
    pub fn list(&self, kind: RecordKind, offset: usize, limit: usize) -> Result<Vec<Summary>> {
        let rkey = self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(SUMMARIES)?;
        let (lo, hi) = kind_bounds(kind);
        let mut out = Vec::with_capacity(limit.min(1024));
        for row in table
            .range(lo.as_slice()..hi.as_slice())?
            .skip(offset)
            .take(limit)
        {
            let (k, v) = row?;
            out.push(unseal_summary(rkey, k.value(), v.value())?);
        }
        Ok(out)
    }

    /// The ids of a kind whose hex digits (dashes ignored) start or end with `part`, so a
    /// caseworker can quote the short id ([`RecordId::short`], the last eight digits) or the
    /// first digits. Reads keys only.
    pub fn resolve(&self, kind: RecordKind, part: &str) -> Result<Vec<RecordId>> {
        let digits = part
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if digits.len() < 4 || digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(VaultError::BadChange(format!(
                "`{part}` is not a record id or at least 4 of its hex digits"
            )));
        }
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        let (lo, hi) = kind_bounds(kind);
        let mut out = Vec::new();
        for row in table.range(lo.as_slice()..hi.as_slice())? {
            let (k, _) = row?;
            if let Some((_, id)) = schema::parse_record_key(k.value()) {
                let h = hex(id.as_bytes());
                if h.starts_with(&digits) || h.ends_with(&digits) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// How many records of a kind the vault holds.
    pub fn count(&self, kind: RecordKind) -> Result<u64> {
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(SUMMARIES)?;
        let (lo, hi) = kind_bounds(kind);
        let mut n = 0;
        for row in table.range(lo.as_slice()..hi.as_slice())? {
            row?;
            n += 1;
        }
        Ok(n)
    }

    /// Searches names through the blind index: the query's terms are HMACed and looked up; records
    /// are ranked by how many terms they share with the query, and only the top `limit` summaries
    /// are decrypted. Audited without the query.
    pub fn search(
        &mut self,
        kind: RecordKind,
        query: &str,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Summary>> {
        let found = self.search_unaudited(kind, query, limit)?;
        self.audit_now(
            now_ms,
            AuditAction::Search {
                results: u32::try_from(found.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        Ok(found)
    }

    /// [`Session::search`] without the audit entry (for benchmarks and matching internals).
    pub fn search_unaudited(
        &self,
        kind: RecordKind,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Summary>> {
        let ikey = self.keys.index_key(kind)?;
        let rkey = self.keys.record_key(kind)?;
        let terms: BTreeSet<[u8; 16]> = self
            .vault
            .opts
            .indexer
            .terms(query)
            .iter()
            .map(|t| blind(ikey, kind, t))
            .collect();
        let txn = self.vault.db.begin_read()?;
        let index = txn.open_multimap_table(NAME_INDEX)?;
        let mut hits: HashMap<[u8; 17], u32> = HashMap::new();
        for t in &terms {
            for v in index.get(t.as_slice())? {
                let v = v?;
                if let Ok(k) = <[u8; 17]>::try_from(v.value())
                    && k[0] == schema::kind_byte(kind)
                {
                    *hits.entry(k).or_default() += 1;
                }
            }
        }
        let mut ranked: Vec<([u8; 17], u32)> = hits.into_iter().collect();
        // Most shared terms first; ties by id (registration order), newest first.
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let table = txn.open_table(SUMMARIES)?;
        let mut out = Vec::with_capacity(limit.min(ranked.len()));
        for (k, _) in ranked.into_iter().take(limit) {
            let v = table.get(k.as_slice())?;
            if let Some(v) = v {
                out.push(unseal_summary(rkey, &k, v.value())?);
            }
        }
        Ok(out)
    }

    /// Every record of a kind, decrypted (for matching and export). Audited as one bulk read.
    pub fn all(&mut self, kind: RecordKind, now_ms: u64) -> Result<Vec<Opened>> {
        let docs = self.documents(kind)?;
        self.audit_now(
            now_ms,
            AuditAction::BulkRead {
                records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        docs.into_iter()
            .map(|(doc, version)| {
                let record = doc
                    .to_record()
                    .map_err(|e| VaultError::Corrupt(format!("{}: {e}", doc.id())))?;
                Ok(Opened {
                    record,
                    conflicts: doc.conflicts(),
                    version,
                })
            })
            .collect()
    }

    fn documents(&self, kind: RecordKind) -> Result<Vec<(Document, u64)>> {
        self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        let (lo, hi) = kind_bounds(kind);
        let mut out = Vec::new();
        for row in table.range(lo.as_slice()..hi.as_slice())? {
            let (k, v) = row?;
            let key: [u8; 17] = k
                .value()
                .try_into()
                .map_err(|_| VaultError::Corrupt("record key of wrong length".into()))?;
            out.push(self.unseal_doc(&key, v.value())?);
        }
        Ok(out)
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

    /// Walks the audit chain from the first entry and checks every link, the head, and the
    /// authenticated checkpoint.
    pub fn verify_audit(&self) -> Result<AuditReport> {
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let head: AuditHead = read_meta(&txn, meta::AUDIT_HEAD)?
            .ok_or_else(|| VaultError::AuditBroken("no head".into()))?;
        let checkpoint: AuditCheckpoint = read_meta(&txn, meta::AUDIT_CHECKPOINT)?
            .ok_or_else(|| VaultError::AuditBroken("no checkpoint".into()))?;
        let mac = crypto::mac(
            &self.keys.audit,
            &[&checkpoint.head.len.to_le_bytes(), &checkpoint.head.hash],
        );
        if !crypto::ct_eq(&mac, &checkpoint.mac) {
            return Err(VaultError::AuditBroken(
                "the checkpoint's authentication failed".into(),
            ));
        }
        let mut prev = [0u8; 32];
        let mut n = 0u64;
        let mut checkpoint_seen = checkpoint.head.len == 0;
        for row in table.iter()? {
            let (k, v) = row?;
            let entry: AuditEntry = decode(v.value(), "audit entry")?;
            if k.value() != n || entry.seq != n {
                return Err(VaultError::AuditBroken(format!(
                    "entry {n} is missing or out of place"
                )));
            }
            if entry.prev != prev {
                return Err(VaultError::AuditBroken(format!(
                    "entry {n} does not link to entry {}",
                    n.wrapping_sub(1)
                )));
            }
            prev = entry.hash();
            n += 1;
            if n == checkpoint.head.len {
                if prev != checkpoint.head.hash {
                    return Err(VaultError::AuditBroken(format!(
                        "entry {} differs from the authenticated checkpoint",
                        n - 1
                    )));
                }
                checkpoint_seen = true;
            }
        }
        if !checkpoint_seen {
            return Err(VaultError::AuditBroken(format!(
                "the chain has {n} entries but the authenticated checkpoint covers {}: entries were removed",
                checkpoint.head.len
            )));
        }
        if head.len != n || head.hash != prev {
            return Err(VaultError::AuditBroken(
                "the head does not match the last entry".into(),
            ));
        }
        Ok(AuditReport {
            entries: n,
            head_hash: hex(&prev),
            checkpoint_covers: checkpoint.head.len,
        })
    }

    /// The audit entries, oldest first.
    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>> {
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        table
            .iter()?
            .map(|row| {
                let (_, v) = row?;
                decode(v.value(), "audit entry")
            })
            .collect()
    }

    /// The audit head, which sync carries to the hub.
    pub fn audit_head(&self) -> Result<AuditHead> {
        let txn = self.vault.db.begin_read()?;
        read_meta(&txn, meta::AUDIT_HEAD)?.ok_or_else(|| VaultError::AuditBroken("no head".into()))
    }

    /// Seals every readable record into a bundle for this vault (backup, or moving between
    /// kits of the same vault). Audited.
    pub fn export_bundle(&mut self, now_ms: u64) -> Result<Vec<u8>> {
        let mut docs = Vec::new();
        for kind in RecordKind::ALL {
            if self.keys.record_key(kind).is_ok() {
                docs.extend(self.documents(kind)?.into_iter().map(|(d, _)| d));
            }
        }
        let bytes = crate::bundle::seal(&self.keys.bundle, &self.vault.vault_id, &docs)?;
        self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
                format: "bundle".into(),
            },
            None,
        )?;
        Ok(bytes)
    }

    /// Merges a bundle sealed by this vault. Returns how many records changed.
    pub fn import_bundle(&mut self, bytes: &[u8], now_ms: u64) -> Result<usize> {
        let docs = crate::bundle::open(&self.keys.bundle, &self.vault.vault_id, bytes)?;
        let import = AuditAction::Import {
            records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            format: "bundle".into(),
        };
        self.merge_audited(&docs, now_ms, Some(import))
    }

    /// Records that records left in a plaintext file (the caller writes it).
    pub fn audit_plain_export(&mut self, records: usize, format: &str, now_ms: u64) -> Result<()> {
        self.audit_now(
            now_ms,
            AuditAction::Export {
                records: u32::try_from(records).unwrap_or(u32::MAX),
                format: format.into(),
            },
            None,
        )
    }

    /// Imports records read from a Primero file: each changes only the fields the file
    /// carries (a record already here keeps every other field), keeping Primero's own values.
    /// Every record is validated as it will be saved; if any is bad, nothing is imported and
    /// every problem is reported by the record's position in the file. One transaction, with
    /// the import's audit entry.
    pub fn import_primero(&mut self, records: &[Incoming], now_ms: u64) -> Result<usize> {
        let today = Date::from_unix_ms(now_ms);
        let mut docs = Vec::with_capacity(records.len());
        let mut bad = Vec::new();
        let stamp = self.clock.tick(now_ms);
        {
            let txn = self.vault.db.begin_read()?;
            let table = txn.open_table(RECORDS)?;
            for r in records {
                let (kind, id) = (r.kind, r.id);
                self.keys.record_key(kind)?;
                let key = schema::record_key(kind, id);
                let mut doc = match table.get(key.as_slice())? {
                    Some(g) => self.unseal_doc(&key, g.value())?.0,
                    None => Document::new(kind, id),
                };
                let ops = doc
                    .patch(&r.data, || stamp)
                    .map_err(|e| VaultError::BadChange(format!("record {}: {e}", r.position)))?;
                apply_all(&mut doc, &ops)?;
                match doc.to_record() {
                    Ok(record) => bad.extend(primero::validate(r.position, &record, today)),
                    Err(e) => bad.push(primero::BadField {
                        position: r.position,
                        field: "data".into(),
                        message: e.to_string(),
                    }),
                }
                docs.push(doc);
            }
        }
        if !bad.is_empty() {
            return Err(VaultError::BadImport(primero::BadRecords(bad)));
        }
        let import = AuditAction::Import {
            records: u32::try_from(records.len()).unwrap_or(u32::MAX),
            format: "primero-json".into(),
        };
        self.merge_audited(&docs, now_ms, Some(import))
    }

    /// Every record of a kind as Primero's bulk export writes it (`{"id": …, "data": {…}}`):
    /// only the fields each record holds, with the values it was given. Audited as a bulk
    /// read; the caller audits the plaintext export itself ([`Session::audit_plain_export`]).
    pub fn all_primero(&mut self, kind: RecordKind, now_ms: u64) -> Result<Vec<serde_json::Value>> {
        let docs = self.documents(kind)?;
        self.audit_now(
            now_ms,
            AuditAction::BulkRead {
                records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        Ok(docs
            .into_iter()
            .map(|(doc, _)| primero::export(doc.to_json()))
            .collect())
    }
}

fn apply_all(doc: &mut Document, ops: &[Op]) -> Result<()> {
    for op in ops {
        doc.apply(op)
            .map_err(|e| VaultError::BadChange(e.to_string()))?;
    }
    Ok(())
}

fn fallback_summary(doc: &Document, json: &serde_json::Value) -> Summary {
    let name = searchable_names(doc.kind(), json)
        .into_iter()
        .next()
        .unwrap_or_default();
    Summary {
        id: doc.id(),
        kind: doc.kind(),
        name,
        sex: None,
        age: None,
        location: None,
        risk_level: None,
        status: None,
        date: None,
        urgent: false,
        conflicts: doc.conflicts().len(),
    }
}

fn unseal_summary(rkey: &Key, key: &[u8], bytes: &[u8]) -> Result<Summary> {
    let key: [u8; 17] = key
        .try_into()
        .map_err(|_| VaultError::Corrupt("summary key of wrong length".into()))?;
    let what = || format!("summary of {}", hex(&key));
    let row = Row::from_bytes(bytes).ok_or_else(|| VaultError::Tampered { what: what() })?;
    let plain = crypto::open(
        rkey,
        &schema::row_aad("summaries", &key, row.version),
        &row.sealed,
    )
    .map_err(|_| VaultError::Tampered { what: what() })?;
    let s: Summary =
        postcard::from_bytes(&plain).map_err(|_| VaultError::Tampered { what: what() })?;
    if schema::record_key(s.kind, s.id) != key {
        return Err(VaultError::Tampered { what: what() });
    }
    Ok(s)
}

/// Key bounds of one kind's rows: every key of `kind` sorts within `lo..hi`.
fn kind_bounds(kind: RecordKind) -> ([u8; 1], [u8; 1]) {
    ([schema::kind_byte(kind)], [schema::kind_byte(kind) + 1])
}

/// A blind-index term: HMAC of the kind and the term, truncated to 128 bits.
fn blind(ikey: &Key, kind: RecordKind, term: &str) -> [u8; 16] {
    let m = crypto::mac(ikey, &[&[schema::kind_byte(kind)], term.as_bytes()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&m[..16]);
    out
}

fn store_terms(
    batch: &Batch<'_>,
    key: &[u8; 17],
    terms: &BTreeSet<[u8; 16]>,
    rkey: &Key,
    version: u64,
) -> Result<()> {
    let sealed = crypto::seal(
        rkey,
        &schema::row_aad("record_terms", key, version),
        &encode(terms),
    )?;
    batch.txn.open_table(TERMS)?.insert(
        key.as_slice(),
        Row { version, sealed }.to_bytes().as_slice(),
    )?;
    Ok(())
}

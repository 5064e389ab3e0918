//! What can go wrong with a vault, in words a technician or caseworker can act on.
//!
//! As redb does, each operation has its own `#[non_exhaustive]` error enum naming only what that
//! operation can meet: [`OpenError`] (create, open), [`SignInError`] (unlock, recovery),
//! [`WriteError`] (saves, merges, imports of Primero records), [`ReadError`] (get, list, search,
//! scan), [`ExchangeError`] (bundle export and import), [`CaseworkerError`] (the roster) and
//! [`CheckError`] (`verify`, `verify_audit`). What any of them can meet (damage, tampering, the
//! storage engine, cryptography, the hardware element) is one [`StoreError`] inside each.
//! [`VaultError`] is their superset: every operation error converts into it (`?` into a
//! `VaultError` or `anyhow` keeps working), and it converts back into each operation's error.
//! Internally the vault works in `VaultError`; a variant an operation does not list arrives as
//! that operation's `Unexpected`, a fieldkit defect if it is ever seen.

use std::path::PathBuf;

use fieldkit_domain::{RecordId, RecordKind, ValidationErrors};

/// A failure of the cryptographic layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The operating system gave no random bytes.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// Encryption failed (only for absurd lengths).
    #[error("encryption failed")]
    Seal,
    /// A ciphertext, its nonce or its associated data was changed, or the key is wrong.
    #[error("authentication failed")]
    Authentication,
    /// Argon2 refused its parameters.
    #[error("key derivation: {0}")]
    Kdf(String),
}

/// A vault operation that failed. Nothing is half-written: every write is one redb transaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No vault where one was expected.
    #[error("no vault at {0}: run `fieldkit init` first")]
    Missing(PathBuf),
    /// A vault already exists where a new one was to be made.
    #[error("a vault already exists at {0}")]
    Exists(PathBuf),
    /// Another process holds the vault.
    #[error("the vault at {0} is open in another fieldkit process")]
    InUse(PathBuf),
    /// The file is damaged or was changed outside fieldkit.
    #[error("the vault file is damaged or was altered: {0}")]
    Corrupt(String),
    /// The vault was written by a newer fieldkit.
    #[error(
        "the vault has schema {found}, newer than this fieldkit understands ({supported}): update the software"
    )]
    NewerSchema {
        /// Schema version in the file.
        found: u32,
        /// Newest schema this build reads.
        supported: u32,
    },
    /// Wrong user name or credential (one message for both, so names cannot be probed).
    #[error("wrong caseworker name or PIN ({} in a row)", attempts(*failures))]
    WrongCredential {
        /// Failed attempts since the last success.
        failures: u32,
    },
    /// Too many failed attempts: wait.
    #[error("locked after {}: try again in {retry_after_s} s", attempts(*failures))]
    LockedOut {
        /// Failed attempts since the last success.
        failures: u32,
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// The caseworkers' key slots were erased after too many failed attempts.
    #[error(
        "the caseworker keys were erased after too many failed attempts: restore access with the recovery key"
    )]
    Wiped,
    /// A credential that the policy refuses.
    #[error("credential refused: {0}")]
    WeakCredential(String),
    /// The Argon2 parameters are below the floor.
    #[error(
        "key-derivation parameters outside the accepted range (m = 19 MiB–1 GiB, t = 2–16, p = 1–8)"
    )]
    WeakKdf,
    /// The signed-in caseworker may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// No such record.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// Kind sought.
        kind: RecordKind,
        /// Id sought.
        id: RecordId,
    },
    /// No such caseworker.
    #[error("no caseworker named `{0}`")]
    NoSuchCaseworker(String),
    /// A caseworker with that name exists.
    #[error("a caseworker named `{0}` already exists")]
    CaseworkerExists(String),
    /// A stored record failed authentication: changed, moved from another record, or damaged.
    #[error("{what} failed authentication: the vault was altered or damaged")]
    Tampered {
        /// Which stored item.
        what: String,
    },
    /// The record breaks validation rules.
    #[error("invalid record: {0}")]
    Invalid(ValidationErrors),
    /// A change that does not fit the record.
    #[error("invalid change: {0}")]
    BadChange(String),
    /// A caseworker name that breaks the naming rule.
    #[error("caseworker name `{0}`: use 1–64 letters, digits, '.', '_' or '-'")]
    BadUsername(String),
    /// Text that is not a record id (or enough of one).
    #[error("`{0}` is not a record id or at least 4 of its hex digits")]
    BadId(String),
    /// Text that is not a recovery key, or one with a mistyped character.
    #[error("{0}")]
    BadRecoveryKey(String),
    /// A value could not be encoded for storage (a fieldkit defect: every stored type encodes).
    #[error("could not encode {0} for storage")]
    Encoding(String),
    /// An import with bad records: every one, by position in the file and field.
    #[error("{0}")]
    BadImport(fieldkit_domain::primero::BadRecords),
    /// An export bundle that is not one, or is damaged.
    #[error("not a fieldkit bundle, or a damaged one: {0}")]
    BadBundle(String),
    /// A bundle sealed for another vault.
    #[error("this bundle was sealed for vault {bundle_vault}, not this vault ({this_vault})")]
    ForeignBundle {
        /// Vault id in the bundle.
        bundle_vault: String,
        /// This vault's id.
        this_vault: String,
    },
    /// The audit chain does not hold together.
    #[error("audit chain broken: {0}")]
    AuditBroken(String),
    /// Cryptography failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Storage(#[source] redb::Error),
    /// The hardware element (TPM) or the rollback anchor failed.
    #[error(transparent)]
    Hardware(#[from] crate::hardware::HardwareError),
    /// The vault was created under another hardware mode than the one configured.
    #[error(
        "this vault was created with hardware `{vault}` but fieldkit is configured for `{configured}`: fix the configuration"
    )]
    HardwareMismatch {
        /// The vault's mode.
        vault: String,
        /// The configured mode.
        configured: String,
    },
    /// The vault file is older than its rollback anchor: an old copy was put back.
    #[error(
        "the vault file is an older copy (commit {file}, but the kit's anchor is at {anchor}): records, edits and audit entries since then are missing. A supervisor can accept it deliberately with `fieldkit recover --accept-rollback`"
    )]
    RolledBack {
        /// The file's commit counter.
        file: u64,
        /// The anchor's.
        anchor: u64,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
}

impl VaultError {
    /// Maps any redb error, turning corruption into [`VaultError::Corrupt`].
    pub(crate) fn storage(e: impl Into<redb::Error>) -> VaultError {
        match e.into() {
            redb::Error::Corrupted(msg) => VaultError::Corrupt(msg),
            redb::Error::UpgradeRequired(v) => {
                VaultError::Corrupt(format!("unknown redb file format {v}"))
            }
            // A page reference that points past the end of the file, or bytes the engine
            // cannot decode, come from damage to the file, not from a failing disk: a
            // flipped byte in a B-tree page with redb's own check off reaches us this way.
            redb::Error::Io(source)
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
                ) =>
            {
                VaultError::Corrupt(format!("the file's structure is damaged ({source})"))
            }
            // Every table the vault reads without allowing for its absence is made when the
            // vault is created; the few made later (photos, sync state, caches) are opened
            // with their absence handled before this point. So a missing one means the file's
            // table directory is damaged (a flipped byte in a table's name, with redb's own
            // check off), not an engine failure.
            redb::Error::TableDoesNotExist(table) => VaultError::Corrupt(format!(
                "the file's table directory is damaged (table {table} is missing)"
            )),
            other => VaultError::Storage(other),
        }
    }
}

impl From<ValidationErrors> for VaultError {
    fn from(e: ValidationErrors) -> Self {
        // Not a `source`: the message already holds every field error, once.
        VaultError::Invalid(e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for VaultError {
            fn from(e: $t) -> Self {
                VaultError::storage(e)
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Result of a vault operation.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// What any vault operation can meet: a damaged or altered file, the storage engine,
/// cryptography, the hardware element, a file beside the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is damaged or was changed outside fieldkit.
    #[error("the vault file is damaged or was altered: {0}")]
    Corrupt(String),
    /// A stored item failed authentication: changed, moved from another record, or damaged.
    #[error("{what} failed authentication: the vault was altered or damaged")]
    Tampered {
        /// Which stored item.
        what: String,
    },
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Storage(#[source] redb::Error),
    /// Cryptography failed.
    #[error(transparent)]
    Crypto(CryptoError),
    /// The hardware element (TPM) or the rollback anchor failed.
    #[error(transparent)]
    Hardware(crate::hardware::HardwareError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// A value could not be encoded for storage.
    #[error("could not encode {0} for storage")]
    Encoding(String),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(m) => VaultError::Corrupt(m),
            StoreError::Tampered { what } => VaultError::Tampered { what },
            StoreError::Storage(e) => VaultError::Storage(e),
            StoreError::Crypto(e) => VaultError::Crypto(e),
            StoreError::Hardware(e) => VaultError::Hardware(e),
            StoreError::Io { path, source } => VaultError::Io { path, source },
            StoreError::Encoding(m) => VaultError::Encoding(m),
        }
    }
}

impl TryFrom<VaultError> for StoreError {
    /// Any other failure, unchanged.
    type Error = VaultError;

    fn try_from(e: VaultError) -> Result<Self, VaultError> {
        Ok(match e {
            VaultError::Corrupt(m) => StoreError::Corrupt(m),
            VaultError::Tampered { what } => StoreError::Tampered { what },
            VaultError::Storage(e) => StoreError::Storage(e),
            VaultError::Crypto(e) => StoreError::Crypto(e),
            VaultError::Hardware(e) => StoreError::Hardware(e),
            VaultError::Io { path, source } => StoreError::Io { path, source },
            VaultError::Encoding(m) => StoreError::Encoding(m),
            other => return Err(other),
        })
    }
}

/// Declares the conversions of an operation's error: into [`VaultError`] (lossless) and back
/// (what the operation does not list becomes its `Unexpected`), and from the lower-level errors
/// the vault's code meets, through [`VaultError`].
macro_rules! operation_error {
    ($op:ident { $($v:ident $(($t:ident))? $({ $($f:ident),* })?),* $(,)? }) => {
        impl From<$op> for VaultError {
            fn from(e: $op) -> Self {
                match e {
                    $($op::$v $(($t))? $({ $($f),* })? => VaultError::$v $(($t))? $({ $($f),* })?,)*
                    $op::Store(s) => s.into(),
                    $op::Unexpected(e) => *e,
                }
            }
        }
        impl From<VaultError> for $op {
            fn from(e: VaultError) -> Self {
                match e {
                    $(VaultError::$v $(($t))? $({ $($f),* })? => $op::$v $(($t))? $({ $($f),* })?,)*
                    other => match StoreError::try_from(other) {
                        Ok(s) => $op::Store(s),
                        Err(other) => $op::Unexpected(Box::new(other)),
                    },
                }
            }
        }
        impl From<StoreError> for $op {
            fn from(e: StoreError) -> Self {
                $op::Store(e)
            }
        }
        operation_error!(@through $op: CryptoError, crate::hardware::HardwareError,
            ValidationErrors, redb::Error, redb::StorageError, redb::TableError,
            redb::TransactionError, redb::CommitError, redb::SetDurabilityError);
    };
    (@through $op:ident: $($t:ty),*) => {$(
        impl From<$t> for $op {
            fn from(e: $t) -> Self {
                VaultError::from(e).into()
            }
        }
    )*};
}

/// Creating or opening a vault file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No vault where one was expected.
    #[error("no vault at {0}: run `fieldkit init` first")]
    Missing(PathBuf),
    /// A vault already exists where a new one was to be made.
    #[error("a vault already exists at {0}")]
    Exists(PathBuf),
    /// Another process holds the vault.
    #[error("the vault at {0} is open in another fieldkit process")]
    InUse(PathBuf),
    /// The vault was written by a newer fieldkit.
    #[error(
        "the vault has schema {found}, newer than this fieldkit understands ({supported}): update the software"
    )]
    NewerSchema {
        /// Schema version in the file.
        found: u32,
        /// Newest schema this build reads.
        supported: u32,
    },
    /// The Argon2 parameters asked for are below the floor.
    #[error(
        "key-derivation parameters outside the accepted range (m = 19 MiB–1 GiB, t = 2–16, p = 1–8)"
    )]
    WeakKdf,
    /// The first caseworker's credential is refused by the policy.
    #[error("credential refused: {0}")]
    WeakCredential(String),
    /// The first caseworker's name breaks the naming rule.
    #[error("caseworker name `{0}`: use 1–64 letters, digits, '.', '_' or '-'")]
    BadUsername(String),
    /// The vault was created under another hardware mode than the one configured.
    #[error(
        "this vault was created with hardware `{vault}` but fieldkit is configured for `{configured}`: fix the configuration"
    )]
    HardwareMismatch {
        /// The vault's mode.
        vault: String,
        /// The configured mode.
        configured: String,
    },
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(OpenError {
    Missing(p),
    Exists(p),
    InUse(p),
    NewerSchema { found, supported },
    WeakKdf,
    WeakCredential(m),
    BadUsername(m),
    HardwareMismatch { vault, configured },
});

/// Signing in (a caseworker's PIN or the recovery key) failed. Every attempt is counted before
/// the credential is checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Wrong user name or credential (one message for both, so names cannot be probed).
    #[error("wrong caseworker name or PIN ({} in a row)", attempts(*failures))]
    WrongCredential {
        /// Failed attempts since the last success.
        failures: u32,
    },
    /// Too many failed attempts: wait.
    #[error("locked after {}: try again in {retry_after_s} s", attempts(*failures))]
    LockedOut {
        /// Failed attempts since the last success.
        failures: u32,
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// The caseworkers' key slots were erased after too many failed attempts.
    #[error(
        "the caseworker keys were erased after too many failed attempts: restore access with the recovery key"
    )]
    Wiped,
    /// A credential that cannot be a PIN (not UTF-8).
    #[error("credential refused: {0}")]
    WeakCredential(String),
    /// Text that is not a recovery key, or one with a mistyped character.
    #[error("{0}")]
    BadRecoveryKey(String),
    /// The caseworker's access was revoked (the slot belongs to an older key epoch).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The vault was created under another hardware mode than the one configured.
    #[error(
        "this vault was created with hardware `{vault}` but fieldkit is configured for `{configured}`: fix the configuration"
    )]
    HardwareMismatch {
        /// The vault's mode.
        vault: String,
        /// The configured mode.
        configured: String,
    },
    /// The vault file is older than its rollback anchor: an old copy was put back.
    #[error(
        "the vault file is an older copy (commit {file}, but the kit's anchor is at {anchor}): records, edits and audit entries since then are missing. A supervisor can accept it deliberately with `fieldkit recover --accept-rollback`"
    )]
    RolledBack {
        /// The file's commit counter.
        file: u64,
        /// The anchor's.
        anchor: u64,
    },
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(SignInError {
    WrongCredential { failures },
    LockedOut { failures, retry_after_s },
    Wiped,
    WeakCredential(m),
    BadRecoveryKey(m),
    Forbidden(m),
    HardwareMismatch { vault, configured },
    RolledBack { file, anchor },
});

/// Saving records (create, edit, merge, sync ops, Primero import) failed. Nothing was saved:
/// every write is one transaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The record breaks validation rules.
    #[error("invalid record: {0}")]
    Invalid(ValidationErrors),
    /// A change that does not fit the record.
    #[error("invalid change: {0}")]
    BadChange(String),
    /// An import with bad records: every one, by position in the file and field.
    #[error("{0}")]
    BadImport(fieldkit_domain::primero::BadRecords),
    /// No such record.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// Kind sought.
        kind: RecordKind,
        /// Id sought.
        id: RecordId,
    },
    /// The signed-in caseworker may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(WriteError {
    Invalid(e),
    BadChange(m),
    BadImport(e),
    NotFound { kind, id },
    Forbidden(m),
});

/// Reading records (get, list, count, search, scan, the audit chain's entries) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No such record.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// Kind sought.
        kind: RecordKind,
        /// Id sought.
        id: RecordId,
    },
    /// Text that is not a record id (or enough of one).
    #[error("`{0}` is not a record id or at least 4 of its hex digits")]
    BadId(String),
    /// The signed-in caseworker may not read this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(ReadError {
    NotFound { kind, id },
    BadId(m),
    Forbidden(m),
});

/// Exporting or importing a sealed bundle failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// An export bundle that is not one, or is damaged.
    #[error("not a fieldkit bundle, or a damaged one: {0}")]
    BadBundle(String),
    /// A bundle sealed for another vault.
    #[error("this bundle was sealed for vault {bundle_vault}, not this vault ({this_vault})")]
    ForeignBundle {
        /// Vault id in the bundle.
        bundle_vault: String,
        /// This vault's id.
        this_vault: String,
    },
    /// A bundled record that does not fit this vault's copy.
    #[error("invalid change: {0}")]
    BadChange(String),
    /// The signed-in caseworker may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(ExchangeError {
    BadBundle(m),
    ForeignBundle { bundle_vault, this_vault },
    BadChange(m),
    Forbidden(m),
});

/// Managing caseworkers (add, remove, set a credential, list the roster) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseworkerError {
    /// No such caseworker.
    #[error("no caseworker named `{0}`")]
    NoSuchCaseworker(String),
    /// A caseworker with that name exists.
    #[error("a caseworker named `{0}` already exists")]
    CaseworkerExists(String),
    /// A caseworker name that breaks the naming rule.
    #[error("caseworker name `{0}`: use 1–64 letters, digits, '.', '_' or '-'")]
    BadUsername(String),
    /// A credential that the policy refuses.
    #[error("credential refused: {0}")]
    WeakCredential(String),
    /// The stored policy's Argon2 parameters are outside the accepted range.
    #[error(
        "key-derivation parameters outside the accepted range (m = 19 MiB–1 GiB, t = 2–16, p = 1–8)"
    )]
    WeakKdf,
    /// The signed-in caseworker may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(CaseworkerError {
    NoSuchCaseworker(m),
    CaseworkerExists(m),
    BadUsername(m),
    WeakCredential(m),
    WeakKdf,
    Forbidden(m),
});

/// Checking the whole vault (`verify`, `verify_audit`) failed or found it altered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The audit chain does not hold together.
    #[error("audit chain broken: {0}")]
    AuditBroken(String),
    /// The vault file is older than its rollback anchor: an old copy was put back.
    #[error(
        "the vault file is an older copy (commit {file}, but the kit's anchor is at {anchor}): records, edits and audit entries since then are missing. A supervisor can accept it deliberately with `fieldkit recover --accept-rollback`"
    )]
    RolledBack {
        /// The file's commit counter.
        file: u64,
        /// The anchor's.
        anchor: u64,
    },
    /// Damage, tampering, storage, cryptography or hardware.
    #[error(transparent)]
    Store(StoreError),
    /// A failure this operation does not list (a fieldkit defect).
    #[error(transparent)]
    Unexpected(Box<VaultError>),
}
operation_error!(CheckError {
    AuditBroken(m),
    RolledBack { file, anchor },
});

/// "1 failed attempt", "3 failed attempts".
fn attempts(n: u32) -> String {
    format!("{n} failed attempt{}", if n == 1 { "" } else { "s" })
}

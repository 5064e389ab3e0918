//! What can go wrong with a vault, in words a technician or caseworker can act on.

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
    #[error("storage: {0}")]
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

/// "1 failed attempt", "3 failed attempts".
fn attempts(n: u32) -> String {
    format!("{n} failed attempt{}", if n == 1 { "" } else { "s" })
}

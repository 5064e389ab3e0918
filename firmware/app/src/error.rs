//! What can go wrong, one enum per operation, in words a caseworker or technician can act on.

use fieldkit_domain::{RecordId, RecordKind, ValidationErrors};
use fieldkit_vault::VaultError;

/// Signing in to a kit and building its matcher index failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The vault failed while reading records.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Saving a record (registration, edit, merge, import, lifecycle change) failed. Nothing was
/// saved unless the error says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// A field has the wrong type or shape (text where a number goes, an unknown sex...).
    #[error("the record's fields: {0}")]
    Fields(String),
    /// The record breaks validation rules: every field error, with a message to act on.
    #[error("invalid record: {0}")]
    Invalid(ValidationErrors),
    /// No such record.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// Kind sought.
        kind: RecordKind,
        /// Id sought.
        id: RecordId,
    },
    /// The change does not apply to this record (closing a closed case...).
    #[error("{0}")]
    NotApplicable(String),
    /// The vault refused or failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<ValidationErrors> for SaveError {
    fn from(e: ValidationErrors) -> Self {
        SaveError::Invalid(e)
    }
}

/// Reviewing a potential match failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// No potential match with that id.
    #[error("no potential match {0}")]
    NotFound(String),
    /// Several potential matches start with those characters.
    #[error("{count} potential matches have ids starting {part}: give more characters")]
    Ambiguous {
        /// What was given.
        part: String,
        /// How many matched.
        count: usize,
    },
    /// The decision cannot be taken (the case or the request is gone, ...).
    #[error("{0}")]
    NotApplicable(String),
    /// Saving the decision or the records it changes failed.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The vault's per-operation errors reach this crate's errors through their superset,
/// [`VaultError`], so `?` works on any vault call.
macro_rules! from_vault_operations {
    ($($target:ty),*) => {$(
        from_vault_operations!(@each $target: fieldkit_vault::OpenError, fieldkit_vault::SignInError,
            fieldkit_vault::WriteError, fieldkit_vault::ReadError, fieldkit_vault::ExchangeError,
            fieldkit_vault::CaseworkerError, fieldkit_vault::CheckError);
    )*};
    (@each $target:ty: $($op:ty),*) => {$(
        impl From<$op> for $target {
            fn from(e: $op) -> Self {
                VaultError::from(e).into()
            }
        }
    )*};
}
from_vault_operations!(OpenError, SaveError, ReviewError);

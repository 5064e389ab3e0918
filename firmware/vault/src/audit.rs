//! The audit trail: a hash chain of logins, reads, writes and exports.
//!
//! Each entry holds the hash of the one before, so an entry cannot be changed or removed without
//! breaking every later link. The head (last sequence number and hash) is kept in `meta`; while a
//! caseworker is signed in, a checkpoint of the head is also MACed under a key only an unlocked
//! vault has, so rewriting the whole chain needs the vault's key. The head travels with sync, so
//! a hub notices a chain that was cut short. Entries name records by id and caseworkers by
//! user name; they never hold case data (a search is logged without its query).

use serde::{Deserialize, Serialize};

use fieldkit_domain::{RecordId, RecordKind};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    /// The vault was created.
    Init,
    /// A sign-in attempt, recorded before the credential is checked.
    LoginAttempt,
    /// The credential was right.
    LoginOk,
    /// The credential was wrong.
    LoginFailed,
    /// The caseworker key slots were erased after too many failures.
    Wiped,
    /// Access restored with the recovery key.
    Recovery,
    /// A record was opened.
    Read,
    /// A record was created or changed locally.
    Write,
    /// A record was merged from outside (import or sync).
    Merge,
    /// A search; the query is not kept.
    Search {
        /// How many results were shown.
        results: u32,
    },
    /// Every record of a kind was read (matching, export).
    BulkRead {
        /// How many.
        records: u32,
    },
    /// Records left the vault in a bundle or file.
    Export {
        /// How many.
        records: u32,
        /// `bundle` or `primero-json`.
        format: String,
    },
    /// Records came in from a bundle or file.
    Import {
        /// How many.
        records: u32,
        /// `bundle` or `primero-json`.
        format: String,
    },
    /// A caseworker was added.
    CaseworkerAdded {
        /// The new caseworker.
        username: String,
    },
    /// A credential was changed or reset.
    CredentialChanged {
        /// Whose.
        username: String,
    },
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 0.
    pub seq: u64,
    /// Wall time when it happened, as the kit believed.
    pub at_ms: u64,
    /// Who (a caseworker name; `?` before sign-in).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// Which record, if one.
    pub record: Option<(RecordKind, RecordId)>,
    /// Hash of the previous entry (zeros for the first).
    pub prev: [u8; 32],
}

impl AuditEntry {
    /// This entry's hash, which the next entry holds.
    pub fn hash(&self) -> [u8; 32] {
        let bytes = postcard::to_allocvec(self).unwrap_or_default();
        crate::crypto::hash(&[b"fieldkit audit v1", &bytes])
    }
}

/// The end of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Number of entries.
    pub len: u64,
    /// Hash of the last entry (zeros when empty).
    pub hash: [u8; 32],
}

/// A head authenticated under the vault's audit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditCheckpoint {
    pub head: AuditHead,
    pub mac: [u8; 32],
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// The head.
    pub head_hash: String,
    /// Entries covered by the authenticated checkpoint.
    pub checkpoint_covers: u64,
}

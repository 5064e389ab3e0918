//! The hub's side of the code-list handshake ([`fieldkit_sync::codes`]).
//!
//! Every deployment code list the hub was ever configured with stays in its vault
//! (`hub/codes/<half the digest>`), so a kit's message coded against any of them still decodes,
//! however long it waited in the kit's outbox. Each kit is told the digests of all of them,
//! the current one first ([`fieldkit_sync::message::Body::CodeLists`], queued and committed
//! like any message), once each time that set changes (`hub/kit/<id>/codes` holds what the kit
//! was last told). A list is stored before any announcement names it.
//!
//! What the hub sends a kit is coded with the list that kit last coded its own messages
//! with, in the form of protocol version 4 (`hub/kit/<id>/reads`): such a kit keeps every
//! list it coded with, so it reads them all; a kit that sent only text or version 3 is sent
//! text, which every kit reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use fieldkit_sync::codes::{CodeBook, CodeBooks, CodeDigest};
use fieldkit_sync::message::MAX_CODE_LISTS;
use fieldkit_sync::seal::KitId;
use fieldkit_vault::{Session, SyncWrite, VaultError};

use crate::service::OpenError;
use crate::store::{self, KIT_PREFIX};

/// Prefix of the stored code lists.
pub const CODES_PREFIX: &str = "hub/codes/";

/// What each kit was last told, by kit.
pub(crate) type Told = BTreeMap<KitId, Vec<CodeDigest>>;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stored list's entry, named by the first half of its digest (vault names are at most
/// 64 bytes).
pub fn book_name(digest: &CodeDigest) -> String {
    format!("{CODES_PREFIX}{}", hex(&digest[..16]))
}

/// A kit's entry of what it was told.
pub fn told_name(kit: KitId) -> String {
    format!("{KIT_PREFIX}{kit}/codes")
}

/// The lists the hub reads: the deployment's current one (stored now when it is new) first,
/// then every one stored before, newest configuration first as far as the store can tell
/// (by name otherwise). An empty current list (a hub configured with no locations and no
/// lookups to code) is not a list.
pub(crate) fn held_books(session: &mut Session, current: CodeBook) -> Result<CodeBooks, OpenError> {
    let mut books = CodeBooks::new();
    if !current.is_empty() {
        let name = book_name(&current.digest());
        if session.sync_value(&name)?.is_none() {
            let tables: Vec<(String, Vec<String>)> = current
                .tables()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect();
            let value = store::encode(&tables);
            session.sync_write(&SyncWrite {
                put: vec![(&name, &value)],
                ..SyncWrite::default()
            })?;
        }
        if let Err(e) = books.add(Arc::new(current)) {
            tracing::warn!(error = %e, "the deployment's code list is not used");
        }
    }
    for name in session.sync_names(CODES_PREFIX)? {
        let Some(bytes) = session.sync_value(&name)? else {
            continue;
        };
        let tables: Vec<(String, Vec<String>)> =
            postcard::from_bytes(&bytes).map_err(|_| OpenError::Corrupt(name.clone()))?;
        let book = CodeBook::new(tables);
        if book_name(&book.digest()) != name {
            return Err(OpenError::Corrupt(name));
        }
        if let Err(e) = books.add(Arc::new(book)) {
            // Kits were never told of it (a list is told only once held): nothing is lost.
            tracing::warn!(error = %e, "a stored code list is not used");
        }
    }
    Ok(books)
}

/// What each kit was last told.
pub(crate) fn read_told(
    session: &Session,
    kits: impl Iterator<Item = KitId>,
) -> Result<Told, OpenError> {
    let mut told = Told::new();
    for kit in kits {
        let name = told_name(kit);
        if let Some(bytes) = session.sync_value(&name)? {
            let digests: Vec<CodeDigest> =
                postcard::from_bytes(&bytes).map_err(|_| OpenError::Corrupt(name))?;
            told.insert(kit, digests);
        }
    }
    Ok(told)
}

/// The digests an announcement names: the lists held, at most [`MAX_CODE_LISTS`], the
/// current one first.
pub(crate) fn announced(books: &CodeBooks) -> Vec<CodeDigest> {
    let mut d = books.digests();
    d.truncate(MAX_CODE_LISTS);
    d
}

/// Records that `kits` were told `digests` (after their announcements were committed).
pub(crate) fn write_told(
    session: &mut Session,
    kits: &[KitId],
    digests: &[CodeDigest],
) -> Result<(), VaultError> {
    let value = store::encode(&digests.to_vec());
    let names: Vec<String> = kits.iter().map(|k| told_name(*k)).collect();
    session.sync_write(&SyncWrite {
        put: names
            .iter()
            .map(|n| (n.as_str(), value.as_slice()))
            .collect(),
        ..SyncWrite::default()
    })
}

/// A kit's entry of the list the hub codes its messages with.
pub fn reads_name(kit: KitId) -> String {
    format!("{KIT_PREFIX}{kit}/reads")
}

/// The list each kit reads, as recorded (kits never heard coding are absent).
pub(crate) fn read_reads(
    session: &Session,
    kits: impl Iterator<Item = KitId>,
) -> Result<BTreeMap<KitId, CodeDigest>, OpenError> {
    let mut reads = BTreeMap::new();
    for kit in kits {
        let name = reads_name(kit);
        if let Some(bytes) = session.sync_value(&name)? {
            let digest: CodeDigest = bytes
                .as_slice()
                .try_into()
                .map_err(|_| OpenError::Corrupt(name))?;
            reads.insert(kit, digest);
        }
    }
    Ok(reads)
}

/// Records that `kit` reads messages coded with `digest`.
pub(crate) fn write_reads(
    session: &mut Session,
    kit: KitId,
    digest: &CodeDigest,
) -> Result<(), VaultError> {
    let name = reads_name(kit);
    session.sync_write(&SyncWrite {
        put: vec![(name.as_str(), digest.as_slice())],
        ..SyncWrite::default()
    })
}

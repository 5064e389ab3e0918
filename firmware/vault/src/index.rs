//! What the blind index indexes: names turned into terms by a [`NameIndexer`].
//!
//! The vault HMACs each term under a key derived from the data key, so the index on disk reveals
//! neither names nor terms, only how many records share a term.

use crate::error::{ReadError, WriteError};
use std::collections::BTreeSet;

use redb::{ReadableDatabase, ReadableMultimapTable, ReadableTable, WriteTransaction};
use serde_json::Value;

use fieldkit_domain::{RecordKind, Summary};

use crate::audit::AuditAction;
use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};
use crate::records::{Batch, unseal_summary};
use crate::schema::{self, NAME_INDEX, RECORDS, SUMMARIES, TERMS, VERSIONS, meta};
use crate::session::Session;
use crate::storage::{Row, begin, decode, encode, hex, read_meta_w, write_meta};

/// Turns a name into search terms. The same function runs on stored names and on queries, so a
/// query finds a record when they share terms. The kiosk uses the matcher's cross-script
/// normaliser (transliteration, variant folding, phonetic keys).
pub trait NameIndexer: Send + Sync {
    /// A stable name for this indexer and its version: when it changes, the vault rebuilds its
    /// index at the next sign-in.
    fn id(&self) -> &str;
    /// The terms for one name (or one query).
    fn terms(&self, name: &str) -> Vec<String>;
}

/// Lower-cased words, nothing more: the fallback when no better indexer is supplied.
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicIndexer;

impl NameIndexer for BasicIndexer {
    fn id(&self) -> &str {
        "basic-1"
    }

    fn terms(&self, name: &str) -> Vec<String> {
        fieldkit_domain::names::basic_tokens(name)
    }
}

/// The names a record is found by: a case's and a trace's names, an inquirer's name, an
/// incident's survivor code.
pub(crate) fn searchable_names(kind: RecordKind, json: &Value) -> Vec<String> {
    use fieldkit_domain::names::NameKind;
    let field_names = |fields: &[(NameKind, &str)], v: &Value| -> Vec<String> {
        fields
            .iter()
            .filter_map(|(_, f)| v.get(*f).and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    };
    let mut out = match kind {
        RecordKind::Case => field_names(&NameKind::CHILD, json),
        RecordKind::TracingRequest => field_names(&NameKind::RELATIVE, json),
        RecordKind::Incident => field_names(&[(NameKind::Name, "survivor_code")], json),
        RecordKind::PotentialMatch => Vec::new(),
    };
    if kind == RecordKind::TracingRequest {
        for t in json
            .get("tracing_request_subform_section")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(field_names(&NameKind::CHILD, t));
        }
    }
    out.retain(|n| !n.trim().is_empty());
    out
}

/// Count and order-independent digest of (blind term, record key) pairs, to compare the name
/// index with the records' sealed term sets without holding either in memory.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct IndexDigest {
    pub(crate) entries: u64,
    pub(crate) digest: [u8; 32],
}

impl IndexDigest {
    pub(crate) fn add(&mut self, term: &[u8], key: &[u8]) {
        self.entries += 1;
        let h = crypto::hash(&[b"index entry", term, key]);
        for (d, x) in self.digest.iter_mut().zip(h) {
            *d ^= x;
        }
    }
}

impl Session {
    pub(crate) fn terms_for(
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
    pub(crate) fn stored_terms(
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

    /// Rebuilds the blind index of every kind this caseworker can read (after the indexer
    /// changed). Kinds the caseworker cannot read keep their entries, and stay marked for a
    /// rebuild by someone who can: a sign-in without GBV access never touches incidents'
    /// entries (issue 8, finding 6).
    pub fn reindex(&mut self) -> Result<(), WriteError> {
        let txn = begin(&self.vault.db)?;
        let kinds: Vec<RecordKind> = RecordKind::ALL
            .into_iter()
            .filter(|k| self.keys.index_key(*k).is_ok())
            .collect();
        let readable = |key: &[u8]| {
            key.first()
                .and_then(|b| schema::kind_from_byte(*b))
                .is_some_and(|k| kinds.contains(&k))
        };
        // Drop the readable kinds' entries and term sets, and only those.
        {
            let mut index = txn.open_multimap_table(NAME_INDEX)?;
            let mut stale = Vec::new();
            for row in index.iter()? {
                let (bucket, keys) = row?;
                for k in keys {
                    let k = k?;
                    if readable(k.value()) {
                        stale.push((bucket.value().to_vec(), k.value().to_vec()));
                    }
                }
            }
            for (bucket, key) in stale {
                index.remove(bucket.as_slice(), key.as_slice())?;
            }
            let mut terms = txn.open_table(TERMS)?;
            for kind in &kinds {
                let (lo, hi) = crate::records::kind_bounds(*kind);
                terms.retain_in(lo.as_slice()..hi.as_slice(), |_, _| false)?;
            }
        }
        let keys: Vec<([u8; 17], u64)> = {
            let table = txn.open_table(VERSIONS)?;
            let mut keys = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                if let Ok(k) = <[u8; 17]>::try_from(k.value())
                    && readable(&k)
                {
                    keys.push((k, v.value()));
                }
            }
            keys
        };
        let mut count = 0usize;
        for (key, expected) in keys {
            let Some((kind, _)) = schema::parse_record_key(&key) else {
                continue;
            };
            let ikey = self.keys.index_key(kind)?;
            let rkey = self.keys.record_key(kind)?;
            let bytes = {
                let table = txn.open_table(RECORDS)?;
                let v = table.get(key.as_slice())?;
                v.map(|g| g.value().to_vec())
            };
            let bytes = bytes.ok_or_else(|| VaultError::Tampered {
                what: format!("record {}: its rows were deleted", hex(&key)),
            })?;
            let (doc, version) = self.unseal_doc(&key, &bytes, expected)?;
            let terms = self.terms_for(ikey, kind, &doc.to_json());
            let mut index = txn.open_multimap_table(NAME_INDEX)?;
            for b in buckets(&terms) {
                index.insert(b.as_slice(), key.as_slice())?;
            }
            drop(index);
            let batch = Batch {
                txn: &txn,
                manifest: self.manifest,
                listed: Vec::new(),
            };
            store_terms(&batch, &key, &terms, rkey, version)?;
            count += 1;
        }
        let id = self.index_id();
        if self.keys.incidents.is_some() {
            write_meta(&txn, meta::INDEXER_INCIDENTS, &id)?;
        } else if read_meta_w::<String>(&txn, meta::INDEXER_INCIDENTS)?.is_none() {
            // Incidents stay indexed as they were, until someone with access rebuilds them.
            let before: String = read_meta_w(&txn, meta::INDEXER)?.unwrap_or_default();
            write_meta(&txn, meta::INDEXER_INCIDENTS, &before)?;
        }
        write_meta(&txn, meta::INDEXER, &id)?;
        self.terms_seen.clear();
        self.commit(txn)?;
        tracing::info!(records = count, indexer = %id, "name index rebuilt");
        Ok(())
    }

    /// The indexer's id and this vault's index layout, as recorded in `meta`: when either
    /// changes, the index is rebuilt.
    pub(crate) fn index_id(&self) -> String {
        format!("{}+{INDEX_LAYOUT}", self.vault.opts.indexer.id())
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
    ) -> Result<Vec<Summary>, ReadError> {
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

    /// How many records' term sets this session's searches hold in memory (see
    /// `index::TermCache`; for the benchmark's figures).
    pub fn searched_records(&self) -> usize {
        self.terms_seen.len()
    }

    /// [`Session::search`] without the audit entry (for benchmarks and matching internals).
    ///
    /// The index maps coarse buckets to records, so each bucket also holds records that share
    /// no term with the query; every candidate's sealed term set (at the record's authenticated
    /// version) decides whether it matches, so an index entry that was planted, left stale or
    /// put back from an older copy never shows a record under a name it does not have.
    pub fn search_unaudited(
        &self,
        kind: RecordKind,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Summary>, ReadError> {
        Ok(self.search_counted(kind, query, limit)?.0)
    }

    /// The search, and how many candidates the buckets gave that shared no term with the query
    /// (the false positives the coarse index costs).
    pub(crate) fn search_counted(
        &self,
        kind: RecordKind,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<Summary>, usize)> {
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
        let mut candidates: BTreeSet<[u8; 17]> = BTreeSet::new();
        for b in buckets(&terms) {
            for v in index.get(b.as_slice())? {
                let v = v?;
                if let Ok(k) = <[u8; 17]>::try_from(v.value())
                    && k[0] == schema::kind_byte(kind)
                {
                    candidates.insert(k);
                }
            }
        }
        let versions = txn.open_table(VERSIONS)?;
        let sealed_terms = txn.open_table(TERMS)?;
        let mut ranked: Vec<([u8; 17], usize, u64)> = Vec::new();
        let mut false_positives = 0;
        let query: Vec<u64> = terms.iter().map(prefix).collect();
        if !self.terms_seen.tried_snapshot()
            && let Err(e) = self.load_search_terms()
        {
            // A cached value is never a reason to refuse a search: the term sets open one by one.
            tracing::warn!(error = %e, "the saved search term sets were not read");
        }
        let mut seen = self.terms_seen.lock();
        for k in candidates {
            // Held since this session opened it or loaded it at the record's version; every save
            // of the record forgets it (`Session::store`).
            if !seen.sets.contains_key(&k) {
                let version = versions
                    .get(k.as_slice())?
                    .ok_or_else(|| VaultError::Tampered {
                        what: format!(
                            "the name index: it lists {}, which the vault does not hold",
                            hex(&k)
                        ),
                    })?
                    .value();
                let row = sealed_terms
                    .get(k.as_slice())?
                    .ok_or_else(|| VaultError::Tampered {
                        what: format!("index terms of {}: deleted", hex(&k)),
                    })?;
                let opened = open_terms(rkey, &k, row.value(), version)?;
                let mut t: Vec<u64> = opened.iter().map(prefix).collect();
                t.sort_unstable();
                seen.opened += 1;
                seen.sets.insert(k, (version, t.into()));
            }
            let Some((version, theirs)) = seen.sets.get(&k) else {
                continue;
            };
            let version = *version;
            let shared = query
                .iter()
                .filter(|q| theirs.binary_search(q).is_ok())
                .count();
            if shared == 0 {
                false_positives += 1;
            } else {
                ranked.push((k, shared, version));
            }
        }
        // Most shared terms first; ties by id (registration order), newest first.
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let table = txn.open_table(SUMMARIES)?;
        let mut out = Vec::with_capacity(limit.min(ranked.len()));
        for (k, _, version) in ranked.into_iter().take(limit) {
            let v = table
                .get(k.as_slice())?
                .ok_or_else(|| VaultError::Tampered {
                    what: format!("summary of {}: deleted", hex(&k)),
                })?;
            out.push(unseal_summary(rkey, &k, v.value(), version)?);
        }
        Ok((out, false_positives))
    }
}

/// The first 8 bytes of a blind term: what the term cache keeps and compares (two different
/// terms of one search share them with odds of 2⁻⁶⁴).
fn prefix(t: &[u8; 16]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&t[..8]);
    u64::from_le_bytes(b)
}

/// The term sets searches opened in this session, by record, at the version they were opened
/// at: a search opens each candidate's sealed term set once per session instead of once per
/// search, and a session starts from the sets an earlier one saved, sealed.
///
/// Why: the index on disk keys only 12-bit buckets of the blind terms (what a copied file shows
/// must not tell which records share a name), so a query's buckets list every record sharing
/// them, thousands at 50,000 cases, and each candidate's sealed term set decides. Opening them
/// (a table read, an AEAD open, a decode) was most of a search's time (p99 36.8 ms at 50,000),
/// and reading each candidate's version to check a held set was most of what was left.
///
/// Held in memory for the signed-in session (dropped with its keys at sign-out). An entry is
/// trusted without reading the record's version again because every write of a record's terms
/// in a session goes through `Session::store`, which forgets the record's entry (redb holds the
/// file for one open database, so nothing else writes it meanwhile); a key rotation or a
/// reindex empties the cache. So a saved record is never matched on its old terms.
///
/// **Saved sets** ([`Session::save_search_terms`], the kit core calls it at sign-out when due):
/// the held sets of cases and tracing requests (never incidents: every caseworker holds the
/// cache key, not every one the incident key) go into the vault's `cache` table, sealed under
/// the data key's cache subkey, with the index id. The first search of a session loads them and
/// keeps only the entries whose version is the record's version now (the cache is not bound
/// into the sealed state: an older copy put back opens, and its stale entries are dropped), in
/// one pass over the versions table. Nothing is written in the clear, so the file hides what it
/// hid. Size: the first 8 bytes of each term (a record's 10 to 20 terms) plus about 60 bytes per
/// record, so about 7 to 10 MB if every case of 50,000 was a candidate once.
#[derive(Default)]
pub(crate) struct TermCache {
    sets: std::sync::Mutex<TermSets>,
    /// Whether this session tried to load the saved sets yet.
    tried: std::sync::atomic::AtomicBool,
}

/// Record key → (version, its terms' first 8 bytes, sorted), and how many sets were opened
/// since the sets were last loaded or saved.
#[derive(Default)]
pub(crate) struct TermSets {
    sets: std::collections::HashMap<[u8; 17], (u64, Box<[u64]>)>,
    opened: usize,
}

impl std::fmt::Debug for TermCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TermCache({} records)", self.len())
    }
}

/// The cached value's name in the vault's `cache` table.
const SAVED_TERMS: &str = "search-terms";
/// Term sets per sealed chunk.
const SAVED_PER_CHUNK: usize = 4096;
/// One saved term set: record key, version, its terms' first 8 bytes.
type SavedSet = ([u8; 17], u64, Vec<u64>);

impl TermCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TermSets> {
        self.sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets every term set (their terms changed without a new version).
    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        s.sets.clear();
        s.opened = 0;
    }

    /// Forgets one record's term set (it is being saved with new terms).
    pub(crate) fn forget(&self, key: &[u8; 17]) {
        self.lock().sets.remove(key);
    }

    /// Records held (for the benchmark's memory figures).
    pub(crate) fn len(&self) -> usize {
        self.lock().sets.len()
    }

    fn tried_snapshot(&self) -> bool {
        self.tried.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Session {
    /// Loads the term sets an earlier session saved (see `TermCache`), once per session: the
    /// first search does it when the caller has not. Returns how many were taken in (those at
    /// their record's version). Unaudited: it holds nothing the index does not.
    pub fn load_search_terms(&self) -> Result<usize, ReadError> {
        if self
            .terms_seen
            .tried
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return Ok(0);
        }
        let index = self.index_id();
        let incident = schema::kind_byte(RecordKind::Incident);
        let readable = |k: &[u8; 17]| {
            k[0] != incident
                && schema::kind_from_byte(k[0])
                    .is_some_and(|kind| self.keys.index_key(kind).is_ok())
        };
        // Straight into the session's sets (a set this session opened already stays), then one
        // pass over the versions drops those not at their record's version now.
        let mut loaded: Vec<[u8; 17]> = Vec::new();
        let mut head = false;
        let whole = {
            let mut held = self.terms_seen.lock();
            let whole = self.read_cache(SAVED_TERMS, |chunk| {
                if !head {
                    head = postcard::from_bytes::<String>(chunk).is_ok_and(|id| id == index);
                    return head;
                }
                let Ok(sets) = postcard::from_bytes::<Vec<SavedSet>>(chunk) else {
                    return false;
                };
                for (k, v, t) in sets {
                    if readable(&k) && !held.sets.contains_key(&k) {
                        held.sets.insert(k, (v, t.into_boxed_slice()));
                        loaded.push(k);
                    }
                }
                true
            });
            if !matches!(whole, Ok(true)) || !head {
                for k in &loaded {
                    held.sets.remove(k);
                }
            }
            whole?
        };
        if !whole || !head {
            return Ok(0);
        }
        loaded.sort_unstable();
        let txn = self.vault.db.begin_read()?;
        let versions = txn.open_table(VERSIONS)?;
        let mut held = self.terms_seen.lock();
        let mut taken = 0;
        let mut next = loaded.iter().peekable();
        for row in versions.iter()? {
            if next.peek().is_none() {
                break;
            }
            let (k, v) = row?;
            // Loaded sets whose record the versions table does not hold: dropped.
            while let Some(gone) = next.next_if(|l| l.as_slice() < k.value()) {
                held.sets.remove(gone);
            }
            if let Some(l) = next.next_if(|l| l.as_slice() == k.value()) {
                if held.sets.get(l).is_some_and(|(at, _)| *at == v.value()) {
                    taken += 1;
                } else {
                    held.sets.remove(l);
                }
            }
        }
        for gone in next {
            held.sets.remove(gone);
        }
        held.opened = 0;
        Ok(taken)
    }

    /// Whether this session opened enough term sets since they were loaded or saved that
    /// saving them pays (256; the kit core saves them at sign-out then).
    pub fn search_terms_due(&self) -> bool {
        self.terms_seen.lock().opened >= 256
    }

    /// Saves the term sets this session holds (cases and tracing requests; see `TermCache`),
    /// sealed, in one commit, so the next session's first search need not open them one by
    /// one. Returns how many.
    pub fn save_search_terms(&mut self) -> Result<usize, WriteError> {
        let mut sets: Vec<([u8; 17], u64, &[u64])> = Vec::new();
        let held = self.terms_seen.lock();
        let incident = schema::kind_byte(RecordKind::Incident);
        sets.extend(
            held.sets
                .iter()
                .filter(|(k, _)| k[0] != incident)
                .map(|(k, (v, t))| (*k, *v, &**t)),
        );
        let mut chunks = vec![encode(&self.index_id())?];
        for part in sets.chunks(SAVED_PER_CHUNK) {
            chunks.push(encode(&part)?);
        }
        let n = sets.len();
        drop(sets);
        drop(held);
        self.write_cache(SAVED_TERMS, &chunks)?;
        self.terms_seen.lock().opened = 0;
        Ok(n)
    }

    /// Removes the saved term sets (the benchmark's first pass; nothing else needs it).
    pub fn forget_search_terms(&mut self) -> Result<(), WriteError> {
        self.remove_cache(SAVED_TERMS)
    }
}

/// The index layout: entries are keyed by the first [`BUCKET_BITS`] bits of a blind term.
pub(crate) const INDEX_LAYOUT: &str = "buckets12";

/// How many bits of a blind term name its index bucket. 4,096 buckets: a vault of a few
/// hundred records already puts unrelated records in the same bucket, so two records in one
/// bucket no longer tell a reader of the file that they share a name (issue 8, finding 11);
/// the sealed term sets sort the true matches from the rest.
pub(crate) const BUCKET_BITS: u32 = 12;

/// The index bucket of a blind term.
pub(crate) fn bucket(term: &[u8; 16]) -> [u8; 2] {
    let v = u16::from_be_bytes([term[0], term[1]]) >> (16 - BUCKET_BITS);
    v.to_be_bytes()
}

/// The buckets of a set of terms, each once.
pub(crate) fn buckets(terms: &BTreeSet<[u8; 16]>) -> BTreeSet<[u8; 2]> {
    terms.iter().map(bucket).collect()
}

/// Opens a record's sealed term set, which must be at the record's authenticated `version`.
pub(crate) fn open_terms(
    rkey: &Key,
    key: &[u8; 17],
    bytes: &[u8],
    version: u64,
) -> Result<BTreeSet<[u8; 16]>> {
    let tampered = |why: &str| VaultError::Tampered {
        what: format!("index terms of {}{why}", hex(key)),
    };
    let row = Row::from_bytes(bytes).ok_or_else(|| tampered(""))?;
    if row.version != version {
        return Err(tampered(&format!(
            ": version {} but the record is at version {version} (an old copy was put back)",
            row.version
        )));
    }
    let plain = crypto::open(
        rkey,
        &schema::row_aad("record_terms", key, row.version),
        &row.sealed,
    )
    .map_err(|_| tampered(""))?;
    decode::<BTreeSet<[u8; 16]>>(&plain, "terms")
}

/// A blind-index term: HMAC of the kind and the term, truncated to 128 bits.
pub(crate) fn blind(ikey: &Key, kind: RecordKind, term: &str) -> [u8; 16] {
    let m = crypto::mac(ikey, &[&[schema::kind_byte(kind)], term.as_bytes()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&m[..16]);
    out
}

pub(crate) fn store_terms(
    batch: &Batch<'_>,
    key: &[u8; 17],
    terms: &BTreeSet<[u8; 16]>,
    rkey: &Key,
    version: u64,
) -> Result<()> {
    let sealed = crypto::seal(
        rkey,
        &schema::row_aad("record_terms", key, version),
        &encode(terms)?,
    )?;
    batch.txn.open_table(TERMS)?.insert(
        key.as_slice(),
        Row { version, sealed }.to_bytes().as_slice(),
    )?;
    Ok(())
}

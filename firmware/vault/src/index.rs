//! What the blind index indexes: names turned into terms by a [`NameIndexer`].
//!
//! The vault HMACs each term under a key derived from the data key, so the index on disk reveals
//! neither names nor terms, only how many records share a term.

use std::collections::{BTreeSet, HashMap};

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde_json::Value;

use fieldkit_domain::{RecordKind, Summary};

use crate::audit::AuditAction;
use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};
use crate::records::{Batch, unseal_summary};
use crate::schema::{self, NAME_INDEX, RECORDS, SUMMARIES, TERMS, meta};
use crate::session::Session;
use crate::storage::{Row, begin, decode, encode, hex, write_meta};

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
    let fields: &[&str] = match kind {
        RecordKind::Case => &["name", "name_other", "name_nickname"],
        RecordKind::TracingRequest => &["relation_name", "relation_nickname"],
        RecordKind::Incident => &["survivor_code"],
    };
    let mut out: Vec<String> = fields
        .iter()
        .filter_map(|f| json.get(*f).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if kind == RecordKind::TracingRequest {
        for t in json
            .get("tracing_request_subform_section")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for f in ["name", "name_other", "name_nickname"] {
                if let Some(n) = t.get(f).and_then(Value::as_str) {
                    out.push(n.to_string());
                }
            }
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
        &encode(terms),
    )?;
    batch.txn.open_table(TERMS)?.insert(
        key.as_slice(),
        Row { version, sealed }.to_bytes().as_slice(),
    )?;
    Ok(())
}

//! Reading and writing records: each one sealed with its list summary and index terms in one
//! transaction, with the manifest updated in the same commit.

use crate::error::{ReadError, WriteError};

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use fieldkit_domain::{Conflict, Document, Op, Record, RecordId, RecordKind, Summary};

use crate::audit::AuditAction;
use crate::crypto::{self, Key};
use crate::error::{Result, VaultError};
use crate::index::{buckets, searchable_names, store_terms};
use crate::manifest::Manifest;
use crate::schema::{self, NAME_INDEX, RECORDS, SUMMARIES, VERSIONS};
use crate::session::Session;
use crate::storage::{Row, begin, encode, hex};

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

/// What [`Session::store`]'s caller already has for a document: its JSON and its summary.
pub(crate) struct Known<'a> {
    pub(crate) json: &'a serde_json::Value,
    pub(crate) summary: Summary,
}

/// The records and summaries one write transaction changed, so the manifest is updated once.
pub(crate) struct Batch<'t> {
    pub(crate) txn: &'t WriteTransaction,
    pub(crate) manifest: Manifest,
    /// The list facets of the records written, for the session's tables once committed.
    pub(crate) listed: Vec<crate::listed::Staged>,
}

impl Session {
    /// Creates a record after validating it as of the day `now_ms` falls on. The record's id is
    /// kept (mint one with [`Session::mint_id`]).
    pub fn create(&mut self, record: &Record, now_ms: u64) -> Result<Saved, WriteError> {
        let saved = self.create_many(std::slice::from_ref(record), now_ms)?;
        saved
            .into_iter()
            .next()
            .ok_or_else(|| WriteError::BadChange("nothing saved".into()))
    }

    /// Creates many records in one transaction (one fsync).
    pub fn create_many(
        &mut self,
        records: &[Record],
        now_ms: u64,
    ) -> Result<Vec<Saved>, WriteError> {
        let mut tx = self.begin()?;
        let saved = tx.create_many(records, now_ms)?;
        tx.commit()?;
        Ok(saved)
    }

    /// Saves an edited record: `edited` is the whole record as a flat JSON object (the shape
    /// [`Opened::record`] gives); the difference becomes field operations.
    pub fn update(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: &serde_json::Value,
        now_ms: u64,
    ) -> Result<Saved, WriteError> {
        let mut tx = self.begin()?;
        let saved = tx.update(kind, id, edited, now_ms)?;
        if saved.ops > 0 {
            tx.commit()?;
        }
        Ok(saved)
    }

    /// Merges documents received from elsewhere (import, sync). No validation: what other kits
    /// recorded is never dropped; conflicts show up on the records.
    pub fn merge(&mut self, docs: &[Document], now_ms: u64) -> Result<usize, WriteError> {
        Ok(self.merge_audited(docs, now_ms, None)?)
    }

    /// [`Session::merge`], with `also` (the import that brought the documents) audited in the
    /// same transaction.
    pub(crate) fn merge_audited(
        &mut self,
        docs: &[Document],
        now_ms: u64,
        also: Option<AuditAction>,
    ) -> Result<usize> {
        let mut tx = self.begin()?;
        let changed = tx.merge(docs, now_ms)?.len();
        if let Some(action) = also {
            tx.audit(now_ms, action, None);
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Applies field operations received from elsewhere.
    pub fn apply_ops(&mut self, ops: &[Op], now_ms: u64) -> Result<usize, WriteError> {
        let mut tx = self.begin()?;
        let changed = tx.apply_ops(ops, now_ms)?.len();
        tx.commit()?;
        Ok(changed)
    }

    /// The documents behind records, with their whole history of operations, for sync (a
    /// hub forwarding a transferred case). One audit entry for all of them; a record not held
    /// is left out.
    pub fn documents_of(
        &mut self,
        records: &[(RecordKind, RecordId)],
        now_ms: u64,
    ) -> Result<Vec<Document>> {
        let txn = begin(&self.vault.db)?;
        let mut out = Vec::with_capacity(records.len());
        for (kind, id) in records {
            if let Some((doc, _)) = self.load_w(&txn, *kind, *id)? {
                out.push(doc);
            }
        }
        self.audit(
            &txn,
            now_ms,
            AuditAction::Export {
                records: u32::try_from(out.len()).unwrap_or(u32::MAX),
                format: "sync".into(),
            },
            None,
        )?;
        self.commit(txn)?;
        Ok(out)
    }

    /// Opens a record (audited).
    pub fn get(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
    ) -> Result<Opened, ReadError> {
        let txn = begin(&self.vault.db)?;
        let (doc, version) = self
            .load_w(&txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        self.audit(&txn, now_ms, AuditAction::Read, Some((kind, id)))?;
        self.commit(txn)?;
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
    pub(crate) fn load_w(
        &self,
        txn: &WriteTransaction,
        kind: RecordKind,
        id: RecordId,
    ) -> Result<Option<(Document, u64)>> {
        self.load_from(
            &txn.open_table(RECORDS)?,
            &txn.open_table(VERSIONS)?,
            kind,
            id,
        )
    }

    /// A record from the `records` and `record_versions` tables of any transaction: `None`
    /// when neither holds it, [`VaultError::Tampered`] when they disagree.
    pub(crate) fn load_from(
        &self,
        table: &impl ReadableTable<&'static [u8], &'static [u8]>,
        versions: &impl ReadableTable<&'static [u8], u64>,
        kind: RecordKind,
        id: RecordId,
    ) -> Result<Option<(Document, u64)>> {
        let key = schema::record_key(kind, id);
        let v = table.get(key.as_slice())?;
        match (v, versions.get(key.as_slice())?) {
            (None, None) => Ok(None),
            (Some(g), Some(expected)) => {
                self.unseal_doc(&key, g.value(), expected.value()).map(Some)
            }
            (None, Some(_)) => Err(VaultError::Tampered {
                what: format!("{kind} {id}: its rows were deleted"),
            }),
            (Some(_), None) => Err(VaultError::Tampered {
                what: format!("{kind} {id}: a record the vault never wrote"),
            }),
        }
    }

    /// Opens a record's row, which must be at `expected`, the version the authenticated
    /// `record_versions` table holds (an older row put back is refused).
    pub(crate) fn unseal_doc(
        &self,
        key: &[u8; 17],
        bytes: &[u8],
        expected: u64,
    ) -> Result<(Document, u64)> {
        let (kind, id) = schema::parse_record_key(key)
            .ok_or_else(|| VaultError::Corrupt("malformed record key".into()))?;
        let what = || format!("{kind} {id}");
        let row = Row::from_bytes(bytes).ok_or_else(|| VaultError::Tampered { what: what() })?;
        if row.version != expected {
            return Err(VaultError::Tampered {
                what: format!(
                    "{kind} {id}: its stored copy is version {} but the vault wrote version {expected} (an old copy was put back)",
                    row.version
                ),
            });
        }
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
    pub(crate) fn store(
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
        // Searches must open its new term set (see `index::TermCache`).
        self.terms_seen.forget(&key);
        let (json, summary) = match known {
            Some(k) => (std::borrow::Cow::Borrowed(k.json), Some(k.summary)),
            None => (std::borrow::Cow::Owned(doc.to_json()), None),
        };
        let json = json.as_ref();

        let sealed = crypto::seal(
            rkey,
            &schema::row_aad("records", &key, version),
            &encode(doc)?,
        )?;
        batch.txn.open_table(RECORDS)?.insert(
            key.as_slice(),
            Row { version, sealed }.to_bytes().as_slice(),
        )?;
        batch
            .txn
            .open_table(VERSIONS)?
            .insert(key.as_slice(), version)?;

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
            &encode(&summary)?,
        )?;
        batch.listed.push(crate::listed::Staged::of(&summary));
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
        let new_buckets = buckets(&new_terms);
        if let Some(old) = old_terms {
            for b in buckets(&old).difference(&new_buckets) {
                index.remove(b.as_slice(), key.as_slice())?;
            }
        }
        for b in &new_buckets {
            index.insert(b.as_slice(), key.as_slice())?;
        }
        drop(index);
        store_terms(batch, &key, &new_terms, rkey, version)?;

        if let Some(p) = prev {
            batch.manifest.remove(&self.keys.manifest, &key, p);
        }
        batch.manifest.add(&self.keys.manifest, &key, version);
        Ok(version)
    }

    /// The first `limit` summaries of a kind after skipping `offset`, in id order (ids are
    /// UUIDv7, so that is registration order). Only these summaries are decrypted. Unaudited
    /// (for internals and benchmarks): show lists through [`Session::list_audited`].
    pub fn list(
        &self,
        kind: RecordKind,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Summary>, ReadError> {
        let rkey = self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(SUMMARIES)?;
        let versions = txn.open_table(VERSIONS)?;
        let (lo, hi) = kind_bounds(kind);
        let mut out = Vec::with_capacity(limit.min(1024));
        // The list walks the authenticated versions, not the summaries: a summary deleted or
        // put back from an older copy fails loudly instead of hiding or misnaming a child.
        for row in versions
            .range(lo.as_slice()..hi.as_slice())?
            .skip(offset)
            .take(limit)
        {
            let (k, version) = row?;
            out.push(read_summary(rkey, &table, k.value(), version.value())?);
        }
        Ok(out)
    }

    /// The positions in [`Session::list`]'s order of the records of `kind` whose status, risk
    /// level and urgent flag pass `keep`, ascending. The first call for a kind reads and
    /// decrypts every summary of it once (as [`Session::list`] does, authenticated against the
    /// versions); later calls answer from the session's memory, which every commit of this
    /// session keeps current (see the `listed` module). Unaudited: it tells positions, not
    /// records; the rows shown are read through [`Session::list_audited`].
    pub fn positions_where(
        &self,
        kind: RecordKind,
        keep: &dyn Fn(&crate::listed::Facets<'_>) -> bool,
    ) -> Result<Vec<u32>, ReadError> {
        if let Some(found) = self.listed.positions(kind, keep) {
            return Ok(found);
        }
        let rkey = self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(SUMMARIES)?;
        let versions = txn.open_table(VERSIONS)?;
        let (lo, hi) = kind_bounds(kind);
        self.listed.fill(kind, |push| -> Result<(), ReadError> {
            for row in versions.range(lo.as_slice()..hi.as_slice())? {
                let (k, version) = row?;
                push(&read_summary(rkey, &table, k.value(), version.value())?);
            }
            Ok(())
        })?;
        Ok(self.listed.positions(kind, keep).unwrap_or_default())
    }

    /// The summaries at these positions of [`Session::list`]'s order (ascending, as
    /// [`Session::positions_where`] gives them), audited as one list shown. Keys are walked
    /// from the first position to the last, but only the summaries asked for are read and
    /// decrypted: a page of a rare filter's rows spread over the whole vault costs its rows,
    /// not the span. Positions past the end are left out.
    pub fn list_at_audited(
        &mut self,
        kind: RecordKind,
        positions: &[u32],
        now_ms: u64,
    ) -> Result<Vec<Summary>, ReadError> {
        let mut out = Vec::with_capacity(positions.len());
        if let Some(&first) = positions.first() {
            let rkey = self.keys.record_key(kind)?;
            let txn = self.vault.db.begin_read()?;
            let table = txn.open_table(SUMMARIES)?;
            let versions = txn.open_table(VERSIONS)?;
            let (lo, hi) = kind_bounds(kind);
            let mut wanted = positions.iter().copied().peekable();
            let rows = versions
                .range(lo.as_slice()..hi.as_slice())?
                .enumerate()
                .skip(first as usize);
            for (at, row) in rows {
                let Some(&next) = wanted.peek() else { break };
                if (at as u64) < u64::from(next) {
                    continue;
                }
                // Repeated positions are asked once.
                while wanted.peek().is_some_and(|&p| u64::from(p) <= at as u64) {
                    wanted.next();
                }
                let (k, version) = row?;
                out.push(read_summary(rkey, &table, k.value(), version.value())?);
            }
        }
        self.audit_now(
            now_ms,
            AuditAction::List {
                kind,
                results: u32::try_from(out.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        Ok(out)
    }

    /// [`Session::list`], audited (how many summaries were shown, of which kind): what a
    /// caseworker's screen or the command line shows goes through here.
    pub fn list_audited(
        &mut self,
        kind: RecordKind,
        offset: usize,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Summary>, ReadError> {
        let page = self.list(kind, offset, limit)?;
        self.audit_now(
            now_ms,
            AuditAction::List {
                kind,
                results: u32::try_from(page.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        Ok(page)
    }

    /// The ids of a kind whose hex digits (dashes ignored) start or end with `part`, so a
    /// caseworker can quote the short id ([`RecordId::short`], the last eight digits) or the
    /// first digits. Reads keys only.
    pub fn resolve(&self, kind: RecordKind, part: &str) -> Result<Vec<RecordId>, ReadError> {
        let digits = part
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if digits.len() < 4 || digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ReadError::BadId(part.to_string()));
        }
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(VERSIONS)?;
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

    /// True when the vault holds this record (any version). Reads one key of the version table:
    /// nothing is decrypted and nothing is audited (a record's presence is what the file's keys
    /// show anyway). The kit core uses it to tell a record on another kit from one here that is
    /// closed to matching.
    pub fn holds(&self, kind: RecordKind, id: RecordId) -> Result<bool, ReadError> {
        self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(VERSIONS)?;
        let key = schema::record_key(kind, id);
        Ok(table.get(key.as_slice())?.is_some())
    }

    /// How many records of a kind the vault holds.
    pub fn count(&self, kind: RecordKind) -> Result<u64, ReadError> {
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(VERSIONS)?;
        let (lo, hi) = kind_bounds(kind);
        let mut n = 0;
        for row in table.range(lo.as_slice()..hi.as_slice())? {
            row?;
            n += 1;
        }
        Ok(n)
    }

    /// Every record of a kind, decrypted (for matching and export). Audited as one bulk read.
    pub fn all(&mut self, kind: RecordKind, now_ms: u64) -> Result<Vec<Opened>, ReadError> {
        self.documents_read(kind, now_ms)?
            .into_iter()
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

    /// Every document of a kind, audited as one bulk read.
    pub(crate) fn documents_read(
        &mut self,
        kind: RecordKind,
        now_ms: u64,
    ) -> Result<Vec<(Document, u64)>> {
        let docs = self.documents(kind)?;
        self.audit_now(
            now_ms,
            AuditAction::BulkRead {
                records: u32::try_from(docs.len()).unwrap_or(u32::MAX),
            },
            None,
        )?;
        Ok(docs)
    }

    pub(crate) fn documents(&self, kind: RecordKind) -> Result<Vec<(Document, u64)>> {
        let mut out = Vec::new();
        self.each_document(kind, |doc, version| {
            out.push((doc, version));
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands every document of a kind to `each` in id order, one at a time (with its version).
    /// Not audited: the caller audits what it does with them. Returns how many.
    pub(crate) fn each_document(
        &self,
        kind: RecordKind,
        mut each: impl FnMut(Document, u64) -> Result<()>,
    ) -> Result<usize> {
        self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let table = txn.open_table(RECORDS)?;
        let versions = txn.open_table(VERSIONS)?;
        let (lo, hi) = kind_bounds(kind);
        let mut count = 0;
        // Walk the authenticated versions: a record whose rows were deleted fails loudly.
        for row in versions.range(lo.as_slice()..hi.as_slice())? {
            let (k, expected) = row?;
            let key = schema::key17(k.value())?;
            let v = table
                .get(key.as_slice())?
                .ok_or_else(|| VaultError::Tampered {
                    what: format!("record {}: its rows were deleted", hex(&key)),
                })?;
            let (doc, version) = self.unseal_doc(&key, v.value(), expected.value())?;
            each(doc, version)?;
            count += 1;
        }
        if table.range(lo.as_slice()..hi.as_slice())?.count() != count {
            return Err(VaultError::Tampered {
                what: "a record the vault never wrote".into(),
            });
        }
        Ok(count)
    }
}

pub(crate) fn apply_all(doc: &mut Document, ops: &[Op]) -> Result<()> {
    for op in ops {
        doc.apply(op)
            .map_err(|e| VaultError::BadChange(e.to_string()))?;
    }
    Ok(())
}

pub(crate) fn fallback_summary(doc: &Document, json: &serde_json::Value) -> Summary {
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

/// The summary stored under `key` at `version`, decrypted and checked; a summary missing
/// beside its version row is tampering (lists walk the authenticated versions).
fn read_summary(
    rkey: &Key,
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
    version: u64,
) -> Result<Summary> {
    let s = table.get(key)?.ok_or_else(|| VaultError::Tampered {
        what: format!("summary of {}: deleted", hex(key)),
    })?;
    unseal_summary(rkey, key, s.value(), version)
}

/// Opens a summary row, which must be at `expected`, its record's authenticated version.
pub(crate) fn unseal_summary(
    rkey: &Key,
    key: &[u8],
    bytes: &[u8],
    expected: u64,
) -> Result<Summary> {
    let key: [u8; 17] = key
        .try_into()
        .map_err(|_| VaultError::Corrupt("summary key of wrong length".into()))?;
    let what = || format!("summary of {}", hex(&key));
    let row = Row::from_bytes(bytes).ok_or_else(|| VaultError::Tampered { what: what() })?;
    if row.version != expected {
        return Err(VaultError::Tampered {
            what: format!(
                "{}: version {} but the record is at version {expected} (an old copy was put back)",
                what(),
                row.version
            ),
        });
    }
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
pub(crate) fn kind_bounds(kind: RecordKind) -> ([u8; 1], [u8; 1]) {
    ([schema::kind_byte(kind)], [schema::kind_byte(kind) + 1])
}

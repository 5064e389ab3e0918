//! One write transaction over a signed-in session: several records created, edited or merged,
//! their audit entries, and whatever else the caller writes in the same redb transaction (the
//! sync outbox), committed together with one fsync and one reseal of the vault state.
//!
//! Registering a child saves the record, its potential matches and the outbox entries that
//! send them: all of it or none of it reaches the disk, so a power cut never leaves a saved
//! case whose matches or outbox entry are missing, and a registration costs one commit however
//! many matches it finds. Dropping a [`Tx`] without [`Tx::commit`] aborts everything in it.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use fieldkit_domain::{Date, Document, Hlc, Op, Record, RecordId, RecordKind};

use crate::audit::{AuditAction, append_audit_many};
use crate::error::{ReadError, Result, VaultError, WriteError};
use crate::manifest::Manifest;
use crate::records::{Batch, Known, Opened, Saved, apply_all};
use crate::scan::opened;
use crate::schema::{self, VERSIONS, meta};
use crate::session::Session;
use crate::storage::{begin, write_meta};

/// A record a merge wrote (new, or changed by what arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// Its kind.
    pub kind: RecordKind,
    /// The record.
    pub id: RecordId,
    /// Its version now.
    pub version: u64,
}

/// An audit entry written at commit: when, what, which record (the actor is the session's).
type Pending = (u64, AuditAction, Option<(RecordKind, RecordId)>);

/// An open write transaction of a session. See the module documentation.
pub struct Tx<'s> {
    pub(crate) session: &'s mut Session,
    /// The redb transaction: other concerns' tables written with the records (the sync
    /// outbox) use it.
    pub(crate) txn: WriteTransaction,
    manifest: Manifest,
    audit: Vec<Pending>,
    /// The list facets of the records written, taken into the session's tables at commit.
    listed: Vec<crate::listed::Staged>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("session", &self.session)
            .field("audit_entries", &self.audit.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a write transaction: every write made through it is committed at once by
    /// [`Tx::commit`], or not at all.
    pub fn begin(&mut self) -> Result<Tx<'_>, WriteError> {
        let txn = begin(&self.vault.db)?;
        let manifest = self.manifest;
        Ok(Tx {
            session: self,
            txn,
            manifest,
            audit: Vec::new(),
            listed: Vec::new(),
        })
    }

    /// The operations of a record stamped after `since` (`None`: all of them), which bring a
    /// copy holding everything up to `since` to the record as it is here
    /// ([`Document::ops_since`]). Unaudited: the sync engine audits its own sends.
    pub fn ops_since(
        &self,
        kind: RecordKind,
        id: RecordId,
        since: Option<Hlc>,
    ) -> Result<Vec<Op>, ReadError> {
        self.keys.record_key(kind)?;
        let txn = self.vault.db.begin_read()?;
        let found = self.load_from(
            &txn.open_table(schema::RECORDS)?,
            &txn.open_table(VERSIONS)?,
            kind,
            id,
        )?;
        let (doc, _) = found.ok_or(VaultError::NotFound { kind, id })?;
        Ok(doc.ops_since(since))
    }
}

impl Tx<'_> {
    /// The session the transaction belongs to (who is signed in, the device id).
    pub fn session(&self) -> &Session {
        self.session
    }

    /// Creates records after validating each as of the day `now_ms` falls on. Every field of
    /// every record gets the same stamp. Their ids are kept (mint them with
    /// [`Session::mint_id`]).
    pub fn create_many(
        &mut self,
        records: &[Record],
        now_ms: u64,
    ) -> Result<Vec<Saved>, WriteError> {
        let today = Date::from_unix_ms(now_ms);
        for r in records {
            r.validate(today)?;
            self.session.keys.record_key(r.kind())?;
        }
        let stamp = self.session.clock.tick(now_ms);
        let mut batch = Batch {
            txn: &self.txn,
            manifest: self.manifest,
            listed: Vec::new(),
        };
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let (kind, id) = (r.kind(), r.id());
            if batch
                .txn
                .open_table(VERSIONS)?
                .get(schema::record_key(kind, id).as_slice())?
                .is_some()
            {
                return Err(VaultError::BadChange(format!("{kind} {id} already exists")).into());
            }
            let json = r.to_json();
            let (doc, fields) = Document::create(kind, id, &json, stamp)
                .map_err(|e| VaultError::BadChange(e.to_string()))?;
            // A new document holds exactly `r`: its JSON and summary need not be rebuilt.
            let known = Known {
                json: &json,
                summary: fieldkit_domain::Summary::of(r, 0),
            };
            let version = self.session.store(&mut batch, &doc, None, Some(known))?;
            self.audit
                .push((now_ms, AuditAction::Write, Some((kind, id))));
            out.push(Saved {
                id,
                version,
                ops: fields,
            });
        }
        self.manifest = batch.manifest;
        self.listed.extend(batch.listed);
        Ok(out)
    }

    /// Creates one record ([`Tx::create_many`]).
    pub fn create(&mut self, record: &Record, now_ms: u64) -> Result<Saved, WriteError> {
        self.create_many(std::slice::from_ref(record), now_ms)?
            .into_iter()
            .next()
            .ok_or_else(|| WriteError::BadChange("nothing saved".into()))
    }

    /// Saves an edited record: `edited` is the whole record as a flat JSON object; the
    /// difference becomes field operations, validated as they will be saved. Nothing is
    /// written when nothing differs (`ops: 0`, same version).
    pub fn update(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: &serde_json::Value,
        now_ms: u64,
    ) -> Result<Saved, WriteError> {
        self.change_stored(kind, id, now_ms, |doc, stamp| doc.diff(edited, || stamp))
    }

    /// Merges documents received from elsewhere (import, sync, the matcher's proposals). No
    /// validation: what other kits recorded is never dropped; conflicts show up on the
    /// records. Returns the records written (a document that brings nothing new writes
    /// nothing).
    pub fn merge(&mut self, docs: &[Document], now_ms: u64) -> Result<Vec<Changed>, WriteError> {
        let mut batch = Batch {
            txn: &self.txn,
            manifest: self.manifest,
            listed: Vec::new(),
        };
        let mut changed = Vec::new();
        for incoming in docs {
            let (kind, id) = (incoming.kind(), incoming.id());
            if kind == RecordKind::Incident && self.session.keys.incidents.is_none() {
                continue;
            }
            let (doc, prev) = match self.session.load_w(batch.txn, kind, id)? {
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
                self.session.clock.observe(s);
            }
            let version = self.session.store(&mut batch, &doc, prev, None)?;
            self.audit
                .push((now_ms, AuditAction::Merge, Some((kind, id))));
            changed.push(Changed { kind, id, version });
        }
        self.manifest = batch.manifest;
        self.listed.extend(batch.listed);
        Ok(changed)
    }

    /// Applies field operations received from elsewhere ([`Tx::merge`] of the documents they
    /// make).
    pub fn apply_ops(&mut self, ops: &[Op], now_ms: u64) -> Result<Vec<Changed>, WriteError> {
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

    /// Changes only the fields `fields` carries (as a Primero update does,
    /// [`Document::patch`]), validated as saved; every other field keeps its value. Nothing is
    /// written when they already hold these values.
    pub fn patch(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        fields: &serde_json::Map<String, serde_json::Value>,
        now_ms: u64,
    ) -> Result<Saved, WriteError> {
        self.change_stored(kind, id, now_ms, |doc, stamp| doc.patch(fields, || stamp))
    }

    /// Loads a stored record, turns the change into field operations under one stamp (one
    /// save, one stamp) and stores them: what `update` (a whole edited record) and `patch`
    /// (only the fields given) share.
    fn change_stored<E: std::fmt::Display>(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
        ops_of: impl FnOnce(&Document, Hlc) -> std::result::Result<Vec<Op>, E>,
    ) -> Result<Saved, WriteError> {
        self.session.keys.record_key(kind)?;
        let (doc, version) = self
            .session
            .load_w(&self.txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        let stamp = self.session.clock.tick(now_ms);
        let ops = ops_of(&doc, stamp).map_err(|e| VaultError::BadChange(e.to_string()))?;
        Ok(self.store_ops(doc, version, &ops, now_ms)?)
    }

    /// Applies a save's operations to the document, validates the record, and writes it
    /// (nothing when there are none).
    fn store_ops(
        &mut self,
        mut doc: Document,
        version: u64,
        ops: &[Op],
        now_ms: u64,
    ) -> Result<Saved> {
        let (kind, id) = (doc.kind(), doc.id());
        apply_all(&mut doc, ops)?;
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
            txn: &self.txn,
            manifest: self.manifest,
            listed: Vec::new(),
        };
        let version = self.session.store(&mut batch, &doc, Some(version), None)?;
        self.manifest = batch.manifest;
        self.listed.extend(batch.listed);
        self.audit
            .push((now_ms, AuditAction::Write, Some((kind, id))));
        Ok(Saved {
            id,
            version,
            ops: ops.len(),
        })
    }

    /// A record's document as this transaction sees it, with its version (audited as a read):
    /// its flat JSON ([`Document::to_json`]) holds the values as they were given, which an
    /// edit should start from.
    pub fn get_document(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
    ) -> Result<(Document, u64), ReadError> {
        self.session.keys.record_key(kind)?;
        let found = self
            .session
            .load_w(&self.txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        self.audit
            .push((now_ms, AuditAction::Read, Some((kind, id))));
        Ok(found)
    }

    /// Opens a record as this transaction sees it (audited with the transaction).
    pub fn get(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
    ) -> Result<Opened, ReadError> {
        let (doc, version) = self
            .session
            .load_w(&self.txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        self.audit
            .push((now_ms, AuditAction::Read, Some((kind, id))));
        Ok(opened(&doc, version)?)
    }

    /// The records with these kinds and ids as this transaction sees them (those not in the
    /// vault, and incidents without incident access, are left out), audited as one bulk read.
    pub fn get_many(
        &mut self,
        wanted: &[(RecordKind, RecordId)],
        now_ms: u64,
    ) -> Result<Vec<Opened>, ReadError> {
        let mut out = Vec::with_capacity(wanted.len());
        for &(kind, id) in wanted {
            if self.session.keys.record_key(kind).is_err() {
                continue;
            }
            if let Some((doc, version)) = self.session.load_w(&self.txn, kind, id)? {
                out.push(opened(&doc, version)?);
            }
        }
        self.audit.push((
            now_ms,
            AuditAction::BulkRead {
                records: u32::try_from(out.len()).unwrap_or(u32::MAX),
            },
            None,
        ));
        Ok(out)
    }

    /// [`Session::holds`] as this transaction sees the vault: a record merged or created in it
    /// counts. Nothing is decrypted or audited.
    pub fn holds(&self, kind: RecordKind, id: RecordId) -> Result<bool, ReadError> {
        self.session.keys.record_key(kind)?;
        let table = self.txn.open_table(VERSIONS)?;
        let key = schema::record_key(kind, id);
        Ok(table.get(key.as_slice())?.is_some())
    }

    /// [`Session::ops_since`] as this transaction sees the record (what it wrote included).
    pub fn ops_since(
        &self,
        kind: RecordKind,
        id: RecordId,
        since: Option<Hlc>,
    ) -> Result<Vec<Op>, ReadError> {
        self.session.keys.record_key(kind)?;
        let (doc, _) = self
            .session
            .load_w(&self.txn, kind, id)?
            .ok_or(VaultError::NotFound { kind, id })?;
        Ok(doc.ops_since(since))
    }

    /// Adds an audit entry, written with the transaction.
    pub fn audit(
        &mut self,
        now_ms: u64,
        action: AuditAction,
        record: Option<(RecordKind, RecordId)>,
    ) {
        self.audit.push((now_ms, action, record));
    }

    /// Writes the audit entries, the clock and the manifest, reseals the vault state and
    /// commits: on disk when this returns.
    pub fn commit(self) -> Result<(), WriteError> {
        let Tx {
            session,
            txn,
            manifest,
            audit,
            listed,
        } = self;
        let actor = session.user.username.clone();
        let items = audit
            .into_iter()
            .map(|(at, action, record)| (at, actor.as_str(), action, record))
            .collect();
        append_audit_many(&txn, Some(&session.keys.audit), items)?;
        write_meta(&txn, meta::CLOCK, &session.clock.last())?;
        session.manifest = manifest;
        session.commit(txn)?;
        session.listed.apply(listed);
        Ok(())
    }
}

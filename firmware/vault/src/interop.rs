//! Primero JSON in and out of the vault: an import applies each record's fields to what the
//! vault holds (only the fields the file carries change), validated as it will be saved, in one
//! transaction; an export gives each record as its document holds it.

use crate::error::{ReadError, WriteError};

use fieldkit_domain::primero::{self, BadField, BadRecords, Incoming};
use fieldkit_domain::{Date, DocError, Document, RecordKind};

use crate::audit::AuditAction;
use crate::error::{Result, VaultError};
use crate::records::apply_all;
use crate::session::Session;
use crate::tx::{Changed, Tx};

impl Session {
    /// Imports records read from a Primero file ([`primero::read`]): each changes only the
    /// fields the file carries (a record already here keeps every other field), keeping
    /// Primero's own values. Every record is validated as it will be saved; if any is bad,
    /// nothing is imported and every problem is reported by the record's position in the
    /// file. One transaction, with the import's audit entry. Returns how many records are new
    /// or changed.
    pub fn import_primero(
        &mut self,
        records: &[Incoming],
        now_ms: u64,
    ) -> Result<usize, WriteError> {
        let mut tx = self.begin()?;
        let changed = tx
            .import_primero(records, Vec::new(), now_ms, &mut |_| {})?
            .len();
        tx.commit()?;
        Ok(changed)
    }

    /// Every record of a kind as Primero's bulk export writes it (`{"id": …, "data": {…}}`):
    /// only the fields each record holds, with the values it was given. Audited as a bulk
    /// read; the caller audits the plaintext export itself ([`Session::audit_plain_export`]).
    pub fn all_primero(
        &mut self,
        kind: RecordKind,
        now_ms: u64,
    ) -> Result<Vec<serde_json::Value>, ReadError> {
        let docs = self.documents_read(kind, now_ms)?;
        Ok(docs
            .into_iter()
            .map(|(doc, _)| primero::export(doc.to_json()))
            .collect())
    }
}

impl Tx<'_> {
    /// [`Session::import_primero`] inside a transaction: returns the records new or changed
    /// (a record the file carries as the vault holds it writes nothing, so importing a file
    /// twice changes nothing the second time). `bad` holds what earlier checks found wrong in
    /// the file (records left out of `records` for it): the records are checked all the same,
    /// and every problem is reported together, in the file's order, once each.
    /// `progress` hears how many records of the file were read and checked so far.
    pub fn import_primero(
        &mut self,
        records: &[Incoming],
        mut bad: Vec<BadField>,
        now_ms: u64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Changed>, WriteError> {
        let today = Date::from_unix_ms(now_ms);
        // A field an earlier check named is not named again for the same record.
        let named: std::collections::HashSet<(usize, String)> =
            bad.iter().map(|b| (b.position, b.field.clone())).collect();
        let mut docs = Vec::with_capacity(records.len());
        let stamp = self.session.clock.tick(now_ms);
        for (done, r) in records.iter().enumerate() {
            let (kind, id) = (r.kind, r.id);
            self.session.keys.record_key(kind)?;
            let mut doc = match self.session.load_w(&self.txn, kind, id)? {
                Some((doc, _)) => doc,
                None => Document::new(kind, id),
            };
            let ops = match doc.patch(&r.data, || stamp) {
                Ok(ops) => ops,
                Err(e) => {
                    // Named with every other problem of the file, like a bad field.
                    let (field, message) = match e {
                        DocError::MissingUniqueId(form) => (
                            form,
                            "an entry has no unique_id, and this record's entries here are \
                             matched by it: give the entry its unique_id"
                                .to_string(),
                        ),
                        other => ("data".to_string(), other.to_string()),
                    };
                    bad.push(BadField {
                        position: r.position,
                        field,
                        message,
                    });
                    progress(done + 1);
                    continue;
                }
            };
            apply_all(&mut doc, &ops)?;
            match doc.to_record() {
                Ok(record) => bad.extend(
                    primero::validate(r.position, &record, today)
                        .into_iter()
                        .filter(|b| !named.contains(&(b.position, b.field.clone()))),
                ),
                Err(e) => bad.push(BadField {
                    position: r.position,
                    field: "data".into(),
                    message: e.to_string(),
                }),
            }
            docs.push(doc);
            progress(done + 1);
        }
        if !bad.is_empty() {
            // In the file's order (each record's problems in the order found).
            bad.sort_by_key(|b| b.position);
            return Err(VaultError::BadImport(BadRecords(bad)).into());
        }
        let changed = self.merge(&docs, now_ms)?;
        self.audit(
            now_ms,
            AuditAction::Import {
                records: u32::try_from(records.len()).unwrap_or(u32::MAX),
                format: "primero-json".into(),
            },
            None,
        );
        Ok(changed)
    }
}

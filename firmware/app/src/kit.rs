//! [`Kit`]: an unlocked kit and everything a caseworker does with it.

use fieldkit_domain::lookups::Lookups;
use fieldkit_domain::{
    Case, Date, Document, LocationTree, Op, PotentialMatch, Record, RecordId, RecordKind, SUBFORMS,
    risk_rank, status,
};
use fieldkit_match::matcher::MatchSettings;
use fieldkit_match::profile::Locations;
use fieldkit_match::triage::{Triage, TriageRules, UrgentAlert};
use fieldkit_vault::{Changed, Opened, Session, Tx, Vault, VaultError, WriteError};
use serde_json::{Map, Value};

use crate::error::{OpenError, SaveError};
use crate::index::{IndexBuilder, MatchIndex};
use crate::outbox::{Change, NoOutbox, Origin, Outbox, Priority};
use crate::review::MatchBook;

/// What a kit is configured with besides its vault.
#[derive(Debug, Clone)]
pub struct KitConfig {
    /// The location hierarchy (without it a code's dash-separated prefixes are its parents).
    pub locations: Option<LocationTree>,
    /// The triage rules in force.
    pub triage: TriageRules,
    /// Matching thresholds and weights.
    pub matching: MatchSettings,
    /// The lookup lists select fields are checked against (shipped lists by default).
    pub lookups: Lookups,
}

impl Default for KitConfig {
    fn default() -> Self {
        KitConfig {
            locations: None,
            triage: TriageRules::default_rules(),
            matching: MatchSettings::default(),
            lookups: Lookups::shipped(),
        }
    }
}

/// Something the caseworker must see at once.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
pub enum Alert {
    /// Triage found an urgent protection concern.
    Urgent(UrgentAlert),
    /// The matcher proposes a likely match: review it first.
    LikelyMatch {
        /// The potential match's id.
        match_id: RecordId,
        /// The case.
        case_id: RecordId,
        /// The tracing request.
        tracing_request_id: RecordId,
        /// The trace.
        trace_id: String,
    },
    /// A pending match proposed as likely is possible now: another case scores as well against
    /// the trace (a namesake, or the child registered twice), so the two must be told apart
    /// before anyone acts on either (a caseworker may already have been told it was likely).
    MatchNoLongerLikely {
        /// The potential match's id.
        match_id: RecordId,
        /// The case.
        case_id: RecordId,
        /// The tracing request.
        tracing_request_id: RecordId,
        /// The trace.
        trace_id: String,
    },
}

/// What saving one record did.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record.
    pub id: RecordId,
    /// Its version now.
    pub version: u64,
    /// Field operations written (0: nothing changed).
    pub fields_changed: usize,
    /// The triage of a case (registration, edit, merge): what the rules found.
    pub triage: Option<Triage>,
    /// A case's risk level as saved: the rules' level, or a higher one the caseworker gave.
    pub risk_level: Option<String>,
    /// Alerts raised by this save.
    pub alerts: Vec<Alert>,
    /// Potential matches proposed or re-proposed by this save (pending review), best first.
    pub matches: Vec<PotentialMatch>,
}

/// What a merge, an import or a sync delivery did.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Records new or changed.
    pub changed: usize,
    /// Alerts raised.
    pub alerts: Vec<Alert>,
    /// Potential matches proposed or re-proposed, best first.
    pub matches: Vec<PotentialMatch>,
    /// Photos put back by a bundle import (those its cases lacked).
    pub photos: usize,
}

/// An unlocked kit: the vault session, the location tree, the triage rules, the warm matcher
/// index and the potential matches. Every change a caseworker, an import or sync makes goes
/// through it, so each is validated, triaged, matched and handed to the sync outbox alike.
///
/// **Transactions.** Each call that writes is one vault transaction ([`Tx`]): a registration
/// saves the record, its potential matches, their audit entries and the outbox entries
/// together, with one commit (one fsync, one reseal of the vault state), or nothing at all.
/// The same holds for an edit, a review decision (the trace, the case and the decision), a
/// merge and an import (the records received, the kit's triage of them and the matches).
pub struct Kit {
    session: Session,
    state: State,
}

/// Where the kit's matcher index came from when it was made ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSource {
    /// Built from every case and tracing request of the vault.
    Built,
    /// The vault's snapshot of the index, with the records changed since it was taken
    /// (`reread`) read and taken in.
    Snapshot {
        /// Records read because they changed since the snapshot.
        reread: usize,
    },
}

/// Changes (records re-read at sign-in, plus transactions since) after which a new snapshot of
/// the index is due: reading that many records at each sign-in costs about what writing a
/// snapshot does (~0.1 ms each against ~0.2 s for 50,000 records).
const SNAPSHOT_AFTER_CHANGES: usize = 256;

/// What the kit holds in memory beside the session.
pub(crate) struct State {
    pub(crate) config: KitConfig,
    pub(crate) index: MatchIndex,
    source: IndexSource,
    /// Records re-read at sign-in plus transactions committed since the snapshot (or
    /// `usize::MAX` when there is none usable).
    changes_since_snapshot: usize,
    pub(crate) book: MatchBook,
    outbox: Box<dyn Outbox>,
    /// The index or the book took in a change whose transaction did not commit: rebuilt from
    /// the vault before the next write returns.
    pub(crate) stale: bool,
}

/// One vault transaction's work: the transaction and the kit's memory.
pub(crate) struct Work<'k, 's> {
    pub(crate) tx: Tx<'s>,
    pub(crate) st: &'k mut State,
}

impl std::fmt::Debug for Kit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kit")
            .field("session", &self.session)
            .field("cases_indexed", &self.state.index.case_count())
            .field("traces_indexed", &self.state.index.trace_count())
            .field("potential_matches", &self.state.book.len())
            .finish_non_exhaustive()
    }
}

/// The location lookup of a configuration.
fn locations(tree: Option<&LocationTree>) -> Locations<'_> {
    tree.map_or(Locations::CodePrefixes, Locations::Tree)
}

/// The date field a new record of `kind` gets today's date in.
fn date_field(kind: RecordKind) -> Option<&'static str> {
    match kind {
        RecordKind::Case => Some("registration_date"),
        RecordKind::TracingRequest => Some("inquiry_date"),
        RecordKind::Incident => Some("date_of_first_report"),
        RecordKind::PotentialMatch => None,
    }
}

pub(crate) fn not_found(e: impl Into<VaultError>) -> SaveError {
    match e.into() {
        VaultError::NotFound { kind, id } => SaveError::NotFound { kind, id },
        other => SaveError::Vault(other),
    }
}

impl Kit {
    /// Takes a signed-in session and makes the kit ready: reads every case, tracing request
    /// and potential match once, and builds the warm matcher index. `now_ms` dates ages.
    pub fn open(session: Session, config: KitConfig, now_ms: u64) -> Result<Kit, OpenError> {
        let mut session = session;
        let today = Date::from_unix_ms(now_ms);
        let (index, source) = open_index(&mut session, config.locations.as_ref(), today, now_ms)?;
        let book = MatchBook::load(&mut session, now_ms)?;
        Ok(Kit {
            session,
            state: State {
                config,
                index,
                source,
                changes_since_snapshot: match source {
                    IndexSource::Built => usize::MAX,
                    IndexSource::Snapshot { reread } => reread,
                },
                book,
                outbox: Box::new(NoOutbox),
                stale: false,
            },
        })
    }

    /// Sets the sync outbox that receives every saved change.
    pub fn set_outbox(&mut self, outbox: Box<dyn Outbox>) {
        self.state.outbox = outbox;
    }

    /// Signs out: the keys are zeroized and the locked vault returned. A snapshot of the index
    /// is saved first when one is due ([`Kit::save_index_snapshot_if_due`]), so the next
    /// sign-in is ready sooner, and so are the name search's term sets when enough were opened
    /// (`Session::save_search_terms`: the next session's first search need not open them one
    /// by one); a failure to save either is logged, never fatal.
    pub fn lock(mut self) -> Vault {
        // A stale index (a failed save not yet repaired) is not worth keeping.
        if self.index_snapshot_due()
            && !self.state.stale
            && let Err(e) = self.write_index_snapshot()
        {
            tracing::warn!(error = %e, "the matcher index snapshot was not saved");
        }
        if self.session.search_terms_due()
            && let Err(e) = self.session.save_search_terms()
        {
            tracing::warn!(error = %e, "the search term sets were not saved");
        }
        self.session.lock()
    }

    /// Where the index came from when the kit was made ready.
    pub fn index_source(&self) -> IndexSource {
        self.state.source
    }

    /// True when the vault holds no usable snapshot of the index, or enough changed since it
    /// was taken that a new one pays (`SNAPSHOT_AFTER_CHANGES`).
    pub fn index_snapshot_due(&self) -> bool {
        self.state.changes_since_snapshot >= SNAPSHOT_AFTER_CHANGES
    }

    /// Saves a snapshot of the index in the vault (one commit, sealed; see the `snapshot`
    /// module) when one is due. Returns whether it saved one.
    pub fn save_index_snapshot_if_due(&mut self, now_ms: u64) -> Result<bool, VaultError> {
        if !self.index_snapshot_due() {
            return Ok(false);
        }
        self.save_index_snapshot(now_ms)?;
        Ok(true)
    }

    /// Saves a snapshot of the index in the vault now (one commit). A one-shot command or the
    /// next sign-in then starts from it instead of reading every record.
    pub fn save_index_snapshot(&mut self, now_ms: u64) -> Result<(), VaultError> {
        if self.state.stale {
            self.resync(now_ms);
            if self.state.stale {
                return Ok(());
            }
        }
        self.write_index_snapshot()
    }

    fn write_index_snapshot(&mut self) -> Result<(), VaultError> {
        let cases = self.session.versions(RecordKind::Case)?;
        let requests = self.session.versions(RecordKind::TracingRequest)?;
        let digest = crate::snapshot::locations_digest(self.state.config.locations.as_ref());
        let index = &self.state.index;
        self.session
            .write_cache_with(crate::snapshot::NAME, |w| {
                crate::snapshot::write(index, &digest, &cases, &requests, &mut |c| w.chunk(c))
            })
            .map_err(VaultError::from)?;
        self.state.changes_since_snapshot = 0;
        Ok(())
    }

    /// The vault session, for reads (show, list, search, audit).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The vault session, for audited reads and administration. Writing records through it
    /// bypasses triage and matching: use the kit's own methods for that.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The configuration.
    pub fn config(&self) -> &KitConfig {
        &self.state.config
    }

    /// The warm matcher index.
    pub fn index(&self) -> &MatchIndex {
        &self.state.index
    }

    pub(crate) fn book(&self) -> &MatchBook {
        &self.state.book
    }

    /// Rebuilds the matcher index from the vault (a new day, or a self-check).
    pub fn rebuild_index(&mut self, now_ms: u64) -> Result<(), OpenError> {
        let today = Date::from_unix_ms(now_ms);
        self.state.index = build_index(
            &mut self.session,
            self.state.config.locations.as_ref(),
            today,
            now_ms,
        )?;
        Ok(())
    }

    /// Compacts the matcher index (a background job; see [`MatchIndex::compact`]).
    pub fn compact_index(&mut self) {
        self.state.index.compact();
    }

    /// A new index built from the vault, as sign-in builds it (to compare with the warm one).
    pub fn fresh_index(&mut self, now_ms: u64) -> Result<MatchIndex, OpenError> {
        build_index(
            &mut self.session,
            self.state.config.locations.as_ref(),
            self.state.index.today(),
            now_ms,
        )
    }

    /// Runs `work` in one vault transaction and commits it. When it fails after the index or
    /// the book took in its changes, they are rebuilt from the vault (what did not commit is
    /// not there).
    pub(crate) fn write<T, E: From<WriteError>>(
        &mut self,
        now_ms: u64,
        work: impl FnOnce(&mut Work<'_, '_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let result = match self.session.begin() {
            Err(e) => Err(E::from(e)),
            Ok(tx) => {
                let mut w = Work {
                    tx,
                    st: &mut self.state,
                };
                // Dropping an uncommitted transaction aborts it.
                work(&mut w).and_then(|v| w.tx.commit().map(|()| v).map_err(E::from))
            }
        };
        if result.is_ok() {
            self.state.stale = false;
            self.state.changes_since_snapshot = self.state.changes_since_snapshot.saturating_add(1);
        } else if self.state.stale {
            self.resync(now_ms);
        }
        result
    }

    /// Rebuilds the index and the book from the vault after a transaction that did not commit.
    fn resync(&mut self, now_ms: u64) {
        let rebuilt = self.rebuild_index(now_ms).map_err(|e| match e {
            OpenError::Vault(v) => v,
        });
        match rebuilt.and_then(|()| MatchBook::load(&mut self.session, now_ms)) {
            Ok(book) => {
                self.state.book = book;
                self.state.stale = false;
            }
            Err(e) => {
                tracing::error!(error = %e, "the matcher index could not be rebuilt after a failed save; retrying at the next save");
            }
        }
    }

    /// Registers a new record from its fields (a flat JSON object with Primero's names):
    /// mints the id, gives subform entries their `unique_id`, fills the registration date,
    /// `status: open` and the owner, validates, triages a case (risk level and urgent flag are
    /// saved with it: the kit is the record's author; a higher level the caseworker gave is
    /// kept), saves, matches it against the kit's
    /// records, saves the potential matches, and hands each record written to the outbox, all
    /// in one transaction.
    pub fn register(
        &mut self,
        kind: RecordKind,
        fields: Map<String, Value>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        if kind == RecordKind::PotentialMatch {
            return Err(SaveError::NotApplicable(
                "potential matches are made by the matcher, not registered".into(),
            ));
        }
        let mut o = fields;
        self.state.config.lookups.tidy(kind, &mut o)?;
        assign_unique_ids(&self.session, &mut o, now_ms)?;
        let id = self.session.mint_id(now_ms)?;
        o.insert("id".into(), Value::String(id.to_string()));
        let today = Date::from_unix_ms(now_ms);
        if let Some(f) = date_field(kind) {
            o.entry(f).or_insert(Value::String(today.to_string()));
        }
        o.entry("status")
            .or_insert(Value::String(status::OPEN.into()));
        o.entry("owned_by")
            .or_insert(Value::String(self.session.caseworker().username.clone()));
        let mut record = Record::from_json(kind, Value::Object(o))
            .map_err(|e| SaveError::Fields(e.to_string()))?;
        record.validate(today)?;
        // The rules' level, or the caseworker's when it is higher (triage raises, never
        // lowers, as on an edit).
        let triage = match &mut record {
            Record::Case(c) => Some(retriage(&self.state.config.triage, c, today)),
            _ => None,
        };
        let risk_level = match &record {
            Record::Case(c) => c.risk_level.clone(),
            _ => None,
        };
        self.write(now_ms, |w| {
            let saved = w.tx.create(&record, now_ms)?;
            let mut alerts = Vec::new();
            if let Some(a) = triage.as_ref().and_then(|t| t.urgent_alert(id)) {
                alerts.push(Alert::Urgent(a));
            }
            w.notify(kind, id, saved.version, priority(&alerts), Origin::Local);
            let matches = w.rematch(&record, now_ms, &mut alerts)?;
            Ok(Saved {
                kind,
                id,
                version: saved.version,
                fields_changed: saved.ops,
                triage,
                risk_level,
                alerts,
                matches,
            })
        })
    }

    /// Opens a record (audited read).
    pub fn open_record(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
    ) -> Result<Opened, SaveError> {
        self.session.get(kind, id, now_ms).map_err(not_found)
    }

    /// Saves an edited record: `edited` is the whole record as a flat JSON object (the shape
    /// [`Opened::record`]'s `to_json` gives). New subform entries get their `unique_id`. The
    /// record is validated, triaged (a triage never lowers a level already set and never clears
    /// the urgent flag), matched again, and handed to the outbox, in one transaction.
    pub fn edit(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: Map<String, Value>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        let mut edited = edited;
        self.state.config.lookups.tidy(kind, &mut edited)?;
        self.write(now_ms, |w| w.edit(kind, id, edited, now_ms))
    }

    /// Edits a record by changing some of its fields: `change` gets the stored record as a
    /// flat JSON object (its document's, with the values as they were given) and changes it.
    /// The select fields it changed are checked against the lookup lists, as a registration's
    /// are (saved as the list's id, or refused with the closest value suggested); fields it left
    /// alone are saved as they are, whatever list their values came from. Read and save are
    /// one transaction.
    pub fn change(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), SaveError>,
    ) -> Result<Saved, SaveError> {
        self.write(now_ms, |w| w.change_checked(kind, id, now_ms, true, change))
    }

    /// Merges documents received from another kit or the hub: what other kits recorded is
    /// never dropped (no validation); each changed case is triaged (a raised level is kept
    /// beside the record, see [`Kit::import_primero`]), every changed record is matched, and
    /// the changes go to the outbox as received. One transaction.
    pub fn merge(&mut self, docs: &[Document], now_ms: u64) -> Result<Merged, SaveError> {
        self.write(now_ms, |w| {
            let changed = w.tx.merge(docs, now_ms)?;
            w.after_merge(&changed, now_ms, &mut |_| {})
        })
    }

    /// Applies field operations received by sync (as [`Kit::merge`]).
    pub fn apply_ops(&mut self, ops: &[Op], now_ms: u64) -> Result<Merged, SaveError> {
        self.write(now_ms, |w| {
            let changed = w.tx.apply_ops(ops, now_ms)?;
            w.after_merge(&changed, now_ms, &mut |_| {})
        })
    }

    /// Imports records read from a Primero file (`fieldkit_domain::primero::read`). See
    /// [`Kit::import_primero_with_progress`].
    pub fn import_primero(
        &mut self,
        records: &[fieldkit_domain::primero::Incoming],
        now_ms: u64,
    ) -> Result<Merged, SaveError> {
        self.import_primero_with_progress(records, now_ms, &mut |_, _| {})
    }

    /// Imports records read from a Primero file: the vault changes only the fields the file
    /// carries and validates every record (all or nothing); then each record new or changed
    /// is triaged and matched like any other change, in the same transaction. A record the
    /// file carries as the vault holds it is not written, triaged or reported again, so
    /// importing a file twice changes nothing the second time.
    ///
    /// **Triage is kept beside the Primero record.** An imported case is someone else's
    /// record: Primero's `risk_level` and `urgent_protection_concern` are what its
    /// caseworkers decided, and the file must come back out exactly as it went in. So the
    /// kit's triage goes to its own fields, `fieldkit_risk_level` and `fieldkit_urgent`
    /// (raised, never lowered), which lists, counts and alerts read together with Primero's
    /// ([`Case::effective_risk_level`], [`Case::is_urgent`]), which sync carries to other kits
    /// like any field, and which a Primero export leaves out. Records the kit authors
    /// (registration, an edit on the kit) carry the triage in Primero's own fields.
    ///
    /// `progress(done, total)` is called as the work advances: `total` is twice the number of
    /// records (each is read and checked, then triaged and matched).
    pub fn import_primero_with_progress(
        &mut self,
        records: &[fieldkit_domain::primero::Incoming],
        now_ms: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Merged, SaveError> {
        self.import_checked(records, Vec::new(), now_ms, progress)
    }

    /// Imports a Primero file as [`fieldkit_domain::primero::read_all`] read it: when some of
    /// its records have fields of the wrong type (`file.bad`), the others are still checked
    /// (lookup values, and each record as it would be saved) so that the refusal names every
    /// bad record of the file at once; nothing is imported then. See
    /// [`Kit::import_primero_with_progress`].
    pub fn import_primero_file(
        &mut self,
        file: &fieldkit_domain::primero::ReadFile,
        now_ms: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Merged, SaveError> {
        self.import_checked(&file.records, file.bad.clone(), now_ms, progress)
    }

    fn import_checked(
        &mut self,
        records: &[fieldkit_domain::primero::Incoming],
        mut bad: Vec<fieldkit_domain::primero::BadField>,
        now_ms: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Merged, SaveError> {
        let (records, unknown) = crate::input::tidy_records(&self.state.config.lookups, records);
        bad.extend(unknown);
        let records = &records;
        let n = records.len();
        let total = 2 * n;
        self.write(now_ms, |w| {
            let changed =
                w.tx.import_primero(records, bad, now_ms, &mut |done| progress(done, total))?;
            let m = changed.len().max(1);
            let merged = w.after_merge(&changed, now_ms, &mut |done| {
                progress(n + done * n / m, total);
            })?;
            progress(total, total);
            Ok(merged)
        })
    }

    /// Imports an encrypted bundle of this vault (a backup, or another kit of the same
    /// vault). The bundle does not say which records changed, so the index is rebuilt and
    /// every trace matched again.
    pub fn import_bundle(&mut self, bytes: &[u8], now_ms: u64) -> Result<Merged, SaveError> {
        self.import_bundle_from(std::io::Cursor::new(bytes), now_ms)
    }

    /// [`Kit::import_bundle`] from a reader (a bundle file, read as a stream: a vault's photos
    /// are never held all at once).
    pub fn import_bundle_from<R: std::io::Read + std::io::Seek>(
        &mut self,
        input: R,
        now_ms: u64,
    ) -> Result<Merged, SaveError> {
        let imported = self.session.import_bundle_from(input, now_ms)?;
        self.state.book = MatchBook::load(&mut self.session, now_ms)?;
        self.rebuild_index(now_ms).map_err(|e| match e {
            OpenError::Vault(v) => SaveError::Vault(v),
        })?;
        let mut out = self.rematch_all(now_ms)?;
        out.changed = imported.records;
        out.photos = imported.photos;
        Ok(out)
    }

    /// Matches every held trace against every held case again and saves what is new (the
    /// daily match run: name frequencies move as records come and go, so a pair can come to
    /// score differently without either record changing). One transaction.
    pub fn rematch_all(&mut self, now_ms: u64) -> Result<Merged, SaveError> {
        self.write(now_ms, |w| {
            let mut out = Merged::default();
            for r in w.st.index.request_ids() {
                let found = w.st.index.matches_of_request(r, &w.st.config.matching);
                let affected = w.st.book.of_request(r);
                let found = w.persist(found, affected, now_ms, &mut out.alerts)?;
                out.matches.extend(found);
            }
            out.matches.sort_by(|a, b| b.score.total_cmp(&a.score));
            Ok(out)
        })
    }

    /// Closes a case: `status: closed`, the reason and the day (today when not given). A
    /// closed case is never proposed as a match.
    pub fn close_case(
        &mut self,
        id: RecordId,
        reason: &str,
        on: Option<Date>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SaveError::NotApplicable(
                "give the closure reason (closure_reason)".into(),
            ));
        }
        let day = on.unwrap_or(Date::from_unix_ms(now_ms));
        self.change(RecordKind::Case, id, now_ms, |o| {
            if o.get("status").and_then(Value::as_str) == Some(status::CLOSED) {
                return Err(SaveError::NotApplicable(format!(
                    "case {id} is already closed"
                )));
            }
            o.insert("status".into(), Value::String(status::CLOSED.into()));
            o.insert("closure_reason".into(), Value::String(reason.into()));
            o.insert("date_closure".into(), Value::String(day.to_string()));
            Ok(())
        })
    }

    /// Reopens a closed case: it may be proposed as a match again, and is matched at once.
    pub fn reopen_case(&mut self, id: RecordId, now_ms: u64) -> Result<Saved, SaveError> {
        self.change(RecordKind::Case, id, now_ms, |o| {
            if o.get("status").and_then(Value::as_str) != Some(status::CLOSED) {
                return Err(SaveError::NotApplicable(format!("case {id} is not closed")));
            }
            o.insert("status".into(), Value::String(status::OPEN.into()));
            o.remove("closure_reason");
            o.remove("date_closure");
            Ok(())
        })
    }

    /// Assigns a case to caseworkers (`assigned_user_names`, replacing the list; names are
    /// trimmed, and a list with no name is refused).
    pub fn assign_case(
        &mut self,
        id: RecordId,
        users: &[String],
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        let users: Vec<Value> = users
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .map(|u| Value::String(u.to_string()))
            .collect();
        if users.is_empty() {
            return Err(SaveError::NotApplicable(
                "give at least one caseworker's user name to assign the case to".into(),
            ));
        }
        self.change(RecordKind::Case, id, now_ms, |o| {
            o.insert("assigned_user_names".into(), Value::Array(users));
            Ok(())
        })
    }

    /// Adds an entry to a case's subform (`followup_subform_section`, `services_section`):
    /// `entry` holds its fields; it gets a fresh `unique_id`.
    pub fn add_case_entry(
        &mut self,
        id: RecordId,
        subform: &str,
        entry: Map<String, Value>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        if !["followup_subform_section", "services_section"].contains(&subform) {
            return Err(SaveError::NotApplicable(format!(
                "`{subform}` is not a follow-up or service subform"
            )));
        }
        let mut entry = entry;
        entry.insert(
            "unique_id".into(),
            Value::String(self.session.mint_id(now_ms)?.to_string()),
        );
        self.change(RecordKind::Case, id, now_ms, |o| {
            let list = o.entry(subform).or_insert_with(|| Value::Array(Vec::new()));
            match list {
                Value::Array(items) => items.push(Value::Object(entry)),
                _ => *list = Value::Array(vec![Value::Object(entry)]),
            }
            Ok(())
        })
    }
}

/// True when a stored case (its document's JSON) is urgent: marked by a caseworker or by
/// triage, Primero's flag or the kit's ([`Case::is_urgent`]).
fn is_urgent(stored: Value) -> bool {
    Record::from_json(RecordKind::Case, stored)
        .ok()
        .is_some_and(|r| matches!(r, Record::Case(c) if c.is_urgent()))
}

/// A case's status changed by an edit keeps the closure fields as [`Kit::close_case`] and
/// [`Kit::reopen_case`] do: closing needs a `closure_reason` and dates `date_closure` today
/// when the edit gives no day; reopening clears both.
fn closure(
    before: &Map<String, Value>,
    after: &mut Map<String, Value>,
    today: Date,
) -> Result<(), SaveError> {
    let closed =
        |o: &Map<String, Value>| o.get("status").and_then(Value::as_str) == Some(status::CLOSED);
    match (closed(before), closed(after)) {
        (false, true) => {
            let reason = after
                .get("closure_reason")
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or_default();
            if reason.is_empty() {
                return Err(SaveError::NotApplicable(
                    "a case is closed with its reason: give closure_reason (reunified, transferred, ...)".into(),
                ));
            }
            after
                .entry("date_closure")
                .or_insert_with(|| Value::String(today.to_string()));
        }
        (true, false) => {
            after.remove("closure_reason");
            after.remove("date_closure");
        }
        _ => {}
    }
    Ok(())
}

/// Gives every subform entry without a `unique_id` a fresh one. Only Primero's subforms
/// ([`SUBFORMS`]): another array of objects (Primero's attachment objects, a follow-up
/// history) is one value, kept as it came, with no id invented in its entries.
fn assign_unique_ids(
    session: &Session,
    o: &mut Map<String, Value>,
    now_ms: u64,
) -> Result<(), SaveError> {
    for (name, v) in o.iter_mut() {
        if !SUBFORMS.contains(&name.as_str()) {
            continue;
        }
        let Value::Array(items) = v else { continue };
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if item
                .get("unique_id")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                let uid = session.mint_id(now_ms)?.to_string();
                item.insert("unique_id".into(), Value::String(uid));
            }
        }
    }
    Ok(())
}

/// Triage on an edit on the kit: the rules' level when it is higher than the one set, the
/// urgent flag when the rules raise it; never lower. Written in Primero's own fields.
fn retriage(rules: &TriageRules, c: &mut Case, today: Date) -> Triage {
    let t = rules.assess(c, today);
    if risk_rank(Some(t.level.as_str())) > risk_rank(c.risk_level.as_deref()) {
        c.risk_level = Some(t.level.as_str().to_string());
    }
    if t.urgent_alert(c.id).is_some() {
        c.urgent_protection_concern = true;
    }
    t
}

/// Triage of a case the kit received (import, sync): the rules' level goes to
/// `fieldkit_risk_level` when it is higher than what the case shows (Primero's level or the
/// kit's), the urgent flag to `fieldkit_urgent`; never lower. Primero's fields are untouched
/// (see [`Kit::import_primero_with_progress`]).
fn triage_received(rules: &TriageRules, c: &mut Case, today: Date) -> Triage {
    let t = rules.assess(c, today);
    if risk_rank(Some(t.level.as_str())) > risk_rank(c.effective_risk_level()) {
        c.fieldkit_risk_level = Some(t.level.as_str().to_string());
    }
    if t.urgent_alert(c.id).is_some() && !c.is_urgent() {
        c.fieldkit_urgent = true;
    }
    t
}

impl Work<'_, '_> {
    /// Hands a record written in this transaction to the outbox, which writes its entry in
    /// the same transaction. A failing outbox is logged, never fatal (the record is saved;
    /// sync finds it again by its stamps).
    pub(crate) fn notify(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        version: u64,
        priority: Priority,
        origin: Origin,
    ) {
        let change = Change {
            kind,
            id,
            version,
            priority,
            origin,
        };
        if let Err(e) = self.st.outbox.changed(&mut self.tx, &change) {
            tracing::warn!(kind = %kind, id = %id, error = %e, "sync outbox refused a change");
        }
    }

    /// [`Kit::edit`] inside this transaction.
    fn edit(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: Map<String, Value>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        let was_urgent = match kind {
            RecordKind::Case => {
                let (doc, _) = self.tx.get_document(kind, id, now_ms).map_err(not_found)?;
                Some(is_urgent(doc.to_json()))
            }
            _ => None,
        };
        self.edit_from(kind, id, edited, was_urgent, now_ms)
    }

    /// [`Work::edit`] of a record whose stored form is known: `was_urgent` says whether the
    /// case was urgent before this edit (an urgent alert, and the urgent priority for sync, is
    /// news only when the edit makes it urgent).
    fn edit_from(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: Map<String, Value>,
        was_urgent: Option<bool>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        let mut o = edited;
        assign_unique_ids(self.tx.session(), &mut o, now_ms)?;
        o.insert("id".into(), Value::String(id.to_string()));
        let today = Date::from_unix_ms(now_ms);
        let mut record = Record::from_json(kind, Value::Object(o.clone()))
            .map_err(|e| SaveError::Fields(e.to_string()))?;
        record.validate(today)?;
        let triage = match &mut record {
            Record::Case(c) => {
                let before = (c.risk_level.clone(), c.urgent_protection_concern);
                let t = retriage(&self.st.config.triage, c, today);
                // Only what triage raised changes; every other field is saved as given.
                if c.risk_level != before.0
                    && let Some(level) = &c.risk_level
                {
                    o.insert("risk_level".into(), Value::String(level.clone()));
                }
                if c.urgent_protection_concern && !before.1 {
                    o.insert("urgent_protection_concern".into(), Value::Bool(true));
                }
                Some(t)
            }
            _ => None,
        };
        let saved = self
            .tx
            .update(kind, id, &Value::Object(o), now_ms)
            .map_err(not_found)?;
        let mut alerts = Vec::new();
        if was_urgent != Some(true)
            && saved.ops > 0
            && let Some(a) = triage.as_ref().and_then(|t| t.urgent_alert(id))
        {
            alerts.push(Alert::Urgent(a));
        }
        let mut matches = Vec::new();
        if saved.ops > 0 {
            self.notify(kind, id, saved.version, priority(&alerts), Origin::Local);
            matches = self.rematch(&record, now_ms, &mut alerts)?;
        }
        let risk_level = match &record {
            Record::Case(c) => c.risk_level.clone(),
            _ => None,
        };
        Ok(Saved {
            kind,
            id,
            version: saved.version,
            fields_changed: saved.ops,
            triage,
            risk_level,
            alerts,
            matches,
        })
    }

    /// [`Kit::change`] inside this transaction, without the lookup check: for the kit's own
    /// changes (a review's links), which set no select field.
    pub(crate) fn change(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), SaveError>,
    ) -> Result<Saved, SaveError> {
        self.change_checked(kind, id, now_ms, false, change)
    }

    /// [`Kit::change`] inside this transaction; `lookups`: check the select fields changed.
    fn change_checked(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
        lookups: bool,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), SaveError>,
    ) -> Result<Saved, SaveError> {
        let (doc, _) = self.tx.get_document(kind, id, now_ms).map_err(not_found)?;
        let Value::Object(mut o) = doc.to_json() else {
            return Err(SaveError::Fields(
                "the stored record is not an object".into(),
            ));
        };
        let before = o.clone();
        change(&mut o)?;
        if lookups {
            crate::input::tidy_changed(&self.st.config.lookups, kind, &before, &mut o)?;
            if kind == RecordKind::Case {
                closure(&before, &mut o, Date::from_unix_ms(now_ms))?;
            }
        }
        let was_urgent = (kind == RecordKind::Case).then(|| is_urgent(Value::Object(before)));
        self.edit_from(kind, id, o, was_urgent, now_ms)
    }

    /// What follows a merge, an import or a sync delivery, for the records it wrote: each is
    /// read once, handed to the outbox as received, triaged (a case's raised level is saved
    /// beside it, [`triage_received`]) and matched. `progress` hears how many are done.
    fn after_merge(
        &mut self,
        changed: &[Changed],
        now_ms: u64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Merged, SaveError> {
        let mut out = Merged {
            changed: changed.len(),
            ..Merged::default()
        };
        if changed.is_empty() {
            return Ok(out);
        }
        let today = Date::from_unix_ms(now_ms);
        let wanted: Vec<(RecordKind, RecordId)> = changed
            .iter()
            .filter(|c| c.kind != RecordKind::Incident)
            .map(|c| (c.kind, c.id))
            .collect();
        // Confirmed matches are linked after every record of the batch is in the index, so a
        // side that arrives after its decision is linked too, and no record's own update
        // (read before the link) puts an already linked trace back in the index.
        let mut decided = Vec::new();
        // One audited bulk read of what changed.
        for (done, opened) in self.tx.get_many(&wanted, now_ms)?.into_iter().enumerate() {
            progress(done + 1);
            let (kind, id) = (opened.record.kind(), opened.record.id());
            self.notify(
                kind,
                id,
                opened.version,
                Priority::Routine,
                Origin::Received,
            );
            let conflicts = opened.conflicts;
            let mut record = opened.record;
            crate::input::warn_received(&self.st.config.lookups, &record);
            match &mut record {
                Record::Case(c) => {
                    let before = (c.fieldkit_risk_level.clone(), c.fieldkit_urgent);
                    let t = triage_received(&self.st.config.triage, c, today);
                    if (c.fieldkit_risk_level.clone(), c.fieldkit_urgent) != before {
                        let mut raised = Map::new();
                        if let Some(level) = &c.fieldkit_risk_level {
                            raised
                                .insert("fieldkit_risk_level".into(), Value::String(level.clone()));
                        }
                        if c.fieldkit_urgent {
                            raised.insert("fieldkit_urgent".into(), Value::Bool(true));
                        }
                        // A case received in parts (a kit's messages travel by priority) may
                        // not validate until the rest arrives: its triage is written then
                        // (every merge triages again). Refusing here would refuse the merge,
                        // and a hub would stop taking its kits' frames.
                        let saved = match self.tx.patch(kind, id, &raised, now_ms) {
                            Ok(saved) => Some(saved),
                            Err(WriteError::Invalid(_)) => {
                                tracing::info!(%id, "triage of a received case waits for the rest of it");
                                None
                            }
                            Err(e) => return Err(e.into()),
                        };
                        if let Some(saved) = saved {
                            let urgent = if c.fieldkit_urgent && !before.1 {
                                t.urgent_alert(id)
                            } else {
                                None
                            };
                            let priority = if urgent.is_some() {
                                Priority::Urgent
                            } else {
                                Priority::Routine
                            };
                            self.notify(kind, id, saved.version, priority, Origin::Local);
                            if let Some(a) = urgent {
                                out.alerts.push(Alert::Urgent(a));
                            }
                        }
                    }
                }
                Record::PotentialMatch(m) => {
                    self.st.stale = true;
                    self.st.book.insert_opened(*m.clone(), &conflicts);
                    decided.push(m.id);
                    continue;
                }
                _ => {}
            }
            let found = self.rematch(&record, now_ms, &mut out.alerts)?;
            out.matches.extend(found);
        }
        for id in decided {
            if let Some(m) = self.st.book.get(id).cloned() {
                self.link_received(&m, now_ms, &mut out.alerts)?;
            }
        }
        out.matches.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
    }

    /// Updates the index with a saved record and matches it: proposals are saved as potential
    /// matches; pending matches of the record that no longer score are rescored.
    pub(crate) fn rematch(
        &mut self,
        record: &Record,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<Vec<PotentialMatch>, SaveError> {
        let locs = locations(self.st.config.locations.as_ref());
        let settings = &self.st.config.matching;
        let (found, affected) = match record {
            Record::Case(c) => {
                self.st.stale = true;
                // The margin rule: the case can make another case's likely match with a trace
                // it scores near unclear (a namesake registered), or clear again (it left or
                // changed), so the pending matches of those traces are rescored too.
                let before = self.st.index.traces_near_case(c.id, settings);
                let mut sharing =
                    self.st
                        .index
                        .requests_sharing_rare_names(c.id, RARE_NAME_BELOW, settings);
                self.st.index.update_case(c, &locs);
                let (found, after) = self.st.index.matches_and_traces_near_case(c.id, settings);
                let mut affected = self.st.book.of_case(c.id);
                for t in before.iter().chain(&after) {
                    affected.extend(self.st.book.of_request(t.tracing_request_id));
                }
                // The case's names changed count: the pending matches of the traces that share
                // a rare one may have moved class though neither of their records changed.
                sharing.extend(self.st.index.requests_sharing_rare_names(
                    c.id,
                    RARE_NAME_BELOW,
                    settings,
                ));
                sharing.sort();
                sharing.dedup();
                affected.extend(self.st.book.of_requests(&sharing));
                affected.sort();
                affected.dedup();
                (found, affected)
            }
            Record::TracingRequest(r) => {
                self.st.stale = true;
                // The one-child-one-request rule: the request's children can make another
                // request's likely match of a case they fit as well unclear (or clear again when
                // they leave or change), so the pending matches of those cases are rescored too.
                let before = self.st.index.cases_near_request(r.id, settings);
                self.st.index.update_request(r, &locs);
                let after = self.st.index.cases_near_request(r.id, settings);
                let mut affected = self.st.book.of_request(r.id);
                for c in before.iter().chain(&after) {
                    affected.extend(self.st.book.of_case(*c));
                }
                affected.sort();
                affected.dedup();
                (self.st.index.matches_of_request(r.id, settings), affected)
            }
            _ => return Ok(Vec::new()),
        };
        self.persist(found, affected, now_ms, alerts)
    }
}

/// A saved case's name held by fewer cases than this has the pending matches of the traces
/// that share it classed again (see [`MatchIndex::requests_sharing_rare_names`]): one more or
/// one fewer holder moves a pair's weight by more than 0.02 bits only below it.
const RARE_NAME_BELOW: u32 = 64;

/// How soon a saved record must leave the kit: at once when it raised an urgent alert.
fn priority(alerts: &[Alert]) -> Priority {
    if alerts.iter().any(|a| matches!(a, Alert::Urgent(_))) {
        Priority::Urgent
    } else {
        Priority::Routine
    }
}

/// The index at sign-in: the vault's snapshot brought up to date when it is usable (see the
/// `snapshot` module), else built from every record.
fn open_index(
    session: &mut Session,
    tree: Option<&LocationTree>,
    today: Date,
    now_ms: u64,
) -> Result<(MatchIndex, IndexSource), OpenError> {
    match from_snapshot(session, tree, today, now_ms) {
        Ok(Some((index, reread))) => return Ok((index, IndexSource::Snapshot { reread })),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "the matcher index snapshot could not be read; building the index");
        }
    }
    Ok((
        build_index(session, tree, today, now_ms)?,
        IndexSource::Built,
    ))
}

/// The snapshot with every record changed since it was taken read and taken in (`None`: no
/// usable snapshot), and how many records were read.
fn from_snapshot(
    session: &mut Session,
    tree: Option<&LocationTree>,
    today: Date,
    now_ms: u64,
) -> Result<Option<(MatchIndex, usize)>, VaultError> {
    use crate::snapshot;
    let mut reader = snapshot::Reader::new(snapshot::locations_digest(tree), today);
    let whole = session.read_cache(snapshot::NAME, |chunk| reader.chunk(chunk))?;
    if let Some(why) = reader.refused {
        tracing::info!(why, "the matcher index snapshot is not used");
    }
    let Some(loaded) = whole.then(|| reader.finish()).flatten() else {
        return Ok(None);
    };
    let cases_now = session.versions(RecordKind::Case)?;
    let requests_now = session.versions(RecordKind::TracingRequest)?;
    let (cases, cases_gone) = snapshot::changed(&loaded.case_versions, &cases_now);
    let (requests, requests_gone) = snapshot::changed(&loaded.request_versions, &requests_now);
    let reread = cases.len() + requests.len();
    let total = cases_now.len() + requests_now.len();
    drop((cases_now, requests_now));
    if reread > 1024 && reread > total / 4 {
        // Reading a quarter of the records costs about what building costs.
        tracing::info!(
            reread,
            "the matcher index snapshot is too old; building the index"
        );
        return Ok(None);
    }
    let mut index = MatchIndex::from_parts(loaded.parts);
    for id in cases_gone {
        index.remove_case(id);
    }
    for id in requests_gone {
        index.remove_request(id);
    }
    let locs = locations(tree);
    let wanted: Vec<(RecordKind, RecordId)> = cases
        .into_iter()
        .map(|id| (RecordKind::Case, id))
        .chain(
            requests
                .into_iter()
                .map(|id| (RecordKind::TracingRequest, id)),
        )
        .collect();
    for batch in wanted.chunks(PIPELINE_BATCH * 4) {
        for opened in session.get_many(batch, now_ms)? {
            match &opened.record {
                Record::Case(c) => index.update_case(c, &locs),
                Record::TracingRequest(r) => index.update_request(r, &locs),
                _ => {}
            }
        }
    }
    Ok(Some((index, reread)))
}

/// Reads every case and tracing request once and builds the index.
///
/// Two threads, as a pipeline: this one reads and decrypts the records (the vault session
/// stays on it), a second one turns each into its profile, fingerprint and compact form (about
/// 40 % of the work at 50,000 cases: name normalisation, the fingerprint's JSON and SHA-256).
/// Sign-in to ready then takes the longer of the two instead of their sum. The records pass
/// in batches through a bounded channel, so no more than a few hundred are held at once.
fn build_index(
    session: &mut Session,
    tree: Option<&LocationTree>,
    today: Date,
    now_ms: u64,
) -> Result<MatchIndex, OpenError> {
    let locs = locations(tree);
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Record>>(PIPELINE_BATCHES);
        let builder = scope.spawn(move || {
            let mut b = IndexBuilder::new(today);
            for record in receive.into_iter().flatten() {
                match record {
                    Record::Case(c) => b.add_case(&c, &locs),
                    Record::TracingRequest(r) => b.add_request(&r, &locs),
                    _ => {}
                }
            }
            b
        });
        let mut read = || -> Result<(), OpenError> {
            let mut batch = Vec::with_capacity(PIPELINE_BATCH);
            for kind in [RecordKind::Case, RecordKind::TracingRequest] {
                // A send fails only when the builder has stopped (it panicked): the join below
                // reports that.
                session.scan(kind, now_ms, |o| {
                    batch.push(o.record);
                    if batch.len() == PIPELINE_BATCH {
                        let full =
                            std::mem::replace(&mut batch, Vec::with_capacity(PIPELINE_BATCH));
                        let _ = send.send(full);
                    }
                })?;
            }
            let _ = send.send(batch);
            Ok(())
        };
        let scanned = read();
        drop(send);
        let b = match builder.join() {
            Ok(b) => b,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        scanned?;
        Ok(b.finish())
    })
}

/// Records handed to the index builder at once at sign-in (one hand-over per record cost more
/// in thread wake-ups than it saved), and batches read ahead of it.
const PIPELINE_BATCH: usize = 64;
const PIPELINE_BATCHES: usize = 4;

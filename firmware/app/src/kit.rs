//! [`Kit`]: an unlocked kit and everything a caseworker does with it.

use std::collections::BTreeSet;

use fieldkit_domain::{
    Case, Date, Document, LocationTree, Op, PotentialMatch, Record, RecordId, RecordKind, status,
};
use fieldkit_match::matcher::MatchSettings;
use fieldkit_match::profile::Locations;
use fieldkit_match::triage::{Triage, TriageRules, UrgentAlert};
use fieldkit_vault::{Opened, Session, Vault};
use serde_json::{Map, Value};

use crate::error::{OpenError, SaveError};
use crate::index::{IndexBuilder, MatchIndex};
use crate::outbox::{Change, NoOutbox, Origin, Outbox, Priority};
use crate::review::{self, MatchBook};

/// What a kit is configured with besides its vault.
#[derive(Debug, Clone)]
pub struct KitConfig {
    /// The location hierarchy (without it a code's dash-separated prefixes are its parents).
    pub locations: Option<LocationTree>,
    /// The triage rules in force.
    pub triage: TriageRules,
    /// Matching thresholds and weights.
    pub matching: MatchSettings,
}

impl Default for KitConfig {
    fn default() -> Self {
        KitConfig {
            locations: None,
            triage: TriageRules::default_rules(),
            matching: MatchSettings::default(),
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
    /// The triage of a case (registration, edit, merge).
    pub triage: Option<Triage>,
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
}

/// An unlocked kit: the vault session, the location tree, the triage rules, the warm matcher
/// index and the potential matches. Every change a caseworker, an import or sync makes goes
/// through it, so each is validated, triaged, matched and handed to the sync outbox alike.
pub struct Kit {
    session: Session,
    config: KitConfig,
    index: MatchIndex,
    book: MatchBook,
    outbox: Box<dyn Outbox>,
}

impl std::fmt::Debug for Kit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kit")
            .field("session", &self.session)
            .field("cases_indexed", &self.index.case_count())
            .field("traces_indexed", &self.index.trace_count())
            .field("potential_matches", &self.book.len())
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

impl Kit {
    /// Takes a signed-in session and makes the kit ready: reads every case, tracing request
    /// and potential match once, and builds the warm matcher index. `now_ms` dates ages.
    pub fn open(session: Session, config: KitConfig, now_ms: u64) -> Result<Kit, OpenError> {
        let mut session = session;
        let today = Date::from_unix_ms(now_ms);
        let index = build_index(&mut session, config.locations.as_ref(), today, now_ms)?;
        let book = MatchBook::load(&mut session, now_ms)?;
        Ok(Kit {
            session,
            config,
            index,
            book,
            outbox: Box::new(NoOutbox),
        })
    }

    /// Sets the sync outbox that receives every saved change.
    pub fn set_outbox(&mut self, outbox: Box<dyn Outbox>) {
        self.outbox = outbox;
    }

    /// Signs out: the keys are zeroized and the locked vault returned.
    pub fn lock(self) -> Vault {
        self.session.lock()
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
        &self.config
    }

    /// The warm matcher index.
    pub fn index(&self) -> &MatchIndex {
        &self.index
    }

    /// Rebuilds the matcher index from the vault (a new day, or a self-check).
    pub fn rebuild_index(&mut self, now_ms: u64) -> Result<(), OpenError> {
        let today = Date::from_unix_ms(now_ms);
        self.index = build_index(
            &mut self.session,
            self.config.locations.as_ref(),
            today,
            now_ms,
        )?;
        Ok(())
    }

    /// Compacts the matcher index (a background job; see [`MatchIndex::compact`]).
    pub fn compact_index(&mut self) {
        self.index.compact();
    }

    /// A new index built from the vault, as sign-in builds it (to compare with the warm one).
    pub fn fresh_index(&mut self, now_ms: u64) -> Result<MatchIndex, OpenError> {
        build_index(
            &mut self.session,
            self.config.locations.as_ref(),
            self.index.today(),
            now_ms,
        )
    }

    /// Registers a new record from its fields (a flat JSON object with Primero's names):
    /// mints the id, gives subform entries their `unique_id`, fills the registration date,
    /// `status: open` and the owner, validates, triages a case (risk level and urgent flag are
    /// saved with it), saves, matches it against the kit's records, saves the potential
    /// matches, and hands the change to the outbox.
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
        self.assign_unique_ids(&mut o, now_ms)?;
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
        let triage = match &mut record {
            Record::Case(c) => {
                let t = self.config.triage.assess(c, today);
                c.risk_level = Some(t.level.as_str().to_string());
                if t.urgent_alert(c.id).is_some() {
                    c.urgent_protection_concern = true;
                }
                Some(t)
            }
            _ => None,
        };
        let saved = self.session.create(&record, now_ms)?;
        let mut alerts = Vec::new();
        if let Some(a) = triage.as_ref().and_then(|t| t.urgent_alert(id)) {
            alerts.push(Alert::Urgent(a));
        }
        self.notify(kind, id, saved.version, priority(&alerts), Origin::Local);
        let matches = self.rematch(&record, now_ms, &mut alerts)?;
        Ok(Saved {
            kind,
            id,
            version: saved.version,
            fields_changed: saved.ops,
            triage,
            alerts,
            matches,
        })
    }

    /// Opens a record (audited read).
    pub fn open_record(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
    ) -> Result<Opened, SaveError> {
        self.session.get(kind, id, now_ms).map_err(|e| match e {
            fieldkit_vault::ReadError::NotFound { kind, id } => SaveError::NotFound { kind, id },
            other => other.into(),
        })
    }

    /// Saves an edited record: `edited` is the whole record as a flat JSON object (the shape
    /// [`Opened::record`]'s `to_json` gives). New subform entries get their `unique_id`. The
    /// record is validated, triaged (a triage never lowers a level already set and never clears
    /// the urgent flag), matched again, and handed to the outbox.
    pub fn edit(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        edited: Map<String, Value>,
        now_ms: u64,
    ) -> Result<Saved, SaveError> {
        let mut o = edited;
        self.assign_unique_ids(&mut o, now_ms)?;
        o.insert("id".into(), Value::String(id.to_string()));
        let today = Date::from_unix_ms(now_ms);
        let mut record = Record::from_json(kind, Value::Object(o.clone()))
            .map_err(|e| SaveError::Fields(e.to_string()))?;
        record.validate(today)?;
        let triage = match &mut record {
            Record::Case(c) => {
                let before = (c.risk_level.clone(), c.urgent_protection_concern);
                let t = self.retriage(c, today);
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
            .session
            .update(kind, id, &Value::Object(o), now_ms)
            .map_err(|e| match e {
                fieldkit_vault::WriteError::NotFound { kind, id } => {
                    SaveError::NotFound { kind, id }
                }
                other => other.into(),
            })?;
        let mut alerts = Vec::new();
        if let Some(a) = triage.as_ref().and_then(|t| t.urgent_alert(id)) {
            alerts.push(Alert::Urgent(a));
        }
        let mut matches = Vec::new();
        if saved.ops > 0 {
            self.notify(kind, id, saved.version, priority(&alerts), Origin::Local);
            matches = self.rematch(&record, now_ms, &mut alerts)?;
        }
        Ok(Saved {
            kind,
            id,
            version: saved.version,
            fields_changed: saved.ops,
            triage,
            alerts,
            matches,
        })
    }

    /// Edits a record by changing some of its fields: `change` gets the stored record as a
    /// flat JSON object and changes it.
    pub fn change(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), SaveError>,
    ) -> Result<Saved, SaveError> {
        let current = self.open_record(kind, id, now_ms)?.record.to_json();
        let Value::Object(mut o) = current else {
            return Err(SaveError::Fields(
                "the stored record is not an object".into(),
            ));
        };
        change(&mut o)?;
        self.edit(kind, id, o, now_ms)
    }

    /// Triage on an edit or a merge: the rules' level when it is higher than the one set, the
    /// urgent flag when the rules raise it; never lower.
    fn retriage(&self, c: &mut Case, today: Date) -> Triage {
        let t = self.config.triage.assess(c, today);
        let rank = |l: Option<&str>| match l {
            Some("high") => 3,
            Some("medium") => 2,
            Some("low") => 1,
            _ => 0,
        };
        if rank(Some(t.level.as_str())) > rank(c.risk_level.as_deref()) {
            c.risk_level = Some(t.level.as_str().to_string());
        }
        if t.urgent_alert(c.id).is_some() {
            c.urgent_protection_concern = true;
        }
        t
    }

    /// Merges documents received from another kit or the hub: what other kits recorded is
    /// never dropped (no validation); each changed case is triaged (saving a raised level as a
    /// local edit), every changed record is matched, and the changes go to the outbox as
    /// received.
    pub fn merge(&mut self, docs: &[Document], now_ms: u64) -> Result<Merged, SaveError> {
        let n = self.session.merge(docs, now_ms)?;
        let touched: BTreeSet<(RecordKind, RecordId)> =
            docs.iter().map(|d| (d.kind(), d.id())).collect();
        self.after_merge(touched, n, now_ms, true)
    }

    /// Applies field operations received by sync.
    pub fn apply_ops(&mut self, ops: &[Op], now_ms: u64) -> Result<Merged, SaveError> {
        let n = self.session.apply_ops(ops, now_ms)?;
        let touched: BTreeSet<(RecordKind, RecordId)> =
            ops.iter().map(|o| (o.kind, o.record)).collect();
        self.after_merge(touched, n, now_ms, true)
    }

    /// Imports records read from a Primero file (`fieldkit_domain::primero::read`): the vault
    /// changes only the fields the file carries and validates every record (all or nothing);
    /// then each changed record is matched like any other change. Triage raises its alerts
    /// but writes nothing, so a Primero record comes back exactly as it was given.
    pub fn import_primero(
        &mut self,
        records: &[fieldkit_domain::primero::Incoming],
        now_ms: u64,
    ) -> Result<Merged, SaveError> {
        let n = self.session.import_primero(records, now_ms)?;
        let touched: BTreeSet<(RecordKind, RecordId)> =
            records.iter().map(|r| (r.kind, r.id)).collect();
        self.after_merge(touched, n, now_ms, false)
    }

    /// Imports an encrypted bundle of this vault (a backup, or another kit of the same
    /// vault). The bundle does not say which records changed, so the index is rebuilt and
    /// every trace matched again.
    pub fn import_bundle(&mut self, bytes: &[u8], now_ms: u64) -> Result<Merged, SaveError> {
        let n = self.session.import_bundle(bytes, now_ms)?;
        self.book = MatchBook::load(&mut self.session, now_ms)?;
        self.rebuild_index(now_ms).map_err(|e| match e {
            OpenError::Vault(v) => SaveError::Vault(v),
        })?;
        let mut out = self.rematch_all(now_ms)?;
        out.changed = n;
        Ok(out)
    }

    /// Matches every held trace against every held case again and saves what is new (the
    /// daily match run: name frequencies move as records come and go, so a pair can come to
    /// score differently without either record changing).
    pub fn rematch_all(&mut self, now_ms: u64) -> Result<Merged, SaveError> {
        let mut out = Merged::default();
        for r in self.index.request_ids() {
            let found = self.index.matches_of_request(r, &self.config.matching);
            let affected = self.book.of_request(r);
            let found = self.persist(found, affected, now_ms, &mut out.alerts)?;
            out.matches.extend(found);
        }
        out.matches.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
    }

    /// What follows a merge, an import or a sync delivery: each changed record is read once,
    /// handed to the outbox as received, triaged (with `save_triage`, a raised level is saved
    /// as a local edit; without, only the alert is raised) and matched.
    fn after_merge(
        &mut self,
        touched: BTreeSet<(RecordKind, RecordId)>,
        changed: usize,
        now_ms: u64,
        save_triage: bool,
    ) -> Result<Merged, SaveError> {
        let mut out = Merged {
            changed,
            ..Merged::default()
        };
        if changed == 0 {
            return Ok(out);
        }
        let today = Date::from_unix_ms(now_ms);
        let wanted: Vec<(RecordKind, RecordId)> = touched
            .into_iter()
            .filter(|(kind, _)| *kind != RecordKind::Incident)
            .collect();
        // One audited bulk read of what changed (a record left out by the merge is skipped).
        for opened in self.session.get_many(&wanted, now_ms)? {
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
            match &mut record {
                Record::Case(c) if !save_triage => {
                    let was_urgent = c.urgent_protection_concern;
                    let mut triaged = c.clone();
                    if let Some(a) = self.retriage(&mut triaged, today).urgent_alert(id)
                        && !was_urgent
                    {
                        out.alerts.push(Alert::Urgent(a));
                    }
                }
                Record::Case(c) => {
                    let before = (c.risk_level.clone(), c.urgent_protection_concern);
                    let t = self.retriage(c, today);
                    if (c.risk_level.clone(), c.urgent_protection_concern) != before {
                        let saved = self.session.update(
                            kind,
                            id,
                            &Value::Object(match record_json(c) {
                                Value::Object(o) => o,
                                _ => Map::new(),
                            }),
                            now_ms,
                        )?;
                        let urgent = t.urgent_alert(id);
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
                Record::PotentialMatch(m) => {
                    self.book.insert_opened(*m.clone(), &conflicts);
                    continue;
                }
                _ => {}
            }
            let found = self.rematch(&record, now_ms, &mut out.alerts)?;
            out.matches.extend(found);
        }
        out.matches.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
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

    /// Assigns a case to caseworkers (`assigned_user_names`, replacing the list).
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

    /// Gives every subform entry without a `unique_id` a fresh one.
    fn assign_unique_ids(&self, o: &mut Map<String, Value>, now_ms: u64) -> Result<(), SaveError> {
        for v in o.values_mut() {
            let Value::Array(items) = v else { continue };
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                if item
                    .get("unique_id")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    let uid = self.session.mint_id(now_ms)?.to_string();
                    item.insert("unique_id".into(), Value::String(uid));
                }
            }
        }
        Ok(())
    }

    /// Hands a saved change to the outbox; a failing outbox is logged, never fatal (the record
    /// is saved; sync finds it again by its stamps).
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
        if let Err(e) = self.outbox.changed(&mut self.session, &change) {
            tracing::warn!(kind = %kind, id = %id, error = %e, "sync outbox refused a change");
        }
    }

    /// Updates the index with a saved record and matches it: proposals are saved as potential
    /// matches; pending matches of the record that no longer score are rescored.
    fn rematch(
        &mut self,
        record: &Record,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<Vec<PotentialMatch>, SaveError> {
        let locs = locations(self.config.locations.as_ref());
        let settings = &self.config.matching;
        let (found, affected) = match record {
            Record::Case(c) => {
                self.index.update_case(c, &locs);
                (
                    self.index.matches_of_case(c.id, settings),
                    self.book.of_case(c.id),
                )
            }
            Record::TracingRequest(r) => {
                self.index.update_request(r, &locs);
                (
                    self.index.matches_of_request(r.id, settings),
                    self.book.of_request(r.id),
                )
            }
            _ => return Ok(Vec::new()),
        };
        self.persist(found, affected, now_ms, alerts)
    }

    pub(crate) fn book(&self) -> &MatchBook {
        &self.book
    }

    pub(crate) fn book_mut(&mut self) -> &mut MatchBook {
        &mut self.book
    }

    /// The parts review needs at once.
    pub(crate) fn parts(&mut self) -> review::Parts<'_> {
        review::Parts {
            session: &mut self.session,
            index: &self.index,
            book: &mut self.book,
            settings: &self.config.matching,
        }
    }

    fn persist(
        &mut self,
        found: Vec<crate::index::Scored>,
        affected: Vec<RecordId>,
        now_ms: u64,
        alerts: &mut Vec<Alert>,
    ) -> Result<Vec<PotentialMatch>, SaveError> {
        let saved = review::persist(self.parts(), found, affected, now_ms)?;
        let mut out = Vec::new();
        for (m, version, proposed) in saved {
            if let Some(version) = version {
                self.notify(
                    RecordKind::PotentialMatch,
                    m.id,
                    version,
                    Priority::Match,
                    Origin::Local,
                );
            }
            if proposed {
                if m.likelihood.as_deref() == Some("likely") {
                    alerts.push(Alert::LikelyMatch {
                        match_id: m.id,
                        case_id: m.case_id,
                        tracing_request_id: m.tracing_request_id,
                        trace_id: m.trace_id.clone(),
                    });
                }
                out.push(m);
            }
        }
        Ok(out)
    }
}

/// How soon a saved record must leave the kit: at once when it raised an urgent alert.
fn priority(alerts: &[Alert]) -> Priority {
    if alerts.iter().any(|a| matches!(a, Alert::Urgent(_))) {
        Priority::Urgent
    } else {
        Priority::Routine
    }
}

fn record_json(c: &Case) -> Value {
    Record::Case(Box::new(c.clone())).to_json()
}

/// Reads every case and tracing request once and builds the index.
fn build_index(
    session: &mut Session,
    tree: Option<&LocationTree>,
    today: Date,
    now_ms: u64,
) -> Result<MatchIndex, OpenError> {
    let locs = locations(tree);
    let mut b = IndexBuilder::new(today);
    // One record at a time: only the profiles stay in memory.
    session.scan(RecordKind::Case, now_ms, |o| {
        if let Record::Case(c) = o.record {
            b.add_case(&c, &locs);
        }
    })?;
    session.scan(RecordKind::TracingRequest, now_ms, |o| {
        if let Record::TracingRequest(r) = o.record {
            b.add_request(&r, &locs);
        }
    })?;
    Ok(b.finish())
}

//! The warm matcher index: the profiles of every case open to tracing and every trace of
//! every open tracing request, built once when a caseworker signs in and kept current on every
//! save, edit and merge, so a registration is matched without decrypting the vault.
//!
//! Each side is a [`ProfileIndex`] plus the map from records to positions in it. A changed
//! record's old profile is taken out ([`ProfileIndex::remove`]: name frequencies and key
//! rarities become those of the profiles left) and its new one pushed; a closed case, a case
//! without consent to tracing, or a closed request is only taken out. When a side holds many
//! taken-out or pushed positions it is rebuilt from its live profiles (no record is read).
//!
//! Every pair is scored the same way whichever side changed: the trace against the case, with
//! the name frequencies of the cases (the registered population), so the score of a pair does
//! not depend on which record was saved last.

use std::collections::HashMap;
use std::hash::Hash;

use fieldkit_domain::{Case, Date, RecordId, Trace, TracingRequest};
use fieldkit_match::compare::{FieldEvidence, compare};
use fieldkit_match::index::{Scratch, query_keys};
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
use fieldkit_match::profile::{ChildProfile, Locations};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One child sought: a tracing request and the `unique_id` of its trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TraceRef {
    /// The tracing request.
    pub tracing_request_id: RecordId,
    /// The trace's `unique_id` in `tracing_request_subform_section`.
    pub trace_id: String,
}

/// A pair scored by the matcher.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The case.
    pub case_id: RecordId,
    /// The trace.
    pub trace: TraceRef,
    /// Total weight in bits.
    pub weight: f32,
    /// Class, or `None` below `possible`.
    pub likelihood: Option<Likelihood>,
    /// Per-field explanation.
    pub fields: Vec<FieldEvidence>,
    /// The case's matching content when scored (see [`case_fingerprint`]).
    pub case_fingerprint: String,
    /// The trace's matching content when scored (see [`trace_fingerprint`]).
    pub trace_fingerprint: String,
}

#[derive(Debug, Clone)]
struct Slot {
    at: usize,
    fingerprint: String,
}

/// One side of the index: profiles, and which record each position holds.
#[derive(Debug, Default)]
struct Side<K> {
    index: ProfileIndex,
    owner: Vec<Option<K>>,
    slots: HashMap<K, Slot>,
    /// Positions taken out or pushed since the last build.
    churn: usize,
}

impl<K: Clone + Eq + Hash> Side<K> {
    fn build(entries: Vec<(K, ChildProfile, String)>) -> Side<K> {
        let n = entries.len();
        let mut owner = Vec::with_capacity(n);
        let mut slots = HashMap::with_capacity(n);
        let mut profiles = Vec::with_capacity(n);
        for (at, (k, p, fingerprint)) in entries.into_iter().enumerate() {
            owner.push(Some(k.clone()));
            slots.insert(k, Slot { at, fingerprint });
            profiles.push(p);
        }
        Side {
            index: ProfileIndex::new(profiles),
            owner,
            slots,
            churn: 0,
        }
    }

    fn remove(&mut self, k: &K) -> bool {
        let Some(slot) = self.slots.remove(k) else {
            return false;
        };
        self.index.remove(slot.at);
        if let Some(o) = self.owner.get_mut(slot.at) {
            *o = None;
        }
        self.churn += 1;
        true
    }

    fn upsert(&mut self, k: K, p: ChildProfile, fingerprint: String) {
        self.remove(&k);
        let at = self.index.push(p);
        if self.owner.len() <= at {
            self.owner.resize(at + 1, None);
        }
        self.owner[at] = Some(k.clone());
        self.slots.insert(k, Slot { at, fingerprint });
        self.churn += 1;
    }

    /// The records of this side the blocking index hands a query, best first.
    fn candidates(&self, query: &ChildProfile, settings: &MatchSettings) -> Vec<K> {
        self.index
            .blocking()
            .candidates(
                &query_keys(query),
                &mut Scratch::default(),
                settings.candidates,
            )
            .into_iter()
            .filter_map(|i| self.owner.get(i as usize).cloned().flatten())
            .collect()
    }

    fn profile(&self, k: &K) -> Option<&ChildProfile> {
        let slot = self.slots.get(k)?;
        self.index.profiles().get(slot.at)
    }

    /// Rebuilds from the live profiles once the changes since the last build reach a quarter of
    /// the side (and at least 1,024): the pushed profiles' postings move into the compact
    /// table, the taken-out ones go.
    fn compact_if_due(&mut self) {
        if self.churn >= 1024.max(self.slots.len() / 4) {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let index = std::mem::take(&mut self.index);
        let owner = std::mem::take(&mut self.owner);
        let mut entries = Vec::with_capacity(self.slots.len());
        for (p, k) in index.into_profiles().into_iter().zip(owner) {
            let Some(k) = k else { continue };
            if let Some(slot) = self.slots.get(&k) {
                let fingerprint = slot.fingerprint.clone();
                entries.push((k, p, fingerprint));
            }
        }
        *self = Side::build(entries);
    }
}

/// Which records the index holds and how: a case open to tracing ([`Case::open_to_tracing`]),
/// every trace of an open tracing request not yet matched to a case.
pub fn indexes_case(c: &Case) -> bool {
    c.open_to_tracing()
}

/// See [`indexes_case`].
pub fn indexes_trace(r: &TracingRequest, t: &Trace) -> bool {
    !r.is_closed()
        && t.matched_case_id
            .as_deref()
            .is_none_or(|m| m.trim().is_empty())
}

/// Fields that record the work on a case, not who the child is: a change to them does not
/// bring back a rejected match.
const CASE_WORKFLOW_FIELDS: &[&str] = &[
    "status",
    "closure_reason",
    "date_closure",
    "assigned_user_names",
    "followup_subform_section",
    "services_section",
    "matched_tracing_request_id",
    "risk_level",
    "urgent_protection_concern",
    "fieldkit_risk_level",
    "fieldkit_urgent",
    "tracing_status",
    "consent_for_tracing",
    "notes",
    "owned_by",
    "owned_by_agency_id",
    "case_id_display",
    "photos",
];

const REQUEST_WORKFLOW_FIELDS: &[&str] = &[
    "status",
    "notes",
    "owned_by",
    "owned_by_agency_id",
    "tracing_request_id_display",
    "tracing_request_subform_section",
];

fn digest(parts: &[&Value]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.to_string().as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn without(mut v: Value, fields: &[&str]) -> Value {
    if let Value::Object(o) = &mut v {
        for f in fields {
            o.remove(*f);
        }
    }
    v
}

/// A digest of what identifies the child in a case (every field but the workflow ones), the
/// same on every kit for the same content: a rejected match comes back only when it changes.
pub fn case_fingerprint(c: &Case) -> String {
    let v = serde_json::to_value(c).unwrap_or(Value::Null);
    digest(&[&without(v, CASE_WORKFLOW_FIELDS)])
}

/// [`case_fingerprint`] of one trace: the request's fields about the family and the trace's
/// own fields (not the other children sought).
pub fn trace_fingerprint(r: &TracingRequest, t: &Trace) -> String {
    let rv = serde_json::to_value(r).unwrap_or(Value::Null);
    let tv = serde_json::to_value(t).unwrap_or(Value::Null);
    digest(&[
        &without(rv, REQUEST_WORKFLOW_FIELDS),
        &without(tv, &["matched_case_id"]),
    ])
}

/// Collects profiles for a [`MatchIndex`], one record at a time (records need not be held).
#[derive(Debug)]
pub struct IndexBuilder {
    today: Date,
    cases: Vec<(RecordId, ChildProfile, String)>,
    traces: Vec<(TraceRef, ChildProfile, String)>,
    requests: HashMap<RecordId, Vec<String>>,
}

impl IndexBuilder {
    /// An empty builder; `today` dates ages of records without a registration or inquiry date.
    pub fn new(today: Date) -> IndexBuilder {
        IndexBuilder {
            today,
            cases: Vec::new(),
            traces: Vec::new(),
            requests: HashMap::new(),
        }
    }

    /// Adds a case (left out unless it is open to tracing).
    pub fn add_case(&mut self, c: &Case, locations: &Locations<'_>) {
        if indexes_case(c) {
            self.cases.push((
                c.id,
                ChildProfile::from_case(c, locations, self.today),
                case_fingerprint(c),
            ));
        }
    }

    /// Adds a tracing request's traces (those [`indexes_trace`] keeps).
    pub fn add_request(&mut self, r: &TracingRequest, locations: &Locations<'_>) {
        let mut ids = Vec::new();
        for t in r.traces() {
            if !indexes_trace(r, t) {
                continue;
            }
            let key = TraceRef {
                tracing_request_id: r.id,
                trace_id: t.unique_id.clone(),
            };
            self.traces.push((
                key,
                ChildProfile::from_trace(r, t, locations, self.today),
                trace_fingerprint(r, t),
            ));
            ids.push(t.unique_id.clone());
        }
        if !ids.is_empty() {
            self.requests.insert(r.id, ids);
        }
    }

    /// The index.
    pub fn finish(self) -> MatchIndex {
        MatchIndex {
            today: self.today,
            cases: Side::build(self.cases),
            traces: Side::build(self.traces),
            traces_of: self.requests,
        }
    }
}

/// The warm index of both sides. See the module documentation.
#[derive(Debug)]
pub struct MatchIndex {
    today: Date,
    cases: Side<RecordId>,
    traces: Side<TraceRef>,
    traces_of: HashMap<RecordId, Vec<String>>,
}

impl MatchIndex {
    /// The day ages are counted on.
    pub fn today(&self) -> Date {
        self.today
    }

    /// Cases held (open to tracing).
    pub fn case_count(&self) -> usize {
        self.cases.slots.len()
    }

    /// Traces held.
    pub fn trace_count(&self) -> usize {
        self.traces.slots.len()
    }

    /// True when the case is held (so it may be proposed).
    pub fn holds_case(&self, id: RecordId) -> bool {
        self.cases.slots.contains_key(&id)
    }

    /// True when the trace is held (so it may be proposed).
    pub fn holds_trace(&self, t: &TraceRef) -> bool {
        self.traces.slots.contains_key(t)
    }

    /// The child's name as the held case gives it.
    pub fn case_name(&self, id: RecordId) -> Option<&str> {
        self.cases.profile(&id).map(ChildProfile::display_name)
    }

    /// The child's name as the held trace gives it.
    pub fn trace_name(&self, t: &TraceRef) -> Option<&str> {
        self.traces.profile(t).map(ChildProfile::display_name)
    }

    /// The case's fingerprint as indexed.
    pub fn case_fingerprint(&self, id: RecordId) -> Option<&str> {
        self.cases.slots.get(&id).map(|s| s.fingerprint.as_str())
    }

    /// The trace's fingerprint as indexed.
    pub fn trace_fingerprint(&self, t: &TraceRef) -> Option<&str> {
        self.traces.slots.get(t).map(|s| s.fingerprint.as_str())
    }

    /// The tracing requests with at least one trace held.
    pub fn request_ids(&self) -> Vec<RecordId> {
        let mut ids: Vec<RecordId> = self.traces_of.keys().copied().collect();
        ids.sort();
        ids
    }

    /// The traces of a request that are held.
    pub fn traces_of(&self, request: RecordId) -> Vec<TraceRef> {
        self.traces_of
            .get(&request)
            .into_iter()
            .flatten()
            .map(|t| TraceRef {
                tracing_request_id: request,
                trace_id: t.clone(),
            })
            .collect()
    }

    /// Takes in a saved case: its new profile replaces the old, or it leaves the index when it
    /// is closed or has no consent to tracing.
    pub fn update_case(&mut self, c: &Case, locations: &Locations<'_>) {
        if indexes_case(c) {
            let p = ChildProfile::from_case(c, locations, self.today);
            self.cases.upsert(c.id, p, case_fingerprint(c));
        } else {
            self.cases.remove(&c.id);
        }
        self.cases.compact_if_due();
    }

    /// Takes in a saved tracing request: every trace's profile is replaced.
    pub fn update_request(&mut self, r: &TracingRequest, locations: &Locations<'_>) {
        self.remove_request(r.id);
        let mut ids = Vec::new();
        for t in r.traces() {
            if !indexes_trace(r, t) {
                continue;
            }
            let key = TraceRef {
                tracing_request_id: r.id,
                trace_id: t.unique_id.clone(),
            };
            let p = ChildProfile::from_trace(r, t, locations, self.today);
            self.traces.upsert(key, p, trace_fingerprint(r, t));
            ids.push(t.unique_id.clone());
        }
        if !ids.is_empty() {
            self.traces_of.insert(r.id, ids);
        }
        self.traces.compact_if_due();
    }

    /// Takes a case out.
    pub fn remove_case(&mut self, id: RecordId) {
        self.cases.remove(&id);
    }

    /// Takes every trace of a request out.
    pub fn remove_request(&mut self, id: RecordId) {
        for t in self.traces_of.remove(&id).unwrap_or_default() {
            self.traces.remove(&TraceRef {
                tracing_request_id: id,
                trace_id: t,
            });
        }
    }

    fn score(
        &self,
        case_id: RecordId,
        trace: &TraceRef,
        settings: &MatchSettings,
        explain: bool,
    ) -> Option<Scored> {
        let cp = self.cases.profile(&case_id)?;
        let tp = self.traces.profile(trace)?;
        let c = compare(
            tp,
            cp,
            self.cases.index.frequencies(),
            &settings.weights,
            explain,
        );
        let likelihood = settings.classify(&c);
        let mut fields = c.fields;
        if explain && likelihood == Some(Likelihood::Possible) && c.weight >= settings.likely {
            fields.push(FieldEvidence {
                field: "likelihood",
                weight: 0.0,
                detail: "a name differs (a sibling?): possible at most".into(),
            });
        }
        Some(Scored {
            case_id,
            trace: trace.clone(),
            weight: c.weight,
            likelihood,
            fields,
            case_fingerprint: self.cases.slots.get(&case_id)?.fingerprint.clone(),
            trace_fingerprint: self.traces.slots.get(trace)?.fingerprint.clone(),
        })
    }

    /// Scores one pair, explained (`None` when either side is not held).
    pub fn score_pair(
        &self,
        case_id: RecordId,
        trace: &TraceRef,
        settings: &MatchSettings,
    ) -> Option<Scored> {
        self.score(case_id, trace, settings, true)
    }

    /// Keeps the best `settings.top` of the pairs that reach `possible`, explained.
    fn best(&self, pairs: Vec<(RecordId, TraceRef)>, settings: &MatchSettings) -> Vec<Scored> {
        let mut scored: Vec<Scored> = pairs
            .into_iter()
            .filter_map(|(c, t)| self.score(c, &t, settings, false))
            .filter(|s| s.likelihood.is_some())
            .collect();
        scored.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then(a.case_id.cmp(&b.case_id))
                .then(a.trace.cmp(&b.trace))
        });
        scored.truncate(settings.top);
        scored
            .into_iter()
            .filter_map(|s| self.score(s.case_id, &s.trace, settings, true))
            .collect()
    }

    /// The potential matches of a held case among the held traces, best first.
    pub fn matches_of_case(&self, id: RecordId, settings: &MatchSettings) -> Vec<Scored> {
        let Some(cp) = self.cases.profile(&id) else {
            return Vec::new();
        };
        let pairs = self
            .traces
            .candidates(cp, settings)
            .into_iter()
            .map(|t| (id, t))
            .collect();
        self.best(pairs, settings)
    }

    /// The potential matches of one held trace among the held cases, best first.
    pub fn matches_of_trace(&self, trace: &TraceRef, settings: &MatchSettings) -> Vec<Scored> {
        let Some(tp) = self.traces.profile(trace) else {
            return Vec::new();
        };
        let pairs = self
            .cases
            .candidates(tp, settings)
            .into_iter()
            .map(|c| (c, trace.clone()))
            .collect();
        self.best(pairs, settings)
    }

    /// The potential matches of every held trace of a request, best first.
    pub fn matches_of_request(&self, id: RecordId, settings: &MatchSettings) -> Vec<Scored> {
        let mut out: Vec<Scored> = self
            .traces_of(id)
            .iter()
            .flat_map(|t| self.matches_of_trace(t, settings))
            .collect();
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        out
    }

    /// Rebuilds both sides from their live profiles now (no record is read); otherwise this
    /// happens by itself once a side has changed by a quarter.
    pub fn compact(&mut self) {
        self.cases.compact();
        self.traces.compact();
    }

    /// What differs between two indexes (empty when they hold the same records with the same
    /// profiles, fingerprints and name frequencies): the incremental index checked against a
    /// rebuild.
    pub fn differences(&self, other: &MatchIndex) -> Vec<String> {
        let mut out = Vec::new();
        side_differences("case", &self.cases, &other.cases, &mut out);
        side_differences("trace", &self.traces, &other.traces, &mut out);
        out
    }
}

fn side_differences<K: Clone + Eq + Hash + std::fmt::Debug + Ord>(
    what: &str,
    a: &Side<K>,
    b: &Side<K>,
    out: &mut Vec<String>,
) {
    let mut keys: Vec<&K> = a.slots.keys().chain(b.slots.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        match (a.slots.get(k), b.slots.get(k)) {
            (Some(x), Some(y)) => {
                if x.fingerprint != y.fingerprint {
                    out.push(format!("{what} {k:?}: fingerprint differs"));
                }
                let (px, py) = (a.profile(k), b.profile(k));
                if format!("{px:?}") != format!("{py:?}") {
                    out.push(format!("{what} {k:?}: profile differs"));
                }
                for t in px
                    .into_iter()
                    .flat_map(|p| p.name_tokens().chain(p.family_tokens()))
                {
                    let (fx, fy) = (
                        a.index.frequencies().share(t),
                        b.index.frequencies().share(t),
                    );
                    if fx.to_bits() != fy.to_bits() {
                        out.push(format!(
                            "{what} {k:?}: name frequency of {} differs ({fx} / {fy})",
                            t.text()
                        ));
                    }
                }
            }
            (Some(_), None) => out.push(format!("{what} {k:?}: only in the first")),
            (None, Some(_)) => out.push(format!("{what} {k:?}: only in the second")),
            (None, None) => {}
        }
    }
    let (pa, pb) = (
        a.index.frequencies().population(),
        b.index.frequencies().population(),
    );
    if pa != pb {
        out.push(format!("{what}: population {pa} / {pb}"));
    }
}

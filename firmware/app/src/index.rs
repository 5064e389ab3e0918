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
//! not depend on which record was saved last; and every pair is classed by the trace's ranking
//! of the cases (the margin rule, [`MatchSettings::rank`]), so *likely* is what `trace eval`
//! counts whichever record's query found it.

use std::collections::HashMap;
use std::hash::Hash;

use fieldkit_domain::{Case, Date, RecordId, Trace, TracingRequest};
use fieldkit_match::compare::{FieldEvidence, NameFrequencies, compare, holds_any_key};
use fieldkit_match::index::{BlockingIndex, Scratch, query_keys};
use fieldkit_match::matcher::{Demoted, Likelihood, MatchSettings};
use fieldkit_match::names::NameToken;
use fieldkit_match::profile::{ChildProfile, Locations};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::compact::{Compact, Tokens};

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

/// A record's fingerprint: the first 8 bytes of a SHA-256 (shown as 16 hex digits).
pub(crate) type Fingerprint = [u8; 8];

fn hex(f: &Fingerprint) -> String {
    f.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
struct Slot {
    at: u32,
    fingerprint: Fingerprint,
}

/// One side of the index: the compact profiles, which record each position holds, the
/// blocking index over them and the side's name frequencies. It works as the matcher's
/// `ProfileIndex` does (positions are never reused; a taken-out profile leaves the blocking
/// index's key rarities and the name frequencies), with profiles kept compact
/// ([`crate::compact`]) and decoded only to be compared.
#[derive(Debug, Default)]
struct Side<K> {
    blocking: BlockingIndex,
    frequencies: NameFrequencies,
    profiles: Vec<Option<Compact>>,
    owner: Vec<Option<K>>,
    slots: HashMap<K, Slot>,
    /// Positions taken out or pushed since the last build.
    churn: usize,
}

impl<K: Clone + Eq + Hash> Side<K> {
    /// Builds a side from its entries; `frequencies` are theirs when the caller counted them
    /// from the full profiles already (at sign-in), else they are counted here.
    fn build(
        entries: Vec<(K, Compact, Fingerprint)>,
        frequencies: Option<NameFrequencies>,
        tokens: &Tokens,
    ) -> Side<K> {
        let n = entries.len();
        // Room for every position pushed until the next rebuild (see `compact_if_due`), so the
        // position tables never grow between builds. A table that grows doubles: at 50,000
        // cases the profiles' table alone (about 100 bytes a position) went from 4.6 to 9.3 MiB
        // at the first case saved after sign-in and stayed so, the step the registration bench
        // showed in resident memory. Room never written is never resident. (Not the map: a hash
        // table's room is written all over, so it keeps its own load factor's headroom.)
        let room = n + grown_by(n);
        let mut owner = Vec::with_capacity(room);
        let mut slots = HashMap::with_capacity(n);
        let mut profiles = Vec::with_capacity(room);
        for (at, (k, p, fingerprint)) in entries.into_iter().enumerate() {
            owner.push(Some(k.clone()));
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            slots.insert(k, Slot { at, fingerprint });
            profiles.push(Some(p));
        }
        let frequencies = frequencies.unwrap_or_else(|| {
            let mut f = NameFrequencies::default();
            for p in profiles.iter().flatten() {
                f.add(&p.decode_keys(tokens));
            }
            f
        });
        let blocking = BlockingIndex::build_from(n, |i| {
            profiles
                .get(i)
                .and_then(Option::as_ref)
                .map(|p| query_keys(&p.decode_keys(tokens)))
                .unwrap_or_default()
        });
        Side {
            blocking,
            frequencies,
            profiles,
            owner,
            slots,
            churn: 0,
        }
    }

    fn remove(&mut self, k: &K, tokens: &Tokens) -> bool {
        let Some(slot) = self.slots.remove(k) else {
            return false;
        };
        let at = slot.at as usize;
        if let Some(p) = self.profiles.get_mut(at).and_then(Option::take) {
            let keys = p.decode_keys(tokens);
            if self.blocking.remove(slot.at, &keys) {
                self.frequencies.remove(&keys);
            }
        }
        if let Some(o) = self.owner.get_mut(at) {
            *o = None;
        }
        self.churn += 1;
        true
    }

    fn upsert(&mut self, k: K, p: &ChildProfile, fingerprint: Fingerprint, tokens: &mut Tokens) {
        self.remove(&k, tokens);
        let at = u32::try_from(self.profiles.len()).unwrap_or(u32::MAX);
        self.blocking.insert(at, p);
        self.frequencies.add(p);
        self.profiles.push(Some(Compact::encode(p, tokens)));
        self.owner.push(Some(k.clone()));
        self.slots.insert(k, Slot { at, fingerprint });
        self.churn += 1;
    }

    /// The records of this side the blocking index hands a query, best first.
    fn candidates(&self, query: &ChildProfile, settings: &MatchSettings) -> Vec<K> {
        self.blocking
            .candidates(
                &query_keys(query),
                &mut Scratch::default(),
                settings.candidates,
            )
            .into_iter()
            .filter_map(|i| self.owner.get(i as usize).cloned().flatten())
            .collect()
    }

    fn compact_profile(&self, k: &K) -> Option<&Compact> {
        let slot = self.slots.get(k)?;
        self.profiles.get(slot.at as usize)?.as_ref()
    }

    /// The record's profile, decoded.
    fn profile(&self, k: &K, tokens: &Tokens) -> Option<ChildProfile> {
        self.compact_profile(k).map(|p| p.decode(tokens))
    }

    /// Rebuilds from the live profiles once the changes since the last build reach a quarter of
    /// the side (and at least 1,024): the pushed profiles' postings move into the compact
    /// table, the taken-out ones go.
    fn compact_if_due(&mut self, tokens: &Tokens) {
        if self.churn >= grown_by(self.slots.len()) {
            self.compact(tokens);
        }
    }

    fn compact(&mut self, tokens: &Tokens) {
        let profiles = std::mem::take(&mut self.profiles);
        let owner = std::mem::take(&mut self.owner);
        let mut entries = Vec::with_capacity(self.slots.len());
        for (p, k) in profiles.into_iter().zip(owner) {
            let (Some(p), Some(k)) = (p, k) else { continue };
            if let Some(slot) = self.slots.get(&k) {
                let fingerprint = slot.fingerprint;
                entries.push((k, p, fingerprint));
            }
        }
        *self = Side::build(entries, None, tokens);
    }

    /// Bytes held by this side's profiles, blocking index and maps (an estimate for the
    /// memory figures; the tokens table is the index's).
    fn memory_bytes(&self) -> usize {
        let profiles: usize = self
            .profiles
            .iter()
            .flatten()
            .map(Compact::heap_bytes)
            .sum();
        profiles
            + self.profiles.capacity() * std::mem::size_of::<Option<Compact>>()
            + self.owner.capacity() * std::mem::size_of::<Option<K>>()
            + self.slots.capacity() * (std::mem::size_of::<(K, Slot)>() + 1)
            + self.blocking.memory_bytes()
    }
}

/// Changes (positions taken out or pushed) a side of `n` records takes before it is rebuilt
/// from its live profiles: a quarter of it, and at least 1,024.
fn grown_by(n: usize) -> usize {
    1024.max(n / 4)
}

/// One case of a trace's ranking: case, weight, class, and how it was demoted from *likely*.
type Ranked = (RecordId, f32, Likelihood, Option<Demoted>);

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

fn digest(parts: &[&Value]) -> Fingerprint {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.to_string().as_bytes());
        h.update([0]);
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize()[..8]);
    out
}

fn without(mut v: Value, fields: &[&str]) -> Value {
    if let Value::Object(o) = &mut v {
        for f in fields {
            o.remove(*f);
        }
    }
    v
}

fn case_digest(c: &Case) -> Fingerprint {
    let v = serde_json::to_value(c).unwrap_or(Value::Null);
    digest(&[&without(v, CASE_WORKFLOW_FIELDS)])
}

fn trace_digest(r: &TracingRequest, t: &Trace) -> Fingerprint {
    let rv = serde_json::to_value(r).unwrap_or(Value::Null);
    let tv = serde_json::to_value(t).unwrap_or(Value::Null);
    digest(&[
        &without(rv, REQUEST_WORKFLOW_FIELDS),
        &without(tv, &["matched_case_id"]),
    ])
}

/// A digest of what identifies the child in a case (every field but the workflow ones), the
/// same on every kit for the same content: a rejected match comes back only when it changes.
pub fn case_fingerprint(c: &Case) -> String {
    hex(&case_digest(c))
}

/// [`case_fingerprint`] of one trace: the request's fields about the family and the trace's
/// own fields (not the other children sought).
pub fn trace_fingerprint(r: &TracingRequest, t: &Trace) -> String {
    hex(&trace_digest(r, t))
}

/// Collects profiles for a [`MatchIndex`], one record at a time (records need not be held:
/// each profile is counted in its side's name frequencies and kept compact at once).
#[derive(Debug)]
pub struct IndexBuilder {
    today: Date,
    tokens: Tokens,
    cases: Vec<(RecordId, Compact, Fingerprint)>,
    case_frequencies: NameFrequencies,
    traces: Vec<(TraceRef, Compact, Fingerprint)>,
    trace_frequencies: NameFrequencies,
    requests: HashMap<RecordId, Vec<String>>,
}

impl IndexBuilder {
    /// An empty builder; `today` dates ages of records without a registration or inquiry date.
    pub fn new(today: Date) -> IndexBuilder {
        IndexBuilder {
            today,
            tokens: Tokens::default(),
            cases: Vec::new(),
            case_frequencies: NameFrequencies::default(),
            traces: Vec::new(),
            trace_frequencies: NameFrequencies::default(),
            requests: HashMap::new(),
        }
    }

    /// Adds a case (left out unless it is open to tracing).
    pub fn add_case(&mut self, c: &Case, locations: &Locations<'_>) {
        if indexes_case(c) {
            let p = ChildProfile::from_case(c, locations, self.today);
            self.case_frequencies.add(&p);
            self.cases
                .push((c.id, Compact::encode(&p, &mut self.tokens), case_digest(c)));
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
            let p = ChildProfile::from_trace(r, t, locations, self.today);
            self.trace_frequencies.add(&p);
            self.traces.push((
                key,
                Compact::encode(&p, &mut self.tokens),
                trace_digest(r, t),
            ));
            ids.push(t.unique_id.clone());
        }
        if !ids.is_empty() {
            self.requests.insert(r.id, ids);
        }
    }

    /// The index.
    pub fn finish(self) -> MatchIndex {
        let cases = Side::build(self.cases, Some(self.case_frequencies), &self.tokens);
        let traces = Side::build(self.traces, Some(self.trace_frequencies), &self.tokens);
        MatchIndex {
            today: self.today,
            tokens: self.tokens,
            cases,
            traces,
            traces_of: self.requests,
        }
    }
}

/// The warm index of both sides. See the module documentation.
#[derive(Debug)]
pub struct MatchIndex {
    today: Date,
    /// The name tokens of both sides' compact profiles.
    tokens: Tokens,
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

    /// Bytes the index holds (profiles, blocking tables, maps and name tokens; an estimate
    /// that leaves out the allocator's own overhead).
    pub fn memory_bytes(&self) -> usize {
        self.cases.memory_bytes()
            + self.traces.memory_bytes()
            + self.tokens.len() * (2 * std::mem::size_of::<NameToken>() + 8)
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
        self.cases.compact_profile(&id).map(Compact::display_name)
    }

    /// The child's name as the held trace gives it.
    pub fn trace_name(&self, t: &TraceRef) -> Option<&str> {
        self.traces.compact_profile(t).map(Compact::display_name)
    }

    /// The case's fingerprint as indexed ([`case_fingerprint`]).
    pub fn case_fingerprint(&self, id: RecordId) -> Option<String> {
        self.cases.slots.get(&id).map(|s| hex(&s.fingerprint))
    }

    /// The trace's fingerprint as indexed ([`trace_fingerprint`]).
    pub fn trace_fingerprint(&self, t: &TraceRef) -> Option<String> {
        self.traces.slots.get(t).map(|s| hex(&s.fingerprint))
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
            self.cases
                .upsert(c.id, &p, case_digest(c), &mut self.tokens);
        } else {
            self.cases.remove(&c.id, &self.tokens);
        }
        self.cases.compact_if_due(&self.tokens);
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
            self.traces
                .upsert(key, &p, trace_digest(r, t), &mut self.tokens);
            ids.push(t.unique_id.clone());
        }
        if !ids.is_empty() {
            self.traces_of.insert(r.id, ids);
        }
        self.traces.compact_if_due(&self.tokens);
    }

    /// Takes a case out.
    pub fn remove_case(&mut self, id: RecordId) {
        self.cases.remove(&id, &self.tokens);
    }

    /// Takes every trace of a request out.
    pub fn remove_request(&mut self, id: RecordId) {
        for t in self.traces_of.remove(&id).unwrap_or_default() {
            self.traces.remove(
                &TraceRef {
                    tracing_request_id: id,
                    trace_id: t,
                },
                &self.tokens,
            );
        }
    }

    /// Scores a pair whose profiles are at hand: the trace against the case, with the cases'
    /// name frequencies. The likelihood is the pair's own ([`MatchSettings::classify`]), before
    /// the margin rule ([`settle`](Self::settle)).
    #[allow(clippy::too_many_arguments)]
    fn score_profiles(
        &self,
        case_id: RecordId,
        cp: &ChildProfile,
        trace: &TraceRef,
        tp: &ChildProfile,
        settings: &MatchSettings,
        explain: bool,
    ) -> Option<Scored> {
        let c = compare(tp, cp, &self.cases.frequencies, &settings.weights, explain);
        Some(Scored {
            case_id,
            trace: trace.clone(),
            weight: c.weight,
            likelihood: settings.classify(&c),
            fields: c.fields,
            case_fingerprint: hex(&self.cases.slots.get(&case_id)?.fingerprint),
            trace_fingerprint: hex(&self.traces.slots.get(trace)?.fingerprint),
        })
    }

    /// One trace's potential matches among the held cases, ranked best first, at most
    /// `settings.top`, with the margin rule applied ([`MatchSettings::rank`]) and then the
    /// one-child-one-request rule ([`MatchSettings::claimed`]: a likely case another held trace
    /// matches as well or better is possible): each is (case, weight, class, how it was
    /// demoted). This is the query `trace eval` scores (a trace against the cases,
    /// `ProfileIndex::find_traces`), so *likely* is decided here for every pair, whichever of
    /// its records was saved: a case's own query only ranks.
    fn rank_trace(
        &self,
        trace: &TraceRef,
        tp: &ChildProfile,
        settings: &MatchSettings,
    ) -> Vec<Ranked> {
        // Cases whose name differs from the trace's: told apart by their names.
        let mut named_apart: Vec<RecordId> = Vec::new();
        let scored: Vec<(RecordId, f32, Likelihood)> = self
            .cases
            .candidates(tp, settings)
            .into_iter()
            .filter_map(|c| {
                let cp = self.cases.profile(&c, &self.tokens)?;
                let s = compare(tp, &cp, &self.cases.frequencies, &settings.weights, false);
                let likelihood = settings.classify(&s)?;
                if s.names_differ {
                    named_apart.push(c);
                }
                Some((c, s.weight, likelihood))
            })
            .collect();
        // Cases told apart by name, and two registrations of one child, are no rivals
        // (`ProfileIndex::find_with` alike).
        let no_rival = |a: &RecordId, b: &RecordId| {
            if named_apart.contains(b) {
                return true;
            }
            let (Some(x), Some(y)) = (
                self.cases.profile(a, &self.tokens),
                self.cases.profile(b, &self.tokens),
            ) else {
                return false;
            };
            settings.registered_twice(&compare(
                &x,
                &y,
                &self.cases.frequencies,
                &settings.weights,
                false,
            ))
        };
        settings
            .rank_with(scored, no_rival)
            .into_iter()
            .map(|(c, weight, likelihood, unclear)| {
                if unclear {
                    (c, weight, likelihood, Some(Demoted::Unclear))
                } else if likelihood == Likelihood::Likely
                    && settings.claimed(weight, self.best_other_trace(c, trace, settings))
                {
                    (c, weight, Likelihood::Possible, Some(Demoted::Claimed))
                } else {
                    (c, weight, likelihood, None)
                }
            })
            .collect()
    }

    /// The best weight of a held case with any held trace but `own`: the case's query over the
    /// traces, each pair weighed as the trace's query weighs it (`ProfileIndex::best_other_trace`).
    fn best_other_trace(
        &self,
        case_id: RecordId,
        own: &TraceRef,
        settings: &MatchSettings,
    ) -> Option<f32> {
        let cp = self.cases.profile(&case_id, &self.tokens)?;
        self.traces
            .candidates(&cp, settings)
            .into_iter()
            .filter(|t| t != own)
            .filter_map(|t| {
                let tp = self.traces.profile(&t, &self.tokens)?;
                let c = compare(&tp, &cp, &self.cases.frequencies, &settings.weights, false);
                // A trace whose child's name differs from the case's seeks another child.
                (!c.names_differ).then_some(c.weight)
            })
            .max_by(f32::total_cmp)
    }

    /// Gives a scored pair its class after the margin and one-child-one-request rules: a pair
    /// its own weights class as *likely* keeps it only when its trace's ranking
    /// ([`rank_trace`](Self::rank_trace), computed here unless given) does; explained, a pair
    /// shown as possible that reached `likely` says why.
    fn settle(
        &self,
        mut s: Scored,
        tp: &ChildProfile,
        ranking: Option<&[Ranked]>,
        settings: &MatchSettings,
        explain: bool,
    ) -> Scored {
        let mut demoted = None;
        if s.likelihood == Some(Likelihood::Likely) {
            let own;
            let ranking = match ranking {
                Some(r) => r,
                None => {
                    own = self.rank_trace(&s.trace, tp, settings);
                    &own
                }
            };
            // A pair its trace's ranking leaves out (beyond the blocking's candidates or the
            // top) is not likely in the evaluation either.
            let (l, d) = ranking
                .iter()
                .find(|r| r.0 == s.case_id)
                .map_or((Likelihood::Possible, None), |r| (r.2, r.3));
            s.likelihood = Some(l);
            demoted = d;
        }
        if explain && s.likelihood == Some(Likelihood::Possible) && s.weight >= settings.likely {
            s.fields.push(settings.why_possible(demoted));
        }
        s
    }

    /// Scores one pair, explained, classed as the trace's ranking classes it (`None` when
    /// either side is not held).
    pub fn score_pair(
        &self,
        case_id: RecordId,
        trace: &TraceRef,
        settings: &MatchSettings,
    ) -> Option<Scored> {
        let cp = self.cases.profile(&case_id, &self.tokens)?;
        let tp = self.traces.profile(trace, &self.tokens)?;
        let s = self.score_profiles(case_id, &cp, trace, &tp, settings, true)?;
        Some(self.settle(s, &tp, None, settings, true))
    }

    /// The pairs of a held case with the held traces that reach `possible` by their own
    /// weights, best first (not yet settled by the margin rule).
    fn case_pairs(&self, id: RecordId, settings: &MatchSettings) -> Vec<Scored> {
        let Some(cp) = self.cases.profile(&id, &self.tokens) else {
            return Vec::new();
        };
        let mut scored: Vec<Scored> = self
            .traces
            .candidates(&cp, settings)
            .into_iter()
            .filter_map(|t| {
                let tp = self.traces.profile(&t, &self.tokens)?;
                self.score_profiles(id, &cp, &t, &tp, settings, false)
            })
            .filter(|s| s.likelihood.is_some())
            .collect();
        scored.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then(a.case_id.cmp(&b.case_id))
                .then(a.trace.cmp(&b.trace))
        });
        scored
    }

    /// The traces whose other potential matches a case can move between *likely* and
    /// possible through the margin rule: those it scores within `settings.likely_margin` of
    /// `settings.likely` or above. A new namesake of a child whose match was likely makes that
    /// match unclear; a case that leaves or changes can make it clear again, so a kit asks
    /// before and after the case changes.
    pub fn traces_near_case(&self, id: RecordId, settings: &MatchSettings) -> Vec<TraceRef> {
        near(&self.case_pairs(id, settings), settings)
    }

    /// The requests whose traces share a rare name with a held case (one fewer than `below`
    /// cases hold: [`NameFrequencies::rare_keys`]). Saving the case moves the frequencies of
    /// its names, and with them the weights of these traces' pairs with other cases (whether
    /// a rival is the same child registered twice, whether it is within the margin), so their
    /// pending matches are classed again with the save. Names more common than that move
    /// weights by less than `log₂((below + 2) / (below + 1))` bits a save; the daily match run
    /// ([`Kit::rematch_all`](crate::Kit::rematch_all)) takes in that drift.
    pub fn requests_sharing_rare_names(
        &self,
        id: RecordId,
        below: u32,
        settings: &MatchSettings,
    ) -> Vec<RecordId> {
        let Some(cp) = self.cases.profile(&id, &self.tokens) else {
            return Vec::new();
        };
        let rare = self.cases.frequencies.rare_keys(&cp, below);
        if rare.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<RecordId> = self
            .traces
            .candidates(&cp, settings)
            .into_iter()
            .filter(|t| {
                self.traces
                    .profile(t, &self.tokens)
                    .is_some_and(|tp| holds_any_key(&tp, &rare))
            })
            .map(|t| t.tracing_request_id)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The cases whose other potential matches a request's traces can move between *likely*
    /// and possible through the one-child-one-request rule ([`MatchSettings::claimed`]): those
    /// a held trace of it scores at `settings.likely` or above (a rival weighs at least the
    /// likely pair it demotes). A new request's child can make another request's likely match
    /// of that case possible, and its leaving can make it likely again, so a kit asks before
    /// and after the request changes.
    pub fn cases_near_request(&self, id: RecordId, settings: &MatchSettings) -> Vec<RecordId> {
        let mut out = Vec::new();
        for t in self.traces_of(id) {
            let Some(tp) = self.traces.profile(&t, &self.tokens) else {
                continue;
            };
            for c in self.cases.candidates(&tp, settings) {
                let Some(cp) = self.cases.profile(&c, &self.tokens) else {
                    continue;
                };
                let w = compare(&tp, &cp, &self.cases.frequencies, &settings.weights, false);
                if w.weight >= settings.likely {
                    out.push(c);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The potential matches of a held case among the held traces, best first (the case's
    /// own ranking; each pair classed as its trace's ranking classes it).
    pub fn matches_of_case(&self, id: RecordId, settings: &MatchSettings) -> Vec<Scored> {
        self.matches_and_traces_near_case(id, settings).0
    }

    /// [`matches_of_case`](Self::matches_of_case) and
    /// [`traces_near_case`](Self::traces_near_case) from one query.
    pub fn matches_and_traces_near_case(
        &self,
        id: RecordId,
        settings: &MatchSettings,
    ) -> (Vec<Scored>, Vec<TraceRef>) {
        let mut scored = self.case_pairs(id, settings);
        let near = near(&scored, settings);
        scored.truncate(settings.top);
        let found = scored
            .into_iter()
            .filter_map(|s| self.score_pair(s.case_id, &s.trace, settings))
            .collect();
        (found, near)
    }

    /// The potential matches of one held trace among the held cases, best first.
    pub fn matches_of_trace(&self, trace: &TraceRef, settings: &MatchSettings) -> Vec<Scored> {
        let Some(tp) = self.traces.profile(trace, &self.tokens) else {
            return Vec::new();
        };
        let ranking = self.rank_trace(trace, &tp, settings);
        ranking
            .iter()
            .filter_map(|r| {
                let cp = self.cases.profile(&r.0, &self.tokens)?;
                let s = self.score_profiles(r.0, &cp, trace, &tp, settings, true)?;
                Some(self.settle(s, &tp, Some(&ranking), settings, true))
            })
            .collect()
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
        self.cases.compact(&self.tokens);
        self.traces.compact(&self.tokens);
    }

    /// What differs between two indexes (empty when they hold the same records with the same
    /// profiles, fingerprints and name frequencies): the incremental index checked against a
    /// rebuild.
    pub fn differences(&self, other: &MatchIndex) -> Vec<String> {
        let mut out = Vec::new();
        side_differences(
            "case",
            (&self.cases, &self.tokens),
            (&other.cases, &other.tokens),
            &mut out,
        );
        side_differences(
            "trace",
            (&self.traces, &self.tokens),
            (&other.traces, &other.tokens),
            &mut out,
        );
        out
    }
}

/// The traces of pairs weighing at least `likely - likely_margin`.
fn near(pairs: &[Scored], settings: &MatchSettings) -> Vec<TraceRef> {
    pairs
        .iter()
        .filter(|s| s.weight >= settings.likely - settings.likely_margin)
        .map(|s| s.trace.clone())
        .collect()
}

fn side_differences<K: Clone + Eq + Hash + std::fmt::Debug + Ord>(
    what: &str,
    (a, ta): (&Side<K>, &Tokens),
    (b, tb): (&Side<K>, &Tokens),
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
                let (px, py) = (a.profile(k, ta), b.profile(k, tb));
                if format!("{px:?}") != format!("{py:?}") {
                    out.push(format!("{what} {k:?}: profile differs"));
                }
                for t in px
                    .iter()
                    .flat_map(|p| p.name_tokens().chain(p.family_tokens()))
                {
                    let (fx, fy) = (a.frequencies.share(t), b.frequencies.share(t));
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
    let (pa, pb) = (a.frequencies.population(), b.frequencies.population());
    if pa != pb {
        out.push(format!("{what}: population {pa} / {pb}"));
    }
}

/// An index as a snapshot keeps it (`crate::snapshot`): the day, the name tokens, each side's
/// live entries in position order, and which traces of each request are held.
pub(crate) struct Parts {
    pub(crate) today: Date,
    pub(crate) tokens: Tokens,
    pub(crate) cases: Vec<(RecordId, Compact, Fingerprint)>,
    pub(crate) traces: Vec<(TraceRef, Compact, Fingerprint)>,
    pub(crate) traces_of: Vec<(RecordId, Vec<String>)>,
}

/// [`Parts`] borrowed from a live index.
pub(crate) struct PartsRef<'a> {
    pub(crate) today: Date,
    pub(crate) tokens: &'a Tokens,
    pub(crate) cases: Vec<(RecordId, &'a Compact, Fingerprint)>,
    pub(crate) traces: Vec<(&'a TraceRef, &'a Compact, Fingerprint)>,
    pub(crate) traces_of: Vec<(RecordId, &'a [String])>,
}

fn live<K>(side: &Side<K>) -> Vec<(&K, &Compact, Fingerprint)>
where
    K: Clone + Eq + Hash,
{
    side.profiles
        .iter()
        .zip(&side.owner)
        .filter_map(|(p, k)| {
            let (p, k) = (p.as_ref()?, k.as_ref()?);
            Some((k, p, side.slots.get(k)?.fingerprint))
        })
        .collect()
}

impl MatchIndex {
    /// What a snapshot keeps of this index.
    pub(crate) fn parts(&self) -> PartsRef<'_> {
        PartsRef {
            today: self.today,
            tokens: &self.tokens,
            cases: live(&self.cases)
                .into_iter()
                .map(|(k, p, f)| (*k, p, f))
                .collect(),
            traces: live(&self.traces),
            traces_of: self
                .traces_of
                .iter()
                .map(|(r, t)| (*r, t.as_slice()))
                .collect(),
        }
    }

    /// The index a snapshot kept: both sides rebuilt from their entries as compaction rebuilds
    /// them (blocking tables and name frequencies from the compact profiles' keys).
    pub(crate) fn from_parts(parts: Parts) -> MatchIndex {
        let cases = Side::build(parts.cases, None, &parts.tokens);
        let traces = Side::build(parts.traces, None, &parts.tokens);
        MatchIndex {
            today: parts.today,
            tokens: parts.tokens,
            cases,
            traces,
            traces_of: parts.traces_of.into_iter().collect(),
        }
    }
}

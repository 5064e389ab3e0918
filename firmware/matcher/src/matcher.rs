//! The matcher: tracing requests' traces against cases, through the blocking index
//! and the field weights, into scored, classed and explained potential matches.
//!
//! A [`ProfileIndex`] holds the profiles of one side (cases, or traces) with their
//! blocking index and name frequencies. [`ProfileIndex::find`] answers one query;
//! [`ProfileIndex::find_all`] answers many on all cores (rayon). [`match_changed`]
//! is what a kit calls when records are saved: the new or changed cases against all
//! traces, the new or changed traces against all cases.
//!
//! Never does IO, never reads a clock (`today` is passed in), never panics on any
//! record.
//!
//! ```
//! use fieldkit_domain::{Case, Date, Sex, Trace, TracingRequest};
//! use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex, Side};
//! use fieldkit_match::profile::{ChildProfile, Locations};
//!
//! let today: Date = "2026-03-01".parse().unwrap();
//! let loc = Locations::CodePrefixes;
//! let cases = vec![
//!     Case { name: Some("عائشة يوسف".into()), sex: Some(Sex::Female), age: Some(9),
//!            location_separation: Some("JO-MA-ZAATARI".into()), consent_for_tracing: Some(true), ..Case::default() },
//!     Case { name: Some("Omar Khalid".into()), sex: Some(Sex::Male), age: Some(12), consent_for_tracing: Some(true), ..Case::default() },
//! ];
//! let index = ProfileIndex::new(cases.iter().map(|c| ChildProfile::from_case(c, &loc, today)).collect());
//! let request = TracingRequest { relation_name: Some("Halima Yusuf".into()), ..TracingRequest::default() };
//! let trace = Trace { name: Some("Aisha Yousef".into()), sex: Some(Sex::Female), age: Some(10),
//!                     location_separation: Some("JO-MA-ZAATARI".into()), ..Trace::default() };
//! let sought = ChildProfile::from_trace(&request, &trace, &loc, today);
//! let found = index.find(&sought, Side::Sought, &MatchSettings::default(), true);
//! assert_eq!(found[0].index, 0);
//! assert!(found[0].likelihood >= Likelihood::Possible);
//! assert!(!found[0].fields.is_empty());
//! ```

use fieldkit_domain::{Case, Date, Detail, RecordId, TracingRequest};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compare::{Comparison, FieldEvidence, NameFrequencies, Weights, compare};
use crate::duplicates::DuplicateSettings;
use crate::index::{BlockingIndex, Scratch, query_keys};
use crate::profile::{ChildProfile, Locations};

/// How sure a potential match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    /// Worth a look.
    Possible,
    /// Probably the child: review first.
    Likely,
}

impl Likelihood {
    /// Primero's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Likelihood::Possible => "possible",
            Likelihood::Likely => "likely",
        }
    }
}

/// Thresholds and limits of matching.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MatchSettings {
    /// Field weights.
    pub weights: Weights,
    /// Total weight (bits) from which a match is likely. The thresholds were fitted with
    /// [`Weights::NAMES_COUNTED`] on the evaluation's tuning seeds (1 and 7, both
    /// populations) with `examples/likely_sweep.rs`, and are reported on others.
    pub likely: f32,
    /// Bits by which a likely match must stand clear of the query's next potential match:
    /// two records that score alike (namesakes) are for a caseworker to tell apart, so both
    /// are possible. Two cases that are one child registered twice
    /// ([`registered_twice`](Self::registered_twice)) are no rivals: both are likely (on the
    /// tuning seeds, 60–80 true pairs per 20,000 cases were held back by the child's own other
    /// registration). Nor is a record whose child's name differs from the query's (a sibling:
    /// same parents, separation and place, another given name): the name tells them apart, and
    /// it is never likely itself (on the tuning seeds, 50–80 true pairs per run were held back
    /// by a sibling, for at most one likely pair more of a child never registered).
    pub likely_margin: f32,
    /// Total weight (bits) from which a likely match needs no margin: evidence this strong on
    /// two records is one child registered twice, and both are likely.
    pub likely_without_margin: f32,
    /// Total weight (bits) from which a match is possible; below it nothing is shown.
    pub possible: f32,
    /// Candidates the blocking index passes to the full comparison per query.
    pub candidates: usize,
    /// Most potential matches returned per query.
    pub top: usize,
    /// Duplicate registrations (case against case) have their own weights and
    /// thresholds.
    pub duplicates: DuplicateSettings,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            weights: Weights::default(),
            // Raised from 11.75 when the request's other children (siblings) and a child's two
            // registrations (no rivals) raised likely recall by about 2 points: the highest bar
            // at which no figure of the standard population on the tuning seeds falls below
            // what 11.75 gave before (`examples/likely_sweep.rs`); a likely pair for a child
            // never registered is most often a namesake agreeing on name, sex and age alone,
            // and each quarter bit trades them straight for recall (see the sweep in issue 7's
            // notes: 15 bits leaves 6 of them in 8 runs at a recall of 0.66 / 0.49). Raised
            // again from 12.5 when a sibling stopped holding the child back (margin rule and
            // one-child-one-request rule) and gave about 1.5 points of recall: the highest
            // quarter bit at which the hard population's likely recall stays at 0.6 or more on
            // both tuning seeds (seed 7: 0.605 at 12.75, about 0.597 at 13).
            likely: 12.75,
            likely_margin: 1.5,
            // Above what names, sex, age and the family's origins can give alone (18.6), so
            // two namesakes never both reach it.
            likely_without_margin: 19.0,
            possible: 5.0,
            candidates: 300,
            top: 20,
            duplicates: DuplicateSettings::default(),
        }
    }
}

impl MatchSettings {
    /// The class of a comparison, if it reaches one. Differing names keep a match at
    /// `possible` at most (unless the dates of birth agree): a sibling shares
    /// parents, family name, separation and place, and only the given name tells.
    pub fn classify(&self, c: &Comparison) -> Option<Likelihood> {
        let weight = c.weight;
        if weight >= self.likely && (!c.names_differ || c.same_birth_date) {
            Some(Likelihood::Likely)
        } else if weight >= self.possible {
            Some(Likelihood::Possible)
        } else {
            None
        }
    }

    /// Ranks one query's potential matches (each: what was matched, its weight, its class as
    /// [`classify`](Self::classify) gave it) best first, ties by key, keeps the first
    /// [`top`](Self::top), and applies the margin rule: a likely match below
    /// [`likely_without_margin`](Self::likely_without_margin) that does not stand
    /// [`likely_margin`](Self::likely_margin) clear of the query's best other match becomes
    /// possible (the last element: demoted so). The evaluation ([`ProfileIndex::find`]) and the
    /// kit's warm index both rank through [`rank_with`](Self::rank_with) (with
    /// [`registered_twice`](Self::registered_twice) and a differing name as `no_rival`), so a
    /// kit proposes *likely* exactly where `trace eval` counts it.
    pub fn rank<K: Ord>(
        &self,
        scored: Vec<(K, f32, Likelihood)>,
    ) -> Vec<(K, f32, Likelihood, bool)> {
        self.rank_with(scored, |_, _| false)
    }

    /// [`rank`](Self::rank), where a matched record that `no_rival` says is none of another's
    /// (`no_rival(record, other)`) does not hold it back under the margin rule: one child
    /// registered twice (a trace matching both registrations alike has found it twice, not a
    /// namesake), or another whose name differs from the query's (a sibling, told apart by
    /// the name). [`ProfileIndex::find`] and the kit's index pass both.
    pub fn rank_with<K: Ord>(
        &self,
        mut scored: Vec<(K, f32, Likelihood)>,
        no_rival: impl Fn(&K, &K) -> bool,
    ) -> Vec<(K, f32, Likelihood, bool)> {
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let unclear: Vec<bool> = (0..scored.len().min(self.top))
            .map(|k| {
                let (key, weight, likelihood) = &scored[k];
                *likelihood == Likelihood::Likely
                    && *weight < self.likely_without_margin
                    && scored
                        .iter()
                        .enumerate()
                        .take_while(|(_, o)| *weight - o.1 < self.likely_margin)
                        .any(|(j, o)| j != k && !no_rival(key, &o.0))
            })
            .collect();
        scored
            .into_iter()
            .zip(unclear)
            .map(|((key, weight, likelihood), unclear)| {
                if unclear {
                    (key, weight, Likelihood::Possible, true)
                } else {
                    (key, weight, likelihood, false)
                }
            })
            .collect()
    }

    /// Whether two registered children, as their records compare with the trace weights, are
    /// one child registered twice: evidence no namesakes reach
    /// ([`likely_without_margin`](Self::likely_without_margin)) and no name that differs.
    pub fn registered_twice(&self, c: &Comparison) -> bool {
        c.weight >= self.likely_without_margin && !c.names_differ
    }

    /// Why a match that reached [`likely`](Self::likely) is shown as possible, for its
    /// explanation: how it was demoted, else (`None`) a name differs.
    pub fn why_possible(&self, demoted: Option<Demoted>) -> FieldEvidence {
        FieldEvidence {
            field: "likelihood",
            weight: 0.0,
            detail: match demoted {
                Some(Demoted::Unclear) => Detail::Unclear {
                    margin_bits: self.likely_margin,
                },
                Some(Demoted::Claimed) => Detail::Claimed,
                None => Detail::NameDiffers,
            },
        }
    }

    /// The one-child-one-request rule: a likely match (below
    /// [`likely_without_margin`](Self::likely_without_margin)) whose case another trace
    /// matches with at least its weight (`best_other`: the best weight of the case's other
    /// traces whose child's name does not differ from the case's; a sibling's trace seeks
    /// another child) is possible. A child is sought by one family's request; when two traces point at
    /// one registered child, the one that fits it less is most often a namesake: a child of
    /// another family, or one never registered at all, whose only candidate is that namesake.
    /// (Two requests for one child do happen: the better one stays likely, the other is shown
    /// as possible.)
    pub fn claimed(&self, weight: f32, best_other: Option<f32>) -> bool {
        weight < self.likely_without_margin && best_other.is_some_and(|b| b >= weight)
    }
}

/// Why a pair that reached *likely* by its own weights is shown as possible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demoted {
    /// The margin rule: another case scores within the margin for the same trace.
    Unclear,
    /// The one-child-one-request rule ([`MatchSettings::claimed`]).
    Claimed,
}

/// Which side of a match the query is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The query is a trace (a child sought); the index holds cases.
    Sought,
    /// The query is a case (a child registered); the index holds traces.
    Registered,
}

/// One potential match.
#[derive(Clone, Debug)]
pub struct PotentialMatch {
    /// Position of the matched profile in the index.
    pub index: usize,
    /// Total weight in bits.
    pub weight: f32,
    /// Class.
    pub likelihood: Likelihood,
    /// Per-field explanation (empty unless asked for).
    pub fields: Vec<FieldEvidence>,
}

/// Profiles of one side, with their blocking index and name frequencies.
#[derive(Debug, Default, Clone)]
pub struct ProfileIndex {
    profiles: Vec<ChildProfile>,
    blocking: BlockingIndex,
    frequencies: NameFrequencies,
}

impl ProfileIndex {
    /// Indexes the profiles (position `i` answers as `index: i`).
    pub fn new(profiles: Vec<ChildProfile>) -> ProfileIndex {
        let blocking = BlockingIndex::build(&profiles);
        let frequencies = NameFrequencies::build(&profiles);
        ProfileIndex {
            profiles,
            blocking,
            frequencies,
        }
    }

    /// Adds one profile (a new registration) and returns its position.
    pub fn push(&mut self, p: ChildProfile) -> usize {
        let i = self.profiles.len();
        self.blocking.insert(i as u32, &p);
        self.frequencies.add(&p);
        self.profiles.push(p);
        i
    }

    /// Takes profile `i` out (its record was edited, closed, or lost consent): it is
    /// never returned again, and name frequencies and key rarities become those of the
    /// profiles left, as if the index had been built without it. Its position is not
    /// reused. Returns false when `i` was not a live profile.
    pub fn remove(&mut self, i: usize) -> bool {
        let Some(p) = self.profiles.get(i) else {
            return false;
        };
        let Ok(slot) = u32::try_from(i) else {
            return false;
        };
        if !self.blocking.remove(slot, p) {
            return false;
        }
        self.frequencies.remove(p);
        true
    }

    /// True when position `i` holds a profile that was not taken out.
    pub fn is_live(&self, i: usize) -> bool {
        i < self.profiles.len() && u32::try_from(i).is_ok_and(|s| !self.blocking.is_removed(s))
    }

    /// The profiles, every position (taken-out ones included: see
    /// [`is_live`](Self::is_live)), to rebuild a compact index from.
    pub fn into_profiles(self) -> Vec<ChildProfile> {
        self.profiles
    }

    /// The indexed profiles.
    pub fn profiles(&self) -> &[ChildProfile] {
        &self.profiles
    }

    /// The blocking index (for its memory figures).
    pub fn blocking(&self) -> &BlockingIndex {
        &self.blocking
    }

    /// Name frequencies of the indexed side.
    pub fn frequencies(&self) -> &NameFrequencies {
        &self.frequencies
    }

    /// Potential matches of one query, best first, at most `settings.top`, none
    /// below `settings.possible`.
    pub fn find(
        &self,
        query: &ChildProfile,
        side: Side,
        settings: &MatchSettings,
        explain: bool,
    ) -> Vec<PotentialMatch> {
        self.find_with(
            query,
            side,
            settings,
            explain,
            &mut Scratch::default(),
            None,
        )
    }

    /// As [`find`](Self::find), with reusable scratch memory and an index position to
    /// leave out (the query itself, when looking for duplicates).
    pub fn find_with(
        &self,
        query: &ChildProfile,
        side: Side,
        settings: &MatchSettings,
        explain: bool,
        scratch: &mut Scratch,
        skip: Option<usize>,
    ) -> Vec<PotentialMatch> {
        let keys = query_keys(query);
        let candidates = self.blocking.candidates(
            &keys,
            scratch,
            settings.candidates + usize::from(skip.is_some()),
        );
        // Candidates whose name differs from the query's: told apart by their names.
        let mut named_apart: Vec<usize> = Vec::new();
        let scored: Vec<(usize, f32, Likelihood)> = candidates
            .into_iter()
            .map(|i| i as usize)
            .filter(|&i| Some(i) != skip && self.is_live(i))
            .filter_map(|i| {
                let p = self.profiles.get(i)?;
                if !p.consent || !query.consent {
                    return None;
                }
                let c = match side {
                    Side::Sought => compare(query, p, &self.frequencies, &settings.weights, false),
                    Side::Registered => {
                        compare(p, query, &self.frequencies, &settings.weights, false)
                    }
                };
                let likelihood = settings.classify(&c)?;
                if c.names_differ {
                    named_apart.push(i);
                }
                Some((i, c.weight, likelihood))
            })
            .collect();
        let no_rival = |a: &usize, b: &usize| {
            if named_apart.contains(b) {
                return true;
            }
            let (Some(x), Some(y)) = (self.profiles.get(*a), self.profiles.get(*b)) else {
                return false;
            };
            settings.registered_twice(&compare(x, y, &self.frequencies, &settings.weights, false))
        };
        settings
            .rank_with(scored, no_rival)
            .into_iter()
            .map(|(i, weight, likelihood, unclear)| {
                let mut fields = if explain {
                    let p = &self.profiles[i];
                    match side {
                        Side::Sought => {
                            compare(query, p, &self.frequencies, &settings.weights, true).fields
                        }
                        Side::Registered => {
                            compare(p, query, &self.frequencies, &settings.weights, true).fields
                        }
                    }
                } else {
                    Vec::new()
                };
                if explain && likelihood == Likelihood::Possible && weight >= settings.likely {
                    fields.push(settings.why_possible(unclear.then_some(Demoted::Unclear)));
                }
                PotentialMatch {
                    index: i,
                    weight,
                    likelihood,
                    fields,
                }
            })
            .collect()
    }

    /// [`find`](Self::find) for many queries, on all cores.
    pub fn find_all(
        &self,
        queries: &[ChildProfile],
        side: Side,
        settings: &MatchSettings,
        explain: bool,
    ) -> Vec<Vec<PotentialMatch>> {
        queries
            .par_iter()
            .map_init(Scratch::default, |scratch, q| {
                self.find_with(q, side, settings, explain, scratch, None)
            })
            .collect()
    }

    /// The best weight of `case` (a position here) with any trace of `traces` but `own` (its
    /// position there): the case's query over the traces, each pair weighed as the trace's
    /// query weighs it (with this side's name frequencies).
    pub fn best_other_trace(
        &self,
        case: usize,
        traces: &ProfileIndex,
        own: usize,
        settings: &MatchSettings,
        scratch: &mut Scratch,
    ) -> Option<f32> {
        let cp = self.profiles.get(case)?;
        traces
            .blocking
            .candidates(&query_keys(cp), scratch, settings.candidates)
            .into_iter()
            .map(|i| i as usize)
            .filter(|&i| i != own && traces.is_live(i))
            .filter_map(|i| {
                let tp = traces.profiles.get(i)?;
                let c = compare(tp, cp, &self.frequencies, &settings.weights, false);
                // A trace whose child's name differs from the case's seeks another child.
                (!c.names_differ).then_some(c.weight)
            })
            .max_by(f32::total_cmp)
    }

    /// The potential matches of every trace of `traces` among the cases held here, as
    /// [`find_all`](Self::find_all) gives them, with the one-child-one-request rule
    /// ([`MatchSettings::claimed`]) applied to each likely match: the classes the evaluation
    /// scores and the kit proposes.
    pub fn find_traces(
        &self,
        traces: &ProfileIndex,
        settings: &MatchSettings,
        explain: bool,
    ) -> Vec<Vec<PotentialMatch>> {
        (0..traces.profiles.len())
            .into_par_iter()
            .map_init(Scratch::default, |scratch, own| {
                self.find_trace(traces, own, settings, explain, scratch)
            })
            .collect()
    }

    /// The potential matches of trace `own` (a position in `traces`) among the cases held
    /// here, classed as [`find_traces`](Self::find_traces) classes them: the trace's ranking
    /// with the margin rule, then the one-child-one-request rule against the other traces.
    pub fn find_trace(
        &self,
        traces: &ProfileIndex,
        own: usize,
        settings: &MatchSettings,
        explain: bool,
        scratch: &mut Scratch,
    ) -> Vec<PotentialMatch> {
        let Some(query) = traces.profiles.get(own) else {
            return Vec::new();
        };
        let mut hits = self.find_with(query, Side::Sought, settings, explain, scratch, None);
        for h in hits.iter_mut() {
            if h.likelihood != Likelihood::Likely {
                continue;
            }
            let other = self.best_other_trace(h.index, traces, own, settings, scratch);
            if settings.claimed(h.weight, other) {
                h.likelihood = Likelihood::Possible;
                if explain {
                    h.fields.push(settings.why_possible(Some(Demoted::Claimed)));
                }
            }
        }
        hits
    }
}

/// A potential match between one trace and one case, by record ids.
#[derive(Clone, Debug)]
pub struct TraceMatch {
    /// The tracing request.
    pub tracing_request_id: RecordId,
    /// The trace's `unique_id` within the request.
    pub trace_id: String,
    /// The case.
    pub case_id: RecordId,
    /// Total weight in bits.
    pub weight: f32,
    /// Class.
    pub likelihood: Likelihood,
    /// Per-field explanation.
    pub fields: Vec<FieldEvidence>,
}

/// The changed records, then every other record of `all` (a record of both lists counts once,
/// in its changed version).
fn changed_first<'a, T>(
    changed: &'a [T],
    all: impl IntoIterator<Item = &'a T>,
    id: impl Fn(&T) -> RecordId,
) -> Vec<&'a T> {
    changed
        .iter()
        .chain(
            all.into_iter()
                .filter(|x| !changed.iter().any(|c| id(c) == id(x))),
        )
        .collect()
}

/// Matches what changed against everything: every trace of the changed requests
/// against all cases, and every changed case against all traces. Call it after a
/// registration is saved or after a sync, when no warm index is kept (the kit core keeps one,
/// and the hub runs the kit core). Records of the changed lists may also appear in the full
/// lists (a changed record's own version counts); each pair is reported once.
///
/// Every pair is classed as the kit and the evaluation class it
/// ([`ProfileIndex::find_traces`]): by its trace's ranking of all cases (the margin rule), then
/// the one-child-one-request rule against all traces, whichever record changed. A changed
/// case's pair that its trace's ranking leaves out is possible.
pub fn match_changed<'a>(
    changed_cases: &'a [Case],
    changed_requests: &'a [TracingRequest],
    all_cases: impl IntoIterator<Item = &'a Case>,
    all_requests: impl IntoIterator<Item = &'a TracingRequest>,
    locations: &Locations<'_>,
    today: Date,
    settings: &MatchSettings,
) -> Vec<TraceMatch> {
    let mut out: Vec<TraceMatch> = Vec::new();
    if changed_cases.is_empty() && changed_requests.is_empty() {
        return out;
    }
    // Every record once, a changed one in its changed version.
    let cases = changed_first(changed_cases, all_cases, |c| c.id);
    let requests = changed_first(changed_requests, all_requests, |r| r.id);
    let case_index = ProfileIndex::new(
        cases
            .iter()
            .map(|c| ChildProfile::from_case(c, locations, today))
            .collect(),
    );
    let mut owners: Vec<(RecordId, &str)> = Vec::new();
    let mut profiles = Vec::new();
    for r in &requests {
        for t in r.traces() {
            owners.push((r.id, t.unique_id.as_str()));
            profiles.push(ChildProfile::from_trace(r, t, locations, today));
        }
    }
    let trace_index = ProfileIndex::new(profiles);
    let mut scratch = Scratch::default();
    // The traces to rank: every trace of a changed request (all its pairs), and every trace a
    // changed case's query finds (its pairs with changed cases).
    let changed_traces = owners
        .iter()
        .take_while(|(r, _)| changed_requests.iter().any(|x| x.id == *r))
        .count();
    let mut case_pairs: Vec<(usize, usize)> = Vec::new();
    for c in 0..changed_cases.len() {
        for m in trace_index.find_with(
            &case_index.profiles[c],
            Side::Registered,
            settings,
            false,
            &mut scratch,
            None,
        ) {
            if m.index >= changed_traces {
                case_pairs.push((m.index, c));
            }
        }
    }
    let mut ranked: Vec<usize> = (0..changed_traces)
        .chain(case_pairs.iter().map(|p| p.0))
        .collect();
    ranked.sort_unstable();
    ranked.dedup();
    for t in ranked {
        let hits = case_index.find_trace(&trace_index, t, settings, true, &mut scratch);
        let (rid, tid) = owners[t];
        let push = |out: &mut Vec<TraceMatch>, case: usize, weight, likelihood, fields| {
            out.push(TraceMatch {
                tracing_request_id: rid,
                trace_id: tid.to_string(),
                case_id: cases[case].id,
                weight,
                likelihood,
                fields,
            });
        };
        if t < changed_traces {
            for m in hits {
                push(&mut out, m.index, m.weight, m.likelihood, m.fields);
            }
            continue;
        }
        for &(_, c) in case_pairs.iter().filter(|p| p.0 == t) {
            match hits.iter().find(|m| m.index == c) {
                Some(m) => push(&mut out, c, m.weight, m.likelihood, m.fields.clone()),
                None => {
                    // Beyond the trace's ranking (its top or its candidates): possible at most.
                    let cmp = compare(
                        &trace_index.profiles[t],
                        &case_index.profiles[c],
                        &case_index.frequencies,
                        &settings.weights,
                        true,
                    );
                    let Some(l) = settings.classify(&cmp) else {
                        continue;
                    };
                    let mut fields = cmp.fields;
                    if l == Likelihood::Likely {
                        fields.push(settings.why_possible(Some(Demoted::Unclear)));
                    }
                    push(&mut out, c, cmp.weight, Likelihood::Possible, fields);
                }
            }
        }
    }
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    out
}

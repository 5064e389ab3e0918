//! Duplicate registrations: cases that are probably the same child registered twice
//! (at two kits, by two agencies, or again after a move).
//!
//! Each case is compared, through the blocking index, with the cases that share its
//! rarer name keys. The comparison is case against case ([`compare_cases`]), not the
//! trace matcher's: two registrations of one child share far more than a trace and
//! its case (two age estimates, the family's names, one separation remembered twice,
//! the family's home), and so do siblings and children of other families with the
//! same common names. It has its own weights and thresholds
//! ([`DuplicateSettings`], the `duplicates` part of [`MatchSettings`]). A pair is
//! `likely` only when its weight reaches the threshold, no name token of one child
//! is missing from the other's names, the given names (the tokens the parents'
//! names do not hold) agree firmly, and neither case lists the other's child as a
//! sibling: a sibling shares everything else. Pairs short of that but above
//! `possible` are worth a look. No IO.
//!
//! The thresholds were tuned on the evaluation's tuning seed only; `trace eval`
//! reports them on the evaluation seed (`fieldkit-match-eval`).
//!
//! ```
//! use fieldkit_domain::{Case, Date, Sex, FamilyMember};
//! use fieldkit_match::duplicates::find_duplicates;
//! use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
//! use fieldkit_match::profile::{ChildProfile, Locations};
//!
//! let today: Date = "2026-03-01".parse().unwrap();
//! let mother = |n: &str| vec![FamilyMember { relation: Some("mother".into()),
//!                                            relation_name: Some(n.into()), ..FamilyMember::default() }];
//! let cases = [
//!     Case { name: Some("Nyandeng Garang Deng".into()), sex: Some(Sex::Female), age: Some(8),
//!            location_separation: Some("KE-R1-C2-B3".into()),
//!            family_details_section: mother("Achol Majok"), consent_for_tracing: Some(true), ..Case::default() },
//!     Case { name: Some("Nyandeng Garang".into()), sex: Some(Sex::Female), age: Some(9),
//!            location_separation: Some("KE-R1-C2".into()),
//!            family_details_section: mother("Achol Majok"), consent_for_tracing: Some(true), ..Case::default() },
//!     Case { name: Some("Omar Khalid".into()), sex: Some(Sex::Male), age: Some(12), consent_for_tracing: Some(true), ..Case::default() },
//! ];
//! let index = ProfileIndex::new(cases.iter()
//!     .map(|c| ChildProfile::from_case(c, &Locations::CodePrefixes, today)).collect());
//! let found = find_duplicates(&index, &MatchSettings::default());
//! assert_eq!((found[0].first, found[0].second), (0, 1));
//! ```

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

mod evidence;

pub use evidence::{CaseComparison, DuplicateWeights, GivenName, NamePairs, compare_cases};

use crate::compare::FieldEvidence;
use crate::index::{Scratch, query_keys};
use crate::matcher::{Likelihood, MatchSettings, ProfileIndex};

/// Thresholds and weights of duplicate detection, apart from the trace matcher's:
/// two cases share far more than a trace and a case do. Part of
/// [`MatchSettings`] (`duplicates`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DuplicateSettings {
    /// Field weights of case against case.
    pub weights: DuplicateWeights,
    /// Total weight (bits) from which a pair is a likely duplicate (when the given
    /// names agree and neither case lists the other's child as a sibling).
    pub likely: f32,
    /// Total weight (bits) from which a pair is worth a look.
    pub possible: f32,
    /// Candidates the blocking index passes to the full comparison per case.
    pub candidates: usize,
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        DuplicateSettings {
            weights: DuplicateWeights::default(),
            // Tuned on the tuning seed only (see `fieldkit-match-eval`).
            likely: 19.5,
            possible: 8.0,
            candidates: 100,
        }
    }
}

impl DuplicateSettings {
    /// The class of a comparison, if it reaches one. `likely` needs the weight, the
    /// same given name, no differing name token, and no sibling listing; a pair
    /// short of that is `possible` at most.
    pub fn classify(&self, c: &CaseComparison) -> Option<Likelihood> {
        if c.weight >= self.likely
            && !c.names_differ
            && !c.listed_as_sibling
            && c.given_name == GivenName::Agrees
        {
            Some(Likelihood::Likely)
        } else if c.weight >= self.possible {
            Some(Likelihood::Possible)
        } else {
            None
        }
    }
}

/// Two cases that may register one child.
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicatePair {
    /// Position of the earlier case in the index.
    pub first: usize,
    /// Position of the later case.
    pub second: usize,
    /// Weight in bits.
    pub weight: f32,
    /// `likely`: probably the same child.
    pub likelihood: Likelihood,
}

/// The indexed cases with what duplicate detection counts over them (which names
/// are written together). Build it once for many look-ups.
#[derive(Debug)]
pub struct DuplicateIndex<'a> {
    cases: &'a ProfileIndex,
    pairs: NamePairs,
}

impl<'a> DuplicateIndex<'a> {
    /// Counts the names of the indexed cases.
    pub fn new(cases: &'a ProfileIndex) -> DuplicateIndex<'a> {
        DuplicateIndex {
            cases,
            pairs: NamePairs::build(cases.profiles()),
        }
    }

    /// Compares two indexed cases (the given-name check always made).
    pub fn compare(
        &self,
        first: usize,
        second: usize,
        settings: &MatchSettings,
        explain: bool,
    ) -> Option<CaseComparison> {
        let profiles = self.cases.profiles();
        let (a, b) = (profiles.get(first)?, profiles.get(second)?);
        Some(compare_cases(
            a,
            b,
            self.cases.frequencies(),
            &self.pairs,
            &settings.duplicates.weights,
            f32::NEG_INFINITY,
            explain,
        ))
    }

    /// Field-by-field explanation of one pair, for the caseworker.
    pub fn explain(
        &self,
        first: usize,
        second: usize,
        settings: &MatchSettings,
    ) -> Vec<FieldEvidence> {
        self.compare(first, second, settings, true)
            .map(|c| c.fields)
            .unwrap_or_default()
    }

    /// Every pair of indexed cases at or above the duplicates' `possible` threshold
    /// (`settings.duplicates`), strongest first, each pair once. Cases refusing
    /// tracing are left out, as from matching.
    pub fn find(&self, settings: &MatchSettings) -> Vec<DuplicatePair> {
        let s = &settings.duplicates;
        let cases = self.cases;
        let profiles = cases.profiles();
        let mut pairs: Vec<DuplicatePair> = profiles
            .par_iter()
            .enumerate()
            .map_init(Scratch::default, |scratch, (i, p)| {
                if !p.consent {
                    return Vec::new();
                }
                let keys = query_keys(p);
                cases
                    .blocking()
                    .candidates(&keys, scratch, s.candidates + 1)
                    .into_iter()
                    .map(|j| j as usize)
                    .filter(|&j| j != i)
                    .filter_map(|j| {
                        let q = profiles.get(j)?;
                        if !q.consent {
                            return None;
                        }
                        let c = compare_cases(
                            p,
                            q,
                            cases.frequencies(),
                            &self.pairs,
                            &s.weights,
                            s.likely,
                            false,
                        );
                        let likelihood = s.classify(&c)?;
                        Some(DuplicatePair {
                            first: i.min(j),
                            second: i.max(j),
                            weight: c.weight,
                            likelihood,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .flatten()
            .collect();
        pairs.sort_by(|a, b| {
            (a.first, a.second)
                .cmp(&(b.first, b.second))
                .then(b.likelihood.cmp(&a.likelihood))
                .then(b.weight.total_cmp(&a.weight))
        });
        pairs.dedup_by(|a, b| a.first == b.first && a.second == b.second);
        pairs.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then((a.first, a.second).cmp(&(b.first, b.second)))
        });
        pairs
    }
}

/// Every pair of indexed cases at or above the duplicates' `possible` threshold,
/// strongest first, each pair once: [`DuplicateIndex::find`].
pub fn find_duplicates(cases: &ProfileIndex, settings: &MatchSettings) -> Vec<DuplicatePair> {
    DuplicateIndex::new(cases).find(settings)
}

/// Field-by-field explanation of one pair (counts the names of every case first:
/// for many pairs, keep a [`DuplicateIndex`]).
pub fn explain_pair(
    cases: &ProfileIndex,
    first: usize,
    second: usize,
    settings: &MatchSettings,
) -> Vec<FieldEvidence> {
    DuplicateIndex::new(cases).explain(first, second, settings)
}

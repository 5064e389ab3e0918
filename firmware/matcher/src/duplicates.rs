//! Duplicate registrations: cases that are probably the same child registered twice
//! (at two kits, by two agencies, or again after a move).
//!
//! Each case is compared, through the blocking index, with the cases that share its
//! rarer name keys; pairs whose weight reaches the `likely` threshold are probable
//! duplicates, `possible` ones are worth a look. The comparison is the matcher's
//! own ([`compare`](crate::compare::compare)), with the case in the sought role. No
//! IO.
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
//!            family_details_section: mother("Achol Majok"), ..Case::default() },
//!     Case { name: Some("Nyandeng Garang".into()), sex: Some(Sex::Female), age: Some(9),
//!            location_separation: Some("KE-R1-C2".into()),
//!            family_details_section: mother("Achol Majok"), ..Case::default() },
//!     Case { name: Some("Omar Khalid".into()), sex: Some(Sex::Male), age: Some(12), ..Case::default() },
//! ];
//! let index = ProfileIndex::new(cases.iter()
//!     .map(|c| ChildProfile::from_case(c, &Locations::CodePrefixes, today)).collect());
//! let found = find_duplicates(&index, &MatchSettings::default());
//! assert_eq!((found[0].first, found[0].second), (0, 1));
//! ```

use rayon::prelude::*;

use crate::index::Scratch;
use crate::matcher::{Likelihood, MatchSettings, ProfileIndex, Side};

/// Two cases that may register one child.
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicatePair {
    /// Position of the earlier case in the index.
    pub first: usize,
    /// Position of the later case.
    pub second: usize,
    /// Weight in bits (the larger of the two directions).
    pub weight: f32,
    /// `likely`: probably the same child.
    pub likelihood: Likelihood,
}

/// Every pair of indexed cases at or above the `possible` threshold, strongest
/// first, each pair once.
pub fn find_duplicates(cases: &ProfileIndex, settings: &MatchSettings) -> Vec<DuplicatePair> {
    // Two registrations of one child share most name keys: fewer candidates do.
    let settings = &MatchSettings {
        candidates: settings.candidates.min(100),
        ..settings.clone()
    };
    let mut pairs: Vec<DuplicatePair> = cases
        .profiles()
        .par_iter()
        .enumerate()
        .map_init(Scratch::default, |scratch, (i, p)| {
            cases
                .find_with(p, Side::Sought, settings, false, scratch, Some(i))
                .into_iter()
                .map(|m| DuplicatePair {
                    first: i.min(m.index),
                    second: i.max(m.index),
                    weight: m.weight,
                    likelihood: m.likelihood,
                })
                .collect::<Vec<_>>()
        })
        .flatten()
        .collect();
    pairs.sort_by(|a, b| {
        (a.first, a.second)
            .cmp(&(b.first, b.second))
            .then(b.weight.total_cmp(&a.weight))
    });
    pairs.dedup_by(|a, b| a.first == b.first && a.second == b.second);
    pairs.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    pairs
}

//! The evaluation targets on small populations (seed 7, about 6,000 cases; neither the
//! tuning seed nor the reported one), asserted close under what is observed so that a
//! change that loses matches fails here.
//!
//! Standard population (observed at 19 bits with a 2-bit margin: likely precision 0.996,
//! likely recall 0.700, recall within the top 5 0.978, no likely pair for a child never
//! registered): likely precision at least 0.98, likely recall at least 0.65, recall within
//! the top 5 at least 0.96, better than the Primero-style baseline everywhere.
//!
//! Duplicate registrations, with their own settings (tuned on seed 1 only; observed 0.991,
//! 0.447 and 0.953): `likely` precision at least 0.97, `likely` recall at least 0.42,
//! recall at `possible` at least 0.93.
//!
//! The hard population (namesakes, given-name-only traces, ages off by 3, no sex): see
//! `hard_population_targets`.

use fieldkit_match::matcher::MatchSettings;
use fieldkit_match_eval::{evaluate, population::PopulationSpec};

#[test]
fn targets_hold_on_a_small_population() {
    let r = evaluate(
        PopulationSpec::with_cases(7, 6_000),
        &MatchSettings::default(),
    );
    println!("{r}");
    assert!(
        r.ours.recall_at_5 >= 0.96,
        "recall@5 {}",
        r.ours.recall_at_5
    );
    assert!(
        r.ours.precision_likely >= 0.98,
        "precision {}",
        r.ours.precision_likely
    );
    assert!(
        r.ours.recall_likely >= 0.65,
        "recall {}",
        r.ours.recall_likely
    );
    assert!(r.ours.likely_unregistered <= 2, "{:?}", r.ours);
    assert!(r.ours.recall_at_5 > r.baseline.recall_at_5);
    assert!(r.ours.precision_likely > r.baseline.precision_likely);
    assert!(r.ours.f1_likely > r.baseline.f1_likely);
    assert!(r.ours.f1_possible > r.baseline.f1_possible);

    let d = &r.duplicates;
    assert!(d.true_pairs > 200, "{d:?}");
    assert!(d.precision_likely >= 0.97, "duplicates {d:?}");
    assert!(d.recall_likely >= 0.42, "duplicates {d:?}");
    assert!(d.recall_possible >= 0.93, "duplicates {d:?}");
}

/// The harder population a field test found (issue 7). Observed on seed 7 at this size:
/// likely precision 0.985, likely recall 0.555, recall within the top 5 0.946; asserted a
/// little under it.
#[test]
fn hard_population_targets() {
    let r = evaluate(PopulationSpec::hard(7, 6_000), &MatchSettings::default());
    println!("{r}");
    assert!(
        r.ours.precision_likely >= 0.97,
        "precision {}",
        r.ours.precision_likely
    );
    assert!(
        r.ours.recall_likely >= 0.52,
        "recall {}",
        r.ours.recall_likely
    );
    assert!(
        r.ours.recall_at_5 >= 0.93,
        "recall@5 {}",
        r.ours.recall_at_5
    );
    assert!(r.ours.f1_likely > r.baseline.f1_likely);
}

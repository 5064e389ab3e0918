//! The evaluation targets on a small population (seed 7, about 6,000 cases; neither the
//! tuning seed nor the reported one): recall within the top 5 at least 0.95, precision
//! of `likely` at least 0.9, both better than the Primero-style baseline.
//!
//! Duplicate registrations, with their own settings (tuned on seed 1 only): `likely`
//! precision at least 0.95, `likely` recall at least 0.38, recall at `possible` at
//! least 0.9. (Seed 7 at this size gives about 0.99, 0.44 and 0.94; the evaluation
//! seed at 20,000 cases about 0.96, 0.42 and 0.92: a smaller population has fewer
//! children of other families with the same names.)

use fieldkit_match::eval::{evaluate, population::PopulationSpec};
use fieldkit_match::matcher::MatchSettings;

#[test]
fn targets_hold_on_a_small_population() {
    let r = evaluate(
        PopulationSpec::with_cases(7, 6_000),
        &MatchSettings::default(),
    );
    println!("{r}");
    assert!(
        r.ours.recall_at_5 >= 0.95,
        "recall@5 {}",
        r.ours.recall_at_5
    );
    assert!(
        r.ours.precision_likely >= 0.9,
        "precision {}",
        r.ours.precision_likely
    );
    assert!(r.ours.recall_at_5 > r.baseline.recall_at_5);
    assert!(r.ours.precision_likely > r.baseline.precision_likely);
    assert!(r.ours.f1_likely > r.baseline.f1_likely);
    assert!(r.ours.f1_possible > r.baseline.f1_possible);

    let d = &r.duplicates;
    assert!(d.true_pairs > 200, "{d:?}");
    assert!(d.precision_likely >= 0.95, "duplicates {d:?}");
    assert!(d.recall_likely >= 0.38, "duplicates {d:?}");
    assert!(d.recall_possible >= 0.9, "duplicates {d:?}");
}

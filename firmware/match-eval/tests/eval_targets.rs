//! The evaluation targets on small populations (seed 7, about 6,000 cases: a regression
//! guard; seed 7 is one of tracing's tuning seeds, the reported figures are on others),
//! asserted a small margin under what is observed, so a change that loses matches or lets a
//! wrong *likely* through fails here. The populations are seeded, so the figures are exact;
//! the margin leaves room only for deliberate small trade-offs, which must then update the
//! figures below.
//!
//! Standard population, observed: likely precision 1.000, likely recall 0.793 (0.783 before
//! Somali orthography was folded in names; 0.775 before a sibling stopped holding the child
//! back and the likely bar rose from 12.5 to 12.75 bits), recall within the top 5 0.989 (0.987),
//! no likely pair for a child never registered (issue 7 asks for none; on 20,000 cases there
//! are still some: see `examples/eval_seeds.rs`); duplicates (their own settings, tuned on
//! seed 1 only) likely precision 0.991, likely recall 0.435, recall at `possible` 0.957 (0.447
//! and 0.953 before the fold: Cabdi and Abdi are one name now, so each is commoner and weighs
//! less; 3 of 253 pairs fell below the duplicates' bar here, while on 20,000 cases duplicate
//! recall rose on all five seeds of `eval_seeds`).
//!
//! The hard population (namesakes, given-name-only traces, ages off by 3, no sex):
//! see `hard_population_targets`.

use fieldkit_match::matcher::MatchSettings;
use fieldkit_match_eval::{evaluate, population::PopulationSpec};

#[test]
fn targets_hold_on_a_small_population() {
    let r = evaluate(
        PopulationSpec::with_cases(7, 6_000),
        &MatchSettings::default(),
    );
    println!("{r}");
    let o = &r.ours;
    assert!(o.recall_at_5 >= 0.987, "recall@5 {}", o.recall_at_5);
    assert!(
        o.precision_likely >= 0.999,
        "precision {}",
        o.precision_likely
    );
    assert!(o.recall_likely >= 0.79, "recall {}", o.recall_likely);
    // Issue 7 asks for no *likely* for a child who was never registered: none here (on
    // 20,000 cases there are still some), so one fails.
    assert!(o.likely_unregistered == 0, "{o:?}");
    assert!(o.recall_at_5 > r.baseline.recall_at_5);
    assert!(o.precision_likely > r.baseline.precision_likely);
    assert!(o.f1_likely > r.baseline.f1_likely);
    assert!(o.f1_possible > r.baseline.f1_possible);

    let d = &r.duplicates;
    assert!(d.true_pairs > 200, "{d:?}");
    assert!(d.precision_likely >= 0.98, "duplicates {d:?}");
    assert!(d.recall_likely >= 0.43, "duplicates {d:?}");
    assert!(d.recall_possible >= 0.949, "duplicates {d:?}");
}

/// The harder population a field test found (issue 7). Observed on seed 7 at this size:
/// likely precision 0.999, likely recall 0.627, recall within the top 5 0.951, 1 likely pair
/// for a child never registered (with the likely bar at 12.75 bits and Somali orthography
/// folded; before the fold 0.998, 0.618, 0.949 and 1; at 12.5 before a sibling stopped holding
/// the child back it was 0.997, 0.613 and 1; at 11.75, 0.994, 0.620 and 2); duplicates likely
/// precision 0.922, likely recall 0.401, recall at `possible` 0.933. Issue 7's targets: likely recall at least 0.6 at a
/// likely precision of at least 0.95 (asserted), and no likely pair for a child never
/// registered (not reached: this holds today's count).
#[test]
fn hard_population_targets() {
    let r = evaluate(PopulationSpec::hard(7, 6_000), &MatchSettings::default());
    println!("{r}");
    let o = &r.ours;
    assert!(
        o.precision_likely >= 0.996,
        "precision {}",
        o.precision_likely
    );
    // Issue 7's target (0.6), with the margin the figures above leave.
    assert!(o.recall_likely >= 0.624, "recall {}", o.recall_likely);
    assert!(o.recall_at_5 >= 0.947, "recall@5 {}", o.recall_at_5);
    assert!(o.likely_unregistered <= 1, "{o:?}");
    assert!(o.f1_likely > r.baseline.f1_likely);

    let d = &r.duplicates;
    assert!(d.precision_likely >= 0.91, "duplicates {d:?}");
    assert!(d.recall_likely >= 0.394, "duplicates {d:?}");
    assert!(d.recall_possible >= 0.923, "duplicates {d:?}");
}

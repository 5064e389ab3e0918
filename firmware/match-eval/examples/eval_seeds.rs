//! The evaluation's headline figures over several seeds and both populations, one line
//! each (not a test): what `fieldkit trace eval [--population hard] --seed N` prints, in a
//! table, to compare a change on seeds it was and was not tuned on.
//!
//! `cargo run --release -p fieldkit-match-eval --example eval_seeds -- [CASES] [SEED...]`
//! (default 20,000 cases, seeds 1, 7, 20260301 and 101).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use fieldkit_match::matcher::MatchSettings;
use fieldkit_match_eval::{evaluate, population::PopulationSpec};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cases: usize = args.get(1).map_or(20_000, |s| s.parse().unwrap());
    let mut seeds: Vec<u64> = args.iter().skip(2).map(|s| s.parse().unwrap()).collect();
    if seeds.is_empty() {
        seeds = vec![1, 7, 20_260_301, 101];
    }
    println!(
        "| population | seed | likely precision | likely recall | top-5 | right first | likely, never registered | likely pairs | dup. likely P / R | dup. recall possible |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for hard in [false, true] {
        for &seed in &seeds {
            let spec = if hard {
                PopulationSpec::hard(seed, cases)
            } else {
                PopulationSpec::with_cases(seed, cases)
            };
            let r = evaluate(spec, &MatchSettings::default());
            let o = &r.ours;
            let d = &r.duplicates;
            println!(
                "| {} | {seed} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {:.3} / {:.3} | {:.3} |",
                r.population,
                o.precision_likely,
                o.recall_likely,
                o.recall_at_5,
                o.recall_at_1,
                o.likely_unregistered,
                o.likely_pairs,
                d.precision_likely,
                d.recall_likely,
                d.recall_possible
            );
        }
    }
}

//! Tuning aid for the *likely* class (not a test): likely precision, recall and pairs for
//! children never registered, over a grid of thresholds, on the populations of the given
//! seeds, each drawn and indexed once. Tune on the tuning seeds (1 and 7); report others.
//!
//! `cargo run --release -p fieldkit-match-eval --example likely_sweep -- [standard|hard] [CASES] SEED...`
//! with `NAMES=0.6 LIKELY=12,12.5,13 MARGIN=2 SURE=26 POSSIBLE=8` (comma-separated grids;
//! defaults the settings'; `NAMES` is [`Weights::with_names_counted`]'s share).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;

use fieldkit_match::compare::Weights;
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
use fieldkit_match_eval::Drawn;

/// Per setting: likely pairs, right ones, true pairs, likely pairs for children never
/// registered, traces of registered children, of them with a right case in the first five.
type Tally = (usize, usize, usize, usize, usize, usize);
/// A setting: names counted, likely, margin, sure, possible (as bits of f32).
type Key = (u32, u32, u32, u32, u32);

fn grid(var: &str, default: f32) -> Vec<f32> {
    std::env::var(var).map_or_else(
        |_| vec![default],
        |v| v.split(',').map(|x| x.trim().parse().unwrap()).collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hard = args.get(1).is_some_and(|s| s == "hard");
    let n: usize = args.get(2).map_or(20_000, |s| s.parse().unwrap());
    let mut seeds: Vec<u64> = args.iter().skip(3).map(|s| s.parse().unwrap()).collect();
    if seeds.is_empty() {
        seeds = vec![1, 7];
    }
    let base = MatchSettings::default();
    let likely = grid("LIKELY", base.likely);
    let margin = grid("MARGIN", base.likely_margin);
    let sure = grid("SURE", base.likely_without_margin);
    let names = grid("NAMES", Weights::NAMES_COUNTED);
    let possible = grid("POSSIBLE", base.possible);
    let mut totals: HashMap<Key, Tally> = HashMap::new();
    for &seed in &seeds {
        let d = Drawn::from_args(seed, hard, n);
        let (p, index, queries, truth) = (&d.population, &d.index, &d.queries, &d.truth);
        let (registered, true_pairs) = (&d.registered, d.true_pairs);
        let with_child = truth.iter().filter(|c| registered.contains(c)).count();
        let traces = ProfileIndex::new(queries.clone());
        for &a in &names {
            for &l in &likely {
                for &m in &margin {
                    for &s in &sure {
                        for &o in &possible {
                            let settings = MatchSettings {
                                weights: Weights::with_names_counted(a),
                                likely: l,
                                likely_margin: m,
                                likely_without_margin: s,
                                possible: o,
                                ..base.clone()
                            };
                            // Classed as the kit classes (margin rule, then one child, one
                            // request).
                            let found = index.find_traces(&traces, &settings, false);
                            let (mut pairs, mut right, mut unreg, mut top5) = (0, 0, 0, 0);
                            for (hits, child) in found.iter().zip(truth) {
                                for h in hits.iter().filter(|h| h.likelihood == Likelihood::Likely)
                                {
                                    pairs += 1;
                                    right += usize::from(p.case_child[h.index] == *child);
                                    unreg += usize::from(!registered.contains(child));
                                }
                                top5 += usize::from(
                                    hits.iter().take(5).any(|h| p.case_child[h.index] == *child),
                                );
                            }
                            println!(
                                "seed {seed} names {a} likely {l} margin {m} sure {s} possible {o}: precision {:.3} recall {:.3} never registered {unreg} ({pairs} pairs), top-5 {:.3}",
                                right as f64 / pairs.max(1) as f64,
                                right as f64 / true_pairs.max(1) as f64,
                                top5 as f64 / with_child.max(1) as f64
                            );
                            let t = totals
                                .entry((
                                    a.to_bits(),
                                    l.to_bits(),
                                    m.to_bits(),
                                    s.to_bits(),
                                    o.to_bits(),
                                ))
                                .or_default();
                            *t = (
                                t.0 + pairs,
                                t.1 + right,
                                t.2 + true_pairs,
                                t.3 + unreg,
                                t.4 + with_child,
                                t.5 + top5,
                            );
                        }
                    }
                }
            }
        }
    }
    let mut keys: Vec<_> = totals.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let (pairs, right, true_pairs, unreg, with_child, top5) = totals[&k];
        println!(
            "all seeds: names {} likely {} margin {} sure {} possible {}: precision {:.3} recall {:.3} never registered {unreg}, top-5 {:.3}",
            f32::from_bits(k.0),
            f32::from_bits(k.1),
            f32::from_bits(k.2),
            f32::from_bits(k.3),
            f32::from_bits(k.4),
            right as f64 / pairs.max(1) as f64,
            right as f64 / true_pairs.max(1) as f64,
            top5 as f64 / with_child.max(1) as f64
        );
    }
}

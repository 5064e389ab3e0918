//! Tuning aid (not a test): what a request-level check would do to *likely*: a trace's likely
//! case is demoted when another trace of the same request has a likely case whose record
//! says the two children are of different families.
//!
//! `cargo run --release -p fieldkit-match-eval --example request_rule -- SEED [standard|hard] [CASES]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;

use fieldkit_match::compare::compare;
use fieldkit_match::matcher::{Likelihood, MatchSettings, Side};
use fieldkit_match_eval::Drawn;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).map_or(1, |s| s.parse().unwrap());
    let hard = args.get(2).is_some_and(|s| s == "hard");
    let n: usize = args.get(3).map_or(20_000, |s| s.parse().unwrap());
    let d = Drawn::from_args(seed, hard, n);
    let settings = MatchSettings::default();
    let cases = d.index.profiles();
    let found = d.index.find_all(&d.queries, Side::Sought, &settings, false);
    let mut by_request: HashMap<usize, Vec<usize>> = HashMap::new();
    for (q, &r) in d.request_of.iter().enumerate() {
        by_request.entry(r).or_default().push(q);
    }
    for limit in [-1.0f32, -2.0, -2.5, -3.0, -4.0, -5.0, -99.0] {
        let (mut n, mut right, mut unreg) = (0usize, 0usize, 0usize);
        for (q, hits) in found.iter().enumerate() {
            for h in hits.iter().filter(|h| h.likelihood == Likelihood::Likely) {
                let c1 = &cases[h.index];
                let mut other_family = false;
                for &q2 in &by_request[&d.request_of[q]] {
                    if q2 == q {
                        continue;
                    }
                    for h2 in found[q2]
                        .iter()
                        .filter(|h2| h2.likelihood == Likelihood::Likely && h2.index != h.index)
                    {
                        let c2 = &cases[h2.index];
                        let cmp = compare(c1, c2, d.index.frequencies(), &settings.weights, true);
                        let against: f32 = cmp
                            .fields
                            .iter()
                            .filter(|f| {
                                matches!(
                                    f.field,
                                    "date_of_separation"
                                        | "location_separation"
                                        | "family_details_section"
                                )
                            })
                            .map(|f| f.weight.min(0.0))
                            .sum();
                        if against <= limit {
                            other_family = true;
                        }
                    }
                }
                if !other_family {
                    n += 1;
                    let r = d.population.case_child[h.index] == d.truth[q];
                    right += usize::from(r);
                    unreg += usize::from(!d.registered.contains(&d.truth[q]));
                }
            }
        }
        println!(
            "limit {limit}: precision {:.3} recall {:.3} never registered {unreg} pairs {n}",
            right as f64 / n as f64,
            right as f64 / d.true_pairs as f64
        );
    }
}

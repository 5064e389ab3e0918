//! Tuning aid for tracing (not a test): on one seed of a population, every returned pair of
//! trace and case with its weight; precision and recall of `likely` at a grid of thresholds;
//! and a few wrong `likely` pairs and missed true pairs, explained.
//!
//! `cargo run --release -p fieldkit-match-eval --example trace_tune -- SEED [standard|hard] [SHOW] [CASES]`
//! with `WEIGHTS='{"names": {"cap": 20}}'` to try other weights. Tune on the tuning seeds (1 and 7) only.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use fieldkit_match::matcher::{Likelihood, MatchSettings, Side};
use fieldkit_match_eval::Drawn;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).map_or(1, |s| s.parse().unwrap());
    let hard = args.get(2).is_some_and(|s| s == "hard");
    let show: usize = args.get(3).map_or(5, |s| s.parse().unwrap());
    let n: usize = args.get(4).map_or(20_000, |s| s.parse().unwrap());
    let d = Drawn::from_args(seed, hard, n);
    let (p, index, queries, truth) = (&d.population, &d.index, &d.queries, &d.truth);
    let (registered, true_pairs) = (&d.registered, d.true_pairs);
    let mut settings = MatchSettings::default();
    if let Ok(v) = std::env::var("WEIGHTS") {
        let mut w = serde_json::to_value(&settings.weights).unwrap();
        let patch: serde_json::Value = serde_json::from_str(&v).unwrap();
        for (k, x) in patch.as_object().unwrap() {
            w[k] = x.clone();
        }
        settings.weights = serde_json::from_value(w).unwrap();
    }
    if let Ok(v) = std::env::var("LIKELY") {
        settings.likely = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("MARGIN") {
        settings.likely_margin = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("SURE") {
        settings.likely_without_margin = v.parse().unwrap();
    }
    let found = index.find_all(queries, Side::Sought, &settings, true);
    // (weight, right, likely-eligible, unregistered)
    let mut pairs = Vec::new();
    for (qi, hits) in found.iter().enumerate() {
        for h in hits {
            let right = p.case_child[h.index] == truth[qi];
            let eligible = h.likelihood == Likelihood::Likely || h.weight < settings.likely;
            pairs.push((
                h.weight,
                right,
                eligible,
                !registered.contains(&truth[qi]),
                qi,
                h,
            ));
        }
    }
    println!("{} traces, {} true pairs", queries.len(), true_pairs);
    for t in [-2.0f32, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0].map(|d| settings.likely + d) {
        let sel: Vec<_> = pairs.iter().filter(|x| x.0 >= t && x.2).collect();
        let right = sel.iter().filter(|x| x.1).count();
        let unreg = sel.iter().filter(|x| x.3).count();
        println!(
            "likely >= {t:>4}: {:>5} pairs, precision {:.3}, recall {:.3}, never registered {unreg}",
            sel.len(),
            right as f64 / sel.len().max(1) as f64,
            right as f64 / true_pairs.max(1) as f64
        );
    }
    let family = |h: &fieldkit_match::matcher::PotentialMatch| {
        h.fields
            .iter()
            .find(|f| f.field == "family_details_section")
            .map_or(0.0, |f| f.weight)
    };
    for fam in [2.0f32, 3.0, 4.0] {
        for t in [-4.0f32, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0].map(|d| settings.likely + d) {
            let sel: Vec<_> = pairs
                .iter()
                .filter(|x| x.2 && (x.0 >= settings.likely || (x.0 >= t && family(x.5) >= fam)))
                .collect();
            let right = sel.iter().filter(|x| x.1).count();
            let unreg = sel.iter().filter(|x| x.3).count();
            println!(
                "likely, or family >= {fam} and >= {t}: {:>5} pairs, precision {:.3}, recall {:.3}, never registered {unreg}",
                sel.len(),
                right as f64 / sel.len().max(1) as f64,
                right as f64 / true_pairs.max(1) as f64
            );
        }
    }
    // A likely pair that must also stand clear of the trace's next candidate.
    for t in [-1.0f32, 0.0, 1.0, 2.0].map(|d| settings.likely + d) {
        for m in [2.0f32, 4.0, 6.0] {
            let mut sel = 0;
            let mut right = 0;
            let mut unreg = 0;
            for (qi, hits) in found.iter().enumerate() {
                for (i, h) in hits.iter().enumerate() {
                    let eligible = h.likelihood == Likelihood::Likely || h.weight < settings.likely;
                    let next = hits
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, o)| o.weight)
                        .fold(0.0f32, f32::max);
                    if eligible
                        && ((h.weight >= t && h.weight - next >= m) || h.weight >= settings.likely)
                    {
                        sel += 1;
                        right += usize::from(p.case_child[h.index] == truth[qi]);
                        unreg += usize::from(!registered.contains(&truth[qi]));
                    }
                }
            }
            println!(
                "likely >= {t}, clear by {m}: {sel:>5} pairs, precision {:.3}, recall {:.3}, never registered {unreg}",
                right as f64 / f64::from(sel.max(1)),
                right as f64 / true_pairs.max(1) as f64
            );
        }
    }
    let explain = |x: &(
        f32,
        bool,
        bool,
        bool,
        usize,
        &fieldkit_match::matcher::PotentialMatch,
    )| {
        println!(
            "  {:.1} trace '{}' / case '{}'",
            x.0,
            queries[x.4].display_name(),
            index.profiles()[x.5.index].display_name()
        );
        for f in &x.5.fields {
            println!("      {:<24} {:>+5.1}  {}", f.field, f.weight, f.detail);
        }
    };
    println!("\nwrong likely:");
    for x in pairs
        .iter()
        .filter(|x| !x.1 && x.5.likelihood == Likelihood::Likely)
        .take(show)
    {
        explain(x);
    }
    println!(
        "\nright, not likely (weights {} and up):",
        settings.likely - 4.0
    );
    for x in pairs
        .iter()
        .filter(|x| x.1 && x.5.likelihood != Likelihood::Likely && x.0 >= settings.likely - 4.0)
        .take(show)
    {
        explain(x);
    }
    let missed: Vec<f32> = pairs
        .iter()
        .filter(|x| x.1 && x.5.likelihood != Likelihood::Likely)
        .map(|x| x.0)
        .collect();
    let blocked = pairs.iter().filter(|x| x.1 && !x.2).count();
    println!(
        "\nright pairs not likely: {} (of them over the threshold but kept possible by the name guard: {blocked})",
        missed.len()
    );
    let mut bins = [0usize; 6];
    for w in missed {
        bins[((w / 3.0).floor().clamp(0.0, 5.0)) as usize] += 1;
    }
    println!("by weight 0-3-6-9-12-15+: {bins:?}");
}

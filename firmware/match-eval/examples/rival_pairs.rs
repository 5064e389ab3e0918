//! Tuning aid for the margin rule (not a test): for every trace whose best case reached
//! *likely* by its own weights but was held back by a rival within the margin, the rival's
//! weight and how the two cases compare with each other (with the trace weights, as
//! `MatchSettings::registered_twice` compares them), with the truth: whether each case is the
//! child sought, whether the child was registered at all. What separates one child registered
//! twice from two namesakes is read from here.
//!
//! `cargo run --release -p fieldkit-match-eval --example rival_pairs -- SEED [standard|hard] [CASES] > rivals.tsv`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use fieldkit_match::compare::compare;
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
use fieldkit_match_eval::Drawn;

fn main() {
    let d = Drawn::from_command_line();
    let (p, index, queries, truth) = (&d.population, &d.index, &d.queries, &d.truth);
    let settings = MatchSettings::default();
    let traces = ProfileIndex::new(queries.clone());
    let found = index.find_traces(&traces, &settings, false);
    println!(
        "q\tcase\trival\tweight\trival_weight\tright\trival_right\tunreg\tcases_weight\tcases_names_differ"
    );
    for (qi, hits) in found.iter().enumerate() {
        let Some(h) = hits.first() else { continue };
        if h.likelihood == Likelihood::Likely || h.weight < settings.likely {
            continue;
        }
        let q = &queries[qi];
        let cases = index.profiles();
        let own = compare(
            q,
            &cases[h.index],
            index.frequencies(),
            &settings.weights,
            false,
        );
        if own.names_differ && !own.same_birth_date {
            continue;
        }
        for r in hits.iter().skip(1) {
            if h.weight - r.weight >= settings.likely_margin {
                break;
            }
            let rc = compare(
                q,
                &cases[r.index],
                index.frequencies(),
                &settings.weights,
                false,
            );
            if rc.names_differ {
                continue;
            }
            let cc = compare(
                &cases[h.index],
                &cases[r.index],
                index.frequencies(),
                &settings.weights,
                false,
            );
            println!(
                "{qi}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                h.index,
                r.index,
                h.weight,
                r.weight,
                u8::from(p.case_child[h.index] == truth[qi]),
                u8::from(p.case_child[r.index] == truth[qi]),
                u8::from(!d.registered.contains(&truth[qi])),
                cc.weight,
                u8::from(cc.names_differ),
            );
        }
    }
}

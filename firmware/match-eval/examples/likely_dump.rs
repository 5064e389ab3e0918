//! Tuning aid for the *likely* class (not a test): every pair of trace and case the matcher
//! returns on one seed, one line each with its field weights, for offline study of the rule.
//!
//! `cargo run --release -p fieldkit-match-eval --example likely_dump -- SEED [standard|hard] [CASES] > pairs.tsv`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use fieldkit_match::compare::compare;
use fieldkit_match::matcher::{MatchSettings, ProfileIndex};
use fieldkit_match::names::compare_names;
use fieldkit_match::profile::ChildProfile;
use fieldkit_match_eval::{Drawn, EXPLAINED_FIELDS, weight_columns};

fn family_names(p: &ChildProfile) -> String {
    p.family
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r.relation.word(),
                r.names.first().map_or("", |n| &n.display)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn main() {
    let d = Drawn::from_command_line();
    let (p, index, queries, truth) = (&d.population, &d.index, &d.queries, &d.truth);
    let (request_of, registered, true_pairs) = (&d.request_of, &d.registered, d.true_pairs);
    let settings = MatchSettings::default();
    println!("# true_pairs {true_pairs} traces {}", queries.len());
    println!(
        "q\treq\tcase\tright\tunreg\treg_after_sep\tweight\tlikely\tnames_differ\tsame_dob\tkin\tq_tokens\tc_tokens\tpaired\t{}\tq_name\tc_name\tq_family\tc_family",
        EXPLAINED_FIELDS.join("\t") + "\tlikelihood"
    );
    // Namesakes of namesakes share the names too: the family a chain of namesakes starts from.
    let root = |mut f: u32| {
        while let Some(n) = p.namesake_of[f as usize] {
            f = n;
        }
        f
    };
    // Classed as the kit classes (margin rule, then one child, one request).
    let traces = ProfileIndex::new(queries.clone());
    let found = index.find_traces(&traces, &settings, true);
    for (qi, hits) in found.iter().enumerate() {
        for h in hits {
            let c = compare(
                &queries[qi],
                &index.profiles()[h.index],
                index.frequencies(),
                &settings.weights,
                false,
            );
            let mut w = weight_columns(&h.fields, &EXPLAINED_FIELDS);
            w.extend(weight_columns(&h.fields, &["likelihood"]));
            // How the case's child is kin to the child sought (truth): same child, a
            // sibling, a child of a namesake family, or unrelated.
            let (sought, found) = (truth[qi], p.case_child[h.index]);
            let (fs, ff) = (
                p.child_family[sought as usize],
                p.child_family[found as usize],
            );
            let kin = if sought == found {
                "same"
            } else if fs == ff {
                "sibling"
            } else if root(fs) == root(ff) {
                "namesake"
            } else {
                "other"
            };
            // The best pairing of the child's names: token counts and the positions paired.
            let (qn, cn) = (&queries[qi].names, &index.profiles()[h.index].names);
            let mut best: Option<(usize, usize, usize, String)> = None;
            for a in qn {
                for b in cn {
                    let ag = compare_names(&a.tokens, &b.tokens);
                    let pos: Vec<String> = ag
                        .pairs
                        .iter()
                        .map(|x| format!("{}-{}", x.a, x.b))
                        .collect();
                    if best.as_ref().is_none_or(|x| ag.pairs.len() > x.0) {
                        best = Some((
                            ag.pairs.len(),
                            a.tokens.len(),
                            b.tokens.len(),
                            pos.join(","),
                        ));
                    }
                }
            }
            let (_, qt, ct, pos) = best.unwrap_or((0, 0, 0, String::new()));
            // Days from the separation the trace gives to the case's registration.
            let reg_after_sep = p.cases[h.index]
                .registration_date
                .zip(queries[qi].date_of_separation)
                .map_or_else(|| "NA".to_string(), |(r, s)| s.days_until(r).to_string());
            println!(
                "{qi}\t{}\t{}\t{}\t{}\t{reg_after_sep}\t{}\t{}\t{}\t{}\t{kin}\t{qt}\t{ct}\t{pos}\t{}\t{}\t{}\t{}\t{}",
                request_of[qi],
                h.index,
                u8::from(p.case_child[h.index] == truth[qi]),
                u8::from(!registered.contains(&truth[qi])),
                h.weight,
                h.likelihood.as_str(),
                u8::from(c.names_differ),
                u8::from(c.same_birth_date),
                w.join("\t"),
                queries[qi].display_name(),
                index.profiles()[h.index].display_name(),
                family_names(&queries[qi]),
                family_names(&index.profiles()[h.index]),
            );
        }
    }
}

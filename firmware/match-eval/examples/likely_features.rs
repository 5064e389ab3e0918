//! Tuning aid for the *likely* class (not a test): every pair of trace and case the matcher
//! returns on one seed, with its field weights and how common the matched names are among
//! the cases (each token alone, and the two rarest together), which fields each record holds,
//! how deep the two separation places agree and how many days the separation dates are apart:
//! for offline study of what tells a never-registered child's namesake from the child (the
//! m- and u-probabilities of each field's levels among the candidates, rules replayed).
//!
//! `cargo run --release -p fieldkit-match-eval --example likely_features -- SEED [standard|hard] [CASES] > pairs.tsv`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;

use fieldkit_match::compare::compare;
use fieldkit_match::matcher::{MatchSettings, Side};
use fieldkit_match::names::{NameToken, compare_names};
use fieldkit_match::profile::{ChildProfile, Relation};
use fieldkit_match_eval::{Drawn, EXPLAINED_FIELDS, weight_columns};

fn key(t: &NameToken) -> u64 {
    t.known_key().unwrap_or_else(|| t.spelling_key())
}

fn child_keys(p: &ChildProfile) -> Vec<u64> {
    let mut k: Vec<u64> = p.name_tokens().map(key).collect();
    k.sort_unstable();
    k.dedup();
    k
}

fn parents(p: &ChildProfile) -> u8 {
    u8::from(p.family.iter().any(|r| r.relation == Relation::Mother))
        | (u8::from(p.family.iter().any(|r| r.relation == Relation::Father)) << 1)
}

fn main() {
    let d = Drawn::from_command_line();
    let (p, index, queries, truth) = (&d.population, &d.index, &d.queries, &d.truth);
    let settings = MatchSettings::default();
    let cases = index.profiles();
    // Child-name token counts and pair counts over the cases (each case once per key).
    let mut single: HashMap<u64, u32> = HashMap::new();
    let mut pair: HashMap<(u64, u64), u32> = HashMap::new();
    let keys: Vec<Vec<u64>> = cases.iter().map(child_keys).collect();
    for k in &keys {
        for (i, &a) in k.iter().enumerate() {
            *single.entry(a).or_insert(0) += 1;
            for &b in &k[i + 1..] {
                *pair.entry((a, b)).or_insert(0) += 1;
            }
        }
    }
    println!("# true_pairs {} traces {}", d.true_pairs, queries.len());
    println!(
        "q\tcase\tright\tunreg\tweight\tlikely\tnames_differ\tmatched\tc1\tc2\tpair\tq_sep\tc_sep\tq_place\tc_place\tq_par\tc_par\tq_sex\tq_age\tc_age\tsep_shared\tsep_depth\tlast_shared\tlast_depth\tsep_days\t{}",
        EXPLAINED_FIELDS.join("\t")
    );
    let found = index.find_all(queries, Side::Sought, &settings, true);
    for (qi, hits) in found.iter().enumerate() {
        let q = &queries[qi];
        for h in hits {
            let c = &cases[h.index];
            let w = weight_columns(&h.fields, &EXPLAINED_FIELDS);
            let cmp = compare(q, c, index.frequencies(), &settings.weights, false);
            let names_differ = cmp.names_differ && !cmp.same_birth_date;
            // The best pairing of names (most tokens agreeing): the case's tokens that agreed.
            let mut best: Vec<u64> = Vec::new();
            for a in &q.names {
                for b in &c.names {
                    let ag = compare_names(&a.tokens, &b.tokens);
                    if ag.pairs.len() > best.len() {
                        best = ag
                            .pairs
                            .iter()
                            .map(|x| key(&b.tokens[usize::from(x.b)]))
                            .collect();
                    }
                }
            }
            best.sort_unstable();
            best.dedup();
            let mut counted: Vec<(u32, u64)> = best
                .iter()
                .map(|k| (single.get(k).copied().unwrap_or(0), *k))
                .collect();
            counted.sort_unstable();
            let c1 = counted.first().map_or(0, |x| x.0);
            let c2 = counted.get(1).map_or(0, |x| x.0);
            let pc = match (counted.first(), counted.get(1)) {
                (Some(a), Some(b)) => pair
                    .get(&(a.1.min(b.1), a.1.max(b.1)))
                    .copied()
                    .unwrap_or(0),
                (Some(a), None) => a.0,
                _ => 0,
            };
            let sex = match q.sex {
                Some(fieldkit_domain::Sex::Female) => "f",
                Some(fieldkit_domain::Sex::Male) => "m",
                _ => "-",
            };
            println!(
                "{qi}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{c1}\t{c2}\t{pc}\t{}\t{}\t{}\t{}\t{}\t{}\t{sex}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                h.index,
                u8::from(p.case_child[h.index] == truth[qi]),
                u8::from(!d.registered.contains(&truth[qi])),
                h.weight,
                u8::from(h.likelihood == fieldkit_match::matcher::Likelihood::Likely),
                u8::from(names_differ),
                best.len(),
                u8::from(q.date_of_separation.is_some()),
                u8::from(c.date_of_separation.is_some()),
                u8::from(!q.separation_place.is_unknown()),
                u8::from(!c.separation_place.is_unknown()),
                parents(q),
                parents(c),
                q.birth_year.unwrap_or(0),
                c.birth_year.unwrap_or(0),
                q.separation_place.shared_levels(&c.separation_place),
                q.separation_place.depth().min(c.separation_place.depth()),
                q.last_place.shared_levels(&c.last_place),
                q.last_place.depth().min(c.last_place.depth()),
                match (q.date_of_separation, c.date_of_separation) {
                    (Some(x), Some(y)) => x.days_until(y).abs(),
                    _ => -1,
                },
                w.join("\t"),
            );
        }
    }
}

//! Tuning aid for the *likely* class (not a test): every *likely* pair of one seed whose
//! trace seeks a child never registered, in full: both records' names and families, each
//! field's weight with the explanation a caseworker reads, how the case's child is kin to the
//! child sought in the generator's truth (sibling, namesake family, other), the trace's next
//! candidate and the best other trace of the case. What those pairs are, and what tells them
//! from the child's own records, is read from here.
//!
//! `cargo run --release -p fieldkit-match-eval --example unregistered_likely -- SEED [standard|hard] [CASES]`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use fieldkit_match::index::Scratch;
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
use fieldkit_match::profile::ChildProfile;
use fieldkit_match_eval::Drawn;

fn family(p: &ChildProfile) -> String {
    p.family
        .iter()
        .map(|r| {
            format!(
                "{}:{}{}",
                r.relation.word(),
                r.names.first().map_or("", |n| &n.display),
                r.birth_year.map(|y| format!(" (~{y})")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn child(p: &ChildProfile) -> String {
    format!(
        "{} | sex {:?} born ~{} dob {} | separated {} at {:?} | last {:?}",
        p.names
            .iter()
            .map(|n| &*n.display)
            .collect::<Vec<_>>()
            .join(" / "),
        p.sex,
        p.birth_year.unwrap_or(0),
        p.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
        p.date_of_separation
            .map(|d| d.to_string())
            .unwrap_or_default(),
        p.separation_place,
        p.last_place,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).map_or(1, |s| s.parse().unwrap());
    let hard = args.get(2).is_some_and(|s| s == "hard");
    let n: usize = args.get(3).map_or(20_000, |s| s.parse().unwrap());
    let d = Drawn::from_args(seed, hard, n);
    let (p, index, queries, truth) = (&d.population, &d.index, &d.queries, &d.truth);
    let settings = MatchSettings::default();
    let root = |mut f: u32| {
        while let Some(n) = p.namesake_of[f as usize] {
            f = n;
        }
        f
    };
    let traces = ProfileIndex::new(queries.clone());
    let found = index.find_traces(&traces, &settings, true);
    let mut scratch = Scratch::default();
    let mut count = 0;
    for (qi, hits) in found.iter().enumerate() {
        if d.registered.contains(&truth[qi]) {
            continue;
        }
        for (rank, h) in hits.iter().enumerate() {
            if h.likelihood != Likelihood::Likely {
                continue;
            }
            count += 1;
            let (sought, got) = (truth[qi], p.case_child[h.index]);
            let (fs, ff) = (
                p.child_family[sought as usize],
                p.child_family[got as usize],
            );
            let kin = if fs == ff {
                "sibling"
            } else if root(fs) == root(ff) {
                "namesake family"
            } else {
                "other"
            };
            let c = &index.profiles()[h.index];
            println!(
                "== seed {seed} {} trace {qi} (request {}) -> case {} rank {rank}: {:.2} bits, case's child is {kin}",
                if hard { "hard" } else { "standard" },
                d.request_of[qi],
                h.index,
                h.weight
            );
            println!("  trace: {}", child(&queries[qi]));
            println!("         family: {}", family(&queries[qi]));
            println!("  case:  {}", child(c));
            println!("         family: {}", family(c));
            for f in &h.fields {
                println!("    {:>24} {:+5.1}  {}", f.field, f.weight, f.detail);
            }
            let next = hits
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != rank)
                .map(|(_, o)| o.weight)
                .next();
            let other = index.best_other_trace(h.index, &traces, qi, &settings, &mut scratch);
            println!(
                "  next candidate of the trace: {next:?} bits; best other trace of the case: {other:?} bits"
            );
        }
    }
    println!("# {count} likely pairs for children never registered");
}

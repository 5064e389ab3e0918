//! Tuning aid for duplicate detection (not a test): on one seed, every candidate pair
//! of cases with its case-against-case comparison; precision and recall at a grid of
//! thresholds; the wrong `likely` pairs and the missed true pairs, explained; and the
//! share of true and of wrong pairs at each level of each field.
//!
//! `cargo run --release -p fieldkit-match-eval --example dup_tune -- SEED [SHOW] [CASES]`
//! Tune on the tuning seed (1) only.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::type_complexity)]

use std::collections::{BTreeMap, HashMap, HashSet};

use fieldkit_match::duplicates::{DuplicateIndex, GivenName};
use fieldkit_match::index::{Scratch, query_keys};
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
use fieldkit_match::profile::{ChildProfile, Locations};
use fieldkit_match_eval::population::{PopulationSpec, generate};
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).map_or(1, |s| s.parse().unwrap());
    let show: usize = args.get(2).map_or(10, |s| s.parse().unwrap());
    let n: usize = args.get(3).map_or(20_000, |s| s.parse().unwrap());
    let p = generate(PopulationSpec::with_cases(seed, n));
    let loc = Locations::Tree(&p.locations);
    let profiles: Vec<ChildProfile> = p
        .cases
        .iter()
        .map(|c| ChildProfile::from_case(c, &loc, p.today))
        .collect();
    let index = ProfileIndex::new(profiles);
    let mut settings = MatchSettings::default();
    if let Ok(v) = std::env::var("DUP_LIKELY") {
        settings.duplicates.likely = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("DUP_WEIGHTS") {
        // A JSON object of weights to change, e.g. {"parent_name_share": 0.5}.
        let mut w = serde_json::to_value(&settings.duplicates.weights).unwrap();
        let patch: serde_json::Value = serde_json::from_str(&v).unwrap();
        for (k, x) in patch.as_object().unwrap() {
            w[k] = x.clone();
        }
        settings.duplicates.weights = serde_json::from_value(w).unwrap();
    }
    if let Ok(v) = std::env::var("DUP_POSSIBLE") {
        settings.duplicates.possible = v.parse().unwrap();
    }
    let s = &settings.duplicates;
    let dindex = DuplicateIndex::new(&index);
    let explain_pair =
        |_: &ProfileIndex, a: usize, b: usize, st: &MatchSettings| dindex.explain(a, b, st);
    let truth: HashSet<(usize, usize)> = {
        let mut by_child: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, &c) in p.case_child.iter().enumerate() {
            by_child.entry(c).or_default().push(i);
        }
        by_child
            .values()
            .filter(|v| v.len() == 2)
            .map(|v| (v[0].min(v[1]), v[0].max(v[1])))
            .collect()
    };
    // Every candidate pair, once.
    let mut all: Vec<(usize, usize, f32, bool, GivenName, bool)> = index
        .profiles()
        .par_iter()
        .enumerate()
        .map_init(
            Scratch::default,
            |scratch, (i, a): (usize, &ChildProfile)| {
                index
                    .blocking()
                    .candidates(&query_keys(a), scratch, s.candidates + 1)
                    .into_iter()
                    .map(|j| j as usize)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let c = dindex.compare(i, j, &settings, false).unwrap();
                        (
                            i.min(j),
                            i.max(j),
                            c.weight,
                            c.names_differ,
                            c.given_name,
                            c.listed_as_sibling,
                        )
                    })
                    .collect::<Vec<_>>()
            },
        )
        .flatten()
        .collect();
    all.sort_by_key(|a| (a.0, a.1));
    all.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
    let in_cands = all.iter().filter(|x| truth.contains(&(x.0, x.1))).count();
    println!(
        "seed {seed}: {} cases, {} true pairs, {} among candidates, {} candidate pairs",
        p.cases.len(),
        truth.len(),
        in_cands,
        all.len()
    );
    let eligible =
        |x: &(usize, usize, f32, bool, GivenName, bool)| !x.3 && !x.5 && x.4 == GivenName::Agrees;
    println!("likely threshold: pairs precision recall");
    for t in (36..=80).step_by(1) {
        let t = t as f32 / 2.0;
        let l: Vec<_> = all.iter().filter(|x| x.2 >= t && eligible(x)).collect();
        let r = l.iter().filter(|x| truth.contains(&(x.0, x.1))).count();
        println!(
            "  {t:>4}: {:>5} {:.3} {:.3}",
            l.len(),
            r as f64 / l.len().max(1) as f64,
            r as f64 / truth.len() as f64
        );
    }
    // Best recall at a precision of at least 0.95, over every threshold.
    let mut el: Vec<(f32, bool)> = all
        .iter()
        .filter(|x| eligible(x))
        .map(|x| (x.2, truth.contains(&(x.0, x.1))))
        .collect();
    el.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut right, mut best) = (0usize, (0.0f64, 0.0f32));
    for (k, (w, t)) in el.iter().enumerate() {
        right += usize::from(*t);
        if right as f64 / (k + 1) as f64 >= 0.95 && right as f64 / truth.len() as f64 > best.0 {
            best = (right as f64 / truth.len() as f64, *w);
        }
    }
    println!(
        "best recall at precision >= 0.95: {:.3} (threshold {:.2})",
        best.0, best.1
    );
    println!("possible threshold: pairs recall precision");
    for t in (0..=20).step_by(2) {
        let t = t as f32;
        let l: Vec<_> = all.iter().filter(|x| x.2 >= t).collect();
        let r = l.iter().filter(|x| truth.contains(&(x.0, x.1))).count();
        println!(
            "  {t:>4}: {:>6} {:.3} {:.3}",
            l.len(),
            r as f64 / truth.len() as f64,
            r as f64 / l.len().max(1) as f64
        );
    }
    // Why true pairs above the likely threshold are not likely.
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for x in all
        .iter()
        .filter(|x| truth.contains(&(x.0, x.1)) && x.2 >= s.likely && !eligible(x))
    {
        *why.entry(format!("differ {} given {:?} sibling {}", x.3, x.4, x.5))
            .or_default() += 1;
    }
    println!("true pairs above likely but held back: {why:?}");
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for x in all
        .iter()
        .filter(|x| !truth.contains(&(x.0, x.1)) && x.2 >= s.likely)
    {
        *why.entry(format!("differ {} given {:?} sibling {}", x.3, x.4, x.5))
            .or_default() += 1;
    }
    println!("wrong pairs above likely: {why:?}");

    // Field levels: share among true pairs and among wrong candidate pairs (all, and
    // those at or above `possible`), to check the weights against log2(m/u).
    let mode = args.get(4).map_or("levels", String::as_str);
    if mode == "levels" {
        let stats: Vec<(bool, bool, Vec<(String, String)>)> = all
            .par_iter()
            .map(|x| {
                let t = truth.contains(&(x.0, x.1));
                let f = explain_pair(&index, x.0, x.1, &settings)
                    .into_iter()
                    .map(|f| {
                        let wb = if matches!(f.field, "name" | "family_details_section") {
                            (f.weight / 3.0).round() * 3.0
                        } else {
                            f.weight
                        };
                        let key = if f.field == "family_details_section" {
                            format!(
                                "{wb:+.1} {}",
                                if f.detail.to_string().contains("lists the other") {
                                    "listed as sibling"
                                } else {
                                    ""
                                }
                            )
                        } else if f.field == "location_separation"
                            || f.field == "location_last"
                            || f.field == "given_name"
                        {
                            format!(
                                "{wb:+.1} {}",
                                f.detail.to_string().chars().take(40).collect::<String>()
                            )
                        } else {
                            format!("{wb:+.1}")
                        };
                        (f.field.to_string(), key)
                    })
                    .collect();
                (t, x.2 >= s.possible, f)
            })
            .collect();
        let mut levels: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
        let (mut nt, mut nf, mut nh) = (0, 0, 0);
        for (t, hard, fields) in &stats {
            if *t {
                nt += 1
            } else {
                nf += 1;
                if *hard {
                    nh += 1
                }
            }
            for k in fields {
                let e = levels.entry(k.clone()).or_default();
                if *t {
                    e.0 += 1
                } else {
                    e.1 += 1;
                    if *hard {
                        e.2 += 1
                    }
                }
            }
        }
        println!(
            "field levels (m: share of {nt} true pairs; u: of {nf} wrong candidate pairs; h: of {nh} wrong pairs >= possible):"
        );
        for ((f, w), (t, w2, h)) in &levels {
            let m = *t as f64 / nt as f64;
            let u = *w2 as f64 / nf as f64;
            let hh = *h as f64 / nh as f64;
            println!(
                "  {f:<22} {w:<48} m {m:.3} u {u:.4} h {hh:.4} log2(m/u) {:+.1} log2(m/h) {:+.1}",
                (m.max(1e-4) / u.max(1e-5)).log2(),
                (m.max(1e-4) / hh.max(1e-4)).log2()
            );
        }
    }

    if mode == "weak" {
        for x in all
            .iter()
            .filter(|x| x.2 >= s.likely && !x.3 && !x.5 && x.4 == GivenName::Weak)
        {
            let t = truth.contains(&(x.0, x.1));
            println!(
                "{} w {:.1} uid {} {}\n  [{}] {:?}\n  [{}] {:?}",
                if t { "TRUE" } else { "WRONG" },
                x.2,
                p.case_child[x.0],
                p.case_child[x.1],
                x.0,
                p.cases[x.0].name,
                x.1,
                p.cases[x.1].name
            );
            for f in explain_pair(&index, x.0, x.1, &settings) {
                println!("    {} {:+.1} {}", f.field, f.weight, f.detail);
            }
        }
        return;
    }
    if mode == "unknown" {
        for x in all
            .iter()
            .filter(|x| truth.contains(&(x.0, x.1)) && x.4 != GivenName::Agrees)
            .take(show)
        {
            println!(
                "TRUE given {:?} w {:.1}\n  [{}] {:?}\n  [{}] {:?}",
                x.4, x.2, x.0, p.cases[x.0].name, x.1, p.cases[x.1].name
            );
            for f in explain_pair(&index, x.0, x.1, &settings) {
                println!("    {} {:+.1} {}", f.field, f.weight, f.detail);
            }
        }
        return;
    }
    let dups = dindex.find(&settings);
    let found: HashMap<(usize, usize), (f32, Likelihood)> = dups
        .iter()
        .map(|d| ((d.first, d.second), (d.weight, d.likelihood)))
        .collect();
    let explain = |a: usize, b: usize| {
        let mut out = format!(
            "  [{a}] {:?}\n  [{b}] {:?}\n",
            p.cases[a].name, p.cases[b].name
        );
        for f in explain_pair(&index, a, b, &settings) {
            out += &format!("    {} {:+.1} {}\n", f.field, f.weight, f.detail);
        }
        out
    };
    let likely: Vec<_> = dups
        .iter()
        .filter(|d| d.likelihood == Likelihood::Likely)
        .collect();
    let fp: Vec<_> = likely
        .iter()
        .filter(|d| !truth.contains(&(d.first, d.second)))
        .collect();
    let possible_right = dups
        .iter()
        .filter(|d| truth.contains(&(d.first, d.second)))
        .count();
    println!(
        "find_duplicates: likely {} wrong {}: precision {:.3} recall {:.3}; recall at possible {:.3}",
        likely.len(),
        fp.len(),
        1.0 - fp.len() as f64 / likely.len().max(1) as f64,
        (likely.len() - fp.len()) as f64 / truth.len() as f64,
        possible_right as f64 / truth.len() as f64
    );
    for d in fp.iter().take(show) {
        println!(
            "WRONG likely w {:.1}\n{}",
            d.weight,
            explain(d.first, d.second)
        );
    }
    let mut missed = 0;
    let mut t: Vec<_> = truth.iter().copied().collect();
    t.sort_unstable();
    for (a, b) in t {
        match found.get(&(a, b)) {
            Some((_, Likelihood::Likely)) => {}
            other => {
                missed += 1;
                if missed <= show {
                    println!("MISSED {other:?}\n{}", explain(a, b));
                }
            }
        }
    }
}

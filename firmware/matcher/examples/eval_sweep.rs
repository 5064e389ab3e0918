//! Development: timings of each stage and a sweep of the likely threshold on the tuning seed.
use fieldkit_match::baseline::PrimeroBaseline;
use fieldkit_match::duplicates::find_duplicates;
use fieldkit_match::eval::population::{PopulationSpec, generate};
use fieldkit_match::matcher::{MatchSettings, ProfileIndex, Side};
use fieldkit_match::profile::{ChildProfile, Locations};
use std::time::Instant;

fn main() {
    let cases: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let t = Instant::now();
    let p = generate(PopulationSpec::with_cases(seed, cases));
    println!("generate {:.2}s", t.elapsed().as_secs_f64());
    let loc = Locations::Tree(&p.locations);
    let t = Instant::now();
    let index = ProfileIndex::new(
        p.cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &loc, p.today))
            .collect(),
    );
    println!("profiles+index {:.2}s", t.elapsed().as_secs_f64());
    let mut traces = Vec::new();
    let mut truth = Vec::new();
    for (r, tc) in p.requests.iter().zip(&p.trace_child) {
        for (tr, &c) in r.traces().iter().zip(tc) {
            traces.push(ChildProfile::from_trace(r, tr, &loc, p.today));
            truth.push(c);
        }
    }
    let mut s = MatchSettings::default();
    s.likely = 1000.0;
    let t = Instant::now();
    let res = index.find_all(&traces, Side::Sought, &s, false);
    println!(
        "match {} traces {:.2}s",
        traces.len(),
        t.elapsed().as_secs_f64()
    );
    // sweep: weight and whether names differ are not exposed; recompute via find with likely classes at thresholds
    let mut all: Vec<(f32, bool)> = Vec::new();
    for (hits, &c) in res.iter().zip(&truth) {
        for h in hits {
            all.push((h.weight, p.case_child[h.index] == c));
        }
    }
    let total_true: usize = truth
        .iter()
        .map(|c| p.case_child.iter().filter(|x| *x == c).count())
        .sum();
    for th in [18.0f32, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 26.0] {
        let mut s2 = MatchSettings::default();
        s2.likely = th;
        let r2 = index.find_all(&traces, Side::Sought, &s2, false);
        let (mut n, mut right) = (0, 0);
        for (hits, &c) in r2.iter().zip(&truth) {
            for h in hits {
                if h.likelihood == fieldkit_match::matcher::Likelihood::Likely {
                    n += 1;
                    if p.case_child[h.index] == c {
                        right += 1;
                    }
                }
            }
        }
        println!(
            "likely>={th}: precision {:.3} recall {:.3} ({n})",
            right as f64 / n as f64,
            right as f64 / total_true as f64
        );
    }
    let t = Instant::now();
    let b = PrimeroBaseline::new(&p.cases);
    let mut n = 0;
    for r in &p.requests {
        for tr in r.traces() {
            n += b.find(r, tr).len();
        }
    }
    println!("baseline {:.2}s ({n})", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let d = find_duplicates(&index, &MatchSettings::default());
    println!("duplicates {:.2}s ({})", t.elapsed().as_secs_f64(), d.len());
}

//! Matching benchmark: prints figures, asserts nothing.
//!
//! - building profiles and the blocking index for 100,000 cases, and the index's memory;
//! - one trace against 100,000 cases (one core, many single queries: mean, median, p99);
//! - 20,000 tracing requests against 100,000 cases on every core (rayon), wall time.
//!
//! `cargo bench -p fieldkit-match-eval --bench matching`. Sizes can be changed with
//! `FIELDKIT_BENCH_CASES` and `FIELDKIT_BENCH_REQUESTS`; the population is the
//! evaluation's generator (seed 99).

use std::time::Instant;

use fieldkit_match::index::Scratch;
use fieldkit_match::matcher::{MatchSettings, ProfileIndex, Side};
use fieldkit_match::names::NameToken;
use fieldkit_match::profile::{ChildProfile, Locations};
use fieldkit_match_eval::population::{PopulationSpec, generate};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn profile_bytes(p: &ChildProfile) -> usize {
    let names = |fields: &[fieldkit_match::profile::NameField]| -> usize {
        fields
            .iter()
            .map(|f| {
                std::mem::size_of_val(f)
                    + f.display.len()
                    + f.tokens.len() * std::mem::size_of::<NameToken>()
            })
            .sum()
    };
    std::mem::size_of::<ChildProfile>()
        + names(&p.names)
        + p.family
            .iter()
            .map(|r| std::mem::size_of_val(r) + names(&r.names))
            .sum::<usize>()
        + 4 * (p.nationality.len() + p.language.len() + p.ethnicity.len())
}

fn main() {
    let n_cases = env("FIELDKIT_BENCH_CASES", 100_000);
    let n_requests = env("FIELDKIT_BENCH_REQUESTS", 20_000);
    let threads = rayon::current_num_threads();

    let t = Instant::now();
    // Enough families for both counts: 1.3 cases a family; a quarter of families ask.
    let families = (n_cases as f64 / 1.3) as usize + 1;
    let share = (n_requests as f64 / families as f64 * 1.02).min(1.0);
    let mut pop = generate(PopulationSpec {
        seed: 99,
        families,
        tracing_share: share,
        variant: Default::default(),
    });
    pop.cases.truncate(n_cases);
    pop.requests.truncate(n_requests);
    let traces: usize = pop.requests.iter().map(|r| r.traces().len()).sum();
    println!(
        "population: {} cases, {} tracing requests ({} traces), generated in {:.1} s",
        pop.cases.len(),
        pop.requests.len(),
        traces,
        t.elapsed().as_secs_f64()
    );

    let loc = Locations::Tree(&pop.locations);
    let t = Instant::now();
    let profiles: Vec<ChildProfile> = pop
        .cases
        .iter()
        .map(|c| ChildProfile::from_case(c, &loc, pop.today))
        .collect();
    let profiles_s = t.elapsed().as_secs_f64();
    let profile_mem: usize = profiles.iter().map(profile_bytes).sum();
    let t = Instant::now();
    let index = ProfileIndex::new(profiles);
    let index_s = t.elapsed().as_secs_f64();
    let per_100k = |bytes: usize| bytes as f64 / pop.cases.len() as f64 * 100_000.0 / 1_048_576.0;
    println!(
        "profiles: built in {profiles_s:.2} s (one core), about {:.1} MiB per 100,000 cases",
        per_100k(profile_mem)
    );
    println!(
        "blocking index: built in {index_s:.2} s, {} postings, {:.1} MiB ({:.2} MiB per 100,000 cases)",
        index.blocking().posting_count(),
        index.blocking().memory_bytes() as f64 / 1_048_576.0,
        per_100k(index.blocking().memory_bytes())
    );

    let queries: Vec<ChildProfile> = pop
        .requests
        .iter()
        .flat_map(|r| r.traces().iter().map(move |t| (r, t)).collect::<Vec<_>>())
        .map(|(r, t)| ChildProfile::from_trace(r, t, &loc, pop.today))
        .collect();
    let settings = MatchSettings::default();

    // One trace at a time, one core, with its explanation (as a caseworker would ask).
    let mut scratch = Scratch::default();
    let sample = queries.len().min(2_000);
    let mut times: Vec<f64> = Vec::with_capacity(sample);
    let mut found = 0usize;
    for q in queries.iter().take(sample) {
        let t = Instant::now();
        let hits = index.find_with(q, Side::Sought, &settings, true, &mut scratch, None);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        found += hits.len();
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
    println!(
        "one trace against {} cases: mean {mean:.2} ms, median {:.2} ms, p99 {:.2} ms, max {:.2} ms ({sample} traces, {found} potential matches)",
        pop.cases.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );

    // Every request, on every core.
    let t = Instant::now();
    let all = index.find_all(&queries, Side::Sought, &settings, false);
    let wall = t.elapsed().as_secs_f64();
    let likely = all
        .iter()
        .flatten()
        .filter(|m| m.likelihood == fieldkit_match::matcher::Likelihood::Likely)
        .count();
    println!(
        "{} tracing requests ({} traces) against {} cases on {threads} thread(s): {wall:.1} s wall ({likely} likely matches)",
        pop.requests.len(),
        queries.len(),
        pop.cases.len()
    );
}

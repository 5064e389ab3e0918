//! Development run of the evaluation on the tuning seed (not the reported one).
use fieldkit_match::eval::{TUNING_SEED, evaluate, population::PopulationSpec};
use fieldkit_match::matcher::MatchSettings;

fn main() {
    let cases: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(TUNING_SEED);
    let t = std::time::Instant::now();
    let r = evaluate(
        PopulationSpec::with_cases(seed, cases),
        &MatchSettings::default(),
    );
    println!("{r}\n({:.1} s)", t.elapsed().as_secs_f64());
}

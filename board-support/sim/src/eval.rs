//! Policies judged against the oracle over many weather traces: each case runs the oracle
//! and every policy through [`simulate`] on the same trace, and the summary gives, per
//! policy, the median and the worst of its availability as a share of the oracle's.

use fieldkit_power::Policy;

use crate::climate::Case;
use crate::oracle::Oracle;
use crate::run::{SimConfig, SimReport, simulate};
use crate::weather::WeatherTrace;

/// One trace's results.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// What the trace was (family and seed, or a file name).
    pub label: String,
    /// The oracle's run.
    pub oracle: SimReport,
    /// Each policy's run, in the order given.
    pub runs: Vec<SimReport>,
}

impl CaseResult {
    /// Policy `i`'s availability as a share of the oracle's (1 when the oracle itself has
    /// none: nothing was possible, and nothing was lost).
    pub fn share_of_oracle(&self, i: usize) -> f64 {
        let best = self.oracle.availability_working_hours;
        let got = self
            .runs
            .get(i)
            .map_or(0.0, |r| r.availability_working_hours);
        if best <= 0.0 { 1.0 } else { got / best }
    }
}

/// Runs the oracle and the policies `make` returns (fresh ones for each case) on one trace.
pub fn run_case(
    label: String,
    config: &SimConfig,
    weather: &WeatherTrace,
    make: &dyn Fn(&SimConfig) -> Vec<Box<dyn Policy>>,
) -> CaseResult {
    let mut oracle = Oracle::new(config, weather);
    let oracle = simulate(config, weather, &mut oracle);
    let runs = make(config)
        .into_iter()
        .map(|mut p| simulate(config, weather, p.as_mut()))
        .collect();
    CaseResult {
        label,
        oracle,
        runs,
    }
}

/// Runs every generated case (its own start SOC, `base`'s kit and `days`).
pub fn run_cases(
    cases: &[Case],
    base: &SimConfig,
    make: &dyn Fn(&SimConfig) -> Vec<Box<dyn Policy>>,
) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|c| {
            let config = SimConfig {
                start_soc_percent: c.start_soc_percent,
                ..base.clone()
            };
            let label = format!(
                "{}:{} {}, start {:.0} %",
                c.family.key(),
                c.seed,
                c.family.name(),
                c.start_soc_percent
            );
            run_case(label, &config, &c.weather, make)
        })
        .collect()
}

/// Median and worst of a policy's share of the oracle, and its brown-outs, over cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Cases.
    pub cases: usize,
    /// Median share of the oracle's availability, 0–1.
    pub median_share: f64,
    /// Lowest share, 0–1.
    pub worst_share: f64,
    /// Median availability, 0–1.
    pub median_availability: f64,
    /// Brown-outs summed over the cases.
    pub brownouts: u32,
    /// Cases with at least one brown-out.
    pub cases_with_brownouts: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The summary of policy `i` (`None`: the oracle itself) over `results`.
pub fn summarize(results: &[CaseResult], i: Option<usize>) -> Summary {
    let report = |c: &CaseResult| match i {
        Some(i) => c.runs.get(i).cloned(),
        None => Some(c.oracle.clone()),
    };
    let shares: Vec<f64> = results
        .iter()
        .map(|c| i.map_or(1.0, |i| c.share_of_oracle(i)))
        .collect();
    let reports: Vec<SimReport> = results.iter().filter_map(report).collect();
    Summary {
        cases: results.len(),
        median_share: median(shares.clone()),
        worst_share: shares
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(1.0),
        median_availability: median(
            reports
                .iter()
                .map(|r| r.availability_working_hours)
                .collect(),
        ),
        brownouts: reports.iter().map(|r| r.brownouts).sum(),
        cases_with_brownouts: reports.iter().filter(|r| r.brownouts > 0).count(),
    }
}

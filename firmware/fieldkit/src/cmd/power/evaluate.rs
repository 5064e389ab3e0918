//! `fieldkit power evaluate`: the policies against the oracle over many seeded weather traces
//! (and any weather files given), with the median and the worst of each policy's availability
//! as a share of the oracle's.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::json;

use fieldkit_power::{Policy, PolicyConfig, PowerPolicy};
use fieldkit_sim::climate::generate_set;
use fieldkit_sim::eval::{CaseResult, run_case, run_cases, summarize};
use fieldkit_sim::run::SimConfig;

use super::simulate::{policy_named, read_weather};

/// Arguments of `evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Generated traces (the weather families in turn: rainy season, harmattan, high-latitude
    /// winter, passing clouds, spells).
    #[arg(long, default_value_t = 50)]
    pub traces: usize,
    /// Days per generated trace.
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    /// Seed of the first trace; trace i uses seed + i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Weather files to add as fixed cases (each runs for its own length, from --start-soc).
    #[arg(long)]
    pub weather: Vec<PathBuf>,
    /// State of charge at the start of the fixed cases, %.
    #[arg(long, default_value_t = 80.0)]
    pub start_soc: f32,
    /// Policies to judge, comma-separated (the oracle always runs).
    #[arg(long, default_value = "fieldkit,always-on", value_delimiter = ',')]
    pub policy: Vec<String>,
    /// The fieldkit policy's tuning to judge (TOML: any of the `PolicyConfig` fields, as in
    /// the `[kiosk.policy]` table; the kit's battery size and working hours stay the
    /// simulated kit's).
    #[arg(long, value_name = "FILE")]
    pub tuning: Option<PathBuf>,
    /// Print every case, not only the summaries.
    #[arg(long)]
    pub cases: bool,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `evaluate`.
pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    if args.days == 0 || args.days > 366 {
        bail!("--days must be between 1 and 366");
    }
    if args.traces > 10_000 {
        bail!("--traces must be at most 10000");
    }
    if args.traces == 0 && args.weather.is_empty() {
        bail!("nothing to evaluate: give --traces above 0 or a --weather file");
    }
    if !(args.start_soc.is_finite() && (0.0..=100.0).contains(&args.start_soc)) {
        bail!("--start-soc must be between 0 and 100");
    }
    let names: Vec<String> = args.policy.iter().map(|n| n.trim().to_string()).collect();
    if names.iter().any(|n| n == "oracle") {
        bail!("--policy: the oracle always runs; name only the policies to judge");
    }
    let base = SimConfig {
        days: args.days,
        ..SimConfig::default()
    };
    // Check the names once before the long run.
    for n in &names {
        policy_named(n, &base, &fieldkit_sim::weather::WeatherTrace::clear(1))?;
    }
    let tuning: Option<PolicyConfig> = match &args.tuning {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                toml::from_str(&text)
                    .with_context(|| format!("{}: not a policy tuning", path.display()))?,
            )
        }
        None => None,
    };
    let make = |config: &SimConfig| -> Vec<Box<dyn Policy>> {
        names
            .iter()
            .filter_map(|n| match (n.as_str(), tuning) {
                ("fieldkit", Some(t)) => Some(Box::new(PowerPolicy::new(PolicyConfig {
                    battery_capacity_wh: config.spec.battery_capacity_wh,
                    working_hours: config.working_hours,
                    ..t
                })) as Box<dyn Policy>),
                _ => policy_named(n, config, &fieldkit_sim::weather::WeatherTrace::clear(1)).ok(),
            })
            .collect()
    };

    let generated = run_cases(
        &generate_set(args.traces, args.days as usize, args.seed),
        &base,
        &make,
    );
    let mut fixed = Vec::new();
    for path in &args.weather {
        let weather = read_weather(path)?;
        let config = SimConfig {
            days: u32::try_from(weather.days.len()).context("weather file too long")?,
            start_soc_percent: args.start_soc,
            ..SimConfig::default()
        };
        fixed.push(run_case(
            path.display().to_string(),
            &config,
            &weather,
            &make,
        ));
    }

    if args.json {
        let groups = [("generated", &generated), ("fixed", &fixed)];
        let mut out = serde_json::Map::new();
        for (name, results) in groups {
            if results.is_empty() {
                continue;
            }
            out.insert(name.into(), group_json(results, &names, args.cases));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&out).context("encoding the results")?
        );
        return Ok(());
    }
    if !generated.is_empty() {
        println!(
            "{} generated traces of {} days (seeds {}-{}); kit: {:.0} Wh battery, {:.0} W panel",
            generated.len(),
            args.days,
            args.seed,
            args.seed + generated.len() as u64 - 1,
            base.spec.battery_capacity_wh,
            base.spec.panel_rated_w
        );
        print_group(&generated, &names, args.cases);
        // Per family, each policy judged.
        for (i, name) in names.iter().enumerate() {
            println!("\nby weather family ({name}, % of the oracle's availability):");
            for family in fieldkit_sim::climate::Family::ALL {
                let of: Vec<CaseResult> = generated
                    .iter()
                    .filter(|c| c.label.starts_with(&format!("{}:", family.key())))
                    .cloned()
                    .collect();
                if of.is_empty() {
                    continue;
                }
                let s = summarize(&of, Some(i));
                let o = summarize(&of, None);
                println!(
                    "  {:<22} {:>3} traces  median {:>5.1} %  worst {:>5.1} %  brown-outs {:>4}  (oracle median {:.1} %)",
                    family.name(),
                    of.len(),
                    100.0 * s.median_share,
                    100.0 * s.worst_share,
                    s.brownouts,
                    100.0 * o.median_availability
                );
            }
        }
    }
    for case in &fixed {
        println!("\nfixed trace {}", case.label);
        print_group(std::slice::from_ref(case), &names, false);
    }
    Ok(())
}

fn print_group(results: &[CaseResult], names: &[String], each: bool) {
    if each {
        print!("{:<46}{:>10}", "case", "oracle");
        for n in names {
            print!("{:>14}", format!("{n} %"));
        }
        println!();
        for c in results {
            print!(
                "{:<46}{:>9.1}%",
                c.label,
                100.0 * c.oracle.availability_working_hours
            );
            for (i, r) in c.runs.iter().enumerate() {
                let b = if r.brownouts > 0 {
                    format!(" ({}b)", r.brownouts)
                } else {
                    String::new()
                };
                print!("{:>14}", format!("{:.1}{b}", 100.0 * c.share_of_oracle(i)));
            }
            println!();
        }
    }
    println!(
        "{:<14}{:>16}{:>16}{:>16}{:>12}{:>16}",
        "policy",
        "median % oracle",
        "worst % oracle",
        "median avail.",
        "brown-outs",
        "normal h/day"
    );
    let oracle = summarize(results, None);
    let normal_per_day = |runs: Vec<&fieldkit_sim::run::SimReport>| {
        let days: u32 = runs.iter().map(|r| r.days).sum();
        let h: u64 = runs.iter().map(|r| r.working_minutes_normal).sum();
        h as f64 / 60.0 / f64::from(days.max(1))
    };
    println!(
        "{:<14}{:>16}{:>16}{:>15.1}%{:>12}{:>16.1}",
        "oracle",
        "100.0 %",
        "100.0 %",
        100.0 * oracle.median_availability,
        oracle.brownouts,
        normal_per_day(results.iter().map(|c| &c.oracle).collect())
    );
    for (i, n) in names.iter().enumerate() {
        let s = summarize(results, Some(i));
        println!(
            "{:<14}{:>15.1}%{:>15.1}%{:>15.1}%{:>12}{:>16.1}",
            n,
            100.0 * s.median_share,
            100.0 * s.worst_share,
            100.0 * s.median_availability,
            format!("{} ({})", s.brownouts, s.cases_with_brownouts),
            normal_per_day(results.iter().filter_map(|c| c.runs.get(i)).collect())
        );
    }
}

fn group_json(results: &[CaseResult], names: &[String], each: bool) -> serde_json::Value {
    let summary = |i: Option<usize>| {
        let s = summarize(results, i);
        json!({
            "median_share_of_oracle": s.median_share,
            "worst_share_of_oracle": s.worst_share,
            "median_availability": s.median_availability,
            "brownouts": s.brownouts,
            "cases_with_brownouts": s.cases_with_brownouts,
        })
    };
    let mut policies = serde_json::Map::new();
    policies.insert("oracle".into(), summary(None));
    for (i, n) in names.iter().enumerate() {
        policies.insert(n.clone(), summary(Some(i)));
    }
    let mut v = json!({ "cases": results.len(), "policies": policies });
    if each {
        v["each"] = results
            .iter()
            .map(|c| {
                let mut runs = serde_json::Map::new();
                runs.insert("oracle".into(), json!(c.oracle.availability_working_hours));
                for (i, n) in names.iter().enumerate() {
                    if let Some(r) = c.runs.get(i) {
                        runs.insert(
                            n.clone(),
                            json!({
                                "availability": r.availability_working_hours,
                                "share_of_oracle": c.share_of_oracle(i),
                                "brownouts": r.brownouts,
                            }),
                        );
                    }
                }
                json!({ "case": c.label, "runs": runs })
            })
            .collect();
    }
    v
}

//! `fieldkit power simulate`: the solar kit model under one policy or several side by side.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::json;

use fieldkit_power::{AlwaysOn, Policy, PowerPolicy};
use fieldkit_sim::oracle::Oracle;
use fieldkit_sim::run::{SimConfig, SimReport, simulate};
use fieldkit_sim::weather::WeatherTrace;

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Days to simulate.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Weather trace (TOML, see tests/data/power/overcast-14d.toml).
    #[arg(
        long,
        required_unless_present = "generated",
        conflicts_with = "generated"
    )]
    pub weather: Option<PathBuf>,
    /// A generated trace instead, as `evaluate` makes them: FAMILY:SEED, the family one of
    /// rainy, harmattan, winter, clouds, spells (its start state of charge is used unless
    /// --start-soc is given).
    #[arg(long, value_name = "FAMILY:SEED")]
    pub generated: Option<String>,
    /// Policy to run: `fieldkit`, `always-on`, `oracle` (the limit: plans with the whole
    /// trace known), or several comma-separated to compare them on the same trace.
    #[arg(long, default_value = "fieldkit", value_delimiter = ',')]
    pub policy: Vec<String>,
    /// Shorthand for `--policy fieldkit,always-on`.
    #[arg(long)]
    pub compare: bool,
    /// State of charge at the start, % (default 80).
    #[arg(long)]
    pub start_soc: Option<f32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The policy called `name` for a run of `config` over `weather`.
pub(crate) fn policy_named(
    name: &str,
    config: &SimConfig,
    weather: &WeatherTrace,
) -> anyhow::Result<Box<dyn Policy>> {
    match name {
        "fieldkit" => Ok(Box::new(PowerPolicy::new(config.policy_config()))),
        "always-on" => Ok(Box::new(AlwaysOn)),
        "oracle" => Ok(Box::new(Oracle::new(config, weather))),
        other => bail!("unknown policy {other:?}: use fieldkit, always-on or oracle"),
    }
}

/// Reads and checks a weather file.
pub(crate) fn read_weather(path: &std::path::Path) -> anyhow::Result<WeatherTrace> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading weather file {}", path.display()))?;
    WeatherTrace::from_toml(&text).with_context(|| format!("weather file {}", path.display()))
}

/// The generated case `FAMILY:SEED` over `days` days.
fn generated_case(spec: &str, days: u32) -> anyhow::Result<fieldkit_sim::climate::Case> {
    use fieldkit_sim::climate::{Family, generate};
    let (family, seed) = spec
        .split_once(':')
        .with_context(|| format!("--generated {spec:?}: expected FAMILY:SEED"))?;
    let Some(family) = Family::from_key(family) else {
        let keys: Vec<&str> = Family::ALL.iter().map(|f| f.key()).collect();
        bail!(
            "--generated: unknown family {family:?} ({})",
            keys.join(", ")
        );
    };
    let seed: u64 = seed
        .parse()
        .with_context(|| format!("--generated: seed {seed:?} is not a whole number"))?;
    Ok(generate(family, seed, days as usize))
}

/// What happens past the end of the trace, if the run is longer: said, never silent.
fn repeat_note(days: u32, weather: &WeatherTrace) -> Option<String> {
    let have = weather.days.len();
    let want = usize::try_from(days).unwrap_or(usize::MAX);
    if want <= have {
        return None;
    }
    let last = weather.days.last().map_or("", |d| d.label.as_str());
    let last = if last.is_empty() {
        String::new()
    } else {
        format!(" ({last})")
    };
    Some(format!(
        "the weather file has {have} days; days {}-{days} repeat its last day{last}",
        have + 1
    ))
}

/// Runs `simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if args.days == 0 || args.days > 3650 {
        bail!("--days must be between 1 and 3650");
    }
    if args
        .start_soc
        .is_some_and(|s| !(s.is_finite() && (0.0..=100.0).contains(&s)))
    {
        bail!("--start-soc must be between 0 and 100");
    }
    let (weather, generated_soc, source) = match (&args.weather, &args.generated) {
        (Some(path), _) => (read_weather(path)?, None, path.display().to_string()),
        (None, Some(spec)) => {
            let case = generated_case(spec, args.days)?;
            (
                case.weather,
                Some(case.start_soc_percent),
                format!("generated {spec}"),
            )
        }
        (None, None) => bail!("give --weather FILE or --generated FAMILY:SEED"),
    };
    let start_soc = args.start_soc.or(generated_soc).unwrap_or(80.0);
    let note = repeat_note(args.days, &weather);
    if let Some(n) = &note {
        eprintln!("note: {n}");
    }
    let config = SimConfig {
        days: args.days,
        start_soc_percent: start_soc,
        ..SimConfig::default()
    };
    let mut names = if args.compare {
        vec!["fieldkit".to_string(), "always-on".to_string()]
    } else {
        args.policy.clone()
    };
    names.dedup();
    let mut reports = Vec::new();
    for name in &names {
        let mut policy = policy_named(name.trim(), &config, &weather)?;
        reports.push(simulate(&config, &weather, policy.as_mut()));
    }
    let oracle = reports
        .iter()
        .find(|r| r.policy == "oracle")
        .map(|r| r.availability_working_hours);
    if args.json {
        let value = if let [one] = reports.as_slice() {
            let mut v = serde_json::to_value(one).context("encoding the report")?;
            v["note"] = json!(note);
            v
        } else {
            let results: Vec<serde_json::Value> = reports
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r)?;
                    if let Some(best) = oracle.filter(|b| *b > 0.0) {
                        v["share_of_oracle"] = json!(r.availability_working_hours / best);
                    }
                    Ok(v)
                })
                .collect::<Result<_, serde_json::Error>>()
                .context("encoding the report")?;
            json!({
                "days": args.days,
                "weather": source,
                "note": note,
                "results": results,
            })
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).context("encoding the report")?
        );
    } else {
        print_table(&source, &config, &reports);
        if let Some(best) = oracle.filter(|b| *b > 0.0) {
            let mut line = format!("{:<34}", "availability, % of the oracle's");
            for r in &reports {
                line.push_str(&format!(
                    "{:>14}",
                    format!("{:.1} %", 100.0 * r.availability_working_hours / best)
                ));
            }
            println!("{line}");
        }
        if let Some(n) = &note {
            println!("note: {n}");
        }
    }
    Ok(())
}

/// A table row: label and how to show a report's value.
type Row = (&'static str, fn(&SimReport) -> String);

fn print_table(source: &str, config: &SimConfig, reports: &[SimReport]) {
    println!(
        "{} days, weather {source}, battery {:.0} Wh, panel {:.0} W, start {:.0} %",
        config.days,
        config.spec.battery_capacity_wh,
        config.spec.panel_rated_w,
        config.start_soc_percent
    );
    let mut header = format!("{:<34}", "");
    for r in reports {
        header.push_str(&format!("{:>14}", r.policy));
    }
    println!("{header}");
    let rows: [Row; 14] = [
        ("brown-outs", |r| r.brownouts.to_string()),
        ("saves lost", |r| r.saves_lost.to_string()),
        ("availability 08:00-17:00", |r| {
            format!("{:.1} %", 100.0 * r.availability_working_hours)
        }),
        ("working hours in normal mode", |r| {
            format!("{:.0}", r.working_minutes_normal as f64 / 60.0)
        }),
        ("energy wasted (Wh)", |r| {
            format!("{:.0}", r.energy_wasted_wh)
        }),
        ("energy harvested (Wh)", |r| {
            format!("{:.0}", r.energy_harvested_wh)
        }),
        ("energy consumed (Wh)", |r| {
            format!("{:.0}", r.energy_consumed_wh)
        }),
        ("lowest state of charge", |r| {
            format!("{:.1} %", r.min_soc_percent)
        }),
        ("final state of charge", |r| {
            format!("{:.1} %", r.final_soc_percent)
        }),
        ("low-battery shutdowns", |r| {
            r.low_battery_shutdowns.to_string()
        }),
        ("overnight shutdowns", |r| r.overnight_shutdowns.to_string()),
        ("background jobs done", |r| r.jobs_completed.to_string()),
        ("mode changes", |r| r.mode_changes.to_string()),
        ("hours normal/saver/critical", |r| {
            format!(
                "{}/{}/{}",
                r.minutes.normal / 60,
                r.minutes.saver / 60,
                r.minutes.critical / 60
            )
        }),
    ];
    for (label, f) in rows {
        let mut line = format!("{label:<34}");
        for r in reports {
            line.push_str(&format!("{:>14}", f(r)));
        }
        println!("{line}");
    }
}

//! `fieldkit trace`: family tracing from the command line.
//!
//! - `trace match --cases FILE --requests FILE [--json]` matches Primero-shaped JSON exports
//!   (arrays of `{"data": {...}}`) without a vault, so a coordinator can match two agencies'
//!   exports on a laptop.
//! - `trace duplicates --cases FILE [--json]` lists probable duplicate registrations.
//! - `trace triage --cases FILE [--rules FILE] [--json]` gives each case its risk level and
//!   reasons by the rules file (the shipped default when none is given).
//! - `trace eval [--seed N] [--cases N] [--json]` runs the evaluation: fieldkit's matcher and a
//!   Primero-style baseline side by side on a synthetic population.
//! - `trace run [--explain] [--json]` has the kit match every tracing request in the vault
//!   against every case, saves what is new for review, and prints what review offers: the
//!   pending matches of each trace sought (needs the signed-in session: see [`run_with`]).
//!
//! Reads files and the clock here, never in the matcher.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fieldkit_domain::explain::Detail;
use fieldkit_domain::{
    Case, Date, MatchEvidence, Record, RecordId, RecordKind, Trace, TracingRequest,
};
use fieldkit_match::compare::FieldEvidence;
use fieldkit_match::duplicates::find_duplicates;
use fieldkit_match::matcher::{MatchSettings, ProfileIndex, Side};
use fieldkit_match::profile::{ChildProfile, Locations};
#[cfg(feature = "evaluation")]
use fieldkit_match_eval::{self as eval, population::PopulationSpec};
use serde::Serialize;

use super::{Ctx, now_ms, print_json, read_locations};

/// Family-tracing commands.
#[derive(Debug, clap::Subcommand)]
pub enum TraceCommand {
    /// Match tracing requests against cases, straight from Primero JSON exports.
    Match(MatchArgs),
    /// Match every tracing request in the vault against every case in it.
    Run(RunArgs),
    /// List probable duplicate registrations among cases in a Primero JSON export.
    Duplicates(DuplicatesArgs),
    /// Risk triage of cases in a Primero JSON export.
    Triage(TriageArgs),
    /// Evaluate fieldkit's matcher against a Primero-style baseline on a synthetic population.
    #[cfg(feature = "evaluation")]
    Eval(EvalArgs),
    /// Review the potential matches saved in the vault: list, show, confirm, reject.
    #[command(subcommand)]
    Review(ReviewCommand),
}

/// Review states on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    /// Waiting for review (only pairs that would be proposed now).
    Pending,
    /// Confirmed.
    Confirmed,
    /// Rejected.
    Rejected,
    /// Every state.
    All,
}

/// `trace review ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ReviewCommand {
    /// List potential matches, likely first.
    List {
        /// Which review state.
        #[arg(long, value_enum, default_value = "pending")]
        status: StatusArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a potential match: the case and the trace side by side, and each field's evidence.
    Show {
        /// The match id, or at least four of its first or last hex digits.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Confirm a match: sets the trace's matched_case_id and the case's
    /// matched_tracing_request_id.
    Confirm {
        /// The match id, or at least four of its first or last hex digits.
        id: String,
        /// Why (kept with the decision).
        #[arg(long)]
        note: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reject a match: it is not proposed again unless the case or the trace changes.
    Reject {
        /// The match id, or at least four of its first or last hex digits.
        id: String,
        /// Why (kept with the decision).
        #[arg(long)]
        note: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Options shared by matching commands.
#[derive(Debug, clap::Args)]
pub struct MatchOptions {
    /// Location hierarchy: a JSON array of {code, name, level, parent}. Without it, a code's
    /// dash-separated prefixes are its parents (JO-MA-ZAATARI is in JO-MA, in JO).
    #[arg(long)]
    pub locations: Option<PathBuf>,
    /// The day ages are counted on (YYYY-MM-DD; default today).
    #[arg(long)]
    pub today: Option<String>,
    /// Print each potential match's evidence, field by field: what was compared, how it
    /// compared and its weight in bits (JSON always has them).
    #[arg(long)]
    pub explain: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `trace match`.
#[derive(Debug, clap::Args)]
pub struct MatchArgs {
    /// Cases: Primero JSON (an array of {"data": {...}}, or {"data": [...]}).
    #[arg(long)]
    pub cases: PathBuf,
    /// Tracing requests: Primero JSON.
    #[arg(long)]
    pub requests: PathBuf,
    #[command(flatten)]
    pub options: MatchOptions,
}

/// `trace run`: the kit's own matching (its configured locations, today's date), so what it
/// prints is what review lists.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print each potential match's evidence, field by field (JSON always has them).
    #[arg(long)]
    pub explain: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `trace duplicates`.
#[derive(Debug, clap::Args)]
pub struct DuplicatesArgs {
    /// Cases: Primero JSON.
    #[arg(long)]
    pub cases: PathBuf,
    #[command(flatten)]
    pub options: MatchOptions,
}

/// `trace triage`.
#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// Cases: Primero JSON.
    #[arg(long)]
    pub cases: PathBuf,
    /// Rules file (TOML); default: the rules shipped with fieldkit.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The day ages and separations are counted on (YYYY-MM-DD; default today).
    #[arg(long)]
    pub today: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `trace eval`.
#[cfg(feature = "evaluation")]
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Seed of the population (the reported figures use the default; tuning used seed 1).
    #[arg(long, default_value_t = eval::EVALUATION_SEED)]
    pub seed: u64,
    /// About how many cases to generate.
    #[arg(long, default_value_t = 20_000)]
    pub cases: usize,
    /// Which population: the standard one, or the harder one a field test found (namesakes,
    /// given-name-only traces, ages off by up to 3 years, traces without sex, more native script).
    #[arg(long, value_enum, default_value = "standard")]
    pub population: PopulationArg,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The populations `trace eval` draws.
#[cfg(feature = "evaluation")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PopulationArg {
    /// The standard corruption model.
    Standard,
    /// The harder population.
    Hard,
}

/// Runs the trace subcommands that need no vault session.
pub fn run(cmd: TraceCommand) -> anyhow::Result<()> {
    match cmd {
        TraceCommand::Match(a) => run_match(a),
        TraceCommand::Run(_) | TraceCommand::Review(_) => bail!(
            "`trace run` and `trace review` need the vault: the binary must call cmd::trace::run_with(&ctx, ..)"
        ),
        TraceCommand::Duplicates(a) => run_duplicates(a),
        TraceCommand::Triage(a) => run_triage(a),
        #[cfg(feature = "evaluation")]
        TraceCommand::Eval(a) => run_eval(a),
    }
}

/// Runs any trace subcommand, `trace run` included (it signs in to the vault through `ctx`).
pub fn run_with(ctx: &Ctx, cmd: TraceCommand) -> anyhow::Result<()> {
    match cmd {
        TraceCommand::Run(a) => run_vault(ctx, a),
        TraceCommand::Review(c) => review(ctx, c),
        other => run(other),
    }
}

fn today(arg: Option<&str>) -> anyhow::Result<Date> {
    match arg {
        Some(s) => s
            .parse()
            .with_context(|| format!("--today {s}: expected YYYY-MM-DD")),
        None => Ok(Date::from_unix_ms(now_ms())),
    }
}

/// Reads a Primero file of `kind`. Records without an id get one derived from their kind and
/// content (`primero::read`), so made-up ids never repeat across the files: the ids only name
/// records in the output.
fn read_records(path: &Path, kind: RecordKind) -> anyhow::Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    fieldkit_domain::primero::parse_records(&text, kind).map_err(|e| {
        // Swapped only when the file holds what the other option takes (not incidents).
        let hint = match &e {
            fieldkit_domain::primero::PrimeroError::WrongKind {
                found: RecordKind::Case | RecordKind::TracingRequest,
                ..
            } => " (are --cases and --requests swapped?)",
            _ => "",
        };
        anyhow::anyhow!("{}: {e}{hint}", path.display())
    })
}

fn read_cases(path: &Path) -> anyhow::Result<Vec<Case>> {
    Ok(read_records(path, RecordKind::Case)?
        .into_iter()
        .filter_map(|r| match r {
            Record::Case(c) => Some(*c),
            _ => None,
        })
        .collect())
}

fn read_requests(path: &Path) -> anyhow::Result<Vec<TracingRequest>> {
    Ok(read_records(path, RecordKind::TracingRequest)?
        .into_iter()
        .filter_map(|r| match r {
            Record::TracingRequest(t) => Some(*t),
            _ => None,
        })
        .collect())
}

/// One field's evidence, as printed (from the matcher, or as a saved potential match keeps it).
#[derive(Debug, Serialize)]
struct EvidenceOut {
    field: String,
    weight: f32,
    #[serde(serialize_with = "fieldkit_domain::explain::serialize_english")]
    detail: Detail,
}

impl From<FieldEvidence> for EvidenceOut {
    fn from(e: FieldEvidence) -> Self {
        EvidenceOut {
            field: e.field.to_string(),
            weight: e.weight,
            detail: e.detail,
        }
    }
}

impl From<&MatchEvidence> for EvidenceOut {
    fn from(e: &MatchEvidence) -> Self {
        EvidenceOut {
            field: e.field.clone(),
            #[allow(clippy::cast_possible_truncation)]
            weight: e.weight as f32,
            detail: e.detail.clone(),
        }
    }
}

/// One potential match, as printed.
#[derive(Debug, Serialize)]
struct MatchOut {
    /// The saved potential match (`trace run`: review it with `trace review show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    match_id: Option<RecordId>,
    likelihood: String,
    score: f32,
    case_id: String,
    case_name: String,
    comparison: Vec<EvidenceOut>,
}

/// One trace and its potential matches, as printed.
#[derive(Debug, Serialize)]
struct TraceOut {
    tracing_request_id: String,
    trace_id: String,
    name: String,
    potential_matches: Vec<MatchOut>,
}

impl TraceOut {
    fn new(r: &TracingRequest, t: &Trace, potential_matches: Vec<MatchOut>) -> TraceOut {
        TraceOut {
            tracing_request_id: r
                .tracing_request_id_display
                .clone()
                .unwrap_or_else(|| r.id.to_string()),
            trace_id: t.unique_id.clone(),
            name: t.names().next().unwrap_or("").to_string(),
            potential_matches,
        }
    }
}

fn case_label(c: &Case) -> String {
    c.case_id_display
        .clone()
        .unwrap_or_else(|| c.id.to_string())
}

fn match_all(
    cases: &[Case],
    requests: &[TracingRequest],
    options: &MatchOptions,
) -> anyhow::Result<Vec<TraceOut>> {
    let tree = read_locations(options.locations.as_deref())?;
    let locations = tree
        .as_ref()
        .map_or(Locations::CodePrefixes, Locations::Tree);
    let today = today(options.today.as_deref())?;
    let settings = MatchSettings::default();
    let index = ProfileIndex::new(
        cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &locations, today))
            .collect(),
    );
    let mut owners = Vec::new();
    let mut queries = Vec::new();
    for r in requests {
        for t in r.traces() {
            owners.push((r, t));
            queries.push(ChildProfile::from_trace(r, t, &locations, today));
        }
    }
    let found = index.find_all(&queries, Side::Sought, &settings, true);
    Ok(owners
        .into_iter()
        .zip(found)
        .map(|((r, t), hits)| {
            let matches = hits.into_iter().map(|m| {
                let c = &cases[m.index];
                MatchOut {
                    match_id: None,
                    likelihood: m.likelihood.as_str().to_string(),
                    score: (m.weight * 10.0).round() / 10.0,
                    case_id: case_label(c),
                    case_name: c.names().next().unwrap_or("").to_string(),
                    comparison: m.fields.into_iter().map(EvidenceOut::from).collect(),
                }
            });
            TraceOut::new(r, t, matches.collect())
        })
        .collect())
}

fn print_matches(out: &[TraceOut], explain: bool) {
    let settings = MatchSettings::default();
    println!(
        "Score: evidence in bits (each +1 doubles the odds it is the same child); likely from {}, possible from {}.",
        settings.likely, settings.possible
    );
    for t in out {
        println!(
            "\nTrace {} of request {}: {}",
            t.trace_id, t.tracing_request_id, t.name
        );
        if t.potential_matches.is_empty() {
            println!("  no potential match");
        }
        for m in &t.potential_matches {
            println!(
                "  {:<8} {:>5.1}  case {}  {}{}",
                m.likelihood,
                m.score,
                m.case_id,
                m.case_name,
                m.match_id
                    .map(|id| format!("  (match {})", id.short()))
                    .unwrap_or_default()
            );
            if explain {
                for f in &m.comparison {
                    println!("      {:<24} {:>+5.1}  {}", f.field, f.weight, f.detail);
                }
            }
        }
    }
    if !explain && out.iter().any(|t| !t.potential_matches.is_empty()) {
        println!("\n(--explain shows each field's evidence: what was compared and its weight)");
    }
}

fn run_match(a: MatchArgs) -> anyhow::Result<()> {
    // Arguments first, files after: a bad --today is named before any file is read.
    today(a.options.today.as_deref())?;
    let cases = read_cases(&a.cases)?;
    let requests = read_requests(&a.requests)?;
    if cases.is_empty() {
        bail!("{}: no cases in the file", a.cases.display());
    }
    if requests.iter().all(|r| r.traces().is_empty()) {
        bail!(
            "{}: no tracing request in the file seeks a child (tracing_request_subform_section is empty)",
            a.requests.display()
        );
    }
    let out = match_all(&cases, &requests, &a.options)?;
    if a.options.json {
        print_json(&out)
    } else {
        print_matches(&out, a.options.explain);
        Ok(())
    }
}

fn run_vault(ctx: &Ctx, a: RunArgs) -> anyhow::Result<()> {
    let mut kit = ctx.kit()?;
    let now = now_ms();
    // Every pair the kit would propose now is saved for review, as a registration does.
    let saved = kit.rematch_all(now)?;
    // The run lists every pending match it found, those already pending before it included.
    eprintln!(
        "{} pending review (`fieldkit trace review list`)",
        crate::out::plural(
            saved.matches.len() as u64,
            "potential match",
            "potential matches"
        )
    );
    // What is printed is what review offers: the pending matches the kit proposes now (a
    // rejected pair, a closed case, a case without consent are not), for each trace the kit
    // seeks (open requests' traces not yet matched).
    let offered = kit.potential_matches(&fieldkit_app::MatchFilter {
        status: Some("pending".into()),
        ..fieldkit_app::MatchFilter::default()
    });
    let requests = super::all_requests(kit.session_mut(), now)?;
    // The cases' Primero display ids, read for the cases offered only.
    let mut wanted: Vec<(RecordKind, RecordId)> = Vec::new();
    for m in &offered {
        if kit.session().holds(RecordKind::Case, m.case_id)? {
            wanted.push((RecordKind::Case, m.case_id));
        }
    }
    wanted.sort();
    wanted.dedup();
    let labels: HashMap<RecordId, String> = kit
        .session_mut()
        .get_many(&wanted, now)?
        .into_iter()
        .filter_map(|o| match o.record {
            Record::Case(c) => Some((c.id, case_label(&c))),
            _ => None,
        })
        .collect();
    // The offered matches by the trace they are for, in review's order within each (one pass,
    // not one per trace).
    let mut by_trace: HashMap<(RecordId, &str), Vec<MatchOut>> = HashMap::new();
    for m in &offered {
        by_trace
            .entry((m.tracing_request_id, m.trace_id.as_str()))
            .or_default()
            .push(MatchOut {
                match_id: Some(m.id),
                likelihood: m.likelihood.clone().unwrap_or_default(),
                #[allow(clippy::cast_possible_truncation)]
                score: ((m.score * 10.0).round() / 10.0) as f32,
                case_id: labels
                    .get(&m.case_id)
                    .cloned()
                    .unwrap_or_else(|| m.case_id.to_string()),
                case_name: m.case_name.clone().unwrap_or_default(),
                comparison: m.comparison.iter().map(EvidenceOut::from).collect(),
            });
    }
    let mut out = Vec::new();
    for r in &requests {
        for t in r
            .traces()
            .iter()
            .filter(|t| fieldkit_app::index::indexes_trace(r, t))
        {
            let matches = by_trace
                .remove(&(r.id, t.unique_id.as_str()))
                .unwrap_or_default();
            out.push(TraceOut::new(r, t, matches));
        }
    }
    if a.json {
        print_json(&out)
    } else {
        print_matches(&out, a.explain);
        Ok(())
    }
}

#[derive(Debug, Serialize)]
struct DuplicateOut {
    likelihood: &'static str,
    score: f32,
    first: String,
    first_name: String,
    second: String,
    second_name: String,
}

fn run_duplicates(a: DuplicatesArgs) -> anyhow::Result<()> {
    let cases = read_cases(&a.cases)?;
    let tree = read_locations(a.options.locations.as_deref())?;
    let locations = tree
        .as_ref()
        .map_or(Locations::CodePrefixes, Locations::Tree);
    let today = today(a.options.today.as_deref())?;
    let index = ProfileIndex::new(
        cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &locations, today))
            .collect(),
    );
    let out: Vec<DuplicateOut> = find_duplicates(&index, &MatchSettings::default())
        .into_iter()
        .map(|d| DuplicateOut {
            likelihood: d.likelihood.as_str(),
            score: (d.weight * 10.0).round() / 10.0,
            first: case_label(&cases[d.first]),
            first_name: cases[d.first].names().next().unwrap_or("").to_string(),
            second: case_label(&cases[d.second]),
            second_name: cases[d.second].names().next().unwrap_or("").to_string(),
        })
        .collect();
    if a.options.json {
        return print_json(&out);
    }
    if out.is_empty() {
        println!("no probable duplicates");
    }
    for d in &out {
        println!(
            "{:<8} {:>5.1}  {} {}  /  {} {}",
            d.likelihood, d.score, d.first, d.first_name, d.second, d.second_name
        );
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct TriageOut {
    case_id: String,
    name: String,
    risk_level: &'static str,
    urgent_alert: bool,
    reasons: Vec<fieldkit_match::triage::TriageReason>,
}

fn run_triage(a: TriageArgs) -> anyhow::Result<()> {
    let rules = super::read_triage_rules(a.rules.as_deref())?;
    let today = today(a.today.as_deref())?;
    let cases = read_cases(&a.cases)?;
    let mut out: Vec<TriageOut> = cases
        .iter()
        .map(|c| {
            let t = rules.assess(c, today);
            TriageOut {
                case_id: case_label(c),
                name: c.names().next().unwrap_or("").to_string(),
                risk_level: t.level.as_str(),
                urgent_alert: t.urgent_alert(c.id).is_some(),
                reasons: t.reasons,
            }
        })
        .collect();
    // Urgent first, as sync sends them.
    out.sort_by_key(|t| std::cmp::Reverse(t.reasons.first().map(|r| r.level)));
    if a.json {
        return print_json(&out);
    }
    for t in &out {
        println!("{:<6} {}  {}", t.risk_level, t.case_id, t.name);
        for r in &t.reasons {
            println!("         {} ({})", r.text, r.rule);
        }
    }
    Ok(())
}

#[cfg(feature = "evaluation")]
fn run_eval(a: EvalArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let progress = crate::progress::Progress::spinner(
        &format!(
            "generating about {} cases and matching them with fieldkit and the baseline",
            a.cases
        ),
        a.json,
    );
    let report = eval::evaluate(
        match a.population {
            PopulationArg::Standard => PopulationSpec::with_cases(a.seed, a.cases),
            PopulationArg::Hard => PopulationSpec::hard(a.seed, a.cases),
        },
        &MatchSettings::default(),
    );
    progress.finish();
    if a.json {
        return print_json(&report);
    }
    println!("{report}");
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The potential match a reviewer named, or an error that says where the ids are listed.
fn resolve_match(kit: &fieldkit_app::Kit, part: &str) -> anyhow::Result<RecordId> {
    kit.resolve_match(part).map_err(|e| match e {
        fieldkit_app::ReviewError::NotFound(_) => anyhow::anyhow!(
            "{e}: give a match id or at least 4 of its hex digits, as `fieldkit trace review list --status all` prints them"
        ),
        other => other.into(),
    })
}

fn review(ctx: &Ctx, cmd: ReviewCommand) -> anyhow::Result<()> {
    use fieldkit_app::MatchFilter;
    let mut kit = ctx.kit()?;
    let now = now_ms();
    match cmd {
        ReviewCommand::List { status, json } => {
            let status = match status {
                StatusArg::Pending => Some("pending"),
                StatusArg::Confirmed => Some("confirmed"),
                StatusArg::Rejected => Some("rejected"),
                StatusArg::All => None,
            };
            let list = kit.potential_matches(&MatchFilter {
                status: status.map(str::to_string),
                ..MatchFilter::default()
            });
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no potential matches");
            }
            for m in &list {
                println!(
                    "{}  {:<9} {:<8} {:>5.1}  case {} {}  ↔  trace {} of {} {}",
                    m.id.short(),
                    m.review_status(),
                    m.likelihood.as_deref().unwrap_or("-"),
                    m.score,
                    m.case_id.short(),
                    m.case_name.as_deref().unwrap_or(""),
                    m.trace_id,
                    m.tracing_request_id.short(),
                    m.trace_name.as_deref().unwrap_or(""),
                );
            }
            Ok(())
        }
        ReviewCommand::Show { id, json } => {
            let id = resolve_match(&kit, &id)?;
            let d = kit.match_detail(id, now)?;
            if json {
                return print_json(&serde_json::json!({
                    "potential_match": d.potential_match,
                    "conflicted": d.conflicted,
                    "proposable": d.proposable,
                    "case": d.case,
                    "tracing_request": d.request,
                    "trace": d.trace,
                }));
            }
            let m = &d.potential_match;
            println!(
                "potential match {} ({}, {}, {:.1} bits){}",
                m.id,
                m.review_status(),
                m.likelihood.as_deref().unwrap_or("-"),
                m.score,
                if d.conflicted {
                    "  CONFLICT: decided differently on two kits; decide again to settle"
                } else {
                    ""
                }
            );
            println!(
                "  case {}  ↔  trace {} of tracing request {}",
                m.case_id, m.trace_id, m.tracing_request_id
            );
            if let (Some(c), Some(t)) = (&d.case, &d.trace) {
                let side = |a: Option<String>, b: Option<String>, field: &str| {
                    println!(
                        "    {field:<22} {:<28} {}",
                        a.unwrap_or_else(|| "-".into()),
                        b.unwrap_or_else(|| "-".into())
                    );
                };
                println!("    {:<22} {:<28} trace", "", "case");
                side(c.name.clone(), t.name.clone(), "name");
                side(c.name_other.clone(), t.name_other.clone(), "name_other");
                side(
                    c.sex.map(|s| s.as_str().to_owned()),
                    t.sex.map(|s| s.as_str().to_owned()),
                    "sex",
                );
                side(
                    c.age.map(|a| a.to_string()),
                    t.age.map(|a| a.to_string()),
                    "age",
                );
                side(
                    c.date_of_birth.map(|d| d.to_string()),
                    t.date_of_birth.map(|d| d.to_string()),
                    "date_of_birth",
                );
                side(
                    c.date_of_separation.map(|d| d.to_string()),
                    t.date_of_separation.map(|d| d.to_string()),
                    "date_of_separation",
                );
                side(
                    c.location_separation.clone(),
                    t.location_separation.clone(),
                    "location_separation",
                );
            }
            println!("  evidence:");
            for e in &m.comparison {
                println!("    {:<24} {:>+5.1}  {}", e.field, e.weight, e.detail);
            }
            if m.review_status() != "pending" {
                println!(
                    "  {} by {} at {}{}",
                    m.review_status(),
                    m.reviewed_by.as_deref().unwrap_or("?"),
                    m.reviewed_at.as_deref().unwrap_or("?"),
                    m.review_note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                );
            } else if !d.proposable {
                println!(
                    "  not proposed now (a record is closed, has no consent to tracing, or was matched)"
                );
            }
            Ok(())
        }
        ReviewCommand::Confirm { id, note, json } => {
            let id = resolve_match(&kit, &id)?;
            let m = kit.confirm_match(id, note.as_deref(), now)?;
            decided(
                &m,
                json,
                "confirmed: the trace's matched_case_id and the case's matched_tracing_request_id are set",
            )
        }
        ReviewCommand::Reject { id, note, json } => {
            let id = resolve_match(&kit, &id)?;
            let m = kit.reject_match(id, note.as_deref(), now)?;
            decided(
                &m,
                json,
                "rejected: not proposed again unless the case or the trace changes",
            )
        }
    }
}

fn decided(m: &fieldkit_domain::PotentialMatch, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        return print_json(m);
    }
    println!("potential match {} {what}", m.id.short());
    Ok(())
}

//! `fieldkit case ...` and `fieldkit tracing ...`: add, show, list, search, edit records; close,
//! reopen and assign cases, add follow-ups and services.
//!
//! Fields come from flags named after the form (`--name`, `--age`, ...), from `--set
//! field=value` for any Primero field, or from a JSON file (`--from FILE`: a flat object or a
//! Primero `{"data": {...}}` record). Flags override the file. Every change goes through the
//! kit's application core (`fieldkit-app`), which validates, triages, matches and saves the
//! potential matches; these commands only read flags and print what it returns.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use fieldkit_app::{Alert, Kit};
use fieldkit_domain::{Date, PotentialMatch, RecordId, RecordKind, Summary};
use fieldkit_vault::Session;

use super::{Ctx, now_ms, print_json};

/// Fields of a case, as flags.
#[derive(Debug, Default, clap::Args)]
pub struct CaseFields {
    /// Full name.
    #[arg(long)]
    name: Option<String>,
    /// Another name or spelling.
    #[arg(long)]
    name_other: Option<String>,
    /// Nickname.
    #[arg(long)]
    nickname: Option<String>,
    /// female, male, other or unknown.
    #[arg(long)]
    sex: Option<String>,
    /// Age in years.
    #[arg(long, allow_negative_numbers = true)]
    age: Option<i64>,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long)]
    dob: Option<String>,
    /// Age and date of birth are estimates.
    #[arg(long)]
    estimated: bool,
    /// Nationality (repeat for several).
    #[arg(long)]
    nationality: Vec<String>,
    /// Language spoken (repeat for several).
    #[arg(long)]
    language: Vec<String>,
    /// Ethnicity (repeat for several).
    #[arg(long)]
    ethnicity: Vec<String>,
    /// Current location code.
    #[arg(long)]
    location: Option<String>,
    /// Protection concern, e.g. unaccompanied, separated, caafag, gbv_survivor (repeat).
    #[arg(long)]
    concern: Vec<String>,
    /// Mark as an urgent protection concern.
    #[arg(long)]
    urgent: bool,
    /// Date of separation, YYYY-MM-DD.
    #[arg(long)]
    separation_date: Option<String>,
    /// Where the separation happened (location code).
    #[arg(long)]
    separation_place: Option<String>,
    /// A family member as `relation=mother,relation_name=Halima Yusuf,...` (repeat).
    #[arg(long)]
    family: Vec<String>,
    /// Consent for tracing given (true/false).
    #[arg(long)]
    consent: Option<bool>,
}

/// Fields of a tracing request, as flags.
#[derive(Debug, Default, clap::Args)]
pub struct TracingFields {
    /// The inquirer's name.
    #[arg(long)]
    inquirer: Option<String>,
    /// The inquirer's relation to the children sought (mother, father, uncle, ...).
    #[arg(long)]
    relation: Option<String>,
    /// The inquirer's telephone.
    #[arg(long)]
    phone: Option<String>,
    /// Where the family last lived together (location code).
    #[arg(long)]
    location_last: Option<String>,
    /// The inquirer's language (repeat).
    #[arg(long)]
    language: Vec<String>,
    /// A child sought as `name=Amina Yusuf,sex=female,age=9,date_of_separation=2025-03-01,...`
    /// (repeat for each child).
    #[arg(long)]
    child: Vec<String>,
}

/// Options shared by add and edit.
#[derive(Debug, Default, clap::Args)]
pub struct Common {
    /// Any field: `--set field=value` (value read as JSON when it parses, else as text).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Read fields from a JSON file (flat object or Primero `{"data": {...}}`); `-` for stdin.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Print what was saved as JSON (id, version, triage, alerts, potential matches).
    #[arg(long)]
    json: bool,
}

/// Commands on one kind of record.
#[derive(Debug, clap::Subcommand)]
pub enum CaseCommand {
    /// Register a case.
    Add {
        #[command(flatten)]
        fields: CaseFields,
        #[command(flatten)]
        common: Common,
    },
    /// Show a case (id or its first characters).
    Show(ShowArgs),
    /// List cases, oldest registration first.
    List(ListArgs),
    /// Search cases by name (any script, any spelling).
    Search(SearchArgs),
    /// Change fields of a case.
    Edit {
        /// Case id or its first characters.
        id: String,
        #[command(flatten)]
        fields: CaseFields,
        #[command(flatten)]
        common: Common,
    },
    /// Close a case (it is no longer proposed as a match).
    Close {
        /// Case id or its first or last characters.
        id: String,
        /// Why (Primero's closure reasons: reunified, transferred, ...).
        #[arg(long)]
        reason: String,
        /// The day it was closed, YYYY-MM-DD (default today).
        #[arg(long)]
        date: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reopen a closed case (it is matched again at once).
    Reopen {
        /// Case id or its first or last characters.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Assign a case to caseworkers (replaces the list).
    Assign {
        /// Case id or its first or last characters.
        id: String,
        /// A caseworker's user name (repeat for several).
        #[arg(long = "user", required = true)]
        users: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a follow-up of a case.
    Followup {
        /// Case id or its first or last characters.
        id: String,
        /// Kind of follow-up (Primero's lookup, e.g. in_care, after_reunification).
        #[arg(long = "type")]
        followup_type: String,
        /// When it happened, YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
        /// When it is needed by, YYYY-MM-DD.
        #[arg(long)]
        needed_by: Option<String>,
        /// What was done.
        #[arg(long)]
        action: Option<String>,
        /// Any other field of the follow-up: `--set field=value`.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a service for a case (a referral, or a service given).
    Service {
        /// Case id or its first or last characters.
        id: String,
        /// The service (Primero's lookup, e.g. health, education, family_tracing).
        #[arg(long = "type")]
        service_type: String,
        /// Who provides it.
        #[arg(long)]
        provider: Option<String>,
        /// The appointment's day, YYYY-MM-DD.
        #[arg(long)]
        appointment: Option<String>,
        /// implemented or not_implemented.
        #[arg(long)]
        implemented: Option<String>,
        /// Any other field of the service: `--set field=value`.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Commands on tracing requests.
#[derive(Debug, clap::Subcommand)]
pub enum TracingCommand {
    /// Record a family's tracing request.
    Add {
        #[command(flatten)]
        fields: TracingFields,
        #[command(flatten)]
        common: Common,
    },
    /// Show a tracing request.
    Show(ShowArgs),
    /// List tracing requests.
    List(ListArgs),
    /// Search tracing requests by the inquirer's or a child's name.
    Search(SearchArgs),
    /// Change fields of a tracing request.
    Edit {
        /// Request id or its first characters.
        id: String,
        #[command(flatten)]
        fields: TracingFields,
        #[command(flatten)]
        common: Common,
    },
}

/// Arguments of show.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Record id or its first characters.
    id: String,
    /// Print JSON (`{"data": {...}, "conflicts": [...], "version": n}`).
    #[arg(long)]
    json: bool,
}

/// Arguments of list.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Skip this many.
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Show at most this many.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of search.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The name to look for.
    query: String,
    /// Show at most this many.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a case command.
pub fn run_case(ctx: &Ctx, cmd: CaseCommand) -> anyhow::Result<()> {
    let kind = RecordKind::Case;
    match cmd {
        CaseCommand::Add { fields, common } => add(ctx, kind, &common, |o| fields.apply(o)),
        CaseCommand::Show(a) => show(ctx, kind, &a),
        CaseCommand::List(a) => list(ctx, kind, &a),
        CaseCommand::Search(a) => search(ctx, kind, &a),
        CaseCommand::Edit { id, fields, common } => {
            edit(ctx, kind, &id, &common, |o| fields.apply(o))
        }
        CaseCommand::Close {
            id,
            reason,
            date,
            json,
        } => {
            let date = date
                .map(|d| d.parse::<Date>())
                .transpose()
                .context("--date: expected YYYY-MM-DD")?;
            lifecycle(ctx, &id, json, |kit, id, now| {
                kit.close_case(id, &reason, date, now)
            })
        }
        CaseCommand::Reopen { id, json } => {
            lifecycle(ctx, &id, json, |kit, id, now| kit.reopen_case(id, now))
        }
        CaseCommand::Assign { id, users, json } => lifecycle(ctx, &id, json, |kit, id, now| {
            kit.assign_case(id, &users, now)
        }),
        CaseCommand::Followup {
            id,
            followup_type,
            date,
            needed_by,
            action,
            set,
            json,
        } => {
            let mut entry = Map::new();
            entry.insert("followup_type".into(), Value::String(followup_type));
            put(&mut entry, "followup_date", date.map(Value::String));
            put(
                &mut entry,
                "followup_needed_by_date",
                needed_by.map(Value::String),
            );
            put(&mut entry, "action_taken", action.map(Value::String));
            overlay(&mut entry, &set)?;
            lifecycle(ctx, &id, json, |kit, id, now| {
                kit.add_case_entry(id, "followup_subform_section", entry, now)
            })
        }
        CaseCommand::Service {
            id,
            service_type,
            provider,
            appointment,
            implemented,
            set,
            json,
        } => {
            let mut entry = Map::new();
            entry.insert("service_type".into(), Value::String(service_type));
            put(&mut entry, "service_provider", provider.map(Value::String));
            put(
                &mut entry,
                "service_appointment_date",
                appointment.map(Value::String),
            );
            put(
                &mut entry,
                "service_implemented",
                implemented.map(Value::String),
            );
            overlay(&mut entry, &set)?;
            lifecycle(ctx, &id, json, |kit, id, now| {
                kit.add_case_entry(id, "services_section", entry, now)
            })
        }
    }
}

/// Runs a tracing-request command.
pub fn run_tracing(ctx: &Ctx, cmd: TracingCommand) -> anyhow::Result<()> {
    let kind = RecordKind::TracingRequest;
    match cmd {
        TracingCommand::Add { fields, common } => add(ctx, kind, &common, |o| fields.apply(o)),
        TracingCommand::Show(a) => show(ctx, kind, &a),
        TracingCommand::List(a) => list(ctx, kind, &a),
        TracingCommand::Search(a) => search(ctx, kind, &a),
        TracingCommand::Edit { id, fields, common } => {
            edit(ctx, kind, &id, &common, |o| fields.apply(o))
        }
    }
}

fn put(o: &mut Map<String, Value>, field: &str, v: Option<Value>) {
    if let Some(v) = v {
        o.insert(field.to_string(), v);
    }
}

fn put_list(o: &mut Map<String, Value>, field: &str, v: &[String]) {
    if !v.is_empty() {
        o.insert(field.to_string(), json!(v));
    }
}

/// Reads `a=b,c=d` into an object (values as JSON when they parse as a number or boolean).
fn pairs(text: &str, what: &str) -> anyhow::Result<Map<String, Value>> {
    let mut m = Map::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .with_context(|| format!("{what}: `{part}` is not field=value"))?;
        m.insert(k.trim().to_string(), scalar(v.trim()));
    }
    Ok(m)
}

/// A value from the command line: JSON when it parses as JSON, else the text itself.
fn scalar(v: &str) -> Value {
    serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.to_string()))
}

impl CaseFields {
    fn apply(&self, o: &mut Map<String, Value>) -> anyhow::Result<()> {
        put(o, "name", self.name.clone().map(Value::String));
        put(o, "name_other", self.name_other.clone().map(Value::String));
        put(o, "name_nickname", self.nickname.clone().map(Value::String));
        put(o, "sex", self.sex.clone().map(Value::String));
        put(o, "age", self.age.map(Value::from));
        put(o, "date_of_birth", self.dob.clone().map(Value::String));
        if self.estimated {
            o.insert("estimated".into(), Value::Bool(true));
        }
        put_list(o, "nationality", &self.nationality);
        put_list(o, "language", &self.language);
        put_list(o, "ethnicity", &self.ethnicity);
        put(
            o,
            "location_current",
            self.location.clone().map(Value::String),
        );
        put_list(o, "protection_concerns", &self.concern);
        if self.urgent {
            o.insert("urgent_protection_concern".into(), Value::Bool(true));
        }
        put(
            o,
            "date_of_separation",
            self.separation_date.clone().map(Value::String),
        );
        put(
            o,
            "location_separation",
            self.separation_place.clone().map(Value::String),
        );
        put(o, "consent_for_tracing", self.consent.map(Value::Bool));
        if !self.family.is_empty() {
            let mut members = o
                .get("family_details_section")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for f in &self.family {
                members.push(Value::Object(pairs(f, "--family")?));
            }
            o.insert("family_details_section".into(), Value::Array(members));
        }
        Ok(())
    }
}

impl TracingFields {
    fn apply(&self, o: &mut Map<String, Value>) -> anyhow::Result<()> {
        put(o, "relation_name", self.inquirer.clone().map(Value::String));
        put(o, "relation", self.relation.clone().map(Value::String));
        put(
            o,
            "relation_telephone",
            self.phone.clone().map(Value::String),
        );
        put(
            o,
            "location_last",
            self.location_last.clone().map(Value::String),
        );
        put_list(o, "relation_language", &self.language);
        if !self.child.is_empty() {
            let mut traces = o
                .get("tracing_request_subform_section")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for c in &self.child {
                traces.push(Value::Object(pairs(c, "--child")?));
            }
            o.insert(
                "tracing_request_subform_section".into(),
                Value::Array(traces),
            );
        }
        Ok(())
    }
}

impl Common {
    /// The file's fields, then `--set` on top.
    fn base(&self) -> anyhow::Result<Map<String, Value>> {
        let mut o = match &self.from {
            None => Map::new(),
            Some(p) => {
                let text = if p.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin()).context("reading standard input")?
                } else {
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?
                };
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not JSON", p.display()))?;
                match v {
                    Value::Object(mut o) => match o.remove("data") {
                        Some(Value::Object(d)) => d,
                        Some(_) => bail!("{}: `data` must be an object", p.display()),
                        None => o,
                    },
                    _ => bail!("{}: expected a JSON object", p.display()),
                }
            }
        };
        self.overlay(&mut o)?;
        Ok(o)
    }

    fn overlay(&self, o: &mut Map<String, Value>) -> anyhow::Result<()> {
        overlay(o, &self.set)
    }
}

/// Applies `--set field=value` flags.
fn overlay(o: &mut Map<String, Value>, set: &[String]) -> anyhow::Result<()> {
    for s in set {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("--set `{s}` is not field=value"))?;
        o.insert(k.trim().to_string(), scalar(v));
    }
    Ok(())
}

fn add(
    ctx: &Ctx,
    kind: RecordKind,
    common: &Common,
    fields: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut o = common.base()?;
    fields(&mut o)?;
    let mut kit = ctx.kit()?;
    let saved = kit.register(kind, o, now_ms())?;
    print_saved(&saved, common.json, true)
}

/// Prints what a save did: the record, its triage and alerts, the potential matches.
fn print_saved(saved: &fieldkit_app::Saved, json_out: bool, new: bool) -> anyhow::Result<()> {
    if json_out {
        let urgent = saved.alerts.iter().find_map(|a| match a {
            Alert::Urgent(u) => Some(u),
            Alert::LikelyMatch { .. } => None,
        });
        return print_json(&json!({
            "id": saved.id,
            "version": saved.version,
            "fields_changed": saved.fields_changed,
            "risk": saved.triage.as_ref().map(|t| json!({"level": t.level.as_str(), "reasons": t.reasons})),
            "urgent_alert": urgent,
            "alerts": saved.alerts,
            "potential_matches": saved.matches.iter().map(match_json).collect::<Vec<_>>(),
        }));
    }
    let (kind, id) = (saved.kind, saved.id);
    if new {
        println!("{kind} {id} saved");
    } else if saved.fields_changed == 0 {
        println!("{kind} {id}: nothing changed");
    } else {
        println!(
            "{kind} {id} saved ({} fields changed, version {})",
            saved.fields_changed, saved.version
        );
    }
    if let Some(t) = &saved.triage
        && new
    {
        println!("risk: {}", t.level.as_str());
        for r in &t.reasons {
            println!("  {} ({})", r.text, r.level.as_str());
        }
    }
    for a in &saved.alerts {
        if let Alert::Urgent(alert) = a {
            println!(
                "URGENT ALERT raised for case {}: {}",
                alert.case_id,
                alert.reasons.join("; ")
            );
        }
    }
    for m in &saved.matches {
        println!(
            "potential match {} ({}, {:.1} bits): case {} ↔ tracing request {} trace {} (review: `fieldkit trace review show {}`)",
            m.id.short(),
            m.likelihood.as_deref().unwrap_or(""),
            m.score,
            m.case_id,
            m.tracing_request_id,
            m.trace_id,
            m.id.short(),
        );
    }
    Ok(())
}

/// A potential match as the record commands print it.
pub fn match_json(m: &PotentialMatch) -> Value {
    json!({
        "match_id": m.id,
        "likelihood": m.likelihood,
        "score": m.score,
        "status": m.review_status(),
        "case_id": m.case_id,
        "tracing_request_id": m.tracing_request_id,
        "trace_id": m.trace_id,
        "comparison": m.comparison,
    })
}

fn resolve(s: &Session, kind: RecordKind, id: &str) -> anyhow::Result<RecordId> {
    if let Ok(full) = id.parse::<RecordId>() {
        return Ok(full);
    }
    let found = s.resolve(kind, id)?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no {kind} with an id starting {id}"),
        many => bail!(
            "{} {kind}s have ids starting {id}: give more characters",
            many.len()
        ),
    }
}

fn edit(
    ctx: &Ctx,
    kind: RecordKind,
    id: &str,
    common: &Common,
    fields: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut kit = ctx.kit()?;
    let id = resolve(kit.session(), kind, id)?;
    let now = now_ms();
    let current = kit.open_record(kind, id, now)?.record.to_json();
    let Value::Object(mut o) = current else {
        bail!("stored record is not an object")
    };
    if common.from.is_some() {
        for (k, v) in common.base()? {
            o.insert(k, v);
        }
    } else {
        common.overlay(&mut o)?;
    }
    fields(&mut o)?;
    let saved = kit.edit(kind, id, o, now)?;
    print_saved(&saved, common.json, false)
}

/// A lifecycle change of a case, through the kit.
fn lifecycle(
    ctx: &Ctx,
    id: &str,
    json_out: bool,
    change: impl FnOnce(&mut Kit, RecordId, u64) -> Result<fieldkit_app::Saved, fieldkit_app::SaveError>,
) -> anyhow::Result<()> {
    let mut kit = ctx.kit()?;
    let id = resolve(kit.session(), RecordKind::Case, id)?;
    let saved = change(&mut kit, id, now_ms())?;
    print_saved(&saved, json_out, false)
}

fn show(ctx: &Ctx, kind: RecordKind, a: &ShowArgs) -> anyhow::Result<()> {
    let mut s = ctx.session()?;
    let id = resolve(&s, kind, &a.id)?;
    let opened = s.get(kind, id, now_ms())?;
    let data = opened.record.to_json();
    let conflicts: Vec<Value> = opened
        .conflicts
        .iter()
        .map(|c| {
            json!({
                "field": c.field,
                "values": c.candidates.iter().map(|(stamp, v)| json!({
                    "value": v.to_json(), "device": stamp.device.to_string(), "at_ms": stamp.wall_ms
                })).collect::<Vec<_>>()
            })
        })
        .collect();
    if a.json {
        return print_json(
            &json!({"data": data, "conflicts": conflicts, "version": opened.version}),
        );
    }
    println!("{kind} {id} (version {})", opened.version);
    print_fields(&data, "  ");
    for c in &opened.conflicts {
        println!("  CONFLICT {}: edited on two kits at once:", c.field);
        for (stamp, v) in &c.candidates {
            println!("    {} (kit {})", v.to_json(), stamp.device);
        }
    }
    Ok(())
}

fn print_fields(v: &Value, indent: &str) {
    let Value::Object(o) = v else { return };
    for (k, v) in o {
        match v {
            Value::Null => {}
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                println!("{indent}{k}:");
                for item in items {
                    println!("{indent}  -");
                    print_fields(item, &format!("{indent}    "));
                }
            }
            Value::String(s) => println!("{indent}{k}: {s}"),
            other => println!("{indent}{k}: {other}"),
        }
    }
}

fn print_summaries(list: &[Summary], json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return print_json(&list);
    }
    for s in list {
        let sex = match s.sex {
            Some(fieldkit_domain::Sex::Female) => "F",
            Some(fieldkit_domain::Sex::Male) => "M",
            Some(_) => "?",
            None => "-",
        };
        let age = s.age.map_or_else(|| "-".to_string(), |a| a.to_string());
        let flags = format!(
            "{}{}",
            if s.urgent { "URGENT " } else { "" },
            if s.conflicts > 0 { "CONFLICT" } else { "" }
        );
        println!(
            "{}  {:<28} {sex} {age:>3}  {:<16} {:<6} {}  {flags}",
            s.id.short(),
            s.name,
            s.location.as_deref().unwrap_or("-"),
            s.risk_level.as_deref().unwrap_or("-"),
            s.date.map_or_else(|| "-".to_string(), |d| d.to_string()),
        );
    }
    Ok(())
}

fn list(ctx: &Ctx, kind: RecordKind, a: &ListArgs) -> anyhow::Result<()> {
    let mut s = ctx.session()?;
    print_summaries(&s.list_audited(kind, a.offset, a.limit, now_ms())?, a.json)
}

fn search(ctx: &Ctx, kind: RecordKind, a: &SearchArgs) -> anyhow::Result<()> {
    let mut s = ctx.session()?;
    print_summaries(&s.search(kind, &a.query, a.limit, now_ms())?, a.json)
}

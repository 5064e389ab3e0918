//! `fieldkit case ...` and `fieldkit tracing ...`: add, show, list, search, edit records.
//!
//! Fields come from flags named after the form (`--name`, `--age`, ...), from `--set
//! field=value` for any Primero field, or from a JSON file (`--from FILE`: a flat object or a
//! Primero `{"data": {...}}` record). Flags override the file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use fieldkit_domain::{Date, Record, RecordId, RecordKind, Summary};
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
    #[arg(long)]
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
    /// Print the saved record as JSON.
    #[arg(long)]
    json: bool,
    /// Do not look for matches among the kit's records after saving.
    #[arg(long)]
    no_match: bool,
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

/// Gives every subform entry without a `unique_id` a fresh one.
fn assign_unique_ids(o: &mut Map<String, Value>) -> anyhow::Result<()> {
    for v in o.values_mut() {
        let Value::Array(items) = v else { continue };
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if item
                .get("unique_id")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                item.insert("unique_id".into(), Value::String(fresh_uid()?));
            }
        }
    }
    Ok(())
}

/// A fresh `unique_id` for a subform entry (a random UUID, as Primero uses).
fn fresh_uid() -> anyhow::Result<String> {
    Ok(uuid::Uuid::new_v4().to_string())
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
        for s in &self.set {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("--set `{s}` is not field=value"))?;
            o.insert(k.trim().to_string(), scalar(v));
        }
        Ok(())
    }
}

fn add(
    ctx: &Ctx,
    kind: RecordKind,
    common: &Common,
    fields: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut o = common.base()?;
    fields(&mut o)?;
    assign_unique_ids(&mut o)?;
    let mut s = ctx.session()?;
    let now = now_ms();
    o.insert("id".into(), Value::String(s.mint_id(now)?.to_string()));
    let today = Date::from_unix_ms(now).to_string();
    let date_field = match kind {
        RecordKind::Case => "registration_date",
        RecordKind::TracingRequest => "inquiry_date",
        RecordKind::Incident => "date_of_first_report",
    };
    o.entry(date_field).or_insert(Value::String(today));
    o.entry("status").or_insert(Value::String("open".into()));
    o.entry("owned_by")
        .or_insert(Value::String(s.caseworker().username.clone()));
    let mut record = Record::from_json(kind, Value::Object(o)).context("the record's fields")?;
    // Triage before the save, so the risk level and the urgent flag are saved with the case.
    let triage = match &mut record {
        Record::Case(c) => {
            let t = ctx.triage_rules()?.assess(c, Date::from_unix_ms(now));
            c.risk_level = Some(t.level.as_str().to_string());
            if t.urgent_alert(c.id).is_some() {
                c.urgent_protection_concern = true;
            }
            Some(t)
        }
        _ => None,
    };
    let saved = s.create(&record, now)?;
    // A new registration is checked against the kit's records at once.
    let matches = if common.no_match {
        Vec::new()
    } else {
        match_new(ctx, &mut s, &record, now)?
    };
    if common.json {
        return print_json(&json!({
            "id": saved.id,
            "version": saved.version,
            "risk": triage.as_ref().map(|t| json!({"level": t.level.as_str(), "reasons": t.reasons})),
            "urgent_alert": triage.as_ref().and_then(|t| t.urgent_alert(saved.id)),
            "potential_matches": matches,
        }));
    }
    println!("{} {} saved", kind, saved.id);
    if let Some(t) = &triage {
        println!("risk: {}", t.level.as_str());
        for r in &t.reasons {
            println!("  {} ({})", r.text, r.level.as_str());
        }
        if let Some(alert) = t.urgent_alert(saved.id) {
            println!(
                "URGENT ALERT raised for case {}: {}",
                alert.case_id,
                alert.reasons.join("; ")
            );
        }
    }
    for m in &matches {
        println!(
            "potential match ({}, {:.1} bits): case {} ↔ tracing request {} (see `fieldkit trace run --explain`)",
            m["likelihood"].as_str().unwrap_or(""),
            m["score"].as_f64().unwrap_or(0.0),
            m["case_id"].as_str().unwrap_or(""),
            m["tracing_request_id"].as_str().unwrap_or(""),
        );
    }
    Ok(())
}

/// Matches a newly saved case against the kit's tracing requests, or a new tracing request
/// against its cases, and returns the potential matches (best first).
fn match_new(ctx: &Ctx, s: &mut Session, record: &Record, now: u64) -> anyhow::Result<Vec<Value>> {
    use fieldkit_match::matcher::{MatchSettings, match_changed};
    use fieldkit_match::profile::Locations;
    let tree = ctx.locations()?;
    let locations = tree
        .as_ref()
        .map_or(Locations::CodePrefixes, Locations::Tree);
    let today = Date::from_unix_ms(now);
    let settings = MatchSettings::default();
    let found = match record {
        Record::Case(c) => {
            let requests = super::all_requests(s, now)?;
            if requests.is_empty() {
                return Ok(Vec::new());
            }
            match_changed(
                std::slice::from_ref(c),
                &[],
                std::iter::once(&**c),
                &requests,
                &locations,
                today,
                &settings,
            )
        }
        Record::TracingRequest(t) => {
            let cases = super::all_cases(s, now)?;
            if cases.is_empty() {
                return Ok(Vec::new());
            }
            match_changed(
                &[],
                std::slice::from_ref(t),
                &cases,
                std::iter::once(&**t),
                &locations,
                today,
                &settings,
            )
        }
        Record::Incident(_) => Vec::new(),
    };
    let mut found = found;
    found.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    Ok(found
        .into_iter()
        .map(|m| {
            json!({
                "likelihood": m.likelihood.as_str(),
                "score": m.weight,
                "case_id": m.case_id,
                "tracing_request_id": m.tracing_request_id,
                "trace_id": m.trace_id,
                "comparison": m.fields,
            })
        })
        .collect())
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
    let mut s = ctx.session()?;
    let id = resolve(&s, kind, id)?;
    let now = now_ms();
    let current = s.get(kind, id, now)?.record.to_json();
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
    assign_unique_ids(&mut o)?;
    let saved = s.update(kind, id, &Value::Object(o), now)?;
    if common.json {
        print_json(
            &json!({"id": saved.id, "version": saved.version, "fields_changed": saved.ops}),
        )?;
    } else if saved.ops == 0 {
        println!("{kind} {id}: nothing changed");
    } else {
        println!(
            "{kind} {id} saved ({} fields changed, version {})",
            saved.ops, saved.version
        );
    }
    Ok(())
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

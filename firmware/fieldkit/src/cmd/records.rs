//! `fieldkit case ...` and `fieldkit tracing ...`: add, show, list, search, edit records; close,
//! reopen and assign cases, add follow-ups and services.
//!
//! Fields come from flags named after the form (`--name`, `--age`, ...), from `--set
//! field=value` for any Primero field, or from a JSON file (`--from FILE`: a flat object or a
//! Primero `{"data": {...}}` record). Flags override the file. Every change goes through the
//! kit's application core (`fieldkit-app`), which validates, triages, matches and saves the
//! potential matches; these commands only read flags and print what it returns.

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use fieldkit_app::{Kit, SaveError};
use fieldkit_domain::{Date, RecordId, RecordKind};
use fieldkit_vault::Session;

use super::fields::{CaseFields, Common, TracingFields, overlay, put};
use super::{Ctx, now_ms, print, print_json};

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
    /// Show a case (by id or short id).
    Show(ShowArgs),
    /// List cases, oldest registration first (cases without a registration date last).
    List(ListArgs),
    /// Search cases by name (any script, any spelling).
    Search(SearchArgs),
    /// Change fields of a case.
    Edit {
        /// Case id, or its short id (the last 8 hex digits lists print).
        id: String,
        #[command(flatten)]
        fields: CaseFields,
        #[command(flatten)]
        common: Common,
    },
    /// Close a case (it is no longer proposed as a match).
    Close {
        /// Case id, or its short id (the last 8 hex digits lists print).
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
        /// Case id, or its short id (the last 8 hex digits lists print).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Assign a case to caseworkers (replaces the list).
    Assign {
        /// Case id, or its short id (the last 8 hex digits lists print).
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
        /// Case id, or its short id (the last 8 hex digits lists print).
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
        /// Case id, or its short id (the last 8 hex digits lists print).
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
    /// A child's photos: add (from a file or the camera), list, export, remove.
    #[command(subcommand)]
    Photo(super::photo::PhotoCommand),
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
    /// List tracing requests, oldest inquiry first.
    List(ListArgs),
    /// Search tracing requests by the inquirer's or a child's name.
    Search(SearchArgs),
    /// Change fields of a tracing request.
    Edit {
        /// Request id, or its short id (the last 8 hex digits lists print).
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
    /// Record id, or its short id (the last 8 hex digits lists print).
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
        CaseCommand::Photo(c) => super::photo::run(ctx, c),
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

fn add(
    ctx: &Ctx,
    kind: RecordKind,
    common: &Common,
    fields: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut o = common.base()?;
    fields(&mut o)?;
    let mut kit = ctx.kit()?;
    let now = now_ms();
    let saved = kit.register(kind, o, now)?;
    let record = saved_record(&mut kit, &saved, common.json, now)?;
    print::saved(&saved, record.as_ref(), common.json, true)
}

/// The record as saved, for `--json` (an audited read, as `show` is).
fn saved_record(
    kit: &mut Kit,
    saved: &fieldkit_app::Saved,
    wanted: bool,
    now: u64,
) -> anyhow::Result<Option<Value>> {
    if !wanted {
        return Ok(None);
    }
    Ok(Some(
        kit.open_record(saved.kind, saved.id, now)?.record.to_json(),
    ))
}

/// A record named by its full id or its short id: the last 8 hex digits lists print
/// ([`RecordId::short`]). Ids minted on one day share their first digits, so the short id is
/// the end; fewer (at least 4) or more digits work too, and a start still resolves when only
/// one id has it.
pub(super) fn resolve(s: &Session, kind: RecordKind, id: &str) -> anyhow::Result<RecordId> {
    if let Ok(full) = id.parse::<RecordId>() {
        return Ok(full);
    }
    let found = s.resolve(kind, id)?;
    let digits: String = id
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let ending: Vec<RecordId> = found
        .iter()
        .copied()
        .filter(|r| r.0.simple().to_string().ends_with(&digits))
        .collect();
    match (ending.as_slice(), found.as_slice()) {
        ([one], _) | ([], [one]) => Ok(*one),
        ([], []) => bail!("no {kind} has the id {id} (give the short id `{kind} list` prints)"),
        _ => bail!(
            "{} {kind}s have ids starting or ending {id}: give the whole short id or more digits",
            found.len()
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
    let base = common.base()?;
    // The stored document's values as they were given (a Primero radio string stays a string,
    // a datetime keeps its time), not the typed record's: only the fields typed here change.
    // Read and save are one transaction; the kit checks the changed select values against the
    // lookup lists.
    let mut refused = None;
    let saved = kit.change(kind, id, now, |o| {
        for (k, v) in base {
            o.insert(k, v);
        }
        fields(o).map_err(|e| {
            let why = SaveError::Fields(format!("{e:#}"));
            refused = Some(e);
            why
        })
    });
    let saved = match (saved, refused) {
        (Err(_), Some(e)) => return Err(e),
        (saved, _) => saved?,
    };
    let record = saved_record(&mut kit, &saved, common.json, now)?;
    print::saved(&saved, record.as_ref(), common.json, false)
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
    let now = now_ms();
    let saved = change(&mut kit, id, now)?;
    let record = saved_record(&mut kit, &saved, json_out, now)?;
    print::saved(&saved, record.as_ref(), json_out, false)
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
    print::fields(&data, "  ");
    for c in &opened.conflicts {
        println!("  CONFLICT {}: edited on two kits at once:", c.field);
        for (stamp, v) in &c.candidates {
            println!("    {} (kit {})", v.to_json(), stamp.device);
        }
    }
    Ok(())
}

/// A page of the list, oldest registration (or inquiry) first: the vault keeps records by id,
/// and imported records keep their Primero ids, so the order is made here from every summary
/// (one audited bulk read of the summaries only, never the records).
fn list(ctx: &Ctx, kind: RecordKind, a: &ListArgs) -> anyhow::Result<()> {
    let mut s = ctx.session()?;
    let mut all = s.list_audited(kind, 0, usize::MAX, now_ms())?;
    // Undated records last; the id breaks ties (it is minted in time order).
    all.sort_by_key(|r| (r.date.is_none(), r.date, r.id));
    let total = all.len();
    let page: Vec<_> = all.into_iter().skip(a.offset).take(a.limit).collect();
    print::summaries(&page, Some(total), a.offset, a.json)
}

fn search(ctx: &Ctx, kind: RecordKind, a: &SearchArgs) -> anyhow::Result<()> {
    let mut s = ctx.session()?;
    print::summaries(
        &s.search(kind, &a.query, a.limit, now_ms())?,
        None,
        0,
        a.json,
    )
}

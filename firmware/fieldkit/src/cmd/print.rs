//! How the record commands print: what a save did, a record's fields, a list with its header.
//! Nothing here reads flags or the vault.

use serde_json::{Value, json};

use fieldkit_app::Alert;
use fieldkit_domain::{PotentialMatch, Sex, Summary};

use super::print_json;
use crate::out::plural;

/// Prints what a save did: the record (with `--json`), its triage and alerts, the potential
/// matches. `record` is the saved record as its document holds it now.
pub fn saved(
    saved: &fieldkit_app::Saved,
    record: Option<&Value>,
    json_out: bool,
    new: bool,
) -> anyhow::Result<()> {
    if json_out {
        let urgent = saved.alerts.iter().find_map(|a| match a {
            Alert::Urgent(u) => Some(u),
            Alert::LikelyMatch { .. } | Alert::MatchNoLongerLikely { .. } => None,
        });
        return print_json(&json!({
            "data": record,
            "id": saved.id,
            "version": saved.version,
            "fields_changed": saved.fields_changed,
            "risk": saved.triage.as_ref().map(|t| json!({"level": saved.risk_level.as_deref().unwrap_or(t.level.as_str()), "reasons": t.reasons})),
            "urgent_alert": urgent,
            "alerts": saved.alerts,
            "potential_matches": saved.matches.iter().map(match_json).collect::<Vec<_>>(),
        }));
    }
    let (kind, id) = (saved.kind, saved.id);
    if new {
        println!("{kind} {id} saved (short id {})", id.short());
    } else if saved.fields_changed == 0 {
        println!("{kind} {id}: nothing changed");
    } else {
        println!(
            "{kind} {id} saved ({} changed, version {})",
            plural(saved.fields_changed as u64, "field", "fields"),
            saved.version
        );
    }
    if let Some(t) = &saved.triage
        && new
    {
        println!(
            "risk: {}",
            saved.risk_level.as_deref().unwrap_or(t.level.as_str())
        );
        for r in &t.reasons {
            println!("  {} ({})", r.text, r.level.as_str());
        }
    }
    for a in &saved.alerts {
        match a {
            Alert::Urgent(alert) => println!(
                "URGENT ALERT raised for case {}: {}",
                alert.case_id,
                alert.reasons.join("; ")
            ),
            Alert::MatchNoLongerLikely {
                match_id, case_id, ..
            } => println!(
                "potential match {} (case {case_id}) is no longer likely: another case scores as well against its trace; tell them apart before acting (review: `fieldkit trace review show {}`)",
                match_id.short(),
                match_id.short()
            ),
            Alert::LikelyMatch { .. } => {}
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
        // The explanation's English (the record stores each detail typed).
        "comparison": m.comparison.iter().map(|e| json!({
            "unique_id": e.unique_id,
            "field": e.field,
            "weight": e.weight,
            "detail": e.detail.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// A record's fields, one per line, subform entries indented.
pub fn fields(v: &Value, indent: &str) {
    let Value::Object(o) = v else { return };
    for (k, v) in o {
        match v {
            Value::Null => {}
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                println!("{indent}{k}:");
                for item in items {
                    println!("{indent}  -");
                    fields(item, &format!("{indent}    "));
                }
            }
            Value::String(s) => println!("{indent}{k}: {s}"),
            other => println!("{indent}{k}: {other}"),
        }
    }
}

/// The letter lists show for a sex (`case add --sex` takes it too).
pub fn sex_letter(sex: Option<Sex>) -> &'static str {
    match sex {
        Some(Sex::Female) => "F",
        Some(Sex::Male) => "M",
        Some(Sex::Other) => "O",
        Some(Sex::Unknown) => "U",
        None => "-",
    }
}

/// Cuts a name to `width` characters for a table column (the full name is in `show`).
fn column(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// A page of a list, under a header row, with how many there are in all when `total` is
/// known (`case list`); `json_out` prints the rows as JSON.
pub fn summaries(
    list: &[Summary],
    total: Option<usize>,
    offset: usize,
    json_out: bool,
) -> anyhow::Result<()> {
    if json_out {
        return print_json(&list);
    }
    if list.is_empty() {
        match total {
            Some(n) if n > 0 => println!("no records from {} on ({} in all)", offset + 1, n),
            _ => println!("no records"),
        }
        return Ok(());
    }
    println!(
        "{:<8}  {:<28} {} {:>3}  {:<16} {:<6} {:<10}  FLAGS",
        "ID", "NAME", "S", "AGE", "LOCATION", "RISK", "DATE"
    );
    for s in list {
        let age = s.age.map_or_else(|| "-".to_string(), |a| a.to_string());
        let flags = [
            s.urgent.then_some("URGENT"),
            (s.conflicts > 0).then_some("CONFLICT"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        println!(
            "{}  {:<28} {} {age:>3}  {:<16} {:<6} {:<10}  {flags}",
            s.id.short(),
            column(&s.name, 28),
            sex_letter(s.sex),
            column(s.location.as_deref().unwrap_or("-"), 16),
            s.risk_level.as_deref().unwrap_or("-"),
            s.date.map_or_else(|| "-".to_string(), |d| d.to_string()),
        );
    }
    if let Some(total) = total {
        let (from, to) = (offset + 1, offset + list.len());
        if list.len() < total {
            println!(
                "showing {} of {total} ({from}–{to}; --offset {to} for the next page)",
                list.len()
            );
        } else {
            println!("{}", plural(total as u64, "record", "records"));
        }
    }
    Ok(())
}

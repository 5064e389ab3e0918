//! Match review: the queue of potential matches waiting for a caseworker, and the selected one
//! side by side, field by field, with what each comparison counted. Confirming or rejecting is
//! the kit's decision call, with the caseworker's note.

use std::rc::Rc;

use fieldkit_app::MatchFilter;
use fieldkit_domain::lookups::Lookups;
use fieldkit_domain::{Detail, PotentialMatch, RecordId, RecordKind};
use serde_json::Value;
use slint::{ComponentHandle, SharedString};

use super::{Inner, model, now_ms};
use crate::{ExplainRow, MainWindow, MatchRow, Message, ReviewAdapter, messages};

/// Where a tracing request lists the children it seeks.
const TRACES: &str = "tracing_request_subform_section";

fn likely(m: &PotentialMatch) -> bool {
    m.likelihood.as_deref() == Some("likely")
}

fn score(m: &PotentialMatch) -> SharedString {
    format!("{:.1}", m.score).into()
}

/// A field's value in a record, as text (`None` when the record does not have it).
fn field_text(record: &Value, field: &str) -> Option<String> {
    match record.get(field)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Value::Array(_) | Value::Object(_) => None,
        other => Some(other.to_string()),
    }
}

pub(super) fn refresh(inner: &Inner, w: &MainWindow) {
    let pending = inner
        .with_kit(|kit| {
            kit.potential_matches(&MatchFilter {
                status: Some("pending".into()),
                ..MatchFilter::default()
            })
        })
        .unwrap_or_default();
    let a = w.global::<ReviewAdapter>();
    a.set_pending(model(
        pending
            .iter()
            .map(|m| MatchRow {
                id: m.id.to_string().into(),
                case_name: m.case_name.clone().unwrap_or_default().into(),
                trace_name: m.trace_name.clone().unwrap_or_default().into(),
                likely: likely(m),
                score: score(m),
            })
            .collect(),
    ));
    let selected = a.get_selected();
    if !pending
        .iter()
        .any(|m| m.id.to_string() == selected.as_str())
    {
        a.set_selected("".into());
        a.set_explanation(model(vec![]));
    }
}

fn select(inner: &Inner, w: &MainWindow, id: &str) {
    let a = w.global::<ReviewAdapter>();
    let Ok(rid) = id.parse::<RecordId>() else {
        return;
    };
    let Some(Ok(d)) = inner.with_kit(|kit| kit.match_detail(rid, now_ms())) else {
        a.set_selected("".into());
        return;
    };
    let m = &d.potential_match;
    let case = d
        .case
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or(Value::Null);
    let trace = d
        .trace
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(Value::Null);
    // The sought child: the request's entry the match names (its own fields are the child's;
    // the request's top level holds the inquirer's).
    let sought = trace
        .get(TRACES)
        .and_then(Value::as_array)
        .and_then(|t| {
            t.iter()
                .find(|e| e.get("unique_id").and_then(Value::as_str) == Some(m.trace_id.as_str()))
        })
        .unwrap_or(&trace);
    let mut rows = Vec::new();
    for e in &m.comparison {
        let (case_value, trace_value, lookup) =
            match (field_text(&case, &e.field), field_text(sought, &e.field)) {
                (Some(c), Some(t)) => (
                    c,
                    t,
                    Lookups::list_of(RecordKind::Case, "", &e.field).is_some(),
                ),
                // A group (relatives) or a field one side lacks: the matcher's words.
                _ => (String::new(), String::new(), false),
            };
        let row = |detail: Message, weight: f64| ExplainRow {
            field: e.field.as_str().into(),
            case_value: case_value.as_str().into(),
            trace_value: trace_value.as_str().into(),
            detail,
            lookup,
            weight: format!("{weight:+.1}").into(),
            agrees: weight > 0.0,
            disagrees: weight < 0.0,
        };
        if !case_value.is_empty() {
            rows.push(row(Message::default(), e.weight));
            continue;
        }
        match &e.detail {
            // Each relative compared on a line of its own, with what it counted.
            Detail::Family(relatives) if !relatives.is_empty() => {
                for r in relatives {
                    rows.push(row(messages::relative(r), f64::from(r.weight)));
                }
            }
            other => rows.push(row(messages::evidence(other), e.weight)),
        }
    }
    a.set_selected(id.into());
    a.set_likely(likely(m));
    a.set_score(score(m));
    a.set_case_title(m.case_name.clone().unwrap_or_default().into());
    a.set_trace_title(m.trace_name.clone().unwrap_or_default().into());
    a.set_explanation(model(rows));
    a.set_outcome("".into());
}

fn decide(inner: &Inner, w: &MainWindow, id: &str, note: &str, confirm: bool) {
    let a = w.global::<ReviewAdapter>();
    let Ok(rid) = id.parse::<RecordId>() else {
        return;
    };
    let note = note.trim();
    let note = (!note.is_empty()).then_some(note);
    let done = inner.with_kit(|kit| {
        if confirm {
            kit.confirm_match(rid, note, now_ms())
        } else {
            kit.reject_match(rid, note, now_ms())
        }
    });
    match done {
        Some(Ok(_)) => {
            a.set_outcome(if confirm { "confirmed" } else { "rejected" }.into());
            a.set_note("".into());
            a.set_selected("".into());
            a.set_explanation(model(vec![]));
        }
        Some(Err(e)) => {
            tracing::warn!("review decision not saved: {e}");
            a.set_outcome("failed".into());
        }
        None => a.set_outcome("failed".into()),
    }
    let outcome = a.get_outcome();
    refresh(inner, w);
    a.set_outcome(outcome);
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow) {
    let a = window.global::<ReviewAdapter>();
    let i = inner.clone();
    a.on_select(move |id| {
        if let Some(w) = i.window() {
            select(&i, &w, &id);
        }
    });
    let i = inner.clone();
    a.on_confirm(move |id, note| {
        if let Some(w) = i.window() {
            decide(&i, &w, &id, &note, true);
        }
    });
    let i = inner.clone();
    a.on_reject(move |id, note| {
        if let Some(w) = i.window() {
            decide(&i, &w, &id, &note, false);
        }
    });
}

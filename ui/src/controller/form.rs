//! The case form and the tracing request form. Each field is saved the moment the caseworker
//! commits it (Enter, leaving the field, or a tap on a choice): a new record is registered as
//! soon as the kit accepts it, after that each change is a `kit.change`. A power cut thus loses
//! at most the field being typed. When the kit refuses a change, its message stands beside the
//! field and the typed value stays on screen, unsaved, to be corrected; it is sent again with
//! the next change. Fields two kits changed differently are shown for the caseworker to settle.

use std::collections::BTreeMap;
use std::rc::Rc;

use fieldkit_app::{MatchFilter, SaveError};
use fieldkit_domain::{FieldValue, RecordId, RecordKind};
use serde_json::{Map, Value};
use slint::{ComponentHandle, SharedString};

use super::{Inner, model, now_ms};
use crate::{
    AppState, CaseFormAdapter, CaseSection, ChoiceOption, ConflictRow, FamilyRow, FieldKind,
    FormField, MainWindow, Message, Page, TracingFormAdapter, messages,
};

/// Where a tracing request keeps the child sought: its first trace.
const TRACES: &str = "tracing_request_subform_section";
const FAMILY: &str = "family_details_section";

const SEX: &[&str] = &["female", "male", "other", "unknown"];
const YES_NO: &[&str] = &["true", "false"];
const WG: &[&str] = &[
    "no_difficulty",
    "some_difficulty",
    "a_lot_of_difficulty",
    "cannot_do_at_all",
];
const CAUSES: &[&str] = &[
    "separation_because_of_fleeing_violence_war",
    "separation_because_of_natural_disaster",
    "abducted_trafficked",
    "death_sickness_of_family_member",
    "migration",
    "other_please_specify",
];
const CONCERNS: &[&str] = &[
    "unaccompanied",
    "separated",
    "caafag",
    "gbv_survivor",
    "trafficked_smuggled",
    "child_headed_household",
    "disabled",
    "orphan",
    "sexual_abuse_violence",
    "physical_abuse_violence",
    "neglect",
    "child_labour",
    "child_marriage",
    "serious_medical_condition",
    "psychosocial_distress",
];
const RELATIONS: &[&str] = &[
    "mother",
    "father",
    "sister",
    "brother",
    "grandmother",
    "grandfather",
    "aunt",
    "uncle",
    "other",
];
/// The Child Functioning Module questions the case stores (Primero's `cfm_5_17_*` names).
const CFM: &[&str] = &[
    "cfm_5_17_vision_difficulty",
    "cfm_5_17_hearing_difficulty",
    "cfm_5_17_mobility_difficulty_comparative_100m",
    "cfm_5_17_remembering_difficulty",
    "cfm_5_17_self_care_difficulty",
    "cfm_5_17_communication_difficulty_understanding_child_household",
];

/// How a field is edited.
#[derive(Clone, Copy)]
enum Spec {
    Text,
    Number,
    Date,
    Choice(&'static [&'static str]),
    Multi(&'static [&'static str]),
}

const IDENTITY: &[(&str, Spec)] = &[
    ("name", Spec::Text),
    ("name_other", Spec::Text),
    ("sex", Spec::Choice(SEX)),
    ("age", Spec::Number),
    ("date_of_birth", Spec::Date),
    ("estimated", Spec::Choice(YES_NO)),
    ("location_current", Spec::Text),
];
const SEPARATION: &[(&str, Spec)] = &[
    ("date_of_separation", Spec::Date),
    ("separation_cause", Spec::Choice(CAUSES)),
    ("location_separation", Spec::Text),
];
const CONCERN_FIELDS: &[(&str, Spec)] = &[("protection_concerns", Spec::Multi(CONCERNS))];
const CONSENT: &[(&str, Spec)] = &[("consent_for_tracing", Spec::Choice(YES_NO))];
const INQUIRER: &[(&str, Spec)] = &[
    ("relation_name", Spec::Text),
    ("relation", Spec::Choice(RELATIONS)),
    ("relation_telephone", Spec::Text),
];
const CHILD: &[(&str, Spec)] = &[
    ("name", Spec::Text),
    ("sex", Spec::Choice(SEX)),
    ("age", Spec::Number),
    ("date_of_separation", Spec::Date),
    ("location_separation", Spec::Text),
];

fn spec_of(kind: RecordKind, key: &str) -> Option<Spec> {
    let lists: &[&[(&str, Spec)]] = match kind {
        RecordKind::TracingRequest => &[INQUIRER, CHILD],
        _ => &[IDENTITY, SEPARATION, CONCERN_FIELDS, CONSENT],
    };
    if kind == RecordKind::Case && CFM.contains(&key) {
        return Some(Spec::Choice(WG));
    }
    lists
        .iter()
        .flat_map(|l| l.iter())
        .find(|(k, _)| *k == key)
        .map(|(_, s)| *s)
}

/// One open form.
#[derive(Debug, Default)]
pub(crate) struct FormState {
    kind: Option<RecordKind>,
    pub(super) id: Option<RecordId>,
    /// The record as stored (a flat JSON object), with the unsaved edits laid over it.
    values: Map<String, Value>,
    /// Edits the kit has not accepted yet (sent again with the next change).
    pending: Map<String, Value>,
    /// Validation messages by field (typed; the page words them).
    errors: BTreeMap<String, Message>,
    /// Fields two kits changed differently, with the values they hold.
    conflicts: Vec<(String, Vec<Value>)>,
    save_state: &'static str,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn json_of(v: &FieldValue) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Where a field lives in the record: tracing requests keep the child's fields in their
/// first trace.
fn is_child_field(kind: RecordKind, key: &str) -> bool {
    kind == RecordKind::TracingRequest && CHILD.iter().any(|(k, _)| *k == key)
}

impl FormState {
    fn kind(&self) -> RecordKind {
        self.kind.unwrap_or(RecordKind::Case)
    }

    /// The value a field shows.
    fn value(&self, key: &str) -> Option<&Value> {
        if is_child_field(self.kind(), key) {
            self.values
                .get(TRACES)
                .and_then(|t| t.get(0))
                .and_then(|t| t.get(key))
        } else {
            self.values.get(key)
        }
    }

    fn field(&self, key: &str, spec: Spec) -> FormField {
        let value = self.value(key).cloned().unwrap_or(Value::Null);
        let options = |values: &[&str], multi: bool| {
            model(
                values
                    .iter()
                    .map(|o| ChoiceOption {
                        value: (*o).into(),
                        checked: if multi {
                            value
                                .as_array()
                                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(o)))
                        } else {
                            text_of(&value) == *o
                        },
                    })
                    .collect(),
            )
        };
        let (kind, options) = match spec {
            Spec::Text => (FieldKind::Text, model(vec![])),
            Spec::Number => (FieldKind::Number, model(vec![])),
            Spec::Date => (FieldKind::Date, model(vec![])),
            Spec::Choice(o) => (FieldKind::Choice, options(o, false)),
            Spec::Multi(o) => (FieldKind::Multi, options(o, true)),
        };
        FormField {
            key: key.into(),
            kind,
            value: text_of(&value).into(),
            error: self.errors.get(key).cloned().unwrap_or_default(),
            options,
        }
    }

    fn fields(&self, list: &[(&str, Spec)]) -> slint::ModelRc<FormField> {
        model(list.iter().map(|(k, s)| self.field(k, *s)).collect())
    }

    /// Sets a field in the shown values and among the pending edits.
    fn set(&mut self, key: &str, value: Value) {
        if is_child_field(self.kind(), key) {
            for map in [&mut self.values, &mut self.pending] {
                let traces = map
                    .entry(TRACES)
                    .or_insert_with(|| Value::Array(vec![Value::Object(Map::new())]));
                if let Some(list) = traces.as_array_mut() {
                    if list.is_empty() {
                        list.push(Value::Object(Map::new()));
                    }
                    if let Some(first) = list.first_mut().and_then(Value::as_object_mut) {
                        first.insert(key.to_owned(), value.clone());
                    }
                }
            }
        } else {
            self.values.insert(key.to_owned(), value.clone());
            self.pending.insert(key.to_owned(), value);
        }
    }

    /// Saves the pending edits: registers the record the first time, changes it after.
    fn save(&mut self, inner: &Inner, edited: &str) -> Option<usize> {
        let kind = self.kind();
        let pending = std::mem::take(&mut self.pending);
        let now = now_ms();
        let id = self.id;
        let result = inner.with_kit(|kit| {
            let saved = match id {
                None => kit.register(kind, clean(pending.clone()), now),
                Some(id) => kit.change(kind, id, now, |o| {
                    merge_into(o, &pending);
                    Ok(())
                }),
            }?;
            let opened = kit.open_record(kind, saved.id, now)?;
            let matches = if kind == RecordKind::TracingRequest {
                kit.potential_matches(&MatchFilter {
                    status: Some("pending".into()),
                    tracing_request_id: Some(saved.id),
                    ..MatchFilter::default()
                })
                .len()
            } else {
                saved.matches.len()
            };
            Ok::<_, SaveError>((saved.id, opened, matches))
        })?;
        match result {
            Ok((id, opened, matches)) => {
                self.id = Some(id);
                self.errors.clear();
                self.values = opened
                    .record
                    .to_json()
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                self.conflicts = opened
                    .conflicts
                    .iter()
                    .map(|c| {
                        (
                            c.field.clone(),
                            c.candidates.iter().map(|(_, v)| json_of(v)).collect(),
                        )
                    })
                    .collect();
                self.save_state = "saved";
                Some(matches)
            }
            Err(e) => {
                self.pending = pending;
                self.save_state = "failed";
                self.errors.clear();
                match e {
                    SaveError::Invalid(v) => {
                        for f in v.0 {
                            let key = f
                                .field
                                .rsplit_once('.')
                                .map_or(f.field.as_str(), |(_, k)| k)
                                .to_owned();
                            self.errors
                                .entry(key)
                                .or_insert_with(|| messages::problem(&f.message));
                        }
                    }
                    other => {
                        tracing::warn!("not saved: {other}");
                        self.errors
                            .insert(edited.to_owned(), messages::not_saved(&other));
                    }
                }
                None
            }
        }
    }
}

/// Drops empty values from a new record's fields.
fn clean(mut fields: Map<String, Value>) -> Map<String, Value> {
    fields.retain(|_, v| !v.is_null());
    fields
}

/// Lays the pending edits over a stored record (a trace's fields into its first trace).
fn merge_into(o: &mut Map<String, Value>, pending: &Map<String, Value>) {
    for (k, v) in pending {
        if k == TRACES
            && let (Some(Value::Array(new)), Some(Value::Object(fields))) =
                (o.get_mut(TRACES), v.get(0))
        {
            if new.is_empty() {
                new.push(Value::Object(Map::new()));
            }
            if let Some(first) = new.first_mut().and_then(Value::as_object_mut) {
                for (fk, fv) in fields {
                    if fv.is_null() {
                        first.remove(fk);
                    } else {
                        first.insert(fk.clone(), fv.clone());
                    }
                }
            }
            continue;
        }
        if v.is_null() {
            o.remove(k);
        } else {
            o.insert(k.clone(), v.clone());
        }
    }
}

/// The value typed into a field, as the record stores it.
fn typed(spec: Option<Spec>, text: &str) -> Value {
    let text = text.trim();
    if text.is_empty() {
        return Value::Null;
    }
    match spec {
        Some(Spec::Number) => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        _ => Value::String(text.to_owned()),
    }
}

fn choice_value(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        other => Value::String(other.to_owned()),
    }
}

fn show_case(w: &MainWindow, s: &FormState) {
    let a = w.global::<CaseFormAdapter>();
    let name = s.values.get("name").map(text_of).unwrap_or_default();
    a.set_title(name.into());
    a.set_short_id(s.id.map(|i| i.short()).unwrap_or_default().into());
    a.set_risk(
        s.values
            .get("risk_level")
            .map(text_of)
            .unwrap_or_default()
            .into(),
    );
    a.set_urgent(s.values.get("urgent_protection_concern") == Some(&Value::Bool(true)));
    a.set_save_state(s.save_state.into());
    a.set_identity(s.fields(IDENTITY));
    a.set_separation(s.fields(SEPARATION));
    a.set_concerns(s.fields(CONCERN_FIELDS));
    let cfm: Vec<(&str, Spec)> = CFM.iter().map(|k| (*k, Spec::Choice(WG))).collect();
    a.set_disability(s.fields(&cfm));
    a.set_consent(s.fields(CONSENT));
    let family = s
        .values
        .get(FAMILY)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|m| FamilyRow {
                    id: m.get("unique_id").map(text_of).unwrap_or_default().into(),
                    relation: m.get("relation").map(text_of).unwrap_or_default().into(),
                    name: m
                        .get("relation_name")
                        .map(text_of)
                        .unwrap_or_default()
                        .into(),
                    alive: m
                        .get("relation_is_alive")
                        .map(text_of)
                        .unwrap_or_default()
                        .into(),
                })
                .collect()
        })
        .unwrap_or_default();
    a.set_family(model(family));
    a.set_conflicts(model(
        s.conflicts
            .iter()
            .map(|(k, vs)| ConflictRow {
                key: k.as_str().into(),
                values: model(vs.iter().map(|v| SharedString::from(text_of(v))).collect()),
            })
            .collect(),
    ));
}

fn show_tracing(w: &MainWindow, s: &FormState, matches: Option<usize>) {
    let a = w.global::<TracingFormAdapter>();
    let title = s
        .values
        .get("relation_name")
        .map(text_of)
        .unwrap_or_default();
    a.set_title(title.into());
    a.set_save_state(s.save_state.into());
    a.set_inquirer(s.fields(INQUIRER));
    a.set_child(s.fields(CHILD));
    if let Some(n) = matches {
        a.set_matches_found(i32::try_from(n).unwrap_or(i32::MAX));
    }
}

/// Opens a case (or a new one) on the case form.
pub(crate) fn open_case(inner: &Rc<Inner>, w: &MainWindow, id: Option<RecordId>) {
    let mut state = FormState {
        kind: Some(RecordKind::Case),
        ..FormState::default()
    };
    if let Some(id) = id {
        let opened = inner.with_kit(|kit| kit.open_record(RecordKind::Case, id, now_ms()));
        match opened {
            Some(Ok(o)) => {
                state.id = Some(id);
                state.values = o.record.to_json().as_object().cloned().unwrap_or_default();
                state.conflicts = o
                    .conflicts
                    .iter()
                    .map(|c| {
                        (
                            c.field.clone(),
                            c.candidates.iter().map(|(_, v)| json_of(v)).collect(),
                        )
                    })
                    .collect();
            }
            Some(Err(e)) => {
                tracing::warn!("case not opened: {e}");
                return;
            }
            None => return,
        }
    }
    show_case(w, &state);
    *inner.case_form.borrow_mut() = state;
    super::photos::show(inner, w);
    w.global::<CaseFormAdapter>()
        .set_section(CaseSection::Identity);
    w.global::<AppState>().set_page(Page::CaseForm);
}

/// Opens a new tracing request.
pub(crate) fn open_tracing(inner: &Rc<Inner>, w: &MainWindow) {
    let state = FormState {
        kind: Some(RecordKind::TracingRequest),
        ..FormState::default()
    };
    show_tracing(w, &state, Some(0));
    *inner.tracing_form.borrow_mut() = state;
    w.global::<AppState>().set_page(Page::TracingForm);
}

/// Empties every page that shows a child's details (on sign-out).
pub(crate) fn clear_pages(w: &MainWindow) {
    show_case(w, &FormState::default());
    show_tracing(w, &FormState::default(), Some(0));
    let home = w.global::<crate::HomeAdapter>();
    home.set_alerts(model(vec![]));
    let review = w.global::<crate::ReviewAdapter>();
    review.set_pending(model(vec![]));
    review.set_selected("".into());
    review.set_explanation(model(vec![]));
    review.set_note("".into());
    review.set_outcome("".into());
    let cases = w.global::<crate::CaseListAdapter>();
    cases.set_query("".into());
    w.global::<crate::SettingsAdapter>()
        .set_caseworkers(model(vec![]));
}

fn case_edit(inner: &Rc<Inner>, key: &str, value: Value) {
    let Some(w) = inner.window() else { return };
    let mut s = inner.case_form.borrow_mut();
    s.kind = Some(RecordKind::Case);
    s.set(key, value);
    s.save(inner, key);
    show_case(&w, &s);
}

fn tracing_edit(inner: &Rc<Inner>, key: &str, value: Value) {
    let Some(w) = inner.window() else { return };
    let mut s = inner.tracing_form.borrow_mut();
    s.kind = Some(RecordKind::TracingRequest);
    s.set(key, value);
    let matches = s.save(inner, key);
    show_tracing(&w, &s, matches);
}

/// A choice tapped: one value for a choice, a set for a multiple choice.
fn toggled_value(s: &FormState, key: &str, value: &str, on: bool) -> Value {
    match spec_of(s.kind(), key) {
        Some(Spec::Multi(_)) => {
            let mut list: Vec<Value> = s
                .value(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            list.retain(|v| v.as_str() != Some(value));
            if on {
                list.push(Value::String(value.to_owned()));
            }
            Value::Array(list)
        }
        _ if on => choice_value(value),
        _ => Value::Null,
    }
}

pub(super) fn install(inner: &Rc<Inner>, window: &MainWindow) {
    let a = window.global::<CaseFormAdapter>();
    let i = inner.clone();
    a.on_edited(move |key, text| {
        let spec = spec_of(RecordKind::Case, &key);
        let value = typed(spec, &text);
        let unchanged = {
            let s = i.case_form.borrow();
            s.value(&key).cloned().unwrap_or(Value::Null) == value && s.pending.is_empty()
        };
        if !unchanged {
            case_edit(&i, &key, value);
        }
    });
    let i = inner.clone();
    a.on_toggled(move |key, value, on| {
        let v = toggled_value(&i.case_form.borrow(), &key, &value, on);
        case_edit(&i, &key, v);
    });
    let i = inner.clone();
    a.on_settle(move |key, shown| {
        let chosen = i
            .case_form
            .borrow()
            .conflicts
            .iter()
            .find(|(k, _)| *k == key.as_str())
            .and_then(|(_, vs)| vs.iter().find(|v| text_of(v) == shown.as_str()).cloned());
        if let Some(v) = chosen {
            case_edit(&i, &key, v);
        }
    });
    let i = inner.clone();
    a.on_add_relative(move |relation, name| {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return;
        }
        let mut list = i
            .case_form
            .borrow()
            .values
            .get(FAMILY)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut m = Map::new();
        m.insert("relation".into(), Value::String(relation.to_string()));
        m.insert("relation_name".into(), Value::String(name));
        list.push(Value::Object(m));
        case_edit(&i, FAMILY, Value::Array(list));
        if let Some(w) = i.window() {
            w.global::<CaseFormAdapter>()
                .set_new_relative_name("".into());
        }
    });
    let i = inner.clone();
    a.on_remove_relative(move |uid| {
        let mut list = i
            .case_form
            .borrow()
            .values
            .get(FAMILY)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.retain(|m| m.get("unique_id").and_then(Value::as_str) != Some(uid.as_str()));
        case_edit(&i, FAMILY, Value::Array(list));
    });
    let i = inner.clone();
    a.on_done(move || i.navigate(Page::Cases));

    let t = window.global::<TracingFormAdapter>();
    let i = inner.clone();
    t.on_edited(move |key, text| {
        let value = typed(spec_of(RecordKind::TracingRequest, &key), &text);
        let unchanged = {
            let s = i.tracing_form.borrow();
            s.value(&key).cloned().unwrap_or(Value::Null) == value && s.pending.is_empty()
        };
        if !unchanged {
            tracing_edit(&i, &key, value);
        }
    });
    let i = inner.clone();
    t.on_toggled(move |key, value, on| {
        let v = toggled_value(&i.tracing_form.borrow(), &key, &value, on);
        tracing_edit(&i, &key, v);
    });
    let i = inner.clone();
    t.on_save(move || {
        let Some(w) = i.window() else { return };
        let mut s = i.tracing_form.borrow_mut();
        s.kind = Some(RecordKind::TracingRequest);
        let matches = s.save(&i, "relation_name");
        show_tracing(&w, &s, matches);
    });
    let i = inner.clone();
    t.on_review(move || i.navigate(Page::Review));
}

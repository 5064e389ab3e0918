//! Primero API v2 JSON: each record is `{"data": {...}}` with flat fields and subforms as arrays
//! of objects keyed by `unique_id`. Files may hold one record, an array of records (Primero's
//! bulk export writes `[{"id": …, "data": {…}}]`, the id outside), or a list response
//! `{"data": [...]}`.
//!
//! Reading keeps a record's `data` as it came ([`Incoming`]): the vault applies it with
//! [`Document::patch`](crate::Document::patch), so an import changes only the fields a file
//! carries and keeps Primero's own value types (`"true"`/`"false"` radio strings, single
//! selects, datetimes, nulls, subform order, attachment objects). The typed [`Record`] is used
//! only to check each field, and every bad field of every record is reported at once, by the
//! record's position in the file (from 1). A file that holds another kind of record than the
//! one asked for is refused, saying what it holds.

use std::fmt;

use serde_json::{Map, Value};

use crate::date::Date;
use crate::ids::RecordId;
use crate::record::{Record, RecordKind, SUBFORMS};

/// A file or record that is not what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum PrimeroError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not `{"data": ...}` records.
    #[error(
        "{0}: expected a {{\"data\": {{...}}}} record, an array of them, or {{\"data\": [...]}}"
    )]
    Shape(String),
    /// The file holds records of another kind.
    #[error(
        "the file holds {found} records, not {expected} records: record {position} has {evidence}"
    )]
    WrongKind {
        /// The kind asked for.
        expected: RecordKind,
        /// The kind the file holds.
        found: RecordKind,
        /// The first record (from 1) that shows it.
        position: usize,
        /// The fields that show it.
        evidence: String,
    },
    /// Records with fields of the wrong type or value.
    #[error("{0}")]
    Invalid(BadRecords),
}

/// One bad field of one record in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadField {
    /// The record's position in the file, from 1.
    pub position: usize,
    /// The field (`family_details_section[2].relation_sex` for subform entries, from 1).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Every bad field found in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BadRecords(pub Vec<BadField>);

impl fmt::Display for BadRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut records: Vec<usize> = self.0.iter().map(|b| b.position).collect();
        records.dedup();
        let n = records.len().max(1);
        write!(
            f,
            "{n} bad record{}, nothing imported:",
            if n == 1 { "" } else { "s" }
        )?;
        for b in &self.0 {
            write!(f, "\n  record {}: {}: {}", b.position, b.field, b.message)?;
        }
        Ok(())
    }
}

/// One record read from a file, its `data` as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Its position in the file, from 1.
    pub position: usize,
    /// Its kind.
    pub kind: RecordKind,
    /// Its id: the file's, or one derived from its content when the file gives none ([`read`]).
    pub id: RecordId,
    /// Primero's `data` object, without the id.
    pub data: Map<String, Value>,
}

impl Incoming {
    /// The flat record with its id, as [`Record::from_json`] reads it.
    pub fn to_json(&self) -> Value {
        let mut m = self.data.clone();
        m.insert("id".into(), Value::String(self.id.to_string()));
        Value::Object(m)
    }

    /// The typed record (every field already checked by [`read`]).
    pub fn to_record(&self) -> Result<Record, serde_json::Error> {
        Record::from_json(self.kind, self.to_json())
    }
}

/// Fields whose names start with this are the kit's own (its triage of a record it received,
/// kept beside Primero's fields): never exported, and refused in a file.
pub const KIT_PREFIX: &str = "fieldkit_";

/// Field names Primero's older fieldkit exports used, and Primero's own names for them.
const LEGACY_NAMES: [(&str, &str); 6] = [
    ("disability_seeing", "cfm_5_17_vision_difficulty"),
    ("disability_hearing", "cfm_5_17_hearing_difficulty"),
    (
        "disability_walking",
        "cfm_5_17_mobility_difficulty_comparative_100m",
    ),
    ("disability_remembering", "cfm_5_17_remembering_difficulty"),
    ("disability_self_care", "cfm_5_17_self_care_difficulty"),
    (
        "disability_communicating",
        "cfm_5_17_communication_difficulty_understanding_child_household",
    ),
];

/// A record as Primero's bulk export writes it, `{"id": …, "data": {…}}`, from the record's
/// flat JSON (a [`Document`](crate::Document)'s, so only what the record holds, in Primero's
/// names).
pub fn export(flat: Value) -> Value {
    let mut data = match flat {
        Value::Object(o) => o,
        other => return Value::Object(Map::from_iter([("data".to_string(), other)])),
    };
    // The kit's own triage of a received record is the kit's, not the record's.
    data.retain(|k, _| !k.starts_with(KIT_PREFIX));
    for (old, new) in LEGACY_NAMES {
        if let Some(v) = data.remove(old) {
            data.entry(new).or_insert(v);
        }
    }
    let mut m = Map::new();
    if let Some(id) = data.get("id").cloned() {
        m.insert("id".into(), id);
    }
    m.insert("data".into(), Value::Object(data));
    Value::Object(m)
}

/// Wraps a typed record's fields as Primero sends them.
pub fn to_primero(record: &Record) -> Value {
    export(record.to_json())
}

/// A record in a file: the id given beside its `data` (Primero's bulk export), and the `data`.
type Item = (Option<Value>, Map<String, Value>);

/// The records in a Primero-shaped JSON text.
fn items(text: &str) -> Result<Vec<Item>, PrimeroError> {
    let v: Value = serde_json::from_str(text)?;
    let list = match v {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(items)) => {
                return items
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        Value::Object(d) => Ok((None, d)),
                        _ => Err(PrimeroError::Shape(format!("record {}", i + 1))),
                    })
                    .collect();
            }
            Some(data @ Value::Object(_)) => {
                let mut one = Map::new();
                if let Some(id) = o.remove("id") {
                    one.insert("id".into(), id);
                }
                one.insert("data".into(), data);
                vec![Value::Object(one)]
            }
            _ => return Err(PrimeroError::Shape("the file".into())),
        },
        _ => return Err(PrimeroError::Shape("the file".into())),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, item)| {
            let shape = || PrimeroError::Shape(format!("record {}", i + 1));
            let Value::Object(mut o) = item else {
                return Err(shape());
            };
            match o.remove("data") {
                Some(Value::Object(d)) => Ok((o.remove("id"), d)),
                _ => Err(shape()),
            }
        })
        .collect()
}

/// Fields only one kind of record has, by which a file shows what it holds.
const MARKERS: [(RecordKind, &[&str]); 3] = [
    (
        RecordKind::Case,
        &[
            "case_id",
            "case_id_display",
            "registration_date",
            "family_details_section",
            "protection_concerns",
            "consent_for_tracing",
        ],
    ),
    (
        RecordKind::TracingRequest,
        &[
            "tracing_request_id",
            "tracing_request_id_display",
            "inquiry_date",
            "inquiry_status",
            "tracing_request_subform_section",
        ],
    ),
    (
        RecordKind::Incident,
        &[
            "incident_id",
            "incident_id_display",
            "incident_date",
            "date_of_first_report",
            "gbv_sexual_violence_type",
            "survivor_code",
        ],
    ),
];

/// The kind a record's fields show, when they show one kind only, with the fields that show it.
pub fn kind_shown(data: &Map<String, Value>) -> Option<(RecordKind, Vec<&'static str>)> {
    let mut shown = MARKERS.iter().filter_map(|(kind, fields)| {
        let present: Vec<&'static str> = fields
            .iter()
            .copied()
            .filter(|f| data.get(*f).is_some_and(|v| !v.is_null()))
            .collect();
        (!present.is_empty()).then_some((*kind, present))
    });
    let first = shown.next()?;
    shown.next().is_none().then_some(first)
}

fn check_id(value: Option<&Value>) -> Result<Option<RecordId>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("`{s}` is not a UUID")),
        Some(other) => Err(format!("`{other}` is not a UUID")),
    }
}

/// Serde's message without the position it adds for text input.
fn message(e: &serde_json::Error) -> String {
    e.to_string()
}

/// Every field of `data` that the typed record refuses, named as the caseworker sees it.
fn field_errors(kind: RecordKind, data: &Map<String, Value>) -> Vec<(String, String)> {
    let mut whole = data.clone();
    whole.remove("id");
    if Record::from_json(kind, Value::Object(whole)).is_ok() {
        return Vec::new();
    }
    let one = |key: &str, v: Value| {
        Record::from_json(kind, Value::Object(Map::from_iter([(key.to_string(), v)])))
    };
    let mut out = Vec::new();
    for (key, value) in data {
        if key == "id" {
            continue;
        }
        let Err(e) = one(key, value.clone()) else {
            continue;
        };
        let mut inner = Vec::new();
        if let Value::Array(entries) = value {
            for (i, entry) in entries.iter().enumerate() {
                let Value::Object(fields) = entry else {
                    continue;
                };
                for (field, v) in fields {
                    let single = Value::Object(Map::from_iter([(field.clone(), v.clone())]));
                    if let Err(e) = one(key, Value::Array(vec![single])) {
                        inner.push((format!("{key}[{}].{field}", i + 1), message(&e)));
                    }
                }
            }
        }
        if inner.is_empty() {
            out.push((key.clone(), message(&e)));
        } else {
            out.extend(inner);
        }
    }
    out
}

/// Canonical JSON text of a value: object keys sorted at every level, so the same content
/// gives the same text whatever order a file wrote its fields in.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = o.get(k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// An id derived from content: SHA-256 of a label, the parts and the occurrence, as a UUID
/// (version 8, "custom").
fn derived_id(label: &str, parts: &[&[u8]], occurrence: u32) -> RecordId {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(label.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.update(occurrence.to_le_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    RecordId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// Counts how many times each canonical text was seen: the occurrence of the next one.
#[derive(Default)]
struct Occurrences(std::collections::HashMap<String, u32>);

impl Occurrences {
    fn next(&mut self, text: String) -> (String, u32) {
        let n = self.0.entry(text.clone()).or_insert(0);
        let occurrence = *n;
        *n += 1;
        (text, occurrence)
    }
}

/// Reads the records of `kind` in a Primero-shaped JSON text, checking every field of every
/// record. Arrays that are not subforms are left as they came.
///
/// **Records without ids.** A record the file gives no id gets one derived from its kind, its
/// content (every field, in any order) and how many records of the same content came before it
/// in the file; an entry of a known subform without a `unique_id` gets one derived from its
/// record's id, the subform, its content and its occurrence there. So importing the same file
/// again finds the same records and entries instead of doubling them, while two records (or
/// entries) of identical content in one file stay two: they may be two children whose forms
/// say the same, and only a caseworker may decide they are one (the duplicate finder shows
/// them). A record edited in Primero and exported again without ids is a new record for the
/// kit: without an id nothing tells it is the same child.
pub fn read(text: &str, kind: RecordKind) -> Result<Vec<Incoming>, PrimeroError> {
    let items = items(text)?;
    // What the file holds comes first: a tracing-request file read as cases would otherwise be a
    // list of field errors.
    for (i, (_, data)) in items.iter().enumerate() {
        if let Some((found, fields)) = kind_shown(data)
            && found != kind
        {
            return Err(PrimeroError::WrongKind {
                expected: kind,
                found,
                position: i + 1,
                evidence: fields.join(", "),
            });
        }
    }
    let mut bad = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    let mut seen = Occurrences::default();
    for (i, (outer, mut data)) in items.into_iter().enumerate() {
        let position = i + 1;
        let mut fail = |field: String, message: String| {
            bad.push(BadField {
                position,
                field,
                message,
            });
        };
        let inner = check_id(data.get("id"));
        let outer = check_id(outer.as_ref());
        let id = match (inner, outer) {
            (Err(e), _) | (_, Err(e)) => {
                fail("id".into(), e);
                None
            }
            (Ok(Some(a)), Ok(Some(b))) if a != b => {
                fail(
                    "id".into(),
                    format!("the record's id {a} is not the id {b} given beside it"),
                );
                None
            }
            (Ok(a), Ok(b)) => a.or(b),
        };
        data.remove("id");
        for key in data.keys().filter(|k| k.starts_with(KIT_PREFIX)) {
            fail(
                key.clone(),
                format!(
                    "names starting `{KIT_PREFIX}` are the kit's own; a Primero file cannot set them"
                ),
            );
        }
        for (field, message) in field_errors(kind, &data) {
            fail(field, message);
        }
        let id = id.unwrap_or_else(|| {
            let mut text = String::new();
            canonical(&Value::Object(data.clone()), &mut text);
            let (text, n) = seen.next(text);
            derived_id(
                "fieldkit primero record v1",
                &[kind.as_str().as_bytes(), text.as_bytes()],
                n,
            )
        });
        let record = id.to_string();
        for form in SUBFORMS {
            let Some(Value::Array(entries)) = data.get_mut(*form) else {
                continue;
            };
            let mut entries_seen = Occurrences::default();
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                if entry
                    .get("unique_id")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    entry.remove("unique_id");
                    let mut text = String::new();
                    canonical(&Value::Object(entry.clone()), &mut text);
                    let (text, n) = entries_seen.next(text);
                    let uid = derived_id(
                        "fieldkit primero entry v1",
                        &[record.as_bytes(), form.as_bytes(), text.as_bytes()],
                        n,
                    );
                    entry.insert("unique_id".into(), Value::String(uid.to_string()));
                }
            }
        }
        out.push(Incoming {
            position,
            kind,
            id,
            data,
        });
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(PrimeroError::Invalid(BadRecords(bad)))
    }
}

/// Reads the records of `kind` as typed records (for matching files without a vault).
pub fn parse_records(text: &str, kind: RecordKind) -> Result<Vec<Record>, PrimeroError> {
    let incoming = read(text, kind)?;
    let mut bad = Vec::new();
    let mut out = Vec::with_capacity(incoming.len());
    for i in &incoming {
        match i.to_record() {
            Ok(r) => out.push(r),
            Err(e) => bad.push(BadField {
                position: i.position,
                field: "data".into(),
                message: message(&e),
            }),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(PrimeroError::Invalid(BadRecords(bad)))
    }
}

/// Checks a record as it will be saved (after an import applied the file's fields to what the
/// vault held), as of `today`: every problem, named by the record's position in the file.
pub fn validate(position: usize, record: &Record, today: Date) -> Vec<BadField> {
    match record.validate(today) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .0
            .into_iter()
            .map(|e| BadField {
                position,
                field: e.field,
                message: e.message.to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;

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
    /// An object gives one key twice: which value is meant cannot be told.
    #[error("{0}")]
    RepeatedKey(serde_json::Error),
    /// A whole number too large to keep exactly (it would come back rounded).
    #[error(
        "the number {number} at line {line} is too large to keep exactly (whole numbers are kept up to 64 bits; give it as text)"
    )]
    TooLarge {
        /// The number as written (its first 40 characters).
        number: String,
        /// Its line in the file, from 1.
        line: usize,
    },
    /// The file holds Primero's traces, not tracing requests.
    #[error(
        "the file holds Primero traces (one child sought each, as /api/v2/traces gives them), not {expected} records: record {position} has inquirer_id; give the tracing requests they belong to instead (each holds its traces in tracing_request_subform_section)"
    )]
    Traces {
        /// The kind asked for.
        expected: RecordKind,
        /// The first record (from 1) that is a trace.
        position: usize,
    },
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

/// A JSON value read with every object's keys checked: a key given twice is an error, where
/// `serde_json::Value` would keep the last value and drop the other unseen.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|Strict(v)| v)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "`{key}` is given twice in one object (which value is meant cannot be told)"
                )));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// The first whole number in a JSON text (strings skipped) that fits neither `i64` nor `u64`,
/// with its line: `serde_json` would read it as a float and so round it.
fn oversized_number(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let (mut i, mut line, mut in_string) = (0, 1, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'\n' => line += 1,
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let n = &text[start..i];
                let whole = !n.contains(['.', 'e', 'E']);
                if whole && n.parse::<i64>().is_err() && n.parse::<u64>().is_err() {
                    return Some((n.chars().take(40).collect(), line));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses a file's JSON: a leading byte order mark is skipped, a key given twice in one
/// object and a whole number too large to keep exactly are refused.
fn parse(text: &str) -> Result<Value, PrimeroError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = match serde::Deserialize::deserialize(&mut de).and_then(|Strict(v)| {
        de.end()?;
        Ok(v)
    }) {
        Ok(v) => v,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(PrimeroError::RepeatedKey(e));
        }
        Err(e) => return Err(PrimeroError::Json(e)),
    };
    if let Some((number, line)) = oversized_number(text) {
        return Err(PrimeroError::TooLarge { number, line });
    }
    Ok(value)
}

/// The records in a Primero-shaped JSON text.
fn items(text: &str) -> Result<Vec<Item>, PrimeroError> {
    let v = parse(text)?;
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

/// Fields only one kind of record has, by which a file shows what it holds. Fields two kinds
/// store are left out (`survivor_code` and `monitor_number` are a tracing request's as much as
/// an incident's in Primero's models), and so are a record's links to another kind
/// ([`LINKS`]).
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
        ],
    ),
];

/// Fields by which a record of a kind names a record of another kind: they show that other
/// kind only when the record shows no kind of its own. Primero gives an incident made from a
/// case the case's `case_id_display`; fieldkit's incidents name the case `case_id`.
const LINKS: [(RecordKind, &[&str]); 1] = [(RecordKind::Incident, &["case_id", "case_id_display"])];

/// The field only Primero's trace records carry (the tracing request's inquirer, copied beside
/// the one child the trace seeks).
const TRACE_MARKER: &str = "inquirer_id";

/// The kind a record's fields show, when they show one kind only, with the fields that show it.
pub fn kind_shown(data: &Map<String, Value>) -> Option<(RecordKind, Vec<&'static str>)> {
    let shown: Vec<(RecordKind, Vec<&'static str>)> = MARKERS
        .iter()
        .filter_map(|(kind, fields)| {
            let present: Vec<&'static str> = fields
                .iter()
                .copied()
                .filter(|f| data.get(*f).is_some_and(|v| !v.is_null()))
                .collect();
            (!present.is_empty()).then_some((*kind, present))
        })
        .collect();
    // A record's links to another kind do not show that kind.
    let linked: Vec<&str> = LINKS
        .iter()
        .filter(|(kind, _)| {
            shown
                .iter()
                .any(|(k, present)| k == kind && present.iter().any(|f| !is_link(f)))
        })
        .flat_map(|(_, fields)| fields.iter().copied())
        .collect();
    let mut shown = shown.into_iter().filter_map(|(kind, present)| {
        let own: Vec<&'static str> = present
            .into_iter()
            .filter(|f| !linked.contains(f))
            .collect();
        (!own.is_empty()).then_some((kind, own))
    });
    let first = shown.next()?;
    shown.next().is_none().then_some(first)
}

/// True for a field some kind uses to link to another.
fn is_link(field: &str) -> bool {
    LINKS.iter().any(|(_, fields)| fields.contains(&field))
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
    let file = read_all(text, kind)?;
    if file.bad.is_empty() {
        Ok(file.records)
    } else {
        Err(PrimeroError::Invalid(BadRecords(file.bad)))
    }
}

/// A Primero file read: its records whose fields have the right types, and every bad field of
/// the others.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadFile {
    /// The records whose fields all have the right types, in the file's order.
    pub records: Vec<Incoming>,
    /// Every bad field of the other records, by position.
    pub bad: Vec<BadField>,
}

/// [`read`], keeping the records whose fields have the right types beside the bad fields of
/// the others, so an import can check those records as they will be saved too and name every
/// bad record of a file at once. Errs only for what concerns the whole file: not JSON, not
/// Primero's shape, or records of another kind.
pub fn read_all(text: &str, kind: RecordKind) -> Result<ReadFile, PrimeroError> {
    let items = items(text)?;
    if let Some(i) = items
        .iter()
        .position(|(_, data)| data.get(TRACE_MARKER).is_some_and(|v| !v.is_null()))
    {
        return Err(PrimeroError::Traces {
            expected: kind,
            position: i + 1,
        });
    }
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
    let mut given = std::collections::HashMap::new();
    for (i, (outer, mut data)) in items.into_iter().enumerate() {
        let position = i + 1;
        let bad_before = bad.len();
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
        // Two records of one id would each be applied to what the vault holds and one of them
        // lost: which is meant is the file's author's to say.
        if let Some(id) = id
            && let Some(first) = given.insert(id, position)
        {
            fail(
                "id".into(),
                format!("{id} is the id of record {first} too: a file gives each record once"),
            );
        }
        data.remove("id");
        for key in data.keys().filter(|k| k.starts_with(KIT_PREFIX)) {
            fail(
                key.clone(),
                format!(
                    "names starting `{KIT_PREFIX}` are the kit's own; a Primero file cannot set them"
                ),
            );
        }
        // The kit names a subform entry's field `form[unique_id].field`: brackets in a name
        // or an entry's id would make another path.
        for key in data
            .keys()
            .filter(|k| k.is_empty() || k.contains(['[', ']']))
        {
            fail(
                format!("`{key}`"),
                "is not a field name: a name is not empty and holds no `[` or `]`".into(),
            );
        }
        for form in SUBFORMS {
            let Some(Value::Array(entries)) = data.get(*form) else {
                continue;
            };
            for (i, entry) in entries.iter().enumerate() {
                if let Some(uid) = entry.get("unique_id").and_then(Value::as_str)
                    && uid.contains(']')
                {
                    fail(
                        format!("{form}[{}].unique_id", i + 1),
                        format!("`{uid}` cannot be an entry's id: it holds `]`"),
                    );
                }
            }
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
        if bad.len() == bad_before {
            out.push(Incoming {
                position,
                kind,
                id,
                data,
            });
        }
    }
    Ok(ReadFile { records: out, bad })
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
                field: counted_from_one(&e.field),
                message: e.message.to_string(),
            })
            .collect(),
    }
}

/// A field path as validation and the lookup lists name it (`family_details_section[0].relation`,
/// entries counted from 0) with its entry counted from 1, as a file's records are
/// (`family_details_section[1].relation`).
pub fn counted_from_one(field: &str) -> String {
    let Some((form, rest)) = field.split_once('[') else {
        return field.to_string();
    };
    match rest.split_once(']') {
        Some((n, tail)) => match n.parse::<usize>() {
            Ok(i) => format!("{form}[{}]{tail}", i.saturating_add(1)),
            Err(_) => field.to_string(),
        },
        None => field.to_string(),
    }
}

#[cfg(test)]
mod tests;

//! Records as documents of field-level operations, and their merge.
//!
//! Every change to a record is an [`Op`]: one field set to one value, stamped with a hybrid
//! logical clock, naming the stamps of the values it replaces (`supersedes`). A field is a
//! multi-value register: its current values are the operations no other operation supersedes.
//! One current value is the normal case; two or more mean two kits edited the same field without
//! seeing each other's edit, and that is a [`Conflict`] to show the caseworker, never a silent
//! overwrite. Editing a conflicted field supersedes every current value and so resolves it.
//!
//! The state of a field is a function of the *set* of operations received (the union of their
//! `supersedes` sets and the operations not in it), so kits that received the same operations in
//! any order, with any duplicates, hold the same document.
//!
//! Paths: a top-level field is its Primero name (`name`); a field of a subform entry is
//! `family_details_section[<unique_id>].relation_name`; the order of a subform's entries, when
//! it is not the order of their `unique_id`s, is the list of ids at `family_details_section[]`.
//! A subform is an array of objects under a name in [`SUBFORMS`], or one whose every entry has a
//! `unique_id`; any other array is one value, kept whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hlc::Hlc;
use crate::ids::RecordId;
use crate::record::{Record, RecordKind, SUBFORMS};

/// A field's value, in a form that binary encodings (postcard) can carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldValue {
    /// Cleared.
    Null,
    /// A yes/no.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// Text, dates and lookup values.
    Text(String),
    /// A list of lookup values.
    List(Vec<String>),
    /// Anything else, as JSON text (kept so that nothing imported is lost).
    Json(String),
}

impl FieldValue {
    /// Converts a JSON value.
    pub fn from_json(v: &Value) -> FieldValue {
        match v {
            Value::Null => FieldValue::Null,
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => FieldValue::Int(i),
                None => FieldValue::Json(n.to_string()),
            },
            Value::String(s) => FieldValue::Text(s.clone()),
            Value::Array(items) if items.iter().all(Value::is_string) => FieldValue::List(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            ),
            other => FieldValue::Json(other.to_string()),
        }
    }

    /// Converts back to JSON. Text that fails to parse as JSON (which only a corrupt operation
    /// could hold) becomes a string rather than being dropped.
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Null => Value::Null,
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::Int(i) => Value::from(*i),
            FieldValue::Text(s) => Value::String(s.clone()),
            FieldValue::List(l) => Value::Array(l.iter().cloned().map(Value::String).collect()),
            FieldValue::Json(s) => {
                serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
            }
        }
    }

    /// True for [`FieldValue::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
    }

    /// A value as an imported file gives it: a JSON `null` is kept as a null that is there
    /// (Primero's records carry them, and an export gives them back), not as a cleared field.
    pub fn imported(v: &Value) -> FieldValue {
        match v {
            Value::Null => FieldValue::Json("null".into()),
            other => FieldValue::from_json(other),
        }
    }

    /// True for a value that holds nothing: cleared, a null that is there, or an empty list.
    pub fn is_empty(&self) -> bool {
        match self {
            FieldValue::Null => true,
            FieldValue::List(l) => l.is_empty(),
            FieldValue::Json(s) => s == "null",
            _ => false,
        }
    }
}

/// One field-level change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Kind of the record changed.
    pub kind: RecordKind,
    /// The record changed.
    pub record: RecordId,
    /// The field's path.
    pub field: String,
    /// Its new value.
    pub value: FieldValue,
    /// When and where the change was made.
    pub stamp: Hlc,
    /// The stamps of the values this change replaces (the field's current values when it was
    /// made).
    pub supersedes: Vec<Hlc>,
}

/// What applying an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The operation was new and is now a current value.
    Current,
    /// The operation was new but already superseded by one received earlier.
    Superseded,
    /// The operation had been received before.
    Duplicate,
}

/// An operation that does not belong to this document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// The operation is for another record.
    #[error("operation for {op_kind} {op_record} applied to {kind} {record}")]
    WrongRecord {
        /// The operation's record kind.
        op_kind: RecordKind,
        /// The operation's record.
        op_record: RecordId,
        /// The document's kind.
        kind: RecordKind,
        /// The document's record.
        record: RecordId,
    },
    /// A field path that is empty or malformed.
    #[error("malformed field path `{0}`")]
    BadPath(String),
    /// A subform entry without a `unique_id`.
    #[error("an entry of `{0}` has no unique_id")]
    MissingUniqueId(String),
    /// The edited record is not a JSON object.
    #[error("a record must be a JSON object")]
    NotAnObject,
}

/// A field's multi-value register.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Register {
    /// Values no received operation supersedes, by stamp.
    heads: Vec<(Hlc, FieldValue)>,
    /// Every stamp some received operation superseded, sorted.
    superseded: Vec<Hlc>,
}

impl Register {
    fn winner(&self) -> Option<(&Hlc, &FieldValue)> {
        self.heads.last().map(|(s, v)| (s, v))
    }

    // Registers are kept as sorted vectors: almost every field has one current value and no
    // history, and a vector of one costs far less than a B-tree node.
    fn has_head(&self, stamp: &Hlc) -> bool {
        self.heads.binary_search_by(|(h, _)| h.cmp(stamp)).is_ok()
    }

    fn insert_head(&mut self, stamp: Hlc, value: &FieldValue) {
        if let Err(at) = self.heads.binary_search_by(|(h, _)| h.cmp(&stamp)) {
            self.heads.insert(at, (stamp, value.clone()));
        }
    }

    fn is_superseded(&self, stamp: &Hlc) -> bool {
        self.superseded.binary_search(stamp).is_ok()
    }

    fn supersede(&mut self, stamp: Hlc) {
        if let Err(at) = self.superseded.binary_search(&stamp) {
            self.superseded.insert(at, stamp);
        }
        if let Ok(at) = self.heads.binary_search_by(|(h, _)| h.cmp(&stamp)) {
            self.heads.remove(at);
        }
    }
}

/// Two or more concurrent values of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The field's path.
    pub field: String,
    /// The concurrent values, newest stamp first; the first is what the record shows.
    pub candidates: Vec<(Hlc, FieldValue)>,
}

/// A record as the set of operations received for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    kind: RecordKind,
    id: RecordId,
    fields: BTreeMap<String, Register>,
}

impl Document {
    /// An empty document.
    pub fn new(kind: RecordKind, id: RecordId) -> Self {
        Document {
            kind,
            id,
            fields: BTreeMap::new(),
        }
    }

    /// A new record's document: every field of `record` (a flat JSON object) set at `stamp`.
    /// The same document as applying the operations [`Document::diff`] makes against an empty
    /// one, built without them. Returns the document and the number of fields set.
    pub fn create(
        kind: RecordKind,
        id: RecordId,
        record: &Value,
        stamp: Hlc,
    ) -> Result<(Document, usize), DocError> {
        let fields = flatten(record)?;
        let n = fields.len();
        let fields = fields
            .into_iter()
            .map(|(path, value)| {
                let reg = Register {
                    heads: vec![(stamp, value)],
                    superseded: Vec::new(),
                };
                (path, reg)
            })
            .collect();
        Ok((Document { kind, id, fields }, n))
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The record's id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// Applies one operation. Idempotent, and commutative with every other operation.
    pub fn apply(&mut self, op: &Op) -> Result<Applied, DocError> {
        if op.kind != self.kind || op.record != self.id {
            return Err(DocError::WrongRecord {
                op_kind: op.kind,
                op_record: op.record,
                kind: self.kind,
                record: self.id,
            });
        }
        if op.field.is_empty() {
            return Err(DocError::BadPath(op.field.clone()));
        }
        let reg = self.fields.entry(op.field.clone()).or_default();
        if reg.has_head(&op.stamp) {
            return Ok(Applied::Duplicate);
        }
        for s in &op.supersedes {
            reg.supersede(*s);
        }
        if reg.is_superseded(&op.stamp) {
            return Ok(Applied::Superseded);
        }
        reg.insert_head(op.stamp, &op.value);
        Ok(Applied::Current)
    }

    /// The document as operations: every current value with its stamp, each carrying the
    /// field's superseded stamps. Applied to an empty document, in any order, they give this
    /// document back (what a transferred record travels as: its history, not only its values).
    pub fn ops(&self) -> Vec<Op> {
        let mut out = Vec::new();
        for (field, reg) in &self.fields {
            for (stamp, value) in &reg.heads {
                out.push(Op {
                    kind: self.kind,
                    record: self.id,
                    field: field.clone(),
                    value: value.clone(),
                    stamp: *stamp,
                    supersedes: reg.superseded.clone(),
                });
            }
        }
        out
    }

    /// Merges everything `other` has received into `self`: the same result as applying both
    /// documents' operations in any order.
    pub fn merge(&mut self, other: &Document) -> Result<(), DocError> {
        if other.kind != self.kind || other.id != self.id {
            return Err(DocError::WrongRecord {
                op_kind: other.kind,
                op_record: other.id,
                kind: self.kind,
                record: self.id,
            });
        }
        for (field, theirs) in &other.fields {
            let ours = self.fields.entry(field.clone()).or_default();
            for stamp in &theirs.superseded {
                ours.supersede(*stamp);
            }
            for (stamp, value) in &theirs.heads {
                if !ours.is_superseded(stamp) {
                    ours.insert_head(*stamp, value);
                }
            }
        }
        Ok(())
    }

    /// The value a field shows: the current value with the newest stamp.
    pub fn value(&self, field: &str) -> Option<&FieldValue> {
        self.fields
            .get(field)
            .and_then(Register::winner)
            .map(|(_, v)| v)
    }

    /// Stamps of the field's current values (what a new edit supersedes).
    pub fn heads(&self, field: &str) -> Vec<Hlc> {
        self.fields
            .get(field)
            .map(|r| r.heads.iter().map(|(h, _)| *h).collect())
            .unwrap_or_default()
    }

    /// The newest stamp in the document.
    pub fn latest_stamp(&self) -> Option<Hlc> {
        self.fields
            .values()
            .filter_map(|r| r.heads.last().map(|(h, _)| h))
            .max()
            .copied()
    }

    /// Fields edited concurrently on different kits, for the caseworker to settle.
    pub fn conflicts(&self) -> Vec<Conflict> {
        self.fields
            .iter()
            .filter(|(_, r)| r.heads.len() > 1)
            .map(|(field, r)| Conflict {
                field: field.clone(),
                candidates: r.heads.iter().rev().map(|(s, v)| (*s, v.clone())).collect(),
            })
            .collect()
    }

    /// The record as a flat JSON object with Primero's field names (cleared fields left out;
    /// subform entries in their recorded order).
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        let mut subforms: BTreeMap<&str, BTreeMap<&str, Map<String, Value>>> = BTreeMap::new();
        for (path, reg) in &self.fields {
            let Some((_, value)) = reg.winner() else {
                continue;
            };
            if value.is_null() || path.ends_with(ORDER_SUFFIX) {
                continue;
            }
            match split_path(path) {
                Some((form, uid, field)) => {
                    subforms
                        .entry(form)
                        .or_default()
                        .entry(uid)
                        .or_default()
                        .insert(field.to_string(), value.to_json());
                }
                None => {
                    top.insert(path.clone(), value.to_json());
                }
            }
        }
        for (form, mut entries) in subforms {
            let order = self.value(&order_path(form));
            let list = ordered(entries.keys().copied(), order)
                .into_iter()
                .filter_map(|uid| {
                    let mut fields = entries.remove(uid)?;
                    fields.insert("unique_id".into(), Value::String(uid.to_string()));
                    Some(Value::Object(fields))
                })
                .collect();
            top.insert(form.to_string(), Value::Array(list));
        }
        top.insert("id".into(), Value::String(self.id.to_string()));
        Value::Object(top)
    }

    /// The `unique_id`s of a subform's entries, in their order.
    pub fn entries(&self, form: &str) -> Vec<&str> {
        let prefix = format!("{form}[");
        let uids: Vec<&str> = self
            .fields
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(_, r)| r.winner().is_some_and(|(_, v)| !v.is_null()))
            .filter_map(|(p, _)| split_path(p).map(|(_, uid, _)| uid))
            .collect();
        // Paths do not sort as their ids do ("f[50].x" comes before "f[5].x"), so the ids are
        // put in order before duplicates are dropped.
        let mut uids = ordered(uids.into_iter(), self.value(&order_path(form)));
        uids.dedup();
        uids
    }

    /// The record as its typed form.
    pub fn to_record(&self) -> Result<Record, serde_json::Error> {
        Record::from_json(self.kind, self.to_json())
    }

    /// The operations that turn this document into `edited` (a flat JSON object in the shape
    /// [`Document::to_json`] gives). Fields left out of `edited` are cleared. `stamp` mints one
    /// stamp per operation.
    pub fn diff(
        &self,
        edited: &Value,
        mut stamp: impl FnMut() -> Hlc,
    ) -> Result<Vec<Op>, DocError> {
        let wanted = flatten(edited)?;
        let mut ops = Vec::new();
        for (path, value) in &wanted {
            if self.value(path) != Some(value) {
                ops.push(self.op(path, value.clone(), stamp()));
            }
        }
        for (path, reg) in &self.fields {
            let shown = reg.winner().map(|(_, v)| v);
            // A null or empty list that is there is not a value to clear: the edited form
            // leaves them out.
            if shown.is_some_and(|v| !v.is_empty()) && !wanted.contains_key(path) {
                ops.push(self.op(path, FieldValue::Null, stamp()));
            }
        }
        Ok(ops)
    }

    /// The operations that apply an imported record (a flat JSON object, Primero's `data`) as
    /// Primero applies an update: only the fields it carries change, a `null` it carries is
    /// kept as a null; a subform's entries are matched by `unique_id` and changed field by
    /// field, new entries are appended in the file's order, entries it does not list stay, and
    /// an entry with `"_destroy": true` is removed. An object (a tally such as
    /// `{"boys": 2, "girls": 1}`) given where the record holds one changes only the keys it
    /// carries, at every depth, as Primero merges them. Any other value, arrays that are not
    /// subforms included, replaces the field's value whole.
    pub fn patch(
        &self,
        data: &Map<String, Value>,
        mut stamp: impl FnMut() -> Hlc,
    ) -> Result<Vec<Op>, DocError> {
        let mut ops = Vec::new();
        let mut set = |path: String, value: FieldValue, ops: &mut Vec<Op>| {
            let same = match self.value(&path) {
                Some(v) => *v == value,
                None => value.is_null(),
            };
            if !same {
                ops.push(self.op(&path, value, stamp()));
            }
        };
        for (key, value) in data {
            if key == "id" {
                continue;
            }
            check_key(key)?;
            let Some(items) = subform_items(key, value, !self.entries(key).is_empty())? else {
                set(key.clone(), self.imported_at(key, value), &mut ops);
                continue;
            };
            if items.is_empty() {
                // Primero keeps a subform's entries when an update sends none; a record that
                // has none keeps the empty list it was given.
                if self.entries(key).is_empty() {
                    set(key.clone(), FieldValue::List(Vec::new()), &mut ops);
                }
                continue;
            }
            let mut order: Vec<String> = self.entries(key).into_iter().map(String::from).collect();
            for (uid, entry) in items {
                let prefix = format!("{key}[{uid}].");
                if entry.get("_destroy").is_some_and(is_true) {
                    let gone: Vec<String> = self
                        .fields
                        .range(prefix.clone()..)
                        .take_while(|(p, _)| p.starts_with(&prefix))
                        .map(|(p, _)| p.clone())
                        .collect();
                    for path in gone {
                        set(path, FieldValue::Null, &mut ops);
                    }
                    order.retain(|u| u != uid);
                    continue;
                }
                let mut carried = false;
                for (field, v) in entry {
                    if field == "unique_id" || field == "_destroy" {
                        continue;
                    }
                    carried = true;
                    let path = format!("{prefix}{field}");
                    let value = self.imported_at(&path, v);
                    set(path, value, &mut ops);
                }
                if !order.iter().any(|u| u == uid) {
                    if !carried {
                        // An entry with nothing but its id still exists.
                        set(
                            format!("{prefix}unique_id"),
                            FieldValue::Text(uid.to_string()),
                            &mut ops,
                        );
                    }
                    order.push(uid.to_string());
                }
            }
            set(order_path(key), order_value(&order), &mut ops);
            if order.is_empty() {
                // Every entry destroyed: the record holds an empty list, as in Primero.
                set(key.clone(), FieldValue::List(Vec::new()), &mut ops);
            } else if self.value(key).is_some_and(|v| !v.is_null()) {
                // The empty list the record held gives way to its entries.
                set(key.clone(), FieldValue::Null, &mut ops);
            }
        }
        Ok(ops)
    }

    /// The value an import gives the field at `path`: what the file carries
    /// ([`FieldValue::imported`]), except that an object given where the field holds an object
    /// is merged into it ([`merge_objects`]).
    fn imported_at(&self, path: &str, incoming: &Value) -> FieldValue {
        if let (Value::Object(new), Some(FieldValue::Json(held))) = (incoming, self.value(path))
            && let Ok(Value::Object(mut old)) = serde_json::from_str::<Value>(held)
        {
            merge_objects(&mut old, new);
            return FieldValue::Json(Value::Object(old).to_string());
        }
        FieldValue::imported(incoming)
    }

    /// The operation that sets `field` to `value`, superseding all its current values (this is
    /// how a caseworker settles a conflict).
    pub fn op(&self, field: &str, value: FieldValue, stamp: Hlc) -> Op {
        Op {
            kind: self.kind,
            record: self.id,
            field: field.to_string(),
            value,
            stamp,
            supersedes: self.heads(field),
        }
    }

    /// The operations that bring a copy holding everything up to `since` (`None`: nothing) to
    /// this document: each current value stamped after `since`, superseding every stamp its
    /// field has seen superseded. What sync sends for a record changed since its last send.
    /// A value that supersedes another always carries a later stamp (the clock observes what it
    /// merges), so the current values after `since` carry every change made after it.
    pub fn ops_since(&self, since: Option<Hlc>) -> Vec<Op> {
        let mut ops = Vec::new();
        for (field, reg) in &self.fields {
            for (stamp, value) in &reg.heads {
                if since.is_some_and(|s| *stamp <= s) {
                    continue;
                }
                ops.push(Op {
                    kind: self.kind,
                    record: self.id,
                    field: field.clone(),
                    value: value.clone(),
                    stamp: *stamp,
                    supersedes: reg.superseded.clone(),
                });
            }
        }
        ops
    }
}

/// The stored form of a document. Every stamp is written once, in a table, and registers refer
/// to it by position: one save stamps every field it changes alike, so a record's thirty
/// fields usually share one or two stamps, and the table saves most of the bytes.
/// A field in the stored form: its path, its current values (stamp position, value), and the
/// positions of the stamps superseded.
type WireFieldRef<'a> = (&'a str, Vec<(u32, &'a FieldValue)>, Vec<u32>);
type WireField = (String, Vec<(u32, FieldValue)>, Vec<u32>);

#[derive(Serialize)]
struct WireRef<'a> {
    kind: RecordKind,
    id: RecordId,
    stamps: Vec<Hlc>,
    fields: Vec<WireFieldRef<'a>>,
}

#[derive(Deserialize)]
struct Wire {
    kind: RecordKind,
    id: RecordId,
    stamps: Vec<Hlc>,
    fields: Vec<WireField>,
}

impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut table: BTreeMap<Hlc, u32> = BTreeMap::new();
        for reg in self.fields.values() {
            for h in reg
                .heads
                .iter()
                .map(|(h, _)| h)
                .chain(reg.superseded.iter())
            {
                let next = u32::try_from(table.len()).map_err(serde::ser::Error::custom)?;
                table.entry(*h).or_insert(next);
            }
        }
        let at = |h: &Hlc| table.get(h).copied().unwrap_or(0);
        let fields = self
            .fields
            .iter()
            .map(|(path, reg)| {
                (
                    path.as_str(),
                    reg.heads.iter().map(|(h, v)| (at(h), v)).collect(),
                    reg.superseded.iter().map(at).collect(),
                )
            })
            .collect();
        let mut stamps = vec![
            Hlc {
                wall_ms: 0,
                counter: 0,
                device: crate::DeviceId(0)
            };
            table.len()
        ];
        for (h, i) in &table {
            stamps[*i as usize] = *h;
        }
        WireRef {
            kind: self.kind,
            id: self.id,
            stamps,
            fields,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let stamp = |i: u32| {
            w.stamps
                .get(i as usize)
                .copied()
                .ok_or_else(|| serde::de::Error::custom(format!("stamp {i} not in the table")))
        };
        let mut fields = BTreeMap::new();
        for (path, heads, superseded) in &w.fields {
            let mut reg = Register::default();
            for i in superseded {
                reg.supersede(stamp(*i)?);
            }
            for (i, v) in heads {
                let h = stamp(*i)?;
                if !reg.is_superseded(&h) {
                    reg.insert_head(h, v);
                }
            }
            fields.insert(path.clone(), reg);
        }
        Ok(Document {
            kind: w.kind,
            id: w.id,
            fields,
        })
    }
}

/// Splits `form[uid].field`.
fn split_path(path: &str) -> Option<(&str, &str, &str)> {
    let open = path.find('[')?;
    let close = path[open..].find("].")? + open;
    Some((&path[..open], &path[open + 1..close], &path[close + 2..]))
}

/// The suffix of the path that holds a subform's order.
const ORDER_SUFFIX: &str = "[]";

fn order_path(form: &str) -> String {
    format!("{form}{ORDER_SUFFIX}")
}

/// The value of a subform's order register for entries in `order`: cleared when the order is
/// that of their ids (as every record made before orders were kept), else the list.
fn order_value<S: AsRef<str>>(order: &[S]) -> FieldValue {
    if order.windows(2).all(|w| w[0].as_ref() <= w[1].as_ref()) {
        FieldValue::Null
    } else {
        FieldValue::List(order.iter().map(|u| u.as_ref().to_string()).collect())
    }
}

/// `uids` in the order the register lists them; ids it does not list follow in id order.
fn ordered<'a>(uids: impl Iterator<Item = &'a str>, order: Option<&FieldValue>) -> Vec<&'a str> {
    let mut uids: Vec<&str> = uids.collect();
    match order {
        Some(FieldValue::List(order)) => {
            uids.sort_by_key(|u| (order.iter().position(|o| o == u).unwrap_or(usize::MAX), *u));
        }
        _ => uids.sort_unstable(),
    }
    uids
}

fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true)) || v.as_str() == Some("true")
}

/// Merges `new` into `old` as Primero's `RecordMergeDataHashService` merges two hashes: every
/// key of `new` is set, an object under a key both hold is merged the same way, and keys only
/// `old` holds stay. Any other value (arrays included) replaces the old one.
fn merge_objects(old: &mut Map<String, Value>, new: &Map<String, Value>) {
    for (k, v) in new {
        match (old.get_mut(k), v) {
            (Some(Value::Object(held)), Value::Object(given)) => merge_objects(held, given),
            _ => {
                old.insert(k.clone(), v.clone());
            }
        }
    }
}

fn check_key(key: &str) -> Result<(), DocError> {
    if key.is_empty() || key.contains('[') || key.contains(']') {
        return Err(DocError::BadPath(key.to_string()));
    }
    Ok(())
}

/// The entries of `value` when it is a subform under `key`, with their `unique_id`s: an
/// array of objects under a name in [`SUBFORMS`] (or already holding entries, `known`), or one
/// whose every entry has a `unique_id`. `None` for any other value.
#[allow(clippy::type_complexity)]
fn subform_items<'a>(
    key: &str,
    value: &'a Value,
    known: bool,
) -> Result<Option<Vec<(&'a str, &'a Map<String, Value>)>>, DocError> {
    let Value::Array(items) = value else {
        return Ok(None);
    };
    let uid = |item: &'a Value| {
        item.get("unique_id")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty() && !u.contains(']'))
    };
    let named = known || SUBFORMS.contains(&key);
    if items.is_empty() {
        return Ok(named.then(Vec::new));
    }
    if !items.iter().all(Value::is_object) {
        return Ok(None);
    }
    if !named && !items.iter().all(|i| uid(i).is_some()) {
        return Ok(None);
    }
    items
        .iter()
        .map(|item| {
            let u = uid(item).ok_or_else(|| DocError::MissingUniqueId(key.to_string()))?;
            Ok((u, item.as_object().ok_or(DocError::NotAnObject)?))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Flattens a record's JSON object into field paths and values, leaving out nulls, empty lists
/// and the id (a form's "not given"). A subform's order is a path of its own when it is not the
/// order of its entries' ids.
pub fn flatten(record: &Value) -> Result<BTreeMap<String, FieldValue>, DocError> {
    let obj = record.as_object().ok_or(DocError::NotAnObject)?;
    let mut out = BTreeMap::new();
    for (key, value) in obj {
        if key == "id" || value.is_null() {
            continue;
        }
        check_key(key)?;
        match subform_items(key, value, false)? {
            Some(items) => {
                for (uid, item) in &items {
                    for (field, v) in *item {
                        if field == "unique_id" || v.is_null() {
                            continue;
                        }
                        out.insert(format!("{key}[{uid}].{field}"), FieldValue::from_json(v));
                    }
                }
                let order: Vec<&str> = items.iter().map(|(u, _)| *u).collect();
                let order = order_value(&order);
                if !order.is_null() {
                    out.insert(order_path(key), order);
                }
            }
            None => {
                let fv = FieldValue::from_json(value);
                // An empty list, like a null, means "not given".
                if fv != FieldValue::List(Vec::new()) {
                    out.insert(key.clone(), fv);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HlcClock;
    use crate::ids::DeviceId;
    use serde_json::json;

    fn id() -> RecordId {
        RecordId::mint(1_700_000_000_000, [1; 10])
    }

    fn create(clock: &mut HlcClock, now: &mut u64, v: Value) -> (Document, Vec<Op>) {
        let mut doc = Document::new(RecordKind::Case, id());
        let ops = doc
            .diff(&v, || {
                *now += 1;
                clock.tick(*now)
            })
            .unwrap();
        for op in &ops {
            doc.apply(op).unwrap();
        }
        (doc, ops)
    }

    #[test]
    fn create_then_read_back() {
        let mut clock = HlcClock::new(DeviceId(1));
        let mut now = 1000;
        let v = json!({"name": "Amina Yusuf", "sex": "female", "age": 9,
            "family_details_section": [{"unique_id": "f1", "relation": "mother", "relation_name": "Halima"}]});
        let (doc, ops) = create(&mut clock, &mut now, v);
        assert_eq!(ops.len(), 5);
        let Record::Case(c) = doc.to_record().unwrap() else {
            panic!()
        };
        assert_eq!(c.name.as_deref(), Some("Amina Yusuf"));
        assert_eq!(c.age, Some(9));
        assert_eq!(
            c.family_details_section[0].relation_name.as_deref(),
            Some("Halima")
        );
        assert!(doc.conflicts().is_empty());
    }

    #[test]
    fn different_fields_on_two_kits_merge_cleanly() {
        let mut a = HlcClock::new(DeviceId(1));
        let mut now = 1000;
        let (base, base_ops) = create(&mut a, &mut now, json!({"name": "Omar", "age": 10}));
        let mut b = HlcClock::new(DeviceId(2));

        let mut edit_a = base.to_json();
        edit_a["age"] = json!(11);
        let ops_a = base.diff(&edit_a, || a.tick(5000)).unwrap();
        let mut edit_b = base.to_json();
        edit_b["location_current"] = json!("SY01-03");
        let ops_b = base.diff(&edit_b, || b.tick(4000)).unwrap();

        let mut doc = Document::new(RecordKind::Case, id());
        for op in base_ops.iter().chain(&ops_b).chain(&ops_a) {
            doc.apply(op).unwrap();
        }
        assert!(doc.conflicts().is_empty());
        assert_eq!(doc.value("age"), Some(&FieldValue::Int(11)));
        assert_eq!(
            doc.value("location_current"),
            Some(&FieldValue::Text("SY01-03".into()))
        );
    }

    #[test]
    fn same_field_edited_on_two_kits_is_a_conflict_until_settled() {
        let mut a = HlcClock::new(DeviceId(1));
        let mut now = 1000;
        let (mut doc, _) = create(&mut a, &mut now, json!({"name": "Omar", "age": 10}));
        let mut b = HlcClock::new(DeviceId(2));
        let op_a = doc.op("age", FieldValue::Int(11), a.tick(5000));
        let op_b = doc.op("age", FieldValue::Int(12), b.tick(5000));
        doc.apply(&op_a).unwrap();
        doc.apply(&op_b).unwrap();
        let conflicts = doc.conflicts();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, "age");
        assert_eq!(conflicts[0].candidates.len(), 2);
        // The caseworker picks 11: the resolution supersedes both.
        let settle = doc.op("age", FieldValue::Int(11), a.tick(6000));
        assert_eq!(settle.supersedes.len(), 2);
        doc.apply(&settle).unwrap();
        assert!(doc.conflicts().is_empty());
        assert_eq!(doc.value("age"), Some(&FieldValue::Int(11)));
    }

    #[test]
    fn removing_a_family_member_clears_its_fields() {
        let mut a = HlcClock::new(DeviceId(1));
        let mut now = 1000;
        let (mut doc, _) = create(
            &mut a,
            &mut now,
            json!({"name": "Omar", "family_details_section": [
                {"unique_id": "m", "relation": "mother"}, {"unique_id": "u", "relation": "uncle"}]}),
        );
        let edited = json!({"name": "Omar", "family_details_section": [{"unique_id": "m", "relation": "mother"}]});
        for op in doc.diff(&edited, || a.tick(9000)).unwrap() {
            doc.apply(&op).unwrap();
        }
        let Record::Case(c) = doc.to_record().unwrap() else {
            panic!()
        };
        assert_eq!(c.family_details_section.len(), 1);
        assert_eq!(c.family_details_section[0].unique_id, "m");
    }

    #[test]
    fn ops_since_a_stamp_bring_a_copy_up_to_date() {
        let mut a = HlcClock::new(DeviceId(1));
        let mut b = HlcClock::new(DeviceId(2));
        let mut now = 1000;
        let (mut doc, _) = create(&mut a, &mut now, json!({"name": "Omar", "age": 10}));
        // The hub's copy: everything up to here.
        let hub = doc.clone();
        let since = doc.latest_stamp();
        let edited = json!({"name": "Omar Ali", "age": 10, "location_current": "SY01"});
        for op in doc.diff(&edited, || a.tick(5000)).unwrap() {
            doc.apply(&op).unwrap();
        }
        // A concurrent edit from another kit, then settled here.
        let theirs = doc.op("age", FieldValue::Int(12), b.tick(5000));
        let ours = doc.op("age", FieldValue::Int(11), a.tick(5000));
        doc.apply(&theirs).unwrap();
        doc.apply(&ours).unwrap();
        let settle = doc.op("age", FieldValue::Int(11), a.tick(6000));
        doc.apply(&settle).unwrap();

        let delta = doc.ops_since(since);
        assert!(delta.iter().all(|op| since.is_none_or(|s| op.stamp > s)));
        assert!(!delta.iter().any(|op| op.field == "sex"));
        let mut copy = hub.clone();
        for op in &delta {
            copy.apply(op).unwrap();
        }
        assert_eq!(copy, doc);
        // From nothing: the whole document.
        let mut fresh = Document::new(RecordKind::Case, id());
        for op in doc.ops_since(None) {
            fresh.apply(&op).unwrap();
        }
        assert_eq!(fresh.to_json(), doc.to_json());
        assert!(fresh.conflicts().is_empty());
        // Nothing after the newest stamp.
        assert!(doc.ops_since(doc.latest_stamp()).is_empty());
    }

    #[test]
    fn create_is_diff_and_apply_on_an_empty_document() {
        let v = json!({"name": "Amina", "age": 9, "nationality": ["sudan"],
            "family_details_section": [{"unique_id": "f1", "relation": "mother"}]});
        let stamp = HlcClock::new(DeviceId(3)).tick(77);
        let (fast, n) = Document::create(RecordKind::Case, id(), &v, stamp).unwrap();
        let mut slow = Document::new(RecordKind::Case, id());
        for op in slow.diff(&v, || stamp).unwrap() {
            slow.apply(&op).unwrap();
        }
        assert_eq!(fast, slow);
        assert_eq!(n, 4);
    }

    #[test]
    fn the_stored_form_round_trips_with_conflicts_and_history() {
        let mut a = HlcClock::new(DeviceId(1));
        let mut b = HlcClock::new(DeviceId(2));
        let mut now = 1000;
        let (mut doc, _) = create(&mut a, &mut now, json!({"name": "Omar", "age": 10}));
        let op_a = doc.op("age", FieldValue::Int(11), a.tick(5000));
        let op_b = doc.op("age", FieldValue::Int(12), b.tick(5000));
        doc.apply(&op_a).unwrap();
        doc.apply(&op_b).unwrap();
        let bytes = postcard::to_allocvec(&doc).unwrap();
        let back: Document = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, doc);
        // A stamp index outside the table is an error, not a panic: a stored form whose "age"
        // points at stamp 5 of a table of one.
        let value = FieldValue::Int(11);
        let bad = WireRef {
            kind: RecordKind::Case,
            id: id(),
            stamps: vec![a.tick(7000)],
            fields: vec![("age", vec![(5, &value)], vec![0])],
        };
        let bad = postcard::to_allocvec(&bad).unwrap();
        let err = postcard::from_bytes::<Document>(&bad).unwrap_err();
        assert_eq!(err, postcard::Error::SerdeDeCustom);
        // The same form with the index inside the table reads back.
        let good = WireRef {
            kind: RecordKind::Case,
            id: id(),
            stamps: vec![a.tick(7000)],
            fields: vec![("age", vec![(0, &value)], vec![])],
        };
        let good: Document = postcard::from_bytes(&postcard::to_allocvec(&good).unwrap()).unwrap();
        assert_eq!(good.value("age"), Some(&value));
    }

    #[test]
    fn subform_entries_need_a_unique_id() {
        let doc = Document::new(RecordKind::Case, id());
        let err = doc.diff(
            &json!({"family_details_section": [{"relation": "mother"}]}),
            || unreachable!(),
        );
        assert_eq!(
            err,
            Err(DocError::MissingUniqueId("family_details_section".into()))
        );
    }

    #[test]
    fn an_op_for_another_record_is_refused() {
        let mut doc = Document::new(RecordKind::Case, id());
        let other = Document::new(RecordKind::Case, RecordId::mint(1, [2; 10]));
        let op = other.op(
            "name",
            FieldValue::Text("x".into()),
            HlcClock::new(DeviceId(1)).tick(1),
        );
        assert!(matches!(doc.apply(&op), Err(DocError::WrongRecord { .. })));
    }

    mod merge_properties {
        use super::*;
        use proptest::prelude::*;

        /// Builds a history of edits on three kits that see each other's edits only partly,
        /// returning every operation made.
        fn history(script: &[(u8, u8, i64, bool)]) -> Vec<Op> {
            let mut clocks: Vec<HlcClock> = (1..=3).map(|d| HlcClock::new(DeviceId(d))).collect();
            let mut views: Vec<Document> = (0..3)
                .map(|_| Document::new(RecordKind::Case, id()))
                .collect();
            let mut all = Vec::new();
            let fields = [
                "name",
                "age",
                "sex",
                "family_details_section[a].relation_name",
            ];
            for (step, &(kit, field, value, share)) in script.iter().enumerate() {
                let kit = usize::from(kit % 3);
                let field = fields[usize::from(field) % fields.len()];
                let stamp = clocks[kit].tick(1000 + step as u64);
                let op = views[kit].op(field, FieldValue::Int(value), stamp);
                views[kit].apply(&op).unwrap();
                if share {
                    for (i, v) in views.iter_mut().enumerate() {
                        if i != kit {
                            v.apply(&op).unwrap();
                            clocks[i].observe(op.stamp);
                        }
                    }
                }
                all.push(op);
            }
            all
        }

        /// A history made the way kits make it: each kit edits what it sees and saves through
        /// [`Document::diff`], so the operations are the ones a caseworker's save produces:
        /// fields set and cleared, family members added, edited, reordered and removed (a
        /// removal clears every field of the entry), on three kits that see each other's
        /// changes only partly, so removals race edits of the same entry.
        fn diff_history(script: &[(u8, u8, i64, bool)]) -> Vec<Op> {
            let mut clocks: Vec<HlcClock> = (1..=3).map(|d| HlcClock::new(DeviceId(d))).collect();
            let mut views: Vec<Document> = (0..3)
                .map(|_| Document::new(RecordKind::Case, id()))
                .collect();
            let mut all = Vec::new();
            for (step, &(kit, action, value, share)) in script.iter().enumerate() {
                let kit = usize::from(kit % 3);
                let mut edited = views[kit].to_json();
                let uid = format!("m{}", value.rem_euclid(3));
                let members = edited
                    .get("family_details_section")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let members = match action % 7 {
                    0 => {
                        edited["age"] = json!(value);
                        members
                    }
                    1 => {
                        edited["name"] = json!(format!("Amina {value}"));
                        members
                    }
                    2 => {
                        edited.as_object_mut().map(|o| o.remove("name"));
                        members
                    }
                    3 if !members.iter().any(|m| m["unique_id"] == json!(uid)) => {
                        let mut m = members;
                        m.push(json!({"unique_id": uid, "relation": format!("r{value}")}));
                        m
                    }
                    4 => members
                        .into_iter()
                        .filter(|m| m["unique_id"] != json!(uid))
                        .collect(),
                    5 => members
                        .into_iter()
                        .map(|mut m| {
                            if m["unique_id"] == json!(uid) {
                                m["relation_name"] = json!(format!("Halima {value}"));
                            }
                            m
                        })
                        .collect(),
                    _ => members.into_iter().rev().collect(),
                };
                match edited.as_object_mut() {
                    Some(o) if members.is_empty() => {
                        o.remove("family_details_section");
                    }
                    Some(o) => {
                        o.insert("family_details_section".into(), Value::Array(members));
                    }
                    None => {}
                }
                let clock = &mut clocks[kit];
                let ops = views[kit]
                    .diff(&edited, || clock.tick(1000 + step as u64))
                    .unwrap();
                for op in &ops {
                    views[kit].apply(op).unwrap();
                    if share {
                        for (i, v) in views.iter_mut().enumerate() {
                            if i != kit {
                                v.apply(op).unwrap();
                                clocks[i].observe(op.stamp);
                            }
                        }
                    }
                }
                all.extend(ops);
            }
            all
        }

        /// Whatever the order, duplicates and partial histories merged, every kit ends with the
        /// same document.
        fn converges(ops: &[Op], seed: &[usize]) -> Result<(), TestCaseError> {
            let mut in_order = Document::new(RecordKind::Case, id());
            for op in ops {
                in_order.apply(op).unwrap();
            }

            // A shuffled order with some operations delivered twice.
            let mut shuffled: Vec<&Op> = ops.iter().chain(ops.iter().step_by(3)).collect();
            for i in (1..shuffled.len()).rev() {
                let j = seed[i % seed.len()] % (i + 1);
                shuffled.swap(i, j);
            }
            let mut other = Document::new(RecordKind::Case, id());
            for op in shuffled {
                other.apply(op).unwrap();
            }
            prop_assert_eq!(&in_order, &other);
            prop_assert_eq!(in_order.to_json(), other.to_json());
            prop_assert_eq!(in_order.conflicts(), other.conflicts());

            // Two kits that each received part of the history, merged either way round.
            let cut = seed[0] % (ops.len() + 1);
            let (mut left, mut right) = (
                Document::new(RecordKind::Case, id()),
                Document::new(RecordKind::Case, id()),
            );
            for op in &ops[..cut] {
                left.apply(op).unwrap();
            }
            for op in &ops[cut / 2..] {
                right.apply(op).unwrap();
            }
            let mut lr = left.clone();
            lr.merge(&right).unwrap();
            let mut rl = right.clone();
            rl.merge(&left).unwrap();
            prop_assert_eq!(&lr, &in_order);
            prop_assert_eq!(&rl, &in_order);
            prop_assert_eq!(lr.to_json(), in_order.to_json());
            Ok(())
        }

        proptest! {
            #[test]
            fn any_order_any_duplicates_same_document(
                script in proptest::collection::vec((0u8..3, 0u8..4, -5i64..5, proptest::bool::ANY), 1..40),
                seed in proptest::collection::vec(0usize..1000, 80),
            ) {
                converges(&history(&script), &seed)?;
            }

            #[test]
            fn saves_from_three_kits_with_removals_racing_edits_converge(
                script in proptest::collection::vec((0u8..3, 0u8..7, -5i64..5, proptest::bool::ANY), 1..40),
                seed in proptest::collection::vec(0usize..1000, 80),
            ) {
                let ops = diff_history(&script);
                // The generator makes what it says: some histories remove entries.
                prop_assume!(!ops.is_empty());
                converges(&ops, &seed)?;
            }

            #[test]
            fn a_document_rebuilt_from_its_ops_is_the_same(
                script in proptest::collection::vec((0u8..3, 0u8..7, -5i64..5, proptest::bool::ANY), 1..40),
            ) {
                let ops = diff_history(&script);
                prop_assume!(!ops.is_empty());
                let mut doc = Document::new(ops[0].kind, ops[0].record);
                for op in &ops {
                    doc.apply(op).unwrap();
                }
                let mut rebuilt = Document::new(doc.kind(), doc.id());
                for op in doc.ops().iter().rev() {
                    rebuilt.apply(op).unwrap();
                }
                prop_assert_eq!(&rebuilt, &doc);
            }
        }
    }
}

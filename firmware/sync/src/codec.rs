//! The compact binary form of field-level operations ([`Op`]s).
//!
//! Written by hand rather than with postcard because the win is in what postcard cannot
//! know: a batch names each device and record once in a table and each op points into it;
//! field names and common lookup values are one-byte dictionary codes ([`crate::dict`]); a
//! subform path `family_details_section[<id>].relation_name` is two codes and the entry id
//! (16 bytes when it is a UUID); ISO dates are day numbers; and a stamp is usually "the same
//! as the previous op's" (one save stamps every field alike) in one byte. Compression
//! (DEFLATE) is applied to the whole message afterwards, in [`crate::message`].
//!
//! Every encoding decodes to exactly the ops given (property tested), and decoding never
//! panics and never reserves more than the input could hold.

use std::str::FromStr;

use fieldkit_domain::{Date, DeviceId, FieldValue, Hlc, Op, RecordId, RecordKind};
use uuid::Uuid;

use crate::codes::{CodeBook, CodeBooks, CodeDigest, PREFIX};
use crate::dict::{self, FIELDS, Shape, VALUES};
use crate::wire::{DecodeError, Reader, Writer};

/// Most operations one batch may hold.
pub const MAX_OPS: usize = 200_000;
/// Most stamps one operation may supersede.
pub const MAX_SUPERSEDES: usize = 1024;

/// A word from `table` as `(code << 1) | 1`, or text as `(len << 1)` and its bytes.
pub(crate) fn put_word(w: &mut Writer, table: &[&str], word: &str) {
    match dict::code(table, word) {
        Some(c) => w.varint(((c as u64) << 1) | 1),
        None => {
            w.varint((word.len() as u64) << 1);
            w.raw(word.as_bytes());
        }
    }
}

pub(crate) fn word<'a>(r: &mut Reader<'a>, table: &[&'static str]) -> Result<&'a str, DecodeError> {
    let v = r.varint()?;
    if v & 1 == 1 {
        let c = usize::try_from(v >> 1).map_err(|_| DecodeError::Range)?;
        table.get(c).copied().ok_or(DecodeError::Tag(v >> 1))
    } else {
        let n = usize::try_from(v >> 1).map_err(|_| DecodeError::TooLarge)?;
        if n > r.remaining() {
            return Err(DecodeError::TooLarge);
        }
        std::str::from_utf8(r.raw(n)?).map_err(|_| DecodeError::Utf8)
    }
}

/// Splits `section[uid].field` when rebuilding it gives the path back exactly.
fn subform_path(path: &str) -> Option<(&str, &str, &str)> {
    let (section, rest) = path.split_once('[')?;
    let (uid, field) = rest.split_once("].")?;
    (format!("{section}[{uid}].{field}") == path).then_some((section, uid, field))
}

/// A field path. The head is one varint `((code + 1) << 1) | subform` for a dictionary
/// field (one byte for the first 63 codes), or `0` and then `(len << 1) | subform` and the
/// text. A subform entry then gives the entry's position in the batch's entry table and
/// the field word.
fn put_path(w: &mut Writer, path: &str, entries: &[&str]) {
    let (head, sub) = match subform_path(path) {
        Some((section, uid, field)) => (section, Some((uid, field))),
        None => (path, None),
    };
    let flag = u64::from(sub.is_some());
    match dict::code(FIELDS, head) {
        Some(c) => w.varint(((c as u64 + 1) << 1) | flag),
        None => {
            w.varint(0);
            w.varint(((head.len() as u64) << 1) | flag);
            w.raw(head.as_bytes());
        }
    }
    if let Some((uid, field)) = sub {
        let idx = entries.iter().position(|e| *e == uid).unwrap_or(0);
        w.varint(idx as u64);
        put_word(w, FIELDS, field);
    }
}

fn path(r: &mut Reader<'_>, entries: &[String]) -> Result<String, DecodeError> {
    let v = r.varint()?;
    let (head, sub) = if v == 0 {
        let t = r.varint()?;
        let n = usize::try_from(t >> 1).map_err(|_| DecodeError::TooLarge)?;
        if n > r.remaining() {
            return Err(DecodeError::TooLarge);
        }
        let text = std::str::from_utf8(r.raw(n)?).map_err(|_| DecodeError::Utf8)?;
        (text, t & 1 == 1)
    } else {
        let c = usize::try_from((v >> 1) - 1).map_err(|_| DecodeError::Range)?;
        let name = FIELDS.get(c).copied().ok_or(DecodeError::Tag(v >> 1))?;
        (name, v & 1 == 1)
    };
    if !sub {
        return Ok(head.to_string());
    }
    let idx = usize::try_from(r.varint()?).map_err(|_| DecodeError::Range)?;
    let uid = entries.get(idx).ok_or(DecodeError::Range)?;
    let field = word(r, FIELDS)?;
    Ok(format!("{head}[{uid}].{field}"))
}

/// A subform entry id minted with its record ([`ENTRY_SAME_TIME`]), relative form only.
const ENTRY_SAME_TIME: u64 = 3;

/// A subform entry id: `1` and 16 bytes for a UUID in its canonical text, else
/// `(len << 1)` and the text. With an `origin` (the relative typed form), a UUIDv7 minted
/// at that millisecond — a kit gives a new entry its id when it saves the record, at the
/// moment it stamps the save — is [`ENTRY_SAME_TIME`] and its last 10 bytes.
fn put_entry(w: &mut Writer, uid: &str, origin: Option<u64>) {
    match Uuid::parse_str(uid) {
        Ok(u) if u.hyphenated().to_string() == uid => {
            let id = RecordId(u);
            if origin.is_some_and(|o| o != 0 && id_time_ms(id) == o) {
                w.varint(ENTRY_SAME_TIME);
                w.raw(&u.as_bytes()[6..]);
            } else {
                w.varint(1);
                w.raw(u.as_bytes());
            }
        }
        _ => {
            w.varint((uid.len() as u64) << 1);
            w.raw(uid.as_bytes());
        }
    }
}

fn entry(r: &mut Reader<'_>, origin: Option<u64>) -> Result<String, DecodeError> {
    let u = r.varint()?;
    if u == 1 {
        return Ok(Uuid::from_bytes(r.array::<16>()?).hyphenated().to_string());
    }
    if u == ENTRY_SAME_TIME
        && let Some(o) = origin.filter(|o| *o != 0)
    {
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&o.to_be_bytes()[2..]);
        b[6..].copy_from_slice(r.raw(10)?);
        let id = RecordId::from_bytes(b);
        // Only a version-7 id was written so: anything else is not this encoder's.
        if id_time_ms(id) != o {
            return Err(DecodeError::Tag(u));
        }
        return Ok(id.0.hyphenated().to_string());
    }
    if u & 1 == 1 {
        return Err(DecodeError::Tag(u));
    }
    let n = usize::try_from(u >> 1).map_err(|_| DecodeError::TooLarge)?;
    if n > r.remaining() {
        return Err(DecodeError::TooLarge);
    }
    Ok(std::str::from_utf8(r.raw(n)?)
        .map_err(|_| DecodeError::Utf8)?
        .to_string())
}

// Value header: a varint whose low three bits are the form and whose rest is the payload.
const V_NULL: u64 = 0;
const V_FALSE: u64 = 1;
const V_TRUE: u64 = 2;
/// `(zigzag(i) << 3) | 3`.
const V_INT: u64 = 3;
/// `(code << 3) | 4`: a word of the value dictionary.
const V_WORD: u64 = 4;
/// `(len << 3) | 5`, then the UTF-8 bytes.
const V_TEXT: u64 = 5;
/// `(zigzag(day) << 3) | 6`: an ISO date as days since 1970-01-01.
const V_DATE: u64 = 6;
/// `7`, then `0` and a list, or `1` and JSON text.
const V_MORE: u64 = 7;

/// Day number of an ISO date that prints back exactly as given.
fn iso_day(s: &str) -> Option<i64> {
    if s.len() != 10 {
        return None;
    }
    let d = Date::from_str(s).ok()?;
    (d.to_string() == s).then(|| d.days_since_epoch())
}

fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzz(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Writes one field value.
pub fn put_value(w: &mut Writer, v: &FieldValue) {
    match v {
        FieldValue::Null => w.varint(V_NULL),
        FieldValue::Bool(false) => w.varint(V_FALSE),
        FieldValue::Bool(true) => w.varint(V_TRUE),
        FieldValue::Int(i) => {
            let z = zz(*i);
            if z >> 61 == 0 {
                w.varint((z << 3) | V_INT);
            } else {
                // Too large for the packed form: the JSON-text escape keeps it exact.
                w.varint(V_MORE);
                w.varint(1);
                w.bytes(i.to_string().as_bytes());
            }
        }
        FieldValue::Text(s) => {
            if let Some(day) = iso_day(s) {
                w.varint((zz(day) << 3) | V_DATE);
            } else if let Some(c) = dict::code(VALUES, s) {
                w.varint(((c as u64) << 3) | V_WORD);
            } else {
                w.varint(((s.len() as u64) << 3) | V_TEXT);
                w.raw(s.as_bytes());
            }
        }
        FieldValue::List(items) => {
            w.varint(V_MORE);
            w.varint(0);
            w.varint(items.len() as u64);
            for item in items {
                put_word(w, VALUES, item);
            }
        }
        FieldValue::Json(s) => {
            w.varint(V_MORE);
            w.varint(2);
            w.bytes(s.as_bytes());
        }
    }
}

/// Reads one field value.
pub fn value(r: &mut Reader<'_>) -> Result<FieldValue, DecodeError> {
    let h = r.varint()?;
    let payload = h >> 3;
    Ok(match h & 7 {
        V_NULL if payload == 0 => FieldValue::Null,
        V_FALSE if payload == 0 => FieldValue::Bool(false),
        V_TRUE if payload == 0 => FieldValue::Bool(true),
        V_INT => FieldValue::Int(unzz(payload)),
        V_WORD => {
            let c = usize::try_from(payload).map_err(|_| DecodeError::Range)?;
            FieldValue::Text(VALUES.get(c).ok_or(DecodeError::Tag(payload))?.to_string())
        }
        V_TEXT => {
            let n = usize::try_from(payload).map_err(|_| DecodeError::TooLarge)?;
            if n > r.remaining() {
                return Err(DecodeError::TooLarge);
            }
            FieldValue::Text(
                std::str::from_utf8(r.raw(n)?)
                    .map_err(|_| DecodeError::Utf8)?
                    .to_string(),
            )
        }
        V_DATE => {
            let day = unzz(payload);
            let date = Date::from_days_since_epoch(day);
            if date.days_since_epoch() != day {
                return Err(DecodeError::Range);
            }
            FieldValue::Text(date.to_string())
        }
        V_MORE if payload == 0 => match r.varint()? {
            0 => {
                // Each item takes at least one byte.
                let n = r.len(r.remaining())?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(word(r, VALUES)?.to_string());
                }
                FieldValue::List(items)
            }
            1 => {
                let text = r.str()?;
                FieldValue::Int(text.parse().map_err(|_| DecodeError::Range)?)
            }
            2 => FieldValue::Json(r.str()?.to_string()),
            t => return Err(DecodeError::Tag(t)),
        },
        _ => return Err(DecodeError::Tag(h)),
    })
}

/// A record kind's wire code: its position in `RecordKind::ALL` (append-only there too), so a
/// kind added to the domain travels without a change here.
pub fn kind_code(k: RecordKind) -> u8 {
    RecordKind::ALL
        .iter()
        .position(|x| *x == k)
        .map_or(u8::MAX, |p| p as u8)
}

/// The record kind of a wire code.
pub fn kind_from_code(c: u8) -> Result<RecordKind, DecodeError> {
    RecordKind::ALL
        .get(usize::from(c))
        .copied()
        .ok_or(DecodeError::Tag(u64::from(c)))
}

/// Writes a record reference: kind and id (17 bytes).
pub fn put_record(w: &mut Writer, kind: RecordKind, id: RecordId) {
    w.u8(kind_code(kind));
    w.raw(id.as_bytes());
}

/// Reads a record reference.
pub fn record(r: &mut Reader<'_>) -> Result<(RecordKind, RecordId), DecodeError> {
    let kind = kind_from_code(r.u8()?)?;
    Ok((kind, RecordId::from_bytes(r.array::<16>()?)))
}

/// Stamps relative to the one before, in a varint `(device << 3) | (flag << 2) | mode`:
/// mode 0 same wall and counter, 1 counter + 1, 2 explicit (zigzag wall delta, counter).
/// The flag is the caller's (an op's stamp uses it for "supersedes follow").
struct StampWriter<'a> {
    devices: &'a [DeviceId],
    prev: (u64, u32),
}

impl StampWriter<'_> {
    fn put(&mut self, w: &mut Writer, s: &Hlc, flag: bool) {
        let dev = self
            .devices
            .iter()
            .position(|d| *d == s.device)
            .unwrap_or(0) as u64;
        let head = (dev << 3) | (u64::from(flag) << 2);
        let (wall, counter) = self.prev;
        if s.wall_ms == wall && s.counter == counter {
            w.varint(head);
        } else if s.wall_ms == wall && Some(s.counter) == counter.checked_add(1) {
            w.varint(head | 1);
        } else {
            w.varint(head | 2);
            w.zigzag((s.wall_ms as i64).wrapping_sub(wall as i64));
            w.varint(u64::from(s.counter));
        }
        self.prev = (s.wall_ms, s.counter);
    }
}

struct StampReader<'a> {
    devices: &'a [DeviceId],
    prev: (u64, u32),
}

impl StampReader<'_> {
    fn get(&mut self, r: &mut Reader<'_>) -> Result<(Hlc, bool), DecodeError> {
        let v = r.varint()?;
        let flag = v & 4 != 0;
        let dev = usize::try_from(v >> 3).map_err(|_| DecodeError::Range)?;
        let device = *self.devices.get(dev).ok_or(DecodeError::Range)?;
        let (wall, counter) = self.prev;
        let (wall, counter) = match v & 3 {
            0 => (wall, counter),
            1 => (wall, counter.checked_add(1).ok_or(DecodeError::Range)?),
            2 => {
                let delta = r.zigzag()?;
                ((wall as i64).wrapping_add(delta) as u64, r.varint_u32()?)
            }
            t => return Err(DecodeError::Tag(t)),
        };
        self.prev = (wall, counter);
        Ok((
            Hlc {
                wall_ms: wall,
                counter,
                device,
            },
            flag,
        ))
    }
}

/// The batch's tables: devices, records and subform entries, each in order of first use.
struct Tables<'a> {
    devices: Vec<DeviceId>,
    records: Vec<(RecordKind, RecordId)>,
    entries: Vec<&'a str>,
}

impl<'a> Tables<'a> {
    fn of(ops: &'a [Op]) -> Self {
        let mut t = Tables {
            devices: Vec::new(),
            records: Vec::new(),
            entries: Vec::new(),
        };
        for op in ops {
            for s in std::iter::once(&op.stamp).chain(&op.supersedes) {
                if !t.devices.contains(&s.device) {
                    t.devices.push(s.device);
                }
            }
            if !t.records.contains(&(op.kind, op.record)) {
                t.records.push((op.kind, op.record));
            }
            if let Some((_, uid, _)) = subform_path(&op.field)
                && !t.entries.contains(&uid)
            {
                t.entries.push(uid);
            }
        }
        t
    }

    /// The time stamps and entry ids count from in the relative form.
    fn origin(&self) -> u64 {
        self.records.first().map_or(0, |(_, id)| id_time_ms(*id))
    }

    fn put(&self, w: &mut Writer, relative: bool) {
        let origin = relative.then(|| self.origin());
        w.varint(self.devices.len() as u64);
        for d in &self.devices {
            w.raw(&d.0.to_le_bytes());
        }
        w.varint(self.records.len() as u64);
        for (k, id) in &self.records {
            put_record(w, *k, *id);
        }
        w.varint(self.entries.len() as u64);
        for e in &self.entries {
            put_entry(w, e, origin);
        }
    }

    fn record_index(&self, op: &Op) -> usize {
        self.records
            .iter()
            .position(|r| *r == (op.kind, op.record))
            .unwrap_or(0)
    }
}

/// The tables as read back.
struct ReadTables {
    devices: Vec<DeviceId>,
    records: Vec<(RecordKind, RecordId)>,
    entries: Vec<String>,
}

impl ReadTables {
    fn origin(&self) -> u64 {
        self.records.first().map_or(0, |(_, id)| id_time_ms(*id))
    }
}

fn read_tables(r: &mut Reader<'_>, relative: bool) -> Result<ReadTables, DecodeError> {
    let n = r.len(r.remaining() / 8)?;
    let mut devices = Vec::with_capacity(n);
    for _ in 0..n {
        devices.push(DeviceId(u64::from_le_bytes(r.array::<8>()?)));
    }
    let n = r.len(r.remaining() / 17)?;
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        records.push(record(r)?);
    }
    let origin = relative
        .then(|| records.first().map_or(0, |(_, id)| id_time_ms(*id)))
        .filter(|o| *o != 0);
    let n = r.len(r.remaining())?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(entry(r, origin)?);
    }
    Ok(ReadTables {
        devices,
        records,
        entries,
    })
}

/// Ops as runs of consecutive ops that share a stamp (one save stamps all its fields alike)
/// and either all or none supersede something: the stamp is written once per run.
fn put_runs(
    w: &mut Writer,
    ops: &[Op],
    t: &Tables<'_>,
    stamps: &mut StampWriter<'_>,
    typed: Option<Typed<'_>>,
) {
    let mut i = 0;
    while i < ops.len() {
        let first = &ops[i];
        let has_sup = !first.supersedes.is_empty();
        let run = ops[i..]
            .iter()
            .take_while(|o| o.stamp == first.stamp && o.supersedes.is_empty() != has_sup)
            .count();
        w.varint(run as u64);
        stamps.put(w, &first.stamp, has_sup);
        for op in &ops[i..i + run] {
            if t.records.len() > 1 {
                w.varint(t.record_index(op) as u64);
            }
            put_path(w, &op.field, &t.entries);
            match typed {
                // Version 4: values between the records are typed as in them.
                Some(form) if form.relative => {
                    put_typed_value(w, &op.value, op.record, &op.field, form);
                }
                _ => put_value(w, &op.value),
            }
            if has_sup {
                w.varint(op.supersedes.len() as u64);
                for s in &op.supersedes {
                    stamps.put(w, s, false);
                }
                // The run's stamp stays the reference for the next op's supersedes.
                stamps.prev = (first.stamp.wall_ms, first.stamp.counter);
            }
        }
        i += run;
    }
}

/// Reads `n` ops written by [`put_runs`] onto `ops`.
fn read_runs(
    r: &mut Reader<'_>,
    n: usize,
    t: &ReadTables,
    stamps: &mut StampReader<'_>,
    ops: &mut Vec<Op>,
    typed: Option<Typed<'_>>,
) -> Result<(), DecodeError> {
    let end = ops.len() + n;
    while ops.len() < end {
        let run = r.len(end - ops.len())?;
        if run == 0 {
            return Err(DecodeError::Range);
        }
        let (stamp, has_sup) = stamps.get(r)?;
        for _ in 0..run {
            let idx = if t.records.len() > 1 {
                usize::try_from(r.varint()?).map_err(|_| DecodeError::Range)?
            } else {
                0
            };
            let (kind, record) = *t.records.get(idx).ok_or(DecodeError::Range)?;
            let field = path(r, &t.entries)?;
            let value = match typed {
                Some(form) if form.relative => typed_value(r, record, &field, form)?,
                _ => value(r)?,
            };
            let mut supersedes = Vec::new();
            if has_sup {
                let m = r.len(MAX_SUPERSEDES.min(r.remaining()))?;
                if m == 0 {
                    return Err(DecodeError::Range);
                }
                supersedes.reserve(m);
                for _ in 0..m {
                    let (s, flag) = stamps.get(r)?;
                    if flag {
                        return Err(DecodeError::Range);
                    }
                    supersedes.push(s);
                }
                stamps.prev = (stamp.wall_ms, stamp.counter);
            }
            ops.push(Op {
                kind,
                record,
                field,
                value,
                stamp,
                supersedes,
            });
        }
    }
    Ok(())
}

/// Encodes a batch of operations (the operation form, body tag 4).
pub fn encode_ops(ops: &[Op]) -> Vec<u8> {
    let t = Tables::of(ops);
    let mut w = Writer::new();
    t.put(&mut w, false);
    w.varint(ops.len() as u64);
    let mut stamps = StampWriter {
        devices: &t.devices,
        prev: (0, 0),
    };
    put_runs(&mut w, ops, &t, &mut stamps, None);
    w.into_bytes()
}

/// Decodes a batch of operations in the operation form; every byte must belong to it.
pub fn decode_ops(bytes: &[u8]) -> Result<Vec<Op>, DecodeError> {
    let mut r = Reader::new(bytes);
    let t = read_tables(&mut r, false)?;
    // An op takes at least two bytes.
    let n = r.len(MAX_OPS.min(r.remaining() / 2))?;
    let mut ops = Vec::with_capacity(n);
    let mut stamps = StampReader {
        devices: &t.devices,
        prev: (0, 0),
    };
    read_runs(&mut r, n, &t, &mut stamps, &mut ops, None)?;
    r.finish()?;
    Ok(ops)
}

// The record form (body tag 6): a record's whole saved state — every field one save
// stamped alike, as `Document::diff` gives it for a new record — written as which fields are
// present (a bitmap over the field dictionary, and per subform entry a bitmap over its
// fields) followed by the values alone, in the order of their paths. A full case's 40–60
// field paths (one to three bytes each) become about a dozen bitmap bytes. Operations that
// do not fit (edits with superseded stamps, fields outside the dictionary, mixed stamps) go
// in operation-form segments between the records, so the decoded batch is the batch given,
// in its order.

/// Fewest operations worth a record segment.
const MIN_RECORD_OPS: usize = 6;

/// A value's form inside a record segment: [`V_MORE`] with this sub-tag is "the text of
/// this record's short id" (`RecordId::short`, what `case_id_display` holds on a kit).
const MORE_SHORT_ID: u64 = 3;

/// The dictionary codes of a path that a record segment can carry: a field, or a section,
/// an entry id and the entry's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot<'a> {
    Field(usize),
    Entry {
        section: usize,
        uid: &'a str,
        field: usize,
    },
    /// A subform's order register (`section[]`), typed form only.
    Order(usize),
}

fn slot(path: &str, typed: bool) -> Option<Slot<'_>> {
    if typed
        && let Some(section) = path.strip_suffix("[]")
        && !section.contains('[')
    {
        return dict::code(FIELDS, section).map(Slot::Order);
    }
    match subform_path(path) {
        Some((section, uid, field)) => Some(Slot::Entry {
            section: dict::code(FIELDS, section)?,
            uid,
            field: dict::code(FIELDS, field)?,
        }),
        None => dict::code(FIELDS, path).map(Slot::Field),
    }
}

/// How many ops from the start of `ops` one record segment can carry.
fn record_run(ops: &[Op], typed: bool) -> usize {
    let Some(first) = ops.first() else { return 0 };
    let mut n = 0;
    for (i, op) in ops.iter().enumerate() {
        let fits = op.kind == first.kind
            && op.record == first.record
            && op.stamp == first.stamp
            && op.supersedes.is_empty()
            && slot(&op.field, typed).is_some()
            && (i == 0 || ops[i - 1].field < op.field);
        if !fits {
            break;
        }
        n += 1;
    }
    // An order register travels as positions among the segment's entries of its section:
    // the segment ends before one that lists anything else.
    let run = &ops[..n];
    if let Some(cut) = run.iter().position(|op| {
        matches!(slot(&op.field, typed), Some(Slot::Order(_))) && order_positions(op, run).is_none()
    }) {
        n = cut;
    }
    n
}

/// The entries of `section` a segment's ops name, in order of first use.
fn section_entries<'a>(section: &str, run: &'a [Op]) -> Vec<&'a str> {
    let mut uids: Vec<&str> = Vec::new();
    for op in run {
        if let Some((s, uid, _)) = subform_path(&op.field)
            && s == section
            && !uids.contains(&uid)
        {
            uids.push(uid);
        }
    }
    uids
}

/// An order register's value as positions among its section's entries in `run`, when
/// every id it lists is one of them.
fn order_positions(op: &Op, run: &[Op]) -> Option<Vec<usize>> {
    let section = op.field.strip_suffix("[]")?;
    let FieldValue::List(order) = &op.value else {
        return None;
    };
    if order.is_empty() {
        return None;
    }
    let entries = section_entries(section, run);
    order
        .iter()
        .map(|u| entries.iter().position(|e| e == u))
        .collect()
}

fn put_bitmap(w: &mut Writer, codes: &[usize]) {
    let len = codes.iter().max().map_or(0, |m| m / 8 + 1);
    let mut bytes = vec![0u8; len];
    for c in codes {
        bytes[c / 8] |= 1 << (c % 8);
    }
    w.bytes(&bytes);
}

fn bitmap(r: &mut Reader<'_>) -> Result<Vec<usize>, DecodeError> {
    let bytes = r.bytes()?;
    let mut codes = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                let c = i * 8 + bit;
                if c >= FIELDS.len() {
                    return Err(DecodeError::Tag(c as u64));
                }
                codes.push(c);
            }
        }
    }
    Ok(codes)
}

fn put_record_value(w: &mut Writer, v: &FieldValue, id: RecordId) {
    match v {
        FieldValue::Text(s) if *s == id.short() => {
            w.varint(V_MORE);
            w.varint(MORE_SHORT_ID);
        }
        _ => put_value(w, v),
    }
}

fn record_value(r: &mut Reader<'_>, id: RecordId) -> Result<FieldValue, DecodeError> {
    let mut peek = Reader::new(r.peek_rest());
    if peek.varint()? == V_MORE && peek.varint()? == MORE_SHORT_ID {
        r.varint()?;
        r.varint()?;
        return Ok(FieldValue::Text(id.short()));
    }
    value(r)
}

/// A subform entry's id and the codes of its fields present.
type EntryFields<'a> = (&'a str, Vec<usize>);

fn put_record_segment(
    w: &mut Writer,
    ops: &[Op],
    t: &Tables<'_>,
    stamps: &mut StampWriter<'_>,
    typed: Option<Typed<'_>>,
) {
    let first = &ops[0];
    w.varint(((t.record_index(first) as u64) << 1) | 1);
    stamps.put(w, &first.stamp, false);
    let slots: Vec<Slot<'_>> = ops
        .iter()
        .filter_map(|o| slot(&o.field, typed.is_some()))
        .collect();
    let fields: Vec<usize> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Field(c) => Some(*c),
            _ => None,
        })
        .collect();
    put_bitmap(w, &fields);
    // Sections, each with its entries (in order of first use) and their fields.
    let mut sections: Vec<(usize, Vec<EntryFields<'_>>)> = Vec::new();
    for s in &slots {
        let Slot::Entry {
            section,
            uid,
            field,
        } = *s
        else {
            continue;
        };
        let pos = match sections.iter().position(|(c, _)| *c == section) {
            Some(p) => p,
            None => {
                sections.push((section, Vec::new()));
                sections.len() - 1
            }
        };
        let entries = &mut sections[pos].1;
        match entries.iter_mut().find(|(u, _)| *u == uid) {
            Some((_, f)) => f.push(field),
            None => entries.push((uid, vec![field])),
        }
    }
    w.varint(sections.len() as u64);
    for (section, entries) in &sections {
        w.varint(*section as u64);
        w.varint(entries.len() as u64);
        for (uid, fields) in entries {
            w.varint(t.entries.iter().position(|e| e == uid).unwrap_or(0) as u64);
            put_bitmap(w, fields);
        }
        if typed.is_some() {
            // The section's order register, as positions among its entries (0: none).
            let order = ops
                .iter()
                .find(|o| slot(&o.field, true) == Some(Slot::Order(*section)))
                .and_then(|o| order_positions(o, ops));
            match order {
                Some(positions) => {
                    w.varint(positions.len() as u64 + 1);
                    for p in positions {
                        w.varint(p as u64);
                    }
                }
                None => w.varint(0),
            }
        }
    }
    for op in ops {
        match typed {
            Some(form) => {
                if !matches!(slot(&op.field, true), Some(Slot::Order(_))) {
                    put_typed_value(w, &op.value, op.record, &op.field, form);
                }
            }
            None => put_record_value(w, &op.value, op.record),
        }
    }
}

fn read_record_segment(
    r: &mut Reader<'_>,
    head: u64,
    t: &ReadTables,
    stamps: &mut StampReader<'_>,
    ops: &mut Vec<Op>,
    typed: Option<Typed<'_>>,
) -> Result<(), DecodeError> {
    let idx = usize::try_from(head >> 1).map_err(|_| DecodeError::Range)?;
    let (kind, record) = *t.records.get(idx).ok_or(DecodeError::Range)?;
    let (stamp, flag) = stamps.get(r)?;
    if flag {
        return Err(DecodeError::Range);
    }
    let mut paths: Vec<String> = bitmap(r)?
        .into_iter()
        .filter_map(|c| FIELDS.get(c).map(|f| (*f).to_string()))
        .collect();
    // Order registers: their values travel with the sections, not among the values.
    let mut orders: Vec<(String, FieldValue)> = Vec::new();
    let sections = r.len(r.remaining())?;
    for _ in 0..sections {
        let section = FIELDS
            .get(usize::try_from(r.varint()?).map_err(|_| DecodeError::Range)?)
            .ok_or(DecodeError::Range)?;
        let entries = r.len(r.remaining())?;
        let mut uids: Vec<&str> = Vec::with_capacity(entries);
        for _ in 0..entries {
            let e = usize::try_from(r.varint()?).map_err(|_| DecodeError::Range)?;
            let uid = t.entries.get(e).ok_or(DecodeError::Range)?;
            uids.push(uid);
            for c in bitmap(r)? {
                if paths.len() >= MAX_OPS {
                    return Err(DecodeError::TooLarge);
                }
                let field = FIELDS.get(c).ok_or(DecodeError::Range)?;
                paths.push(format!("{section}[{uid}].{field}"));
            }
        }
        if typed.is_some() {
            let k = r.len(r.remaining().saturating_add(1))?;
            if k > 0 {
                let mut order = Vec::with_capacity(k - 1);
                for _ in 1..k {
                    let p = usize::try_from(r.varint()?).map_err(|_| DecodeError::Range)?;
                    order.push((*uids.get(p).ok_or(DecodeError::Range)?).to_string());
                }
                if order.is_empty() {
                    return Err(DecodeError::Range);
                }
                let path = format!("{section}[]");
                paths.push(path.clone());
                orders.push((path, FieldValue::List(order)));
            }
        }
    }
    // The encoder only writes paths in ascending order, each once: so are they read.
    paths.sort_unstable();
    if paths.windows(2).any(|w| w[0] == w[1]) || paths.len() < MIN_RECORD_OPS {
        return Err(DecodeError::Range);
    }
    for field in paths {
        if ops.len() >= MAX_OPS {
            return Err(DecodeError::TooLarge);
        }
        let value = match typed {
            Some(form) => match orders.iter().position(|(p, _)| *p == field) {
                Some(i) => orders.swap_remove(i).1,
                None => typed_value(r, record, &field, form)?,
            },
            None => record_value(r, record)?,
        };
        ops.push(Op {
            kind,
            record,
            field,
            value,
            stamp,
            supersedes: Vec::new(),
        });
    }
    Ok(())
}

/// Encodes a batch in the record form when it holds at least one whole record's save that
/// the form can carry ([`MIN_RECORD_OPS`] fields or more, one stamp, paths in order);
/// `None` when the operation form ([`encode_ops`]) is all it would be.
pub fn encode_records(ops: &[Op]) -> Option<Vec<u8>> {
    let mut w = Writer::new();
    put_segments(&mut w, ops, None).then(|| w.into_bytes())
}

/// The segments of a batch in the record form (plain, or typed with the form given); false
/// when no segment is a record's.
fn put_segments(w: &mut Writer, ops: &[Op], typed: Option<Typed<'_>>) -> bool {
    // Segments: (is a record, range).
    let mut segments: Vec<(bool, std::ops::Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let n = record_run(&ops[i..], typed.is_some());
        if n >= MIN_RECORD_OPS {
            segments.push((true, i..i + n));
            i += n;
            continue;
        }
        let n = n.max(1);
        match segments.last_mut() {
            Some((false, range)) => range.end = i + n,
            _ => segments.push((false, i..i + n)),
        }
        i += n;
    }
    if !segments.iter().any(|(record, _)| *record) {
        return false;
    }
    let relative = typed.is_some_and(|f| f.relative);
    let t = Tables::of(ops);
    t.put(w, relative);
    w.varint(segments.len() as u64);
    let origin = if relative { t.origin() } else { 0 };
    let mut stamps = StampWriter {
        devices: &t.devices,
        prev: (origin, 0),
    };
    for (record, range) in segments {
        let part = &ops[range];
        if record {
            put_record_segment(w, part, &t, &mut stamps, typed);
        } else {
            w.varint((part.len() as u64) << 1);
            put_runs(w, part, &t, &mut stamps, typed);
        }
    }
    true
}

/// Decodes a batch in the record form; every byte must belong to it.
pub fn decode_records(bytes: &[u8]) -> Result<Vec<Op>, DecodeError> {
    let mut r = Reader::new(bytes);
    let ops = read_segments(&mut r, None)?;
    r.finish()?;
    Ok(ops)
}

fn read_segments(r: &mut Reader<'_>, typed: Option<Typed<'_>>) -> Result<Vec<Op>, DecodeError> {
    let relative = typed.is_some_and(|f| f.relative);
    let t = read_tables(r, relative)?;
    // A segment takes at least two bytes.
    let n = r.len(r.remaining() / 2)?;
    let mut ops = Vec::new();
    let origin = if relative { t.origin() } else { 0 };
    let mut stamps = StampReader {
        devices: &t.devices,
        prev: (origin, 0),
    };
    for _ in 0..n {
        let head = r.varint()?;
        if head & 1 == 1 {
            read_record_segment(r, head, &t, &mut stamps, &mut ops, typed)?;
        } else {
            let count = usize::try_from(head >> 1).map_err(|_| DecodeError::Range)?;
            // An op takes at least two bytes.
            if count == 0 || count > r.remaining() / 2 || ops.len() + count > MAX_OPS {
                return Err(DecodeError::TooLarge);
            }
            read_runs(r, count, &t, &mut stamps, &mut ops, typed)?;
        }
    }
    Ok(ops)
}

// The typed record form (body tag 7): the record form, with each field of a known shape
// ([`dict::shape`]) written as one varint without a type header — dates as days from
// [`dict::DATE_EPOCH_DAY`], ages as plain numbers, words as codes of their table, lists of
// words as a count and codes — and a subform's order register as positions among the
// segment's entries. With a deployment's code book both ends agreed on ([`crate::codes`]),
// location codes, nationalities, languages and the like are codes of that book; the body
// then names the book by its digest's prefix.

/// The typed form's context: the code book in use, if any, and whether stamps count from
/// the batch's first record's time.
#[derive(Debug, Clone, Copy)]
struct Typed<'a> {
    book: Option<&'a CodeBook>,
    relative: bool,
}

/// Operations regrouped save by save — by record, then stamp, then path — the order in
/// which the record form carries a record's history in the fewest segments (a document's
/// own order is by path, its saves interleaved). Operations commute, so the receiver ends
/// with the same document.
pub fn by_save(mut ops: Vec<Op>) -> Vec<Op> {
    ops.sort_by(|a, b| {
        (kind_code(a.kind), a.record, a.stamp, &a.field).cmp(&(
            kind_code(b.kind),
            b.record,
            b.stamp,
            &b.field,
        ))
    });
    ops
}

/// The creation time a UUIDv7 record id carries (milliseconds since the Unix epoch; 0 for
/// an id of another version, as imported records may have). A registration mints its id
/// and stamps its save at the same moment, so its stamp is "the id's time" in one byte.
fn id_time_ms(id: RecordId) -> u64 {
    if id.0.get_version_num() != 7 {
        return 0;
    }
    let b = id.as_bytes();
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// A table of words: the book's, when it holds the table, else the protocol's values.
enum Words<'a> {
    Values,
    Book(&'a CodeBook, &'static str),
}

impl Words<'_> {
    fn of<'a>(form: Typed<'a>, table: &'static str) -> Words<'a> {
        match form.book {
            Some(b) if !table.is_empty() && b.has(table) => Words::Book(b, table),
            _ => Words::Values,
        }
    }

    fn code(&self, word: &str) -> Option<usize> {
        match self {
            Words::Values => dict::code(VALUES, word),
            Words::Book(b, t) => b.code(t, word),
        }
    }

    fn word(&self, code: usize) -> Option<&str> {
        match self {
            Words::Values => VALUES.get(code).copied(),
            Words::Book(b, t) => b.value(t, code),
        }
    }
}

/// The field name a path ends with.
fn leaf(path: &str) -> &str {
    path.rsplit_once("].").map_or(path, |(_, f)| f)
}

fn put_text(w: &mut Writer, shift: u32, flag: u64, s: &str) {
    w.varint(((s.len() as u64) << shift) | flag);
    w.raw(s.as_bytes());
}

/// Writes a value in the typed form: shaped values as one varint with the low bit set (or
/// for words the low two bits their form), anything else `0` and the value as in the
/// record form.
fn put_typed_value(w: &mut Writer, v: &FieldValue, id: RecordId, path: &str, form: Typed<'_>) {
    let day = match v {
        FieldValue::Text(s) => iso_day(s),
        _ => None,
    };
    match (dict::shape(leaf(path)), v) {
        (Some(Shape::Date), FieldValue::Text(_)) if day.is_some() => {
            let day = day.unwrap_or(dict::DATE_EPOCH_DAY);
            w.varint((zz(day - dict::DATE_EPOCH_DAY) << 1) | 1);
        }
        (Some(Shape::Count), FieldValue::Int(i)) if *i >= 0 => {
            w.varint(((*i as u64) << 1) | 1);
        }
        (Some(Shape::Words(table)), FieldValue::Text(s)) => match Words::of(form, table).code(s) {
            Some(c) => w.varint(((c as u64) << 2) | 1),
            None => put_text(w, 2, 2, s),
        },
        (Some(Shape::Words(table)), FieldValue::List(items)) => {
            let words = Words::of(form, table);
            w.varint(((items.len() as u64) << 2) | 3);
            for item in items {
                match words.code(item) {
                    Some(c) => w.varint(((c as u64) << 1) | 1),
                    None => put_text(w, 1, 0, item),
                }
            }
        }
        (Some(_), _) => {
            w.varint(0);
            put_record_value(w, v, id);
        }
        (None, _) => put_record_value(w, v, id),
    }
}

fn text_of(r: &mut Reader<'_>, n: u64) -> Result<String, DecodeError> {
    let n = usize::try_from(n).map_err(|_| DecodeError::TooLarge)?;
    if n > r.remaining() {
        return Err(DecodeError::TooLarge);
    }
    Ok(std::str::from_utf8(r.raw(n)?)
        .map_err(|_| DecodeError::Utf8)?
        .to_string())
}

/// Reads a value written by [`put_typed_value`].
fn typed_value(
    r: &mut Reader<'_>,
    id: RecordId,
    path: &str,
    form: Typed<'_>,
) -> Result<FieldValue, DecodeError> {
    let Some(shape) = dict::shape(leaf(path)) else {
        return record_value(r, id);
    };
    let v = r.varint()?;
    if v == 0 {
        return record_value(r, id);
    }
    let bad = || DecodeError::Tag(v);
    Ok(match shape {
        Shape::Date if v & 1 == 1 => {
            let day = unzz(v >> 1)
                .checked_add(dict::DATE_EPOCH_DAY)
                .ok_or(DecodeError::Range)?;
            let date = Date::from_days_since_epoch(day);
            if date.days_since_epoch() != day {
                return Err(DecodeError::Range);
            }
            FieldValue::Text(date.to_string())
        }
        Shape::Count if v & 1 == 1 => {
            FieldValue::Int(i64::try_from(v >> 1).map_err(|_| DecodeError::Range)?)
        }
        Shape::Words(table) => {
            let words = Words::of(form, table);
            match v & 3 {
                1 => {
                    let c = usize::try_from(v >> 2).map_err(|_| DecodeError::Range)?;
                    FieldValue::Text(words.word(c).ok_or(bad())?.to_string())
                }
                2 => FieldValue::Text(text_of(r, v >> 2)?),
                3 => {
                    // Each item takes at least one byte.
                    let n = usize::try_from(v >> 2).map_err(|_| DecodeError::TooLarge)?;
                    if n > r.remaining() {
                        return Err(DecodeError::TooLarge);
                    }
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        let i = r.varint()?;
                        if i & 1 == 1 {
                            let c = usize::try_from(i >> 1).map_err(|_| DecodeError::Range)?;
                            items.push(words.word(c).ok_or(DecodeError::Tag(i))?.to_string());
                        } else {
                            items.push(text_of(r, i >> 1)?);
                        }
                    }
                    FieldValue::List(items)
                }
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    })
}

/// The typed form's header, a varint of flags: [`TYPED_BOOK`] (the book's digest prefix
/// follows) and [`TYPED_RELATIVE`]. Version 3 wrote `0` or `1` (stamps from zero); they
/// still decode, so messages queued before an upgrade keep their bytes.
const TYPED_BOOK: u64 = 1;
/// Stamps count from the creation time of the batch's first record ([`id_time_ms`]) rather
/// than from zero: a registration's stamp takes one byte instead of about eight. Written
/// from protocol version 4 on (a hub is upgraded before its kits).
const TYPED_RELATIVE: u64 = 2;
/// Every flag this version reads.
const TYPED_FLAGS: u64 = TYPED_BOOK | TYPED_RELATIVE;

/// Encodes a batch in the typed record form (body tag 7), with `book`'s codes when given:
/// give only a book the receiver announced it reads. `None` when the batch holds no whole
/// record's save (send it in the operation form).
pub fn encode_typed(ops: &[Op], book: Option<&CodeBook>) -> Option<Vec<u8>> {
    encode_typed_as(ops, book, true)
}

/// The typed form with stamps relative to the first record's time, or (`relative` false)
/// as protocol version 3 wrote it.
fn encode_typed_as(ops: &[Op], book: Option<&CodeBook>, relative: bool) -> Option<Vec<u8>> {
    let book = book.filter(|b| !b.is_empty());
    let mut w = Writer::new();
    let flags = if relative { TYPED_RELATIVE } else { 0 };
    match book {
        Some(b) => {
            w.varint(flags | TYPED_BOOK);
            w.raw(&b.prefix());
        }
        None => w.varint(flags),
    }
    let form = Typed { book, relative };
    put_segments(&mut w, ops, Some(form)).then(|| w.into_bytes())
}

/// Decodes a batch in the typed record form, finding its code book, if it names one, among
/// `books` ([`DecodeError::UnknownCodeList`] when none is that book).
pub fn decode_typed(bytes: &[u8], books: &CodeBooks) -> Result<Vec<Op>, DecodeError> {
    decode_typed_listed(bytes, books).map(|(ops, _)| ops)
}

/// As [`decode_typed`], also giving the digest of the code list the batch was coded with
/// when its sender writes version 4 of the form: such a sender reads messages coded with
/// that list too (a kit keeps every list it coded with), so the hub may code what it sends
/// that kit with it. `None` for text, and for a version-3 sender (which reads no coded
/// message).
pub fn decode_typed_listed(
    bytes: &[u8],
    books: &CodeBooks,
) -> Result<(Vec<Op>, Option<CodeDigest>), DecodeError> {
    let mut r = Reader::new(bytes);
    let flags = r.varint()?;
    if flags & !TYPED_FLAGS != 0 {
        return Err(DecodeError::Tag(flags));
    }
    let book = if flags & TYPED_BOOK != 0 {
        let prefix = r.array::<PREFIX>()?;
        Some(
            books
                .find(prefix)
                .ok_or(DecodeError::UnknownCodeList(prefix))?,
        )
    } else {
        None
    };
    let form = Typed {
        book,
        relative: flags & TYPED_RELATIVE != 0,
    };
    let ops = read_segments(&mut r, Some(form))?;
    r.finish()?;
    let listed = book.filter(|_| form.relative).map(CodeBook::digest);
    Ok((ops, listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(wall_ms: u64, counter: u32, device: u64) -> Hlc {
        Hlc {
            wall_ms,
            counter,
            device: DeviceId(device),
        }
    }

    #[test]
    fn a_batch_round_trips_with_subform_paths_dates_and_lists() {
        let id = RecordId::from_bytes([7; 16]);
        let uuid = "0191c2d4-3b5e-7a00-8000-000000000001";
        let s = stamp(1_780_000_000_000, 0, 0xabc);
        let ops = vec![
            Op {
                kind: RecordKind::Case,
                record: id,
                field: "name".into(),
                value: FieldValue::Text("Amina Yusuf".into()),
                stamp: s,
                supersedes: vec![],
            },
            Op {
                kind: RecordKind::Case,
                record: id,
                field: "date_of_birth".into(),
                value: FieldValue::Text("2014-03-09".into()),
                stamp: s,
                supersedes: vec![],
            },
            Op {
                kind: RecordKind::Case,
                record: id,
                field: format!("family_details_section[{uuid}].relation"),
                value: FieldValue::Text("mother".into()),
                stamp: stamp(s.wall_ms, 1, 0xabc),
                supersedes: vec![stamp(1, 2, 0xdef)],
            },
            Op {
                kind: RecordKind::Case,
                record: id,
                field: "family_details_section[a1b2-0].relation_name".into(),
                value: FieldValue::Text("Halima".into()),
                stamp: stamp(s.wall_ms - 5, 9, 0xabc),
                supersedes: vec![],
            },
            Op {
                kind: RecordKind::Case,
                record: id,
                field: "protection_concerns".into(),
                value: FieldValue::List(vec!["separated".into(), "a new concern".into()]),
                stamp: s,
                supersedes: vec![],
            },
            Op {
                kind: RecordKind::Case,
                record: id,
                field: "x_custom[1]".into(),
                value: FieldValue::Json("{\"a\":1}".into()),
                stamp: s,
                supersedes: vec![],
            },
            Op {
                kind: RecordKind::Case,
                record: id,
                field: "date_of_separation".into(),
                // Not canonical ISO: must stay text.
                value: FieldValue::Text("2024-1-05".into()),
                stamp: s,
                supersedes: vec![],
            },
        ];
        let bytes = encode_ops(&ops);
        assert_eq!(decode_ops(&bytes), Ok(ops));
    }

    /// A registration as a kit saves it: the id, each family entry's id and the stamp all
    /// from one moment.
    fn registration(device: u64) -> Vec<Op> {
        let now = 1_780_000_123_456;
        let id = RecordId::mint(now, [3; 10]);
        let s = stamp(now, 0, device);
        let mut ops: Vec<Op> = [
            ("age", FieldValue::Int(9)),
            ("case_id_display", FieldValue::Text(id.short())),
            ("date_of_birth", FieldValue::Text("2017-03-09".into())),
            ("name", FieldValue::Text("Amina Yusuf".into())),
            ("sex", FieldValue::Text("female".into())),
            ("status", FieldValue::Text("open".into())),
        ]
        .into_iter()
        .map(|(f, v)| Op {
            kind: RecordKind::Case,
            record: id,
            field: f.into(),
            value: v,
            stamp: s,
            supersedes: vec![],
        })
        .collect();
        for (i, uid) in [
            RecordId::mint(now, [4; 10]).to_string(),
            // Minted a millisecond later, and one imported from Primero (version 4).
            RecordId::mint(now + 1, [5; 10]).to_string(),
            "6f1c0b5e-3d2a-4c1b-9e8f-0a1b2c3d4e5f".to_string(),
        ]
        .iter()
        .enumerate()
        {
            ops.push(Op {
                kind: RecordKind::Case,
                record: id,
                field: format!("family_details_section[{uid}].relation_age"),
                value: FieldValue::Int(30 + i as i64),
                stamp: s,
                supersedes: vec![],
            });
        }
        ops.sort_by(|a, b| a.field.cmp(&b.field));
        ops
    }

    #[test]
    fn stamps_and_entry_ids_minted_with_the_record_take_a_byte_or_so() {
        let ops = registration(0xabc);
        let relative = encode_typed(&ops, None).expect("a record");
        let v3 = encode_typed_as(&ops, None, false).expect("a record");
        assert_eq!(relative[0], TYPED_RELATIVE as u8);
        assert_eq!(v3[0], 0);
        // The stamp (about 7 bytes from zero) and the entry minted with the record (6 bytes
        // of its time) are gone.
        assert!(
            relative.len() + 12 <= v3.len(),
            "{} vs {}",
            relative.len(),
            v3.len()
        );
        let books = CodeBooks::new();
        assert_eq!(decode_typed(&relative, &books), Ok(ops.clone()));
        // What version 3 wrote (queued in an outbox before an upgrade) still decodes.
        assert_eq!(decode_typed(&v3, &books), Ok(ops.clone()));
        // A record whose id is not a UUIDv7 counts from zero, and still round-trips.
        let mut other = ops.clone();
        for op in &mut other {
            op.record = RecordId::from_bytes([0x11; 16]);
        }
        let bytes = encode_typed(&other, None).expect("a record");
        assert_eq!(decode_typed(&bytes, &books), Ok(other));
        // A flag this version does not know is refused.
        let mut unknown = relative.clone();
        unknown[0] |= 4;
        assert_eq!(decode_typed(&unknown, &books), Err(DecodeError::Tag(6)));
    }
}

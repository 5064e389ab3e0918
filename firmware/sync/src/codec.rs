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

use crate::dict::{self, FIELDS, VALUES};
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

/// A subform entry id: `1` and 16 bytes for a UUID in its canonical text, else
/// `(len << 1)` and the text.
fn put_entry(w: &mut Writer, uid: &str) {
    match Uuid::parse_str(uid) {
        Ok(u) if u.hyphenated().to_string() == uid => {
            w.varint(1);
            w.raw(u.as_bytes());
        }
        _ => {
            w.varint((uid.len() as u64) << 1);
            w.raw(uid.as_bytes());
        }
    }
}

fn entry(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let u = r.varint()?;
    if u == 1 {
        return Ok(Uuid::from_bytes(r.array::<16>()?).hyphenated().to_string());
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

/// Encodes a batch of operations.
pub fn encode_ops(ops: &[Op]) -> Vec<u8> {
    let mut devices: Vec<DeviceId> = Vec::new();
    let mut records: Vec<(RecordKind, RecordId)> = Vec::new();
    let mut entries: Vec<&str> = Vec::new();
    for op in ops {
        for s in std::iter::once(&op.stamp).chain(&op.supersedes) {
            if !devices.contains(&s.device) {
                devices.push(s.device);
            }
        }
        if !records.contains(&(op.kind, op.record)) {
            records.push((op.kind, op.record));
        }
        if let Some((_, uid, _)) = subform_path(&op.field)
            && !entries.contains(&uid)
        {
            entries.push(uid);
        }
    }
    let mut w = Writer::new();
    w.varint(devices.len() as u64);
    for d in &devices {
        w.raw(&d.0.to_le_bytes());
    }
    w.varint(records.len() as u64);
    for (k, id) in &records {
        put_record(&mut w, *k, *id);
    }
    w.varint(entries.len() as u64);
    for e in &entries {
        put_entry(&mut w, e);
    }
    w.varint(ops.len() as u64);
    let mut stamps = StampWriter {
        devices: &devices,
        prev: (0, 0),
    };
    // Runs of consecutive ops that share a stamp (one save stamps all its fields alike)
    // and either all or none supersede something: the stamp is written once per run.
    let mut i = 0;
    while i < ops.len() {
        let first = &ops[i];
        let has_sup = !first.supersedes.is_empty();
        let run = ops[i..]
            .iter()
            .take_while(|o| o.stamp == first.stamp && o.supersedes.is_empty() != has_sup)
            .count();
        w.varint(run as u64);
        stamps.put(&mut w, &first.stamp, has_sup);
        for op in &ops[i..i + run] {
            if records.len() > 1 {
                let idx = records
                    .iter()
                    .position(|r| *r == (op.kind, op.record))
                    .unwrap_or(0);
                w.varint(idx as u64);
            }
            put_path(&mut w, &op.field, &entries);
            put_value(&mut w, &op.value);
            if has_sup {
                w.varint(op.supersedes.len() as u64);
                for s in &op.supersedes {
                    stamps.put(&mut w, s, false);
                }
                // The run's stamp stays the reference for the next op's supersedes.
                stamps.prev = (first.stamp.wall_ms, first.stamp.counter);
            }
        }
        i += run;
    }
    w.into_bytes()
}

/// Decodes a batch of operations; every byte must belong to it.
pub fn decode_ops(bytes: &[u8]) -> Result<Vec<Op>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.len(r.remaining() / 8)?;
    let mut devices = Vec::with_capacity(n);
    for _ in 0..n {
        devices.push(DeviceId(u64::from_le_bytes(r.array::<8>()?)));
    }
    let n = r.len(r.remaining() / 17)?;
    let mut records = Vec::with_capacity(n);
    for _ in 0..n {
        records.push(record(&mut r)?);
    }
    let n = r.len(r.remaining())?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(entry(&mut r)?);
    }
    // An op takes at least two bytes.
    let n = r.len(MAX_OPS.min(r.remaining() / 2))?;
    let mut ops = Vec::with_capacity(n);
    let mut stamps = StampReader {
        devices: &devices,
        prev: (0, 0),
    };
    while ops.len() < n {
        let run = r.len(n - ops.len())?;
        if run == 0 {
            return Err(DecodeError::Range);
        }
        let (stamp, has_sup) = stamps.get(&mut r)?;
        for _ in 0..run {
            let idx = if records.len() > 1 {
                usize::try_from(r.varint()?).map_err(|_| DecodeError::Range)?
            } else {
                0
            };
            let (kind, record) = *records.get(idx).ok_or(DecodeError::Range)?;
            let field = path(&mut r, &entries)?;
            let value = value(&mut r)?;
            let mut supersedes = Vec::new();
            if has_sup {
                let m = r.len(MAX_SUPERSEDES.min(r.remaining()))?;
                if m == 0 {
                    return Err(DecodeError::Range);
                }
                supersedes.reserve(m);
                for _ in 0..m {
                    let (s, flag) = stamps.get(&mut r)?;
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
    r.finish()?;
    Ok(ops)
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
}

//! The warm index kept between sign-ins: a sealed snapshot in the vault, brought up to date at
//! sign-in from the records that changed since it was taken.
//!
//! Why: building the index reads and decrypts every case and tracing request and profiles each
//! one (about 1.3 s of CPU at 50,000 cases, more under load), which a kiosk pays once a day
//! but a one-shot command (`fieldkit case add`, a script importing one record) paid on every
//! run. Candidates from the vault's blind index were the other way considered: they hold no
//! relatives' names for cases (a match on the mother's name would be missed), they give no
//! name frequencies (scores would differ from the kiosk's), and each candidate costs a
//! decryption plus the buckets' false positives. A snapshot proposes exactly what the warm
//! index proposes, because it *is* the warm index: its compact profiles, fingerprints and
//! name tokens, from which the blocking tables and name frequencies are rebuilt as the index's
//! own compaction rebuilds them (no record read, no name normalised).
//!
//! **Freshness without trust.** The snapshot keeps every case's and tracing request's version
//! as of when it was taken. At sign-in they are compared with the vault's own versions
//! (`Session::versions`, which the sealed manifest vouches for): a record new, changed or gone
//! since is read and taken in (or out) as a save would, so the index equals one built from the
//! vault now, whatever happened in between (another process, a restore, an older snapshot
//! swapped back: those only make more records differ). A snapshot is discarded when it was
//! made by another build ([`BUILD`]: any change to the code that makes profiles), for another
//! location tree, on another day (ages of records without a registration or inquiry date are
//! counted from `today`), or when more than a quarter of the records changed (a build is then
//! as quick). The vault seals it under a subkey of the data key and a key rotation deletes it.
//!
//! Layout: chunks of about [`CHUNK_BYTES`], each holding whole items; the first holds the
//! header (format, build, locations digest, day, section counts), the sections follow in order
//! (tokens, cases, traces, requests' traces, case versions, request versions). A chunk is
//! decrypted one at a time. Read strictly: anything short or out of place discards the
//! snapshot.

use std::collections::HashMap;

use fieldkit_domain::{Date, LocationTree, RecordId, Sex};
use fieldkit_match::names::{InlineAscii, NameToken};
use fieldkit_match::profile::Place;
use fieldkit_vault::WriteError;
use sha2::{Digest, Sha256};

use crate::compact::{Compact, Tokens};
use crate::index::{Fingerprint, MatchIndex, Parts, TraceRef};

/// The vault's name for the snapshot.
pub(crate) const NAME: &str = "match-index";

/// The build that made a snapshot: a digest of the sources profiles depend on (the matcher,
/// the domain, the kit core and `Cargo.lock`), made by `build.rs`. Profiles written by another
/// build may differ, so its snapshot is not used.
pub(crate) const BUILD: &str = env!("FIELDKIT_PROFILE_BUILD");

const MAGIC: &[u8] = b"fieldkit match index snapshot 1";

/// Target size of a chunk (each is sealed and read on its own).
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// The record versions a snapshot was taken at, in id order.
pub(crate) type Versions = Vec<(RecordId, u64)>;

/// A snapshot read back.
pub(crate) struct Loaded {
    pub(crate) parts: Parts,
    pub(crate) case_versions: Versions,
    pub(crate) request_versions: Versions,
}

/// What identifies the location tree profiles were made with (places are hashed paths).
pub(crate) fn locations_digest(tree: Option<&LocationTree>) -> [u8; 32] {
    let mut h = Sha256::new();
    match tree {
        None => h.update(b"code prefixes"),
        Some(t) => {
            let mut places: Vec<String> = t
                .iter()
                .map(|l| serde_json::to_string(l).unwrap_or_default())
                .collect();
            places.sort();
            for p in places {
                h.update(p.as_bytes());
                h.update([0]);
            }
        }
    }
    h.finalize().into()
}

/// Writes items into chunks, handing each full chunk to its sink (the vault seals and stores
/// it at once), so the snapshot is never whole in memory: it is saved at sign-out, when the
/// screen, the index and the vault's page cache are all resident.
pub(crate) struct Out<'s> {
    cur: Vec<u8>,
    sink: &'s mut dyn FnMut(&[u8]) -> Result<(), WriteError>,
    /// The first error the sink gave; nothing more is handed to it after one.
    failed: Option<WriteError>,
}

impl<'s> Out<'s> {
    fn new(sink: &'s mut dyn FnMut(&[u8]) -> Result<(), WriteError>) -> Out<'s> {
        Out {
            cur: Vec::with_capacity(CHUNK_BYTES + 4096),
            sink,
            failed: None,
        }
    }

    fn hand_over(&mut self) {
        if self.failed.is_none()
            && let Err(e) = (self.sink)(&self.cur)
        {
            self.failed = Some(e);
        }
        self.cur.clear();
    }

    /// Ends an item: a full chunk is handed over (items never span chunks).
    fn end_item(&mut self) {
        if self.cur.len() >= CHUNK_BYTES {
            self.hand_over();
        }
    }

    fn finish(mut self) -> Result<(), WriteError> {
        if !self.cur.is_empty() {
            self.hand_over();
        }
        self.failed.map_or(Ok(()), Err)
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.cur.push(v);
    }

    pub(crate) fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.cur.push(byte);
                return;
            }
            self.cur.push(byte | 0x80);
        }
    }

    pub(crate) fn signed(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.cur.extend_from_slice(b);
    }

    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.cur.extend_from_slice(b);
    }

    pub(crate) fn opt_signed(&mut self, v: Option<i64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.signed(v);
            }
        }
    }

    pub(crate) fn sex(&mut self, s: Option<Sex>) {
        self.u8(match s {
            None => 0,
            Some(Sex::Female) => 1,
            Some(Sex::Male) => 2,
            Some(Sex::Other) => 3,
            Some(Sex::Unknown) => 4,
        });
    }

    pub(crate) fn date(&mut self, d: Option<Date>) {
        self.opt_signed(d.map(|d| d.days_since_epoch()));
    }

    pub(crate) fn place(&mut self, p: &Place) {
        let (path, depth) = p.to_raw();
        self.u8(depth);
        for x in path {
            self.raw(&x.to_le_bytes());
        }
    }

    fn id(&mut self, id: RecordId) {
        self.raw(id.as_bytes());
    }
}

/// A snapshot item cut short or out of range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Short;

/// Reads what [`Out`] wrote: `None` (or [`Short`]) on anything short or out of range.
pub(crate) struct In<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    fn new(b: &'a [u8]) -> In<'a> {
        In { b, at: 0 }
    }

    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    pub(crate) fn len(&mut self) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        (n <= self.b.len().saturating_sub(self.at)).then_some(n)
    }

    pub(crate) fn signed(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub(crate) fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.b.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.raw(n)
    }

    pub(crate) fn opt_signed(&mut self) -> Result<Option<i64>, Short> {
        match self.u8().ok_or(Short)? {
            0 => Ok(None),
            1 => Ok(Some(self.signed().ok_or(Short)?)),
            _ => Err(Short),
        }
    }

    pub(crate) fn sex(&mut self) -> Result<Option<Sex>, Short> {
        Ok(match self.u8().ok_or(Short)? {
            0 => None,
            1 => Some(Sex::Female),
            2 => Some(Sex::Male),
            3 => Some(Sex::Other),
            4 => Some(Sex::Unknown),
            _ => return Err(Short),
        })
    }

    pub(crate) fn date(&mut self) -> Result<Option<Date>, Short> {
        Ok(self.opt_signed()?.map(Date::from_days_since_epoch))
    }

    pub(crate) fn place(&mut self) -> Option<Place> {
        let depth = self.u8()?;
        let mut path = [0u32; 4];
        for x in &mut path {
            *x = u32::from_le_bytes(self.raw(4)?.try_into().ok()?);
        }
        (depth <= 4).then(|| Place::from_raw(path, depth))
    }

    fn id(&mut self) -> Option<RecordId> {
        Some(RecordId::from_bytes(self.raw(16)?.try_into().ok()?))
    }

    fn fingerprint(&mut self) -> Option<Fingerprint> {
        self.raw(8)?.try_into().ok()
    }
}

fn write_token(o: &mut Out, t: &NameToken) {
    o.bytes(t.latin.as_bytes());
    o.bytes(t.skeleton.as_bytes());
    o.raw(&t.phonetic[0].to_le_bytes());
    o.raw(&t.phonetic[1].to_le_bytes());
    o.raw(&t.known.to_le_bytes());
    o.raw(&t.nickname_of.to_le_bytes());
}

fn read_token(i: &mut In<'_>) -> Option<NameToken> {
    let latin = i.bytes()?;
    let skeleton = i.bytes()?;
    let u32_of = |b: &[u8]| b.try_into().ok().map(u32::from_le_bytes);
    let p0 = u32_of(i.raw(4)?)?;
    let p1 = u32_of(i.raw(4)?)?;
    let known = u16::from_le_bytes(i.raw(2)?.try_into().ok()?);
    let nickname_of = u16::from_le_bytes(i.raw(2)?.try_into().ok()?);
    let t = NameToken {
        latin: InlineAscii::from_bytes(latin),
        skeleton: InlineAscii::from_bytes(skeleton),
        phonetic: [p0, p1],
        known,
        nickname_of,
    };
    // A token longer than the build keeps would come back cut: not this build's snapshot.
    (t.latin.len() == latin.len() && t.skeleton.len() == skeleton.len()).then_some(t)
}

/// Writes the snapshot of an index, with the record versions it is current at, chunk by chunk
/// into `sink`; stops handing chunks over at the sink's first error and returns it.
pub(crate) fn write(
    index: &MatchIndex,
    locations: &[u8; 32],
    case_versions: &[(RecordId, u64)],
    request_versions: &[(RecordId, u64)],
    sink: &mut dyn FnMut(&[u8]) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    let parts = index.parts();
    let mut o = Out::new(sink);
    o.raw(MAGIC);
    o.bytes(BUILD.as_bytes());
    o.raw(locations);
    o.signed(parts.today.days_since_epoch());
    for n in [
        parts.tokens.len(),
        parts.cases.len(),
        parts.traces.len(),
        parts.traces_of.len(),
        case_versions.len(),
        request_versions.len(),
    ] {
        o.varint(n as u64);
    }
    o.end_item();
    for t in parts.tokens.iter() {
        write_token(&mut o, t);
        o.end_item();
    }
    for (id, c, f) in &parts.cases {
        o.id(*id);
        o.raw(f);
        c.write_snapshot(&mut o);
        o.end_item();
    }
    for (t, c, f) in &parts.traces {
        o.id(t.tracing_request_id);
        o.bytes(t.trace_id.as_bytes());
        o.raw(f);
        c.write_snapshot(&mut o);
        o.end_item();
    }
    for (r, traces) in &parts.traces_of {
        o.id(*r);
        o.varint(traces.len() as u64);
        for t in traces.iter() {
            o.bytes(t.as_bytes());
        }
        o.end_item();
    }
    for (id, v) in case_versions.iter().chain(request_versions) {
        o.id(*id);
        o.varint(*v);
        o.end_item();
    }
    o.finish()
}

/// Reads a snapshot chunk by chunk (see the module documentation).
pub(crate) struct Reader {
    locations: [u8; 32],
    today: Date,
    /// Items left per section; `None` until the header is read.
    left: Option<[usize; 6]>,
    tokens: Tokens,
    cases: Vec<(RecordId, Compact, Fingerprint)>,
    traces: Vec<(TraceRef, Compact, Fingerprint)>,
    traces_of: Vec<(RecordId, Vec<String>)>,
    case_versions: Versions,
    request_versions: Versions,
    /// Why the snapshot was discarded, for the log.
    pub(crate) refused: Option<&'static str>,
}

impl Reader {
    pub(crate) fn new(locations: [u8; 32], today: Date) -> Reader {
        Reader {
            locations,
            today,
            left: None,
            tokens: Tokens::default(),
            cases: Vec::new(),
            traces: Vec::new(),
            traces_of: Vec::new(),
            case_versions: Vec::new(),
            request_versions: Vec::new(),
            refused: None,
        }
    }

    /// Takes one chunk; false (with `refused` set) discards the snapshot.
    pub(crate) fn chunk(&mut self, bytes: &[u8]) -> bool {
        let mut i = In::new(bytes);
        match self.items(&mut i) {
            Ok(()) => true,
            Err(why) => {
                self.refused = Some(why);
                false
            }
        }
    }

    fn items(&mut self, i: &mut In<'_>) -> Result<(), &'static str> {
        const SHORT: &str = "damaged";
        if self.left.is_none() {
            if i.raw(MAGIC.len()) != Some(MAGIC) {
                return Err("of another format");
            }
            if i.bytes() != Some(BUILD.as_bytes()) {
                return Err("made by another build");
            }
            if i.raw(32) != Some(self.locations.as_slice()) {
                return Err("made with other locations");
            }
            let day = i.signed().ok_or(SHORT)?;
            if day != self.today.days_since_epoch() {
                return Err("of another day");
            }
            let mut left = [0usize; 6];
            for n in &mut left {
                *n = usize::try_from(i.varint().ok_or(SHORT)?).map_err(|_| SHORT)?;
            }
            self.cases.reserve(left[1].min(1 << 20));
            self.traces.reserve(left[2].min(1 << 20));
            self.left = Some(left);
        }
        while !i.done() {
            let Some(left) = self.left.as_mut() else {
                return Err(SHORT);
            };
            let Some(section) = left.iter().position(|n| *n > 0) else {
                return Err("longer than its header says");
            };
            left[section] -= 1;
            match section {
                0 => {
                    let t = read_token(i).ok_or(SHORT)?;
                    self.tokens.push(t);
                }
                1 => {
                    let id = i.id().ok_or(SHORT)?;
                    let f = i.fingerprint().ok_or(SHORT)?;
                    let c = Compact::read_snapshot(i).ok_or(SHORT)?;
                    self.cases.push((id, c, f));
                }
                2 => {
                    let r = i.id().ok_or(SHORT)?;
                    let t =
                        String::from_utf8(i.bytes().ok_or(SHORT)?.to_vec()).map_err(|_| SHORT)?;
                    let f = i.fingerprint().ok_or(SHORT)?;
                    let c = Compact::read_snapshot(i).ok_or(SHORT)?;
                    let key = TraceRef {
                        tracing_request_id: r,
                        trace_id: t,
                    };
                    self.traces.push((key, c, f));
                }
                3 => {
                    let r = i.id().ok_or(SHORT)?;
                    let n = i.len().ok_or(SHORT)?;
                    let mut ts = Vec::with_capacity(n);
                    for _ in 0..n {
                        let t = String::from_utf8(i.bytes().ok_or(SHORT)?.to_vec())
                            .map_err(|_| SHORT)?;
                        ts.push(t);
                    }
                    self.traces_of.push((r, ts));
                }
                _ => {
                    let id = i.id().ok_or(SHORT)?;
                    let v = i.varint().ok_or(SHORT)?;
                    let list = if section == 4 {
                        &mut self.case_versions
                    } else {
                        &mut self.request_versions
                    };
                    if list.last().is_some_and(|(last, _)| *last >= id) {
                        return Err("versions out of order");
                    }
                    list.push((id, v));
                }
            }
        }
        Ok(())
    }

    /// The snapshot, when every section was read whole.
    pub(crate) fn finish(self) -> Option<Loaded> {
        if self.left != Some([0; 6]) {
            return None;
        }
        Some(Loaded {
            parts: Parts {
                today: self.today,
                tokens: self.tokens,
                cases: self.cases,
                traces: self.traces,
                traces_of: self.traces_of,
            },
            case_versions: self.case_versions,
            request_versions: self.request_versions,
        })
    }
}

/// The records that differ between the versions a snapshot was taken at and the vault's now:
/// (new or changed, gone).
pub(crate) fn changed(
    then: &[(RecordId, u64)],
    now: &[(RecordId, u64)],
) -> (Vec<RecordId>, Vec<RecordId>) {
    let before: HashMap<RecordId, u64> = then.iter().copied().collect();
    let mut new_or_changed = Vec::new();
    for (id, v) in now {
        if before.get(id) != Some(v) {
            new_or_changed.push(*id);
        }
    }
    let current: std::collections::HashSet<RecordId> = now.iter().map(|(id, _)| *id).collect();
    let gone = then
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !current.contains(id))
        .collect();
    (new_or_changed, gone)
}

//! What kits and the hub say to each other: urgent alerts, match notices, review decisions,
//! batches of field-level operations and status reports, with their priorities.
//!
//! A message is a body tag and the body's bytes, DEFLATE-compressed against the protocol's
//! preset dictionary ([`crate::primer`]) when that makes them shorter (raw DEFLATE through
//! `miniz_oxide`, pure Rust, no C library to cross-build).
//! Inflating is capped at [`MAX_MESSAGE`] so a small frame cannot expand into memory
//! exhaustion.

use fieldkit_domain::{Op, RecordId, RecordKind};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::codes::{CodeBook, CodeBooks, CodeDigest};
use crate::dict::{FIELDS, VALUES};
use crate::wire::{DecodeError, Reader, Writer};

/// Largest message, inflated.
pub const MAX_MESSAGE: usize = 4 << 20;

/// Which message goes first. Lower sends first: an urgent alert never waits behind records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    /// A child at immediate risk.
    Urgent,
    /// A potential match found, for the caseworkers of both sides.
    MatchNotice,
    /// A caseworker confirmed or rejected a match, or a case was transferred.
    Review,
    /// Records' field-level operations.
    Records,
    /// Status reports and anything else that can wait for surplus power.
    Bulk,
}

/// An urgent alert: a child registered at immediate risk. Sized to travel alone in one LoRa
/// frame at SF10–12 (51 bytes with the frame's overhead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record.
    pub record: RecordId,
    /// Risk level word (`high` …), as Primero stores it.
    pub risk: String,
    /// Protection concern ids.
    pub concerns: Vec<String>,
    /// When it was raised, minutes since the Unix epoch (sent to the minute from 2024 on).
    pub raised_min: u32,
}

/// One field's contribution to a potential match, for the caseworker to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Primero field name (or group).
    pub field: String,
    /// Weight in hundredths of a bit.
    pub weight_centibits: i32,
    /// What was compared, in words.
    pub detail: String,
}

/// A potential match between a registered child and a trace of a tracing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchNotice {
    /// The case.
    pub case: RecordId,
    /// The tracing request.
    pub tracing_request: RecordId,
    /// The trace's `unique_id`.
    pub trace: String,
    /// `likely` or `possible`.
    pub likelihood: String,
    /// Total weight in hundredths of a bit.
    pub score_centibits: i32,
    /// Field-by-field explanation.
    pub evidence: Vec<Evidence>,
}

/// A caseworker's decision on a potential match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDecision {
    /// The case.
    pub case: RecordId,
    /// The tracing request.
    pub tracing_request: RecordId,
    /// The trace's `unique_id`.
    pub trace: String,
    /// Confirmed (true) or rejected.
    pub confirmed: bool,
    /// Who decided (caseworker user name).
    pub by: String,
    /// When, minutes since the Unix epoch.
    pub at_min: u32,
}

/// What a kit tells the hub about its vault, so a rolled-back vault is noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The vault's commit counter.
    pub commits: u64,
    /// The audit chain's head.
    pub audit_head: [u8; 32],
    /// Records held.
    pub records: u64,
}

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// An urgent alert.
    Alert(Alert),
    /// A potential match.
    MatchNotice(MatchNotice),
    /// A decision on a match.
    Review(ReviewDecision),
    /// Field-level operations.
    Ops(Vec<Op>),
    /// A vault status report.
    Status(Status),
    /// The hub's announcement of the deployment code lists it reads, by digest
    /// ([`crate::codes`]): a kit codes values only against a list named here.
    CodeLists(Vec<CodeDigest>),
}

/// Risk levels packed into two bits (3: a word follows).
const RISKS: [&str; 3] = ["high", "medium", "low"];
/// Alert times travel as three bytes of minutes since 2024-01-01 00:00 UTC (until 2055);
/// an earlier time (a clock not yet set) travels as that epoch.
pub const EPOCH_MIN: u32 = 28_401_120;

const T_ALERT: u8 = 1;
const T_MATCH: u8 = 2;
const T_REVIEW: u8 = 3;
const T_OPS: u8 = 4;
const T_STATUS: u8 = 5;
/// Operations in the record form ([`codec::encode_records`]): decoded from version 2 of
/// this crate on. A hub must be upgraded before its kits (it decodes both forms; an older
/// one refuses tag 6). Messages queued before an upgrade keep their tag 4 bytes in the
/// outbox and still decode.
const T_RECORDS: u8 = 6;
/// Operations in the typed record form ([`codec::encode_typed`]), with a deployment's code
/// book when the hub announced it reads it: decoded from version 3 of the protocol on (the
/// same hub-before-kits rule as tag 6; tags 4 and 6 still decode).
const T_TYPED: u8 = 7;
/// [`Body::CodeLists`]. An older kit refuses the tag and ignores the message, as it should:
/// it does not code values.
const T_CODE_LISTS: u8 = 8;
/// Operations in the typed record form compressed against `primer-v4.bin` (protocol version
/// 5: the words of match explanations primed). The bytes inflate to exactly what tag 7
/// carries, so a receiver tells the two apart only to choose the primer. Who may send it:
/// see [`OpsForm`].
const T_TYPED_EXPLAINED: u8 = 9;

/// The newest form of operations a receiver reads, which the sender writes.
///
/// Kits write [`OpsForm::Explained`] (a hub is upgraded before its kits: an older hub
/// would refuse tag 9 as malformed). The hub writes it to a kit only once that kit sent a
/// message in it (it reads what it writes); until then, and to kits of an older version,
/// it writes [`OpsForm::Typed`], which every kit since protocol version 3 reads. Messages
/// already queued keep the bytes they were queued with, and both forms always decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OpsForm {
    /// The typed record form against `primer-v3.bin` (tag 7).
    Typed,
    /// The typed record form against `primer-v4.bin` (tag 9).
    #[default]
    Explained,
}

impl OpsForm {
    /// The form a message with body tag `tag` shows its sender reads, if any.
    pub fn shown_by(tag: u8) -> Option<OpsForm> {
        (tag == T_TYPED_EXPLAINED).then_some(OpsForm::Explained)
    }
}
/// Most code lists one announcement names.
pub const MAX_CODE_LISTS: usize = 64;

/// The compression primer of a body tag: the record forms have their own.
fn primer_of(tag: u8) -> &'static [u8] {
    match tag {
        T_RECORDS => crate::primer::PRIMER_V2,
        T_TYPED => crate::primer::PRIMER_V3,
        T_TYPED_EXPLAINED => crate::primer::PRIMER_V4,
        _ => crate::primer::PRIMER,
    }
}

/// The largest body tag (tags travel in five bits).
pub const MAX_TAG: u8 = 31;

fn put_text_word(w: &mut Writer, table: &[&str], s: &str) {
    codec::put_word(w, table, s);
}

fn text_word(r: &mut Reader<'_>, table: &[&'static str]) -> Result<String, DecodeError> {
    codec::word(r, table).map(str::to_string)
}

impl Body {
    /// The priority a body travels at.
    pub fn priority(&self) -> Priority {
        match self {
            Body::Alert(_) => Priority::Urgent,
            Body::MatchNotice(_) => Priority::MatchNotice,
            Body::Review(_) | Body::CodeLists(_) => Priority::Review,
            Body::Ops(_) => Priority::Records,
            Body::Status(_) => Priority::Bulk,
        }
    }

    /// The body's tag and uncompressed bytes, without a deployment's code book.
    pub fn encode_raw(&self) -> (u8, Vec<u8>) {
        self.encode_raw_with(None)
    }

    /// The body's tag and uncompressed bytes; operations coded with `book`, which must be
    /// one the receiver announced it reads.
    pub fn encode_raw_with(&self, book: Option<&CodeBook>) -> (u8, Vec<u8>) {
        let mut w = Writer::new();
        let tag = match self {
            Body::Alert(a) => {
                // One byte: kind (2 bits), risk (2 bits), concern count (4 bits, 15 = more).
                let kind = codec::kind_code(a.kind) & 3;
                let risk = RISKS.iter().position(|r| *r == a.risk).unwrap_or(3) as u8;
                let n = a.concerns.len();
                w.u8(kind | (risk << 2) | ((n.min(15) as u8) << 4));
                w.raw(a.record.as_bytes());
                let minutes = a.raised_min.saturating_sub(EPOCH_MIN).min(0xFF_FFFF);
                w.raw(&minutes.to_le_bytes()[..3]);
                if risk == 3 {
                    put_text_word(&mut w, VALUES, &a.risk);
                }
                if n >= 15 {
                    w.varint(n as u64);
                }
                for c in &a.concerns {
                    put_text_word(&mut w, VALUES, c);
                }
                T_ALERT
            }
            Body::MatchNotice(m) => {
                w.raw(m.case.as_bytes());
                w.raw(m.tracing_request.as_bytes());
                put_text_word(&mut w, VALUES, &m.trace);
                put_text_word(&mut w, VALUES, &m.likelihood);
                w.zigzag(i64::from(m.score_centibits));
                w.varint(m.evidence.len() as u64);
                for e in &m.evidence {
                    put_text_word(&mut w, FIELDS, &e.field);
                    w.zigzag(i64::from(e.weight_centibits));
                    w.bytes(e.detail.as_bytes());
                }
                T_MATCH
            }
            Body::Review(d) => {
                w.raw(d.case.as_bytes());
                w.raw(d.tracing_request.as_bytes());
                put_text_word(&mut w, VALUES, &d.trace);
                w.u8(u8::from(d.confirmed));
                w.bytes(d.by.as_bytes());
                w.varint(u64::from(d.at_min));
                T_REVIEW
            }
            Body::Ops(ops) => match codec::encode_typed(ops, book) {
                Some(bytes) => {
                    w.raw(&bytes);
                    T_TYPED
                }
                None => {
                    w.raw(&codec::encode_ops(ops));
                    T_OPS
                }
            },
            Body::Status(s) => {
                w.varint(s.commits);
                w.raw(&s.audit_head);
                w.varint(s.records);
                T_STATUS
            }
            Body::CodeLists(digests) => {
                let n = digests.len().min(MAX_CODE_LISTS);
                w.varint(n as u64);
                for d in &digests[..n] {
                    w.raw(d);
                }
                T_CODE_LISTS
            }
        };
        (tag, w.into_bytes())
    }

    /// The body's tag, whether its bytes are compressed, and the bytes: compressed only
    /// when that is shorter.
    pub fn encode(&self) -> (u8, bool, Vec<u8>) {
        self.encode_with(None)
    }

    /// As [`Body::encode`], with operations coded with `book` (one the receiver announced),
    /// in the newest form ([`OpsForm::Explained`]).
    pub fn encode_with(&self, book: Option<&CodeBook>) -> (u8, bool, Vec<u8>) {
        self.encode_in(book, OpsForm::Explained)
    }

    /// As [`Body::encode_with`], writing operations in no newer form than `form` (the
    /// newest the receiver reads).
    pub fn encode_in(&self, book: Option<&CodeBook>, form: OpsForm) -> (u8, bool, Vec<u8>) {
        let plain = self.encode_packed(None, form);
        match book {
            // Coded only when that is shorter: a record with nothing of the list (a match
            // notice's explanation) would pay the list's name for nothing.
            Some(b) if matches!(self, Body::Ops(_)) => {
                let coded = self.encode_packed(Some(b), form);
                if coded.2.len() < plain.2.len() {
                    coded
                } else {
                    plain
                }
            }
            _ => plain,
        }
    }

    fn encode_packed(&self, book: Option<&CodeBook>, form: OpsForm) -> (u8, bool, Vec<u8>) {
        let (tag, raw) = self.encode_raw_with(book);
        // The typed form against the primer that knows match explanations whenever the
        // receiver reads it, not only when that is shorter: a compressed tag 9 is how a kit
        // shows the hub it reads it (a registration costs a byte or two more or less).
        let tag = if tag == T_TYPED && form == OpsForm::Explained {
            T_TYPED_EXPLAINED
        } else {
            tag
        };
        if raw.len() > 24
            && let Some(packed) = crate::primer::deflate_with(primer_of(tag), &raw)
            && packed.len() < raw.len()
        {
            return (tag, true, packed);
        }
        // Uncompressed, the typed form's bytes are the same whatever the primer: tag 7,
        // which every receiver reads.
        let tag = if tag == T_TYPED_EXPLAINED {
            T_TYPED
        } else {
            tag
        };
        (tag, false, raw)
    }

    /// Decodes a body from its tag and bytes, holding no deployment code book.
    pub fn decode(tag: u8, compressed: bool, bytes: &[u8]) -> Result<Body, DecodeError> {
        Self::decode_with(tag, compressed, bytes, &CodeBooks::new())
    }

    /// Decodes a body from its tag and bytes, with the code books this end reads.
    pub fn decode_with(
        tag: u8,
        compressed: bool,
        bytes: &[u8],
        books: &CodeBooks,
    ) -> Result<Body, DecodeError> {
        Self::decode_listed(tag, compressed, bytes, books).map(|(body, _)| body)
    }

    /// As [`Body::decode_with`], also giving the code list the sender coded the body with
    /// when it is one that reads messages coded with it ([`codec::decode_typed_listed`]).
    pub fn decode_listed(
        tag: u8,
        compressed: bool,
        bytes: &[u8],
        books: &CodeBooks,
    ) -> Result<(Body, Option<CodeDigest>), DecodeError> {
        let inflated;
        let bytes = if compressed {
            inflated = crate::primer::inflate_with(primer_of(tag), bytes, MAX_MESSAGE)
                .ok_or(DecodeError::Inflate)?;
            &inflated[..]
        } else {
            bytes
        };
        let mut r = Reader::new(bytes);
        let body = match tag {
            T_ALERT => {
                let b = r.u8()?;
                let kind = codec::kind_from_code(b & 3)?;
                let record = RecordId::from_bytes(r.array()?);
                let m = r.array::<3>()?;
                let raised_min = EPOCH_MIN + u32::from_le_bytes([m[0], m[1], m[2], 0]);
                let risk = match RISKS.get(usize::from((b >> 2) & 3)) {
                    Some(r) => (*r).to_string(),
                    None => text_word(&mut r, VALUES)?,
                };
                let n = match b >> 4 {
                    15 => r.len(r.remaining())?,
                    n => usize::from(n),
                };
                let mut concerns = Vec::with_capacity(n.min(r.remaining()));
                for _ in 0..n {
                    concerns.push(text_word(&mut r, VALUES)?);
                }
                Body::Alert(Alert {
                    kind,
                    record,
                    risk,
                    concerns,
                    raised_min,
                })
            }
            T_MATCH => {
                let case = RecordId::from_bytes(r.array()?);
                let tracing_request = RecordId::from_bytes(r.array()?);
                let trace = text_word(&mut r, VALUES)?;
                let likelihood = text_word(&mut r, VALUES)?;
                let score_centibits = i32::try_from(r.zigzag()?).map_err(|_| DecodeError::Range)?;
                let n = r.len(r.remaining() / 3)?;
                let mut evidence = Vec::with_capacity(n);
                for _ in 0..n {
                    let field = text_word(&mut r, FIELDS)?;
                    let weight_centibits =
                        i32::try_from(r.zigzag()?).map_err(|_| DecodeError::Range)?;
                    let detail = r.str()?.to_string();
                    evidence.push(Evidence {
                        field,
                        weight_centibits,
                        detail,
                    });
                }
                Body::MatchNotice(MatchNotice {
                    case,
                    tracing_request,
                    trace,
                    likelihood,
                    score_centibits,
                    evidence,
                })
            }
            T_REVIEW => {
                let case = RecordId::from_bytes(r.array()?);
                let tracing_request = RecordId::from_bytes(r.array()?);
                let trace = text_word(&mut r, VALUES)?;
                let confirmed = match r.u8()? {
                    0 => false,
                    1 => true,
                    t => return Err(DecodeError::Tag(u64::from(t))),
                };
                let by = r.str()?.to_string();
                let at_min = r.varint_u32()?;
                Body::Review(ReviewDecision {
                    case,
                    tracing_request,
                    trace,
                    confirmed,
                    by,
                    at_min,
                })
            }
            T_OPS => return codec::decode_ops(r.rest()).map(|ops| (Body::Ops(ops), None)),
            T_RECORDS => return codec::decode_records(r.rest()).map(|ops| (Body::Ops(ops), None)),
            T_TYPED | T_TYPED_EXPLAINED => {
                let (ops, listed) = codec::decode_typed_listed(r.rest(), books)?;
                return Ok((Body::Ops(ops), listed));
            }
            T_CODE_LISTS => {
                let n = r.len(MAX_CODE_LISTS.min(r.remaining() / 32))?;
                let mut digests = Vec::with_capacity(n);
                for _ in 0..n {
                    digests.push(r.array::<32>()?);
                }
                Body::CodeLists(digests)
            }
            T_STATUS => {
                let commits = r.varint()?;
                let audit_head = r.array()?;
                let records = r.varint()?;
                Body::Status(Status {
                    commits,
                    audit_head,
                    records,
                })
            }
            t => return Err(DecodeError::Tag(u64::from(t))),
        };
        r.finish()?;
        Ok((body, None))
    }
}

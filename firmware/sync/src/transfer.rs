//! Messages in frames: fragmentation to the link's MTU, selective acknowledgements, an
//! outbox that sends urgent things first, and an inbox that reassembles and delivers each
//! message exactly once.
//!
//! Every fragment is sealed as its own frame, so a lost or damaged frame costs only itself
//! and an acknowledgement can name exactly the fragments held. That costs a tag per
//! fragment; on LoRa most messages are one frame anyway. A message's chunk size is fixed
//! when it is first sent, so fragments resent after a restart (or over another link whose
//! MTU is at least as large) fit together with those already received.
//!
//! Both [`Outbox`] and [`Inbox`] are plain serde values: the caller persists them (the
//! vault's outbox and inbox) and restores them after a restart, and the transfer resumes
//! with the fragments not yet acknowledged.
//!
//! Envelope (the plaintext of one frame):
//!
//! ```text
//! byte 0: kind (bits 0-1: 0 whole, 1 fragment, 2 ack) | flag (bit 2: compressed / complete)
//!         | body tag (bits 3-7)
//! varint message id
//! fragment: varint index, varint count, then the chunk
//! whole:    the body
//! ack:      varint count, varint ranges, (varint gap, varint length) per range
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::codes::CodeDigest;
use crate::message::{Body, MAX_TAG, OpsForm, Priority};
use crate::wire::{DecodeError, Reader, Writer, varint_len};

/// Most fragments one message may have.
pub const MAX_FRAGMENTS: u32 = 16_384;
/// Most ranges one acknowledgement carries (the rest are resent, harmlessly).
pub const MAX_ACK_RANGES: usize = 12;
/// Most messages an inbox reassembles at once per sender.
pub const MAX_PARTIAL: usize = 64;

const K_WHOLE: u8 = 0;
const K_FRAGMENT: u8 = 1;
const K_ACK: u8 = 2;

/// A selective acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack {
    /// The message acknowledged.
    pub id: u64,
    /// Delivered and stored: the sender may forget it.
    pub complete: bool,
    /// Its fragment count as the receiver knows it (0 when complete).
    pub count: u32,
    /// Fragments held, as `(start, length)` ranges in ascending order.
    pub received: Vec<(u32, u32)>,
}

/// One frame's plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// A message in one frame.
    Whole {
        /// Message id.
        id: u64,
        /// Body tag.
        tag: u8,
        /// Body compressed.
        compressed: bool,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// One fragment of a message.
    Fragment {
        /// Message id.
        id: u64,
        /// Body tag.
        tag: u8,
        /// Body compressed.
        compressed: bool,
        /// Position, from 0.
        index: u32,
        /// Fragments in the message.
        count: u32,
        /// This fragment's bytes.
        chunk: Vec<u8>,
    },
    /// An acknowledgement.
    Ack(Ack),
}

impl Envelope {
    /// Encodes the envelope.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Envelope::Whole {
                id,
                tag,
                compressed,
                body,
            } => {
                w.u8(K_WHOLE | (u8::from(*compressed) << 2) | ((tag & MAX_TAG) << 3));
                w.varint(*id);
                w.raw(body);
            }
            Envelope::Fragment {
                id,
                tag,
                compressed,
                index,
                count,
                chunk,
            } => {
                w.u8(K_FRAGMENT | (u8::from(*compressed) << 2) | ((tag & MAX_TAG) << 3));
                w.varint(*id);
                w.varint(u64::from(*index));
                w.varint(u64::from(*count));
                w.raw(chunk);
            }
            Envelope::Ack(a) => {
                w.u8(K_ACK | (u8::from(a.complete) << 2));
                w.varint(a.id);
                w.varint(u64::from(a.count));
                let ranges = &a.received[..a.received.len().min(MAX_ACK_RANGES)];
                w.varint(ranges.len() as u64);
                let mut end = 0u32;
                for (start, len) in ranges {
                    w.varint(u64::from(start.saturating_sub(end)));
                    w.varint(u64::from(*len));
                    end = start.saturating_add(*len);
                }
            }
        }
        w.into_bytes()
    }

    /// Decodes an envelope; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let mut r = Reader::new(bytes);
        let b = r.u8()?;
        let (kind, flag, tag) = (b & 3, b & 4 != 0, b >> 3);
        let id = r.varint()?;
        match kind {
            K_WHOLE => Ok(Envelope::Whole {
                id,
                tag,
                compressed: flag,
                body: r.rest().to_vec(),
            }),
            K_FRAGMENT => {
                let index = r.varint_u32()?;
                let count = r.varint_u32()?;
                if count == 0 || count > MAX_FRAGMENTS || index >= count {
                    return Err(DecodeError::Range);
                }
                Ok(Envelope::Fragment {
                    id,
                    tag,
                    compressed: flag,
                    index,
                    count,
                    chunk: r.rest().to_vec(),
                })
            }
            K_ACK => {
                if tag != 0 {
                    return Err(DecodeError::Tag(u64::from(tag)));
                }
                let count = r.varint_u32()?;
                let n = r.len(MAX_ACK_RANGES)?;
                let mut received = Vec::with_capacity(n);
                let mut end = 0u32;
                for _ in 0..n {
                    let start = end.checked_add(r.varint_u32()?).ok_or(DecodeError::Range)?;
                    let len = r.varint_u32()?;
                    end = start.checked_add(len).ok_or(DecodeError::Range)?;
                    if end > count {
                        return Err(DecodeError::Range);
                    }
                    received.push((start, len));
                }
                r.finish()?;
                Ok(Envelope::Ack(Ack {
                    id,
                    complete: flag,
                    count,
                    received,
                }))
            }
            k => Err(DecodeError::Tag(u64::from(k))),
        }
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Message id (never reused by this sender).
    pub id: u64,
    /// Its priority.
    pub priority: Priority,
    tag: u8,
    compressed: bool,
    bytes: Vec<u8>,
    /// Chunk size, fixed at the first send (0: not sent yet).
    chunk: u32,
    /// Fragments the receiver holds.
    acked: Vec<bool>,
    /// When each fragment was last sent (not persisted: after a restart everything not
    /// acknowledged is due at once).
    #[serde(skip)]
    sent_ms: Vec<Option<u64>>,
}

impl Outgoing {
    /// Bytes of the encoded body.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The body's tag ([`crate::message`]).
    pub fn tag(&self) -> u8 {
        self.tag
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn count(&self) -> u32 {
        if self.chunk == 0 {
            return 0;
        }
        (self.bytes.len().div_ceil(self.chunk as usize)).max(1) as u32
    }

    /// What changes as it travels: the chunk size it was cut at (0 before its first send)
    /// and which fragments the receiver holds. A store that keeps each message apart
    /// rewrites it only when this changed.
    pub fn progress(&self) -> (u32, &[bool]) {
        (self.chunk, &self.acked)
    }

    /// Fragments the message was cut into (0 before its first send).
    pub fn fragments(&self) -> u32 {
        self.count()
    }

    /// Fragments still to be acknowledged (all of them before the first send).
    pub fn unacked(&self) -> usize {
        if self.chunk == 0 {
            return 1;
        }
        self.acked.iter().filter(|a| !**a).count()
    }

    /// Plaintext bytes a frame needs to carry this message whole.
    fn whole_len(&self) -> usize {
        1 + varint_len(self.id) + self.bytes.len()
    }

    /// Fixes the chunk size for a link carrying `budget` plaintext bytes per frame; false
    /// when it cannot go over such a link.
    fn plan(&mut self, budget: usize) -> bool {
        if self.chunk != 0 {
            // Already cut: this link must carry the chunks as cut.
            let count = self.count();
            let header = if count == 1 && self.chunk as usize >= self.bytes.len() {
                1 + varint_len(self.id)
            } else {
                1 + varint_len(self.id) + 2 * varint_len(u64::from(count))
            };
            return header + self.chunk as usize <= budget;
        }
        if self.whole_len() <= budget {
            self.chunk = self.bytes.len().max(1) as u32;
        } else {
            // Room for the largest index and count varints.
            let header = 1 + varint_len(self.id) + 2 * varint_len(u64::from(MAX_FRAGMENTS));
            let room = budget.saturating_sub(header);
            if room == 0 || self.bytes.len().div_ceil(room) > MAX_FRAGMENTS as usize {
                return false;
            }
            self.chunk = room as u32;
        }
        let n = self.count() as usize;
        self.acked = vec![false; n];
        self.sent_ms = vec![None; n];
        true
    }

    fn envelope(&self, index: u32) -> Envelope {
        let count = self.count();
        if count == 1 && self.chunk as usize >= self.bytes.len() {
            return Envelope::Whole {
                id: self.id,
                tag: self.tag,
                compressed: self.compressed,
                body: self.bytes.clone(),
            };
        }
        let start = index as usize * self.chunk as usize;
        let end = (start + self.chunk as usize).min(self.bytes.len());
        Envelope::Fragment {
            id: self.id,
            tag: self.tag,
            compressed: self.compressed,
            index,
            count,
            chunk: self.bytes.get(start..end).unwrap_or(&[]).to_vec(),
        }
    }
}

/// Messages waiting to be sent, highest priority first, then oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    next_id: u64,
    messages: Vec<Outgoing>,
}

/// A fragment chosen to go out next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Message id.
    pub id: u64,
    /// Fragment index.
    pub index: u32,
    /// The message's priority.
    pub priority: Priority,
    /// The frame's plaintext.
    pub plaintext: Vec<u8>,
}

impl Outbox {
    /// Queues a message; returns its id. Persist the outbox before telling anyone it is
    /// queued.
    pub fn push(&mut self, body: &Body) -> u64 {
        self.push_at(body, body.priority())
    }

    /// Queues a message at a priority other than its body's own (e.g. the operations of a
    /// review decision, which go before other records). Returns its id.
    pub fn push_at(&mut self, body: &Body, priority: Priority) -> u64 {
        self.push_coded(body, priority, None)
    }

    /// Queues a message with its operations coded with `book` (a deployment code book the
    /// receiver announced it reads; [`crate::codes`]). Returns its id.
    pub fn push_coded(
        &mut self,
        body: &Body,
        priority: Priority,
        book: Option<&crate::codes::CodeBook>,
    ) -> u64 {
        self.push_in(body, priority, book, OpsForm::Explained)
    }

    /// As [`Outbox::push_coded`], writing operations in no newer form than `form` (the
    /// newest the receiver reads). Returns the message's id.
    pub fn push_in(
        &mut self,
        body: &Body,
        priority: Priority,
        book: Option<&crate::codes::CodeBook>,
        form: OpsForm,
    ) -> u64 {
        let (tag, compressed, bytes) = body.encode_in(book, form);
        let id = self.next_id;
        self.next_id += 1;
        self.messages.push(Outgoing {
            id,
            priority,
            tag,
            compressed,
            bytes,
            chunk: 0,
            acked: Vec::new(),
            sent_ms: Vec::new(),
        });
        self.messages.sort_by_key(|m| (m.priority, m.id));
        id
    }

    /// An outbox from its parts as a store kept them apart: messages in any order (sorted
    /// here as [`Outbox::push`] keeps them), the next id never below one already used.
    pub fn from_parts(next_id: u64, mut messages: Vec<Outgoing>) -> Self {
        messages.sort_by_key(|m| (m.priority, m.id));
        messages.dedup_by_key(|m| m.id);
        let next_id = messages
            .iter()
            .map(|m| m.id.saturating_add(1))
            .fold(next_id, u64::max);
        Self { next_id, messages }
    }

    /// The id the next message gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Messages not yet acknowledged complete.
    pub fn messages(&self) -> &[Outgoing] {
        &self.messages
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The most urgent waiting priority.
    pub fn top_priority(&self) -> Option<Priority> {
        self.messages.first().map(|m| m.priority)
    }

    /// The next fragment to send over a link carrying `budget` plaintext bytes per frame:
    /// the most urgent message's first fragment not acknowledged and not sent within
    /// `retry_ms`. `only_up_to` limits which priorities this link may carry (LoRa carries
    /// small, urgent things).
    pub fn next_fragment(
        &mut self,
        now_ms: u64,
        budget: usize,
        retry_ms: u64,
        only_up_to: Priority,
    ) -> Option<Planned> {
        for m in &mut self.messages {
            if m.priority > only_up_to || !m.plan(budget) {
                continue;
            }
            if m.sent_ms.len() != m.acked.len() {
                m.sent_ms = vec![None; m.acked.len()];
            }
            let due = (0..m.acked.len()).find(|&i| {
                !m.acked[i] && m.sent_ms[i].is_none_or(|t| now_ms.saturating_sub(t) >= retry_ms)
            });
            if let Some(i) = due {
                m.sent_ms[i] = Some(now_ms);
                let index = i as u32;
                return Some(Planned {
                    id: m.id,
                    index,
                    priority: m.priority,
                    plaintext: m.envelope(index).encode(),
                });
            }
        }
        None
    }

    /// Applies an acknowledgement; returns the message's id when it is now complete.
    pub fn on_ack(&mut self, ack: &Ack) -> Option<u64> {
        let pos = self.messages.iter().position(|m| m.id == ack.id)?;
        if ack.complete {
            self.messages.remove(pos);
            return Some(ack.id);
        }
        let m = &mut self.messages[pos];
        if ack.count != m.count() {
            // An acknowledgement of another cut of this message: ignore it.
            return None;
        }
        for (start, len) in &ack.received {
            for i in *start..start.saturating_add(*len) {
                if let Some(a) = m.acked.get_mut(i as usize) {
                    *a = true;
                }
            }
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Partial {
    tag: u8,
    compressed: bool,
    count: u32,
    parts: Vec<Option<Vec<u8>>>,
}

/// A message reassembled and delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Message id.
    pub id: u64,
    /// Its body, or why it could not be decoded (a newer sender, or a bug: it is still
    /// acknowledged, so the sender does not retry forever, and the caller keeps the error).
    pub body: Result<Body, DecodeError>,
    /// The code list the sender coded it with, when the sender also reads messages coded
    /// with that list ([`Body::decode_listed`]): what the hub codes that kit's messages with.
    pub code_list: Option<CodeDigest>,
    /// The form of operations the message shows its sender reads ([`OpsForm::shown_by`]),
    /// if it shows one: what the hub may write to that kit.
    pub form: Option<OpsForm>,
}

/// What a received envelope did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// A message completed by it, if any.
    pub delivered: Option<Delivered>,
    /// The acknowledgement to send back (after persisting what was delivered).
    pub ack: Option<Ack>,
}

/// Messages being received from one sender, and which were delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    partial: BTreeMap<u64, Partial>,
    /// Every message id below this was delivered.
    floor: u64,
    /// Delivered ids at or above `floor`.
    above: BTreeSet<u64>,
}

impl Inbox {
    fn delivered(&self, id: u64) -> bool {
        id < self.floor || self.above.contains(&id)
    }

    fn mark_delivered(&mut self, id: u64) {
        self.above.insert(id);
        while self.above.remove(&self.floor) {
            self.floor += 1;
        }
    }

    /// Messages partly received.
    pub fn partial(&self) -> usize {
        self.partial.len()
    }

    fn complete_ack(id: u64) -> Ack {
        Ack {
            id,
            complete: true,
            count: 0,
            received: Vec::new(),
        }
    }

    /// Takes a data envelope (whole or fragment). A message already delivered is
    /// acknowledged again and not delivered twice.
    pub fn accept(&mut self, envelope: Envelope) -> Received {
        self.accept_with(envelope, &crate::codes::CodeBooks::new())
    }

    /// As [`Inbox::accept`], decoding what completes with the code books this end reads.
    pub fn accept_with(&mut self, envelope: Envelope, books: &crate::codes::CodeBooks) -> Received {
        let (id, tag, compressed, index, count, chunk) = match envelope {
            Envelope::Whole {
                id,
                tag,
                compressed,
                body,
            } => (id, tag, compressed, 0, 1, body),
            Envelope::Fragment {
                id,
                tag,
                compressed,
                index,
                count,
                chunk,
            } => (id, tag, compressed, index, count, chunk),
            Envelope::Ack(_) => {
                return Received {
                    delivered: None,
                    ack: None,
                };
            }
        };
        if self.delivered(id) {
            return Received {
                delivered: None,
                ack: Some(Self::complete_ack(id)),
            };
        }
        if !self.partial.contains_key(&id) && self.partial.len() >= MAX_PARTIAL {
            // No room: say nothing, the sender retries later.
            return Received {
                delivered: None,
                ack: None,
            };
        }
        let fresh = || Partial {
            tag,
            compressed,
            count,
            parts: vec![None; count as usize],
        };
        let p = self.partial.entry(id).or_insert_with(fresh);
        if p.count != count || p.tag != tag || p.compressed != compressed {
            // The sender cut the message anew: start over with this cut.
            *p = fresh();
        }
        if let Some(slot) = p.parts.get_mut(index as usize) {
            slot.get_or_insert(chunk);
        }
        if p.parts.iter().all(Option::is_some) {
            let p = self.partial.remove(&id);
            let bytes: Vec<u8> = p
                .iter()
                .flat_map(|p| p.parts.iter().flatten().flatten().copied())
                .collect();
            self.mark_delivered(id);
            let (body, code_list) = match Body::decode_listed(tag, compressed, &bytes, books) {
                Ok((body, list)) => (Ok(body), list),
                Err(e) => (Err(e), None),
            };
            return Received {
                delivered: Some(Delivered {
                    id,
                    form: body.is_ok().then(|| OpsForm::shown_by(tag)).flatten(),
                    body,
                    code_list,
                }),
                ack: Some(Self::complete_ack(id)),
            };
        }
        let mut received = Vec::new();
        let mut i = 0u32;
        while (i as usize) < p.parts.len() {
            if p.parts[i as usize].is_some() {
                let start = i;
                while (i as usize) < p.parts.len() && p.parts[i as usize].is_some() {
                    i += 1;
                }
                received.push((start, i - start));
            } else {
                i += 1;
            }
        }
        Received {
            delivered: None,
            ack: Some(Ack {
                id,
                complete: false,
                count,
                received,
            }),
        }
    }
}

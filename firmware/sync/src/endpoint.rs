//! One side of a kit–hub conversation: the sealed channel, the outbox, the inbox and the
//! acknowledgements owed, as one sans-IO state machine.
//!
//! The caller moves bytes and time: it gives [`Endpoint::handle`] each frame the link
//! received and asks [`Endpoint::poll_transmit`] for the next frame to send, passing `now`
//! and the link's MTU. Acknowledgements go out before data, and only at the next
//! `poll_transmit`: persist the inbox, the replay window and what was delivered *between*
//! the two calls, and nothing acknowledged is ever lost by a restart.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::codes::{CodeBook, CodeBooks};
use crate::counter::Reservation;
use crate::message::{Body, OpsForm, Priority};
use crate::seal::{Channel, Rejected, Rejections, SealError};
use crate::transfer::{Ack, Delivered, Envelope, Inbox, Outbox};

/// Counts of what went over the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent (whole frames).
    pub bytes_sent: u64,
    /// Frames accepted.
    pub frames_received: u64,
    /// Authenticated frames whose envelope did not decode.
    pub undecodable: u64,
}

/// A kit's or the hub's end of one pair.
#[derive(Debug)]
pub struct Endpoint {
    channel: Channel,
    outbox: Outbox,
    inbox: Inbox,
    acks: VecDeque<Ack>,
    traffic: Traffic,
    /// The deployment code books messages from the peer may be coded with.
    books: CodeBooks,
    /// The book this end codes its messages with (one the peer announced it reads).
    coding: Option<Arc<CodeBook>>,
    /// The newest form of operations the peer reads.
    form: OpsForm,
}

impl Endpoint {
    /// An endpoint from its channel and the outbox and inbox restored from storage.
    pub fn new(channel: Channel, outbox: Outbox, inbox: Inbox) -> Self {
        Self {
            channel,
            outbox,
            inbox,
            acks: VecDeque::new(),
            traffic: Traffic::default(),
            books: CodeBooks::new(),
            coding: None,
            form: OpsForm::default(),
        }
    }

    /// The newest form of operations the peer reads ([`OpsForm`]; the newest by default):
    /// the messages queued from now on are written in no newer one.
    pub fn set_ops_form(&mut self, form: OpsForm) {
        self.form = form;
    }

    /// The newest form of operations this end writes to its peer.
    pub fn ops_form(&self) -> OpsForm {
        self.form
    }

    /// The deployment code books this end reads the peer's messages with (a hub: every
    /// list it announced, old ones included).
    pub fn set_code_books(&mut self, books: CodeBooks) {
        self.books = books;
    }

    /// The code book this end codes the messages it queues from now on with: give only a
    /// book the peer announced it reads ([`crate::codes::agreed`]); `None` sends text.
    pub fn set_coding(&mut self, book: Option<Arc<CodeBook>>) {
        self.coding = book;
    }

    /// The code book messages are coded with, if any.
    pub fn coding(&self) -> Option<&CodeBook> {
        self.coding.as_deref()
    }

    /// Queues a message; returns its id. Persist [`Endpoint::outbox`] afterwards.
    pub fn queue(&mut self, body: &Body) -> u64 {
        self.queue_at(body, body.priority())
    }

    /// Queues a message at the given priority; returns its id. Persist the outbox afterwards.
    pub fn queue_at(&mut self, body: &Body, priority: Priority) -> u64 {
        self.outbox
            .push_in(body, priority, self.coding.as_deref(), self.form)
    }

    /// The outbox, to persist.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The inbox, to persist.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The channel (replay window, refusals).
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Refusals so far.
    pub fn rejections(&self) -> Rejections {
        self.channel.rejections()
    }

    /// Traffic so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// True when acknowledgements are owed.
    pub fn owes_acks(&self) -> bool {
        !self.acks.is_empty()
    }

    /// The next frame to send over a link of `mtu` bytes, or `None` when nothing is due.
    /// Acknowledgements first, then the most urgent fragment the link may carry.
    pub fn poll_transmit<E>(
        &mut self,
        now_ms: u64,
        mtu: usize,
        retry_ms: u64,
        only_up_to: Priority,
        persist: impl FnOnce(Reservation) -> Result<(), E>,
    ) -> Result<Option<Vec<u8>>, SealError<E>> {
        let budget = mtu.saturating_sub(self.channel.next_overhead());
        let plaintext = if let Some(ack) = self.acks.pop_front() {
            Envelope::Ack(ack).encode()
        } else if let Some(p) = self
            .outbox
            .next_fragment(now_ms, budget, retry_ms, only_up_to)
        {
            p.plaintext
        } else {
            return Ok(None);
        };
        let frame = self.channel.seal(&plaintext, persist)?;
        self.traffic.frames_sent += 1;
        self.traffic.bytes_sent += frame.len() as u64;
        Ok(Some(frame))
    }

    /// Takes a received frame. Returns a message it completed, if any; refusals are counted
    /// and change nothing.
    pub fn handle(&mut self, frame: &[u8]) -> Result<Option<Delivered>, Rejected> {
        let opened = self.channel.open(frame)?;
        self.traffic.frames_received += 1;
        let Ok(envelope) = Envelope::decode(&opened.plaintext) else {
            self.traffic.undecodable += 1;
            return Ok(None);
        };
        match envelope {
            Envelope::Ack(ack) => {
                self.outbox.on_ack(&ack);
                Ok(None)
            }
            data => {
                let r = self.inbox.accept_with(data, &self.books);
                if let Some(ack) = r.ack {
                    // One owed acknowledgement per message is enough: keep the newest.
                    self.acks.retain(|a| a.id != ack.id);
                    self.acks.push_back(ack);
                }
                Ok(r.delivered)
            }
        }
    }
}

//! The hub's side of sync, sans-IO: one [`Endpoint`] per enrolled kit, frames routed by the
//! kit id in their header, and each kit's last vault status kept, so a kit whose vault was
//! rolled back (restored from an old image, or a file swapped) is noticed: its commit
//! counter went down, or the same counter came with another audit head.
//!
//! What the hub keeps across restarts (per kit: counter limit, replay window, outbox,
//! inbox, last status) is exposed for the caller to persist, as with a kit's endpoint.

use std::collections::BTreeMap;

use x25519_dalek::PublicKey;

use crate::codes::CodeBooks;
use crate::counter::{ReplayWindow, SendCounter};
use crate::endpoint::Endpoint;
use crate::message::{Body, OpsForm, Status};
use crate::seal::{BadPeerKey, Channel, KitId, LinkKeys, Rejected, StaticKey, peek};
use crate::transfer::{Delivered, Inbox, Outbox};

/// Why a kit could not be enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnrollError {
    /// The kit's public key is invalid.
    #[error(transparent)]
    BadKey(#[from] BadPeerKey),
    /// Another kit already has this short id: provision the new kit with a new key.
    #[error("kit id {0} is taken by another kit; re-key the new kit")]
    IdTaken(KitId),
}

/// What a kit's state was restored from.
#[derive(Debug, Clone, Default)]
pub struct KitState {
    /// The hub's send-counter limit for this kit, as persisted.
    pub counter_limit: u64,
    /// The receive window.
    pub window: ReplayWindow,
    /// Messages waiting for this kit.
    pub outbox: Outbox,
    /// Messages being received from it.
    pub inbox: Inbox,
    /// Its last vault status.
    pub status: Option<Status>,
}

/// Something a frame told the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    /// A message from a kit.
    Delivered {
        /// From which kit.
        kit: KitId,
        /// The message.
        message: Delivered,
    },
    /// A kit reported a vault status older than one it reported before.
    RolledBack {
        /// Which kit.
        kit: KitId,
        /// The status seen before.
        before: Status,
        /// The status now.
        now: Status,
    },
}

#[derive(Debug)]
struct HubKit {
    endpoint: Endpoint,
    public: PublicKey,
    status: Option<Status>,
}

/// The hub: its key and every enrolled kit.
#[derive(Debug)]
pub struct Hub {
    key: StaticKey,
    kits: BTreeMap<KitId, HubKit>,
    unknown_kit_frames: u64,
    books: CodeBooks,
}

impl Hub {
    /// A hub with its static key and no kits.
    pub fn new(key: StaticKey) -> Self {
        Self {
            key,
            kits: BTreeMap::new(),
            unknown_kit_frames: 0,
            books: CodeBooks::new(),
        }
    }

    /// The deployment code books the hub reads kits' messages with: every list it ever
    /// announced ([`crate::codes`]), for every kit enrolled now or later.
    pub fn set_code_books(&mut self, books: CodeBooks) {
        for k in self.kits.values_mut() {
            k.endpoint.set_code_books(books.clone());
        }
        self.books = books;
    }

    /// The code books the hub reads with.
    pub fn code_books(&self) -> &CodeBooks {
        &self.books
    }

    /// The hub's public key (what provisioning gives each kit).
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// Enrolls a kit by its public key, restoring its state.
    pub fn enroll(&mut self, kit: PublicKey, state: KitState) -> Result<KitId, EnrollError> {
        let id = KitId::of(&kit);
        if let Some(k) = self.kits.get(&id)
            && k.public != kit
        {
            return Err(EnrollError::IdTaken(id));
        }
        let keys = LinkKeys::for_hub(&self.key, &kit)?;
        let channel = Channel::new(
            keys,
            SendCounter::resume(state.counter_limit, SendCounter::DEFAULT_BLOCK),
            state.window,
        );
        let mut endpoint = Endpoint::new(channel, state.outbox, state.inbox);
        endpoint.set_code_books(self.books.clone());
        // What every kit reads, until the kit shows it reads a newer form (below; the caller
        // restores what it recorded, `Endpoint::set_ops_form`).
        endpoint.set_ops_form(OpsForm::Typed);
        self.kits.insert(
            id,
            HubKit {
                endpoint,
                public: kit,
                status: state.status,
            },
        );
        Ok(id)
    }

    /// Enrolled kits.
    pub fn kits(&self) -> impl Iterator<Item = KitId> + '_ {
        self.kits.keys().copied()
    }

    /// A kit's endpoint (outbox, inbox, window, refusals, to persist or report).
    pub fn endpoint(&self, kit: KitId) -> Option<&Endpoint> {
        self.kits.get(&kit).map(|k| &k.endpoint)
    }

    /// A kit's last reported status.
    pub fn status(&self, kit: KitId) -> Option<&Status> {
        self.kits.get(&kit).and_then(|k| k.status.as_ref())
    }

    /// Frames from kits that are not enrolled.
    pub fn unknown_kit_frames(&self) -> u64 {
        self.unknown_kit_frames
    }

    /// Takes a frame from any link. Refusals are counted (per kit, or as unknown-kit frames).
    pub fn handle(&mut self, frame: &[u8]) -> Result<Vec<HubEvent>, Rejected> {
        let header = peek(frame)?;
        let Some(k) = self.kits.get_mut(&header.kit) else {
            self.unknown_kit_frames += 1;
            return Err(Rejected::NotForUs);
        };
        let kit = header.kit;
        let Some(message) = k.endpoint.handle(frame)? else {
            return Ok(Vec::new());
        };
        if let Some(form) = message.form
            && form != k.endpoint.ops_form()
        {
            // The kit wrote it, so it reads it: what is queued for it from now on uses it.
            k.endpoint.set_ops_form(form);
        }
        let mut events = Vec::new();
        if let Ok(Body::Status(now)) = &message.body {
            if let Some(before) = &k.status {
                let older = now.commits < before.commits
                    || (now.commits == before.commits && now.audit_head != before.audit_head);
                if older {
                    events.push(HubEvent::RolledBack {
                        kit,
                        before: before.clone(),
                        now: now.clone(),
                    });
                }
            }
            if k.status.as_ref().is_none_or(|b| now.commits >= b.commits) {
                k.status = Some(now.clone());
            }
        }
        events.push(HubEvent::Delivered { kit, message });
        Ok(events)
    }

    /// Queues a message for one kit; its id, or `None` for a kit not enrolled.
    pub fn queue(&mut self, kit: KitId, body: &Body) -> Option<u64> {
        self.kits.get_mut(&kit).map(|k| k.endpoint.queue(body))
    }

    /// A kit's endpoint, to send to it ([`Endpoint::poll_transmit`]).
    pub fn endpoint_mut(&mut self, kit: KitId) -> Option<&mut Endpoint> {
        self.kits.get_mut(&kit).map(|k| &mut k.endpoint)
    }
}

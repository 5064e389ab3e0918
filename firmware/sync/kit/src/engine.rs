//! The kit's sync engine: provisioning, queued records into messages, exchanges with the hub.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldkit_app::{Kit, SaveError};
use fieldkit_domain::{Hlc, Op, RecordKind};
use fieldkit_sync::counter::{ReplayWindow, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Alert, Body, Priority, Status};
use fieldkit_sync::seal::{BadPeerKey, Channel, KitId, LinkKeys, Rejections, SealError, StaticKey};
use fieldkit_sync::transfer::Outbox;
use fieldkit_vault::{Key, Queued, ReadError, Session, SyncWrite, VaultError};
use x25519_dalek::PublicKey;
use zeroize::Zeroizing;

use crate::hook::SyncOutbox;
use crate::link::{Link, LinkError};
use crate::state::{
    self, CODES, COUNTER, HELD_CODES, HeldCodes, IDENTITY, INBOX, Identity, KitCodes, MARK, OUTBOX,
    WINDOW,
};
use fieldkit_sync::codes::{CodeBook, CodeDigest};

/// Why sync could not do something. Nothing saved is lost by any of these.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// This kit has no sync identity.
    #[error("this kit is not provisioned for sync (run `fieldkit provision`); it works offline")]
    NotProvisioned,
    /// Provisioning twice would change the kit's key under the hub's feet.
    #[error("this kit is already provisioned for sync (kit id {0})")]
    AlreadyProvisioned(KitId),
    /// The hub's key is unusable.
    #[error(transparent)]
    BadKey(#[from] BadPeerKey),
    /// The vault refused.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A read of the vault failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Stored sync state did not decode.
    #[error("sync state in the vault is unreadable: {0}")]
    State(String),
    /// The kit core refused what arrived, or a match run failed.
    #[error("the kit core: {0}")]
    Apply(#[from] SaveError),
    /// Rebuilding the matcher index failed.
    #[error("rebuilding the matcher index: {0}")]
    Index(#[from] fieldkit_app::OpenError),
    /// The link failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Sealing a frame failed (the counter could not be reserved, or counters ran out).
    #[error("sealing a frame: {0}")]
    Seal(String),
}

/// What provisioning needs.
#[derive(Debug, Clone)]
pub struct Provision<'a> {
    /// The hub's public key.
    pub hub_public: PublicKey,
    /// The hub's address.
    pub hub_address: &'a str,
    /// The agency the kit works for.
    pub agency: &'a str,
    /// The kit's label for technicians (`kit-017`).
    pub label: &'a str,
}

/// What one exchange did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exchange {
    /// Frames sent.
    pub frames_sent: usize,
    /// Bytes sent.
    pub bytes_sent: usize,
    /// Frames received for this kit.
    pub frames_received: usize,
    /// Frames refused (replayed, altered, for another kit).
    pub frames_refused: usize,
    /// Messages delivered and applied.
    pub messages_applied: usize,
    /// Messages delivered that the kit has no use for (status reports, alerts of others).
    pub messages_ignored: usize,
    /// Records the kit core changed with what arrived.
    pub records_changed: usize,
}

/// How long a fragment waits for its acknowledgement before it is sent again, ms.
pub const RETRY_MS: u64 = 20_000;
/// Most bytes of operations in one message (records beyond go in the next).
const MAX_OPS_MESSAGE: usize = 48 * 1024;

/// The kit's end of sync.
#[derive(Debug)]
pub struct KitSync {
    endpoint: Endpoint,
    kit: KitId,
    hub_address: String,
    agency: String,
    label: String,
    mark: Option<Hlc>,
    retry_ms: u64,
    applying: Arc<AtomicBool>,
    /// The code-list handshake's state, as persisted.
    codes: KitCodes,
    /// Every code list the kit coded with: it reads what the hub codes with any of them.
    held: HeldCodes,
    /// The kit's own code lists, from its configuration (made once).
    own_book: Option<Arc<CodeBook>>,
}

fn rank_priority(rank: u8) -> Priority {
    match rank {
        3.. => Priority::Urgent,
        2 => Priority::MatchNotice,
        1 => Priority::Review,
        0 => Priority::Records,
    }
}

fn text(v: &fieldkit_domain::FieldValue) -> Option<String> {
    match v {
        fieldkit_domain::FieldValue::Text(s) => Some(s.clone()),
        _ => None,
    }
}

/// The urgent alert for a case whose operations are `ops`, when they carry its risk.
fn alert_of(q: &Queued, ops: &[Op], now_ms: u64) -> Option<Body> {
    let risk = ops
        .iter()
        .find(|o| o.field == "risk_level")
        .and_then(|o| text(&o.value))?;
    let concerns = ops
        .iter()
        .find(|o| o.field == "protection_concerns")
        .and_then(|o| match &o.value {
            fieldkit_domain::FieldValue::List(l) => Some(l.clone()),
            _ => None,
        })
        .unwrap_or_default();
    Some(Body::Alert(Alert {
        kind: q.kind,
        record: q.id,
        risk,
        concerns,
        raised_min: u32::try_from(now_ms / 60_000).unwrap_or(u32::MAX),
    }))
}

impl KitSync {
    /// Creates the kit's sync identity (a fresh X25519 key from the OS random source), sealed
    /// in the vault with the hub's key and address, and queues every record the kit already
    /// holds. Returns the kit's public key (what the hub enrols).
    pub fn provision(session: &mut Session, p: &Provision<'_>) -> Result<PublicKey, SyncError> {
        if let Some(id) = state::read::<Identity>(session, IDENTITY)? {
            let kit = StaticKey::from_bytes(id.secret);
            return Err(SyncError::AlreadyProvisioned(KitId::of(&kit.public())));
        }
        let random = Key::random().map_err(VaultError::from)?;
        let key = StaticKey::from_bytes(*random.expose());
        LinkKeys::for_kit(&key, &p.hub_public)?;
        let public = key.public();
        let identity = Identity {
            secret: *key.to_bytes(),
            hub_public: *p.hub_public.as_bytes(),
            hub_address: p.hub_address.to_string(),
            agency: p.agency.to_string(),
            label: p.label.to_string(),
        };
        let bytes = Zeroizing::new(state::encode(&identity)?);
        session.sync_write(&SyncWrite {
            put: vec![(IDENTITY, &bytes)],
            public: Some(*public.as_bytes()),
            ..SyncWrite::default()
        })?;
        // Whatever the kit registered before it was provisioned goes to the hub whole.
        let mut queued = Vec::new();
        for kind in [
            RecordKind::Case,
            RecordKind::TracingRequest,
            RecordKind::PotentialMatch,
        ] {
            let n = usize::try_from(session.count(kind)?).unwrap_or(usize::MAX);
            for s in session.list(kind, 0, n)? {
                queued.push(Queued {
                    kind,
                    id: s.id,
                    version: 0,
                    rank: 0,
                    from_hub: false,
                    whole: true,
                });
            }
        }
        session.queue_outgoing(&queued)?;
        Ok(public)
    }

    /// True when the kit has a sync identity.
    pub fn is_provisioned(session: &Session) -> Result<bool, SyncError> {
        Ok(session.sync_value(IDENTITY)?.is_some())
    }

    /// The engine of a provisioned kit, restored from the vault; `None` when not provisioned.
    pub fn load(session: &Session) -> Result<Option<KitSync>, SyncError> {
        let Some(id) = state::read::<Identity>(session, IDENTITY)? else {
            return Ok(None);
        };
        let key = StaticKey::from_bytes(id.secret);
        let hub = PublicKey::from(id.hub_public);
        let keys = LinkKeys::for_kit(&key, &hub)?;
        let kit = keys.kit();
        let r = state::restore(session)?;
        let channel = Channel::new(
            keys,
            SendCounter::resume(r.counter_limit, SendCounter::DEFAULT_BLOCK),
            r.window,
        );
        let codes: KitCodes = state::read(session, CODES)?.unwrap_or_default();
        let mut held: HeldCodes = state::read(session, HELD_CODES)?.unwrap_or_default();
        // A kit that agreed a list before it kept them all: that one too.
        if let Some(agreed) = &codes.agreed
            && !held.contains(agreed)
        {
            held.push(agreed.clone());
        }
        let mut endpoint = Endpoint::new(channel, r.outbox, r.inbox);
        // Until the kit's own lists are known (the first exchange), the list agreed before.
        endpoint.set_coding(codes.agreed_book());
        endpoint.set_code_books(state::held_books(&held));
        Ok(Some(KitSync {
            endpoint,
            kit,
            hub_address: id.hub_address.clone(),
            agency: id.agency.clone(),
            label: id.label.clone(),
            mark: r.mark,
            retry_ms: RETRY_MS,
            applying: Arc::new(AtomicBool::new(false)),
            codes,
            held,
            own_book: None,
        }))
    }

    /// The digest of the code list messages are coded with now (`None`: text), see
    /// [`fieldkit_sync::codes`].
    pub fn coding(&self) -> Option<CodeDigest> {
        self.endpoint.coding().map(CodeBook::digest)
    }

    /// Codes the messages queued from now on against the kit's own code lists when the hub
    /// announced it reads them (else against the list agreed before, while the hub still
    /// names it, else as text), and persists the choice when it changed.
    fn refresh_codes(
        &mut self,
        kit: &mut Kit,
        announced: Option<Vec<CodeDigest>>,
    ) -> Result<(), SyncError> {
        let own = self
            .own_book
            .get_or_insert_with(|| {
                let c = kit.config();
                Arc::new(CodeBook::of_deployment(c.locations.as_ref(), &c.lookups))
            })
            .clone();
        let mut next = self.codes.clone();
        if let Some(a) = announced {
            next.announced = a;
        }
        let book = next.choose(&own);
        next.agreed = book.as_ref().map(|b| {
            b.tables()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect()
        });
        let mut held = self.held.clone();
        if let Some(agreed) = &next.agreed
            && !held.contains(agreed)
        {
            held.push(agreed.clone());
        }
        if next != self.codes || held != self.held {
            // The list is held before any message is coded with it.
            let bytes = state::encode(&next)?;
            let held_bytes = state::encode(&held)?;
            kit.session_mut().sync_write(&SyncWrite {
                put: vec![(CODES, &bytes), (HELD_CODES, &held_bytes)],
                ..SyncWrite::default()
            })?;
            if held != self.held {
                self.endpoint.set_code_books(state::held_books(&held));
            }
            self.codes = next;
            self.held = held;
        }
        if book.as_ref().map(|b| b.digest()) != self.coding() {
            tracing::info!(kit = %self.kit, coded = book.is_some(), "code lists for sync changed");
            self.endpoint.set_coding(book);
        }
        Ok(())
    }

    /// The kit core's outbox hook for this engine (`kit.set_outbox(Box::new(..))`): it
    /// knows which saves are the engine's own applying of what the hub sent.
    pub fn outbox_hook(&self) -> SyncOutbox {
        SyncOutbox::sharing(Arc::clone(&self.applying))
    }

    /// This kit's id on the air.
    pub fn kit_id(&self) -> KitId {
        self.kit
    }

    /// The hub's address as provisioned.
    pub fn hub_address(&self) -> &str {
        &self.hub_address
    }

    /// The agency as provisioned.
    pub fn agency(&self) -> &str {
        &self.agency
    }

    /// The kit's label as provisioned.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Overrides the hub's address for this run.
    pub fn set_hub_address(&mut self, address: &str) {
        self.hub_address = address.to_string();
    }

    /// Messages waiting to be acknowledged, and their bytes.
    pub fn pending(&self) -> (usize, usize) {
        let m = self.endpoint.outbox().messages();
        (m.len(), m.iter().map(|m| m.len()).sum())
    }

    /// The most urgent message waiting.
    pub fn top_priority(&self) -> Option<Priority> {
        self.endpoint.outbox().top_priority()
    }

    /// Fragments not yet acknowledged, over all waiting messages.
    pub fn unacked_fragments(&self) -> usize {
        self.endpoint
            .outbox()
            .messages()
            .iter()
            .map(|m| m.unacked())
            .sum()
    }

    /// Frames refused so far in this run.
    pub fn rejections(&self) -> Rejections {
        self.endpoint.rejections()
    }

    /// The outbox (for reports).
    pub fn outbox(&self) -> &Outbox {
        self.endpoint.outbox()
    }

    /// How long an unacknowledged fragment waits before it is sent again.
    pub fn set_retry_ms(&mut self, ms: u64) {
        self.retry_ms = ms;
    }

    fn save(&self, session: &mut Session, dequeue: Vec<Queued>) -> Result<(), SyncError> {
        let outbox = state::encode(self.endpoint.outbox())?;
        let inbox = state::encode(self.endpoint.inbox())?;
        let window: ReplayWindow = self.endpoint.channel().window();
        let window = state::encode(&window)?;
        let mark = state::encode(&self.mark)?;
        session.sync_write(&SyncWrite {
            put: vec![
                (OUTBOX, &outbox),
                (INBOX, &inbox),
                (WINDOW, &window),
                (MARK, &mark),
            ],
            dequeue,
            ..SyncWrite::default()
        })?;
        Ok(())
    }

    /// Turns the records queued since the last call into messages (urgent alerts, then
    /// operations by priority), committed to the vault's outbox together with the queue
    /// entries they empty. Returns the messages queued.
    pub fn collect(&mut self, session: &mut Session, now_ms: u64) -> Result<usize, SyncError> {
        let queued = session.queued(usize::MAX)?;
        if queued.is_empty() {
            return Ok(0);
        }
        let device = session.device();
        let since = self.mark;
        // Per rank, each record's operations kept together.
        let mut by_rank: BTreeMap<u8, Vec<Vec<Op>>> = BTreeMap::new();
        let mut alerts = Vec::new();
        let mut mark = self.mark;
        for q in &queued {
            if q.from_hub {
                continue;
            }
            let ops = match session.ops_since(q.kind, q.id, if q.whole { None } else { since }) {
                Ok(ops) => ops,
                Err(ReadError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if ops.is_empty() {
                continue;
            }
            if let Some(top) = ops
                .iter()
                .filter(|o| o.stamp.device == device)
                .map(|o| o.stamp)
                .max()
            {
                mark = mark.max(Some(top));
            }
            if q.rank >= 3
                && q.kind == RecordKind::Case
                && let Some(a) = alert_of(q, &ops, now_ms)
            {
                alerts.push(a);
            }
            by_rank.entry(q.rank).or_default().push(ops);
        }
        let mut n = 0;
        for a in &alerts {
            self.endpoint.queue(a);
            n += 1;
        }
        for (rank, records) in by_rank.into_iter().rev() {
            let priority = rank_priority(rank);
            // Cut long batches so one message never outgrows what a receiver holds, between
            // records only: messages are delivered each on its own, in any order, and a
            // record cut in two would reach the receiver as a part that does not validate
            // (a case without the `sex` its second half carries).
            let mut batch: Vec<Op> = Vec::new();
            let mut size = 0;
            for ops in records {
                let record_size: usize = ops.iter().map(|op| op.field.len() + 64).sum();
                if !batch.is_empty() && size + record_size > MAX_OPS_MESSAGE {
                    self.endpoint
                        .queue_at(&Body::Ops(std::mem::take(&mut batch)), priority);
                    n += 1;
                    size = 0;
                }
                size += record_size;
                batch.extend(ops);
            }
            if !batch.is_empty() {
                self.endpoint.queue_at(&Body::Ops(batch), priority);
                n += 1;
            }
        }
        self.mark = mark;
        self.save(session, queued)?;
        Ok(n)
    }

    /// The LoRa duty-cycle ledger persisted by [`KitSync::save_airtime`] (empty if none).
    pub fn airtime(session: &Session) -> Result<Vec<(u64, u32)>, SyncError> {
        Ok(state::read(session, state::AIRTIME)?.unwrap_or_default())
    }

    /// Persists the LoRa duty-cycle ledger (committed before it returns).
    pub fn save_airtime(
        &self,
        session: &mut Session,
        ledger: &[(u64, u32)],
    ) -> Result<(), SyncError> {
        let bytes = state::encode(&ledger)?;
        session.sync_write(&SyncWrite {
            put: vec![(state::AIRTIME, &bytes)],
            ..SyncWrite::default()
        })?;
        Ok(())
    }

    /// The links' rests persisted by [`KitSync::save_rests`] (none resting if none).
    pub fn rests(session: &Session) -> Result<state::Rests, SyncError> {
        Ok(state::read(session, state::RESTS)?.unwrap_or_default())
    }

    /// Persists the links' rests (committed before it returns).
    pub fn save_rests(session: &mut Session, rests: &state::Rests) -> Result<(), SyncError> {
        let bytes = state::encode(rests)?;
        session.sync_write(&SyncWrite {
            put: vec![(state::RESTS, &bytes)],
            ..SyncWrite::default()
        })?;
        Ok(())
    }

    /// Queues a report of the vault's state (commit counter, audit head, records), so the
    /// hub notices a vault rolled back.
    pub fn queue_status(&mut self, session: &mut Session, status: Status) -> Result<(), SyncError> {
        self.endpoint.queue(&Body::Status(status));
        self.save(session, Vec::new())
    }

    /// One exchange with the hub: up to the link's frame count of what is due (at most
    /// `up_to` in priority), then what the hub answers, applied through the kit core.
    pub fn exchange(
        &mut self,
        kit: &mut Kit,
        link: &mut dyn Link,
        now_ms: u64,
        up_to: Priority,
    ) -> Result<Exchange, SyncError> {
        let frames = self.outgoing(kit, link.mtu(), link.max_frames(), now_ms, up_to)?;
        let replies = link.exchange(&frames, now_ms)?;
        let mut report = self.incoming(kit, &replies, now_ms)?;
        report.frames_sent = frames.len();
        report.bytes_sent = frames.iter().map(Vec::len).sum();
        Ok(report)
    }

    /// The first half of an exchange: the frames due now (at most `max_frames` of `mtu`
    /// bytes, up to `up_to` in priority), with the outbox (each message's fragment size) and
    /// the send-counter reservation committed before they are returned. The kit is needed
    /// only for its vault session: a caller sharing the kit with the touch screen lets go of
    /// it while the frames travel, then calls [`KitSync::incoming`].
    pub fn outgoing(
        &mut self,
        kit: &mut Kit,
        mtu: usize,
        max_frames: usize,
        now_ms: u64,
        up_to: Priority,
    ) -> Result<Vec<Vec<u8>>, SyncError> {
        self.refresh_codes(kit, None)?;
        let mut frames = Vec::new();
        while frames.len() < max_frames {
            let session = kit.session_mut();
            let persist = |r: fieldkit_sync::counter::Reservation| {
                let limit = state::encode(&r.0)?;
                session.sync_write(&SyncWrite {
                    put: vec![(COUNTER, &limit)],
                    ..SyncWrite::default()
                })?;
                Ok::<(), SyncError>(())
            };
            let frame = self
                .endpoint
                .poll_transmit(now_ms, mtu, self.retry_ms, up_to, persist)
                .map_err(|e| match e {
                    SealError::Counter(fieldkit_sync::counter::CounterError::Persist(e)) => e,
                    other => SyncError::Seal(other.to_string()),
                })?;
            let Some(frame) = frame else { break };
            frames.push(frame);
        }
        // Each message's fragment size is fixed once sent: commit it before frames leave.
        if !frames.is_empty() {
            self.save(kit.session_mut(), Vec::new())?;
        }
        Ok(frames)
    }

    /// The second half of an exchange: the hub's answer taken, what it completes applied
    /// through the kit core, then the inbox and replay window that acknowledge it committed.
    /// (`frames_sent` and `bytes_sent` of the report are left at 0.)
    pub fn incoming(
        &mut self,
        kit: &mut Kit,
        replies: &[Vec<u8>],
        now_ms: u64,
    ) -> Result<Exchange, SyncError> {
        let mut report = Exchange {
            frames_received: replies.len(),
            ..Exchange::default()
        };
        let mut delivered = Vec::new();
        for r in replies {
            match self.endpoint.handle(r) {
                Ok(Some(d)) => delivered.push(d),
                Ok(None) => {}
                Err(why) => {
                    tracing::warn!(kit = %self.kit, reason = ?why, "frame refused");
                    report.frames_refused += 1;
                }
            }
        }
        for d in delivered {
            match d.body {
                Ok(body) => match self.apply(kit, body, now_ms)? {
                    Some(changed) => {
                        report.messages_applied += 1;
                        report.records_changed += changed;
                    }
                    None => report.messages_ignored += 1,
                },
                Err(e) => {
                    tracing::warn!(kit = %self.kit, error = %e, "a message from the hub did not decode");
                    report.messages_ignored += 1;
                }
            }
        }
        // What arrived is applied; now the inbox and window that acknowledge it.
        if report.frames_received > 0 {
            self.save(kit.session_mut(), Vec::new())?;
        }
        Ok(report)
    }

    /// Applies one message from the hub through the kit core. `None`: nothing to apply.
    fn apply(
        &mut self,
        kit: &mut Kit,
        body: Body,
        now_ms: u64,
    ) -> Result<Option<usize>, SyncError> {
        let ops = match body {
            Body::Ops(ops) => ops,
            Body::MatchNotice(n) => {
                tracing::info!(
                    kit = %self.kit,
                    likelihood = %n.likelihood,
                    "match notice from the hub (its record follows as operations)"
                );
                return Ok(None);
            }
            Body::CodeLists(digests) => {
                self.refresh_codes(kit, Some(digests))?;
                return Ok(None);
            }
            Body::Review(_) | Body::Alert(_) | Body::Status(_) => return Ok(None),
        };
        // Incidents never come by sync.
        let ops: Vec<Op> = ops
            .into_iter()
            .filter(|o| o.kind != RecordKind::Incident)
            .collect();
        if ops.is_empty() {
            return Ok(Some(0));
        }
        self.applying.store(true, Ordering::SeqCst);
        let merged = kit.apply_ops(&ops, now_ms);
        self.applying.store(false, Ordering::SeqCst);
        Ok(Some(merged?.changed))
    }
}

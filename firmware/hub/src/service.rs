//! The hub service: the sans-IO [`Hub`] core over the hub's vault, with the kit core's warm
//! matcher index ([`fieldkit_app::Kit`]) over every kit's records.
//!
//! One call per exchange: [`HubService::receive`] takes the frames a kit (or the LoRa
//! gateway) delivered, applies what they carry, routes notices, decisions and transfers
//! into the other kits' outboxes, and commits all of it before it returns;
//! [`HubService::transmit`] then gives the frames to send back, acknowledgements first. An
//! acknowledgement is only ever made after the commit of what it acknowledges, so a hub
//! killed at any moment loses nothing a kit was told is safe: what was not committed was not
//! acknowledged, and the kit sends it again.
//!
//! Routing is idempotent, so a message delivered twice (a crash between the records' commit
//! and the routing commit) routes nothing twice: a match notice goes out once per match (the
//! `hub/routed/…` entries, committed with the outboxes), a record is forwarded once per kit
//! (the kits' `holds`).

use std::collections::{BTreeMap, BTreeSet};

use fieldkit_app::{
    Alert, Kit, KitConfig, MatchFilter, ReviewError, SaveError, TraceRef, match_id,
};
use fieldkit_domain::{Document, Op, PotentialMatch, Record, RecordId, RecordKind};
use fieldkit_sync::codes::CodeDigest;
use fieldkit_sync::counter::{CounterError, Reservation};
use fieldkit_sync::hub::{EnrollError, Hub, HubEvent, KitState};
use fieldkit_sync::message::{Body, OpsForm, Priority, ReviewDecision};
use fieldkit_sync::seal::{KitId, SealError, StaticKey};
use fieldkit_sync::transfer::Outbox;
use fieldkit_vault::{Session, SyncWrite, Vault, VaultError};
use x25519_dalek::PublicKey;
use zeroize::Zeroizing;

use crate::store::{
    self, ALERTS, AlertSeen, KIT_PREFIX, KitFile, MAX_ALERTS, ROUTED_PREFIX, RollbackSeen, SECRET,
    StatusSeen,
};

/// Retry an unacknowledged fragment after this long.
pub const RETRY_MS: u64 = 20_000;

/// Why the hub could not be set up in a vault.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The vault.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The vault already holds a hub.
    #[error("this vault already holds a hub key")]
    AlreadyHub,
    /// No randomness.
    #[error("no randomness for the hub key: {0}")]
    Random(String),
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The vault.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The kit core (reading every record for the index).
    #[error(transparent)]
    Kit(#[from] fieldkit_app::OpenError),
    /// The vault holds no hub key (`fieldkit hub init` first).
    #[error("this vault is not a hub's (no hub key): run `fieldkit hub init`")]
    NotAHub,
    /// A stored value did not decode.
    #[error("the hub's stored state `{0}` does not decode")]
    Corrupt(String),
    /// A stored kit could not be enrolled again.
    #[error("stored kit {0}: {1}")]
    Enroll(String, EnrollError),
}

/// Why a kit could not be enrolled.
#[derive(Debug, thiserror::Error)]
pub enum EnrollKitError {
    /// The key or id.
    #[error(transparent)]
    Key(#[from] EnrollError),
    /// Already enrolled.
    #[error("kit {0} is already enrolled")]
    Already(KitId),
    /// The agency name is empty or too long.
    #[error("an agency name must be 1 to 64 characters")]
    Agency,
    /// Saving the enrolment.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Why frames could not be taken. The hub's state in memory is then behind its promises: the
/// caller must drop the service and open it again from the vault (the `run` loop exits).
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Applying records.
    #[error("applying received records: {0}")]
    Apply(#[source] SaveError),
    /// Committing the hub's state.
    #[error("committing the hub's state: {0}")]
    Vault(#[from] VaultError),
    /// An earlier failure left the service unusable.
    #[error("the hub service failed earlier and must be reopened")]
    Poisoned,
}

/// Why frames could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TransmitError {
    /// Persisting the send-counter block failed, so no frame was sealed.
    #[error("persisting the send counter: {0}")]
    Counter(#[source] VaultError),
    /// The counter space is exhausted (never in practice).
    #[error("the send counter towards this kit is exhausted")]
    Exhausted,
    /// An earlier failure left the service unusable.
    #[error("the hub service failed earlier and must be reopened")]
    Poisoned,
}

/// What one [`HubService::receive`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Frames accepted.
    pub accepted: usize,
    /// Frames refused (replayed, for another hub, altered, from an unknown kit).
    pub refused: usize,
    /// Messages completed and applied.
    pub messages: usize,
    /// Records new or changed in the hub's vault.
    pub records_changed: usize,
    /// Match notices queued (one per match and kit).
    pub notices_queued: usize,
    /// Review decisions forwarded (one per kit).
    pub reviews_forwarded: usize,
    /// Records forwarded to another agency's kits (transfers).
    pub records_transferred: usize,
    /// Kits noticed with a rolled-back vault.
    pub rollbacks: Vec<KitId>,
}

/// One kit as the coordinator sees it.
#[derive(Debug, Clone)]
pub struct KitView {
    /// Its id.
    pub id: KitId,
    /// What the hub keeps about it.
    pub file: KitFile,
    /// Messages waiting for it.
    pub queued: usize,
    /// Frames from it refused.
    pub refused: u64,
}

/// A kit's waiting messages as their entries hold them: id → (chunk, fragments acknowledged).
type StoredOut = BTreeMap<u64, (u32, Vec<bool>)>;

#[derive(Debug)]
struct Enrolled {
    file: KitFile,
    /// The waiting messages as their entries hold them: id → progress (chunk, fragments
    /// acknowledged). A message is written again only when this changed, so an exchange
    /// costs what changed, not the whole outbox (before, each exchange re-sealed every
    /// touched kit's whole outbox: ~550 KB per kit at 100 kits × 1,000 records).
    stored_out: StoredOut,
}

/// The hub, open.
pub struct HubService {
    kit: Kit,
    hub: Hub,
    kits: BTreeMap<KitId, Enrolled>,
    holders: BTreeMap<RecordId, BTreeSet<KitId>>,
    routed: BTreeMap<RecordId, String>,
    alerts: Vec<AlertSeen>,
    poisoned: bool,
    /// The code lists each kit was last told of (`crate::codes`).
    told: crate::codes::Told,
    /// How long a fragment sent to a kit waits for its acknowledgement before it goes again.
    retry_ms: u64,
}

impl std::fmt::Debug for HubService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubService")
            .field("kits", &self.kits.len())
            .field("kit", &self.kit)
            .finish_non_exhaustive()
    }
}

/// Sets a vault up as a hub: a fresh X25519 static secret, sealed in it. Returns the hub's
/// public key (what provisioning gives each kit).
pub fn init(session: &mut Session) -> Result<PublicKey, InitError> {
    if session.sync_value(SECRET)?.is_some() {
        return Err(InitError::AlreadyHub);
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::fill(secret.as_mut()).map_err(|e| InitError::Random(e.to_string()))?;
    let key = StaticKey::from_bytes(*secret);
    session.sync_write(&SyncWrite {
        put: vec![(SECRET, secret.as_slice())],
        ..SyncWrite::default()
    })?;
    Ok(key.public())
}

fn priority_all() -> Priority {
    Priority::Bulk
}

fn likely_first(a: &PotentialMatch, b: &PotentialMatch) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score)
}

const PENDING: &str = "pending";

fn review_state(m: &PotentialMatch) -> &str {
    m.status.as_deref().unwrap_or(PENDING)
}

fn is_likely(m: &PotentialMatch) -> bool {
    m.likelihood.as_deref() == Some("likely")
}

/// Match notices sent to the kits per trace (a child a family seeks): every *likely* match of
/// the trace, and its best *possible* ones until it has this many notices. The rest stay on
/// the hub (`fieldkit hub status`); a rejection or confirmation frees a place, and the next
/// best goes out.
///
/// Why 5: the matcher is judged on whether the sought child is among a trace's best five
/// (`fieldkit trace eval`'s recall at 5: 0.97 on the standard population, 0.90 on the hard
/// one, against 0.76 and 0.61 for *likely* alone), so the five best carry nearly every right
/// match a caseworker can confirm; the matcher returns up to 20 per trace, and sending all
/// of them to both kits made ~11 notices per tracing request at 100 kits × 1,000 records —
/// on LoRa (a notice with its explanation is one to three 239-byte frames, 1 % duty cycle)
/// hours of airtime a day for pairs a caseworker almost never confirms.
pub const NOTICES_PER_TRACE: usize = 5;

impl HubService {
    /// Opens the hub on a signed-in session of its vault: builds the warm matcher index over
    /// every record, and restores every enrolled kit's link state. No deployment
    /// configuration: no location tree, the shipped lookups, no code lists.
    pub fn open(session: Session, now_ms: u64) -> Result<HubService, OpenError> {
        Self::open_with(session, KitConfig::default(), now_ms)
    }

    /// As [`HubService::open`], with the deployment's configuration (location tree, lookups,
    /// triage and matching), whose code lists the hub reads and announces to every kit
    /// ([`crate::codes`]).
    pub fn open_with(
        mut session: Session,
        config: KitConfig,
        now_ms: u64,
    ) -> Result<HubService, OpenError> {
        let secret = session.sync_value(SECRET)?.ok_or(OpenError::NotAHub)?;
        let bytes: [u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| OpenError::Corrupt(SECRET.into()))?;
        let mut hub = Hub::new(StaticKey::from_bytes(bytes));
        let names = session.sync_names(KIT_PREFIX)?;
        let mut kits = BTreeMap::new();
        let mut holders: BTreeMap<RecordId, BTreeSet<KitId>> = BTreeMap::new();
        for name in names.iter().filter(|n| store::is_kit_name(n)) {
            let Some(bytes) = session.sync_value(name)? else {
                continue;
            };
            let mut file: KitFile =
                store::decode(&bytes).map_err(|_| OpenError::Corrupt(name.clone()))?;
            // Waiting messages: their own entries, and any a file written before them held.
            let mut stored_out = BTreeMap::new();
            let mut messages = file.outbox.messages().to_vec();
            for out in session.sync_names(&format!("{name}/out/"))? {
                let Some(bytes) = session.sync_value(&out)? else {
                    continue;
                };
                let m = store::decode_outgoing(&bytes).map_err(|_| OpenError::Corrupt(out))?;
                let (chunk, acked) = m.progress();
                stored_out.insert(m.id, (chunk, acked.to_vec()));
                messages.retain(|x| x.id != m.id);
                messages.push(m);
            }
            file.outbox = Outbox::from_parts(file.outbox.next_id(), messages);
            let counter_limit = match session.sync_value(&format!("{name}/counter"))? {
                Some(b) => u64::from_le_bytes(
                    b.as_slice()
                        .try_into()
                        .map_err(|_| OpenError::Corrupt(format!("{name}/counter")))?,
                ),
                None => 0,
            };
            let state = KitState {
                counter_limit,
                window: file.window,
                outbox: file.outbox.clone(),
                inbox: file.inbox.clone(),
                status: file
                    .status
                    .as_ref()
                    .map(|s| fieldkit_sync::message::Status {
                        commits: s.commits,
                        audit_head: s.audit_head,
                        records: s.records,
                    }),
            };
            let id = hub
                .enroll(PublicKey::from(file.public), state)
                .map_err(|e| OpenError::Enroll(name.clone(), e))?;
            for r in &file.holds {
                holders
                    .entry(RecordId::from_bytes(*r))
                    .or_default()
                    .insert(id);
            }
            kits.insert(id, Enrolled { file, stored_out });
        }
        let mut routed = BTreeMap::new();
        for name in session.sync_names(ROUTED_PREFIX)? {
            let id = name
                .strip_prefix(ROUTED_PREFIX)
                .and_then(|h| h.parse::<RecordId>().ok())
                .ok_or_else(|| OpenError::Corrupt(name.clone()))?;
            if let Some(v) = session.sync_value(&name)? {
                routed.insert(id, String::from_utf8_lossy(&v).into_owned());
            }
        }
        let alerts = match session.sync_value(ALERTS)? {
            Some(b) => store::decode(&b).map_err(|_| OpenError::Corrupt(ALERTS.into()))?,
            None => Vec::new(),
        };
        let current = fieldkit_sync::codes::CodeBook::of_deployment(
            config.locations.as_ref(),
            &config.lookups,
        );
        hub.set_code_books(crate::codes::held_books(&mut session, current)?);
        let told = crate::codes::read_told(&session, kits.keys().copied())?;
        for k in kits.keys().copied() {
            // The newest form of operations each kit showed it reads, as recorded.
            if let Some(bytes) = session.sync_value(&store::form_name(k))? {
                let form: OpsForm =
                    store::decode(&bytes).map_err(|_| OpenError::Corrupt(store::form_name(k)))?;
                if let Some(e) = hub.endpoint_mut(k) {
                    e.set_ops_form(form);
                }
            }
        }
        for (k, digest) in crate::codes::read_reads(&session, kits.keys().copied())? {
            let book = hub.code_books().get(&digest);
            if let Some(e) = hub.endpoint_mut(k) {
                e.set_coding(book);
            }
        }
        let kit = Kit::open(session, config, now_ms)?;
        let mut service = HubService {
            kit,
            hub,
            kits,
            holders,
            routed,
            alerts,
            poisoned: false,
            told,
            retry_ms: RETRY_MS,
        };
        service.announce_codes()?;
        Ok(service)
    }

    /// Tells each kit not yet told the code lists the hub reads: the announcement is queued
    /// and committed like any message, then what the kit was told.
    fn announce_codes(&mut self) -> Result<(), VaultError> {
        let digests = crate::codes::announced(self.hub.code_books());
        if digests.is_empty() {
            return Ok(());
        }
        let due: BTreeSet<KitId> = self
            .kits
            .keys()
            .filter(|k| self.told.get(*k) != Some(&digests))
            .copied()
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        for k in &due {
            self.hub.queue(*k, &Body::CodeLists(digests.clone()));
        }
        self.persist(&due, &BTreeSet::new(), false)?;
        let due: Vec<KitId> = due.into_iter().collect();
        crate::codes::write_told(self.kit.session_mut(), &due, &digests)?;
        for k in due {
            self.told.insert(k, digests.clone());
        }
        Ok(())
    }

    /// `kit` coded a message with the list `digest` (in a form whose senders read it): what
    /// the hub sends that kit from now on is coded with it too, recorded before use.
    fn codes_read_by(&mut self, kit: KitId, digest: &CodeDigest) -> Result<(), VaultError> {
        let Some(endpoint) = self.hub.endpoint(kit) else {
            return Ok(());
        };
        if endpoint.coding().map(|b| b.digest()) == Some(*digest) {
            return Ok(());
        }
        let Some(book) = self.hub.code_books().get(digest) else {
            return Ok(());
        };
        crate::codes::write_reads(self.kit.session_mut(), kit, digest)?;
        if let Some(e) = self.hub.endpoint_mut(kit) {
            e.set_coding(Some(book));
        }
        tracing::info!(%kit, "messages for the kit are coded with the code list it codes with");
        Ok(())
    }

    /// `kit` sent a message in `form` (the hub's endpoint now writes that form to it): it is
    /// recorded, once, so a restarted hub keeps writing it.
    fn form_read_by(&mut self, kit: KitId, form: OpsForm) -> Result<(), VaultError> {
        let name = store::form_name(kit);
        let value = store::encode(&form);
        if self
            .kit
            .session()
            .sync_value(&name)?
            .is_some_and(|v| v.as_slice() == value.as_slice())
        {
            return Ok(());
        }
        self.kit.session_mut().sync_write(&SyncWrite {
            put: vec![(name.as_str(), value.as_slice())],
            ..SyncWrite::default()
        })?;
        tracing::info!(%kit, ?form, "the kit reads a newer form of operations");
        Ok(())
    }

    /// Sends a fragment a kit has not acknowledged again after `ms` (default [`RETRY_MS`]):
    /// a hub on a fast network with lossy last hops (trials, tests) retries sooner.
    pub fn set_retry_ms(&mut self, ms: u64) {
        self.retry_ms = ms.max(1);
    }

    /// Signs out: the keys are zeroized and the locked vault is returned.
    pub fn lock(self) -> Vault {
        self.kit.lock()
    }

    /// The hub's public key.
    pub fn public(&self) -> PublicKey {
        self.hub.public()
    }

    /// The kit core over the hub's vault (records, potential matches).
    pub fn kit(&self) -> &Kit {
        &self.kit
    }

    /// The coordinator opens one record the hub holds (audited, as a kit's reads are).
    pub fn open_record(
        &mut self,
        kind: RecordKind,
        id: RecordId,
        now_ms: u64,
    ) -> Result<fieldkit_vault::Opened, fieldkit_vault::ReadError> {
        self.kit.session_mut().get(kind, id, now_ms)
    }

    /// Enrolls a kit by its public key, for an agency; committed when it returns.
    pub fn enroll(
        &mut self,
        public: PublicKey,
        agency: &str,
        label: &str,
        now_ms: u64,
    ) -> Result<KitId, EnrollKitError> {
        let agency = agency.trim();
        if agency.is_empty() || agency.chars().count() > 64 {
            return Err(EnrollKitError::Agency);
        }
        let id = KitId::of(&public);
        if self.kits.contains_key(&id) {
            return Err(EnrollKitError::Already(id));
        }
        let file = KitFile {
            public: public.to_bytes(),
            agency: agency.to_string(),
            label: label.trim().to_string(),
            enrolled_at_ms: now_ms,
            ..KitFile::default()
        };
        let (name, value) = (store::kit_name(id), store::encode(&file));
        self.kit.session_mut().sync_write(&SyncWrite {
            put: vec![(&name, &value)],
            ..SyncWrite::default()
        })?;
        self.hub.enroll(public, KitState::default())?;
        self.kits.insert(
            id,
            Enrolled {
                file,
                stored_out: BTreeMap::new(),
            },
        );
        self.announce_codes()?;
        Ok(id)
    }

    /// The LoRa gateway's duty-cycle ledger as last saved (empty if never), for the driver
    /// of a hub that starts: without it a restarted hub could answer with another hour's
    /// allowance.
    pub fn airtime(&self) -> Result<Vec<(u64, u32)>, OpenError> {
        match self.kit.session().sync_value(store::AIRTIME)? {
            Some(bytes) => {
                store::decode(&bytes).map_err(|_| OpenError::Corrupt(store::AIRTIME.into()))
            }
            None => Ok(Vec::new()),
        }
    }

    /// Saves the LoRa gateway's duty-cycle ledger (committed before it returns).
    pub fn save_airtime(&mut self, ledger: &[(u64, u32)]) -> Result<(), VaultError> {
        let value = store::encode(&ledger);
        self.kit.session_mut().sync_write(&SyncWrite {
            put: vec![(store::AIRTIME, &value)],
            ..SyncWrite::default()
        })
    }

    /// Every enrolled kit.
    pub fn kits(&self) -> Vec<KitView> {
        self.kits
            .iter()
            .map(|(id, k)| {
                let endpoint = self.hub.endpoint(*id);
                KitView {
                    id: *id,
                    file: k.file.clone(),
                    queued: endpoint.map_or(0, |e| e.outbox().messages().len()),
                    refused: endpoint.map_or(0, |e| e.rejections().total()),
                }
            })
            .collect()
    }

    /// Urgent alerts kits raised, newest last.
    pub fn alerts(&self) -> &[AlertSeen] {
        &self.alerts
    }

    /// Frames from kits that are not enrolled.
    pub fn unknown_kit_frames(&self) -> u64 {
        self.hub.unknown_kit_frames()
    }

    /// Takes frames from any link, applies and routes what they complete, and commits it all
    /// before returning. Refused frames are counted and change nothing.
    pub fn receive(&mut self, frames: &[Vec<u8>], now_ms: u64) -> Result<Receipt, ReceiveError> {
        if self.poisoned {
            return Err(ReceiveError::Poisoned);
        }
        let r = self.receive_inner(frames, now_ms);
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    fn receive_inner(&mut self, frames: &[Vec<u8>], now_ms: u64) -> Result<Receipt, ReceiveError> {
        let mut receipt = Receipt::default();
        let mut dirty: BTreeSet<KitId> = BTreeSet::new();
        let mut routed_now: BTreeSet<RecordId> = BTreeSet::new();
        let mut alerts_changed = false;
        for frame in frames {
            let events = match self.hub.handle(frame) {
                Ok(e) => e,
                Err(_) => {
                    receipt.refused += 1;
                    continue;
                }
            };
            receipt.accepted += 1;
            for event in events {
                match event {
                    HubEvent::RolledBack { kit, before, now } => {
                        tracing::warn!(
                            %kit,
                            before = before.commits,
                            now = now.commits,
                            "a kit's vault was rolled back: its records since then may be lost or replayed"
                        );
                        if let Some(k) = self.kits.get_mut(&kit) {
                            k.file.rollbacks.push(RollbackSeen {
                                at_ms: now_ms,
                                before_commits: before.commits,
                                now_commits: now.commits,
                                other_history: before.commits == now.commits,
                            });
                        }
                        receipt.rollbacks.push(kit);
                        dirty.insert(kit);
                    }
                    HubEvent::Delivered { kit, message } => {
                        receipt.messages += 1;
                        dirty.insert(kit);
                        if let Some(digest) = message.code_list {
                            self.codes_read_by(kit, &digest)?;
                        }
                        if let Some(form) = message.form {
                            self.form_read_by(kit, form)?;
                        }
                        match message.body {
                            Ok(body) => self.apply(
                                kit,
                                body,
                                now_ms,
                                &mut receipt,
                                &mut dirty,
                                &mut routed_now,
                                &mut alerts_changed,
                            )?,
                            Err(e) => {
                                tracing::warn!(%kit, error = %e, "a message from a kit did not decode; dropped");
                                if let Some(k) = self.kits.get_mut(&kit) {
                                    k.file.messages_dropped += 1;
                                }
                            }
                        }
                    }
                }
            }
            // Every accepted frame moves the sender's window (and acknowledgements may have
            // emptied the outbox): its state is saved with the rest.
            if let Ok(h) = fieldkit_sync::seal::peek(frame)
                && let Some(k) = self.kits.get_mut(&h.kit)
            {
                k.file.last_seen_ms = Some(now_ms);
                k.file.frames_accepted += 1;
                dirty.insert(h.kit);
            }
        }
        self.persist(&dirty, &routed_now, alerts_changed)?;
        Ok(receipt)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        from: KitId,
        body: Body,
        now_ms: u64,
        receipt: &mut Receipt,
        dirty: &mut BTreeSet<KitId>,
        routed_now: &mut BTreeSet<RecordId>,
        alerts_changed: &mut bool,
    ) -> Result<(), ReceiveError> {
        match body {
            Body::Ops(ops) => self.apply_ops(from, &ops, now_ms, receipt, dirty, routed_now),
            Body::Review(decision) => {
                self.apply_review(from, &decision, now_ms, receipt, dirty, routed_now)
            }
            Body::Status(s) => {
                if let Some(k) = self.kits.get_mut(&from) {
                    let newer = k
                        .file
                        .status
                        .as_ref()
                        .is_none_or(|b| s.commits >= b.commits);
                    if newer {
                        k.file.status = Some(StatusSeen {
                            commits: s.commits,
                            audit_head: s.audit_head,
                            records: s.records,
                            at_ms: now_ms,
                        });
                    }
                }
                Ok(())
            }
            Body::Alert(a) => {
                tracing::warn!(kit = %from, record = %a.record, risk = %a.risk, "urgent alert from a kit");
                self.alerts.push(AlertSeen {
                    kit: from.0,
                    record: *a.record.as_bytes(),
                    risk: a.risk,
                    concerns: a.concerns,
                    raised_min: a.raised_min,
                });
                if self.alerts.len() > MAX_ALERTS {
                    let cut = self.alerts.len() - MAX_ALERTS;
                    self.alerts.drain(..cut);
                }
                *alerts_changed = true;
                Ok(())
            }
            // The hub is the matcher: a kit's notice carries nothing the hub lacks.
            Body::MatchNotice(_) => Ok(()),
            // Code lists are the hub's to announce, not a kit's.
            Body::CodeLists(_) => Ok(()),
        }
    }

    fn hold(&mut self, kit: KitId, record: RecordId, dirty: &mut BTreeSet<KitId>) -> bool {
        let Some(k) = self.kits.get_mut(&kit) else {
            return false;
        };
        let new = k.file.holds.insert(*record.as_bytes());
        if new {
            self.holders.entry(record).or_default().insert(kit);
            dirty.insert(kit);
        }
        new
    }

    fn apply_ops(
        &mut self,
        from: KitId,
        ops: &[Op],
        now_ms: u64,
        receipt: &mut Receipt,
        dirty: &mut BTreeSet<KitId>,
        routed_now: &mut BTreeSet<RecordId>,
    ) -> Result<(), ReceiveError> {
        let merged = match self.kit.apply_ops(ops, now_ms) {
            Ok(merged) => merged,
            Err(SaveError::Vault(VaultError::BadChange(e))) => {
                tracing::warn!(kit = %from, error = %e, "operations from a kit do not apply; dropped");
                if let Some(k) = self.kits.get_mut(&from) {
                    k.file.messages_dropped += 1;
                }
                return Ok(());
            }
            Err(e) => return Err(ReceiveError::Apply(e)),
        };
        receipt.records_changed += merged.changed;
        let touched: BTreeSet<(RecordKind, RecordId)> =
            ops.iter().map(|o| (o.kind, o.record)).collect();
        for (_, id) in &touched {
            self.hold(from, *id, dirty);
        }
        // Potential matches whose news the kits holding either side have not had: pending ones
        // now among their trace's notices (a notice), decided ones (the decision, not back to
        // the kit that decided). A decision frees a place among its trace's notices, so the
        // trace is looked at again.
        let mut news: BTreeMap<RecordId, PotentialMatch> = BTreeMap::new();
        let mut decided_here: BTreeSet<RecordId> = BTreeSet::new();
        let mut traces: BTreeSet<(RecordId, String)> = BTreeSet::new();
        for (kind, id) in &touched {
            let filter = match kind {
                RecordKind::Case => MatchFilter {
                    case_id: Some(*id),
                    ..MatchFilter::default()
                },
                RecordKind::TracingRequest => MatchFilter {
                    tracing_request_id: Some(*id),
                    ..MatchFilter::default()
                },
                RecordKind::PotentialMatch => {
                    decided_here.insert(*id);
                    MatchFilter::default()
                }
                RecordKind::Incident => continue,
            };
            for m in self.kit.potential_matches(&filter) {
                if *kind == RecordKind::PotentialMatch && m.id != *id {
                    continue;
                }
                traces.insert((m.tracing_request_id, m.trace_id.clone()));
                if review_state(&m) != PENDING
                    && self.routed.get(&m.id).map(String::as_str) != Some(review_state(&m))
                {
                    news.insert(m.id, m);
                }
            }
        }
        for m in self.notices_unsent(&traces) {
            news.insert(m.id, m);
        }
        // A pending match the kits were told of whose class these records moved (the hub's
        // kit core re-scored it: one child, one request, or the margin rule, as a rival
        // request or case arrived, changed or left) goes again, so the kits holding its sides
        // show the class the hub holds, as a kit holding the same records would.
        for m in self.reclassed(&merged.alerts) {
            news.insert(m.id, m);
        }
        // Cases whose owning agency the operations set: transfers.
        let transfers: BTreeSet<RecordId> = ops
            .iter()
            .filter(|o| o.kind == RecordKind::Case && o.field == "owned_by_agency_id")
            .map(|o| o.record)
            .collect();
        if news.is_empty() && transfers.is_empty() {
            return Ok(());
        }
        // One read of every document needed (one audit entry).
        let wanted: Vec<(RecordKind, RecordId)> = news
            .keys()
            .map(|id| (RecordKind::PotentialMatch, *id))
            .chain(transfers.iter().map(|id| (RecordKind::Case, *id)))
            .collect();
        let docs = self.documents(&wanted, now_ms)?;
        let mut ordered: Vec<&PotentialMatch> = news.values().collect();
        ordered.sort_by(|a, b| likely_first(a, b));
        for m in ordered {
            let Some(doc) = docs
                .iter()
                .find(|d| d.kind() == RecordKind::PotentialMatch && d.id() == m.id)
            else {
                continue;
            };
            let except = decided_here.contains(&m.id).then_some(from);
            self.route_match(m, doc, except, receipt, dirty, routed_now);
        }
        for doc in docs.iter().filter(|d| d.kind() == RecordKind::Case) {
            self.transfer(from, doc, receipt, dirty);
        }
        Ok(())
    }

    fn apply_review(
        &mut self,
        from: KitId,
        d: &ReviewDecision,
        now_ms: u64,
        receipt: &mut Receipt,
        dirty: &mut BTreeSet<KitId>,
        routed_now: &mut BTreeSet<RecordId>,
    ) -> Result<(), ReceiveError> {
        let id = match_id(
            d.case,
            &TraceRef {
                tracing_request_id: d.tracing_request,
                trace_id: d.trace.clone(),
            },
        );
        let note = format!("decided by {} on kit {from}", d.by);
        let mut alerts = Vec::new();
        match self.kit.review_match(id, d.confirmed, Some(&note), now_ms) {
            Ok(reviewed) => alerts = reviewed.alerts,
            Err(ReviewError::NotApplicable(_) | ReviewError::NotFound(_)) => {}
            Err(ReviewError::Save(SaveError::Vault(e)) | ReviewError::Vault(e))
                if !matches!(e, VaultError::BadChange(_)) =>
            {
                return Err(ReceiveError::Vault(e));
            }
            Err(e) => {
                tracing::warn!(kit = %from, error = %e, "a review decision could not be recorded on the hub");
            }
        }
        // Every other kit holding either side hears the decision as the kit made it.
        let body = Body::Review(d.clone());
        for k in self.holders_of(d.case, d.tracing_request, Some(from)) {
            if self.hub.queue(k, &body).is_some() {
                receipt.reviews_forwarded += 1;
                dirty.insert(k);
            }
        }
        let state = if d.confirmed { "confirmed" } else { "rejected" };
        self.routed.insert(id, state.to_string());
        routed_now.insert(id);
        // The decision frees a place among the trace's notices: the next best goes out. A
        // confirmation also takes the trace out of matching, so a case it claimed (one child,
        // one request) is free for another request's trace again, and the links rescore the
        // pairs near both records: a pending match the kits were told of whose class moved
        // goes again, and one now likely goes out (it is among its trace's notices), as
        // `apply_ops` does for a merge's rescores.
        let mut traces = BTreeSet::from([(d.tracing_request, d.trace.clone())]);
        traces.extend(alert_traces(&alerts));
        let mut news: BTreeMap<RecordId, PotentialMatch> = BTreeMap::new();
        for m in self.notices_unsent(&traces) {
            news.insert(m.id, m);
        }
        for m in self.reclassed(&alerts) {
            news.insert(m.id, m);
        }
        if news.is_empty() {
            return Ok(());
        }
        let wanted: Vec<(RecordKind, RecordId)> = news
            .keys()
            .map(|id| (RecordKind::PotentialMatch, *id))
            .collect();
        let docs = self.documents(&wanted, now_ms)?;
        let mut ordered: Vec<&PotentialMatch> = news.values().collect();
        ordered.sort_by(|a, b| likely_first(a, b));
        for m in ordered {
            if let Some(doc) = docs.iter().find(|doc| doc.id() == m.id) {
                self.route_match(m, doc, None, receipt, dirty, routed_now);
            }
        }
        Ok(())
    }

    /// The pending matches already routed whose class (likely or possible) a change moved, as
    /// the kit core reported it (`Alert::LikelyMatch` for a rescored match that became likely,
    /// `Alert::MatchNoLongerLikely`).
    fn reclassed(&self, alerts: &[Alert]) -> Vec<PotentialMatch> {
        let mut out = Vec::new();
        for a in alerts {
            let (Alert::LikelyMatch {
                match_id,
                case_id,
                tracing_request_id,
                ..
            }
            | Alert::MatchNoLongerLikely {
                match_id,
                case_id,
                tracing_request_id,
                ..
            }) = a
            else {
                continue;
            };
            if self.routed.get(match_id).map(String::as_str) != Some(PENDING) {
                continue;
            }
            let found = self.kit.potential_matches(&MatchFilter {
                status: Some(PENDING.into()),
                case_id: Some(*case_id),
                tracing_request_id: Some(*tracing_request_id),
            });
            out.extend(found.into_iter().filter(|m| m.id == *match_id));
        }
        out
    }

    /// The hub's documents of these records (one read, one audit entry).
    fn documents(
        &mut self,
        wanted: &[(RecordKind, RecordId)],
        now_ms: u64,
    ) -> Result<Vec<Document>, ReceiveError> {
        self.kit
            .session_mut()
            .documents_of(wanted, now_ms)
            .map_err(ReceiveError::Vault)
    }

    /// The pending matches of `traces` that are among their trace's notices
    /// ([`NOTICES_PER_TRACE`]) and were not sent yet, best first.
    fn notices_unsent(&self, traces: &BTreeSet<(RecordId, String)>) -> Vec<PotentialMatch> {
        let mut out = Vec::new();
        let mut requests: BTreeMap<RecordId, Vec<PotentialMatch>> = BTreeMap::new();
        for (request, _) in traces {
            if !requests.contains_key(request) {
                let pending = self.kit.potential_matches(&MatchFilter {
                    status: Some(PENDING.into()),
                    tracing_request_id: Some(*request),
                    ..MatchFilter::default()
                });
                requests.insert(*request, pending);
            }
        }
        for (request, trace) in traces {
            let Some(pending) = requests.get(request) else {
                continue;
            };
            // `potential_matches` orders likely first, then by score, then by id.
            let ranked: Vec<&PotentialMatch> =
                pending.iter().filter(|m| &m.trace_id == trace).collect();
            let likely = ranked.iter().filter(|m| is_likely(m)).count();
            out.extend(
                ranked
                    .into_iter()
                    .take(NOTICES_PER_TRACE.max(likely))
                    .filter(|m| self.routed.get(&m.id).map(String::as_str) != Some(PENDING))
                    .cloned(),
            );
        }
        out
    }

    fn holders_of(
        &self,
        case: RecordId,
        request: RecordId,
        except: Option<KitId>,
    ) -> BTreeSet<KitId> {
        let mut to: BTreeSet<KitId> = BTreeSet::new();
        for r in [case, request] {
            if let Some(ks) = self.holders.get(&r) {
                to.extend(ks.iter().copied());
            }
        }
        if let Some(f) = except {
            to.remove(&f);
        }
        to
    }

    /// Sends a potential match as its record's operations (the explanation, the review state)
    /// to the kits holding either side, once per review state; the kits merge it like any
    /// record, so two kits' decisions meet as a conflict the reviewer settles.
    fn route_match(
        &mut self,
        m: &PotentialMatch,
        doc: &Document,
        except: Option<KitId>,
        receipt: &mut Receipt,
        dirty: &mut BTreeSet<KitId>,
        routed_now: &mut BTreeSet<RecordId>,
    ) {
        let state = review_state(m).to_string();
        let body = Body::Ops(fieldkit_sync::codec::by_save(doc.ops()));
        for k in self.holders_of(m.case_id, m.tracing_request_id, except) {
            if self.hub.queue(k, &body).is_some() {
                dirty.insert(k);
                self.hold(k, m.id, dirty);
                if state == "pending" {
                    receipt.notices_queued += 1;
                } else {
                    receipt.reviews_forwarded += 1;
                }
            }
        }
        self.routed.insert(m.id, state);
        routed_now.insert(m.id);
    }

    /// A case now owned by another agency than the sending kit's goes, with its whole
    /// history, to every kit of that agency that does not hold it yet: opened from the hub's
    /// vault and sealed again for each receiving kit's link. A case a kit sends as owned by
    /// the kit's own agency (every registration carries its owner) is no transfer and goes
    /// nowhere: cases leave their kit only when matched or handed to another agency (before,
    /// every registration was copied to every other kit of the agency: 99 copies per case
    /// with 100 kits, found by the hub's throughput bench).
    fn transfer(
        &mut self,
        from: KitId,
        doc: &Document,
        receipt: &mut Receipt,
        dirty: &mut BTreeSet<KitId>,
    ) {
        let Ok(Record::Case(c)) = doc.to_record() else {
            return;
        };
        let Some(agency) = c.owned_by_agency_id.as_deref() else {
            return;
        };
        if self
            .kits
            .get(&from)
            .is_some_and(|k| k.file.agency == agency)
        {
            return;
        }
        let case = doc.id();
        let receivers: Vec<KitId> = self
            .kits
            .iter()
            .filter(|(_, k)| k.file.agency == agency && !k.file.holds.contains(case.as_bytes()))
            .map(|(id, _)| *id)
            .collect();
        if receivers.is_empty() {
            return;
        }
        let body = Body::Ops(fieldkit_sync::codec::by_save(doc.ops()));
        for k in receivers {
            if self.hub.queue(k, &body).is_some() {
                tracing::info!(kit = %k, %agency, "case transferred to a kit of the receiving agency");
                self.hold(k, case, dirty);
                receipt.records_transferred += 1;
            }
        }
    }

    fn persist(
        &mut self,
        dirty: &BTreeSet<KitId>,
        routed_now: &BTreeSet<RecordId>,
        alerts_changed: bool,
    ) -> Result<(), VaultError> {
        let mut values: Vec<(String, Vec<u8>)> = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        let mut stored_now: Vec<(KitId, StoredOut)> = Vec::new();
        for id in dirty {
            let (Some(k), Some(e)) = (self.kits.get_mut(id), self.hub.endpoint(*id)) else {
                continue;
            };
            k.file.window = e.channel().window();
            // Each waiting message in its own entry, written when new or changed.
            let outbox = e.outbox();
            let mut stored = BTreeMap::new();
            for m in outbox.messages() {
                let (chunk, acked) = m.progress();
                let now = (chunk, acked.to_vec());
                if k.stored_out.get(&m.id) != Some(&now) {
                    values.push((store::out_name(*id, m.id), store::encode(m)));
                }
                stored.insert(m.id, now);
            }
            removed.extend(
                k.stored_out
                    .keys()
                    .filter(|m| !stored.contains_key(m))
                    .map(|m| store::out_name(*id, *m)),
            );
            stored_now.push((*id, stored));
            k.file.outbox = Outbox::from_parts(outbox.next_id(), Vec::new());
            k.file.inbox = e.inbox().clone();
            if let Some(s) = self.hub.status(*id) {
                let keep_at = k.file.status.as_ref().map_or(0, |o| o.at_ms);
                if k.file
                    .status
                    .as_ref()
                    .is_none_or(|o| o.commits != s.commits || o.audit_head != s.audit_head)
                {
                    k.file.status = Some(StatusSeen {
                        commits: s.commits,
                        audit_head: s.audit_head,
                        records: s.records,
                        at_ms: keep_at,
                    });
                }
            }
            values.push((store::kit_name(*id), store::encode(&k.file)));
        }
        for id in routed_now {
            if let Some(state) = self.routed.get(id) {
                values.push((store::routed_name(*id), state.as_bytes().to_vec()));
            }
        }
        if alerts_changed {
            values.push((ALERTS.to_string(), store::encode(&self.alerts)));
        }
        if values.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let put: Vec<(&str, &[u8])> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        self.kit.session_mut().sync_write(&SyncWrite {
            put,
            remove: removed.iter().map(String::as_str).collect(),
            ..SyncWrite::default()
        })?;
        // Only once committed: a failed commit leaves them to be written again.
        for (id, stored) in stored_now {
            if let Some(k) = self.kits.get_mut(&id) {
                k.stored_out = stored;
            }
        }
        Ok(())
    }

    /// The frames to send to `kit` now over a link of `mtu` bytes, at most `max`:
    /// acknowledgements first, then its messages by priority. A send-counter block is
    /// committed before any counter in it is used.
    pub fn transmit(
        &mut self,
        kit: KitId,
        mtu: usize,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<Vec<u8>>, TransmitError> {
        if self.poisoned {
            return Err(TransmitError::Poisoned);
        }
        let mut out = Vec::new();
        let name = store::counter_name(kit);
        let retry_ms = self.retry_ms;
        while out.len() < max {
            let session = self.kit.session_mut();
            let Some(endpoint) = self.hub.endpoint_mut(kit) else {
                break;
            };
            let sent = endpoint.poll_transmit(
                now_ms,
                mtu,
                retry_ms,
                priority_all(),
                |Reservation(limit)| {
                    session.sync_write(&SyncWrite {
                        put: vec![(name.as_str(), &limit.to_le_bytes())],
                        ..SyncWrite::default()
                    })
                },
            );
            match sent {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(SealError::Counter(CounterError::Persist(e))) => {
                    self.poisoned = true;
                    return Err(TransmitError::Counter(e));
                }
                Err(_) => return Err(TransmitError::Exhausted),
            }
        }
        Ok(out)
    }

    /// Kits with something to send or acknowledgements owed (for the LoRa gateway, which
    /// cannot wait for a kit to ask).
    pub fn kits_waiting(&self) -> Vec<KitId> {
        self.kits
            .keys()
            .copied()
            .filter(|k| {
                self.hub
                    .endpoint(*k)
                    .is_some_and(|e| e.owes_acks() || !e.outbox().is_empty())
            })
            .collect()
    }
}

/// The traces of the potential matches a rescore re-classed (the kit core's alerts).
fn alert_traces(alerts: &[Alert]) -> impl Iterator<Item = (RecordId, String)> + '_ {
    alerts.iter().filter_map(|a| match a {
        Alert::LikelyMatch {
            tracing_request_id,
            trace_id,
            ..
        }
        | Alert::MatchNoLongerLikely {
            tracing_request_id,
            trace_id,
            ..
        } => Some((*tracing_request_id, trace_id.clone())),
        Alert::Urgent(_) => None,
    })
}

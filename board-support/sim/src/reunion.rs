//! `fieldkit sim reunion`: a field trial in one process. A hub and two kits: kit A has only
//! LoRa (the real RAK3172 driver over the simulated air), kit B a cellular modem (the real
//! modem driver powers it and waits for registration) and reaches the hub by the HTTP link
//! over IP (loopback in simulation), with the same frame loss as the air. A registers a
//! separated child, B the mother's tracing request; the hub is the real one
//! (`fieldkit_hub::HubService` on a vault in a temporary directory): it commits the operations
//! it receives, matches across kits with its warm index and sends the potential match, with
//! its explanation, to both kits as the match record's operations; then B's caseworker
//! confirms the match and the decision reaches A through the hub.
//!
//! "Killed during the transfer" is a power cut *in process*: kit A's endpoint is dropped
//! right after it sent, before any acknowledgement, and rebuilt from what it had persisted
//! (counter limit, replay window, outbox, inbox), as after a reboot. A SIGKILL of a kit
//! process needs kits as processes with their vaults (the vault's outbox and inbox tables).

use std::convert::Infallible;
use std::time::Duration;

use fieldkit_domain::{
    Case, Date, DeviceId, Document, Hlc, Op, PotentialMatch, Record, RecordId, RecordKind, Sex,
    Trace, TracingRequest,
};
use fieldkit_drivers::modem::{Modem, ModemError, ModemModel};
use fieldkit_drivers::rak3172::LoraError;
use fieldkit_http::{HttpError, HttpLink, HubServer, ServerError};
use fieldkit_hub::HubService;
use fieldkit_power::Timestamp;
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Body, Priority, ReviewDecision};
use fieldkit_sync::seal::{BadPeerKey, Channel, KitId, LinkKeys, StaticKey};
use fieldkit_sync::transfer::{Inbox, Outbox};
use serde::Serialize;

use crate::cellular::{ModemConfig, ModemKind, SignalDay, SimCard, SimModem};
use crate::clock::SimClock;
use crate::lora::{self, Air, AirConfig, Firmware, KitRadio, RadioError, SimRak3172};
use crate::pty::PtyError;

/// Why the trial could not run (not: why it failed to converge; that is in the report).
#[derive(Debug, thiserror::Error)]
pub enum ReunionError {
    /// A LoRa module or its driver.
    #[error("LoRa: {0}")]
    Radio(#[from] RadioError),
    /// Sending or receiving over LoRa.
    #[error("LoRa: {0}")]
    Lora(#[from] LoraError),
    /// The simulated modem.
    #[error("modem: {0}")]
    Pty(#[from] PtyError),
    /// The modem driver.
    #[error("modem: {0}")]
    Modem(#[from] ModemError),
    /// The hub's HTTP endpoint.
    #[error("hub HTTP endpoint: {0}")]
    Server(#[from] ServerError),
    /// Kit B's HTTP exchange.
    #[error("HTTP link: {0}")]
    Http(#[from] HttpError),
    /// Serving a request.
    #[error("hub HTTP endpoint: {0}")]
    Io(#[from] std::io::Error),
    /// Keys.
    #[error("keys: {0}")]
    Keys(#[from] BadPeerKey),
    /// Enrolling a kit.
    #[error("enrolling a kit: {0}")]
    Enroll(#[from] fieldkit_hub::EnrollKitError),
    /// The hub's vault.
    #[error("the hub's vault: {0}")]
    HubVault(#[from] fieldkit_vault::VaultError),
    /// Setting up the hub.
    #[error("setting up the hub: {0}")]
    HubInit(#[from] fieldkit_hub::InitError),
    /// Opening the hub.
    #[error("opening the hub: {0}")]
    HubOpen(#[from] fieldkit_hub::OpenError),
    /// The hub failed to take or make frames.
    #[error("the hub: {0}")]
    Hub(String),
    /// A frame could not be sealed.
    #[error("sealing a frame failed")]
    Seal,
    /// The simulated records do not form operations.
    #[error("building the trial's records: {0}")]
    Records(String),
}

/// How to run the trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReunionConfig {
    /// Frames lost, percent, on the air and on the IP path.
    pub loss_percent: u8,
    /// Cut kit A's power right after its first transmission and restart it.
    pub kill_during_transfer: bool,
    /// Simulated time on air = real × this.
    pub time_scale: f64,
    /// Give up after this many rounds per phase.
    pub max_rounds: u32,
}

impl Default for ReunionConfig {
    fn default() -> Self {
        Self {
            loss_percent: 0,
            kill_during_transfer: false,
            time_scale: 0.02,
            max_rounds: 60,
        }
    }
}

/// A match notice as a kit received it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeSeen {
    /// The case.
    pub case: String,
    /// The tracing request.
    pub tracing_request: String,
    /// The trace.
    pub trace: String,
    /// `likely` / `possible`.
    pub likelihood: String,
    /// Total weight, bits.
    pub score_bits: f32,
    /// `(field, weight in bits, detail)` per field.
    pub evidence: Vec<(String, f32, String)>,
}

/// What the trial found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReunionReport {
    /// Frame loss, percent.
    pub loss_percent: u8,
    /// Kit A holds the match notice.
    pub kit_a_notified: bool,
    /// Kit B holds the match notice.
    pub kit_b_notified: bool,
    /// The review decision made on B reached A.
    pub review_reached_a: bool,
    /// Rounds until both kits held the notice and every outbox was empty.
    pub rounds_to_notice: u32,
    /// Rounds in all (with the review decision).
    pub rounds: u32,
    /// Kit A was restarted mid-transfer.
    pub kit_a_restarted: bool,
    /// Bytes over LoRa, both ways.
    pub lora_bytes: u64,
    /// Time on air, both radios, ms.
    pub lora_airtime_ms: u64,
    /// Bytes over IP, both ways.
    pub ip_bytes: u64,
    /// Frames refused (replayed, for another kit, altered) by any endpoint.
    pub frames_rejected: u64,
    /// Records the hub holds (2 expected).
    pub hub_records: usize,
    /// Records registered on a kit that the hub does not hold.
    pub records_lost: usize,
    /// Match notices a kit received more than once.
    pub notices_duplicated: usize,
    /// Notices as each kit received them (A, then B).
    pub notices: Vec<NoticeSeen>,
}

type Radio = KitRadio;

const LORA_MTU: usize = 239;
const IP_MTU: usize = 1200;
const TODAY_MS: u64 = 1_780_000_000_000;

/// What a kit keeps on disk between runs.
#[derive(Clone, Default)]
struct Stored {
    counter_limit: u64,
    window: ReplayWindow,
    outbox: Outbox,
    inbox: Inbox,
}

struct KitSide {
    key: StaticKey,
    stored: Stored,
    endpoint: Endpoint,
    /// Potential-match records as received (their operations merged).
    matches: Vec<Document>,
    /// Messages that carried potential-match operations.
    match_messages: usize,
    reviews: Vec<Body>,
}

impl KitSide {
    fn new(seed: u8, hub: &HubService) -> Result<Self, ReunionError> {
        let key = StaticKey::from_bytes([seed; 32]);
        let stored = Stored::default();
        let endpoint = Self::restore(&key, hub, &stored)?;
        Ok(KitSide {
            key,
            stored,
            endpoint,
            matches: Vec::new(),
            match_messages: 0,
            reviews: Vec::new(),
        })
    }

    fn restore(key: &StaticKey, hub: &HubService, s: &Stored) -> Result<Endpoint, ReunionError> {
        Ok(Endpoint::new(
            Channel::new(
                LinkKeys::for_kit(key, &hub.public())?,
                SendCounter::resume(s.counter_limit, 8),
                s.window,
            ),
            s.outbox.clone(),
            s.inbox.clone(),
        ))
    }

    /// Persists what must survive a power cut (the caller does it where the protocol says).
    fn save(&mut self) {
        self.stored.window = self.endpoint.channel().window();
        self.stored.outbox = self.endpoint.outbox().clone();
        self.stored.inbox = self.endpoint.inbox().clone();
    }

    /// A power cut and a restart: everything not persisted is gone.
    fn restart(&mut self, hub: &HubService) -> Result<(), ReunionError> {
        self.endpoint = Self::restore(&self.key, hub, &self.stored)?;
        Ok(())
    }

    fn next_frame(&mut self, now: u64, mtu: usize) -> Result<Option<Vec<u8>>, ReunionError> {
        let limit = &mut self.stored.counter_limit;
        self.endpoint
            .poll_transmit(now, mtu, 20_000, Priority::Bulk, |Reservation(l)| {
                *limit = l;
                Ok::<_, Infallible>(())
            })
            .map_err(|_| ReunionError::Seal)
    }

    /// The potential matches received, as records.
    fn notices(&self) -> Vec<PotentialMatch> {
        self.matches
            .iter()
            .filter_map(|d| match d.to_record() {
                Ok(Record::PotentialMatch(m)) => Some(*m),
                _ => None,
            })
            .collect()
    }

    fn take(&mut self, frame: &[u8]) {
        if let Ok(Some(d)) = self.endpoint.handle(frame) {
            match d.body {
                Ok(Body::Ops(ops)) => {
                    let mut carried = false;
                    for op in ops.iter().filter(|o| o.kind == RecordKind::PotentialMatch) {
                        carried = true;
                        let pos = match self.matches.iter().position(|m| m.id() == op.record) {
                            Some(p) => p,
                            None => {
                                self.matches.push(Document::new(op.kind, op.record));
                                self.matches.len() - 1
                            }
                        };
                        let _ = self.matches[pos].apply(op);
                    }
                    self.match_messages += usize::from(carried);
                }
                Ok(review @ Body::Review(_)) => self.reviews.push(review),
                _ => {}
            }
        }
        self.save();
    }
}

fn ops_of(
    kind: RecordKind,
    id: RecordId,
    record: &Record,
    device: u64,
) -> Result<Vec<Op>, ReunionError> {
    let stamp = Hlc {
        wall_ms: TODAY_MS,
        counter: 0,
        device: DeviceId(device),
    };
    Document::new(kind, id)
        .diff(&record.to_json(), || stamp)
        .map_err(|e| ReunionError::Records(e.to_string()))
}

fn separated_child() -> Result<(RecordId, Vec<Op>), ReunionError> {
    let id = RecordId::from_bytes([0xA1; 16]);
    let case = Case {
        id,
        name: Some("Amina Yusuf".into()),
        sex: Some(Sex::Female),
        age: Some(7),
        status: Some("open".into()),
        location_current: Some("SD-DA-KAL".into()),
        location_separation: Some("SD-DA-NYA".into()),
        date_of_separation: Date::from_ymd(2026, 5, 2).ok(),
        protection_concerns: vec!["separated".into()],
        consent_for_tracing: Some(true),
        ..Case::default()
    };
    Ok((
        id,
        ops_of(RecordKind::Case, id, &Record::Case(Box::new(case)), 0xA)?,
    ))
}

fn mothers_request() -> Result<(RecordId, Vec<Op>), ReunionError> {
    let id = RecordId::from_bytes([0xB2; 16]);
    let request = TracingRequest {
        id,
        status: Some("open".into()),
        relation_name: Some("Halima Yusuf".into()),
        relation: Some("mother".into()),
        tracing_request_subform_section: vec![Trace {
            unique_id: "b2-trace-0".into(),
            name: Some("Aminah Yousef".into()),
            sex: Some(Sex::Female),
            age: Some(7),
            date_of_separation: Date::from_ymd(2026, 5, 3).ok(),
            location_separation: Some("SD-DA-NYA".into()),
            ..Trace::default()
        }],
        ..TracingRequest::default()
    };
    Ok((
        id,
        ops_of(
            RecordKind::TracingRequest,
            id,
            &Record::TracingRequest(Box::new(request)),
            0xB,
        )?,
    ))
}

/// `tx` sends while `rx` listens; the payload `rx` heard.
fn over_air(
    tx: &mut Radio,
    rx: &mut Radio,
    now_ms: u64,
    frame: &[u8],
) -> Result<Option<Vec<u8>>, ReunionError> {
    Ok(lora::exchange(tx, rx, now_ms, frame, Duration::from_millis(700))?.map(|p| p.payload))
}

/// Deterministic loss on the IP stand-in.
struct Loss(u64, u8);

impl Loss {
    fn lost(&mut self) -> bool {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % 100 < u64::from(self.1)
    }
}

#[derive(Debug, Default)]
struct Tally {
    rounds: u32,
    restarted: bool,
    lora_bytes: u64,
    ip_bytes: u64,
}

/// A hub and two kits, and the links between them.
struct Trial {
    b_link: HttpLink,
    a_radio: Radio,
    gateway: Radio,
    hub: HubService,
    a: KitSide,
    b: KitSide,
    a_id: KitId,
    _hub_dir: tempfile::TempDir,
    ip_loss: Loss,
    report: Tally,
    now: u64,
    _modules: (SimRak3172, SimRak3172, SimModem),
}

impl Trial {
    fn new(loss: u8, time_scale: f64, hub_url: &str) -> Result<Trial, ReunionError> {
        let air = Air::new(AirConfig {
            loss_percent: loss,
            time_scale,
            seed: 0xBEEF ^ u64::from(loss),
            ..AirConfig::default()
        });
        let (am, a_radio) = air.driven(Firmware::V5_0_0, true)?;
        let (gm, gateway) = air.driven(Firmware::V4_1_0, true)?;

        // Kit B's modem: power on, registered at noon's signal.
        let (modem_sim, key, port) = SimModem::spawn(ModemConfig {
            kind: ModemKind::Sim7600,
            boot: Duration::from_millis(100),
            register_after: Duration::from_millis(100),
            sim: SimCard::Ready,
            signal: SignalDay {
                clock: SimClock::new(Timestamp(12 * 3600), 1),
                best_hour: 13.0,
                best_rssi: 20,
                worst_rssi: 6,
                dead: None,
            },
        })?;
        let mut modem = Modem::new(port, key, ModemModel::Sim7600);
        modem.power_on(Duration::from_millis(60), Duration::from_secs(5))?;
        modem.wait_registered(Duration::from_secs(5), Duration::from_millis(50))?;

        // The real hub, on its own vault.
        let hub_dir = tempfile::tempdir()?;
        let (mut session, _) = fieldkit_vault::Vault::create(
            &hub_dir.path().join("hub.redb"),
            fieldkit_vault::InitOptions {
                username: "coordinator",
                display_name: "Coordinator",
                credential: b"739164",
                policy: fieldkit_vault::CredentialPolicy::default(),
                now_ms: TODAY_MS,
            },
            fieldkit_vault::OpenOptions::default(),
        )
        .map_err(fieldkit_vault::VaultError::from)?;
        fieldkit_hub::init(&mut session)?;
        let mut hub = HubService::open(session, TODAY_MS)?;
        let a = KitSide::new(0x0A, &hub)?;
        let b = KitSide::new(0x0B, &hub)?;
        let a_id = hub.enroll(a.key.public(), "unicef", "kit A (LoRa)", TODAY_MS)?;
        let b_id = hub.enroll(b.key.public(), "unicef", "kit B (cellular)", TODAY_MS)?;
        let b_link = HttpLink::new(hub_url, b_id, Duration::from_secs(5));
        Ok(Trial {
            b_link,
            a_radio,
            gateway,
            hub,
            a,
            b,
            a_id,
            _hub_dir: hub_dir,
            ip_loss: Loss(u64::from(loss), loss),
            report: Tally::default(),
            now: 0,
            _modules: (am, gm, modem_sim),
        })
    }

    /// The hub takes frames: it commits them, matches, and routes the potential match to
    /// both kits and a review decision to the other kit.
    fn hub_take(&mut self, frames: &[Vec<u8>]) -> Result<(), ReunionError> {
        self.hub
            .receive(frames, TODAY_MS + self.now)
            .map_err(|e| ReunionError::Hub(e.to_string()))?;
        Ok(())
    }

    fn hub_frame(&mut self, kit: KitId, mtu: usize) -> Result<Option<Vec<u8>>, ReunionError> {
        let mut frames = self
            .hub
            .transmit(kit, mtu, 1, self.now)
            .map_err(|e| ReunionError::Hub(e.to_string()))?;
        Ok(frames.pop())
    }

    fn settled(&self) -> bool {
        self.a.endpoint.outbox().is_empty()
            && self.b.endpoint.outbox().is_empty()
            && self.hub.kits().iter().all(|k| k.queued == 0)
    }

    fn round(&mut self, server: &HubServer, restart_a: bool) -> Result<(), ReunionError> {
        self.report.rounds += 1;
        self.now += 30_000;
        let now = self.now;
        // Kit A, LoRa: at most four frames a round.
        for _ in 0..4 {
            let Some(f) = self.a.next_frame(now, LORA_MTU)? else {
                break;
            };
            self.report.lora_bytes += f.len() as u64;
            if let Some(p) = over_air(&mut self.a_radio, &mut self.gateway, now, &f)? {
                self.hub_take(&[p])?;
            }
        }
        if restart_a {
            // Power cut after sending, before any acknowledgement: A restarts from its
            // storage, its message still unacknowledged, and sends it again.
            self.a.restart(&self.hub)?;
            self.report.restarted = true;
        }
        // Kit B: one HTTP exchange over the modem's IP path (loopback here); frames are
        // lost on the way at the trial's rate, both ways.
        let mut up = Vec::new();
        while let Some(f) = self.b.next_frame(now, IP_MTU)? {
            self.report.ip_bytes += f.len() as u64;
            if !self.ip_loss.lost() {
                up.push(f);
            }
        }
        let link = self.b_link.clone();
        let mut sealing = Ok(());
        let (served, answer) = std::thread::scope(|s| {
            let client = s.spawn(move || link.exchange(&up));
            let served = server.serve_one(Duration::from_secs(5), |kit, frames| {
                if let Err(e) = self.hub_take(&frames) {
                    sealing = Err(e);
                    return Vec::new();
                }
                let mut down = Vec::new();
                loop {
                    match self.hub_frame(kit, IP_MTU) {
                        Ok(Some(f)) => {
                            self.report.ip_bytes += f.len() as u64;
                            if !self.ip_loss.lost() {
                                down.push(f);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            sealing = Err(e);
                            break;
                        }
                    }
                }
                down
            });
            let answer = client
                .join()
                .unwrap_or_else(|_| Err(HttpError::Body(fieldkit_http::BodyError::Truncated)));
            (served, answer)
        });
        served?;
        sealing?;
        for f in answer? {
            self.b.take(&f);
        }
        // The hub answers kit A over the gateway.
        for _ in 0..4 {
            let Some(f) = self.hub_frame(self.a_id, LORA_MTU)? else {
                break;
            };
            self.report.lora_bytes += f.len() as u64;
            if let Some(p) = over_air(&mut self.gateway, &mut self.a_radio, now, &f)? {
                self.a.take(&p);
            }
        }
        Ok(())
    }
}

fn seen(m: &PotentialMatch) -> NoticeSeen {
    NoticeSeen {
        case: m.case_id.to_string(),
        tracing_request: m.tracing_request_id.to_string(),
        trace: m.trace_id.clone(),
        likelihood: m.likelihood.clone().unwrap_or_default(),
        score_bits: m.score as f32,
        evidence: m
            .comparison
            .iter()
            .map(|e| (e.field.clone(), e.weight as f32, e.detail.to_string()))
            .collect(),
    }
}

/// Runs the trial.
pub fn run(config: &ReunionConfig) -> Result<ReunionReport, ReunionError> {
    let server = HubServer::bind("127.0.0.1:0")?;
    let addr = server
        .local_addr()
        .ok_or_else(|| std::io::Error::other("the hub's endpoint has no IP address"))?;
    let mut t = Trial::new(
        config.loss_percent,
        config.time_scale,
        &format!("http://{addr}"),
    )?;
    let (case_id, case_ops) = separated_child()?;
    let (request_id, request_ops) = mothers_request()?;
    t.a.endpoint.queue(&Body::Ops(case_ops));
    t.a.save();
    t.b.endpoint.queue(&Body::Ops(request_ops));
    t.b.save();

    let notified = |t: &Trial| !t.a.matches.is_empty() && !t.b.matches.is_empty();
    while !(notified(&t) && t.settled()) && t.report.rounds < config.max_rounds {
        let restart = config.kill_during_transfer && t.report.rounds == 0;
        t.round(&server, restart)?;
    }
    let rounds_to_notice = t.report.rounds;

    // The mother's caseworker confirms the match on kit B; kit A hears it through the hub.
    let decision = Body::Review(ReviewDecision {
        case: case_id,
        tracing_request: request_id,
        trace: "b2-trace-0".into(),
        confirmed: true,
        by: "amal.h".into(),
        at_min: (TODAY_MS / 60_000) as u32,
    });
    if notified(&t) {
        t.b.endpoint.queue(&decision);
        t.b.save();
        let mut more = 0;
        while (t.a.reviews.is_empty() || !t.settled()) && more < config.max_rounds {
            more += 1;
            t.round(&server, false)?;
        }
    }

    let rejected = t.a.endpoint.rejections().total()
        + t.b.endpoint.rejections().total()
        + t.hub.kits().iter().map(|k| k.refused).sum::<u64>();
    let session = t.hub.kit().session();
    let mut held: Vec<RecordId> = Vec::new();
    for (kind, id) in [
        (RecordKind::Case, case_id),
        (RecordKind::TracingRequest, request_id),
    ] {
        let found = session
            .resolve(kind, &id.to_string())
            .map_err(fieldkit_vault::VaultError::from)?;
        if found.contains(&id) {
            held.push(id);
        }
    }
    let count = |kind| {
        session
            .count(kind)
            .map_err(fieldkit_vault::VaultError::from)
    };
    let hub_records = count(RecordKind::Case)? + count(RecordKind::TracingRequest)?;
    let (a_notices, b_notices) = (t.a.notices(), t.b.notices());
    let notices: Vec<NoticeSeen> = a_notices.iter().chain(&b_notices).map(seen).collect();
    Ok(ReunionReport {
        loss_percent: config.loss_percent,
        kit_a_notified: a_notices
            .iter()
            .any(|n| n.case_id == case_id && n.tracing_request_id == request_id),
        kit_b_notified: b_notices
            .iter()
            .any(|n| n.case_id == case_id && n.tracing_request_id == request_id),
        review_reached_a: t.a.reviews.contains(&decision),
        rounds_to_notice,
        rounds: t.report.rounds,
        kit_a_restarted: t.report.restarted,
        lora_bytes: t.report.lora_bytes,
        lora_airtime_ms: t.a_radio.stats().airtime_ms + t.gateway.stats().airtime_ms,
        ip_bytes: t.report.ip_bytes,
        frames_rejected: rejected,
        hub_records: usize::try_from(hub_records).unwrap_or(usize::MAX),
        records_lost: [case_id, request_id]
            .iter()
            .filter(|id| !held.contains(id))
            .count(),
        notices_duplicated: t.a.match_messages.saturating_sub(1)
            + t.b.match_messages.saturating_sub(1),
        notices,
    })
}

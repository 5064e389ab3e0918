//! `fieldkit sim reunion`: a field trial in one process. A hub and two kits: kit A has only
//! LoRa (the real RAK3172 driver over the simulated air), kit B a cellular modem (the real
//! modem driver powers it and waits for registration) and reaches the hub by the HTTP link
//! over IP (loopback in simulation), with the same frame loss as the air. A registers a
//! separated child, B the mother's tracing request; the hub applies the operations it
//! receives, matches across kits (`match_changed`) and sends a match notice with its
//! explanation to both kits; then B's caseworker confirms the match and the decision reaches
//! A through the hub.
//!
//! "Killed during the transfer" is a power cut *in process*: kit A's endpoint is dropped
//! right after it sent, before any acknowledgement, and rebuilt from what it had persisted
//! (counter limit, replay window, outbox, inbox), as after a reboot. A SIGKILL of a kit
//! process needs kits as processes with their vaults (the vault's outbox and inbox tables).

use std::convert::Infallible;
use std::time::Duration;

use fieldkit_domain::{
    Case, Date, DeviceId, Document, Hlc, Op, Record, RecordId, RecordKind, Sex, Trace,
    TracingRequest,
};
use fieldkit_drivers::modem::{Modem, ModemError, ModemModel};
use fieldkit_drivers::rak3172::LoraError;
use fieldkit_http::{HttpError, HttpLink, HubServer, ServerError};
use fieldkit_match::matcher::{MatchSettings, match_changed};
use fieldkit_match::profile::Locations;
use fieldkit_power::Timestamp;
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::hub::{EnrollError, Hub, HubEvent, KitState};
use fieldkit_sync::message::{Body, Evidence, MatchNotice, Priority, ReviewDecision};
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
    Enroll(#[from] EnrollError),
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
    notices: Vec<MatchNotice>,
    reviews: Vec<Body>,
}

impl KitSide {
    fn new(seed: u8, hub: &Hub) -> Result<Self, ReunionError> {
        let key = StaticKey::from_bytes([seed; 32]);
        let stored = Stored::default();
        let endpoint = Self::restore(&key, hub, &stored)?;
        Ok(KitSide {
            key,
            stored,
            endpoint,
            notices: Vec::new(),
            reviews: Vec::new(),
        })
    }

    fn restore(key: &StaticKey, hub: &Hub, s: &Stored) -> Result<Endpoint, ReunionError> {
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
    fn restart(&mut self, hub: &Hub) -> Result<(), ReunionError> {
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

    fn take(&mut self, frame: &[u8]) {
        if let Ok(Some(d)) = self.endpoint.handle(frame) {
            match d.body {
                Ok(Body::MatchNotice(n)) => self.notices.push(n),
                Ok(review @ Body::Review(_)) => self.reviews.push(review),
                _ => {}
            }
        }
        self.save();
    }
}

/// The hub's matching over everything received.
#[derive(Default)]
struct HubBook {
    docs: Vec<Document>,
    notified: Vec<(RecordId, RecordId, String)>,
}

impl HubBook {
    /// Applies received operations; returns the notices for new matches.
    fn apply(&mut self, ops: &[Op]) -> Vec<MatchNotice> {
        let mut changed = Vec::new();
        for op in ops {
            let pos = match self.docs.iter().position(|d| d.id() == op.record) {
                Some(p) => p,
                None => {
                    self.docs.push(Document::new(op.kind, op.record));
                    self.docs.len() - 1
                }
            };
            if self.docs[pos].apply(op).is_err() {
                continue;
            }
            if !changed.contains(&op.record) {
                changed.push(op.record);
            }
        }
        let records: Vec<Record> = self
            .docs
            .iter()
            .filter_map(|d| d.to_record().ok())
            .collect();
        let cases: Vec<Case> = records
            .iter()
            .filter_map(|r| match r {
                Record::Case(c) => Some((**c).clone()),
                _ => None,
            })
            .collect();
        let requests: Vec<TracingRequest> = records
            .iter()
            .filter_map(|r| match r {
                Record::TracingRequest(t) => Some((**t).clone()),
                _ => None,
            })
            .collect();
        let changed_cases: Vec<Case> = cases
            .iter()
            .filter(|c| changed.contains(&c.id))
            .cloned()
            .collect();
        let changed_requests: Vec<TracingRequest> = requests
            .iter()
            .filter(|t| changed.contains(&t.id))
            .cloned()
            .collect();
        let found = match_changed(
            &changed_cases,
            &changed_requests,
            &cases,
            &requests,
            &Locations::CodePrefixes,
            Date::from_unix_ms(TODAY_MS),
            &MatchSettings::default(),
        );
        let mut out = Vec::new();
        for m in found {
            let key = (m.case_id, m.tracing_request_id, m.trace_id.clone());
            if self.notified.contains(&key) {
                continue;
            }
            self.notified.push(key);
            out.push(MatchNotice {
                case: m.case_id,
                tracing_request: m.tracing_request_id,
                trace: m.trace_id,
                likelihood: m.likelihood.as_str().into(),
                score_centibits: (m.weight * 100.0).round() as i32,
                evidence: m
                    .fields
                    .iter()
                    .map(|f| Evidence {
                        field: f.field.into(),
                        weight_centibits: (f.weight * 100.0).round() as i32,
                        detail: f.detail.clone(),
                    })
                    .collect(),
            });
        }
        out
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
    hub: Hub,
    a: KitSide,
    b: KitSide,
    a_id: KitId,
    b_id: KitId,
    book: HubBook,
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

        let mut hub = Hub::new(StaticKey::from_bytes([0x77; 32]));
        let a = KitSide::new(0x0A, &hub)?;
        let b = KitSide::new(0x0B, &hub)?;
        let a_id = hub.enroll(a.key.public(), KitState::default())?;
        let b_id = hub.enroll(b.key.public(), KitState::default())?;
        let b_link = HttpLink::new(hub_url, b_id, Duration::from_secs(5));
        Ok(Trial {
            b_link,
            a_radio,
            gateway,
            hub,
            a,
            b,
            a_id,
            b_id,
            book: HubBook::default(),
            ip_loss: Loss(u64::from(loss), loss),
            report: Tally::default(),
            now: 0,
            _modules: (am, gm, modem_sim),
        })
    }

    /// The hub takes a frame: operations are matched, notices go to both kits, a review
    /// decision goes on to the other kit.
    fn hub_take(&mut self, frame: &[u8]) {
        for e in self.hub.handle(frame).unwrap_or_default() {
            let HubEvent::Delivered { kit, message } = e else {
                continue;
            };
            match message.body {
                Ok(Body::Ops(ops)) => {
                    for notice in self.book.apply(&ops) {
                        let body = Body::MatchNotice(notice);
                        self.hub.queue(self.a_id, &body);
                        self.hub.queue(self.b_id, &body);
                    }
                }
                Ok(body @ Body::Review(_)) => {
                    let other = if kit == self.a_id {
                        self.b_id
                    } else {
                        self.a_id
                    };
                    self.hub.queue(other, &body);
                }
                _ => {}
            }
        }
    }

    fn hub_frame(&mut self, kit: KitId, mtu: usize) -> Result<Option<Vec<u8>>, ReunionError> {
        let now = self.now;
        match self.hub.endpoint_mut(kit) {
            Some(e) => e
                .poll_transmit(
                    now,
                    mtu,
                    20_000,
                    Priority::Bulk,
                    |_| Ok::<_, Infallible>(()),
                )
                .map_err(|_| ReunionError::Seal),
            None => Ok(None),
        }
    }

    fn settled(&self) -> bool {
        self.a.endpoint.outbox().is_empty()
            && self.b.endpoint.outbox().is_empty()
            && [self.a_id, self.b_id]
                .iter()
                .all(|k| self.hub.endpoint(*k).is_some_and(|e| e.outbox().is_empty()))
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
                self.hub_take(&p);
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
                for f in &frames {
                    self.hub_take(f);
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

fn seen(n: &MatchNotice) -> NoticeSeen {
    NoticeSeen {
        case: n.case.to_string(),
        tracing_request: n.tracing_request.to_string(),
        trace: n.trace.clone(),
        likelihood: n.likelihood.clone(),
        score_bits: n.score_centibits as f32 / 100.0,
        evidence: n
            .evidence
            .iter()
            .map(|e| {
                (
                    e.field.clone(),
                    e.weight_centibits as f32 / 100.0,
                    e.detail.clone(),
                )
            })
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

    let notified = |t: &Trial| !t.a.notices.is_empty() && !t.b.notices.is_empty();
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
        + [t.a_id, t.b_id]
            .iter()
            .filter_map(|k| t.hub.endpoint(*k))
            .map(|e| e.rejections().total())
            .sum::<u64>();
    let held: Vec<RecordId> = t.book.docs.iter().map(Document::id).collect();
    let notices: Vec<NoticeSeen> = t.a.notices.iter().chain(&t.b.notices).map(seen).collect();
    Ok(ReunionReport {
        loss_percent: config.loss_percent,
        kit_a_notified: t
            .a
            .notices
            .iter()
            .any(|n| n.case == case_id && n.tracing_request == request_id),
        kit_b_notified: t
            .b
            .notices
            .iter()
            .any(|n| n.case == case_id && n.tracing_request == request_id),
        review_reached_a: t.a.reviews.contains(&decision),
        rounds_to_notice,
        rounds: t.report.rounds,
        kit_a_restarted: t.report.restarted,
        lora_bytes: t.report.lora_bytes,
        lora_airtime_ms: t.a_radio.stats().airtime_ms + t.gateway.stats().airtime_ms,
        ip_bytes: t.report.ip_bytes,
        frames_rejected: rejected,
        hub_records: held.len(),
        records_lost: [case_id, request_id]
            .iter()
            .filter(|id| !held.contains(id))
            .count(),
        notices_duplicated: t.a.notices.len().saturating_sub(1)
            + t.b.notices.len().saturating_sub(1),
        notices,
    })
}

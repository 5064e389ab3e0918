//! A field trial in one process: a hub and two kits. Kit A has only LoRa (the real RAK3172
//! driver over the simulated air); kit B has a cellular modem (the real modem driver powers
//! it and waits for registration) and reaches the hub by the HTTP link over IP (loopback in
//! simulation), with the same frame loss as the air. A registers a
//! separated child, B the mother's tracing request; the hub applies the operations it
//! receives, matches across kits, and sends a match notice with its explanation to both.
//! Then B's caseworker confirms the match and the decision reaches A through the hub. Run
//! at 0 % and 30 % frame loss, and with kit A restarted from its persisted state in the
//! middle of its transfer.

use std::convert::Infallible;
use std::time::Duration;

use fieldkit_domain::{
    Case, Date, DeviceId, Document, Hlc, Op, Record, RecordId, RecordKind, Sex, Trace,
    TracingRequest,
};
use fieldkit_drivers::modem::{Modem, ModemModel};
use fieldkit_http::{HttpLink, HubServer};
use fieldkit_match::matcher::{MatchSettings, match_changed};
use fieldkit_match::profile::Locations;
use fieldkit_power::Timestamp;
use fieldkit_sim::cellular::{ModemConfig, ModemKind, SignalDay, SimCard, SimModem};
use fieldkit_sim::clock::SimClock;
use fieldkit_sim::lora::{self, Air, AirConfig, Firmware, KitRadio, SimRak3172};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::hub::{Hub, HubEvent, KitState};
use fieldkit_sync::message::{Body, Evidence, MatchNotice, Priority, ReviewDecision};
use fieldkit_sync::seal::{Channel, KitId, LinkKeys, StaticKey};
use fieldkit_sync::transfer::{Inbox, Outbox};

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
    fn new(seed: u8, hub: &Hub) -> Self {
        let key = StaticKey::from_bytes([seed; 32]);
        let stored = Stored::default();
        let endpoint = Self::restore(&key, hub, &stored);
        KitSide {
            key,
            stored,
            endpoint,
            notices: Vec::new(),
            reviews: Vec::new(),
        }
    }

    fn restore(key: &StaticKey, hub: &Hub, s: &Stored) -> Endpoint {
        Endpoint::new(
            Channel::new(
                LinkKeys::for_kit(key, &hub.public()).expect("keys"),
                SendCounter::resume(s.counter_limit, 8),
                s.window,
            ),
            s.outbox.clone(),
            s.inbox.clone(),
        )
    }

    /// Persists what must survive a power cut (the caller does it where the protocol says).
    fn save(&mut self) {
        self.stored.window = self.endpoint.channel().window();
        self.stored.outbox = self.endpoint.outbox().clone();
        self.stored.inbox = self.endpoint.inbox().clone();
    }

    /// A power cut and a restart: everything not persisted is gone.
    fn restart(&mut self, hub: &Hub) {
        self.endpoint = Self::restore(&self.key, hub, &self.stored);
    }

    fn next_frame(&mut self, now: u64, mtu: usize) -> Option<Vec<u8>> {
        let limit = &mut self.stored.counter_limit;
        self.endpoint
            .poll_transmit(now, mtu, 20_000, Priority::Bulk, |Reservation(l)| {
                *limit = l;
                Ok::<_, Infallible>(())
            })
            .expect("seal")
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
            self.docs[pos].apply(op).expect("op for this record");
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

fn ops_of(kind: RecordKind, id: RecordId, record: &Record, device: u64) -> Vec<Op> {
    let stamp = Hlc {
        wall_ms: TODAY_MS,
        counter: 0,
        device: DeviceId(device),
    };
    Document::new(kind, id)
        .diff(&record.to_json(), || stamp)
        .expect("flat record")
}

fn separated_child() -> (RecordId, Vec<Op>) {
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
    (
        id,
        ops_of(RecordKind::Case, id, &Record::Case(Box::new(case)), 0xA),
    )
}

fn mothers_request() -> (RecordId, Vec<Op>) {
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
    (
        id,
        ops_of(
            RecordKind::TracingRequest,
            id,
            &Record::TracingRequest(Box::new(request)),
            0xB,
        ),
    )
}

/// `tx` sends while `rx` listens; the payload `rx` heard.
fn over_air(tx: &mut Radio, rx: &mut Radio, now_ms: u64, frame: &[u8]) -> Option<Vec<u8>> {
    lora::exchange(tx, rx, now_ms, frame, Duration::from_millis(700))
        .expect("within the duty-cycle budget")
        .map(|p| p.payload)
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
struct Report {
    rounds_to_notice: u32,
    rounds: u32,
    restarted: bool,
    lora_bytes: u64,
    lora_airtime_ms: u64,
    ip_bytes: u64,
    rejected: u64,
    hub_records: usize,
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
    report: Report,
    now: u64,
    _modules: (SimRak3172, SimRak3172, SimModem),
}

impl Trial {
    fn new(loss: u8, hub_url: &str) -> Trial {
        let air = Air::new(AirConfig {
            loss_percent: loss,
            time_scale: 0.02,
            seed: 0xBEEF ^ u64::from(loss),
            ..AirConfig::default()
        });
        let (am, a_radio) = air.driven(Firmware::V5_0_0, true).expect("radio");
        let (gm, gateway) = air.driven(Firmware::V4_1_0, true).expect("radio");

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
        })
        .expect("modem");
        let mut modem = Modem::new(port, key, ModemModel::Sim7600);
        modem
            .power_on(Duration::from_millis(60), Duration::from_secs(5))
            .expect("modem on");
        modem
            .wait_registered(Duration::from_secs(5), Duration::from_millis(50))
            .expect("registered");

        let mut hub = Hub::new(StaticKey::from_bytes([0x77; 32]));
        let a = KitSide::new(0x0A, &hub);
        let b = KitSide::new(0x0B, &hub);
        let a_id = hub.enroll(a.key.public(), KitState::default()).expect("A");
        let b_id = hub.enroll(b.key.public(), KitState::default()).expect("B");
        let b_link = HttpLink::new(hub_url, b_id, Duration::from_secs(5));
        Trial {
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
            report: Report::default(),
            now: 0,
            _modules: (am, gm, modem_sim),
        }
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

    fn hub_frame(&mut self, kit: KitId, mtu: usize) -> Option<Vec<u8>> {
        let now = self.now;
        self.hub.endpoint_mut(kit).and_then(|e| {
            e.poll_transmit(
                now,
                mtu,
                20_000,
                Priority::Bulk,
                |_| Ok::<_, Infallible>(()),
            )
            .expect("seal")
        })
    }

    fn settled(&self) -> bool {
        self.a.endpoint.outbox().is_empty()
            && self.b.endpoint.outbox().is_empty()
            && [self.a_id, self.b_id]
                .iter()
                .all(|k| self.hub.endpoint(*k).is_some_and(|e| e.outbox().is_empty()))
    }

    fn round(&mut self, server: &HubServer, restart_a: bool) {
        self.report.rounds += 1;
        self.now += 30_000;
        let now = self.now;
        // Kit A, LoRa: at most four frames a round.
        for _ in 0..4 {
            let Some(f) = self.a.next_frame(now, LORA_MTU) else {
                break;
            };
            self.report.lora_bytes += f.len() as u64;
            if let Some(p) = over_air(&mut self.a_radio, &mut self.gateway, now, &f) {
                self.hub_take(&p);
            }
        }
        if restart_a {
            // Power cut after sending, before any acknowledgement: A restarts from its
            // storage, its message still unacknowledged, and sends it again.
            self.a.restart(&self.hub);
            self.report.restarted = true;
        }
        // Kit B: one HTTP exchange over the modem's IP path (loopback here); frames are
        // lost on the way at the trial's rate, both ways.
        let mut up = Vec::new();
        while let Some(f) = self.b.next_frame(now, IP_MTU) {
            self.report.ip_bytes += f.len() as u64;
            if !self.ip_loss.lost() {
                up.push(f);
            }
        }
        let link = self.b_link.clone();
        let answer = std::thread::scope(|s| {
            let client = s.spawn(move || link.exchange(&up));
            let served = server.serve_one(Duration::from_secs(5), |kit, frames| {
                for f in &frames {
                    self.hub_take(f);
                }
                let mut down = Vec::new();
                while let Some(f) = self.hub_frame(kit, IP_MTU) {
                    self.report.ip_bytes += f.len() as u64;
                    if !self.ip_loss.lost() {
                        down.push(f);
                    }
                }
                down
            });
            assert_eq!(served.ok(), Some(true), "the hub served kit B");
            client.join().expect("client thread")
        });
        for f in answer.expect("HTTP exchange") {
            self.b.take(&f);
        }
        // The hub answers kit A over the gateway.
        for _ in 0..4 {
            let Some(f) = self.hub_frame(self.a_id, LORA_MTU) else {
                break;
            };
            self.report.lora_bytes += f.len() as u64;
            if let Some(p) = over_air(&mut self.gateway, &mut self.a_radio, now, &f) {
                self.a.take(&p);
            }
        }
    }
}

fn reunion(loss: u8, restart_a_at_round: Option<u32>) -> Report {
    let server = HubServer::bind("127.0.0.1:0").expect("hub's HTTP endpoint");
    let base = format!("http://{}", server.local_addr().expect("address"));
    let mut t = Trial::new(loss, &base);
    let (case_id, case_ops) = separated_child();
    let (request_id, request_ops) = mothers_request();
    t.a.endpoint.queue(&Body::Ops(case_ops));
    t.a.save();
    t.b.endpoint.queue(&Body::Ops(request_ops));
    t.b.save();

    while (t.a.notices.is_empty() || t.b.notices.is_empty() || !t.settled()) && t.report.rounds < 60
    {
        let restart = restart_a_at_round == Some(t.report.rounds + 1);
        t.round(&server, restart);
    }
    assert!(
        !t.a.notices.is_empty() && !t.b.notices.is_empty() && t.settled(),
        "converged within 60 rounds at {loss} % loss: {:?}",
        t.report
    );
    t.report.rounds_to_notice = t.report.rounds;
    for notices in [&t.a.notices, &t.b.notices] {
        assert_eq!(notices.len(), 1, "the notice once, not twice");
        let n = &notices[0];
        assert_eq!((n.case, n.tracing_request), (case_id, request_id));
        assert_eq!(n.trace, "b2-trace-0");
        assert!(
            n.evidence
                .iter()
                .any(|e| e.field == "name" && !e.detail.is_empty()),
            "the explanation travels with the notice: {:?}",
            n.evidence
        );
    }

    // The mother's caseworker confirms the match on kit B; kit A hears it through the hub.
    let decision = Body::Review(ReviewDecision {
        case: case_id,
        tracing_request: request_id,
        trace: "b2-trace-0".into(),
        confirmed: true,
        by: "amal.h".into(),
        at_min: 29_666_500,
    });
    t.b.endpoint.queue(&decision);
    t.b.save();
    let mut more = 0;
    while (t.a.reviews.is_empty() || !t.settled()) && more < 40 {
        more += 1;
        t.round(&server, false);
    }
    assert_eq!(t.a.reviews, [decision], "the decision reached kit A once");

    let mut report = t.report;
    report.lora_airtime_ms = t.a_radio.stats().airtime_ms + t.gateway.stats().airtime_ms;
    report.rejected = t.a.endpoint.rejections().total()
        + t.b.endpoint.rejections().total()
        + [t.a_id, t.b_id]
            .iter()
            .filter_map(|k| t.hub.endpoint(*k))
            .map(|e| e.rejections().total())
            .sum::<u64>();
    report.hub_records = t.book.docs.len();
    assert_eq!(report.hub_records, 2, "nothing lost, nothing duplicated");
    assert!(t.a_radio.airtime_used_ms(t.now) <= 36_000);
    report
}

#[test]
fn reunion_without_loss() {
    let r = reunion(0, None);
    println!("reunion 0 % loss: {r:?}");
    assert_eq!(r.rejected, 0);
}

#[test]
fn reunion_at_30_percent_loss_with_kit_a_restarted_mid_transfer() {
    let r = reunion(30, Some(1));
    assert!(r.restarted);
    println!("reunion 30 % loss, A restarted: {r:?}");
    assert_eq!(r.rejected, 0, "no counter reused after the restart");
}

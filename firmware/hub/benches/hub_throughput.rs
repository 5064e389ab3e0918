//! Hub matching throughput: K kits each send R records (four fifths cases, one fifth tracing
//! requests for children registered at the next kit), in messages of B records, over sealed
//! frames; the hub opens them, commits them to its vault, matches them against everything
//! it holds with its warm index, routes the potential matches and commits its state. Only
//! the hub's calls are timed (the kits' sealing is not).
//!
//! Each kit's records are made when its batch is sent (never all up front), and a progress
//! line goes to standard error every 30 s with the rate, the resident set and the load.
//!
//! Small by default (CI compiles it; a run takes seconds). The figure:
//! `FIELDKIT_HUB_BENCH_KITS=100 FIELDKIT_HUB_BENCH_RECORDS=1000 cargo bench -p fieldkit-hub --bench hub_throughput`

use std::convert::Infallible;
use std::time::{Duration, Instant};

use fieldkit_domain::{
    Case, Date, DeviceId, Document, Hlc, Op, Record, RecordId, RecordKind, Trace, TracingRequest,
};
use fieldkit_hub::{HubService, init};
use fieldkit_match::triage::TriageRules;
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Body, Priority};
use fieldkit_sync::seal::{Channel, KitId, LinkKeys, StaticKey};
use fieldkit_testkit::cases;
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};

const NOW: u64 = 1_780_000_000_000;
const MTU: usize = 1200;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ops_of(record: &Record, device: u64, i: u64) -> Vec<Op> {
    let stamp = Hlc {
        wall_ms: NOW - 86_400_000 + i,
        counter: 0,
        device: DeviceId(device),
    };
    Document::new(record.kind(), record.id())
        .diff(&record.to_json(), || stamp)
        .unwrap_or_default()
}

/// A tracing request for `child`, as a parent would give it: the name with one letter
/// dropped (a different spelling), the same sex, age and separation.
fn request_for(child: &Case, seed: u64, index: u64) -> TracingRequest {
    let mut bytes = *cases::case_id(seed ^ 0x7E57, index).as_bytes();
    bytes[0] ^= 0x5A;
    let id = RecordId::from_bytes(bytes);
    let name = child.name.clone().map(|n| {
        let mut chars: Vec<char> = n.chars().collect();
        if chars.len() > 4 {
            chars.remove(chars.len() / 2);
        }
        chars.into_iter().collect::<String>()
    });
    TracingRequest {
        id,
        status: Some("open".into()),
        relation_name: Some("Parent".into()),
        relation: Some("mother".into()),
        owned_by_agency_id: child.owned_by_agency_id.clone(),
        tracing_request_subform_section: vec![Trace {
            unique_id: format!("t-{index}"),
            name,
            sex: child.sex,
            age: child.age,
            date_of_separation: child.date_of_separation,
            location_separation: child
                .location_separation
                .clone()
                .or_else(|| child.location_current.clone()),
            ..Trace::default()
        }],
        ..TracingRequest::default()
    }
}

/// A case as a kit sends it: triaged on the kit at registration (the hub triages with the
/// same rules, so it has nothing to raise).
fn triaged(rules: &TriageRules, mut case: Case) -> Case {
    let t = rules.assess(&case, Date::from_unix_ms(NOW));
    let rank = |l: Option<&str>| match l {
        Some("high") => 3,
        Some("medium") => 2,
        Some("low") => 1,
        _ => 0,
    };
    if rank(Some(t.level.as_str())) > rank(case.risk_level.as_deref()) {
        case.risk_level = Some(t.level.as_str().to_string());
    }
    if t.urgent_alert(case.id).is_some() {
        case.urgent_protection_concern = true;
    }
    case
}

struct Kit {
    id: KitId,
    number: u64,
    endpoint: Endpoint,
}

/// The fleet's records, made on demand: kit k registers cases k·R… and, for its last fifth,
/// tracing requests for children registered at kit k+1. Nothing is built before it is sent,
/// so memory holds only the hub and one batch (the first version built every kit's records
/// up front: 3.7 GiB at 100 × 1,000).
struct Fleet {
    seed: u64,
    kits: u64,
    records: u64,
    cases_per_kit: u64,
    rules: TriageRules,
}

impl Fleet {
    fn record(&self, k: u64, i: u64) -> Record {
        if i < self.cases_per_kit {
            Record::Case(Box::new(triaged(
                &self.rules,
                cases::case(self.seed, k * self.records + i),
            )))
        } else {
            let other = (k + 1) % self.kits;
            let child = cases::case(
                self.seed,
                other * self.records + (i - self.cases_per_kit) * 3,
            );
            Record::TracingRequest(Box::new(request_for(
                &child,
                self.seed,
                k * self.records + i,
            )))
        }
    }

    /// The ops of kit k's records `from..to`, one message.
    fn batch(&self, k: u64, from: u64, to: u64) -> Vec<Op> {
        (from..to)
            .flat_map(|i| ops_of(&self.record(k, i), k + 1, i))
            .collect()
    }
}

/// This process's resident set now and at its peak (`VmRSS`, `VmHWM`), in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let parts: Vec<&str> = l.split_whitespace().take(3).collect();
            (parts.len() == 3).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}

#[allow(clippy::too_many_lines)]
fn main() {
    let kits = env("FIELDKIT_HUB_BENCH_KITS", 4).max(1);
    let records = env("FIELDKIT_HUB_BENCH_RECORDS", 100);
    let batch = env("FIELDKIT_HUB_BENCH_BATCH", 50).max(1);
    let seed = 20_260_301;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (mut session, _) = Vault::create(
        &dir.path().join("hub.redb"),
        InitOptions {
            username: "coord",
            display_name: "Coordinator",
            credential: b"482915",
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .expect("hub vault");
    let hub_public = init(&mut session).expect("hub key");
    let mut hub = HubService::open(session, NOW).expect("hub");

    let fleet_records = Fleet {
        seed,
        kits,
        records,
        cases_per_kit: records * 4 / 5,
        rules: TriageRules::default_rules(),
    };
    let mut fleet: Vec<Kit> = Vec::new();
    for k in 0..kits {
        let key = StaticKey::from_bytes({
            // Byte 0 loses its low bits to X25519 clamping: the kit number goes after it.
            let mut b = [0x40u8; 32];
            b[1..9].copy_from_slice(&(k + 1).to_le_bytes());
            b
        });
        let id = hub
            .enroll(key.public(), "unicef", &format!("kit {k}"), NOW)
            .expect("enrol");
        let endpoint = Endpoint::new(
            Channel::new(
                LinkKeys::for_kit(&key, &hub_public).expect("keys"),
                SendCounter::resume(0, 64),
                ReplayWindow::default(),
            ),
            Default::default(),
            Default::default(),
        );
        fleet.push(Kit {
            id,
            number: k,
            endpoint,
        });
    }

    let total = kits * records;
    println!(
        "hub matching throughput: {kits} kits × {records} records ({total} records, {batch} per message); load average at start {}",
        load_average()
    );
    let mut hub_time = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let mut messages = 0u64;
    let mut bytes = 0u64;
    let mut notices = 0usize;
    let mut changed = 0usize;
    let mut sent = 0u64;
    let rounds = records.div_ceil(batch);
    let wall = Instant::now();
    let mut last_report = Instant::now();
    let mut now = NOW;
    for round in 0..rounds {
        let from = round * batch;
        let to = (from + batch).min(records);
        for kit in &mut fleet {
            now += 1_000;
            kit.endpoint
                .queue(&Body::Ops(fleet_records.batch(kit.number, from, to)));
            sent += to - from;
            let mut up = Vec::new();
            while let Some(f) = kit
                .endpoint
                .poll_transmit(now, MTU, 60_000, Priority::Bulk, |Reservation(_)| {
                    Ok::<_, Infallible>(())
                })
                .expect("seal")
            {
                bytes += f.len() as u64;
                up.push(f);
            }
            let t = Instant::now();
            let receipt = hub.receive(&up, now).expect("receive");
            let down = hub.transmit(kit.id, MTU, 1024, now).expect("transmit");
            let spent = t.elapsed();
            hub_time += spent;
            worst = worst.max(spent);
            messages += receipt.messages as u64;
            notices += receipt.notices_queued;
            changed += receipt.records_changed;
            for f in &down {
                let _ = kit.endpoint.handle(f);
            }
            if last_report.elapsed() >= Duration::from_secs(30) {
                last_report = Instant::now();
                let (rss, peak) = rss_mib();
                let views = hub.kits();
                let queued: usize = views.iter().map(|v| v.queued).sum();
                eprintln!(
                    "  … {sent}/{total} records sent, {changed} stored, {:.0} records/s (hub), {:.0} s wall, RSS {rss:.0} MiB (peak {peak:.0}), {queued} messages queued to kits, load {}",
                    changed as f64 / hub_time.as_secs_f64().max(1e-9),
                    wall.elapsed().as_secs_f64(),
                    load_average()
                );
            }
        }
    }
    let wall = wall.elapsed();
    let pm = hub
        .kit()
        .session()
        .count(RecordKind::PotentialMatch)
        .unwrap_or(0);
    let secs = hub_time.as_secs_f64();
    let (_, peak) = rss_mib();
    println!(
        "  hub time          {secs:.2} s  ({:.0} records/s matched and applied)",
        total as f64 / secs.max(1e-9)
    );
    println!(
        "  wall time         {:.2} s  (with the kits' records made and sealed)",
        wall.as_secs_f64()
    );
    println!("  messages          {messages}  ({bytes} bytes of frames up)");
    println!("  slowest exchange  {:.1} ms", worst.as_secs_f64() * 1e3);
    println!("  records stored    {changed}");
    println!("  potential matches {pm}  (match notices queued to kits: {notices})");
    println!(
        "  vault commits     {}",
        hub.kit().session().commit_counter().unwrap_or(0)
    );
    println!("  peak RSS          {peak:.0} MiB (VmHWM, whole process)");
    println!("  load average      {} (at the end)", load_average());
}

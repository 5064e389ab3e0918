//! Hub matching throughput: K kits each send R records (four fifths cases, one fifth tracing
//! requests for children registered at the next kit), in messages of B records, over sealed
//! frames; the hub opens them, commits them to its vault, matches them against everything
//! it holds with its warm index, routes the potential matches and commits its state. Only
//! the hub's calls are timed (the kits' sealing is not).
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
    endpoint: Endpoint,
    batches: Vec<Vec<Op>>,
}

fn main() {
    let kits = env("FIELDKIT_HUB_BENCH_KITS", 4);
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

    // Records: kit k registers cases k·R… and asks for children registered at kit k+1.
    let cases_per_kit = records * 4 / 5;
    let rules = TriageRules::default_rules();
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
        let mut ops_per_record: Vec<Vec<Op>> = Vec::new();
        for i in 0..records {
            let record = if i < cases_per_kit {
                Record::Case(Box::new(triaged(
                    &rules,
                    cases::case(seed, k * records + i),
                )))
            } else {
                let other = (k + 1) % kits;
                let child = cases::case(seed, other * records + (i - cases_per_kit) * 3);
                Record::TracingRequest(Box::new(request_for(&child, seed, k * records + i)))
            };
            ops_per_record.push(ops_of(&record, k + 1, i));
        }
        let batches = ops_per_record
            .chunks(usize::try_from(batch).unwrap_or(50))
            .map(|c| c.concat())
            .collect();
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
            endpoint,
            batches,
        });
    }

    let mut hub_time = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let mut messages = 0u64;
    let mut bytes = 0u64;
    let mut notices = 0usize;
    let mut changed = 0usize;
    let rounds = fleet.iter().map(|k| k.batches.len()).max().unwrap_or(0);
    let wall = Instant::now();
    let mut now = NOW;
    for round in 0..rounds {
        for kit in &mut fleet {
            now += 1_000;
            if let Some(b) = kit.batches.get(round) {
                kit.endpoint.queue(&Body::Ops(b.clone()));
            }
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
        }
    }
    let wall = wall.elapsed();
    let total = kits * records;
    let pm = hub
        .kit()
        .session()
        .count(RecordKind::PotentialMatch)
        .unwrap_or(0);
    let secs = hub_time.as_secs_f64();
    println!(
        "hub matching throughput: {kits} kits × {records} records ({total} records, {batch} per message)"
    );
    println!(
        "  hub time          {secs:.2} s  ({:.0} records/s)",
        total as f64 / secs.max(1e-9)
    );
    println!(
        "  wall time         {:.2} s  (with the kits' sealing)",
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
}

//! `fieldkit hub` as a process: made with `hub init`, a kit enrolled from its key file with
//! `hub enroll`, served by `hub run --listen`. A kit streams cases to it over the HTTP link
//! while the hub process is killed with SIGKILL at moments spread over the stream, and
//! started again. After every kill, before the restart, every case whose message the kit
//! saw acknowledged is in the hub's vault; at the end the hub holds every case exactly once,
//! and no frame the hub sent reused a send counter across the kills and restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::process::Child;
use std::time::Duration;

use fieldkit_domain::{Case, DeviceId, Document, Hlc, Record, RecordId, RecordKind, Sex};
use fieldkit_http::HttpLink;
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Body, Priority};
use fieldkit_sync::seal::{
    Channel, KitId, LinkKeys, StaticKey, public_key_from_text, public_key_to_text,
};

mod common;

use common::{spawn_on, start_hub};

const CASES: u64 = 48;

fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = spawn_on(dir, "coord", args).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sigkill(child: &mut Child) {
    // std's kill() is SIGKILL on Unix: no handler runs, nothing is flushed.
    child.kill().unwrap();
    child.wait().unwrap();
}

fn case_ops(i: u64) -> (RecordId, Vec<fieldkit_domain::Op>) {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&i.to_be_bytes());
    bytes[8] = 0xC5;
    let id = RecordId::from_bytes(bytes);
    let case = Case {
        id,
        name: Some(format!("Child Number{i}")),
        sex: Some(Sex::Female),
        age: Some(6),
        status: Some("open".into()),
        consent_for_tracing: Some(true),
        ..Case::default()
    };
    let stamp = Hlc {
        wall_ms: 1_780_000_000_000 + i,
        counter: 0,
        device: DeviceId(0xA),
    };
    let ops = Document::new(RecordKind::Case, id)
        .diff(&Record::Case(Box::new(case)).to_json(), || stamp)
        .unwrap();
    (id, ops)
}

fn cases_on_hub(dir: &std::path::Path) -> u64 {
    let status: serde_json::Value =
        serde_json::from_str(&ok(dir, &["hub", "status", "--json"])).unwrap();
    status["cases"].as_u64().unwrap()
}

#[test]
fn a_hub_killed_mid_stream_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(d, &["hub", "init", "--user", "coord"]);
    assert!(out.contains("fieldkit-x25519 "), "{out}");
    let hub_public =
        public_key_from_text(&std::fs::read_to_string(d.join("hub.pub")).unwrap()).unwrap();

    let kit_key = StaticKey::from_bytes([0x0A; 32]);
    let key_file = d.join("kit.pub");
    std::fs::write(&key_file, public_key_to_text(&kit_key.public())).unwrap();
    let kit_id = KitId::of(&kit_key.public());
    let out = ok(
        d,
        &[
            "hub",
            "enroll",
            "--key",
            key_file.to_str().unwrap(),
            "--agency",
            "unicef",
        ],
    );
    assert!(out.contains(&kit_id.to_string()), "{out}");

    let mut kit = Endpoint::new(
        Channel::new(
            LinkKeys::for_kit(&kit_key, &hub_public).unwrap(),
            SendCounter::resume(0, 16),
            ReplayWindow::default(),
        ),
        Default::default(),
        Default::default(),
    );
    let mut sent: BTreeMap<u64, RecordId> = BTreeMap::new();
    for i in 0..CASES {
        let (id, ops) = case_ops(i);
        sent.insert(kit.queue(&Body::Ops(ops)), id);
    }
    let acknowledged = |kit: &Endpoint| -> usize {
        let waiting: Vec<u64> = kit.outbox().messages().iter().map(|m| m.id).collect();
        sent.keys().filter(|id| !waiting.contains(id)).count()
    };

    let (mut hub, mut url) = start_hub(d);
    let mut now = 1_780_000_000_000u64;
    let mut kills = 0;
    let mut rounds = 0;
    let mut failed_exchanges = 0;
    let mut downlink = std::collections::BTreeSet::new();
    while !kit.outbox().is_empty() {
        rounds += 1;
        assert!(rounds < 400, "the stream did not finish");
        now += 30_000;
        let link = HttpLink::new(&url, kit_id, Duration::from_secs(5));
        // A few frames per exchange, so the stream takes many exchanges.
        let mut up = Vec::new();
        let mut limit = 0;
        while up.len() < 3 {
            match kit
                .poll_transmit(now, 1200, 20_000, Priority::Bulk, |Reservation(l)| {
                    limit = l;
                    Ok::<_, Infallible>(())
                })
                .unwrap()
            {
                Some(f) => up.push(f),
                None => break,
            }
        }
        // Kill the hub while this exchange is in flight (every other round, after a delay
        // that moves through the exchange), then check what it acknowledged before. Every
        // other round, so the five kills come before the stream ends even on a quiet machine
        // where fewer exchanges fail.
        let kill_now = rounds % 2 == 1 && kills < 5;
        let answer = if kill_now {
            let delay = Duration::from_millis(3 * (kills as u64 + 1));
            std::thread::scope(|s| {
                let exchange = s.spawn(|| link.exchange(&up));
                std::thread::sleep(delay);
                sigkill(&mut hub);
                exchange.join().unwrap()
            })
        } else {
            link.exchange(&up)
        };
        match answer {
            Ok(frames) => {
                for f in &frames {
                    // The hub reserves its counters in its vault before use: a restarted hub
                    // resumes above every counter it may have used.
                    let c = fieldkit_sync::seal::peek(f).unwrap().counter;
                    assert!(
                        downlink.insert(c),
                        "the hub sent counter {c} twice (after {kills} kills)"
                    );
                    let _ = kit.handle(f);
                }
            }
            Err(_) => failed_exchanges += 1,
        }
        if kill_now {
            kills += 1;
            let acked = acknowledged(&kit);
            let held = cases_on_hub(d);
            assert!(
                held >= acked as u64,
                "after kill {kills}: the kit saw {acked} messages acknowledged but the hub holds {held} cases"
            );
            (hub, url) = start_hub(d);
        }
    }
    sigkill(&mut hub);
    assert_eq!(kills, 5, "the hub was killed mid-stream");
    assert!(failed_exchanges >= 1, "some kill interrupted an exchange");
    assert_eq!(acknowledged(&kit), CASES as usize);
    assert_eq!(cases_on_hub(d), CASES, "every case once, none lost");
    assert!(!downlink.is_empty(), "the hub answered");
    assert_eq!(
        kit.rejections().total(),
        0,
        "no hub frame refused by the kit"
    );
    let kits: serde_json::Value = serde_json::from_str(&ok(d, &["hub", "kits", "--json"])).unwrap();
    assert_eq!(kits[0]["id"], kit_id.to_string());
    assert_eq!(kits[0]["records_held"], CASES);
}

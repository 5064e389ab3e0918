//! The LoRa gateway mode on the real RAK3172 driver over the simulated air (pseudo-terminals):
//! a kit's case sent over the air is committed and acknowledged over the air, and the match
//! found against a request from a kit on IP reaches the LoRa kit over the air.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_hub::gateway::lora_step;
use fieldkit_sim::lora::{Air, AirConfig, Firmware};
use fieldkit_sync::message::Body;

#[test]
fn a_lora_kit_is_served_through_the_gateway_module() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hub, mut a, mut b) = hub_with_two_kits(dir.path());

    // B's request is already on the hub (over IP).
    let request_id = RecordId::from_bytes([0xB2; 16]);
    b.endpoint
        .queue(&Body::Ops(request(request_id, "Aminah Yousef", 0xB)));
    let up = b.frames(NOW, 1200);
    hub.receive(&up, NOW).unwrap();

    let air = Air::new(AirConfig {
        time_scale: 0.02,
        ..AirConfig::default()
    });
    let (_gm, mut gateway) = air.driven(Firmware::V4_1_0, true).unwrap();
    let (_km, mut radio) = air.driven(Firmware::V5_0_0, true).unwrap();

    let case_id = RecordId::from_bytes([0xA1; 16]);
    a.endpoint
        .queue(&Body::Ops(child(case_id, "Amina Yusuf", 0xA)));
    let stop = AtomicBool::new(false);
    // One clock for kit and hub: the hub's retry timer runs as the kit's does (a hub clock
    // that stood still never sent a lost notice again).
    let wall = AtomicU64::new(NOW);
    let clock = || wall.load(Ordering::Relaxed);
    let (steps, gateway) = std::thread::scope(|s| {
        let hub = &mut hub;
        let stop = &stop;
        let served = s.spawn(move || {
            let mut steps = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(step) = lora_step(&mut gateway, hub, Duration::from_millis(400), clock)
                    .expect("gateway step")
                {
                    steps.push(step);
                }
            }
            (steps, gateway)
        });
        let mut now = NOW;
        // A frame can still be lost (a thread of this test descheduled past the gateway's
        // turnaround); the protocol sends it again a round later. The loop ends as soon as
        // the notice is in, in 1 to 3 rounds on a quiet machine.
        for round in 1..=40 {
            now += 30_000;
            wall.store(now, Ordering::Relaxed);
            let frames = a.frames(now, 239);
            let (sent, mut heard) = (frames.len(), 0);
            for f in frames {
                radio.send(now, &f).unwrap();
                // Class-A style: listen for the answers right after sending, until a window
                // passes silent.
                while let Some(p) = radio.receive(Duration::from_millis(600)).unwrap() {
                    heard += 1;
                    a.take(&[p.payload]);
                }
            }
            eprintln!(
                "round {round}: kit sent {sent} heard {heard}, outbox {}, air {:?}",
                a.endpoint.outbox().messages().len(),
                air.stats()
            );
            let notified = a.received.iter().any(|m| {
                matches!(m, Body::Ops(ops) if ops.iter().any(|o| o.kind == RecordKind::PotentialMatch))
            });
            if a.endpoint.outbox().is_empty() && notified {
                break;
            }
            // Nothing left to send but the notice still on its way: ask with a status.
            if a.endpoint.outbox().is_empty() {
                a.endpoint
                    .queue(&Body::Status(fieldkit_sync::message::Status {
                        commits: 1,
                        audit_head: [1; 32],
                        records: 1,
                    }));
            }
        }
        stop.store(true, Ordering::Relaxed);
        served.join().unwrap()
    });
    assert!(a.endpoint.outbox().is_empty(), "acknowledged over the air");
    assert!(
        a.received.iter().any(|m| matches!(m, Body::Ops(ops) if ops.iter().any(|o| o.kind == RecordKind::PotentialMatch && o.field.starts_with("comparison")))),
        "the match, with its explanation, reached the LoRa kit: {:?}",
        a.received.len()
    );
    assert!(steps.iter().any(|s| s.receipt.records_changed == 1));
    assert!(steps.iter().all(|s| s.receipt.refused == 0));
    assert_eq!(hub.kit().session().count(RecordKind::Case).unwrap(), 1);
    // The gateway's duty-cycle ledger is in the hub's vault as it stands after its answers
    // (`fieldkit hub run` restores it into a restarted hub's driver).
    let ledger: Vec<(u64, u32)> = gateway.duty_cycle().entries().collect();
    assert!(!ledger.is_empty(), "the gateway answered over the air");
    assert_eq!(hub.airtime().unwrap(), ledger);
}

/// The kit's own sync engine (`fieldkit-kitsync`: its vault, outbox and counters) over its
/// `LoraLink` on the real driver, against the hub's gateway on the simulated air: a case
/// registered on the kit reaches the hub's vault and is acknowledged, and the hub's answers
/// are heard because the link listens after every frame it sends.
#[test]
fn a_kit_syncs_through_its_lora_link() {
    use fieldkit_app::KitConfig;
    use fieldkit_kitsync::{KitSync, LoraLink};
    use fieldkit_sync::message::Priority;

    let dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(dir.path());
    let hub_public = fieldkit_hub::init(&mut session).unwrap();
    let mut hub = fieldkit_hub::HubService::open(session, NOW).unwrap();

    let (mut kit, public, _kit_dir) = provisioned_kit(KitConfig::default(), hub_public, "kit A");
    hub.enroll(public, "unicef", "kit A", NOW).unwrap();
    kit.register(
        RecordKind::Case,
        serde_json::json!({
            "name": "Amina Yusuf", "sex": "female", "age": 7, "consent_for_tracing": true,
            "location_current": "SD-DA-KAL", "notes": "Arrived alone at Kalma on 2 May with \
            a group from Nyala; says her mother Halima sold tea near the bus station and her \
            brother Idris (12) went to Zalingei to look for work in March. Sleeps at the \
            reception centre, eats once a day, asks every morning whether her mother called.",
            "family_details_section": [
                {"relation": "mother", "relation_name": "Halima Yusuf", "relation_is_alive": "unknown"},
                {"relation": "brother", "relation_name": "Idris Yusuf", "relation_age": 12}
            ],
        })
        .as_object()
        .unwrap()
        .clone(),
        NOW,
    )
    .unwrap();
    let mut engine = KitSync::load(kit.session()).unwrap().unwrap();
    engine.collect(kit.session_mut(), NOW).unwrap();

    let air = Air::new(AirConfig {
        time_scale: 0.02,
        ..AirConfig::default()
    });
    let (_gm, mut gateway) = air.driven(Firmware::V4_1_0, true).unwrap();
    let (_km, radio) = air.driven(Firmware::V5_0_0, true).unwrap();
    let mut link = LoraLink::new(radio, engine.kit_id(), 239, Duration::from_millis(600));

    let stop = AtomicBool::new(false);
    let wall = AtomicU64::new(NOW);
    let clock = || wall.load(Ordering::Relaxed);
    let mut sent = 0;
    std::thread::scope(|s| {
        let hub = &mut hub;
        let stop = &stop;
        s.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                lora_step(&mut gateway, hub, Duration::from_millis(400), clock)
                    .expect("gateway step");
            }
        });
        let mut now = NOW;
        // A frame may still be lost to a descheduled thread; the next round sends it again.
        for round in 1..=20 {
            now += 60_000;
            wall.store(now, Ordering::Relaxed);
            let ex = engine
                .exchange(&mut kit, &mut link, now, Priority::Bulk)
                .unwrap();
            sent += ex.frames_sent;
            eprintln!("round {round}: {ex:?}");
            if engine.pending().0 == 0 {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        engine.pending().0,
        0,
        "the case was acknowledged over the air"
    );
    assert!(sent >= 2, "a full case takes more than one 239-byte frame");
    assert_eq!(hub.kit().session().count(RecordKind::Case).unwrap(), 1);
}

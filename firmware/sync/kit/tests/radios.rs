//! The sync jobs with the kit's radios, against the simulated air, modem and in-process hub
//! (`fieldkit_sim::links::KioskLinks`, pseudo-terminals, the real drivers): in Normal mode a
//! round powers the modem, carries the case to the hub over its IP path and powers it off;
//! in Critical mode cellular stays off and an urgent case goes by LoRa (its alert, then its
//! record), while a case that is not urgent waits for cellular; a kit with LoRa alone sends
//! every record by LoRa; a round stops when the power mode takes its link away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fieldkit_app::{Kit, KitConfig};
use fieldkit_domain::RecordKind;
use fieldkit_drivers::modem::ModemModel;
use fieldkit_drivers::rak3172::{P2pConfig, Rak3172};
use fieldkit_kitsync::jobs::{Jobs, Outcome, Radios};
use fieldkit_kitsync::radio::OpenPort;
use fieldkit_kitsync::{
    KitSync, LinkError, LoraLink, ModemTiming, Provision, SwitchedModem, SyncError,
};
use fieldkit_power::{Decision, JobKind, PowerMode, Timestamp};
use fieldkit_sim::clock::SimClock;
use fieldkit_sim::links::{KioskLinks, LinksConfig};
use fieldkit_sync::schedule::SchedulePolicy;
use fieldkit_sync::seal::KitId;
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};
use serde_json::json;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn register(kit: &mut Kit, v: serde_json::Value) {
    kit.register(RecordKind::Case, v.as_object().unwrap().clone(), now_ms())
        .unwrap();
}

/// Registers a child at immediate risk (an urgent case: its alert goes at once).
fn register_child_at_risk(kit: &mut Kit) {
    register(
        kit,
        json!({"name": "Zahra Haidari", "sex": "female", "age": 6,
            "urgent_protection_concern": true, "risk_level": "high"}),
    );
}

/// The simulated links (the modem registered `register` after it answers, `loss_percent` of
/// the frames on the air lost), a kit provisioned for their hub and enrolled there, and its
/// jobs over its LoRa module and modem. A link the hub did not answer rests a millisecond
/// here (these tests are about the links; the rest has its own test).
fn kit_on_links(
    dir: &std::path::Path,
    register: Duration,
    loss_percent: u8,
) -> (KioskLinks, Kit, Jobs) {
    kit_on_links_waiting(dir, register, loss_percent, Duration::from_secs(10))
}

/// [`kit_on_links`] with the kit's modem driver waiting `wait` for the registration.
fn kit_on_links_waiting(
    dir: &std::path::Path,
    register: Duration,
    loss_percent: u8,
    wait: Duration,
) -> (KioskLinks, Kit, Jobs) {
    let mut links = KioskLinks::start(
        &dir.join("hub"),
        LinksConfig {
            p2p: P2pConfig::default(),
            mtu: 239,
            time_scale: 0.05,
            loss_percent,
            modem_boot: Duration::from_millis(50),
            modem_register: register,
            clock: SimClock::new(Timestamp::from_day_and_hour(0, 12.0), 1),
            deployment: KitConfig::default(),
        },
    )
    .unwrap();

    let (session, _) = Vault::create(
        &Vault::file_in(&dir.join("kit")),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: b"482915",
            policy: CredentialPolicy::default(),
            now_ms: now_ms(),
        },
        OpenOptions::default(),
    )
    .unwrap();
    let mut kit = Kit::open(session, KitConfig::default(), now_ms()).unwrap();
    let public = KitSync::provision(
        kit.session_mut(),
        &Provision {
            hub_public: links.hub_public(),
            hub_address: "",
            agency: "unicef",
            label: "kit-001",
        },
    )
    .unwrap();
    links.enroll(public, "unicef", "kit-001").unwrap();
    assert!(fieldkit_kitsync::attach(&mut kit).unwrap());

    let port = links.lora_port.take().unwrap();
    // A second handle on the module's line, left for a test that restarts the kiosk.
    links.lora_port = Some(port.try_clone_native().unwrap());
    let lora = lora_link(port);
    let port = links.modem_port.take().unwrap();
    let open: OpenPort<serialport::TTYPort> =
        Box::new(move || port.try_clone_native().map_err(std::io::Error::other));
    let modem = SwitchedModem::new(
        open,
        links.modem_key.clone(),
        ModemModel::Sim7600,
        ModemTiming {
            press: Duration::from_millis(100),
            boot: Duration::from_secs(5),
            register: wait,
        },
    );
    let mut jobs = Jobs::with_radios(Radios {
        lora: Some(Box::new(lora)),
        cellular: Some(Box::new(modem)),
        lora_fault: None,
    });
    jobs.set_hub_address(links.hub_address());
    // A frame the gateway missed goes again a second later (not 20 s: the test would wait).
    jobs.set_retry_ms(1_000);
    jobs.set_schedule(no_rest());
    (links, kit, jobs)
}

/// The kit's LoRa link over its module's serial line (what the kiosk opens at start).
fn lora_link(port: serialport::TTYPort) -> LoraLink<serialport::TTYPort> {
    let mut radio = Rak3172::new(port);
    radio.start().unwrap();
    radio.configure(P2pConfig::default()).unwrap();
    LoraLink::new(radio, KitId([0; 4]), 239, Duration::from_millis(900))
}

/// The scheduler's settings with rests of a millisecond after a round nobody answered.
fn no_rest() -> SchedulePolicy {
    SchedulePolicy {
        backoff_base_ms: 1,
        backoff_max_ms: 1,
        urgent_retry_ms: 1,
        ..SchedulePolicy::default()
    }
}

/// A LoRa round's outcome: done over LoRa, or (a frame lost to the gateway's turnaround)
/// nobody answered; anything else fails the test.
fn over_lora_or_unanswered(r: &Result<Outcome, SyncError>) -> bool {
    match r {
        Ok(Outcome::Done(what)) => what.contains("over LoRa"),
        Err(SyncError::Link(LinkError::NoAnswer { .. })) => true,
        _ => false,
    }
}

#[test]
fn a_round_powers_the_modem_and_lora_carries_what_cellular_may_not() {
    let dir = tempfile::tempdir().unwrap();
    let (links, mut kit, mut jobs) = kit_on_links(dir.path(), Duration::from_millis(50), 0);
    register(
        &mut kit,
        json!({"name": "Amina Yusuf", "sex": "female", "age": 7, "consent_for_tracing": true}),
    );

    // Normal mode: the modem comes up, the case goes over its IP path, the modem goes off.
    let started = std::time::Instant::now();
    let normal = Decision::for_mode(PowerMode::Normal, true);
    let done = jobs
        .run(JobKind::BulkSync, &mut kit, &normal, now_ms())
        .unwrap();
    eprintln!("normal: {done:?} in {:?}", started.elapsed());
    assert!(
        matches!(&done, Outcome::Done(what) if what.contains("over cellular")),
        "{done:?} {:?}",
        jobs.status()
    );
    assert_eq!(links.hub_holds(RecordKind::Case), 1);
    assert!(!links.modem_on(), "off after the round");
    let rows = jobs.status();
    assert_eq!(rows.links[0].name, "cellular");
    assert!(rows.links[0].last_ok_ms.is_some(), "{rows:?}");

    // Critical mode: no cellular; the urgent case goes by LoRa (alert and record), the other
    // case waits.
    let started = std::time::Instant::now();
    register_child_at_risk(&mut kit);
    register(
        &mut kit,
        json!({"name": "Idris Yusuf", "sex": "male", "age": 12, "consent_for_tracing": true}),
    );
    let critical = Decision::for_mode(PowerMode::Critical, false);
    // A frame can be lost to the gateway's turnaround; the next round sends it again.
    for _ in 0..5 {
        let done = jobs.run(JobKind::UrgentAlert, &mut kit, &critical, now_ms());
        eprintln!("critical: {done:?} in {:?}", started.elapsed());
        assert!(
            over_lora_or_unanswered(&done),
            "{done:?} {:?}",
            jobs.status()
        );
        if links.hub_alerts() == 1 && links.hub_holds(RecordKind::Case) == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1_000));
    }
    assert_eq!(links.hub_alerts(), 1, "the alert went by LoRa");
    assert_eq!(
        links.hub_holds(RecordKind::Case),
        2,
        "the urgent case's record went by LoRa, the other waits"
    );
    assert!(!links.modem_on());
    let rows = jobs.status();
    assert!(!rows.links[0].allowed && rows.links[1].allowed, "{rows:?}");
    assert!(rows.links[1].last_ok_ms.is_some(), "{rows:?}");

    // Without its modem (LoRa alone), the kit sends its records by LoRa.
    let started = std::time::Instant::now();
    let radios = jobs.into_radios();
    let mut jobs = Jobs::with_radios(Radios {
        cellular: None,
        ..radios
    });
    jobs.set_retry_ms(1_000);
    jobs.set_schedule(no_rest());
    for _ in 0..5 {
        let done = jobs.run(JobKind::BulkSync, &mut kit, &critical, now_ms());
        eprintln!("LoRa alone: {done:?} in {:?}", started.elapsed());
        assert!(
            over_lora_or_unanswered(&done),
            "{done:?} {:?}",
            jobs.status()
        );
        if links.hub_holds(RecordKind::Case) == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1_000));
    }
    assert_eq!(links.hub_holds(RecordKind::Case), 3, "{:?}", jobs.status());
    assert_eq!(jobs.status().links[0].name, "ip");
}

/// The power mode takes cellular away while the modem searches for the network (the kiosk's
/// daemon tells the jobs' `RoundControl` from its own thread): the round stops at the next
/// registration poll, the modem goes off, nothing was sent and nothing is lost, the modem is
/// not left resting as if it had failed, and the next round in Normal mode delivers the case
/// once.
#[test]
fn a_round_stops_when_the_power_mode_takes_its_link_away_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Registration 4 s after the modem answers: the round is still searching at 1 s.
    let (links, mut kit, mut jobs) = kit_on_links(dir.path(), Duration::from_secs(4), 0);
    register(
        &mut kit,
        json!({"name": "Amina Yusuf", "sex": "female", "age": 7, "consent_for_tracing": true}),
    );
    let normal = Decision::for_mode(PowerMode::Normal, true);
    let critical = Decision::for_mode(PowerMode::Critical, false);
    let control = jobs.control();
    control.allow(&normal);
    let daemon = {
        let control = control.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            assert_eq!(control.syncing(), Some("cellular"), "the round runs");
            control.allow(&critical);
        })
    };
    let done = jobs
        .run(JobKind::BulkSync, &mut kit, &normal, now_ms())
        .unwrap();
    daemon.join().unwrap();
    assert!(
        matches!(&done, Outcome::Skipped(why) if why.contains("stopped")),
        "{done:?}"
    );
    assert_eq!(control.syncing(), None);
    assert_eq!(links.hub_holds(RecordKind::Case), 0, "nothing was sent");
    assert!(!links.modem_on(), "the modem is off");
    let rows = jobs.status();
    assert!(
        rows.queued.is_some_and(|(m, _)| m > 0),
        "still queued: {rows:?}"
    );
    assert_eq!(rows.links[0].last_error, None, "not a failure: {rows:?}");

    // Normal again: the next round carries it, once.
    control.allow(&normal);
    let done = jobs
        .run(JobKind::BulkSync, &mut kit, &normal, now_ms())
        .unwrap();
    assert!(
        matches!(&done, Outcome::Done(what) if what.contains("over cellular")),
        "{done:?}"
    );
    assert_eq!(links.hub_holds(RecordKind::Case), 1);
    assert!(!links.modem_on());
    assert_eq!(jobs.status().queued.map(|(m, _)| m), Some(0));
}

/// The hub's gateway hears nothing (every frame lost on the air): a LoRa round whose frames
/// nobody acknowledged fails ("did not answer", on the LoRa row), and LoRa rests: a minute
/// later the scheduler sends the waiting alert again, not before.
#[test]
fn lora_frames_nobody_answers_fail_the_round_and_the_link_rests() {
    let dir = tempfile::tempdir().unwrap();
    let (links, mut kit, mut jobs) = kit_on_links(dir.path(), Duration::from_millis(50), 100);
    jobs.set_schedule(SchedulePolicy::default());
    register_child_at_risk(&mut kit);
    let critical = Decision::for_mode(PowerMode::Critical, false);
    let t0 = now_ms();
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &critical, t0);
    assert!(
        matches!(r, Err(SyncError::Link(LinkError::NoAnswer { sent })) if sent >= 1),
        "{r:?}"
    );
    let row = &jobs.status().links[1];
    assert_eq!(row.name, "lora");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("did not answer")),
        "{row:?}"
    );
    assert_eq!(row.last_ok_ms, None);
    // Resting: nothing goes by LoRa half a minute later.
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &critical, t0 + 30_000);
    assert!(
        matches!(&r, Ok(Outcome::Skipped(why)) if why.contains("nothing due")),
        "{r:?}"
    );
    // After the minute's rest the alert goes again (and nobody answers again).
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &critical, t0 + 61_000);
    assert!(
        matches!(r, Err(SyncError::Link(LinkError::NoAnswer { .. }))),
        "{r:?}"
    );
    assert_eq!(links.hub_alerts(), 0);
}

/// The module keeps no duty-cycle ledger of its own: the kit persists it, so a kiosk
/// restarted after a LoRa round (new jobs, a new driver on the module's line, the sync state
/// loaded again) still counts the hour's airtime that round spent; without it a kit
/// restarting again and again could send a full 1 % after each start.
#[test]
fn the_hour_s_lora_airtime_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut links, mut kit, mut jobs) = kit_on_links(dir.path(), Duration::from_millis(50), 0);
    register_child_at_risk(&mut kit);
    let critical = Decision::for_mode(PowerMode::Critical, false);
    let t0 = now_ms();
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &critical, t0);
    assert!(over_lora_or_unanswered(&r), "{r:?}");
    let mut radios = jobs.into_radios();
    let lora = radios.lora.as_mut().unwrap();
    let left = lora.airtime_left_ms(t0 + 1_000);
    assert!(left < 36_000, "the round sent");
    assert_eq!(
        KitSync::airtime(kit.session()).unwrap(),
        lora.airtime_ledger(),
        "persisted as it is after the round"
    );

    // Restarted: the old driver gone, a new one on the module's line with an empty ledger.
    drop(radios);
    let mut restarted = Jobs::with_radios(Radios {
        lora: Some(Box::new(lora_link(links.lora_port.take().unwrap()))),
        cellular: None,
        lora_fault: None,
    });
    restarted.set_hub_address(links.hub_address());
    // No link allowed: the round is only planned (the sync state loaded), nothing sent.
    let off = Decision::for_mode(PowerMode::Shutdown, false);
    let r = restarted.run(JobKind::BulkSync, &mut kit, &off, t0 + 2_000);
    assert!(matches!(r, Ok(Outcome::Skipped(_))), "{r:?}");
    let mut radios = restarted.into_radios();
    assert_eq!(
        radios.lora.as_mut().unwrap().airtime_left_ms(t0 + 1_000),
        left,
        "the hour's airtime still counted"
    );
}

/// A modem that does not register (a kit out of coverage) is switched off and rests: half
/// an hour while only records wait, five minutes once an urgent alert waits (a kit without
/// LoRa has no other way to send it). The power mode still decides whether it may run: in
/// Critical, or in Saver without spare solar energy, it is not tried however urgent the work.
#[test]
fn a_modem_that_did_not_register_is_tried_again_sooner_for_urgent_work() {
    let dir = tempfile::tempdir().unwrap();
    // The network never registers it; the driver gives up after half a second.
    let (links, mut kit, jobs) = kit_on_links_waiting(
        dir.path(),
        Duration::from_secs(3_600),
        0,
        Duration::from_millis(500),
    );
    let radios = jobs.into_radios();
    let mut jobs = Jobs::with_radios(Radios {
        lora: None,
        ..radios
    });
    jobs.set_hub_address(links.hub_address());
    let normal = Decision::for_mode(PowerMode::Normal, false);
    let minute = 60_000;
    let t0 = now_ms();
    let tried = |r: &Result<Outcome, SyncError>| matches!(r, Ok(Outcome::Skipped(why)) if why.starts_with("cellular:"));
    let rested = |r: &Result<Outcome, SyncError>| matches!(r, Ok(Outcome::Skipped(why)) if why.contains("nothing due"));

    // Records only (never sent, so due at once): tried, not registered, off.
    register(
        &mut kit,
        json!({"name": "Amina Yusuf", "sex": "female", "age": 7, "consent_for_tracing": true}),
    );
    let r = jobs.run(JobKind::BulkSync, &mut kit, &normal, t0);
    assert!(tried(&r), "{r:?}");
    assert!(!links.modem_on());
    // Six minutes later, records only: still resting.
    let r = jobs.run(JobKind::BulkSync, &mut kit, &normal, t0 + 6 * minute);
    assert!(rested(&r), "{r:?}");

    // A child at risk: the modem's rest is five minutes now, so it is tried at once (six
    // minutes have passed), then rests five minutes again.
    register_child_at_risk(&mut kit);
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &normal, t0 + 6 * minute);
    assert!(tried(&r), "{r:?}");
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &normal, t0 + 10 * minute);
    assert!(rested(&r), "{r:?}");
    // Where the power mode allows no cellular, not even for urgent work.
    for d in [
        Decision::for_mode(PowerMode::Critical, false),
        Decision::for_mode(PowerMode::Saver, false),
    ] {
        let r = jobs.run(JobKind::UrgentAlert, &mut kit, &d, t0 + 12 * minute);
        assert!(rested(&r), "{:?}: {r:?}", d.mode);
    }
    let r = jobs.run(JobKind::UrgentAlert, &mut kit, &normal, t0 + 12 * minute);
    assert!(tried(&r), "{r:?}");
    assert!(!links.modem_on());
    assert_eq!(links.hub_alerts(), 0);
}

//! The kiosk's background jobs with a real unlocked kit: the index is rebuilt, the match run
//! proposes the pair a registration alone would, and sync on a kit not provisioned says so
//! and leaves the kit working offline; a provisioned kit queues every save for the hub.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldkit_app::{Kit, KitConfig};
use fieldkit_domain::RecordKind;
use fieldkit_kitsync::jobs::{Jobs, Outcome};
use fieldkit_kitsync::{KitSync, Provision};
use fieldkit_power::{Decision, JobKind, PowerMode};
use fieldkit_sync::seal::StaticKey;
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};
use serde_json::json;

const NOW: u64 = 1_780_000_000_000;

fn kit(dir: &std::path::Path) -> Kit {
    let (session, _) = Vault::create(
        &Vault::file_in(dir),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: b"482915",
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    Kit::open(session, KitConfig::default(), NOW).unwrap()
}

fn fields(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn jobs_run_with_the_unlocked_kit_and_sync_needs_provisioning() {
    let d = tempfile::tempdir().unwrap();
    let mut kit = kit(d.path());
    let decision = Decision::for_mode(PowerMode::Normal, true);
    let mut jobs = Jobs::new();
    assert!(matches!(
        jobs.run(JobKind::BulkSync, &mut kit, &decision, NOW).unwrap(),
        Outcome::Skipped(why) if why.contains("not provisioned")
    ));
    kit.register(
        RecordKind::TracingRequest,
        fields(json!({
            "relation_name": "Halima Yusuf", "relation": "mother",
            "tracing_request_subform_section": [
                {"name": "Mohammed Yusuf", "sex": "male", "age": 9}
            ],
        })),
        NOW,
    )
    .unwrap();
    kit.register(
        RecordKind::Case,
        fields(json!({
            "name": "Mohamed Yousef", "sex": "male", "age": 9, "consent_for_tracing": true,
            "family_details_section": [{"relation": "mother", "relation_name": "Halima Yusuf"}],
        })),
        NOW,
    )
    .unwrap();
    let Outcome::Done(what) = jobs
        .run(JobKind::Reindex, &mut kit, &decision, NOW)
        .unwrap()
    else {
        panic!("reindex skipped")
    };
    assert!(what.contains("rebuilt"), "{what}");
    let Outcome::Done(what) = jobs
        .run(JobKind::MatchRun, &mut kit, &decision, NOW)
        .unwrap()
    else {
        panic!("match run skipped")
    };
    assert!(what.contains("match run"), "{what}");
    assert_eq!(
        kit.potential_matches(&fieldkit_app::MatchFilter::default())
            .len(),
        1
    );
}

/// Provisions `kit` as `kit-001` of UNICEF for a hub whose address nothing listens on (the
/// discard port: a round fails at once). Returns the kit's public key.
fn provisioned_for_nowhere(kit: &mut Kit) -> x25519_dalek::PublicKey {
    KitSync::provision(
        kit.session_mut(),
        &Provision {
            hub_public: StaticKey::from_bytes([42; 32]).public(),
            hub_address: "http://127.0.0.1:9",
            agency: "unicef",
            label: "kit-001",
        },
    )
    .unwrap()
}

/// Attaches sync to a provisioned kit and registers one case (no alert) at `NOW`: records
/// only, so its first batch is due at once.
fn attach_with_a_case(kit: &mut Kit) {
    assert!(fieldkit_kitsync::attach(kit).unwrap());
    kit.register(
        RecordKind::Case,
        fields(json!({"name": "Amina Yusuf", "sex": "female", "age": 7})),
        NOW,
    )
    .unwrap();
}

/// A kit provisioned for a hub that never answers, with [`attach_with_a_case`].
fn nowhere_kit_with_a_case(dir: &std::path::Path) -> Kit {
    let mut kit = kit(dir);
    provisioned_for_nowhere(&mut kit);
    attach_with_a_case(&mut kit);
    kit
}

#[test]
fn a_provisioned_kit_queues_what_it_held_and_every_save() {
    let d = tempfile::tempdir().unwrap();
    let mut kit = kit(d.path());
    kit.register(
        RecordKind::Case,
        fields(json!({"name": "Before Provisioning", "sex": "female", "age": 6})),
        NOW,
    )
    .unwrap();
    let hub = StaticKey::from_bytes([42; 32]);
    let public = provisioned_for_nowhere(&mut kit);
    assert!(
        KitSync::provision(
            kit.session_mut(),
            &Provision {
                hub_public: hub.public(),
                hub_address: "",
                agency: "",
                label: "",
            },
        )
        .is_err()
    );
    assert!(fieldkit_kitsync::attach(&mut kit).unwrap());
    assert_eq!(kit.session().queued(10).unwrap().len(), 1);
    kit.register(
        RecordKind::Case,
        fields(json!({"name": "After Provisioning", "sex": "male", "age": 7})),
        NOW + 1,
    )
    .unwrap();
    let queued = kit.session().queued(10).unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    let mut engine = KitSync::load(kit.session()).unwrap().unwrap();
    assert_eq!(engine.kit_id(), fieldkit_sync::seal::KitId::of(&public));
    assert_eq!(engine.label(), "kit-001");
    let n = engine.collect(kit.session_mut(), NOW + 2).unwrap();
    assert!(n >= 1);
    assert!(kit.session().queued(10).unwrap().is_empty());
    // The outbox survives the kit being locked and unlocked.
    let (messages, bytes) = engine.pending();
    drop(engine);
    let session = kit.lock().unlock("amina", b"482915", NOW + 3).unwrap();
    let engine = KitSync::load(&session).unwrap().unwrap();
    assert_eq!(engine.pending(), (messages, bytes));
}

/// The status page's sync rows: unknown before a sign-in let the jobs look, then what waits,
/// and a failed round's reason on the IP row (no case data), the LoRa row not fitted.
#[test]
fn the_status_page_sees_the_queue_and_why_the_last_round_failed() {
    let d = tempfile::tempdir().unwrap();
    let mut kit = kit(d.path());
    let mut jobs = Jobs::new();
    assert_eq!(jobs.status().provisioned, None);
    provisioned_for_nowhere(&mut kit);
    assert!(fieldkit_kitsync::attach(&mut kit).unwrap());
    kit.register(
        RecordKind::Case,
        // Urgent: its alert goes at once (records alone wait for a batch).
        fields(json!({
            "name": "Zahra Haidari", "sex": "female", "age": 6,
            "urgent_protection_concern": true, "risk_level": "high",
        })),
        NOW,
    )
    .unwrap();
    let decision = Decision::for_mode(PowerMode::Normal, true);
    let r = jobs.run(JobKind::BulkSync, &mut kit, &decision, NOW);
    assert!(r.is_err(), "{r:?}");
    let status = jobs.status();
    assert_eq!(status.provisioned, Some(true));
    assert!(
        status.queued.is_some_and(|(m, b)| m >= 1 && b > 0),
        "{status:?}"
    );
    let ip = &status.links[0];
    assert_eq!((ip.name, ip.fitted, ip.allowed), ("ip", true, true));
    let why = ip.last_error.as_deref().unwrap_or_default();
    assert!(!why.is_empty() && !why.contains("Zahra"), "{why}");
    assert_eq!(ip.last_ok_ms, None);
    assert_eq!(
        (status.links[1].name, status.links[1].fitted),
        ("lora", false)
    );
    jobs.locked();
    assert_eq!(jobs.status().queued, None, "forgotten with the session");
}

/// The kiosk shares the kit with the touch screen: a sync job holds it only for the vault
/// work around each exchange, never while frames travel, and does nothing while it is locked.
#[test]
fn a_shared_kit_is_free_while_the_frames_travel() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    let d = tempfile::tempdir().unwrap();
    let mut kit = kit(d.path());
    let server = fieldkit_http::HubServer::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", server.local_addr().unwrap());
    let hub = StaticKey::from_bytes([42; 32]);
    KitSync::provision(
        kit.session_mut(),
        &Provision {
            hub_public: hub.public(),
            hub_address: &address,
            agency: "unicef",
            label: "kit-001",
        },
    )
    .unwrap();
    attach_with_a_case(&mut kit);

    // `None` is the locked kiosk.
    let shared: Mutex<Option<Kit>> = Mutex::new(None);
    let decision = Decision::for_mode(PowerMode::Normal, true);
    let mut jobs = Jobs::new();
    let mut with_kit = |f: &mut dyn FnMut(&mut Kit)| {
        if let Some(k) = shared.lock().unwrap().as_mut() {
            f(k);
        }
    };
    assert!(matches!(
        jobs.run_shared(JobKind::BulkSync, &decision, NOW, &mut with_kit).unwrap(),
        Outcome::Skipped(why) if why.contains("locked")
    ));
    assert!(matches!(
        jobs.run_shared(JobKind::Reindex, &decision, NOW, &mut with_kit).unwrap(),
        Outcome::Skipped(why) if why.contains("locked")
    ));

    *shared.lock().unwrap() = Some(kit);
    let (requests, frames_in, kit_free) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let outcome = std::thread::scope(|s| {
        let hub_side = s.spawn(|| {
            // The "hub" takes the frames (answering none) and looks at the kit meanwhile.
            while server
                .serve_one(Duration::from_millis(1500), |_, frames| {
                    requests.fetch_add(1, Ordering::Relaxed);
                    frames_in.fetch_add(frames.len(), Ordering::Relaxed);
                    if shared.try_lock().is_ok() {
                        kit_free.fetch_add(1, Ordering::Relaxed);
                    }
                    Vec::new()
                })
                .unwrap()
            {}
        });
        let mut with_kit = |f: &mut dyn FnMut(&mut Kit)| {
            if let Some(k) = shared.lock().unwrap().as_mut() {
                f(k);
            }
        };
        let outcome = jobs
            .run_shared(JobKind::BulkSync, &decision, NOW + 60_000, &mut with_kit)
            .unwrap();
        hub_side.join().unwrap();
        outcome
    });
    let Outcome::Done(what) = outcome else {
        panic!("sync skipped: {outcome:?}")
    };
    assert!(what.contains("sync over IP"), "{what}");
    let requests = requests.load(Ordering::Relaxed);
    assert!(requests >= 1);
    assert!(frames_in.load(Ordering::Relaxed) >= 1, "the case went out");
    assert_eq!(
        kit_free.load(Ordering::Relaxed),
        requests,
        "the kit was held during an exchange"
    );
    // Nothing was acknowledged: the case is still in the outbox for the next round.
    let kit = shared.into_inner().unwrap().unwrap();
    let engine = KitSync::load(kit.session()).unwrap().unwrap();
    assert!(engine.pending().0 >= 1);
}

/// Runs the jobs' check once a minute over `minutes` (minutes after `NOW`) with the hub out
/// of reach; returns the minutes at which a round was tried (and failed).
fn tries(jobs: &mut Jobs, kit: &mut Kit, minutes: std::ops::Range<u64>) -> Vec<u64> {
    let decision = Decision::for_mode(PowerMode::Normal, true);
    let mut tried = Vec::new();
    for m in minutes {
        let mut with_kit = |f: &mut dyn FnMut(&mut Kit)| f(kit);
        match jobs.check_shared(&decision, NOW + m * 60_000, &mut with_kit) {
            None => {}
            Some(Err(_)) => tried.push(m),
            Some(Ok(done)) => panic!("minute {m}: the hub is out of reach, yet {done:?}"),
        }
    }
    tried
}

/// A hub that does not answer (down, or its address out of reach): the jobs try again after
/// 1, 2, 4 … minutes (at most two hours), not at every check, because each try over cellular
/// boots the modem; an urgent case registered meanwhile is tried at once and then every ten
/// minutes while it waits; a round that reaches the hub ends the rest.
#[test]
fn an_unreachable_hub_is_tried_less_and_less_often_but_urgent_work_soon() {
    use std::time::Duration;

    let d = tempfile::tempdir().unwrap();
    let mut kit = nowhere_kit_with_a_case(d.path());
    let mut jobs = Jobs::new();
    // Records only (never sent: a batch is due at once), four hours of checks.
    assert_eq!(
        tries(&mut jobs, &mut kit, 0..240),
        [0, 1, 3, 7, 15, 31, 63, 127],
        "then 120 minutes after 127"
    );
    let row = &jobs.status().links[0];
    assert!(
        row.last_error.is_some() && row.last_ok_ms.is_none(),
        "{row:?}"
    );

    // A child at risk registered at minute 240: its alert is tried at once (the link rested
    // until 247), then every ten minutes while the hub stays out of reach.
    kit.register(
        RecordKind::Case,
        fields(json!({
            "name": "Zahra Haidari", "sex": "female", "age": 6,
            "urgent_protection_concern": true, "risk_level": "high",
        })),
        NOW + 240 * 60_000,
    )
    .unwrap();
    assert_eq!(
        tries(&mut jobs, &mut kit, 240..300),
        [240, 250, 260, 270, 280, 290]
    );

    // The hub answers at minute 300 (it takes the frames and acknowledges none): the rest
    // is over, so when it is out of reach again the tries start over at one minute.
    let server = fieldkit_http::HubServer::bind("127.0.0.1:0").unwrap();
    jobs.locked();
    jobs.set_hub_address(&format!("http://{}", server.local_addr().unwrap()));
    let done = std::thread::scope(|s| {
        s.spawn(|| {
            while server
                .serve_one(Duration::from_millis(1_500), |_, _| Vec::new())
                .unwrap()
            {}
        });
        let decision = Decision::for_mode(PowerMode::Normal, true);
        let mut with_kit = |f: &mut dyn FnMut(&mut Kit)| f(&mut kit);
        jobs.check_shared(&decision, NOW + 300 * 60_000, &mut with_kit)
    });
    assert!(matches!(done, Some(Ok(Outcome::Done(_)))), "{done:?}");
    assert!(jobs.status().links[0].last_error.is_none());
    jobs.locked();
    jobs.set_hub_address("http://127.0.0.1:9");
    assert_eq!(
        tries(&mut jobs, &mut kit, 301..310),
        [301, 302, 304, 308],
        "the alert still waits: 1, 2, 4 minutes again"
    );
}

/// A kit rebooting in a brown-out loop with its hub out of reach: the rest after the rounds
/// that failed is written to the vault and taken back at the next start, so the restarted
/// jobs wait it out instead of trying at once (each try over cellular boots the modem).
#[test]
fn the_rest_after_failed_rounds_survives_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let mut kit = nowhere_kit_with_a_case(d.path());
    let mut jobs = Jobs::new();
    // Failed at minutes 0, 1 and 3: the link rests four minutes, until minute 7.
    assert_eq!(tries(&mut jobs, &mut kit, 0..4), [0, 1, 3]);

    // The kiosk restarts: new jobs, the vault signed in again at minute 4.
    drop(jobs);
    let vault = kit.lock();
    let session = vault.unlock("amina", b"482915", NOW + 4 * 60_000).unwrap();
    let mut kit = Kit::open(session, KitConfig::default(), NOW + 4 * 60_000).unwrap();
    assert!(fieldkit_kitsync::attach(&mut kit).unwrap());
    let mut jobs = Jobs::new();
    // Still resting until minute 7 (a restart without the rest would try at 4, 5 and 7),
    // then eight minutes after the fourth failure.
    assert_eq!(tries(&mut jobs, &mut kit, 4..16), [7, 15]);
}

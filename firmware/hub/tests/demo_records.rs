//! The demo kit's records (`fieldkit_app::demo::seed`, what `fieldkit kiosk --simulate` and
//! the screen's tests register) through sync: every field of every seeded case and tracing
//! request survives the typed record form exactly — with the kit's code lists and without,
//! one record a message or all in one —, and a kit seeded, provisioned and synced with a
//! hub (as `--simulate` does) leaves the hub holding the same records, each valid at every
//! step: the kit cuts its first round's records into several messages, and cut inside a
//! record (as it was) a case reached the hub without its `sex` until the next message came
//! ("sex: is required" at the hub's triage).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fieldkit_app::{Kit, KitConfig};
use fieldkit_domain::lookups::Lookups;
use fieldkit_domain::{Document, LocationTree, Op, Record, RecordKind};
use fieldkit_hub::HubService;
use fieldkit_kitsync::KitSync;
use fieldkit_sync::codec::{decode_typed, encode_typed};
use fieldkit_sync::codes::{CodeBook, CodeBooks};
use fieldkit_sync::message::{Body, Priority};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Session, Vault};
use std::sync::Arc;

/// How many children `--simulate` seeds.
const DEMO_CASES: usize = 40;

/// A configuration whose location tree holds the demo's places, so location codes travel
/// as codes of the list.
fn demo_config() -> KitConfig {
    KitConfig {
        locations: Some(LocationTree::new(fieldkit_app::demo::locations()).unwrap()),
        lookups: Lookups::default(),
        ..KitConfig::default()
    }
}

/// A kit with the demo records, seeded before it is provisioned (as `--simulate` makes its
/// vault: provisioning queues what the kit holds, whole).
fn demo_kit(
    config: KitConfig,
    hub: Option<x25519_dalek::PublicKey>,
) -> (Kit, Option<x25519_dalek::PublicKey>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (session, _) = Vault::create(
        &Vault::file_in(dir.path()),
        InitOptions {
            username: fieldkit_app::demo::USER,
            display_name: "Amina (demo)",
            credential: fieldkit_app::demo::PIN.as_bytes(),
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    let mut kit = Kit::open(session, config, NOW).unwrap();
    fieldkit_app::demo::seed(&mut kit, DEMO_CASES, NOW).unwrap();
    let mut public = None;
    if let Some(hub_public) = hub {
        public = Some(
            KitSync::provision(
                kit.session_mut(),
                &fieldkit_kitsync::Provision {
                    hub_public,
                    hub_address: "",
                    agency: "unicef",
                    label: "demo kit",
                },
            )
            .unwrap(),
        );
        assert!(fieldkit_kitsync::attach(&mut kit).unwrap());
    }
    (kit, public, dir)
}

/// Every record a session holds, as JSON, by kind and id.
fn records(s: &mut Session) -> Vec<Record> {
    let mut out = Vec::new();
    for kind in [RecordKind::Case, RecordKind::TracingRequest] {
        out.extend(s.all(kind, NOW).unwrap().into_iter().map(|o| o.record));
    }
    out.sort_by_key(Record::id);
    out
}

/// The record the ops build, from nothing.
fn rebuilt(kind: RecordKind, ops: &[Op]) -> serde_json::Value {
    let mut doc = Document::new(kind, ops[0].record);
    for op in ops {
        doc.apply(op).unwrap();
    }
    doc.to_json()
}

#[test]
fn every_demo_record_survives_the_typed_form_exactly() {
    let config = demo_config();
    let (mut kit, _, _dir) = demo_kit(config.clone(), None);
    let book = CodeBook::of_deployment(config.locations.as_ref(), &config.lookups);
    let mut held = CodeBooks::new();
    held.add(Arc::new(book.clone())).unwrap();
    let all = records(kit.session_mut());
    let cases = all.iter().filter(|r| r.kind() == RecordKind::Case).count();
    let requests = all.len() - cases;
    assert_eq!(cases, DEMO_CASES);
    assert_eq!(requests, DEMO_CASES.div_ceil(4));

    let mut everything = Vec::new();
    for record in &all {
        let ops = kit
            .session()
            .ops_since(record.kind(), record.id(), None)
            .unwrap();
        // The ops are the record: rebuilt from them, every field is there.
        assert_eq!(
            rebuilt(record.kind(), &ops),
            record.to_json(),
            "{}",
            record.id()
        );
        for coding in [None, Some(&book)] {
            let bytes = encode_typed(&ops, coding).expect("a whole record's save");
            assert_eq!(
                decode_typed(&bytes, &held).as_ref(),
                Ok(&ops),
                "{} {:?} coded {}",
                record.kind(),
                record.id(),
                coding.is_some()
            );
            // And as the message a kit queues (compressed against the primer).
            let body = Body::Ops(ops.clone());
            let (tag, compressed, bytes) = body.encode_with(coding);
            // The typed record form: compressed against the primer with the match
            // explanations (tag 9, protocol version 5), or tag 7 when it does not compress.
            assert!(
                tag == 9 || (tag == 7 && !compressed),
                "a registration goes in the typed record form: {tag}"
            );
            assert_eq!(Body::decode_with(tag, compressed, &bytes, &held), Ok(body));
        }
        everything.extend(ops);
    }
    // All the records in one message, as a kit's first round after provisioning sends them.
    let body = Body::Ops(everything);
    let (tag, compressed, bytes) = body.encode_with(Some(&book));
    assert_eq!(Body::decode_with(tag, compressed, &bytes, &held), Ok(body));
}

/// A demo kit as `--simulate` makes it, synced with a hub of the same configuration over
/// 239-byte frames: the hub ends up holding every demo record with every field as the kit
/// holds it, drops no message, and every case it holds validates.
#[test]
fn a_demo_kit_synced_leaves_the_hub_holding_the_same_valid_records() {
    let hub_dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(hub_dir.path());
    let hub_public = fieldkit_hub::init(&mut session).unwrap();
    let config = demo_config();
    let mut hub = HubService::open_with(session, config.clone(), NOW).unwrap();
    let (mut kit, public, _dir) = demo_kit(config, Some(hub_public));
    let mut engine = KitSync::load(kit.session()).unwrap().unwrap();
    hub.enroll(public.unwrap(), "unicef", "demo kit", NOW)
        .unwrap();
    let id = engine.kit_id();

    let mut now = NOW;
    engine.collect(kit.session_mut(), now).unwrap();
    let case_ids: Vec<_> = records(kit.session_mut())
        .iter()
        .filter(|r| r.kind() == RecordKind::Case)
        .map(Record::id)
        .collect();
    assert!(
        engine.outbox().messages().len() > 1,
        "the demo records are cut into several messages"
    );
    let (mut applied, mut ignored) = (0, 0);
    let mut settled = false;
    for _ in 0..400 {
        now += 2_000;
        let mut link = Direct {
            hub: &mut hub,
            kit: id,
            mtu: 239,
            max_frames: 16,
        };
        let report = engine
            .exchange(&mut kit, &mut link, now, Priority::Bulk)
            .unwrap();
        applied += report.messages_applied;
        ignored += report.messages_ignored;
        engine.collect(kit.session_mut(), now).unwrap();
        // No case is ever held in parts: each message carries whole records.
        let today = fieldkit_domain::Date::from_unix_ms(now);
        for id in &case_ids {
            if let Ok(ops) = hub.kit().session().ops_since(RecordKind::Case, *id, None) {
                let json = rebuilt(RecordKind::Case, &ops);
                let Record::Case(c) = Record::from_json(RecordKind::Case, json).unwrap() else {
                    unreachable!("a case")
                };
                assert_eq!(c.validate(today), Ok(()), "case {id} at the hub, in part");
            }
        }
        if engine.pending().0 == 0 && !hub.kits_waiting().contains(&id) {
            settled = true;
            break;
        }
    }
    assert!(settled, "the kit did not settle with the hub");
    // The hub's notices reached the kit and were applied; the one message the kit did not
    // apply is the hub's code-list announcement (nothing failed to decode).
    assert!(applied > 0, "the hub's notices were applied");
    assert_eq!(ignored, 1, "only the announcement is not applied");
    let dropped: u64 = hub.kits().iter().map(|k| k.file.messages_dropped).sum();
    assert_eq!(dropped, 0, "the hub refused no message");

    let at_kit = records(kit.session_mut());
    drop(hub.lock());
    let mut hub_session = reopen(hub_dir.path());
    let at_hub = records(&mut hub_session);
    for record in &at_kit {
        let held = at_hub
            .iter()
            .find(|r| r.id() == record.id())
            .unwrap_or_else(|| panic!("{} {} is not at the hub", record.kind(), record.id()));
        // The hub may add its own triage fields; every field the kit holds is there as is.
        let (mine, theirs) = (record.to_json(), held.to_json());
        for (field, value) in mine.as_object().unwrap() {
            assert_eq!(
                theirs.get(field),
                Some(value),
                "{} {}: {field}",
                record.kind(),
                record.id()
            );
        }
        if let Record::Case(c) = held {
            let today = fieldkit_domain::Date::from_unix_ms(now);
            assert_eq!(c.validate(today), Ok(()), "{}", c.id);
        }
    }
}

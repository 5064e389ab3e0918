//! The code-list handshake between real kits (the kit core and its sync engine) and the hub
//! service, over a link in the same process: a kit sends text until the hub announced the
//! deployment's list, then codes; a kit configured with another list keeps sending text the
//! hub reads; a hub restarted with a new location reads the kits still holding the old list,
//! and what they had queued before; and no message is dropped on the way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fieldkit_app::{Kit, KitConfig};
use fieldkit_domain::lookups::Lookups;
use fieldkit_domain::{Case, Location, LocationLevel, LocationTree, Record, RecordKind};
use fieldkit_hub::HubService;
use fieldkit_kitsync::KitSync;
use fieldkit_sync::codes::CodeBook;
use fieldkit_sync::message::Priority;
use fieldkit_vault::Session;
use x25519_dalek::PublicKey;

/// The deployment's configuration: the generated cases' location tree (and `extra`, a block
/// added later) and their lookups.
fn config(extra: Option<&str>) -> KitConfig {
    let mut places = fieldkit_testkit::cases::deployment_locations();
    if let Some(code) = extra {
        places.push(Location {
            code: code.to_string(),
            name: code.to_string(),
            level: LocationLevel::Block,
            parent: code.rsplit_once('-').map(|(p, _)| p.to_string()),
        });
    }
    let export: Vec<serde_json::Value> = fieldkit_testkit::cases::deployment_lookups()
        .into_iter()
        .map(|(id, values)| {
            let values: Vec<serde_json::Value> = values
                .iter()
                .map(|v| serde_json::json!({"id": v, "display_text": v}))
                .collect();
            serde_json::json!({"unique_id": id, "values": values})
        })
        .collect();
    KitConfig {
        locations: Some(LocationTree::new(places).unwrap()),
        lookups: Lookups::from_primero_json(&serde_json::Value::Array(export).to_string()).unwrap(),
        ..KitConfig::default()
    }
}

fn book(c: &KitConfig) -> CodeBook {
    CodeBook::of_deployment(c.locations.as_ref(), &c.lookups)
}

struct KitUnderTest {
    kit: Kit,
    engine: KitSync,
    _dir: tempfile::TempDir,
}

fn kit_under_test(
    config: KitConfig,
    hub_public: PublicKey,
    label: &str,
) -> (KitUnderTest, PublicKey) {
    let (kit, public, dir) = provisioned_kit(config, hub_public, label);
    let engine = KitSync::load(kit.session()).unwrap().unwrap();
    (
        KitUnderTest {
            kit,
            engine,
            _dir: dir,
        },
        public,
    )
}

/// Registers generated case `i` (its location set to `location`) on the kit.
fn register(k: &mut KitUnderTest, i: u64, location: &str) {
    let case = fieldkit_testkit::cases::case(77, i);
    let mut json = fieldkit_domain::Record::Case(Box::new(case)).to_json();
    let fields = json.as_object_mut().unwrap();
    fields.remove("id");
    fields.insert("location_current".into(), location.into());
    k.kit
        .register(RecordKind::Case, fields.clone(), NOW)
        .unwrap();
    k.engine.collect(k.kit.session_mut(), NOW).unwrap();
}

/// Exchanges until the kit's outbox is empty.
fn sync(k: &mut KitUnderTest, hub: &mut HubService, now: &mut u64) {
    let id = k.engine.kit_id();
    for _ in 0..8 {
        *now += 1_000;
        let mut link = Direct {
            hub,
            kit: id,
            mtu: 1200,
            max_frames: 32,
        };
        k.engine
            .exchange(&mut k.kit, &mut link, *now, Priority::Bulk)
            .unwrap();
        if k.engine.pending().0 == 0 && !hub.kits_waiting().contains(&id) {
            return;
        }
    }
    panic!("the kit did not settle with the hub");
}

fn cases(s: &mut Session) -> Vec<Case> {
    s.all(RecordKind::Case, NOW)
        .unwrap()
        .into_iter()
        .filter_map(|o| match o.record {
            Record::Case(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn cases_at(hub: &HubService) -> u64 {
    hub.kit().session().count(RecordKind::Case).unwrap()
}

fn dropped(hub: &HubService) -> u64 {
    hub.kits().iter().map(|k| k.file.messages_dropped).sum()
}

#[test]
fn kits_code_only_what_the_hub_announced_and_the_hub_reads_every_list_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(dir.path());
    let hub_public = fieldkit_hub::init(&mut session).unwrap();
    let old = config(None);
    let mut hub = HubService::open_with(session, old.clone(), NOW).unwrap();
    let mut now = NOW;

    // Kit A holds the hub's list; kit B was given a list with a block the hub lacks.
    let (mut a, a_pub) = kit_under_test(old.clone(), hub_public, "kit A");
    let (mut b, b_pub) = kit_under_test(config(Some("KE-TUR-KAK1-B31")), hub_public, "kit B");
    hub.enroll(a_pub, "unicef", "kit A", now).unwrap();
    hub.enroll(b_pub, "unicef", "kit B", now).unwrap();
    assert!(a.engine.coding().is_none(), "nothing announced yet: text");

    // The first case goes as text; the hub's answer carries its announcement.
    register(&mut a, 0, "KE-TUR-KAK1-B07");
    sync(&mut a, &mut hub, &mut now);
    assert_eq!(a.engine.coding(), Some(book(&old).digest()));
    // Now coded, and read.
    register(&mut a, 1, "KE-TUR-KAK1-B07");
    let coded = a.engine.outbox().messages()[0].len();
    sync(&mut a, &mut hub, &mut now);
    assert_eq!(cases_at(&hub), 2);

    // Kit B's list was never announced: it sends text, and the hub reads it.
    register(&mut b, 2, "KE-TUR-KAK1-B31");
    sync(&mut b, &mut hub, &mut now);
    register(&mut b, 3, "KE-TUR-KAK1-B07");
    assert!(b.engine.coding().is_none());
    assert!(b.engine.outbox().messages()[0].len() > coded);
    sync(&mut b, &mut hub, &mut now);
    assert_eq!(cases_at(&hub), 4);

    // Kit A queues a coded case the hub has not seen when the hub is restarted with the
    // new block: the hub reads both lists and tells every kit both.
    register(&mut a, 4, "KE-TUR-KAK3-B12");
    drop(hub.lock());
    let session = reopen(dir.path());
    let new = config(Some("KE-TUR-KAK1-B31"));
    let mut hub = HubService::open_with(session, new.clone(), now).unwrap();
    sync(&mut a, &mut hub, &mut now);
    assert_eq!(
        cases_at(&hub),
        5,
        "the case coded against the old list is read"
    );
    assert_eq!(
        a.engine.coding(),
        Some(book(&old).digest()),
        "kit A still holds the old list: it keeps coding against it"
    );
    register(&mut a, 5, "KE-TUR-KAK1-B07");
    sync(&mut a, &mut hub, &mut now);
    // Kit B now holds the hub's current list: once told, it codes.
    sync(&mut b, &mut hub, &mut now);
    assert_eq!(b.engine.coding(), Some(book(&new).digest()));
    register(&mut b, 6, "KE-TUR-KAK1-B31");
    sync(&mut b, &mut hub, &mut now);
    assert_eq!(cases_at(&hub), 7);
    assert_eq!(dropped(&hub), 0, "no message was refused");

    // What the hub holds is what the kits registered, coded or not.
    drop(hub.lock());
    let at_hub = cases(&mut reopen(dir.path()));
    for k in [&mut a, &mut b] {
        for case in cases(k.kit.session_mut()) {
            let same = at_hub.iter().find(|c| c.id == case.id).expect("at the hub");
            assert_eq!(same.location_current, case.location_current);
            assert_eq!(same.nationality, case.nationality);
            assert_eq!(same.language, case.language);
            assert_eq!(same.family_details_section, case.family_details_section);
        }
    }
}

/// A generated case (its places and lookups from the deployment's lists), owned by
/// `agency`, as one save of a kit with `device`.
fn generated_case(i: u64, agency: &str, device: u64) -> Vec<fieldkit_domain::Op> {
    let mut case = fieldkit_testkit::cases::case(77, i);
    case.owned_by_agency_id = Some(agency.into());
    let stamp = fieldkit_domain::Hlc {
        wall_ms: NOW,
        counter: 0,
        device: fieldkit_domain::DeviceId(device),
    };
    fieldkit_domain::Document::new(RecordKind::Case, case.id)
        .diff(&Record::Case(Box::new(case)).to_json(), || stamp)
        .unwrap()
}

/// The hub codes what it sends a kit with the list that kit codes its own messages with
/// (protocol version 4 on), and remembers it across a restart; a kit that sends text is
/// sent text, and both hear a match.
#[test]
fn the_hub_codes_a_kit_s_messages_with_the_list_the_kit_codes_with() {
    use fieldkit_sync::message::Body;
    let dir = tempfile::tempdir().unwrap();
    let mut session = hub_vault(dir.path());
    let hub_public = fieldkit_hub::init(&mut session).unwrap();
    let c = config(None);
    let list = std::sync::Arc::new(book(&c));
    let mut hub = HubService::open_with(session, c.clone(), NOW).unwrap();
    // Kit A (another agency) codes with the deployment's list; kit T sends text.
    let mut a = KitEnd::new(0x0A, hub_public);
    let mut t = KitEnd::new(0x0B, hub_public);
    hub.enroll(a.public(), "unhcr", "kit A", NOW).unwrap();
    hub.enroll(t.public(), "unicef", "kit T", NOW).unwrap();
    let mut held = fieldkit_sync::codes::CodeBooks::new();
    held.add(list.clone()).unwrap();
    a.endpoint.set_code_books(held);
    a.endpoint.set_coding(Some(list.clone()));

    let mut now = NOW;
    let round = |hub: &mut HubService, a: &mut KitEnd, t: &mut KitEnd, now: &mut u64| {
        for _ in 0..4 {
            for k in [&mut *a, &mut *t] {
                let up = k.frames(*now, 1200);
                hub.receive(&up, *now).unwrap();
                let down = hub.transmit(k.id, 1200, 256, *now).unwrap();
                k.take(&down);
            }
            *now += 1_000;
        }
    };
    // A's own case, coded: the hub learns the list A reads.
    a.endpoint
        .queue(&Body::Ops(generated_case(0, "unhcr", 0xA)));
    // A child at A and her mother's request at T: both hear the match.
    let child_id = fieldkit_domain::RecordId::mint(NOW, [1; 10]);
    a.endpoint
        .queue(&Body::Ops(child(child_id, "Amina Yusuf", 0xA)));
    let request_id = fieldkit_domain::RecordId::mint(NOW, [2; 10]);
    t.endpoint
        .queue(&Body::Ops(request(request_id, "Amina Yusuf", 0xB)));
    round(&mut hub, &mut a, &mut t, &mut now);
    let notified = |k: &KitEnd| {
        k.received.iter().any(|b| {
            matches!(b, Body::Ops(ops) if ops.iter().any(|o| o.kind == RecordKind::PotentialMatch))
        })
    };
    assert!(notified(&a) && notified(&t), "both kits hear the match");
    // T hands a case to A's agency: it reaches A coded with A's list, whole.
    let handed = generated_case(1, "unhcr", 0xB);
    t.endpoint.queue(&Body::Ops(handed.clone()));
    a.lists.clear();
    a.received.clear();
    round(&mut hub, &mut a, &mut t, &mut now);
    assert!(
        a.lists.contains(&Some(list.digest())),
        "kit A codes, so what it is sent is coded: {:?}",
        a.lists
    );
    let got: Vec<&fieldkit_domain::Op> = a
        .received
        .iter()
        .flat_map(|b| match b {
            Body::Ops(ops) => ops.iter().collect(),
            _ => Vec::new(),
        })
        .filter(|o| o.record == handed[0].record)
        .collect();
    // Every field as T sent it (the hub's triage may add its own).
    for h in &handed {
        assert!(
            got.iter().any(|g| g.field == h.field && g.value == h.value),
            "{} reached kit A",
            h.field
        );
    }
    assert!(
        t.lists.iter().all(Option::is_none),
        "kit T sends text and is sent text"
    );
    assert_eq!(dropped(&hub), 0);

    // Remembered: a restarted hub still codes for kit A.
    drop(hub.lock());
    let session = reopen(dir.path());
    assert_eq!(
        session
            .sync_value(&fieldkit_hub::codes::reads_name(a.id))
            .unwrap()
            .map(|v| v.to_vec()),
        Some(list.digest().to_vec())
    );
}

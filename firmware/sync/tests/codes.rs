//! The typed record form (body tag 7) and a deployment's code lists: every encoding
//! round-trips with and without a code book, no decoder panics on mutated or arbitrary
//! bytes, and the handshake never lets a kit send a code its hub cannot read — a kit codes
//! only against a list the hub announced, a kit with another list sends text the hub reads,
//! and a hub whose list changed still reads kits holding the old one.

use std::convert::Infallible;
use std::sync::Arc;

use fieldkit_domain::{DeviceId, Document, FieldValue, Hlc, Op, Record, RecordId, RecordKind};
use fieldkit_sync::codec::{decode_records, decode_typed, encode_records, encode_typed};
use fieldkit_sync::codes::{self, CodeBook, CodeBooks, LOCATIONS};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::hub::{Hub, HubEvent, KitState};
use fieldkit_sync::message::{Body, Priority};
use fieldkit_sync::seal::{Channel, LinkKeys, StaticKey};
use fieldkit_sync::wire::DecodeError;
use proptest::prelude::*;

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A small deployment: two camps' blocks, some nationalities, languages and caseworkers.
fn book(extra_location: Option<&str>) -> CodeBook {
    let mut locations = strings(&[
        "KE",
        "KE-TUR",
        "KE-TUR-KAK1",
        "KE-TUR-KAK1-B07",
        "KE-TUR-KAK3-B12",
        "SD-DAR-GEN",
    ]);
    locations.extend(extra_location.map(str::to_string));
    CodeBook::new([
        (LOCATIONS.to_string(), locations),
        (
            "nationality".to_string(),
            strings(&["sd", "so", "ss", "sy"]),
        ),
        ("language".to_string(), strings(&["ar", "en", "so"])),
        ("users".to_string(), strings(&["amina", "deng.a"])),
    ])
}

fn arb_uid() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(|b| uuid::Uuid::from_bytes(b).to_string()),
        "[0-9a-f]{8}-[0-9]",
        any::<String>(),
    ]
}

fn arb_word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("KE-TUR-KAK1-B07".to_string()),
        Just("SD-DAR-GEN".to_string()),
        Just("so".to_string()),
        Just("ar".to_string()),
        Just("amina".to_string()),
        Just("female".to_string()),
        Just("separated".to_string()),
        Just("2015-07-01".to_string()),
        Just("019e7044-8800-70dd-9fac-a75ff0c8d2a8".to_string()),
        Just("019E7044-8800-70DD-9FAC-A75FF0C8D2A8".to_string()),
        Just(String::new()),
        "[a-zA-Z -]{0,16}",
        any::<String>(),
    ]
}

fn arb_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        Just(FieldValue::Null),
        any::<bool>().prop_map(FieldValue::Bool),
        (0i64..120).prop_map(FieldValue::Int),
        any::<i64>().prop_map(FieldValue::Int),
        arb_word().prop_map(FieldValue::Text),
        prop::collection::vec(arb_word(), 0..4).prop_map(FieldValue::List),
        arb_word().prop_map(FieldValue::Json),
        (-40_000i64..40_000).prop_map(|d| FieldValue::Text(
            fieldkit_domain::Date::from_days_since_epoch(d).to_string()
        )),
    ]
}

/// A whole record's save as a registration gives it: shaped fields (dates, ages, words of
/// the book and of the protocol), family entries, and often the section's order register
/// listing its entries (sometimes with an id that is not among them), with now and then ops
/// the record form cannot carry before or after it.
fn arb_save() -> impl Strategy<Value = Vec<Op>> {
    let top = prop_oneof![
        Just("name"),
        Just("sex"),
        Just("age"),
        Just("date_of_birth"),
        Just("registration_date"),
        Just("nationality"),
        Just("language"),
        Just("location_current"),
        Just("owned_by"),
        Just("owned_by_agency_id"),
        Just("protection_concerns"),
        Just("separation_cause"),
        Just("case_id_display"),
        Just("cfm_5_17_vision_difficulty"),
        Just("notes"),
        Just("case_id"),
        Just("tracing_request_id"),
    ]
    .prop_map(str::to_string);
    let entry_field = prop_oneof![
        Just("relation"),
        Just("relation_name"),
        Just("relation_age"),
        Just("relation_location_current"),
        Just("relation_language"),
        Just("unique_id"),
    ];
    (
        prop::collection::vec((top, arb_value()), 0..16),
        prop::collection::vec(arb_uid(), 0..4),
        prop::collection::vec(
            (any::<prop::sample::Index>(), entry_field, arb_value()),
            0..12,
        ),
        prop::option::of((
            prop::collection::vec(any::<prop::sample::Index>(), 0..5),
            prop::option::of(arb_uid()),
        )),
        (any::<u8>(), 0u64..3, any::<u32>()),
        prop::collection::vec(any::<(u8, bool)>(), 0..2),
    )
        .prop_map(
            |(fields, mut uids, entries, order, (r, mode, counter), extra)| {
                let stamp = Hlc {
                    wall_ms: if mode == 1 {
                        u64::from(counter)
                    } else {
                        1_780_000_000_000
                    },
                    counter: counter % 3,
                    device: DeviceId(0x5eed),
                };
                // Mode 2: as a kit registers, the id and some entry ids minted at the
                // stamp's moment (the typed form then counts from it).
                let record = if mode == 2 {
                    for (i, u) in uids.iter_mut().enumerate().filter(|(i, _)| i % 2 == 0) {
                        *u = RecordId::mint(stamp.wall_ms, [i as u8; 10]).to_string();
                    }
                    RecordId::mint(stamp.wall_ms, [r; 10])
                } else {
                    RecordId::from_bytes([r; 16])
                };
                let op = |field: String, value: FieldValue| Op {
                    kind: RecordKind::Case,
                    record,
                    field,
                    value,
                    stamp,
                    supersedes: vec![],
                };
                let mut save: Vec<Op> = fields.into_iter().map(|(f, v)| op(f, v)).collect();
                if !uids.is_empty() {
                    for (i, f, v) in entries {
                        let uid = &uids[i.index(uids.len())];
                        save.push(op(format!("family_details_section[{uid}].{f}"), v));
                    }
                    if let Some((picks, foreign)) = order {
                        let mut list: Vec<String> = picks
                            .iter()
                            .map(|i| uids[i.index(uids.len())].clone())
                            .collect();
                        list.extend(foreign);
                        save.push(op(
                            "family_details_section[]".into(),
                            FieldValue::List(list),
                        ));
                    }
                }
                save.sort_by(|a, b| a.field.cmp(&b.field));
                save.dedup_by(|a, b| a.field == b.field);
                // An edit before or after: another stamp, something superseded.
                let edits = extra.into_iter().map(|(v, sup)| Op {
                    supersedes: if sup { vec![stamp] } else { vec![] },
                    stamp: Hlc {
                        counter: stamp.counter + 1,
                        ..stamp
                    },
                    ..op("name".into(), FieldValue::Int(i64::from(v)))
                });
                let (before, after): (Vec<Op>, Vec<Op>) =
                    edits.partition(|o| o.supersedes.is_empty());
                before.into_iter().chain(save).chain(after).collect()
            },
        )
}

fn books(list: &[&CodeBook]) -> CodeBooks {
    let mut b = CodeBooks::new();
    for book in list {
        b.add(Arc::new((*book).clone())).expect("distinct prefixes");
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn saves_round_trip_in_the_typed_form_with_and_without_a_book(ops in arb_save()) {
        let b = book(None);
        let held = books(&[&b]);
        for coding in [None, Some(&b)] {
            if let Some(bytes) = encode_typed(&ops, coding) {
                prop_assert_eq!(decode_typed(&bytes, &held), Ok(ops.clone()));
            }
            let body = Body::Ops(ops.clone());
            let (tag, compressed, bytes) = body.encode_with(coding);
            prop_assert_eq!(Body::decode_with(tag, compressed, &bytes, &held), Ok(body));
        }
        // The record form of tag 6 is still written and read as before.
        if let Some(bytes) = encode_records(&ops) {
            prop_assert_eq!(decode_records(&bytes), Ok(ops.clone()));
        }
    }

    #[test]
    fn mutated_typed_forms_never_panic(ops in arb_save(), at in any::<usize>(), bit in 0u8..8, coded in any::<bool>()) {
        let b = book(None);
        let held = books(&[&b]);
        if let Some(mut bytes) = encode_typed(&ops, coded.then_some(&b)) {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            let _ = decode_typed(&bytes, &held);
            bytes.truncate(i);
            let _ = decode_typed(&bytes, &held);
        }
    }

    #[test]
    fn no_typed_decoder_panics_on_any_input(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let b = book(None);
        let held = books(&[&b]);
        let _ = decode_typed(&bytes, &held);
        let _ = decode_typed(&bytes, &CodeBooks::new());
        // With the book's prefix in front, the rest is read against the book.
        let mut named = vec![1u8];
        named.extend_from_slice(&b.prefix());
        named.extend_from_slice(&bytes);
        let _ = decode_typed(&named, &held);
        for tag in [7u8, 8] {
            let _ = Body::decode_with(tag, false, &bytes, &held);
            let _ = Body::decode_with(tag, true, &bytes, &held);
        }
    }

    #[test]
    fn code_list_announcements_round_trip(digests in prop::collection::vec(any::<[u8; 32]>(), 0..5)) {
        let body = Body::CodeLists(digests);
        let (tag, compressed, bytes) = body.encode();
        prop_assert_eq!(Body::decode(tag, compressed, &bytes), Ok(body));
    }
}

fn registration(i: u64) -> Vec<Op> {
    let case = fieldkit_testkit::cases::case(2026, i);
    let json = Record::Case(Box::new(case.clone())).to_json();
    let stamp = Hlc {
        wall_ms: 1_780_000_000_000 + i,
        counter: 0,
        device: DeviceId(0x5eed),
    };
    Document::new(RecordKind::Case, case.id)
        .diff(&json, || stamp)
        .expect("a flat record")
}

fn generated_book() -> CodeBook {
    let tree = fieldkit_domain::LocationTree::new(fieldkit_testkit::cases::deployment_locations())
        .expect("a tree");
    CodeBook::new(
        [(
            LOCATIONS.to_string(),
            tree.iter().map(|l| l.code.clone()).collect::<Vec<_>>(),
        )]
        .into_iter()
        .chain(
            fieldkit_testkit::cases::deployment_lookups()
                .into_iter()
                .map(|(id, v)| (id.trim_start_matches("lookup-").to_string(), v)),
        ),
    )
}

/// Every generated registration travels whole in the typed form (tag 9), order register
/// included, and comes back as the operations given, with the deployment's book and
/// without; coded, it is shorter.
#[test]
fn every_generated_registration_round_trips_in_the_typed_form() {
    let b = generated_book();
    let held = books(&[&b]);
    for i in 0..200 {
        let ops = registration(i);
        let body = Body::Ops(ops.clone());
        let (tag, compressed, plain) = body.encode();
        // The typed record form: compressed against the primer with the match
        // explanations (tag 9, protocol version 5), or tag 7 when it does not compress.
        assert!(tag == 9 || (tag == 7 && !compressed), "case {i}: {tag}");
        assert_eq!(Body::decode(tag, compressed, &plain), Ok(body.clone()));
        let (tag, compressed, coded) = body.encode_with(Some(&b));
        // The typed record form: compressed against the primer with the match
        // explanations (tag 9, protocol version 5), or tag 7 when it does not compress.
        assert!(
            tag == 9 || (tag == 7 && !compressed),
            "case {i}, coded: {tag}"
        );
        assert_eq!(Body::decode_with(tag, compressed, &coded, &held), Ok(body));
        assert!(
            coded.len() < plain.len(),
            "case {i}: {} vs {}",
            coded.len(),
            plain.len()
        );
        // Without the book, the coded body does not decode: it is refused, never misread.
        assert_eq!(
            Body::decode(tag, compressed, &coded),
            Err(DecodeError::UnknownCodeList(b.prefix()))
        );
        // The plain typed form on its own, read by an end holding books.
        assert_eq!(
            decode_typed(&encode_typed(&ops, None).expect("a record"), &held),
            Ok(ops)
        );
    }
}

fn keys(seed: u8) -> (StaticKey, StaticKey) {
    (
        StaticKey::from_bytes([seed; 32]),
        StaticKey::from_bytes([0x22; 32]),
    )
}

/// A kit's endpoint, and a hub with it enrolled, reading `hub_books`.
fn kit_and_hub(hub_books: CodeBooks) -> (Endpoint, Hub) {
    let (kit_key, hub_key) = keys(0x11);
    let kit = Endpoint::new(
        Channel::new(
            LinkKeys::for_kit(&kit_key, &hub_key.public()).expect("keys"),
            SendCounter::resume(0, 64),
            ReplayWindow::default(),
        ),
        Default::default(),
        Default::default(),
    );
    let mut hub = Hub::new(hub_key);
    hub.set_code_books(hub_books);
    hub.enroll(kit_key.public(), KitState::default())
        .expect("enroll");
    (kit, hub)
}

/// What the hub makes of everything the kit has queued.
fn deliver(kit: &mut Endpoint, hub: &mut Hub) -> Vec<Result<Body, DecodeError>> {
    delivered(kit, hub).into_iter().map(|m| m.body).collect()
}

/// The messages the hub delivers of everything the kit has queued.
fn delivered(kit: &mut Endpoint, hub: &mut Hub) -> Vec<fieldkit_sync::transfer::Delivered> {
    let mut got = Vec::new();
    while let Some(frame) = kit
        .poll_transmit(0, 1200, u64::MAX, Priority::Bulk, ok)
        .expect("seal")
    {
        for e in hub.handle(&frame).expect("accepted") {
            if let HubEvent::Delivered { message, .. } = e {
                got.push(message);
            }
        }
    }
    got
}

/// The hub's announcement, carried to the kit like any message, and what the kit codes
/// with once it has read it.
fn announce(hub: &mut Hub, kit: &mut Endpoint, own: &Arc<CodeBook>) -> Option<Arc<CodeBook>> {
    let id = hub.kits().next().expect("a kit");
    hub.queue(id, &Body::CodeLists(hub.code_books().digests()));
    let ep = hub.endpoint_mut(id).expect("enrolled");
    let mut announced = None;
    while let Some(frame) = ep
        .poll_transmit(0, 1200, u64::MAX, Priority::Bulk, ok)
        .expect("seal")
    {
        if let Ok(Some(d)) = kit.handle(&frame)
            && let Ok(Body::CodeLists(digests)) = d.body
        {
            announced = Some(digests);
        }
    }
    codes::agreed(own, &announced.expect("the announcement arrives"))
}

#[test]
fn a_kit_codes_only_after_the_hub_announced_its_list_and_the_hub_reads_both() {
    let b = Arc::new(generated_book());
    let (mut kit, mut hub) = kit_and_hub(books(&[&b]));
    // Before any announcement the kit sends text, which the hub reads.
    let first = Body::Ops(registration(1));
    kit.queue(&first);
    let plain_len = kit.outbox().messages()[0].len();
    assert_eq!(deliver(&mut kit, &mut hub), vec![Ok(first)]);
    // Announced: the kit codes against its own list, and the hub reads the codes.
    let agreed = announce(&mut hub, &mut kit, &b);
    assert!(agreed.is_some());
    kit.set_coding(agreed);
    let second = Body::Ops(registration(1));
    kit.queue(&second);
    assert!(kit.outbox().messages()[0].len() < plain_len);
    assert_eq!(deliver(&mut kit, &mut hub), vec![Ok(second)]);
}

#[test]
fn a_kit_with_another_or_an_old_list_sends_text_and_the_hub_reads_it() {
    let hub_book = Arc::new(book(Some("KE-TUR-KAK3-B30")));
    let (mut kit, mut hub) = kit_and_hub(books(&[&hub_book]));
    // The kit holds the list from before the new block: not announced, so no codes.
    let kit_book = Arc::new(book(None));
    let agreed = announce(&mut hub, &mut kit, &kit_book);
    assert!(agreed.is_none());
    kit.set_coding(agreed);
    assert!(kit.coding().is_none());
    let body = Body::Ops(registration(3));
    kit.queue(&body);
    assert_eq!(deliver(&mut kit, &mut hub), vec![Ok(body)]);
}

#[test]
fn a_new_location_at_the_hub_does_not_break_a_kit_holding_the_old_list() {
    let old = Arc::new(book(None));
    let (mut kit, mut hub) = kit_and_hub(books(&[&old]));
    let agreed = announce(&mut hub, &mut kit, &old);
    kit.set_coding(agreed);
    // Queued with the old list's codes, still waiting when the hub's list changes.
    let waiting = Body::Ops(registration(4));
    kit.queue(&waiting);
    // The hub gains a block: it reads both lists, and announces both.
    let new = Arc::new(book(Some("KE-TUR-KAK3-B30")));
    hub.set_code_books(books(&[&old, &new]));
    let agreed = announce(&mut hub, &mut kit, &old);
    assert_eq!(agreed.as_ref().map(|b| b.digest()), Some(old.digest()));
    kit.set_coding(agreed);
    let after = Body::Ops(registration(5));
    kit.queue(&after);
    assert_eq!(deliver(&mut kit, &mut hub), vec![Ok(waiting), Ok(after)]);
    // A kit given the new list codes against it, and is read too.
    let agreed = announce(&mut hub, &mut kit, &new);
    assert_eq!(agreed.as_ref().map(|b| b.digest()), Some(new.digest()));
    kit.set_coding(agreed);
    let mut ops = registration(6);
    for op in &mut ops {
        if op.field == "location_current" {
            op.value = FieldValue::Text("KE-TUR-KAK3-B30".into());
        }
    }
    let newest = Body::Ops(ops);
    kit.queue(&newest);
    assert_eq!(deliver(&mut kit, &mut hub), vec![Ok(newest)]);
}

#[test]
fn a_code_the_hub_cannot_read_is_refused_never_misread() {
    // What the handshake prevents: a kit coding against a list the hub never held.
    let (mut kit, mut hub) = kit_and_hub(books(&[&book(None)]));
    let other = Arc::new(book(Some("SS-JUB-JUB")));
    kit.set_coding(Some(other.clone()));
    // A registration its codes make shorter (a body is coded only then).
    let coded = (7..64)
        .map(|i| Body::Ops(registration(i)))
        .find(|b| b.encode_with(Some(&other)) != b.encode_with(None))
        .expect("a registration the list's codes shorten");
    kit.queue(&coded);
    assert_eq!(
        deliver(&mut kit, &mut hub),
        vec![Err(DecodeError::UnknownCodeList(other.prefix()))]
    );
}

#[test]
fn tag_six_messages_from_before_the_upgrade_still_decode() {
    // An outbox persisted by the previous version holds record-form bytes (tag 6).
    let ops = registration(8);
    let raw = encode_records(&ops).expect("a record");
    let packed = fieldkit_sync::primer::deflate_with(fieldkit_sync::primer::PRIMER_V2, &raw)
        .expect("deflate");
    assert_eq!(Body::decode(6, true, &packed), Ok(Body::Ops(ops)));
}

/// A kit coding with a list (version 4) tells the hub, by the message itself, that it reads
/// that list: the hub may code what it sends back with it, and the kit, holding the list,
/// reads it; an end without the list refuses such a message, never misreads it.
#[test]
fn the_list_a_kit_codes_with_is_the_list_the_hub_codes_its_messages_with() {
    let b = Arc::new(generated_book());
    let (mut kit, mut hub) = kit_and_hub(books(&[&b]));
    let id = hub.kits().next().expect("a kit");
    // Text tells nothing.
    kit.queue(&Body::Ops(registration(1)));
    let mut lists: Vec<_> = delivered(&mut kit, &mut hub)
        .into_iter()
        .map(|m| m.code_list)
        .collect();
    kit.set_coding(Some(b.clone()));
    kit.queue(&Body::Ops(registration(2)));
    lists.extend(
        delivered(&mut kit, &mut hub)
            .into_iter()
            .map(|m| m.code_list),
    );
    assert_eq!(lists, vec![None, Some(b.digest())]);

    // The hub codes a transferred case with it; the kit holding the list reads it.
    let ep = hub.endpoint_mut(id).expect("enrolled");
    ep.set_coding(Some(b.clone()));
    let transfer = Body::Ops(registration(3));
    ep.queue(&transfer);
    let mut frames = Vec::new();
    while let Some(frame) = ep
        .poll_transmit(0, 1200, u64::MAX, Priority::Bulk, ok)
        .expect("seal")
    {
        frames.push(frame);
    }
    let mut blind = kit_and_hub(CodeBooks::new()).0;
    kit.set_code_books(books(&[&b]));
    // (The hub's acknowledgements go first; they deliver nothing.)
    let mut read = Vec::new();
    let mut refused = Vec::new();
    for frame in &frames {
        read.extend(kit.handle(frame).expect("accepted").map(|d| d.body));
        // The same frame at an end without the list (the same keys): refused as coded.
        refused.extend(blind.handle(frame).expect("accepted").map(|d| d.body));
    }
    assert_eq!(read, vec![Ok(transfer)]);
    assert_eq!(refused, vec![Err(DecodeError::UnknownCodeList(b.prefix()))]);
}

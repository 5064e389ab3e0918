//! Property tests of the sync protocol: decoders never panic, encodings round-trip, frames
//! that are replayed, sealed for another kit or altered are refused and counted, and send
//! counters never repeat across restarts.

use std::convert::Infallible;

use fieldkit_domain::{DeviceId, FieldValue, Hlc, Op, RecordId, RecordKind};
use fieldkit_sync::codec::{decode_ops, decode_records, encode_ops, encode_records};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::message::{
    Alert, Body, EPOCH_MIN, Evidence, MatchNotice, OpsForm, ReviewDecision, Status,
};
use fieldkit_sync::seal::{Channel, LinkKeys, Rejected, StaticKey, peek};
use fieldkit_sync::transfer::Envelope;
use proptest::prelude::*;

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("female".to_string()),
        Just("separated".to_string()),
        Just("2015-07-01".to_string()),
        Just("2015-7-1".to_string()),
        Just(String::new()),
        any::<String>(),
        "[a-zA-Z ]{0,20}",
        "\\PC{0,12}",
    ]
}

fn arb_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        Just(FieldValue::Null),
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i64>().prop_map(FieldValue::Int),
        arb_text().prop_map(FieldValue::Text),
        prop::collection::vec(arb_text(), 0..4).prop_map(FieldValue::List),
        arb_text().prop_map(FieldValue::Json),
    ]
}

fn arb_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name".to_string()),
        Just("protection_concerns".to_string()),
        "[a-z_]{1,12}",
        any::<String>(),
        (
            prop_oneof![
                Just("family_details_section".to_string()),
                "[a-z_]{1,8}".prop_map(|s| s)
            ],
            prop_oneof![
                any::<[u8; 16]>().prop_map(|b| uuid::Uuid::from_bytes(b).to_string()),
                "[0-9a-f]{8}-[0-9]",
                any::<String>(),
            ],
            prop_oneof![
                Just("relation_name".to_string()),
                "[a-z_]{1,8}",
                any::<String>()
            ],
        )
            .prop_map(|(s, u, f)| format!("{s}[{u}].{f}")),
    ]
}

fn arb_stamp() -> impl Strategy<Value = Hlc> {
    (0u64..4, any::<u64>(), any::<u32>(), 0u64..3).prop_map(|(mode, wall, counter, dev)| {
        // Mostly realistic stamps, sometimes the extremes.
        let wall = if mode == 0 {
            wall
        } else {
            1_780_000_000_000 + wall % 1000
        };
        Hlc {
            wall_ms: wall,
            counter: if mode == 1 { counter } else { counter % 3 },
            device: DeviceId(0x1000 + dev),
        }
    })
}

fn arb_op() -> impl Strategy<Value = Op> {
    (
        0u8..3,
        0u8..3,
        arb_path(),
        arb_value(),
        arb_stamp(),
        prop::collection::vec(arb_stamp(), 0..3),
    )
        .prop_map(|(k, r, field, value, stamp, supersedes)| Op {
            kind: [
                RecordKind::Case,
                RecordKind::TracingRequest,
                RecordKind::Incident,
            ][usize::from(k)],
            record: RecordId::from_bytes([r; 16]),
            field,
            value,
            stamp,
            supersedes,
        })
}

/// One save of a whole record as `Document::diff` gives it (one stamp, paths in order, each
/// once), mostly dictionary fields and subform entries, sometimes with ops the record form
/// cannot carry before or after it.
fn arb_record_save() -> impl Strategy<Value = Vec<Op>> {
    let top = prop_oneof![
        Just("name"),
        Just("sex"),
        Just("age"),
        Just("case_id_display"),
        Just("date_of_birth"),
        Just("protection_concerns"),
        Just("notes"),
        Just("location_current"),
        Just("cfm_5_17_vision_difficulty"),
        Just("family_details_section"),
    ]
    .prop_map(str::to_string);
    let sub = (
        prop_oneof![
            Just("family_details_section"),
            Just("tracing_request_subform_section")
        ],
        prop_oneof![
            any::<[u8; 16]>().prop_map(|b| uuid::Uuid::from_bytes(b).to_string()),
            "[0-9a-f]{8}-[0-9]",
            any::<String>(),
        ],
        prop_oneof![
            Just("relation"),
            Just("relation_name"),
            Just("relation_age"),
            Just("unique_id")
        ],
    )
        .prop_map(|(s, u, f)| format!("{s}[{u}].{f}"));
    let short = prop_oneof![Just(true), Just(false)];
    (
        prop::collection::vec((prop_oneof![top, sub], arb_value(), short), 0..24),
        arb_stamp(),
        any::<u8>(),
        prop::collection::vec(arb_op(), 0..3),
        prop::collection::vec(arb_op(), 0..3),
    )
        .prop_map(|(fields, stamp, r, before, after)| {
            let record = RecordId::from_bytes([r; 16]);
            let mut save: Vec<Op> = fields
                .into_iter()
                .map(|(field, value, short)| Op {
                    kind: RecordKind::Case,
                    record,
                    field,
                    value: if short {
                        FieldValue::Text(record.short())
                    } else {
                        value
                    },
                    stamp,
                    supersedes: vec![],
                })
                .collect();
            save.sort_by(|a, b| a.field.cmp(&b.field));
            save.dedup_by(|a, b| a.field == b.field);
            before.into_iter().chain(save).chain(after).collect()
        })
}

fn arb_body() -> impl Strategy<Value = Body> {
    let id = any::<[u8; 16]>().prop_map(RecordId::from_bytes);
    prop_oneof![
        (
            0u8..3,
            id.clone(),
            prop_oneof![
                Just("high".to_string()),
                Just("low".to_string()),
                arb_text()
            ],
            prop::collection::vec(arb_text(), 0..20),
            EPOCH_MIN..EPOCH_MIN + 0xFF_FFFF,
        )
            .prop_map(
                |(k, record, risk, concerns, raised_min)| Body::Alert(Alert {
                    kind: [
                        RecordKind::Case,
                        RecordKind::TracingRequest,
                        RecordKind::Incident
                    ][usize::from(k)],
                    record,
                    risk,
                    concerns,
                    raised_min,
                })
            ),
        (
            id.clone(),
            id.clone(),
            arb_text(),
            arb_text(),
            any::<i32>(),
            prop::collection::vec((arb_text(), any::<i32>(), arb_text()), 0..6),
        )
            .prop_map(
                |(case, tracing_request, trace, likelihood, score_centibits, ev)| {
                    Body::MatchNotice(MatchNotice {
                        case,
                        tracing_request,
                        trace,
                        likelihood,
                        score_centibits,
                        evidence: ev
                            .into_iter()
                            .map(|(field, weight_centibits, detail)| Evidence {
                                field,
                                weight_centibits,
                                detail,
                            })
                            .collect(),
                    })
                }
            ),
        (
            id.clone(),
            id,
            arb_text(),
            any::<bool>(),
            arb_text(),
            any::<u32>()
        )
            .prop_map(|(case, tracing_request, trace, confirmed, by, at_min)| {
                Body::Review(ReviewDecision {
                    case,
                    tracing_request,
                    trace,
                    confirmed,
                    by,
                    at_min,
                })
            }),
        (any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(
            |(commits, audit_head, records)| {
                Body::Status(Status {
                    commits,
                    audit_head,
                    records,
                })
            }
        ),
    ]
}

fn pair(kit_seed: u8) -> (Channel, Channel) {
    let kit = StaticKey::from_bytes([kit_seed; 32]);
    let hub = StaticKey::from_bytes([0xee; 32]);
    (
        Channel::new(
            LinkKeys::for_kit(&kit, &hub.public()).expect("kit keys"),
            SendCounter::resume(0, 16),
            ReplayWindow::default(),
        ),
        Channel::new(
            LinkKeys::for_hub(&hub, &kit.public()).expect("hub keys"),
            SendCounter::resume(0, 16),
            ReplayWindow::default(),
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Kept beside this file for replay (proptest's default looks for a lib.rs that a
        // tests/ folder does not have).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn primed_inflate_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = fieldkit_sync::primer::inflate(&bytes, 4096);
        let packed = fieldkit_sync::primer::deflate(&bytes).expect("deflate");
        prop_assert_eq!(fieldkit_sync::primer::inflate(&packed, 4096), Some(bytes));
    }

    #[test]
    fn public_key_files_never_panic(text in ".{0,90}", hex in "[0-9a-fA-F ]{60,70}") {
        let _ = fieldkit_sync::seal::public_key_from_text(&text);
        let _ = fieldkit_sync::seal::public_key_from_text(&format!("fieldkit-x25519 {hex}"));
    }

    #[test]
    fn ops_round_trip_through_the_codec_and_a_compressed_message(
        ops in prop::collection::vec(arb_op(), 0..12)
    ) {
        let bytes = encode_ops(&ops);
        prop_assert_eq!(decode_ops(&bytes), Ok(ops.clone()));
        let body = Body::Ops(ops);
        let (tag, compressed, bytes) = body.encode();
        prop_assert_eq!(Body::decode(tag, compressed, &bytes), Ok(body));
    }

    #[test]
    fn record_saves_decode_alike_in_both_typed_forms(ops in arb_record_save()) {
        let body = Body::Ops(ops);
        for form in [OpsForm::Typed, OpsForm::Explained] {
            let (tag, compressed, bytes) = body.encode_in(None, form);
            prop_assert_eq!(Body::decode(tag, compressed, &bytes), Ok(body.clone()));
            // Protocol version 4 readers never get tag 9.
            prop_assert!(form == OpsForm::Explained || tag != 9);
        }
    }

    #[test]
    fn record_saves_round_trip_in_the_record_form(ops in arb_record_save()) {
        if let Some(bytes) = encode_records(&ops) {
            prop_assert_eq!(decode_records(&bytes), Ok(ops.clone()));
        }
        let body = Body::Ops(ops);
        let (tag, compressed, bytes) = body.encode();
        prop_assert_eq!(Body::decode(tag, compressed, &bytes), Ok(body));
    }

    #[test]
    fn mutated_record_forms_never_panic(ops in arb_record_save(), at in any::<usize>(), bit in 0u8..8) {
        if let Some(mut bytes) = encode_records(&ops) {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            let _ = decode_records(&bytes);
            bytes.truncate(i);
            let _ = decode_records(&bytes);
        }
    }

    #[test]
    fn every_message_body_round_trips(body in arb_body()) {
        let (tag, compressed, bytes) = body.encode();
        prop_assert_eq!(Body::decode(tag, compressed, &bytes), Ok(body));
    }

    #[test]
    fn no_decoder_panics_on_any_input(bytes in prop::collection::vec(any::<u8>(), 0..300), tag in 0u8..40) {
        let _ = decode_ops(&bytes);
        let _ = decode_records(&bytes);
        let _ = Body::decode(tag, false, &bytes);
        let _ = Body::decode(tag, true, &bytes);
        let _ = Envelope::decode(&bytes);
        let _ = peek(&bytes);
        let (mut kit, mut hub) = pair(1);
        prop_assert!(kit.open(&bytes).is_err());
        prop_assert!(hub.open(&bytes).is_err());
    }

    #[test]
    fn mutated_encodings_never_panic(ops in prop::collection::vec(arb_op(), 1..6), at in any::<usize>(), bit in 0u8..8) {
        let mut bytes = encode_ops(&ops);
        let i = at % bytes.len();
        bytes[i] ^= 1 << bit;
        let _ = decode_ops(&bytes);
        bytes.truncate(i);
        let _ = decode_ops(&bytes);
    }

    #[test]
    fn one_flipped_bit_anywhere_is_refused_and_counted(
        payload in prop::collection::vec(any::<u8>(), 0..120),
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        let (mut kit, mut hub) = pair(3);
        let mut frame = kit.seal(&payload, ok).expect("seal");
        let i = at % frame.len();
        frame[i] ^= 1 << bit;
        prop_assert!(hub.open(&frame).is_err());
        prop_assert_eq!(hub.rejections().total(), 1);
        // The window did not move: the genuine frame still opens.
        frame[i] ^= 1 << bit;
        prop_assert!(hub.open(&frame).is_ok());
    }

    #[test]
    fn send_counters_never_repeat_across_restarts(
        steps in prop::collection::vec((0u8..10, any::<bool>()), 1..200),
        block in 1u64..20,
    ) {
        // Storage holds the last limit persisted; a "crash" drops the counter's memory.
        let mut stored = 0u64;
        let mut counter = SendCounter::resume(stored, block);
        let mut used = std::collections::BTreeSet::new();
        for (action, persist_ok) in steps {
            if action == 0 {
                counter = SendCounter::resume(stored, block);
                continue;
            }
            let r = counter.next(|Reservation(limit)| {
                if persist_ok {
                    stored = limit;
                    Ok(())
                } else {
                    Err("write failed")
                }
            });
            if let Ok(c) = r {
                prop_assert!(c < stored, "counter {} handed out at or above the stored limit {}", c, stored);
                prop_assert!(used.insert(c), "counter {} used twice", c);
            }
        }
    }

    #[test]
    fn the_window_accepts_each_counter_at_most_once(
        counters in prop::collection::vec(0u64..400, 1..300)
    ) {
        let mut w = ReplayWindow::default();
        let mut accepted = std::collections::BTreeSet::new();
        for c in counters {
            if w.check(c).is_ok() {
                prop_assert!(accepted.insert(c), "{} accepted twice", c);
                w.accept(c);
            }
        }
    }
}

#[test]
fn replayed_foreign_and_altered_frames_are_each_refused_and_counted() {
    let (mut kit_a, mut hub_a) = pair(10);
    let (mut kit_b, mut hub_b) = pair(11);

    // Replay: the same uplink frame twice.
    let f = kit_a.seal(b"alert", ok).expect("seal");
    assert!(hub_a.open(&f).is_ok());
    assert_eq!(
        hub_a.open(&f).err(),
        Some(Rejected::Replay(fieldkit_sync::counter::Replay::Seen))
    );
    assert_eq!(hub_a.rejections().replayed, 1);

    // Sealed for another kit: kit A hears the hub's frame for kit B on the shared air.
    let for_b = hub_b.seal(b"match notice for B", ok).expect("seal");
    assert_eq!(kit_a.open(&for_b).err(), Some(Rejected::NotForUs));
    assert_eq!(kit_a.rejections().not_for_us, 1);
    // ...and with B's id rewritten to A's, it fails authentication under A's keys.
    let mut forged = for_b.clone();
    forged[1..5].copy_from_slice(&f[1..5]);
    assert_eq!(kit_a.open(&forged).err(), Some(Rejected::Authentication));
    assert_eq!(kit_a.rejections().authentication, 1);
    assert!(kit_b.open(&for_b).is_ok(), "B itself opens it");

    // One flipped bit in the ciphertext.
    let mut g = kit_a.seal(b"tracing request", ok).expect("seal");
    let last = g.len() - 1;
    g[last] ^= 0x01;
    assert_eq!(hub_a.open(&g).err(), Some(Rejected::Authentication));
    assert_eq!(hub_a.rejections().authentication, 1);
    assert_eq!(hub_a.rejections().total(), 2);
    let _ = kit_b;
    let _ = &mut hub_b;
}

/// Every generated registration goes in the typed record form (body tag 7) and comes back as
/// the operations given; a one-field edit stays in the operation form (tag 4), which every
/// version decodes; the record form of tag 6 still round-trips (outboxes of older versions).
#[test]
fn registrations_travel_in_the_record_form_and_edits_in_the_operation_form() {
    use fieldkit_domain::{Document, Record};
    for i in 0..200 {
        let case = fieldkit_testkit::cases::case(2026, i);
        let json = Record::Case(Box::new(case.clone())).to_json();
        let stamp = Hlc {
            wall_ms: 1_780_000_000_000 + i,
            counter: 0,
            device: DeviceId(0x5eed),
        };
        let ops = Document::new(RecordKind::Case, case.id)
            .diff(&json, || stamp)
            .unwrap();
        let body = Body::Ops(ops.clone());
        let (tag, compressed, bytes) = body.encode();
        // The typed record form: compressed against the primer with the match
        // explanations (tag 9, protocol version 5), or tag 7 when it does not compress.
        assert!(tag == 9 || (tag == 7 && !compressed), "case {i}: {tag}");
        assert_eq!(Body::decode(tag, compressed, &bytes), Ok(body));
        let edit = Body::Ops(ops[..1].to_vec());
        let (tag, compressed, bytes) = edit.encode();
        assert_eq!(tag, 4);
        assert_eq!(Body::decode(tag, compressed, &bytes), Ok(edit));
        // The operation and record forms still decode what older versions sent.
        assert_eq!(
            decode_records(&encode_records(&ops).unwrap()),
            Ok(ops.clone())
        );
        assert_eq!(decode_ops(&encode_ops(&ops)), Ok(ops));
    }
}

/// A potential match as the hub sends it (its record's operations, the explanation's details
/// stored as JSON): shorter against the primer that knows the explanations' words (tag 9)
/// than against version 3's (tag 7), and both decode to the same operations.
#[test]
fn a_match_notice_is_shorter_with_the_explanations_primer() {
    use fieldkit_domain::explain::{NameAgreement, NamesCompared, RelativeCompared, WordPair};
    use fieldkit_domain::{Detail, Document, MatchEvidence, PotentialMatch, Record};

    let word = |a: &str, b: &str, agreement| WordPair {
        a: a.into(),
        b: b.into(),
        agreement,
    };
    let names = |a: &str, b: &str, pairs| NamesCompared {
        a: a.into(),
        b: b.into(),
        pairs,
        ..NamesCompared::default()
    };
    let details = [
        (
            "name",
            13.1,
            Detail::Names {
                names: names(
                    "Mohamed Yousef",
                    "Mohammed Yusuf",
                    vec![
                        word("mohamed", "mohammed", NameAgreement::Same),
                        word("yousef", "yusuf", NameAgreement::SoundsAlike),
                    ],
                ),
                lineage: false,
            },
        ),
        (
            "sex",
            1.2,
            Detail::Sexes {
                a: "male".into(),
                b: "male".into(),
            },
        ),
        (
            "age",
            2.9,
            Detail::Ages {
                a: Some(9),
                b: Some(9),
                b_estimated: false,
                born_a: 2017,
                born_b: 2017,
                years_apart: 0,
            },
        ),
        (
            "location_separation",
            3.4,
            Detail::Places {
                agreed: true,
                shared: 3,
            },
        ),
        (
            "family_details_section",
            4.1,
            Detail::Family(vec![RelativeCompared {
                relation: "mother".into(),
                name: "Halima Yusuf".into(),
                listed: "mother".into(),
                names: names(
                    "Halima Yusuf",
                    "Halima Yusuf",
                    vec![
                        word("halima", "halima", NameAgreement::Same),
                        word("yusuf", "yusuf", NameAgreement::Same),
                    ],
                ),
                weight: 4.1,
            }]),
        ),
    ];
    let comparison = details
        .into_iter()
        .enumerate()
        .map(|(i, (field, weight, detail))| MatchEvidence {
            unique_id: format!("{i:03}"),
            field: field.into(),
            weight,
            detail,
        })
        .collect();
    let id = RecordId::from_bytes([0x5A; 16]);
    let m = PotentialMatch {
        id,
        case_id: RecordId::from_bytes([0xA1; 16]),
        tracing_request_id: RecordId::from_bytes([0xB2; 16]),
        trace_id: "4be0643f-1d98-573b-97cd-ca98a65347dd".into(),
        case_name: Some("Mohammed Yusuf".into()),
        trace_name: Some("Mohamed Yousef".into()),
        score: 24.7,
        likelihood: Some("likely".into()),
        comparison,
        status: Some("pending".into()),
        proposed_at: Some("2026-12-04T10:15:00Z".into()),
        ..PotentialMatch::default()
    };
    let stamp = Hlc {
        wall_ms: 1_780_000_000_000,
        counter: 0,
        device: DeviceId(0x4B),
    };
    let ops = Document::new(RecordKind::PotentialMatch, id)
        .diff(&Record::PotentialMatch(Box::new(m)).to_json(), || stamp)
        .unwrap();
    let body = Body::Ops(ops);
    let (tag3, c3, v3) = body.encode_in(None, OpsForm::Typed);
    let (tag4, c4, v4) = body.encode_in(None, OpsForm::Explained);
    assert_eq!((tag3, tag4), (7, 9));
    assert_eq!(Body::decode(tag3, c3, &v3), Ok(body.clone()));
    assert_eq!(Body::decode(tag4, c4, &v4), Ok(body));
    eprintln!(
        "match notice body: {} B (tag 7), {} B (tag 9)",
        v3.len(),
        v4.len()
    );
    assert!(v4.len() + 40 < v3.len(), "{} vs {}", v4.len(), v3.len());
}

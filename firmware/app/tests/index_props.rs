//! The warm matcher index kept current by saves, edits, merges, closures and reviews equals
//! the index a fresh sign-in builds from the vault, and proposes the same pairs with the same
//! scores, also when it came from the vault's snapshot at a sign-in after some of them; every
//! pending match is stored in the class the rebuilt index gives it (the margin and the
//! one-child-one-request rules kept whichever record was saved, registered or received).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_app::{Kit, KitConfig, MatchFilter, MatchIndex};
use fieldkit_domain::{DeviceId, Document, Hlc, RecordId, RecordKind};
use fieldkit_match::matcher::MatchSettings;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: u64 = 1_772_000_000_000;

const NAMES: &[&str] = &[
    "Amina Yusuf",
    "Aminah Yousef",
    "أمينة يوسف",
    "Omar Khalid",
    "عمر خالد",
    "Fatima Ali Hassan",
    "Mohammed Hassan",
];
const PARENTS: &[&str] = &["Halima Yusuf", "Khalid Omar", "Zainab Ali"];

#[derive(Debug, Clone)]
enum Step {
    Case {
        name: usize,
        parent: usize,
        age: i64,
        consent: Option<bool>,
    },
    Request {
        name: usize,
        parent: usize,
        age: i64,
        two: bool,
    },
    Rename {
        which: usize,
        name: usize,
    },
    Consent {
        which: usize,
        consent: Option<bool>,
    },
    Close {
        which: usize,
    },
    Reopen {
        which: usize,
    },
    RenameTrace {
        which: usize,
        name: usize,
    },
    CloseRequest {
        which: usize,
    },
    MergeCase {
        name: usize,
        parent: usize,
        age: i64,
    },
    /// A tracing request received by sync (another kit's, or the hub's).
    MergeRequest {
        name: usize,
        parent: usize,
        age: i64,
    },
    Review {
        which: usize,
        confirm: bool,
    },
    Compact,
    /// Saves a snapshot of the index in the vault.
    Snapshot,
    /// Signs out and in again: the index comes from the vault's snapshot (when one was saved)
    /// with the records changed since it was taken read again.
    Relock,
}

fn step() -> impl Strategy<Value = Step> {
    let n = 0..NAMES.len();
    let p = 0..PARENTS.len();
    prop_oneof![
        3 => (n.clone(), p.clone(), 3i64..12, prop::option::of(any::<bool>()))
            .prop_map(|(name, parent, age, consent)| Step::Case { name, parent, age, consent }),
        3 => (n.clone(), p.clone(), 3i64..12, any::<bool>())
            .prop_map(|(name, parent, age, two)| Step::Request { name, parent, age, two }),
        2 => (any::<usize>(), n.clone()).prop_map(|(which, name)| Step::Rename { which, name }),
        1 => (any::<usize>(), prop::option::of(any::<bool>()))
            .prop_map(|(which, consent)| Step::Consent { which, consent }),
        1 => any::<usize>().prop_map(|which| Step::Close { which }),
        1 => any::<usize>().prop_map(|which| Step::Reopen { which }),
        1 => (any::<usize>(), n.clone()).prop_map(|(which, name)| Step::RenameTrace { which, name }),
        1 => any::<usize>().prop_map(|which| Step::CloseRequest { which }),
        2 => (n.clone(), p.clone(), 3i64..12).prop_map(|(name, parent, age)| Step::MergeCase { name, parent, age }),
        1 => (n, p, 3i64..12).prop_map(|(name, parent, age)| Step::MergeRequest { name, parent, age }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(which, confirm)| Step::Review { which, confirm }),
        1 => Just(Step::Compact),
        1 => Just(Step::Snapshot),
        1 => Just(Step::Relock),
    ]
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// A case listing its mother and a brother, named as a two-child request names its second
/// child (so the request's other child sought meets the case's sibling, and a rename of either
/// moves the evidence).
fn case_fields(name: usize, parent: usize, age: i64) -> Map<String, Value> {
    obj(json!({
        "name": NAMES[name], "sex": "female", "age": age,
        "location_separation": "JO-MA-ZAATARI",
        "family_details_section": [
            {"unique_id": "m", "relation": "mother", "relation_name": PARENTS[parent]},
            {"unique_id": "s", "relation": "brother", "relation_name": NAMES[(name + 3) % NAMES.len()]}],
    }))
}

fn request_fields(name: usize, parent: usize, age: i64, two: bool) -> Map<String, Value> {
    let mut traces =
        vec![json!({"unique_id": "a", "name": NAMES[name], "sex": "female", "age": age})];
    if two {
        traces.push(
            json!({"unique_id": "b", "name": NAMES[(name + 3) % NAMES.len()], "age": age + 2}),
        );
    }
    obj(
        json!({"relation_name": PARENTS[parent], "relation": "mother",
        "location_last": "JO-MA-ZAATARI", "tracing_request_subform_section": traces}),
    )
}

fn pick<T: Copy>(list: &[T], which: usize) -> Option<T> {
    (!list.is_empty()).then(|| list[which % list.len()])
}

fn same_matches(a: &MatchIndex, b: &MatchIndex, settings: &MatchSettings) -> Result<(), String> {
    let key =
        |s: &fieldkit_app::Scored| (s.case_id, s.trace.clone(), s.weight.to_bits(), s.likelihood);
    for r in a.request_ids() {
        for t in a.traces_of(r) {
            let x: Vec<_> = a.matches_of_trace(&t, settings).iter().map(key).collect();
            let y: Vec<_> = b.matches_of_trace(&t, settings).iter().map(key).collect();
            if x != y {
                return Err(format!("trace {t:?}: {x:?} / {y:?}"));
            }
        }
    }
    Ok(())
}

fn check(steps: &[Step]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let mut cases: Vec<RecordId> = Vec::new();
    let mut requests: Vec<RecordId> = Vec::new();
    let mut now = NOW;
    for s in steps {
        now += 1000;
        match s.clone() {
            Step::Case {
                name,
                parent,
                age,
                consent,
            } => {
                let mut f = case_fields(name, parent, age);
                if let Some(c) = consent {
                    f.insert("consent_for_tracing".into(), Value::Bool(c));
                }
                cases.push(kit.register(RecordKind::Case, f, now).unwrap().id);
            }
            Step::Request {
                name,
                parent,
                age,
                two,
            } => {
                let f = request_fields(name, parent, age, two);
                requests.push(kit.register(RecordKind::TracingRequest, f, now).unwrap().id);
            }
            Step::Rename { which, name } => {
                if let Some(id) = pick(&cases, which) {
                    kit.change(RecordKind::Case, id, now, |o| {
                        o.insert("name".into(), json!(NAMES[name]));
                        Ok(())
                    })
                    .unwrap();
                }
            }
            Step::Consent { which, consent } => {
                if let Some(id) = pick(&cases, which) {
                    kit.change(RecordKind::Case, id, now, |o| {
                        match consent {
                            Some(c) => o.insert("consent_for_tracing".into(), Value::Bool(c)),
                            None => o.remove("consent_for_tracing"),
                        };
                        Ok(())
                    })
                    .unwrap();
                }
            }
            Step::Close { which } => {
                if let Some(id) = pick(&cases, which) {
                    let _ = kit.close_case(id, "reunified", None, now);
                }
            }
            Step::Reopen { which } => {
                if let Some(id) = pick(&cases, which) {
                    let _ = kit.reopen_case(id, now);
                }
            }
            Step::RenameTrace { which, name } => {
                if let Some(id) = pick(&requests, which) {
                    kit.change(RecordKind::TracingRequest, id, now, |o| {
                        o["tracing_request_subform_section"][0]["name"] = json!(NAMES[name]);
                        Ok(())
                    })
                    .unwrap();
                }
            }
            Step::CloseRequest { which } => {
                if let Some(id) = pick(&requests, which) {
                    kit.change(RecordKind::TracingRequest, id, now, |o| {
                        o.insert("status".into(), json!("closed"));
                        Ok(())
                    })
                    .unwrap();
                }
            }
            Step::MergeCase { name, parent, age } => {
                let id = RecordId::mint(now, [cases.len() as u8; 10]);
                let mut f = case_fields(name, parent, age);
                f.insert("consent_for_tracing".into(), Value::Bool(true));
                let stamp = Hlc {
                    wall_ms: now,
                    counter: 0,
                    device: DeviceId(5),
                };
                let (doc, _) =
                    Document::create(RecordKind::Case, id, &Value::Object(f), stamp).unwrap();
                kit.merge(&[doc], now).unwrap();
                cases.push(id);
            }
            Step::MergeRequest { name, parent, age } => {
                let id = RecordId::mint(now, [0x80 | requests.len() as u8; 10]);
                let f = request_fields(name, parent, age, false);
                let stamp = Hlc {
                    wall_ms: now,
                    counter: 0,
                    device: DeviceId(6),
                };
                let (doc, _) =
                    Document::create(RecordKind::TracingRequest, id, &Value::Object(f), stamp)
                        .unwrap();
                kit.merge(&[doc], now).unwrap();
                requests.push(id);
            }
            Step::Review { which, confirm } => {
                let pending = kit.potential_matches(&MatchFilter {
                    status: Some("pending".into()),
                    ..MatchFilter::default()
                });
                if let Some(m) = pending.get(which % pending.len().max(1)) {
                    if confirm {
                        kit.confirm_match(m.id, None, now).unwrap();
                    } else {
                        kit.reject_match(m.id, None, now).unwrap();
                    }
                }
            }
            Step::Compact => kit.compact_index(),
            Step::Snapshot => kit.save_index_snapshot(now).unwrap(),
            Step::Relock => {
                let vault = kit.lock();
                let session = vault.unlock("amina", b"482915", now).unwrap();
                kit = Kit::open(session, KitConfig::default(), now).unwrap();
            }
        }
    }
    let fresh = kit.fresh_index(now + 1).unwrap();
    // Every pending match listed is one the fresh index would propose for its trace, stored in
    // the class it gives: the margin and the one-child-one-request rules were kept by every
    // save, whichever record it was.
    let diff = common::unlike_a_rebuild(&kit, &fresh);
    prop_assert!(diff.is_empty(), "{diff:#?}");
    let settings = MatchSettings::default();
    prop_assert_eq!(same_matches(kit.index(), &fresh, &settings), Ok(()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn incremental_index_equals_a_rebuild(steps in prop::collection::vec(step(), 1..14)) {
        check(&steps)?;
    }
}

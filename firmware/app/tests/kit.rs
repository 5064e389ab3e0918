//! The kit's application core on a real vault: registration with matches saved as records,
//! review, consent, closure, and what a merge brings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fields, pending, request};

use fieldkit_app::{Alert, Kit, KitConfig, MatchFilter};
use fieldkit_domain::{DeviceId, Document, Hlc, Record, RecordId, RecordKind};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_772_000_000_000; // 2026-02-25
use common::PIN;

fn kit(dir: &tempfile::TempDir) -> Kit {
    common::new_kit(dir.path(), NOW)
}

fn reopen(kit: Kit, now: u64) -> Kit {
    let vault = kit.lock();
    Kit::open(
        vault.unlock("amina", PIN, now).unwrap(),
        KitConfig::default(),
        now,
    )
    .unwrap()
}

fn child(consent: Option<bool>) -> Map<String, Value> {
    let mut f = fields(json!({
        "name": "Amina Yusuf Hassan", "sex": "female", "age": 9,
        "location_separation": "JO-MA-ZAATARI-D3", "date_of_separation": "2025-03-01",
        "family_details_section": [{"relation": "mother", "relation_name": "Halima Yusuf"}],
    }));
    if let Some(c) = consent {
        f.insert("consent_for_tracing".into(), Value::Bool(c));
    }
    f
}

#[test]
fn registration_saves_matches_as_records_and_review_sets_primeros_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let case = kit
        .register(RecordKind::Case, child(Some(true)), NOW)
        .unwrap();
    assert!(case.matches.is_empty());
    let req = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    assert_eq!(req.matches.len(), 1, "{:?}", req.matches);
    let m = &req.matches[0];
    assert_eq!(m.case_id, case.id);
    assert_eq!(m.tracing_request_id, req.id);
    assert_eq!(m.trace_id, "t1");
    assert_eq!(m.likelihood.as_deref(), Some("likely"));
    assert!(!m.comparison.is_empty());
    assert!(
        req.alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { .. }))
    );
    assert_eq!(
        m.id,
        fieldkit_app::match_id(
            case.id,
            &fieldkit_app::TraceRef {
                tracing_request_id: req.id,
                trace_id: "t1".into(),
            }
        )
    );

    // Saved in the vault: a new sign-in finds it pending.
    let mut kit = reopen(kit, NOW + 2);
    let listed = pending(&kit);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, m.id);

    let confirmed = kit
        .confirm_match(m.id, Some("mother recognised the photo"), NOW + 3)
        .unwrap();
    assert_eq!(confirmed.status.as_deref(), Some("confirmed"));
    assert_eq!(confirmed.reviewed_by.as_deref(), Some("amina"));
    assert_eq!(
        confirmed.review_note.as_deref(),
        Some("mother recognised the photo")
    );
    let Record::TracingRequest(r) = kit
        .open_record(RecordKind::TracingRequest, req.id, NOW + 4)
        .unwrap()
        .record
    else {
        panic!()
    };
    assert_eq!(
        r.traces()[0].matched_case_id.as_deref(),
        Some(case.id.to_string().as_str())
    );
    let Record::Case(c) = kit
        .open_record(RecordKind::Case, case.id, NOW + 4)
        .unwrap()
        .record
    else {
        panic!()
    };
    assert_eq!(
        c.matched_tracing_request_id.as_deref(),
        Some(req.id.to_string().as_str())
    );
    assert!(pending(&kit).is_empty());
    let kit = reopen(kit, NOW + 5);
    let all = kit.potential_matches(&MatchFilter::default());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status.as_deref(), Some("confirmed"));
    // The decision is in the audit chain as a write of the match record.
    let entries = kit.session().audit_entries().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.record == Some((RecordKind::PotentialMatch, m.id)))
    );
}

#[test]
fn a_case_without_consent_is_never_matched() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let none = kit.register(RecordKind::Case, child(None), NOW).unwrap();
    let refused = kit
        .register(RecordKind::Case, child(Some(false)), NOW)
        .unwrap();
    let req = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    assert!(req.matches.is_empty(), "{:?}", req.matches);
    assert!(pending(&kit).is_empty());
    // Consent given later: matched at once.
    let saved = kit
        .change(RecordKind::Case, none.id, NOW + 2, |o| {
            o.insert("consent_for_tracing".into(), Value::Bool(true));
            Ok(())
        })
        .unwrap();
    assert_eq!(saved.matches.len(), 1);
    assert_eq!(saved.matches[0].case_id, none.id);
    assert!(pending(&kit).iter().all(|m| m.case_id != refused.id));
}

#[test]
fn a_closed_case_is_never_proposed_and_reopening_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let case = kit
        .register(RecordKind::Case, child(Some(true)), NOW)
        .unwrap();
    let closed = kit.close_case(case.id, "reunified", None, NOW + 1).unwrap();
    assert!(closed.matches.is_empty());
    let req = kit
        .register(RecordKind::TracingRequest, request(), NOW + 2)
        .unwrap();
    assert!(req.matches.is_empty());
    assert!(pending(&kit).is_empty());
    let Record::Case(c) = kit
        .open_record(RecordKind::Case, case.id, NOW + 3)
        .unwrap()
        .record
    else {
        panic!()
    };
    assert_eq!(c.status.as_deref(), Some("closed"));
    assert_eq!(c.closure_reason.as_deref(), Some("reunified"));
    assert!(c.date_closure.is_some());

    let reopened = kit.reopen_case(case.id, NOW + 4).unwrap();
    assert_eq!(reopened.matches.len(), 1);
    assert_eq!(pending(&kit).len(), 1);
    // Closing again hides the pending match; it is not listed while the case is closed.
    kit.close_case(case.id, "transferred", None, NOW + 5)
        .unwrap();
    assert!(pending(&kit).is_empty());
    let kit = reopen(kit, NOW + 6);
    assert!(pending(&kit).is_empty());
}

#[test]
fn a_rejected_pair_comes_back_only_when_a_record_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let case = kit
        .register(RecordKind::Case, child(Some(true)), NOW)
        .unwrap();
    let req = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let id = req.matches[0].id;
    kit.reject_match(id, Some("different father"), NOW + 2)
        .unwrap();
    assert!(pending(&kit).is_empty());
    // Work on the case that says nothing about who the child is: still rejected.
    let s = kit
        .add_case_entry(
            case.id,
            "followup_subform_section",
            fields(json!({"followup_type": "in_care", "followup_date": "2026-02-20"})),
            NOW + 3,
        )
        .unwrap();
    assert!(s.matches.is_empty());
    kit.assign_case(case.id, &["omar".to_string()], NOW + 4)
        .unwrap();
    assert!(pending(&kit).is_empty());
    let kit2 = reopen(kit, NOW + 5);
    let mut kit = kit2;
    assert!(pending(&kit).is_empty());
    // The family gives a date of birth: the trace changed, the pair is proposed again.
    let again = kit
        .change(RecordKind::TracingRequest, req.id, NOW + 6, |o| {
            o["tracing_request_subform_section"][0]["date_of_birth"] = json!("2016-05-01");
            Ok(())
        })
        .unwrap();
    assert_eq!(again.matches.len(), 1);
    assert_eq!(again.matches[0].id, id);
    assert_eq!(again.matches[0].status.as_deref(), Some("pending"));
    assert_eq!(pending(&kit).len(), 1);
}

#[test]
fn a_case_received_by_sync_is_triaged_and_matched() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    kit.register(RecordKind::TracingRequest, request(), NOW)
        .unwrap();
    // Another kit's case: an unaccompanied child of 9, as its document of field operations.
    let id = RecordId::mint(NOW - 10_000, [9; 10]);
    let mut f = child(Some(true));
    f.insert("id".into(), Value::String(id.to_string()));
    f.insert("protection_concerns".into(), json!(["unaccompanied"]));
    f["family_details_section"][0]["unique_id"] = json!("fm1");
    let stamp = Hlc {
        wall_ms: NOW - 10_000,
        counter: 0,
        device: DeviceId(77),
    };
    let (doc, _) = Document::create(RecordKind::Case, id, &Value::Object(f), stamp).unwrap();
    let merged = kit.merge(&[doc], NOW + 1).unwrap();
    assert_eq!(merged.changed, 1);
    assert!(
        merged
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::Urgent(u) if u.case_id == id))
    );
    assert_eq!(merged.matches.len(), 1);
    assert_eq!(merged.matches[0].case_id, id);
    let Record::Case(c) = kit
        .open_record(RecordKind::Case, id, NOW + 2)
        .unwrap()
        .record
    else {
        panic!()
    };
    // The kit's triage is kept beside what was received: the other kit's fields are untouched.
    assert_eq!(c.risk_level, None);
    assert!(!c.urgent_protection_concern);
    assert_eq!(c.fieldkit_risk_level.as_deref(), Some("high"));
    assert!(c.fieldkit_urgent);
    assert_eq!(c.effective_risk_level(), Some("high"));
    assert!(c.is_urgent());
    let listed = kit.session().list(RecordKind::Case, 0, 10).unwrap();
    assert!(
        listed
            .iter()
            .any(|s| s.id == id && s.urgent && s.risk_level.as_deref() == Some("high"))
    );

    // Confirming the match links the received case and leaves its triage as received: the
    // kit does not rewrite another kit's `risk_level` or urgent flag.
    let m = merged.matches[0].id;
    kit.confirm_match(m, None, NOW + 3).unwrap();
    let Record::Case(c) = kit
        .open_record(RecordKind::Case, id, NOW + 4)
        .unwrap()
        .record
    else {
        panic!()
    };
    assert!(c.matched_tracing_request_id.is_some());
    assert_eq!(c.risk_level, None);
    assert!(!c.urgent_protection_concern);
    assert_eq!(c.fieldkit_risk_level.as_deref(), Some("high"));
    assert!(c.fieldkit_urgent);
}

#[test]
fn a_decision_is_linked_whatever_its_place_in_the_batch() {
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = kit(&dirs[0]);
    let case = a
        .register(RecordKind::Case, child(Some(true)), NOW)
        .unwrap();
    let req = a
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let m = req.matches[0].id;
    let docs_of =
        |k: &mut Kit, kind, id, now| k.session_mut().documents_of(&[(kind, id)], now).unwrap();
    // The case as it was before the decision (no link), then the decision.
    let case_doc = docs_of(&mut a, RecordKind::Case, case.id, NOW + 2);
    a.confirm_match(m, None, NOW + 3).unwrap();
    let decided = docs_of(&mut a, RecordKind::PotentialMatch, m, NOW + 4);
    // A kit that holds only the case, which arrives in the same batch as the decision, before
    // or after it: its side is linked either way.
    for order in [
        [decided.clone(), case_doc.clone()].concat(),
        [case_doc.clone(), decided.clone()].concat(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut b = kit(&dir);
        b.merge(&order, NOW + 5).unwrap();
        let c = b
            .open_record(RecordKind::Case, case.id, NOW + 6)
            .unwrap()
            .record
            .to_json();
        assert_eq!(c["matched_tracing_request_id"], json!(req.id.to_string()));
        assert!(pending(&b).is_empty());
        let fresh = b.fresh_index(NOW + 7).unwrap();
        assert!(b.index().differences(&fresh).is_empty());
    }
}

#[test]
fn registration_refuses_bad_records_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let err = kit
        .register(RecordKind::Case, fields(json!({"age": 9})), NOW)
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
    assert!(err.to_string().contains("sex"), "{err}");
    let err = kit
        .register(
            RecordKind::Case,
            fields(json!({"name": "A", "sex": "female", "age": "nine"})),
            NOW,
        )
        .unwrap_err();
    assert!(err.to_string().contains("fields"), "{err}");
    assert_eq!(kit.session().count(RecordKind::Case).unwrap(), 0);
}

/// An outbox that notes each change and what the transaction holds when it is told.
struct Recording(std::sync::Arc<std::sync::Mutex<Vec<(fieldkit_app::Change, usize)>>>);

impl fieldkit_app::Outbox for Recording {
    fn changed(
        &mut self,
        tx: &mut fieldkit_vault::Tx<'_>,
        change: &fieldkit_app::Change,
    ) -> Result<(), fieldkit_app::OutboxError> {
        // The record is already written in this (uncommitted) transaction.
        let ops = tx
            .ops_since(change.kind, change.id, None)
            .map_err(|e| fieldkit_app::OutboxError(e.to_string()))?;
        self.0.lock().unwrap().push((change.clone(), ops.len()));
        Ok(())
    }
}

#[test]
fn the_outbox_is_told_inside_the_transaction_of_the_save() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    kit.set_outbox(Box::new(Recording(seen.clone())));
    let case = kit
        .register(RecordKind::Case, child(Some(true)), NOW)
        .unwrap();
    let req = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let m = req.matches[0].id;
    let seen = seen.lock().unwrap().clone();
    let told: Vec<(RecordKind, RecordId, fieldkit_app::Priority)> = seen
        .iter()
        .map(|(c, _)| (c.kind, c.id, c.priority))
        .collect();
    // The case, then the request and the potential match it proposed, in that order.
    assert_eq!(
        told,
        vec![
            (RecordKind::Case, case.id, fieldkit_app::Priority::Routine),
            (
                RecordKind::TracingRequest,
                req.id,
                fieldkit_app::Priority::Routine
            ),
            (RecordKind::PotentialMatch, m, fieldkit_app::Priority::Match),
        ]
    );
    assert!(seen.iter().all(|(_, ops)| *ops > 0), "{seen:?}");
    assert!(
        seen.iter()
            .all(|(c, _)| c.origin == fieldkit_app::Origin::Local)
    );
    // What the outbox saw is what the vault kept: the versions match.
    let v = kit
        .open_record(RecordKind::TracingRequest, req.id, NOW + 2)
        .unwrap()
        .version;
    assert_eq!(seen[1].0.version, v);
    // The ops since the registration's stamp carry nothing older.
    let since = kit
        .session()
        .ops_since(RecordKind::Case, case.id, None)
        .unwrap()
        .iter()
        .map(|o| o.stamp)
        .max();
    assert!(
        kit.session()
            .ops_since(RecordKind::Case, case.id, since)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_match_across_kits_is_listed_and_confirmed_where_one_side_is() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut a, mut b, mut hub) = (kit(&dirs[0]), kit(&dirs[1]), kit(&dirs[2]));
    // The child is registered on kit A, the mother asks on kit B; the hub holds both.
    let case = a
        .register(RecordKind::Case, child(Some(true)), NOW)
        .unwrap();
    let req = b
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    assert!(case.matches.is_empty() && req.matches.is_empty());
    let docs_of =
        |k: &mut Kit, kind, id, now| k.session_mut().documents_of(&[(kind, id)], now).unwrap();
    let case_doc = docs_of(&mut a, RecordKind::Case, case.id, NOW + 2);
    let req_doc = docs_of(&mut b, RecordKind::TracingRequest, req.id, NOW + 2);
    hub.merge(&case_doc, NOW + 3).unwrap();
    let proposed = hub.merge(&req_doc, NOW + 3).unwrap();
    assert_eq!(proposed.matches.len(), 1);
    let m = proposed.matches[0].clone();
    let notice = docs_of(&mut hub, RecordKind::PotentialMatch, m.id, NOW + 4);

    // Kit B cannot score the pair (the case is on A) but lists the hub's proposal.
    b.merge(&notice, NOW + 5).unwrap();
    let listed = pending(&b);
    assert_eq!(listed.iter().map(|x| x.id).collect::<Vec<_>>(), vec![m.id]);
    // Kit A, the case's side, lists it too.
    a.merge(&notice, NOW + 5).unwrap();
    assert_eq!(pending(&a).len(), 1);

    // B confirms: only its side (the trace) is linked; the case is on A.
    let confirmed = b
        .confirm_match(m.id, Some("the mother knew her"), NOW + 6)
        .unwrap();
    assert_eq!(confirmed.status.as_deref(), Some("confirmed"));
    let r = b
        .open_record(RecordKind::TracingRequest, req.id, NOW + 7)
        .unwrap()
        .record
        .to_json();
    assert_eq!(
        r["tracing_request_subform_section"][0]["matched_case_id"],
        json!(case.id.to_string())
    );

    // The decision reaches A, which links its side.
    let decided = docs_of(&mut b, RecordKind::PotentialMatch, m.id, NOW + 8);
    a.merge(&decided, NOW + 9).unwrap();
    let c = a
        .open_record(RecordKind::Case, case.id, NOW + 10)
        .unwrap()
        .record
        .to_json();
    assert_eq!(c["matched_tracing_request_id"], json!(req.id.to_string()));
    assert!(pending(&a).is_empty());
    // Received again: nothing changes.
    let again = a.merge(&decided, NOW + 11).unwrap();
    assert_eq!(again.changed, 0);

    // On a kit holding neither side, confirming is refused.
    let dir = tempfile::tempdir().unwrap();
    let mut c3 = kit(&dir);
    c3.merge(&notice, NOW + 12).unwrap();
    assert!(c3.confirm_match(m.id, None, NOW + 13).is_err());
}

#[test]
fn re_importing_a_file_without_ids_does_not_double_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let file = r#"[{"data": {"name": "Amina Yusuf", "sex": "female", "age": 9, "consent_for_tracing": true,
                             "family_details_section": [{"relation": "mother", "relation_name": "Halima Yusuf"}]}},
                   {"data": {"name": "Omar Khalid", "sex": "male", "age": 7}},
                   {"data": {"name": "Omar Khalid", "sex": "male", "age": 7}}]"#;
    let read = |text: &str| fieldkit_domain::primero::read(text, RecordKind::Case).unwrap();
    let first = kit.import_primero(&read(file), NOW).unwrap();
    assert_eq!(first.changed, 3);
    assert_eq!(kit.session().count(RecordKind::Case).unwrap(), 3);
    // The same export again (a caseworker imports it twice): nothing new, nothing changed.
    let again = kit.import_primero(&read(file), NOW + 1000).unwrap();
    assert_eq!(again.changed, 0);
    assert_eq!(kit.session().count(RecordKind::Case).unwrap(), 3);
    let listed = kit.session().list(RecordKind::Case, 0, 10).unwrap();
    let id = listed.iter().find(|s| s.name == "Amina Yusuf").unwrap().id;
    let c = kit
        .open_record(RecordKind::Case, id, NOW + 2000)
        .unwrap()
        .record
        .to_json();
    assert_eq!(c["family_details_section"].as_array().unwrap().len(), 1);
    // A child added to the export: only that one is new.
    let mut records = read(file);
    records.extend(read(
        r#"{"data": {"name": "Zainab Ali", "sex": "female", "age": 5}}"#,
    ));
    let third = kit.import_primero(&records, NOW + 3000).unwrap();
    assert_eq!(third.changed, 1);
    assert_eq!(kit.session().count(RecordKind::Case).unwrap(), 4);
}

// The margin rule on a kit: a *likely* match must stand clear of the trace's next candidate.
// A namesake registered later makes a pending likely match possible (and says so); when the
// namesake leaves, it is likely again; a rematch of everything classes as the saves did.

/// A child known by name, sex and age only: enough for *likely* (about 14 bits), not for
/// *likely* whatever the other candidates (19).
fn namesake(age: u32) -> Map<String, Value> {
    json!({"name": "Amina Yusuf", "sex": "female", "age": age, "consent_for_tracing": true})
        .as_object()
        .cloned()
        .unwrap()
}

fn namesake_request() -> Map<String, Value> {
    json!({
        "relation_name": "Halima Yusuf", "relation": "mother",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina Yusuf", "sex": "female", "age": 9}],
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn pending_of(kit: &Kit, case: RecordId) -> fieldkit_domain::PotentialMatch {
    kit.potential_matches(&MatchFilter {
        status: Some("pending".into()),
        ..MatchFilter::default()
    })
    .into_iter()
    .find(|m| m.case_id == case)
    .unwrap()
}

fn no_longer_likely(alerts: &[Alert], id: RecordId) -> bool {
    alerts
        .iter()
        .any(|a| matches!(a, Alert::MatchNoLongerLikely { match_id, .. } if *match_id == id))
}

#[test]
fn a_namesake_makes_a_likely_match_possible_until_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = kit(&dir);
    let first = kit.register(RecordKind::Case, namesake(9), NOW).unwrap();
    let req = kit
        .register(RecordKind::TracingRequest, namesake_request(), NOW + 1)
        .unwrap();
    let m = &req.matches[0];
    assert_eq!(m.case_id, first.id);
    assert_eq!(m.likelihood.as_deref(), Some("likely"), "{m:?}");
    assert!(m.score < 19.0, "{}", m.score);
    assert!(
        req.alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { .. }))
    );

    // A namesake a year older: it scores within the margin, so neither is likely, and the
    // caseworker told of the first hears it is not clear any more.
    let second = kit
        .register(RecordKind::Case, namesake(10), NOW + 2)
        .unwrap();
    assert!(
        no_longer_likely(&second.alerts, m.id),
        "{:?}",
        second.alerts
    );
    let earlier = pending_of(&kit, first.id);
    assert_eq!(earlier.likelihood.as_deref(), Some("possible"));
    assert!(
        earlier
            .comparison
            .iter()
            .any(|e| e.field == "likelihood" && e.detail.to_string().contains("another record")),
        "{:?}",
        earlier.comparison
    );
    let rival = pending_of(&kit, second.id);
    assert_eq!(rival.likelihood.as_deref(), Some("possible"));
    assert!(
        !second
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { .. }))
    );

    // What a rebuild gives (a new sign-in's index) is what the saves left.
    let rebuilt = kit.rematch_all(NOW + 3).unwrap();
    assert!(rebuilt.alerts.is_empty(), "{:?}", rebuilt.alerts);
    assert_eq!(
        pending_of(&kit, first.id).likelihood.as_deref(),
        Some("possible")
    );

    // The namesake's case is closed: the first match stands clear again and is announced.
    let closed = kit
        .close_case(second.id, "transferred", None, NOW + 4)
        .unwrap();
    assert!(
        closed
            .alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { match_id, .. } if *match_id == m.id)),
        "{:?}",
        closed.alerts
    );
    assert_eq!(
        pending_of(&kit, first.id).likelihood.as_deref(),
        Some("likely")
    );
}

/// The blind-index terms version 1 of the matcher's normaliser gave (before Somali
/// orthography was folded) for the one name stored below, taken from that version's
/// `index_terms`; any other name (none is stored) gets today's terms.
struct NamesV1;

const SOMALI_NAME: &str = "Cilmi Sucaad Xirsi";

impl fieldkit_vault::NameIndexer for NamesV1 {
    fn id(&self) -> &str {
        "fieldkit-match-names-1"
    }
    fn terms(&self, name: &str) -> Vec<String> {
        if name == SOMALI_NAME {
            [
                "n:cilmi", "n:sucad", "n:xirsi", "p:SKT", "p:SLM", "p:SRS", "s:hrs", "s:klm",
                "s:skd",
            ]
            .map(String::from)
            .to_vec()
        } else {
            fieldkit_match::names::index_terms(name)
        }
    }
}

/// Today's terms under version 1's id: a vault that was not re-indexed.
struct TodayUnderOldId;

impl fieldkit_vault::NameIndexer for TodayUnderOldId {
    fn id(&self) -> &str {
        "fieldkit-match-names-1"
    }
    fn terms(&self, name: &str) -> Vec<String> {
        fieldkit_match::names::index_terms(name)
    }
}

#[test]
fn a_vault_indexed_by_the_previous_normaliser_is_reindexed_and_finds_its_records() {
    use fieldkit_vault::{OpenOptions, Vault};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    let with = |indexer: Arc<dyn fieldkit_vault::NameIndexer>| OpenOptions {
        indexer,
        ..OpenOptions::default()
    };
    let mut form = child(Some(true));
    form.insert("name".into(), Value::String(SOMALI_NAME.into()));
    let session = common::new_vault(&path, NOW, with(Arc::new(NamesV1)));
    let mut kit = Kit::open(session, KitConfig::default(), NOW).unwrap();
    let id = kit.register(RecordKind::Case, form, NOW).unwrap().id;
    drop(kit.lock());
    let found = |session: &fieldkit_vault::Session, query: &str| -> bool {
        session
            .search_unaudited(RecordKind::Case, query, 10)
            .unwrap()
            .iter()
            .any(|s| s.id == id)
    };

    // Without a rebuild, today's query terms miss the record: "Ilmi" shares no term with
    // what version 1 stored for "Cilmi".
    let vault = Vault::open(&path, with(Arc::new(TodayUnderOldId))).unwrap();
    let session = vault.unlock(common::USER, PIN, NOW + 1_000).unwrap();
    assert!(
        !found(&session, "Ilmi"),
        "version 1's terms cannot answer it"
    );
    assert!(found(&session, "Cilmi"), "the old spelling still finds it");
    drop(session);

    // The kit's indexer carries the new version: sign-in rebuilds the index, and the record
    // is found under its other spellings, and still under its own.
    let vault = Vault::open(&path, with(Arc::new(fieldkit_app::MatcherIndexer))).unwrap();
    let session = vault.unlock(common::USER, PIN, NOW + 2_000).unwrap();
    for query in ["Ilmi", "Suad Hirsi", "Cilmi Sucaad", "Xirsi"] {
        assert!(found(&session, query), "{query}");
    }
    assert!(!found(&session, "Ahmed"), "an unrelated name");
}

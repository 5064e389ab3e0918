//! Review decisions that must not leave Primero's links wrong: a confirmation taken back, a
//! trace confirmed twice, a match of a case closed to matching. Found by an acceptance check
//! from the command line (session 10); each test failed before its fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fields, pending, request};

use fieldkit_app::{Kit, KitConfig, MatchFilter, ReviewError};
use fieldkit_domain::{Case, Record, RecordId, RecordKind, TracingRequest};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_772_000_000_000; // 2026-02-25

/// Amina, 9, separated at Zaatari; `age` lets a second registration be a namesake.
fn child(age: u32) -> Map<String, Value> {
    fields(json!({
        "name": "Amina Yusuf Hassan", "sex": "female", "age": age,
        "location_separation": "JO-MA-ZAATARI-D3", "date_of_separation": "2025-03-01",
        "family_details_section": [{"relation": "mother", "relation_name": "Halima Yusuf"}],
        "consent_for_tracing": true,
    }))
}

fn case(kit: &mut Kit, id: RecordId, now: u64) -> Case {
    match kit.open_record(RecordKind::Case, id, now).unwrap().record {
        Record::Case(c) => *c,
        other => panic!("{other:?}"),
    }
}

fn request_of(kit: &mut Kit, id: RecordId, now: u64) -> TracingRequest {
    match kit
        .open_record(RecordKind::TracingRequest, id, now)
        .unwrap()
        .record
    {
        Record::TracingRequest(r) => *r,
        other => panic!("{other:?}"),
    }
}

fn reopen(kit: Kit, now: u64) -> Kit {
    let vault = kit.lock();
    Kit::open(
        vault.unlock(common::USER, common::PIN, now).unwrap(),
        KitConfig::default(),
        now,
    )
    .unwrap()
}

#[test]
fn rejecting_a_confirmed_match_takes_its_links_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let c = kit.register(RecordKind::Case, child(9), NOW).unwrap();
    let r = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let id = r.matches[0].id;
    kit.confirm_match(id, Some("the mother knew her"), NOW + 2)
        .unwrap();
    assert!(
        case(&mut kit, c.id, NOW + 3)
            .matched_tracing_request_id
            .is_some()
    );

    let rejected = kit
        .reject_match(id, Some("the DNA test says otherwise"), NOW + 4)
        .unwrap();
    assert_eq!(rejected.status.as_deref(), Some("rejected"));
    // Neither record still says the child was found.
    let shown = case(&mut kit, c.id, NOW + 5);
    assert_eq!(shown.matched_tracing_request_id, None, "{shown:?}");
    let req = request_of(&mut kit, r.id, NOW + 5);
    assert_eq!(req.traces()[0].matched_case_id, None, "{req:?}");
    // The rejected pair is not proposed again, now or at the next sign-in.
    assert!(pending(&kit).is_empty(), "{:?}", pending(&kit));
    let mut kit = reopen(kit, NOW + 6);
    assert!(pending(&kit).is_empty());
    // The trace is sought again: another child registered is proposed for it.
    let other = kit.register(RecordKind::Case, child(10), NOW + 7).unwrap();
    assert_eq!(other.matches.len(), 1, "{:?}", other.matches);
    assert_eq!(other.matches[0].tracing_request_id, r.id);
    // The warm index is what a rebuild from the vault gives.
    let fresh = kit.fresh_index(NOW + 8).unwrap();
    assert_eq!(kit.index().differences(&fresh), Vec::<String>::new());
}

#[test]
fn a_trace_confirmed_for_one_child_is_not_confirmed_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let first = kit.register(RecordKind::Case, child(9), NOW).unwrap();
    let second = kit.register(RecordKind::Case, child(10), NOW).unwrap();
    let r = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let of = |case: RecordId| {
        r.matches
            .iter()
            .find(|m| m.case_id == case)
            .map(|m| m.id)
            .unwrap()
    };
    kit.confirm_match(of(first.id), None, NOW + 2).unwrap();
    let refused = kit.confirm_match(of(second.id), Some("also her?"), NOW + 3);
    match refused {
        Err(ReviewError::NotApplicable(why)) => {
            assert!(why.contains("already matched"), "{why}");
            assert!(why.contains(&first.id.to_string()), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing changed: the trace still names the first child, the second is not linked, and
    // the second match is not confirmed.
    let req = request_of(&mut kit, r.id, NOW + 4);
    assert_eq!(
        req.traces()[0].matched_case_id.as_deref(),
        Some(first.id.to_string().as_str())
    );
    assert_eq!(
        case(&mut kit, second.id, NOW + 4).matched_tracing_request_id,
        None
    );
    let confirmed = kit.potential_matches(&MatchFilter {
        status: Some("confirmed".into()),
        ..MatchFilter::default()
    });
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].case_id, first.id);
}

#[test]
fn a_match_of_a_case_closed_to_matching_is_not_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let c = kit.register(RecordKind::Case, child(9), NOW).unwrap();
    let r = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let id = r.matches[0].id;
    // Consent withdrawn: the match is no longer offered, and cannot be confirmed by its id.
    kit.change(RecordKind::Case, c.id, NOW + 2, |o| {
        o.insert("consent_for_tracing".into(), Value::Bool(false));
        Ok(())
    })
    .unwrap();
    match kit.confirm_match(id, None, NOW + 3) {
        Err(ReviewError::NotApplicable(why)) => assert!(why.contains("consent"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        case(&mut kit, c.id, NOW + 4).matched_tracing_request_id,
        None
    );
    assert_eq!(
        request_of(&mut kit, r.id, NOW + 4).traces()[0].matched_case_id,
        None
    );
    // Consent given again; then the case is closed: still not confirmed.
    kit.change(RecordKind::Case, c.id, NOW + 5, |o| {
        o.insert("consent_for_tracing".into(), Value::Bool(true));
        Ok(())
    })
    .unwrap();
    kit.close_case(c.id, "transferred", None, NOW + 6).unwrap();
    match kit.confirm_match(id, None, NOW + 7) {
        Err(ReviewError::NotApplicable(why)) => assert!(why.contains("closed"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Reopened: confirmed as any match.
    kit.reopen_case(c.id, NOW + 8).unwrap();
    let m = kit.confirm_match(id, None, NOW + 9).unwrap();
    assert_eq!(m.status.as_deref(), Some("confirmed"));
}

#[test]
fn a_confirmation_taken_back_on_one_kit_unlinks_the_side_another_kit_holds() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = common::new_kit(dirs[0].path(), NOW);
    let mut b = common::new_kit(dirs[1].path(), NOW);
    let mut hub = common::new_kit(dirs[2].path(), NOW);
    // The child is registered on kit A, the mother asks on kit B; the hub proposes the pair.
    let c = a.register(RecordKind::Case, child(9), NOW).unwrap();
    let r = b
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let docs_of =
        |k: &mut Kit, kind, id, now| k.session_mut().documents_of(&[(kind, id)], now).unwrap();
    let case_doc = docs_of(&mut a, RecordKind::Case, c.id, NOW + 2);
    let req_doc = docs_of(&mut b, RecordKind::TracingRequest, r.id, NOW + 2);
    hub.merge(&case_doc, NOW + 3).unwrap();
    let m = hub.merge(&req_doc, NOW + 3).unwrap().matches[0].clone();
    let notice = docs_of(&mut hub, RecordKind::PotentialMatch, m.id, NOW + 4);
    a.merge(&notice, NOW + 5).unwrap();
    b.merge(&notice, NOW + 5).unwrap();

    // A confirms (its case is linked), B hears it (its trace is linked).
    a.confirm_match(m.id, None, NOW + 6).unwrap();
    let decided = docs_of(&mut a, RecordKind::PotentialMatch, m.id, NOW + 7);
    b.merge(&decided, NOW + 8).unwrap();
    assert_eq!(
        request_of(&mut b, r.id, NOW + 9).traces()[0]
            .matched_case_id
            .as_deref(),
        Some(c.id.to_string().as_str())
    );

    // A takes it back: its case is unlinked, and so is B's trace when the decision arrives.
    a.reject_match(m.id, Some("not her after all"), NOW + 10)
        .unwrap();
    assert_eq!(
        case(&mut a, c.id, NOW + 11).matched_tracing_request_id,
        None
    );
    let taken_back = docs_of(&mut a, RecordKind::PotentialMatch, m.id, NOW + 12);
    b.merge(&taken_back, NOW + 13).unwrap();
    assert_eq!(
        request_of(&mut b, r.id, NOW + 14).traces()[0].matched_case_id,
        None
    );
    let shown = b.potential_matches(&MatchFilter::default());
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].status.as_deref(), Some("rejected"));
    assert!(pending(&b).is_empty());
}

#[test]
fn each_decision_has_its_own_audit_entry() {
    use fieldkit_vault::AuditAction;
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    kit.register(RecordKind::Case, child(9), NOW).unwrap();
    let r = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let id = r.matches[0].id;
    kit.confirm_match(id, None, NOW + 2).unwrap();
    kit.reject_match(id, Some("not her"), NOW + 3).unwrap();
    let decisions: Vec<(u64, bool)> = kit
        .session()
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.record == Some((RecordKind::PotentialMatch, id)))
        .filter_map(|e| match e.action {
            AuditAction::MatchReviewed { confirmed } => Some((e.at_ms, confirmed)),
            _ => None,
        })
        .collect();
    assert_eq!(decisions, vec![(NOW + 2, true), (NOW + 3, false)]);
    let entries = kit.session().audit_entries().unwrap();
    let by = entries
        .iter()
        .find(|e| matches!(e.action, AuditAction::MatchReviewed { .. }))
        .unwrap();
    assert_eq!(by.actor, common::USER);
}

/// A save that leaves a pending likely match as it was (a case assigned, a follow-up written)
/// lists the match among the record's proposals but raises no new `LikelyMatch` alert: the hub
/// takes that alert for a match whose class moved and sends the notice to every kit holding a
/// side again, so every edit of such a case cost a notice per kit.
#[test]
fn a_save_that_leaves_a_likely_match_as_it_was_raises_no_new_alert() {
    use fieldkit_app::Alert;
    let likely_alert = |alerts: &[Alert], id: RecordId| {
        alerts
            .iter()
            .any(|a| matches!(a, Alert::LikelyMatch { match_id, .. } if *match_id == id))
    };
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let c = kit.register(RecordKind::Case, child(9), NOW).unwrap();
    let r = kit
        .register(RecordKind::TracingRequest, request(), NOW + 1)
        .unwrap();
    let id = r.matches[0].id;
    assert_eq!(r.matches[0].likelihood.as_deref(), Some("likely"));
    assert!(likely_alert(&r.alerts, id), "{:?}", r.alerts);

    let assigned = kit
        .assign_case(c.id, &["omar".to_string()], NOW + 2)
        .unwrap();
    assert_eq!(assigned.matches.len(), 1, "still the case's proposal");
    assert!(!likely_alert(&assigned.alerts, id), "{:?}", assigned.alerts);
    let noted = kit
        .change(RecordKind::TracingRequest, r.id, NOW + 3, |o| {
            o.insert("relation_telephone".into(), json!("0790000000"));
            Ok(())
        })
        .unwrap();
    assert!(!likely_alert(&noted.alerts, id), "{:?}", noted.alerts);

    // Rejected, then proposed again by a real change: an alert again.
    kit.reject_match(id, Some("not her"), NOW + 4).unwrap();
    let changed = kit
        .change(RecordKind::Case, c.id, NOW + 5, |o| {
            o.insert("date_of_birth".into(), json!("2016-06-01"));
            Ok(())
        })
        .unwrap();
    assert_eq!(changed.matches.len(), 1);
    assert!(likely_alert(&changed.alerts, id), "{:?}", changed.alerts);
}

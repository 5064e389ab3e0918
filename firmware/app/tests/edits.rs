//! An edit through [`Kit::change`] (what the command line's `case edit`, `tracing edit` and the
//! lifecycle commands call) checks the select fields it changes against the lookup lists, as a
//! registration does: the front ends hold no such rule of their own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fieldkit_app::SaveError;
use fieldkit_domain::RecordKind;
use serde_json::{Value, json};

const NOW: u64 = 1_772_000_000_000; // 2026-02-25

#[test]
fn a_change_saves_lookup_values_as_the_lists_ids_or_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let fields = common::fields(json!({"name": "Amina Yusuf", "sex": "female", "age": 9}));
    let c = kit.register(RecordKind::Case, fields, NOW).unwrap();

    // A display text and a letter become the lists' ids.
    kit.change(RecordKind::Case, c.id, NOW + 1, |o| {
        o.insert("protection_concerns".into(), json!(["Unaccompanied"]));
        o.insert("sex".into(), json!("F"));
        o.insert(
            "family_details_section".into(),
            json!([{"relation": "Mother", "relation_name": "Halima Yusuf"}]),
        );
        Ok(())
    })
    .unwrap();
    let shown = common::stored(&mut kit, RecordKind::Case, c.id, NOW + 2);
    assert_eq!(shown["protection_concerns"], json!(["unaccompanied"]));
    assert_eq!(shown["sex"], "female");
    assert_eq!(shown["family_details_section"][0]["relation"], "mother");

    // A value no list holds is refused, the closest one suggested, and nothing is saved.
    let refused = kit.change(RecordKind::Case, c.id, NOW + 3, |o| {
        o.insert("protection_concerns".into(), json!(["unacompanied"]));
        Ok(())
    });
    match refused {
        Err(SaveError::Invalid(e)) => {
            let text = e.to_string();
            assert!(text.contains("protection_concerns"), "{text}");
            assert!(text.contains("did you mean `unaccompanied`"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let again = kit.open_record(RecordKind::Case, c.id, NOW + 4).unwrap();
    assert_eq!(
        again.record.to_json()["protection_concerns"],
        json!(["unaccompanied"])
    );
    assert_eq!(again.version, 2);

    // A closure (the lifecycle commands go through the same change) keeps what it does not touch.
    kit.close_case(c.id, "reunified", None, NOW + 5).unwrap();
    let closed = common::stored(&mut kit, RecordKind::Case, c.id, NOW + 6);
    assert_eq!(closed["status"], Value::String("closed".into()));
}

#[test]
fn a_value_from_another_kits_lists_does_not_stop_an_edit_of_other_fields() {
    use fieldkit_domain::{DeviceId, Document, Hlc, RecordId};
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    // Received by sync from a kit whose agency added a protection concern this kit's lists lack.
    let id = RecordId(uuid::Uuid::from_u128(
        0x0190_f5a2_0000_7000_8000_0000_0000_0042,
    ));
    let stamp = Hlc {
        wall_ms: NOW,
        counter: 0,
        device: DeviceId(7),
    };
    let (doc, _) = Document::create(
        RecordKind::Case,
        id,
        &json!({"name": "Amina Yusuf", "sex": "female", "age": 9, "status": "open",
                "protection_concerns": ["agency_specific_concern"]}),
        stamp,
    )
    .unwrap();
    kit.merge(&[doc], NOW + 1).unwrap();
    kit.assign_case(id, &["omar".to_string()], NOW + 2).unwrap();
    kit.close_case(id, "transferred", None, NOW + 3).unwrap();
    let shown = common::stored(&mut kit, RecordKind::Case, id, NOW + 4);
    assert_eq!(
        shown["protection_concerns"],
        json!(["agency_specific_concern"])
    );
    assert_eq!(shown["assigned_user_names"], json!(["omar"]));
    assert_eq!(shown["status"], "closed");
}

/// Closing or reopening a case by editing its status (`case edit --set status=closed`) keeps
/// the closure fields as `close_case`/`reopen_case` do: a reason is required, the day defaults
/// to today, and reopening clears both (a case was left "open" with a closure date, or closed
/// with neither).
#[test]
fn a_status_changed_by_an_edit_keeps_the_closure_fields_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let fields = common::fields(json!({"name": "Amina Yusuf", "sex": "female", "age": 9}));
    let c = kit.register(RecordKind::Case, fields, NOW).unwrap();
    let show = |kit: &mut fieldkit_app::Kit, now| common::stored(kit, RecordKind::Case, c.id, now);

    let refused = kit.change(RecordKind::Case, c.id, NOW + 1, |o| {
        o.insert("status".into(), json!("closed"));
        Ok(())
    });
    match refused {
        Err(SaveError::NotApplicable(why)) => assert!(why.contains("closure_reason"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(show(&mut kit, NOW + 2)["status"], "open");

    kit.change(RecordKind::Case, c.id, NOW + 3, |o| {
        o.insert("status".into(), json!("closed"));
        o.insert("closure_reason".into(), json!("reunified"));
        Ok(())
    })
    .unwrap();
    let closed = show(&mut kit, NOW + 4);
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["date_closure"], "2026-02-25");

    kit.change(RecordKind::Case, c.id, NOW + 5, |o| {
        o.insert("status".into(), json!("open"));
        Ok(())
    })
    .unwrap();
    let reopened = show(&mut kit, NOW + 6);
    assert_eq!(reopened["status"], "open");
    assert!(reopened.get("closure_reason").is_none(), "{reopened}");
    assert!(reopened.get("date_closure").is_none(), "{reopened}");
}

/// Assigning a case to no one (every name blank) is refused, not saved as an empty list that
/// silently unassigns it (`case assign X --user " "` did).
#[test]
fn assigning_a_case_to_blank_names_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let fields = common::fields(json!({"name": "Amina Yusuf", "sex": "female", "age": 9}));
    let c = kit.register(RecordKind::Case, fields, NOW).unwrap();
    kit.assign_case(c.id, &[" omar ".to_string()], NOW + 1)
        .unwrap();
    match kit.assign_case(c.id, &[" ".to_string(), String::new()], NOW + 2) {
        Err(SaveError::NotApplicable(why)) => assert!(why.contains("user name"), "{why}"),
        other => panic!("{other:?}"),
    }
    let shown = common::stored(&mut kit, RecordKind::Case, c.id, NOW + 3);
    assert_eq!(shown["assigned_user_names"], json!(["omar"]));
}

/// Records what the outbox is told: each record's priority.
struct Priorities(std::sync::Arc<std::sync::Mutex<Vec<fieldkit_app::Priority>>>);

impl fieldkit_app::Outbox for Priorities {
    fn changed(
        &mut self,
        _tx: &mut fieldkit_vault::Tx<'_>,
        change: &fieldkit_app::Change,
    ) -> Result<(), fieldkit_app::OutboxError> {
        self.0.lock().unwrap().push(change.priority);
        Ok(())
    }
}

/// An edit of a case that is urgent already (a note, an assignment) raises no urgent alert
/// again and goes to sync as routine: before, every save of an urgent case said "URGENT ALERT
/// raised" and was sent first, over LoRa at night too. A case made urgent by the edit alerts.
#[test]
fn only_an_edit_that_makes_a_case_urgent_raises_the_urgent_alert() {
    use fieldkit_app::{Alert, Priority};
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    kit.set_outbox(Box::new(Priorities(told.clone())));
    let urgent = |alerts: &[Alert]| alerts.iter().any(|a| matches!(a, Alert::Urgent(_)));
    let child = common::fields(json!({"name": "Amina Yusuf", "sex": "female", "age": 5,
                       "protection_concerns": ["unaccompanied"]}));
    let c = kit.register(RecordKind::Case, child, NOW).unwrap();
    assert!(urgent(&c.alerts), "{:?}", c.alerts);
    assert_eq!(told.lock().unwrap().pop(), Some(Priority::Urgent));

    let assigned = kit
        .assign_case(c.id, &["omar".to_string()], NOW + 1)
        .unwrap();
    assert!(!urgent(&assigned.alerts), "{:?}", assigned.alerts);
    assert_eq!(told.lock().unwrap().pop(), Some(Priority::Routine));
    let noted = kit
        .change(RecordKind::Case, c.id, NOW + 2, |o| {
            o.insert("notes".into(), json!("home visit done"));
            Ok(())
        })
        .unwrap();
    assert!(!urgent(&noted.alerts), "{:?}", noted.alerts);
    assert_eq!(told.lock().unwrap().pop(), Some(Priority::Routine));

    // A caseworker marks another case urgent: the alert, sent first.
    let other = common::fields(json!({"name": "Omar Khalid", "sex": "male", "age": 12}));
    let o = kit.register(RecordKind::Case, other, NOW + 3).unwrap();
    assert!(!urgent(&o.alerts));
    let marked = kit
        .change(RecordKind::Case, o.id, NOW + 4, |f| {
            f.insert("urgent_protection_concern".into(), json!(true));
            Ok(())
        })
        .unwrap();
    assert!(urgent(&marked.alerts), "{:?}", marked.alerts);
    assert_eq!(told.lock().unwrap().pop(), Some(Priority::Urgent));
    // The whole-record edit (the screen's) alike.
    let mut whole = common::fields(common::stored(&mut kit, RecordKind::Case, o.id, NOW + 5));
    whole.insert("notes".into(), json!("seen at the clinic"));
    let edited = kit.edit(RecordKind::Case, o.id, whole, NOW + 6).unwrap();
    assert!(!urgent(&edited.alerts), "{:?}", edited.alerts);
    assert_eq!(told.lock().unwrap().pop(), Some(Priority::Routine));
}

/// A risk level the caseworker gives at registration is kept when the rules find less (the
/// triage raises a level, never lowers one), as an edit does: `case add --set risk_level=high`
/// was saved as `low`.
#[test]
fn registration_keeps_a_higher_risk_level_the_caseworker_gave() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);
    let given = common::fields(
        json!({"name": "Omar Khalid", "sex": "male", "age": 14, "risk_level": "high"}),
    );
    let c = kit.register(RecordKind::Case, given, NOW).unwrap();
    let shown = common::stored(&mut kit, RecordKind::Case, c.id, NOW + 1);
    assert_eq!(shown["risk_level"], "high");
    // Without one, the rules' level; with a lower one, the rules' higher level.
    let none = common::fields(json!({"name": "Amina Yusuf", "sex": "female", "age": 5,
                      "protection_concerns": ["unaccompanied"], "risk_level": "low"}));
    let raised = kit.register(RecordKind::Case, none, NOW + 2).unwrap();
    let shown = common::stored(&mut kit, RecordKind::Case, raised.id, NOW + 3);
    assert_eq!(shown["risk_level"], "high");
    let plain = common::fields(json!({"name": "Ali Hassan", "sex": "male", "age": 14}));
    let p = kit.register(RecordKind::Case, plain, NOW + 4).unwrap();
    let shown = common::stored(&mut kit, RecordKind::Case, p.id, NOW + 5);
    assert_eq!(shown["risk_level"], "low");
}

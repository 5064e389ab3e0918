//! Primero JSON in and out of a kit, through the `fieldkit` command: what goes in comes out
//! with the same content, a partial record changes only its fields, and files of the wrong
//! kind or with bad records are refused with every problem named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

const ID: &str = "0190f5a2-2222-7000-8000-000000000001";

mod common;

use common::Kit;

/// Primero files in and out of the test vault.
trait Interop {
    fn import(&self, name: &str, content: &Value, kind: &str) -> String;
    fn export(&self, kind: &str) -> Value;
}

impl Interop for Kit {
    fn import(&self, name: &str, content: &Value, kind: &str) -> String {
        let file = self.file(name, &content.to_string());
        self.ok(&["import", file.to_str().unwrap(), "--kind", kind])
    }

    fn export(&self, kind: &str) -> Value {
        let out = self.ok(&["export", "--format", "primero", "--kind", kind, "--to", "-"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

/// A case as Primero's API gives it: radio strings, a datetime, a single select, nulls, an
/// empty list, family entries out of id order, attachment objects, an array of objects that
/// is not a subform, and a Child Functioning answer.
fn primero_case() -> Value {
    json!({"id": ID, "data": {
        "id": ID,
        "case_id_display": "c7f1a2b",
        "name": "Amina Yusuf",
        "sex": "female",
        "age": 9,
        "estimated": "true",
        "consent_for_tracing": "true",
        "registration_date": "2025-03-14T10:20:30.000Z",
        "ethnicity": "fur",
        "name_nickname": null,
        "protection_concerns": ["separated"],
        "interview_subject": null,
        "other_documents": [],
        "cfm_5_17_vision_difficulty": "a_lot_of_difficulty",
        "family_details_section": [
            {"unique_id": "f2", "relation": "mother", "relation_name": "Halima",
             "relation_is_caregiver": "false", "relation_ethnicity": "fur", "relation_nickname": null},
            {"unique_id": "f1", "relation": "father", "relation_name": "Yusuf Adam"}
        ],
        "photos": [{"attachment_url": "/api/v2/attachments/7", "content_type": "image/jpeg",
                    "file_name": "amina.jpg", "field_name": "photos"}],
        "followup_history": [{"date": "2025-04-01T09:00:00Z", "note": "visited"}]
    }})
}

#[test]
fn a_primero_case_comes_back_with_the_same_content() {
    let k = Kit::new();
    let out = k.import("in.json", &json!([primero_case()]), "case");
    assert!(
        out.contains("1 case records read, 1 new or changed"),
        "{out}"
    );
    assert_eq!(k.export("case"), json!([primero_case()]));
    // And into a second kit, from the first one's export.
    let other = Kit::new();
    other.import("again.json", &k.export("case"), "case");
    assert_eq!(other.export("case"), json!([primero_case()]));
}

#[test]
fn a_partial_record_changes_only_its_fields() {
    let k = Kit::new();
    k.import("in.json", &json!([primero_case()]), "case");
    let partial = json!([{"id": ID, "data": {"age": 10,
        "family_details_section": [{"unique_id": "f1", "relation_name": "Yousif Adam"}]}}]);
    let out = k.import("partial.json", &partial, "case");
    assert!(out.contains("1 new or changed"), "{out}");
    let mut want = primero_case();
    want["data"]["age"] = json!(10);
    want["data"]["family_details_section"][1]["relation_name"] = json!("Yousif Adam");
    assert_eq!(k.export("case"), json!([want]));
}

#[test]
fn a_file_of_the_other_kind_is_refused() {
    let k = Kit::new();
    let requests = json!([{"data": {"relation_name": "Halima", "inquiry_date": "2025-02-01",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina", "sex": "female"}]}}]);
    let file = k.tmp().join("requests.json");
    std::fs::write(&file, requests.to_string()).unwrap();
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(
        err.contains("holds tracing_request records, not case records: record 1 has inquiry_date")
            && err.contains("give --kind tracing-request"),
        "{err}"
    );
    let out = k.ok(&[
        "import",
        file.to_str().unwrap(),
        "--kind",
        "tracing-request",
    ]);
    assert!(out.contains("1 new or changed"), "{out}");
    let cases = k.tmp().join("cases.json");
    std::fs::write(&cases, json!([primero_case()]).to_string()).unwrap();
    let err = k.fails(&[
        "import",
        cases.to_str().unwrap(),
        "--kind",
        "tracing-request",
    ]);
    assert!(err.contains("holds case records"), "{err}");
    assert_eq!(k.export("case"), json!([]));
}

#[test]
fn every_bad_record_is_named_once_and_nothing_is_imported() {
    let k = Kit::new();
    let file = k.tmp().join("bad.json");
    let bad = json!([
        {"data": {"name": "A", "sex": "F"}},
        {"data": {"name": "B", "sex": "male", "age": 9}},
        {"data": {"name": "C", "age": 40, "sex": "male"}},
        {"data": {"sex": "female", "family_details_section": [{"unique_id": "x", "relation_age": "old"}]}}
    ]);
    std::fs::write(&file, bad.to_string()).unwrap();
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(err.contains("record 1: sex: unknown variant `F`"), "{err}");
    assert_eq!(err.matches("unknown variant `F`").count(), 1, "{err}");
    assert!(
        err.contains("record 4: family_details_section[1].relation_age"),
        "{err}"
    );
    assert!(!err.contains("record 2"), "{err}");
    // Types are right: what the records would be when saved is checked next, all of them.
    let typed = json!([
        {"data": {"name": "B", "sex": "male", "age": 9}},
        {"data": {"name": "C", "age": 40, "sex": "male"}},
        {"data": {"age": 5}}
    ]);
    std::fs::write(&file, typed.to_string()).unwrap();
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(err.contains("2 bad records, nothing imported"), "{err}");
    assert!(err.contains("record 2: age: 40 is outside 0–17"), "{err}");
    assert!(
        err.contains("record 3: name:") && err.contains("record 3: sex: is required"),
        "{err}"
    );
    assert_eq!(k.export("case"), json!([]));
}

#[test]
fn an_edit_on_the_kit_changes_only_the_fields_typed() {
    let k = Kit::new();
    k.import("in.json", &json!([primero_case()]), "case");
    k.ok(&["case", "edit", &ID[ID.len() - 8..], "--age", "10"]);
    let mut got = k.export("case");
    // The kit is the author of its edits: its triage may raise Primero's risk fields.
    for f in ["risk_level", "urgent_protection_concern"] {
        got[0]["data"].as_object_mut().unwrap().remove(f);
    }
    let mut want = primero_case();
    want["data"]["age"] = json!(10);
    assert_eq!(got, json!([want]));
}

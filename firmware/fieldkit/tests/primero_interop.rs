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

#[test]
fn every_bad_record_of_a_file_is_named_at_once() {
    let k = Kit::new();
    // A wrong type (1), an unknown lookup value (2), values out of range (3), required
    // fields missing (4): each is found by another check, and all are named in one refusal,
    // subform entries counted from 1 as records are.
    let bad = json!([
        {"data": {"name": "A", "sex": "F"}},
        {"data": {"name": "B", "sex": "male", "age": 9,
            "family_details_section": [{"unique_id": "m", "relation": "Relation 1"}]}},
        {"data": {"name": "C", "sex": "male", "age": 40, "family_details_section": [
            {"unique_id": "a", "relation": "mother"},
            {"unique_id": "b", "relation": "father", "relation_age": 300}]}},
        {"data": {"age": 5}},
        {"data": {"name": "E", "sex": "female", "age": 7}},
        {"data": {"name": "F", "sex": "female", "age": 7, "other_names": ["a\u{1}", "b\u{2}"]}}
    ]);
    let file = k.file("bad.json", &bad.to_string());
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(err.contains("5 bad records, nothing imported"), "{err}");
    let named: Vec<&str> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("record "))
        .collect();
    let heads: Vec<String> = named
        .iter()
        .map(|l| l.splitn(3, ": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        heads,
        [
            "1: sex",
            "2: family_details_section[1].relation",
            "3: age",
            "3: family_details_section[2].relation_age",
            "4: name",
            "4: sex",
            // Two problems of one field, both named.
            "6: other_names",
            "6: other_names"
        ],
        "{err}"
    );
    assert_eq!(k.export("case"), json!([]));
}

/// Primero's own examples: a case as `GET /api/v2/cases/:id` gives it comes back the same; a
/// trace (`GET /api/v2/traces/:id`) is not a tracing request; a tracing request carrying
/// `survivor_code` (a field Primero's tracing requests store too) is still seen as one.
#[test]
fn primero_documentation_examples() {
    let k = Kit::new();
    let case = json!({"data": {
        "id": "b3222e84-a5d7-4692-a643-1ab3d41f17d6", "age": 16, "sex": "female",
        "name": "Edwine Edgemont", "owned_by": "primero", "created_at": "2019-05-10T05:34:59.514Z",
        "case_id_display": "f15a1a9", "registration_date": "2019-05-10",
        "photos": ["/rails/active_storage/blobs/eyJfcmFpbHMiOnsibWVzc2FnZSI6IkJBaHBJdz09IiwiZXhwIjpudWxsLCJwdXIiOiJibG9iX2lkIn19--fd11045a88ede3b0b1e92ce60b75bb21f219c33c/photo.jpg"]
    }});
    // Written by a Windows editor: a byte order mark first.
    let file = k.file("case.json", &format!("\u{feff}{case}"));
    k.ok(&["import", file.to_str().unwrap(), "--kind", "case"]);
    let out = k.export("case");
    assert_eq!(out[0]["id"], case["data"]["id"]);
    assert_eq!(out[0]["data"], case["data"]);

    let trace = json!({"data": {"id": "f7884b5f-848c-4f98-b60c-bd8ffeceb175",
        "matched_case_id": null, "tracing_request_id": "71eadfe8-b8ac-463f-bf32-7d31f16a36eb",
        "inquirer_id": "0159061f-6183-410c-a107-fcc5de8bb2fc", "relation": "father",
        "relation_name": "Arun Lee", "inquiry_date": "2019-03-01", "name": "Olga Lee", "age": 9,
        "sex": "female"}});
    let file = k.file("trace.json", &trace.to_string());
    let err = k.fails(&[
        "import",
        file.to_str().unwrap(),
        "--kind",
        "tracing-request",
    ]);
    assert!(
        err.contains("the file holds Primero traces") && err.contains("record 1 has inquirer_id"),
        "{err}"
    );

    let request = json!([{"data": {"relation_name": "Arun Lee", "relation": "father",
        "inquiry_date": "2019-03-01", "survivor_code": "S-77",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Olga Lee", "sex": "female"}]}}]);
    let file = k.file("request.json", &request.to_string());
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(
        err.contains("holds tracing_request records, not case records")
            && err.contains("give --kind tracing-request"),
        "{err}"
    );
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "incident"]);
    assert!(err.contains("holds tracing_request records"), "{err}");

    // One key twice in a record: refused, naming it, nothing imported.
    let file = k.file(
        "twice.json",
        r#"[{"data": {"name": "Amina", "sex": "female", "name": "Halima"}}]"#,
    );
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(err.contains("`name` is given twice in one object"), "{err}");
    assert_eq!(k.export("case").as_array().unwrap().len(), 1);
}

/// A tally sent with one of its keys keeps the others, as Primero's PATCH does.
#[test]
fn a_partial_object_changes_only_its_keys() {
    let k = Kit::new();
    let mut case = primero_case();
    case["data"]["siblings_tally"] = json!({"boys": 2, "girls": 1, "total": 3});
    k.import("in.json", &json!([case]), "case");
    let partial = json!([{"id": ID, "data": {"siblings_tally": {"boys": 3, "total": 4}}}]);
    k.import("partial.json", &partial, "case");
    case["data"]["siblings_tally"] = json!({"boys": 3, "girls": 1, "total": 4});
    assert_eq!(k.export("case"), json!([case]));
}

/// An array whose entries all had a `unique_id` is a subform for the kit (Primero's own spec
/// uses `family_details`); a later entry there without one cannot be matched. It was an
/// "invalid change" that stopped the import at that record; it is a bad field, named with the
/// rest of the file.
#[test]
fn an_entry_without_its_id_in_a_subform_is_named_with_the_rest() {
    let k = Kit::new();
    let case = json!([{"id": ID, "data": {"name": "Test3", "age": 6, "sex": "male",
        "family_details": [
            {"unique_id": "1", "relation_type": "mother", "age": 33},
            {"unique_id": "2", "relation_type": "father", "age": 32}]}}]);
    k.import("in.json", &case, "case");
    let later = json!([
        {"id": ID, "data": {"family_details": [{"relation_type": "uncle", "age": 50}]}},
        {"data": {"name": "C", "sex": "male", "age": 40}}
    ]);
    let file = k.file("later.json", &later.to_string());
    let err = k.fails(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(err.contains("2 bad records, nothing imported"), "{err}");
    assert!(
        err.contains("record 1: family_details: an entry has no unique_id"),
        "{err}"
    );
    assert!(err.contains("record 2: age: 40"), "{err}");
    assert_eq!(
        k.export("case")[0]["data"]["family_details"],
        case[0]["data"]["family_details"]
    );
}

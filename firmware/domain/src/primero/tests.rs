use serde_json::json;

use super::*;
use crate::record::Sex;
use crate::{DeviceId, Document, HlcClock};

const ID: &str = "0190f5a2-1111-7000-8000-000000000001";

/// Applies a file's records to documents, as the vault's import does.
fn import(into: Option<Document>, incoming: &Incoming, clock: &mut HlcClock, now: u64) -> Document {
    let mut doc = into.unwrap_or_else(|| Document::new(incoming.kind, incoming.id));
    let ops = doc.patch(&incoming.data, || clock.tick(now)).unwrap();
    for op in &ops {
        doc.apply(op).unwrap();
    }
    doc
}

/// A record using what Primero's own API sends: radio strings, a datetime, a single select,
/// nulls, an empty list, subform entries out of id order, attachment objects, and an array of
/// objects that is not a subform.
fn primero_case() -> Value {
    json!({
        "id": ID,
        "data": {
            "id": ID,
            "name": "Amina Yusuf",
            "sex": "female",
            "age": 9,
            "estimated": "true",
            "consent_for_tracing": "false",
            "registration_date": "2024-03-14T10:20:30.000Z",
            "date_of_birth": "2015-01-02",
            "nationality": ["sudan"],
            "ethnicity": "fur",
            "name_nickname": null,
            "protection_concerns": [],
            "some_unknown_field": null,
            "some_unknown_list": [],
            "cfm_5_17_vision_difficulty": "a_lot_of_difficulty",
            "family_details_section": [
                {"unique_id": "f2", "relation": "mother", "relation_name": "Halima",
                 "relation_is_caregiver": "true", "relation_ethnicity": "fur",
                 "relation_nickname": null},
                {"unique_id": "f1", "relation": "father", "relation_name": "Yusuf",
                 "relation_date_of_birth": "1980-05-05"}
            ],
            "photos": [{"attachment_url": "/api/v2/attachments/7", "content_type": "image/jpeg",
                        "file_name": "amina.jpg", "field_name": "photos"}],
            "followup_history": [{"date": "2024-04-01T09:00:00Z", "note": "visited"}]
        }
    })
}

#[test]
fn a_round_trip_loses_and_changes_nothing() {
    let text = json!([primero_case()]).to_string();
    let incoming = read(&text, RecordKind::Case).unwrap();
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].id.to_string(), ID);
    let mut clock = HlcClock::new(DeviceId(1));
    let doc = import(None, &incoming[0], &mut clock, 1000);
    // Through the stored form too, as the vault keeps it.
    let bytes = postcard::to_allocvec(&doc).unwrap();
    let doc: Document = postcard::from_bytes(&bytes).unwrap();
    let out = export(doc.to_json());
    assert_eq!(out, primero_case());
    // The typed view reads Primero's values.
    let Record::Case(c) = doc.to_record().unwrap() else {
        panic!()
    };
    assert!(c.estimated);
    assert_eq!(c.consent_for_tracing, Some(false));
    assert_eq!(c.sex, Some(Sex::Female));
    assert_eq!(c.disability_seeing, Some(crate::WgAnswer::ALotOfDifficulty));
    assert_eq!(c.family_details_section[0].unique_id, "f2");
    assert_eq!(
        c.family_details_section[1]
            .relation_date_of_birth
            .map(|d| d.year()),
        Some(1980)
    );
    // Imported again, nothing changes.
    let again = read(&out.to_string(), RecordKind::Case).unwrap();
    assert!(
        doc.patch(&again[0].data, || clock.tick(2000))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_partial_record_changes_only_its_fields() {
    let mut clock = HlcClock::new(DeviceId(1));
    let full = read(&primero_case().to_string(), RecordKind::Case).unwrap();
    let doc = import(None, &full[0], &mut clock, 1000);
    let partial = json!({"data": {"id": ID, "age": 10, "name_nickname": "Ami",
        "family_details_section": [{"unique_id": "f1", "relation_name": "Yousif"},
                                   {"unique_id": "f3", "relation": "brother"}]}});
    let partial = read(&partial.to_string(), RecordKind::Case).unwrap();
    let ops = doc.patch(&partial[0].data, || clock.tick(2000)).unwrap();
    let fields: Vec<&str> = ops.iter().map(|o| o.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "age",
            "family_details_section[f1].relation_name",
            "family_details_section[f3].relation",
            "family_details_section[]",
            "name_nickname"
        ]
    );
    let doc = import(Some(doc), &partial[0], &mut clock, 2000);
    let mut want = primero_case()["data"].clone();
    want["age"] = json!(10);
    want["name_nickname"] = json!("Ami");
    want["family_details_section"][1]["relation_name"] = json!("Yousif");
    let fds = want["family_details_section"].as_array_mut().unwrap();
    fds.push(json!({"unique_id": "f3", "relation": "brother"}));
    assert_eq!(doc.to_json(), want);
}

#[test]
fn subform_entries_are_removed_only_when_destroyed() {
    let mut clock = HlcClock::new(DeviceId(1));
    let full = read(&primero_case().to_string(), RecordKind::Case).unwrap();
    let doc = import(None, &full[0], &mut clock, 1000);
    // An update that sends no entries keeps them, as Primero does.
    let none = json!({"data": {"id": ID, "family_details_section": []}});
    let none = read(&none.to_string(), RecordKind::Case).unwrap();
    assert!(
        doc.patch(&none[0].data, || clock.tick(2000))
            .unwrap()
            .is_empty()
    );
    let gone = json!({"data": {"id": ID,
        "family_details_section": [{"unique_id": "f2", "_destroy": true}]}});
    let gone = read(&gone.to_string(), RecordKind::Case).unwrap();
    let doc = import(Some(doc), &gone[0], &mut clock, 3000);
    assert_eq!(doc.entries("family_details_section"), ["f1"]);
    // The last one destroyed, the record holds an empty list (Primero's merge rejects the
    // destroyed entries and keeps the array), not no list at all.
    let last = json!({"data": {"id": ID,
        "family_details_section": [{"unique_id": "f1", "_destroy": true}]}});
    let last = read(&last.to_string(), RecordKind::Case).unwrap();
    let doc = import(Some(doc), &last[0], &mut clock, 4000);
    assert!(doc.entries("family_details_section").is_empty());
    assert_eq!(doc.to_json()["family_details_section"], json!([]));
    // Entries given again take the empty list's place.
    let doc = import(Some(doc), &full[0], &mut clock, 5000);
    assert_eq!(doc.entries("family_details_section"), ["f2", "f1"]);
    assert_eq!(doc.to_json(), primero_case()["data"]);
}

#[test]
fn the_bulk_export_shape_keeps_its_outer_ids() {
    let text = json!([
        {"id": ID, "data": {"name": "Omar", "sex": "male"}},
        {"data": {"name": "Sara", "sex": "female"}}
    ])
    .to_string();
    let recs = read(&text, RecordKind::Case).unwrap();
    assert_eq!(recs[0].id.to_string(), ID);
    assert_ne!(recs[1].id.to_string(), ID);
    assert!(!recs[0].data.contains_key("id"));
    let clash = json!([{"id": ID, "data": {"id": "0190f5a2-1111-7000-8000-000000000002"}}]);
    let err = read(&clash.to_string(), RecordKind::Case).unwrap_err();
    assert!(
        err.to_string().contains("record 1: id: the record's id"),
        "{err}"
    );
}

#[test]
fn reads_a_list_response_and_a_single_record() {
    let text = r#"{"data": [{"name": "A", "sex": "male"}], "metadata": {"total": 1}}"#;
    assert_eq!(read(text, RecordKind::Case).unwrap().len(), 1);
    let text = format!(r#"{{"data": {{"id": "{ID}", "name": "A"}}}}"#);
    assert_eq!(read(&text, RecordKind::Case).unwrap()[0].id.to_string(), ID);
}

#[test]
fn only_subforms_get_unique_ids() {
    let text = r#"[{"data": {"name": "A", "family_details_section": [{"relation": "mother"}],
        "photos": [{"file_name": "a.jpg"}]}}]"#;
    let recs = read(text, RecordKind::Case).unwrap();
    assert!(recs[0].data["family_details_section"][0]["unique_id"].is_string());
    assert_eq!(recs[0].data["photos"], json!([{"file_name": "a.jpg"}]));
}

#[test]
fn a_file_of_another_kind_is_refused_saying_what_it_holds() {
    let requests = r#"[{"data": {"relation_name": "Fatima", "inquiry_date": "2024-01-01",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Omar"}]}}]"#;
    let err = read(requests, RecordKind::Case).unwrap_err();
    assert!(matches!(
        err,
        PrimeroError::WrongKind {
            expected: RecordKind::Case,
            found: RecordKind::TracingRequest,
            position: 1,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "the file holds tracing_request records, not case records: record 1 has inquiry_date, tracing_request_subform_section"
    );
    let cases = r#"[{"data": {"name": "Omar", "registration_date": "2024-01-01"}}]"#;
    assert!(matches!(
        read(cases, RecordKind::TracingRequest),
        Err(PrimeroError::WrongKind {
            found: RecordKind::Case,
            ..
        })
    ));
}

#[test]
fn every_bad_record_is_named_once_by_position_and_field() {
    let text = r#"[
        {"data": {"name": "A", "sex": "F", "age": "nine"}},
        {"data": {"name": "B", "sex": "male"}},
        {"data": {"id": "case-1", "family_details_section": [{"unique_id": "x", "relation_sex": "M"}]}},
        {"data": {"date_of_birth": "12/01/2015"}}
    ]"#;
    let Err(PrimeroError::Invalid(bad)) = read(text, RecordKind::Case) else {
        panic!()
    };
    let named: Vec<(usize, &str)> = bad
        .0
        .iter()
        .map(|b| (b.position, b.field.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (1, "age"),
            (1, "sex"),
            (3, "id"),
            (3, "family_details_section[1].relation_sex"),
            (4, "date_of_birth")
        ]
    );
    let text = bad.to_string();
    assert!(
        text.starts_with("3 bad records, nothing imported:"),
        "{text}"
    );
    assert!(
        text.contains("record 1: sex: unknown variant `F`"),
        "{text}"
    );
    assert_eq!(text.matches("unknown variant `F`").count(), 1, "{text}");
    assert!(text.contains("not a date"), "{text}");
}

#[test]
fn malformed_files_get_clear_errors() {
    assert!(matches!(
        read("{", RecordKind::Case),
        Err(PrimeroError::Json(_))
    ));
    let err = read("[1]", RecordKind::Case).unwrap_err();
    assert!(err.to_string().starts_with("record 1: expected"), "{err}");
}

#[test]
fn validation_names_the_position() {
    let Record::Case(mut c) = Record::from_json(RecordKind::Case, json!({"name": "A"})).unwrap()
    else {
        panic!()
    };
    c.age = Some(40);
    let bad = validate(7, &Record::Case(c), "2026-01-01".parse().unwrap());
    assert!(bad.iter().all(|b| b.position == 7));
    assert!(bad.iter().any(|b| b.field == "sex"));
    assert!(bad.iter().any(|b| b.field == "age"));
}

#[test]
fn export_writes_only_what_a_record_holds_in_primeros_names() {
    let mut c = crate::Case {
        name: Some("Omar".into()),
        disability_walking: Some(crate::WgAnswer::CannotDoAtAll),
        ..crate::Case::default()
    };
    c.id = ID.parse().unwrap();
    let out = to_primero(&Record::Case(Box::new(c)));
    assert_eq!(
        out,
        json!({"id": ID, "data": {"id": ID, "name": "Omar",
            "cfm_5_17_mobility_difficulty_comparative_100m": "cannot_do_at_all"}})
    );
    // A record stored under the old names is exported under Primero's.
    let old = export(json!({"id": ID, "disability_seeing": "some_difficulty"}));
    assert_eq!(old["data"]["cfm_5_17_vision_difficulty"], "some_difficulty");
    assert!(old["data"].get("disability_seeing").is_none());
}

mod round_trip_properties {
    use super::*;
    use proptest::prelude::*;

    /// Values Primero's records hold: strings (radio strings and datetimes among them),
    /// numbers, booleans, nulls, lists of strings, empty lists, and objects.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            Just(json!("true")),
            Just(json!("false")),
            Just(json!("2024-03-14T10:20:30.000Z")),
            "[a-z_ ]{0,10}".prop_map(Value::String),
            proptest::collection::vec("[a-z]{1,6}", 0..3).prop_map(|l| json!(l)),
            Just(json!([{"file_name": "a.jpg", "content_type": "image/jpeg"}])),
            Just(json!({"nested": {"deep": [1, 2]}})),
        ]
    }

    /// Unknown fields (never a name the typed record checks), and a subform whose entries
    /// come in any order.
    fn record() -> impl Strategy<Value = Value> {
        (
            proptest::collection::btree_map("x_[a-z]{1,8}", value(), 0..8),
            proptest::collection::vec(
                (
                    "[a-z0-9]{1,6}",
                    proptest::collection::btree_map("x_[a-z]{1,5}", value(), 0..4),
                ),
                0..5,
            ),
        )
            .prop_map(|(fields, entries)| {
                let mut data: Map<String, Value> = fields.into_iter().collect();
                let mut seen = std::collections::HashSet::new();
                let list: Vec<Value> = entries
                    .into_iter()
                    .filter(|(uid, _)| seen.insert(uid.clone()))
                    .map(|(uid, f)| {
                        let mut e: Map<String, Value> = f.into_iter().collect();
                        // An entry of nothing but nulls would keep only its id.
                        e.insert("x_kept".into(), json!(1));
                        e.insert("unique_id".into(), json!(uid));
                        Value::Object(e)
                    })
                    .collect();
                if !list.is_empty() {
                    data.insert("family_details_section".into(), Value::Array(list));
                }
                data.insert("id".into(), json!(ID));
                json!({"id": ID, "data": data})
            })
    }

    /// An entry id that begins another ("5", "50"): their paths sort the other way round
    /// ("f[50].x" < "f[5].x"), which once made a re-import of the same file reorder them.
    #[test]
    fn entry_ids_that_prefix_each_other_keep_their_order_on_a_re_import() {
        let rec = json!({"id": ID, "data": {"id": ID, "family_details_section": [
            {"unique_id": "5", "relation_name": "Amina"},
            {"unique_id": "50", "relation_name": "Hassan"},
        ]}});
        let incoming = read(&json!([rec.clone()]).to_string(), RecordKind::Case).unwrap();
        let mut clock = HlcClock::new(DeviceId(1));
        let doc = import(None, &incoming[0], &mut clock, 1000);
        assert_eq!(doc.entries("family_details_section"), ["5", "50"]);
        assert_eq!(export(doc.to_json()), rec);
        let again = doc.patch(&incoming[0].data, || clock.tick(2000)).unwrap();
        assert!(again.is_empty(), "a re-import changed {again:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn any_primero_record_round_trips(rec in record()) {
            let text = json!([rec.clone()]).to_string();
            let incoming = read(&text, RecordKind::Case).unwrap();
            let mut clock = HlcClock::new(DeviceId(1));
            let doc = import(None, &incoming[0], &mut clock, 1000);
            let bytes = postcard::to_allocvec(&doc).unwrap();
            let doc: Document = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(export(doc.to_json()), rec);
            prop_assert!(doc.patch(&incoming[0].data, || clock.tick(2000)).unwrap().is_empty());
        }

        #[test]
        fn any_json_is_read_or_refused_without_panic(v in value(), wrap in any::<bool>()) {
            let text = if wrap { json!([{"data": v}]).to_string() } else { v.to_string() };
            let _ = read(&text, RecordKind::Case);
            let _ = read(&text, RecordKind::TracingRequest);
        }
    }
}

#[test]
fn records_without_ids_get_the_same_ids_from_the_same_file() {
    // Field order differs between the two files: the content is the same.
    let a = r#"[{"data": {"name": "Amina Yusuf", "age": 9, "family_details_section": [{"relation": "mother", "relation_name": "Halima"}, {"relation": "mother", "relation_name": "Halima"}]}},
                {"data": {"name": "Omar Khalid", "age": 7}},
                {"data": {"name": "Omar Khalid", "age": 7}}]"#;
    let b = r#"[{"data": {"family_details_section": [{"relation_name": "Halima", "relation": "mother"}, {"relation_name": "Halima", "relation": "mother"}], "age": 9, "name": "Amina Yusuf"}},
                {"data": {"age": 7, "name": "Omar Khalid"}},
                {"data": {"age": 7, "name": "Omar Khalid"}}]"#;
    let first = read(a, RecordKind::Case).unwrap();
    let again = read(b, RecordKind::Case).unwrap();
    let ids = |v: &[Incoming]| v.iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&again));
    let uids = |i: &Incoming| {
        i.data["family_details_section"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["unique_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(uids(&first[0]), uids(&again[0]));
    // Two records (or entries) of the same content in one file stay two.
    assert_ne!(first[1].id, first[2].id);
    assert_ne!(uids(&first[0])[0], uids(&first[0])[1]);
    // Other content gives another id; an id the file gives is kept.
    let c = r#"{"data": {"name": "Omar Khalid", "age": 8}}"#;
    assert_ne!(read(c, RecordKind::Case).unwrap()[0].id, first[1].id);
    let given = format!(r#"{{"data": {{"id": "{ID}", "name": "Omar Khalid", "age": 7}}}}"#);
    assert_eq!(
        read(&given, RecordKind::Case).unwrap()[0].id.to_string(),
        ID
    );
}

/// Primero's `RecordMergeDataHashService` merges two hashes key by key at every depth (its spec:
/// "keeps the key/values in the old hash if they are not present in the new hash"): a tally
/// field sent with one of its keys keeps the others.
#[test]
fn an_object_carried_in_part_changes_only_its_keys() {
    let mut clock = HlcClock::new(DeviceId(1));
    let full = json!({"data": {"id": ID, "name": "Amina", "sex": "female",
        "siblings_tally": {"boys": 2, "girls": 1, "total": 3, "by_camp": {"a": 1, "b": 2}},
        "signature": {"file_name": "s.png", "date": null},
        "family_details_section": [{"unique_id": "f1", "relation": "mother",
            "relation_contact": {"phone": "+249 1", "email": "h@example.org"}}]}});
    let full = read(&full.to_string(), RecordKind::Case).unwrap();
    let doc = import(None, &full[0], &mut clock, 1000);
    let part = json!({"data": {"id": ID,
        "siblings_tally": {"boys": 3, "by_camp": {"b": 3}},
        "signature": null,
        "family_details_section": [{"unique_id": "f1", "relation_contact": {"phone": "+249 2"}}]}});
    let part = read(&part.to_string(), RecordKind::Case).unwrap();
    let doc = import(Some(doc), &part[0], &mut clock, 2000);
    let out = doc.to_json();
    assert_eq!(
        out["siblings_tally"],
        json!({"boys": 3, "girls": 1, "total": 3, "by_camp": {"a": 1, "b": 3}})
    );
    // A null replaces an object, as in Primero.
    assert_eq!(out["signature"], Value::Null);
    assert_eq!(
        out["family_details_section"][0]["relation_contact"],
        json!({"phone": "+249 2", "email": "h@example.org"})
    );
    // Sent again, the merged object changes nothing.
    assert!(
        doc.patch(&part[0].data, || clock.tick(3000))
            .unwrap()
            .is_empty()
    );
}

/// Fields Primero's records share or carry as links do not say what a file holds:
/// `survivor_code` is a tracing request's field as much as an incident's
/// (`TracingRequest` and `Incident` both store it), and Primero gives an incident made from a
/// case the case's `case_id_display` (fieldkit's own incidents name theirs `case_id`).
#[test]
fn shared_and_linking_fields_do_not_hide_what_a_file_holds() {
    let request = r#"[{"data": {"relation_name": "Arun Lee", "inquiry_date": "2019-03-01",
        "survivor_code": "S-77", "tracing_request_id": "71eadfe8-b8ac-463f-bf32-7d31f16a36eb",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Olga Lee"}]}}]"#;
    for kind in [RecordKind::Case, RecordKind::Incident] {
        let err = read(request, kind).unwrap_err();
        assert!(
            matches!(
                err,
                PrimeroError::WrongKind {
                    found: RecordKind::TracingRequest,
                    position: 1,
                    ..
                }
            ),
            "{kind}: {err}"
        );
    }
    assert_eq!(read(request, RecordKind::TracingRequest).unwrap().len(), 1);
    let incident = r#"[{"data": {"incident_id": "5e8f7a10-0000-4000-8000-000000000001",
        "incident_date": "2019-03-01", "date_of_first_report": "2019-03-02",
        "incident_case_id": "b3222e84-a5d7-4692-a643-1ab3d41f17d6", "case_id_display": "f15a1a9",
        "case_id": "b3222e84-a5d7-4692-a643-1ab3d41f17d6", "survivor_code": "S-77"}}]"#;
    for kind in [RecordKind::Case, RecordKind::TracingRequest] {
        let err = read(incident, kind).unwrap_err();
        assert!(
            matches!(
                err,
                PrimeroError::WrongKind {
                    found: RecordKind::Incident,
                    ..
                }
            ),
            "{kind}: {err}"
        );
        assert!(
            err.to_string().contains("record 1 has incident_id"),
            "{err}"
        );
    }
    assert_eq!(read(incident, RecordKind::Incident).unwrap().len(), 1);
}

/// Primero's traces (`/api/v2/traces/:id`, `/api/v2/cases/:id/traces`: one child sought,
/// with its tracing request's inquirer copied beside it) are not tracing requests.
#[test]
fn primero_traces_are_refused_saying_what_they_are() {
    let trace = r#"{"data": {"id": "f7884b5f-848c-4f98-b60c-bd8ffeceb175", "matched_case_id": null,
        "tracing_request_id": "71eadfe8-b8ac-463f-bf32-7d31f16a36eb",
        "inquirer_id": "0159061f-6183-410c-a107-fcc5de8bb2fc", "relation": "father",
        "relation_name": "Arun Lee", "inquiry_date": "2019-03-01", "name": "Olga Lee",
        "age": 9, "sex": "female"}}"#;
    for kind in [RecordKind::TracingRequest, RecordKind::Case] {
        let err = read(trace, kind).unwrap_err();
        assert!(
            matches!(err, PrimeroError::Traces { position: 1, .. }),
            "{kind}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("Primero traces")
                && text.contains("record 1 has inquirer_id")
                && text.contains("tracing_request_subform_section"),
            "{text}"
        );
    }
}

/// A key given twice in one object leaves which value is meant unknown; reading one of them
/// silently would drop the other.
#[test]
fn a_key_given_twice_is_refused() {
    let text = r#"[{"data": {"name": "Amina", "sex": "female", "name": "Halima"}}]"#;
    let err = read(text, RecordKind::Case).unwrap_err();
    assert!(matches!(err, PrimeroError::RepeatedKey(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("`name` is given twice in one object"),
        "{err}"
    );
    let nested = r#"[{"data": {"name": "A", "family_details_section":
        [{"unique_id": "f1", "relation": "mother", "relation": "aunt"}]}}]"#;
    assert!(
        read(nested, RecordKind::Case)
            .unwrap_err()
            .to_string()
            .contains("`relation` is given twice")
    );
    // The same key in two objects is no repeat.
    let fine =
        r#"[{"data": {"name": "A", "sex": "male"}}, {"data": {"name": "B", "sex": "male"}}]"#;
    assert_eq!(read(fine, RecordKind::Case).unwrap().len(), 2);
}

/// Whole numbers past 64 bits would come back rounded (`1.2345678901234568e+29`): refused, not
/// changed. Numbers that fit come back as they were.
#[test]
fn a_whole_number_too_large_to_keep_is_refused() {
    let text = r#"[{"data": {"name": "A", "note": "123456789012345678901234567890 in text",
        "big": 123456789012345678901234567890}}]"#;
    let err = read(text, RecordKind::Case).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("123456789012345678901234567890") && msg.contains("line 2"),
        "{msg}"
    );
    let fits = r#"[{"data": {"name": "A", "u": 18446744073709551615, "i": -9223372036854775808,
        "f": 0.1, "e": 1e20, "z": -0.0}}]"#;
    let recs = read(fits, RecordKind::Case).unwrap();
    let mut clock = HlcClock::new(DeviceId(1));
    let doc = import(None, &recs[0], &mut clock, 1000);
    let out = export(doc.to_json());
    let given: Value = serde_json::from_str(fits).unwrap();
    for k in ["u", "i", "f", "e", "z"] {
        assert_eq!(out["data"][k], given[0]["data"][k], "{k}: {out}");
    }
    let text = out.to_string();
    assert!(
        text.contains("18446744073709551615") && text.contains("-9223372036854775808"),
        "{text}"
    );
}

/// A UTF-8 byte order mark (Windows editors write one) is not part of the JSON.
#[test]
fn a_byte_order_mark_is_skipped() {
    let text = "\u{feff}[{\"data\": {\"name\": \"A\", \"sex\": \"male\"}}]";
    assert_eq!(read(text, RecordKind::Case).unwrap().len(), 1);
}

/// [`read_all`] gives the records whose fields have the right types and every bad field, so
/// an import can check the others as they will be saved and name every bad record at once.
#[test]
fn read_all_keeps_the_good_records_beside_the_bad_fields() {
    let text = r#"[
        {"data": {"name": "A", "sex": "F"}},
        {"data": {"name": "B", "sex": "male", "age": 40}},
        {"data": {"age": 3}}
    ]"#;
    let file = read_all(text, RecordKind::Case).unwrap();
    let positions: Vec<usize> = file.records.iter().map(|r| r.position).collect();
    assert_eq!(positions, [2, 3]);
    assert_eq!(file.bad.len(), 1);
    assert_eq!(
        (file.bad[0].position, file.bad[0].field.as_str()),
        (1, "sex")
    );
    assert!(matches!(
        read(text, RecordKind::Case),
        Err(PrimeroError::Invalid(_))
    ));
}

#[test]
fn entries_are_counted_from_one_as_records_are() {
    assert_eq!(
        counted_from_one("family_details_section[0].relation_age"),
        "family_details_section[1].relation_age"
    );
    assert_eq!(counted_from_one("age"), "age");
    assert_eq!(
        counted_from_one("family_details_section[]"),
        "family_details_section[]"
    );
    let Record::Case(mut c) = Record::from_json(
        RecordKind::Case,
        json!({"name": "A", "sex": "male",
            "family_details_section": [{"unique_id": "m"}, {"unique_id": "f", "relation_age": 300}]}),
    )
    .unwrap() else {
        panic!()
    };
    c.age = Some(9);
    let bad = validate(2, &Record::Case(c), Date::from_unix_ms(1_700_000_000_000));
    let named: Vec<(usize, &str)> = bad.iter().map(|b| (b.position, b.field.as_str())).collect();
    assert_eq!(named, [(2, "family_details_section[2].relation_age")]);
}

/// Two records of one id in a file were each applied to what the vault held and one was lost
/// ("2 case records read, 1 new or changed", the second's name gone).
#[test]
fn a_file_gives_each_id_once() {
    let text = format!(
        r#"[{{"id": "{ID}", "data": {{"name": "Amina", "sex": "female"}}}},
            {{"data": {{"name": "Sara", "sex": "female"}}}},
            {{"data": {{"id": "{ID}", "name": "Halima", "sex": "female"}}}}]"#
    );
    let Err(PrimeroError::Invalid(bad)) = read(&text, RecordKind::Case) else {
        panic!()
    };
    assert_eq!(bad.0.len(), 1, "{bad}");
    assert_eq!((bad.0[0].position, bad.0[0].field.as_str()), (3, "id"));
    assert!(bad.0[0].message.contains("id of record 1 too"), "{bad}");
    // Records without ids are never taken for one another, even when their content is the same.
    let same =
        r#"[{"data": {"name": "Omar", "sex": "male"}}, {"data": {"name": "Omar", "sex": "male"}}]"#;
    assert_eq!(read(same, RecordKind::Case).unwrap().len(), 2);
}

/// A name the kit cannot make a field path of was refused by the vault as "invalid change" at
/// the first such record (an entry's id holding `]` as having no unique_id at all).
#[test]
fn names_and_entry_ids_the_kit_cannot_path_are_bad_fields() {
    let text = r#"[{"data": {"name": "A", "sex": "male", "x[1]": "y", "": 2}},
        {"data": {"name": "B", "sex": "male",
            "family_details_section": [{"unique_id": "m", "relation": "mother"},
                                       {"unique_id": "a]b", "relation": "father"}]}}]"#;
    let Err(PrimeroError::Invalid(bad)) = read(text, RecordKind::Case) else {
        panic!()
    };
    let named: Vec<(usize, &str)> = bad
        .0
        .iter()
        .map(|b| (b.position, b.field.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (1, "``"),
            (1, "`x[1]`"),
            (2, "family_details_section[2].unique_id")
        ],
        "{bad}"
    );
    assert!(
        bad.to_string().contains("`a]b` cannot be an entry's id"),
        "{bad}"
    );
}

/// Primero links an incident made from a case by `incident_case_id`: such an incident has its
/// linked case, needs no survivor code, and comes back with Primero's name.
#[test]
fn a_primero_incident_made_from_a_case_has_its_linked_case() {
    let text = r#"[{"id": "5e8f7a10-0000-4000-8000-000000000001", "data": {
        "incident_id": "5e8f7a10-0000-4000-8000-000000000001", "incident_code": "0000001",
        "incident_date": "2019-03-01", "date_of_first_report": "2019-03-02",
        "incident_case_id": "b3222e84-a5d7-4692-a643-1ab3d41f17d6", "case_id_display": "f15a1a9",
        "description": "Test 1", "module_id": "primeromodule-gbv", "status": "open"}}]"#;
    let recs = read(text, RecordKind::Incident).unwrap();
    let mut clock = HlcClock::new(DeviceId(1));
    let doc = import(None, &recs[0], &mut clock, 1000);
    let record = doc.to_record().unwrap();
    let Record::Incident(i) = &record else {
        panic!()
    };
    assert_eq!(
        i.case_id.as_deref(),
        Some("b3222e84-a5d7-4692-a643-1ab3d41f17d6")
    );
    assert_eq!(
        validate(1, &record, Date::from_unix_ms(1_700_000_000_000)),
        []
    );
    // As given, with the id inside `data` too, as Primero's API writes it.
    let mut given: Value = serde_json::from_str(text).unwrap();
    given[0]["data"]["id"] = given[0]["id"].clone();
    assert_eq!(export(doc.to_json()), given[0]);
}

/// Registered in Jordan at 01:00 on the 5th, which is 22:00 UTC on the 4th: imported on the
/// 4th (UTC) it was refused as "in the future".
#[test]
fn a_record_written_after_local_midnight_east_of_utc_is_not_in_the_future() {
    let text = r#"[{"data": {"name": "Tz", "sex": "male", "age": 5,
        "registration_date": "2026-12-05T01:00:00.000+03:00"}}]"#;
    let recs = read(text, RecordKind::Case).unwrap();
    let today: Date = "2026-12-04".parse().unwrap();
    assert_eq!(validate(1, &recs[0].to_record().unwrap(), today), []);
}

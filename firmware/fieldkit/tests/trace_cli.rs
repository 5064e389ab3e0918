//! `fieldkit trace ...` end to end, on the sample Primero exports under tests/data/trace: on
//! files, and inside the vault after importing them (`trace run`).

use serde_json::Value;

mod common;

use common::{Kit, bare, trace_data as data};

fn fieldkit(args: &[&str]) -> (bool, String, String) {
    let out = bare().args(args).output().expect("run fieldkit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let (ok, out, err) = fieldkit(args);
    assert!(ok, "fieldkit {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn match_finds_each_child_with_explanations() {
    let cases = data("cases.json");
    let requests = data("requests.json");
    let v = json(&[
        "trace",
        "match",
        "--cases",
        &cases,
        "--requests",
        &requests,
        "--today",
        "2026-03-01",
        "--json",
    ]);
    let traces = v.as_array().unwrap();
    assert_eq!(traces.len(), 3);
    let first = |i: usize| &traces[i]["potential_matches"][0];
    // Latin against Arabic script, order swapped, age 11 against 9.
    assert_eq!(first(0)["case_id"], "JO-0001");
    assert_eq!(first(0)["likelihood"], "likely");
    let fields: Vec<&str> = first(0)["comparison"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in [
        "name",
        "sex",
        "age",
        "location_separation",
        "family_details_section",
    ] {
        assert!(fields.contains(&f), "{fields:?}");
    }
    // Family name first.
    assert_eq!(first(1)["case_id"], "KE-0002");
    assert_eq!(first(1)["likelihood"], "likely");
    // A nickname against the full name in Cyrillic.
    assert_eq!(first(2)["case_id"], "PL-0003");
    // Nobody else is offered for the nickname trace.
    assert_eq!(traces[2]["potential_matches"].as_array().unwrap().len(), 1);
}

#[test]
fn match_prints_a_readable_table() {
    let (ok, out, err) = fieldkit(&[
        "trace",
        "match",
        "--cases",
        &data("cases.json"),
        "--requests",
        &data("requests.json"),
        "--today",
        "2026-03-01",
        "--explain",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("likely"), "{out}");
    assert!(out.contains("same block"), "{out}");
    assert!(out.contains("(same name)"), "{out}");
}

#[test]
fn duplicates_finds_the_child_registered_twice() {
    let v = json(&[
        "trace",
        "duplicates",
        "--cases",
        &data("cases.json"),
        "--today",
        "2026-03-01",
        "--json",
    ]);
    let pairs = v.as_array().unwrap();
    assert_eq!(pairs[0]["first"], "JO-0001");
    assert_eq!(pairs[0]["second"], "JO-0005");
    assert_eq!(pairs[0]["likelihood"], "likely");
}

#[test]
fn triage_ranks_the_unaccompanied_child_first() {
    let v = json(&[
        "trace",
        "triage",
        "--cases",
        &data("cases.json"),
        "--today",
        "2026-03-01",
        "--json",
    ]);
    let first = &v.as_array().unwrap()[0];
    assert_eq!(first["case_id"], "JO-0005");
    assert_eq!(first["risk_level"], "high");
    assert_eq!(first["urgent_alert"], true);
    assert_eq!(first["reasons"][0]["rule"], "unaccompanied_under_12");
}

#[test]
fn bad_input_is_a_clear_error() {
    let (ok, _, err) = fieldkit(&[
        "trace",
        "match",
        "--cases",
        "/nonexistent.json",
        "--requests",
        &data("requests.json"),
    ]);
    assert!(!ok);
    assert!(err.contains("/nonexistent.json"), "{err}");
    let (ok, _, err) = fieldkit(&[
        "trace",
        "match",
        "--cases",
        &data("requests.json"),
        "--requests",
        &data("cases.json"),
        "--today",
        "yesterday",
    ]);
    assert!(!ok);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    // Swapped files are an error that says what each holds, not an empty result.
    let (ok, out, err) = fieldkit(&[
        "trace",
        "match",
        "--cases",
        &data("requests.json"),
        "--requests",
        &data("cases.json"),
    ]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("holds tracing_request records, not case records") && err.contains("swapped"),
        "{err}"
    );
    // Incidents are no tracing requests swapped in: they are just not cases.
    let dir = tempfile::tempdir().unwrap();
    let incidents = dir.path().join("incidents.json");
    std::fs::write(
        &incidents,
        r#"[{"data": {"incident_id": "5e8f7a10-0000-4000-8000-000000000001", "incident_date": "2019-03-01"}}]"#,
    )
    .unwrap();
    let (ok, _, err) = fieldkit(&[
        "trace",
        "match",
        "--cases",
        incidents.to_str().unwrap(),
        "--requests",
        &data("requests.json"),
    ]);
    assert!(!ok);
    assert!(
        err.contains("holds incident records, not case records") && !err.contains("swapped"),
        "{err}"
    );
}

#[test]
fn made_up_ids_do_not_repeat_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.json");
    let requests = dir.path().join("requests.json");
    std::fs::write(
        &cases,
        r#"[{"data": {"name": "Amina Yusuf", "sex": "female", "age": 9, "registration_date": "2025-01-01",
            "consent_for_tracing": true}}]"#,
    )
    .unwrap();
    std::fs::write(
        &requests,
        r#"[{"data": {"relation_name": "Halima", "inquiry_date": "2025-02-01",
            "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina Yusuf", "sex": "female", "age": 9}]}}]"#,
    )
    .unwrap();
    let v = json(&[
        "trace",
        "match",
        "--cases",
        cases.to_str().unwrap(),
        "--requests",
        requests.to_str().unwrap(),
        "--today",
        "2026-01-01",
        "--json",
    ]);
    let request_id = v[0]["tracing_request_id"].as_str().unwrap();
    let case_id = v[0]["potential_matches"][0]["case_id"].as_str().unwrap();
    assert_ne!(request_id, case_id);
}

#[test]
fn match_offers_only_cases_with_consent_recorded() {
    // Three registrations of the child a family seeks: one consents to tracing, one
    // refuses, one has no consent recorded. Only the first may be offered (Primero
    // matches only on `consent_for_tracing: true`).
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.json");
    let requests = dir.path().join("requests.json");
    let case = |id: &str, consent: &str| {
        format!(
            r#"{{"data": {{"case_id_display": "{id}", "name": "Amina Yusuf Abdi", "sex": "female",
                "age": 9, "registration_date": "2025-01-01", "location_separation": "KE-DA-IFO"{consent}}}}}"#
        )
    };
    std::fs::write(
        &cases,
        format!(
            "[{}, {}, {}]",
            case("KE-YES", r#", "consent_for_tracing": true"#),
            case("KE-NO", r#", "consent_for_tracing": false"#),
            case("KE-NONE", ""),
        ),
    )
    .unwrap();
    std::fs::write(
        &requests,
        r#"[{"data": {"tracing_request_id_display": "TR-1", "relation_name": "Halima Abdi",
            "inquiry_date": "2025-02-01",
            "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina Yusuf Abdi",
                "sex": "female", "age": 9, "location_separation": "KE-DA-IFO"}]}}]"#,
    )
    .unwrap();
    let v = json(&[
        "trace",
        "match",
        "--cases",
        cases.to_str().unwrap(),
        "--requests",
        requests.to_str().unwrap(),
        "--today",
        "2026-01-01",
        "--json",
    ]);
    let offered: Vec<&str> = v[0]["potential_matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["KE-YES"], "{v}");
}

#[test]
fn eval_reports_both_matchers() {
    let v = json(&["trace", "eval", "--cases", "1500", "--seed", "5", "--json"]);
    for who in ["ours", "baseline"] {
        for k in [
            "precision_likely",
            "recall_likely",
            "f1_likely",
            "precision_possible",
            "recall_at_5",
        ] {
            assert!(v[who][k].is_number(), "{who}.{k}: {v}");
        }
    }
    assert_eq!(v["seed"], 5);
}

#[test]
fn trace_run_matches_the_vaults_records() {
    let k = Kit::new();
    k.ok(&["import", &data("cases.json"), "--kind", "case"]);
    k.ok(&[
        "import",
        &data("requests.json"),
        "--kind",
        "tracing-request",
    ]);
    // The kit's own matching (today's date, its configured locations): what review offers.
    let v = k.json(&["trace", "run", "--json"]);
    let traces = v.as_array().unwrap();
    assert_eq!(traces.len(), 3);
    let t1 = traces.iter().find(|t| t["trace_id"] == "t1").unwrap();
    assert_eq!(t1["potential_matches"][0]["case_id"], "JO-0001");
    assert_eq!(t1["potential_matches"][0]["likelihood"], "likely");
    let offered = k.json(&["trace", "review", "list", "--json"]);
    let id = &t1["potential_matches"][0]["match_id"];
    assert!(
        offered.as_array().unwrap().iter().any(|m| m["id"] == *id),
        "{offered}"
    );
}

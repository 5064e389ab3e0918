//! The `fieldkit` command as a technician or a script uses it: init, caseworkers, cases,
//! tracing requests, search, export/import, audit; and the bad inputs that must fail clearly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{Kit, PIN, json};

#[test]
fn register_search_edit_and_show_a_case() {
    let k = Kit::logging("trace");
    let id = k.add_case(
        "Muhammad Yusuf",
        "male",
        "9",
        &[
            "--concern",
            "unaccompanied",
            "--family",
            "relation=mother,relation_name=Halima Yusuf",
        ],
    );
    k.add_case("أمينة يوسف", "female", "7", &[]);

    // Any spelling, any script.
    let found = json(&k.ok(&["case", "search", "Mohammed", "--json"]));
    assert_eq!(found[0]["name"], "Muhammad Yusuf");
    let found = json(&k.ok(&["case", "search", "Amina Yousef", "--json"]));
    assert_eq!(found[0]["name"], "أمينة يوسف");

    let short = &id[id.len() - 8..];
    let edited = k.ok(&[
        "case",
        "edit",
        short,
        "--age",
        "10",
        "--set",
        "notes=seen at the clinic",
    ]);
    assert!(edited.contains("2 fields changed"), "{edited}");
    let shown = json(&k.ok(&["case", "show", &id, "--json"]));
    assert_eq!(shown["data"]["age"], 10);
    assert_eq!(
        shown["data"]["family_details_section"][0]["relation_name"],
        "Halima Yusuf"
    );
    assert_eq!(shown["version"], 2);
    let listed = json(&k.ok(&["case", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let verified = json(&k.ok(&["audit", "verify", "--json"]));
    assert_eq!(verified["records_verified"], 2);
    assert!(verified["audit_entries"].as_u64().unwrap() > 10);
}

#[test]
fn tracing_requests_and_fields_from_a_primero_file() {
    let k = Kit::logging("trace");
    let file = k.tmp().join("tr.json");
    std::fs::write(
        &file,
        r#"{"data": {"relation_name": "Halima Yusuf", "relation": "mother",
            "tracing_request_subform_section": [{"name": "Amina Yusuf", "sex": "female", "age": 7}]}}"#,
    )
    .unwrap();
    k.ok(&["tracing", "add", "--from", file.to_str().unwrap()]);
    k.ok(&[
        "tracing",
        "add",
        "--inquirer",
        "Omar Haddad",
        "--relation",
        "father",
        "--child",
        "name=Sami Haddad,sex=male,age=12",
    ]);
    let listed = json(&k.ok(&["tracing", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // A child's name finds the request too.
    let found = json(&k.ok(&["tracing", "search", "Sami", "--json"]));
    assert_eq!(found[0]["name"], "Omar Haddad");
}

#[test]
fn primero_export_and_import_round_trip() {
    let k = Kit::logging("trace");
    k.add_case(
        "Amina Yusuf",
        "female",
        "9",
        &["--set", "ration_card_no=\"RC-17\""],
    );
    let exported = json(&k.ok(&[
        "export", "--format", "primero", "--kind", "case", "--to", "-",
    ]));
    assert_eq!(exported[0]["data"]["name"], "Amina Yusuf");
    assert_eq!(exported[0]["data"]["ration_card_no"], "RC-17");

    let other = Kit::logging("trace");
    let file = other.tmp().join("cases.json");
    std::fs::write(&file, serde_json::to_string(&exported).unwrap()).unwrap();
    let out = other.ok(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(out.contains("1 new or changed"), "{out}");
    // Importing again changes nothing.
    let out = other.ok(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(out.contains("0 new or changed"), "{out}");
    let shown = json(&other.ok(&["case", "list", "--json"]));
    assert_eq!(shown[0]["name"], "Amina Yusuf");
}

#[test]
fn bundles_open_only_in_their_own_vault() {
    let k = Kit::logging("trace");
    k.add_case("Amina Yusuf", "female", "9", &[]);
    let bundle = k.tmp().join("backup.fkb");
    k.ok(&["export", "--to", bundle.to_str().unwrap()]);
    let other = Kit::logging("trace");
    let err = other.fails_with(&["import", bundle.to_str().unwrap()], &[PIN]);
    assert!(err.contains("sealed for vault"), "{err}");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let err = k.fails_with(&["import", bundle.to_str().unwrap()], &[PIN]);
    assert!(
        err.contains("damaged") || err.contains("authentication"),
        "{err}"
    );
}

#[test]
fn bad_input_fails_clearly() {
    let k = Kit::logging("trace");
    let err = k.fails_with(&["case", "list"], &["000000"]);
    assert!(err.contains("wrong caseworker name or PIN"), "{err}");
    let err = k.fails_with(&["case", "add", "--name", "X", "--sex", "X"], &[PIN]);
    assert!(err.contains("sex: `X` is not a known sex"), "{err}");
    let err = k.fails_with(
        &[
            "case", "add", "--name", "X", "--sex", "female", "--age", "30",
        ],
        &[PIN],
    );
    assert!(err.contains("outside 0–17"), "{err}");
    let err = k.fails_with(
        &[
            "case",
            "add",
            "--name",
            "X",
            "--sex",
            "female",
            "--dob",
            "2999-01-01",
            "--estimated",
        ],
        &[PIN],
    );
    assert!(err.contains("in the future"), "{err}");
    let bad = k.tmp().join("bad.json");
    std::fs::write(
        &bad,
        "[{\"data\": {\"name\": \"A\", \"sex\": \"female\", \"age\": \"nine\"}}]",
    )
    .unwrap();
    let err = k.fails_with(&["import", bad.to_str().unwrap()], &[PIN]);
    assert!(err.contains("record 1: age:"), "{err}");
    let err = k.fails_with(&["case", "list"], &[]);
    assert!(err.contains("standard input ended"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
        .args([
            "--data-dir",
            empty.path().to_str().unwrap(),
            "--user",
            "a",
            "--pin-stdin",
            "case",
            "list",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("fieldkit init"));
}

#[test]
fn caseworkers_are_added_and_pins_changed() {
    let k = Kit::logging("trace");
    let out = k.run_with(
        &["caseworker", "add", "yusuf", "--display-name", "Yusuf"],
        &[PIN, "731905"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = json(&k.ok(&["caseworker", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let out = k.run_with(&["caseworker", "passwd"], &[PIN, "112358"]);
    assert!(out.status.success());
    let err = k.fails_with(&["case", "list"], &[PIN]);
    assert!(err.contains("wrong"), "{err}");
    let out = k.run_with(&["case", "list"], &["112358"]);
    assert!(out.status.success());
}

/// No file the kit writes (vault, logs, temporary files, exports left encrypted) contains a
/// child's name in the clear.
#[test]
fn no_plaintext_name_reaches_disk_or_logs() {
    let marker = "Zqvorbalixt Quenmarrow";
    let k = Kit::logging("trace");
    let mut logs = Vec::new();
    for args in [
        vec![
            "case",
            "add",
            "--name",
            marker,
            "--sex",
            "female",
            "--age",
            "8",
            "--set",
            "notes=Zqvorbalixt's notes",
        ],
        vec!["case", "search", "Zqvorbalixt"],
        vec!["case", "list"],
        vec![
            "tracing",
            "add",
            "--inquirer",
            marker,
            "--child",
            "name=Zqvorbalixt,sex=female",
        ],
        vec!["audit", "verify"],
        vec!["export", "--to", "BUNDLE"],
    ] {
        let bundle = k.tmp().join("out.fkb");
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "BUNDLE" {
                    bundle.to_str().unwrap()
                } else {
                    a
                }
            })
            .collect();
        let out = k.run_with(&args, &[PIN]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        logs.extend_from_slice(&out.stderr);
    }
    let log = String::from_utf8_lossy(&logs);
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "logging was not at trace level"
    );
    let needle = "Zqvorbalixt";
    assert!(!log.contains(needle), "a name reached the logs");
    // What could give the name away on disk: the name as typed and lowercased, and every term
    // the blind index derives from it (folded spelling, consonant skeleton, phonetic code),
    // whole and without its `n:`/`s:`/`p:` tag, in case the index stored them unencrypted.
    let mut patterns: Vec<String> = vec![needle.into(), needle.to_lowercase(), marker.into()];
    for name in [marker, needle, "Quenmarrow"] {
        for term in fieldkit_match::names::index_terms(name) {
            let body = term.split_once(':').map_or(term.as_str(), |(_, b)| b);
            // Shorter than 4 bytes, a term would turn up in random ciphertext by chance.
            if body.len() >= 4 {
                patterns.push(body.to_string());
            }
            patterns.push(term);
        }
    }
    patterns.sort();
    patterns.dedup();
    assert!(
        patterns.len() >= 6,
        "the index derives too few terms to check: {patterns:?}"
    );
    let mut files = 0;
    for dir in [k.data(), k.tmp()] {
        for entry in walk(dir) {
            let bytes = std::fs::read(&entry).unwrap();
            files += 1;
            for pat in &patterns {
                assert!(
                    !bytes.windows(pat.len()).any(|w| w == pat.as_bytes()),
                    "{} holds `{pat}`, derived from the name",
                    entry.display()
                );
            }
        }
    }
    assert!(files >= 2, "the vault and the bundle were not found");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_new_registration_is_triaged_and_matched_at_once() {
    let k = Kit::logging("trace");
    k.ok(&[
        "tracing",
        "add",
        "--inquirer",
        "Halima Yusuf",
        "--relation",
        "mother",
        "--child",
        "name=Mohammed Yusuf,sex=male,age=9",
    ]);
    // The child registers at another desk, his name written in Arabic, his age estimated at 11.
    let added = json(&k.ok(&[
        "case",
        "add",
        "--name",
        "محمد يوسف",
        "--sex",
        "male",
        "--age",
        "11",
        "--estimated",
        "--concern",
        "unaccompanied",
        "--family",
        "relation=mother,relation_name=Halima",
        // Only a case with consent to tracing is matched (issue 7, as Primero does).
        "--consent",
        "true",
        "--json",
    ]));
    assert_eq!(added["risk"]["level"], "high", "{added}");
    // An unaccompanied boy of 11: the rule for unaccompanied children under 12.
    assert!(
        added["urgent_alert"]["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "Unaccompanied child under 12")),
        "{added}"
    );
    let m = &added["potential_matches"][0];
    assert!(
        m["likelihood"] == "likely" || m["likelihood"] == "possible",
        "{added}"
    );
    assert_eq!(m["case_id"], added["id"]);
    // The explanation weighs the names, and the names speak for the match.
    let name_weight = m["comparison"]
        .as_array()
        .and_then(|c| c.iter().find(|f| f["field"] == "name"))
        .and_then(|f| f["weight"].as_f64());
    assert!(name_weight.is_some_and(|w| w > 0.0), "{added}");
    // The risk level and urgent flag were saved with the case.
    let shown = json(&k.ok(&["case", "show", added["id"].as_str().unwrap(), "--json"]));
    assert_eq!(shown["data"]["risk_level"], "high");
    assert_eq!(shown["data"]["urgent_protection_concern"], true);
}

//! The record commands as people meet them (issue 9): lookups checked on every path in, size
//! and control-character limits, the smaller input problems, readable lists, honest help,
//! progress only on a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::json;

mod common;

use common::{Kit, bin, text};

fn primero(records: &serde_json::Value) -> String {
    records.to_string()
}

// Item 1: lookups.

#[test]
fn a_misspelled_concern_is_refused_on_every_path_with_the_right_one_suggested() {
    let kit = Kit::new();
    // Flags.
    let err = kit.fails(&[
        "case",
        "add",
        "--name",
        "Amina",
        "--sex",
        "female",
        "--age",
        "8",
        "--concern",
        "unacompanied",
    ]);
    assert!(
        err.contains("protection_concerns: `unacompanied` is not a known protection concern; did you mean `unaccompanied`?"),
        "{err}"
    );
    // A JSON file, and a relation in it.
    let from = kit.file(
        "case.json",
        &json!({"name": "Amina", "sex": "female", "age": 8,
                "family_details_section": [{"relation": "mothr", "relation_name": "Halima"}]})
        .to_string(),
    );
    let err = kit.fails(&["case", "add", "--from", from.to_str().unwrap()]);
    assert!(
        err.contains("family_details_section[0].relation: `mothr` is not a known family relation; did you mean `mother`?"),
        "{err}"
    );
    // A Primero import: nothing imported, the record named by its place in the file.
    let file = kit.file(
        "cases.json",
        &primero(&json!([
            {"data": {"name": "Omar", "sex": "male", "age": 5}},
            {"data": {"name": "Ali", "sex": "male", "age": 6, "protection_concerns": ["separeted"]}},
        ])),
    );
    let err = kit.fails(&["import", file.to_str().unwrap()]);
    assert!(err.contains("1 bad record, nothing imported"), "{err}");
    assert!(err.contains("record 2"), "{err}");
    assert!(err.contains("did you mean `separated`"), "{err}");
    // An edit.
    kit.ok(&["case", "add", "--name", "Amina", "--sex", "F", "--age", "8"]);
    let id = kit.json(&["case", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = kit.fails(&["case", "edit", &id, "--concern", "trafficked"]);
    assert!(err.contains("did you mean `trafficked_smuggled`"), "{err}");
    // Only the good registration is there.
    assert_eq!(
        kit.json(&["case", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_letters_lists_show_are_accepted_and_saved_as_the_lists_ids() {
    let kit = Kit::new();
    let saved = kit.json(&[
        "case",
        "add",
        "--name",
        "Omar",
        "--sex",
        "M",
        "--age",
        "7",
        "--concern",
        "Unaccompanied",
        "--json",
    ]);
    assert_eq!(saved["data"]["sex"], "male");
    assert_eq!(
        saved["data"]["protection_concerns"],
        json!(["unaccompanied"])
    );
    // Spelled right (in any case), the concern raises the urgent alert.
    assert_eq!(saved["urgent_alert"]["case_id"], saved["id"]);
    let list = kit.ok(&["case", "list"]);
    assert!(list.contains(" M "), "{list}");
}

#[test]
fn a_configured_lookup_list_replaces_the_shipped_one() {
    let kit = Kit::new();
    let lookups = kit.file(
        "lookups.json",
        &json!({"data": [{"unique_id": "lookup-protection-concerns",
            "values": [{"id": "uasc", "display_text": {"en": "Unaccompanied or separated child"}}]}]})
        .to_string(),
    );
    let config = kit.file(
        "fieldkit.toml",
        &format!("lookups_file = {:?}\n", lookups.to_str().unwrap()),
    );
    let with_config = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        kit.run(&all)
    };
    let out = with_config(&[
        "case",
        "add",
        "--name",
        "Omar",
        "--sex",
        "male",
        "--age",
        "7",
        "--concern",
        "uasc",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = with_config(&[
        "case",
        "add",
        "--name",
        "Ali",
        "--sex",
        "male",
        "--age",
        "7",
        "--concern",
        "unaccompanied",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not a known protection concern"));
}

// Item 3: size limits.

#[test]
fn oversized_fields_and_records_are_refused_on_every_path_with_a_clear_message() {
    let kit = Kit::new();
    let notes = "n".repeat(25_000);
    let from = kit.file(
        "big.json",
        &json!({"name": "Amina", "sex": "female", "age": 8, "notes": notes}).to_string(),
    );
    let err = kit.fails(&["case", "add", "--from", from.to_str().unwrap()]);
    assert!(
        err.contains("notes: is longer than 20000 characters (25000 in all)"),
        "{err}"
    );
    let long_name = "A".repeat(201);
    let err = kit.fails(&[
        "case", "add", "--name", &long_name, "--sex", "female", "--age", "8",
    ]);
    assert!(
        err.contains("name: is longer than 200 characters (201 in all)"),
        "{err}"
    );
    // A record over 512 KiB made of fields each within their limit.
    let family: Vec<_> = (0..30)
        .map(|i| json!({"relation": "other", "relation_name": format!("R{i}"), "x_story": "s".repeat(19_000)}))
        .collect();
    let file = kit.file(
        "cases.json",
        &primero(&json!([{"data": {"name": "Omar", "sex": "male", "age": 5, "family_details_section": family}}])),
    );
    let err = kit.fails(&["import", file.to_str().unwrap()]);
    assert!(err.contains("record 1"), "{err}");
    assert!(err.contains("a record may hold at most 512 KiB"), "{err}");
    // An edit cannot grow a record past the limits either.
    let saved = kit.json(&[
        "case", "add", "--name", "Omar", "--sex", "male", "--age", "5", "--json",
    ]);
    let id = saved["id"].as_str().unwrap();
    let err = kit.fails(&["case", "edit", id, "--set", &format!("notes={notes}")]);
    assert!(err.contains("notes: is longer than"), "{err}");
}

// Item 4: control characters.

#[test]
fn control_characters_in_names_are_refused_on_input() {
    let kit = Kit::new();
    let err = kit.fails(&[
        "case",
        "add",
        "--name",
        "Ami\u{1b}[2Jna",
        "--sex",
        "female",
        "--age",
        "8",
    ]);
    assert!(
        err.contains("name: contains an escape code (terminal control) at character 4"),
        "{err}"
    );
    // The message itself never carries the raw escape to the terminal.
    assert!(!err.contains('\u{1b}'), "{err:?}");
    let file = kit.file(
        "cases.json",
        &primero(&json!([{"data": {"name": "Omar\tYusuf", "sex": "male", "age": 5}}])),
    );
    let err = kit.fails(&["import", file.to_str().unwrap()]);
    assert!(err.contains("record 1"), "{err}");
    assert!(err.contains("name: contains a tab at character 5"), "{err}");
    let err = kit.fails(&[
        "tracing",
        "add",
        "--inquirer",
        "Halima\nYusuf",
        "--child",
        "name=Amina",
    ]);
    assert!(
        err.contains("relation_name: contains a line break"),
        "{err}"
    );
}

#[test]
fn control_characters_are_never_printed_raw() {
    // Files given to `trace match` are not vault records: their names reach the output as
    // they are, escaped.
    let kit = Kit::new();
    let cases = kit.file(
        "cases.json",
        &primero(
            &json!([{"data": {"name": "Amina\u{1b}[31m Yusuf", "sex": "female", "age": 9,
            "consent_for_tracing": true}}]),
        ),
    );
    let requests = kit.file(
        "requests.json",
        &primero(&json!([{"data": {"relation_name": "Halima\tYusuf",
            "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina\u{1b}[31m Yusuf", "sex": "female", "age": 9}]}}])),
    );
    let out = kit.run(&[
        "trace",
        "match",
        "--cases",
        cases.to_str().unwrap(),
        "--requests",
        requests.to_str().unwrap(),
        "--explain",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("Amina\\u{1b}[31m Yusuf"), "{shown}");
}

// Item 5: the flag the age message names, commas in --family and --child.

#[test]
fn age_exception_has_its_flag_and_values_may_hold_commas() {
    let kit = Kit::new();
    let err = kit.fails(&[
        "case", "add", "--name", "Omar", "--sex", "male", "--age", "19",
    ]);
    assert!(err.contains("age_exception"), "{err}");
    let saved = kit.json(&[
        "case",
        "add",
        "--name",
        "Omar",
        "--sex",
        "male",
        "--age",
        "19",
        "--age-exception",
        "--family",
        r#"relation=mother,relation_name="Yusuf, Halima",relation_telephone="0790 123""#,
        "--json",
    ]);
    assert_eq!(saved["data"]["age_exception"], true);
    let mother = &saved["data"]["family_details_section"][0];
    assert_eq!(mother["relation_name"], "Yusuf, Halima");
    assert_eq!(mother["relation_telephone"], "0790 123");
    let saved = kit.json(&[
        "tracing",
        "add",
        "--inquirer",
        "Halima",
        "--relation",
        "mother",
        "--child",
        r"name=Yusuf\, Amina,sex=female,age=9",
        "--json",
    ]);
    let child = &saved["data"]["tracing_request_subform_section"][0];
    assert_eq!(child["name"], "Yusuf, Amina");
    assert_eq!(child["age"], 9);
}

// Item 8: headers, totals, plurals, export warnings.

#[test]
fn lists_have_a_header_and_say_how_many_there_are() {
    let kit = Kit::new();
    for name in ["Amina", "Omar", "Ali"] {
        kit.ok(&["case", "add", "--name", name, "--sex", "F", "--age", "8"]);
    }
    let page = kit.ok(&["case", "list", "--limit", "2"]);
    let lines: Vec<&str> = page.lines().collect();
    assert!(
        lines[0].starts_with("ID  ") && lines[0].contains("NAME"),
        "{page}"
    );
    assert_eq!(lines.len(), 4, "{page}");
    assert!(lines[3].starts_with("showing 2 of 3"), "{page}");
    let all = kit.ok(&["case", "list"]);
    assert!(all.lines().last().unwrap() == "3 records", "{all}");
    let found = kit.ok(&["case", "search", "Omar"]);
    assert!(found.starts_with("ID  "), "{found}");
}

#[test]
fn messages_count_in_the_singular_too() {
    let kit = Kit::new();
    let saved = kit.json(&[
        "case", "add", "--name", "Omar", "--sex", "male", "--age", "5", "--json",
    ]);
    let id = saved["id"].as_str().unwrap();
    let out = kit.ok(&["case", "edit", id, "--age", "6"]);
    assert!(out.contains("(1 field changed, version 2)"), "{out}");
    let out = kit.ok(&["case", "edit", id, "--age", "7", "--location", "JO-MA"]);
    assert!(out.contains("(2 fields changed, version 3)"), "{out}");
    // One wrong PIN.
    let out = kit.run_with(&["case", "list"], &["000000"]);
    let err = text(&out.stderr);
    assert!(err.contains("(1 failed attempt in a row)"), "{err}");
}

#[test]
fn plaintext_exports_warn_on_standard_output_and_over_an_existing_file() {
    let kit = Kit::new();
    kit.ok(&[
        "case", "add", "--name", "Omar", "--sex", "male", "--age", "5",
    ]);
    let out = kit.run(&["export", "--format", "primero", "--to", "-"]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("IN THE CLEAR to standard output"), "{err}");
    let to = kit.tmp().join("export.json");
    let first = kit.run(&[
        "export",
        "--format",
        "primero",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert!(!text(&first.stderr).contains("exists"));
    let again = kit.run(&[
        "export",
        "--format",
        "primero",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    let err = text(&again.stderr);
    assert!(err.contains("exists") && err.contains("replaced"), "{err}");
    let bundle = kit.tmp().join("backup.fkb");
    kit.ok(&["export", "--to", bundle.to_str().unwrap()]);
    let err = text(
        &kit.run(&["export", "--to", bundle.to_str().unwrap()])
            .stderr,
    );
    assert!(err.contains("replaced"), "{err}");
}

// Item 9: help that is true.

#[test]
fn case_list_is_in_registration_order_and_its_short_ids_open_cases() {
    let kit = Kit::new();
    kit.ok(&["case", "add", "--name", "Newer", "--sex", "F", "--age", "8"]);
    // Imported with an id that sorts after every id minted today, registered years ago.
    let file = kit.file(
        "cases.json",
        &primero(
            &json!([{"data": {"id": "ffffffff-0000-7000-8000-000000000001",
            "name": "Older", "sex": "female", "age": 9, "registration_date": "2019-05-01"}}]),
        ),
    );
    kit.ok(&["import", file.to_str().unwrap()]);
    let list = kit.ok(&["case", "list"]);
    let rows: Vec<&str> = list.lines().skip(1).take(2).collect();
    assert!(
        rows[0].contains("Older") && rows[1].contains("Newer"),
        "{list}"
    );
    // The short id the list prints is what `show` (and every command taking an id) takes.
    for row in rows {
        let short = row.split_whitespace().next().unwrap();
        assert_eq!(short.len(), 8, "{row}");
        let shown = kit.json(&["case", "show", short, "--json"]);
        assert!(
            shown["data"]["id"]
                .as_str()
                .unwrap()
                .replace('-', "")
                .ends_with(short)
        );
    }
    let help = kit.ok(&["case", "show", "--help"]);
    assert!(
        help.contains("short id (the last 8 hex digits lists print)"),
        "{help}"
    );
}

#[test]
fn case_add_json_prints_the_saved_record() {
    let kit = Kit::new();
    let saved = kit.json(&[
        "case", "add", "--name", "Omar", "--sex", "male", "--age", "5", "--json",
    ]);
    assert_eq!(saved["data"]["name"], "Omar");
    assert_eq!(saved["data"]["id"], saved["id"]);
    assert_eq!(saved["data"]["status"], "open");
    assert_eq!(saved["version"], 1);
    let shown = kit.json(&["case", "show", saved["id"].as_str().unwrap(), "--json"]);
    assert_eq!(shown["data"], saved["data"]);
}

#[test]
fn explain_adds_each_fields_evidence() {
    let data = common::trace_data;
    let run = |explain: bool| {
        let mut c = Command::new(bin());
        c.args(["--log", "warn", "trace", "match", "--cases"])
            .arg(data("cases.json"))
            .arg("--requests")
            .arg(data("requests.json"))
            .args(["--today", "2026-03-01"])
            .env_remove("FIELDKIT_CONFIG");
        if explain {
            c.arg("--explain");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let (plain, explained) = (run(false), run(true));
    assert!(plain.contains("likely"), "{plain}");
    assert!(!plain.contains("(same name)"), "{plain}");
    assert!(
        plain.contains("--explain shows each field's evidence"),
        "{plain}"
    );
    assert!(explained.contains("(same name)"), "{explained}");
    assert!(explained.lines().count() > plain.lines().count());
}

// Item 7: progress only on a terminal.

#[test]
fn trace_eval_shows_progress_on_a_terminal_only() {
    let args = "trace eval --cases 300 --seed 3";
    // A real pseudo-terminal, by util-linux's `script`.
    let tty = Command::new("script")
        .args(["-qec", &format!("{} --log warn {args}", bin()), "/dev/null"])
        .env_remove("FIELDKIT_CONFIG")
        .output()
        .expect("util-linux `script` runs a command on a pseudo-terminal");
    assert!(tty.status.success(), "{}", text(&tty.stderr));
    let seen = text(&tty.stdout);
    assert!(seen.contains("generating about 300 cases"), "{seen}");
    // Piped: the report only.
    let mut piped = Command::new(bin());
    piped
        .args(["--log", "warn"])
        .args(args.split(' '))
        .env_remove("FIELDKIT_CONFIG");
    let out = piped.output().unwrap();
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("generating"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("generating"));
    // --json on a terminal: quiet too.
    let json = Command::new("script")
        .args([
            "-qec",
            &format!("{} --log warn {args} --json", bin()),
            "/dev/null",
        ])
        .env_remove("FIELDKIT_CONFIG")
        .output()
        .unwrap();
    assert!(!text(&json.stdout).contains("generating"));
}

/// A risk level given at registration is kept when the rules find less, and what is printed is
/// what was saved (`case add --set risk_level=high` printed and saved `low`).
#[test]
fn a_risk_level_given_at_registration_is_kept_and_printed() {
    let kit = Kit::new();
    let out = kit.ok(&[
        "case",
        "add",
        "--name",
        "Omar Khalid",
        "--sex",
        "male",
        "--age",
        "14",
        "--set",
        "risk_level=high",
    ]);
    assert!(out.contains("risk: high"), "{out}");
    let saved = kit.json(&[
        "case",
        "add",
        "--name",
        "Ali Hassan",
        "--sex",
        "male",
        "--age",
        "14",
        "--set",
        "risk_level=high",
        "--json",
    ]);
    assert_eq!(saved["risk"]["level"], "high", "{saved}");
    assert_eq!(saved["data"]["risk_level"], "high", "{saved}");
}

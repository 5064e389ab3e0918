//! Imported cases are triaged, and the triage is kept (issue 9 item 2), without changing what a
//! Primero round trip gives back; importing the same file twice changes nothing the second
//! time. Through the `fieldkit` command on a real vault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::{Value, json};

mod common;

use common::{Kit, PIN, bin, text};

/// What these tests ask of the shared test vault.
trait Imports {
    fn import(&self, name: &str, content: &Value) -> String;
    fn cases(&self) -> Vec<Value>;
    fn version(&self, id: &str) -> u64;
}

impl Imports for Kit {
    fn import(&self, name: &str, content: &Value) -> String {
        let file = self.file(name, &content.to_string());
        self.ok(&["import", file.to_str().unwrap(), "--kind", "case"])
    }

    fn cases(&self) -> Vec<Value> {
        let list = self.json(&["case", "list", "--json", "--limit", "1000"]);
        list.as_array().unwrap().clone()
    }

    fn version(&self, id: &str) -> u64 {
        self.json(&["case", "show", id, "--json"])["version"]
            .as_u64()
            .unwrap()
    }
}

fn id(n: usize) -> String {
    format!("0190f5a2-2222-7000-8000-{n:012}")
}

/// A Primero export of cases: every third an unaccompanied child under 12 (urgent by the
/// shipped triage rules), the others separated teenagers; radio strings and datetimes as
/// Primero writes them; one case already carries a Primero caseworker's own risk level.
fn primero_file(n: usize) -> Value {
    let cases: Vec<Value> = (0..n)
        .map(|i| {
            let young = i.is_multiple_of(3);
            let mut data = json!({
                "id": id(i),
                "name": format!("Child {i} Yusuf"),
                "sex": if i.is_multiple_of(2) { "female" } else { "male" },
                "age": if young { 4 + (i % 8) } else { 15 },
                "consent_for_tracing": "true",
                "registration_date": "2025-03-14T10:20:30.000Z",
                "protection_concerns": if young { json!(["unaccompanied"]) } else { json!(["separated"]) },
                "family_details_section": [
                    {"unique_id": format!("f{i}"), "relation": "mother", "relation_name": "Halima Yusuf",
                     "relation_is_caregiver": "false"}
                ]
            });
            if i == 1 {
                data["risk_level"] = json!("medium");
            }
            json!({"id": id(i), "data": data})
        })
        .collect();
    Value::Array(cases)
}

#[test]
fn imported_unaccompanied_young_children_are_flagged_urgent_and_the_round_trip_is_unchanged() {
    let k = Kit::new();
    let file = primero_file(30);
    let out = k.import("cases.json", &file);
    assert!(
        out.contains("30 case records read, 30 new or changed"),
        "{out}"
    );
    assert!(out.contains("10 URGENT ALERTS"), "{out}");

    // The triage is saved: the list shows every young unaccompanied child urgent and high.
    let listed = k.cases();
    assert_eq!(listed.len(), 30);
    for s in &listed {
        let n: usize = s["id"].as_str().unwrap()[24..].parse().unwrap();
        let young = n.is_multiple_of(3);
        assert_eq!(s["urgent"], json!(young), "{s}");
        if young {
            assert_eq!(s["risk_level"], json!("high"), "{s}");
        }
    }
    // A Primero caseworker's own level is kept as given (the kit's beside it, never lower).
    let one = k.json(&["case", "show", &id(1), "--json"]);
    assert_eq!(one["data"]["risk_level"], json!("medium"), "{one}");

    // The export gives back exactly what came in: the kit's triage is not Primero's data.
    let exported = k.json(&[
        "export", "--format", "primero", "--kind", "case", "--to", "-",
    ]);
    assert_eq!(exported, file);

    // And the triage survives a restart (it is in the vault, not only in the import's output).
    let again = k.cases();
    assert_eq!(
        again.iter().filter(|s| s["urgent"] == json!(true)).count(),
        10
    );
}

#[test]
fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let k = Kit::new();
    let file = primero_file(12);
    let first = k.import("cases.json", &file);
    assert!(
        first.contains("12 case records read, 12 new or changed"),
        "{first}"
    );
    let versions: Vec<u64> = (0..12).map(|i| k.version(&id(i))).collect();
    let audit_before = k
        .json(&["audit", "list", "--json"])
        .as_array()
        .unwrap()
        .len();

    let second = k.import("cases.json", &file);
    assert!(
        second.contains("12 case records read, 0 new or changed"),
        "{second}"
    );
    assert!(!second.contains("URGENT"), "{second}");
    assert!(!second.contains("potential matches"), "{second}");
    let after: Vec<u64> = (0..12).map(|i| k.version(&id(i))).collect();
    assert_eq!(versions, after);
    // Nothing was written but the import's own audit entries.
    let audit = k.json(&["audit", "list", "--json"]);
    let new: Vec<&Value> = audit.as_array().unwrap()[audit_before..].iter().collect();
    assert!(
        new.iter()
            .all(|e| e["action"] != json!("Write") && e["action"] != json!("Merge")),
        "{new:?}"
    );

    // The same records in a file with one changed field: only that record changes.
    let mut changed = file.clone();
    changed[4]["data"]["name"] = json!("Child 4 Yusuf Adam");
    let third = k.import("changed.json", &changed);
    assert!(
        third.contains("12 case records read, 1 new or changed"),
        "{third}"
    );
    assert_eq!(k.version(&id(4)), versions[4] + 1);
    assert_eq!(k.version(&id(5)), versions[5]);
}

// Issue 9 item 7: a large import shows a bar on a terminal, nothing when piped.

#[test]
fn an_import_shows_a_bar_on_a_terminal_and_nothing_when_piped() {
    let k = Kit::new();
    let file = k.file("many.json", &primero_file(600).to_string());
    // The PIN from a file only its owner reads: standard input is the terminal here.
    let pin = k.file("pin", &format!("{PIN}\n"));
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
    let line = format!(
        "{} --data-dir {} --user amina --log warn --pin-file {} import {} --kind case",
        bin(),
        k.data().display(),
        pin.display(),
        file.display()
    );
    // A real pseudo-terminal, by util-linux's `script`.
    let tty = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("FIELDKIT_CONFIG")
        .env("TMPDIR", k.tmp())
        .output()
        .expect("util-linux `script` runs a command on a pseudo-terminal");
    let seen = text(&tty.stdout);
    assert!(tty.status.success(), "{seen}");
    assert!(
        seen.contains("saving, triaging and matching 600 records"),
        "{seen}"
    );
    // The bar: its share done, drawn before the summary.
    assert!(seen.contains('%') && seen.contains("left)"), "{seen}");
    assert!(seen.contains("600 case records read, 600 new or changed"));

    // Piped: the summary only (the same file again, so nothing changes).
    let out = k.run(&["import", file.to_str().unwrap(), "--kind", "case"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.is_empty(), "{stderr}");
    assert!(!stdout.contains('%'), "{stdout}");
    assert_eq!(
        stdout.trim(),
        "600 case records read, 0 new or changed",
        "{stdout}"
    );
}

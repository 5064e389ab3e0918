//! Registration from the command line through the kit's application core: potential matches
//! saved as records, reviewed with `trace review`, consent and closure respected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Kit;

fn add_request(k: &Kit) -> serde_json::Value {
    k.json(&[
        "tracing",
        "add",
        "--inquirer",
        "Halima Yusuf",
        "--relation",
        "mother",
        "--child",
        "name=Mohammed Yusuf,sex=male,age=9,location_separation=JO-MA-ZAATARI",
        "--json",
    ])
}

fn add_case(k: &Kit, consent: Option<&str>) -> serde_json::Value {
    let mut args = vec![
        "case",
        "add",
        "--name",
        "محمد يوسف",
        "--sex",
        "male",
        "--age",
        "9",
        "--separation-place",
        "JO-MA-ZAATARI",
        "--family",
        "relation=mother,relation_name=Halima Yusuf",
        "--json",
    ];
    if let Some(c) = consent {
        args.extend(["--consent", c]);
    }
    k.json(&args)
}

fn pending(k: &Kit) -> Vec<serde_json::Value> {
    k.json(&["trace", "review", "list", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn matches_are_saved_and_reviewed_from_the_command_line() {
    let k = Kit::new();
    let request = add_request(&k);
    assert!(request["potential_matches"].as_array().unwrap().is_empty());
    let case = add_case(&k, Some("true"));
    let proposed = &case["potential_matches"][0];
    assert_eq!(proposed["case_id"], case["id"]);
    assert_eq!(proposed["status"], "pending");

    // Saved: a later command lists it.
    let listed = pending(&k);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], proposed["match_id"]);
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let short = &id[id.len() - 8..];
    let text = k.ok(&["trace", "review", "show", short]);
    assert!(text.contains("evidence:"), "{text}");
    assert!(text.contains("محمد يوسف"), "{text}");
    // Both sides' sex in Primero's words, not Rust's debug text.
    let sex = text
        .lines()
        .find(|l| l.trim_start().starts_with("sex "))
        .unwrap();
    assert_eq!(
        sex.split_whitespace().collect::<Vec<_>>(),
        ["sex", "male", "male"],
        "{text}"
    );

    let decided = k.json(&[
        "trace",
        "review",
        "confirm",
        short,
        "--note",
        "the mother knew him",
        "--json",
    ]);
    assert_eq!(decided["status"], "confirmed");
    assert_eq!(decided["reviewed_by"], "amina");
    assert_eq!(decided["review_note"], "the mother knew him");
    assert!(pending(&k).is_empty());
    let confirmed = k.json(&["trace", "review", "list", "--status", "confirmed", "--json"]);
    assert_eq!(confirmed.as_array().unwrap().len(), 1);

    // Primero's fields on both records.
    let req = k.json(&["tracing", "show", request["id"].as_str().unwrap(), "--json"]);
    assert_eq!(
        req["data"]["tracing_request_subform_section"][0]["matched_case_id"],
        case["id"]
    );
    let shown = k.json(&["case", "show", case["id"].as_str().unwrap(), "--json"]);
    assert_eq!(shown["data"]["matched_tracing_request_id"], request["id"]);
    // The decision is audited.
    let audit = k.ok(&["audit", "list"]);
    assert!(audit.contains("potential_match"), "{audit}");
    assert!(
        audit.contains(&format!(
            "potential match confirmed (same child): potential_match {id}"
        )),
        "{audit}"
    );
}

#[test]
fn a_rejected_match_is_not_proposed_again() {
    let k = Kit::new();
    add_request(&k);
    add_case(&k, Some("true"));
    let id = pending(&k)[0]["id"].as_str().unwrap().to_string();
    k.ok(&["trace", "review", "reject", &id, "--note", "other family"]);
    assert!(pending(&k).is_empty());
    let out = k.ok(&["trace", "run"]);
    assert!(!out.is_empty());
    assert!(pending(&k).is_empty());
    let rejected = k.json(&["trace", "review", "list", "--status", "rejected", "--json"]);
    assert_eq!(rejected[0]["review_note"], "other family");
}

#[test]
fn consent_is_respected_from_the_command_line() {
    let k = Kit::new();
    add_request(&k);
    let none = add_case(&k, None);
    assert!(none["potential_matches"].as_array().unwrap().is_empty());
    let refused = add_case(&k, Some("false"));
    assert!(refused["potential_matches"].as_array().unwrap().is_empty());
    assert!(pending(&k).is_empty());
    let id = none["id"].as_str().unwrap();
    let edited = k.json(&["case", "edit", id, "--consent", "true", "--json"]);
    assert_eq!(edited["potential_matches"].as_array().unwrap().len(), 1);
    assert_eq!(pending(&k).len(), 1);
}

#[test]
fn a_closed_case_is_never_proposed() {
    let k = Kit::new();
    let case = add_case(&k, Some("true"));
    let id = case["id"].as_str().unwrap();
    k.ok(&["case", "close", id, "--reason", "reunified"]);
    let request = add_request(&k);
    assert!(request["potential_matches"].as_array().unwrap().is_empty());
    assert!(pending(&k).is_empty());
    let shown = k.json(&["case", "show", id, "--json"]);
    assert_eq!(shown["data"]["status"], "closed");
    assert_eq!(shown["data"]["closure_reason"], "reunified");
    let reopened = k.json(&["case", "reopen", id, "--json"]);
    assert_eq!(reopened["potential_matches"].as_array().unwrap().len(), 1);
    assert_eq!(pending(&k).len(), 1);
    // Assignment, follow-ups and services use Primero's names.
    k.ok(&["case", "assign", id, "--user", "omar", "--user", "amina"]);
    k.ok(&[
        "case",
        "followup",
        id,
        "--type",
        "in_care",
        "--date",
        "2026-01-10",
        "--action",
        "home visit",
    ]);
    k.ok(&[
        "case",
        "service",
        id,
        "--type",
        "family_tracing",
        "--provider",
        "ICRC",
    ]);
    let shown = k.json(&["case", "show", id, "--json"]);
    assert_eq!(
        shown["data"]["assigned_user_names"],
        serde_json::json!(["omar", "amina"])
    );
    assert_eq!(
        shown["data"]["followup_subform_section"][0]["followup_type"],
        "in_care"
    );
    assert_eq!(
        shown["data"]["services_section"][0]["service_provider"],
        "ICRC"
    );
}

/// `trace run` prints what the kit proposes: a rejected pair is not printed as a match (it
/// printed it, from a matcher of its own over every decrypted record, review ignored).
#[test]
fn trace_run_prints_what_is_proposed_not_what_was_rejected() {
    let k = Kit::new();
    let request = add_request(&k);
    let case = add_case(&k, Some("true"));
    let printed = |k: &Kit| -> Vec<String> {
        let v = k.json(&["trace", "run", "--json"]);
        let traces = v.as_array().unwrap();
        assert_eq!(traces.len(), 1, "{v}");
        assert_eq!(traces[0]["tracing_request_id"], request["id"]);
        traces[0]["potential_matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["match_id"].as_str().unwrap().to_string())
            .collect()
    };
    let id = pending(&k)[0]["id"].as_str().unwrap().to_string();
    assert_eq!(printed(&k), vec![id.clone()]);
    let text = k.ok(&["trace", "run", "--explain"]);
    assert!(text.contains(case["id"].as_str().unwrap()), "{text}");
    assert!(text.contains("family_details_section"), "{text}");

    k.ok(&["trace", "review", "reject", &id, "--note", "other family"]);
    assert!(printed(&k).is_empty());
    let text = k.ok(&["trace", "run"]);
    assert!(!text.contains(case["id"].as_str().unwrap()), "{text}");
    assert!(text.contains("no potential match"), "{text}");
}

/// Review from the command line as a reviewer would try it: wrong ids, a decision taken twice,
/// a confirmation taken back (both records unlinked, the trace sought again), a second child
/// for a trace already matched.
#[test]
fn review_mistakes_are_named_and_a_confirmation_can_be_taken_back() {
    let k = Kit::new();
    let request = add_request(&k);
    let case = add_case(&k, Some("true"));
    let id = pending(&k)[0]["id"].as_str().unwrap().to_string();
    for wrong in ["zzzz", "12", "00000000-0000-0000-0000-000000000000"] {
        let err = k.fails(&["trace", "review", "confirm", wrong]);
        assert!(err.contains("no potential match"), "{wrong}: {err}");
        assert!(err.contains("trace review list"), "{wrong}: {err}");
    }
    k.ok(&[
        "trace",
        "review",
        "confirm",
        &id,
        "--note",
        "his mother knew him",
    ]);
    let err = k.fails(&["trace", "review", "confirm", &id]);
    assert!(err.contains("already confirmed"), "{err}");

    // A second child for the same trace is refused while the first is confirmed.
    let other = k.json(&[
        "case",
        "add",
        "--name",
        "Mohamed Yousef",
        "--sex",
        "male",
        "--age",
        "9",
        "--consent",
        "true",
        "--json",
    ]);
    assert!(
        other["potential_matches"].as_array().unwrap().is_empty(),
        "the trace is matched: not sought any more"
    );

    // Taken back: both records unlinked, and the trace is sought again.
    k.ok(&[
        "trace",
        "review",
        "reject",
        &id,
        "--note",
        "not him after all",
    ]);
    let req = k.json(&["tracing", "show", request["id"].as_str().unwrap(), "--json"]);
    assert!(
        req["data"]["tracing_request_subform_section"][0]
            .get("matched_case_id")
            .is_none(),
        "{req}"
    );
    let shown = k.json(&["case", "show", case["id"].as_str().unwrap(), "--json"]);
    assert!(
        shown["data"].get("matched_tracing_request_id").is_none(),
        "{shown}"
    );
    let offered = pending(&k);
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert_eq!(offered[0]["case_id"], other["id"]);
    // The first child is not proposed again (rejected, nothing changed).
    let audit = k.ok(&["audit", "list"]);
    assert!(audit.contains("potential match rejected"), "{audit}");

    // The other child confirmed; the first cannot be confirmed for the same trace now.
    let second = offered[0]["id"].as_str().unwrap().to_string();
    k.ok(&["trace", "review", "confirm", &second]);
    let err = k.fails(&["trace", "review", "confirm", &id]);
    assert!(err.contains("already matched to case"), "{err}");
}

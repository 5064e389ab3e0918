//! Records of any shape through everything that reads records: Primero JSON, the vault, the
//! matcher and triage.
//!
//! - Valid generated records (`fieldkit_testkit::arb`) round-trip: exported to Primero JSON and
//!   read back (one record, an array, a list response), and saved in a vault and opened again,
//!   they are the same records.
//! - Any record the types admit (blank names, ages from `i64::MIN` to `i64::MAX`, dates from
//!   year −9999 to 9999, subform entries with empty or repeated keys) goes through validation,
//!   Primero export and import, the matcher (profiles, tracing matches, duplicates), triage and
//!   the blind index's terms without a panic.
//!
//! `PROPTEST_CASES` sets the number of cases; failing cases are kept beside this file for
//! replay (`any_record.proptest-regressions`).
#![allow(clippy::unwrap_used)]

use fieldkit_domain::{Date, Record, RecordKind, primero};
use fieldkit_match::duplicates::find_duplicates;
use fieldkit_match::matcher::{MatchSettings, ProfileIndex, match_changed};
use fieldkit_match::profile::{ChildProfile, Locations};
use fieldkit_match::triage::TriageRules;
use fieldkit_scenarios::{NOW_MS, USER, create_vault, lenient_policy};
use fieldkit_testkit::{arb, proptest_config};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

fn today() -> Date {
    Date::from_unix_ms(NOW_MS)
}

fn of_kind(records: &[Record], kind: RecordKind) -> Vec<Record> {
    records
        .iter()
        .filter(|r| r.kind() == kind)
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(proptest_config(96))]

    #[test]
    fn valid_records_round_trip_through_primero_json(
        records in proptest::collection::vec(arb::valid_record(today()), 1..5)
    ) {
        for kind in RecordKind::ALL {
            let rs = of_kind(&records, kind);
            for r in &rs {
                prop_assert!(r.validate(today()).is_ok(), "{:?}", r.validate(today()));
                let text = primero::to_primero(r).to_string();
                let back = primero::parse_records(&text, kind);
                prop_assert_eq!(back.as_ref().map_err(ToString::to_string), Ok(&vec![r.clone()]));
            }
            if rs.is_empty() {
                continue;
            }
            let exported: Vec<Value> = rs.iter().map(primero::to_primero).collect();
            let array = Value::Array(exported).to_string();
            let back = primero::parse_records(&array, kind);
            prop_assert_eq!(back.as_ref().map_err(ToString::to_string), Ok(&rs));
            let data: Vec<Value> = rs.iter().map(Record::to_json).collect();
            let listed = json!({"data": data, "metadata": {"total": rs.len()}}).to_string();
            let back = primero::parse_records(&listed, kind);
            prop_assert_eq!(back.as_ref().map_err(ToString::to_string), Ok(&rs));
        }
    }

    #[test]
    fn nothing_panics_on_any_record(
        records in proptest::collection::vec(arb::any_record(), 1..6)
    ) {
        let today = today();
        let mut cases = Vec::new();
        let mut requests = Vec::new();
        for r in &records {
            let _ = r.validate(today);
            let json = r.to_json();
            let _ = Record::from_json(r.kind(), json);
            let text = primero::to_primero(r).to_string();
            let _ = primero::parse_records(&text, r.kind());
            match r {
                Record::Case(c) => {
                    for n in c.names() {
                        let _ = fieldkit_match::names::index_terms(n);
                    }
                    let _ = TriageRules::default_rules().assess(c, today);
                    cases.push((**c).clone());
                }
                Record::TracingRequest(t) => requests.push((**t).clone()),
                Record::Incident(_) | Record::PotentialMatch(_) => {}
            }
        }
        let settings = MatchSettings::default();
        let found = match_changed(
            &cases,
            &requests,
            cases.iter(),
            requests.iter(),
            &Locations::CodePrefixes,
            today,
            &settings,
        );
        for m in &found {
            prop_assert!(requests.iter().any(|r| r.traces().iter().any(|t| t.unique_id == m.trace_id)));
        }
        let profiles = cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &Locations::CodePrefixes, today))
            .collect();
        let pairs = find_duplicates(&ProfileIndex::new(profiles), &settings);
        prop_assert!(pairs.len() <= cases.len() * cases.len());
    }
}

/// Valid records saved in a vault open again as the same records (one vault for all cases: a
/// vault costs an Argon2 derivation to create).
#[test]
fn valid_records_round_trip_through_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let path = fieldkit_vault::Vault::file_in(dir.path());
    // The runner takes a `Fn`: the session and the count live in cells.
    let s = std::cell::RefCell::new(create_vault(&path, lenient_policy()).unwrap());
    let mut runner = TestRunner::new(proptest_config(64));
    let saved = std::cell::Cell::new(0u64);
    runner
        .run(
            &proptest::collection::vec(arb::valid_record(today()), 1..4),
            |records| {
                let mut s = s.borrow_mut();
                s.create_many(&records, NOW_MS)
                    .map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
                for r in &records {
                    let opened = s
                        .get(r.kind(), r.id(), NOW_MS)
                        .map_err(|e| TestCaseError::fail(format!("reading back: {e}")))?;
                    prop_assert_eq!(&opened.record, r);
                    prop_assert!(opened.conflicts.is_empty());
                }
                saved.set(saved.get() + records.len() as u64);
                Ok(())
            },
        )
        .unwrap();
    let s = s.into_inner();
    assert_eq!(s.verify().unwrap(), saved.get());
    assert_eq!(s.caseworker().username, USER);
}

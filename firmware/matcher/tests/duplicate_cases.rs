//! Hand-written hard cases for duplicate registrations: each row is two cases and what
//! duplicate detection must make of them (one child registered twice, or two
//! children: siblings, namesakes), among distractor cases that must never pair as
//! likely.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use fieldkit_domain::{Case, Date};
use fieldkit_match::duplicates::{DuplicateIndex, find_duplicates};
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex};
use fieldkit_match::profile::{ChildProfile, Locations};
use serde_json::{Value, json};

fn today() -> Date {
    "2026-03-01".parse().unwrap()
}

fn case(v: Value) -> Case {
    let mut v = v;
    v["consent_for_tracing"] = json!(true);
    serde_json::from_value(v).unwrap()
}

/// Cases every row is checked among.
fn distractors() -> Vec<Case> {
    vec![
        case(json!({"name": "Omar Khalid", "sex": "male", "age": 9,
            "location_separation": "JO-MA-ZAATARI-D1",
            "family_details_section": [{"relation": "mother", "relation_name": "Salma Nabil"}]})),
        case(json!({"name": "Deng Garang", "sex": "male", "age": 13,
            "location_separation": "KE-KK-KAKUMA"})),
        case(json!({"name": "Олена Коваленко", "sex": "female", "age": 12})),
        case(json!({"name": "Ahmad Yusuf", "sex": "male", "age": 10,
            "family_details_section": [{"relation": "mother", "relation_name": "Maryam Saeed"}]})),
        case(json!({"name": "Aisha Hassan", "sex": "female", "age": 7,
            "location_separation": "JO-MA-AZRAQ"})),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// One child: the pair is found and classed likely.
    Likely,
    /// Two children: the pair is never likely (possible at most, or not found).
    NotLikely,
}

struct Row {
    what: &'static str,
    first: Value,
    second: Value,
    want: Want,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            what: "one child re-registered: Arabic script against Latin, age 9 against 11",
            first: json!({"name": "محمد علي حسن", "sex": "male", "age": 9, "estimated": true,
                "date_of_separation": "2025-06-10", "location_separation": "JO-MA-ZAATARI-D3",
                "nationality": ["syrian"], "language": ["arabic"],
                "family_details_section": [{"relation": "mother", "relation_name": "فاطمة يوسف"}]}),
            second: json!({"name": "Mohammed Ali Hassan", "sex": "male", "age": 11, "estimated": true,
                "date_of_separation": "2025-06-21", "location_separation": "JO-MA-ZAATARI",
                "nationality": ["syrian"],
                "family_details_section": [{"relation": "mother", "relation_name": "Fatima Yousef"},
                                           {"relation": "father", "relation_name": "Ali Hassan Omar"}]}),
            want: Want::Likely,
        },
        Row {
            what: "one child re-registered: Cyrillic against Latin, family name first",
            first: json!({"name": "Шевченко Олександр", "sex": "male", "age": 12,
                "location_separation": "PL-LU-CHELM-B2", "date_of_separation": "2025-03-02",
                "family_details_section": [{"relation": "mother", "relation_name": "Олена Шевченко"}]}),
            second: json!({"name": "Oleksandr Shevchenko", "name_nickname": "Sasha", "sex": "male",
                "age": 13, "location_separation": "PL-LU-CHELM-B2", "date_of_separation": "2025-02-20",
                "family_details_section": [{"relation": "mother", "relation_name": "Olena Shevchenko"}]}),
            want: Want::Likely,
        },
        Row {
            what: "one child re-registered: Somali orthography against English spelling",
            first: json!({"name": "Maxamed Cabdi Xasan", "sex": "male", "age": 10,
                "location_separation": "KE-R1-C2-B3", "date_of_separation": "2024-09-01",
                "language": ["somali"],
                "family_details_section": [{"relation": "mother", "relation_name": "Xaliimo Faarax"}]}),
            second: json!({"name": "Mohamed Abdi Hassan", "sex": "male", "age": 12,
                "location_separation": "KE-R1-C2", "date_of_separation": "2024-09-12",
                "language": ["somali"],
                "family_details_section": [{"relation": "mother", "relation_name": "Halimo Farah"}]}),
            want: Want::Likely,
        },
        Row {
            what: "two siblings with the same parents, separated together",
            first: json!({"name": "Amina Yusuf Ali", "sex": "female", "age": 9,
                "date_of_separation": "2025-06-10", "location_separation": "JO-MA-ZAATARI-D3",
                "family_details_section": [{"relation": "mother", "relation_name": "Halima Omar"},
                                           {"relation": "father", "relation_name": "Yusuf Ali Hassan"}]}),
            second: json!({"name": "Khadija Yusuf Ali", "sex": "female", "age": 11,
                "date_of_separation": "2025-06-10", "location_separation": "JO-MA-ZAATARI-D3",
                "family_details_section": [{"relation": "mother", "relation_name": "Halima Omar"},
                                           {"relation": "father", "relation_name": "Yusuf Ali Hassan"}]}),
            want: Want::NotLikely,
        },
        Row {
            what: "two brothers whose given names only sound alike (Abdirahman, Abdikadir)",
            first: json!({"name": "Abdirahman Farah Hirsi", "sex": "male", "age": 7,
                "date_of_separation": "2024-05-03", "location_separation": "KE-R1-C2-B3",
                "family_details_section": [{"relation": "mother", "relation_name": "Ifrah Awil Mohamud"}]}),
            second: json!({"name": "Abdikadir Farah Hirsi", "sex": "male", "age": 9,
                "date_of_separation": "2024-05-10", "location_separation": "KE-R1-C2-B3",
                "family_details_section": [{"relation": "mother", "relation_name": "Ifrah Awil"}]}),
            want: Want::NotLikely,
        },
        Row {
            what: "two sisters with near-identical names (Freshta, Fereshta), one listing the other",
            first: json!({"name": "Freshta Stanikzai", "sex": "female", "age": 9,
                "family_details_section": [{"relation": "father", "relation_name": "Najib Stanikzai"},
                                           {"relation": "sister", "relation_name": "Fereshta Stanikzai"}]}),
            second: json!({"name": "Fereshta Stanikzai", "sex": "female", "age": 10,
                "family_details_section": [{"relation": "father", "relation_name": "Najib Stanikzai"}]}),
            want: Want::NotLikely,
        },
        Row {
            what: "twins: one date of birth, two given names",
            first: json!({"name": "Hassan Omar Saeed", "sex": "male", "age": 6,
                "date_of_birth": "2019-04-02", "estimated": false,
                "family_details_section": [{"relation": "mother", "relation_name": "Huda Kamal"}]}),
            second: json!({"name": "Hussein Omar Saeed", "sex": "male", "age": 6,
                "date_of_birth": "2019-04-02", "estimated": false,
                "family_details_section": [{"relation": "mother", "relation_name": "Huda Kamal"}]}),
            want: Want::NotLikely,
        },
        Row {
            what: "two unrelated children with the same common name in different camps",
            first: json!({"name": "Mohammed Ali", "sex": "male", "age": 10,
                "location_separation": "JO-MA-ZAATARI-D3", "date_of_separation": "2025-06-10",
                "family_details_section": [{"relation": "mother", "relation_name": "Fatima Hassan"}]}),
            second: json!({"name": "Muhammad Ali", "sex": "male", "age": 10,
                "location_separation": "JO-MA-AZRAQ-V5", "date_of_separation": "2024-11-02",
                "family_details_section": [{"relation": "mother", "relation_name": "Amina Khalil"}]}),
            want: Want::NotLikely,
        },
        Row {
            what: "two unrelated children with the same common name, different camps, nothing else known",
            first: json!({"name": "Mohammed Ali", "sex": "male", "age": 10,
                "location_separation": "JO-MA-ZAATARI-D3"}),
            second: json!({"name": "Muhammad Ali", "sex": "male", "age": 10,
                "location_separation": "JO-MA-AZRAQ-V5"}),
            want: Want::NotLikely,
        },
    ]
}

#[test]
fn duplicate_hard_cases() {
    let loc = Locations::CodePrefixes;
    let settings = MatchSettings::default();
    for row in rows() {
        let mut cases = distractors();
        cases.push(case(row.first.clone()));
        cases.push(case(row.second.clone()));
        let (a, b) = (cases.len() - 2, cases.len() - 1);
        let index = ProfileIndex::new(
            cases
                .iter()
                .map(|c| ChildProfile::from_case(c, &loc, today()))
                .collect(),
        );
        let dups = DuplicateIndex::new(&index);
        let explain = || -> String {
            dups.explain(a, b, &settings)
                .iter()
                .map(|f| format!("{} {:+.1} {}", f.field, f.weight, f.detail))
                .collect::<Vec<_>>()
                .join("\n    ")
        };
        let found = dups.find(&settings);
        let pair = found.iter().find(|d| (d.first, d.second) == (a, b));
        match row.want {
            Want::Likely => assert_eq!(
                pair.map(|d| d.likelihood),
                Some(Likelihood::Likely),
                "{}: {:?}\n    {}",
                row.what,
                pair,
                explain()
            ),
            Want::NotLikely => assert_ne!(
                pair.map(|d| d.likelihood),
                Some(Likelihood::Likely),
                "{}: {:?}\n    {}",
                row.what,
                pair,
                explain()
            ),
        }
        for d in &found {
            if (d.first, d.second) != (a, b) {
                assert_ne!(
                    d.likelihood,
                    Likelihood::Likely,
                    "{}: distractor pair {:?} is likely",
                    row.what,
                    (d.first, d.second)
                );
            }
        }
        // The same answer from the plain function, and an explanation field by field.
        assert_eq!(find_duplicates(&index, &settings), found, "{}", row.what);
        let fields = dups.explain(a, b, &settings);
        assert!(fields.iter().any(|f| f.field == "name"), "{}", row.what);
        assert!(
            fields.iter().any(|f| f.field == "given_name"),
            "{}",
            row.what
        );
    }
}

#[test]
fn the_sibling_guard_says_why() {
    let loc = Locations::CodePrefixes;
    let settings = MatchSettings::default();
    let row = &rows()[5];
    let cases = [case(row.first.clone()), case(row.second.clone())];
    let index = ProfileIndex::new(
        cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &loc, today()))
            .collect(),
    );
    let c = DuplicateIndex::new(&index)
        .compare(0, 1, &settings, true)
        .unwrap();
    assert!(c.listed_as_sibling, "{:?}", c.fields);
    assert!(
        c.fields.iter().any(|f| f
            .detail
            .to_string()
            .contains("lists the other's child as a sibling")),
        "{:?}",
        c.fields
    );
}

#[test]
fn trace_settings_do_not_move_duplicate_thresholds() {
    // Duplicates read their own section: changing the trace thresholds changes
    // nothing here.
    let loc = Locations::CodePrefixes;
    let row = &rows()[0];
    let cases = [case(row.first.clone()), case(row.second.clone())];
    let index = ProfileIndex::new(
        cases
            .iter()
            .map(|c| ChildProfile::from_case(c, &loc, today()))
            .collect(),
    );
    let default = find_duplicates(&index, &MatchSettings::default());
    let other = find_duplicates(
        &index,
        &MatchSettings {
            likely: 99.0,
            possible: 50.0,
            ..MatchSettings::default()
        },
    );
    assert_eq!(default, other);
    assert_eq!(default[0].likelihood, Likelihood::Likely);
}

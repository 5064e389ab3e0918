//! What Primero matches on beyond the child's own fields: the relatives' nickname, date of
//! birth, nationality, ethnicity and religion; the trace's `location_last`; the inquirer's
//! separation fields; the other children a request seeks as the child's siblings; and a likely
//! match standing clear of the next one (unless the two are one child registered twice).

#![allow(clippy::unwrap_used)]

use fieldkit_domain::{Case, Date, TracingRequest};
use fieldkit_match::compare::{NameFrequencies, Weights, compare};
use fieldkit_match::matcher::{Likelihood, MatchSettings, ProfileIndex, Side};
use fieldkit_match::profile::{ChildProfile, Locations};
use serde_json::{Value, json};

fn today() -> Date {
    "2026-03-01".parse().unwrap()
}

/// A case that consents to tracing (a case without consent is never matched).
fn case(mut v: Value) -> Case {
    v["consent_for_tracing"] = json!(true);
    serde_json::from_value(v).unwrap()
}

fn request(v: Value) -> TracingRequest {
    serde_json::from_value(v).unwrap()
}

fn weight_of(r: &TracingRequest, c: &Case, field: &str) -> Option<f32> {
    let loc = Locations::CodePrefixes;
    let t = ChildProfile::from_trace(r, &r.traces()[0], &loc, today());
    let p = ChildProfile::from_case(c, &loc, today());
    let freq = NameFrequencies::build([&p]);
    compare(&t, &p, &freq, &Weights::default(), true)
        .fields
        .into_iter()
        .find(|f| f.field == field)
        .map(|f| f.weight)
}

fn amina(mother: Value) -> Case {
    case(json!({"name": "Amina Yusuf", "sex": "female", "age": 9,
        "family_details_section": [mother]}))
}

fn asked_by_mother(extra: Value) -> TracingRequest {
    let mut r = json!({"relation_name": "Halima Omar", "relation": "mother",
        "relation_nickname": "Umm Amina",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina", "sex": "female", "age": 9}]});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    request(r)
}

#[test]
fn a_relatives_own_details_count() {
    // One name each, so the family stays under its cap.
    let mother = json!({"unique_id": "m", "relation": "mother", "relation_name": "Halima"});
    let plain = weight_of(
        &asked_by_mother(json!({"relation_name": "Halima"})),
        &amina(mother.clone()),
        "family_details_section",
    )
    .unwrap();
    let mut same = mother.clone();
    same["relation_date_of_birth"] = json!("1990-04-02");
    same["relation_nationality"] = json!(["sudan"]);
    same["relation_ethnicity"] = json!("fur");
    same["relation_religion"] = json!(["islam"]);
    let r = asked_by_mother(
        json!({"relation_name": "Halima", "relation_date_of_birth": "1990-04-02",
        "relation_nationality": ["sudan"], "relation_ethnicity": "fur", "relation_religion": ["islam"]}),
    );
    let agreeing = weight_of(&r, &amina(same.clone()), "family_details_section").unwrap();
    assert!(agreeing > plain + 1.5, "{agreeing} / {plain}");
    // Another woman of the same name: born years apart, another ethnicity.
    let mut other = same;
    other["relation_date_of_birth"] = json!("1978-01-01");
    other["relation_ethnicity"] = json!("masalit");
    let differing = weight_of(&r, &amina(other), "family_details_section").unwrap();
    assert!(differing < plain - 1.5, "{differing} / {plain}");
}

/// The other children a request seeks are the child's brothers and sisters: a case that lists
/// one of them as a sibling is of the family asking; a case listing a sibling of another name
/// is no evidence either way (a family has more children than it seeks).
#[test]
fn the_other_children_sought_are_the_child_s_siblings() {
    let r = request(json!({"relation_name": "Halima Omar", "relation": "mother",
        "tracing_request_subform_section": [
            {"unique_id": "t1", "name": "Amina Yusuf", "sex": "female", "age": 9},
            {"unique_id": "t2", "name": "Omar Yusuf", "sex": "male", "age": 12}]}));
    let with_sibling = |name: &str| {
        case(json!({"name": "Amina Yusuf", "sex": "female", "age": 9,
            "family_details_section": [{"unique_id": "s", "relation": "brother", "relation_name": name}]}))
    };
    let sought = weight_of(&r, &with_sibling("Omar Yusuf"), "family_details_section");
    assert!(sought.is_some_and(|w| w >= 2.0), "{sought:?}");
    let other = weight_of(&r, &with_sibling("Bashir Yusuf"), "family_details_section");
    assert_eq!(other, Some(0.0));
    // The request's first child alone: nothing to compare.
    let alone = request(json!({"relation_name": "Halima Omar", "relation": "mother",
        "tracing_request_subform_section": [
            {"unique_id": "t1", "name": "Amina Yusuf", "sex": "female", "age": 9}]}));
    assert_eq!(
        weight_of(
            &alone,
            &with_sibling("Omar Yusuf"),
            "family_details_section"
        ),
        Some(0.0)
    );
}

#[test]
fn a_relatives_nickname_is_a_name() {
    let by_nickname = json!({"unique_id": "m", "relation": "mother", "relation_name": "Halima",
        "relation_nickname": "Umm Amina"});
    let w = weight_of(
        &asked_by_mother(json!({"relation_name": "Umm Amina"})),
        &amina(by_nickname),
        "family_details_section",
    );
    assert!(w.unwrap() > 3.0, "{w:?}");
}

#[test]
fn the_inquirers_separation_and_the_traces_last_home_count() {
    let c = case(json!({"name": "Amina Yusuf", "sex": "female", "age": 9,
        "date_of_separation": "2025-06-10", "location_separation": "JO-MA-ZAATARI-D3",
        "location_last": "SD-DA-NYALA-B2"}));
    let bare = asked_by_mother(json!({}));
    assert_eq!(weight_of(&bare, &c, "date_of_separation"), None);
    assert_eq!(weight_of(&bare, &c, "location_separation"), None);
    // The request's own separation history stands in for the trace's.
    let r = asked_by_mother(json!({"date_of_separation": "2025-06-11",
        "location_separation": "JO-MA-ZAATARI-D3", "location_last": "SD-KH"}));
    assert!(weight_of(&r, &c, "date_of_separation").unwrap() > 2.0);
    assert!(weight_of(&r, &c, "location_separation").unwrap() > 3.0);
    // The trace's last home comes before the request's.
    let request_only = weight_of(&r, &c, "location_last").unwrap();
    let mut r2 = r.clone();
    r2.tracing_request_subform_section[0].location_last = Some("SD-DA-NYALA-B2".into());
    assert!(weight_of(&r2, &c, "location_last").unwrap() > request_only);
}

#[test]
fn a_likely_match_stands_clear_of_the_next() {
    let loc = Locations::CodePrefixes;
    let one = json!({"name": "Amina Yusuf Ali", "sex": "female", "age": 9,
        "date_of_separation": "2025-06-10", "location_separation": "JO-MA-ZAATARI-D3",
        "family_details_section": [{"unique_id": "m", "relation": "mother", "relation_name": "Halima Omar"}]});
    let r = request(json!({"relation_name": "Halima Omar", "relation": "mother",
        "tracing_request_subform_section": [{"unique_id": "t1", "name": "Amina Yusuf Ali",
            "sex": "female", "age": 9, "date_of_separation": "2025-06-10",
            "location_separation": "JO-MA-ZAATARI-D3"}]}));
    let sought = ChildProfile::from_trace(&r, &r.traces()[0], &loc, today());
    let settings = MatchSettings::default();
    let alone = ProfileIndex::new(vec![ChildProfile::from_case(
        &case(one.clone()),
        &loc,
        today(),
    )]);
    assert_eq!(
        alone.find(&sought, Side::Sought, &settings, false)[0].likelihood,
        Likelihood::Likely
    );
    // Two records that score alike with no more than names, sex and age (namesakes, or one
    // child registered twice): neither stands clear, both are for the caseworker to compare.
    let bare = json!({"name": "Amina Yusuf Ali", "sex": "female", "age": 9});
    let bare_trace = request(
        json!({"tracing_request_subform_section": [{"unique_id": "t1",
        "name": "Amina Yusuf Ali", "sex": "female", "age": 9}]}),
    );
    let bare_sought = ChildProfile::from_trace(&bare_trace, &bare_trace.traces()[0], &loc, today());
    let alike = ProfileIndex::new(vec![
        ChildProfile::from_case(&case(bare.clone()), &loc, today()),
        ChildProfile::from_case(&case(bare), &loc, today()),
    ]);
    let found = alike.find(&bare_sought, Side::Sought, &settings, true);
    assert_eq!(found.len(), 2);
    assert!(found[0].weight >= settings.likely, "{}", found[0].weight);
    assert!(found.iter().all(|m| m.likelihood == Likelihood::Possible));
    assert!(found[0].fields.iter().any(|f| f.field == "likelihood"));
    // Overwhelming evidence on both is one child registered twice: both likely.
    let twice = ProfileIndex::new(vec![
        ChildProfile::from_case(&case(one.clone()), &loc, today()),
        ChildProfile::from_case(&case(one), &loc, today()),
    ]);
    let found = twice.find(&sought, Side::Sought, &settings, false);
    assert!(found.iter().all(|m| m.likelihood == Likelihood::Likely));
    // A trace that knows only name, sex and age, and two cases that agree with each other far
    // beyond what namesakes reach (date of birth, separation, place, mother): one child
    // registered twice, found twice, so both are likely; beside a bare namesake, neither is.
    let registered = json!({"name": "Amina Yusuf Ali", "sex": "female", "age": 9,
        "date_of_birth": "2016-05-02", "date_of_separation": "2025-06-10",
        "location_separation": "JO-MA-ZAATARI-D3",
        "family_details_section": [{"unique_id": "m", "relation": "mother", "relation_name": "Halima Omar"}]});
    let profile = |v: &serde_json::Value| ChildProfile::from_case(&case(v.clone()), &loc, today());
    let twice_registered = ProfileIndex::new(vec![profile(&registered), profile(&registered)]);
    let found = twice_registered.find(&bare_sought, Side::Sought, &settings, false);
    assert_eq!(found.len(), 2);
    assert!(
        found[0].weight < settings.likely_without_margin,
        "{}",
        found[0].weight
    );
    assert!(
        found.iter().all(|m| m.likelihood == Likelihood::Likely),
        "{found:?}"
    );
    let with_namesake = ProfileIndex::new(vec![
        profile(&registered),
        profile(&registered),
        profile(&json!({"name": "Amina Yusuf Ali", "sex": "female", "age": 9})),
    ]);
    let found = with_namesake.find(&bare_sought, Side::Sought, &settings, false);
    assert_eq!(found.len(), 3);
    assert!(
        found.iter().all(|m| m.likelihood == Likelihood::Possible),
        "{found:?}"
    );
}

/// A mother listed on both records under another name counts against the match even when two
/// of the request's other children, compared with a sibling the case lists, take the two
/// strongest places of the family (each of them no evidence either way).
#[test]
fn a_mother_of_another_name_counts_whatever_the_siblings_give() {
    let r = request(json!({"relation_name": "Hiba Bilal", "relation": "mother",
        "tracing_request_subform_section": [
            {"unique_id": "t1", "name": "Said Karim Ibrahim", "sex": "male", "age": 11},
            {"unique_id": "t2", "name": "Dina Karim Ibrahim", "sex": "female", "age": 8},
            {"unique_id": "t3", "name": "Ghassan Karim Ibrahim", "sex": "male", "age": 5}]}));
    let c = case(
        json!({"name": "Said Karim Ibrahim", "sex": "male", "age": 11,
        "family_details_section": [
            {"unique_id": "m", "relation": "mother", "relation_name": "Mona Munir Omar"},
            {"unique_id": "s", "relation": "sister", "relation_name": "Nada Karim Ibrahim"}]}),
    );
    let w = weight_of(&r, &c, "family_details_section").unwrap();
    assert!(w <= Weights::default().parent_name_disagree, "{w}");
}

/// A brother or sister of the child sought named like the case's mother or father is two
/// people of two generations, not one relative listed under another relation.
#[test]
fn a_sibling_named_like_the_other_s_parent_is_no_evidence() {
    // No inquirer named: the other child sought is the only relative to compare.
    let r = request(json!({"tracing_request_subform_section": [
            {"unique_id": "t1", "name": "Marzia", "sex": "female", "age": 13},
            {"unique_id": "t2", "name": "Najiba", "sex": "female", "age": 10}]}));
    let listing = |relation: &str| {
        case(json!({"name": "Marzia Haidari", "sex": "female", "age": 14,
            "family_details_section": [
                {"unique_id": "m", "relation": relation, "relation_name": "Najiba Haidari"}]}))
    };
    assert_eq!(
        weight_of(&r, &listing("mother"), "family_details_section"),
        Some(0.0)
    );
    // Listed as her cousin instead (another relation, one generation), the name still counts
    // for something.
    let w = weight_of(&r, &listing("cousin"), "family_details_section").unwrap();
    assert!(w > 0.0, "{w}");
}

//! Proptest strategies for records: valid ones (what a caseworker or a Primero export can
//! produce, and what the vault accepts) and any ones (every value the types admit, for "nothing
//! panics on any record").
//!
//! Valid records are built to survive every round trip fieldkit makes: Primero JSON, the
//! vault's field documents. So subform entries have unique `unique_id`s, given in `unique_id`
//! order (the order the vault gives them back), each with at least one field; fields Primero
//! has and fieldkit does not model (`extra`) are named `x_…`, so they never collide with a
//! field fieldkit models now or adds later, and hold the JSON values a Primero form stores
//! (text, numbers, yes/no, lists of lookup values, small objects), never an empty list or a
//! null, which mean "not given" and are dropped.

use std::collections::BTreeMap;

use fieldkit_domain::{
    Case, Date, FamilyMember, Incident, Record, RecordId, Sex, Trace, TracingRequest, WgAnswer,
};
use proptest::prelude::*;
use serde_json::Value;

/// Names as they reach a registration desk: Latin with diacritics, hyphens and apostrophes,
/// Arabic script with harakat, Cyrillic, and some of any Unicode at all (combining marks alone,
/// zero-width and direction marks, emoji). May be blank.
pub fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z][a-z]{1,9}( [A-Z][a-z]{1,11}){0,3}",
        2 => "[A-Za-zÀ-ÖØ-öø-ÿĀ-ž'\\- ]{1,30}",
        2 => "[\u{0621}-\u{064A}][\u{0621}-\u{064A}\u{064B}-\u{0652} ]{0,20}",
        1 => "[\u{0400}-\u{04FF}][\u{0400}-\u{04FF} \\-]{0,20}",
        1 => "[\u{0300}-\u{036F}\u{200B}-\u{200F}\u{202A}-\u{202E}\u{0640} ]{0,8}",
        1 => "\\PC{0,40}",
        1 => ".{0,40}",
    ]
}

/// A name with at least one character that is not white space (validation requires one).
pub fn given_name() -> impl Strategy<Value = String> {
    name().prop_filter("a name that is not blank", |n| !n.trim().is_empty())
}

/// Free text, any Unicode.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[ -~]{0,60}", 1 => "\\PC{0,80}", 1 => ".{0,200}"]
}

/// A lookup value as Primero stores it (`in_progress`, `sy`, `camp_a`).
pub fn lookup() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,11}"
}

fn lookups() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(lookup(), 0..3)
}

fn sex() -> impl Strategy<Value = Sex> {
    prop_oneof![
        Just(Sex::Female),
        Just(Sex::Male),
        Just(Sex::Other),
        Just(Sex::Unknown)
    ]
}

fn wg() -> impl Strategy<Value = Option<WgAnswer>> {
    proptest::option::of(prop_oneof![
        Just(WgAnswer::NoDifficulty),
        Just(WgAnswer::SomeDifficulty),
        Just(WgAnswer::ALotOfDifficulty),
        Just(WgAnswer::CannotDoAtAll),
    ])
}

/// Any record id (imports accept any UUID, not only the v7 ids kits mint).
pub fn record_id() -> impl Strategy<Value = RecordId> {
    any::<[u8; 16]>().prop_map(RecordId::from_bytes)
}

/// A date from `days_back` days before `today` up to `today`.
pub fn date_until(today: Date, days_back: i64) -> impl Strategy<Value = Date> {
    let last = today.days_since_epoch();
    (last - days_back..=last).prop_map(Date::from_days_since_epoch)
}

/// Any date the calendar type holds, years −9999 to 9999 included.
pub fn any_date() -> impl Strategy<Value = Date> {
    prop_oneof![
        3 => (-30_000i64..30_000).prop_map(Date::from_days_since_epoch),
        1 => any::<i64>().prop_map(Date::from_days_since_epoch),
    ]
}

/// A value of a Primero field fieldkit does not model: never null and never an empty list.
fn extra_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        proptest::collection::vec(lookup().prop_map(Value::String), 1..4).prop_map(Value::Array),
        proptest::collection::btree_map(lookup(), text().prop_map(Value::String), 1..3)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

/// Primero fields fieldkit does not model.
pub fn extra() -> impl Strategy<Value = BTreeMap<String, Value>> {
    proptest::collection::btree_map("x_[a-z][a-z0-9_]{0,10}", extra_value(), 0..3)
}

/// Subform keys: distinct, in order.
fn unique_ids(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set("[0-9a-f]{4,8}(-[0-9]{1,2})?", 0..=max)
        .prop_map(|s| s.into_iter().collect())
}

fn family_member(uid: String) -> impl Strategy<Value = FamilyMember> {
    (
        lookup(),
        proptest::option::of(name()),
        proptest::option::of(sex()),
        proptest::option::of(0i64..=120),
        proptest::option::of(prop_oneof![
            Just("alive".to_string()),
            Just("dead".to_string()),
            Just("unknown".to_string())
        ]),
        proptest::option::of(any::<bool>()),
        lookups(),
        proptest::option::of(lookup()),
        proptest::option::of("\\+[0-9]{8,12}"),
        extra(),
    )
        .prop_map(
            move |(
                relation,
                relation_name,
                relation_sex,
                age,
                alive,
                caregiver,
                langs,
                loc,
                tel,
                extra,
            )| {
                FamilyMember {
                    unique_id: uid.clone(),
                    relation: Some(relation),
                    relation_name,
                    relation_sex,
                    relation_age: age,
                    relation_is_alive: alive,
                    relation_is_caregiver: caregiver,
                    relation_language: langs,
                    relation_location_current: loc,
                    relation_telephone: tel,
                    extra,
                    ..FamilyMember::default()
                }
            },
        )
}

fn family() -> impl Strategy<Value = Vec<FamilyMember>> {
    unique_ids(4).prop_flat_map(|uids| uids.into_iter().map(family_member).collect::<Vec<_>>())
}

/// A case that passes `validate(today)` and survives every round trip.
pub fn valid_case(today: Date) -> impl Strategy<Value = Case> {
    let who = (
        record_id(),
        given_name(),
        proptest::option::of(name()),
        proptest::option::of(name()),
        sex(),
        proptest::option::of(0i64..=17),
        proptest::option::of(date_until(today, 17 * 365)),
        any::<bool>(),
        proptest::option::of(date_until(today, 6_000)),
        proptest::option::of(date_until(today, 3_000)),
    );
    let about = (
        lookups(),
        lookups(),
        lookups(),
        lookups(),
        proptest::option::of(lookup()),
        proptest::option::of(lookup()),
        proptest::option::of(lookup()),
        proptest::collection::vec(lookup(), 0..4),
        any::<bool>(),
        proptest::option::of(prop_oneof![
            Just("low".to_string()),
            Just("medium".to_string()),
            Just("high".to_string())
        ]),
        proptest::option::of(lookup()),
        proptest::option::of(lookup()),
    );
    let rest = (
        family(),
        proptest::option::of(any::<bool>()),
        (wg(), wg(), wg(), wg(), wg(), wg()),
        proptest::option::of(text()),
        proptest::option::of(lookup()),
        proptest::option::of(lookup()),
        extra(),
    );
    (who, about, rest).prop_map(move |(who, about, rest)| {
        let (id, name, name_other, name_nickname, sex, age, dob, estimated, registered, separated) =
            who;
        let (
            nationality,
            ethnicity,
            language,
            religion,
            location_current,
            location_last,
            displacement_status,
            protection_concerns,
            urgent,
            risk_level,
            tracing_status,
            separation_cause,
        ) = about;
        let (members, consent, wgs, notes, status, owned_by, extra) = rest;
        // A date of birth given exactly fixes the age; separation comes after birth.
        let age = match (dob, estimated) {
            (Some(d), false) => Some(i64::from(d.age_on(today)).clamp(0, 17)),
            _ => age,
        };
        let date_of_separation = match (separated, dob) {
            (Some(s), Some(d)) if s < d => Some(d),
            (s, _) => s,
        };
        Case {
            id,
            case_id_display: Some(id.short()),
            registration_date: registered,
            status,
            owned_by,
            name: Some(name),
            name_other,
            name_nickname,
            sex: Some(sex),
            age,
            date_of_birth: dob,
            estimated,
            nationality,
            ethnicity,
            language,
            religion,
            location_current,
            location_last,
            displacement_status,
            protection_concerns,
            urgent_protection_concern: urgent,
            risk_level,
            tracing_status,
            date_of_separation,
            separation_cause,
            family_details_section: members,
            consent_for_tracing: consent,
            disability_seeing: wgs.0,
            disability_hearing: wgs.1,
            disability_walking: wgs.2,
            disability_remembering: wgs.3,
            disability_self_care: wgs.4,
            disability_communicating: wgs.5,
            notes,
            extra,
            ..Case::default()
        }
    })
}

fn trace(uid: String, today: Date) -> impl Strategy<Value = Trace> {
    (
        given_name(),
        proptest::option::of(name()),
        proptest::option::of(name()),
        proptest::option::of(lookup()),
        proptest::option::of(sex()),
        proptest::option::of(0i64..=25),
        proptest::option::of(date_until(today, 25 * 365)),
        proptest::option::of(date_until(today, 3_000)),
        proptest::option::of(lookup()),
        proptest::option::of(lookup()),
        extra(),
    )
        .prop_map(
            move |(name, nickname, other, relation, sex, age, dob, sep, cause, place, extra)| {
                Trace {
                    unique_id: uid.clone(),
                    name: Some(name),
                    name_nickname: nickname,
                    name_other: other,
                    relation,
                    sex,
                    age,
                    date_of_birth: dob,
                    date_of_separation: sep,
                    separation_cause: cause,
                    location_separation: place,
                    matched_case_id: None,
                    extra,
                    ..Trace::default()
                }
            },
        )
}

/// A tracing request that passes `validate(today)` and survives every round trip.
pub fn valid_tracing_request(today: Date) -> impl Strategy<Value = TracingRequest> {
    let traces =
        proptest::collection::btree_set("[0-9a-f]{4,8}", 1..4).prop_flat_map(move |uids| {
            uids.into_iter()
                .map(|u| trace(u, today))
                .collect::<Vec<_>>()
        });
    let inquirer = (
        record_id(),
        given_name(),
        proptest::option::of(lookup()),
        proptest::option::of(name()),
        proptest::option::of(sex()),
        proptest::option::of(0i64..=120),
        proptest::option::of(date_until(today, 90 * 365)),
        proptest::option::of(date_until(today, 2_000)),
        lookups(),
        lookups(),
    );
    let rest = (
        traces,
        proptest::option::of(lookup()),
        proptest::option::of(text()),
        proptest::option::of("\\+[0-9]{8,12}"),
        proptest::option::of(lookup()),
        extra(),
    );
    (inquirer, rest).prop_map(|(inquirer, rest)| {
        let (id, relation_name, relation, nickname, sex, age, dob, inquiry_date, nat, lang) =
            inquirer;
        let (traces, location_last, notes, telephone, status, extra) = rest;
        TracingRequest {
            id,
            tracing_request_id_display: Some(id.short()),
            inquiry_date,
            status,
            relation_name: Some(relation_name),
            relation,
            relation_nickname: nickname,
            relation_sex: sex,
            relation_age: age,
            relation_date_of_birth: dob,
            relation_nationality: nat,
            relation_language: lang,
            relation_telephone: telephone,
            location_last,
            tracing_request_subform_section: traces,
            notes,
            extra,
            ..TracingRequest::default()
        }
    })
}

/// An incident that passes `validate(today)` and survives every round trip.
pub fn valid_incident(today: Date) -> impl Strategy<Value = Incident> {
    (
        record_id(),
        date_until(today, 3_000),
        0i64..200,
        proptest::option::of(lookup()),
        proptest::option::of(lookup()),
        "[A-Z]{1,3}-[0-9]{1,5}",
        proptest::option::of(any::<bool>()),
        proptest::option::of(text()),
        extra(),
    )
        .prop_map(
            move |(id, happened, reported_after, place, kind, code, consent, notes, extra)| {
                let reported = Date::from_days_since_epoch(
                    (happened.days_since_epoch() + reported_after).min(today.days_since_epoch()),
                );
                Incident {
                    id,
                    incident_id_display: Some(id.short()),
                    incident_date: Some(happened),
                    date_of_first_report: Some(reported),
                    incident_location: place,
                    gbv_sexual_violence_type: kind,
                    survivor_code: Some(code),
                    consent_reporting: consent,
                    notes,
                    extra,
                    ..Incident::default()
                }
            },
        )
}

/// Any valid record, of any kind.
pub fn valid_record(today: Date) -> impl Strategy<Value = Record> {
    prop_oneof![
        2 => valid_case(today).prop_map(|c| Record::Case(Box::new(c))),
        2 => valid_tracing_request(today).prop_map(|t| Record::TracingRequest(Box::new(t))),
        1 => valid_incident(today).prop_map(|i| Record::Incident(Box::new(i))),
    ]
}

fn any_age() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(prop_oneof![
        3 => -5i64..130,
        1 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ])
}

fn any_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![name(), text(), lookup(), Just(String::new())])
}

/// Any case the type admits: blank or missing names, ages from `i64::MIN` to `i64::MAX`,
/// dates from year −9999 to 9999, subform entries with empty or repeated keys.
pub fn any_case() -> impl Strategy<Value = Case> {
    let who = (
        record_id(),
        any_text(),
        any_text(),
        any_text(),
        proptest::option::of(sex()),
        any_age(),
        proptest::option::of(any_date()),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any_date()),
        proptest::option::of(any_date()),
    );
    let member = (
        prop_oneof!["", "[0-9a-f]{1,2}"],
        any_text(),
        any_text(),
        proptest::option::of(sex()),
        any_age(),
        any_text(),
        any_text(),
    )
        .prop_map(
            |(uid, relation, relation_name, sex, age, alive, loc)| FamilyMember {
                unique_id: uid,
                relation,
                relation_name,
                relation_sex: sex,
                relation_age: age,
                relation_is_alive: alive,
                relation_location_current: loc,
                ..FamilyMember::default()
            },
        );
    let about = (
        proptest::collection::vec(prop_oneof![lookup(), name()], 0..3),
        proptest::collection::vec(prop_oneof![lookup(), name()], 0..3),
        proptest::collection::vec(prop_oneof![lookup(), name()], 0..4),
        any_text(),
        any_text(),
        any_text(),
        proptest::collection::vec(member, 0..5),
        any::<bool>(),
        (wg(), wg(), wg()),
    );
    (who, about).prop_map(|(who, about)| {
        let (id, name, name_other, name_nickname, sex, age, dob, estimated, exception, reg, sep) =
            who;
        let (nat, lang, concerns, loc, loc_sep, risk, members, urgent, wgs) = about;
        Case {
            id,
            registration_date: reg,
            name,
            name_other,
            name_nickname,
            sex,
            age,
            date_of_birth: dob,
            estimated,
            age_exception: exception,
            nationality: nat,
            language: lang,
            protection_concerns: concerns,
            location_current: loc.clone(),
            location_last: loc,
            location_separation: loc_sep,
            risk_level: risk,
            date_of_separation: sep,
            family_details_section: members,
            urgent_protection_concern: urgent,
            disability_seeing: wgs.0,
            disability_walking: wgs.1,
            disability_communicating: wgs.2,
            ..Case::default()
        }
    })
}

/// Any tracing request the type admits (no traces, blank names, extreme ages and dates).
pub fn any_tracing_request() -> impl Strategy<Value = TracingRequest> {
    let trace = (
        prop_oneof!["", "[0-9a-f]{1,2}"],
        any_text(),
        any_text(),
        any_text(),
        proptest::option::of(sex()),
        any_age(),
        proptest::option::of(any_date()),
        proptest::option::of(any_date()),
        any_text(),
    )
        .prop_map(
            |(uid, name, nick, other, sex, age, dob, sep, place)| Trace {
                unique_id: uid,
                name,
                name_nickname: nick,
                name_other: other,
                sex,
                age,
                date_of_birth: dob,
                date_of_separation: sep,
                location_separation: place,
                ..Trace::default()
            },
        );
    (
        record_id(),
        any_text(),
        any_text(),
        proptest::option::of(sex()),
        any_age(),
        proptest::option::of(any_date()),
        proptest::option::of(any_date()),
        proptest::collection::vec(prop_oneof![lookup(), name()], 0..3),
        any_text(),
        proptest::collection::vec(trace, 0..4),
    )
        .prop_map(
            |(id, relation_name, relation, sex, age, dob, inquiry, lang, last, traces)| {
                TracingRequest {
                    id,
                    inquiry_date: inquiry,
                    relation_name,
                    relation,
                    relation_sex: sex,
                    relation_age: age,
                    relation_date_of_birth: dob,
                    relation_language: lang,
                    location_last: last,
                    tracing_request_subform_section: traces,
                    ..TracingRequest::default()
                }
            },
        )
}

/// Any incident the type admits.
pub fn any_incident() -> impl Strategy<Value = Incident> {
    (
        record_id(),
        proptest::option::of(any_date()),
        proptest::option::of(any_date()),
        any_text(),
        any_text(),
        any_text(),
    )
        .prop_map(|(id, happened, reported, place, case_id, code)| Incident {
            id,
            incident_date: happened,
            date_of_first_report: reported,
            incident_location: place,
            case_id,
            survivor_code: code,
            ..Incident::default()
        })
}

/// Any record the types admit, of any kind.
pub fn any_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        any_case().prop_map(|c| Record::Case(Box::new(c))),
        any_tracing_request().prop_map(|t| Record::TracingRequest(Box::new(t))),
        any_incident().prop_map(|i| Record::Incident(Box::new(i))),
    ]
}

//! Writes `src/primer-v1.bin` (`make_primer v1`: templates in the operation form),
//! `src/primer-v2.bin` (`make_primer v2`: the same templates in the record form),
//! `src/primer-v3.bin` (`make_primer v3`: in the typed record form, no code book) or
//! `src/primer-v4.bin` (`make_primer v4`: a potential match with an explanation of every
//! kind, in the typed record form, then version 3's bytes), the DEFLATE preset dictionaries of
//! the sync protocol (see `fieldkit_sync::primer`). Run once when a
//! new primer version is made; a version, once released, never changes (`primer::tests` pins
//! each digest). `primer-v1.bin` was written before the field dictionary gained codes 67–72
//! (the `cfm_5_17_…` fields): `v1` now writes other bytes, which must never replace it.
//!
//! The primer holds what most messages share and no message carries alone: the operation
//! encodings of template records (a registration with family details, a tracing request,
//! a potential match), whose field codes, value codes and headers recur in every real
//! record, and the words case notes and tracing narratives are written with. It holds no
//! names and no place codes (those belong to a camp, not to the protocol).
#![allow(clippy::expect_used, missing_docs)]

use fieldkit_domain::Detail;
use fieldkit_domain::explain::{NameAgreement, NamesCompared, RelativeCompared, WordPair};
use fieldkit_domain::{
    DeviceId, Document, Hlc, MatchEvidence, PotentialMatch, Record, RecordId, RecordKind,
};
use fieldkit_sync::codec::{encode_ops, encode_records, encode_typed};
use serde_json::json;

const WORDS: &str = "the child and a with was is of to in at by from has his her their \
they mother father sister brother aunt uncle grandmother grandfather caregiver sibling \
siblings older younger family relatives neighbour community arrived alone camp border \
crossing transit centre reception registered separated unaccompanied during flight attack \
fighting flood displacement lost contact last seen months ago years weeks days school \
child-friendly space attends health nutrition referral psychosocial support follow-up \
visit home foster care interim alternative reunification tracing request verified \
consent assessment no known whereabouts believed alive deceased unknown phone number \
says speaks does not wants to be reunified with lives temporarily host families Le enfant \
est arrivé seul au camp la mère le père frère soeur tante oncle famille d'accueil \
séparé non accompagné الطفل وصل وحده إلى المخيم الأم الأب الأخ الأخت العم الخال \
العمة الخالة الجدة الأسرة منفصل غير مصحوب ";

fn version() -> String {
    std::env::args().nth(1).unwrap_or_default()
}

fn ops(kind: RecordKind, v: serde_json::Value, seq: u8) -> Vec<u8> {
    let id = RecordId::from_bytes([seq; 16]);
    let record = Record::from_json(kind, v).expect("a template record");
    let stamp = Hlc {
        wall_ms: 1_780_000_000_000,
        counter: 0,
        device: DeviceId(0),
    };
    let ops = Document::new(kind, id)
        .diff(&record.to_json(), || stamp)
        .expect("flat");
    match version().as_str() {
        "v2" => encode_records(&ops).expect("a template is one record"),
        "v3" | "v4" => encode_typed(&ops, None).expect("a template is one record"),
        _ => encode_ops(&ops),
    }
}

fn member(uid: &str, relation: &str, sex: &str, age: i64, alive: &str) -> serde_json::Value {
    json!({
        "unique_id": uid, "relation": relation, "relation_name": "", "relation_sex": sex,
        "relation_age": age, "relation_is_alive": alive, "relation_is_caregiver": false,
        "relation_language": ["ar", "en"], "relation_location_current": "",
        "relation_telephone": "+000000000000",
    })
}

/// A pair of words of two names, without the words (the primer holds no names).
fn pair(agreement: NameAgreement) -> WordPair {
    WordPair {
        a: String::new(),
        b: String::new(),
        agreement,
    }
}

/// Two names compared, without the names.
fn names(pairs: Vec<WordPair>, differ: u32) -> NamesCompared {
    NamesCompared {
        pairs,
        differ,
        ..NamesCompared::default()
    }
}

/// A potential match as the hub sends it (its record form), with an explanation of every
/// kind the matcher writes, in the order it writes them, with no names and no places: what
/// recurs in every match notice is the explanation's keys and words (the stored detail is
/// JSON, `fieldkit_domain::explain`), the field names and the record's shape.
fn explained_match() -> Vec<u8> {
    let evidence = |i: usize, field: &str, weight: f64, detail: Detail| MatchEvidence {
        unique_id: format!("{i:03}"),
        field: field.into(),
        weight,
        detail,
    };
    let details = vec![
        (
            "name",
            12.5,
            Detail::Names {
                names: names(
                    vec![
                        pair(NameAgreement::Same),
                        pair(NameAgreement::SoundsAlike),
                        pair(NameAgreement::SameConsonants),
                        pair(NameAgreement::CloseSpelling),
                        pair(NameAgreement::Nickname),
                    ],
                    1,
                ),
                lineage: false,
            },
        ),
        (
            "sex",
            1.25,
            Detail::Sexes {
                a: "female".into(),
                b: "female".into(),
            },
        ),
        (
            "age",
            2.5,
            Detail::Ages {
                a: Some(9),
                b: Some(10),
                b_estimated: true,
                born_a: 2017,
                born_b: 2016,
                years_apart: 1,
            },
        ),
        (
            "date_of_birth",
            3.0,
            Detail::BirthDates {
                a: "2017-01-01".into(),
                b: "2017-01-01".into(),
            },
        ),
        (
            "date_of_separation",
            1.5,
            Detail::SeparationDays { days: 3 },
        ),
        (
            "date_of_separation",
            -2.0,
            Detail::SeparatedAfterRegistration { days: 60 },
        ),
        (
            "date_of_separation",
            -2.0,
            Detail::SeparatedAfterRequest { days: 60 },
        ),
        (
            "location_separation",
            2.75,
            Detail::Places {
                agreed: true,
                shared: 3,
            },
        ),
        (
            "location_last",
            -1.0,
            Detail::Places {
                agreed: false,
                shared: 2,
            },
        ),
        (
            "family_details_section",
            4.5,
            Detail::Family(vec![
                RelativeCompared {
                    relation: "mother".into(),
                    name: String::new(),
                    listed: "mother".into(),
                    names: names(
                        vec![pair(NameAgreement::Same), pair(NameAgreement::Same)],
                        0,
                    ),
                    weight: 4.5,
                },
                RelativeCompared {
                    relation: "father".into(),
                    name: String::new(),
                    listed: "unknown".into(),
                    names: names(vec![pair(NameAgreement::Different)], 1),
                    weight: -0.5,
                },
            ]),
        ),
        ("nationality", 0.75, Detail::Shared(true)),
        ("language", 0.5, Detail::Shared(true)),
        ("religion", 0.25, Detail::Shared(false)),
        ("ethnicity", 0.25, Detail::Shared(true)),
        ("likelihood", 0.0, Detail::Unclear { margin_bits: 2.0 }),
        ("likelihood", 0.0, Detail::Claimed),
        ("likelihood", 0.0, Detail::NameDiffers),
    ];
    let comparison = details
        .into_iter()
        .enumerate()
        .map(|(i, (f, w, d))| evidence(i, f, w, d))
        .collect();
    let uuid = |seq: u8| RecordId::from_bytes([seq; 16]);
    let m = PotentialMatch {
        id: uuid(10),
        case_id: uuid(7),
        tracing_request_id: uuid(9),
        trace_id: uuid(11).to_string(),
        case_name: Some(String::new()),
        trace_name: Some(String::new()),
        score: 24.75,
        likelihood: Some("likely".into()),
        comparison,
        status: Some("pending".into()),
        proposed_at: Some("2026-01-01T00:00:00Z".into()),
        ..PotentialMatch::default()
    };
    let json = Record::PotentialMatch(Box::new(m)).to_json();
    let stamp = Hlc {
        wall_ms: 1_780_000_000_000,
        counter: 0,
        device: DeviceId(0),
    };
    let ops = Document::new(RecordKind::PotentialMatch, uuid(10))
        .diff(&json, || stamp)
        .expect("flat");
    encode_typed(&ops, None).expect("a template is one record")
}

fn main() {
    if version() == "v4" {
        // The match notice's bytes first, then version 3's unchanged and last, nearest the
        // message: a record's back-references into them keep the distances (and so the
        // bytes) they had with version 3; a notice's reach a little further.
        let mut primer = explained_match();
        primer.extend(fieldkit_sync::primer::PRIMER_V3);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/primer-v4.bin");
        std::fs::write(path, &primer).expect("writing the primer");
        println!("{path}: {} bytes", primer.len());
        return;
    }
    let case = |seq: u8, members: Vec<serde_json::Value>| {
        ops(
            RecordKind::Case,
            json!({
                "id": RecordId::from_bytes([seq; 16]).to_string(),
                "case_id_display": "0000000", "registration_date": "2026-01-01",
                "status": "open", "owned_by": "", "owned_by_agency_id": "unicef",
                "name": "", "name_other": "", "name_nickname": "", "sex": "female", "age": 9,
                "date_of_birth": "2017-01-01", "estimated": true, "nationality": ["so"],
                "ethnicity": [""], "language": ["so", "ar"], "religion": ["islam"],
                "location_current": "", "location_last": "", "displacement_status": "refugee",
                "protection_concerns": ["separated", "unaccompanied"],
                "urgent_protection_concern": false, "risk_level": "medium",
                "tracing_status": "open", "date_of_separation": "2025-12-01",
                "separation_cause": "conflict", "location_separation": "",
                "family_details_section": members, "consent_for_tracing": true,
                "cfm_5_17_vision_difficulty": "no_difficulty",
                "cfm_5_17_hearing_difficulty": "no_difficulty",
                "cfm_5_17_mobility_difficulty_comparative_100m": "no_difficulty",
                "cfm_5_17_remembering_difficulty": "no_difficulty",
                "cfm_5_17_self_care_difficulty": "some_difficulty",
                "cfm_5_17_communication_difficulty_understanding_child_household": "no_difficulty",
                "notes": "",
            }),
            seq,
        )
    };
    let request = ops(
        RecordKind::TracingRequest,
        json!({
            "id": RecordId::from_bytes([9; 16]).to_string(),
            "tracing_request_id_display": "0000000", "inquiry_date": "2026-01-01",
            "status": "open", "owned_by": "", "owned_by_agency_id": "unicef",
            "relation_name": "", "relation": "mother", "relation_sex": "female",
            "relation_age": 35, "relation_nationality": ["so"], "relation_language": ["so"],
            "relation_telephone": "+000000000000", "location_last": "",
            "date_of_separation": "2025-12-01", "separation_cause": "conflict",
            "location_separation": "",
            "tracing_request_subform_section": [{
                "unique_id": "00000000-0000-0000-0000-000000000000", "name": "",
                "relation": "son", "sex": "male", "age": 9, "date_of_separation": "2025-12-01",
                "separation_cause": "conflict", "location_separation": "",
            }],
            "notes": "",
        }),
        9,
    );
    let mut primer = WORDS.as_bytes().to_vec();
    primer.extend(request);
    primer.extend(case(
        7,
        vec![member("00000000-0", "mother", "female", 35, "unknown")],
    ));
    primer.extend(case(
        8,
        vec![
            member("00000000-0", "mother", "female", 35, "alive"),
            member("00000000-1", "father", "male", 40, "unknown"),
            member("00000000-2", "sibling", "male", 12, "alive"),
        ],
    ));
    let path = match version().as_str() {
        "v2" => concat!(env!("CARGO_MANIFEST_DIR"), "/src/primer-v2.bin"),
        "v3" => concat!(env!("CARGO_MANIFEST_DIR"), "/src/primer-v3.bin"),
        _ => concat!(env!("CARGO_MANIFEST_DIR"), "/src/primer-v1.bin"),
    };
    std::fs::write(path, &primer).expect("writing the primer");
    println!("{path}: {} bytes", primer.len());
}

//! Every typed message the kit's Rust code can hand the screen (a field's validation problem, a
//! failed save, the power policy's reason, the matcher's explanation) has its words in every
//! bundled language: `Messages.text` gives a non-empty text for each, and in the scripts that
//! share no letter with English no Latin word is left in (the values a message carries, dates
//! and numbers, are digits). The lists below are kept complete by exhaustive matches: a new
//! variant does not compile until it is listed here, and then fails until it has a text.

mod common;

use fieldkit_domain::explain::{Detail, NameAgreement, NamesCompared, RelativeCompared, WordPair};
use fieldkit_domain::{Date, Problem, ValidationErrors};
use fieldkit_power::ModeReason;
use fieldkit_ui::messages::{self, Message};
use fieldkit_ui::{MainWindow, Messages, lang};
use slint::ComponentHandle;

fn date(s: &str) -> Date {
    s.parse().expect("a date")
}

/// One of each [`Problem`], with the values the domain gives (every `other_field` of `Before`).
fn problems() -> Vec<Problem> {
    let all = vec![
        Problem::Required,
        Problem::NameRequired,
        Problem::ChildSoughtRequired,
        Problem::SurvivorRequired,
        Problem::InFuture {
            date: date("2027-01-01"),
            today: date("2026-12-04"),
        },
        Problem::ImpossibleAge { age: 130 },
        Problem::NotAChildsAge { age: 19 },
        Problem::AgeDoesNotFitBirth {
            age: 7,
            date_of_birth: date("2015-01-01"),
            computed: 11,
        },
        Problem::Before {
            date: date("2016-01-01"),
            other_field: "date_of_birth",
            other: date("2017-03-01"),
        },
        Problem::Before {
            date: date("2016-01-01"),
            other_field: "registration_date",
            other: date("2017-03-01"),
        },
        Problem::Before {
            date: date("2016-01-01"),
            other_field: "incident_date",
            other: date("2017-03-01"),
        },
        Problem::UnknownReviewState { status: "7".into() },
        Problem::RecordTooLarge {
            kib: 600,
            max_kib: 512,
        },
        Problem::TooLong {
            max: 200,
            chars: 201,
        },
        Problem::TooLong { max: 1, chars: 2 },
        Problem::ControlCharacter {
            control: '\u{1b}',
            at: 3,
            in_name: true,
        },
        Problem::ControlCharacter {
            control: '\u{7}',
            at: 3,
            in_name: false,
        },
        Problem::UnknownValue {
            value: "٣".into(),
            list: "lookup-gender".into(),
            suggestion: Some("female".into()),
            known: vec![],
            more: false,
        },
        Problem::UnknownValue {
            value: "٣".into(),
            list: "lookup-gender".into(),
            suggestion: None,
            known: vec!["female".into()],
            more: true,
        },
        Problem::NoList {
            list: "lookup-gender".into(),
        },
    ];
    // Every variant is above: a new one fails to compile here until it is listed.
    let mut seen = [false; 15];
    for p in &all {
        let i = match p {
            Problem::Required => 0,
            Problem::NameRequired => 1,
            Problem::ChildSoughtRequired => 2,
            Problem::SurvivorRequired => 3,
            Problem::InFuture { .. } => 4,
            Problem::ImpossibleAge { .. } => 5,
            Problem::NotAChildsAge { .. } => 6,
            Problem::AgeDoesNotFitBirth { .. } => 7,
            Problem::Before { .. } => 8,
            Problem::UnknownReviewState { .. } => 9,
            Problem::RecordTooLarge { .. } => 10,
            Problem::TooLong { .. } => 11,
            Problem::ControlCharacter { .. } => 12,
            Problem::UnknownValue { .. } => 13,
            Problem::NoList { .. } => 14,
        };
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s), "a Problem variant is not listed");
    all
}

/// Every power reason.
fn power_reasons() -> Vec<ModeReason> {
    let all = vec![
        ModeReason::Plenty,
        ModeReason::BatteryLevel,
        ModeReason::SunriseForecast,
        ModeReason::Budget,
        ModeReason::SpellReserve,
        ModeReason::Dwell,
        ModeReason::PowerUnknown,
        ModeReason::LowVoltage,
        ModeReason::Fixed,
    ];
    let mut seen = [false; 9];
    for r in &all {
        seen[match r {
            ModeReason::Plenty => 0,
            ModeReason::BatteryLevel => 1,
            ModeReason::SunriseForecast => 2,
            ModeReason::Budget => 3,
            ModeReason::SpellReserve => 4,
            ModeReason::Dwell => 5,
            ModeReason::PowerUnknown => 6,
            ModeReason::LowVoltage => 7,
            ModeReason::Fixed => 8,
        }] = true;
    }
    assert!(
        seen.iter().all(|s| *s),
        "a ModeReason variant is not listed"
    );
    all
}

fn names(differ: u32, unsure: u32, paired: bool) -> NamesCompared {
    NamesCompared {
        a: "أمينة يوسف".into(),
        b: "أمينه يوسف".into(),
        pairs: if paired {
            vec![WordPair {
                a: "amina".into(),
                b: "amina".into(),
                agreement: NameAgreement::SameConsonants,
            }]
        } else {
            vec![]
        },
        differ,
        unsure,
        ..NamesCompared::default()
    }
}

fn relative(relation: &str, names: NamesCompared) -> RelativeCompared {
    RelativeCompared {
        relation: relation.into(),
        name: "حليمة".into(),
        listed: "unknown".into(),
        names,
        weight: 2.0,
    }
}

/// One of each matcher [`Detail`] (each way names compare; every place level), and the
/// relatives' lines.
fn details() -> Vec<Message> {
    let all = vec![
        Detail::Names {
            names: names(0, 0, true),
            lineage: false,
        },
        Detail::Names {
            names: names(1, 0, true),
            lineage: false,
        },
        Detail::Names {
            names: names(0, 2, true),
            lineage: false,
        },
        Detail::Names {
            names: names(0, 0, false),
            lineage: false,
        },
        Detail::Names {
            names: names(1, 0, true),
            lineage: true,
        },
        Detail::Sexes {
            a: "female".into(),
            b: "unknown".into(),
        },
        Detail::Ages {
            a: Some(9),
            b: None,
            b_estimated: false,
            born_a: 2017,
            born_b: 2016,
            years_apart: 1,
        },
        Detail::Ages {
            a: Some(9),
            b: Some(11),
            b_estimated: true,
            born_a: 2017,
            born_b: 2015,
            years_apart: 2,
        },
        Detail::SeparationDays { days: 3 },
        Detail::SeparationDays { days: 1 },
        Detail::SeparatedAfterRegistration { days: 60 },
        Detail::SeparatedAfterRequest { days: 11 },
        Detail::Places {
            agreed: true,
            shared: 4,
        },
        Detail::Places {
            agreed: true,
            shared: 3,
        },
        Detail::Places {
            agreed: true,
            shared: 2,
        },
        Detail::Places {
            agreed: true,
            shared: 1,
        },
        Detail::Places {
            agreed: false,
            shared: 3,
        },
        Detail::Places {
            agreed: false,
            shared: 2,
        },
        Detail::Places {
            agreed: false,
            shared: 1,
        },
        Detail::Places {
            agreed: false,
            shared: 0,
        },
        Detail::Family(vec![]),
        Detail::Family(vec![relative("mother", names(0, 0, true))]),
        Detail::Shared(true),
        Detail::Shared(false),
        Detail::Unclear { margin_bits: 1.5 },
        Detail::Claimed,
        Detail::NameDiffers,
    ];
    let mut seen = [false; 15];
    for d in &all {
        seen[match d {
            // Words of an older record, shown as they are: not ours to translate.
            Detail::Text(_) => 0,
            Detail::Names { .. } => 1,
            Detail::Sexes { .. } => 2,
            Detail::Ages { .. } => 3,
            Detail::BirthDates { .. } => 4,
            Detail::SeparationDays { .. } => 5,
            Detail::SeparatedAfterRegistration { .. } => 6,
            Detail::SeparatedAfterRequest { .. } => 7,
            Detail::Places { .. } => 8,
            Detail::Family(_) => 9,
            Detail::Shared(_) => 10,
            Detail::Unclear { .. } => 11,
            Detail::Claimed => 12,
            Detail::NameDiffers => 13,
        }] = true;
    }
    // Dates only, no words: `BirthDates` is shown as "2015-01-01 / 2015-03-01" in every
    // language.
    seen[0] = true;
    seen[4] = true;
    seen[14] = true;
    assert!(seen.iter().all(|s| *s), "a Detail variant is not listed");
    let mut out: Vec<Message> = all.iter().map(messages::evidence).collect();
    for (differ, unsure, paired) in [(0, 0, true), (1, 0, true), (0, 1, true), (0, 0, false)] {
        for relation in [
            "mother",
            "father",
            "sibling",
            "grandparent",
            "other_family",
            "unknown",
        ] {
            out.push(messages::relative(&relative(
                relation,
                names(differ, unsure, paired),
            )));
        }
    }
    out
}

/// Every message the Rust side can send, with a name for the failure report.
fn every_message() -> Vec<(String, Message)> {
    let mut out: Vec<(String, Message)> = problems()
        .iter()
        .map(|p| (format!("{p:?}"), messages::problem(p)))
        .collect();
    out.extend(
        power_reasons()
            .into_iter()
            .map(|r| (format!("{r:?}"), messages::power_reason(r))),
    );
    out.extend(details().into_iter().map(|m| (format!("{m:?}"), m)));
    for e in [
        fieldkit_app::SaveError::Fields("x".into()),
        fieldkit_app::SaveError::NotApplicable("x".into()),
        fieldkit_app::SaveError::Invalid(ValidationErrors(vec![])),
    ] {
        out.push((format!("{e:?}"), messages::not_saved(&e)));
    }
    out
}

#[test]
fn every_message_from_rust_has_words_in_every_language() {
    common::init();
    let window = MainWindow::new().expect("the main window");
    let all = every_message();
    let mut missing = Vec::new();
    for language in lang::LANGUAGES {
        lang::apply(&window, language.code).expect("bundled");
        let own_script = matches!(language.code, "ar" | "fa" | "bn" | "my");
        let english: Vec<String> = if language.code == "en" {
            Vec::new()
        } else {
            lang::apply(&window, "en").expect("bundled");
            let e = all
                .iter()
                .map(|(_, m)| {
                    window
                        .global::<Messages>()
                        .invoke_text(m.clone())
                        .to_string()
                })
                .collect();
            lang::apply(&window, language.code).expect("bundled");
            e
        };
        for (i, (name, m)) in all.iter().enumerate() {
            let shown = window
                .global::<Messages>()
                .invoke_text(m.clone())
                .to_string();
            if shown.trim().is_empty() {
                missing.push(format!("{}: {name} has no text", language.code));
            } else if language.code != "en" && english.get(i) == Some(&shown) {
                missing.push(format!(
                    "{}: {name} is shown in English: {shown:?}",
                    language.code
                ));
            } else if own_script && shown.chars().any(|c| c.is_ascii_alphabetic()) {
                // KiB is the one unit written in Latin letters in some catalogues.
                let without_units = shown.replace("KiB", "");
                if without_units.chars().any(|c| c.is_ascii_alphabetic()) {
                    missing.push(format!(
                        "{}: {name} has Latin words: {shown:?}",
                        language.code
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "messages without words:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_message_carries_its_values_into_the_text() {
    common::init();
    let window = MainWindow::new().expect("the main window");
    lang::apply(&window, "ar").expect("bundled");
    let m = messages::problem(&Problem::InFuture {
        date: date("2027-01-01"),
        today: date("2026-12-04"),
    });
    let shown = window.global::<Messages>().invoke_text(m).to_string();
    assert!(
        shown.contains("2027-01-01") && shown.contains("2026-12-04"),
        "{shown}"
    );
    // Arabic's plural forms: 200 characters (form 5) and 3 (form 3) differ.
    let text = |max| {
        window
            .global::<Messages>()
            .invoke_text(messages::problem(&Problem::TooLong { max, chars: 999 }))
            .to_string()
    };
    assert_ne!(text(3), text(200));
    assert!(text(200).contains("200"), "{}", text(200));
}

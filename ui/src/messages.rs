//! The kit's typed messages as the screen shows them. The kit core, the domain and the power
//! policy say what is wrong or why with enums and their values (`Display` gives the CLI's
//! English); this module turns each into a [`Message`] (a kind and its values), which
//! `ui/messages.slint` words in the caseworker's language through the bundled translations, with
//! plural forms where a number is shown. One translation mechanism: the screen's `.po`
//! catalogues; no English sentence from Rust reaches the screen.
//!
//! Every match here is exhaustive, so a new variant does not compile until it has a kind, and
//! `tests/messages.rs` checks that every kind has a text in every bundled language.

use fieldkit_app::SaveError;
use fieldkit_domain::Problem;
use fieldkit_domain::explain::{Detail, NamesCompared, RelativeCompared};
use fieldkit_power::ModeReason;

pub use crate::Message;

fn kind(kind: &str) -> Message {
    Message {
        kind: kind.into(),
        ..Message::default()
    }
}

fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A field's validation problem.
pub fn problem(p: &Problem) -> Message {
    match p {
        Problem::Required => kind("required"),
        Problem::NameRequired => kind("name-required"),
        Problem::ChildSoughtRequired => kind("child-sought-required"),
        Problem::SurvivorRequired => kind("survivor-required"),
        Problem::InFuture { date, today } => Message {
            text: date.to_string().into(),
            other: today.to_string().into(),
            ..kind("in-future")
        },
        Problem::ImpossibleAge { age } => Message {
            n: int(*age),
            ..kind("impossible-age")
        },
        Problem::NotAChildsAge { age } => Message {
            n: int(*age),
            ..kind("not-a-childs-age")
        },
        Problem::AgeDoesNotFitBirth {
            age,
            date_of_birth,
            computed,
        } => Message {
            n: int(*age),
            m: int(*computed),
            text: date_of_birth.to_string().into(),
            ..kind("age-does-not-fit-birth")
        },
        Problem::Before {
            date,
            other_field,
            other,
        } => Message {
            field: (*other_field).into(),
            text: date.to_string().into(),
            other: other.to_string().into(),
            ..kind("before")
        },
        Problem::UnknownReviewState { status } => Message {
            text: status.as_str().into(),
            ..kind("unknown-review-state")
        },
        Problem::RecordTooLarge { kib, max_kib } => Message {
            n: int(*kib),
            m: int(*max_kib),
            ..kind("record-too-large")
        },
        Problem::TooLong { max, chars } => Message {
            n: int(*max),
            m: int(*chars),
            ..kind("too-long")
        },
        Problem::ControlCharacter { at, in_name, .. } => Message {
            n: int(*at),
            ..kind(if *in_name {
                "control-in-name"
            } else {
                "control-in-text"
            })
        },
        Problem::UnknownValue {
            value, suggestion, ..
        } => Message {
            text: value.as_str().into(),
            other: suggestion.as_deref().unwrap_or_default().into(),
            ..kind("unknown-value")
        },
        Problem::NoList { .. } => kind("no-list"),
    }
}

/// Why a save failed, beside the field being edited, when it is not the record's validation
/// (that gives one [`problem`] per field).
pub fn not_saved(e: &SaveError) -> Message {
    match e {
        SaveError::Invalid(v) => {
            v.0.first()
                .map_or_else(|| kind("not-stored"), |f| problem(&f.message))
        }
        SaveError::Fields(_) => kind("wrong-shape"),
        SaveError::NotApplicable(_) | SaveError::NotFound { .. } => kind("not-applicable"),
        // The vault refused or failed; and what a later version of the kit core adds.
        _ => kind("not-stored"),
    }
}

/// The power policy's reason for its mode.
pub fn power_reason(r: ModeReason) -> Message {
    kind(match r {
        ModeReason::Plenty => "power-plenty",
        ModeReason::BatteryLevel => "power-battery-level",
        ModeReason::SunriseForecast => "power-sunrise-forecast",
        ModeReason::Budget => "power-budget",
        ModeReason::SpellReserve => "power-spell-reserve",
        ModeReason::Dwell => "power-dwell",
        ModeReason::PowerUnknown => "power-unknown",
        ModeReason::LowVoltage => "power-low-voltage",
        ModeReason::Fixed => "power-fixed",
    })
}

/// How two names compared, by what matters to a caseworker: agreeing, differing, only alike.
fn names_kind(n: &NamesCompared, prefix: &str) -> (String, i32) {
    let (what, count) = if n.pairs.is_empty() {
        ("none", 0)
    } else if n.differ > 0 {
        ("differ", n.differ)
    } else if n.unsure > 0 {
        ("alike", n.unsure)
    } else {
        ("agree", 0)
    };
    (format!("{prefix}-{what}"), int(count))
}

/// What the matcher found comparing one field (a relative's line: [`relative`]).
pub fn evidence(d: &Detail) -> Message {
    match d {
        Detail::Text(s) => Message {
            text: s.as_str().into(),
            ..kind("as-written")
        },
        Detail::Names { names, lineage } => {
            let (k, n) = if *lineage {
                ("names-lineage".to_owned(), 0)
            } else {
                names_kind(names, "names")
            };
            Message {
                text: names.a.as_str().into(),
                other: names.b.as_str().into(),
                n,
                ..kind(&k)
            }
        }
        Detail::Sexes { a, b } => Message {
            text: a.as_str().into(),
            other: b.as_str().into(),
            ..kind("sexes")
        },
        Detail::Ages {
            a,
            b,
            b_estimated,
            years_apart,
            ..
        } => {
            let show = |x: &Option<i64>| x.map_or_else(|| "?".to_owned(), |x| x.to_string());
            Message {
                text: show(a).into(),
                other: show(b).into(),
                n: int(*years_apart),
                ..kind(if *b_estimated {
                    "ages-estimated"
                } else {
                    "ages"
                })
            }
        }
        Detail::BirthDates { a, b } => Message {
            text: a.as_str().into(),
            other: b.as_str().into(),
            ..kind("birth-dates")
        },
        Detail::SeparationDays { days } => Message {
            n: int(*days),
            ..kind("separation-days")
        },
        Detail::SeparatedAfterRegistration { days } => Message {
            n: int(*days),
            ..kind("separated-after-registration")
        },
        Detail::SeparatedAfterRequest { days } => Message {
            n: int(*days),
            ..kind("separated-after-request")
        },
        Detail::Places { agreed, shared } => Message {
            n: i32::from(*shared),
            ..kind(if *agreed {
                "place-same"
            } else {
                "place-different"
            })
        },
        Detail::Family(relatives) => relatives.first().map_or_else(|| kind("family"), relative),
        Detail::Shared(shared) => kind(if *shared { "shared" } else { "none-shared" }),
        Detail::Unclear { margin_bits } => Message {
            text: margin_bits.to_string().into(),
            ..kind("unclear")
        },
        Detail::Claimed => kind("claimed"),
        Detail::NameDiffers => kind("name-differs"),
    }
}

/// One relative of the sought child against the best-agreeing one listed on the case.
pub fn relative(r: &RelativeCompared) -> Message {
    let (k, n) = names_kind(&r.names, "relative");
    Message {
        field: r.relation.as_str().into(),
        text: r.name.as_str().into(),
        other: r.listed.as_str().into(),
        n,
        ..kind(&k)
    }
}

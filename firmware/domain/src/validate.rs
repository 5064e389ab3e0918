//! Validation: what a record must hold before it is saved, with messages a caseworker can act on.
//!
//! Each problem is a [`Problem`]: what is wrong, with its numbers, dates and names as values, not
//! prose, so that the touch screen says it in the caseworker's language (the screen's bundled
//! translations; see `fieldkit-ui`'s `messages`), while `Display` gives the English the CLI
//! prints.

use std::fmt;

use crate::date::Date;
use crate::potential_match::PotentialMatch;
use crate::record::{Case, Incident, Record, TracingRequest};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (Primero's name; `family_details_section[2].relation_age` for subforms).
    pub field: String,
    /// What is wrong (`Display` words it in English).
    pub message: Problem,
}

/// What is wrong with a field's value. Every message a record's validation, its size and text
/// limits ([`crate::limits`]) and the lookup lists ([`crate::lookups::Lookups::tidy`]) give.
/// A screen translates each variant with its values; a new variant must be given a
/// translation there (the screen's match over this enum is exhaustive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The field must have a value.
    Required,
    /// Neither a name, another name nor a nickname.
    NameRequired,
    /// A tracing request that seeks no child.
    ChildSoughtRequired,
    /// An incident with neither a survivor code nor a linked case.
    SurvivorRequired,
    /// A date after today.
    InFuture {
        /// The date given.
        date: Date,
        /// Today.
        today: Date,
    },
    /// An age no one has (below 0 or above 120).
    ImpossibleAge {
        /// The age given.
        age: i64,
    },
    /// A child's case with an age outside 0–17 and no `age_exception`.
    NotAChildsAge {
        /// The age given.
        age: i64,
    },
    /// An age that does not fit the date of birth (more than a year off), neither estimated.
    AgeDoesNotFitBirth {
        /// The age given.
        age: i64,
        /// The date of birth given.
        date_of_birth: Date,
        /// The age that date of birth gives today.
        computed: i64,
    },
    /// A date before another field's date it cannot precede.
    Before {
        /// The date given.
        date: Date,
        /// The other field (Primero's name: `date_of_birth`).
        other_field: &'static str,
        /// The other field's date.
        other: Date,
    },
    /// A potential match's review state that is not one of [`crate::potential_match::review`].
    UnknownReviewState {
        /// The state given.
        status: String,
    },
    /// The whole record is larger than [`crate::limits::MAX_RECORD_BYTES`].
    RecordTooLarge {
        /// Its size in KiB.
        kib: usize,
        /// The limit in KiB.
        max_kib: usize,
    },
    /// A text longer than its limit.
    TooLong {
        /// The limit in characters.
        max: usize,
        /// The text's length in characters.
        chars: usize,
    },
    /// A control character where none may be (any in a name; in other text, any but tabs and
    /// line breaks).
    ControlCharacter {
        /// The character.
        control: char,
        /// Its position, from 1.
        at: usize,
        /// The field holds a name (one line of plain text).
        in_name: bool,
    },
    /// A value that is none of its lookup list's.
    UnknownValue {
        /// The value typed.
        value: String,
        /// The list (`lookup-gender`).
        list: String,
        /// The known id closest to it, when one is close enough to be the one meant.
        suggestion: Option<String>,
        /// The list's first ids, when none is close.
        known: Vec<String>,
        /// The list has more ids than `known`.
        more: bool,
    },
    /// The field's lookup list is not configured.
    NoList {
        /// The list.
        list: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Required => f.write_str("is required"),
            Problem::NameRequired => f.write_str("a name, other name or nickname is required"),
            Problem::ChildSoughtRequired => f.write_str("at least one child sought is required"),
            Problem::SurvivorRequired => {
                f.write_str("a survivor code or a linked case is required")
            }
            Problem::InFuture { date, today } => {
                write!(f, "{date} is in the future (today is {today})")
            }
            Problem::ImpossibleAge { age } => write!(f, "{age} is not a possible age"),
            Problem::NotAChildsAge { age } => write!(
                f,
                "{age} is outside 0–17 for a child's case; set age_exception to keep it"
            ),
            Problem::AgeDoesNotFitBirth {
                age,
                date_of_birth,
                computed,
            } => write!(
                f,
                "{age} does not fit date_of_birth {date_of_birth} (that is {computed} today); mark both estimated if unsure"
            ),
            Problem::Before {
                date,
                other_field,
                other,
            } => write!(f, "{date} is before {other_field} {other}"),
            Problem::UnknownReviewState { status } => {
                write!(f, "`{status}` is not pending, confirmed or rejected")
            }
            Problem::RecordTooLarge { kib, max_kib } => write!(
                f,
                "is {kib} KiB; a record may hold at most {max_kib} KiB (keep long documents outside the vault)"
            ),
            Problem::TooLong { max, chars } => {
                write!(f, "is longer than {max} characters ({chars} in all)")
            }
            Problem::ControlCharacter {
                control,
                at,
                in_name,
            } => write!(
                f,
                "contains {} at character {at}: {}",
                crate::limits::describe_control(*control),
                if *in_name {
                    "a name is one line of plain text"
                } else {
                    "text may hold tabs and line breaks, no other control characters"
                }
            ),
            Problem::UnknownValue {
                value,
                list,
                suggestion,
                known,
                more,
            } => {
                let what = crate::lookups::list_word(list);
                match suggestion {
                    Some(best) => {
                        write!(f, "`{value}` is not a known {what}; did you mean `{best}`?")
                    }
                    None => write!(
                        f,
                        "`{value}` is not a known {what} (known: {}{})",
                        known.join(", "),
                        if *more { ", …" } else { "" }
                    ),
                }
            }
            Problem::NoList { list } => write!(f, "no lookup list {list} is configured"),
        }
    }
}

/// Every problem found in a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

/// The oldest age fieldkit accepts for anyone (a data-entry guard, not a policy).
const MAX_HUMAN_AGE: i64 = 120;

#[derive(Default)]
struct Check(Vec<FieldError>);

impl Check {
    fn fail(&mut self, field: impl Into<String>, message: Problem) {
        self.0.push(FieldError {
            field: field.into(),
            message,
        });
    }

    /// A date is a calendar day where it was written, and `today` is the UTC day: east of
    /// Greenwich (Jordan +3, Bangladesh +6, Myanmar +6:30, up to +14) the next day begins hours
    /// before UTC's does. So a date is in the future only after the day after `today`; a record
    /// written just after local midnight (`2026-12-05T01:00:00+03:00` at 22:00 UTC on the 4th)
    /// is not refused.
    fn not_future(&mut self, field: &str, date: Option<Date>, today: Date) {
        let latest = Date::from_days_since_epoch(today.days_since_epoch() + 1);
        if let Some(date) = date.filter(|d| *d > latest) {
            self.fail(field, Problem::InFuture { date, today });
        }
    }

    fn age_in_range(&mut self, field: &str, age: Option<i64>) {
        if let Some(age) = age.filter(|a| !(0..=MAX_HUMAN_AGE).contains(a)) {
            self.fail(field, Problem::ImpossibleAge { age });
        }
    }

    fn present(&mut self, field: &str, value: &Option<String>) {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            self.fail(field, Problem::Required);
        }
    }

    fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }
}

impl Case {
    /// Checks the case as of `today`.
    pub fn validate(&self, today: Date) -> Result<(), ValidationErrors> {
        let mut c = Check::default();
        if self.names().next().is_none() {
            c.fail("name", Problem::NameRequired);
        }
        if self.sex.is_none() {
            c.fail("sex", Problem::Required);
        }
        c.not_future("registration_date", self.registration_date, today);
        c.not_future("date_of_birth", self.date_of_birth, today);
        c.not_future("date_of_separation", self.date_of_separation, today);
        match self.age {
            Some(age) if !(0..=17).contains(&age) && !self.age_exception => {
                c.fail("age", Problem::NotAChildsAge { age });
            }
            _ => c.age_in_range("age", self.age),
        }
        if let (Some(dob), Some(age)) = (self.date_of_birth, self.age) {
            let computed = i64::from(dob.age_on(today));
            if !self.estimated && (computed - age).abs() > 1 {
                c.fail(
                    "age",
                    Problem::AgeDoesNotFitBirth {
                        age,
                        date_of_birth: dob,
                        computed,
                    },
                );
            }
        }
        if let (Some(dob), Some(sep)) = (self.date_of_birth, self.date_of_separation)
            && sep < dob
        {
            c.fail(
                "date_of_separation",
                Problem::Before {
                    date: sep,
                    other_field: "date_of_birth",
                    other: dob,
                },
            );
        }
        c.not_future("date_closure", self.date_closure, today);
        if let (Some(reg), Some(closed)) = (self.registration_date, self.date_closure)
            && closed < reg
        {
            c.fail(
                "date_closure",
                Problem::Before {
                    date: closed,
                    other_field: "registration_date",
                    other: reg,
                },
            );
        }
        for (i, f) in self.followup_subform_section.iter().enumerate() {
            let at = |field: &str| format!("followup_subform_section[{i}].{field}");
            if f.unique_id.is_empty() {
                c.fail(at("unique_id"), Problem::Required);
            }
            c.not_future(&at("followup_date"), f.followup_date, today);
        }
        for (i, s) in self.services_section.iter().enumerate() {
            if s.unique_id.is_empty() {
                c.fail(
                    format!("services_section[{i}].unique_id"),
                    Problem::Required,
                );
            }
        }
        for (i, m) in self.family_details_section.iter().enumerate() {
            if m.unique_id.is_empty() {
                c.fail(
                    format!("family_details_section[{i}].unique_id"),
                    Problem::Required,
                );
            }
            c.age_in_range(
                &format!("family_details_section[{i}].relation_age"),
                m.relation_age,
            );
        }
        c.finish()
    }
}

impl TracingRequest {
    /// Checks the tracing request as of `today`.
    pub fn validate(&self, today: Date) -> Result<(), ValidationErrors> {
        let mut c = Check::default();
        c.present("relation_name", &self.relation_name);
        c.not_future("inquiry_date", self.inquiry_date, today);
        c.not_future("relation_date_of_birth", self.relation_date_of_birth, today);
        c.age_in_range("relation_age", self.relation_age);
        if self.tracing_request_subform_section.is_empty() {
            c.fail(
                "tracing_request_subform_section",
                Problem::ChildSoughtRequired,
            );
        }
        for (i, t) in self.tracing_request_subform_section.iter().enumerate() {
            let at = |f: &str| format!("tracing_request_subform_section[{i}].{f}");
            if t.unique_id.is_empty() {
                c.fail(at("unique_id"), Problem::Required);
            }
            if t.names().next().is_none() {
                c.fail(at("name"), Problem::NameRequired);
            }
            c.not_future(&at("date_of_birth"), t.date_of_birth, today);
            c.not_future(&at("date_of_separation"), t.date_of_separation, today);
            c.age_in_range(&at("age"), t.age);
        }
        c.finish()
    }
}

impl Incident {
    /// Checks the incident as of `today`.
    pub fn validate(&self, today: Date) -> Result<(), ValidationErrors> {
        let mut c = Check::default();
        if self.incident_date.is_none() {
            c.fail("incident_date", Problem::Required);
        }
        c.not_future("incident_date", self.incident_date, today);
        c.not_future("date_of_first_report", self.date_of_first_report, today);
        if let (Some(i), Some(r)) = (self.incident_date, self.date_of_first_report)
            && r < i
        {
            c.fail(
                "date_of_first_report",
                Problem::Before {
                    date: r,
                    other_field: "incident_date",
                    other: i,
                },
            );
        }
        if self.case_id.is_none()
            && self
                .survivor_code
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            c.fail("survivor_code", Problem::SurvivorRequired);
        }
        c.finish()
    }
}

impl Record {
    /// Checks any record as of `today`: its kind's rules, then the size and text limits every
    /// record keeps ([`crate::limits`]).
    pub fn validate(&self, today: Date) -> Result<(), ValidationErrors> {
        let own = match self {
            Record::Case(c) => c.validate(today),
            Record::TracingRequest(t) => t.validate(today),
            Record::Incident(i) => i.validate(today),
            Record::PotentialMatch(m) => m.validate(),
        };
        let mut errors = own.err().map(|e| e.0).unwrap_or_default();
        crate::limits::check(&self.to_json(), &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(errors))
        }
    }
}

impl PotentialMatch {
    /// Checks the potential match: both records named, a known review state.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut c = Check::default();
        if self.case_id.0.is_nil() {
            c.fail("case_id", Problem::Required);
        }
        if self.tracing_request_id.0.is_nil() {
            c.fail("tracing_request_id", Problem::Required);
        }
        if self.trace_id.trim().is_empty() {
            c.fail("trace_id", Problem::Required);
        }
        if let Some(s) = self.status.as_deref()
            && !crate::potential_match::review::ALL.contains(&s)
        {
            c.fail(
                "status",
                Problem::UnknownReviewState {
                    status: s.to_owned(),
                },
            );
        }
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Sex, Trace};

    fn today() -> Date {
        "2026-11-30".parse().unwrap()
    }

    fn child() -> Case {
        Case {
            name: Some("Amina".into()),
            sex: Some(Sex::Female),
            age: Some(9),
            ..Case::default()
        }
    }

    fn fields(r: Result<(), ValidationErrors>) -> Vec<String> {
        r.err()
            .map(|e| e.0.into_iter().map(|f| f.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_plain_child_case_is_valid() {
        assert_eq!(child().validate(today()), Ok(()));
    }

    #[test]
    fn a_case_needs_a_name_and_sex() {
        let c = Case::default();
        assert_eq!(fields(c.validate(today())), ["name", "sex"]);
        let nick = Case {
            name_nickname: Some("Shorty".into()),
            sex: Some(Sex::Male),
            ..Case::default()
        };
        assert_eq!(nick.validate(today()), Ok(()));
    }

    #[test]
    fn a_date_already_begun_east_of_utc_is_not_in_the_future() {
        let tomorrow = Date::from_days_since_epoch(today().days_since_epoch() + 1);
        let after = Date::from_days_since_epoch(today().days_since_epoch() + 2);
        let c = Case {
            registration_date: Some(tomorrow),
            ..child()
        };
        assert_eq!(c.validate(today()), Ok(()));
        let c = Case {
            registration_date: Some(after),
            ..child()
        };
        let err = c.validate(today()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "registration_date: {after} is in the future (today is {})",
                today()
            )
        );
    }

    #[test]
    fn future_dates_are_refused_with_today_in_the_message() {
        let c = Case {
            date_of_birth: Some("2027-01-01".parse().unwrap()),
            estimated: true,
            ..child()
        };
        let err = c.validate(today()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "date_of_birth: 2027-01-01 is in the future (today is 2026-11-30)"
        );
    }

    #[test]
    fn child_age_is_0_to_17_unless_flagged() {
        for (age, flagged, ok) in [
            (0, false, true),
            (17, false, true),
            (18, false, false),
            (18, true, true),
            (-1, true, false),
            (130, true, false),
        ] {
            let c = Case {
                age: Some(age),
                age_exception: flagged,
                ..child()
            };
            assert_eq!(
                c.validate(today()).is_ok(),
                ok,
                "age {age} flagged {flagged}"
            );
        }
    }

    #[test]
    fn age_must_fit_the_date_of_birth_unless_estimated() {
        let c = Case {
            date_of_birth: Some("2015-01-01".parse().unwrap()),
            age: Some(7),
            ..child()
        };
        assert_eq!(fields(c.validate(today())), ["age"]);
        let est = Case {
            estimated: true,
            ..c
        };
        assert_eq!(est.validate(today()), Ok(()));
    }

    #[test]
    fn separation_cannot_precede_birth() {
        let c = Case {
            date_of_birth: Some("2017-03-01".parse().unwrap()),
            estimated: true,
            date_of_separation: Some("2016-01-01".parse().unwrap()),
            ..child()
        };
        assert_eq!(fields(c.validate(today())), ["date_of_separation"]);
    }

    #[test]
    fn a_tracing_request_needs_an_inquirer_and_a_child_sought() {
        let t = TracingRequest::default();
        assert_eq!(
            fields(t.validate(today())),
            ["relation_name", "tracing_request_subform_section"]
        );
        let t = TracingRequest {
            relation_name: Some("Halima Yusuf".into()),
            tracing_request_subform_section: vec![Trace {
                unique_id: "t1".into(),
                age: Some(200),
                ..Trace::default()
            }],
            ..TracingRequest::default()
        };
        assert_eq!(
            fields(t.validate(today())),
            [
                "tracing_request_subform_section[0].name",
                "tracing_request_subform_section[0].age"
            ]
        );
    }

    #[test]
    fn an_incident_needs_a_date_and_a_survivor() {
        let i = Incident::default();
        assert_eq!(
            fields(i.validate(today())),
            ["incident_date", "survivor_code"]
        );
        let i = Incident {
            incident_date: Some("2026-11-01".parse().unwrap()),
            date_of_first_report: Some("2026-10-01".parse().unwrap()),
            survivor_code: Some("S-17".into()),
            ..Incident::default()
        };
        assert_eq!(fields(i.validate(today())), ["date_of_first_report"]);
    }
}

//! Small list summaries: what the case list shows without opening the whole record.

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::ids::RecordId;
use crate::record::{Case, Record, RecordKind, Sex};

/// One row of a record list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The name shown (a case's name, an inquirer's name, an incident's survivor code).
    pub name: String,
    /// Sex, for cases.
    pub sex: Option<Sex>,
    /// Age, for cases.
    pub age: Option<i64>,
    /// Current location code.
    pub location: Option<String>,
    /// Risk level, for cases.
    pub risk_level: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Registration or inquiry date.
    pub date: Option<Date>,
    /// Marked urgent.
    pub urgent: bool,
    /// Fields in conflict after a merge.
    pub conflicts: usize,
}

impl Summary {
    /// The summary of a record with `conflicts` conflicted fields.
    pub fn of(record: &Record, conflicts: usize) -> Summary {
        match record {
            Record::Case(c) => Summary::of_case(c, conflicts),
            Record::TracingRequest(t) => Summary {
                id: t.id,
                kind: RecordKind::TracingRequest,
                name: t.relation_name.clone().unwrap_or_default(),
                sex: t.relation_sex,
                age: t.relation_age,
                location: t.location_last.clone(),
                risk_level: None,
                status: t.status.clone(),
                date: t.inquiry_date,
                urgent: false,
                conflicts,
            },
            Record::PotentialMatch(m) => Summary {
                id: m.id,
                kind: RecordKind::PotentialMatch,
                name: format!("case {} / trace {}", m.case_id.short(), m.trace_id),
                sex: None,
                age: None,
                location: None,
                risk_level: m.likelihood.clone(),
                status: Some(m.review_status().to_string()),
                date: None,
                urgent: false,
                conflicts,
            },
            Record::Incident(i) => Summary {
                id: i.id,
                kind: RecordKind::Incident,
                name: i.survivor_code.clone().unwrap_or_default(),
                sex: None,
                age: None,
                location: i.incident_location.clone(),
                risk_level: None,
                status: i.status.clone(),
                date: i.incident_date,
                urgent: false,
                conflicts,
            },
        }
    }

    fn of_case(c: &Case, conflicts: usize) -> Summary {
        Summary {
            id: c.id,
            kind: RecordKind::Case,
            name: c.names().next().unwrap_or_default().to_string(),
            sex: c.sex,
            age: c.age,
            location: c.location_current.clone(),
            risk_level: c.effective_risk_level().map(str::to_string),
            status: c.status.clone(),
            date: c.registration_date,
            urgent: c.is_urgent(),
            conflicts,
        }
    }
}

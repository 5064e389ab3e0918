//! The record kinds, with Primero's field names so an export maps one-to-one.
//!
//! Fields Primero has and fieldkit does not model are kept in `extra`, so a record imported from
//! Primero and exported again loses nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::date::Date;
use crate::ids::RecordId;
use crate::potential_match::PotentialMatch;

/// What kind of record a document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A child's case.
    Case,
    /// A family's request to find a child.
    TracingRequest,
    /// A gender-based-violence incident: the most sensitive kind, with its own access right.
    Incident,
    /// A potential match between a case and a trace, with its review.
    PotentialMatch,
}

impl RecordKind {
    /// The name used in tables, commands and Primero's API paths.
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::Case => "case",
            RecordKind::TracingRequest => "tracing_request",
            RecordKind::Incident => "incident",
            RecordKind::PotentialMatch => "potential_match",
        }
    }

    /// Every kind.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Case,
        RecordKind::TracingRequest,
        RecordKind::Incident,
        RecordKind::PotentialMatch,
    ];
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sex as Primero's lookup writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// `female`
    Female,
    /// `male`
    Male,
    /// `other`
    Other,
    /// `unknown`
    Unknown,
}

/// An answer to one Washington Group Short Set question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WgAnswer {
    /// No difficulty.
    NoDifficulty,
    /// Some difficulty.
    SomeDifficulty,
    /// A lot of difficulty.
    ALotOfDifficulty,
    /// Cannot do at all.
    CannotDoAtAll,
}

impl WgAnswer {
    /// The Washington Group's disability cut-off: "a lot of difficulty" or "cannot do at all"
    /// in any domain.
    pub fn counts_as_disability(&self) -> bool {
        matches!(self, WgAnswer::ALotOfDifficulty | WgAnswer::CannotDoAtAll)
    }
}

/// Protection concern values as Primero's lookup names them. Others are accepted as they come.
pub mod concern {
    /// Unaccompanied child.
    pub const UNACCOMPANIED: &str = "unaccompanied";
    /// Separated child.
    pub const SEPARATED: &str = "separated";
    /// Child associated with armed forces or armed groups.
    pub const CAAFAG: &str = "caafag";
    /// Survivor of gender-based violence.
    pub const GBV_SURVIVOR: &str = "gbv_survivor";
    /// Trafficked or smuggled.
    pub const TRAFFICKED: &str = "trafficked_smuggled";
    /// Child labour.
    pub const CHILD_LABOUR: &str = "child_labour";
    /// Child-headed household.
    pub const CHILD_HEADED_HOUSEHOLD: &str = "child_headed_household";
    /// Living with a disability.
    pub const DISABLED: &str = "disabled";
}

/// Accepts a list, a single string, or null.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) if s.is_empty() => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// Accepts a boolean, null, or Primero's `"true"`/`"false"` strings.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(lenient_opt_bool(d)?.unwrap_or(false))
}

fn lenient_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected true or false, got {other}"
        ))),
    }
}

/// A child's case.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Case {
    /// The record id.
    pub id: RecordId,
    /// Short id shown to caseworkers.
    pub case_id_display: Option<String>,
    /// Day of registration.
    pub registration_date: Option<Date>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// The caseworker who owns the case.
    pub owned_by: Option<String>,
    /// The agency that owns the case.
    pub owned_by_agency_id: Option<String>,
    /// Full name as the child gives it.
    pub name: Option<String>,
    /// Another name or spelling.
    pub name_other: Option<String>,
    /// Nickname.
    pub name_nickname: Option<String>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Age in years (estimated when `estimated` is true).
    pub age: Option<i64>,
    /// Date of birth.
    pub date_of_birth: Option<Date>,
    /// Whether age and date of birth are estimates.
    #[serde(deserialize_with = "lenient_bool")]
    pub estimated: bool,
    /// Set when a case is kept for someone outside 0–17 (for example a young adult who turned 18
    /// in care); lifts the child-age check.
    #[serde(deserialize_with = "lenient_bool")]
    pub age_exception: bool,
    /// Nationalities.
    #[serde(deserialize_with = "string_or_list")]
    pub nationality: Vec<String>,
    /// Ethnicities.
    #[serde(deserialize_with = "string_or_list")]
    pub ethnicity: Vec<String>,
    /// Languages spoken.
    #[serde(deserialize_with = "string_or_list")]
    pub language: Vec<String>,
    /// Religions.
    #[serde(deserialize_with = "string_or_list")]
    pub religion: Vec<String>,
    /// Where the child is now (a location code).
    pub location_current: Option<String>,
    /// Where the child last lived (a location code).
    pub location_last: Option<String>,
    /// Refugee, IDP, returnee, ...
    pub displacement_status: Option<String>,
    /// Protection concerns (see [`concern`]).
    #[serde(deserialize_with = "string_or_list")]
    pub protection_concerns: Vec<String>,
    /// Marked urgent by a caseworker or by triage.
    #[serde(deserialize_with = "lenient_bool")]
    pub urgent_protection_concern: bool,
    /// `low`, `medium` or `high`.
    pub risk_level: Option<String>,
    /// Tracing status.
    pub tracing_status: Option<String>,
    /// When the child was separated from the family.
    pub date_of_separation: Option<Date>,
    /// Why (conflict, flight, ...).
    pub separation_cause: Option<String>,
    /// Where the separation happened (a location code).
    pub location_separation: Option<String>,
    /// Family members.
    pub family_details_section: Vec<FamilyMember>,
    /// Whether the child (or caregiver) consents to tracing.
    #[serde(deserialize_with = "lenient_opt_bool")]
    pub consent_for_tracing: Option<bool>,
    /// Washington Group: seeing, even with glasses.
    pub disability_seeing: Option<WgAnswer>,
    /// Washington Group: hearing, even with a hearing aid.
    pub disability_hearing: Option<WgAnswer>,
    /// Washington Group: walking or climbing steps.
    pub disability_walking: Option<WgAnswer>,
    /// Washington Group: remembering or concentrating.
    pub disability_remembering: Option<WgAnswer>,
    /// Washington Group: self-care.
    pub disability_self_care: Option<WgAnswer>,
    /// Washington Group: communicating.
    pub disability_communicating: Option<WgAnswer>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Ids of photo blobs in the vault.
    #[serde(deserialize_with = "string_or_list")]
    pub photos: Vec<String>,
    /// Why the case was closed (Primero's lookup, e.g. `reunified`, `transferred`).
    pub closure_reason: Option<String>,
    /// The day the case was closed.
    pub date_closure: Option<Date>,
    /// The caseworkers the case is assigned to (user names).
    #[serde(deserialize_with = "string_or_list")]
    pub assigned_user_names: Vec<String>,
    /// Follow-up visits and actions.
    pub followup_subform_section: Vec<Followup>,
    /// Services the child was referred to or received.
    pub services_section: Vec<Service>,
    /// The tracing request whose trace was confirmed as this child.
    pub matched_tracing_request_id: Option<String>,
    /// Primero fields fieldkit does not model, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A case's status values as Primero writes them.
pub mod status {
    /// Being worked on.
    pub const OPEN: &str = "open";
    /// Closed (see `closure_reason`): never proposed as a match.
    pub const CLOSED: &str = "closed";
}

/// One follow-up of a case (`followup_subform_section`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Followup {
    /// Key of the subform entry.
    pub unique_id: String,
    /// What kind of follow-up (Primero's lookup: `after_reunification`, `in_care`, ...).
    pub followup_type: Option<String>,
    /// When it must happen by.
    pub followup_needed_by_date: Option<Date>,
    /// When it happened.
    pub followup_date: Option<Date>,
    /// Whether the child was seen.
    #[serde(deserialize_with = "lenient_opt_bool")]
    pub child_was_seen: Option<bool>,
    /// What was done.
    pub action_taken: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One service of a case (`services_section`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Key of the subform entry.
    pub unique_id: String,
    /// The service (Primero's lookup: `health`, `education`, `family_tracing`, ...).
    pub service_type: Option<String>,
    /// Referral or direct service.
    pub service_response_type: Option<String>,
    /// The appointment's day.
    pub service_appointment_date: Option<Date>,
    /// `implemented` or `not_implemented`.
    pub service_implemented: Option<String>,
    /// Who provides it.
    pub service_provider: Option<String>,
    /// Notes of the referral.
    pub service_referral_notes: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Case {
    /// True when the case is closed (Primero's `status: closed`).
    pub fn is_closed(&self) -> bool {
        self.status.as_deref() == Some(status::CLOSED)
    }

    /// True when the case may be proposed as a match: open, with consent to tracing given.
    /// No consent recorded means no matching, as in Primero.
    pub fn open_to_tracing(&self) -> bool {
        !self.is_closed() && self.consent_for_tracing == Some(true)
    }

    /// The six Washington Group answers, in the Short Set's order.
    pub fn washington_group(&self) -> [Option<WgAnswer>; 6] {
        [
            self.disability_seeing,
            self.disability_hearing,
            self.disability_walking,
            self.disability_remembering,
            self.disability_self_care,
            self.disability_communicating,
        ]
    }

    /// True when any Washington Group answer reaches the disability cut-off.
    pub fn has_disability(&self) -> bool {
        self.washington_group()
            .iter()
            .flatten()
            .any(WgAnswer::counts_as_disability)
            || self.has_concern(concern::DISABLED)
    }

    /// True when the case lists this protection concern.
    pub fn has_concern(&self, concern: &str) -> bool {
        self.protection_concerns.iter().any(|c| c == concern)
    }

    /// Every name the child is known by, non-empty.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.name, &self.name_other, &self.name_nickname]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }
}

/// One family member of a case (`family_details_section`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyMember {
    /// Key of the subform entry.
    pub unique_id: String,
    /// mother, father, sibling, ...
    pub relation: Option<String>,
    /// The relative's name.
    pub relation_name: Option<String>,
    /// The relative's sex.
    pub relation_sex: Option<Sex>,
    /// The relative's age.
    pub relation_age: Option<i64>,
    /// `alive`, `dead` or `unknown`.
    pub relation_is_alive: Option<String>,
    /// Whether this relative is the child's caregiver now.
    #[serde(deserialize_with = "lenient_opt_bool")]
    pub relation_is_caregiver: Option<bool>,
    /// Languages the relative speaks.
    #[serde(deserialize_with = "string_or_list")]
    pub relation_language: Vec<String>,
    /// Where the relative is now (a location code).
    pub relation_location_current: Option<String>,
    /// Telephone.
    pub relation_telephone: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A family's request to find one or more children.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TracingRequest {
    /// The record id.
    pub id: RecordId,
    /// Short id shown to caseworkers.
    pub tracing_request_id_display: Option<String>,
    /// Day of the inquiry.
    pub inquiry_date: Option<Date>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// The caseworker who owns the request.
    pub owned_by: Option<String>,
    /// The agency that owns the request.
    pub owned_by_agency_id: Option<String>,
    /// The inquirer's name.
    pub relation_name: Option<String>,
    /// The inquirer's relation to the children sought.
    pub relation: Option<String>,
    /// The inquirer's nickname.
    pub relation_nickname: Option<String>,
    /// The inquirer's sex.
    pub relation_sex: Option<Sex>,
    /// The inquirer's age.
    pub relation_age: Option<i64>,
    /// The inquirer's date of birth.
    pub relation_date_of_birth: Option<Date>,
    /// The inquirer's nationalities.
    #[serde(deserialize_with = "string_or_list")]
    pub relation_nationality: Vec<String>,
    /// The inquirer's languages.
    #[serde(deserialize_with = "string_or_list")]
    pub relation_language: Vec<String>,
    /// The inquirer's religions.
    #[serde(deserialize_with = "string_or_list")]
    pub relation_religion: Vec<String>,
    /// The inquirer's ethnicities.
    #[serde(deserialize_with = "string_or_list")]
    pub relation_ethnicity: Vec<String>,
    /// Telephone of the inquirer.
    pub relation_telephone: Option<String>,
    /// Where the family last lived together (a location code).
    pub location_last: Option<String>,
    /// One trace per child sought.
    pub tracing_request_subform_section: Vec<Trace>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl TracingRequest {
    /// True when the request is closed: its traces are not matched.
    pub fn is_closed(&self) -> bool {
        self.status.as_deref() == Some(status::CLOSED)
    }

    /// The traces, one per child sought.
    pub fn traces(&self) -> &[Trace] {
        &self.tracing_request_subform_section
    }
}

/// One child sought by a tracing request (`tracing_request_subform_section`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Trace {
    /// Key of the subform entry.
    pub unique_id: String,
    /// The child's name as the family gives it.
    pub name: Option<String>,
    /// Nickname.
    pub name_nickname: Option<String>,
    /// Another name or spelling.
    pub name_other: Option<String>,
    /// The inquirer's relation to this child.
    pub relation: Option<String>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Age (at the inquiry).
    pub age: Option<i64>,
    /// Date of birth.
    pub date_of_birth: Option<Date>,
    /// When the child was separated.
    pub date_of_separation: Option<Date>,
    /// Why.
    pub separation_cause: Option<String>,
    /// Where (a location code).
    pub location_separation: Option<String>,
    /// The case this trace was matched to, once confirmed.
    pub matched_case_id: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Trace {
    /// Every name the child is sought by, non-empty.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.name, &self.name_other, &self.name_nickname]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }
}

/// A gender-based-violence incident.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Incident {
    /// The record id.
    pub id: RecordId,
    /// Short id shown to caseworkers.
    pub incident_id_display: Option<String>,
    /// When the incident happened.
    pub incident_date: Option<Date>,
    /// When it was first reported.
    pub date_of_first_report: Option<Date>,
    /// Where (a location code).
    pub incident_location: Option<String>,
    /// The GBVIMS type of violence.
    pub gbv_sexual_violence_type: Option<String>,
    /// The survivor's case, when there is one.
    pub case_id: Option<String>,
    /// Survivor code used instead of a name.
    pub survivor_code: Option<String>,
    /// Whether the survivor consents to reporting.
    #[serde(deserialize_with = "lenient_opt_bool")]
    pub consent_reporting: Option<bool>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// The caseworker who owns the incident.
    pub owned_by: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Any record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A case.
    Case(Box<Case>),
    /// A tracing request.
    TracingRequest(Box<TracingRequest>),
    /// An incident.
    Incident(Box<Incident>),
    /// A potential match.
    PotentialMatch(Box<PotentialMatch>),
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Case(_) => RecordKind::Case,
            Record::TracingRequest(_) => RecordKind::TracingRequest,
            Record::Incident(_) => RecordKind::Incident,
            Record::PotentialMatch(_) => RecordKind::PotentialMatch,
        }
    }

    /// The record's id.
    pub fn id(&self) -> RecordId {
        match self {
            Record::Case(c) => c.id,
            Record::TracingRequest(t) => t.id,
            Record::Incident(i) => i.id,
            Record::PotentialMatch(m) => m.id,
        }
    }

    /// The record as a flat JSON object with Primero's field names.
    pub fn to_json(&self) -> Value {
        let v = match self {
            Record::Case(c) => serde_json::to_value(c),
            Record::TracingRequest(t) => serde_json::to_value(t),
            Record::Incident(i) => serde_json::to_value(i),
            Record::PotentialMatch(m) => serde_json::to_value(m),
        };
        // Serialising these plain structs cannot fail: every key is a string.
        v.unwrap_or(Value::Null)
    }

    /// Reads a flat JSON object as a record of `kind`.
    pub fn from_json(kind: RecordKind, v: Value) -> Result<Record, serde_json::Error> {
        Ok(match kind {
            RecordKind::Case => Record::Case(Box::new(serde_json::from_value(v)?)),
            RecordKind::TracingRequest => {
                Record::TracingRequest(Box::new(serde_json::from_value(v)?))
            }
            RecordKind::Incident => Record::Incident(Box::new(serde_json::from_value(v)?)),
            RecordKind::PotentialMatch => {
                Record::PotentialMatch(Box::new(serde_json::from_value(v)?))
            }
        })
    }
}

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
use crate::names::{self, NameKind};
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

impl Sex {
    /// Primero's lookup id (`female`, `male`, `other`, `unknown`): what files and lists hold.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

/// One photo of a child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Photo {
    /// The id of a photo blob in the vault.
    Blob(String),
    /// A Primero attachment object, kept field for field.
    Attachment(serde_json::Map<String, Value>),
}

/// Accepts a list of photos, a single one, or null.
fn photo_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Photo>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Photo),
        Many(Vec<Photo>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(Photo::Blob(s))) if s.is_empty() => Vec::new(),
        Some(OneOrMany::One(p)) => vec![p],
        Some(OneOrMany::Many(v)) => v,
    })
}

// `skip_serializing_if` needs a function of `&bool`.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// The subforms of each kind: arrays of entries keyed by `unique_id`. An array of objects under
/// another name is a subform only when every entry carries a `unique_id`; otherwise it is one
/// value, kept whole (Primero's attachment objects are such arrays).
pub const SUBFORMS: &[&str] = &[
    "family_details_section",
    "tracing_request_subform_section",
    "followup_subform_section",
    "services_section",
];

/// Accepts a list, or null for an empty one (Primero sends `null` for a subform never filled).
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id_display: Option<String>,
    /// Day of registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<Date>,
    /// `open` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The caseworker who owns the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// The agency that owns the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by_agency_id: Option<String>,
    /// Full name as the child gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Another name or spelling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_other: Option<String>,
    /// Nickname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_nickname: Option<String>,
    /// Sex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Age in years (estimated when `estimated` is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    /// Date of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<Date>,
    /// Whether age and date of birth are estimates.
    #[serde(deserialize_with = "lenient_bool")]
    #[serde(skip_serializing_if = "is_false")]
    pub estimated: bool,
    /// Set when a case is kept for someone outside 0–17 (for example a young adult who turned 18
    /// in care); lifts the child-age check.
    #[serde(deserialize_with = "lenient_bool")]
    #[serde(skip_serializing_if = "is_false")]
    pub age_exception: bool,
    /// Nationalities.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nationality: Vec<String>,
    /// Ethnicities.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ethnicity: Vec<String>,
    /// Languages spoken.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub language: Vec<String>,
    /// Religions.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub religion: Vec<String>,
    /// Where the child is now (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_current: Option<String>,
    /// Where the child last lived (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_last: Option<String>,
    /// Refugee, IDP, returnee, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub displacement_status: Option<String>,
    /// Protection concerns (see [`concern`]).
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protection_concerns: Vec<String>,
    /// Marked urgent by a caseworker or by triage.
    #[serde(deserialize_with = "lenient_bool")]
    #[serde(skip_serializing_if = "is_false")]
    pub urgent_protection_concern: bool,
    /// `low`, `medium` or `high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<String>,
    /// The kit's own triage level of a case it received (a Primero import, another kit's or
    /// the hub's changes), kept beside Primero's `risk_level` so that what was received is
    /// never rewritten: `low`, `medium` or `high`. Never exported to Primero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fieldkit_risk_level: Option<String>,
    /// The kit's own urgent flag for a case it received (see `fieldkit_risk_level`).
    #[serde(default, deserialize_with = "lenient_bool")]
    #[serde(skip_serializing_if = "is_false")]
    pub fieldkit_urgent: bool,
    /// Tracing status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing_status: Option<String>,
    /// When the child was separated from the family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_separation: Option<Date>,
    /// Why (conflict, flight, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separation_cause: Option<String>,
    /// Where the separation happened (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_separation: Option<String>,
    /// Family members.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "null_as_empty")]
    pub family_details_section: Vec<FamilyMember>,
    /// Whether the child (or caregiver) consents to tracing.
    #[serde(deserialize_with = "lenient_opt_bool")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_for_tracing: Option<bool>,
    /// Washington Group: seeing, even with glasses.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "cfm_5_17_vision_difficulty", alias = "disability_seeing")]
    pub disability_seeing: Option<WgAnswer>,
    /// Washington Group: hearing, even with a hearing aid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "cfm_5_17_hearing_difficulty", alias = "disability_hearing")]
    pub disability_hearing: Option<WgAnswer>,
    /// Washington Group: walking or climbing steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(
        rename = "cfm_5_17_mobility_difficulty_comparative_100m",
        alias = "disability_walking"
    )]
    pub disability_walking: Option<WgAnswer>,
    /// Washington Group: remembering or concentrating.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(
        rename = "cfm_5_17_remembering_difficulty",
        alias = "disability_remembering"
    )]
    pub disability_remembering: Option<WgAnswer>,
    /// Washington Group: self-care.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(
        rename = "cfm_5_17_self_care_difficulty",
        alias = "disability_self_care"
    )]
    pub disability_self_care: Option<WgAnswer>,
    /// Washington Group: communicating.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(
        rename = "cfm_5_17_communication_difficulty_understanding_child_household",
        alias = "disability_communicating"
    )]
    pub disability_communicating: Option<WgAnswer>,
    /// Free-text notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Photos: ids of photo blobs in the vault, or Primero's attachment objects
    /// (`{"attachment": …, "file_name": …, "content_type": …}`) kept as they came.
    #[serde(deserialize_with = "photo_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Photo>,
    /// Why the case was closed (Primero's lookup, e.g. `reunified`, `transferred`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closure_reason: Option<String>,
    /// The day the case was closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_closure: Option<Date>,
    /// The caseworkers the case is assigned to (user names).
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assigned_user_names: Vec<String>,
    /// Follow-up visits and actions.
    #[serde(deserialize_with = "null_as_empty")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub followup_subform_section: Vec<Followup>,
    /// Services the child was referred to or received.
    #[serde(deserialize_with = "null_as_empty")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services_section: Vec<Service>,
    /// The tracing request whose trace was confirmed as this child.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followup_type: Option<String>,
    /// When it must happen by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followup_needed_by_date: Option<Date>,
    /// When it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followup_date: Option<Date>,
    /// Whether the child was seen.
    #[serde(deserialize_with = "lenient_opt_bool")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_was_seen: Option<bool>,
    /// What was done.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Referral or direct service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_response_type: Option<String>,
    /// The appointment's day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_appointment_date: Option<Date>,
    /// `implemented` or `not_implemented`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_implemented: Option<String>,
    /// Who provides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_provider: Option<String>,
    /// Notes of the referral.
    #[serde(skip_serializing_if = "Option::is_none")]
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

    /// The risk level to act on: the higher of Primero's `risk_level` and the kit's own
    /// triage of a received case (`fieldkit_risk_level`).
    pub fn effective_risk_level(&self) -> Option<&str> {
        let a = self.risk_level.as_deref();
        let b = self.fieldkit_risk_level.as_deref();
        if risk_rank(b) > risk_rank(a) { b } else { a }
    }

    /// True when the case is marked urgent by a caseworker, by triage at registration, or by
    /// the kit's triage of a received case.
    pub fn is_urgent(&self) -> bool {
        self.urgent_protection_concern || self.fieldkit_urgent
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

    /// Every name the child is known by, non-empty, with its kind.
    pub fn named(&self) -> impl Iterator<Item = (NameKind, &str)> {
        names::written([
            (NameKind::Name, self.name.as_ref()),
            (NameKind::Other, self.name_other.as_ref()),
            (NameKind::Nickname, self.name_nickname.as_ref()),
        ])
    }

    /// Every name the child is known by, non-empty.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named().map(|(_, n)| n)
    }
}

/// One family member of a case (`family_details_section`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyMember {
    /// Key of the subform entry.
    pub unique_id: String,
    /// mother, father, sibling, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// The relative's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_name: Option<String>,
    /// The relative's sex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_sex: Option<Sex>,
    /// The relative's age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_age: Option<i64>,
    /// `alive`, `dead` or `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_is_alive: Option<String>,
    /// Whether this relative is the child's caregiver now.
    #[serde(deserialize_with = "lenient_opt_bool")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_is_caregiver: Option<bool>,
    /// Languages the relative speaks.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_language: Vec<String>,
    /// Where the relative is now (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_location_current: Option<String>,
    /// Telephone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_telephone: Option<String>,
    /// The relative's nickname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_nickname: Option<String>,
    /// The relative's date of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_date_of_birth: Option<Date>,
    /// The relative's nationalities.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_nationality: Vec<String>,
    /// The relative's ethnicity (a single select in Primero; a list is accepted).
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_ethnicity: Vec<String>,
    /// The relative's religions.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_religion: Vec<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing_request_id_display: Option<String>,
    /// Day of the inquiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inquiry_date: Option<Date>,
    /// `open` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The caseworker who owns the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// The agency that owns the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by_agency_id: Option<String>,
    /// The inquirer's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_name: Option<String>,
    /// The inquirer's relation to the children sought.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// The inquirer's nickname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_nickname: Option<String>,
    /// The inquirer's sex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_sex: Option<Sex>,
    /// The inquirer's age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_age: Option<i64>,
    /// The inquirer's date of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_date_of_birth: Option<Date>,
    /// The inquirer's nationalities.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_nationality: Vec<String>,
    /// The inquirer's languages.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_language: Vec<String>,
    /// The inquirer's religions.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_religion: Vec<String>,
    /// The inquirer's ethnicities.
    #[serde(deserialize_with = "string_or_list")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relation_ethnicity: Vec<String>,
    /// Telephone of the inquirer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_telephone: Option<String>,
    /// Where the family last lived together (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_last: Option<String>,
    /// When the inquirer was separated from the children (Primero's separation history on the
    /// request; a trace's own date comes first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_separation: Option<Date>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separation_cause: Option<String>,
    /// Where the separation happened (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_separation: Option<String>,
    /// One trace per child sought.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "null_as_empty")]
    pub tracing_request_subform_section: Vec<Trace>,
    /// Free-text notes.
    #[serde(skip_serializing_if = "Option::is_none")]
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

    /// The inquirer's names, non-empty, with their kinds.
    pub fn inquirer_named(&self) -> impl Iterator<Item = (NameKind, &str)> {
        names::written([
            (NameKind::Name, self.relation_name.as_ref()),
            (NameKind::Nickname, self.relation_nickname.as_ref()),
        ])
    }
}

impl FamilyMember {
    /// The relative's names, non-empty, with their kinds.
    pub fn named(&self) -> impl Iterator<Item = (NameKind, &str)> {
        names::written([
            (NameKind::Name, self.relation_name.as_ref()),
            (NameKind::Nickname, self.relation_nickname.as_ref()),
        ])
    }
}

/// One child sought by a tracing request (`tracing_request_subform_section`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Trace {
    /// Key of the subform entry.
    pub unique_id: String,
    /// The child's name as the family gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Nickname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_nickname: Option<String>,
    /// Another name or spelling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_other: Option<String>,
    /// The inquirer's relation to this child.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// Sex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Age (at the inquiry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
    /// Date of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<Date>,
    /// When the child was separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_separation: Option<Date>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separation_cause: Option<String>,
    /// Where (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_separation: Option<String>,
    /// Where the child last lived (a location code; the request's `location_last` when not
    /// given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_last: Option<String>,
    /// The case this trace was matched to, once confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_case_id: Option<String>,
    /// Fields fieldkit does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Trace {
    /// Every name the child is sought by, non-empty, with its kind.
    pub fn named(&self) -> impl Iterator<Item = (NameKind, &str)> {
        names::written([
            (NameKind::Name, self.name.as_ref()),
            (NameKind::Other, self.name_other.as_ref()),
            (NameKind::Nickname, self.name_nickname.as_ref()),
        ])
    }

    /// Every name the child is sought by, non-empty.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named().map(|(_, n)| n)
    }
}

/// A gender-based-violence incident.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Incident {
    /// The record id.
    pub id: RecordId,
    /// Short id shown to caseworkers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id_display: Option<String>,
    /// When the incident happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_date: Option<Date>,
    /// When it was first reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_first_report: Option<Date>,
    /// Where (a location code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_location: Option<String>,
    /// The GBVIMS type of violence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbv_sexual_violence_type: Option<String>,
    /// The survivor's case, when there is one. Primero names it `incident_case_id` (an
    /// incident made from a case); a record keeps the name it came with.
    #[serde(skip_serializing_if = "Option::is_none", alias = "incident_case_id")]
    pub case_id: Option<String>,
    /// Survivor code used instead of a name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survivor_code: Option<String>,
    /// Whether the survivor consents to reporting.
    #[serde(deserialize_with = "lenient_opt_bool")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_reporting: Option<bool>,
    /// `open` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The caseworker who owns the incident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// Free-text notes.
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// The order of risk levels (`high` > `medium` > `low` > none or unknown).
pub fn risk_rank(level: Option<&str>) -> u8 {
    match level {
        Some("high") => 3,
        Some("medium") => 2,
        Some("low") => 1,
        _ => 0,
    }
}

//! The protocol's static dictionaries: Primero field names and common lookup values, each
//! sent as a one-byte index instead of its text.
//!
//! **Append only.** An entry's position is its code on the wire; a kit and a hub on different
//! versions still agree on every code both know. A code past the end of the receiver's table
//! is a decode error (the sender is newer), never a wrong field. Text not in a table is sent
//! as text, so nothing outside the dictionary is lost.

/// Field names and subform section names, in wire order (position = code).
pub const FIELDS: &[&str] = &[
    // 0..: the case
    "name",
    "name_other",
    "name_nickname",
    "sex",
    "age",
    "date_of_birth",
    "estimated",
    "age_exception",
    "nationality",
    "ethnicity",
    "language",
    "religion",
    "location_current",
    "location_last",
    "displacement_status",
    "protection_concerns",
    "urgent_protection_concern",
    "risk_level",
    "tracing_status",
    "date_of_separation",
    "separation_cause",
    "location_separation",
    "family_details_section",
    "consent_for_tracing",
    "disability_seeing",
    "disability_hearing",
    "disability_walking",
    "disability_remembering",
    "disability_self_care",
    "disability_communicating",
    "notes",
    "photos",
    "case_id_display",
    "registration_date",
    "status",
    "owned_by",
    "owned_by_agency_id",
    // 37..: family details entries
    "unique_id",
    "relation",
    "relation_name",
    "relation_sex",
    "relation_age",
    "relation_is_alive",
    "relation_is_caregiver",
    "relation_language",
    "relation_location_current",
    "relation_telephone",
    // 47..: tracing requests and traces
    "tracing_request_id_display",
    "inquiry_date",
    "relation_nickname",
    "relation_date_of_birth",
    "relation_nationality",
    "relation_religion",
    "relation_ethnicity",
    "tracing_request_subform_section",
    "matched_case_id",
    // 56..: incidents
    "incident_id_display",
    "incident_date",
    "date_of_first_report",
    "incident_location",
    "gbv_sexual_violence_type",
    "case_id",
    "survivor_code",
    "consent_reporting",
    // 64..: workflow
    "workflow",
    "record_state",
    "assigned_user_names",
    // 67..: Washington Group / UNICEF child functioning (ages 5–17), Primero's names
    "cfm_5_17_vision_difficulty",
    "cfm_5_17_hearing_difficulty",
    "cfm_5_17_mobility_difficulty_comparative_100m",
    "cfm_5_17_self_care_difficulty",
    "cfm_5_17_communication_difficulty_understanding_child_household",
    "cfm_5_17_remembering_difficulty",
    // 73..: potential matches as the hub sends them (protocol version 4), and fields a kit
    // writes on cases it received or closed
    "tracing_request_id",
    "trace_id",
    "case_name",
    "trace_name",
    "score",
    "likelihood",
    "comparison",
    "proposed_at",
    "reviewed_by",
    "reviewed_at",
    "review_note",
    "case_fingerprint",
    "trace_fingerprint",
    "field",
    "weight",
    "detail",
    "matched_tracing_request_id",
    "fieldkit_risk_level",
    "fieldkit_urgent",
    "closure_reason",
    "date_closure",
];

/// Common lookup values (position = code).
pub const VALUES: &[&str] = &[
    // 0..: sex
    "female",
    "male",
    "other",
    "unknown",
    // 4..: risk, status, tracing status
    "high",
    "medium",
    "low",
    "open",
    "closed",
    "in_progress",
    "on_hold",
    "tracing_in_progress",
    "verified",
    "reunified",
    // 14..: relations and their state
    "mother",
    "father",
    "sibling",
    "uncle",
    "aunt",
    "grandmother",
    "grandfather",
    "brother",
    "sister",
    "cousin",
    "alive",
    "dead",
    // 26..: displacement
    "refugee",
    "asylum_seeker",
    "idp",
    "returnee",
    // 30..: Washington Group answers
    "no_difficulty",
    "some_difficulty",
    "a_lot_of_difficulty",
    "cannot_do_at_all",
    // 34..: protection concerns
    "unaccompanied",
    "separated",
    "caafag",
    "gbv_survivor",
    "trafficked_smuggled",
    "child_labour",
    "child_headed_household",
    "disabled",
    "physical_abuse_violence",
    "sexual_abuse_violence",
    "emotional_or_psychological",
    "neglect",
    "abandonment",
    "hazardous_work",
    "sexual_exploitation",
    "associated_with_armed",
    "serious_medical_condition",
    "orphan",
    "psychosocial_distress",
    "child_marriage",
    "lack_of_documentation_birth_registration",
    // 55..: separation causes ("other" is code 2)
    "abandoned",
    "family_abuse_violence_neglect_exploitation",
    "death_sickness_of_family_member",
    "separation_because_of_fleeing_violence_war",
    "separation_because_of_natural_disaster",
    "separation_because_of_persecution",
    "search_for_employment",
    "migration",
    "recruitment_into_armed_forces_or_armed_groups",
    "abducted_trafficked",
    "arrest_detention",
    "other_please_specify",
    // 67..: match classes and decisions
    "likely",
    "possible",
    "true",
    "false",
    "not_applicable",
];

/// How the typed record form (body tag 7) writes a field's value when it has the usual
/// type: one varint, no type header. A value of another type is escaped and written as any
/// value, so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An ISO date: days from [`DATE_EPOCH_DAY`].
    Date,
    /// A whole number from zero (an age).
    Count,
    /// Words of a table: a deployment's code list ([`crate::codes`]) when both ends agreed on
    /// one that holds the table, else the protocol's [`VALUES`].
    Words(&'static str),
}

/// 2020-01-01 as days since 1970: dates in the typed form count from it (a birth, a
/// separation or a registration date of a child today is within a few thousand days).
pub const DATE_EPOCH_DAY: i64 = 18_262;

/// The shape of a field (by its own name; a subform's fields by theirs).
pub fn shape(field: &str) -> Option<Shape> {
    use Shape::{Count, Date, Words};
    Some(match field {
        "registration_date"
        | "date_of_birth"
        | "date_of_separation"
        | "inquiry_date"
        | "relation_date_of_birth"
        | "incident_date"
        | "date_of_first_report"
        | "date_closure" => Date,
        "age" | "relation_age" => Count,
        "location_current"
        | "location_last"
        | "location_separation"
        | "relation_location_current"
        | "incident_location" => Words("locations"),
        "nationality" | "relation_nationality" => Words("nationality"),
        "language" | "relation_language" => Words("language"),
        "religion" | "relation_religion" => Words("religion"),
        "ethnicity" | "relation_ethnicity" => Words("ethnicity"),
        "separation_cause" => Words("separation_cause"),
        "owned_by_agency_id" => Words("agencies"),
        "owned_by" | "assigned_user_names" => Words("users"),
        "sex"
        | "relation_sex"
        | "risk_level"
        | "status"
        | "tracing_status"
        | "displacement_status"
        | "protection_concerns"
        | "relation"
        | "relation_is_alive"
        | "workflow"
        | "record_state"
        | "disability_seeing"
        | "disability_hearing"
        | "disability_walking"
        | "disability_remembering"
        | "disability_self_care"
        | "disability_communicating" => Words(""),
        f if f.starts_with("cfm_5_17_") => Words(""),
        _ => return None,
    })
}

/// The code of `word` in `table`.
pub fn code(table: &[&str], word: &str) -> Option<usize> {
    table.iter().position(|w| *w == word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn tables_hold_no_duplicates_and_stay_within_one_byte_codes() {
        for table in [FIELDS, VALUES] {
            let set: BTreeSet<_> = table.iter().collect();
            assert_eq!(
                set.len(),
                table.len(),
                "a duplicate entry would be unreachable"
            );
            // Codes travel as `(code << 2) | flags` varints: one byte up to 31, two up to 4095.
            assert!(table.len() < 4096);
        }
        assert_eq!(code(FIELDS, "name"), Some(0));
        assert_eq!(code(FIELDS, "relation_name"), Some(39));
        assert_eq!(code(FIELDS, "matched_case_id"), Some(55));
        assert_eq!(code(VALUES, "likely"), Some(67));
        assert_eq!(code(FIELDS, "cfm_5_17_vision_difficulty"), Some(67));
    }
}

//! The lookup lists select fields take their values from, in Primero's names
//! (`lookup-gender`, `lookup-protection-concerns`, ...), and the check every value entered on
//! the kit goes through: a value is saved as the list's id (`unaccompanied`), whether it was
//! typed as the id, its display text (`Unaccompanied`) in any case, or — for sex — the letter
//! lists show (`M`, `F`); anything else is refused with the closest known value suggested.
//!
//! A deployment configures its own lists (Primero's lookups export, see
//! [`Lookups::from_primero_json`]); each list it gives replaces the shipped one of that name.
//! The shipped lists are Primero's defaults plus the values fieldkit's own rules use.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::record::RecordKind;
use crate::validate::{FieldError, Problem, ValidationErrors};

/// One value of a list: its id (what is stored) and what people see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupValue {
    /// The id Primero stores (`unaccompanied`).
    pub id: String,
    /// The display texts, any language (`Unaccompanied child`).
    pub display: Vec<String>,
}

/// Every lookup list, by Primero's unique id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookups {
    lists: BTreeMap<String, Vec<LookupValue>>,
}

/// A lookups file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupsError {
    /// Not JSON, or not Primero's shape.
    #[error(
        "not a Primero lookups export ({0}): expected [{{\"unique_id\": \"lookup-…\", \"values\": [{{\"id\": …, \"display_text\": …}}]}}]"
    )]
    Shape(String),
}

/// Which list each field takes its values from: `(kind, subform or "", field, lookup)`.
const FIELDS: &[(RecordKind, &str, &str, &str)] = &[
    (RecordKind::Case, "", "sex", GENDER),
    (RecordKind::Case, "", "protection_concerns", CONCERNS),
    (RecordKind::Case, "", "displacement_status", DISPLACEMENT),
    (RecordKind::Case, "", "risk_level", RISK),
    (RecordKind::Case, "", "status", CASE_STATUS),
    (
        RecordKind::Case,
        "family_details_section",
        "relation",
        RELATION,
    ),
    (
        RecordKind::Case,
        "family_details_section",
        "relation_sex",
        GENDER,
    ),
    (
        RecordKind::Case,
        "family_details_section",
        "relation_is_alive",
        ALIVE,
    ),
    (RecordKind::TracingRequest, "", "relation", RELATION),
    (RecordKind::TracingRequest, "", "relation_sex", GENDER),
    (
        RecordKind::TracingRequest,
        "tracing_request_subform_section",
        "sex",
        GENDER,
    ),
];

const GENDER: &str = "lookup-gender";
const CONCERNS: &str = "lookup-protection-concerns";
const DISPLACEMENT: &str = "lookup-displacement-status";
const RISK: &str = "lookup-risk-level";
const CASE_STATUS: &str = "lookup-case-status";
const RELATION: &str = "lookup-family-relationship";
const ALIVE: &str = "lookup-alive-dead-unknown";

/// The shipped lists: (lookup, [(id, display text)]).
const SHIPPED: &[(&str, &[(&str, &str)])] = &[
    (
        GENDER,
        &[
            ("female", "Female"),
            ("male", "Male"),
            ("other", "Other"),
            ("unknown", "Unknown"),
        ],
    ),
    (
        CONCERNS,
        &[
            ("unaccompanied", "Unaccompanied"),
            ("separated", "Separated"),
            ("caafag", "Associated with armed forces or groups (CAAFAG)"),
            (
                "associated_with_armed",
                "Associated with armed forces or groups",
            ),
            ("gbv_survivor", "GBV survivor"),
            ("trafficked_smuggled", "Trafficked / smuggled"),
            (
                "slavery_sale_abduction",
                "Slavery / sale / abduction / trafficking",
            ),
            ("child_labour", "Child labour"),
            ("worst_forms_of_child_labor", "Worst forms of child labour"),
            ("hazardous_work", "Hazardous work"),
            ("child_headed_household", "Child-headed household"),
            ("disabled", "Disabled"),
            ("physical_abuse_violence", "Physical abuse / violence"),
            ("sexual_abuse_violence", "Sexual abuse / violence"),
            ("rape", "Rape"),
            (
                "emotional_or_psychological",
                "Emotional or psychological abuse",
            ),
            (
                "physically_or_mentally_abused",
                "Physically or mentally abused",
            ),
            ("neglect", "Neglect"),
            ("abandonment", "Abandonment"),
            ("sexual_exploitation", "Sexual exploitation"),
            ("sexually_exploited", "Sexually exploited"),
            ("child_marriage", "Child marriage"),
            ("child_mother", "Child mother"),
            ("orphan", "Orphan"),
            ("street_child", "Street child"),
            ("serious_medical_condition", "Serious medical condition"),
            ("serious_health_issue", "Serious health issue"),
            ("psychosocial_distress", "Psychosocial distress"),
            ("mentally_distressed", "Mentally distressed"),
            (
                "lack_of_documentation_birth_registration",
                "No documents / birth registration",
            ),
            ("statelessness", "Statelessness"),
            ("arrested_detained", "Arrested / detained"),
            ("deprived_of_liberty", "Deprived of liberty"),
            ("in_conflict_with_the_law", "In conflict with the law"),
            ("migrant", "Migrant"),
            ("refugee", "Refugee"),
            (
                "living_with_vulnerable_person",
                "Living with a vulnerable person",
            ),
            ("other", "Other"),
        ],
    ),
    (
        DISPLACEMENT,
        &[
            ("refugee", "Refugee"),
            ("asylum_seeker", "Asylum seeker"),
            ("idp", "Internally displaced person"),
            ("returnee", "Returnee"),
            ("resident", "Resident"),
            ("stateless", "Stateless"),
            ("migrant", "Migrant"),
            ("host_community", "Host community"),
            ("other", "Other"),
        ],
    ),
    (
        RISK,
        &[("low", "Low"), ("medium", "Medium"), ("high", "High")],
    ),
    (CASE_STATUS, &[("open", "Open"), ("closed", "Closed")]),
    (
        RELATION,
        &[
            ("mother", "Mother"),
            ("father", "Father"),
            ("sibling", "Sibling"),
            ("sister", "Sister"),
            ("brother", "Brother"),
            ("aunt", "Aunt"),
            ("uncle", "Uncle"),
            ("grandmother", "Grandmother"),
            ("grandfather", "Grandfather"),
            ("grandparent", "Grandparent"),
            ("cousin", "Cousin"),
            ("step_mother", "Step-mother"),
            ("step_father", "Step-father"),
            ("half_sister", "Half-sister"),
            ("half_brother", "Half-brother"),
            ("husband", "Husband"),
            ("wife", "Wife"),
            ("son", "Son"),
            ("daughter", "Daughter"),
            ("niece", "Niece"),
            ("nephew", "Nephew"),
            ("foster_parent", "Foster parent"),
            ("legal_guardian", "Legal guardian"),
            ("caregiver", "Caregiver"),
            ("other_family", "Other family"),
            ("other_nonfamily", "Other, not family"),
            ("other", "Other"),
            ("unknown", "Unknown"),
        ],
    ),
    (
        ALIVE,
        &[("alive", "Alive"), ("dead", "Dead"), ("unknown", "Unknown")],
    ),
];

/// What a field's list calls itself in (English) messages.
pub(crate) fn list_word(lookup: &str) -> &str {
    match lookup {
        GENDER => "sex",
        CONCERNS => "protection concern",
        DISPLACEMENT => "displacement status",
        RISK => "risk level",
        CASE_STATUS => "case status",
        RELATION => "family relation",
        ALIVE => "alive/dead value",
        other => other.strip_prefix("lookup-").unwrap_or(other),
    }
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups::shipped()
    }
}

impl Lookups {
    /// The lists fieldkit ships: Primero's defaults and the values its triage rules use.
    pub fn shipped() -> Lookups {
        let lists = SHIPPED
            .iter()
            .map(|(name, values)| {
                let values = values
                    .iter()
                    .map(|(id, text)| LookupValue {
                        id: (*id).to_string(),
                        display: vec![(*text).to_string()],
                    })
                    .collect();
                ((*name).to_string(), values)
            })
            .collect();
        Lookups { lists }
    }

    /// The shipped lists with a deployment's own on top: Primero's lookups export, either the
    /// API's `{"data": [...]}` or a bare array, each entry `{"unique_id": "lookup-…", "values"
    /// (or "lookup_values"): [{"id": …, "display_text": "…" or {"en": "…", "fr": "…"}}]}`.
    /// A list given replaces the shipped list of the same name whole.
    pub fn from_primero_json(text: &str) -> Result<Lookups, LookupsError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| LookupsError::Shape(e.to_string()))?;
        let entries = match &v {
            Value::Array(a) => a,
            Value::Object(o) => o
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| LookupsError::Shape("no `data` array".into()))?,
            _ => return Err(LookupsError::Shape("not an array".into())),
        };
        let mut out = Lookups::shipped();
        for (i, e) in entries.iter().enumerate() {
            let name = e
                .get("unique_id")
                .and_then(Value::as_str)
                .ok_or_else(|| LookupsError::Shape(format!("entry {}: no unique_id", i + 1)))?;
            let values = e
                .get("values")
                .or_else(|| e.get("lookup_values"))
                .or_else(|| e.get("lookup_values_en"))
                .and_then(Value::as_array)
                .ok_or_else(|| LookupsError::Shape(format!("{name}: no values")))?;
            let mut list = Vec::with_capacity(values.len());
            for v in values {
                let id = v
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| LookupsError::Shape(format!("{name}: a value without id")))?;
                let display = match v.get("display_text") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Object(langs)) => langs
                        .values()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                list.push(LookupValue {
                    id: id.to_string(),
                    display,
                });
            }
            out.lists.insert(name.to_string(), list);
        }
        Ok(out)
    }

    /// The list a field takes its values from (`lookup-gender` for a case's `sex`): `subform`
    /// is the subform's field name, or "" for a top-level field. `None`: the field is free
    /// text, a number or a date.
    pub fn list_of(kind: RecordKind, subform: &str, field: &str) -> Option<&'static str> {
        FIELDS
            .iter()
            .find(|(k, sub, f, _)| *k == kind && *sub == subform && *f == field)
            .map(|(_, _, _, lookup)| *lookup)
    }

    /// Every list, by name, with its values.
    pub fn lists(&self) -> impl Iterator<Item = (&str, &[LookupValue])> {
        self.lists.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The values of one list (`lookup-gender`).
    pub fn list(&self, lookup: &str) -> Option<&[LookupValue]> {
        self.lists.get(lookup).map(Vec::as_slice)
    }

    /// Puts every lookup value of a record of `kind` in its list's form (the id), in place;
    /// refuses unknown values, each with the closest known one suggested. Fields without a
    /// list and values that are not text are left as they are.
    pub fn tidy(
        &self,
        kind: RecordKind,
        record: &mut Map<String, Value>,
    ) -> Result<(), ValidationErrors> {
        let mut errors = Vec::new();
        self.each(
            kind,
            record,
            &mut |path, lookup, value| match self.find(lookup, value) {
                Ok(id) => {
                    if id != value.as_str() {
                        *value = id.to_string();
                    }
                }
                Err(message) => errors.push(FieldError {
                    field: path,
                    message,
                }),
            },
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// The problems [`Lookups::tidy`] would refuse, without changing anything (for what
    /// arrives by sync, which is never refused).
    pub fn check(&self, kind: RecordKind, record: &Map<String, Value>) -> Vec<FieldError> {
        let mut copy = record.clone();
        self.tidy(kind, &mut copy)
            .err()
            .map(|e| e.0)
            .unwrap_or_default()
    }

    fn each(
        &self,
        kind: RecordKind,
        record: &mut Map<String, Value>,
        f: &mut dyn FnMut(String, &str, &mut String),
    ) {
        for (k, sub, field, lookup) in FIELDS {
            if *k != kind {
                continue;
            }
            if sub.is_empty() {
                if let Some(v) = record.get_mut(*field) {
                    strings(field, v, lookup, f);
                }
                continue;
            }
            let Some(Value::Array(entries)) = record.get_mut(*sub) else {
                continue;
            };
            for (i, e) in entries.iter_mut().enumerate() {
                if let Some(v) = e.get_mut(*field) {
                    strings(&format!("{sub}[{i}].{field}"), v, lookup, f);
                }
            }
        }
    }

    /// The id `value` stands for in `lookup`, or why it stands for none.
    fn find<'a>(&'a self, lookup: &str, value: &str) -> Result<&'a str, Problem> {
        let Some(list) = self.lists.get(lookup) else {
            return Err(Problem::NoList {
                list: lookup.to_owned(),
            });
        };
        let typed = value.trim();
        if let Some(v) = list.iter().find(|v| v.id == typed) {
            return Ok(&v.id);
        }
        let folded = fold(typed);
        if let Some(v) = list
            .iter()
            .find(|v| fold(&v.id) == folded || v.display.iter().any(|d| fold(d) == folded))
        {
            return Ok(&v.id);
        }
        // The letters lists show for sex (F, M, O, U): a letter that starts one value only.
        if lookup == GENDER && folded.chars().count() == 1 {
            let mut starting = list.iter().filter(|v| fold(&v.id).starts_with(&folded));
            if let (Some(v), None) = (starting.next(), starting.next()) {
                return Ok(&v.id);
            }
        }
        let suggestion = closest(list, &folded).map(str::to_owned);
        let known: Vec<String> = if suggestion.is_some() {
            Vec::new()
        } else {
            list.iter().map(|v| v.id.clone()).take(12).collect()
        };
        Err(Problem::UnknownValue {
            value: typed.to_owned(),
            list: lookup.to_owned(),
            more: suggestion.is_none() && list.len() > known.len(),
            suggestion,
            known,
        })
    }
}

/// Calls `f` on each text value of a field (one, or each of a list).
fn strings(path: &str, v: &mut Value, lookup: &str, f: &mut dyn FnMut(String, &str, &mut String)) {
    match v {
        Value::String(s) if !s.trim().is_empty() => f(path.to_string(), lookup, s),
        Value::Array(items) => {
            for item in items {
                if let Value::String(s) = item {
                    f(path.to_string(), lookup, s);
                }
            }
        }
        _ => {}
    }
}

/// Lower case, spaces, dashes and slashes as underscores: `Step-mother` → `step_mother`.
fn fold(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect()
}

/// The known id closest to a typed value, when one is close enough to be the one meant.
fn closest<'a>(list: &'a [LookupValue], folded: &str) -> Option<&'a str> {
    list.iter()
        .flat_map(|v| {
            std::iter::once(fold(&v.id))
                .chain(v.display.iter().map(|d| fold(d)))
                .map(move |t| (strsim::jaro_winkler(folded, &t), v.id.as_str()))
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tidy(kind: RecordKind, v: Value) -> Result<Value, Vec<String>> {
        let Value::Object(mut o) = v else { panic!() };
        match Lookups::shipped().tidy(kind, &mut o) {
            Ok(()) => Ok(Value::Object(o)),
            Err(e) => Err(e
                .0
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect()),
        }
    }

    #[test]
    fn a_field_names_its_list_and_free_text_names_none() {
        assert_eq!(
            Lookups::list_of(RecordKind::Case, "", "sex"),
            Some("lookup-gender")
        );
        assert_eq!(
            Lookups::list_of(
                RecordKind::TracingRequest,
                "tracing_request_subform_section",
                "sex"
            ),
            Some("lookup-gender")
        );
        assert_eq!(Lookups::list_of(RecordKind::Case, "", "name"), None);
        assert_eq!(
            Lookups::list_of(RecordKind::TracingRequest, "", "sex"),
            None
        );
    }

    #[test]
    fn a_misspelled_concern_is_refused_with_the_right_spelling_suggested() {
        let e = tidy(
            RecordKind::Case,
            json!({"protection_concerns": ["separated", "unacompanied"]}),
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "protection_concerns: `unacompanied` is not a known protection concern; did you mean `unaccompanied`?"
            ]
        );
    }

    #[test]
    fn letters_display_texts_and_case_become_the_lists_ids() {
        let v = tidy(
            RecordKind::Case,
            json!({"sex": "M", "protection_concerns": "Unaccompanied",
                   "family_details_section": [{"relation": "Step-Mother", "relation_sex": "f"}]}),
        )
        .unwrap();
        assert_eq!(v["sex"], "male");
        assert_eq!(v["protection_concerns"], "unaccompanied");
        assert_eq!(v["family_details_section"][0]["relation"], "step_mother");
        assert_eq!(v["family_details_section"][0]["relation_sex"], "female");
    }

    #[test]
    fn relations_of_requests_and_traces_are_checked_too() {
        let e = tidy(
            RecordKind::TracingRequest,
            json!({"relation": "mothr", "tracing_request_subform_section": [{"sex": "x"}]}),
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("did you mean `mother`"), "{e:?}");
        assert!(e[1].starts_with("tracing_request_subform_section[0].sex: `x` is not a known sex (known: female, male, other, unknown)"), "{e:?}");
    }

    #[test]
    fn a_configured_list_replaces_the_shipped_one() {
        let l = Lookups::from_primero_json(
            r#"{"data": [{"unique_id": "lookup-protection-concerns",
                 "values": [{"id": "uasc", "display_text": {"en": "Unaccompanied or separated"}}]}]}"#,
        )
        .unwrap();
        let mut o = json!({"protection_concerns": ["Unaccompanied or separated"]});
        l.tidy(RecordKind::Case, o.as_object_mut().unwrap())
            .unwrap();
        assert_eq!(o["protection_concerns"][0], "uasc");
        let mut o = json!({"protection_concerns": ["unaccompanied"]});
        assert!(
            l.tidy(RecordKind::Case, o.as_object_mut().unwrap())
                .is_err()
        );
        assert!(Lookups::from_primero_json("[1]").is_err());
    }
}

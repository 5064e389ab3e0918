//! Compact, precomputed views of the children that cases register and traces seek.
//!
//! The matcher compares [`ChildProfile`]s, never records: every name is normalised
//! once, when the profile is built, so matching a trace against 100,000 cases never
//! re-normalises a name. A case gives one profile (the child, and the family it
//! lists); a trace gives one profile (the child sought, and the inquirer as its one
//! relative). Building a profile does no IO; "today" is passed in.
//!
//! ```
//! use fieldkit_domain::{Case, Date};
//! use fieldkit_match::profile::{ChildProfile, Locations};
//!
//! let case = Case { name: Some("محمد علي".into()), age: Some(9), ..Case::default() };
//! let today: Date = "2026-03-01".parse().unwrap();
//! let p = ChildProfile::from_case(&case, &Locations::CodePrefixes, today);
//! assert_eq!(p.names[0].tokens[0].text(), "muhammad");
//! assert_eq!(p.birth_year, Some(2017));
//! ```

use fieldkit_domain::{Case, Date, FamilyMember, LocationTree, Sex, Trace, TracingRequest};

use crate::names::{NameToken, hash_bytes, name_key};

pub use fieldkit_domain::names::NameKind;

/// One written name, as written and as tokens.
#[derive(Clone, Debug)]
pub struct NameField {
    /// Which field it came from.
    pub kind: NameKind,
    /// As written, for explanations.
    pub display: Box<str>,
    /// Normalised tokens.
    pub tokens: Box<[NameToken]>,
}

impl NameField {
    fn new(kind: NameKind, raw: &str) -> Option<Self> {
        let tokens = name_key(raw);
        (!tokens.is_empty()).then(|| NameField {
            kind,
            display: raw.trim().into(),
            tokens: tokens.into_boxed_slice(),
        })
    }
}

/// How a relative is related to the child, grouped as tracing needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Mother.
    Mother,
    /// Father.
    Father,
    /// Brother or sister.
    Sibling,
    /// Grandmother or grandfather.
    Grandparent,
    /// Aunt, uncle, cousin or other family.
    OtherFamily,
    /// Not said, or not family.
    Unknown,
}

impl Relation {
    /// Reads Primero's relation lookup values (and plain words).
    pub fn parse(value: Option<&str>) -> Relation {
        let Some(v) = value else {
            return Relation::Unknown;
        };
        let v = v.trim().to_ascii_lowercase();
        match v.as_str() {
            "mother" | "mother_biological" | "stepmother" | "mum" | "mom" => Relation::Mother,
            "father" | "father_biological" | "stepfather" | "dad" => Relation::Father,
            "brother" | "sister" | "sibling" | "half_brother" | "half_sister" => Relation::Sibling,
            "grandmother" | "grandfather" | "grandparent" => Relation::Grandparent,
            "" | "other" | "other_nonfamily" | "unknown" => Relation::Unknown,
            _ => Relation::OtherFamily,
        }
    }

    /// The relation as an explanation carries it (a lookup id where there is one; `unknown`
    /// for a relative of no stated relation).
    pub fn id(self) -> &'static str {
        match self {
            Relation::Mother => "mother",
            Relation::Father => "father",
            Relation::Sibling => "sibling",
            Relation::Grandparent => "grandparent",
            Relation::OtherFamily => "other_family",
            Relation::Unknown => "unknown",
        }
    }

    /// A word for the caseworker.
    pub fn word(self) -> &'static str {
        match self {
            Relation::Mother => "mother",
            Relation::Father => "father",
            Relation::Sibling => "sibling",
            Relation::Grandparent => "grandparent",
            Relation::OtherFamily => "other family",
            Relation::Unknown => "relative",
        }
    }
}

/// A relative of the child: a case's family member, or a trace's inquirer. Primero's
/// `relation_*` fields on both sides describe the same person.
#[derive(Clone, Debug)]
pub struct Relative {
    /// Relation to the child.
    pub relation: Relation,
    /// Names (`relation_name` and `relation_nickname`).
    pub names: Vec<NameField>,
    /// Age in years, when given.
    pub age: Option<u8>,
    /// Year of birth: from `relation_date_of_birth`, else the record's date minus the age.
    pub birth_year: Option<i32>,
    /// `relation_date_of_birth`, when given.
    pub date_of_birth: Option<Date>,
    /// `relation_nationality` (hashed values).
    pub nationality: Box<[u32]>,
    /// `relation_ethnicity` (hashed values).
    pub ethnicity: Box<[u32]>,
    /// `relation_religion` (hashed values).
    pub religion: Box<[u32]>,
}

/// A place as its path from the country down (hashed codes), so two places compare
/// by their deepest common level without the location tree at hand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    path: [u32; 4],
    depth: u8,
}

impl Place {
    /// The hashed path and its depth, as [`Place::from_raw`] takes them back (the kit core
    /// keeps places so between sign-ins).
    pub fn to_raw(&self) -> ([u32; 4], u8) {
        (self.path, self.depth)
    }

    /// A place from what [`Place::to_raw`] gave (a depth above 4 is cut to 4).
    pub fn from_raw(path: [u32; 4], depth: u8) -> Place {
        Place {
            path,
            depth: depth.min(4),
        }
    }

    /// Number of levels known (0 when no place).
    pub fn depth(&self) -> usize {
        usize::from(self.depth)
    }

    /// True when no place was given.
    pub fn is_unknown(&self) -> bool {
        self.depth == 0
    }

    /// How many levels two places share from the country down (0 = different
    /// countries, 1 = same country, 2 = region, 3 = camp, 4 = block).
    pub fn shared_levels(&self, other: &Place) -> usize {
        let n = self.depth.min(other.depth);
        self.path
            .iter()
            .zip(other.path.iter())
            .take(usize::from(n))
            .take_while(|(a, b)| a == b)
            .count()
    }
}

/// How location codes are read into paths.
#[derive(Debug, Clone, Copy)]
pub enum Locations<'a> {
    /// Codes resolved through the location hierarchy; unknown codes fall back to
    /// prefixes.
    Tree(&'a LocationTree),
    /// No hierarchy at hand: a code's dash-separated prefixes name its parents
    /// (`JO-MA-ZAATARI-D3` is in `JO-MA-ZAATARI`, in `JO-MA`, in `JO`).
    CodePrefixes,
}

impl Locations<'_> {
    /// The path of a location code.
    pub fn place(&self, code: Option<&str>) -> Place {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Place::default();
        };
        let mut place = Place::default();
        if let Locations::Tree(tree) = self {
            let path = tree.path(code);
            if !path.is_empty() {
                for (slot, loc) in place.path.iter_mut().zip(path.iter().rev()) {
                    *slot = hash_text(&loc.code);
                }
                place.depth = path.len().min(4) as u8;
                return place;
            }
        }
        let mut end = 0;
        for (i, part) in code.split('-').enumerate().take(4) {
            end += part.len() + usize::from(i > 0);
            place.path[i] = hash_text(&code[..end.min(code.len())]);
            place.depth = (i + 1) as u8;
        }
        place
    }
}

fn hash_text(s: &str) -> u32 {
    let h = hash_bytes(b'v', s.trim().to_lowercase().as_bytes());
    (h ^ (h >> 32)) as u32
}

fn value_set(values: &[String]) -> Box<[u32]> {
    let mut v: Vec<u32> = values
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| hash_text(s))
        .collect();
    v.sort_unstable();
    v.dedup();
    v.into_boxed_slice()
}

fn clamp_age(age: i64) -> Option<u8> {
    (0..=120).contains(&age).then_some(age as u8)
}

/// The child as a case registers it or a trace seeks it.
#[derive(Clone, Debug)]
pub struct ChildProfile {
    /// Written names (name, other, nickname), normalised.
    pub names: Vec<NameField>,
    /// Sex, when known (`other` and `unknown` count as not known).
    pub sex: Option<Sex>,
    /// Age as written.
    pub age: Option<u8>,
    /// Estimated year of birth: from the date of birth when given, else the record's
    /// date (registration, inquiry, or today) minus the age. Comparing birth years
    /// keeps a case registered a year before the inquiry from counting a year off.
    pub birth_year: Option<i32>,
    /// Date of birth, when given.
    pub date_of_birth: Option<Date>,
    /// Whether age and date of birth are estimates.
    pub estimated: bool,
    /// Date of separation, when given.
    pub date_of_separation: Option<Date>,
    /// The last day the separation can have happened, by the record's own date: a case's
    /// registration date (a separated child is registered after the separation), a tracing
    /// request's inquiry date (a family asks after it). Read only when the record gives no
    /// separation date of its own.
    pub separated_by: Option<Date>,
    /// Where the separation happened.
    pub separation_place: Place,
    /// Where the child (or the family, for a trace) last lived.
    pub last_place: Place,
    /// Nationalities (hashed values).
    pub nationality: Box<[u32]>,
    /// Languages (hashed values).
    pub language: Box<[u32]>,
    /// Ethnicities (hashed values).
    pub ethnicity: Box<[u32]>,
    /// Relatives: the family a case lists, or a trace's inquirer.
    pub family: Vec<Relative>,
    /// True only when the case records consent to tracing (`consent_for_tracing:
    /// true`), as Primero requires: a case that refuses, or has no consent recorded,
    /// is never offered as a match.
    pub consent: bool,
}

/// The names a record gives (the domain says which fields those are), as tokens.
fn name_fields<'a>(named: impl Iterator<Item = (NameKind, &'a str)>) -> Vec<NameField> {
    named.filter_map(|(k, v)| NameField::new(k, v)).collect()
}

fn birth_year(dob: Option<Date>, age: Option<u8>, on: Date) -> Option<i32> {
    dob.map(|d| d.year())
        .or_else(|| age.map(|a| on.year() - i32::from(a)))
}

fn relative_from_member(m: &FamilyMember, on: Date) -> Option<Relative> {
    let names = name_fields(m.named());
    if names.is_empty() {
        return None;
    }
    let age = m.relation_age.and_then(clamp_age);
    Some(Relative {
        relation: Relation::parse(m.relation.as_deref()),
        names,
        age,
        birth_year: birth_year(m.relation_date_of_birth, age, on),
        date_of_birth: m.relation_date_of_birth,
        nationality: value_set(&m.relation_nationality),
        ethnicity: value_set(&m.relation_ethnicity),
        religion: value_set(&m.relation_religion),
    })
}

impl ChildProfile {
    /// The child a case registers. `today` dates an age when the case has no
    /// registration date.
    pub fn from_case(case: &Case, locations: &Locations<'_>, today: Date) -> ChildProfile {
        let age = case.age.and_then(clamp_age);
        let on = case.registration_date.unwrap_or(today);
        ChildProfile {
            names: name_fields(case.named()),
            sex: case.sex.filter(|s| matches!(s, Sex::Female | Sex::Male)),
            age,
            birth_year: birth_year(case.date_of_birth, age, on),
            date_of_birth: case.date_of_birth,
            estimated: case.estimated,
            date_of_separation: case.date_of_separation,
            separated_by: case.registration_date,
            separation_place: locations.place(case.location_separation.as_deref()),
            last_place: locations.place(
                case.location_last
                    .as_deref()
                    .or(case.location_current.as_deref()),
            ),
            nationality: value_set(&case.nationality),
            language: value_set(&case.language),
            ethnicity: value_set(&case.ethnicity),
            family: case
                .family_details_section
                .iter()
                .filter_map(|m| relative_from_member(m, on))
                .collect(),
            consent: case.consent_for_tracing == Some(true),
        }
    }

    /// The child one trace of a tracing request seeks; the inquirer becomes the one
    /// relative. `today` dates an age when the request has no inquiry date.
    pub fn from_trace(
        request: &TracingRequest,
        trace: &Trace,
        locations: &Locations<'_>,
        today: Date,
    ) -> ChildProfile {
        let age = trace.age.and_then(clamp_age);
        let on = request.inquiry_date.unwrap_or(today);
        let inquirer = name_fields(request.inquirer_named());
        let relation = trace.relation.as_deref().or(request.relation.as_deref());
        let mut family = Vec::new();
        if !inquirer.is_empty() {
            let age = request.relation_age.and_then(clamp_age);
            family.push(Relative {
                relation: Relation::parse(relation),
                names: inquirer,
                age,
                birth_year: birth_year(request.relation_date_of_birth, age, on),
                date_of_birth: request.relation_date_of_birth,
                nationality: value_set(&request.relation_nationality),
                ethnicity: value_set(&request.relation_ethnicity),
                religion: value_set(&request.relation_religion),
            });
        }
        // The other children the family seeks are the child's brothers and sisters: a case
        // that lists one of them as a sibling is of this family.
        for other in request.traces() {
            if other.unique_id == trace.unique_id {
                continue;
            }
            let names = name_fields(other.named());
            if names.is_empty() {
                continue;
            }
            let age = other.age.and_then(clamp_age);
            family.push(Relative {
                relation: Relation::Sibling,
                names,
                age,
                birth_year: birth_year(other.date_of_birth, age, on),
                date_of_birth: other.date_of_birth,
                nationality: Box::default(),
                ethnicity: Box::default(),
                religion: Box::default(),
            });
        }
        ChildProfile {
            names: name_fields(trace.named()),
            sex: trace.sex.filter(|s| matches!(s, Sex::Female | Sex::Male)),
            age,
            birth_year: birth_year(trace.date_of_birth, age, on),
            date_of_birth: trace.date_of_birth,
            estimated: false,
            // The trace's own separation and last home first, else the inquirer's (Primero
            // keeps the separation history on the request too).
            date_of_separation: trace.date_of_separation.or(request.date_of_separation),
            separated_by: request.inquiry_date,
            separation_place: locations.place(
                trace
                    .location_separation
                    .as_deref()
                    .or(request.location_separation.as_deref()),
            ),
            last_place: locations.place(
                trace
                    .location_last
                    .as_deref()
                    .or(request.location_last.as_deref()),
            ),
            nationality: value_set(&request.relation_nationality),
            language: value_set(&request.relation_language),
            ethnicity: value_set(&request.relation_ethnicity),
            family,
            consent: true,
        }
    }

    /// Every token of the child's names.
    pub fn name_tokens(&self) -> impl Iterator<Item = &NameToken> {
        self.names.iter().flat_map(|f| f.tokens.iter())
    }

    /// Every token of the relatives' names.
    pub fn family_tokens(&self) -> impl Iterator<Item = &NameToken> {
        self.family
            .iter()
            .flat_map(|r| r.names.iter())
            .flat_map(|f| f.tokens.iter())
    }

    /// The name as first written, for display.
    pub fn display_name(&self) -> &str {
        self.names.first().map_or("", |f| &f.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_share_levels_by_code_prefix() {
        let l = Locations::CodePrefixes;
        let a = l.place(Some("JO-MA-ZAATARI-D3"));
        let b = l.place(Some("JO-MA-ZAATARI-D7"));
        let c = l.place(Some("JO-ZA-AZRAQ"));
        assert_eq!(a.shared_levels(&a), 4);
        assert_eq!(a.shared_levels(&b), 3);
        assert_eq!(a.shared_levels(&c), 1);
        assert!(l.place(None).is_unknown());
        assert!(l.place(Some("  ")).is_unknown());
    }

    #[test]
    fn relations_read_primero_words() {
        assert_eq!(Relation::parse(Some("Mother")), Relation::Mother);
        assert_eq!(Relation::parse(Some("uncle")), Relation::OtherFamily);
        assert_eq!(Relation::parse(None), Relation::Unknown);
    }
}

//! Risk triage: transparent rules from a TOML file give each case a level (low,
//! medium, high) and the reasons a caseworker reads; `high` raises an urgent alert
//! that sync sends first.
//!
//! The rules are data, not code: a coordinator can read and change them. The
//! default set ships as `rules/triage.toml` (its header documents every condition).
//! A case's level is the highest of the rules it meets; every rule met is listed.
//! Triage does no IO and holds no clock: callers pass `today`.
//!
//! ```
//! use fieldkit_domain::{Case, Date};
//! use fieldkit_match::triage::{RiskLevel, TriageRules};
//!
//! let rules = TriageRules::default_rules();
//! let today: Date = "2026-03-01".parse().unwrap();
//! let case = Case { age: Some(9), protection_concerns: vec!["unaccompanied".into()], ..Case::default() };
//! let t = rules.assess(&case, today);
//! assert_eq!(t.level, RiskLevel::High);
//! assert_eq!(t.reasons[0].rule, "unaccompanied_under_12");
//! assert!(t.urgent_alert(case.id).is_some());
//! ```

use fieldkit_domain::{Case, Date, RecordId};
use serde::{Deserialize, Serialize};

/// The default rules, as shipped.
pub const DEFAULT_RULES: &str = include_str!("../rules/triage.toml");

/// Risk level of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// No rule met.
    Low,
    /// Needs follow-up.
    Medium,
    /// Needs action now: raises an urgent alert.
    High,
}

impl RiskLevel {
    /// Primero's word (`risk_level`).
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

/// One rule of the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Short id, shown with the reason.
    pub id: String,
    /// Level given when the rule is met.
    pub level: RiskLevel,
    /// Reason shown to the caseworker.
    pub reason: String,
    /// At least one of these concerns.
    #[serde(default)]
    pub concerns_any: Vec<String>,
    /// All of these concerns.
    #[serde(default)]
    pub concerns_all: Vec<String>,
    /// Known age below this.
    pub age_under: Option<i64>,
    /// Known age at least this.
    pub age_at_least: Option<i64>,
    /// Neither age nor date of birth recorded.
    pub age_unknown: Option<bool>,
    /// Separated more than this many days ago.
    pub separated_days_over: Option<i64>,
    /// Disability (Washington Group cut-off, or the `disabled` concern).
    pub disability: Option<bool>,
    /// A family member is the current caregiver.
    pub caregiver: Option<bool>,
    /// Marked urgent by a caseworker.
    pub urgent_flag: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// Not valid TOML, or a rule with an unknown condition or level.
    #[error("triage rules: {0}")]
    Toml(#[from] toml::de::Error),
    /// A rule with no condition would flag every case.
    #[error("triage rule `{0}` has no condition")]
    NoCondition(String),
    /// Two rules share an id.
    #[error("triage rule id `{0}` appears twice")]
    DuplicateId(String),
}

/// Why a case got its level.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TriageReason {
    /// The rule's id.
    pub rule: String,
    /// The rule's level.
    pub level: RiskLevel,
    /// The rule's reason, in words.
    pub text: String,
}

/// The triage of one case.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Triage {
    /// Highest level of the rules met (`low` when none).
    pub level: RiskLevel,
    /// Every rule met, highest level first, in file order within a level.
    pub reasons: Vec<TriageReason>,
}

/// An alert for sync to send before anything else.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UrgentAlert {
    /// The case.
    pub case_id: RecordId,
    /// The reasons, in words.
    pub reasons: Vec<String>,
}

impl Triage {
    /// The urgent alert a `high` triage raises.
    pub fn urgent_alert(&self, case_id: RecordId) -> Option<UrgentAlert> {
        (self.level == RiskLevel::High).then(|| UrgentAlert {
            case_id,
            reasons: self
                .reasons
                .iter()
                .filter(|r| r.level == RiskLevel::High)
                .map(|r| r.text.clone())
                .collect(),
        })
    }
}

/// A set of triage rules.
#[derive(Clone, Debug, PartialEq)]
pub struct TriageRules {
    rules: Vec<Rule>,
}

/// The facts the rules look at, read once from a case.
struct Facts<'a> {
    case: &'a Case,
    age: Option<i64>,
    separated_days: Option<i64>,
    disability: bool,
    caregiver: bool,
}

impl Rule {
    fn has_condition(&self) -> bool {
        !self.concerns_any.is_empty()
            || !self.concerns_all.is_empty()
            || self.age_under.is_some()
            || self.age_at_least.is_some()
            || self.age_unknown.is_some()
            || self.separated_days_over.is_some()
            || self.disability.is_some()
            || self.caregiver.is_some()
            || self.urgent_flag.is_some()
    }

    fn met(&self, f: &Facts<'_>) -> bool {
        (self.concerns_any.is_empty() || self.concerns_any.iter().any(|c| f.case.has_concern(c)))
            && self.concerns_all.iter().all(|c| f.case.has_concern(c))
            && self.age_under.is_none_or(|n| f.age.is_some_and(|a| a < n))
            && self
                .age_at_least
                .is_none_or(|n| f.age.is_some_and(|a| a >= n))
            && self.age_unknown.is_none_or(|u| u == f.age.is_none())
            && self
                .separated_days_over
                .is_none_or(|n| f.separated_days.is_some_and(|d| d > n))
            && self.disability.is_none_or(|d| d == f.disability)
            && self.caregiver.is_none_or(|c| c == f.caregiver)
            && self
                .urgent_flag
                .is_none_or(|u| u == f.case.urgent_protection_concern)
    }
}

impl TriageRules {
    /// Reads rules from TOML (see `rules/triage.toml` for the format).
    pub fn from_toml(text: &str) -> Result<TriageRules, TriageError> {
        let file: RulesFile = toml::from_str(text)?;
        let mut ids: Vec<&str> = Vec::new();
        for r in &file.rule {
            if !r.has_condition() {
                return Err(TriageError::NoCondition(r.id.clone()));
            }
            if ids.contains(&r.id.as_str()) {
                return Err(TriageError::DuplicateId(r.id.clone()));
            }
            ids.push(&r.id);
        }
        Ok(TriageRules { rules: file.rule })
    }

    /// The rules shipped with fieldkit.
    pub fn default_rules() -> TriageRules {
        // The shipped file is checked by a test; an unreadable one gives no rules
        // rather than a panic in the field.
        TriageRules::from_toml(DEFAULT_RULES).unwrap_or(TriageRules { rules: Vec::new() })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Triage of one case on `today`.
    pub fn assess(&self, case: &Case, today: Date) -> Triage {
        let age = case
            .age
            .or_else(|| case.date_of_birth.map(|d| i64::from(d.age_on(today))));
        let facts = Facts {
            case,
            age,
            separated_days: case.date_of_separation.map(|d| d.days_until(today)),
            disability: case.has_disability(),
            caregiver: case
                .family_details_section
                .iter()
                .any(|m| m.relation_is_caregiver == Some(true)),
        };
        let mut reasons: Vec<TriageReason> = self
            .rules
            .iter()
            .filter(|r| r.met(&facts))
            .map(|r| TriageReason {
                rule: r.id.clone(),
                level: r.level,
                text: r.reason.clone(),
            })
            .collect();
        reasons.sort_by_key(|r| std::cmp::Reverse(r.level));
        Triage {
            level: reasons.first().map_or(RiskLevel::Low, |r| r.level),
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_domain::{FamilyMember, WgAnswer};

    fn today() -> Date {
        "2026-03-01".parse().unwrap()
    }

    fn case(age: Option<i64>, concerns: &[&str]) -> Case {
        Case {
            age,
            protection_concerns: concerns.iter().map(|c| c.to_string()).collect(),
            ..Case::default()
        }
    }

    fn check(c: &Case, level: RiskLevel, rules: &[&str]) {
        let t = TriageRules::default_rules().assess(c, today());
        let got: Vec<&str> = t.reasons.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!((t.level, got.as_slice()), (level, rules), "{c:?}");
    }

    #[test]
    fn the_shipped_rules_load() {
        let rules = TriageRules::from_toml(DEFAULT_RULES).unwrap();
        assert!(rules.rules().len() >= 10);
    }

    #[test]
    fn unaccompanied_under_12_is_high() {
        check(
            &case(Some(9), &["unaccompanied"]),
            RiskLevel::High,
            &["unaccompanied_under_12", "unaccompanied"],
        );
    }

    #[test]
    fn unaccompanied_at_12_is_medium() {
        check(
            &case(Some(12), &["unaccompanied"]),
            RiskLevel::Medium,
            &["unaccompanied"],
        );
    }

    #[test]
    fn unaccompanied_of_unknown_age_is_medium() {
        check(
            &case(None, &["unaccompanied"]),
            RiskLevel::Medium,
            &["unaccompanied", "unaccompanied_age_unknown"],
        );
    }

    #[test]
    fn age_comes_from_the_date_of_birth_when_missing() {
        let mut c = case(None, &["unaccompanied"]);
        c.date_of_birth = Some("2018-06-01".parse().unwrap());
        check(
            &c,
            RiskLevel::High,
            &["unaccompanied_under_12", "unaccompanied"],
        );
    }

    #[test]
    fn under_5_separated_is_high() {
        check(
            &case(Some(4), &["separated"]),
            RiskLevel::High,
            &["under_5_separated"],
        );
    }

    #[test]
    fn gbv_survivor_is_high() {
        check(
            &case(Some(15), &["separated", "gbv_survivor"]),
            RiskLevel::High,
            &["gbv_survivor"],
        );
    }

    #[test]
    fn armed_forces_is_high() {
        check(&case(Some(16), &["caafag"]), RiskLevel::High, &["caafag"]);
    }

    #[test]
    fn trafficked_is_high() {
        check(
            &case(Some(16), &["trafficked_smuggled"]),
            RiskLevel::High,
            &["trafficked"],
        );
    }

    #[test]
    fn disability_without_caregiver_is_high_with_one_medium() {
        let mut c = case(Some(14), &[]);
        c.disability_walking = Some(WgAnswer::CannotDoAtAll);
        check(
            &c,
            RiskLevel::High,
            &["disability_without_caregiver", "disability"],
        );
        c.family_details_section.push(FamilyMember {
            relation: Some("aunt".into()),
            relation_is_caregiver: Some(true),
            ..FamilyMember::default()
        });
        check(&c, RiskLevel::Medium, &["disability"]);
        // "Some difficulty" is under the Washington Group cut-off.
        c.disability_walking = Some(WgAnswer::SomeDifficulty);
        check(&c, RiskLevel::Low, &[]);
    }

    #[test]
    fn separated_long_counts_days_from_today() {
        let mut c = case(Some(14), &["separated"]);
        c.date_of_separation = Some("2025-12-01".parse().unwrap()); // 90 days before
        check(&c, RiskLevel::Low, &[]);
        c.date_of_separation = Some("2025-11-30".parse().unwrap()); // 91 days
        check(&c, RiskLevel::Medium, &["separated_long"]);
    }

    #[test]
    fn flagged_urgent_is_high() {
        let mut c = case(Some(16), &[]);
        c.urgent_protection_concern = true;
        check(&c, RiskLevel::High, &["flagged_urgent"]);
    }

    #[test]
    fn child_labour_and_child_headed_household_are_medium() {
        check(
            &case(Some(15), &["child_labour"]),
            RiskLevel::Medium,
            &["child_labour"],
        );
        check(
            &case(Some(16), &["child_headed_household"]),
            RiskLevel::Medium,
            &["child_headed_household"],
        );
    }

    #[test]
    fn nothing_met_is_low_and_raises_no_alert() {
        let c = case(Some(15), &["separated"]);
        let t = TriageRules::default_rules().assess(&c, today());
        assert_eq!(t.level, RiskLevel::Low);
        assert!(t.urgent_alert(c.id).is_none());
    }

    #[test]
    fn high_raises_an_alert_with_the_high_reasons_only() {
        let c = case(Some(9), &["unaccompanied"]);
        let a = TriageRules::default_rules()
            .assess(&c, today())
            .urgent_alert(c.id)
            .unwrap();
        assert_eq!(a.reasons, ["Unaccompanied child under 12"]);
    }

    #[test]
    fn bad_rule_files_are_refused() {
        assert!(matches!(
            TriageRules::from_toml("[[rule]]\nid = \"x\"\nlevel = \"high\"\nreason = \"r\"\n"),
            Err(TriageError::NoCondition(_))
        ));
        assert!(
            TriageRules::from_toml(
                "[[rule]]\nid = \"x\"\nlevel = \"severe\"\nreason = \"r\"\nage_under = 3\n"
            )
            .is_err()
        );
        assert!(
            TriageRules::from_toml(
                "[[rule]]\nid = \"x\"\nlevel = \"high\"\nreason = \"r\"\nage_below = 3\n"
            )
            .is_err()
        );
        let dup = "[[rule]]\nid = \"x\"\nlevel = \"high\"\nreason = \"r\"\nage_under = 3\n";
        assert!(matches!(
            TriageRules::from_toml(&format!("{dup}{dup}")),
            Err(TriageError::DuplicateId(_))
        ));
    }
}

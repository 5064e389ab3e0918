//! What the matcher found when it compared one field of a potential match, as values: the names
//! and how each pair of words agreed, the ages and years apart, the days between two separation
//! dates, how deep two places agree, why a match is only possible. A screen words a [`Detail`] in
//! the caseworker's language (`fieldkit-ui`'s `messages`); `Display` gives the English the CLI
//! prints.
//!
//! **Stored as text.** A potential match keeps its details in `comparison[].detail`, a string
//! in every record written before details were typed and in every kit of an older version. So
//! a typed detail is written as a JSON object *in that string*
//! (`{"k":"separation_days","v":{"days":3}}`),
//! and a string that is not one is read as [`Detail::Text`] (an older record's English, shown as
//! it is). An older kit reading a newer record shows the JSON text; nothing fails to read.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How two words of two names agreed, from strongest to weakest (the matcher's own
/// `TokenAgreement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameAgreement {
    /// Same spelling after folding, or two spellings of one known name.
    Same,
    /// One is a family short form of the other (Sasha, Oleksandr).
    Nickname,
    /// Same consonants (Arabic script against Latin, vowel spellings).
    SameConsonants,
    /// Same Double Metaphone code.
    SoundsAlike,
    /// Close spelling (Jaro–Winkler), such as a typing slip.
    CloseSpelling,
    /// Not the same name.
    Different,
}

impl NameAgreement {
    /// The English words.
    pub fn describe(self) -> &'static str {
        match self {
            NameAgreement::Same => "same name",
            NameAgreement::Nickname => "nickname",
            NameAgreement::SameConsonants => "same letters in another script or spelling",
            NameAgreement::SoundsAlike => "sounds alike",
            NameAgreement::CloseSpelling => "close spelling",
            NameAgreement::Different => "different",
        }
    }
}

/// Two words of two names that were paired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordPair {
    /// The sought child's word (as the matcher normalised it).
    pub a: String,
    /// The registered child's word.
    pub b: String,
    /// How they agreed.
    pub agreement: NameAgreement,
}

/// Two written names compared word by word.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NamesCompared {
    /// The sought side's name as written.
    pub a: String,
    /// The registered side's name as written.
    pub b: String,
    /// The words paired, in the name's order.
    pub pairs: Vec<WordPair>,
    /// Pairs counted already with the children's own names (a relative's family name).
    #[serde(skip_serializing_if = "is_zero")]
    pub counted: u32,
    /// Words of one name that are no word of the other.
    #[serde(skip_serializing_if = "is_zero")]
    pub differ: u32,
    /// Words only alike (not evidence either way).
    #[serde(skip_serializing_if = "is_zero")]
    pub unsure: u32,
    /// The words stand in another order.
    #[serde(skip_serializing_if = "is_false")]
    pub crossed: bool,
}

impl fmt::Display for NamesCompared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' / '{}': ", self.a, self.b)?;
        if self.pairs.is_empty() {
            f.write_str("no name in common")?;
        }
        for (i, p) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}~{} ({})", p.a, p.b, p.agreement.describe())?;
        }
        if self.counted > 0 {
            write!(f, "; {} counted in the children's names", self.counted)?;
        }
        if self.differ > 0 {
            write!(f, "; {} name(s) differ", self.differ)?;
        }
        if self.unsure > 0 {
            write!(f, "; {} name(s) only alike", self.unsure)?;
        }
        if self.crossed {
            f.write_str("; order crossed")?;
        }
        Ok(())
    }
}

/// A relative on the sought side against the best-agreeing relative on the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelativeCompared {
    /// The relation (`mother`, `father`, `sibling`, `grandparent`, `other_family`, `unknown`).
    pub relation: String,
    /// The relative's name, as the sought side gives it.
    pub name: String,
    /// The relation of the relative listed on the other side.
    pub listed: String,
    /// Their names compared.
    pub names: NamesCompared,
    /// What this relative counted, in bits.
    pub weight: f32,
}

// Zero counts and false flags are left out of the stored text (a match notice crosses LoRa
// with it); reading gives them back as the defaults.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A relation in the English words.
fn relation_word(id: &str) -> &str {
    match id {
        "other_family" => "other family",
        "unknown" => "relative",
        other => other,
    }
}

/// What one field's comparison found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "k", content = "v")]
pub enum Detail {
    /// Words written before details were typed (an older record or kit): shown as they are.
    Text(String),
    /// The children's names.
    Names {
        /// The two names compared.
        names: NamesCompared,
        /// The name given alone is a father's or family name of the other (a sibling's?).
        #[serde(default, skip_serializing_if = "is_false")]
        lineage: bool,
    },
    /// The sexes (`female`, `male`, `unknown`).
    Sexes {
        /// The sought child's.
        a: String,
        /// The registered child's.
        b: String,
    },
    /// The ages and the years of birth they give.
    Ages {
        /// The sought child's age.
        a: Option<i64>,
        /// The registered child's age.
        b: Option<i64>,
        /// The registered child's age is an estimate.
        #[serde(default, skip_serializing_if = "is_false")]
        b_estimated: bool,
        /// Year of birth the sought side gives (0 when none).
        born_a: i32,
        /// Year of birth the registered side gives (0 when none).
        born_b: i32,
        /// Years apart.
        years_apart: i32,
    },
    /// The dates of birth (`YYYY-MM-DD`, empty when none).
    BirthDates {
        /// The sought child's.
        a: String,
        /// The registered child's.
        b: String,
    },
    /// Days between the two separation dates.
    SeparationDays {
        /// Days apart.
        days: i64,
    },
    /// The separation the family gives is later than the case's registration by this much.
    SeparatedAfterRegistration {
        /// Days after.
        days: i64,
    },
    /// The separation the case gives is later than the tracing request by this much.
    SeparatedAfterRequest {
        /// Days after.
        days: i64,
    },
    /// Two places: agreeing as deep as both describe, or differing below the levels they share.
    Places {
        /// They agree.
        agreed: bool,
        /// Levels shared (1 country, 2 region, 3 camp, 4 block).
        shared: u8,
    },
    /// The two strongest relatives' comparisons.
    Family(Vec<RelativeCompared>),
    /// A value shared (nationality, language, ethnicity), or none.
    Shared(bool),
    /// A likely match shown as possible: another record scores within the margin.
    Unclear {
        /// The margin, in bits.
        margin_bits: f32,
    },
    /// A likely match shown as possible: another tracing request's child matches the case as
    /// well or better.
    Claimed,
    /// A name differs (a sibling?): possible at most.
    NameDiffers,
}

impl Default for Detail {
    fn default() -> Self {
        Detail::Text(String::new())
    }
}

impl From<String> for Detail {
    /// A stored detail: a typed one written as JSON, else words shown as they are.
    fn from(s: String) -> Self {
        if s.starts_with('{')
            && let Ok(d) = serde_json::from_str::<Detail>(&s)
            && !matches!(d, Detail::Text(_))
        {
            return d;
        }
        Detail::Text(s)
    }
}

impl From<Detail> for String {
    /// How a detail is stored (see the module documentation).
    fn from(d: Detail) -> Self {
        match d {
            Detail::Text(s) => s,
            typed => serde_json::to_string(&typed).unwrap_or_default(),
        }
    }
}

/// Serde for a stored detail (`#[serde(with = "fieldkit_domain::explain::stored")]`): the text
/// the module documentation describes.
pub mod stored {
    use super::{Deserialize, Deserializer, Detail, Serializer};

    /// Writes a detail as its stored text.
    pub fn serialize<S: Serializer>(d: &Detail, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from(d.clone()))
    }

    /// Reads a stored text as a detail.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Detail, D::Error> {
        String::deserialize(d).map(Detail::from)
    }
}

/// Serde for a detail shown to a person (`#[serde(serialize_with = ...)]`): its English.
pub fn serialize_english<S: Serializer>(d: &Detail, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// Place levels in the English words.
fn level_word(shared: u8) -> &'static str {
    match shared {
        4.. => "same block",
        3 => "same camp",
        2 => "same region",
        1 => "same country",
        0 => "different countries",
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Text(s) => f.write_str(s),
            Detail::Names { names, lineage } => {
                write!(f, "{names}")?;
                if *lineage {
                    f.write_str(
                        "; the name given alone is a father's or family name of the other (a sibling's?)",
                    )?;
                }
                Ok(())
            }
            Detail::Sexes { a, b } => write!(f, "{a} / {b}"),
            Detail::Ages {
                a,
                b,
                b_estimated,
                born_a,
                born_b,
                years_apart,
            } => {
                let show = |x: &Option<i64>| x.map_or_else(|| "?".to_string(), |x| x.to_string());
                write!(
                    f,
                    "{} / {}{} (born ~{born_a} / ~{born_b}, {years_apart} year(s) apart)",
                    show(a),
                    show(b),
                    if *b_estimated { " estimated" } else { "" },
                )
            }
            Detail::BirthDates { a, b } => write!(f, "{a} / {b}"),
            Detail::SeparationDays { days } => write!(f, "{days} day(s) apart"),
            Detail::SeparatedAfterRegistration { days } => {
                write!(f, "separated {days} day(s) after the case was registered")
            }
            Detail::SeparatedAfterRequest { days } => {
                write!(f, "separated {days} day(s) after the request was made")
            }
            Detail::Places { agreed: true, shared } => f.write_str(level_word(*shared)),
            Detail::Places {
                agreed: false,
                shared,
            } => f.write_str(match shared {
                3 => "different blocks of one camp",
                2 => "different camps of one region",
                1 => "different regions of one country",
                _ => "different countries",
            }),
            Detail::Family(relatives) => {
                for (i, r) in relatives.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(
                        f,
                        "{} {} / listed {}: {} ({:+.1})",
                        relation_word(&r.relation),
                        r.name,
                        relation_word(&r.listed),
                        r.names,
                        r.weight
                    )?;
                }
                Ok(())
            }
            Detail::Shared(shared) => f.write_str(if *shared { "shared" } else { "none shared" }),
            Detail::Unclear { margin_bits } => write!(
                f,
                "another record scores within {margin_bits} bits (a namesake, or registered twice?): possible until told apart"
            ),
            Detail::Claimed => f.write_str(
                "another tracing request's child matches this case as well or better (a namesake sought by another family?): possible until told apart",
            ),
            Detail::NameDiffers => f.write_str("a name differs (a sibling?): possible at most"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_detail_is_stored_as_text_and_read_back() {
        for d in [
            Detail::SeparationDays { days: 3 },
            Detail::Places {
                agreed: false,
                shared: 2,
            },
            Detail::Names {
                names: NamesCompared {
                    a: "Amina \"Ami\" Yusuf".into(),
                    b: "أمينة".into(),
                    pairs: vec![WordPair {
                        a: "amina".into(),
                        b: "amina".into(),
                        agreement: NameAgreement::SameConsonants,
                    }],
                    differ: 1,
                    ..NamesCompared::default()
                },
                lineage: true,
            },
            Detail::Claimed,
        ] {
            let stored = String::from(d.clone());
            assert!(stored.starts_with('{'), "{stored}");
            assert_eq!(Detail::from(stored), d);
        }
        // Zero counts and false flags are left out, and read back when written in full.
        let short = String::from(Detail::Ages {
            a: Some(9),
            b: Some(9),
            b_estimated: false,
            born_a: 2017,
            born_b: 2017,
            years_apart: 0,
        });
        assert!(!short.contains("b_estimated"), "{short}");
        let full = r#"{"k":"names","v":{"names":{"a":"A","b":"A","pairs":[],"counted":0,"differ":0,"unsure":0,"crossed":false},"lineage":false}}"#;
        assert_eq!(
            Detail::from(full.to_owned()),
            Detail::Names {
                names: NamesCompared {
                    a: "A".into(),
                    b: "A".into(),
                    ..NamesCompared::default()
                },
                lineage: false
            }
        );
        // An older record's English, and anything else, is shown as it is.
        for s in ["3 day(s) apart", "{not json", "", r#"{"k":"text","v":"x"}"#] {
            assert_eq!(Detail::from(s.to_owned()), Detail::Text(s.to_owned()));
        }
    }

    #[test]
    fn the_english_is_the_cli_s() {
        assert_eq!(
            Detail::SeparationDays { days: 3 }.to_string(),
            "3 day(s) apart"
        );
        let names = NamesCompared {
            a: "Amina Yusuf".into(),
            b: "Amina Yousef".into(),
            pairs: vec![WordPair {
                a: "amina".into(),
                b: "amina".into(),
                agreement: NameAgreement::Same,
            }],
            differ: 1,
            ..NamesCompared::default()
        };
        assert_eq!(
            Detail::Names {
                names: names.clone(),
                lineage: false
            }
            .to_string(),
            "'Amina Yusuf' / 'Amina Yousef': amina~amina (same name); 1 name(s) differ"
        );
        assert_eq!(
            Detail::Family(vec![RelativeCompared {
                relation: "other_family".into(),
                name: "Halima".into(),
                listed: "unknown".into(),
                names,
                weight: 2.04,
            }])
            .to_string(),
            "other family Halima / listed relative: 'Amina Yusuf' / 'Amina Yousef': amina~amina (same name); 1 name(s) differ (+2.0)"
        );
    }
}

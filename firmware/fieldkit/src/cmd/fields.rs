//! From command-line flags to a record's fields: the flags of `case add/edit` and `tracing
//! add/edit`, `--set field=value`, `--from FILE`, and the `a=b,c=d` values of `--family` and
//! `--child`. Builds a flat JSON object with Primero's field names; the kit checks it
//! (lookups, limits, validation) when it is saved. Nothing here prints.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

/// Fields of a case, as flags.
#[derive(Debug, Default, clap::Args)]
pub struct CaseFields {
    /// Full name.
    #[arg(long)]
    name: Option<String>,
    /// Another name or spelling.
    #[arg(long)]
    name_other: Option<String>,
    /// Nickname.
    #[arg(long)]
    nickname: Option<String>,
    /// female, male, other or unknown (or the letter lists show: F, M).
    #[arg(long)]
    sex: Option<String>,
    /// Age in years.
    #[arg(long, allow_negative_numbers = true)]
    age: Option<i64>,
    /// Keep a case for someone outside 0–17 (a young adult who turned 18 in care).
    #[arg(long)]
    age_exception: bool,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long)]
    dob: Option<String>,
    /// Age and date of birth are estimates.
    #[arg(long)]
    estimated: bool,
    /// Nationality (repeat for several).
    #[arg(long)]
    nationality: Vec<String>,
    /// Language spoken (repeat for several).
    #[arg(long)]
    language: Vec<String>,
    /// Ethnicity (repeat for several).
    #[arg(long)]
    ethnicity: Vec<String>,
    /// Current location code.
    #[arg(long)]
    location: Option<String>,
    /// Protection concern from the lookup list, e.g. unaccompanied, separated, caafag,
    /// gbv_survivor (repeat).
    #[arg(long)]
    concern: Vec<String>,
    /// Mark as an urgent protection concern.
    #[arg(long)]
    urgent: bool,
    /// Date of separation, YYYY-MM-DD.
    #[arg(long)]
    separation_date: Option<String>,
    /// Where the separation happened (location code).
    #[arg(long)]
    separation_place: Option<String>,
    /// A family member as `relation=mother,relation_name=Halima Yusuf,...` (repeat). A value
    /// holding a comma goes in double quotes (`relation_name="Yusuf, Halima"`) or takes a
    /// backslash (`Yusuf\, Halima`).
    #[arg(long)]
    family: Vec<String>,
    /// Consent for tracing given (true/false).
    #[arg(long)]
    consent: Option<bool>,
}

/// Fields of a tracing request, as flags.
#[derive(Debug, Default, clap::Args)]
pub struct TracingFields {
    /// The inquirer's name.
    #[arg(long)]
    inquirer: Option<String>,
    /// The inquirer's relation to the children sought (mother, father, uncle, ...).
    #[arg(long)]
    relation: Option<String>,
    /// The inquirer's telephone.
    #[arg(long)]
    phone: Option<String>,
    /// Where the family last lived together (location code).
    #[arg(long)]
    location_last: Option<String>,
    /// The inquirer's language (repeat).
    #[arg(long)]
    language: Vec<String>,
    /// A child sought as `name=Amina Yusuf,sex=female,age=9,date_of_separation=2025-03-01,...`
    /// (repeat for each child). A value holding a comma goes in double quotes or takes a
    /// backslash, as with `--family`.
    #[arg(long)]
    child: Vec<String>,
}

/// Options shared by add and edit.
#[derive(Debug, Default, clap::Args)]
pub struct Common {
    /// Any field: `--set field=value` (value read as JSON when it parses, else as text).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Read fields from a JSON file (flat object or Primero `{"data": {...}}`); `-` for stdin.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Print the saved record and what saving it did as JSON (`{"data": {...}, "id", "version",
    /// "risk", "alerts", "potential_matches"}`).
    #[arg(long)]
    pub json: bool,
}

/// Puts a value under `field` when there is one.
pub fn put(o: &mut Map<String, Value>, field: &str, v: Option<Value>) {
    if let Some(v) = v {
        o.insert(field.to_string(), v);
    }
}

fn put_list(o: &mut Map<String, Value>, field: &str, v: &[String]) {
    if !v.is_empty() {
        o.insert(field.to_string(), json!(v));
    }
}

/// Reads `a=b,c=d` into an object (values as JSON when they parse as a number or boolean).
/// Commas and equals signs inside a value: put it in double quotes (`name="Yusuf, Halima"`)
/// or escape them with a backslash (`name=Yusuf\, Halima`); `\\` is a backslash, `\"` a quote.
pub fn pairs(text: &str, what: &str) -> anyhow::Result<Map<String, Value>> {
    let mut m = Map::new();
    for (part, quoted) in split_unquoted(text, what)? {
        if part.0.trim().is_empty() && part.1.is_none() {
            continue;
        }
        let (k, v) = part;
        let Some(v) = v else {
            bail!(
                "{what}: `{}` is not field=value (a value with a comma goes in double quotes)",
                k.trim()
            );
        };
        let k = k.trim();
        if k.is_empty() {
            bail!("{what}: a value without its field name (`={v}`)");
        }
        let v = if quoted {
            // Quoted text is text, even when it reads as a number.
            Value::String(v)
        } else {
            scalar(v.trim())
        };
        m.insert(k.to_string(), v);
    }
    Ok(m)
}

/// Splits `a=b,c="d, e"` into `(field, value, quoted)` items, honouring quotes and backslashes.
#[allow(clippy::type_complexity)]
fn split_unquoted(text: &str, what: &str) -> anyhow::Result<Vec<((String, Option<String>), bool)>> {
    let mut out = Vec::new();
    let mut key = String::new();
    let mut value: Option<String> = None;
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => value.as_mut().unwrap_or(&mut key).push(n),
                None => bail!("{what}: a backslash at the end of `{text}` escapes nothing"),
            },
            '"' => {
                in_quotes = !in_quotes;
                if value.is_some() {
                    quoted = true;
                }
            }
            ',' if !in_quotes => {
                out.push(((std::mem::take(&mut key), value.take()), quoted));
                quoted = false;
            }
            '=' if !in_quotes && value.is_none() => value = Some(String::new()),
            c => value.as_mut().unwrap_or(&mut key).push(c),
        }
    }
    if in_quotes {
        bail!("{what}: a double quote in `{text}` is never closed");
    }
    out.push(((key, value), quoted));
    Ok(out)
}

/// A value from the command line: JSON when it parses as JSON, else the text itself.
pub fn scalar(v: &str) -> Value {
    serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.to_string()))
}

/// Applies `--set field=value` flags.
pub fn overlay(o: &mut Map<String, Value>, set: &[String]) -> anyhow::Result<()> {
    for s in set {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("--set `{s}` is not field=value"))?;
        o.insert(k.trim().to_string(), scalar(v));
    }
    Ok(())
}

impl CaseFields {
    /// Puts the flags given into `o`.
    pub fn apply(&self, o: &mut Map<String, Value>) -> anyhow::Result<()> {
        put(o, "name", self.name.clone().map(Value::String));
        put(o, "name_other", self.name_other.clone().map(Value::String));
        put(o, "name_nickname", self.nickname.clone().map(Value::String));
        put(o, "sex", self.sex.clone().map(Value::String));
        put(o, "age", self.age.map(Value::from));
        if self.age_exception {
            o.insert("age_exception".into(), Value::Bool(true));
        }
        put(o, "date_of_birth", self.dob.clone().map(Value::String));
        if self.estimated {
            o.insert("estimated".into(), Value::Bool(true));
        }
        put_list(o, "nationality", &self.nationality);
        put_list(o, "language", &self.language);
        put_list(o, "ethnicity", &self.ethnicity);
        put(
            o,
            "location_current",
            self.location.clone().map(Value::String),
        );
        put_list(o, "protection_concerns", &self.concern);
        if self.urgent {
            o.insert("urgent_protection_concern".into(), Value::Bool(true));
        }
        put(
            o,
            "date_of_separation",
            self.separation_date.clone().map(Value::String),
        );
        put(
            o,
            "location_separation",
            self.separation_place.clone().map(Value::String),
        );
        put(o, "consent_for_tracing", self.consent.map(Value::Bool));
        append_entries(o, "family_details_section", &self.family, "--family")
    }
}

impl TracingFields {
    /// Puts the flags given into `o`.
    pub fn apply(&self, o: &mut Map<String, Value>) -> anyhow::Result<()> {
        put(o, "relation_name", self.inquirer.clone().map(Value::String));
        put(o, "relation", self.relation.clone().map(Value::String));
        put(
            o,
            "relation_telephone",
            self.phone.clone().map(Value::String),
        );
        put(
            o,
            "location_last",
            self.location_last.clone().map(Value::String),
        );
        put_list(o, "relation_language", &self.language);
        append_entries(o, "tracing_request_subform_section", &self.child, "--child")
    }
}

/// Adds one subform entry per `a=b,...` flag value after the entries `o` holds.
fn append_entries(
    o: &mut Map<String, Value>,
    subform: &str,
    flags: &[String],
    what: &str,
) -> anyhow::Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    let mut entries = o
        .get(subform)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for f in flags {
        entries.push(Value::Object(pairs(f, what)?));
    }
    o.insert(subform.into(), Value::Array(entries));
    Ok(())
}

impl Common {
    /// The file's fields, then `--set` on top.
    pub fn base(&self) -> anyhow::Result<Map<String, Value>> {
        let mut o = match &self.from {
            None => Map::new(),
            Some(p) => {
                let text = if p.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin()).context("reading standard input")?
                } else {
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?
                };
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not JSON", p.display()))?;
                match v {
                    Value::Object(mut o) => match o.remove("data") {
                        Some(Value::Object(d)) => d,
                        Some(_) => bail!("{}: `data` must be an object", p.display()),
                        None => o,
                    },
                    _ => bail!("{}: expected a JSON object", p.display()),
                }
            }
        };
        overlay(&mut o, &self.set)?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_in_values_by_quotes_or_backslash() {
        let m = pairs(
            r#"relation=mother,relation_name="Yusuf, Halima",relation_age=40"#,
            "--family",
        )
        .unwrap();
        assert_eq!(m["relation_name"], "Yusuf, Halima");
        assert_eq!(m["relation_age"], 40);
        let m = pairs(r"name=Yusuf\, Amina,nickname=a\\b", "--child").unwrap();
        assert_eq!(m["name"], "Yusuf, Amina");
        assert_eq!(m["nickname"], r"a\b");
        // A quoted number stays text.
        assert_eq!(
            pairs(r#"relation_telephone="0790""#, "x").unwrap()["relation_telephone"],
            "0790"
        );
    }

    #[test]
    fn bad_pairs_are_named() {
        for (text, says) in [
            ("relation=mother,Halima", "`Halima` is not field=value"),
            (r#"name="Yusuf, Amina"#, "never closed"),
            ("name=Amina\\", "escapes nothing"),
            ("=Amina", "without its field name"),
        ] {
            let e = pairs(text, "--family").unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}

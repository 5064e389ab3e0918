//! A Primero-style matcher, the baseline the evaluation compares against.
//!
//! It reproduces what Primero's `MatchingService` asks of Solr, as faithfully as a
//! few hundred lines can: one query per trace made of one clause per matchable
//! field group, with Primero's boosts (names 15; sex, age, relation names 10; date
//! of birth, relation, relation age 5; nationality, language, religion 3; ethnicity
//! 1); names through the `text_phonetic` analyser (standard tokeniser, lowercase,
//! Double Metaphone primary code injected beside the token); every other field as
//! exact tokens (an age or a date matches only when equal); no locations; only
//! cases that consent to tracing. Scores follow Lucene's classic TF-IDF
//! (idf = 1 + ln(N / (df + 1)), squared, times the boost, times the share of
//! clauses matched); the top 20 hits are normalised by the best, hits at or below
//! 0.1 dropped, and a hit is `likely` when it is the only one or stands more than
//! 0.7 above the mean normalised score, `possible` otherwise.
//!
//! Where Solr is approximated: a token and its injected phonetic code count as one
//! term (the better of the two), and field norms are left out (Primero's phonetic
//! fields omit them). It does no IO.
//!
//! ```
//! use fieldkit_domain::{Case, Sex, Trace, TracingRequest};
//! use fieldkit_match_eval::baseline::PrimeroBaseline;
//!
//! let cases = vec![Case { name: Some("Mohammed Ali".into()), sex: Some(Sex::Male), age: Some(9),
//!                         consent_for_tracing: Some(true), ..Case::default() }];
//! let baseline = PrimeroBaseline::new(&cases);
//! let trace = Trace { name: Some("Muhammad Ali".into()), age: Some(9), ..Trace::default() };
//! let hits = baseline.find(&TracingRequest::default(), &trace);
//! assert_eq!(hits[0].case, 0);
//! ```

use std::collections::HashMap;

use fieldkit_domain::{Case, Sex, Trace, TracingRequest};
use rphonetic::DoubleMetaphone;

use fieldkit_match::matcher::Likelihood;
use fieldkit_match::names::KeyMap;

/// Primero's field groups, with their boosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Group {
    Name,
    Sex,
    Age,
    DateOfBirth,
    RelationName,
    Relation,
    RelationAge,
    Nationality,
    Language,
    Religion,
    Ethnicity,
}

impl Group {
    fn boost(self) -> f32 {
        match self {
            Group::Name => 15.0,
            Group::Sex | Group::Age | Group::RelationName => 10.0,
            Group::DateOfBirth | Group::Relation | Group::RelationAge => 5.0,
            Group::Nationality | Group::Language | Group::Religion => 3.0,
            Group::Ethnicity => 1.0,
        }
    }
}

/// One query token: the lowercase token and, for phonetic fields, its code.
#[derive(Clone, Debug)]
struct QueryToken {
    token: u64,
    code: Option<u64>,
}

fn key(group: Group, term: &str) -> u64 {
    fieldkit_match::names::hash_bytes(group as u8, term.as_bytes())
}

/// Lucene's standard tokeniser, near enough for names: words of letters and digits,
/// lowercased.
fn standard_tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Double Metaphone primary code as commons-codec gives it: letters it does not
/// know are skipped, so Arabic or Cyrillic tokens get no code.
fn metaphone(token: &str) -> Option<String> {
    let ascii: String = token.chars().filter(char::is_ascii_alphabetic).collect();
    if ascii.is_empty() {
        return None;
    }
    let code = DoubleMetaphone::default()
        .double_metaphone(&ascii)
        .primary();
    (!code.is_empty()).then_some(code)
}

fn phonetic_terms(group: Group, text: &str) -> Vec<QueryToken> {
    standard_tokens(text)
        .map(|t| QueryToken {
            token: key(group, &t),
            code: metaphone(&t).map(|c| key(group, &format!("#{c}"))),
        })
        .collect()
}

fn plain_terms(group: Group, text: &str) -> Vec<QueryToken> {
    standard_tokens(text)
        .map(|t| QueryToken {
            token: key(group, &t),
            code: None,
        })
        .collect()
}

fn sex_word(s: Option<Sex>) -> Option<&'static str> {
    match s? {
        Sex::Female => Some("female"),
        Sex::Male => Some("male"),
        Sex::Other => Some("other"),
        Sex::Unknown => None,
    }
}

/// The terms of one case, by group.
fn case_terms(case: &Case) -> Vec<u64> {
    let mut out = Vec::new();
    let mut add = |v: Vec<QueryToken>| {
        for q in v {
            out.push(q.token);
            out.extend(q.code);
        }
    };
    for n in case.names() {
        add(phonetic_terms(Group::Name, n));
    }
    if let Some(s) = sex_word(case.sex) {
        add(plain_terms(Group::Sex, s));
    }
    if let Some(a) = case.age {
        add(plain_terms(Group::Age, &a.to_string()));
    }
    if let Some(d) = case.date_of_birth {
        add(vec![QueryToken {
            token: key(Group::DateOfBirth, &d.to_string()),
            code: None,
        }]);
    }
    for m in &case.family_details_section {
        if let Some(n) = &m.relation_name {
            add(phonetic_terms(Group::RelationName, n));
        }
        if let Some(r) = &m.relation {
            add(plain_terms(Group::Relation, r));
        }
        if let Some(a) = m.relation_age {
            add(plain_terms(Group::RelationAge, &a.to_string()));
        }
    }
    for (group, values) in [
        (Group::Nationality, &case.nationality),
        (Group::Language, &case.language),
        (Group::Religion, &case.religion),
        (Group::Ethnicity, &case.ethnicity),
    ] {
        for v in values {
            add(plain_terms(group, v));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The query clauses of one trace (Primero's `Trace#match_criteria`).
fn trace_criteria(request: &TracingRequest, trace: &Trace) -> Vec<(Group, Vec<QueryToken>)> {
    let mut c = Vec::new();
    let names: Vec<&str> = trace.names().collect();
    if !names.is_empty() {
        c.push((Group::Name, phonetic_terms(Group::Name, &names.join(" "))));
    }
    if let Some(s) = sex_word(trace.sex) {
        c.push((Group::Sex, plain_terms(Group::Sex, s)));
    }
    if let Some(a) = trace.age {
        c.push((Group::Age, plain_terms(Group::Age, &a.to_string())));
    }
    if let Some(d) = trace.date_of_birth {
        c.push((
            Group::DateOfBirth,
            vec![QueryToken {
                token: key(Group::DateOfBirth, &d.to_string()),
                code: None,
            }],
        ));
    }
    let inquirer: Vec<&str> = [&request.relation_name, &request.relation_nickname]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !inquirer.is_empty() {
        c.push((
            Group::RelationName,
            phonetic_terms(Group::RelationName, &inquirer.join(" ")),
        ));
    }
    if let Some(r) = trace.relation.as_ref().or(request.relation.as_ref()) {
        c.push((Group::Relation, plain_terms(Group::Relation, r)));
    }
    if let Some(a) = request.relation_age {
        c.push((
            Group::RelationAge,
            plain_terms(Group::RelationAge, &a.to_string()),
        ));
    }
    for (group, values) in [
        (Group::Nationality, &request.relation_nationality),
        (Group::Language, &request.relation_language),
        (Group::Religion, &request.relation_religion),
        (Group::Ethnicity, &request.relation_ethnicity),
    ] {
        if !values.is_empty() {
            c.push((group, plain_terms(group, &values.join(" "))));
        }
    }
    c.retain(|(_, t)| !t.is_empty());
    c
}

/// One hit of the baseline.
#[derive(Clone, Debug)]
pub struct BaselineHit {
    /// Position of the case.
    pub case: usize,
    /// Score normalised by the best hit.
    pub score: f32,
    /// Primero's class.
    pub likelihood: Likelihood,
}

/// Cases indexed the way Primero's Solr core holds them.
#[derive(Debug)]
pub struct PrimeroBaseline {
    postings: KeyMap<Vec<u32>>,
    docs: usize,
}

impl PrimeroBaseline {
    /// Indexes the cases that consent to tracing (Primero filters on
    /// `consent_for_tracing: true`).
    pub fn new(cases: &[Case]) -> PrimeroBaseline {
        let mut postings: KeyMap<Vec<u32>> = KeyMap::default();
        for (i, c) in cases.iter().enumerate() {
            if c.consent_for_tracing != Some(true) {
                continue;
            }
            for t in case_terms(c) {
                postings.entry(t).or_default().push(i as u32);
            }
        }
        PrimeroBaseline {
            postings,
            docs: cases.len(),
        }
    }

    fn idf2(&self, term: u64) -> (f32, &[u32]) {
        match self.postings.get(&term) {
            Some(p) => {
                let idf = 1.0 + (self.docs as f32 / (p.len() as f32 + 1.0)).ln();
                (idf * idf, p.as_slice())
            }
            None => (0.0, &[][..]),
        }
    }

    /// Primero's potential matches for one trace: at most 20, normalised, classed.
    pub fn find(&self, request: &TracingRequest, trace: &Trace) -> Vec<BaselineHit> {
        let criteria = trace_criteria(request, trace);
        if criteria.is_empty() {
            return Vec::new();
        }
        // doc → (score, clauses matched)
        let mut totals: HashMap<u32, (f32, u16)> = HashMap::new();
        for (group, tokens) in &criteria {
            let mut clause: HashMap<u32, f32> = HashMap::new();
            for q in tokens {
                let mut best: HashMap<u32, f32> = HashMap::new();
                for term in std::iter::once(q.token).chain(q.code) {
                    let (w, docs) = self.idf2(term);
                    for &d in docs {
                        let e = best.entry(d).or_insert(0.0);
                        *e = e.max(w);
                    }
                }
                for (d, w) in best {
                    *clause.entry(d).or_insert(0.0) += w * group.boost();
                }
            }
            for (d, w) in clause {
                let e = totals.entry(d).or_insert((0.0, 0));
                e.0 += w;
                e.1 += 1;
            }
        }
        let n_clauses = criteria.len() as f32;
        let mut hits: Vec<(f32, u32)> = totals
            .into_iter()
            .map(|(d, (s, m))| (s * f32::from(m) / n_clauses, d))
            .collect();
        hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        hits.truncate(20);
        let Some(&(top, _)) = hits.first() else {
            return Vec::new();
        };
        if top <= 0.0 {
            return Vec::new();
        }
        let normalised: Vec<(f32, u32)> = hits.iter().map(|&(s, d)| (s / top, d)).collect();
        let average = normalised.iter().map(|x| x.0).sum::<f32>() / normalised.len() as f32;
        let kept: Vec<(f32, u32)> = normalised.into_iter().filter(|x| x.0 > 0.1).collect();
        let single = kept.len() == 1;
        kept.into_iter()
            .map(|(score, d)| BaselineHit {
                case: d as usize,
                score,
                likelihood: if single || score - average > 0.7 {
                    Likelihood::Likely
                } else {
                    Likelihood::Possible
                },
            })
            .collect()
    }
}

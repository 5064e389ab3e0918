//! Field-by-field comparison of two child profiles as Fellegi–Sunter weights.
//!
//! Each field adds the log₂ of how much more likely its agreement (or disagreement)
//! is between records of the same child than between records of two different
//! children: +1 doubles the odds, −1 halves them. A field missing on either side adds
//! nothing. Name agreement weighs more for rare names (the u-probability of a name
//! token is its frequency among the indexed records), so two records sharing
//! "Muhammad" count for less than two sharing "Nyandeng". The weights are in
//! [`Weights`], with the reasoning beside each default.
//!
//! Comparison never allocates unless an explanation is asked for, does no IO and
//! holds no clock.
//!
//! ```
//! use fieldkit_domain::{Case, Date, Trace, TracingRequest, Sex};
//! use fieldkit_match::compare::{compare, NameFrequencies, Weights};
//! use fieldkit_match::profile::{ChildProfile, Locations};
//!
//! let today: Date = "2026-03-01".parse().unwrap();
//! let case = Case { name: Some("محمد علي".into()), sex: Some(Sex::Male), age: Some(9),
//!                   ..Case::default() };
//! let trace = Trace { name: Some("Ali Mohammed".into()), sex: Some(Sex::Male), age: Some(11),
//!                     ..Trace::default() };
//! let c = ChildProfile::from_case(&case, &Locations::CodePrefixes, today);
//! let t = ChildProfile::from_trace(&TracingRequest::default(), &trace, &Locations::CodePrefixes, today);
//! let freq = NameFrequencies::build([&c]);
//! let result = compare(&t, &c, &freq, &Weights::default(), true);
//! assert!(result.weight > 0.0);
//! assert!(result.fields.iter().any(|f| f.field == "age" && f.weight > 0.0));
//! ```

use fieldkit_domain::explain::{Detail, NamesCompared, RelativeCompared, WordPair};
use serde::{Deserialize, Serialize};

use crate::names::{
    KeyMap, NameToken, TokenAgreement, TokenPair, compare_names, jaro_winkler, token_similarity,
};
use crate::profile::{ChildProfile, NameField, Place, Relation, Relative};

/// How often each name token occurs among the indexed records: the u-probabilities
/// of name agreement.
#[derive(Clone, Debug, Default)]
pub struct NameFrequencies {
    counts: KeyMap<u32>,
    population: u32,
}

pub(crate) fn frequency_key(t: &NameToken) -> u64 {
    t.known_key().unwrap_or_else(|| t.spelling_key())
}

/// The frequency keys of a profile's child and family names, each once.
fn distinct_keys(p: &ChildProfile) -> Vec<u64> {
    let mut seen: Vec<u64> = p
        .name_tokens()
        .chain(p.family_tokens())
        .map(frequency_key)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen
}

impl NameFrequencies {
    /// Counts, for each name token, the profiles whose child or family names hold it.
    pub fn build<'a>(profiles: impl IntoIterator<Item = &'a ChildProfile>) -> NameFrequencies {
        let mut f = NameFrequencies::default();
        for p in profiles {
            f.add(p);
        }
        f
    }

    /// Adds one profile's tokens.
    pub fn add(&mut self, p: &ChildProfile) {
        self.population += 1;
        for k in distinct_keys(p) {
            *self.counts.entry(k).or_insert(0) += 1;
        }
    }

    /// Takes one profile's tokens out again (a record edited, closed or deleted): the
    /// counts are then those of [`build`](Self::build) over the profiles left.
    pub fn remove(&mut self, p: &ChildProfile) {
        self.population = self.population.saturating_sub(1);
        for k in distinct_keys(p) {
            if let Some(n) = self.counts.get_mut(&k) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.counts.remove(&k);
                }
            }
        }
    }

    /// Share of profiles holding this token, smoothed and floored.
    pub fn share(&self, t: &NameToken) -> f32 {
        let n = self.counts.get(&frequency_key(t)).copied().unwrap_or(0);
        let pop = self.population.max(1000) as f32;
        ((n as f32 + 1.0) / (pop + 1.0)).clamp(1.0 / 20_000.0, 0.5)
    }

    /// Number of profiles counted.
    pub fn population(&self) -> u32 {
        self.population
    }

    /// The frequency keys of `p`'s child and family names that fewer than `below` profiles
    /// hold, sorted. Adding or taking out a profile moves a token's agreement weight by
    /// `frequency_share · log₂((n + 2) / (n + 1))` bits for a token held `n` times: a kit
    /// classes again the pairs that share the rare ones (more than 0.02 bits at `below` 64)
    /// and leaves the drift the common ones bring (and the population's, about 1.4/population
    /// bits) to its daily match run.
    pub fn rare_keys(&self, p: &ChildProfile, below: u32) -> Vec<u64> {
        distinct_keys(p)
            .into_iter()
            .filter(|k| self.counts.get(k).copied().unwrap_or(0) < below)
            .collect()
    }
}

/// Whether a profile's child or family names hold any of these frequency keys (sorted, as
/// [`NameFrequencies::rare_keys`] gives them).
pub fn holds_any_key(p: &ChildProfile, keys: &[u64]) -> bool {
    p.name_tokens()
        .chain(p.family_tokens())
        .any(|t| keys.binary_search(&frequency_key(t)).is_ok())
}

/// How written names weigh, in bits: one token's agreement by its rarity and its kind, the
/// caps, and what differing or crossed tokens cost. The trace matcher ([`Weights`]) and
/// duplicate detection ([`DuplicateWeights`](crate::duplicates::DuplicateWeights)) each hold
/// one, read by the same name functions.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NameWeights {
    /// m-probability of a name token agreeing between records of one child.
    pub m: f32,
    /// Share of a token's frequency weight, log₂(m / u), that counts (1: all of it). The
    /// frequencies are counted as if names were drawn independently; they are not (see
    /// [`Weights::default`]).
    pub frequency_share: f32,
    /// Most one name token can add.
    pub token_cap: f32,
    /// Most all names together can add.
    pub cap: f32,
    /// Each token of the shorter name with no partner in the other (a different name).
    pub token_disagree: f32,
    /// Each pair of agreeing tokens written in crossed order (not a family-name-first
    /// rotation).
    pub order_crossing: f32,
    /// Share of a token's weight kept for each kind of agreement.
    pub same_consonants_share: f32,
    /// See `same_consonants_share`.
    pub nickname_share: f32,
    /// See `same_consonants_share`.
    pub sounds_alike_share: f32,
}

impl Default for NameWeights {
    fn default() -> Self {
        NameWeights {
            m: 0.9,
            frequency_share: 1.0,
            token_cap: 9.0,
            cap: 22.0,
            token_disagree: -4.0,
            order_crossing: -1.5,
            same_consonants_share: 0.8,
            nickname_share: 0.7,
            sounds_alike_share: 0.5,
        }
    }
}

/// The weights of every field, in bits (log₂ likelihood ratios). Defaults are set
/// from the field's own knowledge (ages estimated by eye are often 2–3 years off;
/// children rarely know their date of birth; separation dates are remembered within
/// days or weeks), not fitted to the synthetic evaluation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Weights {
    /// How the child's names (and the relatives', through `family_name_share`) weigh.
    pub names: NameWeights,
    /// Sex agrees.
    pub sex_agree: f32,
    /// Sex differs (a data-entry slip is rare but happens).
    pub sex_disagree: f32,
    /// Birth years differ by 0, 1, 2, 3, 4, 5, and 6 or more.
    pub age_by_years: [f32; 7],
    /// Dates of birth: same day.
    pub dob_same: f32,
    /// Same year and month, or day and month swapped.
    pub dob_close: f32,
    /// Years two or more apart.
    pub dob_far: f32,
    /// Separation dates within 3, 14, 45, 120 days, and further. One event remembered
    /// twice: dates weeks apart are remembered so, months apart are another separation. The
    /// two last were −2 and −4, and a namesake separated 290 days apart still reached
    /// *likely* on its names, sex and age; they are now −4 and −8 (the duplicates' −4 and −6,
    /// the furthest stronger): separations more than four months apart are about 70 % of
    /// unrelated pairs and rare between one child's records, a date misremembered or
    /// mistyped (on the evaluation's tuning seeds, no likely pair of one child was more than
    /// 45 days apart). Such a pair is shown, as possible, for a caseworker to check.
    pub separation_by_days: [f32; 5],
    /// Separation places agreeing down to the block, camp, region, country (as deep as the
    /// shallower of the two describes).
    pub place_agree: [f32; 4],
    /// Separation places differing at the block (same camp), camp (same region), region
    /// (same country), country: two records of one separation name one place, so places
    /// that differ at a level both give are evidence of another separation (a neighbouring
    /// block is a common slip, and still near). Before, any shared level counted for (one
    /// shared country +0.2, region +1.0): on the evaluation's tuning seeds (1 and 7) no record
    /// pair of one child differed at the region or camp, while a fifth of the other candidates
    /// did. The values are the field's reading, checked on those seeds
    /// (`examples/likely_features.rs`): with the dates below, likely pairs for children never
    /// registered fell from 91 to 55 there at no loss of recall. The camp, region and country
    /// were then −2, −3 and −3; namesakes separated in another region still reached *likely*
    /// on their names (`examples/unregistered_likely.rs`), so they are now −5, −8 and −8 (the
    /// duplicates' −5, −6, −6, another region stronger): another camp is another separation
    /// unless a record is wrong, another region more surely so.
    pub place_conflict: [f32; 4],
    /// The family's last home (a case without one: the child's current place) agreeing down
    /// to the block, camp, region, country.
    pub last_place_agree: [f32; 4],
    /// The last home differing at the block, camp, region, country. A case's current place
    /// stands in for its last home, so a difference is weak evidence: half the separation
    /// place's old weights by shared levels.
    pub last_place_conflict: [f32; 4],
    /// Share of a relative's name weight.
    pub family_name_share: f32,
    /// Relative named with the same relation (mother and mother).
    pub family_relation_agree: f32,
    /// A relative of the same relation with a different name.
    pub family_name_disagree: f32,
    /// A mother or a father named on both records, with a name that differs: another family.
    /// Not scaled by the share of names counted ([`Weights::NAMES_COUNTED`]): names cluster,
    /// so agreement counts for less than frequencies say, but a parent's name that differs is
    /// no more common between records of one child for it (on tuning seed 1, the records of
    /// one child that both list a mother or a father gave them differing names in about 2 %
    /// of pairs).
    pub parent_name_disagree: f32,
    /// Most the family can add.
    pub family_cap: f32,
    /// A named relative's dates of birth the same; birth years within one (from dates or
    /// ages); dates of birth five or more years apart (another person of the same name).
    pub relative_birth: [f32; 3],
    /// A named relative's nationality, ethnicity or religion: shared / none shared.
    pub relative_shared: [f32; 2],
    /// Nationality shared / none shared.
    pub nationality: [f32; 2],
    /// Language shared / none shared.
    pub language: [f32; 2],
    /// Ethnicity shared / none shared.
    pub ethnicity: [f32; 2],
}

impl Default for Weights {
    /// The field weights below, with names counted at [`Weights::NAMES_COUNTED`].
    fn default() -> Self {
        Weights::with_names_counted(Weights::NAMES_COUNTED)
    }
}

impl Weights {
    /// Share of the names' weights that counts, for the child's names and the relatives'
    /// alike. Name agreement between two children is far commoner than the token
    /// frequencies say: the frequencies treat each name as drawn on its own, but names come
    /// in clusters (a naming tradition's few common names together, a family naming children
    /// after their elders, namesake families with the same family and given names), and a
    /// relative's name agreeing is evidence of the family, which a sibling or a namesake
    /// family shares, not of the child. Measured on the evaluation's tuning seeds (1 and 7,
    /// both populations), among candidates whose names do not differ: a mother agreeing in
    /// full carries about 7 bits, not the 14 its name frequencies give; the separation, the
    /// places, age and sex (the event, which namesakes do not share) keep their weights.
    /// Fitted with `likely` on those seeds only (`examples/likely_sweep.rs`).
    pub const NAMES_COUNTED: f32 = 0.6;

    /// The field weights, with the child's and the relatives' names counted at `share` of
    /// their frequency weights (the caps and penalties of names, and the family's weights, in
    /// proportion). `with_names_counted(1.0)` are the weights as the field's knowledge sets
    /// them, before the evaluation measured name clustering.
    pub fn with_names_counted(share: f32) -> Weights {
        let names = NameWeights::default();
        Weights {
            names: NameWeights {
                frequency_share: share,
                token_cap: names.token_cap * share,
                cap: names.cap * share,
                token_disagree: names.token_disagree * share,
                order_crossing: names.order_crossing * share,
                ..names
            },
            sex_agree: 1.0,
            sex_disagree: -4.5,
            age_by_years: [2.5, 2.0, 1.2, 0.3, -2.5, -5.0, -9.0],
            dob_same: 6.0,
            dob_close: 2.5,
            dob_far: -1.5,
            separation_by_days: [3.0, 2.0, 1.0, -4.0, -8.0],
            place_agree: [3.5, 2.5, 1.0, 0.2],
            place_conflict: [0.5, -5.0, -8.0, -8.0],
            last_place_agree: [1.75, 1.25, 0.5, 0.1],
            last_place_conflict: [1.25, 0.5, 0.1, -0.5],
            family_name_share: 0.8,
            family_relation_agree: 1.0 * share,
            family_name_disagree: -2.5 * share,
            parent_name_disagree: -2.5,
            family_cap: 14.0 * share,
            relative_birth: [2.0 * share, 0.5 * share, -3.0 * share],
            relative_shared: [0.3 * share, -0.8 * share],
            nationality: [0.6, -0.8],
            language: [0.5, -0.5],
            ethnicity: [0.8, -0.5],
        }
    }
}

/// The evidence of one field.
#[derive(Clone, Debug, Serialize)]
pub struct FieldEvidence {
    /// Primero's field name (or a group: `family_details_section`).
    pub field: &'static str,
    /// Weight added, in bits.
    pub weight: f32,
    /// What was compared (typed, for a screen to word; `Display` gives the English, which is
    /// also what JSON output shows).
    #[serde(serialize_with = "fieldkit_domain::explain::serialize_english")]
    pub detail: Detail,
}

/// The result of comparing a sought child with a registered one.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    /// Total weight in bits.
    pub weight: f32,
    /// A name of the child on one side is not any name on the other (two different
    /// given names, as between siblings). A match with differing names is never
    /// more than possible unless the dates of birth are the same.
    pub names_differ: bool,
    /// Both dates of birth given and the same.
    pub same_birth_date: bool,
    /// Per-field evidence (empty unless an explanation was asked for).
    pub fields: Vec<FieldEvidence>,
}

pub(crate) struct Explain<'a> {
    pub(crate) on: bool,
    pub(crate) out: &'a mut Vec<FieldEvidence>,
}

impl Explain<'_> {
    pub(crate) fn add(
        &mut self,
        field: &'static str,
        weight: f32,
        detail: impl FnOnce() -> Detail,
    ) {
        if self.on {
            self.out.push(FieldEvidence {
                field,
                weight: (weight * 10.0).round() / 10.0,
                detail: detail(),
            });
        }
    }
}

/// Weight of one pair of agreeing tokens: the rarer the name, the more; a partial
/// agreement keeps a share.
pub(crate) fn token_pair_weight(
    ta: &NameToken,
    tb: &NameToken,
    p: &TokenPair,
    freq: &NameFrequencies,
    w: &NameWeights,
) -> f32 {
    let u = freq.share(ta).max(freq.share(tb));
    let full = (w.frequency_share * (w.m / u).log2())
        .min(w.token_cap)
        .max(0.5 * w.frequency_share);
    full * agreement_share(p, w)
}

/// Share of a token's weight kept for its kind of agreement.
pub(crate) fn agreement_share(p: &TokenPair, w: &NameWeights) -> f32 {
    match p.agreement {
        TokenAgreement::Same => 1.0,
        TokenAgreement::SameConsonants => w.same_consonants_share,
        TokenAgreement::Nickname => w.nickname_share,
        TokenAgreement::SoundsAlike => w.sounds_alike_share,
        TokenAgreement::CloseSpelling => 0.3 + (p.similarity - 0.84).max(0.0) * 3.0,
        TokenAgreement::Different => 0.0,
    }
}

/// Which agreeing token pairs were counted already elsewhere and add nothing here (a
/// relative's family name the children's own names share).
pub(crate) type Counted<'a> = &'a dyn Fn(&NameToken, &NameToken) -> bool;

/// No token pair was counted elsewhere.
pub(crate) fn none_counted(_: &NameToken, _: &NameToken) -> bool {
    false
}

/// Weight of two written names, and which tokens agreed (pairs `counted` elsewhere add
/// nothing).
pub(crate) fn name_pair_weight(
    a: &NameField,
    b: &NameField,
    freq: &NameFrequencies,
    w: &NameWeights,
    counted: Counted<'_>,
    explain: Option<&mut NamesCompared>,
) -> (f32, usize, usize) {
    let agreement = compare_names(&a.tokens, &b.tokens);
    let mut total = 0.0;
    let mut words = Vec::new();
    let mut already = 0;
    for p in &agreement.pairs {
        let ta = &a.tokens[usize::from(p.a)];
        let tb = &b.tokens[usize::from(p.b)];
        if counted(ta, tb) {
            already += 1;
        } else {
            total += token_pair_weight(ta, tb, p, freq, w);
        }
        if explain.is_some() {
            words.push(WordPair {
                a: ta.text().to_string(),
                b: tb.text().to_string(),
                agreement: p.agreement,
            });
        }
    }
    let disagreements = agreement.disagreements();
    total += disagreements as f32 * w.token_disagree;
    let crossings = agreement.crossings(a.tokens.len(), b.tokens.len());
    total += crossings as f32 * w.order_crossing;
    if let Some(e) = explain {
        *e = NamesCompared {
            a: a.display.to_string(),
            b: b.display.to_string(),
            pairs: words,
            counted: u32::try_from(already).unwrap_or(u32::MAX),
            differ: u32::try_from(disagreements).unwrap_or(u32::MAX),
            unsure: u32::try_from(agreement.unsure).unwrap_or(u32::MAX),
            crossed: crossings > 0,
        };
    }
    (total, disagreements, agreement.unsure)
}

/// The best-weighing pairing of the two sides' written names: (weight uncapped,
/// differing tokens, unsure tokens, index in `a`, index in `b`).
pub(crate) fn best_names(
    a: &[NameField],
    b: &[NameField],
    freq: &NameFrequencies,
    w: &NameWeights,
    counted: Counted<'_>,
) -> Option<(f32, usize, usize, usize, usize)> {
    let mut best: Option<(f32, usize, usize, usize, usize)> = None;
    for (i, fa) in a.iter().enumerate() {
        for (j, fb) in b.iter().enumerate() {
            let (s, d, u) = name_pair_weight(fa, fb, freq, w, counted, None);
            if best.is_none_or(|(bs, ..)| s > bs) {
                best = Some((s, d, u, i, j));
            }
        }
    }
    best
}

/// The explanation of one pairing of written names.
pub(crate) fn describe_names(
    a: &NameField,
    b: &NameField,
    freq: &NameFrequencies,
    w: &NameWeights,
    counted: Counted<'_>,
) -> NamesCompared {
    let mut detail = NamesCompared::default();
    name_pair_weight(a, b, freq, w, counted, Some(&mut detail));
    detail
}

/// Best weight over every pairing of the two sides' written names.
pub(crate) fn names_weight(
    a: &[NameField],
    b: &[NameField],
    freq: &NameFrequencies,
    w: &NameWeights,
    counted: Counted<'_>,
    explain: Option<&mut NamesCompared>,
) -> Option<(f32, usize, usize)> {
    let (s, d, u, i, j) = best_names(a, b, freq, w, counted)?;
    if let Some(e) = explain {
        *e = describe_names(&a[i], &b[j], freq, w, counted);
    }
    Some((s.min(w.cap), d, u))
}

/// True when two tokens are one name, not merely alike (the same consonants and a close
/// spelling, not just a shared skeleton).
pub(crate) fn same_token(t: &NameToken, r: &NameToken) -> bool {
    match token_similarity(t, r).1 {
        TokenAgreement::Same | TokenAgreement::Nickname => true,
        TokenAgreement::SameConsonants
        | TokenAgreement::CloseSpelling
        | TokenAgreement::SoundsAlike => {
            jaro_winkler(t.latin.as_bytes(), r.latin.as_bytes()) >= 0.88
        }
        TokenAgreement::Different => false,
    }
}

/// True when a name written as one word (a given name alone) meets, in the other child's
/// name of several, only a token of its lineage: the third place or later of a name of
/// three or more (a father's, grandfather's or family name: writing the family name first
/// moves only the last token to the front, so the given name is first or second), or a
/// token of a father's name listed on either record (his given name is the child's
/// patronymic). The other child's own given name is then not the one sought: a sibling or
/// a cousin named like a father or grandfather, as siblings share every name but their own.
pub(crate) fn lone_name_meets_lineage(
    fa: &NameField,
    fb: &NameField,
    a: &ChildProfile,
    b: &ChildProfile,
) -> bool {
    let (lone, other) = match (fa.tokens.len(), fb.tokens.len()) {
        (1, n) if n >= 2 => (fa, fb),
        (n, 1) if n >= 2 => (fb, fa),
        _ => return false,
    };
    let agreement = compare_names(&lone.tokens, &other.tokens);
    let Some(p) = agreement.pairs.first() else {
        return false;
    };
    let k = usize::from(p.b);
    if k >= 2 && other.tokens.len() >= 3 {
        return true;
    }
    let Some(t) = other.tokens.get(k) else {
        return false;
    };
    k >= 1
        && a.family
            .iter()
            .chain(&b.family)
            .filter(|r| r.relation == Relation::Father)
            .flat_map(|r| r.names.iter().flat_map(|f| f.tokens.iter()))
            .any(|r| same_token(t, r))
}

/// Years between the two children's estimated births.
pub(crate) fn birth_years_apart(a: &ChildProfile, b: &ChildProfile) -> Option<i32> {
    Some((a.birth_year? - b.birth_year?).abs())
}

/// Weight of the years between two estimated births, from a table by years apart (0, 1, …, 6
/// or more): the trace matcher's and the duplicates' tables differ, the reading does not.
pub(crate) fn age_weight(a: &ChildProfile, b: &ChildProfile, by_years: &[f32; 7]) -> Option<f32> {
    let d = birth_years_apart(a, b)?;
    Some(by_years[usize::try_from(d).unwrap_or(usize::MAX).min(6)])
}

/// How two given dates of birth agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BirthDates {
    /// The same day.
    Same,
    /// Same year and month, or day and month swapped.
    Close,
    /// Two or more years apart.
    YearsApart,
    /// Otherwise different.
    Differ,
}

/// How the two dates of birth agree, and whether either is an estimate.
pub(crate) fn birth_dates(a: &ChildProfile, b: &ChildProfile) -> Option<(BirthDates, bool)> {
    let (x, y) = (a.date_of_birth?, b.date_of_birth?);
    let kind = if x == y {
        BirthDates::Same
    } else if (x.year() == y.year() && x.month() == y.month())
        || (x.year() == y.year() && x.month() == y.day() && x.day() == y.month())
    {
        BirthDates::Close
    } else if (x.year() - y.year()).abs() >= 2 {
        BirthDates::YearsApart
    } else {
        BirthDates::Differ
    };
    Some((kind, a.estimated || b.estimated))
}

/// An estimate agreeing is half the evidence of a known date agreeing.
pub(crate) fn halved_if_estimated(v: f32, estimated: bool) -> f32 {
    if estimated && v > 0.0 { v * 0.5 } else { v }
}

fn dob_weight(a: &ChildProfile, b: &ChildProfile, w: &Weights) -> Option<f32> {
    let (kind, estimated) = birth_dates(a, b)?;
    let v = match kind {
        BirthDates::Same => w.dob_same,
        BirthDates::Close => w.dob_close,
        BirthDates::YearsApart => w.dob_far,
        BirthDates::Differ => 0.0,
    };
    Some(halved_if_estimated(v, estimated))
}

/// Weight of the days between two separation dates, from a table by 3, 14, 45, 120 days
/// and further; and the days.
pub(crate) fn separation_weight(
    a: &ChildProfile,
    b: &ChildProfile,
    by_days: &[f32; 5],
) -> Option<(f32, i64)> {
    let d = a
        .date_of_separation?
        .days_until(b.date_of_separation?)
        .abs();
    let i = match d {
        0..=3 => 0,
        4..=14 => 1,
        15..=45 => 2,
        46..=120 => 3,
        _ => 4,
    };
    Some((by_days[i], d))
}

/// When only one record gives a separation date, the other's own date still bounds it: a case
/// is registered after its child's separation, a family asks after it
/// ([`ChildProfile::separated_by`]). A separation date more than 45 days after the other
/// record's bound weighs as two separation dates that far apart (the same table: dates are
/// remembered within weeks); within 45 days, or with nothing to compare, it is no evidence.
/// (weight, days past the bound, true when `b`'s date is the bound.)
///
/// On the evaluation's tuning seeds (1 and 7, both populations) no likely pair of one child
/// falls past the bound; 8 likely pairs of other children did, 4 of them for children never
/// registered (`examples/likely_dump.rs`, column `reg_after_sep`).
pub(crate) fn separation_bound_weight(
    a: &ChildProfile,
    b: &ChildProfile,
    by_days: &[f32; 5],
) -> Option<(f32, i64, bool)> {
    let (date, bound, b_bounds) = match (a.date_of_separation, b.date_of_separation) {
        (Some(d), None) => (d, b.separated_by?, true),
        (None, Some(d)) => (d, a.separated_by?, false),
        _ => return None,
    };
    let past = bound.days_until(date);
    let i = match past {
        ..=45 => return None,
        46..=120 => 3,
        _ => 4,
    };
    Some((by_days[i], past, b_bounds))
}

/// Two places: (weight, agreed, levels shared). They agree when they share every level the
/// shallower describes (a place given only to the camp agrees with any block of that camp);
/// otherwise they differ at the first level both describe and do not share, which is
/// evidence of another place, not of a near one.
pub(crate) fn place_weight(
    a: &Place,
    b: &Place,
    agree: &[f32; 4],
    conflict: &[f32; 4],
) -> Option<(f32, bool, usize)> {
    if a.is_unknown() || b.is_unknown() {
        return None;
    }
    let shared = a.shared_levels(b);
    let depth = a.depth().min(b.depth());
    if shared >= depth {
        // Agree as deep as described: block (4) is agree[0], country (1) agree[3].
        Some((agree[4 - depth.clamp(1, 4)], true, shared))
    } else {
        // Differ below the shared levels: at the block (shared 3) is conflict[0].
        Some((conflict[3 - shared.min(3)], false, shared))
    }
}

/// How two places compared ([`place_weight`]).
pub(crate) fn place_words(agreed: bool, shared: usize) -> Detail {
    Detail::Places {
        agreed,
        shared: u8::try_from(shared.min(4)).unwrap_or(4),
    }
}

pub(crate) fn set_weight(a: &[u32], b: &[u32], pair: [f32; 2]) -> Option<f32> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(if a.iter().any(|x| b.contains(x)) {
        pair[0]
    } else {
        pair[1]
    })
}

/// Family evidence: each relative on the sought side against the best-agreeing
/// relative on the registered side; the two strongest count.
/// Evidence of a relative's own details, when the two relatives' names agree: birth, and
/// nationality, ethnicity and religion (Primero's `relation_*` fields). A relative's age is
/// someone else's guess and often years off, so ages only ever add a little; two dates of
/// birth years apart are another person.
fn relative_details(ra: &Relative, rb: &Relative, w: &Weights) -> f32 {
    let mut v = 0.0;
    match (ra.date_of_birth, rb.date_of_birth) {
        (Some(x), Some(y)) if x == y => v += w.relative_birth[0],
        (Some(x), Some(y)) if (x.year() - y.year()).abs() >= 5 => v += w.relative_birth[2],
        _ => {
            if let (Some(x), Some(y)) = (ra.birth_year, rb.birth_year)
                && (x - y).abs() <= 1
            {
                v += w.relative_birth[1];
            }
        }
    }
    for (x, y) in [
        (&ra.nationality, &rb.nationality),
        (&ra.ethnicity, &rb.ethnicity),
        (&ra.religion, &rb.religion),
    ] {
        v += set_weight(x, y, w.relative_shared).unwrap_or(0.0);
    }
    v
}

fn family_weight(
    a: &ChildProfile,
    b: &ChildProfile,
    freq: &NameFrequencies,
    w: &Weights,
    explain: Option<&mut Vec<RelativeCompared>>,
) -> Option<f32> {
    if a.family.is_empty() || b.family.is_empty() {
        return None;
    }
    // A relative's name token that both children's names hold (a family name, a patronymic)
    // was counted with the children's names: counted again it would take the same evidence
    // for two.
    let in_children = |ta: &NameToken, tb: &NameToken| {
        a.name_tokens().any(|c| same_token(ta, c)) && b.name_tokens().any(|c| same_token(tb, c))
    };
    let mut contributions: Vec<(f32, usize, usize)> = Vec::with_capacity(a.family.len());
    for (i, ra) in a.family.iter().enumerate() {
        let mut best: Option<(f32, usize)> = None;
        // A mother (or father) listed on both records is compared with the other's mother (or
        // a relative of no stated relation) only: another relative's name, which differs from
        // hers anyway, cannot stand in for a mother's that differs.
        let parent = matches!(ra.relation, Relation::Mother | Relation::Father);
        let parents_only = parent && b.family.iter().any(|rb| rb.relation == ra.relation);
        for (j, rb) in b.family.iter().enumerate() {
            if parents_only && rb.relation != ra.relation && rb.relation != Relation::Unknown {
                continue;
            }
            let same_relation = ra.relation != Relation::Unknown && ra.relation == rb.relation;
            let conflicting = ra.relation != Relation::Unknown
                && rb.relation != Relation::Unknown
                && ra.relation != rb.relation;
            // A child's sibling is of the child's generation, a parent or grandparent is not:
            // a sibling named like the other's parent is two people (a boy named after his
            // grandfather, a father's name that is also a given name), not one relative.
            let generations = |x: Relation, y: Relation| {
                x == Relation::Sibling
                    && matches!(
                        y,
                        Relation::Mother | Relation::Father | Relation::Grandparent
                    )
            };
            let other_generation =
                generations(ra.relation, rb.relation) || generations(rb.relation, ra.relation);
            let (name, differ, unsure) =
                names_weight(&ra.names, &rb.names, freq, &w.names, &in_children, None)
                    .unwrap_or((0.0, 0, 0));
            let v = if differ > 0 {
                // Some name of this relative is not the other's: a different person.
                if same_relation && parent {
                    w.parent_name_disagree
                } else if same_relation && ra.relation != Relation::Sibling {
                    w.family_name_disagree
                } else {
                    0.0
                }
            } else if unsure > 0 {
                // Only alike (Alina, Polina): not evidence either way.
                0.0
            } else if other_generation {
                0.0
            } else if name > 0.0 {
                let mut v = name * w.family_name_share;
                if same_relation {
                    v += w.family_relation_agree;
                } else if conflicting {
                    v *= 0.5;
                }
                if let (Some(x), Some(y)) = (ra.age, rb.age)
                    && x.abs_diff(y) > 12
                {
                    v *= 0.5;
                }
                v + relative_details(ra, rb, w)
            } else if same_relation && ra.relation != Relation::Sibling {
                w.family_name_disagree
            } else {
                0.0
            };
            if best.is_none_or(|(bv, _)| v > bv) {
                best = Some((v, j));
            }
        }
        if let Some((v, j)) = best {
            contributions.push((v, i, j));
        }
    }
    contributions.sort_by(|x, y| y.0.total_cmp(&x.0));
    // The two strongest count; and a mother or father listed on both records whose names
    // differ counts whatever else agrees (two siblings listed alike, no evidence either way,
    // left it out before): another family's parent is evidence against, not a relative less.
    let parent_differs = |&(v, i, _): &(f32, usize, usize)| {
        let r = a.family[i].relation;
        v < 0.0
            && matches!(r, Relation::Mother | Relation::Father)
            && b.family.iter().any(|rb| rb.relation == r)
    };
    let counted = || {
        contributions
            .iter()
            .enumerate()
            .filter(|(k, c)| *k < 2 || parent_differs(c))
            .map(|(_, c)| *c)
    };
    let total: f32 = counted().map(|c| c.0).sum();
    if let Some(e) = explain {
        *e = counted()
            .map(|(v, i, j)| {
                let (ra, rb) = (&a.family[i], &b.family[j]);
                let mut names = NamesCompared::default();
                names_weight(
                    &ra.names,
                    &rb.names,
                    freq,
                    &w.names,
                    &in_children,
                    Some(&mut names),
                );
                RelativeCompared {
                    relation: ra.relation.id().to_owned(),
                    name: ra.names.first().map_or("", |n| &n.display).to_owned(),
                    listed: rb.relation.id().to_owned(),
                    names,
                    weight: v,
                }
            })
            .collect();
    }
    Some(total.min(w.family_cap))
}

/// Two ages and the years of birth they give, for an explanation.
pub(crate) fn ages_detail(
    a: &ChildProfile,
    b: &ChildProfile,
    b_estimated: bool,
    years_apart: i32,
) -> Detail {
    Detail::Ages {
        a: a.age.map(i64::from),
        b: b.age.map(i64::from),
        b_estimated,
        born_a: a.birth_year.unwrap_or(0),
        born_b: b.birth_year.unwrap_or(0),
        years_apart,
    }
}

/// Two dates of birth, for an explanation.
pub(crate) fn birth_dates_detail(a: &ChildProfile, b: &ChildProfile) -> Detail {
    let show = |p: &ChildProfile| p.date_of_birth.map(|d| d.to_string()).unwrap_or_default();
    Detail::BirthDates {
        a: show(a),
        b: show(b),
    }
}

pub(crate) fn sex_word(s: Option<fieldkit_domain::Sex>) -> &'static str {
    match s {
        Some(fieldkit_domain::Sex::Female) => "female",
        Some(fieldkit_domain::Sex::Male) => "male",
        _ => "unknown",
    }
}

/// Compares a sought child (`a`: a trace, or a case when looking for duplicates)
/// with a registered one (`b`). With `explain`, every field that contributed is
/// described for the caseworker.
pub fn compare(
    a: &ChildProfile,
    b: &ChildProfile,
    freq: &NameFrequencies,
    w: &Weights,
    explain: bool,
) -> Comparison {
    let mut fields = Vec::new();
    let mut ex = Explain {
        on: explain,
        out: &mut fields,
    };
    let mut total = 0.0;

    let mut names_differ = false;
    if let Some((s, differ, unsure, i, j)) =
        best_names(&a.names, &b.names, freq, &w.names, &none_counted)
    {
        let v = s.min(w.names.cap);
        total += v;
        let lineage = lone_name_meets_lineage(&a.names[i], &b.names[j], a, b);
        names_differ = differ + unsure > 0 || lineage;
        ex.add("name", v, || Detail::Names {
            names: describe_names(&a.names[i], &b.names[j], freq, &w.names, &none_counted),
            lineage,
        });
    }
    let same_birth_date = a.date_of_birth.is_some() && a.date_of_birth == b.date_of_birth;
    if let (Some(x), Some(y)) = (a.sex, b.sex) {
        let v = if x == y { w.sex_agree } else { w.sex_disagree };
        total += v;
        ex.add("sex", v, || Detail::Sexes {
            a: sex_word(a.sex).to_owned(),
            b: sex_word(b.sex).to_owned(),
        });
    }
    if let Some(v) = age_weight(a, b, &w.age_by_years) {
        total += v;
        ex.add("age", v, || {
            ages_detail(a, b, b.estimated, birth_years_apart(a, b).unwrap_or(0))
        });
    }
    if let Some(v) = dob_weight(a, b, w) {
        total += v;
        ex.add("date_of_birth", v, || birth_dates_detail(a, b));
    }
    if let Some((v, days)) = separation_weight(a, b, &w.separation_by_days) {
        total += v;
        ex.add("date_of_separation", v, || Detail::SeparationDays { days });
    } else if let Some((v, days, b_bounds)) = separation_bound_weight(a, b, &w.separation_by_days) {
        total += v;
        ex.add("date_of_separation", v, || {
            if b_bounds {
                Detail::SeparatedAfterRegistration { days }
            } else {
                Detail::SeparatedAfterRequest { days }
            }
        });
    }
    if let Some((v, agreed, shared)) = place_weight(
        &a.separation_place,
        &b.separation_place,
        &w.place_agree,
        &w.place_conflict,
    ) {
        total += v;
        ex.add("location_separation", v, || place_words(agreed, shared));
    }
    if let Some((v, agreed, shared)) = place_weight(
        &a.last_place,
        &b.last_place,
        &w.last_place_agree,
        &w.last_place_conflict,
    ) {
        total += v;
        ex.add("location_last", v, || place_words(agreed, shared));
    }
    let mut fam = Vec::new();
    if let Some(v) = family_weight(a, b, freq, w, explain.then_some(&mut fam)) {
        total += v;
        ex.add("family_details_section", v, || {
            Detail::Family(std::mem::take(&mut fam))
        });
    }
    for (field, x, y, pair) in [
        ("nationality", &a.nationality, &b.nationality, w.nationality),
        ("language", &a.language, &b.language, w.language),
        ("ethnicity", &a.ethnicity, &b.ethnicity, w.ethnicity),
    ] {
        if let Some(v) = set_weight(x, y, pair) {
            total += v;
            ex.add(field, v, || Detail::Shared(v > 0.0));
        }
    }
    Comparison {
        weight: total,
        names_differ,
        same_birth_date,
        fields,
    }
}

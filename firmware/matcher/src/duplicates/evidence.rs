//! Case against case: the evidence that two registrations are of one child.
//!
//! Two registrations of one child are both cases, taken the same way by registrars
//! who each estimate the age, write the names in their own script and ask for the
//! family. They share far more than a trace and its case do (the parents' names,
//! the separation, the family's home), and so do siblings registered apart, and
//! children of unrelated families with the same common names. The comparison here
//! is the trace matcher's in its names (the same tokens, frequencies and agreement
//! kinds), and its own elsewhere:
//!
//! - **ages** of two estimates: each registrar's guess may be 2–3 years off, so the
//!   two may be further apart than a family's and a registrar's;
//! - **dates of birth** both given (not estimated) and different are two children;
//! - **separation** dates and places are one event remembered twice: a place given
//!   at two depths agrees as deep as the shallower one, and two different camps or
//!   regions count against;
//! - the **family's last home** agreeing counts for, differing does not count against
//!   (`location_current` stands in for it when no last home is given, and a child moves);
//! - the **family**: mother against mother, father against father, sibling against
//!   sibling. A parent named differently counts strongly against;
//! - the **given name**: the child's name tokens that are not the parents' (a
//!   patronymic or family name the child shares with them) must agree firmly (same
//!   name, same consonants, nickname, or a typing slip) for `likely`; a sibling has
//!   everything else in common;
//! - a **sibling listed** on one case named as the other case's child: the two are
//!   brother and sister, never `likely`.
//!
//! No IO, no clock; allocates only when an explanation is asked for, or for the
//! given-name check of a pair already strong enough to be likely.

use std::fmt::Write as _;

use fieldkit_domain::explain::{Detail, NamesCompared};
use serde::{Deserialize, Serialize};

use crate::compare::{
    BirthDates, Explain, FieldEvidence, NameFrequencies, NameWeights, age_weight, ages_detail,
    agreement_share, best_names, birth_dates, birth_dates_detail, birth_years_apart,
    halved_if_estimated, names_weight, none_counted, place_weight, place_words, same_token,
    separation_weight, set_weight, sex_word, token_pair_weight,
};
use crate::names::{KeyMap, NameAgreement, NameToken, TokenAgreement, compare_names};
use crate::profile::{ChildProfile, NameField, Relation, Relative};

/// How often name tokens are written together in one child's names, among the
/// indexed cases. Two children of one naming tradition (or of one family) share a
/// given name and a family name far more often than each name's own frequency says:
/// the second agreeing name is then weaker evidence than the first. Keys are the
/// known name or else the consonant skeleton, so spellings and scripts count
/// together.
#[derive(Clone, Debug, Default)]
pub struct NamePairs {
    single: KeyMap<u32>,
    pair: KeyMap<u32>,
    population: u32,
}

fn pair_token_key(t: &NameToken) -> u64 {
    t.known_key().unwrap_or_else(|| t.block_key())
}

fn pair_key(x: u64, y: u64) -> u64 {
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    // SplitMix64's finaliser over the two keys: the map hashes nothing itself.
    let mut z = lo.rotate_left(29) ^ hi.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl NamePairs {
    /// Counts the child-name tokens of every profile, alone and in pairs.
    pub fn build<'a>(profiles: impl IntoIterator<Item = &'a ChildProfile>) -> NamePairs {
        let mut n = NamePairs::default();
        let mut keys: Vec<u64> = Vec::new();
        for p in profiles {
            n.population += 1;
            keys.clear();
            keys.extend(p.name_tokens().map(pair_token_key));
            keys.sort_unstable();
            keys.dedup();
            for (i, &x) in keys.iter().enumerate() {
                *n.single.entry(x).or_insert(0) += 1;
                for &y in &keys[i + 1..] {
                    *n.pair.entry(pair_key(x, y)).or_insert(0) += 1;
                }
            }
        }
        n
    }

    /// Bits by which agreeing on both `x` and `y` is less rare than agreeing on each
    /// apart says: log₂ P(y | x) / P(y), counted without the two compared cases
    /// (`leave_out`: how many of them hold both) and drawn toward independence when
    /// `x` is rare. Never negative.
    fn dependence(&self, x: &NameToken, y: &NameToken, leave_out: u32) -> f32 {
        let (kx, ky) = (pair_token_key(x), pair_token_key(y));
        if kx == ky {
            return 0.0;
        }
        let count = |k: u64| self.single.get(&k).copied().unwrap_or(0);
        let (mut cx, mut cy) = (count(kx), count(ky));
        if cx < cy {
            // Condition on the commoner name: more cases to count.
            std::mem::swap(&mut cx, &mut cy);
        }
        let cxy = self
            .pair
            .get(&pair_key(kx, ky))
            .copied()
            .unwrap_or(0)
            .saturating_sub(leave_out);
        let cx = cx.saturating_sub(leave_out) as f32;
        let cy = cy.saturating_sub(leave_out) as f32;
        let others = self.population.saturating_sub(leave_out).max(1000) as f32;
        let py = ((cy + 1.0) / (others + 1.0)).clamp(1.0 / 20_000.0, 0.5);
        // Twenty cases' worth of belief in independence.
        const PRIOR: f32 = 20.0;
        let py_given_x = (cxy as f32 + PRIOR * py) / (cx + PRIOR);
        (py_given_x / py).log2().max(0.0)
    }
}

/// The weights of case-against-case evidence, in bits (log₂ likelihood ratios), as
/// [`Weights`](crate::compare::Weights) are for a trace against a case. Set from what two registrations of
/// one child share and what siblings and namesakes share; the thresholds in
/// [`DuplicateSettings`](super::DuplicateSettings) were tuned on the tuning seed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DuplicateWeights {
    /// How names weigh (the trace matcher's, with a lower cap per token).
    pub names: NameWeights,
    /// Close spellings at least this similar (Jaro–Winkler) count as one given name
    /// with a typing slip; below it, as two names (a sibling's).
    pub given_slip_similarity: f32,
    /// Sex agrees.
    pub sex_agree: f32,
    /// Sex differs.
    pub sex_disagree: f32,
    /// Estimated birth years differ by 0, 1, 2, 3, 4, 5, and 6 or more.
    pub age_by_years: [f32; 7],
    /// Dates of birth the same.
    pub dob_same: f32,
    /// Same year and month, or day and month swapped.
    pub dob_close: f32,
    /// Dates of birth both given (neither estimated) and different.
    pub dob_differ: f32,
    /// Separation dates within 3, 14, 45, 120 days, and further.
    pub separation_by_days: [f32; 5],
    /// Separation places agreeing down to the block, camp, region, country (as deep as
    /// the shallower of the two).
    pub place_agree: [f32; 4],
    /// Separation places differing at the block (same camp), camp (same region),
    /// region (same country), country.
    pub place_conflict: [f32; 4],
    /// The family's last home (or the child's current place) agreeing down to the
    /// block, camp, region, country.
    pub last_place_agree: [f32; 4],
    /// The family's last home differing at the block, camp, region, country.
    pub last_place_conflict: [f32; 4],
    /// Share of a parent's name weight when mother agrees with mother, father with
    /// father.
    pub parent_name_share: f32,
    /// A parent named differently (mother against mother, father against father).
    pub parent_disagree: f32,
    /// Share of the name weight when a listed sibling agrees with a listed sibling.
    pub sibling_name_share: f32,
    /// One case lists, as a sibling, the other case's child.
    pub listed_as_sibling: f32,
    /// Most the family can add.
    pub family_cap: f32,
    /// Nationality shared / none shared.
    pub nationality: [f32; 2],
    /// Language shared / none shared.
    pub language: [f32; 2],
    /// Ethnicity shared / none shared.
    pub ethnicity: [f32; 2],
}

impl Default for DuplicateWeights {
    fn default() -> Self {
        DuplicateWeights {
            names: NameWeights {
                // One name agreeing tells less between two cases than its frequency
                // says: names cluster by tradition and family, and a pair of
                // registrations is compared on every name it has. Tuned on seed 1.
                token_cap: 6.5,
                ..NameWeights::default()
            },
            given_slip_similarity: 0.88,
            sex_agree: 1.0,
            sex_disagree: -4.5,
            // Two estimates, each up to 3 years off: wider than a trace's.
            age_by_years: [2.4, 1.7, 1.1, 0.4, -1.2, -2.5, -7.0],
            dob_same: 6.0,
            dob_close: 2.5,
            dob_differ: -6.0,
            // One separation, remembered twice within weeks; months apart is another.
            separation_by_days: [3.8, 3.5, 2.3, -4.0, -6.0],
            place_agree: [5.0, 3.5, 2.0, 0.2],
            // Two neighbouring blocks are a registrar's slip; two camps are not.
            place_conflict: [1.0, -5.0, -6.0, -6.0],
            // The family's home: the block is the family's, a camp or region many
            // families'. A child moves, and `location_current` stands in when no last
            // home is given, so only different countries count against.
            last_place_agree: [4.0, 1.0, 0.5, 0.0],
            last_place_conflict: [0.0, 0.0, 0.0, -2.0],
            parent_name_share: 0.6,
            parent_disagree: -5.0,
            sibling_name_share: 0.3,
            listed_as_sibling: -10.0,
            family_cap: 12.0,
            // A family's nationality, language and ethnicity are its own: written
            // twice for one child they rarely differ.
            nationality: [0.6, -2.5],
            language: [0.6, -3.0],
            ethnicity: [1.4, -3.0],
        }
    }
}

/// How the two children's given names (the tokens not shared with their parents)
/// agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GivenName {
    /// Not checked (the pair is not strong enough to be likely).
    #[default]
    Unchecked,
    /// Firmly one name.
    Agrees,
    /// Only alike (sounds alike, a distant spelling): a sibling's name, or a bad slip.
    Weak,
    /// No given name of one meets one of the other.
    Unknown,
}

/// The result of comparing two cases.
#[derive(Clone, Debug, Default)]
pub struct CaseComparison {
    /// Total weight in bits.
    pub weight: f32,
    /// A name token of one child is not any name of the other.
    pub names_differ: bool,
    /// The given-name check (done when the weight reaches the asked bar).
    pub given_name: GivenName,
    /// One case lists the other's child as a sibling.
    pub listed_as_sibling: bool,
    /// Per-field evidence (empty unless an explanation was asked for).
    pub fields: Vec<FieldEvidence>,
}

/// The tokens a child may share with its family: all of a father's name (his given
/// name is the child's patronymic), the rest of any other relative's but the first
/// (a given name of the mother's is not the child's). Siblings' names do not count.
fn family_tokens(p: &ChildProfile) -> impl Iterator<Item = &NameToken> {
    p.family
        .iter()
        .filter(|r| r.relation != Relation::Sibling)
        .flat_map(|r| {
            let skip = usize::from(r.relation != Relation::Father);
            r.names.iter().flat_map(move |f| f.tokens.iter().skip(skip))
        })
}

/// True when the token is a token of the family's names on either case (a
/// patronymic or family name), not the child's own.
fn is_family_token(t: &NameToken, a: &ChildProfile, b: &ChildProfile) -> bool {
    family_tokens(a)
        .chain(family_tokens(b))
        .any(|r| same_token(t, r))
}

fn firm(agreement: TokenAgreement, similarity: f32, w: &DuplicateWeights) -> bool {
    match agreement {
        TokenAgreement::Same | TokenAgreement::Nickname | TokenAgreement::SameConsonants => true,
        TokenAgreement::CloseSpelling => similarity >= w.given_slip_similarity,
        TokenAgreement::SoundsAlike | TokenAgreement::Different => false,
    }
}

/// Bits the agreeing tokens of two names overstate, written together as they are:
/// the dependence of each agreeing token on the one before it in `fa`'s order,
/// weighed by the weaker agreement of the two.
fn names_dependence(
    fa: &NameField,
    fb: &NameField,
    agreement: &NameAgreement,
    pairs: &NamePairs,
    freq: &NameFrequencies,
    nw: &NameWeights,
) -> f32 {
    let mut agreed: Vec<(u8, f32, f32)> = agreement
        .pairs
        .iter()
        .map(|p| {
            let (ta, tb) = (&fa.tokens[usize::from(p.a)], &fb.tokens[usize::from(p.b)]);
            (
                p.a,
                agreement_share(p, nw),
                token_pair_weight(ta, tb, p, freq, nw),
            )
        })
        .collect();
    agreed.sort_unstable_by_key(|x| x.0);
    let mut bits = 0.0;
    for w in agreed.windows(2) {
        let (x, y) = (
            &fa.tokens[usize::from(w[0].0)],
            &fa.tokens[usize::from(w[1].0)],
        );
        let d = pairs.dependence(x, y, 2) * w[0].1.min(w[1].1);
        bits += d.min(w[0].2.min(w[1].2));
    }
    bits
}

/// The given-name check on the best pairing of the two children's names.
fn given_name(
    fa: &NameField,
    fb: &NameField,
    a: &ChildProfile,
    b: &ChildProfile,
    w: &DuplicateWeights,
) -> GivenName {
    let agreement = compare_names(&fa.tokens, &fb.tokens);
    let (mut firm_own, mut weak_own) = (0, 0);
    for p in &agreement.pairs {
        let own_a = !is_family_token(&fa.tokens[usize::from(p.a)], a, b);
        let own_b = !is_family_token(&fb.tokens[usize::from(p.b)], a, b);
        if own_a || own_b {
            if firm(p.agreement, p.similarity, w) {
                firm_own += 1;
            } else {
                weak_own += 1;
            }
        }
    }
    if weak_own > 0 {
        GivenName::Weak
    } else if firm_own > 0 {
        GivenName::Agrees
    } else {
        GivenName::Unknown
    }
}

/// True when a sibling listed on `a` is named as `b`'s child: no token of the two
/// names differs, and a token of the sibling's that is not a parent's (so the
/// sibling's given name) agrees firmly. A sibling's name always holds the sibling's
/// given name, which is not the child's; when the family lists a sibling named
/// like the child itself (Freshta, Fereshta), no name can tell which child `b` is.
fn lists_as_sibling(a: &ChildProfile, b: &ChildProfile, w: &DuplicateWeights) -> bool {
    for r in a.family.iter().filter(|r| r.relation == Relation::Sibling) {
        for rf in &r.names {
            for bf in &b.names {
                let agreement = compare_names(&rf.tokens, &bf.tokens);
                if agreement.disagreements() == 0
                    && agreement.unsure == 0
                    && agreement.pairs.iter().any(|p| {
                        firm(p.agreement, p.similarity, w)
                            && !is_family_token(&rf.tokens[usize::from(p.a)], a, b)
                    })
                {
                    return true;
                }
            }
        }
    }
    false
}

fn dob_weight(a: &ChildProfile, b: &ChildProfile, w: &DuplicateWeights) -> Option<f32> {
    let (kind, estimated) = birth_dates(a, b)?;
    let v = match kind {
        BirthDates::Same => w.dob_same,
        BirthDates::Close => w.dob_close,
        // Two estimates may be years apart; two known dates that differ are two children.
        BirthDates::YearsApart | BirthDates::Differ if estimated => 0.0,
        BirthDates::YearsApart | BirthDates::Differ => w.dob_differ,
    };
    Some(halved_if_estimated(v, estimated))
}

/// Weight of two relatives' names (the best pairing of their written names), leaving
/// out agreeing tokens that the children's own names hold: a family name or a
/// patronymic the child's name has already counted once. Also the tokens that
/// differ and those only alike, as for children's names.
fn relative_names(
    ra: &Relative,
    rb: &Relative,
    a: &ChildProfile,
    b: &ChildProfile,
    freq: &NameFrequencies,
    nw: &NameWeights,
) -> Option<(f32, usize, usize)> {
    let in_child = |t: &NameToken, p: &ChildProfile| p.name_tokens().any(|c| same_token(t, c));
    let mut best: Option<(f32, usize, usize)> = None;
    for fa in &ra.names {
        for fb in &rb.names {
            let agreement = compare_names(&fa.tokens, &fb.tokens);
            let mut total = 0.0;
            let mut own_agree = 0;
            for p in &agreement.pairs {
                let (ta, tb) = (&fa.tokens[usize::from(p.a)], &fb.tokens[usize::from(p.b)]);
                if !in_child(ta, a) && !in_child(tb, b) {
                    total += token_pair_weight(ta, tb, p, freq, nw);
                    own_agree += 1;
                }
            }
            // A token that differs beside one of the relative's own that agrees is a
            // spelling the names do not know (Cismaan, Osman), not another person.
            let differ = if own_agree > 0 {
                0
            } else {
                agreement.disagreements()
            };
            total += agreement.disagreements() as f32 * nw.token_disagree;
            if best.is_none_or(|(bv, ..)| total > bv) {
                best = Some((total, differ, agreement.unsure));
            }
        }
    }
    best.map(|(v, d, u)| (v.min(nw.cap), d, u))
}

/// One relation's evidence: each relative of that relation on `a` against each on
/// `b`, the best pairing.
fn relation_weight(
    a: &ChildProfile,
    b: &ChildProfile,
    relation: Relation,
    freq: &NameFrequencies,
    nw: &NameWeights,
    w: &DuplicateWeights,
) -> Option<(f32, usize, usize)> {
    let mut best: Option<(f32, usize, usize)> = None;
    for (i, ra) in a.family.iter().enumerate() {
        if ra.relation != relation {
            continue;
        }
        for (j, rb) in b.family.iter().enumerate() {
            if rb.relation != relation {
                continue;
            }
            let (name, differ, unsure) =
                relative_names(ra, rb, a, b, freq, nw).unwrap_or((0.0, 0, 0));
            let share = if relation == Relation::Sibling {
                w.sibling_name_share
            } else {
                w.parent_name_share
            };
            let v = if differ + unsure == 0 {
                name.max(0.0) * share
            } else if differ > 0 && relation != Relation::Sibling {
                // A parent named differently is another family; a family may list
                // another of its children.
                w.parent_disagree
            } else {
                0.0
            };
            if best.is_none_or(|(bv, ..)| v > bv) {
                best = Some((v, i, j));
            }
        }
    }
    best
}

/// Compares two cases. `given_name_from`: the weight from which the given-name
/// check is made (the `likely` threshold; `f32::NEG_INFINITY` always checks).
pub fn compare_cases(
    a: &ChildProfile,
    b: &ChildProfile,
    freq: &NameFrequencies,
    pairs: &NamePairs,
    w: &DuplicateWeights,
    given_name_from: f32,
    explain: bool,
) -> CaseComparison {
    let nw = &w.names;
    let mut fields = Vec::new();
    let mut ex = Explain {
        on: explain,
        out: &mut fields,
    };
    let mut total = 0.0;

    let mut detail = Detail::default();
    let mut names_differ = false;
    let best = best_names(&a.names, &b.names, freq, nw, &none_counted);
    if let Some((v, differ, unsure, i, j)) = best {
        let agreement = compare_names(&a.names[i].tokens, &b.names[j].tokens);
        let dependence = names_dependence(&a.names[i], &b.names[j], &agreement, pairs, freq, nw);
        let v = (v - dependence).min(nw.cap);
        total += v;
        names_differ = differ + unsure > 0;
        if explain {
            let mut names = NamesCompared::default();
            names_weight(
                &a.names,
                &b.names,
                freq,
                nw,
                &none_counted,
                Some(&mut names),
            );
            // Duplicates are a supervisor's CLI report, not on the screen: words in English.
            detail = if dependence >= 0.05 {
                Detail::Text(format!(
                    "{names}; names often written together ({:+.1})",
                    -dependence
                ))
            } else {
                Detail::Names {
                    names,
                    lineage: false,
                }
            };
        }
        ex.add("name", v, || std::mem::take(&mut detail));
    }
    if let (Some(x), Some(y)) = (a.sex, b.sex) {
        let v = if x == y { w.sex_agree } else { w.sex_disagree };
        total += v;
        ex.add("sex", v, || Detail::Sexes {
            a: sex_word(a.sex).to_owned(),
            b: sex_word(b.sex).to_owned(),
        });
    }
    if let (Some(v), Some(d)) = (age_weight(a, b, &w.age_by_years), birth_years_apart(a, b)) {
        total += v;
        ex.add("age", v, || ages_detail(a, b, false, d));
    }
    if let Some(v) = dob_weight(a, b, w) {
        total += v;
        ex.add("date_of_birth", v, || birth_dates_detail(a, b));
    }
    if let Some((v, days)) = separation_weight(a, b, &w.separation_by_days) {
        total += v;
        ex.add("date_of_separation", v, || Detail::SeparationDays { days });
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

    // Family: mother with mother, father with father, sibling with sibling.
    let mut family = 0.0;
    let mut family_text = String::new();
    let mut any_family = false;
    for relation in [Relation::Mother, Relation::Father, Relation::Sibling] {
        if let Some((v, i, j)) = relation_weight(a, b, relation, freq, nw, w) {
            any_family = true;
            family += v;
            if explain {
                let (ra, rb) = (&a.family[i], &b.family[j]);
                let mut d = NamesCompared::default();
                names_weight(&ra.names, &rb.names, freq, nw, &none_counted, Some(&mut d));
                if !family_text.is_empty() {
                    family_text.push_str("; ");
                }
                let _ = write!(family_text, "{}: {} ({:+.1})", relation.word(), d, v);
            }
        }
    }
    let listed_as_sibling = lists_as_sibling(a, b, w) || lists_as_sibling(b, a, w);
    if listed_as_sibling {
        any_family = true;
        family += w.listed_as_sibling;
        if explain {
            if !family_text.is_empty() {
                family_text.push_str("; ");
            }
            family_text.push_str("one case lists the other's child as a sibling");
        }
    }
    if any_family {
        let v = family.min(w.family_cap);
        total += v;
        ex.add("family_details_section", v, || Detail::Text(family_text));
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

    let given = match best {
        Some((.., i, j)) if total >= given_name_from => {
            given_name(&a.names[i], &b.names[j], a, b, w)
        }
        _ => GivenName::Unchecked,
    };
    if explain {
        let word = match given {
            GivenName::Agrees => Some("the given names agree"),
            GivenName::Weak => Some("the given names are only alike (a sibling?)"),
            GivenName::Unknown => Some("no given name of one meets one of the other"),
            GivenName::Unchecked => None,
        };
        if let Some(word) = word {
            ex.add("given_name", 0.0, || Detail::Text(word.to_string()));
        }
    }
    CaseComparison {
        weight: total,
        names_differ,
        given_name: given,
        listed_as_sibling,
        fields,
    }
}

//! Similarity: Jaro–Winkler on short ASCII, how two tokens agree, and how two names
//! pair their tokens whatever their order.

use super::{MAX_TOKENS, NameToken};

/// Jaro–Winkler similarity of two short ASCII strings (at most 32 bytes each; longer
/// inputs are cut), with the prefix scale 0.1 over at most 4 letters (Winkler, 1990).
/// Ours because the matcher calls it millions of times per run: its match flags live in
/// two 32-bit masks, so a comparison never allocates. A test checks it against the
/// `strsim` crate (a dev-dependency only) on arbitrary inputs.
pub fn jaro_winkler(a: &[u8], b: &[u8]) -> f32 {
    let a = &a[..a.len().min(32)];
    let b = &b[..b.len().min(32)];
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_flags = 0u32;
    let mut b_flags = 0u32;
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(b.len());
        for (j, &cb) in b.iter().enumerate().take(hi).skip(lo) {
            if b_flags & (1 << j) == 0 && cb == ca {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        if a_flags & (1 << i) == 0 {
            continue;
        }
        while b_flags & (1 << j) == 0 {
            j += 1;
        }
        if ca != b[j] {
            transpositions += 1;
        }
        j += 1;
    }
    let m = matches as f32;
    let t = (transpositions / 2) as f32;
    let jaro = (m / a.len() as f32 + m / b.len() as f32 + (m - t) / m) / 3.0;
    if jaro > 0.7 {
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f32;
        jaro + 0.1 * prefix * (1.0 - jaro)
    } else {
        jaro
    }
}

/// How two tokens agree, from strongest to weakest: the explanation's own vocabulary (stored in
/// potential matches and worded on the screen), so the matcher's agreement is what it explains.
pub use fieldkit_domain::explain::NameAgreement as TokenAgreement;

/// Similarity in [0, 1] of two tokens and the kind of agreement.
pub fn token_similarity(a: &NameToken, b: &NameToken) -> (f32, TokenAgreement) {
    if a.latin == b.latin {
        return (1.0, TokenAgreement::Same);
    }
    let both_known = a.known != 0 && b.known != 0;
    if (a.nickname_of != 0 && a.nickname_of == b.known)
        || (b.nickname_of != 0 && b.nickname_of == a.known)
    {
        return (0.9, TokenAgreement::Nickname);
    }
    let jw = jaro_winkler(a.latin.as_bytes(), b.latin.as_bytes());
    if both_known {
        // Two different known names (Muhammad, Mahmud) share a skeleton but are not
        // one name: only their spelling closeness counts, capped below a match.
        let s = (jw * 0.9).min(0.8);
        return (s, TokenAgreement::Different);
    }
    // The same consonants count only when the spellings are not far apart: short
    // skeletons collide (Shevchenko and Chance both read "Snk").
    let enough = if a.skeleton.len() >= 3 { 0.65 } else { 0.8 };
    if a.skeleton.len() >= 2 && a.skeleton == b.skeleton && jw >= enough {
        return (0.92_f32.max(jw.min(0.95)), TokenAgreement::SameConsonants);
    }
    let sounds = a.phonetic[0] != 0
        && jw >= 0.72
        && (a.phonetic[0] == b.phonetic[0]
            || a.phonetic[0] == b.phonetic[1]
            || a.phonetic[1] == b.phonetic[0]);
    let skel_jw = if a.skeleton.len() >= 4 && b.skeleton.len() >= 4 {
        jaro_winkler(a.skeleton.as_bytes(), b.skeleton.as_bytes()) * 0.9
    } else {
        0.0
    };
    let mut spell = jw.max(skel_jw).min(0.95);
    // Winkler's point, made firmer: names that start differently are rarely one name
    // (Savchenko, Tkachenko).
    if a.latin.as_bytes().first() != b.latin.as_bytes().first() {
        spell *= 0.95;
    }
    if sounds && spell < 0.88 {
        return (0.88, TokenAgreement::SoundsAlike);
    }
    if spell >= PAIR_FLOOR {
        (spell, TokenAgreement::CloseSpelling)
    } else {
        (spell, TokenAgreement::Different)
    }
}

/// One pair of tokens paired by [`compare_names`].
#[derive(Clone, Copy, Debug)]
pub struct TokenPair {
    /// Index in the first name.
    pub a: u8,
    /// Index in the second name.
    pub b: u8,
    /// Similarity in [0, 1].
    pub similarity: f32,
    /// Kind of agreement.
    pub agreement: TokenAgreement,
}

/// The pairing of two names' tokens.
#[derive(Clone, Debug, Default)]
pub struct NameAgreement {
    /// Pairs that agree (similarity at least [`PAIR_FLOOR`]), strongest first.
    pub pairs: Vec<TokenPair>,
    /// Tokens of the first name left without a partner.
    pub unpaired_a: usize,
    /// Tokens of the second name left without a partner.
    pub unpaired_b: usize,
    /// Pairs of leftover tokens close enough to be unsure about.
    pub unsure: usize,
}

impl NameAgreement {
    /// Names that differ: tokens on both sides left without any partner (two given
    /// names that are not the same name, as between siblings).
    pub fn disagreements(&self) -> usize {
        (self.unpaired_a - self.unsure).min(self.unpaired_b - self.unsure)
    }

    /// Pairs written in crossed order, after allowing either name to have moved its
    /// last token to the front (family name first). In a patronymic chain, "Mazen
    /// Tamer" and "Tamer Mazen" are a father and his son.
    pub fn crossings(&self, len_a: usize, len_b: usize) -> usize {
        let rotate = |i: u8, len: usize, on: bool| -> i32 {
            if on && usize::from(i) + 1 == len {
                -1
            } else {
                i32::from(i)
            }
        };
        let mut best = usize::MAX;
        for (ra, rb) in [(false, false), (true, false), (false, true)] {
            let mut seq: Vec<(i32, i32)> = self
                .pairs
                .iter()
                .map(|p| (rotate(p.a, len_a, ra), rotate(p.b, len_b, rb)))
                .collect();
            seq.sort_unstable();
            let mut inversions = 0;
            for i in 0..seq.len() {
                for j in i + 1..seq.len() {
                    if seq[j].1 < seq[i].1 {
                        inversions += 1;
                    }
                }
            }
            best = best.min(inversions);
        }
        if best == usize::MAX { 0 } else { best }
    }
}

/// Below this similarity two tokens are not paired.
pub const PAIR_FLOOR: f32 = 0.84;
/// Tokens left unpaired but at least this close are "unsure" (a bad typing slip, an
/// unknown short form): they neither agree nor count as different names.
pub const UNSURE_FLOOR: f32 = 0.78;

/// Pairs the tokens of two names regardless of order (greedy on the similarity
/// matrix, each token used once) and reports which agree and how.
pub fn compare_names(a: &[NameToken], b: &[NameToken]) -> NameAgreement {
    let a = &a[..a.len().min(MAX_TOKENS)];
    let b = &b[..b.len().min(MAX_TOKENS)];
    let mut sims = [[(0.0f32, TokenAgreement::Different); MAX_TOKENS]; MAX_TOKENS];
    for (i, ta) in a.iter().enumerate() {
        for (j, tb) in b.iter().enumerate() {
            sims[i][j] = token_similarity(ta, tb);
        }
    }
    let mut used_a = [false; MAX_TOKENS];
    let mut used_b = [false; MAX_TOKENS];
    let mut pairs = Vec::new();
    loop {
        let mut best: Option<(usize, usize, f32)> = None;
        for (i, row) in sims.iter().enumerate().take(a.len()) {
            if used_a[i] {
                continue;
            }
            for (j, &(s, _)) in row.iter().enumerate().take(b.len()) {
                if used_b[j] || s < PAIR_FLOOR {
                    continue;
                }
                if best.is_none_or(|(_, _, bs)| s > bs) {
                    best = Some((i, j, s));
                }
            }
        }
        let Some((i, j, s)) = best else { break };
        used_a[i] = true;
        used_b[j] = true;
        pairs.push(TokenPair {
            a: i as u8,
            b: j as u8,
            similarity: s,
            agreement: sims[i][j].1,
        });
    }
    // Second pass: leftovers that are close enough to be unsure.
    let mut unsure = 0;
    for (i, row) in sims.iter().enumerate().take(a.len()) {
        if used_a[i] {
            continue;
        }
        if let Some(j) = (0..b.len()).find(|&j| !used_b[j] && row[j].0 >= UNSURE_FLOOR) {
            used_b[j] = true;
            unsure += 1;
        }
    }
    NameAgreement {
        unpaired_a: a.len() - pairs.len(),
        unpaired_b: b.len() - pairs.len(),
        unsure,
        pairs,
    }
}

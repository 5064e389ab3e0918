//! Spelling: known names folded to one canonical form (the variant tables), the Abd-
//! prefix joined, vowels and doubled letters evened out, consonant skeletons and Double
//! Metaphone codes, and [`name_key`], which turns a written name into tokens.

use std::collections::HashMap;
use std::sync::LazyLock;

use rphonetic::DoubleMetaphone;

use super::fold::{fold_text, is_arabic_word, latin_letters, split_words, transliterate_arabic};
use super::{InlineAscii, MAX_TOKENS, NameToken, variants};

struct Tables {
    /// Folded spelling (Latin or Arabic script) → group index.
    spellings: HashMap<String, u16>,
    /// Folded short form → group index of the full name.
    nicknames: HashMap<String, u16>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut spellings = HashMap::new();
    for (i, group) in variants::NAME_GROUPS.iter().enumerate() {
        let id = i as u16;
        for spelling in *group {
            let folded = fold_text(spelling);
            if is_arabic_word(&folded) {
                spellings.entry(folded).or_insert(id);
            } else {
                let latin = latin_letters(&folded);
                let latin = normalise_abd(&somali_fold(&latin));
                spellings.entry(spelling_normalise(&latin)).or_insert(id);
                spellings.entry(latin).or_insert(id);
            }
        }
    }
    let mut nicknames = HashMap::new();
    for (short, full) in variants::NICKNAMES {
        if let Some(&id) = spellings.get(*full) {
            let short = somali_fold(short);
            nicknames.insert(spelling_normalise(&short), id);
            nicknames.insert(short, id);
        }
    }
    Tables {
        spellings,
        nicknames,
    }
});

/// The canonical Latin form of a known name group.
pub(super) fn canonical(group: u16) -> &'static str {
    variants::NAME_GROUPS
        .get(usize::from(group))
        .and_then(|g| g.first())
        .copied()
        .unwrap_or("")
}

/// Somali Latin orthography read as the letters other spellings of the same names use:
/// `x` writes ḥ (ح), so it is `h` (Xasan, Hassan); `c` writes ʿayn (ع), which other Latin
/// spellings leave out, so it goes where it can only be ʿayn: at the start of a word
/// before a vowel (Cali, Ali; Cabdi, Abdi; Cilmi, Ilmi; Cismaan, Ismaan) and between two
/// vowels of which one is long, written doubled (Sucaad, Suad; Saciid, Said; Ismaaciil,
/// Ismail). Takes lowercase ASCII letters.
///
/// Where it does not fold, and why: a `c` between two short vowels is a European `c` far
/// more often than an ʿayn (Alicia, Monica, Lucas would become Alia, Monia, Luas, the
/// first two other people's names); a final `c` likewise (Jaamac is Jama, but Isaac is
/// not Isa). `ch` is a digraph everywhere (Chol, Machar). What the start-of-word rule
/// costs: a European name written with `C` for /k/ or /s/ (Carlos, Cedric) loses its first
/// letter, so it meets its `K` spelling (Karlos) by spelling closeness rather than by
/// the same consonants; its Double Metaphone codes are taken from the letters as
/// written, so they still sound alike (see [`name_key`]).
pub fn somali_fold(latin: &str) -> String {
    if !latin.is_ascii() {
        return latin.to_string();
    }
    let b = latin.as_bytes();
    let long = |i: usize, j: usize| -> bool {
        // the vowel at `i` is doubled, reading towards `j` (the neighbour beyond it)
        b.get(i).is_some_and(|&v| is_vowel(v)) && b.get(j) == b.get(i)
    };
    let mut out = String::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'x' => out.push('h'),
            b'c' if b.get(i + 1).is_some_and(|&n| is_vowel(n)) => {
                let initial = i == 0;
                let between_long = i > 0
                    && is_vowel(b[i - 1])
                    && (long(i + 1, i + 2) || (i >= 2 && long(i - 1, i - 2)));
                if !(initial || between_long) {
                    out.push('c');
                }
            }
            _ => out.push(char::from(c)),
        }
    }
    out
}

/// Joins the Abd- prefix the way every spelling means it: Abdul/Abdel/Abdur/Abdi +
/// name, with or without the assimilated article, all become `abdal` + name. (Somali
/// Cabdi- reaches here as abdi-: [`somali_fold`] runs first.)
fn normalise_abd(latin: &str) -> String {
    let Some(rest) = latin.strip_prefix("abd") else {
        return latin.to_string();
    };
    let b = rest.as_bytes();
    let mut i = 0;
    // optional linking vowel(s): u, e, a, o, i, ou
    while i < b.len() && i < 2 && matches!(b[i], b'a' | b'e' | b'i' | b'o' | b'u') {
        i += 1;
    }
    let had_vowel = i > 0;
    let tail = &rest[i..];
    let tb = tail.as_bytes();
    let body = if let Some(t) = tail.strip_prefix('l') {
        t
    } else if tb.len() >= 3 && tb[0] == tb[1] && !is_vowel(tb[0]) {
        &tail[1..]
    } else if had_vowel && tb.len() >= 3 {
        tail
    } else {
        return latin.to_string();
    };
    if body.len() < 2 {
        return latin.to_string();
    }
    format!("abdal{body}")
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Spelling normalisation of an unknown Latin name: the choices transliterators make
/// differently (ph/f, q/k, ou/oo/u, ee/i, dj/j, final -ah/-a, final -y/-i, doubled
/// letters) are made one way.
pub fn spelling_normalise(latin: &str) -> String {
    let b = latin.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let (emit, step): (&[u8], usize) = match (c, next) {
            (b'p', Some(b'h')) => (b"f", 2),
            (b'd', Some(b'j')) => (b"j", 2),
            (b'c', Some(b'k')) => (b"k", 2),
            (b'o', Some(b'u')) | (b'o', Some(b'o')) | (b'u', Some(b'u')) => (b"u", 2),
            (b'e', Some(b'e')) | (b'i', Some(b'i')) => (b"i", 2),
            (b'a', Some(b'a')) => (b"a", 2),
            (b'q', _) => (b"k", 1),
            _ => (&b[i..i + 1], 1),
        };
        for &e in emit {
            if out.last() != Some(&e) {
                out.push(e);
            }
        }
        i += step;
    }
    // endings
    let n = out.len();
    if n > 3 && out[n - 1] == b'h' && matches!(out[n - 2], b'a' | b'e') {
        out.pop();
    }
    let n = out.len();
    if n > 3 && out[n - 1] == b'y' && !is_vowel(out[n - 2]) {
        out[n - 1] = b'i';
    }
    let n = out.len();
    if n > 3 && out[n - 1] == b'y' && out[n - 2] == b'i' {
        out.pop();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Consonant skeleton: digraphs to one symbol (kh→h, sh/ch→S, th→t, dh→d, gh→g,
/// zh→j), c→k, Somali x (ħ) → h, vowels dropped, w, v and y dropped inside a word
/// (Arabic script writes long vowels with them), repeats collapsed.
pub fn skeleton(latin: &str) -> String {
    let b = latin.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let (sym, step) = match (c, next) {
            (b'k', Some(b'h')) => (Some(b'h'), 2),
            (b's', Some(b'h')) | (b'c', Some(b'h')) => (Some(b'S'), 2),
            (b't', Some(b'h')) => (Some(b't'), 2),
            (b'd', Some(b'h')) => (Some(b'd'), 2),
            (b'g', Some(b'h')) => (Some(b'g'), 2),
            (b'z', Some(b'h')) => (Some(b'j'), 2),
            (b'c', _) | (b'q', _) => (Some(b'k'), 1),
            (b'x', _) => (Some(b'h'), 1),
            // Arabic script writes long vowels with و and ي; Dari reads و as v.
            (b'w', _) | (b'y', _) | (b'v', _) if i > 0 => (None, 1),
            (v, _) if is_vowel(v) => (None, 1),
            (b'h', None) if i > 0 && is_vowel(b[i - 1]) => (None, 1),
            (other, _) => (Some(other), 1),
        };
        if let Some(s) = sym
            && out.last() != Some(&s)
        {
            out.push(s);
        }
        i += step;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn pack_code(code: &str) -> u32 {
    let mut v = 0u32;
    for (i, b) in code.bytes().take(4).enumerate() {
        v |= u32::from(b) << (8 * i);
    }
    v
}

fn phonetic_codes(latin: &str) -> [u32; 2] {
    if latin.is_empty() {
        return [0, 0];
    }
    // rphonetic slices by byte offsets; the input here is always ASCII letters.
    let result = DoubleMetaphone::default().double_metaphone(latin);
    [pack_code(&result.primary()), pack_code(&result.alternate())]
}

/// A token of `latin` (its phonetic codes taken from `sounded`).
fn make_token(latin: &str, sounded: &str, known: u16, nickname_of: u16) -> NameToken {
    NameToken {
        latin: InlineAscii::from_bytes(latin.as_bytes()),
        skeleton: InlineAscii::from_bytes(skeleton(latin).as_bytes()),
        phonetic: phonetic_codes(sounded),
        known,
        nickname_of,
    }
}

fn known_token(group: u16) -> NameToken {
    let latin = canonical(group);
    make_token(latin, latin, group + 1, 0)
}

/// Normalises one word (already folded and split) to a token.
fn word_token(word: &str) -> Option<NameToken> {
    let tables = &*TABLES;
    if is_arabic_word(word) {
        if let Some(&g) = tables.spellings.get(word) {
            return Some(known_token(g));
        }
        let latin = transliterate_arabic(word);
        return latin_token(&latin);
    }
    latin_token(&latin_letters(word))
}

/// A token of a word's Latin letters. Spelling, skeleton and the tables read the letters
/// after [`somali_fold`]; the Double Metaphone codes read them as written (spelling evened
/// out, not folded), because its rules are English and European ones: folded, Maxim (a
/// European x) would no longer sound like Maksym, while a Somali name's c and x mean
/// nothing to it either way.
fn latin_token(letters: &str) -> Option<NameToken> {
    if letters.is_empty() {
        return None;
    }
    let tables = &*TABLES;
    let latin = normalise_abd(&somali_fold(letters));
    if let Some(&g) = tables.spellings.get(&latin) {
        return Some(known_token(g));
    }
    let spelled = spelling_normalise(&latin);
    if let Some(&g) = tables.spellings.get(&spelled) {
        return Some(known_token(g));
    }
    let nickname_of = tables
        .nicknames
        .get(&latin)
        .or_else(|| tables.nicknames.get(&spelled))
        .map_or(0, |g| g + 1);
    if spelled.is_empty() {
        return None;
    }
    let sounded = spelling_normalise(&normalise_abd(letters));
    Some(make_token(&spelled, &sounded, 0, nickname_of))
}

fn is_particle(word: &str) -> bool {
    variants::PARTICLES.contains(&word)
}

fn is_compound_head(word: &str) -> bool {
    variants::COMPOUND_HEADS.contains(&word)
}

/// Strips the Arabic article from the start of a word ("الحسن" → "حسن").
fn strip_arabic_article(word: &str) -> &str {
    match word.strip_prefix("\u{0627}\u{0644}") {
        Some(rest) if rest.chars().count() >= 2 => rest,
        _ => word,
    }
}

/// Normalises a written name into tokens, in written order, particles dropped and
/// compounds ("Abd al-Rahman", "Abu Bakr") joined. At most [`MAX_TOKENS`].
pub fn name_key(raw: &str) -> Vec<NameToken> {
    let folded = fold_text(raw);
    let words = split_words(&folded);
    let mut tokens = Vec::with_capacity(words.len().min(MAX_TOKENS));
    let mut i = 0;
    while i < words.len() && tokens.len() < MAX_TOKENS {
        let word = words[i].as_str();
        i += 1;
        if is_particle(word) && words.len() > 1 {
            continue;
        }
        let joined = if is_compound_head(word) && i < words.len() {
            let mut next = words[i].as_str();
            let mut consumed = 1;
            // "Abd al Rahman": the article between head and name goes.
            if is_particle(next) && i + 1 < words.len() {
                next = words[i + 1].as_str();
                consumed = 2;
            }
            let arabic = is_arabic_word(word);
            if arabic != is_arabic_word(next) {
                None
            } else {
                i += consumed;
                Some(if arabic {
                    format!("{word}{next}")
                } else if word.starts_with("abd") {
                    format!("abdal{next}")
                } else {
                    format!("abu{next}")
                })
            }
        } else {
            None
        };
        let current = joined.as_deref().unwrap_or(word);
        let current = if is_arabic_word(current) {
            strip_arabic_article(current)
        } else {
            current
        };
        if let Some(t) = word_token(current) {
            tokens.push(t);
        }
    }
    tokens
}

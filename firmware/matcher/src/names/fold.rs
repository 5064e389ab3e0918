//! Folding: the Unicode clean-up every script gets, splitting into words, Arabic script
//! to Latin letters by our rules and any other script through `any_ascii`.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Unicode clean-up shared by every script: compatibility decomposition, combining
/// marks removed (Latin diacritics, Arabic harakat and hamza carriers, madda),
/// tatweel removed, Arabic letter variants folded, lowercase.
///
/// Arabic folding is ours because Unicode normalisation leaves these letters apart:
/// alef wasla → alef, alef maksura → yeh, teh marbuta → heh, Persian keheh/yeh →
/// Arabic kaf/yeh, heh goal/doachashmee → heh.
pub fn fold_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            '\u{0640}' | '\u{200C}' | '\u{200D}' => continue, // tatweel, zero-width (non-)joiners
            '\u{0671}' | '\u{0672}' | '\u{0673}' => '\u{0627}', // alef variants
            '\u{0649}' | '\u{06CC}' | '\u{06D0}' => '\u{064A}', // alef maksura, farsi yeh
            '\u{0629}' | '\u{06C0}' | '\u{06C1}' | '\u{06BE}' | '\u{06D5}' => '\u{0647}', // teh marbuta, heh forms
            '\u{06A9}' | '\u{06AA}' => '\u{0643}',                                        // keheh
            '\u{0660}'..='\u{0669}' | '\u{06F0}'..='\u{06F9}' => ' ', // digits split
            _ => c,
        };
        out.extend(c.to_lowercase());
    }
    out
}

fn is_arabic_char(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}')
}

pub(super) fn is_arabic_word(word: &str) -> bool {
    word.chars().any(is_arabic_char)
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '`' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{02BB}' | '\u{02BF}' | '\u{02BE}'
    )
}

/// Splits folded text into words: letters join, apostrophes vanish ("Ma'moun"), all
/// else separates (spaces, hyphens, dots, digits).
pub(super) fn split_words(folded: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in folded.chars() {
        if c.is_alphabetic() {
            // A change of script inside a word ("Aliعلي") is two words.
            if let Some(last) = current.chars().last()
                && is_arabic_char(last) != is_arabic_char(c)
            {
                words.push(std::mem::take(&mut current));
            }
            current.push(c);
        } else if is_apostrophe(c) {
            continue;
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Arabic, Persian, Pashto and Urdu letters to Latin, written for names: long vowels
/// become vowels (و → u, ي → i inside a word; w, y at its start), ain and hamza
/// vanish except a leading ain (read as a vowel, "Abd"), a final heh is the feminine
/// ending -a.
///
/// Ours because per-character romanisers (any_ascii gives "`bd lrhmn") cannot know
/// position, and the skeleton needs ain and hamza dropped the same way Latin
/// spellings drop them.
pub(super) fn transliterate_arabic(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(chars.len() * 2);
    for (i, &c) in chars.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == chars.len();
        let s: &str = match c {
            '\u{0627}' | '\u{0622}' | '\u{0623}' | '\u{0625}' => "a",
            '\u{0628}' => "b",
            '\u{062A}' | '\u{0637}' | '\u{067C}' | '\u{0679}' => "t",
            '\u{062B}' => "th",
            '\u{062C}' => "j",
            '\u{0647}' if last && chars.len() > 2 => "a",
            '\u{062D}' | '\u{0647}' => "h",
            '\u{062E}' => "kh",
            '\u{062F}' | '\u{0636}' | '\u{0688}' | '\u{0689}' => "d",
            '\u{0630}' => "dh",
            '\u{0631}' | '\u{0691}' | '\u{0693}' => "r",
            '\u{0632}' | '\u{0638}' => "z",
            '\u{0633}' | '\u{0635}' => "s",
            '\u{0634}' | '\u{069A}' => "sh",
            '\u{0639}' if first => "a",
            '\u{0639}' | '\u{0621}' | '\u{0624}' | '\u{0626}' => "",
            '\u{063A}' => "gh",
            '\u{0641}' => "f",
            '\u{0642}' => "q",
            '\u{0643}' => "k",
            '\u{06AF}' => "g",
            '\u{0644}' => "l",
            '\u{0645}' => "m",
            '\u{0646}' | '\u{06BA}' | '\u{06BC}' => "n",
            '\u{0648}' if first => "w",
            '\u{0648}' => "u",
            '\u{064A}' if first => "y",
            '\u{064A}' => "i",
            '\u{06D2}' => "e",
            '\u{067E}' => "p",
            '\u{0686}' => "ch",
            '\u{0698}' | '\u{0696}' => "zh",
            '\u{0681}' | '\u{0685}' => "dz",
            _ => "",
        };
        // Two letters must not read as one Latin digraph (س + ح is "sah", not "sh").
        if s.starts_with('h') && out.ends_with(['s', 'k', 't', 'd', 'g', 'z', 'c']) {
            out.push('a');
        }
        out.push_str(s);
    }
    out
}

/// Any other script to lowercase ASCII letters (any_ascii does Cyrillic, Greek,
/// Latin with diacritics and the rest well enough for names).
pub(super) fn latin_letters(word: &str) -> String {
    let ascii = if word.is_ascii() {
        word.to_string()
    } else {
        any_ascii::any_ascii(word)
    };
    ascii
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

//! What a typed PIN or passphrase becomes before it is checked or stretched, and which PINs are
//! refused outright.
//!
//! The kiosk's keyboards type Arabic-Indic (٠١٢٣٤٥٦٧٨٩) or Persian (۰۱۲۳۴۵۶۷۸۹) digits as
//! readily as ASCII ones, and a caseworker who set `١٢٣٤٥٦` must be able to sign in with
//! `123456`: so a credential is NFKC-normalised (full-width digits and compatibility forms
//! fold), the two Arabic digit ranges map to ASCII, and surrounding spaces and invisible
//! direction marks are trimmed. Every path that takes a credential (create, sign-in, adding a
//! caseworker, changing a PIN) goes through [`normalise`], so the same keys give the same bytes.
//!
//! Common PINs fall to the first guesses of anyone at the screen: [`common_pin`] names why a PIN
//! is refused (one digit repeated, a run up or down, a short pattern repeated, or one of the
//! PINs most often chosen in published analyses of leaked PIN sets).

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};

/// The shortest PIN any policy may set: below six digits the on-kit lockout is all that
/// stands between a thief at the screen and the records.
pub const MIN_LENGTH_FLOOR: usize = 6;

/// Marks that keyboards and copy-paste leave around right-to-left text; never part of a PIN.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{FEFF}'
    ) || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Arabic-Indic (U+0660–U+0669) and Extended Arabic-Indic, i.e. Persian and Urdu (U+06F0–U+06F9),
/// digits to ASCII; every other character unchanged.
fn ascii_digit(c: char) -> char {
    let base = match c {
        '\u{0660}'..='\u{0669}' => 0x0660,
        '\u{06F0}'..='\u{06F9}' => 0x06F0,
        _ => return c,
    };
    // The offset is 0..=9 by the match above.
    char::from(b'0' + (u32::from(c) - base) as u8)
}

/// The credential as it is checked and stretched: NFKC, Arabic-Indic and Persian digits as
/// ASCII, without surrounding white space or invisible direction marks. Refuses bytes that are
/// not UTF-8.
pub fn normalise(credential: &[u8]) -> Result<Zeroizing<String>> {
    let text = std::str::from_utf8(credential)
        .map_err(|_| VaultError::WeakCredential("not valid UTF-8".into()))?;
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
    // Reserve ahead so the secret is never copied by a reallocation; NFKC rarely grows text
    // beyond three times its length.
    let mut out = Zeroizing::new(String::with_capacity(trimmed.len() * 3 + 8));
    for c in trimmed.nfkc() {
        out.push(ascii_digit(c));
    }
    // NFKC can turn a compatibility space (U+3000, U+00A0) into a plain one at either end.
    let inner = out.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
    if inner.len() != out.len() {
        let kept = Zeroizing::new(inner.to_string());
        return Ok(kept);
    }
    Ok(out)
}

/// Six-digit and four-digit PINs most often chosen, after the patterns [`common_pin`] catches by
/// rule (repeats, runs, short repeated patterns): keypad shapes, mirrors and pairs.
const COMMON: &[&str] = &[
    "112233", "123321", "159753", "159357", "147258", "147852", "258369", "369258", "789456",
    "456123", "741852", "963852", "852456", "102030", "100000", "200000", "111222", "121314",
    "123654", "147369", "321654", "998877", "520520", "123789", "987123", "1122", "1004", "2000",
    "2001", "6969", "1313", "4321", "1010", "2580", "1470", "0852", "1379", "1998", "1999", "2020",
];

/// Why `pin` (already [`normalise`]d) is too common to accept, or `None`. Only PINs made of
/// digits are judged; a passphrase is judged by its length.
pub fn common_pin(pin: &str) -> Option<&'static str> {
    let digits: Vec<u8> = pin.bytes().collect();
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.iter().all(|&d| d == digits[0]) {
        return Some("one digit repeated");
    }
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    if steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == -1) {
        return Some("a run of consecutive digits");
    }
    let n = digits.len();
    if (2..=n / 2).any(|p| n.is_multiple_of(p) && digits.chunks(p).all(|c| c == &digits[..p])) {
        return Some("a short pattern repeated");
    }
    if COMMON.contains(&pin) {
        return Some("one of the most common PINs");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> String {
        normalise(s.as_bytes()).unwrap().to_string()
    }

    #[test]
    fn arabic_indic_and_persian_digits_become_ascii() {
        assert_eq!(norm("١٢٣٤٥٦"), "123456");
        assert_eq!(norm("۱۲۳۴۵۶"), "123456");
        assert_eq!(norm("٤٨٢۹١٥"), "482915");
        // Full-width digits fold through NFKC.
        assert_eq!(norm("４８２９１５"), "482915");
    }

    #[test]
    fn surrounding_spaces_and_direction_marks_are_trimmed() {
        assert_eq!(norm("  482915 "), "482915");
        assert_eq!(norm("\u{200F}٤٨٢٩١٥\u{200E}"), "482915");
        assert_eq!(norm("\u{3000}482915\u{00A0}"), "482915");
        assert_eq!(norm("\t482915\r\n"), "482915");
        // Spaces inside a passphrase are part of it.
        assert_eq!(norm(" river stone 9 "), "river stone 9");
    }

    #[test]
    fn letters_are_normalised_but_kept() {
        // NFKC composes; the ligature unfolds.
        assert_eq!(norm("cafe\u{301}"), "café");
        assert_eq!(norm("ﬁeld"), "field");
        assert_eq!(norm("سلام٢٠٢٤"), "سلام2024");
    }

    #[test]
    fn bytes_that_are_not_text_are_refused() {
        assert!(matches!(
            normalise(&[0xff, 0x31]),
            Err(VaultError::WeakCredential(_))
        ));
    }

    #[test]
    fn common_pins_are_named() {
        for pin in [
            "000000", "111111", "123456", "654321", "234567", "121212", "123123", "112233",
            "159753", "1234", "0000", "1212", "12341234",
        ] {
            assert!(common_pin(pin).is_some(), "{pin} should be refused");
        }
        for pin in ["482915", "730164", "5829", "90417263", "river stone 9"] {
            assert_eq!(common_pin(pin), None, "{pin} should pass");
        }
        // Judged after normalisation: the Arabic-Indic spelling of 123456 is as weak.
        assert!(common_pin(&norm("١٢٣٤٥٦")).is_some());
    }

    proptest! {
        #[test]
        fn normalising_never_panics_and_is_idempotent(s in "\\PC{0,24}") {
            if let Ok(once) = normalise(s.as_bytes()) {
                let twice = normalise(once.as_bytes()).unwrap();
                prop_assert_eq!(once.as_str(), twice.as_str());
                let _ = common_pin(&once);
            }
        }

        #[test]
        fn any_arabic_indic_pin_equals_its_ascii_twin(d in proptest::collection::vec(0u32..10, 4..12)) {
            let ascii: String = d.iter().map(|&x| char::from(b'0' + x as u8)).collect();
            let arabic: String = d.iter().filter_map(|&x| char::from_u32(0x0660 + x)).collect();
            let persian: String = d.iter().filter_map(|&x| char::from_u32(0x06F0 + x)).collect();
            prop_assert_eq!(norm(&arabic), ascii.clone());
            prop_assert_eq!(norm(&persian), ascii);
        }
    }
}

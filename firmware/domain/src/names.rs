//! The simplest name tokens: lower-cased words of letters and digits.
//!
//! This is the fallback a vault indexes with when no better normaliser is supplied; the matcher
//! crate provides the cross-script one (transliteration, variant folding, phonetic keys) that the
//! kiosk uses.

/// Lower-cased alphanumeric words of `name`, in order, without repeats.
pub fn basic_tokens(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = word.to_lowercase();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_and_lowercases() {
        assert_eq!(
            super::basic_tokens("  Amina  YUSUF-amina "),
            ["amina", "yusuf"]
        );
        assert!(super::basic_tokens("--").is_empty());
    }
}

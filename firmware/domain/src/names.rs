//! The simplest name tokens: lower-cased words of letters and digits.
//!
//! This is the fallback a vault indexes with when no better normaliser is supplied; the matcher
//! crate provides the cross-script one (transliteration, variant folding, phonetic keys) that the
//! kiosk uses.

/// Which written name of a person a field holds. This is the one definition of "a record's
/// names": the records' `names()`, the vault's blind index and the matcher's profiles all read
/// these fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// The name (`name`, or a relative's `relation_name`).
    Name,
    /// Another name the child is known by (`name_other`).
    Other,
    /// A nickname (`name_nickname`, or a relative's `relation_nickname`).
    Nickname,
}

impl NameKind {
    /// A child's names (a case's or a trace's), in Primero's fields.
    pub const CHILD: [(NameKind, &'static str); 3] = [
        (NameKind::Name, "name"),
        (NameKind::Other, "name_other"),
        (NameKind::Nickname, "name_nickname"),
    ];
    /// A relative's names (a family member's, or a tracing request's inquirer).
    pub const RELATIVE: [(NameKind, &'static str); 2] = [
        (NameKind::Name, "relation_name"),
        (NameKind::Nickname, "relation_nickname"),
    ];

    /// Primero's field for a child's name of this kind.
    pub fn field(self) -> &'static str {
        match self {
            NameKind::Name => "name",
            NameKind::Other => "name_other",
            NameKind::Nickname => "name_nickname",
        }
    }
}

/// The names given, with their kinds, leaving out the absent and the blank.
pub fn written<'a>(
    names: impl IntoIterator<Item = (NameKind, Option<&'a String>)>,
) -> impl Iterator<Item = (NameKind, &'a str)> {
    names
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v.as_str())))
        .filter(|(_, v)| !v.trim().is_empty())
}

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

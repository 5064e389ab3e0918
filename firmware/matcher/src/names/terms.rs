//! Terms: what the vault's blind index stores and searches for a name.

use super::NameToken;
use super::spelling::{canonical, name_key};

/// The version of the terms [`index_terms`] and [`query_terms`] give, as a blind index's
/// indexer id: raised by every change of the normaliser that changes a term, so a vault
/// indexed with the terms before rebuilds its index at the next sign-in (the vault does so
/// when its indexer's id changes) and still finds every record.
///
/// 2: Somali orthography folded ([`super::somali_fold`]: `x` is `h`, a `c` that writes
/// ʿayn is dropped), so "Cilmi" is indexed as "ilmi".
pub const TERMS_VERSION: &str = "fieldkit-match-names-2";

fn code_text(code: u32) -> String {
    code.to_le_bytes()
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| char::from(b))
        .collect()
}

fn token_terms(t: &NameToken) -> Vec<String> {
    let mut terms = vec![format!("n:{}", t.text())];
    if t.nickname_of != 0 {
        terms.push(format!("n:{}", canonical(t.nickname_of - 1)));
    }
    if t.skeleton.len() >= 2 {
        terms.push(format!("s:{}", t.skeleton.as_str()));
    }
    if t.phonetic[0] != 0 {
        terms.push(format!("p:{}", code_text(t.phonetic[0])));
    }
    terms
}

/// Search terms for the vault's blind index: for each token its folded spelling
/// (`n:`), consonant skeleton (`s:`) and Double Metaphone code (`p:`), deduplicated.
/// The vault HMACs these, so a search for "Mohammed" finds "محمد" and "Muhammad".
///
/// ```
/// let a = fieldkit_match::names::index_terms("Muhammad");
/// let b = fieldkit_match::names::index_terms("محمد");
/// assert!(a.contains(&"n:muhammad".to_string()));
/// assert_eq!(a, b);
/// ```
pub fn index_terms(name: &str) -> Vec<String> {
    let mut terms: Vec<String> = name_key(name).iter().flat_map(token_terms).collect();
    terms.sort();
    terms.dedup();
    terms
}

/// Query form of [`index_terms`]: one group per token of the searched name; a record
/// answers the token when it holds any term of the group. A strict search wants every
/// group answered; a ranked one counts the groups answered.
///
/// ```
/// let q = fieldkit_match::names::query_terms("Mohammed Ali");
/// assert_eq!(q.len(), 2);
/// let indexed = fieldkit_match::names::index_terms("علي محمد");
/// assert!(q.iter().all(|group| group.iter().any(|t| indexed.contains(t))));
/// ```
pub fn query_terms(name: &str) -> Vec<Vec<String>> {
    name_key(name).iter().map(token_terms).collect()
}

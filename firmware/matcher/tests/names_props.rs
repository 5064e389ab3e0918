//! Name normalisation never panics and stays within its bounds, whatever Unicode it is fed.

use fieldkit_match::names::{MAX_TOKENS, compare_names, index_terms, name_key, query_terms};
use proptest::prelude::*;

/// Strings mixing the scripts names arrive in, plus anything at all.
fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\u{0600}-\\u{06FF}\\u{200C} ]{0,40}",
        "[\\u{0400}-\\u{04FF} -]{0,40}",
        "[a-zA-Z\\u{00C0}-\\u{017F}' -]{0,40}",
        "(abd|abu|al|el|bin|عبد|ال)( [a-z\\u{0621}-\\u{064A}]{1,8}){0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        // Kept beside this file for replay (proptest's default looks for a lib.rs that a
        // tests/ folder does not have).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn normalisation_never_panics(a in names(), b in names()) {
        let ka = name_key(&a);
        let kb = name_key(&b);
        prop_assert!(ka.len() <= MAX_TOKENS);
        for t in &ka {
            prop_assert!(t.text().bytes().all(|c| c.is_ascii_lowercase()));
            prop_assert!(!t.text().is_empty());
        }
        let m = compare_names(&ka, &kb);
        prop_assert!(m.pairs.len() <= ka.len().min(kb.len()));
        for p in &m.pairs {
            prop_assert!((0.0..=1.0).contains(&p.similarity));
        }
        let _ = index_terms(&a);
        prop_assert_eq!(query_terms(&a).len(), ka.len());
    }

    #[test]
    fn a_name_always_meets_itself(a in names()) {
        let k = name_key(&a);
        let m = compare_names(&k, &k);
        prop_assert_eq!(m.pairs.len(), k.len());
    }
}

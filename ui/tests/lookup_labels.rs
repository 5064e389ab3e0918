//! Every lookup value the screen can show (each value of every list the kit ships, the
//! caseworkers' roles) has its own text in `Labels.value`, in every bundled language: records
//! keep Primero's ids (`unaccompanied`), and an id without a text would be shown as the id
//! itself, in English, on an Arabic screen. Together with `translations.rs` (every `@tr` text
//! has a translation in every catalogue) this covers every language; the scripts that share no
//! letter with English are also checked here for a Latin word left in.
//!
//! `behaviour.rs` (`no_lookup_value_is_shown_untranslated_in_arabic`) walks the real pages.

mod common;

use fieldkit_domain::lookups::Lookups;
use fieldkit_ui::{Labels, MainWindow, lang};
use slint::ComponentHandle;

/// What a value without a text of its own is shown as (`Labels.value`'s last line).
fn fallback(id: &str) -> String {
    id.replace('_', " ")
}

#[test]
fn every_shipped_lookup_value_and_role_has_a_translated_label() {
    common::init();
    let window = MainWindow::new().expect("the main window");
    let mut ids: Vec<String> = Lookups::shipped()
        .lists()
        .flat_map(|(_, values)| values.iter().map(|v| v.id.clone()))
        .collect();
    ids.extend(["supervisor".to_owned(), "caseworker".to_owned()]);
    ids.sort();
    ids.dedup();
    assert!(ids.len() > 60, "the shipped lists: {}", ids.len());

    let mut missing = Vec::new();
    for language in lang::LANGUAGES {
        lang::apply(&window, language.code).expect("bundled");
        let labels = window.global::<Labels>();
        // Scripts with no Latin letters: a Latin letter in a label is English left in.
        let own_script = matches!(language.code, "ar" | "fa" | "bn" | "my");
        for id in &ids {
            let shown = labels.invoke_value(id.into()).to_string();
            if shown.trim().is_empty() || shown == fallback(id) || shown == *id {
                missing.push(format!(
                    "{}: {id} has no label (shown as {shown:?})",
                    language.code
                ));
            } else if own_script && shown.chars().any(|c| c.is_ascii_alphabetic()) {
                missing.push(format!(
                    "{}: {id} is shown untranslated: {shown:?}",
                    language.code
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "lookup values without a translated label:\n{}",
        missing.join("\n")
    );
}

//! The bundled languages and switching between them at run time (no restart).
//!
//! Translations are gettext catalogues under `ui/lang/<code>/LC_MESSAGES/fieldkit-ui.po`, compiled
//! into the binary; each file's `Plural-Forms` header gives that language's plural rule. Slint
//! 1.18 does not mirror layouts for right-to-left scripts, so switching also sets the theme's
//! direction flag, which every page reads, and the on-screen keyboard's letters.

use slint::ComponentHandle;

use crate::{KeyboardAdapter, KeyboardLayout, MainWindow, SettingsAdapter, TextDirection, Theme};

/// One language the kiosk speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    /// The catalogue's code (the folder under `ui/lang/`; English is the source text).
    pub code: &'static str,
    /// The language's own name for itself, so a caseworker finds theirs.
    pub native: &'static str,
    /// Written right to left.
    pub rtl: bool,
    /// The keyboard letters that go with it.
    pub keyboard: Keyboard,
}

/// The letter layouts of the on-screen keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyboard {
    /// Latin letters, with French, Spanish, Portuguese and Somali accents one key away.
    Latin,
    /// Arabic letters with the Persian/Dari ones.
    Arabic,
}

/// Every bundled language, English first.
pub const LANGUAGES: &[Language] = &[
    Language {
        code: "en",
        native: "English",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "fr",
        native: "Français",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "es",
        native: "Español",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "pt",
        native: "Português",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "ar",
        native: "العربية",
        rtl: true,
        keyboard: Keyboard::Arabic,
    },
    Language {
        code: "fa",
        native: "دری / فارسی",
        rtl: true,
        keyboard: Keyboard::Arabic,
    },
    Language {
        code: "so",
        native: "Soomaali",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "sw",
        native: "Kiswahili",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "bn",
        native: "বাংলা",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
    Language {
        code: "my",
        native: "မြန်မာ",
        rtl: false,
        keyboard: Keyboard::Latin,
    },
];

/// Whether a text runs right to left: its first letter with a direction is of a right-to-left
/// script (Hebrew, Arabic, Syriac, Thaana, N'Ko and the other scripts of the right-to-left
/// blocks, and their presentation forms). Digits, spaces and punctuation have no direction of
/// their own and are skipped, as the Unicode bidi algorithm's rule P2 skips them; a text with
/// no letter at all counts as left to right. Only these ranges are needed: every other letter
/// the kiosk can show runs left to right.
pub fn starts_right_to_left(text: &str) -> bool {
    for c in text.chars() {
        // The invisible marks a sentence of the page starts with (`Messages.sentence`).
        match c {
            '\u{200F}' => return true,
            '\u{200E}' => return false,
            _ => {}
        }
        let rtl = matches!(u32::from(c),
            0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF);
        // Arabic-Indic digits and the Arabic comma are weak or neutral, not letters.
        let weak =
            matches!(u32::from(c), 0x0660..=0x0669 | 0x06F0..=0x06F9 | 0x060C | 0x066B | 0x066C);
        if rtl && !weak {
            return true;
        }
        if c.is_alphabetic() && !rtl {
            return false;
        }
    }
    false
}

/// Gives the screen's texts their direction (the one-line texts that do not fit are cut on the
/// side they end on, with the ellipsis right after their last whole word).
pub fn install(window: &MainWindow) {
    install_text(&window.global::<TextDirection>());
}

/// Gives a window's one-line texts their direction and where a cut line ends (for a window
/// other than the main one, such as the tests' probe).
pub fn install_text(text: &TextDirection<'_>) {
    text.on_starts_rtl(|text| starts_right_to_left(&text));
    text.on_first_line_width(|text, family, size, weight, width| {
        crate::measure::first_line_width(&text, &family, size, weight, width)
    });
}

/// Looks a language up by its code.
pub fn find(code: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|l| l.code == code)
}

/// A language code that is not bundled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language {0:?} is not bundled (bundled: en, fr, es, pt, ar, fa, so, sw, bn, my)")]
pub struct UnknownLanguage(pub String);

/// Switches the whole screen to a language: its texts, plural rules, writing direction and
/// keyboard letters.
pub fn apply(window: &MainWindow, code: &str) -> Result<(), UnknownLanguage> {
    let language = find(code).ok_or_else(|| UnknownLanguage(code.to_owned()))?;
    // English is the source text: selecting it means "no catalogue".
    let selected = if language.code == "en" {
        ""
    } else {
        language.code
    };
    slint::select_bundled_translation(selected).map_err(|_| UnknownLanguage(code.to_owned()))?;
    window.global::<Theme>().set_rtl(language.rtl);
    let keyboard = window.global::<KeyboardAdapter>();
    let letters = match language.keyboard {
        Keyboard::Latin => KeyboardLayout::Latin,
        Keyboard::Arabic => KeyboardLayout::Arabic,
    };
    keyboard.set_language_layout(letters);
    keyboard.set_layout(letters);
    // The settings page marks the language in force, whoever chose it.
    window
        .global::<SettingsAdapter>()
        .set_language(language.code.into());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::starts_right_to_left;

    #[test]
    fn a_text_runs_the_way_of_its_first_letter() {
        assert!(starts_right_to_left("محمد يوسف"));
        assert!(starts_right_to_left("3 عناصر"));
        assert!(starts_right_to_left("١٢ حالة"));
        assert!(starts_right_to_left(" «حالة» Amina"));
        assert!(starts_right_to_left("زهرا احمدی"));
        assert!(!starts_right_to_left("Muhammad Yusuf ⇄ محمد"));
        assert!(!starts_right_to_left("12 cases"));
        assert!(!starts_right_to_left("١٢٣"));
        assert!(!starts_right_to_left(""));
        assert!(!starts_right_to_left("মোহাম্মদ"));
        // A sentence of the page says its direction with a mark, whatever its first word.
        assert!(starts_right_to_left("\u{200F}Halima Yusuf (الأم)"));
        assert!(!starts_right_to_left("⚠ \u{200E}حليمة (Mother)"));
    }
}

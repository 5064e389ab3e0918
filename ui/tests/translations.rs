//! Every text the screen shows through `@tr(...)` has a translation in every bundled language,
//! with as many plural forms as that language's `Plural-Forms` header says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fieldkit_ui::lang::LANGUAGES;

/// A `@tr` call's text, and its plural text when it has one.
type Key = (String, Option<String>);

/// Reads a double-quoted Slint or gettext string starting at `s[0] == '"'`; returns the text
/// and the rest after the closing quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.strip_prefix('"')?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn slint_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read ui/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            slint_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slint") {
            out.push(path);
        }
    }
}

/// Every `@tr("…")` and `@tr("…" | "…" % n)` in the `.slint` sources.
fn tr_calls() -> Vec<Key> {
    let mut files = Vec::new();
    slint_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("ui"),
        &mut files,
    );
    let mut keys = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read .slint");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("@tr(") {
            rest = rest[at + 4..].trim_start();
            let (msg, after) =
                quoted(rest).unwrap_or_else(|| panic!("{}: @tr without a string", file.display()));
            let after = after.trim_start();
            let plural = after.strip_prefix('|').map(|p| {
                quoted(p.trim_start())
                    .unwrap_or_else(|| panic!("{}: bad plural in @tr", file.display()))
                    .0
            });
            let key = (msg, plural);
            if !keys.contains(&key) {
                keys.push(key);
            }
            rest = after;
        }
    }
    keys
}

struct Catalogue {
    nplurals: usize,
    singular: BTreeMap<String, String>,
    plural: BTreeMap<(String, String), Vec<String>>,
}

/// A small reader for the subset of gettext the catalogues use: one-line strings,
/// `msgid`, `msgid_plural`, `msgstr` and `msgstr[i]`.
fn read_po(path: &Path) -> Catalogue {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cat = Catalogue {
        nplurals: 0,
        singular: BTreeMap::new(),
        plural: BTreeMap::new(),
    };
    let (mut id, mut id_plural, mut forms, mut single) =
        (None::<String>, None::<String>, Vec::new(), None::<String>);
    let flush = |id: &mut Option<String>,
                 idp: &mut Option<String>,
                 forms: &mut Vec<String>,
                 single: &mut Option<String>,
                 cat: &mut Catalogue| {
        if let Some(msgid) = id.take() {
            match idp.take() {
                Some(p) => {
                    cat.plural.insert((msgid, p), std::mem::take(forms));
                }
                None => {
                    if let Some(s) = single.take() {
                        if msgid.is_empty() {
                            let header = s;
                            if let Some(n) = header.split("nplurals=").nth(1) {
                                cat.nplurals = n
                                    .chars()
                                    .take_while(char::is_ascii_digit)
                                    .collect::<String>()
                                    .parse()
                                    .unwrap_or(0);
                            }
                        } else {
                            cat.singular.insert(msgid, s);
                        }
                    }
                }
            }
        }
        forms.clear();
        *single = None;
    };
    let mut last_single = false;
    for line in text.lines().map(str::trim) {
        if let Some(r) = line.strip_prefix("msgid_plural ") {
            id_plural = quoted(r).map(|q| q.0);
        } else if let Some(r) = line.strip_prefix("msgid ") {
            flush(&mut id, &mut id_plural, &mut forms, &mut single, &mut cat);
            id = quoted(r).map(|q| q.0);
        } else if let Some(r) = line.strip_prefix("msgstr[") {
            let r = &r[r.find(']').expect("msgstr[i]") + 1..];
            forms.push(quoted(r.trim_start()).expect("msgstr[i] string").0);
            last_single = false;
        } else if let Some(r) = line.strip_prefix("msgstr ") {
            single = quoted(r).map(|q| q.0);
            last_single = true;
        } else if line.starts_with('"') && last_single {
            // Continuation lines of the header.
            if let (Some(s), Some((more, _))) = (single.as_mut(), quoted(line)) {
                s.push_str(&more);
            }
        }
    }
    flush(&mut id, &mut id_plural, &mut forms, &mut single, &mut cat);
    cat
}

#[test]
fn every_text_on_screen_is_translated_in_every_bundled_language() {
    let keys = tr_calls();
    assert!(
        keys.len() > 150,
        "the extractor found only {} texts; it is broken",
        keys.len()
    );
    assert!(
        keys.iter().any(|(_, p)| p.is_some()),
        "the extractor found no plural texts"
    );
    let mut missing = Vec::new();
    for language in LANGUAGES.iter().filter(|l| l.code != "en") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("lang")
            .join(language.code)
            .join("LC_MESSAGES/fieldkit-ui.po");
        let cat = read_po(&path);
        assert!(
            cat.nplurals >= 1,
            "{}: no Plural-Forms header",
            language.code
        );
        for (msg, plural) in &keys {
            match plural {
                None => match cat.singular.get(msg) {
                    Some(t) if !t.trim().is_empty() => {
                        // `{}` in order, `{0}`…`{9}` by position: a translation has the same.
                        let holes = |s: &str| {
                            s.matches("{}").count()
                                + (0..10).filter(|d| s.contains(&format!("{{{d}}}"))).count()
                        };
                        if holes(t) != holes(msg) {
                            missing.push(format!(
                                "{}: {msg:?} has {} placeholders, its translation {}",
                                language.code,
                                holes(msg),
                                holes(t)
                            ));
                        }
                    }
                    _ => missing.push(format!("{}: {msg:?}", language.code)),
                },
                Some(p) => match cat.plural.get(&(msg.clone(), p.clone())) {
                    Some(forms)
                        if forms.len() == cat.nplurals
                            && forms.iter().all(|f| !f.trim().is_empty()) => {}
                    Some(forms) => missing.push(format!(
                        "{}: {msg:?} has {} plural forms, the language has {}",
                        language.code,
                        forms.len(),
                        cat.nplurals
                    )),
                    None => missing.push(format!("{}: {msg:?} (plural)", language.code)),
                },
            }
        }
    }
    assert!(
        missing.is_empty(),
        "untranslated texts:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_reader_finds_a_missing_translation() {
    let dir = std::env::temp_dir().join(format!("fieldkit-po-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let po = dir.join("x.po");
    std::fs::write(
        &po,
        "msgid \"\"\nmsgstr \"\"\n\"Plural-Forms: nplurals=3; plural=n;\\n\"\n\nmsgid \"A\"\nmsgstr \"\"\n\nmsgid \"{n} x\"\nmsgid_plural \"{n} xs\"\nmsgstr[0] \"a\"\nmsgstr[1] \"b\"\n",
    )
    .expect("write");
    let cat = read_po(&po);
    assert_eq!(cat.nplurals, 3);
    assert_eq!(cat.singular.get("A").map(String::as_str), Some(""));
    assert_eq!(
        cat.plural
            .get(&("{n} x".into(), "{n} xs".into()))
            .map(Vec::len),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).ok();
}

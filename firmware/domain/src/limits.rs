//! How much a record may hold, and what its text may contain: checked by validation, so on
//! every path a record enters by (a registration, an edit, a Primero import; sync merges are
//! the exception, see [`Record::validate`](crate::Record::validate)'s callers).
//!
//! # Why there are limits: the slow vault of issue 9
//!
//! A vault that had once accepted a case with a 50 MB `notes` field later took 376 s to import
//! 5,000 cases instead of 0.8 s, with 108 reads of 64 MiB each. The cause is how redb stores a
//! large value, together with the vault's small page cache:
//!
//! - redb keeps a value inside the B-tree leaf that holds its key. A leaf holding a 50 MB row
//!   (the sealed document, 50 MB plus a few bytes) is one page rounded up to the next power of
//!   two by redb's buddy allocator: a 64 MiB page.
//! - The vault opens redb with a 32 MiB page cache (`OpenOptions::cache_bytes`). A 64 MiB page
//!   never fits, so every touch of it is a fresh 64 MiB read from the file.
//! - Every write transaction that inserts a key into that leaf copies the leaf (redb is
//!   copy-on-write): it reads the whole 64 MiB page and writes a new one. Record keys are the
//!   kind byte and the record id, and ids are minted in time order, so every case registered or
//!   imported after the big one lands in the same, rightmost leaf of `records`: each of the
//!   import's write transactions (the import itself, then the potential matches it saved, each
//!   a commit) paid a 64 MiB read, a 64 MiB write and an fsync of it. The same happens in
//!   `summaries` for the 100,000-character name (a 100 KB summary row is its own leaf page).
//! - A fresh vault "with the same record" did not slow because its big record had been added
//!   *after* the cases (or alone): new keys then went to a leaf without it.
//!
//! Anything that puts a value near or above the cache size in a table that keeps growing at
//! the same end triggers it: a huge field, many subform entries, a large photo kept inline
//! instead of as a blob. The limits below keep every record far below one cache's worth
//! ([`MAX_RECORD_BYTES`] is 1/64 of the 32 MiB cache), so a leaf holding one is an ordinary
//! small page.

use serde_json::Value;

use crate::validate::FieldError;

/// Longest name, in characters (`name`, `name_other`, a relative's or an inquirer's name, ...).
/// Primero's longest names in the field are well under 100 characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Longest other text value, in characters (notes, narratives, any Primero text field): about
/// ten pages.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Largest record, in bytes of its JSON: a case with every form filled and dozens of family
/// members, follow-ups and services is under 64 KiB.
pub const MAX_RECORD_BYTES: usize = 512 * 1024;

/// The fields that hold a person's name or code (at any depth: subform entries too). Names are
/// one line of plain text: no control characters at all.
const NAME_FIELDS: &[&str] = &[
    "name",
    "name_other",
    "name_nickname",
    "name_first",
    "name_middle",
    "name_last",
    "relation_name",
    "relation_nickname",
    "survivor_code",
    "case_name",
    "trace_name",
];

/// True for a field that holds a name.
pub fn is_name_field(field: &str) -> bool {
    NAME_FIELDS.contains(&field)
}

/// A control character as a caseworker would call it.
pub fn describe_control(c: char) -> String {
    match c {
        '\t' => "a tab".into(),
        '\n' | '\r' => "a line break".into(),
        '\u{1b}' => "an escape code (terminal control)".into(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    }
}

/// Checks a record's JSON (the flat object Primero's names give): its size, each text value's
/// length, control characters. Field paths name subform entries by position from 0
/// (`family_details_section[2].relation_name`), as validation does.
pub fn check(record: &Value, errors: &mut Vec<FieldError>) {
    let size = json_size(record);
    if size > MAX_RECORD_BYTES {
        errors.push(FieldError {
            field: "record".into(),
            message: format!(
                "is {} KiB; a record may hold at most {} KiB (keep long documents outside the vault)",
                size.div_ceil(1024),
                MAX_RECORD_BYTES / 1024
            ),
        });
    }
    if let Value::Object(o) = record {
        for (k, v) in o {
            walk(k, k, v, errors);
        }
    }
}

fn walk(path: &str, field: &str, v: &Value, errors: &mut Vec<FieldError>) {
    match v {
        Value::String(s) => text(path, field, s, errors),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(o) => {
                        for (k, v) in o {
                            walk(&format!("{path}[{i}].{k}"), k, v, errors);
                        }
                    }
                    other => walk(path, field, other, errors),
                }
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                walk(&format!("{path}.{k}"), k, v, errors);
            }
        }
        _ => {}
    }
}

fn text(path: &str, field: &str, s: &str, errors: &mut Vec<FieldError>) {
    let name = is_name_field(field);
    let max = if name { MAX_NAME_CHARS } else { MAX_TEXT_CHARS };
    // Counting stops past the limit: a 50 MB value is not walked to its end.
    let chars = s.chars().take(max + 1).count();
    if chars > max {
        errors.push(FieldError {
            field: path.into(),
            message: format!(
                "is longer than {max} characters ({} in all)",
                s.chars().count()
            ),
        });
        return;
    }
    // Names: one line of plain text. Other text may hold tabs and line breaks, nothing else
    // that drives a terminal.
    let bad = s
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && (name || !matches!(c, '\t' | '\n' | '\r')));
    if let Some((at, c)) = bad {
        errors.push(FieldError {
            field: path.into(),
            message: format!(
                "contains {} at character {}: {}",
                describe_control(c),
                at + 1,
                if name {
                    "a name is one line of plain text"
                } else {
                    "text may hold tabs and line breaks, no other control characters"
                }
            ),
        });
    }
}

/// The length of a value's JSON, without building it.
fn json_size(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing to a counter cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(v: &Value) -> Vec<String> {
        let mut e = Vec::new();
        check(v, &mut e);
        e.into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn plain_records_pass() {
        assert!(
            errors(&json!({"name": "Amina Yusuf", "notes": "line one\nline two\tend"})).is_empty()
        );
    }

    #[test]
    fn long_names_long_text_and_big_records_are_refused_by_field() {
        let e = errors(&json!({"name": "a".repeat(201), "notes": "b".repeat(20_001)}));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("name: is longer than 200 characters (201 in all)"));
        assert!(e[1].starts_with("notes: is longer than 20000 characters"));
        let many: Vec<Value> = (0..40)
            .map(|i| json!({"unique_id": format!("u{i}"), "x_note": "c".repeat(19_000)}))
            .collect();
        let e = errors(&json!({"name": "A", "family_details_section": many}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("record: is "), "{e:?}");
    }

    #[test]
    fn control_characters_are_refused_in_names_and_escapes_everywhere() {
        let e = errors(&json!({
            "name": "Amina\tYusuf",
            "family_details_section": [{"unique_id": "a", "relation_name": "Hal\u{1b}[31mima"}],
            "notes": "ok\tok\nok",
            "x_other": "bell\u{7}",
        }));
        assert_eq!(
            e,
            [
                "family_details_section[0].relation_name: contains an escape code (terminal control) at character 4: a name is one line of plain text",
                "name: contains a tab at character 6: a name is one line of plain text",
                "x_other: contains the control character U+0007 at character 5: text may hold tabs and line breaks, no other control characters",
            ]
        );
    }
}

//! How much a record may hold, and what its text may contain: checked by validation, so on
//! every path a record enters by (a registration, an edit, a Primero import; sync merges are
//! the exception, see [`Record::validate`](crate::Record::validate)'s callers).
//!
//! # Why there are limits: the slow vault of issue 9
//!
//! A vault that had once accepted a case with a 50 MB `notes` field (and a 100,000-character
//! name) later took 376 s to import 5,000 cases instead of 0.8 s, with 108 reads of 64 MiB
//! each, while a fresh vault holding the same record did not slow. Reproduced with the build
//! before these limits (strace counting `pread64`; a shared, loaded 2-core machine), importing
//! 500 Primero cases:
//!
//! | vault | import | reads of 64 MiB |
//! |---|---|---|
//! | 3 cases, then the 50 MB case last | 89.1 s | 508 |
//! | the 50 MB case, then 3 ordinary cases | 1.9 s | 4 |
//! | 3 cases, then the 100,000-character name last (no big notes) | 1.8 s | 0 |
//!
//! The mechanism, redb's value handling together with the vault's page cache:
//!
//! - redb keeps a value inside the B-tree leaf that holds its key. The 50 MB row (the sealed
//!   document) makes its leaf one page, rounded up by redb's buddy allocator to a power of
//!   two: 64 MiB (the file grew to 128 MiB).
//! - The vault opened redb with a 32 MiB page cache (`OpenOptions::cache_bytes`; a kit now
//!   opens it with 8 MiB, `fieldkit_app::KIT_VAULT_CACHE_BYTES`): a 64 MiB page never stays
//!   cached, so every visit to that leaf reads all 64 MiB from the file again.
//! - A Primero import first looks each incoming id up in `records` (to patch a record it
//!   already holds). A lookup of a key that is not there still descends to the leaf where it
//!   would be. Record keys are the kind byte and the id, and ids are minted in time order, so
//!   every new id falls after the last key: into the rightmost leaf. When the last record saved
//!   is the huge one, that leaf is its 64 MiB page, and each of the 500 lookups read it: 502
//!   reads in a row, then none in the write transaction (the new rows go to a new small leaf).
//!   (The 108 reads for 5,000 cases were taken on an earlier build; the count is the
//!   number of lookups and reads that land in that leaf.)
//! - Once any ordinary record is saved after the huge one, the rightmost leaf is a small page
//!   and lookups never touch the big one: that is the "fresh vault" that did not slow. The
//!   long name was harmless: its summary and term rows are ~100 KB, well inside the cache.
//!
//! Anything that makes one row larger than the page cache can trigger it: any huge field,
//! thousands of subform entries, a photo kept inline instead of as a blob; and not only for
//! imports (every read that lands in that leaf pays 64 MiB: `get` of a neighbouring record,
//! `resolve`, a merge). The limits below keep every record far below the cache
//! ([`MAX_RECORD_BYTES`] is 1/16 of a kit's 8 MiB cache, 1/64 of the vault's default 32 MiB), so a leaf holding one is a small page
//! that stays cached. Records already stored above the limits are still read; an edit of one
//! must bring it back within them.

use serde_json::Value;

use crate::validate::{FieldError, Problem};

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
            message: Problem::RecordTooLarge {
                kib: size.div_ceil(1024),
                max_kib: MAX_RECORD_BYTES / 1024,
            },
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
            message: Problem::TooLong {
                max,
                chars: s.chars().count(),
            },
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
            message: Problem::ControlCharacter {
                control: c,
                at: at + 1,
                in_name: name,
            },
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

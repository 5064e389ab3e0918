//! What the blind index indexes: names turned into terms by a [`NameIndexer`].
//!
//! The vault HMACs each term under a key derived from the data key, so the index on disk reveals
//! neither names nor terms, only how many records share a term.

use fieldkit_domain::RecordKind;
use serde_json::Value;

/// Turns a name into search terms. The same function runs on stored names and on queries, so a
/// query finds a record when they share terms. The kiosk uses the matcher's cross-script
/// normaliser (transliteration, variant folding, phonetic keys).
pub trait NameIndexer: Send + Sync {
    /// A stable name for this indexer and its version: when it changes, the vault rebuilds its
    /// index at the next sign-in.
    fn id(&self) -> &str;
    /// The terms for one name (or one query).
    fn terms(&self, name: &str) -> Vec<String>;
}

/// Lower-cased words, nothing more: the fallback when no better indexer is supplied.
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicIndexer;

impl NameIndexer for BasicIndexer {
    fn id(&self) -> &str {
        "basic-1"
    }

    fn terms(&self, name: &str) -> Vec<String> {
        fieldkit_domain::names::basic_tokens(name)
    }
}

/// The names a record is found by: a case's and a trace's names, an inquirer's name, an
/// incident's survivor code.
pub(crate) fn searchable_names(kind: RecordKind, json: &Value) -> Vec<String> {
    let fields: &[&str] = match kind {
        RecordKind::Case => &["name", "name_other", "name_nickname"],
        RecordKind::TracingRequest => &["relation_name", "relation_nickname"],
        RecordKind::Incident => &["survivor_code"],
        RecordKind::PotentialMatch => &[],
    };
    let mut out: Vec<String> = fields
        .iter()
        .filter_map(|f| json.get(*f).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if kind == RecordKind::TracingRequest {
        for t in json
            .get("tracing_request_subform_section")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for f in ["name", "name_other", "name_nickname"] {
                if let Some(n) = t.get(f).and_then(Value::as_str) {
                    out.push(n.to_string());
                }
            }
        }
    }
    out.retain(|n| !n.trim().is_empty());
    out
}

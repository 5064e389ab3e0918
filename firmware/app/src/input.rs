//! Lookup values on the way in: every record the kit saves has its select fields in the
//! configured lists' form (`--sex M` is saved as `male`), or is refused with the closest known
//! value suggested. What arrives by sync is never refused (another kit recorded it, and may
//! have other lists); its unknown values are logged.

use fieldkit_domain::lookups::Lookups;
use fieldkit_domain::primero::{BadField, Incoming};
use fieldkit_domain::{Record, RecordKind, ValidationErrors};
use serde_json::{Map, Value};

/// Tidies the lookup values of each record of a Primero import: the records tidied, and each
/// unknown value by the record's position in the file.
pub(crate) fn tidy_records(
    lookups: &Lookups,
    records: &[Incoming],
) -> (Vec<Incoming>, Vec<BadField>) {
    let mut out = records.to_vec();
    let mut bad = Vec::new();
    for r in &mut out {
        if let Err(e) = lookups.tidy(r.kind, &mut r.data) {
            bad.extend(e.0.into_iter().map(|f| BadField {
                position: r.position,
                field: fieldkit_domain::primero::counted_from_one(&f.field),
                message: f.message.to_string(),
            }));
        }
    }
    (out, bad)
}

/// Tidies the lookup values of the fields an edit changed (`after` against `before`, top-level
/// fields; a subform changed is checked whole): a value typed now is held to the lists, and a
/// value the record already had (another kit's, an older list's) does not stop the edit.
pub(crate) fn tidy_changed(
    lookups: &Lookups,
    kind: RecordKind,
    before: &Map<String, Value>,
    after: &mut Map<String, Value>,
) -> Result<(), ValidationErrors> {
    let mut changed: Map<String, Value> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    lookups.tidy(kind, &mut changed)?;
    after.extend(changed);
    Ok(())
}

/// Logs the unknown lookup values of a record received by sync.
pub(crate) fn warn_received(lookups: &Lookups, record: &Record) {
    let serde_json::Value::Object(o) = record.to_json() else {
        return;
    };
    for e in lookups.check(record.kind(), &o) {
        // The field only: a value may be case data, which logs never hold.
        tracing::warn!(
            kind = %record.kind(),
            id = %record.id(),
            field = %e.field,
            "received a value outside this kit's lookup lists"
        );
    }
}

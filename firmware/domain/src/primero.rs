//! Primero API v2 JSON: each record is `{"data": {...}}` with flat fields and subforms as arrays
//! of objects keyed by `unique_id`. Files may hold one record, an array of records, or a list
//! response `{"data": [...]}`.

use serde_json::{Map, Value};

use crate::ids::RecordId;
use crate::record::{Record, RecordKind};

/// A file or record that is not Primero-shaped.
#[derive(Debug, thiserror::Error)]
pub enum PrimeroError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not `{"data": ...}` records.
    #[error("expected a {{\"data\": {{...}}}} record, an array of them, or {{\"data\": [...]}}")]
    Shape,
    /// Record number `index` (from 0) has a field of the wrong type or value.
    #[error("record {index}: {source}")]
    Record {
        /// Position in the file.
        index: usize,
        /// What is wrong.
        source: serde_json::Error,
    },
    /// Record number `index` has an `id` that is not a UUID.
    #[error("record {index}: id `{id}` is not a UUID")]
    BadId {
        /// Position in the file.
        index: usize,
        /// The id given.
        id: String,
    },
}

/// Wraps a record's flat fields as Primero sends them.
pub fn to_primero(record: &Record) -> Value {
    let mut m = Map::new();
    m.insert("data".into(), record.to_json());
    Value::Object(m)
}

/// The flat `data` objects in a Primero-shaped JSON text.
pub fn data_objects(text: &str) -> Result<Vec<Map<String, Value>>, PrimeroError> {
    let v: Value = serde_json::from_str(text)?;
    let items = match v {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(items)) => return items.into_iter().map(into_object).collect(),
            Some(data @ Value::Object(_)) => {
                vec![Value::Object(Map::from_iter([("data".to_string(), data)]))]
            }
            _ => return Err(PrimeroError::Shape),
        },
        _ => return Err(PrimeroError::Shape),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(mut o) => o
                .remove("data")
                .map(into_object)
                .unwrap_or(Err(PrimeroError::Shape)),
            _ => Err(PrimeroError::Shape),
        })
        .collect()
}

fn into_object(v: Value) -> Result<Map<String, Value>, PrimeroError> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(PrimeroError::Shape),
    }
}

/// Reads the records of `kind` in a Primero-shaped JSON text. Records without an `id` and
/// subform entries without a `unique_id` get fresh ones from `mint` (the domain has no random
/// source of its own).
pub fn parse_records(
    text: &str,
    kind: RecordKind,
    mint: &mut dyn FnMut() -> RecordId,
) -> Result<Vec<Record>, PrimeroError> {
    data_objects(text)?
        .into_iter()
        .enumerate()
        .map(|(index, mut obj)| {
            match obj.get("id") {
                None | Some(Value::Null) => {
                    obj.insert("id".into(), Value::String(mint().to_string()));
                }
                Some(Value::String(s)) if s.parse::<RecordId>().is_ok() => {}
                Some(other) => {
                    let id = other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_string);
                    return Err(PrimeroError::BadId { index, id });
                }
            }
            for value in obj.values_mut() {
                let Value::Array(items) = value else { continue };
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    if item
                        .get("unique_id")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        item.insert("unique_id".into(), Value::String(mint().to_string()));
                    }
                }
            }
            Record::from_json(kind, Value::Object(obj))
                .map_err(|source| PrimeroError::Record { index, source })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Sex;

    fn minter() -> impl FnMut() -> RecordId {
        let mut n = 0u8;
        move || {
            n += 1;
            RecordId::mint(1_700_000_000_000, [n; 10])
        }
    }

    #[test]
    fn reads_an_array_of_data_records() {
        let text = r#"[
          {"data": {"name": "Amina Yusuf", "sex": "female", "age": 9, "nationality": ["nationality1"],
                    "family_details_section": [{"relation": "mother", "relation_name": "Halima"}],
                    "some_primero_field": {"nested": true}}},
          {"data": {"id": "0190f5a2-1111-7000-8000-000000000001", "name": "Omar", "sex": "male", "language": "arabic"}}
        ]"#;
        let recs = parse_records(text, RecordKind::Case, &mut minter()).unwrap();
        assert_eq!(recs.len(), 2);
        let Record::Case(a) = &recs[0] else { panic!() };
        assert_eq!(a.sex, Some(Sex::Female));
        assert!(!a.family_details_section[0].unique_id.is_empty());
        assert_eq!(
            a.extra["some_primero_field"],
            serde_json::json!({"nested": true})
        );
        let Record::Case(b) = &recs[1] else { panic!() };
        assert_eq!(b.id.to_string(), "0190f5a2-1111-7000-8000-000000000001");
        assert_eq!(b.language, ["arabic"]);
        // Round trip: exported again, nothing is lost.
        let again = to_primero(&recs[0]);
        assert_eq!(again["data"]["some_primero_field"]["nested"], true);
        assert_eq!(
            again["data"]["family_details_section"][0]["relation_name"],
            "Halima"
        );
    }

    #[test]
    fn reads_a_list_response() {
        let text = r#"{"data": [{"name": "A", "sex": "male"}], "metadata": {"total": 1}}"#;
        assert_eq!(
            parse_records(text, RecordKind::Case, &mut minter())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn malformed_files_get_clear_errors() {
        let mut m = minter();
        assert!(matches!(
            parse_records("{", RecordKind::Case, &mut m),
            Err(PrimeroError::Json(_))
        ));
        assert!(matches!(
            parse_records("[1]", RecordKind::Case, &mut m),
            Err(PrimeroError::Shape)
        ));
        let err =
            parse_records(r#"[{"data": {"sex": "F"}}]"#, RecordKind::Case, &mut m).unwrap_err();
        assert!(
            err.to_string().starts_with("record 0: unknown variant `F`"),
            "{err}"
        );
        let err =
            parse_records(r#"[{"data": {"id": "case-1"}}]"#, RecordKind::Case, &mut m).unwrap_err();
        assert_eq!(err.to_string(), "record 0: id `case-1` is not a UUID");
        let err = parse_records(
            r#"[{"data": {"date_of_birth": "12/01/2015"}}]"#,
            RecordKind::Case,
            &mut m,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a date"), "{err}");
    }
}

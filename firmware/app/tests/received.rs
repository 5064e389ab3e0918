//! What arrives by sync is kept even when this kit's lookup lists do not know a value (another
//! kit may run other lists; refusing would drop its data), and the unknown value is logged by
//! field, never with case data (issue 9 item 1, sync path).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use fieldkit_domain::{DeviceId, Document, Hlc, Record, RecordId, RecordKind};
use serde_json::json;

const NOW: u64 = 1_772_000_000_000; // 2026-02-25

/// Log lines written by the code under test, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_received_value_outside_the_lists_is_kept_and_logged_without_case_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut kit = common::new_kit(dir.path(), NOW);

    // Another kit's case, with a protection concern its deployment added to its own list.
    let id = RecordId::mint(NOW - 10_000, [9; 10]);
    let fields = json!({
        "id": id.to_string(), "name": "Rahel Tesfaye Gebre", "sex": "female", "age": 11,
        "protection_concerns": ["unaccompanied", "landmine_survivor"],
    });
    let stamp = Hlc {
        wall_ms: NOW - 10_000,
        counter: 0,
        device: DeviceId(77),
    };
    let (doc, _) = Document::create(RecordKind::Case, id, &fields, stamp).unwrap();

    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let merged =
        tracing::subscriber::with_default(subscriber, || kit.merge(&[doc], NOW + 1).unwrap());
    assert_eq!(merged.changed, 1);

    // Kept as received.
    let Record::Case(c) = kit
        .open_record(RecordKind::Case, id, NOW + 2)
        .unwrap()
        .record
    else {
        panic!("a case")
    };
    assert!(
        c.protection_concerns
            .iter()
            .any(|p| p == "landmine_survivor"),
        "{:?}",
        c.protection_concerns
    );

    // Logged once, by field; the child's name is nowhere in the log.
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("received a value outside this kit's lookup lists"))
        .collect();
    assert_eq!(warned.len(), 1, "{text}");
    assert!(warned[0].contains("protection_concerns"), "{text}");
    assert!(warned[0].contains(&id.to_string()), "{text}");
    assert!(
        !text.contains("Rahel") && !text.contains("Tesfaye"),
        "{text}"
    );

    // A value the lists know raises nothing.
    let known = RecordId::mint(NOW - 9_000, [8; 10]);
    let fields = json!({
        "id": known.to_string(), "name": "Samir Haddad", "sex": "male", "age": 12,
        "protection_concerns": ["separated"],
    });
    let (doc, _) = Document::create(RecordKind::Case, known, &fields, stamp).unwrap();
    let before = log.0.lock().unwrap().len();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || kit.merge(&[doc], NOW + 3).unwrap());
    let after = String::from_utf8(log.0.lock().unwrap()[before..].to_vec()).unwrap();
    assert!(
        !after.contains("outside this kit's lookup lists"),
        "{after}"
    );
}

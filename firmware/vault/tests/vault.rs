//! The vault's behaviour seen from outside: sign-in, lockout, records, search, tampering, bundles.
#![allow(clippy::unwrap_used)]

use fieldkit_vault::{
    CaseworkerError, ExchangeError, OpenError, ReadError, SignInError, StoreError, WriteError,
};
use std::path::{Path, PathBuf};

use fieldkit_domain::{Case, FieldValue, Incident, Record, RecordId, RecordKind, Sex};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Role, Session, Vault};
use serde_json::json;

const NOW: u64 = 1_764_500_000_000; // 2025-11-30
const PIN: &[u8] = b"482915";

fn init(dir: &Path, policy: CredentialPolicy) -> (Session, String) {
    let path = Vault::file_in(dir);
    let (s, rk) = Vault::create(
        &path,
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: PIN,
            policy,
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    (s, rk.to_words().to_string())
}

fn reopen(dir: &Path) -> Vault {
    Vault::open(&Vault::file_in(dir), OpenOptions::default()).unwrap()
}

fn case(s: &Session, name: &str, age: i64) -> Record {
    Record::Case(Box::new(Case {
        id: s.mint_id(NOW).unwrap(),
        name: Some(name.into()),
        sex: Some(Sex::Female),
        age: Some(age),
        registration_date: Some("2025-11-29".parse().unwrap()),
        ..Case::default()
    }))
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    (d, p)
}

#[test]
fn create_read_edit_search_list() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let r = case(&s, "Amina Yusuf", 9);
    let id = r.id();
    s.create(&r, NOW).unwrap();
    s.create(&case(&s, "Omar Haddad", 11), NOW).unwrap();
    let mut edited = s.get(RecordKind::Case, id, NOW).unwrap().record.to_json();
    edited["age"] = json!(10);
    let saved = s.update(RecordKind::Case, id, &edited, NOW + 1).unwrap();
    assert_eq!((saved.version, saved.ops), (2, 1));
    let s = s.lock().unlock("amina", PIN, NOW + 2).unwrap();
    let found = s.search_unaudited(RecordKind::Case, "yusuf", 10).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].age, Some(10));
    assert_eq!(s.list(RecordKind::Case, 0, 50).unwrap().len(), 2);
    assert_eq!(s.count(RecordKind::Case).unwrap(), 2);
    assert_eq!(s.verify().unwrap(), 2);
    // Every step is a link of the chain, checked: two registrations and the edit (writes) of
    // the records they name, the read before the edit, the second sign-in.
    let audit = s.verify_audit().unwrap();
    let entries = s.audit_entries().unwrap();
    assert_eq!(audit.entries, entries.len() as u64);
    let count = |a: fieldkit_vault::AuditAction| entries.iter().filter(|e| e.action == a).count();
    assert_eq!(count(fieldkit_vault::AuditAction::Write), 3, "{entries:?}");
    assert_eq!(count(fieldkit_vault::AuditAction::Read), 1, "{entries:?}");
    assert_eq!(
        count(fieldkit_vault::AuditAction::LoginAttempt),
        1,
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .filter(|e| e.action == fieldkit_vault::AuditAction::Write)
            .all(|e| e.record.is_some_and(|(k, _)| k == RecordKind::Case))
    );
}

#[test]
fn renaming_a_case_moves_it_in_the_index() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let r = case(&s, "Amina Yusuf", 9);
    s.create(&r, NOW).unwrap();
    // A search in this session keeps the record's opened terms: the edit must not leave it
    // found under its old name.
    assert_eq!(
        s.search_unaudited(RecordKind::Case, "amina yusuf", 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.searched_records(), 1);
    let mut edited = r.to_json();
    edited["name"] = json!("Amina Rahman");
    s.update(RecordKind::Case, r.id(), &edited, NOW).unwrap();
    assert!(
        s.search_unaudited(RecordKind::Case, "yusuf", 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.search_unaudited(RecordKind::Case, "rahman", 10)
            .unwrap()
            .len(),
        1
    );
}

/// The term sets a session saved start the next session's searches; one whose record was
/// renamed since (in that session before its first search, or in an earlier one that did not
/// save) is not used: the record is found by its new name only.
#[test]
fn saved_search_terms_are_used_only_at_their_records_version() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let a = case(&s, "Amina Yusuf", 9);
    let b = case(&s, "Omar Yusuf", 7);
    s.create(&a, NOW).unwrap();
    s.create(&b, NOW).unwrap();
    assert_eq!(
        s.search_unaudited(RecordKind::Case, "yusuf", 10)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.save_search_terms().unwrap(), 2);
    let s = s.lock().unlock("amina", PIN, NOW + 1).unwrap();
    assert_eq!(s.load_search_terms().unwrap(), 2);
    assert_eq!(s.searched_records(), 2);
    drop(s);
    let names = |s: &Session, q: &str| -> Vec<String> {
        let mut n: Vec<String> = s
            .search_unaudited(RecordKind::Case, q, 10)
            .unwrap()
            .into_iter()
            .map(|x| x.name)
            .collect();
        n.sort();
        n
    };
    // Renamed before this session's first search: the saved set of the old name is dropped.
    let mut s = reopen(&dir).unlock("amina", PIN, NOW + 2).unwrap();
    let mut edited = a.to_json();
    edited["name"] = json!("Amina Rahman");
    s.update(RecordKind::Case, a.id(), &edited, NOW + 2)
        .unwrap();
    assert_eq!(names(&s, "yusuf"), ["Omar Yusuf"]);
    assert_eq!(names(&s, "rahman"), ["Amina Rahman"]);
    drop(s);
    // The next session loads the same saved value (nothing saved it since): still only at the
    // records' versions.
    let s = reopen(&dir).unlock("amina", PIN, NOW + 4).unwrap();
    assert_eq!(names(&s, "yusuf"), ["Omar Yusuf"]);
    assert_eq!(names(&s, "amina"), ["Amina Rahman"]);
}

#[test]
fn invalid_records_are_refused_with_the_reason() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let mut r = case(&s, "Amina", 9);
    if let Record::Case(c) = &mut r {
        c.age = Some(19);
    }
    let err = s.create(&r, NOW).unwrap_err();
    assert!(err.to_string().contains("outside 0–17"), "{err}");
    assert_eq!(s.count(RecordKind::Case).unwrap(), 0);
}

#[test]
fn wrong_pin_counts_and_locks_out_with_growing_delays() {
    let (_t, dir) = tmp();
    let (s, _) = init(&dir, CredentialPolicy::default());
    let mut v = s.lock();
    for n in 1..=3u32 {
        match v.unlock("amina", b"000000", NOW + u64::from(n)) {
            Err(SignInError::WrongCredential { failures }) => assert_eq!(failures, n),
            other => panic!("{other:?}"),
        }
        v = reopen(&dir);
    }
    // Fourth attempt right away: locked for 30 s, and the right PIN does not help.
    match v.unlock("amina", PIN, NOW + 10) {
        Err(SignInError::LockedOut {
            failures: 3,
            retry_after_s,
        }) => assert!(retry_after_s > 20),
        other => panic!("{other:?}"),
    }
    // After the delay, a wrong PIN doubles it.
    let v = reopen(&dir);
    assert!(matches!(
        v.unlock("amina", b"111111", NOW + 40_000),
        Err(SignInError::WrongCredential { failures: 4 })
    ));
    let v = reopen(&dir);
    match v.unlock("amina", PIN, NOW + 70_000) {
        Err(SignInError::LockedOut { retry_after_s, .. }) => assert_eq!(retry_after_s, 30),
        other => panic!("{other:?}"),
    }
    // Unknown names look exactly like wrong PINs.
    let v = reopen(&dir);
    let s = v.unlock("amina", PIN, NOW + 200_000).unwrap();
    let v = s.lock();
    assert!(matches!(
        v.unlock("nobody", PIN, NOW + 200_001),
        Err(SignInError::WrongCredential { failures: 1 })
    ));
}

#[test]
fn a_clock_set_back_does_not_shorten_the_lockout() {
    let (_t, dir) = tmp();
    let (s, _) = init(
        &dir,
        CredentialPolicy {
            free_attempts: 1,
            ..CredentialPolicy::default()
        },
    );
    let v = s.lock();
    assert!(v.unlock("amina", b"000000", NOW).is_err());
    let v = reopen(&dir);
    // The clock jumps back to 1970 (no RTC): still locked.
    assert!(matches!(
        v.unlock("amina", PIN, 5_000),
        Err(SignInError::LockedOut { .. })
    ));
}

#[test]
fn wipe_after_n_failures_and_recover_with_the_recovery_key() {
    let (_t, dir) = tmp();
    let policy = CredentialPolicy {
        wipe_after: Some(2),
        free_attempts: 5,
        ..CredentialPolicy::default()
    };
    let (mut s, words) = init(&dir, policy);
    let r = case(&s, "Amina Yusuf", 9);
    s.create(&r, NOW).unwrap();
    let v = s.lock();
    assert!(matches!(
        v.unlock("amina", b"000000", NOW),
        Err(SignInError::WrongCredential { .. })
    ));
    let v = reopen(&dir);
    assert!(matches!(
        v.unlock("amina", b"000001", NOW),
        Err(SignInError::Wiped)
    ));
    let v = reopen(&dir);
    assert!(matches!(
        v.unlock("amina", PIN, NOW),
        Err(SignInError::Wiped)
    ));
    assert_eq!(reopen(&dir).caseworker_count().unwrap(), 0);
    // The agency's recovery key restores access; nothing was lost.
    let v = reopen(&dir);
    let rk = fieldkit_vault::RecoveryKey::parse(&words).unwrap();
    let mut s = v.unlock_recovery(&rk, NOW).unwrap();
    assert_eq!(s.get(RecordKind::Case, r.id(), NOW).unwrap().version, 1);
    s.add_caseworker("amina", "Amina K.", b"739102", Role::Supervisor, true, NOW)
        .unwrap();
    let v = s.lock();
    v.unlock("amina", b"739102", NOW).unwrap();
}

#[test]
fn weak_credentials_are_refused() {
    let (_t, dir) = tmp();
    let err = Vault::create(
        &Vault::file_in(&dir),
        InitOptions {
            username: "a",
            display_name: "A",
            credential: b"123",
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, OpenError::WeakCredential(_)));
    let weak = CredentialPolicy {
        kdf: fieldkit_vault::KdfParams {
            m_kib: 4096,
            t: 1,
            p: 1,
        },
        ..CredentialPolicy::default()
    };
    let err = Vault::create(
        &Vault::file_in(&dir),
        InitOptions {
            username: "a",
            display_name: "A",
            credential: b"123456",
            policy: weak,
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, OpenError::WeakKdf));
}

#[test]
fn changing_a_pin_rewraps_and_keeps_every_record() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let r = case(&s, "Amina", 9);
    s.create(&r, NOW).unwrap();
    s.set_credential("amina", b"907341", NOW).unwrap();
    let v = s.lock();
    assert!(v.unlock("amina", PIN, NOW).is_err());
    let mut s = reopen(&dir).unlock("amina", b"907341", NOW).unwrap();
    assert_eq!(s.get(RecordKind::Case, r.id(), NOW).unwrap().version, 1);
}

#[test]
fn caseworkers_without_incident_access_cannot_read_incidents() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let inc = Record::Incident(Box::new(Incident {
        id: s.mint_id(NOW).unwrap(),
        incident_date: Some("2025-11-01".parse().unwrap()),
        survivor_code: Some("S-104".into()),
        ..Incident::default()
    }));
    s.create(&inc, NOW).unwrap();
    s.add_caseworker("yusuf", "Yusuf", b"555123", Role::Caseworker, false, NOW)
        .unwrap();
    let mut y = s.lock().unlock("yusuf", b"555123", NOW).unwrap();
    assert!(matches!(
        y.get(RecordKind::Incident, inc.id(), NOW),
        Err(ReadError::Forbidden(_))
    ));
    assert!(matches!(
        y.list(RecordKind::Incident, 0, 10),
        Err(ReadError::Forbidden(_))
    ));
    assert!(matches!(
        y.add_caseworker("x", "X", b"123456", Role::Caseworker, false, NOW),
        Err(CaseworkerError::Forbidden(_))
    ));
    // The data is still whole for everyone.
    assert_eq!(y.verify().unwrap(), 1);
}

#[test]
fn a_second_open_of_the_same_vault_is_refused() {
    let (_t, dir) = tmp();
    let (s, _) = init(&dir, CredentialPolicy::default());
    let err = Vault::open(&Vault::file_in(&dir), OpenOptions::default()).unwrap_err();
    assert!(matches!(err, OpenError::InUse(_)), "{err}");
    drop(s);
}

#[test]
fn a_missing_vault_says_how_to_make_one() {
    let (_t, dir) = tmp();
    let err = Vault::open(&Vault::file_in(&dir), OpenOptions::default()).unwrap_err();
    assert!(err.to_string().contains("fieldkit init"), "{err}");
}

#[test]
fn concurrent_edits_from_two_kits_show_as_conflicts() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let r = case(&s, "Amina", 9);
    s.create(&r, NOW).unwrap();
    // Another kit (device 99) edits the same field concurrently.
    let opened = s.get(RecordKind::Case, r.id(), NOW).unwrap();
    assert!(opened.conflicts.is_empty());
    // Kit 99 holds the same version (as after a sync) and changes the age to 12 while this kit
    // changes it to 10: each edit supersedes the value both saw.
    let remote = fieldkit_domain::Document::new(RecordKind::Case, r.id());
    let mut clock = fieldkit_domain::HlcClock::new(fieldkit_domain::DeviceId(99));
    let op = fieldkit_domain::Op {
        supersedes: vec![],
        ..remote.op("age", FieldValue::Int(12), clock.tick(NOW + 5))
    };
    let mut edited = opened.record.to_json();
    edited["age"] = json!(10);
    s.update(RecordKind::Case, r.id(), &edited, NOW + 5)
        .unwrap();
    s.apply_ops(&[op], NOW + 6).unwrap();
    let opened = s.get(RecordKind::Case, r.id(), NOW + 7).unwrap();
    assert_eq!(opened.conflicts.len(), 1);
    assert_eq!(opened.conflicts[0].field, "age");
    let listed = s.list(RecordKind::Case, 0, 10).unwrap();
    assert_eq!(listed[0].conflicts, 1);
}

#[test]
fn bundles_round_trip_and_refuse_other_vaults_and_damage() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    for i in 0..5 {
        s.create(&case(&s, &format!("Child {i}"), 5 + i), NOW)
            .unwrap();
    }
    let bundle = s.export_bundle(NOW).unwrap();
    assert!(!bundle.windows(7).any(|w| w == b"Child 1"));
    let again = s.import_bundle(&bundle, NOW).unwrap();
    assert_eq!((again.records, again.photos), (0, 0)); // nothing new
    let mut cut = bundle.clone();
    cut.truncate(bundle.len() - 10);
    assert!(matches!(
        s.import_bundle(&cut, NOW),
        Err(ExchangeError::BadBundle(_))
    ));
    let mut flipped = bundle.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 4;
    assert!(matches!(
        s.import_bundle(&flipped, NOW),
        Err(ExchangeError::BadBundle(_))
    ));
    assert!(matches!(
        s.import_bundle(b"hello", NOW),
        Err(ExchangeError::BadBundle(_))
    ));

    let (_t2, dir2) = tmp();
    let (mut other, _) = init(&dir2, CredentialPolicy::default());
    assert!(matches!(
        other.import_bundle(&bundle, NOW),
        Err(ExchangeError::ForeignBundle { .. })
    ));
    assert_eq!(other.count(RecordKind::Case).unwrap(), 0);
}

#[test]
fn an_edit_of_an_unknown_record_is_not_found() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    let id = RecordId::mint(NOW, [1; 10]);
    assert!(matches!(
        s.update(RecordKind::Case, id, &json!({}), NOW),
        Err(WriteError::NotFound { .. })
    ));
    assert!(matches!(
        s.get(RecordKind::Case, id, NOW),
        Err(ReadError::NotFound { .. })
    ));
}

/// Rewrites one `meta` entry behind the vault's back (postcard-encoded, as the vault stores it).
fn poke_meta(dir: &Path, key: &str, value: Option<Vec<u8>>) {
    let db = redb::Database::open(Vault::file_in(dir)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let mut t = txn.open_table(def).unwrap();
        match value {
            Some(v) => {
                t.insert(key, v.as_slice()).unwrap();
            }
            None => {
                t.remove(key).unwrap();
            }
        }
    }
    txn.commit().unwrap();
}

#[test]
fn a_schema_1_vault_is_migrated_at_sign_in() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    for i in 0..3 {
        s.create(&case(&s, &format!("Child {i}"), 5), NOW).unwrap();
    }
    drop(s);
    // Make it look like a first-release vault: schema 1, no manifest.
    poke_meta(&dir, "schema", Some(vec![1]));
    poke_meta(&dir, "manifest", None);
    let s = reopen(&dir).unlock("amina", PIN, NOW).unwrap();
    assert_eq!(s.verify().unwrap(), 3);
    drop(s);
    let db = redb::Database::open(Vault::file_in(&dir)).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
    let t = txn.open_table(def).unwrap();
    assert_eq!(
        t.get("schema").unwrap().unwrap().value(),
        [fieldkit_vault::SCHEMA_VERSION as u8]
    );
}

#[test]
fn a_vault_from_a_newer_fieldkit_is_refused() {
    let (_t, dir) = tmp();
    let (s, _) = init(&dir, CredentialPolicy::default());
    drop(s);
    poke_meta(&dir, "schema", Some(vec![99]));
    let err = Vault::open(&Vault::file_in(&dir), OpenOptions::default()).unwrap_err();
    assert!(
        matches!(err, OpenError::NewerSchema { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn a_truncated_audit_chain_is_noticed() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    s.create(&case(&s, "Amina", 9), NOW).unwrap();
    let n = s.verify_audit().unwrap().entries;
    drop(s);
    // Remove the last two entries and move the head back, as someone hiding their reads would.
    let db = redb::Database::open(Vault::file_in(&dir)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let def: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("audit");
        let mut t = txn.open_table(def).unwrap();
        t.remove(n - 1).unwrap();
        t.remove(n - 2).unwrap();
    }
    txn.commit().unwrap();
    drop(db);
    // The sealed state remembers the head, so sign-in itself refuses the cut chain.
    let err = reopen(&dir).unlock("amina", PIN, NOW).unwrap_err();
    assert!(
        matches!(err, SignInError::Store(StoreError::Tampered { .. })),
        "{err}"
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(fieldkit_testkit::proptest_config(200))]

        /// A streamed bundle with any byte changed, or cut anywhere, is refused (never a
        /// panic) and merges nothing.
        #[test]
        fn bundles_changed_or_cut_anywhere(at in any::<prop::sample::Index>(), xor in 1u8..=255, cut in any::<bool>()) {
            BUNDLE.with(|b| {
                let mut b = b.borrow_mut();
                let (_, s, bundle) = b.get_or_insert_with(bundle_fixture);
                let mut bad = bundle.clone();
                let i = at.index(bad.len());
                if cut {
                    bad.truncate(i);
                } else {
                    bad[i] ^= xor;
                }
                let got = s.import_bundle(&bad, NOW);
                prop_assert!(got.is_err(), "{got:?}");
                prop_assert_eq!(s.count(RecordKind::Case).unwrap(), 0);
                Ok(())
            })?;
        }

        #[test]
        fn primero_files_of_any_content(text in ".{0,200}") {
            let _ = fieldkit_domain::primero::parse_records(&text, RecordKind::Case);
        }

        #[test]
        fn primero_json_of_any_shape(v in arb_json()) {
            let text = v.to_string();
            let _ = fieldkit_domain::primero::parse_records(&text, RecordKind::Case);
            let _ = fieldkit_domain::primero::parse_records(&text, RecordKind::TracingRequest);
            let wrapped = serde_json::json!([{"data": v}]).to_string();
            let _ = fieldkit_domain::primero::parse_records(&wrapped, RecordKind::Case);
        }
    }

    type Fixture = (tempfile::TempDir, Session, Vec<u8>);

    thread_local! {
        /// A bundle of three cases and a photo, and an empty vault of the same id to restore it to.
        static BUNDLE: std::cell::RefCell<Option<Fixture>> = const { std::cell::RefCell::new(None) };
    }

    fn bundle_fixture() -> Fixture {
        let (t, dir) = tmp();
        let (s, _) = init(&dir, CredentialPolicy::default());
        let empty = std::fs::read(Vault::file_in(&dir)).unwrap();
        let mut s = s;
        for i in 0..3 {
            s.create(&case(&s, &format!("Child {i}"), 5 + i), NOW)
                .unwrap();
        }
        let id = s.list(RecordKind::Case, 0, 1).unwrap()[0].id;
        let image = vec![7u8; 3000];
        let photo = fieldkit_vault::NewPhoto {
            image: &image,
            media_type: "image/jpeg",
            width: 64,
            height: 48,
            thumbnail: &image[..300],
        };
        s.attach_photo(RecordKind::Case, id, &photo, NOW).unwrap();
        let bundle = s.export_bundle(NOW).unwrap();
        drop(s);
        std::fs::write(Vault::file_in(&dir), empty).unwrap();
        let s = Vault::open(&Vault::file_in(&dir), OpenOptions::default())
            .unwrap()
            .unlock("amina", PIN, NOW)
            .unwrap();
        (t, s, bundle)
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z_]{0,12}".prop_map(serde_json::Value::String),
            Just(serde_json::json!("2020-02-30")),
            Just(serde_json::json!("female")),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("name".to_string()),
                        Just("age".to_string()),
                        Just("sex".to_string()),
                        Just("date_of_birth".to_string()),
                        Just("family_details_section".to_string()),
                        Just("unique_id".to_string()),
                        Just("id".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..5,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Bundles of arbitrary bytes, and real bundles with arbitrary damage, fail cleanly.
    #[test]
    fn damaged_bundles_never_panic() {
        let (_t, dir) = tmp();
        let (mut s, _) = init(&dir, CredentialPolicy::default());
        s.create(&case(&s, "Amina", 9), NOW).unwrap();
        let bundle = s.export_bundle(NOW).unwrap();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for i in 0..300 {
            let mut b = bundle.clone();
            match i % 3 {
                0 => {
                    let at = (next() as usize) % b.len();
                    b[at] ^= 1 << (next() % 8);
                }
                1 => b.truncate((next() as usize) % b.len()),
                _ => b = (0..(next() % 200)).map(|_| next() as u8).collect(),
            }
            if b != bundle {
                assert!(s.import_bundle(&b, NOW).is_err(), "damage {i} accepted");
            }
        }
        assert_eq!(s.verify().unwrap(), 1);
    }
}

#[test]
fn a_redb_file_that_is_not_a_vault_is_named_so() {
    let (_t, dir) = tmp();
    let db = redb::Database::create(Vault::file_in(&dir)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let def: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("other");
        txn.open_table(def).unwrap().insert("k", "v").unwrap();
    }
    txn.commit().unwrap();
    drop(db);
    let err = Vault::open(&Vault::file_in(&dir), OpenOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a fieldkit vault"), "{err}");
}

/// A table the vault makes at creation that is gone (a flipped byte in its name in redb's
/// table directory, when redb's own check on open is off) is damage to the file, said as such:
/// before, "storage engine: Table 'name_index' does not exist", as if the engine had failed.
#[test]
fn a_missing_table_is_reported_as_damage() {
    let (_t, dir) = tmp();
    let (mut s, _) = init(&dir, CredentialPolicy::default());
    s.create(&case(&s, "Amina Yusuf", 9), NOW).unwrap();
    drop(s);
    let db = redb::Database::open(Vault::file_in(&dir)).unwrap();
    let txn = db.begin_write().unwrap();
    let def: redb::MultimapTableDefinition<&[u8], &[u8]> =
        redb::MultimapTableDefinition::new("name_index");
    assert!(txn.delete_multimap_table(def).unwrap());
    txn.commit().unwrap();
    drop(db);
    let mut s = reopen(&dir).unlock("amina", PIN, NOW).unwrap();
    let err = s.search(RecordKind::Case, "Amina", 10, NOW).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("name_index is missing"), "{msg}");
    assert!(!msg.contains("storage engine"), "{msg}");
}

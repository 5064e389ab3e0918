//! The attack review's findings (issue 8), each replayed as an attacker with a copy of the
//! file and the binary would, against the vault's internals. Each test failed on the vault
//! before the fix it names.
#![allow(clippy::unwrap_used)]

use crate::StoreError;
use std::path::PathBuf;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use fieldkit_domain::{Case, Incident, Record, RecordKind, Sex};

use crate::error::ExchangeError;
use crate::hardware::FileAnchor;
use crate::keyslot::StoredSlot;
use crate::schema::{AUDIT, KEYSLOTS, META, RECORDS, SUMMARIES, VERSIONS, meta};
use crate::signin::Lockouts;
use crate::storage::{decode, encode};
use crate::{
    AuditAction, CaseworkerError, CredentialPolicy, InitOptions, OpenOptions, RecoveryKey,
    RecoveryOptions, Role, Session, SignInError, Vault, VaultError,
};

const NOW: u64 = 1_764_500_000_000;
const PIN: &[u8] = b"482915";

struct Kit {
    _dir: tempfile::TempDir,
    path: PathBuf,
    anchor: Option<PathBuf>,
    recovery: String,
}

impl Kit {
    fn opts(&self) -> OpenOptions {
        OpenOptions {
            anchor: self
                .anchor
                .as_ref()
                .map(|p| Arc::new(FileAnchor::new(p)) as Arc<dyn crate::RollbackAnchor>),
            ..OpenOptions::default()
        }
    }

    fn vault(&self) -> Vault {
        Vault::open(&self.path, self.opts()).unwrap()
    }

    fn unlock(&self, user: &str, pin: &[u8]) -> Result<Session, SignInError> {
        self.vault().unlock(user, pin, NOW)
    }

    fn recovery(&self) -> RecoveryKey {
        RecoveryKey::parse(&self.recovery).unwrap()
    }

    /// Edits the file directly, as an attacker with the file would.
    fn raw(&self, edit: impl FnOnce(&redb::WriteTransaction)) {
        let db = redb::Database::open(&self.path).unwrap();
        let txn = db.begin_write().unwrap();
        edit(&txn);
        txn.commit().unwrap();
    }

    fn copy(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    fn put_back(&self, bytes: &[u8]) {
        std::fs::write(&self.path, bytes).unwrap();
    }
}

fn kit(policy: CredentialPolicy, anchored: bool) -> (Kit, Session) {
    let dir = tempfile::tempdir().unwrap();
    let path = Vault::file_in(dir.path());
    let anchor = anchored.then(|| dir.path().join("vault.anchor"));
    let mut kit = Kit {
        _dir: dir,
        path,
        anchor,
        recovery: String::new(),
    };
    let (s, rk) = Vault::create(
        &kit.path,
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: PIN,
            policy,
            now_ms: NOW,
        },
        kit.opts(),
    )
    .unwrap();
    kit.recovery = rk.to_words().to_string();
    (kit, s)
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

fn incident(s: &Session) -> Record {
    Record::Incident(Box::new(Incident {
        id: s.mint_id(NOW).unwrap(),
        incident_date: Some("2025-11-01".parse().unwrap()),
        survivor_code: Some("S-104".into()),
        ..Incident::default()
    }))
}

fn read_row(
    txn: &redb::WriteTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    key: &[u8],
) -> Vec<u8> {
    txn.open_table(table)
        .unwrap()
        .get(key)
        .unwrap()
        .unwrap()
        .value()
        .to_vec()
}

fn is_tampered<T: std::fmt::Debug, E: Into<VaultError>>(r: Result<T, E>) -> bool {
    matches!(r.map_err(Into::into), Err(VaultError::Tampered { .. }))
}

/// Finding 2: a caseworker without incident access cannot open the incidents in a
/// supervisor's bundle with his own keys.
#[test]
fn f2_bundle_incidents_are_sealed_under_the_incident_key() {
    let (_kit, mut s) = kit(CredentialPolicy::default(), false);
    s.create(&incident(&s), NOW).unwrap();
    s.create(&case(&s, "Amina Yusuf", 9), NOW).unwrap();
    s.add_caseworker("yusuf", "Yusuf", b"555123", Role::Caseworker, false, NOW)
        .unwrap();
    let bundle = s.export_bundle(NOW).unwrap();
    let y = s.lock().unlock("yusuf", b"555123", NOW).unwrap();
    // Everything the caseworker's keys can derive, tried on the bundle.
    for key in [&y.keys.bundle, &y.keys.records, &y.keys.dek] {
        let keys = crate::bundle::BundleKeys {
            records: key,
            incidents: Some(key),
        };
        if let Ok(opened) = crate::bundle::open(&keys, &y.vault.vault_id, &bundle) {
            assert!(opened.docs.iter().all(|d| d.kind() != RecordKind::Incident));
        }
    }
    let mine = crate::bundle::BundleKeys {
        records: &y.keys.bundle,
        incidents: None,
    };
    let opened = crate::bundle::open(&mine, &y.vault.vault_id, &bundle).unwrap();
    assert_eq!(opened.docs.len(), 1);
    assert!(opened.sealed_incidents);
}

/// Finding 3: `#recovery` is refused as a caseworker name everywhere, and guesses against it
/// are rate-limited without touching real caseworkers' counts.
#[test]
fn f3_the_recovery_slot_cannot_be_taken_over() {
    let (kit, mut s) = kit(CredentialPolicy::default(), false);
    assert!(matches!(
        s.set_credential("#recovery", b"111222", NOW),
        Err(CaseworkerError::Forbidden(_))
    ));
    assert!(matches!(
        s.remove_caseworker("#recovery", NOW),
        Err(CaseworkerError::Forbidden(_))
    ));
    drop(s);
    // The recovery key typed as a PIN under its slot's name opens nothing.
    assert!(matches!(
        kit.unlock("#recovery", kit.recovery.as_bytes()),
        Err(SignInError::WrongCredential { .. })
    ));
    for _ in 0..3 {
        let _ = kit.unlock("#recovery", b"000000");
    }
    assert!(matches!(
        kit.unlock("#recovery", b"000000"),
        Err(SignInError::LockedOut { .. })
    ));
    // Wrong recovery keys are rate-limited too.
    let wrong = RecoveryKey(crate::Key::from_bytes([7; 32]));
    for _ in 0..3 {
        let _ = kit.vault().unlock_recovery(&wrong, NOW);
    }
    assert!(matches!(
        kit.vault().unlock_recovery(&wrong, NOW),
        Err(SignInError::LockedOut { .. })
    ));
    // Amina's own count is untouched: she signs in at once.
    kit.unlock("amina", PIN).unwrap();
}

/// Finding 4: a copy of the file put back is refused against the anchor.
#[test]
fn f4_an_older_copy_of_the_file_is_refused() {
    let (kit, mut s) = kit(CredentialPolicy::default(), true);
    s.create(&case(&s, "Amina Yusuf", 9), NOW).unwrap();
    drop(s);
    let old = kit.copy();
    let mut s = kit.unlock("amina", PIN).unwrap();
    s.create(&case(&s, "Omar Haddad", 11), NOW).unwrap();
    drop(s);
    kit.put_back(&old);
    let err = kit.unlock("amina", PIN).unwrap_err();
    assert!(matches!(err, SignInError::RolledBack { .. }), "{err}");
    // The supervisor's recovery path accepts it deliberately, and says so in the audit.
    let s = kit
        .vault()
        .unlock_recovery_with(
            &kit.recovery(),
            RecoveryOptions {
                accept_rollback: true,
            },
            NOW,
        )
        .unwrap();
    assert_eq!(s.count(RecordKind::Case).unwrap(), 1);
    assert!(
        s.audit_entries()
            .unwrap()
            .iter()
            .any(|e| matches!(e.action, AuditAction::RollbackAccepted { .. }))
    );
    s.verify().unwrap();
    drop(s);
    kit.unlock("amina", PIN).unwrap();
}

/// Finding 4: lowering the failed-attempt counters in the file is noticed at the next sign-in.
#[test]
fn f4_edited_lockout_counters_are_noticed() {
    let (kit, s) = kit(CredentialPolicy::default(), false);
    drop(s);
    for _ in 0..2 {
        let _ = kit.unlock("amina", b"000000");
    }
    kit.raw(|txn| {
        let mut l: Lockouts = decode(
            txn.open_table(META)
                .unwrap()
                .get(meta::LOCKOUTS)
                .unwrap()
                .unwrap()
                .value(),
            "",
        )
        .unwrap();
        l.global.failures = 0;
        l.names.clear();
        txn.open_table(META)
            .unwrap()
            .insert(meta::LOCKOUTS, encode(&l).unwrap().as_slice())
            .unwrap();
    });
    assert!(is_tampered(kit.unlock("amina", PIN)));
}

/// Finding 4: raising `free_attempts` in the file gives no extra guesses: no slot opens under
/// an edited policy, not even with the right PIN.
#[test]
fn f4_an_edited_policy_opens_nothing() {
    let (kit, s) = kit(CredentialPolicy::default(), false);
    drop(s);
    kit.raw(|txn| {
        let mut p: CredentialPolicy = decode(
            txn.open_table(META)
                .unwrap()
                .get(meta::POLICY)
                .unwrap()
                .unwrap()
                .value(),
            "",
        )
        .unwrap();
        p.free_attempts = 1_000_000;
        txn.open_table(META)
            .unwrap()
            .insert(meta::POLICY, encode(&p).unwrap().as_slice())
            .unwrap();
    });
    assert!(matches!(
        kit.unlock("amina", PIN),
        Err(SignInError::WrongCredential { .. })
    ));
}

/// Finding 4: one record's rows put back with its old version entry (all a copy of the file
/// gives) is noticed at sign-in; its rows alone fail every read of it.
#[test]
fn f4_f7_an_old_record_put_back_fails_loudly() {
    let (kit, mut s) = kit(CredentialPolicy::default(), false);
    let r = case(&s, "Amina Yusuf", 9);
    let key = crate::schema::record_key(RecordKind::Case, r.id());
    s.create(&r, NOW).unwrap();
    drop(s);
    let mut old = (Vec::new(), Vec::new());
    kit.raw(|txn| {
        old = (read_row(txn, RECORDS, &key), read_row(txn, SUMMARIES, &key));
    });
    let mut s = kit.unlock("amina", PIN).unwrap();
    let mut edited = s
        .get(RecordKind::Case, r.id(), NOW)
        .unwrap()
        .record
        .to_json();
    edited["name"] = serde_json::json!("Amina Osman");
    edited["age"] = serde_json::json!(10);
    s.update(RecordKind::Case, r.id(), &edited, NOW).unwrap();
    drop(s);
    // The record row alone: `show` refuses it, the list still shows the current summary.
    kit.raw(|txn| {
        txn.open_table(RECORDS)
            .unwrap()
            .insert(key.as_slice(), old.0.as_slice())
            .unwrap();
    });
    let mut s = kit.unlock("amina", PIN).unwrap();
    assert!(is_tampered(s.get(RecordKind::Case, r.id(), NOW)));
    assert!(is_tampered(s.all(RecordKind::Case, NOW)));
    assert_eq!(s.list(RecordKind::Case, 0, 10).unwrap()[0].age, Some(10));
    drop(s);
    // And the summary: the list refuses the old name and age.
    kit.raw(|txn| {
        txn.open_table(SUMMARIES)
            .unwrap()
            .insert(key.as_slice(), old.1.as_slice())
            .unwrap();
    });
    let s = kit.unlock("amina", PIN).unwrap();
    assert!(is_tampered(s.list(RecordKind::Case, 0, 10)));
    drop(s);
    // And its version entry: the manifest no longer matches, so sign-in itself refuses.
    kit.raw(|txn| {
        txn.open_table(VERSIONS)
            .unwrap()
            .insert(key.as_slice(), 1)
            .unwrap();
    });
    assert!(is_tampered(kit.unlock("amina", PIN)));
}

/// Finding 4: cutting the audit chain back to its checkpoint, to erase failed sign-ins, is
/// noticed (with an anchor, also when the counters are cut back to match).
#[test]
fn f4_a_cut_audit_chain_is_noticed() {
    let (kit, s) = kit(CredentialPolicy::default(), true);
    drop(s);
    let before: u64 = {
        let v = kit.vault();
        let txn = redb::ReadableDatabase::begin_read(v.db.as_ref()).unwrap();
        redb::ReadableTableMetadata::len(&txn.open_table(AUDIT).unwrap()).unwrap()
    };
    for _ in 0..2 {
        let _ = kit.unlock("amina", b"000000");
    }
    // Cut the failed attempts' entries, the head, the counters and the commit counter back.
    kit.raw(|txn| {
        let mut audit = txn.open_table(AUDIT).unwrap();
        let n = redb::ReadableTableMetadata::len(&audit).unwrap();
        for seq in before..n {
            audit.remove(seq).unwrap();
        }
        let last: crate::AuditEntry =
            decode(audit.get(before - 1).unwrap().unwrap().value(), "").unwrap();
        drop(audit);
        let head = crate::AuditHead {
            len: before,
            hash: last.hash().unwrap(),
        };
        let mut m = txn.open_table(META).unwrap();
        m.insert(meta::AUDIT_HEAD, encode(&head).unwrap().as_slice())
            .unwrap();
        m.insert(
            meta::LOCKOUTS,
            encode(&Lockouts::default()).unwrap().as_slice(),
        )
        .unwrap();
        let c: u64 = decode(m.get(meta::COUNTER).unwrap().unwrap().value(), "").unwrap();
        m.insert(meta::COUNTER, encode(&(c - 4)).unwrap().as_slice())
            .unwrap();
    });
    let err = kit.unlock("amina", PIN).unwrap_err();
    assert!(matches!(err, SignInError::RolledBack { .. }), "{err}");
}

/// Finding 6: a sign-in without GBV access after an indexer change leaves incidents' index
/// entries alone; a supervisor's sign-in rebuilds them later.
#[test]
fn f6_a_non_gbv_reindex_keeps_incidents_searchable() {
    let (kit, mut s) = kit(CredentialPolicy::default(), false);
    s.create(&incident(&s), NOW).unwrap();
    s.add_caseworker("yusuf", "Yusuf", b"555123", Role::Caseworker, false, NOW)
        .unwrap();
    drop(s);
    // A new release's indexer: every kind's entries are stale.
    kit.raw(|txn| {
        let mut m = txn.open_table(META).unwrap();
        for k in [meta::INDEXER, meta::INDEXER_INCIDENTS] {
            m.insert(k, encode(&"older-indexer".to_string()).unwrap().as_slice())
                .unwrap();
        }
    });
    let y = kit.unlock("yusuf", b"555123").unwrap();
    y.verify().unwrap();
    drop(y);
    let s = kit.unlock("amina", PIN).unwrap();
    assert_eq!(
        s.search_unaudited(RecordKind::Incident, "S-104", 5)
            .unwrap()
            .len(),
        1
    );
    s.verify().unwrap();
}

/// Finding 7: deleted rows make a case fail loudly rather than vanish from the list, search or
/// `show`.
#[test]
fn f7_deleted_rows_do_not_hide_a_case() {
    let (kit, mut s) = kit(CredentialPolicy::default(), false);
    let r = case(&s, "Amina Yusuf", 9);
    let key = crate::schema::record_key(RecordKind::Case, r.id());
    s.create(&r, NOW).unwrap();
    drop(s);
    kit.raw(|txn| {
        txn.open_table(SUMMARIES)
            .unwrap()
            .remove(key.as_slice())
            .unwrap();
        txn.open_table(RECORDS)
            .unwrap()
            .remove(key.as_slice())
            .unwrap();
    });
    let mut s = kit.unlock("amina", PIN).unwrap();
    assert!(is_tampered(s.list(RecordKind::Case, 0, 10)));
    assert!(is_tampered(s.search_unaudited(
        RecordKind::Case,
        "Yusuf",
        10
    )));
    assert!(is_tampered(s.get(RecordKind::Case, r.id(), NOW)));
}

/// Finding 10: a removed caseworker's slot, restored from an old copy, opens nothing: the
/// keys were rotated.
#[test]
fn f10_a_removed_caseworkers_restored_slot_opens_nothing_new() {
    let (kit, mut s) = kit(CredentialPolicy::default(), false);
    s.create(&case(&s, "Amina Yusuf", 9), NOW).unwrap();
    s.create(&incident(&s), NOW).unwrap();
    s.add_caseworker("yusuf", "Yusuf", b"555123", Role::Caseworker, false, NOW)
        .unwrap();
    let old_keys = {
        let y = s.lock().unlock("yusuf", b"555123", NOW).unwrap();
        let dek = y.keys.dek.clone();
        drop(y);
        dek
    };
    let mut yusuf_slot = Vec::new();
    kit.raw(|txn| {
        yusuf_slot = txn
            .open_table(KEYSLOTS)
            .unwrap()
            .get("yusuf")
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
    });
    let mut s = kit.unlock("amina", PIN).unwrap();
    s.remove_caseworker("yusuf", NOW).unwrap();
    let new = case(&s, "Omar Haddad", 11);
    s.create(&new, NOW).unwrap();
    assert_eq!(s.verify().unwrap(), 3);
    assert_ne!(s.keys.dek.expose(), old_keys.expose());
    drop(s);
    assert!(kit.unlock("yusuf", b"555123").is_err());
    kit.raw(|txn| {
        txn.open_table(KEYSLOTS)
            .unwrap()
            .insert("yusuf", yusuf_slot.as_slice())
            .unwrap();
    });
    let err = kit.unlock("yusuf", b"555123").unwrap_err();
    assert!(matches!(err, SignInError::Forbidden(_)), "{err}");
    // The planted slot is itself noticed at the next sign-in; take it out again.
    assert!(is_tampered(kit.unlock("amina", PIN)));
    kit.raw(|txn| {
        txn.open_table(KEYSLOTS).unwrap().remove("yusuf").unwrap();
    });
    // His old keys open none of today's rows.
    let old = crate::keyslot::Keys::new(old_keys, None, 0);
    let key = crate::schema::record_key(RecordKind::Case, new.id());
    kit.raw(|txn| {
        let row = crate::storage::Row::from_bytes(&read_row(txn, RECORDS, &key)).unwrap();
        assert!(
            crate::crypto::open(
                &old.records,
                &crate::schema::row_aad("records", &key, row.version),
                &row.sealed
            )
            .is_err()
        );
    });
    // Everyone else still signs in, and nothing was lost.
    let s = kit.unlock("amina", PIN).unwrap();
    assert_eq!(s.count(RecordKind::Case).unwrap(), 2);
}

/// Finding 11: the roster needs a sign-in and is audited; index buckets collide on purpose.
#[test]
fn f11_roster_is_audited_and_index_buckets_collide() {
    let (_kit, mut s) = kit(CredentialPolicy::default(), false);
    let list = s.caseworkers(NOW).unwrap();
    assert_eq!(list.len(), 1);
    assert!(
        s.audit_entries()
            .unwrap()
            .iter()
            .any(|e| matches!(e.action, AuditAction::RosterRead { .. }))
    );
    s.list_audited(RecordKind::Case, 0, 10, NOW).unwrap();
    assert!(
        s.audit_entries()
            .unwrap()
            .iter()
            .any(|e| matches!(e.action, AuditAction::List { .. }))
    );
    // 400 distinct names: a search for one of them also meets records that share no term.
    let records: Vec<Record> = (0..400)
        .map(|i| case(&s, &format!("Child{i} Family{i}"), 9))
        .collect();
    s.create_many(&records, NOW).unwrap();
    let mut false_positives = 0;
    for i in 0..20 {
        let (found, fp) = s
            .search_counted(RecordKind::Case, &format!("Child{i} Family{i}"), 10)
            .unwrap();
        assert_eq!(found.len(), 1);
        false_positives += fp;
    }
    println!(
        "coarse index: 400 records, 20 two-term searches: {false_positives} candidates shared a bucket but no term ({:.2} per search)",
        false_positives as f64 / 20.0
    );
    assert!(false_positives > 0, "no bucket held another record");
}

/// Finding 13: a key slot that asks for an absurd Argon2 cost is refused before any memory is
/// taken.
#[test]
fn f13_slot_kdf_parameters_are_range_checked() {
    let (kit, s) = kit(CredentialPolicy::default(), false);
    drop(s);
    kit.raw(|txn| {
        let mut t = txn.open_table(KEYSLOTS).unwrap();
        let bytes = t.get("amina").unwrap().unwrap().value().to_vec();
        let StoredSlot::Current(mut slot) = StoredSlot::decode(&bytes).unwrap() else {
            panic!("a new vault's slot is current");
        };
        slot.kdf.m_kib = u32::MAX;
        t.insert("amina", slot.to_bytes().unwrap().as_slice())
            .unwrap();
    });
    let err = kit.unlock("amina", PIN).unwrap_err();
    assert!(
        matches!(err, SignInError::Store(StoreError::Corrupt(_))),
        "{err}"
    );
}

/// Finding 14: wrong PINs under unknown names neither lock real caseworkers out nor count
/// toward the wipe; a global ceiling still slows guessing across names.
#[test]
fn f14_unknown_names_do_not_lock_out_or_wipe_real_caseworkers() {
    let policy = CredentialPolicy {
        wipe_after: Some(4),
        ..CredentialPolicy::default()
    };
    let (kit, mut s) = kit(policy, false);
    s.add_caseworker("yusuf", "Yusuf", b"555123", Role::Caseworker, false, NOW)
        .unwrap();
    drop(s);
    for name in ["nobody", "child", "x1"] {
        for _ in 0..3 {
            assert!(matches!(
                kit.unlock(name, b"000000"),
                Err(SignInError::WrongCredential { .. })
            ));
        }
    }
    // Nine failures under unknown names: no wipe, and Amina signs in at once.
    kit.unlock("amina", PIN).unwrap();
    // Three under Yusuf's name slow Yusuf, not Amina.
    for _ in 0..3 {
        let _ = kit.unlock("yusuf", b"000000");
    }
    assert!(matches!(
        kit.unlock("yusuf", b"555123"),
        Err(SignInError::LockedOut { .. })
    ));
    kit.unlock("amina", PIN).unwrap();
    // Twelve across names reach the global ceiling.
    for i in 0..12 {
        let _ = kit.unlock(&format!("guess{i}"), b"000000");
    }
    assert!(matches!(
        kit.unlock("amina", PIN),
        Err(SignInError::LockedOut { .. })
    ));
}

/// The sealed manifest is keyed: the same records under another key give another sum.
#[test]
fn f13_the_manifest_is_keyed() {
    let key = [1u8; 17];
    let mut a = crate::manifest::Manifest::default();
    let mut b = crate::manifest::Manifest::default();
    a.add(&crate::Key::from_bytes([1; 32]), &key, 1);
    b.add(&crate::Key::from_bytes([2; 32]), &key, 1);
    assert_ne!(a, b);
    a.remove(&crate::Key::from_bytes([1; 32]), &key, 1);
    assert_eq!(a, crate::manifest::Manifest::default());
}

/// A boot clock stopped at one reading, as if the attempts came within a second.
struct StoppedBootClock;

impl crate::BootClock for StoppedBootClock {
    fn now(&self) -> Option<crate::Uptime> {
        Some(crate::Uptime {
            boot_id: [1; 16],
            since_boot_ms: 5_000,
        })
    }
}

/// Finding 9 (wired here): moving the wall clock a day forward does not skip the lockout's
/// wait when the boot clock says only a moment passed.
#[test]
fn f9_waits_are_measured_on_the_boot_clock() {
    let (kit, s) = kit(CredentialPolicy::default(), false);
    drop(s);
    let opts = OpenOptions {
        boot_clock: Arc::new(StoppedBootClock),
        ..kit.opts()
    };
    for _ in 0..3 {
        let _ = Vault::open(&kit.path, opts.clone())
            .unwrap()
            .unlock("amina", b"000000", NOW);
    }
    let day_later = NOW + 86_400_000;
    assert!(matches!(
        Vault::open(&kit.path, opts)
            .unwrap()
            .unlock("amina", PIN, day_later),
        Err(SignInError::LockedOut { .. })
    ));
}

/// A schema 2 vault (legacy key slots, one lockout counter, the XOR manifest, no versions
/// table or sealed state) migrates at its first sign-in: nothing is lost, the slot is rewritten
/// in the current format, and a record deleted before the migration is still caught by the old
/// manifest.
#[test]
fn a_schema_2_vault_migrates_at_sign_in() {
    use crate::keyslot::{LegacySlot, legacy_aad};
    use crate::migrate::LegacyManifest;

    let (kit, mut s) = kit(CredentialPolicy::default(), false);
    let a = case(&s, "Amina Yusuf", 9);
    let b = case(&s, "Omar Haddad", 11);
    s.create(&a, NOW).unwrap();
    s.create(&b, NOW).unwrap();
    let (dek, iek) = (s.keys.dek.clone(), s.keys.iek.clone().unwrap());
    let vault_id = s.vault.vault_id;
    let manifest_key = s.keys.manifest.clone();
    drop(s);
    // Rewrite the file as schema 2 wrote it.
    let downgrade = |drop_record: bool| {
        kit.raw(|txn| {
            let mut legacy = LegacySlot {
                username: "amina".into(),
                display_name: "Amina K.".into(),
                role: Role::Supervisor,
                incident_access: true,
                salt: [5; 16],
                kdf: crate::KdfParams::FLOOR,
                dek: crate::crypto::seal(&crate::Key::from_bytes([0; 32]), b"", b"").unwrap(),
                iek: None,
            };
            let kek = crate::crypto::credential_kek(PIN, &legacy.salt, legacy.kdf, None).unwrap();
            legacy.dek =
                crate::crypto::seal(&kek, &legacy_aad(&vault_id, &legacy, "dek"), dek.expose())
                    .unwrap();
            legacy.iek = Some(
                crate::crypto::seal(&kek, &legacy_aad(&vault_id, &legacy, "iek"), iek.expose())
                    .unwrap(),
            );
            txn.open_table(KEYSLOTS)
                .unwrap()
                .insert("amina", encode(&legacy).unwrap().as_slice())
                .unwrap();
            if drop_record {
                let key = crate::schema::record_key(RecordKind::Case, b.id());
                txn.open_table(RECORDS)
                    .unwrap()
                    .remove(key.as_slice())
                    .unwrap();
            }
            let mut old = LegacyManifest::default();
            for (key, version) in [(a.id(), 1u64), (b.id(), 1)] {
                old.records += 1;
                old.toggle(&crate::schema::record_key(RecordKind::Case, key), version);
            }
            let sealed =
                crate::crypto::seal(&manifest_key, b"fieldkit/manifest", &encode(&old).unwrap())
                    .unwrap();
            txn.delete_table(VERSIONS).unwrap();
            let mut m = txn.open_table(META).unwrap();
            m.insert(meta::MANIFEST, encode(&sealed).unwrap().as_slice())
                .unwrap();
            m.insert(meta::SCHEMA, encode(&2u32).unwrap().as_slice())
                .unwrap();
            m.insert(
                meta::INDEXER,
                encode(&"basic-1".to_string()).unwrap().as_slice(),
            )
            .unwrap();
            #[derive(serde::Serialize)]
            struct OldLockout {
                failures: u32,
                last_attempt_ms: u64,
                wiped: bool,
            }
            let old_lockout = OldLockout {
                failures: 1,
                last_attempt_ms: NOW,
                wiped: false,
            };
            m.insert(meta::LOCKOUT, encode(&old_lockout).unwrap().as_slice())
                .unwrap();
            for k in [
                meta::STATE,
                meta::MODE,
                meta::COUNTER,
                meta::EPOCH,
                meta::LOCKOUTS,
                meta::INDEXER_INCIDENTS,
            ] {
                m.remove(k).unwrap();
            }
        });
    };
    let pristine = kit.copy();
    downgrade(false);
    let mut s = kit.unlock("amina", PIN).unwrap();
    assert_eq!(s.verify().unwrap(), 2);
    assert_eq!(s.get(RecordKind::Case, a.id(), NOW).unwrap().version, 1);
    assert_eq!(
        s.search_unaudited(RecordKind::Case, "Haddad", 5)
            .unwrap()
            .len(),
        1
    );
    drop(s);
    kit.raw(|txn| {
        let t = txn.open_table(KEYSLOTS).unwrap();
        let row = t.get("amina").unwrap().unwrap();
        assert!(matches!(
            StoredSlot::decode(row.value()).unwrap(),
            StoredSlot::Current(_)
        ));
    });
    kit.unlock("amina", PIN).unwrap();
    // A record deleted from a schema 2 file is caught by its old manifest during migration.
    kit.put_back(&pristine);
    downgrade(true);
    assert!(is_tampered(kit.unlock("amina", PIN)));
}

/// Photos: a flipped byte, a row moved to another case or slot, or a thumbnail put in a
/// photo's place is refused as tampered; `verify` catches each too; a key rotation re-seals
/// them so they still open.
#[test]
fn photos_refuse_flips_and_swaps() {
    use crate::photos::{PHOTOS, THUMBS};
    use crate::{NewPhoto, PhotoError};
    let (k, mut s) = kit(CredentialPolicy::default(), false);
    let a = case(&s, "Amina Yusuf", 9);
    let b = case(&s, "Omar Yusuf", 7);
    s.create(&a, NOW).unwrap();
    s.create(&b, NOW).unwrap();
    let image: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let thumb = vec![9u8; 300];
    let photo = NewPhoto {
        image: &image,
        media_type: "image/jpeg",
        width: 64,
        height: 48,
        thumbnail: &thumb,
    };
    let pa = s
        .attach_photo(RecordKind::Case, a.id(), &photo, NOW)
        .unwrap();
    let pa2 = s
        .attach_photo(RecordKind::Case, a.id(), &photo, NOW)
        .unwrap();
    let pb = s
        .attach_photo(RecordKind::Case, b.id(), &photo, NOW)
        .unwrap();
    assert_eq!((pa.slot, pa2.slot, pb.slot), (1, 2, 1));
    assert_eq!(
        *s.photo(RecordKind::Case, a.id(), 1, NOW).unwrap().image,
        image
    );
    assert_eq!(s.verify().unwrap(), 2);
    // Not for other kinds; not over the limit; not for a case the vault does not hold.
    assert!(matches!(
        s.attach_photo(RecordKind::TracingRequest, a.id(), &photo, NOW),
        Err(PhotoError::NotACase(_))
    ));
    let big = vec![0u8; crate::MAX_PHOTO_BYTES + 1];
    assert!(matches!(
        s.attach_photo(
            RecordKind::Case,
            a.id(),
            &NewPhoto {
                image: &big,
                ..photo
            },
            NOW
        ),
        Err(PhotoError::TooLarge { what: "photo", .. })
    ));
    let stranger = s.mint_id(NOW).unwrap();
    assert!(matches!(
        s.attach_photo(RecordKind::Case, stranger, &photo, NOW),
        Err(PhotoError::NotFound { .. })
    ));
    let user = s.caseworker().username.clone();
    drop(s);

    let key = |id: fieldkit_domain::RecordId, slot: u32| {
        let mut v = crate::schema::record_key(RecordKind::Case, id).to_vec();
        v.extend_from_slice(&slot.to_be_bytes());
        v
    };
    let (ka1, ka2, kb1) = (key(a.id(), 1), key(a.id(), 2), key(b.id(), 1));
    let clean = k.copy();
    let tampered = |e: PhotoError| matches!(e, PhotoError::Store(StoreError::Tampered { .. }));

    // A flipped byte in the photo, then in the thumbnail.
    for (table, at) in [(PHOTOS, 100usize), (THUMBS, 40)] {
        k.raw(|txn| {
            let mut row = read_row(txn, table, &ka1);
            row[at] ^= 0x04;
            txn.open_table(table)
                .unwrap()
                .insert(ka1.as_slice(), row.as_slice())
                .unwrap();
        });
        let mut s = k.unlock(&user, PIN).unwrap();
        let e = match s.photo(RecordKind::Case, a.id(), 1, NOW) {
            Err(e) => e,
            Ok(_) => panic!("a flipped byte was accepted"),
        };
        assert!(tampered(e));
        assert!(matches!(
            s.verify(),
            Err(crate::CheckError::Store(StoreError::Tampered { .. }))
        ));
        drop(s);
        k.put_back(&clean);
    }

    // Case b's photo moved to case a's slot 1; slot 2 moved to slot 1; a thumbnail in the
    // photo's place.
    type Rows = TableDefinition<'static, &'static [u8], &'static [u8]>;
    let moves: [(&[u8], Rows, &[u8], Rows); 3] = [
        (&kb1, PHOTOS, &ka1, PHOTOS),
        (&ka2, PHOTOS, &ka1, PHOTOS),
        (&ka1, THUMBS, &ka1, PHOTOS),
    ];
    for (from, from_table, to, to_table) in moves {
        k.raw(|txn| {
            let row = read_row(txn, from_table, from);
            txn.open_table(to_table)
                .unwrap()
                .insert(to, row.as_slice())
                .unwrap();
        });
        let mut s = k.unlock(&user, PIN).unwrap();
        assert!(
            s.photo(RecordKind::Case, a.id(), 1, NOW)
                .is_err_and(tampered)
        );
        assert!(s.verify().is_err());
        drop(s);
        k.put_back(&clean);
    }
    // The thumbnails of a list: b's thumbnail put under a's key is refused too.
    k.raw(|txn| {
        let row = read_row(txn, THUMBS, &kb1);
        txn.open_table(THUMBS)
            .unwrap()
            .insert(ka1.as_slice(), row.as_slice())
            .unwrap();
    });
    let s = k.unlock(&user, PIN).unwrap();
    assert!(
        s.photo_thumbnails(RecordKind::Case, a.id(), 8)
            .is_err_and(tampered)
    );
    drop(s);
    k.put_back(&clean);

    // Removal, and the audit of every photo operation.
    let mut s = k.unlock(&user, PIN).unwrap();
    s.remove_photo(RecordKind::Case, a.id(), 1, NOW).unwrap();
    assert!(matches!(
        s.photo(RecordKind::Case, a.id(), 1, NOW),
        Err(PhotoError::NoSuchPhoto(1))
    ));
    let left: Vec<u32> = s
        .photo_thumbnails(RecordKind::Case, a.id(), 8)
        .unwrap()
        .iter()
        .map(|t| t.info.slot)
        .collect();
    assert_eq!(left, [2]);
    // A new photo never takes a removed slot back while the case holds a later one.
    let p = s
        .attach_photo(RecordKind::Case, a.id(), &photo, NOW)
        .unwrap();
    assert_eq!(p.slot, 3);
    let actions: Vec<AuditAction> = s
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for want in [
        AuditAction::PhotoAdded { slot: 1 },
        AuditAction::PhotoOpened { slot: 1 },
        AuditAction::PhotoRemoved { slot: 1 },
    ] {
        assert!(actions.contains(&want), "{want:?} not audited");
    }
    assert_eq!(s.verify().unwrap(), 2);
}

/// Removing a caseworker rotates the keys: every photo is sealed again and still opens.
#[test]
fn photos_survive_a_key_rotation() {
    use crate::NewPhoto;
    let (_k, mut s) = kit(CredentialPolicy::default(), false);
    let a = case(&s, "Amina Yusuf", 9);
    s.create(&a, NOW).unwrap();
    let image = vec![42u8; 2000];
    let photo = NewPhoto {
        image: &image,
        media_type: "image/jpeg",
        width: 10,
        height: 10,
        thumbnail: &image[..100],
    };
    s.attach_photo(RecordKind::Case, a.id(), &photo, NOW)
        .unwrap();
    s.add_caseworker("omar", "Omar", PIN, Role::Caseworker, false, NOW)
        .unwrap();
    s.remove_caseworker("omar", NOW).unwrap();
    assert_eq!(
        *s.photo(RecordKind::Case, a.id(), 1, NOW).unwrap().image,
        image
    );
    assert_eq!(s.verify().unwrap(), 1);
}

/// A small photo whose bytes tell it apart (`seed`).
fn test_photo(seed: u8) -> (Vec<u8>, Vec<u8>) {
    let image: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8 ^ seed).collect();
    let thumb: Vec<u8> = (0..200u32).map(|i| (i % 13) as u8 ^ seed).collect();
    (image, thumb)
}

fn attach(s: &mut Session, id: fieldkit_domain::RecordId, seed: u8) -> crate::PhotoInfo {
    let (image, thumb) = test_photo(seed);
    let photo = crate::NewPhoto {
        image: &image,
        media_type: "image/jpeg",
        width: 64,
        height: 48,
        thumbnail: &thumb,
    };
    s.attach_photo(RecordKind::Case, id, &photo, NOW).unwrap()
}

fn photo_key_of(id: fieldkit_domain::RecordId, slot: u32) -> Vec<u8> {
    let mut v = crate::schema::record_key(RecordKind::Case, id).to_vec();
    v.extend_from_slice(&slot.to_be_bytes());
    v
}

/// Photos under the sealed manifest: a photo removed behind the vault's back, or replaced by
/// the older photo its slot held before (rows copied from an older copy of the file), is
/// refused at sign-in when its version went with it, and by `verify` (and on opening it) when
/// only its rows did. Without the photo versions in the manifest, both sign-ins passed.
#[test]
fn a_photo_removed_or_put_back_older_is_caught_at_sign_in_and_by_verify() {
    use crate::photos::{PHOTO_VERSIONS, PHOTOS, THUMBS};
    let (k, mut s) = kit(CredentialPolicy::default(), false);
    let a = case(&s, "Amina Yusuf", 9);
    s.create(&a, NOW).unwrap();
    assert_eq!(attach(&mut s, a.id(), 1).slot, 1);
    let user = s.caseworker().username.clone();
    drop(s);
    let older = k.copy();
    // The older photo is removed and another takes its slot.
    let mut s = k.unlock(&user, PIN).unwrap();
    s.remove_photo(RecordKind::Case, a.id(), 1, NOW).unwrap();
    assert_eq!(attach(&mut s, a.id(), 2).slot, 1);
    assert_eq!(s.verify().unwrap(), 1);
    drop(s);
    let current = k.copy();
    let ka1 = photo_key_of(a.id(), 1);
    let older_rows = {
        std::fs::write(&k.path, &older).unwrap();
        let db = redb::Database::open(&k.path).unwrap();
        let txn = db.begin_write().unwrap();
        let rows = (
            read_row(&txn, PHOTOS, &ka1),
            read_row(&txn, THUMBS, &ka1),
            txn.open_table(PHOTO_VERSIONS)
                .unwrap()
                .get(ka1.as_slice())
                .unwrap()
                .unwrap()
                .value(),
        );
        drop(txn);
        rows
    };
    let put_rows = |txn: &redb::WriteTransaction| {
        let (photo, thumb, _) = &older_rows;
        for (table, row) in [(PHOTOS, photo), (THUMBS, thumb)] {
            txn.open_table(table)
                .unwrap()
                .insert(ka1.as_slice(), row.as_slice())
                .unwrap();
        }
    };
    let is_photo_tampered =
        |e: crate::PhotoError| matches!(e, crate::PhotoError::Store(StoreError::Tampered { .. }));

    // The older photo's rows alone: sign-in passes (the versions are the current ones), but
    // the rows are sealed at another version: opening it and `verify` refuse it.
    k.put_back(&current);
    k.raw(put_rows);
    let mut s = k.unlock(&user, PIN).unwrap();
    assert!(
        s.photo(RecordKind::Case, a.id(), 1, NOW)
            .is_err_and(is_photo_tampered)
    );
    assert!(is_tampered(s.verify()));
    drop(s);

    // The older photo's rows and its version: the manifest no longer adds up at sign-in.
    k.put_back(&current);
    k.raw(|txn| {
        put_rows(txn);
        txn.open_table(PHOTO_VERSIONS)
            .unwrap()
            .insert(ka1.as_slice(), older_rows.2)
            .unwrap();
    });
    assert!(is_tampered(k.unlock(&user, PIN)));

    let remove_rows = |txn: &redb::WriteTransaction, with_version: bool| {
        for table in [PHOTOS, THUMBS] {
            txn.open_table(table)
                .unwrap()
                .remove(ka1.as_slice())
                .unwrap();
        }
        if with_version {
            txn.open_table(PHOTO_VERSIONS)
                .unwrap()
                .remove(ka1.as_slice())
                .unwrap();
        }
    };
    // The photo removed with its version: refused at sign-in.
    k.put_back(&current);
    k.raw(|txn| remove_rows(txn, true));
    assert!(is_tampered(k.unlock(&user, PIN)));

    // Its rows removed, its version left: `verify` finds the photo missing.
    k.put_back(&current);
    k.raw(|txn| remove_rows(txn, false));
    let s = k.unlock(&user, PIN).unwrap();
    assert!(is_tampered(s.verify()));
    drop(s);

    // Untouched, it opens as the newer photo.
    k.put_back(&current);
    let mut s = k.unlock(&user, PIN).unwrap();
    assert_eq!(
        *s.photo(RecordKind::Case, a.id(), 1, NOW).unwrap().image,
        test_photo(2).0
    );
    assert_eq!(s.verify().unwrap(), 1);
}

/// A schema 3 vault (photo rows without versions, photos outside the manifest) is brought to
/// schema 4 at sign-in: its photos sealed again at fresh versions, under the manifest.
#[test]
fn schema_3_photos_are_sealed_at_versions_at_sign_in() {
    use crate::photos::{PHOTO_VERSIONS, PHOTOS, THUMBS};
    let (k, mut s) = kit(CredentialPolicy::default(), false);
    let a = case(&s, "Amina Yusuf", 9);
    s.create(&a, NOW).unwrap();
    attach(&mut s, a.id(), 3);
    attach(&mut s, a.id(), 4);
    // Make it what schema 3 wrote: rows sealed without a version, no versions table, a
    // manifest of the records alone.
    let txn = crate::storage::begin(&s.vault.db).unwrap();
    let mut manifest = s.manifest;
    for slot in [1u32, 2] {
        let k21: [u8; 21] = photo_key_of(a.id(), slot).try_into().unwrap();
        let version = txn
            .open_table(PHOTO_VERSIONS)
            .unwrap()
            .remove(k21.as_slice())
            .unwrap()
            .unwrap()
            .value();
        manifest.remove_photo(&s.keys.manifest, &k21, version);
        for (name, table) in [("photos", PHOTOS), ("photo_thumbs", THUMBS)] {
            let row = read_row(&txn, table, &k21);
            let plain = crate::photos::tests_open_row(&s.keys.photos, name, &k21, version, &row);
            let legacy = crate::photos::tests_seal_row(&s.keys.photos, name, &k21, 0, &plain);
            txn.open_table(table)
                .unwrap()
                .insert(k21.as_slice(), legacy.as_slice())
                .unwrap();
        }
    }
    crate::storage::write_meta(&txn, meta::SCHEMA, &3u32).unwrap();
    s.commit_with(txn, manifest).unwrap();
    let user = s.caseworker().username.clone();
    drop(s);

    let mut s = k.unlock(&user, PIN).unwrap();
    assert_eq!(
        *s.photo(RecordKind::Case, a.id(), 2, NOW).unwrap().image,
        test_photo(4).0
    );
    assert_eq!(s.verify().unwrap(), 1);
    drop(s);
    let db = redb::Database::open(&k.path).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(META).unwrap();
    let schema: u32 = decode(t.get(meta::SCHEMA).unwrap().unwrap().value(), "schema").unwrap();
    assert_eq!(schema, crate::SCHEMA_VERSION);
    assert_eq!(
        redb::ReadableTableMetadata::len(&txn.open_table(PHOTO_VERSIONS).unwrap()).unwrap(),
        2
    );
}

/// Backups carry photos: a vault put back from an older copy gets the later records and every
/// photo back from a bundle (sealed: the image is nowhere in the clear), once; a bundle of the
/// format before photos (2) still restores its records.
#[test]
fn bundles_carry_photos_and_older_bundles_still_restore() {
    let (k, mut s) = kit(CredentialPolicy::default(), false);
    let a = case(&s, "Amina Yusuf", 9);
    s.create(&a, NOW).unwrap();
    let user = s.caseworker().username.clone();
    drop(s);
    let older = k.copy();
    let mut s = k.unlock(&user, PIN).unwrap();
    let b = case(&s, "Omar Yusuf", 7);
    s.create(&b, NOW).unwrap();
    attach(&mut s, a.id(), 5);
    attach(&mut s, b.id(), 6);
    attach(&mut s, b.id(), 7);
    let bundle = s.export_bundle(NOW).unwrap();
    let (image, thumb) = test_photo(6);
    assert!(!bundle.windows(64).any(|w| w == &image[..64]));
    assert!(!bundle.windows(64).any(|w| w == &thumb[..64]));
    let docs: Vec<fieldkit_domain::Document> = s
        .documents(RecordKind::Case)
        .unwrap()
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let format2 = crate::bundle::tests_seal_format2(&s.keys.bundle, &s.vault.vault_id, &docs);
    drop(s);

    k.put_back(&older);
    let mut s = k.unlock(&user, PIN).unwrap();
    assert!(
        s.photo_thumbnails(RecordKind::Case, a.id(), 8)
            .unwrap()
            .is_empty()
    );
    let got = s.import_bundle(&bundle, NOW).unwrap();
    assert_eq!((got.records, got.photos), (1, 3));
    let slots: Vec<(u32, Vec<u8>)> = s
        .photo_thumbnails(RecordKind::Case, b.id(), 8)
        .unwrap()
        .into_iter()
        .map(|t| (t.info.slot, t.image.to_vec()))
        .collect();
    assert_eq!(slots, [(1, test_photo(6).1), (2, test_photo(7).1)]);
    assert_eq!(
        *s.photo(RecordKind::Case, b.id(), 2, NOW).unwrap().image,
        test_photo(7).0
    );
    assert_eq!(s.verify().unwrap(), 2);
    // Again: nothing new.
    let again = s.import_bundle(&bundle, NOW).unwrap();
    assert_eq!((again.records, again.photos), (0, 0));
    // A photo the case lacks again comes back into its slot.
    s.remove_photo(RecordKind::Case, b.id(), 1, NOW).unwrap();
    assert_eq!(s.import_bundle(&bundle, NOW).unwrap().photos, 1);
    assert_eq!(
        *s.photo(RecordKind::Case, b.id(), 1, NOW).unwrap().image,
        test_photo(6).0
    );
    // A photo dropped from the bundle is noticed.
    let mut cut = bundle.clone();
    cut.truncate(bundle.len() - 5);
    assert!(s.import_bundle(&cut, NOW).is_err());
    drop(s);

    k.put_back(&older);
    let mut s = k.unlock(&user, PIN).unwrap();
    let got = s.import_bundle(&format2, NOW).unwrap();
    assert_eq!((got.records, got.photos), (1, 0));
    assert_eq!(s.verify().unwrap(), 2);
}

/// The frames of a format 4 bundle: (start, end) of each, after the 41-byte header.
fn frames_of(bundle: &[u8]) -> Vec<(usize, usize)> {
    let mut at = 41;
    let mut out = Vec::new();
    while at < bundle.len() {
        let len = u32::from_le_bytes(bundle[at + 1..at + 5].try_into().unwrap()) as usize;
        out.push((at, at + 5 + len));
        at += 5 + len;
    }
    out
}

/// A large photo (the vault does not decode images; its bytes tell it apart).
fn big_photo(seed: u32) -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed as u8)
        .collect()
}

/// A bundle of many records and large photos is written to a file as a stream of sealed
/// frames (records in many chunks, a frame per photo) and restored from the file into a vault
/// put back from before them; a bundle cut, reordered, spliced with another bundle's frame or
/// with bytes after its end changes nothing; a format 3 bundle still restores.
#[test]
fn a_large_bundle_streams_to_a_file_and_round_trips() {
    let (k, s) = kit(CredentialPolicy::default(), false);
    let user = s.caseworker().username.clone();
    drop(s);
    let empty = k.copy();
    let mut s = k.unlock(&user, PIN).unwrap();
    let cases: Vec<Record> = (0..400)
        .map(|i| case(&s, &format!("Child number {i} Abdi"), 3 + i % 14))
        .collect();
    let mut tx = s.begin().unwrap();
    tx.create_many(&cases, NOW).unwrap();
    tx.commit().unwrap();
    s.create(&incident(&s), NOW).unwrap();
    for (n, c) in cases.iter().take(12).enumerate() {
        let image = big_photo(n as u32);
        let photo = crate::NewPhoto {
            image: &image,
            media_type: "image/jpeg",
            width: 640,
            height: 480,
            thumbnail: &image[..20_000],
        };
        s.attach_photo(RecordKind::Case, c.id(), &photo, NOW)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.fkb");
    // Chunks of 8 KiB of records: many record frames from a small vault.
    let written = s
        .export_stream(
            std::io::BufWriter::new(std::fs::File::create(&file).unwrap()),
            NOW,
            8 << 10,
        )
        .unwrap();
    assert_eq!((written.records, written.photos), (401, 12));
    let bundle = std::fs::read(&file).unwrap();
    assert_eq!(written.bytes, bundle.len() as u64);
    assert!(bundle.len() > 12 * 300_000);
    assert!(!bundle.windows(12).any(|w| w == b"Child number"));
    let photo3 = big_photo(3);
    assert!(!bundle.windows(64).any(|w| w == &photo3[1000..1064]));
    let frames = frames_of(&bundle);
    assert_eq!(frames.last().unwrap().1, bundle.len());
    let record_frames = frames.iter().filter(|(a, _)| bundle[*a] == 1).count();
    assert!(record_frames > 5, "{record_frames} record frames");
    let other = s.export_bundle(NOW).unwrap();
    let mut carried = Vec::new();
    s.each_carried_photo(|c| {
        carried.push(c);
        Ok(())
    })
    .unwrap();
    let docs: Vec<fieldkit_domain::Document> = RecordKind::ALL
        .iter()
        .flat_map(|k| s.documents(*k).unwrap())
        .map(|(d, _)| d)
        .collect();
    let format3 = crate::bundle::tests_seal_format3(
        &crate::bundle::BundleKeys {
            records: &s.keys.bundle,
            incidents: s.keys.incident_bundle.as_ref(),
        },
        &s.vault.vault_id,
        &docs,
        &carried,
    )
    .unwrap();
    drop(carried);
    drop(s);

    k.put_back(&empty);
    let mut s = k.unlock(&user, PIN).unwrap();
    let refused = |s: &mut Session, b: &[u8], why: &str| {
        let got = s.import_bundle(b, NOW);
        assert!(
            matches!(got, Err(ExchangeError::BadBundle(_))),
            "{why}: {got:?}"
        );
        assert_eq!(
            s.count(RecordKind::Case).unwrap(),
            0,
            "{why}: nothing merged"
        );
    };
    // Cut before its end frame, even at a frame's boundary.
    let (last, _) = *frames.last().unwrap();
    refused(&mut s, &bundle[..last], "cut at the end frame");
    refused(&mut s, &bundle[..frames[3].0], "cut at a boundary");
    refused(&mut s, &bundle[..bundle.len() - 1], "cut inside");
    // Two record frames swapped.
    let (a, b) = (frames[1], frames[2]);
    let mut swapped = bundle[..a.0].to_vec();
    swapped.extend_from_slice(&bundle[b.0..b.1]);
    swapped.extend_from_slice(&bundle[a.0..a.1]);
    swapped.extend_from_slice(&bundle[b.1..]);
    refused(&mut s, &swapped, "reordered");
    // A frame of another bundle of the same vault in its place.
    let theirs = frames_of(&other)[0];
    let mut spliced = bundle[..frames[0].0].to_vec();
    spliced.extend_from_slice(&other[theirs.0..theirs.1]);
    spliced.extend_from_slice(&bundle[frames[0].1..]);
    refused(&mut s, &spliced, "spliced");
    let mut longer = bundle.clone();
    longer.push(0);
    refused(&mut s, &longer, "bytes after the end");
    let mut dropped = bundle[..frames[2].0].to_vec();
    dropped.extend_from_slice(&bundle[frames[2].1..]);
    refused(&mut s, &dropped, "a frame dropped");

    // Whole: from the file, as a stream.
    let got = s
        .import_bundle_from(
            std::io::BufReader::new(std::fs::File::open(&file).unwrap()),
            NOW,
        )
        .unwrap();
    assert_eq!((got.records, got.photos), (401, 12));
    assert_eq!(s.count(RecordKind::Case).unwrap(), 400);
    assert_eq!(s.count(RecordKind::Incident).unwrap(), 1);
    assert_eq!(
        *s.photo(RecordKind::Case, cases[3].id(), 1, NOW)
            .unwrap()
            .image,
        big_photo(3)
    );
    assert_eq!(s.verify().unwrap(), 401);
    let again = s.import_bundle(&bundle, NOW).unwrap();
    assert_eq!((again.records, again.photos), (0, 0));
    drop(s);

    // The format before streaming still restores.
    k.put_back(&empty);
    let mut s = k.unlock(&user, PIN).unwrap();
    let got = s.import_bundle(&format3, NOW).unwrap();
    assert_eq!((got.records, got.photos), (401, 12));
    assert_eq!(s.verify().unwrap(), 401);
}

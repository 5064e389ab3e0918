//! What sync keeps in the vault: sealed named values and the queue of records to send.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_vault::{
    CredentialPolicy, InitOptions, OpenOptions, Queued, Role, Session, SyncWrite, Vault,
};

const NOW: u64 = 1_764_500_000_000;
const PIN: &[u8] = b"482915";

fn init(dir: &Path) -> Session {
    Vault::create(
        &Vault::file_in(dir),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap()
    .0
}

fn reopen(dir: &Path, user: &str, pin: &[u8]) -> Session {
    Vault::open(&Vault::file_in(dir), OpenOptions::default())
        .unwrap()
        .unlock(user, pin, NOW)
        .unwrap()
}

fn q(id: u8, version: u64, rank: u8, from_hub: bool) -> Queued {
    Queued {
        kind: RecordKind::Case,
        id: RecordId::from_bytes([id; 16]),
        version,
        rank,
        from_hub,
        whole: false,
    }
}

#[test]
fn values_are_sealed_survive_a_reopen_and_a_key_rotation() {
    let d = tempfile::tempdir().unwrap();
    let s = init(d.path());
    let secret = [0x5Au8; 32];
    assert!(s.sync_value("identity").unwrap().is_none());
    assert!(s.lock().sync_public().unwrap().is_none());
    let mut s = reopen(d.path(), "amina", PIN);
    s.sync_write(&SyncWrite {
        put: vec![("identity", &secret), ("counter", b"64")],
        public: Some([7; 32]),
        ..SyncWrite::default()
    })
    .unwrap();
    s.add_caseworker("yusuf", "Yusuf", b"555123", Role::Caseworker, false, NOW)
        .unwrap();
    let v = s.lock();
    assert_eq!(v.sync_public().unwrap(), Some([7; 32]));
    drop(v);
    // The secret is not in the file in the clear.
    let file = std::fs::read(Vault::file_in(d.path())).unwrap();
    assert!(!file.windows(32).any(|w| w == secret));

    // Removing a caseworker rotates the keys: the values are sealed again and still read.
    let mut s = reopen(d.path(), "amina", PIN);
    s.queue_outgoing(&[q(1, 3, 2, false)]).unwrap();
    s.remove_caseworker("yusuf", NOW).unwrap();
    drop(s);
    let mut s = reopen(d.path(), "amina", PIN);
    assert_eq!(
        s.sync_value("identity").unwrap().unwrap().as_slice(),
        secret
    );
    assert_eq!(s.queued(10).unwrap(), vec![q(1, 3, 2, false)]);
    s.sync_write(&SyncWrite {
        remove: vec!["counter"],
        ..SyncWrite::default()
    })
    .unwrap();
    assert!(s.sync_value("counter").unwrap().is_none());
    s.sync_write(&SyncWrite {
        put: vec![("hub/kit/a", b"1"), ("hub/kit/b", b"2"), ("hub0", b"3")],
        ..SyncWrite::default()
    })
    .unwrap();
    assert_eq!(s.sync_names("hub/").unwrap(), ["hub/kit/a", "hub/kit/b"]);
    assert!(s.sync_value("").is_err());
}

#[test]
fn the_queue_sends_urgent_first_and_keeps_what_was_saved_again() {
    let d = tempfile::tempdir().unwrap();
    let mut s = init(d.path());
    s.queue_outgoing(&[q(1, 1, 0, false), q(2, 1, 3, false), q(3, 1, 1, true)])
        .unwrap();
    // Saved again: the higher version and rank stay; `from_hub` only while every save was,
    // `whole` once asked.
    s.queue_outgoing(&[
        q(1, 2, 2, false),
        q(3, 2, 0, false),
        Queued {
            whole: true,
            ..q(2, 1, 0, false)
        },
    ])
    .unwrap();
    // Incidents never leave the kit by sync.
    s.queue_outgoing(&[Queued {
        kind: RecordKind::Incident,
        ..q(4, 1, 3, false)
    }])
    .unwrap();
    let got = s.queued(10).unwrap();
    let whole2 = Queued {
        whole: true,
        ..q(2, 1, 3, false)
    };
    assert_eq!(got, vec![whole2, q(1, 2, 2, false), q(3, 2, 1, false)]);
    assert_eq!(s.queued(1).unwrap().len(), 1);
    // Taken into the outbox at version 1, but record 1 was saved again (version 2) meanwhile.
    s.sync_write(&SyncWrite {
        dequeue: vec![q(2, 1, 3, false), q(1, 1, 2, false)],
        ..SyncWrite::default()
    })
    .unwrap();
    drop(s);
    let s = reopen(d.path(), "amina", PIN);
    assert_eq!(
        s.queued(10).unwrap(),
        vec![q(1, 2, 2, false), q(3, 2, 1, false)]
    );
}

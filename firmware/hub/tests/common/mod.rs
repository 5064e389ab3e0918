//! Kits as sans-IO endpoints and the records of a separated child and her mother's request,
//! shared by the hub's tests and its bench.
#![allow(dead_code)]

use std::convert::Infallible;

use fieldkit_domain::{
    Case, Date, DeviceId, Document, Hlc, Op, Record, RecordId, RecordKind, Sex, Trace,
    TracingRequest,
};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Body, Priority};
use fieldkit_sync::seal::{Channel, KitId, LinkKeys, StaticKey};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Session, Vault};
use x25519_dalek::PublicKey;

pub const NOW: u64 = 1_780_000_000_000;
pub const PIN: &[u8] = b"482915";

/// A new hub vault, signed in as its coordinator.
pub fn hub_vault(dir: &std::path::Path) -> Session {
    let (s, _) = Vault::create(
        &dir.join("hub.redb"),
        InitOptions {
            username: "coord",
            display_name: "Coordinator",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    s
}

/// A hub on a new vault in `dir`, with kits A (seed 0x0A) and B (0x0B) of one agency enrolled.
pub fn hub_with_two_kits(dir: &std::path::Path) -> (fieldkit_hub::HubService, KitEnd, KitEnd) {
    let mut session = hub_vault(dir);
    let hub_public = fieldkit_hub::init(&mut session).unwrap();
    let mut hub = fieldkit_hub::HubService::open(session, NOW).unwrap();
    let a = KitEnd::new(0x0A, hub_public);
    let b = KitEnd::new(0x0B, hub_public);
    hub.enroll(a.public(), "unicef", "kit A", NOW).unwrap();
    hub.enroll(b.public(), "unicef", "kit B", NOW).unwrap();
    (hub, a, b)
}

pub fn reopen(dir: &std::path::Path) -> Session {
    Vault::open(&dir.join("hub.redb"), OpenOptions::default())
        .unwrap()
        .unlock("coord", PIN, NOW)
        .unwrap()
}

/// A kit on a new vault of its own (in the directory returned), with `config`, provisioned
/// for the hub and given the sync outbox hook; its public key, to enroll.
pub fn provisioned_kit(
    config: fieldkit_app::KitConfig,
    hub: PublicKey,
    label: &str,
) -> (fieldkit_app::Kit, PublicKey, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (session, _) = Vault::create(
        &Vault::file_in(dir.path()),
        InitOptions {
            username: "amina",
            display_name: "Amina K.",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms: NOW,
        },
        OpenOptions::default(),
    )
    .unwrap();
    let mut kit = fieldkit_app::Kit::open(session, config, NOW).unwrap();
    let public = fieldkit_kitsync::KitSync::provision(
        kit.session_mut(),
        &fieldkit_kitsync::Provision {
            hub_public: hub,
            hub_address: "",
            agency: "unicef",
            label,
        },
    )
    .unwrap();
    assert!(fieldkit_kitsync::attach(&mut kit).unwrap());
    (kit, public, dir)
}

/// A kit's end of the link, with what it received.
pub struct KitEnd {
    pub key: StaticKey,
    pub id: KitId,
    pub endpoint: Endpoint,
    pub counter_limit: u64,
    pub received: Vec<Body>,
    /// For each message received, the code list it was coded with, if any.
    pub lists: Vec<Option<fieldkit_sync::codes::CodeDigest>>,
    /// For each message received, the form of operations it shows its sender reads, if any.
    pub forms: Vec<Option<fieldkit_sync::message::OpsForm>>,
}

impl KitEnd {
    pub fn new(seed: u8, hub: PublicKey) -> KitEnd {
        let key = StaticKey::from_bytes([seed; 32]);
        let id = KitId::of(&key.public());
        let endpoint = Endpoint::new(
            Channel::new(
                LinkKeys::for_kit(&key, &hub).unwrap(),
                SendCounter::resume(0, 16),
                ReplayWindow::default(),
            ),
            Default::default(),
            Default::default(),
        );
        KitEnd {
            key,
            id,
            endpoint,
            counter_limit: 0,
            received: Vec::new(),
            lists: Vec::new(),
            forms: Vec::new(),
        }
    }

    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// Every frame due now.
    pub fn frames(&mut self, now: u64, mtu: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let limit = &mut self.counter_limit;
        while let Some(f) = self
            .endpoint
            .poll_transmit(now, mtu, 20_000, Priority::Bulk, |Reservation(l)| {
                *limit = l;
                Ok::<_, Infallible>(())
            })
            .unwrap()
        {
            out.push(f);
        }
        out
    }

    pub fn take(&mut self, frames: &[Vec<u8>]) {
        for f in frames {
            if let Ok(Some(d)) = self.endpoint.handle(f)
                && let Ok(b) = d.body
            {
                self.received.push(b);
                self.lists.push(d.code_list);
                self.forms.push(d.form);
            }
        }
    }
}

pub fn ops_of(record: &Record, device: u64) -> Vec<Op> {
    let stamp = Hlc {
        wall_ms: NOW,
        counter: 0,
        device: DeviceId(device),
    };
    Document::new(record.kind(), record.id())
        .diff(&record.to_json(), || stamp)
        .unwrap()
}

pub fn child(id: RecordId, name: &str, device: u64) -> Vec<Op> {
    let case = Case {
        id,
        name: Some(name.into()),
        sex: Some(Sex::Female),
        age: Some(7),
        status: Some("open".into()),
        owned_by_agency_id: Some("unicef".into()),
        location_current: Some("SD-DA-KAL".into()),
        location_separation: Some("SD-DA-NYA".into()),
        date_of_separation: Date::from_ymd(2026, 5, 2).ok(),
        protection_concerns: vec!["separated".into()],
        consent_for_tracing: Some(true),
        ..Case::default()
    };
    ops_of(&Record::Case(Box::new(case)), device)
}

pub fn request(id: RecordId, sought: &str, device: u64) -> Vec<Op> {
    let request = TracingRequest {
        id,
        status: Some("open".into()),
        relation_name: Some("Halima Yusuf".into()),
        relation: Some("mother".into()),
        tracing_request_subform_section: vec![Trace {
            unique_id: "trace-0".into(),
            name: Some(sought.into()),
            sex: Some(Sex::Female),
            age: Some(7),
            date_of_separation: Date::from_ymd(2026, 5, 3).ok(),
            location_separation: Some("SD-DA-NYA".into()),
            ..Trace::default()
        }],
        ..TracingRequest::default()
    };
    ops_of(&Record::TracingRequest(Box::new(request)), device)
}

/// The operation that changes one field of a record.
pub fn set_field(kind: RecordKind, id: RecordId, field: &str, value: &str, device: u64) -> Op {
    Document::new(kind, id).op(
        field,
        fieldkit_domain::FieldValue::from_json(&serde_json::Value::String(value.into())),
        Hlc {
            wall_ms: NOW + 60_000,
            counter: 0,
            device: DeviceId(device),
        },
    )
}

/// The hub, reached in-process by a kit's sync engine: frames of `mtu` bytes, at most
/// `max_frames` each way per exchange.
pub struct Direct<'a> {
    pub hub: &'a mut fieldkit_hub::HubService,
    pub kit: KitId,
    pub mtu: usize,
    pub max_frames: usize,
}

impl fieldkit_kitsync::Link for Direct<'_> {
    fn mtu(&self) -> usize {
        self.mtu
    }
    fn max_frames(&self) -> usize {
        self.max_frames
    }
    fn exchange(
        &mut self,
        frames: &[Vec<u8>],
        now_ms: u64,
    ) -> Result<Vec<Vec<u8>>, fieldkit_kitsync::LinkError> {
        self.hub
            .receive(frames, now_ms)
            .expect("the hub takes the frames");
        Ok(self
            .hub
            .transmit(self.kit, self.mtu, self.max_frames * 8, now_ms)
            .expect("the hub answers"))
    }
}

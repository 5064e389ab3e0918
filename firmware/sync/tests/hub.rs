//! The hub with several kits: frames routed by kit id, a notice sent to both kits of a
//! match, frames from kits not enrolled refused and counted, a rolled-back vault noticed.

use std::convert::Infallible;

use fieldkit_domain::RecordId;
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::hub::{Hub, HubEvent, KitState};
use fieldkit_sync::message::{Body, Evidence, MatchNotice, Priority, Status};
use fieldkit_sync::seal::{Channel, KitId, LinkKeys, Rejected, StaticKey};

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

fn kit(seed: u8, hub: &Hub) -> (KitId, Endpoint) {
    let key = StaticKey::from_bytes([seed; 32]);
    let keys = LinkKeys::for_kit(&key, &hub.public()).expect("keys");
    let id = keys.kit();
    (
        id,
        Endpoint::new(
            Channel::new(keys, SendCounter::resume(0, 16), ReplayWindow::default()),
            Default::default(),
            Default::default(),
        ),
    )
}

fn status(commits: u64, head: u8) -> Body {
    Body::Status(Status {
        commits,
        audit_head: [head; 32],
        records: commits,
    })
}

/// Sends everything `from` has to the hub; returns the hub's events.
fn uplink(from: &mut Endpoint, hub: &mut Hub) -> Vec<HubEvent> {
    let mut events = Vec::new();
    while let Some(f) = from
        .poll_transmit(0, 239, 60_000, Priority::Bulk, ok)
        .expect("seal")
    {
        events.extend(hub.handle(&f).expect("genuine"));
    }
    events
}

#[test]
fn the_hub_routes_by_kit_and_reaches_both_kits_of_a_match() {
    let mut hub = Hub::new(StaticKey::from_bytes([0x40; 32]));
    let (a_id, mut a) = kit(1, &hub);
    let (b_id, mut b) = kit(2, &hub);
    for seed in [1u8, 2] {
        hub.enroll(
            StaticKey::from_bytes([seed; 32]).public(),
            KitState::default(),
        )
        .expect("enroll");
    }
    assert_eq!(hub.kits().count(), 2);
    // Enrolling the same kit again (restoring after a restart) is fine.
    hub.enroll(StaticKey::from_bytes([1; 32]).public(), KitState::default())
        .expect("re-enroll");

    a.queue(&status(5, 1));
    let events = uplink(&mut a, &mut hub);
    assert!(matches!(&events[..], [HubEvent::Delivered { kit, .. }] if *kit == a_id));

    let notice = Body::MatchNotice(MatchNotice {
        case: RecordId::from_bytes([1; 16]),
        tracing_request: RecordId::from_bytes([2; 16]),
        trace: "a3f09c1e-0".into(),
        likelihood: "likely".into(),
        score_centibits: 2_310,
        evidence: vec![Evidence {
            field: "name".into(),
            weight_centibits: 1_200,
            detail: "Amina Yusuf ~ Aminah Yousef".into(),
        }],
    });
    for k in [a_id, b_id] {
        hub.queue(k, &notice).expect("enrolled");
    }
    for (id, e) in [(a_id, &mut a), (b_id, &mut b)] {
        let mut delivered = Vec::new();
        while let Some(f) = hub
            .endpoint_mut(id)
            .expect("enrolled")
            .poll_transmit(0, 239, 60_000, Priority::Bulk, ok)
            .expect("seal")
        {
            delivered.extend(e.handle(&f).expect("for this kit"));
        }
        assert_eq!(delivered.len(), 1, "the notice, once (A also got an ack)");
        assert_eq!(delivered[0].body, Ok(notice.clone()));
    }
    // A frame the hub sealed for A does not open at B.
    hub.queue(a_id, &status(1, 1));
    let f = hub
        .endpoint_mut(a_id)
        .expect("enrolled")
        .poll_transmit(0, 239, 60_000, Priority::Bulk, ok)
        .expect("seal")
        .expect("frame");
    assert_eq!(b.handle(&f).err(), Some(Rejected::NotForUs));
}

#[test]
fn unknown_kits_are_refused_and_a_rolled_back_vault_is_noticed() {
    let mut hub = Hub::new(StaticKey::from_bytes([0x41; 32]));
    let (_, mut stranger) = kit(9, &hub);
    stranger.queue(&status(1, 1));
    let f = stranger
        .poll_transmit(0, 239, 60_000, Priority::Bulk, ok)
        .expect("seal")
        .expect("frame");
    assert_eq!(hub.handle(&f).err(), Some(Rejected::NotForUs));
    assert_eq!(hub.unknown_kit_frames(), 1);

    let (id, mut a) = kit(3, &hub);
    hub.enroll(StaticKey::from_bytes([3; 32]).public(), KitState::default())
        .expect("enroll");
    a.queue(&status(40, 7));
    uplink(&mut a, &mut hub);
    assert_eq!(hub.status(id).map(|s| s.commits), Some(40));
    // The kit's vault is restored from an old copy: 31 commits.
    a.queue(&status(31, 3));
    let events = uplink(&mut a, &mut hub);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HubEvent::RolledBack { before, now, .. } if before.commits == 40 && now.commits == 31)),
        "{events:?}"
    );
    assert_eq!(
        hub.status(id).map(|s| s.commits),
        Some(40),
        "the high-water mark stays"
    );
    // Same counter, another audit head: also a rollback (a swapped file).
    a.queue(&status(40, 8));
    assert!(
        uplink(&mut a, &mut hub)
            .iter()
            .any(|e| matches!(e, HubEvent::RolledBack { .. }))
    );
}

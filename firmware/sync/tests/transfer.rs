//! Transfers between two endpoints over a lossy link: fragmentation to the MTU, selective
//! acknowledgements, urgent messages first, and resumption after both sides restart from
//! what they persisted.

use std::convert::Infallible;

use fieldkit_domain::{DeviceId, FieldValue, Hlc, Op, RecordId, RecordKind};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::message::{Alert, Body, Priority};
use fieldkit_sync::seal::{Channel, LinkKeys, StaticKey};
use fieldkit_sync::transfer::{Inbox, Outbox};

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

/// What survives a restart of one side.
#[derive(Clone)]
struct Stored {
    counter_limit: u64,
    window: ReplayWindow,
    outbox: Vec<u8>,
    inbox: Vec<u8>,
}

impl Default for Stored {
    fn default() -> Self {
        Stored {
            counter_limit: 0,
            window: ReplayWindow::default(),
            outbox: postcard::to_stdvec(&Outbox::default()).expect("encode"),
            inbox: postcard::to_stdvec(&Inbox::default()).expect("encode"),
        }
    }
}

fn kit_keys() -> LinkKeys {
    LinkKeys::for_kit(
        &StaticKey::from_bytes([5; 32]),
        &StaticKey::from_bytes([6; 32]).public(),
    )
    .expect("keys")
}

fn hub_keys() -> LinkKeys {
    LinkKeys::for_hub(
        &StaticKey::from_bytes([6; 32]),
        &StaticKey::from_bytes([5; 32]).public(),
    )
    .expect("keys")
}

fn restore(keys: LinkKeys, s: &Stored) -> Endpoint {
    Endpoint::new(
        Channel::new(keys, SendCounter::resume(s.counter_limit, 8), s.window),
        postcard::from_bytes(&s.outbox).expect("outbox"),
        postcard::from_bytes(&s.inbox).expect("inbox"),
    )
}

fn save(e: &Endpoint, s: &mut Stored) {
    s.window = e.channel().window();
    s.outbox = postcard::to_stdvec(e.outbox()).expect("encode");
    s.inbox = postcard::to_stdvec(e.inbox()).expect("encode");
}

fn persist_kit(s: &mut u64) -> impl FnOnce(Reservation) -> Result<(), Infallible> + '_ {
    move |Reservation(l)| {
        *s = l;
        Ok(())
    }
}

/// The next frame of `e` over a 100-byte link, persisting counter blocks into `limit`.
fn next_frame(e: &mut Endpoint, now: u64, limit: &mut u64) -> Option<Vec<u8>> {
    e.poll_transmit(now, 100, 60_000, Priority::Bulk, persist_kit(limit))
        .expect("seal")
}

/// Delivers every acknowledgement the hub owes to the kit.
fn acks(hub: &mut Endpoint, kit: &mut Endpoint, now: u64, limit: &mut u64) {
    while let Some(a) = next_frame(hub, now, limit) {
        kit.handle(&a).expect("genuine ack");
    }
}

fn big_ops(n: usize) -> Vec<Op> {
    let device = DeviceId(77);
    (0..n)
        .map(|i| Op {
            kind: RecordKind::Case,
            record: RecordId::from_bytes([(i % 7) as u8; 16]),
            field: format!("notes_{i}"),
            value: FieldValue::Text(format!("visit {i}: {}", "x".repeat(i % 23))),
            stamp: Hlc {
                wall_ms: 1_780_000_000_000 + i as u64 * 997,
                counter: 0,
                device,
            },
            supersedes: vec![],
        })
        .collect()
}

fn alert(n: u8) -> Body {
    Body::Alert(Alert {
        kind: RecordKind::Case,
        record: RecordId::from_bytes([n; 16]),
        risk: "high".into(),
        concerns: vec!["unaccompanied".into()],
        raised_min: 29_000_000 + u32::from(n),
    })
}

/// A deterministic loss pattern: drops frame `i` when the hash says so.
fn lost(i: u64, percent: u64) -> bool {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (z >> 33) % 100 < percent
}

#[test]
fn a_large_batch_crosses_a_lossy_small_mtu_link_and_urgent_alerts_overtake_it() {
    let mut kit = restore(kit_keys(), &Stored::default());
    let mut hub = restore(hub_keys(), &Stored::default());
    let ops = big_ops(300);
    kit.queue(&Body::Ops(ops.clone()));
    let mut delivered = Vec::new();
    let mut frame_no = 0u64;
    let mut now = 0u64;
    let mtu = 120;
    let mut alert_at_round = None;
    for round in 0..400 {
        now += 1_000;
        if round == 3 {
            kit.queue(&alert(1));
            alert_at_round = Some(delivered.len());
        }
        // One frame each way per round.
        if let Some(f) = kit
            .poll_transmit(now, mtu, 5_000, Priority::Bulk, ok)
            .expect("seal")
        {
            assert!(f.len() <= mtu);
            frame_no += 1;
            if !lost(frame_no, 30)
                && let Some(d) = hub.handle(&f).expect("genuine frame")
            {
                delivered.push(d.body.expect("decodes"));
            }
        }
        while let Some(a) = hub
            .poll_transmit(now, mtu, 5_000, Priority::Bulk, ok)
            .expect("seal")
        {
            frame_no += 1;
            if !lost(frame_no, 30) {
                kit.handle(&a).expect("genuine ack");
            }
        }
        if kit.outbox().is_empty() {
            break;
        }
    }
    assert!(kit.outbox().is_empty(), "everything acknowledged");
    assert_eq!(delivered.len(), 2);
    assert_eq!(alert_at_round, Some(0));
    assert_eq!(
        delivered[0],
        alert(1),
        "the alert overtook the batch in progress"
    );
    assert_eq!(delivered[1], Body::Ops(ops));
    assert_eq!(hub.rejections().total(), 0);
}

#[test]
fn a_transfer_resumes_after_both_sides_restart_and_nothing_is_delivered_twice() {
    let mut ks = Stored::default();
    let mut hs = Stored::default();
    let ops = big_ops(200);
    let mut kit = restore(kit_keys(), &ks);
    kit.queue(&Body::Ops(ops.clone()));
    save(&kit, &mut ks);
    let mut hub = restore(hub_keys(), &hs);

    // Send half the fragments; the hub acknowledges what it holds.
    let mut sent = 0;
    let mut total_fragments = 0;
    let mut now = 0;
    while let Some(f) = next_frame(&mut kit, now, &mut ks.counter_limit) {
        total_fragments += 1;
        if sent < 10 {
            assert!(hub.handle(&f).expect("genuine").is_none());
            sent += 1;
        }
        now += 10;
    }
    assert!(total_fragments > 20, "{total_fragments} fragments");
    save(&hub, &mut hs);
    acks(&mut hub, &mut kit, now, &mut hs.counter_limit);
    save(&kit, &mut ks);

    // Power cut on both sides; restart from storage.
    let mut kit = restore(kit_keys(), &ks);
    let mut hub = restore(hub_keys(), &hs);
    let mut resent = 0;
    let mut delivered = Vec::new();
    for _ in 0..500 {
        now += 1;
        let Some(f) = next_frame(&mut kit, now, &mut ks.counter_limit) else {
            break;
        };
        resent += 1;
        if let Some(d) = hub.handle(&f).expect("genuine: counters did not repeat") {
            delivered.push(d);
        }
        acks(&mut hub, &mut kit, now, &mut hs.counter_limit);
    }
    assert_eq!(
        resent,
        total_fragments - 10,
        "only the missing fragments were resent"
    );
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body, Ok(Body::Ops(ops)));
    assert!(kit.outbox().is_empty());

    // Both restart again. The kit's counter resumes past every counter it used (else the
    // hub's restored window would refuse the frame as a replay); an alert goes in one frame
    // of at most 51 bytes; the same frame again is refused.
    save(&hub, &mut hs);
    let mut hub2 = restore(hub_keys(), &hs);
    let mut kit2 = restore(kit_keys(), &ks);
    kit2.queue(&alert(9));
    let f = kit2
        .poll_transmit(
            now,
            51,
            60_000,
            Priority::Urgent,
            persist_kit(&mut ks.counter_limit),
        )
        .expect("seal")
        .expect("a frame");
    assert!(
        f.len() <= 51,
        "an alert fits one SF10 frame: {} bytes",
        f.len()
    );
    let d = hub2.handle(&f).expect("genuine").expect("delivered");
    assert_eq!(d.body, Ok(alert(9)));
    assert_eq!(
        hub2.handle(&f).err().map(|e| e.to_string()),
        Some("frame replayed".into())
    );
}

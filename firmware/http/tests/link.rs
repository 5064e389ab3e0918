//! A kit and the hub over real HTTP on loopback: frames up, acknowledgements and messages
//! down; a hub that is down is an error that loses nothing; the body codec never panics.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldkit_domain::{RecordId, RecordKind};
use fieldkit_http::{HttpError, HttpLink, HubServer, decode_frames, encode_frames};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::hub::{Hub, HubEvent, KitState};
use fieldkit_sync::message::{Alert, Body, Priority, Status};
use fieldkit_sync::seal::{Channel, LinkKeys, StaticKey};
use proptest::prelude::*;

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

fn frames_of(e: &mut Endpoint, now: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(f) = e
        .poll_transmit(now, 1200, 10_000, Priority::Bulk, ok)
        .expect("seal")
    {
        out.push(f);
    }
    out
}

#[test]
fn a_kit_syncs_with_the_hub_over_http() {
    let kit_key = StaticKey::from_bytes([0x31; 32]);
    let hub = Arc::new(Mutex::new(Hub::new(StaticKey::from_bytes([0x32; 32]))));
    let hub_public = hub.lock().expect("hub").public();
    let kit_id = hub
        .lock()
        .expect("hub")
        .enroll(kit_key.public(), KitState::default())
        .expect("enroll");
    let delivered = Arc::new(Mutex::new(Vec::new()));

    let server = HubServer::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().expect("address");
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (hub, delivered, stop) = (hub.clone(), delivered.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = server.serve_one(Duration::from_millis(50), |kit, frames| {
                    let mut hub = hub.lock().expect("hub");
                    for f in frames {
                        for e in hub.handle(&f).unwrap_or_default() {
                            if let HubEvent::Delivered { message, .. } = e {
                                delivered.lock().expect("list").push(message.body);
                            }
                        }
                    }
                    hub.endpoint_mut(kit)
                        .map_or_else(Vec::new, |e| frames_of(e, 0))
                });
            }
        })
    };

    let mut kit = Endpoint::new(
        Channel::new(
            LinkKeys::for_kit(&kit_key, &hub_public).expect("keys"),
            SendCounter::resume(0, 8),
            ReplayWindow::default(),
        ),
        Default::default(),
        Default::default(),
    );
    let alert = Body::Alert(Alert {
        kind: RecordKind::Case,
        record: RecordId::from_bytes([3; 16]),
        risk: "high".into(),
        concerns: vec![],
        raised_min: 29_666_000,
    });
    kit.queue(&alert);
    let link = HttpLink::new(&format!("http://{addr}"), kit_id, Duration::from_secs(5));
    let answer = link.exchange(&frames_of(&mut kit, 0)).expect("exchange");
    for f in answer {
        kit.handle(&f).expect("genuine");
    }
    assert!(kit.outbox().is_empty(), "acknowledged in the same exchange");
    assert_eq!(*delivered.lock().expect("list"), [Ok(alert)]);

    // The hub has something for the kit: it comes back on the next exchange, even an empty one.
    let status = Body::Status(Status {
        commits: 1,
        audit_head: [0; 32],
        records: 0,
    });
    hub.lock().expect("hub").queue(kit_id, &status);
    let answer = link.exchange::<Vec<u8>>(&[]).expect("poll");
    let got: Vec<_> = answer
        .iter()
        .filter_map(|f| kit.handle(f).expect("genuine"))
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, Ok(status));

    stop.store(true, Ordering::Relaxed);
    worker.join().expect("server thread");
}

#[test]
fn a_hub_that_is_down_is_an_error_and_the_outbox_keeps_its_messages() {
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let kit_key = StaticKey::from_bytes([0x41; 32]);
    let hub_key = StaticKey::from_bytes([0x42; 32]);
    let keys = LinkKeys::for_kit(&kit_key, &hub_key.public()).expect("keys");
    let id = keys.kit();
    let mut kit = Endpoint::new(
        Channel::new(keys, SendCounter::resume(0, 8), ReplayWindow::default()),
        Default::default(),
        Default::default(),
    );
    kit.queue(&Body::Status(Status {
        commits: 1,
        audit_head: [0; 32],
        records: 0,
    }));
    let link = HttpLink::new(&format!("http://{addr}"), id, Duration::from_secs(2));
    let r = link.exchange(&frames_of(&mut kit, 0));
    assert!(matches!(r, Err(HttpError::Transport(_))), "{r:?}");
    assert_eq!(
        kit.outbox().messages().len(),
        1,
        "still queued, resent later"
    );
}

proptest! {
    #[test]
    fn bodies_round_trip_and_never_panic(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..20),
        junk in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        prop_assert_eq!(decode_frames(&encode_frames(&frames)), Ok(frames));
        let _ = decode_frames(&junk);
    }
}

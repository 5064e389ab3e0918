//! The sync protocol over the real LoRa driver and the simulated air: a kit sends an urgent
//! alert and a tracing record to a hub's gateway module at 30 % frame loss; the hub's
//! acknowledgements come back the same way; each message arrives exactly once and the kit's
//! outbox empties, within the duty-cycle budget.

use std::convert::Infallible;
use std::time::Duration;

use fieldkit_domain::{DeviceId, FieldValue, Hlc, Op, RecordId, RecordKind};
use fieldkit_drivers::rak3172::Packet;
use fieldkit_sim::lora::{self, Air, AirConfig, Firmware, KitRadio};
use fieldkit_sync::counter::{ReplayWindow, Reservation, SendCounter};
use fieldkit_sync::endpoint::Endpoint;
use fieldkit_sync::hub::{Hub, HubEvent, KitState};
use fieldkit_sync::message::{Alert, Body, Priority};
use fieldkit_sync::seal::{Channel, LinkKeys, StaticKey};

type Radio = KitRadio;

fn ok(_: Reservation) -> Result<(), Infallible> {
    Ok(())
}

/// `tx` sends `frame` while `rx` listens; what `rx` heard.
fn exchange(tx: &mut Radio, rx: &mut Radio, now_ms: u64, frame: &[u8]) -> Option<Packet> {
    lora::exchange(tx, rx, now_ms, frame, Duration::from_millis(700))
        .expect("within the duty-cycle budget")
}

#[test]
fn an_alert_and_a_record_cross_a_lossy_lora_link_once() {
    let air = Air::new(AirConfig {
        loss_percent: 30,
        time_scale: 0.02,
        seed: 11,
        ..AirConfig::default()
    });
    let (_km, mut kit_radio) = air.driven(Firmware::V5_0_0, true).expect("radio");
    let (_hm, mut hub_radio) = air.driven(Firmware::V4_1_0, true).expect("radio");

    let kit_key = StaticKey::from_bytes([0x21; 32]);
    let mut hub = Hub::new(StaticKey::from_bytes([0x22; 32]));
    let kit_id = hub
        .enroll(kit_key.public(), KitState::default())
        .expect("enroll");
    let mut kit = Endpoint::new(
        Channel::new(
            LinkKeys::for_kit(&kit_key, &hub.public()).expect("keys"),
            SendCounter::resume(0, 16),
            ReplayWindow::default(),
        ),
        Default::default(),
        Default::default(),
    );

    let alert = Body::Alert(Alert {
        kind: RecordKind::Case,
        record: RecordId::from_bytes([5; 16]),
        risk: "high".into(),
        concerns: vec!["unaccompanied".into()],
        raised_min: 29_666_000,
    });
    let stamp = Hlc {
        wall_ms: 1_780_000_000_000,
        counter: 0,
        device: DeviceId(0xA),
    };
    let record = Body::Ops(
        [
            ("relation_name", "Halima Yusuf"),
            (
                "tracing_request_subform_section[a3f0-0].name",
                "Amina Yusuf",
            ),
            ("tracing_request_subform_section[a3f0-0].sex", "female"),
        ]
        .into_iter()
        .map(|(field, v)| Op {
            kind: RecordKind::TracingRequest,
            record: RecordId::from_bytes([6; 16]),
            field: field.into(),
            value: FieldValue::Text(v.into()),
            stamp,
            supersedes: vec![],
        })
        .collect(),
    );
    kit.queue(&record);
    kit.queue(&alert);

    let mut delivered = Vec::new();
    let mut now_ms = 0u64;
    let mut rounds = 0;
    while !kit.outbox().is_empty() && rounds < 40 {
        rounds += 1;
        now_ms += 60_000;
        // The kit sends what is due; the hub hears it (or not).
        while let Some(frame) = kit
            .poll_transmit(now_ms, 239, 30_000, Priority::Bulk, ok)
            .expect("seal")
        {
            assert!(frame.len() <= 239);
            if let Some(p) = exchange(&mut kit_radio, &mut hub_radio, now_ms, &frame) {
                for e in hub.handle(&p.payload).expect("genuine") {
                    if let HubEvent::Delivered { kit: k, message } = e {
                        assert_eq!(k, kit_id);
                        delivered.push(message.body.expect("decodes"));
                    }
                }
            }
        }
        // The hub answers with its acknowledgements.
        while let Some(frame) = hub
            .endpoint_mut(kit_id)
            .expect("enrolled")
            .poll_transmit(now_ms, 239, 30_000, Priority::Bulk, ok)
            .expect("seal")
        {
            if let Some(p) = exchange(&mut hub_radio, &mut kit_radio, now_ms, &frame) {
                kit.handle(&p.payload).expect("genuine ack");
            }
        }
    }
    assert!(
        kit.outbox().is_empty(),
        "all acknowledged after {rounds} rounds"
    );
    assert_eq!(delivered.len(), 2, "each message once: {delivered:?}");
    // (The alert is sent first; with loss it may arrive second.)
    assert!(delivered.contains(&alert) && delivered.contains(&record));
    assert!(
        air.stats().lost > 0,
        "the air lost frames: {:?}",
        air.stats()
    );
    assert_eq!(kit.rejections().total(), 0);
    assert!(kit_radio.airtime_used_ms(now_ms) <= 36_000);
}

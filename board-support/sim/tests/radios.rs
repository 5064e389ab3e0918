//! The real radio drivers against the simulated radios on pseudo-terminals: LoRa frames
//! across the simulated air between modules of different firmware, the duty-cycle budget,
//! loss, and the cellular modem from power key to registration and power off.

use std::time::Duration;

use fieldkit_drivers::at::cellular::RegStatus;
use fieldkit_drivers::lora::DutyCycle;
use fieldkit_drivers::modem::{Modem, ModemError, ModemModel};
use fieldkit_drivers::rak3172::{LoraError, Packet};
use fieldkit_power::Timestamp;
use fieldkit_sim::cellular::{ModemConfig, ModemKind, SignalDay, SimCard, SimModem};
use fieldkit_sim::clock::SimClock;
use fieldkit_sim::lora::{self, Air, AirConfig, Firmware, KitRadio, SimRak3172};

fn air(loss: u8) -> Air {
    Air::new(AirConfig {
        loss_percent: loss,
        rssi_dbm: -101,
        snr_db: -3,
        time_scale: 0.02,
        seed: 7,
    })
}

/// A started, configured driver on a new module.
fn radio(air: &Air, firmware: Firmware, p2p: bool) -> (SimRak3172, KitRadio) {
    let (module, r) = air.driven(firmware, p2p).expect("module and driver");
    assert_eq!(
        r.version().map(|v| v.legacy),
        Some(firmware == Firmware::V1_0_2)
    );
    (module, r)
}

/// `tx` sends `payload` while `rx` listens; returns what `rx` heard.
fn exchange(tx: &mut KitRadio, rx: &mut KitRadio, now_ms: u64, payload: &[u8]) -> Option<Packet> {
    lora::exchange(tx, rx, now_ms, payload, Duration::from_millis(1500)).expect("exchange")
}

#[test]
fn frames_cross_the_air_between_firmware_generations() {
    let air = air(0);
    // A factory module (LoRaWAN mode) on 5.0.0: the driver switches it to P2P (reboot).
    let (_a, mut a) = radio(&air, Firmware::V5_0_0, false);
    // 3.2.0: bandwidth in kHz, no TX-done event, no OK before the reboot.
    let (_b, mut b) = radio(&air, Firmware::V3_2_0, true);
    // 4.0.4: OK glued to the banner after AT+NWM.
    let (_c, mut c) = radio(&air, Firmware::V4_0_4, false);
    let payload: Vec<u8> = (0..239u16).map(|i| (i * 7) as u8).collect();
    let got = exchange(&mut a, &mut b, 0, &payload).expect("B heard A");
    assert_eq!(got.payload, payload);
    assert_eq!((got.rssi, got.snr), (-101, -3));
    let got = exchange(&mut b, &mut c, 0, b"urgent").expect("C heard B");
    assert_eq!(got.payload, b"urgent");
    assert!(matches!(
        a.send(10, &[0u8; 240]),
        Err(LoraError::TooLong(240))
    ));
    assert_eq!(air.stats().transmissions, 2);
    assert_eq!(a.stats().sent, 1);
    assert_eq!(a.stats().airtime_ms, u64::from(a.time_on_air_ms(239)));
}

#[test]
fn the_legacy_firmware_event_form_is_understood() {
    let air = air(0);
    let (_a, mut a) = radio(&air, Firmware::V5_0_0, true);
    let (_old, mut old) = radio(&air, Firmware::V1_0_2, true);
    let got = exchange(&mut a, &mut old, 0, &[0x11, 0x22, 0x33, 0x44]).expect("heard");
    assert_eq!(got.payload, [0x11, 0x22, 0x33, 0x44]);
}

#[test]
fn the_duty_cycle_budget_holds_back_what_would_exceed_it() {
    let air = air(0);
    let (_a, mut a) = radio(&air, Firmware::V5_0_0, true);
    // 1 % of ten seconds: 100 ms. SF7, 20 bytes: 57 ms each.
    a.set_duty_cycle(DutyCycle::new(10, 10_000));
    let ms = u64::from(a.time_on_air_ms(20));
    assert_eq!(ms, 57);
    a.send(0, &[1; 20]).expect("first fits");
    match a.send(1_000, &[2; 20]) {
        Err(LoraError::DutyCycle(e)) => assert_eq!(e.retry_at_ms, 10_000),
        other => panic!("expected the budget to refuse, got {other:?}"),
    }
    assert!(a.airtime_used_ms(1_000) <= 100);
    a.send(10_000, &[3; 20])
        .expect("fits once the first left the window");
    assert_eq!(a.stats().held_back, 1);
    assert_eq!(
        air.stats().transmissions,
        2,
        "nothing reached the air beyond the budget"
    );
}

#[test]
fn lost_frames_are_silence_and_counted() {
    let air = air(100);
    let (_a, mut a) = radio(&air, Firmware::V5_0_0, true);
    let (_b, mut b) = radio(&air, Firmware::V5_0_0, true);
    assert_eq!(exchange(&mut a, &mut b, 0, b"lost"), None);
    assert_eq!(air.stats().lost, 1);
    assert_eq!(air.stats().delivered, 0);
}

fn signal(hour: u64, dead: Option<(f32, f32)>) -> SignalDay {
    SignalDay {
        clock: SimClock::new(Timestamp(hour * 3600), 1),
        best_hour: 13.0,
        best_rssi: 24,
        worst_rssi: 4,
        dead,
    }
}

fn modem(
    kind: ModemKind,
    sim: SimCard,
    signal: SignalDay,
) -> (
    SimModem,
    Modem<serialport::TTYPort, fieldkit_sim::cellular::SimPowerKey>,
) {
    let (sim_modem, key, port) = SimModem::spawn(ModemConfig {
        kind,
        boot: Duration::from_millis(300),
        register_after: Duration::from_millis(300),
        sim,
        signal,
    })
    .expect("modem");
    let model = match kind {
        ModemKind::Sim7600 => ModemModel::Sim7600,
        ModemKind::Eg25 => ModemModel::Eg25,
    };
    (sim_modem, Modem::new(port, key, model))
}

#[test]
fn the_modem_powers_on_registers_and_powers_off() {
    for kind in [ModemKind::Sim7600, ModemKind::Eg25] {
        let (sim_modem, mut m) = modem(kind, SimCard::Ready, signal(13, None));
        m.power_on(Duration::from_millis(100), Duration::from_secs(5))
            .expect("power on");
        assert!(sim_modem.is_on());
        assert_eq!(m.sim_state().expect("sim"), "READY");
        let state = m
            .wait_registered(Duration::from_secs(5), Duration::from_millis(100))
            .expect("registers");
        assert_eq!(state, RegStatus::Home);
        let s = m.signal().expect("signal");
        assert_eq!(
            (s.rssi, s.dbm()),
            (24, Some(-65)),
            "{kind:?} at the best hour"
        );
        m.power_off().expect("power off");
        std::thread::sleep(Duration::from_millis(100));
        assert!(!sim_modem.is_on());
    }
}

#[test]
fn the_signal_follows_the_hour_and_a_dead_zone_never_registers() {
    let (_n, mut night) = modem(ModemKind::Sim7600, SimCard::Ready, signal(1, None));
    night
        .power_on(Duration::from_millis(100), Duration::from_secs(5))
        .expect("power on");
    night
        .wait_registered(Duration::from_secs(5), Duration::from_millis(100))
        .expect("registers");
    let rssi = night.signal().expect("signal").rssi;
    assert!((4..=6).contains(&rssi), "near the worst at 01:00: {rssi}");

    let (_d, mut dead) = modem(
        ModemKind::Sim7600,
        SimCard::Ready,
        signal(3, Some((2.0, 5.0))),
    );
    dead.power_on(Duration::from_millis(100), Duration::from_secs(5))
        .expect("power on");
    assert_eq!(dead.signal().expect("signal").dbm(), None);
    assert!(matches!(
        dead.wait_registered(Duration::from_millis(900), Duration::from_millis(200)),
        Err(ModemError::NotRegistered(_, RegStatus::Searching))
    ));
}

#[test]
fn a_missing_sim_is_reported_in_words() {
    let (_s, mut m) = modem(ModemKind::Eg25, SimCard::Missing, signal(12, None));
    m.power_on(Duration::from_millis(100), Duration::from_secs(5))
        .expect("power on");
    match m.sim_state() {
        Err(ModemError::Sim(text)) => assert_eq!(text, "SIM not inserted"),
        other => panic!("expected a SIM error, got {other:?}"),
    }
    assert_eq!(m.registration().expect("reg"), RegStatus::NotRegistered);
}

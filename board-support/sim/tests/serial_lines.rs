//! The drivers' serial transports against simulated chargers on real pseudo-terminals.

use std::time::Duration;

use fieldkit_drivers::charger::{ModbusCharger, Stage};
use fieldkit_drivers::modbus::{ExceptionCode, FrameError, ReadRequest};
use fieldkit_drivers::serial::{ChargerError, ChargerLink, ModbusPort, VeDirectPort};
use fieldkit_sim::model::{KitModel, KitSpec, KitState};
use fieldkit_sim::pty::{ModbusSlave, SlaveFaults, VeDirectCharger, pty_pair};
use fieldkit_sim::speak::{LineFaults, StateCell};
use fieldkit_sim::weather::WeatherTrace;

/// A kit at noon on a clear day, charging.
fn noon() -> KitState {
    let mut m = KitModel::new(KitSpec::default(), WeatherTrace::clear(1), 60.0);
    for _ in 0..(12 * 60) {
        m.step(60, 5.0);
    }
    m.state()
}

#[test]
fn vedirect_blocks_over_a_pty_with_noise_silence_and_bad_checksums() {
    let state = noon();
    let cell = StateCell::new(state);
    let (device, kit) = pty_pair(Duration::from_millis(300)).expect("pty");
    let charger = VeDirectCharger::spawn(device, cell, Duration::from_millis(20)).expect("spawn");
    let mut port = VeDirectPort::new(kit);

    let r = port.poll().expect("a block");
    assert_eq!(r.battery_voltage_mv, Some(state.battery_voltage_mv));
    assert_eq!(r.stage, Some(Stage::Bulk));
    assert_eq!(
        r.panel_power_mw,
        Some(state.panel_power_w.round() as u32 * 1000)
    );

    charger.set_faults(LineFaults {
        noise: true,
        ..LineFaults::default()
    });
    for _ in 0..3 {
        let r = port
            .poll()
            .expect("blocks still decode between noise and NULs");
        assert_eq!(r.battery_voltage_mv, Some(state.battery_voltage_mv));
    }

    charger.set_faults(LineFaults {
        bad_checksum: true,
        ..LineFaults::default()
    });
    assert!(matches!(
        port.poll(),
        Err(ChargerError::NoValidBlock { .. } | ChargerError::Silent)
    ));

    charger.set_faults(LineFaults {
        silent: true,
        ..LineFaults::default()
    });
    assert!(matches!(port.poll(), Err(ChargerError::Silent)));

    charger.set_faults(LineFaults::default());
    assert!(port.poll().is_ok(), "recovers when the line is clean again");
    charger.stop();
}

fn modbus_case(charger_kind: ModbusCharger) {
    let state = noon();
    let cell = StateCell::new(state);
    let (device, kit) = pty_pair(Duration::from_millis(300)).expect("pty");
    let slave = ModbusSlave::spawn(device, charger_kind, 1, cell).expect("spawn");
    let mut port = ModbusPort::new(kit, charger_kind, 1);

    let r = port.poll().expect("a reading");
    let mv = r.battery_voltage_mv.expect("voltage");
    let step = if charger_kind == ModbusCharger::Renogy {
        100
    } else {
        10
    };
    assert!(
        mv.abs_diff(state.battery_voltage_mv) <= step / 2 + 1,
        "{mv}"
    );
    assert_eq!(r.soc_percent, Some(state.soc_percent.round() as u8));
    assert!(r.panel_power_mw.is_some_and(|p| p > 0));

    // A register the device does not have: exception 02.
    let bad = ReadRequest::new(1, charger_kind.function(), 0x7777, 1).expect("request");
    assert!(matches!(
        port.read_registers(&bad),
        Err(ChargerError::Exception(ExceptionCode::IllegalDataAddress))
    ));

    slave.set_faults(SlaveFaults {
        bad_crc: true,
        ..SlaveFaults::default()
    });
    assert!(matches!(
        port.poll(),
        Err(ChargerError::Frame(FrameError::Crc))
    ));

    slave.set_faults(SlaveFaults {
        silent: true,
        ..SlaveFaults::default()
    });
    assert!(matches!(port.poll(), Err(ChargerError::Silent)));

    slave.set_faults(SlaveFaults::default());
    assert!(port.poll().is_ok(), "answers again");
    slave.stop();
}

#[test]
fn renogy_rover_over_a_pty() {
    modbus_case(ModbusCharger::Renogy);
}

#[test]
fn epever_tracer_over_a_pty() {
    modbus_case(ModbusCharger::Epever);
}

//! The published vectors (tests/data/vectors/README.md) decode to what they mean.

use std::path::PathBuf;

use fieldkit_drivers::charger::{ChargerReading, ModbusCharger, Stage};
use fieldkit_drivers::modbus::{ExceptionCode, ReadRequest, Response};
use fieldkit_drivers::vedirect::{self, ChargeState};

/// The vectors are kept in the repository (`tests/data/vectors`, copied from the project's
/// shared vectors); FIELDKIT_VECTORS overrides.
fn vectors_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FIELDKIT_VECTORS") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/vectors");
    assert!(
        dir.is_dir(),
        "test vectors not found at {}: set FIELDKIT_VECTORS",
        dir.display()
    );
    dir
}

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join("vedirect").join(name)).expect("capture readable")
}

#[test]
fn bluesolar_capture() {
    let mut first = None;
    let counts = vedirect::decode_capture(&capture("bluesolar_1.23.dump"), |b| {
        first.get_or_insert_with(|| b.clone());
    });
    assert_eq!((counts.valid, counts.rejected), (248, 0));
    let b = first.expect("a block");
    assert_eq!(b.product_id(), Some(0xA042));
    assert_eq!(b.battery_voltage_mv(), Some(12530));
    assert_eq!(b.battery_current_ma(), Some(620));
    assert_eq!(b.panel_voltage_mv(), Some(33580));
    assert_eq!(b.panel_power_w(), Some(8));
    assert_eq!(b.charge_state(), Some(ChargeState::Bulk));
    assert_eq!(b.yield_total_10wh(), Some(8272));
    let r = ChargerReading::from_vedirect(&b);
    assert_eq!(r.stage, Some(Stage::Bulk));
    assert_eq!(r.panel_power_mw, Some(8000));
}

#[test]
fn bmv702_capture() {
    let mut first = None;
    let counts = vedirect::decode_capture(&capture("bvm702.dump"), |b| {
        first.get_or_insert_with(|| b.clone());
    });
    assert_eq!((counts.valid, counts.rejected), (906, 0));
    let b = first.expect("a block");
    assert_eq!(b.product_id(), Some(0x0203));
    assert_eq!(b.battery_voltage_mv(), Some(12065));
    assert_eq!(b.battery_current_ma(), Some(-7625));
    assert_eq!(b.power_w(), Some(-92));
    assert_eq!(b.consumed_mah(), Some(-65473));
    assert_eq!(b.soc_permille(), Some(839));
    assert_eq!(b.time_to_go_min(), Some(942));
    assert_eq!(ChargerReading::from_vedirect(&b).soc_percent, Some(83));
}

#[test]
fn smartsolar_capture() {
    let mut first = None;
    let counts = vedirect::decode_capture(&capture("smartsolar_1.39.dump"), |b| {
        first.get_or_insert_with(|| b.clone());
    });
    assert_eq!((counts.valid, counts.rejected), (493, 1));
    let b = first.expect("a block");
    assert_eq!(b.product_id(), Some(0xA05F));
    assert_eq!(b.battery_voltage_mv(), Some(12810));
    assert_eq!(b.battery_current_ma(), Some(-10));
    assert_eq!(b.panel_voltage_mv(), Some(10));
    assert_eq!(b.panel_power_w(), Some(0));
    assert_eq!(b.charge_state(), Some(ChargeState::Off));
    assert_eq!(b.mppt_mode(), Some(0));
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect()
}

fn registers(r: Response) -> Vec<u16> {
    match r {
        Response::Registers { values, .. } => values.to_vec(),
        other => panic!("not registers: {other:?}"),
    }
}

#[test]
fn modbus_vectors() {
    // EPEver Tracer2215BN: battery SOC 70 %.
    let req = ReadRequest::decode(&hex("01 04 31 1A 00 01 1E F1")).expect("request");
    assert_eq!(
        (req.device, req.function, req.start, req.count),
        (1, 4, 0x311A, 1)
    );
    let v = registers(
        req.decode_response(&hex("01 04 02 00 46 38 C2"))
            .expect("response"),
    );
    let mut r = ChargerReading::default();
    ModbusCharger::Epever.apply(req.start, &v, &mut r);
    assert_eq!(r.soc_percent, Some(70));

    // EPEver: battery voltage 12.96 V.
    let req = ReadRequest::decode(&hex("01 04 31 04 00 01 7E F7")).expect("request");
    let v = registers(
        req.decode_response(&hex("01 04 02 05 10 BB AC"))
            .expect("response"),
    );
    let mut r = ChargerReading::default();
    ModbusCharger::Epever.apply(req.start, &v, &mut r);
    assert_eq!(r.battery_voltage_mv, Some(12_960));

    // EPEver: exception 02, illegal data address.
    let req = ReadRequest::decode(&hex("01 03 30 00 00 01 8B 0A")).expect("request");
    assert_eq!(
        req.decode_response(&hex("01 83 02 C0 F1")),
        Ok(Response::Exception {
            device: 1,
            function: 3,
            code: ExceptionCode::IllegalDataAddress
        })
    );

    // Renogy Rover: 24 V / 30 A system.
    let req = ReadRequest::decode(&hex("01 03 00 0A 00 01 A4 08")).expect("request");
    let v = registers(
        req.decode_response(&hex("01 03 02 18 1E 32 4C"))
            .expect("response"),
    );
    let mut meanings = Vec::new();
    ModbusCharger::Renogy.meanings(req.start, &v, |m| meanings.push((m.name, m.value)));
    assert_eq!(
        meanings,
        [("system_voltage_v", 24), ("rated_current_a", 30)]
    );
}

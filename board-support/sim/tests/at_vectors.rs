//! The simulated radios speak the AT vectors' lines: each scenario named below is replayed
//! against a simulated module on a pseudo-terminal, command by command, and every line the
//! module prints must be the vector's line (`tests/data/vectors/at`, copied from the
//! project's shared vectors; `FIELDKIT_VECTORS` overrides the folder).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fieldkit_drivers::at::{LineEvent, LineReader};
use fieldkit_drivers::modem::PowerKey;
use fieldkit_power::Timestamp;
use fieldkit_sim::cellular::{ModemConfig, ModemKind, SignalDay, SimCard, SimModem};
use fieldkit_sim::clock::SimClock;
use fieldkit_sim::lora::{Air, AirConfig, Firmware};
use serialport::{SerialPort, TTYPort};

#[derive(Debug, Default)]
struct Scenario {
    title: String,
    model: String,
    /// Lines printed before the first command (power-on URCs).
    prelude: Vec<String>,
    /// Each command and the lines that follow it.
    steps: Vec<(String, Vec<String>)>,
}

fn vectors(name: &str) -> Vec<Scenario> {
    let dir = std::env::var("FIELDKIT_VECTORS").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/vectors"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(dir.join("at").join(name)).expect("vector file");
    let mut out: Vec<Scenario> = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# scenario: ") {
            out.push(Scenario {
                title: t.trim().to_string(),
                ..Scenario::default()
            });
            continue;
        }
        let Some(s) = out.last_mut() else { continue };
        if let Some(m) = line.strip_prefix("# model: ") {
            s.model = m.trim().to_string();
        } else if let Some(cmd) = line.strip_prefix("> ") {
            s.steps.push((cmd.to_string(), Vec::new()));
        } else if let Some(reply) = line.strip_prefix("< ") {
            match s.steps.last_mut() {
                Some((_, lines)) => lines.push(reply.to_string()),
                None => s.prelude.push(reply.to_string()),
            }
        }
    }
    out
}

fn scenario<'a>(all: &'a [Scenario], title: &str, model: &str) -> &'a Scenario {
    all.iter()
        .find(|s| s.title.starts_with(title) && s.model.contains(model))
        .unwrap_or_else(|| panic!("scenario {title:?} ({model}) not in the vectors"))
}

/// Reads `n` lines (or fails after `timeout`).
fn read_lines(
    port: &mut TTYPort,
    reader: &mut LineReader<1100>,
    n: usize,
    timeout: Duration,
) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 1];
    while got.len() < n && Instant::now() < deadline {
        if let Ok(1) = std::io::Read::read(port, &mut buf)
            && let Some(LineEvent::Line(l)) = reader.feed(buf[0])
        {
            got.push(l.as_str().to_string());
        }
    }
    got
}

fn replay(port: &mut TTYPort, s: &Scenario, terminator: &[u8]) {
    let mut reader = LineReader::<1100>::new();
    let prelude = read_lines(port, &mut reader, s.prelude.len(), Duration::from_secs(3));
    assert_eq!(prelude, s.prelude, "{}: power-on lines", s.title);
    for (cmd, expected) in &s.steps {
        port.write_all(cmd.as_bytes()).expect("write");
        port.write_all(terminator).expect("write");
        let got = read_lines(port, &mut reader, expected.len(), Duration::from_secs(2));
        assert_eq!(&got, expected, "{}: reply to {cmd:?}", s.title);
    }
    // Nothing more than the vector says.
    let extra = read_lines(port, &mut reader, 1, Duration::from_millis(150));
    assert!(extra.is_empty(), "{}: unexpected {extra:?}", s.title);
}

fn setup(port: &mut TTYPort, commands: &[&str], terminator: &[u8]) {
    let mut reader = LineReader::<1100>::new();
    for c in commands {
        port.write_all(c.as_bytes()).expect("write");
        port.write_all(terminator).expect("write");
        let got = read_lines(port, &mut reader, 1, Duration::from_secs(2));
        assert!(
            got.last().is_some_and(|l| l == "OK" || l == c),
            "{c}: {got:?}"
        );
        if got.last().is_some_and(|l| l == c) {
            read_lines(port, &mut reader, 1, Duration::from_secs(2));
        }
    }
}

#[test]
fn the_simulated_rak3172_speaks_the_rui3_vectors() {
    let all = vectors("rak3172_rui3_p2p.txt");
    use Firmware::*;
    let cases: &[(&str, Firmware, bool, &[&str])] = &[
        ("attention", V5_0_0, true, &[]),
        ("attention with a parameter", V5_0_0, true, &[]),
        ("echo toggle", V5_0_0, true, &[]),
        ("read network work mode", V5_0_0, false, &[]),
        ("bad work mode values", V5_0_0, true, &[]),
        ("changing work mode while P2P RX is on", V4_1_0, true, &[]),
        ("P2P commands while in LoRaWAN mode", V5_0_0, false, &[]),
        (
            "read all P2P parameters (bandwidth printed as index",
            V5_0_0,
            true,
            &["AT+P2P=868000000:7:0:0:20:14"],
        ),
        (
            "read all P2P parameters (bandwidth printed in kHz",
            V3_2_0,
            true,
            &["AT+P2P=868000000:12:125:3:200:14"],
        ),
        ("set all P2P parameters", V5_0_0, true, &[]),
        ("set all P2P parameters with bad values", V5_0_0, true, &[]),
        (
            "individual P2P setters and getters",
            V5_0_0,
            true,
            &["AT+P2P=868000000:7:0:2:8:14"],
        ),
        ("individual setters out of range", V5_0_0, true, &[]),
        (
            "changing a P2P parameter while continuous RX",
            V4_1_0,
            true,
            &[],
        ),
        ("P2P send, success, with TX-done event", V5_0_0, true, &[]),
        ("P2P send on RUI3 3.x", V3_2_0, true, &[]),
        ("P2P send with malformed payloads", V5_0_0, true, &[]),
        ("P2P send while busy", V5_0_0, true, &[]),
        ("query RX state", V4_1_0, true, &[]),
        ("receive parameter errors", V5_0_0, true, &[]),
        ("unknown command (RUI3 >= 3.5.4)", V5_0_0, true, &[]),
        ("unknown command (RUI3 <= 3.5.3)", V3_2_0, true, &[]),
        ("serial baud rate", V5_0_0, true, &[]),
    ];
    for (title, firmware, p2p, pre) in cases {
        let air = Air::new(AirConfig {
            time_scale: 0.05,
            ..AirConfig::default()
        });
        let (module, mut port) = air.module(*firmware, *p2p).expect("module");
        setup(&mut port, pre, b"\r\n");
        replay(&mut port, scenario(&all, title, ""), b"\r\n");
        module.stop();
    }
}

fn modem(kind: ModemKind, sim: SimCard) -> (SimModem, TTYPort) {
    let (modem, mut key, port) = SimModem::spawn(ModemConfig {
        kind,
        boot: Duration::from_millis(100),
        register_after: Duration::ZERO,
        sim,
        signal: SignalDay {
            clock: SimClock::new(Timestamp(12 * 3600), 1),
            best_hour: 12.0,
            best_rssi: 22,
            worst_rssi: 22,
            dead: None,
        },
    })
    .expect("modem");
    key.set_pressed(true).expect("key");
    std::thread::sleep(Duration::from_millis(60));
    key.set_pressed(false).expect("key");
    (modem, port)
}

#[test]
fn the_simulated_modems_speak_the_cellular_vectors() {
    let all = vectors("cellular_sim7600_eg25.txt");
    use ModemKind::*;
    let cases: &[(&str, &str, ModemKind, SimCard, bool)] = &[
        (
            "power-on unsolicited result codes",
            "SIM7600",
            Sim7600,
            SimCard::Ready,
            false,
        ),
        (
            "echo off and verbose errors",
            "SIM7600",
            Sim7600,
            SimCard::Ready,
            false,
        ),
        ("signal quality", "SIM7600", Sim7600, SimCard::Ready, true),
        (
            "SIM status, SIM ready",
            "SIM7600",
            Sim7600,
            SimCard::Ready,
            true,
        ),
        (
            "SIM status with no SIM",
            "SIMCom",
            Sim7600,
            SimCard::Missing,
            true,
        ),
        ("power down", "SIM7600", Sim7600, SimCard::Ready, true),
        ("power down", "EG25-G", Eg25, SimCard::Ready, true),
        (
            "SIM status with no SIM",
            "Quectel EC2x",
            Eg25,
            SimCard::Missing,
            true,
        ),
    ];
    for (title, model, kind, sim, echo_off_first) in cases {
        let (m, mut port) = modem(*kind, *sim);
        let s = scenario(&all, title, model);
        if *echo_off_first || s.prelude.is_empty() {
            // Wait for the boot URCs, then (for scenarios that assume it) echo off.
            let mut reader = LineReader::<1100>::new();
            let boot = if *sim == SimCard::Ready {
                if *kind == Eg25 { 6 } else { 4 }
            } else if *kind == Eg25 {
                2
            } else {
                1
            };
            let urcs = read_lines(&mut port, &mut reader, boot, Duration::from_secs(3));
            assert_eq!(
                urcs.first().map(String::as_str),
                Some("RDY"),
                "{title}: {urcs:?}"
            );
            if *echo_off_first {
                setup(&mut port, &["ATE0"], b"\r");
            }
        }
        replay(&mut port, s, b"\r");
        m.stop();
    }
}

#[test]
fn a_modem_without_power_answers_nothing() {
    let (modem, _key, mut port) = SimModem::spawn(ModemConfig {
        kind: ModemKind::Sim7600,
        boot: Duration::from_millis(50),
        register_after: Duration::ZERO,
        sim: SimCard::Ready,
        signal: SignalDay {
            clock: SimClock::new(Timestamp(0), 1),
            best_hour: 12.0,
            best_rssi: 20,
            worst_rssi: 5,
            dead: None,
        },
    })
    .expect("modem");
    port.write_all(b"AT\r").expect("write");
    let mut reader = LineReader::<1100>::new();
    assert!(read_lines(&mut port, &mut reader, 1, Duration::from_millis(300)).is_empty());
    assert!(!modem.is_on());
    let _ = port.bytes_to_read();
}

//! `SwitchedModem`'s power-up on both kinds of AT port, against the simulated SIM7600 on
//! pseudo-terminals.
//!
//! A USB modem's AT port (a `ttyUSB` node) exists only while it is on, so the kit presses
//! the power key, waits for the port to appear and opens it by path. The simulated SIM7600
//! links a path to its pseudo-terminal when it finished booting and removes it when it goes
//! off (`SimModem::spawn_usb`); the kit opens that path with serialport, as the device build
//! does. A UART modem's port is always there (`SimModem::spawn`): the kit presses the key
//! and waits for `RDY` on it.
//!
//! Covered: power-up, registration and power-down twice over (the port reopened each time);
//! a port that never appears within the boot time (a clear error, bounded); a round stopped
//! while the port is awaited, and one stopped while a UART modem boots (each stops within a
//! step, not at the end of the boot, and the modem is still switched off once it answers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fieldkit_drivers::modem::{ModemError, ModemModel};
use fieldkit_kitsync::radio::OpenPort;
use fieldkit_kitsync::{Cellular, LinkError, ModemTiming, SwitchedModem};
use fieldkit_power::Timestamp;
use fieldkit_sim::cellular::{ModemConfig, ModemKind, SignalDay, SimCard, SimModem, SimPowerKey};
use fieldkit_sim::clock::SimClock;

/// A simulated SIM7600 booting in `boot`.
fn config(boot: Duration) -> ModemConfig {
    ModemConfig {
        kind: ModemKind::Sim7600,
        boot,
        register_after: Duration::from_millis(200),
        sim: SimCard::Ready,
        signal: SignalDay {
            clock: SimClock::new(Timestamp::from_day_and_hour(0, 12.0), 1),
            best_hour: 13.0,
            best_rssi: 22,
            worst_rssi: 8,
            dead: None,
        },
    }
}

/// A simulated USB SIM7600 booting in `boot`, its port at `dir/ttyUSB2` while on.
fn usb_modem(dir: &Path, boot: Duration) -> (SimModem, SimPowerKey, PathBuf) {
    let port = dir.join("ttyUSB2");
    let (modem, key) = SimModem::spawn_usb(config(boot), &port).unwrap();
    (modem, key, port)
}

/// The kit's side of a modem whose port `open` opens, given `boot` to answer.
fn with_port(
    open: OpenPort<serialport::TTYPort>,
    key: SimPowerKey,
    boot: Duration,
) -> SwitchedModem<serialport::TTYPort, SimPowerKey> {
    SwitchedModem::new(
        open,
        key,
        ModemModel::Sim7600,
        ModemTiming {
            press: Duration::from_millis(100),
            boot,
            register: Duration::from_secs(5),
        },
    )
}

/// The kit's side: the port opened by path at each power-up (the device build's way).
fn switched(
    port: &Path,
    key: SimPowerKey,
    boot: Duration,
) -> SwitchedModem<serialport::TTYPort, SimPowerKey> {
    let path = port.to_string_lossy().into_owned();
    let open: OpenPort<serialport::TTYPort> = Box::new(move || {
        serialport::new(&path, 115_200)
            .timeout(Duration::from_millis(50))
            .open_native()
            .map_err(std::io::Error::other)
    });
    with_port(open, key, boot)
}

/// Waits up to 2 s for `f` (the simulator's loop follows the modem's state within 100 ms).
fn soon(f: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn a_usb_modem_is_opened_once_its_port_appears_and_switched_off_after() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, key, port) = usb_modem(dir.path(), Duration::from_millis(600));
    let mut modem = switched(&port, key, Duration::from_secs(5));
    assert!(!port.exists(), "no port while the modem is off");
    for round in 0..2 {
        let up = modem.power_up(&|| true).unwrap();
        assert!(up.registration.is_registered(), "round {round}: {up:?}");
        assert!(up.signal_dbm.is_some());
        assert!(sim.is_on() && modem.is_on() && port.exists());
        modem.power_down().unwrap();
        assert!(!modem.is_on());
        assert!(
            soon(|| !sim.is_on() && !port.exists()),
            "round {round}: off, port gone"
        );
    }
}

#[test]
fn a_usb_modem_whose_port_never_appears_is_a_clear_error_within_the_boot_time() {
    let dir = tempfile::tempdir().unwrap();
    // It would take a minute to boot; the kit gives it one second.
    let (sim, key, port) = usb_modem(dir.path(), Duration::from_secs(60));
    let mut modem = switched(&port, key, Duration::from_secs(1));
    let started = Instant::now();
    let e = modem.power_up(&|| true).unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(&e, LinkError::Modem(ModemError::Io(_))), "{e:?}");
    assert!(e.to_string().contains("did not appear within 1 s"), "{e}");
    assert!(waited < Duration::from_secs(10), "bounded: {waited:?}");
    assert!(!modem.is_on() && !port.exists() && !sim.is_on());
    // Power-down looks for the port for what is left of the boot time, finds none, and
    // says so without error.
    modem.power_down().unwrap();
    assert!(!modem.is_on());
}

#[test]
fn a_round_stopped_while_the_port_is_awaited_still_switches_the_modem_off() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, key, port) = usb_modem(dir.path(), Duration::from_millis(800));
    let mut modem = switched(&port, key, Duration::from_secs(5));
    let started = Instant::now();
    let stop_after = Duration::from_millis(300);
    let e = modem
        .power_up(&|| started.elapsed() < stop_after)
        .unwrap_err();
    assert!(matches!(e, LinkError::Stopped), "{e:?}");
    assert!(!port.exists(), "stopped before the port appeared");
    // The key was pressed: the modem boots; power-down waits for its port and switches it
    // off, so it does not stay on drawing current until the next round.
    modem.power_down().unwrap();
    assert!(soon(|| !sim.is_on() && !port.exists()), "switched off");
    assert!(!modem.is_on());
}

/// A UART modem (its port always there) stopped while it boots: the power-up returns within
/// a step of the stop, long before the modem would answer, and power-down waits for it to
/// answer and switches it off; the next round brings it up as usual.
#[test]
fn a_uart_modem_stopped_while_it_boots_stops_at_once_and_is_switched_off() {
    let boot = Duration::from_secs(4);
    let (sim, key, port) = SimModem::spawn(config(boot)).unwrap();
    let open: OpenPort<serialport::TTYPort> =
        Box::new(move || port.try_clone_native().map_err(std::io::Error::other));
    let mut modem = with_port(open, key, Duration::from_secs(10));
    let started = Instant::now();
    // The kit first asks whether it is on already (1 s), presses the key (0.1 s), then waits
    // for `RDY` in steps of about a second; the modem answers only at about 5.1 s.
    let stop_after = Duration::from_millis(1_300);
    let e = modem
        .power_up(&|| started.elapsed() < stop_after)
        .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(e, LinkError::Stopped), "{e:?}");
    assert!(
        waited < Duration::from_millis(3_500),
        "stopped while booting, not after: {waited:?}"
    );
    assert!(!sim.is_on(), "still booting when the round stopped");
    // Power-down waits for it to answer (its boot ends at about 5.1 s) and switches it off,
    // so it does not stay on drawing current until the next round.
    modem.power_down().unwrap();
    assert!(
        started.elapsed() > boot + Duration::from_millis(1_000),
        "waited for the boot to end: {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!sim.is_on(), "switched off once it answered");
    assert!(!modem.is_on());
    let up = modem.power_up(&|| true).unwrap();
    assert!(up.registration.is_registered(), "{up:?}");
    assert!(sim.is_on() && modem.is_on());
    modem.power_down().unwrap();
    assert!(soon(|| !sim.is_on()));
}

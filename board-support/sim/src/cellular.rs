//! A simulated SIM7600 or EG25-G cellular modem on a real pseudo-terminal, with a signal
//! that follows the time of day.
//!
//! It answers the AT dialect of `shared/vectors/at/cellular_sim7600_eg25.txt`: nothing until
//! the power key is pressed; after the boot time the model's power-on URCs (`RDY`,
//! `+CPIN: READY`, `SMS DONE`, `PB DONE`, or the EG25-G's `+CFUN: 1`, `+QUSIM: 1`,
//! `+QIND: …`); echo on until `ATE0`; every line framed `\r\n<text>\r\n`; `+CME ERROR` in
//! the form `AT+CMEE` chose (final, no `OK`); plain `ERROR` for anything unknown;
//! `AT+CSQ` and `AT+CEREG?` from the signal of the simulated hour; `+CSQ` URCs after
//! `AT+AUTOCSQ=1,1` and `+CEREG` URCs after `AT+CEREG=1` when they change; `AT+CPOF` or
//! `AT+QPOWD=1` (then `POWERED DOWN`) to switch off. The data path is IP, not this port.
//!
//! As a USB modem ([`SimModem::spawn_usb`]) its AT port exists only while it is on: the
//! simulator links a path to its pseudo-terminal when it finished booting and removes the
//! link when it goes off, as a USB modem's `ttyUSB` node comes and goes, so the kit opens
//! the port by path after pressing the key, as on a board.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fieldkit_drivers::at::{LineEvent, LineReader};
use fieldkit_drivers::modem::PowerKey;
use serialport::TTYPort;

use crate::clock::SimClock;
use crate::pty::{PtyError, Worker, pty_pair};

/// Which modem family is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModemKind {
    /// SIMCom SIM7600.
    Sim7600,
    /// Quectel EG25-G.
    Eg25,
}

/// The SIM in the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCard {
    /// Present, no PIN.
    Ready,
    /// No SIM.
    Missing,
    /// Waiting for its PIN.
    PinLocked,
}

/// Signal over the day: best at `best_hour`, worst twelve hours later, none in `dead`.
#[derive(Debug, Clone, Copy)]
pub struct SignalDay {
    /// The clock whose hour sets the signal.
    pub clock: SimClock,
    /// Hour of the best signal (0–24).
    pub best_hour: f32,
    /// `+CSQ` rssi at best (0–31).
    pub best_rssi: u16,
    /// `+CSQ` rssi at worst (0–31).
    pub worst_rssi: u16,
    /// Hours without coverage (`from`, `to`): rssi 99, not registered.
    pub dead: Option<(f32, f32)>,
}

impl SignalDay {
    /// The rssi now (99 without coverage).
    pub fn rssi(&self) -> u16 {
        let h = self.clock.now().hour_f();
        if let Some((from, to)) = self.dead {
            let inside = if from <= to {
                h >= from && h < to
            } else {
                h >= from || h < to
            };
            if inside {
                return 99;
            }
        }
        let phase = (h - self.best_hour) / 24.0 * std::f32::consts::TAU;
        let w = 0.5 + 0.5 * phase.cos();
        let lo = f32::from(self.worst_rssi.min(31));
        let hi = f32::from(self.best_rssi.min(31));
        (lo + (hi - lo) * w).round() as u16
    }
}

/// The simulated modem's settings.
#[derive(Debug, Clone, Copy)]
pub struct ModemConfig {
    /// Family.
    pub kind: ModemKind,
    /// From power-key release to `RDY`.
    pub boot: Duration,
    /// From `RDY` to registration (with coverage).
    pub register_after: Duration,
    /// The SIM.
    pub sim: SimCard,
    /// The signal.
    pub signal: SignalDay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    Off,
    Booting(Instant),
    On(Instant),
}

#[derive(Debug)]
struct ModemState {
    config: ModemConfig,
    power: Power,
    pressed_at: Option<Instant>,
    echo: bool,
    cmee: u8,
    autocsq: bool,
    cereg_n: u8,
    last_rssi: Option<u16>,
    last_stat: Option<u16>,
    out: Vec<u8>,
}

impl ModemState {
    fn emit(&mut self, text: &str) {
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn stat(&self, now: Instant) -> u16 {
        match (self.power, self.config.sim) {
            (_, SimCard::Missing | SimCard::PinLocked) => 0,
            (Power::On(since), SimCard::Ready) => {
                if self.config.signal.rssi() == 99 {
                    2
                } else if now >= since + self.config.register_after {
                    1
                } else {
                    2
                }
            }
            _ => 0,
        }
    }

    fn rssi(&self, now: Instant) -> u16 {
        match self.power {
            Power::On(since) if now >= since + self.config.register_after / 2 => {
                self.config.signal.rssi()
            }
            _ => 99,
        }
    }

    /// Power-on URCs, boot completion, and change URCs.
    fn tick(&mut self, now: Instant) {
        if let Power::Booting(at) = self.power
            && now >= at
        {
            self.power = Power::On(now);
            self.echo = true;
            self.cmee = 0;
            self.autocsq = false;
            self.cereg_n = 0;
            self.emit("RDY");
            let sim = self.config.sim;
            match self.config.kind {
                ModemKind::Sim7600 => {
                    if sim == SimCard::Ready {
                        self.emit("+CPIN: READY");
                        self.emit("SMS DONE");
                        self.emit("PB DONE");
                    } else if sim == SimCard::PinLocked {
                        self.emit("+CPIN: SIM PIN");
                    }
                }
                ModemKind::Eg25 => {
                    self.emit("+CFUN: 1");
                    match sim {
                        SimCard::Ready => {
                            self.emit("+CPIN: READY");
                            self.emit("+QUSIM: 1");
                            self.emit("+QIND: SMS DONE");
                            self.emit("+QIND: PB DONE");
                        }
                        SimCard::PinLocked => self.emit("+CPIN: SIM PIN"),
                        SimCard::Missing => {}
                    }
                }
            }
        }
        if let Power::On(_) = self.power {
            let rssi = self.rssi(now);
            if self.autocsq && self.last_rssi.is_some_and(|r| r != rssi) {
                self.emit(&format!("+CSQ: {rssi},{}", if rssi == 99 { 99 } else { 0 }));
            }
            self.last_rssi = Some(rssi);
            let stat = self.stat(now);
            if self.cereg_n >= 1 && self.last_stat.is_some_and(|s| s != stat) {
                self.emit(&format!("+CEREG: {stat}"));
            }
            self.last_stat = Some(stat);
        }
    }

    fn cme(&mut self, code: u16, text: &str) {
        match self.cmee {
            0 => self.emit("ERROR"),
            1 => self.emit(&format!("+CME ERROR: {code}")),
            _ => self.emit(&format!("+CME ERROR: {text}")),
        }
    }

    fn answer(&mut self, line: &str, now: Instant) {
        let cmd = line.trim().to_ascii_uppercase();
        let kind = self.config.kind;
        match cmd.as_str() {
            "AT" => self.emit("OK"),
            "ATE0" => {
                self.echo = false;
                self.emit("OK");
            }
            "ATE1" => {
                self.echo = true;
                self.emit("OK");
            }
            "AT+CMEE?" => {
                let n = self.cmee;
                self.emit(&format!("+CMEE: {n}"));
                self.emit("OK");
            }
            "AT+CPIN?" => match self.config.sim {
                SimCard::Ready => {
                    self.emit("+CPIN: READY");
                    self.emit("OK");
                }
                SimCard::PinLocked => {
                    self.emit("+CPIN: SIM PIN");
                    self.emit("OK");
                }
                SimCard::Missing => self.cme(10, "SIM not inserted"),
            },
            "AT+CSQ" => {
                let rssi = self.rssi(now);
                self.emit(&format!("+CSQ: {rssi},{}", if rssi == 99 { 99 } else { 0 }));
                self.emit("OK");
            }
            "AT+CREG?" | "AT+CGREG?" | "AT+CEREG?" => {
                let stat = self.stat(now);
                let name = &cmd[2..cmd.len() - 1];
                let n = if name == "+CEREG" { self.cereg_n } else { 0 };
                self.emit(&format!("{name}: {n},{stat}"));
                self.emit("OK");
            }
            "AT+COPS?" => {
                if self.stat(now) == 1 {
                    self.emit("+COPS: 0,0,\"FIELD NET\",7");
                } else {
                    self.emit("+COPS: 0");
                }
                self.emit("OK");
            }
            "AT+CGATT?" => {
                let s = u8::from(self.stat(now) == 1);
                self.emit(&format!("+CGATT: {s}"));
                self.emit("OK");
            }
            "AT+CPOF" if kind == ModemKind::Sim7600 => {
                self.emit("OK");
                self.power = Power::Off;
            }
            "AT+QPOWD=1" | "AT+QPOWD" if kind == ModemKind::Eg25 => {
                self.emit("OK");
                self.emit("POWERED DOWN");
                self.power = Power::Off;
            }
            "AT+CRESET" if kind == ModemKind::Sim7600 => {
                self.emit("OK");
                self.power = Power::Booting(now + self.config.boot);
            }
            c => {
                if let Some(n) = c.strip_prefix("AT+CMEE=") {
                    match n {
                        "0" | "1" | "2" => {
                            self.cmee = n.parse().unwrap_or(0);
                            self.emit("OK");
                        }
                        _ => self.emit("ERROR"),
                    }
                } else if let Some(n) = c.strip_prefix("AT+CEREG=") {
                    match n {
                        "0" | "1" | "2" => {
                            self.cereg_n = n.parse().unwrap_or(0);
                            self.emit("OK");
                        }
                        _ => self.emit("ERROR"),
                    }
                } else if c == "AT+AUTOCSQ=1,1" && kind == ModemKind::Sim7600 {
                    self.autocsq = true;
                    self.emit("OK");
                } else if c.starts_with("AT+CGDCONT=")
                    || c.starts_with("AT+CGATT=")
                    || c.starts_with("AT+CGACT=")
                    || c.starts_with("AT+CREG=")
                    || c.starts_with("AT+CGREG=")
                {
                    self.emit("OK");
                } else {
                    self.emit("ERROR");
                }
            }
        }
    }
}

/// The modem's power key, for the driver (it implements [`PowerKey`]).
#[derive(Debug, Clone)]
pub struct SimPowerKey(Arc<Mutex<ModemState>>);

impl PowerKey for SimPowerKey {
    fn set_pressed(&mut self, pressed: bool) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if pressed {
            s.pressed_at = Some(now);
        } else if let Some(at) = s.pressed_at.take() {
            // SIM7600/EG25 want a press of at least ~0.5 s; the simulation takes 50 ms.
            if now.duration_since(at) >= Duration::from_millis(50) {
                s.power = match s.power {
                    Power::Off => Power::Booting(now + s.config.boot),
                    _ => Power::Off,
                };
            }
        }
        Ok(())
    }
}

/// A simulated modem answering on its pseudo-terminal.
#[derive(Debug)]
pub struct SimModem {
    state: Arc<Mutex<ModemState>>,
    worker: Worker,
}

/// A USB modem's AT port: `link` points to the pseudo-terminal `target` while it is on.
#[derive(Debug)]
struct UsbPort {
    link: PathBuf,
    target: PathBuf,
    present: bool,
}

impl UsbPort {
    /// The link there exactly while the modem is on.
    fn follow(&mut self, on: bool) {
        if on == self.present {
            return;
        }
        let done = if on {
            std::os::unix::fs::symlink(&self.target, &self.link)
        } else {
            std::fs::remove_file(&self.link)
        };
        match done {
            Ok(()) => self.present = on,
            Err(e) => tracing::warn!("simulated USB modem port {}: {e}", self.link.display()),
        }
    }
}

impl Drop for UsbPort {
    fn drop(&mut self) {
        self.follow(false);
    }
}

impl SimModem {
    /// Starts a powered-off modem; returns it, its power key and the kit's end of the line.
    pub fn spawn(config: ModemConfig) -> Result<(SimModem, SimPowerKey, TTYPort), PtyError> {
        let (modem, key, kit) = Self::start(config, None)?;
        Ok((modem, key, kit))
    }

    /// Starts a powered-off USB modem whose AT port is at `port` only while it is on (a
    /// link to its pseudo-terminal, made when it finished booting, removed when it goes
    /// off); returns it and its power key. `port` must not exist yet.
    pub fn spawn_usb(
        config: ModemConfig,
        port: &Path,
    ) -> Result<(SimModem, SimPowerKey), PtyError> {
        let (modem, key, kit) = Self::start(config, Some(port.to_path_buf()))?;
        // The kit opens the port by its path at each power-up; this end is not kept (no
        // terminal open on it: the modem's reads fail until the kit opens it, as a USB
        // device's do while nothing is attached).
        drop(kit);
        Ok((modem, key))
    }

    fn start(
        config: ModemConfig,
        usb: Option<PathBuf>,
    ) -> Result<(SimModem, SimPowerKey, TTYPort), PtyError> {
        let (mut device, kit) = pty_pair(Duration::from_millis(50))?;
        let mut usb = match usb {
            Some(link) => Some(UsbPort {
                link,
                target: serialport::SerialPort::name(&kit)
                    .map(PathBuf::from)
                    .ok_or_else(|| std::io::Error::other("the pseudo-terminal has no name"))?,
                present: false,
            }),
            None => None,
        };
        let state = Arc::new(Mutex::new(ModemState {
            config,
            power: Power::Off,
            pressed_at: None,
            echo: true,
            cmee: 0,
            autocsq: false,
            cereg_n: 0,
            last_rssi: None,
            last_stat: None,
            out: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, s) = (state.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("sim-modem".into())
            .spawn(move || {
                let mut lines = LineReader::<600>::new();
                let mut buf = [0u8; 256];
                while !s.load(Ordering::Relaxed) {
                    let n = match device.read(&mut buf) {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
                        // No terminal open on the kit's end (a USB port nobody opened):
                        // the read fails at once, so wait a moment.
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                            0
                        }
                    };
                    let out = {
                        let mut m = st.lock().unwrap_or_else(|e| e.into_inner());
                        let now = Instant::now();
                        m.tick(now);
                        if let Some(port) = usb.as_mut() {
                            port.follow(matches!(m.power, Power::On(_)));
                        }
                        for &b in &buf[..n] {
                            if !matches!(m.power, Power::On(_)) {
                                continue; // powered off or booting: input is lost
                            }
                            if m.echo {
                                m.out.push(b);
                            }
                            // CR ends a command; the LF of "\r\n" is an empty line.
                            if let Some(LineEvent::Line(l)) = lines.feed(b) {
                                m.answer(l.as_str(), now);
                            }
                        }
                        std::mem::take(&mut m.out)
                    };
                    if !out.is_empty() {
                        let _ = device.write_all(&out);
                    }
                }
            })?;
        Ok((
            SimModem {
                state: state.clone(),
                worker: Worker {
                    stop,
                    handle: Some(handle),
                },
            },
            SimPowerKey(state),
            kit,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, ModemState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the modem is on (booted).
    pub fn is_on(&self) -> bool {
        matches!(self.lock().power, Power::On(_))
    }

    /// Swaps the SIM (takes effect for the next queries).
    pub fn set_sim(&self, sim: SimCard) {
        self.lock().config.sim = sim;
    }

    /// Stops the modem's thread.
    pub fn stop(mut self) {
        self.worker.stop();
    }
}

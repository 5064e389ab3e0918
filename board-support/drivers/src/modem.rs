//! A SIMCom SIM7600 or Quectel EG25-G class cellular modem over its AT port.
//!
//! The firmware powers the modem through a GPIO ([`PowerKey`]: on the board an rppal pin
//! in `fieldkit-linux`, in simulation the simulated modem's own key), waits for `RDY`,
//! turns echo off and verbose errors on, reads the SIM state, the signal (`AT+CSQ`) and the
//! EPS registration (`AT+CEREG?`), and waits until registered. The data path is IP: once
//! registered, the OS brings the data interface up and the sync's HTTP link uses it; this
//! driver never carries data.
//!
//! Generic over `serialport::SerialPort`. Lines are classified by prefix
//! ([`crate::at::cellular`]), so URCs (`+CPIN: READY`, `SMS DONE`, `+CSQ` from
//! `AT+AUTOCSQ`, `+QIND: …`) may arrive between any two lines of a reply; echo (on at
//! power-up) is skipped; `+CME ERROR` in numeric or verbose form is final.

use std::io;
use std::time::{Duration, Instant};

use serialport::SerialPort;

use crate::at::cellular::{self, Cme, Domain, Line, RegStatus};
use crate::at_port::AtPort;

/// The modem's power key, a GPIO the firmware drives.
pub trait PowerKey {
    /// Holds the key pressed (`true`) or released.
    fn set_pressed(&mut self, pressed: bool) -> io::Result<()>;
}

/// Which family answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModemModel {
    /// SIMCom SIM7500/SIM7600: power off with `AT+CPOF`.
    Sim7600,
    /// Quectel EG25-G / EC2x: power off with `AT+QPOWD=1`, then `POWERED DOWN`.
    Eg25,
}

/// Errors talking to the modem.
#[derive(Debug, thiserror::Error)]
pub enum ModemError {
    /// No answer within the timeout.
    #[error("modem silent (no reply to {0})")]
    Silent(&'static str),
    /// `ERROR` (unsupported command or syntax).
    #[error("modem refused {0}")]
    Refused(&'static str),
    /// `+CME ERROR`.
    #[error("modem error on {command}: +CME ERROR {detail}")]
    Cme {
        /// The command.
        command: &'static str,
        /// Number or text.
        detail: String,
        /// TS 27.007 number when known.
        code: Option<u16>,
    },
    /// The SIM is missing, locked or failed.
    #[error("SIM not ready: {0}")]
    Sim(String),
    /// Not registered before the deadline.
    #[error("not registered after {0:?} (last state {1:?})")]
    NotRegistered(Duration, RegStatus),
    /// The power key could not be driven.
    #[error("modem power key: {0}")]
    PowerKey(io::Error),
    /// The port failed.
    #[error("modem serial port: {0}")]
    Io(#[from] io::Error),
}

/// Whether `apn` is a usable access point name: 1–63 characters of ASCII letters, digits,
/// `.` and `-`, labels not empty (3GPP TS 23.003 §9.1, the network identifier part).
pub fn valid_apn(apn: &str) -> bool {
    (1..=63).contains(&apn.len())
        && apn
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Signal quality from `AT+CSQ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// Raw rssi (0–31, 99 unknown).
    pub rssi: u16,
    /// Raw bit error rate (0–7, 99 unknown).
    pub ber: u16,
}

impl Signal {
    /// Signal in dBm, None when unknown.
    pub fn dbm(&self) -> Option<i16> {
        cellular::csq_dbm(self.rssi)
    }
}

/// A cellular modem on a serial port.
#[derive(Debug)]
pub struct Modem<P, K> {
    port: AtPort<P>,
    key: K,
    model: ModemModel,
    reply_timeout: Duration,
    last_signal: Option<Signal>,
}

struct Reply {
    lines: Vec<String>,
}

impl<P: SerialPort, K: PowerKey> Modem<P, K> {
    /// Line speed of both families' main UART.
    pub const BAUD_RATE: u32 = 115_200;

    /// Wraps an open port and the power key.
    pub fn new(port: P, key: K, model: ModemModel) -> Self {
        Self {
            port: AtPort::new(port),
            key,
            model,
            reply_timeout: Duration::from_secs(3),
            last_signal: None,
        }
    }

    /// The last signal reported (by `AT+CSQ` or a URC).
    pub fn last_signal(&self) -> Option<Signal> {
        self.last_signal
    }

    fn next_line(&mut self, deadline: Instant) -> Result<Option<String>, ModemError> {
        Ok(self.port.next_line(deadline)?)
    }

    /// Notes what a URC tells; true when the line was one.
    fn take_urc(&mut self, line: &Line<'_>, expecting_csq: bool) -> bool {
        match *line {
            Line::Csq { rssi, ber } if !expecting_csq => {
                self.last_signal = Some(Signal { rssi, ber });
                true
            }
            Line::Ready | Line::Urc(_) | Line::PoweredDown => true,
            Line::Pin(_) => false,
            _ => false,
        }
    }

    /// Sends `text` and collects its reply up to the final result.
    fn command(&mut self, text: &str, name: &'static str) -> Result<Reply, ModemError> {
        self.command_timeout(text, name, self.reply_timeout)
    }

    fn command_timeout(
        &mut self,
        text: &str,
        name: &'static str,
        timeout: Duration,
    ) -> Result<Reply, ModemError> {
        self.port.send(text, b"\r")?;
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        let expecting = text.to_ascii_uppercase();
        while let Some(line) = self.next_line(deadline)? {
            if line.eq_ignore_ascii_case(text) {
                continue; // echo
            }
            let c = cellular::classify(&line);
            let expecting_csq = expecting == "AT+CSQ";
            match c {
                Line::Ok => return Ok(Reply { lines }),
                Line::Error => return Err(ModemError::Refused(name)),
                Line::Cme(cme) => {
                    let (detail, code) = match cme {
                        Cme::Code(c) => (c.to_string(), Some(c)),
                        Cme::Text(t) => (t.to_string(), cme.code()),
                    };
                    return Err(ModemError::Cme {
                        command: name,
                        detail,
                        code,
                    });
                }
                Line::Cms(t) => {
                    return Err(ModemError::Cme {
                        command: name,
                        detail: t.to_string(),
                        code: None,
                    });
                }
                other => {
                    if !self.take_urc(&other, expecting_csq) {
                        lines.push(line);
                    }
                }
            }
        }
        Err(ModemError::Silent(name))
    }

    /// Presses the power key for `press` and waits up to `boot_timeout` for `RDY` (or for
    /// an answer to `AT`, when the modem auto-bauds and prints no `RDY`). Then echo off,
    /// verbose errors on, EPS registration reports on.
    pub fn power_on(&mut self, press: Duration, boot_timeout: Duration) -> Result<(), ModemError> {
        if self.power_on_while(press, boot_timeout, &|| true)? {
            Ok(())
        } else {
            Err(ModemError::Silent("power on"))
        }
    }

    /// As [`Modem::power_on`], asking `go_on` about every half second while the modem
    /// boots (a SIM7600 takes ~12 s to `RDY`): `Ok(false)` when it said stop before the
    /// modem answered. The key was pressed then, so the modem may still be booting: the
    /// caller switches it off once it answers.
    pub fn power_on_while(
        &mut self,
        press: Duration,
        boot_timeout: Duration,
        go_on: &dyn Fn() -> bool,
    ) -> Result<bool, ModemError> {
        self.key.set_pressed(true).map_err(ModemError::PowerKey)?;
        std::thread::sleep(press);
        self.key.set_pressed(false).map_err(ModemError::PowerKey)?;
        let deadline = Instant::now() + boot_timeout;
        let mut ready = false;
        while Instant::now() < deadline {
            if !go_on() {
                return Ok(false);
            }
            let step = Instant::now() + Duration::from_millis(500);
            if let Some(line) = self.next_line(step.min(deadline))? {
                if cellular::classify(&line) == Line::Ready {
                    ready = true;
                    break;
                }
                continue;
            }
            // Quiet for half a second: maybe RDY was missed; ask.
            if self
                .command_timeout("AT", "AT", Duration::from_millis(500))
                .is_ok()
            {
                ready = true;
                break;
            }
        }
        if !ready {
            return Err(ModemError::Silent("power on"));
        }
        self.init()?;
        Ok(true)
    }

    /// True when the modem answers `AT` within `wait` (it is on): a kiosk restarted while
    /// its modem was on must not press the key, which would switch it off.
    pub fn answers(&mut self, wait: Duration) -> bool {
        self.command_timeout("AT", "AT", wait).is_ok()
    }

    /// Sets the packet data context's access point name (`AT+CGDCONT=1,"IP","<apn>"`), which
    /// some networks need before the OS brings the data interface up. An APN is at most 63
    /// characters of letters, digits, `.` and `-` (3GPP TS 23.003 §9.1); anything else is
    /// refused here, before it reaches the modem.
    pub fn set_apn(&mut self, apn: &str) -> Result<(), ModemError> {
        if !valid_apn(apn) {
            return Err(ModemError::Refused("AT+CGDCONT (invalid APN)"));
        }
        self.command(&format!("AT+CGDCONT=1,\"IP\",\"{apn}\""), "AT+CGDCONT")?;
        Ok(())
    }

    /// Echo off, verbose errors, registration reports (safe to repeat).
    pub fn init(&mut self) -> Result<(), ModemError> {
        self.command("ATE0", "ATE0")?;
        self.command("AT+CMEE=2", "AT+CMEE")?;
        Ok(())
    }

    /// The SIM's state (`READY`, `SIM PIN`, …); a missing SIM is an error.
    pub fn sim_state(&mut self) -> Result<String, ModemError> {
        let r = self.command("AT+CPIN?", "AT+CPIN?").map_err(|e| match e {
            ModemError::Cme { detail, .. } => ModemError::Sim(detail),
            other => other,
        })?;
        r.lines
            .iter()
            .find_map(|l| match cellular::classify(l) {
                Line::Pin(state) => Some(state.to_string()),
                _ => None,
            })
            .ok_or(ModemError::Silent("AT+CPIN?"))
    }

    /// Reads the signal.
    pub fn signal(&mut self) -> Result<Signal, ModemError> {
        let r = self.command("AT+CSQ", "AT+CSQ")?;
        let s = r
            .lines
            .iter()
            .find_map(|l| match cellular::classify(l) {
                Line::Csq { rssi, ber } => Some(Signal { rssi, ber }),
                _ => None,
            })
            .ok_or(ModemError::Silent("AT+CSQ"))?;
        self.last_signal = Some(s);
        Ok(s)
    }

    /// Reads the EPS (LTE) registration state.
    pub fn registration(&mut self) -> Result<RegStatus, ModemError> {
        let r = self.command("AT+CEREG?", "AT+CEREG?")?;
        r.lines
            .iter()
            .find_map(|l| match cellular::classify(l) {
                // The read answer is "<n>,<stat>[,…]"; a lone number is a stat.
                Line::Registration {
                    domain: Domain::Eps,
                    first,
                    second,
                } => Some(RegStatus::from_code(second.unwrap_or(first))),
                _ => None,
            })
            .ok_or(ModemError::Silent("AT+CEREG?"))
    }

    /// Polls the registration every `poll` until registered (home or roaming) or `timeout`.
    pub fn wait_registered(
        &mut self,
        timeout: Duration,
        poll: Duration,
    ) -> Result<RegStatus, ModemError> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.registration()?;
            if state.is_registered() {
                return Ok(state);
            }
            if Instant::now() + poll > deadline {
                return Err(ModemError::NotRegistered(timeout, state));
            }
            std::thread::sleep(poll);
        }
    }

    /// Powers the modem down by command (the key is the fallback for a hung modem).
    pub fn power_off(&mut self) -> Result<(), ModemError> {
        match self.model {
            ModemModel::Sim7600 => {
                self.command("AT+CPOF", "AT+CPOF")?;
            }
            ModemModel::Eg25 => {
                self.command("AT+QPOWD=1", "AT+QPOWD")?;
                let deadline = Instant::now() + Duration::from_secs(65);
                while let Some(line) = self.next_line(deadline)? {
                    if cellular::classify(&line) == Line::PoweredDown {
                        return Ok(());
                    }
                }
                return Err(ModemError::Silent("AT+QPOWD"));
            }
        }
        Ok(())
    }
}

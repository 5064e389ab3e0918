//! The RAK3172 LoRa module (RUI3 firmware) in point-to-point mode, over its serial AT port.
//!
//! Generic over `serialport::SerialPort`: the board opens `/dev/lora` (115200 8N1), tests a
//! pseudo-terminal with the simulated module on the other end. The driver survives every
//! firmware difference the AT vectors list: `AT+NWM=0` answering `OK` without a line
//! ending (or nothing) and rebooting; bandwidth in kHz (3.x) or as an index (3.5.0b and
//! later); `+EVT:TXP2P DONE` only from 4.0.2 (before, it waits out the time on air itself);
//! `P2P_RX_ON already` before `AT_BUSY_ERROR` from 4.1.0; the v1.0.x two-line receive event.
//! Payloads are capped at 239 bytes, the limit from 4.1.1 on, on every version, so a frame
//! that fits one module fits all.
//!
//! Every transmission passes the duty-cycle budget first ([`crate::lora::DutyCycle`]), with
//! the time on air from Semtech's formula; the caller passes `now_ms` on its own monotonic
//! clock, so a simulated day can run faster than a real one.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use serialport::SerialPort;

use crate::at::rui3::{self, Line, Status, Version};
use crate::at::{hex_decode, hex_encode};
use crate::at_port::AtPort;
use crate::lora::{Bandwidth, DutyCycle, Modulation, OverBudget};

/// Largest payload sent, bytes (RUI3 4.1.1 and later refuse more).
pub const MAX_PAYLOAD: usize = 239;

/// Errors talking to the module.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    /// No answer within the timeout.
    #[error("LoRa module silent (no reply to {0})")]
    Silent(&'static str),
    /// The module answered with an error status.
    #[error("LoRa module refused {command}: {status:?}")]
    Refused {
        /// The command.
        command: &'static str,
        /// Its status.
        status: Status,
    },
    /// The payload is larger than a frame.
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD}-byte LoRa frame")]
    TooLong(usize),
    /// The duty-cycle budget does not allow this transmission now.
    #[error("duty cycle: next transmission allowed at {} ms", .0.retry_at_ms)]
    DutyCycle(OverBudget),
    /// The module did not come back in P2P mode after a reset.
    #[error("LoRa module not in P2P mode after reset (reports {0:?})")]
    WrongMode(String),
    /// The port failed.
    #[error("LoRa serial port: {0}")]
    Io(#[from] io::Error),
}

/// P2P radio settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2pConfig {
    /// Frequency, Hz (EU868: 868 000 000 …).
    pub frequency_hz: u32,
    /// Modulation (SF, bandwidth, coding rate, preamble).
    pub modulation: Modulation,
    /// Transmit power, dBm (5–22).
    pub power_dbm: u8,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            frequency_hz: 868_100_000,
            modulation: Modulation::p2p(7),
            power_dbm: 14,
        }
    }
}

/// A received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// RSSI, dBm.
    pub rssi: i16,
    /// SNR, dB.
    pub snr: i16,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Counts of what the module did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RadioStats {
    /// Frames sent.
    pub sent: u64,
    /// Frames received.
    pub received: u64,
    /// Receive errors reported by the module (CRC, header).
    pub rx_errors: u64,
    /// Time on air spent, ms.
    pub airtime_ms: u64,
    /// Transmissions the duty-cycle budget held back.
    pub held_back: u64,
}

/// A RAK3172 on a serial port.
#[derive(Debug)]
pub struct Rak3172<P> {
    port: AtPort<P>,
    received: VecDeque<Packet>,
    legacy_header: Option<(i16, i16)>,
    version: Option<Version>,
    config: P2pConfig,
    duty: DutyCycle,
    reply_timeout: Duration,
    stats: RadioStats,
}

enum Reply {
    Ok(Vec<String>),
    Status(Status),
}

impl<P: SerialPort> Rak3172<P> {
    /// The module's default line speed under RUI3.
    pub const BAUD_RATE: u32 = 115_200;

    /// Wraps an open port (its read timeout should be short, ~50 ms: the driver loops).
    pub fn new(port: P) -> Self {
        Self {
            port: AtPort::new(port),
            received: VecDeque::new(),
            legacy_header: None,
            version: None,
            config: P2pConfig::default(),
            duty: DutyCycle::eu868(),
            reply_timeout: Duration::from_millis(1500),
            stats: RadioStats::default(),
        }
    }

    /// Replaces the duty-cycle budget (another region's rule).
    pub fn set_duty_cycle(&mut self, duty: DutyCycle) {
        self.duty = duty;
    }

    /// The duty-cycle budget and its ledger (to persist across a restart).
    pub fn duty_cycle(&self) -> &DutyCycle {
        &self.duty
    }

    /// The duty-cycle budget, to restore its ledger after a restart.
    pub fn duty_cycle_mut(&mut self) -> &mut DutyCycle {
        &mut self.duty
    }

    /// The firmware version read at [`Rak3172::start`].
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The radio settings in force.
    pub fn config(&self) -> P2pConfig {
        self.config
    }

    /// Counts so far.
    pub fn stats(&self) -> RadioStats {
        self.stats
    }

    /// Airtime used in the duty-cycle window ending at `now_ms`.
    pub fn airtime_used_ms(&mut self, now_ms: u64) -> u64 {
        self.duty.used_ms(now_ms)
    }

    /// Airtime still allowed in the duty-cycle window ending at `now_ms`.
    pub fn airtime_left_ms(&mut self, now_ms: u64) -> u64 {
        self.duty
            .allowance_ms()
            .saturating_sub(self.duty.used_ms(now_ms))
    }

    /// Gives the port back.
    pub fn into_inner(self) -> P {
        self.port.into_inner()
    }

    fn next_line(&mut self, deadline: Instant) -> Result<Option<String>, LoraError> {
        if let Some(l) = self.port.next_line(deadline)? {
            return Ok(Some(l));
        }
        // RUI3 prints AT+NWM's OK with no line ending before rebooting.
        if self.port.pending() == b"OK" {
            self.port.drop_pending();
            return Ok(Some("OK".into()));
        }
        Ok(None)
    }

    /// Keeps a received frame (malformed hex is dropped: the module never prints it).
    fn keep_packet(&mut self, rssi: i16, snr: i16, hex: &str) {
        let mut payload = vec![0u8; hex.len() / 2];
        if let Ok(n) = hex_decode(hex, &mut payload) {
            payload.truncate(n);
            self.stats.received += 1;
            self.received.push_back(Packet { rssi, snr, payload });
        }
    }

    /// Handles an event line that can arrive at any time; true if it was one.
    fn take_event(&mut self, line: &Line<'_>) -> bool {
        match *line {
            Line::Received { rssi, snr, hex } => {
                self.keep_packet(rssi, snr, hex);
                true
            }
            Line::LegacyReceived { rssi, snr } => {
                self.legacy_header = Some((rssi, snr));
                true
            }
            Line::LegacyPayload(hex) => {
                if let Some((rssi, snr)) = self.legacy_header.take() {
                    self.keep_packet(rssi, snr, hex);
                }
                true
            }
            Line::RxError => {
                self.stats.rx_errors += 1;
                true
            }
            Line::TxDone | Line::RxTimeout | Line::Event(_) => true,
            _ => false,
        }
    }

    /// Sends one command and collects its reply: the lines before a status word.
    fn command(&mut self, text: &str, name: &'static str) -> Result<Reply, LoraError> {
        self.port.send(text, b"\r\n")?;
        let deadline = Instant::now() + self.reply_timeout;
        let mut info = Vec::new();
        while let Some(line) = self.next_line(deadline)? {
            let c = rui3::classify(&line);
            if self.take_event(&c) {
                continue;
            }
            match c {
                Line::Ok => return Ok(Reply::Ok(info)),
                Line::Status(s) => return Ok(Reply::Status(s)),
                // An echo of our own command (after ATE) is not part of the answer.
                Line::Value { .. } | Line::Info(_) if line.eq_ignore_ascii_case(text) => {}
                _ => info.push(line),
            }
        }
        Err(LoraError::Silent(name))
    }

    fn expect_ok(&mut self, text: &str, name: &'static str) -> Result<Vec<String>, LoraError> {
        match self.command(text, name)? {
            Reply::Ok(info) => Ok(info),
            Reply::Status(status) => Err(LoraError::Refused {
                command: name,
                status,
            }),
        }
    }

    /// Sends a command that RX (4.1.0+) or a send in progress may refuse as busy: on
    /// `AT_BUSY_ERROR`, stops RX (`AT+PRECV=0` answers OK in every state) and tries once more.
    fn command_past_busy(&mut self, text: &str, name: &'static str) -> Result<(), LoraError> {
        match self.command(text, name)? {
            Reply::Ok(_) => Ok(()),
            Reply::Status(Status::Busy) => {
                self.expect_ok("AT+PRECV=0", "AT+PRECV")?;
                self.expect_ok(text, name).map(|_| ())
            }
            Reply::Status(status) => Err(LoraError::Refused {
                command: name,
                status,
            }),
        }
    }

    /// Waits for the banner's `Current Work Mode:` line after a reset.
    fn wait_for_mode(&mut self, timeout: Duration) -> Result<String, LoraError> {
        let deadline = Instant::now() + timeout;
        while let Some(line) = self.next_line(deadline)? {
            if let Line::WorkMode(mode) = rui3::classify(&line) {
                return Ok(mode.to_string());
            }
        }
        Err(LoraError::Silent("reset"))
    }

    /// Brings the module up in LoRa P2P mode: checks it answers, reads the firmware version,
    /// and switches the work mode (the module reboots) if it is not P2P.
    pub fn start(&mut self) -> Result<Version, LoraError> {
        // A module just powered may swallow the first AT; try a few times.
        let mut alive = false;
        for _ in 0..3 {
            if matches!(self.command("AT", "AT"), Ok(Reply::Ok(_))) {
                alive = true;
                break;
            }
        }
        if !alive {
            return Err(LoraError::Silent("AT"));
        }
        let info = self.expect_ok("AT+VER=?", "AT+VER")?;
        let version = info
            .iter()
            .find_map(|l| match rui3::classify(l) {
                Line::Value { name, value } if name.eq_ignore_ascii_case("VER") => {
                    Version::parse(value)
                }
                _ => Version::parse(l),
            })
            .unwrap_or(Version {
                major: 0,
                minor: 0,
                patch: 0,
                legacy: true,
            });
        self.version = Some(version);
        let mode = self.expect_ok("AT+NWM=?", "AT+NWM")?;
        let in_p2p = mode.iter().any(|l| {
            matches!(rui3::classify(l), Line::Value { name, value } if name.eq_ignore_ascii_case("NWM") && value.trim() == "0")
        });
        if !in_p2p {
            // RX on refuses AT+NWM from 4.1.0: stop it first (OK in every state).
            let _ = self.command("AT+PRECV=0", "AT+PRECV");
            self.port.send("AT+NWM=0", b"\r\n")?;
            let mode = self.wait_for_mode(Duration::from_secs(3))?;
            if !mode.starts_with("LoRa P2P") {
                return Err(LoraError::WrongMode(mode));
            }
        }
        Ok(version)
    }

    /// Sets frequency, spreading factor, bandwidth, coding rate, preamble and power.
    pub fn configure(&mut self, config: P2pConfig) -> Result<(), LoraError> {
        let m = config.modulation;
        let by_index = self.version.is_none_or(|v| v.bandwidth_as_index());
        let khz = match m.bandwidth {
            Bandwidth::K125 => Some(125),
            Bandwidth::K250 => Some(250),
            Bandwidth::K500 => Some(500),
            _ => None,
        };
        let bw = match (by_index, khz) {
            (true, _) => u32::from(m.bandwidth.rui3_index()),
            (false, Some(k)) => k,
            (false, None) => {
                return Err(LoraError::Refused {
                    command: "AT+P2P",
                    status: Status::Param,
                });
            }
        };
        let text = format!(
            "AT+P2P={}:{}:{}:{}:{}:{}",
            config.frequency_hz,
            m.sf,
            bw,
            m.cr.saturating_sub(1),
            m.preamble,
            config.power_dbm
        );
        self.command_past_busy(&text, "AT+P2P")?;
        self.config = config;
        Ok(())
    }

    /// Time on air of a `len`-byte payload at the current settings, ms.
    pub fn time_on_air_ms(&self, len: usize) -> u32 {
        self.config.modulation.time_on_air_ms(len)
    }

    /// Sends one frame if the duty-cycle budget allows it at `now_ms`; returns its time on
    /// air. Waits until the module reports the end of transmission (or, on firmware that
    /// does not, until the time on air has passed).
    pub fn send(&mut self, now_ms: u64, payload: &[u8]) -> Result<u32, LoraError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(LoraError::TooLong(payload.len()));
        }
        let airtime = self.time_on_air_ms(payload.len());
        if let Err(e) = self.duty.check(now_ms, airtime) {
            self.stats.held_back += 1;
            return Err(LoraError::DutyCycle(e));
        }
        let mut hex = vec![0u8; payload.len() * 2];
        let text = format!("AT+PSEND={}", hex_encode(payload, &mut hex));
        // A receive window or a previous send may still hold the radio.
        self.command_past_busy(&text, "AT+PSEND")?;
        self.duty.record(now_ms, airtime);
        self.stats.sent += 1;
        self.stats.airtime_ms += u64::from(airtime);
        let on_air = Duration::from_millis(u64::from(airtime));
        if self.version.is_some_and(|v| v.reports_tx_done()) {
            let deadline = Instant::now() + on_air * 2 + Duration::from_millis(500);
            while let Some(line) = self.next_line(deadline)? {
                let c = rui3::classify(&line);
                if c == Line::TxDone {
                    return Ok(airtime);
                }
                self.take_event(&c);
            }
            // Some 4.0.2 builds print no event: the time on air has passed by now.
        } else {
            std::thread::sleep(on_air);
        }
        Ok(airtime)
    }

    /// Listens for up to `window` and returns the first frame heard (or one heard earlier
    /// while waiting for something else).
    pub fn receive(&mut self, window: Duration) -> Result<Option<Packet>, LoraError> {
        if let Some(p) = self.received.pop_front() {
            return Ok(Some(p));
        }
        let ms = window.as_millis().clamp(1, 65_532);
        let text = format!("AT+PRECV={ms}");
        self.command_past_busy(&text, "AT+PRECV")?;
        let deadline = Instant::now() + window + Duration::from_millis(500);
        while let Some(line) = self.next_line(deadline)? {
            let c = rui3::classify(&line);
            if c == Line::RxTimeout {
                break;
            }
            self.take_event(&c);
            if let Some(p) = self.received.pop_front() {
                return Ok(Some(p));
            }
        }
        Ok(self.received.pop_front())
    }
}

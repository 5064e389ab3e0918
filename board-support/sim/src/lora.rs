//! Simulated RAK3172 modules (RUI3 firmware, LoRa P2P) on real pseudo-terminals, joined by a
//! simulated "air".
//!
//! Each module answers the AT dialect of `shared/vectors/at/rak3172_rui3_p2p.txt` line for
//! line, for the firmware profile it is given ([`Firmware`]): status words without a leading
//! CR LF, `AT+NWM=<n>` printing `OK` with no line ending and rebooting into the banner,
//! `+EVT:TXP2P DONE` from 4.0.2, the `P2P_RX_ON already` info line and busy refusals of
//! setters from 4.1.0, bandwidth printed in kHz on 3.x, the 239-byte payload limit from
//! 4.1.1, `AT_COMMAND_NOT_FOUND` from 3.5.4, the v1.0.x two-line receive event. The drivers
//! open the other end of each pseudo-terminal exactly as they open `/dev/lora`.
//!
//! The [`Air`] carries a transmission, after its time on air (Semtech's formula, scaled by
//! [`AirConfig::time_scale`] so tests need not wait seconds at SF12), to every other module
//! listening on the same frequency, spreading factor and bandwidth, with the configured
//! loss, RSSI and SNR. Two transmissions that overlap on one channel collide and neither
//! arrives. A lost frame is silence; a collided one is `+EVT:RXP2P RECEIVE ERROR`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fieldkit_drivers::at::{LineEvent, LineReader, hex_decode, hex_encode};
use fieldkit_drivers::lora::{Bandwidth, Modulation};
use fieldkit_drivers::rak3172::{LoraError, P2pConfig, Packet, Rak3172};
use serialport::{SerialPort as _, TTYPort};

use crate::pty::{PtyError, Worker, pty_pair};

/// Which RUI3 release a simulated module behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// Pre-RUI3 v1.0.x: two-line receive event, 255-byte payloads, no TX event.
    V1_0_2,
    /// RUI3 3.2.0: kHz bandwidth, no TX event, `AT_ERROR` + "Command not found!!",
    /// `AT+NWM` prints nothing before rebooting.
    V3_2_0,
    /// RUI3 4.0.4: index bandwidth, TX event, `AT_COMMAND_NOT_FOUND`.
    V4_0_4,
    /// RUI3 4.1.0: adds `P2P_RX_ON already` and busy refusals of setters.
    V4_1_0,
    /// RUI3 5.0.0: 239-byte payload limit.
    V5_0_0,
}

impl Firmware {
    fn version(self) -> &'static str {
        match self {
            Firmware::V1_0_2 => "v1.0.2",
            Firmware::V3_2_0 => "3.2.0-p2_22q1_final.87",
            Firmware::V4_0_4 => "RUI_4.0.4_RAK3172-E",
            Firmware::V4_1_0 => "RUI_4.1.0_RAK3172-E",
            Firmware::V5_0_0 => "RUI_5.0.0_RAK3172-E",
        }
    }
    fn at_least(self, other: Firmware) -> bool {
        self as u8 >= other as u8
    }
    fn tx_event(self) -> bool {
        self.at_least(Firmware::V4_0_4)
    }
    fn rx_on_info(self) -> bool {
        self.at_least(Firmware::V4_1_0)
    }
    fn max_hex(self) -> usize {
        match self {
            Firmware::V1_0_2 => 510,
            Firmware::V5_0_0 => 478,
            _ => 512,
        }
    }
    fn bandwidth_in_khz(self) -> bool {
        self == Firmware::V3_2_0 || self == Firmware::V1_0_2
    }
    fn banner(self) -> Vec<String> {
        match self {
            Firmware::V1_0_2 => vec![
                "RAK3172-H Version:v1.0.2 May 26 2021".into(),
                "Current Work Mode: LoRa P2P.".into(),
            ],
            Firmware::V3_2_0 => vec![
                "RAKwireless RAK3172-E Example".into(),
                "------------------------------------------------------".into(),
            ],
            _ => vec![
                "RAKwireless RAK3172".into(),
                "------------------------------------------------------".into(),
                format!("Version: {}", self.version()),
            ],
        }
    }
}

/// How the air behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AirConfig {
    /// Percent of frames lost to each receiver (0–100).
    pub loss_percent: u8,
    /// RSSI reported, dBm.
    pub rssi_dbm: i16,
    /// SNR reported, dB.
    pub snr_db: i16,
    /// Simulated time on air = real time on air × this (1.0: real time).
    pub time_scale: f64,
    /// Seed of the loss draws.
    pub seed: u64,
}

impl Default for AirConfig {
    fn default() -> Self {
        Self {
            loss_percent: 0,
            rssi_dbm: -92,
            snr_db: 7,
            time_scale: 1.0,
            seed: 0x5EED,
        }
    }
}

/// What the air carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AirStats {
    /// Transmissions started.
    pub transmissions: u64,
    /// Frames delivered to a receiver.
    pub delivered: u64,
    /// Frames lost (per receiver).
    pub lost: u64,
    /// Frames lost to collisions (per receiver).
    pub collided: u64,
    /// Unscaled time on air of all transmissions, ms.
    pub airtime_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Channel {
    frequency_hz: u32,
    sf: u8,
    bandwidth: Bandwidth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rx {
    Off,
    /// A timed window; closes on the first packet.
    Window(Instant),
    /// Until one packet (65535).
    UntilPacket,
    /// Continuous (65534).
    Continuous,
    /// Continuous, sending allowed (65533).
    ContinuousTx,
}

#[derive(Debug)]
struct Radio {
    channel: Channel,
    rx: Rx,
    p2p: bool,
    transmitting_until: Option<Instant>,
    /// Lines to print, each not before its time.
    out: VecDeque<(Instant, String)>,
}

#[derive(Debug)]
struct InFlight {
    from: usize,
    channel: Channel,
    end: Instant,
    payload: Vec<u8>,
    collided: bool,
}

#[derive(Debug)]
struct AirState {
    config: AirConfig,
    radios: Vec<Radio>,
    firmware: Vec<Firmware>,
    flights: Vec<InFlight>,
    rng: u64,
    stats: AirStats,
}

impl AirState {
    fn chance(&mut self, percent: u8) -> bool {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z % 100 < u64::from(percent)
    }

    /// Ends transmissions that are over: delivers them, closes expired windows.
    fn settle(&mut self, now: Instant) {
        let (done, flying): (Vec<InFlight>, Vec<InFlight>) =
            self.flights.drain(..).partition(|f| f.end <= now);
        self.flights = flying;
        for f in done {
            if let Some(r) = self.radios.get_mut(f.from) {
                r.transmitting_until = None;
                if self.firmware[f.from].tx_event() {
                    r.out.push_back((f.end, "+EVT:TXP2P DONE".into()));
                }
            }
            for to in 0..self.radios.len() {
                if to == f.from {
                    continue;
                }
                let listening = {
                    let r = &self.radios[to];
                    r.p2p
                        && r.channel == f.channel
                        && r.transmitting_until.is_none()
                        && match r.rx {
                            Rx::Off => false,
                            Rx::Window(until) => until >= f.end,
                            _ => true,
                        }
                };
                if !listening {
                    continue;
                }
                if f.collided {
                    self.stats.collided += 1;
                    self.radios[to]
                        .out
                        .push_back((f.end, "+EVT:RXP2P RECEIVE ERROR".into()));
                    continue;
                }
                let loss = self.config.loss_percent;
                if self.chance(loss) {
                    self.stats.lost += 1;
                    continue;
                }
                self.stats.delivered += 1;
                let mut hex = vec![0u8; f.payload.len() * 2];
                let text = hex_encode(&f.payload, &mut hex).to_string();
                let (rssi, snr) = (self.config.rssi_dbm, self.config.snr_db);
                let legacy = self.firmware[to] == Firmware::V1_0_2;
                let r = &mut self.radios[to];
                if legacy {
                    r.out
                        .push_back((f.end, format!("+EVT:RXP2P, RSSI {rssi}, SNR {snr}")));
                    r.out.push_back((f.end, format!("+EVT:{text}")));
                } else {
                    r.out
                        .push_back((f.end, format!("+EVT:RXP2P:{rssi}:{snr}:{text}")));
                }
                if matches!(r.rx, Rx::Window(_) | Rx::UntilPacket) {
                    r.rx = Rx::Off;
                }
            }
        }
        for i in 0..self.radios.len() {
            if let Rx::Window(until) = self.radios[i].rx
                && until <= now
            {
                self.radios[i].rx = Rx::Off;
                self.radios[i]
                    .out
                    .push_back((until, "+EVT:RXP2P RECEIVE TIMEOUT".into()));
            }
        }
    }
}

/// The shared medium joining simulated modules.
#[derive(Debug, Clone)]
pub struct Air(Arc<Mutex<AirState>>);

impl Air {
    /// Empty air.
    pub fn new(config: AirConfig) -> Self {
        Air(Arc::new(Mutex::new(AirState {
            config,
            radios: Vec::new(),
            firmware: Vec::new(),
            flights: Vec::new(),
            rng: config.seed,
            stats: AirStats::default(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, AirState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the air (loss, signal, time scale) from now on.
    pub fn set_config(&self, config: AirConfig) {
        self.lock().config = config;
    }

    /// What the air carried so far.
    pub fn stats(&self) -> AirStats {
        self.lock().stats
    }

    /// Adds a module running `firmware`, in LoRa P2P mode when `p2p` (a module fresh from
    /// the factory is in LoRaWAN mode), and returns it with the kit's end of its serial line.
    pub fn module(&self, firmware: Firmware, p2p: bool) -> Result<(SimRak3172, TTYPort), PtyError> {
        let (device, kit) = pty_pair(Duration::from_millis(50))?;
        let index = {
            let mut air = self.lock();
            air.radios.push(Radio {
                channel: Channel {
                    frequency_hz: 868_000_000,
                    sf: 7,
                    bandwidth: Bandwidth::K125,
                },
                rx: Rx::Off,
                p2p,
                transmitting_until: None,
                out: VecDeque::new(),
            });
            air.firmware.push(firmware);
            air.radios.len() - 1
        };
        let module = SimRak3172::spawn(self.clone(), index, firmware, device)?;
        Ok((module, kit))
    }
}

#[derive(Debug)]
struct Settings {
    preamble: u16,
    cr: u8,
    power: u8,
    echo: bool,
}

/// One simulated module answering on its pseudo-terminal.
#[derive(Debug)]
pub struct SimRak3172 {
    worker: Worker,
    index: usize,
    air: Air,
}

impl SimRak3172 {
    fn spawn(
        air: Air,
        index: usize,
        firmware: Firmware,
        mut port: TTYPort,
    ) -> Result<Self, PtyError> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let own_air = air.clone();
        let handle = std::thread::Builder::new()
            .name(format!("sim-rak3172-{index}"))
            .spawn(move || {
                let mut m = ModuleLoop {
                    air,
                    index,
                    firmware,
                    settings: Settings {
                        preamble: 8,
                        cr: 0,
                        power: 14,
                        echo: false,
                    },
                    lines: LineReader::new(),
                };
                let mut buf = [0u8; 256];
                while !s.load(Ordering::Relaxed) {
                    // Wake for the next event on the air, not only for the next command: a
                    // real module prints `+EVT:TXP2P DONE` and `+EVT:RXP2P:…` when the frame
                    // ends. (Waking only on the read timeout printed them up to 100 ms late,
                    // a sender's TX DONE systematically later than its receiver's RX event,
                    // so an answer sent at once beat the sender's turn to receive.)
                    let _ = port.set_timeout(m.until_next_event(Instant::now()));
                    if let Ok(n) = port.read(&mut buf) {
                        for &b in &buf[..n] {
                            if m.settings.echo && b != b'\r' && b != b'\n' {
                                let _ = port.write_all(&[b]);
                            }
                            if let Some(LineEvent::Line(l)) = m.lines.feed(b) {
                                if m.settings.echo {
                                    let _ = port.write_all(b"\n\r");
                                }
                                let out = m.answer(l.as_str());
                                let _ = port.write_all(&out);
                            }
                        }
                    }
                    let due = m.due_output(Instant::now());
                    if !due.is_empty() {
                        let _ = port.write_all(&due);
                    }
                }
            })?;
        Ok(Self {
            worker: Worker {
                stop,
                handle: Some(handle),
            },
            index,
            air: own_air,
        })
    }

    /// The module's position on the air.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Stops the module (as if its power were cut).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.worker.stop();
        // A module without power neither listens nor sends.
        let mut air = self.air.lock();
        if let Some(r) = air.radios.get_mut(self.index) {
            r.rx = Rx::Off;
            r.p2p = false;
        }
        let i = self.index;
        air.flights.retain(|f| f.from != i);
    }
}

impl Drop for SimRak3172 {
    fn drop(&mut self) {
        self.halt();
    }
}

struct ModuleLoop {
    air: Air,
    index: usize,
    firmware: Firmware,
    settings: Settings,
    lines: LineReader<1100>,
}

fn line(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

const PARAM: &str = "AT_PARAM_ERROR";
const BUSY: &str = "AT_BUSY_ERROR";
const NO_P2P: &str = "AT_MODE_NO_SUPPORT";
const RX_ON_SETTER: &str = "P2P_RX_ON already, please disable P2P RX before setting.";

fn bw_from_index(v: u32, khz_only: bool) -> Option<Bandwidth> {
    if khz_only {
        return match v {
            125 => Some(Bandwidth::K125),
            250 => Some(Bandwidth::K250),
            500 => Some(Bandwidth::K500),
            _ => None,
        };
    }
    Bandwidth::from_rui3(v)
}

fn bw_text(b: Bandwidth, khz: bool) -> String {
    if khz {
        (b.hz() / 1000).to_string()
    } else {
        b.rui3_index().to_string()
    }
}

/// Longest a module sleeps in a read when nothing on the air is due (also how soon it
/// notices its stop flag).
const IDLE_WAKE: Duration = Duration::from_millis(50);

impl ModuleLoop {
    /// How long the module may wait for a command before something on the air is due: a
    /// line to print, a transmission ending (delivered, or this module's TX done) or its
    /// receive window closing. At least 1 ms, at most [`IDLE_WAKE`].
    fn until_next_event(&self, now: Instant) -> Duration {
        let air = self.air.lock();
        let r = &air.radios[self.index];
        let window = match r.rx {
            Rx::Window(until) => Some(until),
            _ => None,
        };
        let next = r
            .out
            .front()
            .map(|(at, _)| *at)
            .into_iter()
            .chain(air.flights.iter().map(|f| f.end))
            .chain(window)
            .min();
        next.map_or(IDLE_WAKE, |t| {
            t.saturating_duration_since(now)
                .clamp(Duration::from_millis(1), IDLE_WAKE)
        })
    }

    fn due_output(&mut self, now: Instant) -> Vec<u8> {
        let mut air = self.air.lock();
        air.settle(now);
        let mut out = Vec::new();
        let r = &mut air.radios[self.index];
        while let Some((at, _)) = r.out.front() {
            if *at > now {
                break;
            }
            if let Some((_, text)) = r.out.pop_front() {
                if text.is_empty() {
                    out.extend_from_slice(b"\r\n");
                } else {
                    line(&mut out, &text);
                }
            }
        }
        out
    }

    /// Whether the radio is busy (RX on or a send in progress), as RUI3's
    /// `service_lora_p2p_get_radio_stat()` sees it.
    fn radio_busy(air: &AirState, i: usize) -> bool {
        air.radios[i].rx != Rx::Off || air.radios[i].transmitting_until.is_some()
    }

    /// Writes the reply to one command line.
    fn answer(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let fw = self.firmware;
        let upper = text.to_ascii_uppercase();
        let (name, arg) = match upper.split_once('=') {
            Some((n, _)) => (n.to_string(), Some(&text[n.len() + 1..])),
            None => (upper.clone(), None),
        };
        let mut air = self.air.lock();
        air.settle(Instant::now());
        let i = self.index;
        let p2p = air.radios[i].p2p;
        let busy = Self::radio_busy(&air, i);
        // Setters refused while busy from 4.1.0 (info line first).
        let setter_busy = |out: &mut Vec<u8>| {
            if fw.rx_on_info() && busy {
                line(out, RX_ON_SETTER);
                line(out, BUSY);
                true
            } else {
                false
            }
        };
        match (name.as_str(), arg) {
            ("AT", None) => line(&mut out, "OK"),
            ("AT", Some(_)) => line(&mut out, PARAM),
            ("ATE", None) => {
                self.settings.echo = !self.settings.echo;
                line(&mut out, "OK");
            }
            ("AT+VER", Some("?")) => {
                line(&mut out, &format!("AT+VER={}", fw.version()));
                line(&mut out, "OK");
            }
            ("AT+NWM", Some("?")) => {
                line(&mut out, &format!("AT+NWM={}", if p2p { 0 } else { 1 }));
                line(&mut out, "OK");
            }
            ("AT+NWM", Some(v)) => {
                if !matches!(v, "0" | "1" | "2") {
                    line(&mut out, PARAM);
                } else if setter_busy(&mut out) {
                } else {
                    // OK with no line ending, then the reboot's banner.
                    if fw != Firmware::V3_2_0 {
                        out.extend_from_slice(b"OK");
                    }
                    let r = &mut air.radios[i];
                    r.p2p = v == "0";
                    r.rx = Rx::Off;
                    let mode = match v {
                        "0" => "LoRa P2P.",
                        "1" => "LoRaWAN.",
                        _ => "FSK.",
                    };
                    let at = Instant::now() + Duration::from_millis(200);
                    // Whether a CR LF separates the OK from the banner is unconfirmed:
                    // 4.0.4 glues them ("OKRAKwireless RAK3172"), the others do not.
                    if fw != Firmware::V4_0_4 {
                        r.out.push_back((at, String::new()));
                    }
                    for l in fw.banner() {
                        if !l.starts_with("Current Work Mode") {
                            r.out.push_back((at, l));
                        }
                    }
                    r.out.push_back((at, format!("Current Work Mode: {mode}")));
                }
            }
            (n, _) if !p2p && n.starts_with("AT+P") => line(&mut out, NO_P2P),
            ("AT+P2P", Some("?")) => {
                let c = air.radios[i].channel;
                let s = &self.settings;
                line(
                    &mut out,
                    &format!(
                        "AT+P2P={}:{}:{}:{}:{}:{}",
                        c.frequency_hz,
                        c.sf,
                        bw_text(c.bandwidth, fw.bandwidth_in_khz()),
                        s.cr,
                        s.preamble,
                        s.power
                    ),
                );
                line(&mut out, "OK");
            }
            ("AT+P2P", Some(v)) => {
                if setter_busy(&mut out) {
                } else {
                    let f: Vec<&str> = v.split(':').collect();
                    let num = |k: usize| f.get(k).and_then(|s| s.parse::<u32>().ok());
                    let parsed = match (num(0), num(1), num(2), num(3), num(4), num(5)) {
                        (Some(freq), Some(sf), Some(bw), Some(cr), Some(pre), Some(pwr))
                            if (150_000_000..=960_000_000).contains(&freq)
                                && (5..=12).contains(&sf)
                                && cr <= 3
                                && (5..=65_535).contains(&pre)
                                && (5..=22).contains(&pwr)
                                && (f.len() == 6 || f.len() == 7) =>
                        {
                            bw_from_index(bw, fw.bandwidth_in_khz())
                                .map(|b| (freq, sf, b, cr, pre, pwr))
                        }
                        _ => None,
                    };
                    match parsed {
                        Some((freq, sf, bw, cr, pre, pwr)) => {
                            air.radios[i].channel = Channel {
                                frequency_hz: freq,
                                sf: sf as u8,
                                bandwidth: bw,
                            };
                            self.settings.cr = cr as u8;
                            self.settings.preamble = pre as u16;
                            self.settings.power = pwr as u8;
                            line(&mut out, "OK");
                        }
                        None => line(&mut out, PARAM),
                    }
                }
            }
            ("AT+PSF", Some("?")) => {
                let sf = air.radios[i].channel.sf;
                line(&mut out, &format!("AT+PSF={sf}"));
                line(&mut out, "OK");
            }
            ("AT+PSF", Some(v)) => {
                if !setter_busy(&mut out) {
                    match v.parse::<u8>() {
                        Ok(sf) if (5..=12).contains(&sf) => {
                            air.radios[i].channel.sf = sf;
                            line(&mut out, "OK");
                        }
                        _ => line(&mut out, PARAM),
                    }
                }
            }
            ("AT+PFREQ", Some("?")) => {
                let f = air.radios[i].channel.frequency_hz;
                line(&mut out, &format!("AT+PFREQ={f}"));
                line(&mut out, "OK");
            }
            ("AT+PFREQ", Some(v)) => {
                if !setter_busy(&mut out) {
                    match v.parse::<u32>() {
                        Ok(f) if (150_000_000..=960_000_000).contains(&f) => {
                            air.radios[i].channel.frequency_hz = f;
                            line(&mut out, "OK");
                        }
                        _ => line(&mut out, PARAM),
                    }
                }
            }
            ("AT+PBW" | "AT+PCR" | "AT+PPL" | "AT+PTP", Some("?")) => {
                let value = match name.as_str() {
                    "AT+PBW" => bw_text(air.radios[i].channel.bandwidth, fw.bandwidth_in_khz()),
                    "AT+PCR" => self.settings.cr.to_string(),
                    "AT+PPL" => self.settings.preamble.to_string(),
                    _ => self.settings.power.to_string(),
                };
                line(&mut out, &format!("{name}={value}"));
                line(&mut out, "OK");
            }
            ("AT+PBW" | "AT+PCR" | "AT+PPL" | "AT+PTP", Some(v)) => {
                if !setter_busy(&mut out) {
                    let n = v.parse::<u32>().ok();
                    let applied = match (name.as_str(), n) {
                        ("AT+PBW", Some(b)) => bw_from_index(b, fw.bandwidth_in_khz())
                            .map(|b| air.radios[i].channel.bandwidth = b),
                        ("AT+PCR", Some(c @ 0..=3)) => {
                            self.settings.cr = c as u8;
                            Some(())
                        }
                        ("AT+PPL", Some(p @ 5..=65_535)) => {
                            self.settings.preamble = p as u16;
                            Some(())
                        }
                        ("AT+PTP", Some(p @ 5..=22)) => {
                            self.settings.power = p as u8;
                            Some(())
                        }
                        _ => None,
                    };
                    line(&mut out, if applied.is_some() { "OK" } else { PARAM });
                }
            }
            ("AT+PSEND", Some(hex)) => {
                let ok_hex = !hex.is_empty()
                    && hex != "?"
                    && hex.len().is_multiple_of(2)
                    && hex.len() <= fw.max_hex();
                let mut payload = vec![0u8; hex.len() / 2];
                let decoded = ok_hex && hex_decode(hex, &mut payload).is_ok();
                let r = &air.radios[i];
                let rx_blocks = !matches!(r.rx, Rx::Off | Rx::ContinuousTx);
                if !decoded {
                    line(&mut out, PARAM);
                } else if rx_blocks || r.transmitting_until.is_some() {
                    line(&mut out, BUSY);
                } else {
                    let c = r.channel;
                    let m = Modulation {
                        sf: c.sf,
                        bandwidth: c.bandwidth,
                        cr: self.settings.cr + 1,
                        preamble: self.settings.preamble,
                        explicit_header: true,
                        crc: true,
                    };
                    let toa_us = m.time_on_air_us(payload.len());
                    let scaled = Duration::from_secs_f64(
                        toa_us as f64 / 1e6 * air.config.time_scale.max(0.0),
                    );
                    let start = Instant::now();
                    let end = start + scaled;
                    // Anything still in flight on this channel collides with this frame.
                    let mut collided = false;
                    for f in air.flights.iter_mut() {
                        if f.channel == c && f.end > start {
                            f.collided = true;
                            collided = true;
                        }
                    }
                    air.stats.transmissions += 1;
                    air.stats.airtime_ms += toa_us / 1000;
                    air.radios[i].transmitting_until = Some(end);
                    air.flights.push(InFlight {
                        from: i,
                        channel: c,
                        end,
                        payload,
                        collided,
                    });
                    line(&mut out, "OK");
                }
            }
            ("AT+PRECV", Some("?")) => {
                if fw.rx_on_info() {
                    let on = air.radios[i].rx != Rx::Off;
                    line(&mut out, if on { "P2P_RX_ON" } else { "P2P_RX_OFF" });
                    line(&mut out, "OK");
                } else {
                    line(&mut out, PARAM);
                }
            }
            ("AT+PRECV", Some(v)) => match v.parse::<u32>() {
                Ok(0) => {
                    air.radios[i].rx = Rx::Off;
                    line(&mut out, "OK");
                }
                Ok(n) if n <= 65_535 => {
                    if air.radios[i].rx != Rx::Off {
                        if fw.rx_on_info() {
                            line(&mut out, "P2P_RX_ON already");
                        }
                        line(&mut out, BUSY);
                    } else {
                        air.radios[i].rx = match n {
                            65_535 => Rx::UntilPacket,
                            65_534 if fw != Firmware::V3_2_0 => Rx::Continuous,
                            65_533 if fw != Firmware::V3_2_0 => Rx::ContinuousTx,
                            ms => Rx::Window(
                                Instant::now() + Duration::from_millis(u64::from(ms.max(15))),
                            ),
                        };
                        line(&mut out, "OK");
                    }
                }
                _ => line(&mut out, PARAM),
            },
            ("AT+BAUD", Some("?")) => {
                line(&mut out, "AT+BAUD=115200");
                line(&mut out, "OK");
            }
            ("AT+BAUD", Some(v)) => match v {
                "4800" | "9600" | "19200" | "38400" | "57600" | "115200" => line(&mut out, "OK"),
                _ => line(&mut out, PARAM),
            },
            _ => {
                if fw.at_least(Firmware::V4_0_4) {
                    line(&mut out, "AT_COMMAND_NOT_FOUND");
                } else {
                    line(&mut out, "AT_ERROR");
                    line(&mut out, &format!("{text}: Command not found!!"));
                }
            }
        }
        out
    }
}

/// The real driver on the kit's end of a module's line.
pub type KitRadio = Rak3172<TTYPort>;

/// Why a driven module could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RadioError {
    /// The pseudo-terminal or thread.
    #[error(transparent)]
    Pty(#[from] PtyError),
    /// The driver.
    #[error(transparent)]
    Driver(#[from] LoraError),
}

impl Air {
    /// A module with the real driver on its line, started (switched to P2P if `p2p` is
    /// false) and configured with the P2P defaults.
    pub fn driven(
        &self,
        firmware: Firmware,
        p2p: bool,
    ) -> Result<(SimRak3172, KitRadio), RadioError> {
        let (module, port) = self.module(firmware, p2p)?;
        let mut radio = Rak3172::new(port);
        radio.start()?;
        radio.configure(P2pConfig::default())?;
        Ok((module, radio))
    }
}

/// `tx` sends `frame` while `rx` listens for up to `window`: what `rx` heard. (Half-duplex
/// radios: the listener opens its window first.)
pub fn exchange(
    tx: &mut KitRadio,
    rx: &mut KitRadio,
    now_ms: u64,
    frame: &[u8],
    window: Duration,
) -> Result<Option<Packet>, LoraError> {
    std::thread::scope(|s| {
        let listener = s.spawn(|| rx.receive(window));
        std::thread::sleep(Duration::from_millis(60));
        let sent = tx.send(now_ms, frame);
        let heard = listener.join().unwrap_or(Err(LoraError::Silent("receive")));
        sent?;
        heard
    })
}

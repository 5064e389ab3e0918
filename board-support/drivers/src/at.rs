//! AT-command lines as the LoRa module and the cellular modem print them, sans-IO.
//!
//! [`LineReader`] cuts a byte stream into lines at CR or LF, so every framing the modules
//! use comes out the same: RUI3's `OK\r\n` without a leading CR LF and its `\n\r` after an
//! echo, the modems' `\r\n<text>\r\n`, SIMCom's `\r\r\n` URCs, and echoed command lines.
//! Empty lines are dropped; a line longer than the buffer is reported as overflowed and the
//! rest of it skipped; bytes that are not UTF-8 (line noise) make a garbled line, never a
//! panic. [`rui3`] and [`cellular`] then classify a line by its prefix, because events and
//! URCs can arrive between any two lines of a reply.
//!
//! `atat` was considered and not used: its ingress expects the V.250 `\r\n<resp>\r\n` shape
//! with `OK`/`ERROR` finals and one command in flight over `embedded-io`, and RUI3 breaks
//! each of those (bare `AT_*` status words, `OK` with no line ending before a reboot, info
//! lines before a status, events between a command and its reply), so a custom digester
//! and URC matcher would have been most of the work anyway, on a blocking std serial port
//! where atat's async ingress adds nothing.

use heapless::Vec;

/// What [`LineReader::feed`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent<const N: usize> {
    /// A complete, non-empty line without its terminator.
    Line(heapless::String<N>),
    /// A line longer than the buffer; it was dropped.
    Overflow,
    /// A line that was not UTF-8; it was dropped.
    Garbled,
}

/// Cuts bytes into lines.
#[derive(Debug, Clone, Default)]
pub struct LineReader<const N: usize> {
    buf: Vec<u8, N>,
    overflow: bool,
}

impl<const N: usize> LineReader<N> {
    /// An empty reader.
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            overflow: false,
        }
    }

    /// Bytes of an unfinished line held (e.g. RUI3's `OK` before a reboot, or a prompt).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Takes one byte; returns a line when it completes one.
    pub fn feed(&mut self, byte: u8) -> Option<LineEvent<N>> {
        if byte == b'\r' || byte == b'\n' {
            if self.overflow {
                self.overflow = false;
                self.buf.clear();
                return Some(LineEvent::Overflow);
            }
            if self.buf.is_empty() {
                return None;
            }
            let bytes = core::mem::take(&mut self.buf);
            return Some(match core::str::from_utf8(&bytes) {
                Ok(s) => {
                    let mut line = heapless::String::new();
                    // Same capacity: cannot fail.
                    let _ = line.push_str(s);
                    LineEvent::Line(line)
                }
                Err(_) => LineEvent::Garbled,
            });
        }
        if byte == 0 {
            // NUL is line noise on a serial port being powered up; no AT text has one.
            return None;
        }
        if !self.overflow && self.buf.push(byte).is_err() {
            self.overflow = true;
        }
        None
    }
}

/// Writes `bytes` as upper-case hex into `out`; returns the text (empty if `out` is short).
pub fn hex_encode<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    if out.len() < bytes.len() * 2 {
        return "";
    }
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    core::str::from_utf8(&out[..bytes.len() * 2]).unwrap_or("")
}

/// Why hex text could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
    /// Odd number of digits.
    OddLength,
    /// A character that is not a hex digit.
    NotHex,
    /// More bytes than the buffer holds.
    TooLong,
}

/// Decodes hex text (either case) into `out`; returns the number of bytes.
pub fn hex_decode(text: &str, out: &mut [u8]) -> Result<usize, HexError> {
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    if t.len() / 2 > out.len() {
        return Err(HexError::TooLong);
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::NotHex),
    };
    for (i, pair) in t.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Ok(t.len() / 2)
}

fn int<T: core::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// The RAK3172's RUI3 dialect (and the pre-RUI3 v1.0.x event form, for detection).
pub mod rui3 {
    use super::int;

    /// A RUI3 status word other than `OK`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Status {
        /// `AT_ERROR`
        Error,
        /// `AT_PARAM_ERROR`
        Param,
        /// `AT_BUSY_ERROR`
        Busy,
        /// `AT_TEST_PARAM_OVERFLOW`
        ParamOverflow,
        /// `AT_NO_NETWORK_JOINED`
        NotJoined,
        /// `AT_RX_ERROR`
        Rx,
        /// `AT_MODE_NO_SUPPORT`: a P2P command in LoRaWAN mode.
        ModeNotSupported,
        /// `AT_COMMAND_NOT_FOUND` (3.5.4 and later)
        CommandNotFound,
        /// `COMMAND_LOCKED` (after `AT+LOCK`)
        Locked,
        /// `AT_DUTYCYLE_RESTRICTED` (v1.0.x) or another `AT_…` word.
        Other,
    }

    /// One classified line.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Line<'a> {
        /// `OK`.
        Ok,
        /// An error status.
        Status(Status),
        /// `+EVT:TXP2P DONE` (or `+EVT:TXFSK DONE`).
        TxDone,
        /// `+EVT:RXP2P:<rssi>:<snr>:<HEX>`.
        Received {
            /// RSSI, dBm.
            rssi: i16,
            /// SNR, dB.
            snr: i16,
            /// The payload as hex.
            hex: &'a str,
        },
        /// `+EVT:RXP2P RECEIVE TIMEOUT`.
        RxTimeout,
        /// `+EVT:RXP2P RECEIVE ERROR` (CRC or header error).
        RxError,
        /// v1.0.x: `+EVT:RXP2P, RSSI -37, SNR 11` (the payload follows on its own line).
        LegacyReceived {
            /// RSSI, dBm.
            rssi: i16,
            /// SNR, dB.
            snr: i16,
        },
        /// v1.0.x payload line `+EVT:<HEX>`.
        LegacyPayload(&'a str),
        /// `Current Work Mode: LoRa P2P.` — the last banner line after a reset.
        WorkMode(&'a str),
        /// `AT+NWM`'s `OK`, printed without a line ending, glued to the banner's first line.
        OkThenBanner,
        /// `AT+<NAME>=<value>`: a getter's answer (or an echoed setter).
        Value {
            /// The command name after `AT+`.
            name: &'a str,
            /// The value.
            value: &'a str,
        },
        /// `P2P_RX_ON` / `P2P_RX_OFF` (4.1.0 and later, answer to `AT+PRECV=?`).
        RxState(bool),
        /// Another `+EVT:` line.
        Event(&'a str),
        /// Anything else: banner lines, `P2P_RX_ON already…`, `…: Command not found!!`.
        Info(&'a str),
    }

    fn status(word: &str) -> Option<Status> {
        Some(match word {
            "AT_ERROR" => Status::Error,
            "AT_PARAM_ERROR" => Status::Param,
            "AT_BUSY_ERROR" => Status::Busy,
            "AT_TEST_PARAM_OVERFLOW" => Status::ParamOverflow,
            "AT_NO_NETWORK_JOINED" => Status::NotJoined,
            "AT_RX_ERROR" => Status::Rx,
            "AT_MODE_NO_SUPPORT" => Status::ModeNotSupported,
            "AT_COMMAND_NOT_FOUND" => Status::CommandNotFound,
            "COMMAND_LOCKED" => Status::Locked,
            w if w.starts_with("AT_") && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                Status::Other
            }
            _ => return None,
        })
    }

    /// Classifies one line (leading and trailing blanks ignored).
    pub fn classify(line: &str) -> Line<'_> {
        let line = line.trim();
        if line == "OK" {
            return Line::Ok;
        }
        if let Some(s) = status(line) {
            return Line::Status(s);
        }
        if let Some(rest) = line.strip_prefix("OK")
            && (rest.starts_with("RAK") || rest.starts_with("Current Work Mode"))
        {
            return Line::OkThenBanner;
        }
        if let Some(mode) = line.strip_prefix("Current Work Mode:") {
            return Line::WorkMode(mode.trim());
        }
        if line == "P2P_RX_ON" {
            return Line::RxState(true);
        }
        if line == "P2P_RX_OFF" {
            return Line::RxState(false);
        }
        if let Some(ev) = line.strip_prefix("+EVT:") {
            return event(ev);
        }
        if let Some(rest) = line
            .strip_prefix("AT+")
            .or_else(|| line.strip_prefix("at+"))
            && let Some((name, value)) = rest.split_once('=')
        {
            return Line::Value { name, value };
        }
        Line::Info(line)
    }

    fn event(ev: &str) -> Line<'_> {
        match ev {
            "TXP2P DONE" | "TXFSK DONE" => return Line::TxDone,
            "RXP2P RECEIVE TIMEOUT" | "RXFSK RECEIVE TIMEOUT" => return Line::RxTimeout,
            "RXP2P RECEIVE ERROR" | "RXFSK RECEIVE ERROR" => return Line::RxError,
            _ => {}
        }
        if let Some(rest) = ev
            .strip_prefix("RXP2P:")
            .or_else(|| ev.strip_prefix("RXFSK:"))
        {
            let mut parts = rest.splitn(3, ':');
            if let (Some(rssi), Some(snr), Some(hex)) = (
                parts.next().and_then(int::<i16>),
                parts.next().and_then(int::<i16>),
                parts.next(),
            ) {
                return Line::Received {
                    rssi,
                    snr,
                    hex: hex.trim(),
                };
            }
            return Line::Event(ev);
        }
        if let Some(rest) = ev.strip_prefix("RXP2P,") {
            // v1.0.x: " RSSI -37, SNR 11"
            let mut rssi = None;
            let mut snr = None;
            for part in rest.split(',') {
                let part = part.trim();
                if let Some(v) = part.strip_prefix("RSSI") {
                    rssi = int::<i16>(v);
                } else if let Some(v) = part.strip_prefix("SNR") {
                    snr = int::<i16>(v);
                }
            }
            if let (Some(rssi), Some(snr)) = (rssi, snr) {
                return Line::LegacyReceived { rssi, snr };
            }
            return Line::Event(ev);
        }
        if !ev.is_empty() && ev.len().is_multiple_of(2) && ev.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Line::LegacyPayload(ev);
        }
        Line::Event(ev)
    }

    /// A firmware version as `AT+VER=?` or the banner print it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Version {
        /// Major.
        pub major: u16,
        /// Minor.
        pub minor: u16,
        /// Patch.
        pub patch: u16,
        /// The pre-RUI3 v1.0.x firmware (other event format, 9600 baud default).
        pub legacy: bool,
    }

    impl Version {
        /// Parses `RUI_4.1.0_RAK4631`, `3.2.0-p2_22q1_final.87`, `v1.0.2 …`.
        pub fn parse(text: &str) -> Option<Version> {
            let t = text.trim();
            let (legacy, t) = if let Some(rest) = t.strip_prefix("RUI_") {
                (false, rest)
            } else if let Some(rest) = t.strip_prefix('v').or_else(|| t.strip_prefix('V')) {
                (true, rest)
            } else {
                (false, t)
            };
            let end = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let mut nums = t[..end].split('.');
            let major = int::<u16>(nums.next()?)?;
            let minor = nums.next().and_then(int::<u16>).unwrap_or(0);
            let patch = nums.next().and_then(int::<u16>).unwrap_or(0);
            Some(Version {
                major,
                minor,
                patch,
                legacy: legacy || major < 3,
            })
        }

        fn at_least(&self, major: u16, minor: u16, patch: u16) -> bool {
            !self.legacy && (self.major, self.minor, self.patch) >= (major, minor, patch)
        }

        /// Prints `+EVT:TXP2P DONE` after a send (4.0.2 and later; some 4.0.2 builds do
        /// not, so a driver still times out on it gracefully).
        pub fn reports_tx_done(&self) -> bool {
            self.at_least(4, 0, 2)
        }

        /// `AT+P2P` takes the bandwidth as an index (3.5.0b and later; 3.5.1b+ also kHz).
        pub fn bandwidth_as_index(&self) -> bool {
            self.at_least(3, 5, 0)
        }

        /// `AT+P2P` takes the bandwidth in kHz (3.x up to 3.4, and 3.5.1b and later).
        pub fn bandwidth_in_khz(&self) -> bool {
            !self.legacy && (self.major, self.minor, self.patch) != (3, 5, 0)
        }
    }
}

/// The SIM7600 / EG25-G cellular modems' V.250 dialect.
pub mod cellular {
    use super::int;

    /// A `+CME ERROR:` in numeric (CMEE=1) or verbose (CMEE=2) form.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Cme<'a> {
        /// TS 27.007 §9.2 number.
        Code(u16),
        /// Verbose text.
        Text(&'a str),
    }

    impl Cme<'_> {
        /// The TS 27.007 number, from either form when the text is a known one.
        pub fn code(&self) -> Option<u16> {
            match self {
                Cme::Code(c) => Some(*c),
                Cme::Text(t) => {
                    // TS 27.007 §9.2 texts, matched without allocating (no_std).
                    const TEXTS: [(&str, u16); 13] = [
                        ("phone failure", 0),
                        ("operation not allowed", 3),
                        ("operation not supported", 4),
                        ("sim not inserted", 10),
                        ("sim pin required", 11),
                        ("sim puk required", 12),
                        ("sim failure", 13),
                        ("sim busy", 14),
                        ("sim wrong", 15),
                        ("incorrect password", 16),
                        ("no network service", 30),
                        ("network timeout", 31),
                        ("unknown", 100),
                    ];
                    TEXTS
                        .iter()
                        .find(|(text, _)| text.eq_ignore_ascii_case(t))
                        .map(|(_, code)| *code)
                }
            }
        }
    }

    /// Which registration a line reports.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Domain {
        /// `+CREG` (circuit switched).
        Cs,
        /// `+CGREG` (packet, 2G/3G).
        Ps,
        /// `+CEREG` (EPS, LTE).
        Eps,
    }

    /// One classified line.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Line<'a> {
        /// `OK`.
        Ok,
        /// `ERROR`.
        Error,
        /// `+CME ERROR: …` (final, no `OK` follows).
        Cme(Cme<'a>),
        /// `+CMS ERROR: …`.
        Cms(&'a str),
        /// `+CSQ: <rssi>,<ber>` (answer or `AT+AUTOCSQ` URC) or Quectel's `+QIND: "csq",…`.
        Csq {
            /// 0–31 (−113 + 2n dBm), 99 unknown; 100–191 / 199 TD-SCDMA.
            rssi: u16,
            /// 0–7, 99 unknown.
            ber: u16,
        },
        /// `+CREG:`/`+CGREG:`/`+CEREG:` with its first field and, when the second is a
        /// plain number, the second (read answer `<n>,<stat>`; URC `<stat>[,"tac",…]`).
        Registration {
            /// Which.
            domain: Domain,
            /// First field.
            first: u16,
            /// Second field, when numeric.
            second: Option<u16>,
        },
        /// `+CPIN: <state>`.
        Pin(&'a str),
        /// `RDY`: the modem booted.
        Ready,
        /// `POWERED DOWN` / `NORMAL POWER DOWN`.
        PoweredDown,
        /// Another `+XXX:` line or a bare URC (`SMS DONE`, `RING`, `NO CARRIER` …).
        Urc(&'a str),
        /// Anything else (echo, plain values).
        Info(&'a str),
    }

    fn numbers(rest: &str) -> (Option<u16>, Option<u16>) {
        let mut f = rest.split(',');
        (f.next().and_then(int::<u16>), f.next().and_then(int::<u16>))
    }

    /// Classifies one line.
    pub fn classify(line: &str) -> Line<'_> {
        let line = line.trim();
        match line {
            "OK" => return Line::Ok,
            "ERROR" => return Line::Error,
            "RDY" => return Line::Ready,
            "POWERED DOWN" | "NORMAL POWER DOWN" => return Line::PoweredDown,
            "SMS DONE" | "PB DONE" | "RING" | "NO CARRIER" | "BUSY" | "NO ANSWER" => {
                return Line::Urc(line);
            }
            _ => {}
        }
        if let Some(rest) = line.strip_prefix("+CME ERROR:") {
            let rest = rest.trim();
            return Line::Cme(match int::<u16>(rest) {
                Some(c) => Cme::Code(c),
                None => Cme::Text(rest),
            });
        }
        if let Some(rest) = line.strip_prefix("+CMS ERROR:") {
            return Line::Cms(rest.trim());
        }
        let csq = line
            .strip_prefix("+CSQ:")
            .or_else(|| line.strip_prefix("+QIND: \"csq\","))
            .or_else(|| line.strip_prefix("+QIND:\"csq\","));
        if let Some(rest) = csq
            && let (Some(rssi), Some(ber)) = numbers(rest)
        {
            return Line::Csq { rssi, ber };
        }
        for (prefix, domain) in [
            ("+CREG:", Domain::Cs),
            ("+CGREG:", Domain::Ps),
            ("+CEREG:", Domain::Eps),
        ] {
            if let Some(rest) = line.strip_prefix(prefix) {
                if let (Some(first), second) = numbers(rest) {
                    return Line::Registration {
                        domain,
                        first,
                        second,
                    };
                }
                return Line::Urc(line);
            }
        }
        if let Some(rest) = line.strip_prefix("+CPIN:") {
            return Line::Pin(rest.trim());
        }
        if line.starts_with('+') {
            return Line::Urc(line);
        }
        Line::Info(line)
    }

    /// Signal strength in dBm from `+CSQ`'s rssi (None for 99, 199 or out of range).
    pub fn csq_dbm(rssi: u16) -> Option<i16> {
        match rssi {
            0..=31 => Some(-113 + 2 * rssi as i16),
            100..=191 => Some(-116 + (rssi as i16 - 100)),
            _ => None,
        }
    }

    /// Registration state (TS 27.007 `<stat>`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RegStatus {
        /// 0: not registered, not searching.
        NotRegistered,
        /// 1: registered, home network.
        Home,
        /// 2: searching.
        Searching,
        /// 3: registration denied.
        Denied,
        /// 4: unknown.
        Unknown,
        /// 5: registered, roaming.
        Roaming,
        /// Any other value (6/7 SMS only, 8 emergency only, 11 seen on A7670E …).
        Other(u16),
    }

    impl RegStatus {
        /// From the number.
        pub fn from_code(stat: u16) -> Self {
            match stat {
                0 => RegStatus::NotRegistered,
                1 => RegStatus::Home,
                2 => RegStatus::Searching,
                3 => RegStatus::Denied,
                4 => RegStatus::Unknown,
                5 => RegStatus::Roaming,
                n => RegStatus::Other(n),
            }
        }

        /// Registered for data (home or roaming).
        pub fn is_registered(&self) -> bool {
            matches!(self, RegStatus::Home | RegStatus::Roaming)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cellular::{self, Cme, Domain};
    use super::rui3::{self, Line, Status, Version};
    use super::*;

    fn lines(bytes: &[u8]) -> std::vec::Vec<std::string::String> {
        let mut r = LineReader::<64>::new();
        let mut out = std::vec::Vec::new();
        for b in bytes {
            match r.feed(*b) {
                Some(LineEvent::Line(l)) => out.push(std::string::String::from(l.as_str())),
                Some(other) => out.push(std::format!("{other:?}")),
                None => {}
            }
        }
        out
    }

    #[test]
    fn every_framing_gives_the_same_lines() {
        assert_eq!(lines(b"OK\r\n"), ["OK"]);
        assert_eq!(lines(b"AT\n\rOK\r\n"), ["AT", "OK"]);
        assert_eq!(
            lines(b"\r\nRDY\r\n\r\n+CPIN: READY\r\n"),
            ["RDY", "+CPIN: READY"]
        );
        assert_eq!(lines(b"\r\r\n+CRING: VOICE\r\r\n"), ["+CRING: VOICE"]);
        assert_eq!(lines(b"AT\r\r\nOK\r\n"), ["AT", "OK"]);
        assert_eq!(lines(&[b'x'; 70]).len(), 0);
        assert_eq!(
            lines(&[[b'x'; 70].as_slice(), b"\r\nOK\r\n"].concat()),
            ["Overflow", "OK"]
        );
        assert_eq!(lines(b"\xff\xfe\r\nOK\n"), ["Garbled", "OK"]);
    }

    #[test]
    fn rui3_lines_from_the_vectors() {
        assert_eq!(rui3::classify("OK"), Line::Ok);
        assert_eq!(rui3::classify("AT_BUSY_ERROR"), Line::Status(Status::Busy));
        assert_eq!(
            rui3::classify("AT_COMMAND_NOT_FOUND"),
            Line::Status(Status::CommandNotFound)
        );
        assert_eq!(rui3::classify("+EVT:TXP2P DONE"), Line::TxDone);
        assert_eq!(
            rui3::classify("+EVT:RXP2P:-28:5:48656C6C6F2052616B33313732"),
            Line::Received {
                rssi: -28,
                snr: 5,
                hex: "48656C6C6F2052616B33313732"
            }
        );
        assert_eq!(
            rui3::classify("+EVT:RXP2P RECEIVE TIMEOUT"),
            Line::RxTimeout
        );
        assert_eq!(rui3::classify("+EVT:RXP2P RECEIVE ERROR"), Line::RxError);
        assert_eq!(
            rui3::classify("+EVT:RXP2P, RSSI -37, SNR 11"),
            Line::LegacyReceived { rssi: -37, snr: 11 }
        );
        assert_eq!(
            rui3::classify("+EVT:11223344"),
            Line::LegacyPayload("11223344")
        );
        assert_eq!(
            rui3::classify("Current Work Mode: LoRa P2P."),
            Line::WorkMode("LoRa P2P.")
        );
        assert_eq!(rui3::classify("OKRAKwireless RAK3172"), Line::OkThenBanner);
        assert_eq!(
            rui3::classify("AT+P2P=868000000:7:0:0:8:14"),
            Line::Value {
                name: "P2P",
                value: "868000000:7:0:0:8:14"
            }
        );
        assert_eq!(rui3::classify("P2P_RX_OFF"), Line::RxState(false));
        assert_eq!(
            rui3::classify("ATE0: Command not found!!"),
            Line::Info("ATE0: Command not found!!")
        );
    }

    #[test]
    fn rui3_versions_and_what_they_can_do() {
        let v = |s| Version::parse(s).expect(s);
        assert!(v("RUI_4.1.0_RAK4631").reports_tx_done());
        assert!(!v("3.2.0-p2_22q1_final.87").reports_tx_done());
        assert!(!v("3.2.0-p2_22q1_final.87").bandwidth_as_index());
        assert!(v("RUI_5.0.0_RAK3172-E").bandwidth_as_index());
        assert!(v("v1.0.2 May 26 2021").legacy);
        assert!(!v("3.5.0b").bandwidth_in_khz());
        assert_eq!(Version::parse("RAK"), None);
    }

    #[test]
    fn cellular_lines_from_the_vectors() {
        use cellular::Line as C;
        assert_eq!(
            cellular::classify("+CSQ: 22,0"),
            C::Csq { rssi: 22, ber: 0 }
        );
        assert_eq!(
            cellular::classify("+QIND: \"csq\",17,99"),
            C::Csq { rssi: 17, ber: 99 }
        );
        assert_eq!(
            cellular::classify("+CEREG: 2,1, 1F00, 79D903 ,7"),
            C::Registration {
                domain: Domain::Eps,
                first: 2,
                second: Some(1)
            }
        );
        assert_eq!(
            cellular::classify("+CREG: 1,\"D509\",\"80D413D\",7"),
            C::Registration {
                domain: Domain::Cs,
                first: 1,
                second: None
            }
        );
        assert_eq!(
            cellular::classify("+CME ERROR: SIM not inserted"),
            C::Cme(Cme::Text("SIM not inserted"))
        );
        assert_eq!(Cme::Text("SIM not inserted").code(), Some(10));
        assert_eq!(cellular::classify("+CME ERROR: 10"), C::Cme(Cme::Code(10)));
        assert_eq!(cellular::classify("+CPIN: SIM PUK2"), C::Pin("SIM PUK2"));
        assert_eq!(cellular::classify("POWERED DOWN"), C::PoweredDown);
        assert_eq!(cellular::classify("SMS DONE"), C::Urc("SMS DONE"));
        assert_eq!(cellular::csq_dbm(22), Some(-69));
        assert_eq!(cellular::csq_dbm(99), None);
        assert_eq!(
            cellular::RegStatus::from_code(11),
            cellular::RegStatus::Other(11)
        );
    }

    #[test]
    fn hex_round_trips() {
        let mut out = [0u8; 8];
        let text = hex_encode(&[0x11, 0xab], &mut out);
        assert_eq!(text, "11AB");
        let mut back = [0u8; 2];
        assert_eq!(hex_decode("11ab", &mut back), Ok(2));
        assert_eq!(back, [0x11, 0xab]);
        assert_eq!(hex_decode("123", &mut back), Err(HexError::OddLength));
        assert_eq!(hex_decode("12G4", &mut back), Err(HexError::NotHex));
        assert_eq!(hex_decode("112233", &mut back), Err(HexError::TooLong));
    }
}

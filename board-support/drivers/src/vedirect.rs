//! Victron VE.Direct TEXT protocol: a sans-IO, allocation-free block decoder.
//!
//! A VE.Direct device (19200 8N1) sends a block about once a second. A block is a run of
//! fields `\r\n<label>\t<value>` ending in the field `\r\nChecksum\t<byte>`, where the
//! checksum byte makes every byte of the block (from the first `\r` to the checksum byte
//! itself) sum to 0 mod 256. The checksum byte can take any value, `:` and NUL included.
//! HEX-protocol frames (`:` up to `\n`) may be interleaved anywhere except in place of the
//! checksum byte; they are not part of the block and do not count in its checksum.
//!
//! The decoder is fed one byte at a time and answers with an [`Event`] when a block ends.
//! It starts by hunting for `\r\n`, so a capture that starts in the middle of a block
//! yields one rejected block and then locks on. Anything malformed (a byte that cannot be
//! in a label or value, a label or value too long, too many fields, a HEX frame that never
//! ends) rejects the current block and sends the decoder back to hunting, so it
//! resynchronises on the next `\r\n` after noise or NUL bytes.

use heapless::{String, Vec};

/// Longest label the protocol uses ("Checksum" is 8; the spec allows 9).
pub const MAX_LABEL_LEN: usize = 9;
/// Longest value the protocol allows.
pub const MAX_VALUE_LEN: usize = 33;
/// Most fields in one block (the spec's largest block has 22 plus the checksum).
pub const MAX_FIELDS: usize = 32;
/// Longest HEX frame we skip before giving up on the block.
pub const MAX_HEX_FRAME_LEN: usize = 256;

/// One `label\tvalue` pair of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The label, e.g. `V`, `PPV`, `CS`.
    pub label: String<MAX_LABEL_LEN, u8>,
    /// The value as sent, e.g. `12530`.
    pub value: String<MAX_VALUE_LEN, u8>,
}

/// A block whose checksum verified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Block {
    fields: Vec<Field, MAX_FIELDS, u8>,
}

/// Why a block was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// All fields parsed but the bytes did not sum to 0 mod 256.
    Checksum,
    /// A byte that cannot appear in a label (control byte, NUL, CR/LF in the wrong place).
    BadLabelByte(u8),
    /// A byte that cannot appear in a value.
    BadValueByte(u8),
    /// A label longer than [`MAX_LABEL_LEN`].
    LabelTooLong,
    /// A value longer than [`MAX_VALUE_LEN`].
    ValueTooLong,
    /// More than [`MAX_FIELDS`] fields.
    TooManyFields,
    /// A HEX frame inside the block longer than [`MAX_HEX_FRAME_LEN`].
    HexFrameTooLong,
}

impl core::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Checksum => write!(f, "checksum mismatch"),
            Self::BadLabelByte(b) => write!(f, "byte 0x{b:02X} not allowed in a label"),
            Self::BadValueByte(b) => write!(f, "byte 0x{b:02X} not allowed in a value"),
            Self::LabelTooLong => write!(f, "label longer than {MAX_LABEL_LEN} bytes"),
            Self::ValueTooLong => write!(f, "value longer than {MAX_VALUE_LEN} bytes"),
            Self::TooManyFields => write!(f, "more than {MAX_FIELDS} fields"),
            Self::HexFrameTooLong => write!(f, "HEX frame longer than {MAX_HEX_FRAME_LEN} bytes"),
        }
    }
}

impl core::error::Error for RejectReason {}

/// What the decoder says after a byte.
#[allow(
    clippy::large_enum_variant,
    reason = "no heap in the decoder: the block lives inline"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete block with a valid checksum.
    Block(Block),
    /// A block (or what looked like the start of one) was dropped.
    Rejected(RejectReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for `\r\n`; `saw_cr` when the previous byte was `\r`.
    Hunting { saw_cr: bool },
    /// Right after `\r\n`: reading a label up to `\t`.
    Label,
    /// Reading a value up to `\r`.
    Value,
    /// Got `\r` after a value; the next byte must be `\n`.
    ValueCr,
    /// After `Checksum\t`: the next byte is the checksum byte, whatever it is.
    ChecksumByte,
    /// Inside a HEX frame that interrupted `resume`; `len` bytes so far.
    Hex { resume: Resume, len: u16 },
}

/// The in-block state a HEX frame interrupted (hunting never enters HEX frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    Label,
    Value,
    ValueCr,
}

/// Streaming VE.Direct TEXT decoder. Feed bytes, collect [`Event`]s.
///
/// ```
/// use fieldkit_drivers::vedirect::{Decoder, Event, encode_block};
/// let mut buf = [0u8; 128];
/// let n = encode_block(&[("V", "12530"), ("CS", "3")], &mut buf).unwrap();
/// let mut decoder = Decoder::new();
/// let mut blocks = 0;
/// for &b in &buf[..n] {
///     if let Some(Event::Block(block)) = decoder.feed(b) {
///         assert_eq!(block.battery_voltage_mv(), Some(12530));
///         blocks += 1;
///     }
/// }
/// assert_eq!(blocks, 1);
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    sum: u8,
    block: Block,
    label: String<MAX_LABEL_LEN, u8>,
    value: String<MAX_VALUE_LEN, u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder hunting for the start of a block.
    pub fn new() -> Self {
        Self {
            state: State::Hunting { saw_cr: false },
            sum: 0,
            block: Block::default(),
            label: String::new(),
            value: String::new(),
        }
    }

    /// True while the decoder is between blocks, looking for `\r\n`.
    pub fn is_hunting(&self) -> bool {
        matches!(self.state, State::Hunting { .. })
    }

    /// Feeds one byte; returns an event when a block ends or is rejected.
    pub fn feed(&mut self, byte: u8) -> Option<Event> {
        match self.state {
            State::Hunting { saw_cr } => {
                if saw_cr && byte == b'\n' {
                    self.start_block();
                } else {
                    self.state = State::Hunting {
                        saw_cr: byte == b'\r',
                    };
                }
                None
            }
            State::ChecksumByte => {
                let sum = self.sum.wrapping_add(byte);
                self.state = State::Hunting { saw_cr: false };
                let block = core::mem::take(&mut self.block);
                if sum == 0 {
                    Some(Event::Block(block))
                } else {
                    Some(Event::Rejected(RejectReason::Checksum))
                }
            }
            State::Hex { resume, len } => {
                if byte == b'\n' {
                    self.state = match resume {
                        Resume::Label => State::Label,
                        Resume::Value => State::Value,
                        Resume::ValueCr => State::ValueCr,
                    };
                    None
                } else if usize::from(len) >= MAX_HEX_FRAME_LEN {
                    self.reject(RejectReason::HexFrameTooLong, byte)
                } else {
                    self.state = State::Hex {
                        resume,
                        len: len.saturating_add(1),
                    };
                    None
                }
            }
            State::Label | State::Value | State::ValueCr if byte == b':' => {
                let resume = match self.state {
                    State::Label => Resume::Label,
                    State::Value => Resume::Value,
                    _ => Resume::ValueCr,
                };
                self.state = State::Hex { resume, len: 0 };
                None
            }
            State::Label => match byte {
                b'\t' => {
                    self.sum = self.sum.wrapping_add(byte);
                    if self.label.as_str() == "Checksum" {
                        self.state = State::ChecksumByte;
                    } else {
                        self.state = State::Value;
                    }
                    None
                }
                0x21..=0x7E => {
                    if self.label.push(char::from(byte)).is_err() {
                        return self.reject(RejectReason::LabelTooLong, byte);
                    }
                    self.sum = self.sum.wrapping_add(byte);
                    None
                }
                _ => self.reject(RejectReason::BadLabelByte(byte), byte),
            },
            State::Value => match byte {
                b'\r' => {
                    self.sum = self.sum.wrapping_add(byte);
                    self.state = State::ValueCr;
                    None
                }
                0x20..=0x7E => {
                    if self.value.push(char::from(byte)).is_err() {
                        return self.reject(RejectReason::ValueTooLong, byte);
                    }
                    self.sum = self.sum.wrapping_add(byte);
                    None
                }
                _ => self.reject(RejectReason::BadValueByte(byte), byte),
            },
            State::ValueCr => {
                if byte != b'\n' {
                    return self.reject(RejectReason::BadValueByte(byte), byte);
                }
                self.sum = self.sum.wrapping_add(byte);
                let field = Field {
                    label: core::mem::take(&mut self.label),
                    value: core::mem::take(&mut self.value),
                };
                if self.block.fields.push(field).is_err() {
                    return self.reject(RejectReason::TooManyFields, byte);
                }
                self.state = State::Label;
                None
            }
        }
    }

    /// Feeds a slice, calling `on_event` for every event.
    pub fn feed_slice(&mut self, bytes: &[u8], mut on_event: impl FnMut(Event)) {
        for &b in bytes {
            if let Some(event) = self.feed(b) {
                on_event(event);
            }
        }
    }

    fn start_block(&mut self) {
        self.sum = b'\r'.wrapping_add(b'\n');
        self.block = Block::default();
        self.label.clear();
        self.value.clear();
        self.state = State::Label;
    }

    /// Drops the current block and hunts again; the offending byte may itself be the `\r`
    /// of the next block, so it is looked at again as a hunting byte.
    fn reject(&mut self, reason: RejectReason, byte: u8) -> Option<Event> {
        self.block = Block::default();
        self.label.clear();
        self.value.clear();
        self.state = State::Hunting {
            saw_cr: byte == b'\r',
        };
        Some(Event::Rejected(reason))
    }
}

/// Counts of a decoded stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// Blocks whose checksum verified.
    pub valid: usize,
    /// Blocks rejected for any reason.
    pub rejected: usize,
}

/// Decodes a whole capture, calling `on_block` for each valid block.
pub fn decode_capture(bytes: &[u8], mut on_block: impl FnMut(&Block)) -> DecodeCounts {
    let mut decoder = Decoder::new();
    let mut counts = DecodeCounts::default();
    decoder.feed_slice(bytes, |event| match event {
        Event::Block(block) => {
            counts.valid += 1;
            on_block(&block);
        }
        Event::Rejected(_) => counts.rejected += 1,
    });
    counts
}

/// Charger state as the `CS` field reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeState {
    /// 0: not charging.
    Off,
    /// 1: low power.
    LowPower,
    /// 2: fault.
    Fault,
    /// 3: bulk.
    Bulk,
    /// 4: absorption.
    Absorption,
    /// 5: float.
    Float,
    /// 6: storage.
    Storage,
    /// 7: equalize (manual).
    Equalize,
    /// 9: inverting.
    Inverting,
    /// 11: power supply.
    PowerSupply,
    /// 245: starting up.
    StartingUp,
    /// 246: repeated absorption.
    RepeatedAbsorption,
    /// 247: auto equalize / recondition.
    AutoEqualize,
    /// 248: BatterySafe.
    BatterySafe,
    /// 252: external control.
    ExternalControl,
    /// A code this decoder does not know.
    Other(u16),
}

impl ChargeState {
    /// The state's name in decoded output, in the words of Victron's VE.Direct protocol
    /// document (`bulk`, `low_power`, `battery_safe`); `other` for a code this decoder does
    /// not know (the code is printed beside it).
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::LowPower => "low_power",
            Self::Fault => "fault",
            Self::Bulk => "bulk",
            Self::Absorption => "absorption",
            Self::Float => "float",
            Self::Storage => "storage",
            Self::Equalize => "equalize",
            Self::Inverting => "inverting",
            Self::PowerSupply => "power_supply",
            Self::StartingUp => "starting_up",
            Self::RepeatedAbsorption => "repeated_absorption",
            Self::AutoEqualize => "auto_equalize",
            Self::BatterySafe => "battery_safe",
            Self::ExternalControl => "external_control",
            Self::Other(_) => "other",
        }
    }

    /// Maps a `CS` code.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => Self::Off,
            1 => Self::LowPower,
            2 => Self::Fault,
            3 => Self::Bulk,
            4 => Self::Absorption,
            5 => Self::Float,
            6 => Self::Storage,
            7 => Self::Equalize,
            9 => Self::Inverting,
            11 => Self::PowerSupply,
            245 => Self::StartingUp,
            246 => Self::RepeatedAbsorption,
            247 => Self::AutoEqualize,
            248 => Self::BatterySafe,
            252 => Self::ExternalControl,
            other => Self::Other(other),
        }
    }

    /// The `CS` code.
    pub fn code(self) -> u16 {
        match self {
            Self::Off => 0,
            Self::LowPower => 1,
            Self::Fault => 2,
            Self::Bulk => 3,
            Self::Absorption => 4,
            Self::Float => 5,
            Self::Storage => 6,
            Self::Equalize => 7,
            Self::Inverting => 9,
            Self::PowerSupply => 11,
            Self::StartingUp => 245,
            Self::RepeatedAbsorption => 246,
            Self::AutoEqualize => 247,
            Self::BatterySafe => 248,
            Self::ExternalControl => 252,
            Self::Other(c) => c,
        }
    }
}

impl Block {
    /// All fields in the order received.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The raw value of a label, if present.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.label.as_str() == label)
            .map(|f| f.value.as_str())
    }

    fn int(&self, label: &str) -> Option<i64> {
        self.get(label).and_then(|v| v.trim().parse::<i64>().ok())
    }

    fn int_i32(&self, label: &str) -> Option<i32> {
        self.int(label).and_then(|v| i32::try_from(v).ok())
    }

    /// `PID`: product id, e.g. `0xA042`.
    pub fn product_id(&self) -> Option<u16> {
        let v = self.get("PID")?;
        let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
        u16::from_str_radix(hex, 16).ok()
    }

    /// `V`: main battery voltage in mV.
    pub fn battery_voltage_mv(&self) -> Option<i32> {
        self.int_i32("V")
    }

    /// `I`: battery current in mA (positive when charging).
    pub fn battery_current_ma(&self) -> Option<i32> {
        self.int_i32("I")
    }

    /// `VPV`: panel voltage in mV.
    pub fn panel_voltage_mv(&self) -> Option<i32> {
        self.int_i32("VPV")
    }

    /// `PPV`: panel power in W.
    pub fn panel_power_w(&self) -> Option<i32> {
        self.int_i32("PPV")
    }

    /// `P`: instantaneous power in W (battery monitors).
    pub fn power_w(&self) -> Option<i32> {
        self.int_i32("P")
    }

    /// `CE`: consumed energy in mAh (battery monitors; negative).
    pub fn consumed_mah(&self) -> Option<i32> {
        self.int_i32("CE")
    }

    /// `SOC`: state of charge in ‰ (battery monitors).
    pub fn soc_permille(&self) -> Option<i32> {
        self.int_i32("SOC")
    }

    /// `TTG`: time to go in minutes (battery monitors; -1 when infinite).
    pub fn time_to_go_min(&self) -> Option<i32> {
        self.int_i32("TTG")
    }

    /// `CS`: state of operation of a charger.
    pub fn charge_state(&self) -> Option<ChargeState> {
        let code = u16::try_from(self.int("CS")?).ok()?;
        Some(ChargeState::from_code(code))
    }

    /// `MPPT`: tracker operation mode (0 off, 1 limited, 2 active).
    pub fn mppt_mode(&self) -> Option<i32> {
        self.int_i32("MPPT")
    }

    /// `H19`: yield total in 0.01 kWh units.
    pub fn yield_total_10wh(&self) -> Option<i32> {
        self.int_i32("H19")
    }

    /// `ERR`: charger error code (0 = none).
    pub fn error_code(&self) -> Option<i32> {
        self.int_i32("ERR")
    }
}

/// Error from [`encode_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferTooSmall,
    /// A label or value contains a byte the protocol cannot carry, or is too long.
    InvalidField,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BufferTooSmall => write!(f, "output buffer too small for the block"),
            Self::InvalidField => write!(f, "label or value not encodable in VE.Direct TEXT"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Writes a TEXT block (fields then `Checksum`) into `out`; returns the length written.
///
/// The simulator uses this to speak as a charger; tests use it for round trips.
pub fn encode_block(fields: &[(&str, &str)], out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut pos = 0usize;
    let mut sum = 0u8;
    let mut put = |bytes: &[u8], pos: &mut usize, sum: &mut u8| -> Result<(), EncodeError> {
        let end = pos
            .checked_add(bytes.len())
            .ok_or(EncodeError::BufferTooSmall)?;
        let dst = out.get_mut(*pos..end).ok_or(EncodeError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        for &b in bytes {
            *sum = sum.wrapping_add(b);
        }
        *pos = end;
        Ok(())
    };
    for (label, value) in fields {
        let label_ok = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && *label != "Checksum"
            && label
                .bytes()
                .all(|b| (0x21..=0x7E).contains(&b) && b != b':');
        let value_ok = value.len() <= MAX_VALUE_LEN
            && value
                .bytes()
                .all(|b| (0x20..=0x7E).contains(&b) && b != b':');
        if !label_ok || !value_ok {
            return Err(EncodeError::InvalidField);
        }
        put(b"\r\n", &mut pos, &mut sum)?;
        put(label.as_bytes(), &mut pos, &mut sum)?;
        put(b"\t", &mut pos, &mut sum)?;
        put(value.as_bytes(), &mut pos, &mut sum)?;
    }
    put(b"\r\nChecksum\t", &mut pos, &mut sum)?;
    let check = 0u8.wrapping_sub(sum);
    put(&[check], &mut pos, &mut sum)?;
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> (std::vec::Vec<Block>, std::vec::Vec<RejectReason>) {
        let mut decoder = Decoder::new();
        let mut blocks = std::vec::Vec::new();
        let mut rejects = std::vec::Vec::new();
        decoder.feed_slice(bytes, |e| match e {
            Event::Block(b) => blocks.push(b),
            Event::Rejected(r) => rejects.push(r),
        });
        (blocks, rejects)
    }

    fn block_bytes(fields: &[(&str, &str)]) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 1024];
        let n = encode_block(fields, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn decodes_a_block_and_its_typed_fields() {
        let bytes = block_bytes(&[
            ("PID", "0xA042"),
            ("V", "12530"),
            ("I", "620"),
            ("VPV", "33580"),
            ("PPV", "8"),
            ("CS", "3"),
            ("H19", "8272"),
        ]);
        let (blocks, rejects) = decode_all(&bytes);
        assert!(rejects.is_empty());
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert_eq!(b.product_id(), Some(0xA042));
        assert_eq!(b.battery_voltage_mv(), Some(12530));
        assert_eq!(b.battery_current_ma(), Some(620));
        assert_eq!(b.panel_voltage_mv(), Some(33580));
        assert_eq!(b.panel_power_w(), Some(8));
        assert_eq!(b.charge_state(), Some(ChargeState::Bulk));
        assert_eq!(b.yield_total_10wh(), Some(8272));
    }

    #[test]
    fn rejects_a_block_with_a_wrong_checksum_and_keeps_the_next() {
        let mut bytes = block_bytes(&[("V", "12530")]);
        let last = bytes.len() - 1;
        bytes[last] = bytes[last].wrapping_add(1);
        bytes.extend(block_bytes(&[("V", "12000")]));
        let (blocks, rejects) = decode_all(&bytes);
        assert_eq!(rejects, [RejectReason::Checksum]);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].battery_voltage_mv(), Some(12000));
    }

    #[test]
    fn hex_frames_are_skipped_and_not_summed() {
        let plain = block_bytes(&[("V", "12530"), ("I", "-10")]);
        // Insert a HEX frame after the first field's value.
        let at = plain.windows(2).rposition(|w| w == b"\r\n").unwrap();
        let mut bytes = plain[..at].to_vec();
        bytes.extend_from_slice(b"\r\n:A0102000543\n");
        bytes.extend_from_slice(&plain[at + 2..]);
        // The frame was inserted between '\r\n' and the next label; sum unchanged.
        let (blocks, rejects) = decode_all(&bytes);
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].battery_current_ma(), Some(-10));
    }

    #[test]
    fn a_colon_checksum_byte_is_a_checksum_not_a_hex_frame() {
        // Find a value whose checksum byte is ':' (0x3A).
        let mut found = false;
        for v in 0..(95u32 * 95) {
            let a = char::from(0x20 + (v / 95) as u8);
            let b = char::from(0x20 + (v % 95) as u8);
            if a == ':' || b == ':' || a == '\x7f' || b == '\x7f' {
                continue;
            }
            let value = std::format!("~{a}{b}");
            let bytes = block_bytes(&[("V", &value)]);
            if *bytes.last().unwrap() == b':' {
                let mut stream = bytes.clone();
                stream.extend(block_bytes(&[("V", "1")]));
                let (blocks, rejects) = decode_all(&stream);
                assert!(rejects.is_empty());
                assert_eq!(blocks.len(), 2);
                found = true;
                break;
            }
        }
        assert!(found);
    }

    #[test]
    fn resynchronises_after_nul_bytes_and_noise() {
        let mut bytes = block_bytes(&[("V", "1")]);
        bytes.truncate(bytes.len() / 2);
        bytes.extend_from_slice(&[0, 0, 0, 0xFF, 0x13, b'\t', 0]);
        bytes.extend(block_bytes(&[("V", "2")]));
        let (blocks, rejects) = decode_all(&bytes);
        assert_eq!(rejects.len(), 1);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].battery_voltage_mv(), Some(2));
    }

    #[test]
    fn a_nul_inside_a_value_rejects_even_though_it_sums_to_nothing() {
        let mut bytes = block_bytes(&[("V", "12")]);
        let pos = bytes.iter().position(|&b| b == b'1').unwrap();
        bytes.insert(pos + 1, 0);
        let (blocks, rejects) = decode_all(&bytes);
        assert!(blocks.is_empty());
        // The NUL rejects the block; the checksum field after it, seen as a block of its
        // own after the next CR LF, fails too.
        assert_eq!(rejects[0], RejectReason::BadValueByte(0));
    }

    #[test]
    fn encode_refuses_what_it_cannot_carry() {
        let mut buf = [0u8; 64];
        assert_eq!(
            encode_block(&[("V", "1:2")], &mut buf),
            Err(EncodeError::InvalidField)
        );
        assert_eq!(
            encode_block(&[("V", "1")], &mut buf[..4]),
            Err(EncodeError::BufferTooSmall)
        );
    }
}

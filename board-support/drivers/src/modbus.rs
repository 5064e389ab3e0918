//! Modbus RTU, the part charge controllers need: read holding registers (0x03) and read
//! input registers (0x04), their exception responses, and the CRC16 that guards frames.
//!
//! Sans-IO: requests are encoded into the caller's buffer, responses are decoded from the
//! bytes the caller read. Timeouts belong to the transport (see `serial` with the `std`
//! feature), which uses [`expected_response_len`] to know when a response is complete.
//!
//! Why our own codec and not `rmodbus`: the kit needs exactly two read functions and the
//! exception frame, on both sides (the board reads, the simulator answers); with the `crc`
//! crate's CRC-16/MODBUS that is a few hundred lines with no allocation, no feature matrix
//! and no new dependency to audit, and the frame-scanning decoder for captures
//! ([`scan_frame`]) is something `rmodbus` does not offer.

use crc::{CRC_16_MODBUS, Crc};
use heapless::Vec;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_MODBUS);

/// Function code: read holding registers.
pub const READ_HOLDING_REGISTERS: u8 = 0x03;
/// Function code: read input registers.
pub const READ_INPUT_REGISTERS: u8 = 0x04;
/// Most registers a read may ask for (the spec's limit, 125).
pub const MAX_REGISTERS: usize = 125;
/// Longest RTU frame.
pub const MAX_FRAME_LEN: usize = 256;

/// CRC-16/MODBUS of `bytes` (sent low byte first).
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

/// True when the last two bytes of `frame` are the CRC of the rest.
pub fn crc_ok(frame: &[u8]) -> bool {
    let Some(split) = frame.len().checked_sub(2) else {
        return false;
    };
    if split == 0 {
        return false;
    }
    let (body, tail) = frame.split_at(split);
    let sent = u16::from_le_bytes([tail[0], tail[1]]);
    crc16(body) == sent
}

/// A read request: device address, function, first register, count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// Device (slave) address, 1–247.
    pub device: u8,
    /// [`READ_HOLDING_REGISTERS`] or [`READ_INPUT_REGISTERS`].
    pub function: u8,
    /// First register address.
    pub start: u16,
    /// Number of registers, 1–125.
    pub count: u16,
}

/// Modbus exception codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionCode {
    /// 01
    IllegalFunction,
    /// 02
    IllegalDataAddress,
    /// 03
    IllegalDataValue,
    /// 04
    ServerDeviceFailure,
    /// 05
    Acknowledge,
    /// 06
    ServerDeviceBusy,
    /// Any other code.
    Other(u8),
}

impl ExceptionCode {
    /// From the wire byte.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::IllegalFunction,
            2 => Self::IllegalDataAddress,
            3 => Self::IllegalDataValue,
            4 => Self::ServerDeviceFailure,
            5 => Self::Acknowledge,
            6 => Self::ServerDeviceBusy,
            c => Self::Other(c),
        }
    }

    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Self::IllegalFunction => 1,
            Self::IllegalDataAddress => 2,
            Self::IllegalDataValue => 3,
            Self::ServerDeviceFailure => 4,
            Self::Acknowledge => 5,
            Self::ServerDeviceBusy => 6,
            Self::Other(c) => c,
        }
    }

    /// What the code means, in the spec's words.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::IllegalFunction => "illegal function",
            Self::IllegalDataAddress => "illegal data address",
            Self::IllegalDataValue => "illegal data value",
            Self::ServerDeviceFailure => "server device failure",
            Self::Acknowledge => "acknowledge",
            Self::ServerDeviceBusy => "server device busy",
            Self::Other(_) => "unknown exception",
        }
    }
}

/// A decoded response.
#[allow(
    clippy::large_enum_variant,
    reason = "no heap in the codec: frames live inline"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The registers asked for, in order.
    Registers {
        /// Device address.
        device: u8,
        /// Function code.
        function: u8,
        /// Register values.
        values: Vec<u16, MAX_REGISTERS, u8>,
    },
    /// The device refused.
    Exception {
        /// Device address.
        device: u8,
        /// Function code the exception answers (without the 0x80 bit).
        function: u8,
        /// Why.
        code: ExceptionCode,
    },
}

/// Errors decoding a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the frame needs.
    Truncated,
    /// CRC mismatch.
    Crc,
    /// The response came from another device or for another function.
    Mismatch,
    /// Byte count disagrees with the request or the frame length.
    Length,
    /// Not a function this codec handles.
    UnsupportedFunction(u8),
    /// Request fields out of range (count 0 or above 125, device 0 or above 247).
    InvalidRequest,
    /// The caller's buffer is too small.
    BufferTooSmall,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => write!(f, "frame truncated"),
            Self::Crc => write!(f, "CRC mismatch"),
            Self::Mismatch => write!(f, "response does not answer the request"),
            Self::Length => write!(f, "byte count does not match"),
            Self::UnsupportedFunction(c) => write!(f, "unsupported function 0x{c:02X}"),
            Self::InvalidRequest => write!(f, "request out of range"),
            Self::BufferTooSmall => write!(f, "buffer too small"),
        }
    }
}

impl core::error::Error for FrameError {}

fn supported(function: u8) -> bool {
    function == READ_HOLDING_REGISTERS || function == READ_INPUT_REGISTERS
}

impl ReadRequest {
    /// A request, checked against the spec's ranges.
    pub fn new(device: u8, function: u8, start: u16, count: u16) -> Result<Self, FrameError> {
        if !supported(function) {
            return Err(FrameError::UnsupportedFunction(function));
        }
        if device == 0 || device > 247 || count == 0 || usize::from(count) > MAX_REGISTERS {
            return Err(FrameError::InvalidRequest);
        }
        Ok(Self {
            device,
            function,
            start,
            count,
        })
    }

    /// Writes the 8-byte frame into `out`; returns 8.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, FrameError> {
        let frame = out.get_mut(..8).ok_or(FrameError::BufferTooSmall)?;
        let [sh, sl] = self.start.to_be_bytes();
        let [ch, cl] = self.count.to_be_bytes();
        frame[..6].copy_from_slice(&[self.device, self.function, sh, sl, ch, cl]);
        let [lo, hi] = crc16(&frame[..6]).to_le_bytes();
        frame[6] = lo;
        frame[7] = hi;
        Ok(8)
    }

    /// Decodes an 8-byte request frame (the simulator's side).
    pub fn decode(frame: &[u8]) -> Result<Self, FrameError> {
        if frame.len() < 8 {
            return Err(FrameError::Truncated);
        }
        if frame.len() > 8 {
            return Err(FrameError::Length);
        }
        if !crc_ok(frame) {
            return Err(FrameError::Crc);
        }
        Self::new(
            frame[0],
            frame[1],
            u16::from_be_bytes([frame[2], frame[3]]),
            u16::from_be_bytes([frame[4], frame[5]]),
        )
    }

    /// Decodes the response to this request.
    pub fn decode_response(&self, frame: &[u8]) -> Result<Response, FrameError> {
        let response = decode_response_frame(frame)?;
        match &response {
            Response::Registers {
                device,
                function,
                values,
            } => {
                if *device != self.device || *function != self.function {
                    return Err(FrameError::Mismatch);
                }
                if values.len() != usize::from(self.count) {
                    return Err(FrameError::Length);
                }
            }
            Response::Exception {
                device, function, ..
            } => {
                if *device != self.device || *function != self.function {
                    return Err(FrameError::Mismatch);
                }
            }
        }
        Ok(response)
    }

    /// Length of a normal response to this request.
    pub fn response_len(&self) -> usize {
        5 + 2 * usize::from(self.count)
    }
}

/// How many bytes the response that starts with `head` will have, once the first three
/// bytes are known (`None` before that). Exceptions are 5 bytes.
pub fn expected_response_len(head: &[u8]) -> Option<usize> {
    let function = *head.get(1)?;
    if function & 0x80 != 0 {
        return Some(5);
    }
    let byte_count = *head.get(2)?;
    Some(5 + usize::from(byte_count))
}

/// Decodes one complete response frame (registers or exception), CRC checked.
pub fn decode_response_frame(frame: &[u8]) -> Result<Response, FrameError> {
    if frame.len() < 5 {
        return Err(FrameError::Truncated);
    }
    let device = frame[0];
    let function = frame[1];
    if function & 0x80 != 0 {
        if frame.len() != 5 {
            return Err(FrameError::Length);
        }
        if !crc_ok(frame) {
            return Err(FrameError::Crc);
        }
        return Ok(Response::Exception {
            device,
            function: function & 0x7F,
            code: ExceptionCode::from_code(frame[2]),
        });
    }
    if !supported(function) {
        return Err(FrameError::UnsupportedFunction(function));
    }
    let byte_count = usize::from(frame[2]);
    if frame.len() != 5 + byte_count {
        return Err(if frame.len() < 5 + byte_count {
            FrameError::Truncated
        } else {
            FrameError::Length
        });
    }
    if !crc_ok(frame) {
        return Err(FrameError::Crc);
    }
    if byte_count % 2 != 0 || byte_count / 2 > MAX_REGISTERS {
        return Err(FrameError::Length);
    }
    let mut values = Vec::new();
    for pair in frame[3..3 + byte_count].chunks_exact(2) {
        values
            .push(u16::from_be_bytes([pair[0], pair[1]]))
            .map_err(|_| FrameError::Length)?;
    }
    Ok(Response::Registers {
        device,
        function,
        values,
    })
}

/// Writes a register response (the simulator's side); returns its length.
pub fn encode_registers(
    device: u8,
    function: u8,
    values: &[u16],
    out: &mut [u8],
) -> Result<usize, FrameError> {
    if values.len() > MAX_REGISTERS {
        return Err(FrameError::InvalidRequest);
    }
    let len = 5 + 2 * values.len();
    let frame = out.get_mut(..len).ok_or(FrameError::BufferTooSmall)?;
    frame[0] = device;
    frame[1] = function;
    frame[2] = u8::try_from(2 * values.len()).map_err(|_| FrameError::InvalidRequest)?;
    for (i, v) in values.iter().enumerate() {
        let [h, l] = v.to_be_bytes();
        frame[3 + 2 * i] = h;
        frame[4 + 2 * i] = l;
    }
    let [lo, hi] = crc16(&frame[..len - 2]).to_le_bytes();
    frame[len - 2] = lo;
    frame[len - 1] = hi;
    Ok(len)
}

/// Writes an exception response; returns 5.
pub fn encode_exception(
    device: u8,
    function: u8,
    code: ExceptionCode,
    out: &mut [u8],
) -> Result<usize, FrameError> {
    let frame = out.get_mut(..5).ok_or(FrameError::BufferTooSmall)?;
    frame[0] = device;
    frame[1] = function | 0x80;
    frame[2] = code.code();
    let [lo, hi] = crc16(&frame[..3]).to_le_bytes();
    frame[3] = lo;
    frame[4] = hi;
    Ok(5)
}

/// A frame found in a capture.
#[allow(
    clippy::large_enum_variant,
    reason = "no heap in the codec: frames live inline"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A read request (8 bytes).
    Request(ReadRequest),
    /// A response or an exception.
    Response(Response),
}

/// Result of looking at the start of a capture buffer.
#[allow(
    clippy::large_enum_variant,
    reason = "no heap in the codec: frames live inline"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// A CRC-valid frame of `len` bytes starts at the front.
    Frame {
        /// The frame.
        frame: Frame,
        /// Its length in bytes.
        len: usize,
    },
    /// No frame can start at the front: drop one byte and look again.
    Skip,
    /// A frame might start here but more bytes are needed.
    NeedMore,
}

/// Looks for a frame at the front of `buf`, for decoding captures where requests and
/// responses follow each other without the inter-frame silence RTU uses as a delimiter.
/// Frames are recognised by a valid CRC, so noise is skipped a byte at a time.
/// `expect_response_to` is the last request seen, used to prefer the response shape.
pub fn scan_frame(buf: &[u8], expect_response_to: Option<&ReadRequest>) -> Scan {
    if buf.len() < 2 {
        return if buf.is_empty() {
            Scan::Skip
        } else {
            Scan::NeedMore
        };
    }
    let function = buf[1];
    let mut need_more = false;
    // Exception frame.
    if function & 0x80 != 0 && supported(function & 0x7F) {
        match buf.get(..5) {
            Some(frame) => {
                if let Ok(r) = decode_response_frame(frame) {
                    return Scan::Frame {
                        frame: Frame::Response(r),
                        len: 5,
                    };
                }
            }
            None => need_more = true,
        }
    }
    if supported(function) {
        // Response: its byte count must be even; prefer it after a request.
        let response_first = expect_response_to.is_some();
        let try_response = |buf: &[u8], need_more: &mut bool| -> Option<Scan> {
            let len = expected_response_len(buf)?;
            match buf.get(..len) {
                Some(frame) => decode_response_frame(frame).ok().map(|r| Scan::Frame {
                    frame: Frame::Response(r),
                    len,
                }),
                None => {
                    *need_more = true;
                    None
                }
            }
        };
        let try_request = |buf: &[u8], need_more: &mut bool| -> Option<Scan> {
            match buf.get(..8) {
                Some(frame) => ReadRequest::decode(frame).ok().map(|r| Scan::Frame {
                    frame: Frame::Request(r),
                    len: 8,
                }),
                None => {
                    *need_more = true;
                    None
                }
            }
        };
        if buf.len() < 3 {
            return Scan::NeedMore;
        }
        let found = if response_first {
            try_response(buf, &mut need_more).or_else(|| try_request(buf, &mut need_more))
        } else {
            try_request(buf, &mut need_more).or_else(|| try_response(buf, &mut need_more))
        };
        if let Some(scan) = found {
            return scan;
        }
    }
    if need_more {
        Scan::NeedMore
    } else {
        Scan::Skip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> std::vec::Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn crc_matches_published_frames() {
        // EPEver: read input register 0x311A, one register.
        let mut buf = [0u8; 8];
        let req = ReadRequest::new(1, 0x04, 0x311A, 1).unwrap();
        req.encode(&mut buf).unwrap();
        assert_eq!(buf.to_vec(), hex("01 04 31 1A 00 01 1E F1"));
        let req = ReadRequest::new(1, 0x03, 0x000A, 1).unwrap();
        req.encode(&mut buf).unwrap();
        assert_eq!(buf.to_vec(), hex("01 03 00 0A 00 01 A4 08"));
    }

    #[test]
    fn decodes_registers_and_exceptions() {
        let req = ReadRequest::new(1, 0x04, 0x3104, 1).unwrap();
        let r = req.decode_response(&hex("01 04 02 05 10 BB AC")).unwrap();
        let Response::Registers { values, .. } = r else {
            panic!("not registers")
        };
        assert_eq!(values.as_slice(), &[0x0510]);

        let req = ReadRequest::new(1, 0x03, 0x3000, 1).unwrap();
        let r = req.decode_response(&hex("01 83 02 C0 F1")).unwrap();
        assert_eq!(
            r,
            Response::Exception {
                device: 1,
                function: 3,
                code: ExceptionCode::IllegalDataAddress
            }
        );
    }

    #[test]
    fn rejects_bad_crc_and_mismatched_answers() {
        let req = ReadRequest::new(1, 0x04, 0x311A, 1).unwrap();
        assert_eq!(
            req.decode_response(&hex("01 04 02 00 46 38 C3")),
            Err(FrameError::Crc)
        );
        let other = ReadRequest::new(2, 0x04, 0x311A, 1).unwrap();
        assert_eq!(
            other.decode_response(&hex("01 04 02 00 46 38 C2")),
            Err(FrameError::Mismatch)
        );
        assert_eq!(
            req.decode_response(&hex("01 04 02 00")),
            Err(FrameError::Truncated)
        );
    }

    #[test]
    fn round_trips_through_the_encoders() {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let n = encode_registers(7, 0x03, &[1, 2, 0xFFFF], &mut buf).unwrap();
        let req = ReadRequest::new(7, 0x03, 0x100, 3).unwrap();
        assert_eq!(n, req.response_len());
        assert_eq!(expected_response_len(&buf[..3]), Some(n));
        let Response::Registers { values, .. } = req.decode_response(&buf[..n]).unwrap() else {
            panic!()
        };
        assert_eq!(values.as_slice(), &[1, 2, 0xFFFF]);
        let n = encode_exception(7, 0x03, ExceptionCode::ServerDeviceBusy, &mut buf).unwrap();
        assert_eq!(expected_response_len(&buf[..2]), Some(5));
        assert!(matches!(
            req.decode_response(&buf[..n]),
            Ok(Response::Exception {
                code: ExceptionCode::ServerDeviceBusy,
                ..
            })
        ));
    }

    #[test]
    fn scanner_finds_frames_in_a_stream_with_noise() {
        let mut stream = hex("FF 00 13");
        stream.extend(hex("01 04 31 1A 00 01 1E F1"));
        stream.extend(hex("01 04 02 00 46 38 C2"));
        let mut pos = 0;
        let mut frames = std::vec::Vec::new();
        let mut skipped = 0;
        let mut last_req = None;
        while pos < stream.len() {
            match scan_frame(&stream[pos..], last_req.as_ref()) {
                Scan::Frame { frame, len } => {
                    if let Frame::Request(r) = &frame {
                        last_req = Some(*r);
                    }
                    frames.push(frame);
                    pos += len;
                }
                Scan::Skip => {
                    skipped += 1;
                    pos += 1;
                }
                Scan::NeedMore => break,
            }
        }
        assert_eq!(skipped, 3);
        assert_eq!(frames.len(), 2);
    }
}

//! Charge controllers over a serial port: VE.Direct TEXT and Modbus RTU transports.
//!
//! The transports are generic over `serialport::SerialPort`, so the board passes a real
//! `/dev/ttyUSB0` and the tests a pseudo-terminal from `TTYPort::pair()`: the same code.
//! Timeouts come from the port's read timeout.

use std::io::{self, Read};
use std::time::Instant;

pub use serialport::{self, ClearBuffer, SerialPort, TTYPort};

use crate::charger::{ChargerReading, ModbusCharger};
use crate::modbus::{self, ExceptionCode, FrameError, ReadRequest, Response};
use crate::vedirect::{Block, Decoder, Event};

/// Errors talking to a charge controller.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChargerError {
    /// Nothing (or nothing valid) arrived before the timeout: the charger fell silent.
    Silent,
    /// Bytes arrived but no valid VE.Direct block among them.
    NoValidBlock {
        /// Blocks rejected while waiting.
        rejected: usize,
    },
    /// A Modbus frame was malformed or failed its CRC.
    Frame(FrameError),
    /// The device answered with a Modbus exception.
    Exception(ExceptionCode),
    /// The port failed.
    Io(io::Error),
}

impl core::fmt::Display for ChargerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Silent => write!(f, "charger silent (timeout)"),
            Self::NoValidBlock { rejected } => {
                write!(f, "no valid VE.Direct block ({rejected} rejected)")
            }
            Self::Frame(e) => write!(f, "bad Modbus frame: {e}"),
            Self::Exception(c) => write!(f, "Modbus exception {:02}: {}", c.code(), c.meaning()),
            Self::Io(e) => write!(f, "serial port error: {e}"),
        }
    }
}

impl std::error::Error for ChargerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Frame(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FrameError> for ChargerError {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

fn read_some(port: &mut dyn Read, buf: &mut [u8]) -> Result<usize, ChargerError> {
    match port.read(buf) {
        Ok(0) => Err(ChargerError::Silent),
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Err(ChargerError::Silent)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(ChargerError::Io(e)),
    }
}

/// Anything that gives a charger reading on demand: a VE.Direct or Modbus port on the
/// board, or an in-memory stream in the simulator.
pub trait ChargerLink {
    /// Reads the charger now. An error means the charger's state is unknown.
    fn poll(&mut self) -> Result<ChargerReading, ChargerError>;
}

/// A VE.Direct TEXT port (19200 8N1).
#[derive(Debug)]
pub struct VeDirectPort<P> {
    port: P,
    decoder: Decoder,
    /// Give up after this many bytes without a valid block (about 4 blocks' worth).
    max_bytes: usize,
}

impl<P: SerialPort> VeDirectPort<P> {
    /// The VE.Direct line speed.
    pub const BAUD_RATE: u32 = 19_200;

    /// Wraps an open port (set its timeout to a little over the block interval, ~1.5 s).
    pub fn new(port: P) -> Self {
        Self {
            port,
            decoder: Decoder::new(),
            max_bytes: 4096,
        }
    }

    /// Gives the port back.
    pub fn into_inner(self) -> P {
        self.port
    }

    /// Drops what the OS has buffered and waits for the next complete valid block, so the
    /// block returned is current, not one that sat in a buffer.
    pub fn read_fresh_block(&mut self) -> Result<Block, ChargerError> {
        self.port
            .clear(ClearBuffer::Input)
            .map_err(|e| ChargerError::Io(e.into()))?;
        self.decoder = Decoder::new();
        self.next_block()
    }

    /// Waits for the next valid block from the stream as it is.
    pub fn next_block(&mut self) -> Result<Block, ChargerError> {
        let mut buf = [0u8; 1];
        let mut seen = 0usize;
        let mut rejected = 0usize;
        // One byte at a time so no byte after the block is consumed and lost.
        while seen < self.max_bytes {
            let n = read_some(&mut self.port, &mut buf).map_err(|e| match e {
                ChargerError::Silent if rejected > 0 => ChargerError::NoValidBlock { rejected },
                other => other,
            })?;
            seen += n;
            if n == 1 {
                match self.decoder.feed(buf[0]) {
                    Some(Event::Block(block)) => return Ok(block),
                    Some(Event::Rejected(_)) => rejected += 1,
                    None => {}
                }
            }
        }
        Err(ChargerError::NoValidBlock { rejected })
    }
}

impl<P: SerialPort> ChargerLink for VeDirectPort<P> {
    fn poll(&mut self) -> Result<ChargerReading, ChargerError> {
        self.read_fresh_block()
            .map(|b| ChargerReading::from_vedirect(&b))
    }
}

/// A Modbus RTU charge controller (Renogy Rover, EPEver Tracer).
#[derive(Debug)]
pub struct ModbusPort<P> {
    port: P,
    charger: ModbusCharger,
    device: u8,
}

impl<P: SerialPort> ModbusPort<P> {
    /// Wraps an open port talking to `charger` at Modbus address `device` (usually 1).
    pub fn new(port: P, charger: ModbusCharger, device: u8) -> Self {
        Self {
            port,
            charger,
            device,
        }
    }

    /// Gives the port back.
    pub fn into_inner(self) -> P {
        self.port
    }

    /// Sends `request` and waits for its response (registers or exception). The port's
    /// read timeout bounds the wait for each byte.
    pub fn read_registers(&mut self, request: &ReadRequest) -> Result<Response, ChargerError> {
        self.port
            .clear(ClearBuffer::Input)
            .map_err(|e| ChargerError::Io(e.into()))?;
        let mut out = [0u8; 8];
        let n = request.encode(&mut out)?;
        self.port.write_all(&out[..n]).map_err(ChargerError::Io)?;
        self.port.flush().map_err(ChargerError::Io)?;
        let mut frame = [0u8; modbus::MAX_FRAME_LEN];
        let mut len = 0usize;
        let started = Instant::now();
        loop {
            let want = modbus::expected_response_len(&frame[..len])
                .unwrap_or(3)
                .min(modbus::MAX_FRAME_LEN);
            if len >= want {
                break;
            }
            let n = read_some(&mut self.port, &mut frame[len..want])?;
            len += n;
            if started.elapsed() > self.port.timeout() * 4 {
                return Err(ChargerError::Silent);
            }
        }
        let response = request.decode_response(&frame[..len])?;
        if let Response::Exception { code, .. } = response {
            return Err(ChargerError::Exception(code));
        }
        Ok(response)
    }
}

impl<P: SerialPort> ChargerLink for ModbusPort<P> {
    fn poll(&mut self) -> Result<ChargerReading, ChargerError> {
        let mut reading = ChargerReading::default();
        for request in self.charger.poll_requests(self.device) {
            if let Response::Registers { values, .. } = self.read_registers(&request)? {
                self.charger.apply(request.start, &values, &mut reading);
            }
        }
        Ok(reading)
    }
}

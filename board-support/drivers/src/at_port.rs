//! An AT port: a serial port and the line reader over it, shared by the LoRa and cellular
//! drivers. Reads until a line is complete or a deadline passes; the port's own read
//! timeout (keep it short, ~50 ms) sets how often the deadline is looked at.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use serialport::SerialPort;

use crate::at::{LineEvent, LineReader};

/// Longest line kept: a 256-byte RUI3 receive event in hex plus its prefix fits.
pub const LINE: usize = 640;

/// A serial port read as AT lines.
#[derive(Debug)]
pub struct AtPort<P> {
    port: P,
    lines: LineReader<LINE>,
    queued: VecDeque<String>,
}

impl<P: SerialPort> AtPort<P> {
    /// Wraps an open port.
    pub fn new(port: P) -> Self {
        Self {
            port,
            lines: LineReader::new(),
            queued: VecDeque::new(),
        }
    }

    /// Gives the port back.
    pub fn into_inner(self) -> P {
        self.port
    }

    /// Writes a command line with its terminator.
    pub fn send(&mut self, text: &str, terminator: &[u8]) -> io::Result<()> {
        self.port.write_all(text.as_bytes())?;
        self.port.write_all(terminator)?;
        self.port.flush()
    }

    /// Bytes of an unfinished line (RUI3 prints `AT+NWM`'s `OK` with no line ending).
    pub fn pending(&self) -> &[u8] {
        self.lines.pending()
    }

    /// Drops an unfinished line.
    pub fn drop_pending(&mut self) {
        self.lines = LineReader::new();
    }

    /// The next complete line, or `None` once `deadline` has passed without one.
    pub fn next_line(&mut self, deadline: Instant) -> io::Result<Option<String>> {
        if let Some(l) = self.queued.pop_front() {
            return Ok(Some(l));
        }
        let mut buf = [0u8; 64];
        loop {
            let n = match self.port.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    0
                }
                Err(e) => return Err(e),
            };
            for &b in &buf[..n] {
                if let Some(LineEvent::Line(l)) = self.lines.feed(b) {
                    self.queued.push_back(l.as_str().to_string());
                }
            }
            if let Some(l) = self.queued.pop_front() {
                return Ok(Some(l));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }
}

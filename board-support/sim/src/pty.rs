//! Simulated charge controllers on real pseudo-terminals (`serialport::TTYPort::pair()`):
//! a VE.Direct charger that sends a TEXT block every interval, and a Modbus RTU slave that
//! answers read requests from the Renogy or EPEver register map. The drivers open the
//! other end exactly as they open `/dev/ttyUSB0` on the board.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fieldkit_drivers::charger::ModbusCharger;
use fieldkit_drivers::modbus::{self, ExceptionCode, ReadRequest};
use serialport::{SerialPort, TTYPort};

use crate::speak::{LineFaults, SimVeDirectLink, StateCell, modbus_register};

/// Errors starting a simulated line.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    /// The pseudo-terminal could not be opened or configured.
    #[error("pseudo-terminal: {0}")]
    Serial(#[from] serialport::Error),
    /// The thread could not be started.
    #[error("starting the simulated device: {0}")]
    Thread(#[from] std::io::Error),
}

/// Opens a pseudo-terminal pair: `(device_side, kit_side)`. The simulator keeps the first,
/// the drivers get the second.
pub fn pty_pair(timeout: Duration) -> Result<(TTYPort, TTYPort), PtyError> {
    let (mut a, mut b) = TTYPort::pair()?;
    a.set_timeout(Duration::from_millis(100))?;
    b.set_timeout(timeout)?;
    Ok((a, b))
}

/// A simulated device's thread and its stop flag; stopped (and joined) when dropped.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) handle: Option<JoinHandle<()>>,
}

impl Worker {
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A VE.Direct charger writing blocks to its end of a pseudo-terminal.
#[derive(Debug)]
pub struct VeDirectCharger {
    faults: Arc<Mutex<LineFaults>>,
    worker: Worker,
}

impl VeDirectCharger {
    /// Starts sending a block of `state` every `interval` on `port`.
    pub fn spawn(
        mut port: TTYPort,
        state: StateCell,
        interval: Duration,
    ) -> Result<Self, PtyError> {
        let faults = Arc::new(Mutex::new(LineFaults::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (faults.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("sim-vedirect".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let faults = *f.lock().unwrap_or_else(|e| e.into_inner());
                    let bytes = SimVeDirectLink::line_bytes(&state.get(), faults);
                    // A write times out when nobody reads; the charger keeps talking anyway.
                    let _ = port.write_all(&bytes);
                    std::thread::sleep(interval);
                }
            })?;
        Ok(Self {
            faults,
            worker: Worker {
                stop,
                handle: Some(handle),
            },
        })
    }

    /// Sets the line faults.
    pub fn set_faults(&self, faults: LineFaults) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Stops the charger.
    pub fn stop(mut self) {
        self.worker.stop();
    }
}

/// Fault switches for the Modbus slave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaveFaults {
    /// Never answers.
    pub silent: bool,
    /// Answers with a broken CRC.
    pub bad_crc: bool,
}

/// A Modbus RTU charge controller answering on its end of a pseudo-terminal.
#[derive(Debug)]
pub struct ModbusSlave {
    faults: Arc<Mutex<SlaveFaults>>,
    worker: Worker,
}

impl ModbusSlave {
    /// Starts answering as `charger` at address `device`, showing `state`.
    pub fn spawn(
        mut port: TTYPort,
        charger: ModbusCharger,
        device: u8,
        state: StateCell,
    ) -> Result<Self, PtyError> {
        let faults = Arc::new(Mutex::new(SlaveFaults::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (faults.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("sim-modbus".into())
            .spawn(move || {
                let mut frame: Vec<u8> = Vec::new();
                let mut buf = [0u8; 64];
                while !s.load(Ordering::Relaxed) {
                    match port.read(&mut buf) {
                        Ok(n) if n > 0 => frame.extend_from_slice(&buf[..n]),
                        // Silence on the line ends a frame (RTU's 3.5-character gap).
                        _ => {
                            frame.clear();
                            continue;
                        }
                    }
                    while frame.len() >= 8 {
                        let Ok(req) = ReadRequest::decode(&frame[..8]) else {
                            // Not a request we understand: drop a byte and look again.
                            frame.remove(0);
                            continue;
                        };
                        frame.drain(..8);
                        if req.device != device {
                            continue;
                        }
                        let faults = *f.lock().unwrap_or_else(|e| e.into_inner());
                        if faults.silent {
                            continue;
                        }
                        let mut out = [0u8; modbus::MAX_FRAME_LEN];
                        let n = answer(charger, &req, &state, &mut out);
                        if n == 0 {
                            continue;
                        }
                        if faults.bad_crc {
                            out[n - 1] ^= 0x5A;
                        }
                        let _ = port.write_all(&out[..n]);
                        let _ = port.flush();
                    }
                }
            })?;
        Ok(Self {
            faults,
            worker: Worker {
                stop,
                handle: Some(handle),
            },
        })
    }

    /// Sets the faults.
    pub fn set_faults(&self, faults: SlaveFaults) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Stops the slave.
    pub fn stop(mut self) {
        self.worker.stop();
    }
}

/// The response frame to `req`, written into `out`; its length (0 if none).
pub fn answer(
    charger: ModbusCharger,
    req: &ReadRequest,
    state: &StateCell,
    out: &mut [u8],
) -> usize {
    if req.function != charger.function() {
        return modbus::encode_exception(
            req.device,
            req.function,
            ExceptionCode::IllegalFunction,
            out,
        )
        .unwrap_or(0);
    }
    let s = state.get();
    let mut values = Vec::with_capacity(usize::from(req.count));
    for i in 0..req.count {
        match req
            .start
            .checked_add(i)
            .and_then(|r| modbus_register(charger, r, &s))
        {
            Some(v) => values.push(v),
            None => {
                return modbus::encode_exception(
                    req.device,
                    req.function,
                    ExceptionCode::IllegalDataAddress,
                    out,
                )
                .unwrap_or(0);
            }
        }
    }
    modbus::encode_registers(req.device, req.function, &values, out).unwrap_or(0)
}

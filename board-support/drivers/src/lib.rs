//! Drivers for the kit's hardware: the MAX17048 fuel gauge and INA226/INA219 current
//! monitors over `embedded_hal::i2c::I2c`, the charge controllers' serial protocols as
//! sans-IO codecs (Victron VE.Direct TEXT, Modbus RTU for Renogy Rover and EPEver Tracer),
//! and the radios: AT lines of the RAK3172 LoRa module and SIM7600/EG25-G modems ([`at`]),
//! LoRa time on air and the duty-cycle budget ([`lora`]), and camera frames to RGB ([`camera`]).
//!
//! **Never:** allocates in the codecs or the I2C drivers (`heapless` for buffers), panics
//! on any input, holds a clock in a codec, or opens a device. The std serial transports
//! wait on `Instant` only for reply timeouts; time that decides anything (the duty-cycle
//! budget) is passed in by the caller. Codecs take bytes and return frames, "need
//! more" or an error; drivers take the bus they are given and hand it back. With the `std`
//! feature (default) the crate adds serial transports generic over
//! `serialport::SerialPort` ([`serial`]), the RAK3172 P2P driver ([`rak3172`]) and the
//! cellular modem driver ([`modem`]); without it the crate is `no_std`. The sensor layer
//! that turns driver results into timestamped readings for the power policy (it allocates
//! error texts, logs and takes `now`) is the `fieldkit-sensors` crate, outside the drivers.
//!
//! ```
//! use fieldkit_drivers::vedirect::decode_capture;
//! let capture = b"\r\nV\t12530\r\nChecksum\t\x3c";
//! let mut volts = None;
//! let counts = decode_capture(capture, |block| volts = block.battery_voltage_mv());
//! assert_eq!((counts.valid, counts.rejected, volts), (1, 0, Some(12530)));
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code, missing_docs)]

#[cfg(test)]
extern crate std;

/// The embedded-hal version the drivers implement against, for callers that need its traits.
pub use embedded_hal;

pub mod at;
pub mod camera;
pub mod charger;
pub mod gauge;
pub mod lora;
pub mod modbus;
pub mod monitor;
pub mod vedirect;

#[cfg(feature = "std")]
pub mod at_port;
#[cfg(feature = "std")]
pub mod modem;
#[cfg(feature = "std")]
pub mod rak3172;
#[cfg(feature = "std")]
pub mod serial;

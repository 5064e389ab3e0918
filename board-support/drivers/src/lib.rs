//! Drivers for the kit's power hardware: the MAX17048 fuel gauge and INA226/INA219 current
//! monitors over `embedded_hal::i2c::I2c`, and the charge controllers' serial protocols as
//! sans-IO codecs (Victron VE.Direct TEXT, Modbus RTU for Renogy Rover and EPEver Tracer).
//!
//! **Never:** allocates in the codecs or drivers (`heapless` for buffers), panics on any
//! input, holds a clock, or opens a device. Codecs take bytes and return frames, "need
//! more" or an error; drivers take the bus they are given and hand it back. With the `std`
//! feature (default) the crate adds serial transports generic over
//! `serialport::SerialPort` ([`serial`]) and the sensor layer that turns driver results
//! into timestamped readings for the power policy ([`sensors`]); without it the crate is
//! `no_std`.
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

pub mod charger;
pub mod gauge;
pub mod modbus;
pub mod monitor;
pub mod vedirect;

#[cfg(feature = "std")]
pub mod sensors;
#[cfg(feature = "std")]
pub mod serial;

//! MAX17048 fuel gauge (one Li+ cell, ModelGauge), at I2C address 0x36.
//!
//! Register access is the `max170xx` crate's: its source is small, has no `unsafe`, reads
//! each register with one `write_read` and decodes big-endian with the datasheet's scales
//! (VCELL 78.125 µV/LSB, SOC 1/256 %/LSB, CRATE 0.208 %/h signed). This wrapper adds what
//! the kit needs on top: integer units, a range check that turns an impossible value into
//! an error instead of a reading, and one error type.

use embedded_hal::i2c::I2c;
use max170xx::Max17048;

/// The gauge's fixed I2C address.
pub const MAX17048_ADDRESS: u8 = 0x36;

/// Lowest cell voltage a working Li+ cell can show (below this the reading is wrong).
pub const MIN_CELL_VOLTAGE_MV: u32 = 2_000;
/// Highest cell voltage a Li+ cell can show.
pub const MAX_CELL_VOLTAGE_MV: u32 = 4_600;
/// The SOC register may read a little above 100 % near full; beyond this it is garbage.
pub const MAX_SOC_PERCENT: f32 = 105.0;

/// One reading of the gauge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaugeReading {
    /// Cell voltage in mV.
    pub cell_voltage_mv: u32,
    /// State of charge in percent, clamped to 0–100.
    pub soc_percent: f32,
    /// Charge (+) or discharge (−) rate in %/h.
    pub charge_rate_percent_per_hour: f32,
}

/// Errors reading the gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaugeError<E> {
    /// The bus failed (a NACK when the gauge is unplugged).
    I2c(E),
    /// The chip answered with a value no battery can have.
    OutOfRange {
        /// Which quantity.
        quantity: &'static str,
    },
}

impl<E: core::fmt::Debug> core::fmt::Display for GaugeError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::I2c(e) => write!(f, "fuel gauge I2C error: {e:?}"),
            Self::OutOfRange { quantity } => {
                write!(
                    f,
                    "fuel gauge {quantity} outside the physically possible range"
                )
            }
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for GaugeError<E> {}

fn map_err<E>(e: max170xx::Error<E>) -> GaugeError<E> {
    match e {
        max170xx::Error::I2C(e) => GaugeError::I2c(e),
        max170xx::Error::InvalidInputData => GaugeError::OutOfRange { quantity: "input" },
    }
}

/// The MAX17048 fuel gauge.
///
/// ```
/// # use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
/// use fieldkit_drivers::gauge::FuelGauge;
/// let bus = Mock::new(&[
///     Transaction::write_read(0x36, vec![0x02], vec![0xA4, 0x9F]),
///     Transaction::write_read(0x36, vec![0x04], vec![0x30, 0x7E]),
///     Transaction::write_read(0x36, vec![0x16], vec![0x01, 0x45]),
/// ]);
/// let mut gauge = FuelGauge::new(bus);
/// let r = gauge.read().unwrap();
/// assert_eq!(r.cell_voltage_mv, 3292);
/// gauge.destroy().done();
/// ```
#[derive(Debug)]
pub struct FuelGauge<I2C> {
    chip: Max17048<I2C>,
}

impl<I2C: I2c> FuelGauge<I2C> {
    /// Wraps the bus.
    pub fn new(i2c: I2C) -> Self {
        Self {
            chip: Max17048::new(i2c),
        }
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.chip.destroy()
    }

    /// Cell voltage in mV.
    pub fn cell_voltage_mv(&mut self) -> Result<u32, GaugeError<I2C::Error>> {
        let volts = self.chip.voltage().map_err(map_err)?;
        // VCELL is an unsigned 16-bit register: 0..=5.12 V, so this cannot overflow.
        let mv = (volts * 1000.0 + 0.5) as u32;
        if !(MIN_CELL_VOLTAGE_MV..=MAX_CELL_VOLTAGE_MV).contains(&mv) {
            return Err(GaugeError::OutOfRange {
                quantity: "cell voltage",
            });
        }
        Ok(mv)
    }

    /// State of charge in percent (0–100).
    pub fn soc_percent(&mut self) -> Result<f32, GaugeError<I2C::Error>> {
        let soc = self.chip.soc().map_err(map_err)?;
        if !(0.0..=MAX_SOC_PERCENT).contains(&soc) {
            return Err(GaugeError::OutOfRange {
                quantity: "state of charge",
            });
        }
        Ok(soc.min(100.0))
    }

    /// Charge rate in %/h (negative when discharging).
    pub fn charge_rate_percent_per_hour(&mut self) -> Result<f32, GaugeError<I2C::Error>> {
        self.chip.charge_rate().map_err(map_err)
    }

    /// The chip's VERSION register.
    pub fn version(&mut self) -> Result<u16, GaugeError<I2C::Error>> {
        self.chip.version().map_err(map_err)
    }

    /// Voltage, SOC and rate in one go; any failure fails the whole reading.
    pub fn read(&mut self) -> Result<GaugeReading, GaugeError<I2C::Error>> {
        Ok(GaugeReading {
            cell_voltage_mv: self.cell_voltage_mv()?,
            soc_percent: self.soc_percent()?,
            charge_rate_percent_per_hour: self.charge_rate_percent_per_hour()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

    // Register numbers restated from the MAX17048 datasheet (table 2).
    const ADDR: u8 = 0x36;
    const VCELL: u8 = 0x02;
    const SOC: u8 = 0x04;
    const VERSION: u8 = 0x08;
    const CRATE: u8 = 0x16;

    #[test]
    fn vectors_decode_to_datasheet_values() {
        let mut bus = Mock::new(&[
            Transaction::write_read(ADDR, vec![VCELL], vec![0xA4, 0x9F]),
            Transaction::write_read(ADDR, vec![SOC], vec![0x30, 0x7E]),
            Transaction::write_read(ADDR, vec![CRATE], vec![0x01, 0x45]),
            Transaction::write_read(ADDR, vec![CRATE], vec![0xFE, 0xBB]),
            Transaction::write_read(ADDR, vec![VERSION], vec![0x00, 0x12]),
        ]);
        let mut gauge = FuelGauge::new(bus.clone());
        let r = gauge.read().unwrap();
        assert_eq!(r.cell_voltage_mv, 3292); // 3.29 V
        assert!((r.soc_percent - 48.49).abs() < 0.01);
        assert!((r.charge_rate_percent_per_hour - 67.6).abs() < 0.1);
        let down = gauge.charge_rate_percent_per_hour().unwrap();
        assert!((down + 67.6).abs() < 0.1);
        assert_eq!(gauge.version().unwrap(), 0x0012);
        gauge.destroy();
        bus.done();
    }

    #[test]
    fn a_missing_gauge_is_an_i2c_error() {
        let mut bus = Mock::new(&[Transaction::write_read(ADDR, vec![VCELL], vec![0, 0])
            .with_error(ErrorKind::NoAcknowledge(
                embedded_hal::i2c::NoAcknowledgeSource::Address,
            ))]);
        let mut gauge = FuelGauge::new(bus.clone());
        assert!(matches!(gauge.read(), Err(GaugeError::I2c(_))));
        bus.done();
    }

    #[test]
    fn impossible_values_are_errors_not_readings() {
        let mut bus = Mock::new(&[
            // 0xFFFF × 78.125 µV = 5.12 V: no Li+ cell.
            Transaction::write_read(ADDR, vec![VCELL], vec![0xFF, 0xFF]),
            // 0x0000: 0 V.
            Transaction::write_read(ADDR, vec![VCELL], vec![0x00, 0x00]),
            // SOC 0xC800 = 200 %.
            Transaction::write_read(ADDR, vec![SOC], vec![0xC8, 0x00]),
        ]);
        let mut gauge = FuelGauge::new(bus.clone());
        assert!(matches!(
            gauge.cell_voltage_mv(),
            Err(GaugeError::OutOfRange { .. })
        ));
        assert!(matches!(
            gauge.cell_voltage_mv(),
            Err(GaugeError::OutOfRange { .. })
        ));
        assert!(matches!(
            gauge.soc_percent(),
            Err(GaugeError::OutOfRange { .. })
        ));
        gauge.destroy();
        bus.done();
    }
}

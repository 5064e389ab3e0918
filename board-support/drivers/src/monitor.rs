//! INA226 and INA219 current/power monitors (address 0x40–0x4F), one on the panel line and
//! one on the load line.
//!
//! Our own driver rather than a crate: the workspace has none for these chips, we only
//! need four registers, and the simulator has to speak the same register map anyway.
//! Current is computed here from the shunt voltage and the shunt's resistance, so the
//! chip's calibration register is not needed and a wrong calibration cannot skew readings.
//!
//! INA226: shunt voltage 0x01 (signed, 2.5 µV/LSB), bus voltage 0x02 (1.25 mV/LSB),
//! manufacturer id 0xFE = 0x5449 ("TI"), die id 0xFF = 0x2260.
//! INA219: shunt voltage 0x01 (signed, 10 µV/LSB), bus voltage 0x02 (bits 15..3 at 4 mV/LSB,
//! bit 0 OVF = math overflow); it has no id registers.

use embedded_hal::i2c::I2c;

/// First address the INA2xx can take (A0 = A1 = GND).
pub const INA_MIN_ADDRESS: u8 = 0x40;
/// Last address.
pub const INA_MAX_ADDRESS: u8 = 0x4F;

mod register {
    pub const CONFIGURATION: u8 = 0x00;
    pub const SHUNT_VOLTAGE: u8 = 0x01;
    pub const BUS_VOLTAGE: u8 = 0x02;
    pub const MANUFACTURER_ID: u8 = 0xFE;
    pub const DIE_ID: u8 = 0xFF;
}

/// INA226 manufacturer id ("TI").
pub const INA226_MANUFACTURER_ID: u16 = 0x5449;
/// INA226 die id.
pub const INA226_DIE_ID: u16 = 0x2260;
/// Highest bus voltage either chip can measure (INA226: 36 V; INA219: 32 V).
pub const MAX_BUS_VOLTAGE_MV: u32 = 36_000;

/// Which chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    /// INA226: 16-bit, 36 V.
    Ina226,
    /// INA219: 12-bit, 26/32 V.
    Ina219,
}

/// One reading: voltages, and current and power computed from the shunt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineReading {
    /// Bus (line) voltage in mV.
    pub bus_voltage_mv: u32,
    /// Voltage across the shunt in µV (signed).
    pub shunt_voltage_uv: i32,
    /// Current in mA (signed: positive flows from IN+ to IN−).
    pub current_ma: i32,
    /// Power in mW (bus voltage × current; signed like the current).
    pub power_mw: i64,
}

/// Errors of the current monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorError<E> {
    /// Bus error (a NACK when the chip is absent).
    I2c(E),
    /// The address is outside 0x40–0x4F.
    InvalidAddress(u8),
    /// The shunt's resistance is zero: no current can be computed from it.
    ZeroShunt,
    /// The chip at the address is not an INA226.
    WrongChip {
        /// What the manufacturer id register said.
        manufacturer_id: u16,
    },
    /// INA219 math overflow, or a value outside what the chip can measure.
    OutOfRange,
}

impl<E: core::fmt::Debug> core::fmt::Display for MonitorError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::I2c(e) => write!(f, "current monitor I2C error: {e:?}"),
            Self::InvalidAddress(a) => write!(f, "0x{a:02X} is not an INA2xx address"),
            Self::ZeroShunt => write!(f, "the shunt resistance is configured as 0"),
            Self::WrongChip { manufacturer_id } => {
                write!(f, "not an INA226 (manufacturer id 0x{manufacturer_id:04X})")
            }
            Self::OutOfRange => write!(f, "current monitor value out of range"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for MonitorError<E> {}

/// An INA226 or INA219 on a shunt of known resistance.
#[derive(Debug)]
pub struct CurrentMonitor<I2C> {
    i2c: I2C,
    address: u8,
    chip: Chip,
    shunt_micro_ohm: u32,
}

impl<I2C: I2c> CurrentMonitor<I2C> {
    /// A monitor at `address` over a shunt of `shunt_micro_ohm` µΩ (e.g. 100 000 for 0.1 Ω).
    pub fn new(
        i2c: I2C,
        chip: Chip,
        address: u8,
        shunt_micro_ohm: u32,
    ) -> Result<Self, MonitorError<I2C::Error>> {
        if !(INA_MIN_ADDRESS..=INA_MAX_ADDRESS).contains(&address) {
            return Err(MonitorError::InvalidAddress(address));
        }
        if shunt_micro_ohm == 0 {
            return Err(MonitorError::ZeroShunt);
        }
        Ok(Self {
            i2c,
            address,
            chip,
            shunt_micro_ohm,
        })
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    /// The chip's address.
    pub fn address(&self) -> u8 {
        self.address
    }

    fn read_register(&mut self, register: u8) -> Result<u16, MonitorError<I2C::Error>> {
        let mut buf = [0u8; 2];
        self.i2c
            .write_read(self.address, &[register], &mut buf)
            .map_err(MonitorError::I2c)?;
        Ok(u16::from_be_bytes(buf))
    }

    fn write_register(&mut self, register: u8, value: u16) -> Result<(), MonitorError<I2C::Error>> {
        let [h, l] = value.to_be_bytes();
        self.i2c
            .write(self.address, &[register, h, l])
            .map_err(MonitorError::I2c)
    }

    /// Checks the chip is what we expect (INA226: manufacturer and die id) and sets it to
    /// continuous shunt and bus conversion with 16-sample averaging.
    pub fn init(&mut self) -> Result<(), MonitorError<I2C::Error>> {
        match self.chip {
            Chip::Ina226 => {
                let manufacturer_id = self.read_register(register::MANUFACTURER_ID)?;
                if manufacturer_id != INA226_MANUFACTURER_ID {
                    return Err(MonitorError::WrongChip { manufacturer_id });
                }
                let die = self.read_register(register::DIE_ID)?;
                if die & 0xFFF0 != INA226_DIE_ID {
                    return Err(MonitorError::WrongChip { manufacturer_id });
                }
                // AVG = 16 (010), VBUSCT = VSHCT = 1.1 ms (100), MODE = shunt+bus continuous.
                self.write_register(register::CONFIGURATION, 0x4527)
            }
            // 32 V range, ±320 mV PGA, 12-bit, continuous: the power-on default.
            Chip::Ina219 => self.write_register(register::CONFIGURATION, 0x399F),
        }
    }

    /// Shunt voltage in µV.
    pub fn shunt_voltage_uv(&mut self) -> Result<i32, MonitorError<I2C::Error>> {
        let raw = self.read_register(register::SHUNT_VOLTAGE)?;
        let signed = i32::from(i16::from_be_bytes(raw.to_be_bytes()));
        Ok(match self.chip {
            // 2.5 µV/LSB.
            Chip::Ina226 => signed * 5 / 2,
            // 10 µV/LSB.
            Chip::Ina219 => signed * 10,
        })
    }

    /// Bus voltage in mV.
    pub fn bus_voltage_mv(&mut self) -> Result<u32, MonitorError<I2C::Error>> {
        let raw = self.read_register(register::BUS_VOLTAGE)?;
        let mv = match self.chip {
            // 1.25 mV/LSB; bit 15 is always 0 on a working chip.
            Chip::Ina226 => {
                if raw & 0x8000 != 0 {
                    return Err(MonitorError::OutOfRange);
                }
                u32::from(raw) * 5 / 4
            }
            Chip::Ina219 => {
                if raw & 0x0001 != 0 {
                    return Err(MonitorError::OutOfRange);
                }
                u32::from(raw >> 3) * 4
            }
        };
        if mv > MAX_BUS_VOLTAGE_MV {
            return Err(MonitorError::OutOfRange);
        }
        Ok(mv)
    }

    /// Bus voltage, shunt voltage, current and power.
    pub fn read(&mut self) -> Result<LineReading, MonitorError<I2C::Error>> {
        let shunt_voltage_uv = self.shunt_voltage_uv()?;
        let bus_voltage_mv = self.bus_voltage_mv()?;
        // I = V / R: µV × 1000 / µΩ = mA.
        let current = i64::from(shunt_voltage_uv) * 1000 / i64::from(self.shunt_micro_ohm);
        let current_ma = i32::try_from(current).map_err(|_| MonitorError::OutOfRange)?;
        let power_mw = i64::from(bus_voltage_mv) * i64::from(current_ma) / 1000;
        Ok(LineReading {
            bus_voltage_mv,
            shunt_voltage_uv,
            current_ma,
            power_mw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

    // Restated from the INA226 datasheet (SBOS547, register map) and INA219 (SBOS448).
    const ADDR: u8 = 0x40;
    const CONFIG: u8 = 0x00;
    const SHUNT: u8 = 0x01;
    const BUS: u8 = 0x02;
    const MANUFACTURER: u8 = 0xFE;
    const DIE: u8 = 0xFF;

    #[test]
    fn ina226_vectors() {
        let mut bus = Mock::new(&[
            Transaction::write_read(ADDR, vec![MANUFACTURER], vec![0x54, 0x49]),
            Transaction::write_read(ADDR, vec![DIE], vec![0x22, 0x60]),
            Transaction::write(ADDR, vec![CONFIG, 0x45, 0x27]),
            Transaction::write_read(ADDR, vec![SHUNT], vec![0x83, 0x00]),
            Transaction::write_read(ADDR, vec![BUS], vec![0x03, 0x00]),
        ]);
        // 0.1 Ω shunt.
        let mut m = CurrentMonitor::new(bus.clone(), Chip::Ina226, ADDR, 100_000).unwrap();
        m.init().unwrap();
        let r = m.read().unwrap();
        assert_eq!(r.shunt_voltage_uv, -80_000);
        assert_eq!(r.bus_voltage_mv, 960);
        assert_eq!(r.current_ma, -800);
        assert_eq!(r.power_mw, -768);
        m.destroy();
        bus.done();
    }

    #[test]
    fn ina226_refuses_another_chip() {
        let mut bus = Mock::new(&[Transaction::write_read(
            0x41,
            vec![MANUFACTURER],
            vec![0x12, 0x34],
        )]);
        let mut m = CurrentMonitor::new(bus.clone(), Chip::Ina226, 0x41, 100_000).unwrap();
        assert_eq!(
            m.init(),
            Err(MonitorError::WrongChip {
                manufacturer_id: 0x1234
            })
        );
        m.destroy();
        bus.done();
    }

    #[test]
    fn ina219_scales_and_overflow() {
        let mut bus = Mock::new(&[
            Transaction::write(0x45, vec![CONFIG, 0x39, 0x9F]),
            // +100 × 10 µV = 1 mV.
            Transaction::write_read(0x45, vec![SHUNT], vec![0x00, 0x64]),
            // 12000 mV = 3000 << 3.
            Transaction::write_read(0x45, vec![BUS], vec![0x5D, 0xC0]),
            Transaction::write_read(0x45, vec![BUS], vec![0x5D, 0xC1]),
        ]);
        let mut m = CurrentMonitor::new(bus.clone(), Chip::Ina219, 0x45, 10_000).unwrap();
        m.init().unwrap();
        let r = m.read().unwrap();
        assert_eq!(r.shunt_voltage_uv, 1000);
        assert_eq!(r.bus_voltage_mv, 12_000);
        assert_eq!(r.current_ma, 100);
        assert_eq!(m.bus_voltage_mv(), Err(MonitorError::OutOfRange));
        m.destroy();
        bus.done();
    }

    #[test]
    fn addresses_outside_the_range_are_refused() {
        let bus = Mock::new(&[]);
        assert!(CurrentMonitor::new(bus.clone(), Chip::Ina226, 0x36, 1).is_err());
        bus.clone().done();
    }

    #[test]
    fn a_zero_shunt_and_a_wrong_address_are_told_apart() {
        let mut bus = Mock::new(&[]);
        assert_eq!(
            CurrentMonitor::new(&mut bus, Chip::Ina226, ADDR, 0).err(),
            Some(MonitorError::ZeroShunt)
        );
        assert_eq!(
            CurrentMonitor::new(&mut bus, Chip::Ina226, 0x36, 10_000).err(),
            Some(MonitorError::InvalidAddress(0x36))
        );
        bus.done();
    }
}

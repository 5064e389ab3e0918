//! The kit's I2C bus as a simulated device: a MAX17048 at 0x36 and INA226s at 0x40
//! (panel) and 0x41 (load), with the chips' real register maps, computed from the model's
//! state. Drivers talk to it through `embedded_hal::i2c::I2c` exactly as to `/dev/i2c-1`.
//!
//! Faults can be switched on to test the bad-input paths: a chip unplugged (NACK) or a
//! chip returning garbage.

use std::sync::{Arc, Mutex, MutexGuard};

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

use crate::model::KitState;

/// Fault switches for the simulated bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusFaults {
    /// The gauge does not answer (NACK on its address).
    pub gauge_unplugged: bool,
    /// The gauge answers 0xFFFF to every register.
    pub gauge_garbage: bool,
    /// The panel monitor does not answer.
    pub panel_monitor_unplugged: bool,
    /// The load monitor does not answer.
    pub load_monitor_unplugged: bool,
}

/// Address of the gauge.
pub const GAUGE_ADDRESS: u8 = 0x36;
/// Address of the panel-line INA226.
pub const PANEL_MONITOR_ADDRESS: u8 = 0x40;
/// Address of the load-line INA226.
pub const LOAD_MONITOR_ADDRESS: u8 = 0x41;
/// Shunt on both monitors in Ω (10 mΩ).
pub const SHUNT_OHM: f32 = 0.010;

#[derive(Debug)]
struct Inner {
    state: KitState,
    cells_in_series: u32,
    faults: BusFaults,
    /// Register pointer per device: gauge, panel, load.
    pointer: [u8; 3],
    ina_config: [u16; 2],
    ina_calibration: [u16; 2],
    gauge_config: u16,
}

/// Handle to the simulated bus; clones share the same devices.
#[derive(Debug, Clone)]
pub struct SimI2c {
    inner: Arc<Mutex<Inner>>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sat_u16(v: f32) -> u16 {
    v.round().clamp(0.0, f32::from(u16::MAX)) as u16
}

fn sat_i16(v: f32) -> u16 {
    let i = v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
    u16::from_be_bytes(i.to_be_bytes())
}

impl SimI2c {
    /// A bus showing `state`, with the gauge on one cell of a `cells_in_series` pack.
    pub fn new(state: KitState, cells_in_series: u32) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                state,
                cells_in_series: cells_in_series.max(1),
                faults: BusFaults::default(),
                pointer: [0; 3],
                ina_config: [0x4127; 2],
                ina_calibration: [0; 2],
                gauge_config: 0x971C,
            })),
        }
    }

    /// Shows a new model state.
    pub fn set_state(&self, state: KitState) {
        lock(&self.inner).state = state;
    }

    /// Sets the fault switches.
    pub fn set_faults(&self, faults: BusFaults) {
        lock(&self.inner).faults = faults;
    }

    fn device(address: u8) -> Option<usize> {
        match address {
            GAUGE_ADDRESS => Some(0),
            PANEL_MONITOR_ADDRESS => Some(1),
            LOAD_MONITOR_ADDRESS => Some(2),
            _ => None,
        }
    }
}

impl Inner {
    fn present(&self, dev: usize) -> bool {
        match dev {
            0 => !self.faults.gauge_unplugged,
            1 => !self.faults.panel_monitor_unplugged,
            _ => !self.faults.load_monitor_unplugged,
        }
    }

    fn read_register(&self, dev: usize, reg: u8) -> u16 {
        let s = &self.state;
        if dev == 0 {
            if self.faults.gauge_garbage {
                return 0xFFFF;
            }
            let cell_mv = s.battery_voltage_mv as f32 / self.cells_in_series as f32;
            return match reg {
                // VCELL: 78.125 µV/LSB.
                0x02 => sat_u16(cell_mv * 1000.0 / 78.125),
                // SOC: 1/256 %/LSB.
                0x04 => sat_u16(s.soc_percent.clamp(0.0, 100.0) * 256.0),
                0x06 => 0x0000,
                0x08 => 0x0012,
                0x0C => self.gauge_config,
                0x14 => 0x96,
                // CRATE: 0.208 %/h/LSB, signed.
                0x16 => sat_i16(s.charge_rate_percent_per_hour / 0.208),
                0x18 => 0x0000,
                0x1A => 0x0000,
                _ => 0xFFFF,
            };
        }
        let i = dev - 1;
        let (bus_mv, power_w) = if dev == 1 {
            (s.panel_voltage_mv as f32, s.panel_power_w)
        } else {
            (s.battery_voltage_mv as f32, s.load_power_w)
        };
        let current_a = if bus_mv > 100.0 {
            power_w / (bus_mv / 1000.0)
        } else {
            0.0
        };
        match reg {
            0x00 => self.ina_config[i],
            // Shunt voltage: 2.5 µV/LSB, signed.
            0x01 => sat_i16(current_a * SHUNT_OHM * 1e6 / 2.5),
            // Bus voltage: 1.25 mV/LSB.
            0x02 => sat_u16(bus_mv / 1.25),
            // Power and current need a calibration; without one they read 0, as the chip.
            0x03 | 0x04 if self.ina_calibration[i] == 0 => 0,
            0x03 => sat_u16(power_w * 1000.0 / 25.0),
            0x04 => sat_i16(current_a * 1000.0),
            0x05 => self.ina_calibration[i],
            0x06 => 0x0000,
            0x07 => 0x0000,
            0xFE => 0x5449,
            0xFF => 0x2260,
            _ => 0x0000,
        }
    }

    fn write_register(&mut self, dev: usize, reg: u8, value: u16) {
        match (dev, reg) {
            (0, 0x0C) => self.gauge_config = value,
            (1 | 2, 0x00) => {
                // Bit 15 is the reset bit: back to defaults.
                self.ina_config[dev - 1] = if value & 0x8000 != 0 { 0x4127 } else { value };
            }
            (1 | 2, 0x05) => self.ina_calibration[dev - 1] = value & 0x7FFF,
            _ => {}
        }
    }
}

impl ErrorType for SimI2c {
    type Error = ErrorKind;
}

impl I2c for SimI2c {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        let Some(dev) = Self::device(address) else {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        };
        let mut inner = lock(&self.inner);
        if !inner.present(dev) {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        for op in operations {
            match op {
                Operation::Write(bytes) => match bytes {
                    [] => {}
                    [reg] => inner.pointer[dev] = *reg,
                    [reg, hi, lo, ..] => {
                        inner.pointer[dev] = *reg;
                        inner.write_register(dev, *reg, u16::from_be_bytes([*hi, *lo]));
                    }
                    [_, _] => return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data)),
                },
                Operation::Read(buf) => {
                    let value = inner.read_register(dev, inner.pointer[dev]).to_be_bytes();
                    for (i, b) in buf.iter_mut().enumerate() {
                        *b = value[i % 2];
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KitModel, KitSpec};
    use crate::weather::WeatherTrace;
    use fieldkit_drivers::gauge::FuelGauge;
    use fieldkit_drivers::monitor::{Chip, CurrentMonitor};

    fn bus_at(soc: f32) -> SimI2c {
        let mut m = KitModel::new(KitSpec::default(), WeatherTrace::clear(1), soc);
        m.step(60, 4.0);
        SimI2c::new(m.state(), 4)
    }

    #[test]
    fn the_gauge_driver_reads_the_model() {
        let bus = bus_at(48.5);
        let mut gauge = FuelGauge::new(bus.clone());
        let r = gauge.read().unwrap();
        assert!((r.soc_percent - 48.5).abs() < 0.1, "{r:?}");
        assert!((3_200..3_300).contains(&r.cell_voltage_mv), "{r:?}");
        assert!(r.charge_rate_percent_per_hour < 0.0);
    }

    #[test]
    fn the_monitor_driver_reads_the_load() {
        let bus = bus_at(60.0);
        let mut m = CurrentMonitor::new(bus, Chip::Ina226, LOAD_MONITOR_ADDRESS, 10_000).unwrap();
        m.init().unwrap();
        let r = m.read().unwrap();
        assert!((r.power_mw - 4_000).abs() < 50, "{r:?}");
    }

    #[test]
    fn unplugged_chips_nack() {
        let bus = bus_at(60.0);
        bus.set_faults(BusFaults {
            gauge_unplugged: true,
            ..BusFaults::default()
        });
        let mut gauge = FuelGauge::new(bus.clone());
        assert!(matches!(
            gauge.read(),
            Err(fieldkit_drivers::gauge::GaugeError::I2c(
                ErrorKind::NoAcknowledge(_)
            ))
        ));
    }
}

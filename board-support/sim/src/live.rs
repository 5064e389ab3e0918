//! A whole simulated kit, live: the model stepping on an accelerated clock, its I2C bus, and
//! its charge controller talking VE.Direct or Modbus on a pseudo-terminal. The kiosk daemon
//! (`fieldkit kiosk --simulate`) and the technician's `fieldkit power probe --simulated` run
//! the board's own drivers against it.

use std::time::Duration;

use fieldkit_drivers::charger::ModbusCharger;
use serialport::TTYPort;

use crate::clock::{LiveKit, SimClock};
use crate::i2c::SimI2c;
use crate::model::{KitModel, KitSpec};
use crate::pty::{ModbusSlave, PtyError, VeDirectCharger, pty_pair};
use crate::speak::StateCell;
use crate::weather::WeatherTrace;

/// Which charge controller the simulated kit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCharger {
    /// A Victron MPPT speaking VE.Direct TEXT.
    VeDirect,
    /// A Modbus RTU controller (Renogy Rover or EPEver Tracer) at a device address.
    Modbus(ModbusCharger, u8),
}

/// A running simulated kit. Dropping it stops the model and the charger.
#[derive(Debug)]
pub struct SimulatedKit {
    /// The model on its clock; set its load with [`LiveKit::set_load_w`].
    pub kit: LiveKit,
    /// The I2C bus with the fuel gauge and the current monitors.
    pub bus: SimI2c,
    _vedirect: Option<VeDirectCharger>,
    _modbus: Option<ModbusSlave>,
}

impl SimulatedKit {
    /// Starts the kit and returns it with the board's end of the charger's serial line.
    pub fn start(
        spec: KitSpec,
        weather: WeatherTrace,
        start_soc_percent: f32,
        clock: SimClock,
        load_w: f32,
        charger: SimCharger,
    ) -> Result<(SimulatedKit, TTYPort), PtyError> {
        let model =
            KitModel::new(spec, weather, start_soc_percent).starting_at(clock.start().as_secs());
        let cell = StateCell::new(model.state());
        let bus = SimI2c::new(model.state(), model.spec().cells_in_series);
        let kit = LiveKit::spawn(
            model,
            clock,
            load_w,
            cell.clone(),
            bus.clone(),
            Duration::from_millis(20),
        )?;
        let (device_end, board_end) = pty_pair(Duration::from_millis(1500))?;
        let (vedirect, modbus) = match charger {
            SimCharger::VeDirect => (
                Some(VeDirectCharger::spawn(
                    device_end,
                    cell,
                    Duration::from_millis(100),
                )?),
                None,
            ),
            SimCharger::Modbus(c, address) => (
                None,
                Some(ModbusSlave::spawn(device_end, c, address, cell)?),
            ),
        };
        // Let the model publish its first state before anyone reads it.
        std::thread::sleep(Duration::from_millis(100));
        Ok((
            SimulatedKit {
                kit,
                bus,
                _vedirect: vedirect,
                _modbus: modbus,
            },
            board_end,
        ))
    }
}

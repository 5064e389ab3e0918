//! Character devices: I2C, serial, GPIO.

use std::path::Path;
use std::time::Duration;

use linux_embedded_hal::I2cdev;
use serialport::TTYPort;

use crate::DeviceError;

/// Opens an I2C bus such as `/dev/i2c-1`.
pub fn open_i2c(path: impl AsRef<Path>) -> Result<I2cdev, DeviceError> {
    let path = path.as_ref();
    I2cdev::new(path).map_err(|source| DeviceError::I2c {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens a serial port 8N1 at `baud_rate` with a read timeout.
pub fn open_serial(path: &str, baud_rate: u32, timeout: Duration) -> Result<TTYPort, DeviceError> {
    serialport::new(path, baud_rate)
        .timeout(timeout)
        .open_native()
        .map_err(|source| DeviceError::Serial {
            path: path.to_string(),
            source,
        })
}

/// A GPIO line driving the modem's power: its power key (high = pressed, through the board's
/// transistor) or a switch on its supply (high = on). BCM numbering.
#[derive(Debug)]
pub struct ModemPower {
    pin: rppal::gpio::OutputPin,
}

impl ModemPower {
    /// Claims BCM pin `pin` as an output, modem off.
    pub fn with_pin(pin: u8) -> Result<Self, DeviceError> {
        let gpio = rppal::gpio::Gpio::new().map_err(|source| DeviceError::Gpio { pin, source })?;
        let pin_out = gpio
            .get(pin)
            .map_err(|source| DeviceError::Gpio { pin, source })?
            .into_output_low();
        Ok(Self { pin: pin_out })
    }

    /// Powers the modem on or off.
    pub fn set(&mut self, on: bool) {
        if on {
            self.pin.set_high();
        } else {
            self.pin.set_low();
        }
    }
}

/// The modem driver presses the key through this.
impl fieldkit_drivers::modem::PowerKey for ModemPower {
    fn set_pressed(&mut self, pressed: bool) -> std::io::Result<()> {
        self.set(pressed);
        Ok(())
    }
}

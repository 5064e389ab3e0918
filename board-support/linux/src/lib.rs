//! Opening the board's real devices: the I2C bus (`linux-embedded-hal`'s `I2cdev`), the
//! charger's serial port (`serialport`), the backlight (`/sys/class/backlight/*`), the CPU
//! frequency governor (`/sys/devices/system/cpu/cpufreq/policy*/scaling_governor`) and a
//! GPIO line for the modem's power (`rppal`), and the camera over V4L2 ([`camera`], 64-bit
//! targets: the one module of the crate with `unsafe`, for its ioctls).
//!
//! **Never:** decides anything. It opens and writes what it is told; the power policy
//! decides. File-based devices take a root path, so tests point them at a temporary
//! directory laid out like `/sys`.
//!
//! ```
//! use fieldkit_linux::Backlight;
//! let root = tempfile::tempdir().unwrap();
//! let dir = root.path().join("sys/class/backlight/panel");
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("max_brightness"), "255\n").unwrap();
//! let mut backlight = Backlight::find(root.path()).unwrap();
//! backlight.set_percent(40).unwrap();
//! assert_eq!(std::fs::read_to_string(dir.join("brightness")).unwrap(), "102\n");
//! ```

#[cfg(target_pointer_width = "64")]
pub mod camera;
mod devices;
mod sysfs;

pub use devices::{ModemPower, open_i2c, open_serial};
pub use sysfs::{Backlight, CpuFreq};

use std::path::PathBuf;

/// Errors opening or writing a device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The I2C bus could not be opened.
    #[error("opening I2C bus {path}: {source}")]
    I2c {
        /// Device path.
        path: PathBuf,
        /// The OS error.
        source: linux_embedded_hal::i2cdev::linux::LinuxI2CError,
    },
    /// The serial port could not be opened.
    #[error("opening serial port {path}: {source}")]
    Serial {
        /// Device path.
        path: String,
        /// The error.
        source: serialport::Error,
    },
    /// A sysfs file could not be read or written.
    #[error("{path}: {source}")]
    Sysfs {
        /// File path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No device of that kind exists under the root.
    #[error("no {what} under {root}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Where.
        root: PathBuf,
    },
    /// A sysfs file held something unexpected.
    #[error("{path}: unexpected content {content:?}")]
    Unexpected {
        /// File path.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// The governor is not offered by the kernel.
    #[error("governor {governor} not available (kernel offers: {available})")]
    GovernorUnavailable {
        /// Asked for.
        governor: String,
        /// Offered.
        available: String,
    },
    /// GPIO failed.
    #[error("GPIO {pin}: {source}")]
    Gpio {
        /// BCM pin number.
        pin: u8,
        /// The error.
        source: rppal::gpio::Error,
    },
}

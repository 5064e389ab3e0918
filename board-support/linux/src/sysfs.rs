//! sysfs devices: backlight and cpufreq, under a root path (`/` on the board).

use std::fs;
use std::path::{Path, PathBuf};

use fieldkit_power::CpuGovernor;

use crate::DeviceError;

fn read(path: &Path) -> Result<String, DeviceError> {
    fs::read_to_string(path).map_err(|source| DeviceError::Sysfs {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, value: &str) -> Result<(), DeviceError> {
    fs::write(path, format!("{value}\n")).map_err(|source| DeviceError::Sysfs {
        path: path.to_path_buf(),
        source,
    })
}

/// A backlight in `/sys/class/backlight/<name>`.
#[derive(Debug, Clone)]
pub struct Backlight {
    dir: PathBuf,
    max_brightness: u32,
}

impl Backlight {
    /// The first backlight under `root/sys/class/backlight` (name order).
    pub fn find(root: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let class = root.as_ref().join("sys/class/backlight");
        let mut dirs: Vec<PathBuf> = fs::read_dir(&class)
            .map_err(|source| DeviceError::Sysfs {
                path: class.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        dirs.sort();
        let dir = dirs.into_iter().next().ok_or(DeviceError::NotFound {
            what: "backlight",
            root: class,
        })?;
        Self::with_path(dir)
    }

    /// The backlight in `dir`.
    pub fn with_path(dir: impl Into<PathBuf>) -> Result<Self, DeviceError> {
        let dir = dir.into();
        let path = dir.join("max_brightness");
        let text = read(&path)?;
        let max_brightness =
            text.trim()
                .parse::<u32>()
                .ok()
                .filter(|&m| m > 0)
                .ok_or(DeviceError::Unexpected {
                    path,
                    content: text.clone(),
                })?;
        Ok(Self {
            dir,
            max_brightness,
        })
    }

    /// The largest brightness value.
    pub fn max_brightness(&self) -> u32 {
        self.max_brightness
    }

    /// Sets the brightness to `percent` (0–100) of the maximum, and blanks the panel's
    /// power at 0 (`bl_power` 4, FB_BLANK_POWERDOWN) or unblanks it (0) otherwise.
    pub fn set_percent(&mut self, percent: u8) -> Result<(), DeviceError> {
        let pct = u64::from(percent.min(100));
        let value = (u64::from(self.max_brightness) * pct + 50) / 100;
        write(&self.dir.join("brightness"), &value.to_string())?;
        let bl_power = self.dir.join("bl_power");
        if bl_power.exists() {
            write(&bl_power, if percent == 0 { "4" } else { "0" })?;
        }
        Ok(())
    }
}

/// The CPU frequency governors under `root/sys/devices/system/cpu/cpufreq/policy*`.
#[derive(Debug, Clone)]
pub struct CpuFreq {
    policies: Vec<PathBuf>,
}

impl CpuFreq {
    /// All cpufreq policies under `root`.
    pub fn find(root: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let dir = root.as_ref().join("sys/devices/system/cpu/cpufreq");
        let mut policies: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|source| DeviceError::Sysfs {
                path: dir.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("policy"))
            })
            .collect();
        policies.sort();
        if policies.is_empty() {
            return Err(DeviceError::NotFound {
                what: "cpufreq policy",
                root: dir,
            });
        }
        Ok(Self { policies })
    }

    /// Sets `governor` on every policy, after checking the kernel offers it.
    pub fn set_governor(&self, governor: CpuGovernor) -> Result<(), DeviceError> {
        let name = governor.sysfs_name();
        for p in &self.policies {
            let available_path = p.join("scaling_available_governors");
            if available_path.exists() {
                let available = read(&available_path)?;
                if !available.split_whitespace().any(|g| g == name) {
                    return Err(DeviceError::GovernorUnavailable {
                        governor: name.to_string(),
                        available: available.trim().to_string(),
                    });
                }
            }
            write(&p.join("scaling_governor"), name)?;
        }
        Ok(())
    }

    /// The governor of the first policy.
    pub fn governor(&self) -> Result<String, DeviceError> {
        let path = self
            .policies
            .first()
            .map(|p| p.join("scaling_governor"))
            .ok_or(DeviceError::NotFound {
                what: "cpufreq policy",
                root: PathBuf::new(),
            })?;
        Ok(read(&path)?.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlight_scales_and_blanks() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sys/class/backlight/10-0045");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("max_brightness"), "31\n").unwrap();
        fs::write(dir.join("bl_power"), "0\n").unwrap();
        let mut b = Backlight::find(root.path()).unwrap();
        b.set_percent(50).unwrap();
        assert_eq!(fs::read_to_string(dir.join("brightness")).unwrap(), "16\n");
        b.set_percent(0).unwrap();
        assert_eq!(fs::read_to_string(dir.join("bl_power")).unwrap(), "4\n");
        b.set_percent(100).unwrap();
        assert_eq!(fs::read_to_string(dir.join("brightness")).unwrap(), "31\n");
        assert_eq!(fs::read_to_string(dir.join("bl_power")).unwrap(), "0\n");
    }

    #[test]
    fn missing_or_garbled_backlight_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        assert!(Backlight::find(root.path()).is_err());
        let dir = root.path().join("sys/class/backlight/x");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("max_brightness"), "lots\n").unwrap();
        assert!(matches!(
            Backlight::find(root.path()),
            Err(DeviceError::Unexpected { .. })
        ));
    }

    #[test]
    fn governor_on_every_policy_if_offered() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("sys/devices/system/cpu/cpufreq");
        for p in ["policy0", "policy4"] {
            fs::create_dir_all(base.join(p)).unwrap();
            fs::write(
                base.join(p).join("scaling_available_governors"),
                "ondemand userspace powersave performance schedutil\n",
            )
            .unwrap();
            fs::write(base.join(p).join("scaling_governor"), "ondemand\n").unwrap();
        }
        let c = CpuFreq::find(root.path()).unwrap();
        c.set_governor(CpuGovernor::Powersave).unwrap();
        for p in ["policy0", "policy4"] {
            assert_eq!(
                fs::read_to_string(base.join(p).join("scaling_governor")).unwrap(),
                "powersave\n"
            );
        }
        assert_eq!(c.governor().unwrap(), "powersave");
        fs::write(
            base.join("policy0").join("scaling_available_governors"),
            "ondemand\n",
        )
        .unwrap();
        assert!(matches!(
            c.set_governor(CpuGovernor::Performance),
            Err(DeviceError::GovernorUnavailable { .. })
        ));
    }
}

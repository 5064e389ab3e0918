//! The kit's configuration file (TOML). Every field has a default, so an empty file, or none at
//! all, is a working configuration; `fieldkit config template` prints the whole file with
//! comments.

use std::path::{Path, PathBuf};

use anyhow::Context;
use fieldkit_drivers::lora::{Bandwidth, Modulation};
use fieldkit_drivers::modem::ModemModel;
use fieldkit_drivers::rak3172::P2pConfig;
use serde::{Deserialize, Serialize};

/// Where the configuration is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/fieldkit/fieldkit.toml";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the vault and the kit's state live (the `/data` partition on a kit).
    pub data_dir: PathBuf,
    /// The caseworker name used when `--user` is not given.
    pub default_caseworker: Option<String>,
    /// Logging.
    pub log: LogConfig,
    /// Credentials, lockout and the vault file.
    pub security: SecurityConfig,
    /// Locations file (a JSON list of `{code, name, level, parent}`).
    pub locations_file: Option<PathBuf>,
    /// Risk-triage rules (TOML); the rules shipped with fieldkit when not given.
    pub triage_rules: Option<PathBuf>,
    /// Lookup lists (Primero's lookups export, JSON); each list given replaces the shipped
    /// list of the same name (`lookup-protection-concerns`, `lookup-gender`, ...).
    pub lookups_file: Option<PathBuf>,
    /// The kiosk daemon's devices.
    pub kiosk: KioskConfig,
    /// The LoRa module (the kiosk's, and the hub's gateway).
    pub lora: LoraConfig,
    /// The cellular modem.
    pub modem: ModemConfig,
}

/// The RAK3172 LoRa module in point-to-point mode. Every kit and its hub's gateway must use the
/// same frequency, spreading factor and bandwidth. LoRa P2P has no addresses of its own: each
/// frame carries the 4-byte kit id derived from the kit's key, and a kit drops frames for others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// Serial port of the module (115200 8N1); empty for none.
    pub port: String,
    /// Frequency plan: `eu868` or `in865`.
    pub region: String,
    /// Channel frequency, Hz.
    pub frequency_hz: u32,
    /// Spreading factor, 7–12.
    pub spreading_factor: u8,
    /// Bandwidth, kHz: 125, 250 or 500.
    pub bandwidth_khz: u32,
    /// Transmit power, dBm.
    pub power_dbm: u8,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            port: "/dev/lora".into(),
            region: "eu868".into(),
            frequency_hz: 868_100_000,
            spreading_factor: 7,
            bandwidth_khz: 125,
            power_dbm: 14,
        }
    }
}

/// A frequency plan's rules as far as the kit keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Lowest and highest channel frequency allowed, Hz.
    pub band_hz: (u32, u32),
    /// Highest transmit power, dBm.
    pub max_power_dbm: u8,
    /// Duty cycle, per mille of every hour.
    pub duty_permille: u32,
}

/// The frequency plans the kit knows. Others (US915's 400 ms dwell time, AS923's listen before
/// talk) have rules the radio code does not keep, so they are refused rather than half kept.
pub fn region(name: &str) -> Option<Region> {
    match name {
        // ETSI EN 300 220 band g1 (868.0–868.6 MHz): 25 mW ERP, 1 % duty cycle; the kit's
        // channels stay in 863–870 MHz at 14 dBm and keep 1 %.
        "eu868" => Some(Region {
            band_hz: (863_000_000, 870_000_000),
            max_power_dbm: 14,
            duty_permille: 10,
        }),
        // India 865–867 MHz: 1 W ERP, no duty cycle in the rule; the kit keeps 1 % anyway (the
        // battery's and the channel's sake) and the module's own limit of 22 dBm.
        "in865" => Some(Region {
            band_hz: (865_000_000, 867_000_000),
            max_power_dbm: 22,
            duty_permille: 10,
        }),
        _ => None,
    }
}

impl LoraConfig {
    /// The module's settings, checked; `None` when no port is configured.
    pub fn settings(&self) -> anyhow::Result<Option<LoraSettings>> {
        if self.port.trim().is_empty() {
            return Ok(None);
        }
        let Some(r) = region(&self.region) else {
            anyhow::bail!(
                "[lora] region {:?} is not supported: use \"eu868\" or \"in865\"",
                self.region
            );
        };
        if !(r.band_hz.0..=r.band_hz.1).contains(&self.frequency_hz) {
            anyhow::bail!(
                "[lora] frequency_hz {} is outside {} ({}–{} Hz)",
                self.frequency_hz,
                self.region,
                r.band_hz.0,
                r.band_hz.1
            );
        }
        if !(7..=12).contains(&self.spreading_factor) {
            anyhow::bail!(
                "[lora] spreading_factor {} must be 7 to 12",
                self.spreading_factor
            );
        }
        let bandwidth = match self.bandwidth_khz {
            125 => Bandwidth::K125,
            250 => Bandwidth::K250,
            500 => Bandwidth::K500,
            other => anyhow::bail!("[lora] bandwidth_khz {other} must be 125, 250 or 500"),
        };
        if !(5..=r.max_power_dbm).contains(&self.power_dbm) {
            anyhow::bail!(
                "[lora] power_dbm {} must be 5 to {} in {}",
                self.power_dbm,
                r.max_power_dbm,
                self.region
            );
        }
        let mut modulation = Modulation::p2p(self.spreading_factor);
        modulation.bandwidth = bandwidth;
        Ok(Some(LoraSettings {
            port: self.port.trim().to_string(),
            p2p: P2pConfig {
                frequency_hz: self.frequency_hz,
                modulation,
                power_dbm: self.power_dbm,
            },
            duty_permille: r.duty_permille,
            // LoRaWAN's payload limits per spreading factor (51 bytes at SF10–12, 115 at
            // SF9, 242 at SF7–8), which keep a frame's time on air near the same; the
            // driver caps every frame at 239 bytes.
            mtu: match self.spreading_factor {
                7 | 8 => 239,
                9 => 115,
                _ => 51,
            },
        }))
    }
}

/// The LoRa module's checked settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoraSettings {
    /// Serial port.
    pub port: String,
    /// Radio settings.
    pub p2p: P2pConfig,
    /// Duty cycle, per mille of every hour.
    pub duty_permille: u32,
    /// Largest frame, bytes.
    pub mtu: usize,
}

/// The cellular modem: powered by the kit for a sync round and off after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModemConfig {
    /// The modem's AT command port; empty for none.
    pub port: String,
    /// `sim7600` (SIMCom SIM7500/SIM7600) or `eg25` (Quectel EG25-G / EC2x).
    pub model: String,
    /// GPIO (BCM numbering) of the modem's power key, high = pressed.
    pub power_key_gpio: Option<u8>,
    /// GPIO (BCM numbering) of a switch on the modem's supply, high = on, if the board has one.
    pub enable_gpio: Option<u8>,
    /// Access point name, if the network needs one set (empty: the SIM's default).
    pub apn: String,
}

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            port: "/dev/modem".into(),
            model: "sim7600".into(),
            power_key_gpio: Some(6),
            enable_gpio: None,
            apn: String::new(),
        }
    }
}

/// The modem's checked settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemSettings {
    /// AT port.
    pub port: String,
    /// Family.
    pub model: ModemModel,
    /// Power key GPIO.
    pub power_key_gpio: Option<u8>,
    /// Supply switch GPIO.
    pub enable_gpio: Option<u8>,
    /// APN to set, if any.
    pub apn: Option<String>,
}

impl ModemConfig {
    /// The modem's settings, checked; `None` when no port is configured.
    pub fn settings(&self) -> anyhow::Result<Option<ModemSettings>> {
        if self.port.trim().is_empty() {
            return Ok(None);
        }
        let model = match self.model.as_str() {
            "sim7600" => ModemModel::Sim7600,
            "eg25" => ModemModel::Eg25,
            other => anyhow::bail!("[modem] model {other:?} must be \"sim7600\" or \"eg25\""),
        };
        if self.power_key_gpio.is_none() && self.enable_gpio.is_none() {
            anyhow::bail!(
                "[modem] needs power_key_gpio or enable_gpio: the kit switches the modem on for \
                 each sync round and off after it"
            );
        }
        for (name, pin) in [
            ("power_key_gpio", self.power_key_gpio),
            ("enable_gpio", self.enable_gpio),
        ] {
            if let Some(p) = pin
                && p > 27
            {
                anyhow::bail!("[modem] {name} {p} is not a header GPIO (BCM 0–27)");
            }
        }
        if self.power_key_gpio.is_some() && self.power_key_gpio == self.enable_gpio {
            anyhow::bail!("[modem] power_key_gpio and enable_gpio must be different pins");
        }
        let apn = self.apn.trim();
        if !apn.is_empty() && !fieldkit_drivers::modem::valid_apn(apn) {
            anyhow::bail!(
                "[modem] apn {apn:?} is not an access point name (letters, digits, '.' and '-', \
                 at most 63)"
            );
        }
        Ok(Some(ModemSettings {
            port: self.port.trim().to_string(),
            model,
            power_key_gpio: self.power_key_gpio,
            enable_gpio: self.enable_gpio,
            apn: (!apn.is_empty()).then(|| apn.to_string()),
        }))
    }
}

/// Where the kiosk daemon finds its hardware.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// I2C bus with the fuel gauge and current monitors; empty for none.
    pub i2c_bus: String,
    /// Charge controller as `PROTOCOL:PATH[@ADDR]` (vedirect, renogy, epever); empty for none.
    pub charger: String,
    /// Root under which `sys/class/backlight` and `sys/devices/system/cpu/cpufreq` are found.
    pub sysfs_root: PathBuf,
    /// Working hours, local time, as [start, end) hours.
    pub working_hours: (f32, f32),
    /// Local time's offset from UTC in minutes (the policy's hours are local: sunrise, working
    /// hours); the board's clock runs in UTC.
    pub utc_offset_minutes: i32,
    /// Usable battery energy in Wh.
    pub battery_capacity_wh: f32,
    /// The touch screen locks itself after this many seconds without a touch.
    pub lock_after_s: u32,
    /// The camera for children's photos (a V4L2 device; "" for none).
    pub camera: String,
    /// Where the touch screen looks for picture files to attach (a USB stick's mount point).
    pub photo_folder: PathBuf,
}

impl Default for KioskConfig {
    fn default() -> Self {
        KioskConfig {
            i2c_bus: "/dev/i2c-1".into(),
            charger: "vedirect:/dev/charger".into(),
            sysfs_root: PathBuf::from("/"),
            working_hours: (8.0, 17.0),
            utc_offset_minutes: 0,
            battery_capacity_wh: 256.0,
            lock_after_s: 300,
            camera: "/dev/video0".into(),
            photo_folder: PathBuf::from("/media/photos"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/data/fieldkit"),
            default_caseworker: None,
            log: LogConfig::default(),
            security: SecurityConfig::default(),
            locations_file: None,
            triage_rules: None,
            lookups_file: None,
            kiosk: KioskConfig::default(),
            lora: LoraConfig::default(),
            modem: ModemConfig::default(),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `info,fieldkit_vault=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
        }
    }
}

/// Credential and lockout policy, applied when a vault is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Shortest PIN or passphrase accepted.
    pub min_pin_length: usize,
    /// Require a passphrase with letters instead of a PIN.
    pub require_passphrase: bool,
    /// Failed attempts before delays begin.
    pub free_attempts: u32,
    /// First delay in seconds; doubles with each further failure.
    pub base_delay_s: u64,
    /// Longest delay in seconds.
    pub max_delay_s: u64,
    /// Erase caseworker key slots after this many failures in a row; 0 never erases.
    pub wipe_after: u32,
    /// Argon2id memory in KiB (at least 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id passes (at least 2).
    pub argon2_passes: u32,
    /// Verify every page checksum of the vault file when opening it.
    pub verify_on_open: bool,
    /// Where key slots get a secret the vault file does not hold.
    pub hardware: HardwareMode,
    /// The TPM's TCTI: `device:/dev/tpmrm0` on a kit, `swtpm:host=127.0.0.1,port=2321` for a
    /// software TPM.
    pub tpm_tcti: String,
    /// The TPM NV index of the anti-rollback counter (owner range 0x01000000–0x013FFFFF).
    pub tpm_counter_index: u32,
}

/// Where key slots get a secret the vault file does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HardwareMode {
    /// The TPM at `tpm_tcti` when its device exists, else software mode (with a warning).
    Auto,
    /// The TPM: refuse to create or open a vault without it.
    Tpm2,
    /// No hardware: the PIN alone protects the keys (a copied file can be guessed offline).
    Software,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        let p = fieldkit_vault::CredentialPolicy::default();
        SecurityConfig {
            min_pin_length: p.min_length,
            require_passphrase: p.require_passphrase,
            free_attempts: p.free_attempts,
            base_delay_s: p.base_delay_s,
            max_delay_s: p.max_delay_s,
            wipe_after: p.wipe_after.unwrap_or(0),
            argon2_memory_kib: p.kdf.m_kib,
            argon2_passes: p.kdf.t,
            verify_on_open: true,
            // Not "auto": a developer's machine or CI runner with a TPM of its own must not have
            // its TPM enrolled (or its lockout counter raised) by a test. Kits set "tpm2".
            hardware: HardwareMode::Software,
            tpm_tcti: "device:/dev/tpmrm0".into(),
            tpm_counter_index: fieldkit_tpm::DEFAULT_COUNTER_INDEX,
        }
    }
}

impl SecurityConfig {
    /// The vault's credential policy.
    pub fn policy(&self) -> fieldkit_vault::CredentialPolicy {
        fieldkit_vault::CredentialPolicy {
            min_length: self.min_pin_length,
            require_passphrase: self.require_passphrase,
            free_attempts: self.free_attempts,
            base_delay_s: self.base_delay_s,
            max_delay_s: self.max_delay_s,
            wipe_after: (self.wipe_after > 0).then_some(self.wipe_after),
            kdf: fieldkit_vault::KdfParams {
                m_kib: self.argon2_memory_kib,
                t: self.argon2_passes,
                p: 1,
            },
        }
    }
}

impl Config {
    /// Checks what serde cannot: the radios' settings.
    pub fn check(&self) -> anyhow::Result<()> {
        self.lora.settings()?;
        self.modem.settings()?;
        Ok(())
    }

    /// Reads the file at `path`; with no path, the default location if it exists, else defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (path, must_exist) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let config: Config = toml::from_str(&text)
                    .with_context(|| format!("reading config {}", path.display()))?;
                config
                    .check()
                    .with_context(|| format!("config {}", path.display()))?;
                Ok(config)
            }
            Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(e).with_context(|| format!("reading config {}", path.display())),
        }
    }
}

/// The commented configuration file with every default, as `fieldkit config template` prints it.
pub const TEMPLATE: &str = r#"# fieldkit configuration. Every setting is optional; shown here with its default.
# Looked for at /etc/fieldkit/fieldkit.toml, or given with --config FILE (or FIELDKIT_CONFIG).

# Where the vault and the kit's state live: the /data partition on a kit.
data_dir = "/data/fieldkit"

# The caseworker name used when --user is not given.
# default_caseworker = "amina"

# A JSON file listing locations as {"code", "name", "level", "parent"}, level one of
# country, region, camp, block. Used to compare places in matching.
# locations_file = "/data/fieldkit/locations.json"

# Risk-triage rules (TOML, the format of firmware/matcher/rules/triage.toml). Without it the
# rules shipped with fieldkit apply: unaccompanied under 12, GBV survivor, associated with armed
# forces, disability without a caregiver, long separation, ...
# triage_rules = "/data/fieldkit/triage.toml"

# Lookup lists select fields are checked against (sex, protection concerns, family relations,
# displacement status, ...): Primero's lookups export (JSON). Each list given replaces the
# shipped list of the same name; values are saved as the list's ids.
# lookups_file = "/data/fieldkit/lookups.json"

[log]
# A tracing filter: error, warn, info, debug, trace, per crate if needed
# (e.g. "info,fieldkit_vault=debug"). Logs never contain case data.
filter = "info"

[security]
# These apply when a vault is created (fieldkit init).
# A 6-digit PIN has a million values: with an image of the disk an attacker tries them all
# offline in hours, whatever the key derivation. Where kits may be seized, require a passphrase
# and fit a secure element.
min_pin_length = 6
require_passphrase = false
# Failed sign-ins allowed before delays begin; the first delay, doubling per further failure,
# and the longest delay, in seconds.
free_attempts = 3
base_delay_s = 30
max_delay_s = 3600
# Erase the caseworkers' key slots after this many failed sign-ins in a row (0: never).
# The recovery key printed at `fieldkit init` restores access afterwards.
wipe_after = 0
# Argon2id cost for PINs: at least 19456 KiB and 2 passes (OWASP's floor). Raise on the board
# while a sign-in stays under a second.
argon2_memory_kib = 19456
argon2_passes = 2
# Verify every page checksum of the vault file when opening it (refuses a file altered outside
# fieldkit instead of trusting it).
verify_on_open = true
# Where key slots get a secret the vault file does not hold, chosen at `fieldkit init`:
# "tpm2": the TPM 2.0 at tpm_tcti seals every key slot, opened only with the PIN; wrong PINs hit
#   the TPM's own lockout and a copied vault file does not open off this kit. An NV counter in
#   the TPM refuses an older copy of the vault file put back.
# "software": the PIN alone (through Argon2id) protects the keys: a copy of the file can be
#   guessed offline, every 6-digit PIN in hours.
# "auto": "tpm2" when the TPM's device exists, else "software".
# `fieldkit init` says loudly when it provisions a vault in software mode.
hardware = "software"
# The TPM: device:/dev/tpmrm0 on a kit (the kernel's resource manager), or a software TPM as
# swtpm:host=127.0.0.1,port=2321.
tpm_tcti = "device:/dev/tpmrm0"
# The TPM NV index of the anti-rollback counter (owner range 0x01000000-0x013FFFFF).
tpm_counter_index = 0x013F4B01

[kiosk]
# The board's devices (udev rules name the charger /dev/charger).
i2c_bus = "/dev/i2c-1"
# Charge controller: vedirect:PATH, renogy:PATH[@ADDR] or epever:PATH[@ADDR]; "" for none.
charger = "vedirect:/dev/charger"
# Root of sysfs, for the backlight and the CPU governor.
sysfs_root = "/"
# Working hours [start, end), local time: the policy keeps the screen usable in them.
working_hours = [8.0, 17.0]
# Local time's offset from UTC in minutes (e.g. 180 in Jordan): the board's clock runs in UTC.
utc_offset_minutes = 0
# Usable battery energy in Wh.
battery_capacity_wh = 256.0
# The touch screen locks itself after this many seconds without a touch.
lock_after_s = 300
# The camera for children's photos (a V4L2 device, a UVC webcam); "" for none.
camera = "/dev/video0"
# Where the touch screen looks for JPEG and PNG files to attach as photos (a USB stick).
photo_folder = "/media/photos"

[lora]
# The RAK3172 LoRa module (RUI3 firmware, point to point); "" for none. The hub's gateway
# (`fieldkit hub run --lora DEVICE`) reads the radio settings below too: kits and their hub
# must agree on frequency, spreading factor and bandwidth. Frames carry the kit's id (from its
# key); there are no other addresses.
port = "/dev/lora"
# Frequency plan: "eu868" (863-870 MHz, at most 14 dBm, 1 % duty cycle per hour) or "in865"
# (865-867 MHz, at most 22 dBm; the kit keeps 1 % too).
region = "eu868"
frequency_hz = 868100000
# 7-12: each step up doubles the time on air and reaches further. Largest frame: 239 bytes at
# SF7-8, 115 at SF9, 51 at SF10-12.
spreading_factor = 7
# 125, 250 or 500 kHz.
bandwidth_khz = 125
power_dbm = 14

[modem]
# The cellular modem's AT port (SIM7600 or EG25-G; udev names its USB interface /dev/modem);
# "" for none. The kit switches it on for a sync round, when the power mode allows cellular,
# and off after it; its data path is IP (the OS brings the interface up).
port = "/dev/modem"
# "sim7600" or "eg25".
model = "sim7600"
# GPIO (BCM) of the modem's power key, high = pressed (the Waveshare SIM7600 HAT's PWRKEY: 6).
power_key_gpio = 6
# GPIO (BCM) of a switch on the modem's supply, high = on, if the board has one.
# enable_gpio = 5
# Access point name, if the network needs one set ("" keeps the SIM's default).
apn = ""
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_the_defaults() {
        let parsed: Config = toml::from_str(TEMPLATE).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn radio_settings_are_checked_with_errors_that_say_what_to_change() {
        let defaults = Config::default();
        defaults.check().unwrap();
        let lora = defaults.lora.settings().unwrap().unwrap();
        assert_eq!(lora.mtu, 239);
        assert_eq!(lora.duty_permille, 10);
        let modem = defaults.modem.settings().unwrap().unwrap();
        assert_eq!(modem.power_key_gpio, Some(6));
        let refused = |text: &str, says: &str| {
            let c: Config = toml::from_str(text).unwrap();
            let e = format!("{:#}", c.check().unwrap_err());
            assert!(e.contains(says), "{text}: {e}");
        };
        refused("[lora]\nregion = \"us915\"\n", "not supported");
        refused("[lora]\nfrequency_hz = 915000000\n", "outside eu868");
        refused("[lora]\nspreading_factor = 13\n", "7 to 12");
        refused("[lora]\nbandwidth_khz = 62\n", "125, 250 or 500");
        refused("[lora]\npower_dbm = 20\n", "5 to 14");
        refused("[modem]\nmodel = \"sim800\"\n", "sim7600");
        refused("[modem]\npower_key_gpio = 40\n", "BCM 0");
        refused(
            "[modem]\npower_key_gpio = 6\nenable_gpio = 6\n",
            "different pins",
        );
        refused("[modem]\napn = \"internet\\\"x\"\n", "access point name");
        let c: Config = toml::from_str("[modem]\npower_key_gpio = 6\n").unwrap();
        c.check().unwrap();
        let mut none = Config::default();
        none.modem.power_key_gpio = None;
        assert!(none.check().is_err(), "a modem the kit cannot switch");
        none.modem.port = String::new();
        none.lora.port = String::new();
        none.check().unwrap();
        assert_eq!(none.lora.settings().unwrap(), None);
        let sf10: Config = toml::from_str("[lora]\nspreading_factor = 10\n").unwrap();
        assert_eq!(sf10.lora.settings().unwrap().unwrap().mtu, 51);
    }

    #[test]
    fn an_empty_file_is_the_defaults_and_typos_are_refused() {
        assert_eq!(toml::from_str::<Config>("").unwrap(), Config::default());
        let err = toml::from_str::<Config>("[security]\nwipe_afer = 3\n").unwrap_err();
        assert!(err.to_string().contains("wipe_afer"), "{err}");
    }
}

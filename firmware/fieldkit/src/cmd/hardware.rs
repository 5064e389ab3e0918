//! The kit's key-slot hardware as the configuration chooses it (`[security] hardware`,
//! `tpm_tcti`, `tpm_counter_index`): the TPM, or software mode, which `init` announces loudly.

use std::path::Path;

use std::sync::Arc;

use anyhow::{Context, bail};
use fieldkit_tpm::{NvCounter, SlotSealer, Tpm, TpmInfo};
use fieldkit_vault::{FileAnchor, HardwareSecret, NoHardwareSecret, RollbackAnchor};

use crate::config::{HardwareMode, SecurityConfig};

/// What `init` found.
#[derive(Debug)]
pub enum KitHardware {
    /// A TPM answered.
    Tpm {
        /// The TPM.
        tpm: Tpm,
        /// What it said about itself.
        info: TpmInfo,
    },
    /// No TPM: the PIN alone protects the keys.
    Software {
        /// Why (configured, or no device).
        reason: String,
    },
}

/// The device file a `device:` TCTI names (tpm2-tss's default when it names none).
fn device_path(tcti: &str) -> Option<&str> {
    let rest = tcti.trim().strip_prefix("device")?;
    let path = rest.strip_prefix(':').unwrap_or(rest);
    Some(if path.is_empty() { "/dev/tpm0" } else { path })
}

/// The TPM the configuration names, without talking to it; `None` in software mode, and in
/// `auto` mode when the TPM's device does not exist.
pub fn configured_tpm(sec: &SecurityConfig) -> anyhow::Result<Option<Tpm>> {
    if sec.hardware == HardwareMode::Software {
        return Ok(None);
    }
    let tpm = Tpm::new(&sec.tpm_tcti).context("security.tpm_tcti")?;
    if sec.hardware == HardwareMode::Auto
        && device_path(&sec.tpm_tcti).is_some_and(|p| !Path::new(p).exists())
    {
        return Ok(None);
    }
    Ok(Some(tpm))
}

/// The vault's hardware seams as the configuration chooses them, checked once at start.
#[derive(Clone)]
pub struct Seams {
    /// The hardware secret: the TPM's sealed slots, or none (software mode).
    pub hardware: Arc<dyn HardwareSecret>,
    /// The rollback anchor: the TPM's NV counter, or (software mode) `vault.anchor` beside
    /// the vault, which catches a vault file copied back on its own.
    pub anchor: Arc<dyn RollbackAnchor>,
}

impl std::fmt::Debug for Seams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seams")
            .field("hardware", &self.hardware.kind())
            .field("anchor", &self.anchor.kind())
            .finish()
    }
}

impl Seams {
    /// From the configuration; the file anchor lives in `data_dir`.
    pub fn configured(sec: &SecurityConfig, data_dir: &Path) -> anyhow::Result<Seams> {
        Ok(match configured_tpm(sec)? {
            Some(tpm) => Seams {
                hardware: Arc::new(SlotSealer::new(tpm.clone())),
                anchor: Arc::new(
                    NvCounter::new(tpm, sec.tpm_counter_index)
                        .context("security.tpm_counter_index")?,
                ),
            },
            None => Seams {
                hardware: Arc::new(NoHardwareSecret),
                anchor: Arc::new(FileAnchor::new(data_dir.join("vault.anchor"))),
            },
        })
    }
}

/// For `init`: the TPM, checked to answer, or software mode when the configuration allows it.
/// A TPM that is configured (or whose device exists) but does not answer is an error, never a
/// quiet fall back to software.
pub fn probe(sec: &SecurityConfig) -> anyhow::Result<KitHardware> {
    let Some(tpm) = configured_tpm(sec)? else {
        let reason = match sec.hardware {
            HardwareMode::Software => {
                "security.hardware = \"software\" in the configuration".into()
            }
            _ => format!(
                "no TPM device at {} (security.hardware = \"auto\")",
                device_path(&sec.tpm_tcti).unwrap_or("?")
            ),
        };
        return Ok(KitHardware::Software { reason });
    };
    match tpm.info() {
        Ok(info) => Ok(KitHardware::Tpm { tpm, info }),
        Err(e) => bail!(
            "the TPM at {} does not answer ({e}); fix it, or set security.hardware = \"software\" to provision without one",
            tpm.address()
        ),
    }
}

/// Tells the technician, on standard error, which protection the new vault has.
pub fn announce(hw: &KitHardware) {
    match hw {
        KitHardware::Tpm { tpm, info } => {
            eprintln!(
                "Key slots are sealed in the TPM ({}, at {}): a copy of the vault file does not open off this kit.",
                info.manufacturer,
                tpm.address()
            );
            eprintln!(
                "The TPM locks out after {} wrong PINs and forgives one every {} s; an older copy of the vault file put back is refused.",
                info.da.max_tries, info.da.recovery_s
            );
            if !info.lockout_auth_set {
                eprintln!(
                    "WARNING: the TPM's lockout authorisation is empty: anyone holding the kit can reset its wrong-PIN counter. Set one when provisioning (tpm2_changeauth -c lockout)."
                );
                tracing::warn!("TPM lockout authorisation is empty");
            }
        }
        KitHardware::Software { reason } => {
            let bar = "!".repeat(78);
            eprintln!("{bar}");
            eprintln!("!! NO TPM: SOFTWARE MODE ({reason}).");
            eprintln!(
                "!! The PIN alone protects the keys. Anyone who copies the vault file can guess"
            );
            eprintln!(
                "!! PINs offline, without any lockout: every 6-digit PIN in hours of computing."
            );
            eprintln!(
                "!! Fit a TPM 2.0 (e.g. an SLB 9670 on SPI) and set security.hardware = \"tpm2\","
            );
            eprintln!("!! or set security.require_passphrase = true where kits may be seized.");
            eprintln!(
                "!! Provisioning a kit that has a TPM: each caseworker's key slot moves into it"
            );
            eprintln!(
                "!! at their first sign-in on the kit (check with `fieldkit tpm status` there)."
            );
            eprintln!("{bar}");
            tracing::warn!(reason = %reason, "vault created in software mode: no TPM");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_tctis_name_their_file() {
        assert_eq!(device_path("device:/dev/tpmrm0"), Some("/dev/tpmrm0"));
        assert_eq!(device_path("device"), Some("/dev/tpm0"));
        assert_eq!(device_path("swtpm:host=127.0.0.1,port=2321"), None);
    }

    #[test]
    fn auto_without_a_device_is_software_and_tpm2_insists() {
        let mut sec = SecurityConfig {
            tpm_tcti: "device:/nonexistent/tpmrm9".into(),
            hardware: HardwareMode::Auto,
            ..SecurityConfig::default()
        };
        assert!(configured_tpm(&sec).unwrap().is_none());
        assert!(matches!(probe(&sec).unwrap(), KitHardware::Software { .. }));
        sec.hardware = HardwareMode::Tpm2;
        assert!(configured_tpm(&sec).unwrap().is_some());
        let e = probe(&sec).unwrap_err();
        assert!(e.to_string().contains("does not answer"), "{e}");
        sec.hardware = HardwareMode::Software;
        assert!(configured_tpm(&sec).unwrap().is_none());
    }
}

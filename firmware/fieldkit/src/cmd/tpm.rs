//! `fieldkit tpm status`: what protects this kit's vault, without a sign-in — the TPM the
//! configuration names (and whether it answers), the hardware the vault's key slots are sealed
//! in, and how many caseworkers' slots the PIN alone still protects.
//!
//! A kit provisioned on a technician's PC starts in software mode; under a configuration with
//! a TPM, each caseworker's slot moves into the kit's TPM at their first sign-in on the kit
//! (`fieldkit_vault::OpenOptions::adopt_software`). This is how the technician sees that every
//! caseworker has done so before the kit leaves for the field.

use serde::Serialize;

use super::hardware::{KitHardware, probe};
use super::{Ctx, print_json};

/// `fieldkit tpm …`
#[derive(Debug, clap::Subcommand)]
pub enum TpmCommand {
    /// The kit's TPM and how far the vault's key slots have moved into it (no sign-in).
    Status(StatusArgs),
}

/// Arguments of `tpm status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `tpm` command.
pub fn run(ctx: &Ctx, command: TpmCommand) -> anyhow::Result<()> {
    match command {
        TpmCommand::Status(a) => status(ctx, &a),
    }
}

/// What `tpm status --json` prints.
#[derive(Debug, Serialize)]
struct Status {
    /// The TPM's manufacturer id, or null in software mode.
    tpm: Option<String>,
    /// Why there is no TPM (software mode).
    software_reason: Option<String>,
    /// Whether the TPM's lockout hierarchy has an authorisation (without one, anyone holding
    /// the kit can reset its wrong-PIN counter); null in software mode.
    lockout_auth_set: Option<bool>,
    /// The hardware the vault's slots are sealed in (`tpm2` or `none`); null without a vault.
    vault: Option<String>,
    /// Caseworkers' slots protected by the PIN alone.
    pin_only_slots: usize,
    /// True when every caseworker's slot is sealed in the TPM.
    sealed: bool,
}

fn status(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<()> {
    let hardware = probe(&ctx.config.security)?;
    let vault = if ctx.vault_path().exists() {
        Some(ctx.open_vault()?.hardware_status()?)
    } else {
        None
    };
    let (tpm, software_reason, lockout_auth_set) = match &hardware {
        KitHardware::Tpm { info, .. } => (
            Some(info.manufacturer.clone()),
            None,
            Some(info.lockout_auth_set),
        ),
        KitHardware::Software { reason } => (None, Some(reason.clone()), None),
    };
    let pin_only = vault.as_ref().map_or(0, |v| v.pin_only_slots);
    let sealed =
        tpm.is_some() && vault.as_ref().is_some_and(|v| v.hardware != "none") && pin_only == 0;
    if args.json {
        return print_json(&Status {
            tpm,
            software_reason,
            lockout_auth_set,
            vault: vault.map(|v| v.hardware),
            pin_only_slots: pin_only,
            sealed,
        });
    }
    match &hardware {
        KitHardware::Tpm { tpm, info } => {
            println!(
                "TPM: {} at {} (locks out after {} wrong PINs)",
                info.manufacturer,
                tpm.address(),
                info.da.max_tries
            );
            if !info.lockout_auth_set {
                println!(
                    "WARNING: the TPM's lockout authorisation is empty: anyone holding the kit can reset its wrong-PIN counter."
                );
            }
        }
        KitHardware::Software { reason } => println!("TPM: none ({reason})"),
    }
    let Some(v) = vault else {
        println!("Vault: none yet at {}", ctx.vault_path().display());
        return Ok(());
    };
    if v.hardware == "none" {
        println!(
            "Vault: software mode: the PIN alone protects {}.",
            crate::out::plural(
                u64::try_from(v.pin_only_slots).unwrap_or(u64::MAX),
                "caseworker's key slot",
                "caseworkers' key slots"
            )
        );
        if tpm.is_some() {
            println!(
                "Each caseworker's slot moves into this TPM at their first sign-in on this kit."
            );
        } else {
            println!(
                "On a kit whose configuration names its TPM (the kit image's does), each slot moves into it at its owner's first sign-in there."
            );
        }
    } else if v.pin_only_slots == 0 {
        println!("Vault: every caseworker's key slot is sealed in the TPM.");
    } else {
        println!(
            "Vault: in the TPM, but {} not signed in on this kit yet: the PIN alone protects their key slots until they do.",
            crate::out::plural(
                u64::try_from(v.pin_only_slots).unwrap_or(u64::MAX),
                "caseworker has",
                "caseworkers have"
            )
        );
    }
    Ok(())
}

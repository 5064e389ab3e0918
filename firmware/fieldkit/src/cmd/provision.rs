//! `fieldkit provision`: a new kit's vault and supervisor (as `init`, with the TPM when the
//! configuration asks for one), and, given the hub's key, its sync identity: a fresh X25519
//! key sealed in the vault, the hub's public key and address, the agency. Everything it
//! writes stays under the data directory (`scripts/provision` packs that tree into the kit's
//! data partition): the vault, and `sync/kit.pub`, the kit's public key for the hub to enrol.

use std::path::PathBuf;

use anyhow::Context;
use fieldkit_kitsync::{KitSync, Provision};
use fieldkit_sync::seal::{KitId, public_key_from_text, public_key_to_text};

use super::Ctx;
use super::init::InitArgs;

/// Arguments of `provision`.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// Sign-in name of the kit's supervisor.
    #[arg(long)]
    pub user: Option<String>,
    /// Their display name.
    #[arg(long)]
    pub display_name: Option<String>,
    /// The kit's label for technicians (e.g. `kit-017`; its id on the air comes from its key).
    #[arg(long)]
    pub kit_id: Option<String>,
    /// The agency the kit works for.
    #[arg(long)]
    pub agency: Option<String>,
    /// The hub's public key file (`fieldkit-x25519 <hex>`). Without it the kit works offline,
    /// not provisioned for sync.
    #[arg(long, value_name = "FILE")]
    pub hub_key: Option<PathBuf>,
    /// The hub's address, e.g. `http://hub.camp.example:8470`.
    #[arg(long, value_name = "ADDR", requires = "hub_key")]
    pub hub_address: Option<String>,
}

/// The kit's public key file under the data directory.
pub fn public_key_path(ctx: &Ctx) -> PathBuf {
    ctx.data_dir.join("sync").join("kit.pub")
}

/// Provisions the kit.
pub fn run(ctx: &Ctx, args: ProvisionArgs) -> anyhow::Result<()> {
    // Read the hub's key first: a wrong file must not leave a half-provisioned kit.
    let hub = match &args.hub_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the hub's key {}", path.display()))?;
            Some(
                public_key_from_text(&text)
                    .with_context(|| format!("the hub's key {}", path.display()))?,
            )
        }
        None => None,
    };
    let mut session = super::init::init_kit(
        ctx,
        InitArgs {
            user: args.user,
            display_name: args.display_name,
        },
    )?;
    let label = args.kit_id.unwrap_or_default();
    let Some(hub_public) = hub else {
        println!(
            "Kit {label}: not provisioned for sync (no --hub-key): it works offline; \
             run `fieldkit provision` on a fresh data directory with the hub's key to sync."
        );
        return Ok(());
    };
    let agency = args.agency.unwrap_or_default();
    let address = args.hub_address.unwrap_or_default();
    let public = KitSync::provision(
        &mut session,
        &Provision {
            hub_public,
            hub_address: &address,
            agency: &agency,
            label: &label,
        },
    )
    .context("creating the kit's sync identity")?;
    let path = public_key_path(ctx);
    let dir = path.parent().context("the key's directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = public_key_to_text(&public);
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "Kit {label}: sync identity created, kit id {} (agency {agency}, hub {}).",
        KitId::of(&public),
        if address.is_empty() {
            "address not set"
        } else {
            &address
        }
    );
    println!(
        "Enrol it at the hub with its public key: {}",
        path.display()
    );
    Ok(())
}

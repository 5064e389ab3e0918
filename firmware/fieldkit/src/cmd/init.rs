//! `fieldkit init`: create the vault and its first caseworker, and print the recovery key once.

use anyhow::Context;
use fieldkit_vault::{InitOptions, Vault};

use super::{Ctx, now_ms};

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Sign-in name of the first caseworker (a supervisor).
    #[arg(long)]
    pub user: Option<String>,
    /// Their display name.
    #[arg(long)]
    pub display_name: Option<String>,
}

/// Asks the first caseworker's new PIN and creates the vault of `--data-dir` (also the hub's).
pub fn create(
    ctx: &Ctx,
    user: &str,
    display: &str,
) -> anyhow::Result<(fieldkit_vault::Session, fieldkit_vault::RecoveryKey)> {
    let path = ctx.vault_path();
    let pin = ctx.read_new_secret(&format!("new PIN for {user}: "))?;
    Vault::create(
        &path,
        InitOptions {
            username: user,
            display_name: display,
            credential: pin.as_bytes(),
            policy: ctx.config.security.policy(),
            now_ms: now_ms(),
        },
        ctx.open_options(),
    )
    .with_context(|| format!("creating the vault at {}", path.display()))
}

/// Creates the vault.
pub fn run(ctx: &Ctx, args: InitArgs) -> anyhow::Result<()> {
    init_kit(ctx, args).map(drop)
}

/// Creates the vault and its supervisor, prints the recovery key once, and returns the
/// supervisor's session (`fieldkit provision` goes on with it).
pub fn init_kit(ctx: &Ctx, args: InitArgs) -> anyhow::Result<fieldkit_vault::Session> {
    let user = args.user.map_or_else(|| ctx.username(), Ok)?;
    let display = args.display_name.unwrap_or_else(|| user.clone());
    let path = ctx.vault_path();
    if path.exists() {
        anyhow::bail!("a vault already exists at {}", path.display());
    }
    let hardware = super::hardware::probe(&ctx.config.security)?;
    let (session, recovery) = create(ctx, &user, &display)?;
    let words = recovery.to_words();
    println!(
        "Vault created at {} (id {}).",
        path.display(),
        session.vault_id_hex()
    );
    println!("Supervisor: {user}");
    super::hardware::announce(&hardware);
    println!();
    println!("RECOVERY KEY — write it down and keep it away from the kit. It is shown only now.");
    println!("It restores access if every PIN is lost or the kit erases its key slots.");
    println!();
    println!("    {}", words.as_str());
    println!();
    Ok(session)
}

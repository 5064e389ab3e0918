//! `fieldkit recover`: sign in with the paper recovery key and give a caseworker a new PIN —
//! the way back after PINs are forgotten or the kit erased its key slots after too many
//! failed attempts. With `--accept-rollback`, also accepts a vault that is older than its
//! anchor or was changed outside fieldkit (a restored backup), after saying what was found.

use anyhow::Context;
use fieldkit_vault::{RecoveryKey, RecoveryOptions, Role, Vault};

use super::{Ctx, now_ms};

/// Arguments of `recover`.
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// Accept the vault as it is although it is an older copy or was altered; what was found
    /// goes to the audit trail.
    #[arg(long)]
    pub accept_rollback: bool,
    /// When the caseworker's slot was erased: their display name.
    #[arg(long)]
    pub display_name: Option<String>,
    /// When the caseworker's slot was erased: re-create them as a caseworker rather than a
    /// supervisor.
    #[arg(long)]
    pub caseworker_role: bool,
    /// When the caseworker's slot was erased: without access to GBV incidents.
    #[arg(long)]
    pub no_incident_access: bool,
}

/// Signs in with the recovery key (read like a PIN: prompt, or the next line of standard input
/// with `--pin-stdin`), then sets a new PIN for `--user`, re-creating their slot if a wipe
/// erased it.
pub fn run(ctx: &Ctx, args: RecoverArgs) -> anyhow::Result<()> {
    let user = ctx.username()?;
    let words = ctx.read_secret("recovery key: ")?;
    let key = RecoveryKey::parse(&words).context("reading the recovery key")?;
    let vault = Vault::open(&ctx.vault_path(), ctx.open_options())?;
    let options = RecoveryOptions {
        accept_rollback: args.accept_rollback,
    };
    let mut session = vault
        .unlock_recovery_with(&key, options, now_ms())
        .context("signing in with the recovery key")?;
    let pin = ctx.read_new_secret(&format!("new PIN for {user}: "))?;
    let exists = session
        .caseworkers(now_ms())?
        .iter()
        .any(|c| c.username == user);
    if exists {
        session.set_credential(&user, pin.as_bytes(), now_ms())?;
        println!("PIN set for {user}; the failed-attempt count is cleared");
    } else {
        let role = if args.caseworker_role {
            Role::Caseworker
        } else {
            Role::Supervisor
        };
        let display = args.display_name.unwrap_or_else(|| user.clone());
        session.add_caseworker(
            &user,
            &display,
            pin.as_bytes(),
            role,
            !args.no_incident_access,
            now_ms(),
        )?;
        println!("{user}'s key slot was re-created with the new PIN");
    }
    if args.accept_rollback {
        println!("the vault was accepted as it is; see `fieldkit audit list` for what was found");
    }
    Ok(())
}

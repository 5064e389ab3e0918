//! `fieldkit caseworker add|passwd|list`.

use fieldkit_vault::{Role, Vault};

use super::{Ctx, now_ms, print_json};

/// Caseworker commands.
#[derive(Debug, clap::Subcommand)]
pub enum CaseworkerCommand {
    /// Add a caseworker (supervisors only). With --pin-stdin: your PIN, then theirs.
    Add {
        /// Their sign-in name.
        name: String,
        /// Their display name.
        #[arg(long)]
        display_name: Option<String>,
        /// Make them a supervisor.
        #[arg(long)]
        supervisor: bool,
        /// Let them read GBV incidents.
        #[arg(long)]
        incident_access: bool,
    },
    /// Change your PIN, or reset someone's (supervisors). With --pin-stdin: your PIN, then the new one.
    Passwd {
        /// Whose PIN (yours when left out).
        name: Option<String>,
    },
    /// List caseworkers (no sign-in needed).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a caseworker command.
pub fn run(ctx: &Ctx, cmd: CaseworkerCommand) -> anyhow::Result<()> {
    match cmd {
        CaseworkerCommand::Add {
            name,
            display_name,
            supervisor,
            incident_access,
        } => {
            let mut s = ctx.session()?;
            let pin = ctx.read_new_secret(&format!("new PIN for {name}: "))?;
            let role = if supervisor {
                Role::Supervisor
            } else {
                Role::Caseworker
            };
            let display = display_name.unwrap_or_else(|| name.clone());
            s.add_caseworker(
                &name,
                &display,
                pin.as_bytes(),
                role,
                incident_access,
                now_ms(),
            )?;
            println!("caseworker {name} added");
        }
        CaseworkerCommand::Passwd { name } => {
            let mut s = ctx.session()?;
            let whose = name.unwrap_or_else(|| s.caseworker().username.clone());
            let pin = ctx.read_new_secret(&format!("new PIN for {whose}: "))?;
            s.set_credential(&whose, pin.as_bytes(), now_ms())?;
            println!("PIN changed for {whose}");
        }
        CaseworkerCommand::List { json } => {
            let vault = Vault::open(&ctx.vault_path(), ctx.open_options())?;
            let list = vault.caseworkers()?;
            if json {
                print_json(&list)?;
            } else {
                for c in list {
                    let role = match c.role {
                        Role::Supervisor => "supervisor",
                        Role::Caseworker => "caseworker",
                    };
                    let gbv = if c.incident_access { " incidents" } else { "" };
                    println!("{:<20} {:<30} {role}{gbv}", c.username, c.display_name);
                }
            }
        }
    }
    Ok(())
}

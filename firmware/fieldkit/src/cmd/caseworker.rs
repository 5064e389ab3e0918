//! `fieldkit caseworker add|passwd|list|remove`.

use anyhow::Context;
use fieldkit_vault::Role;

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
    /// List caseworkers and their rights (needs a sign-in; audited).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a caseworker (supervisors with incident access). Rotates the keys: every record is
    /// sealed again, so a copy of their old key slot opens nothing written afterwards.
    Remove {
        /// Their sign-in name.
        name: String,
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
        CaseworkerCommand::Remove { name } => {
            let mut s = ctx.session()?;
            s.remove_caseworker(&name, now_ms())
                .with_context(|| format!("removing {name}"))?;
            println!("caseworker {name} removed; the vault's keys were rotated");
        }
        CaseworkerCommand::List { json } => {
            let mut s = ctx.session()?;
            let list = s.caseworkers(now_ms())?;
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

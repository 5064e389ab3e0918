//! `fieldkit audit verify|list`.

use super::{Ctx, print_json};

/// Audit commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the audit hash chain and that every record decrypts and matches the sealed manifest.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the audit trail.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an audit command.
pub fn run(ctx: &Ctx, cmd: AuditCommand) -> anyhow::Result<()> {
    let s = ctx.session()?;
    match cmd {
        AuditCommand::Verify { json } => {
            let report = s.verify_audit()?;
            let records = s.verify()?;
            if json {
                print_json(&serde_json::json!({
                    "audit_entries": report.entries,
                    "audit_head": report.head_hash,
                    "checkpoint_covers": report.checkpoint_covers,
                    "records_verified": records,
                }))?;
            } else {
                println!(
                    "audit chain intact: {} entries, head {}",
                    report.entries, report.head_hash
                );
                println!("records intact: {records} decrypt and match the manifest");
            }
        }
        AuditCommand::List { json } => {
            let entries = s.audit_entries()?;
            if json {
                print_json(&entries)?;
            } else {
                for e in entries {
                    let rec = e
                        .record
                        .map(|(k, id)| format!(" {k} {id}"))
                        .unwrap_or_default();
                    println!(
                        "{:>6} {} {:<16} {:?}{rec}",
                        e.seq, e.at_ms, e.actor, e.action
                    );
                }
            }
        }
    }
    Ok(())
}

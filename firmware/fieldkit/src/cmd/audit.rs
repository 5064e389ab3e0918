//! `fieldkit audit verify|list`.

use fieldkit_vault::{AuditAction, AuditEntry};

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
                let list = entries
                    .iter()
                    .map(entry_json)
                    .collect::<Result<Vec<_>, _>>()?;
                print_json(&list)?;
            } else {
                println!("{:>6}  {:<23}  {:<16}  WHAT", "SEQ", "WHEN (UTC)", "WHO");
                for e in &entries {
                    if crate::out::closed() {
                        break;
                    }
                    let rec = e
                        .record
                        .map(|(k, id)| format!(": {k} {id}"))
                        .unwrap_or_default();
                    println!(
                        "{:>6}  {:<23}  {:<16}  {}{rec}",
                        e.seq,
                        when(e.at_ms),
                        e.actor,
                        describe(&e.action)
                    );
                }
            }
        }
    }
    Ok(())
}

/// An audit time as people read it: `2026-12-03 11:10:13.985` (UTC).
pub(super) fn when(at_ms: u64) -> String {
    let date = fieldkit_domain::Date::from_unix_ms(at_ms);
    let in_day = at_ms % 86_400_000;
    format!(
        "{date} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

fn plural(n: u32, one: &str, many: &str) -> String {
    crate::out::plural(u64::from(n), one, many)
}

/// What an entry records, in words.
fn describe(a: &AuditAction) -> String {
    match a {
        AuditAction::Init => "vault created".into(),
        AuditAction::LoginAttempt => "sign-in attempt".into(),
        AuditAction::LoginOk => "signed in".into(),
        AuditAction::LoginFailed => "sign-in failed (wrong PIN)".into(),
        AuditAction::Wiped => "key slots erased after too many failed sign-ins".into(),
        AuditAction::Recovery => "access restored with the recovery key".into(),
        AuditAction::Read => "record opened".into(),
        AuditAction::Write => "record saved".into(),
        AuditAction::Merge => "record merged from outside".into(),
        AuditAction::MatchReviewed { confirmed: true } => {
            "potential match confirmed (same child)".into()
        }
        AuditAction::MatchReviewed { confirmed: false } => "potential match rejected".into(),
        AuditAction::Search { results } => {
            format!("search, {} shown", plural(*results, "result", "results"))
        }
        AuditAction::BulkRead { records } => {
            format!("{} read at once", plural(*records, "record", "records"))
        }
        AuditAction::Export { records, format } => {
            format!(
                "{} exported ({format})",
                plural(*records, "record", "records")
            )
        }
        AuditAction::Import { records, format } => {
            format!(
                "{} imported ({format})",
                plural(*records, "record", "records")
            )
        }
        AuditAction::CaseworkerAdded { username } => format!("caseworker {username} added"),
        AuditAction::CredentialChanged { username } => format!("PIN changed for {username}"),
        AuditAction::RosterRead { caseworkers } => format!(
            "caseworker list read, {} shown",
            plural(*caseworkers, "caseworker", "caseworkers")
        ),
        AuditAction::CaseworkerRemoved { username, epoch } => {
            format!("caseworker {username} removed, keys rotated (epoch {epoch})")
        }
        AuditAction::RollbackAccepted { findings } => {
            format!("vault accepted as it is despite: {findings}")
        }
        AuditAction::List { kind, results } => {
            format!(
                "{kind} list, {} shown",
                plural(*results, "record", "records")
            )
        }
        AuditAction::SealedInHardware {
            hardware,
            still_in_software,
        } => format!(
            "key slot sealed in the {} ({} still protected by the PIN alone)",
            if hardware == "tpm2" { "TPM" } else { hardware },
            plural(*still_in_software, "caseworker", "caseworkers")
        ),
        AuditAction::PhotoAdded { slot } => format!("photo {slot} attached"),
        AuditAction::PhotoOpened { slot } => format!("photo {slot} opened"),
        AuditAction::PhotoRemoved { slot } => format!("photo {slot} removed"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An entry as JSON: times as RFC 3339 and milliseconds, the action as words and as data,
/// hashes in hex.
fn entry_json(e: &AuditEntry) -> Result<serde_json::Value, fieldkit_vault::VaultError> {
    Ok(serde_json::json!({
        "seq": e.seq,
        "at": format!("{}Z", when(e.at_ms).replacen(' ', "T", 1)),
        "at_ms": e.at_ms,
        "actor": e.actor,
        "what": describe(&e.action),
        "action": e.action,
        "record": e.record.map(|(k, id)| serde_json::json!({"kind": k, "id": id})),
        "prev": hex(&e.prev),
        "hash": hex(&e.hash()?),
    }))
}

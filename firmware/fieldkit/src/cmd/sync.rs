//! `fieldkit sync`: sync with the hub now (`run`), or say whether and how this kit is
//! provisioned for sync (`status`, no sign-in needed).

use std::time::Duration;

use anyhow::Context;
use fieldkit_domain::RecordKind;
use fieldkit_kitsync::{Exchange, HttpLink, KitSync};
use fieldkit_sync::message::{Priority, Status};
use fieldkit_sync::seal::KitId;
use serde_json::json;
use x25519_dalek::PublicKey;

use super::{Ctx, now_ms, print_json};

/// `fieldkit sync …`
#[derive(Debug, clap::Subcommand)]
pub enum SyncCommand {
    /// Sync with the hub now over HTTP (any IP network, the cellular modem's included):
    /// send what waits, apply what the hub sends, until both sides are done.
    Run(RunArgs),
    /// Whether this kit is provisioned for sync, its kit id (no sign-in needed).
    Status(StatusArgs),
}

/// Arguments of `sync run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The hub's address, instead of the one provisioned.
    #[arg(long, value_name = "URL")]
    pub hub_address: Option<String>,
    /// Stop after this many exchanges even if not done.
    #[arg(long, default_value_t = 50)]
    pub rounds: u32,
    /// Largest frame, bytes (smaller frames cut a record into more fragments).
    #[arg(long, default_value_t = HttpLink::MTU)]
    pub mtu: usize,
    /// Most frames per exchange.
    #[arg(long, default_value_t = 64)]
    pub frames: usize,
    /// Seconds before an unacknowledged fragment is sent again.
    #[arg(long, default_value_t = 2)]
    pub retry_s: u64,
    /// Seconds to wait for the hub's answer.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
    /// Stop after this many failed exchanges in a row (a request or its answer lost, the
    /// hub unreachable); each failed one waits the retry delay first. When none reached the
    /// hub, the command fails.
    #[arg(long, default_value_t = 3)]
    pub give_up_after: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sync status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a sync subcommand.
pub fn run(ctx: &Ctx, c: SyncCommand) -> anyhow::Result<()> {
    match c {
        SyncCommand::Run(a) => run_now(ctx, &a),
        SyncCommand::Status(a) => status(ctx, &a),
    }
}

/// The status line's words for a kit's sync provisioning (also the kiosk's).
pub fn provisioned_line(vault: &fieldkit_vault::Vault) -> anyhow::Result<String> {
    Ok(match vault.sync_public()? {
        Some(p) => format!("sync: kit {}", KitId::of(&PublicKey::from(p))),
        None => "sync: not provisioned (works offline)".to_string(),
    })
}

fn status(ctx: &Ctx, a: &StatusArgs) -> anyhow::Result<()> {
    let vault = ctx.open_vault()?;
    let public = vault.sync_public()?;
    if a.json {
        return print_json(&json!({
            "provisioned": public.is_some(),
            "kit_id": public.map(|p| KitId::of(&PublicKey::from(p)).to_string()),
        }));
    }
    println!("{}", provisioned_line(&vault)?);
    Ok(())
}

fn run_now(ctx: &Ctx, a: &RunArgs) -> anyhow::Result<()> {
    let mut kit = ctx.kit()?;
    let Some(mut engine) = KitSync::load(kit.session()).context("reading the sync state")? else {
        anyhow::bail!(fieldkit_kitsync::SyncError::NotProvisioned);
    };
    kit.set_outbox(Box::new(engine.outbox_hook()));
    // Messages whose transfer a previous run started (after a power cut or a kill).
    let started: Vec<_> = engine
        .outbox()
        .messages()
        .iter()
        .filter(|m| m.fragments() > 0)
        .collect();
    let resumed = json!({
        "messages": started.len(),
        "fragments": started.iter().map(|m| u64::from(m.fragments())).sum::<u64>(),
        "fragments_acknowledged": started
            .iter()
            .map(|m| u64::from(m.fragments()) - m.unacked() as u64)
            .sum::<u64>(),
    });
    if let Some(addr) = &a.hub_address {
        engine.set_hub_address(addr);
    }
    if engine.hub_address().is_empty() {
        anyhow::bail!("no hub address: provisioned without --hub-address; give --hub-address URL");
    }
    engine.set_retry_ms(a.retry_s.saturating_mul(1000));
    let mut link = HttpLink::new(
        engine.hub_address(),
        engine.kit_id(),
        Duration::from_secs(a.timeout_s.max(1)),
    )
    .with_limits(a.mtu, a.frames);
    let session = kit.session_mut();
    let records = [RecordKind::Case, RecordKind::TracingRequest]
        .iter()
        .map(|k| session.count(*k))
        .sum::<Result<u64, _>>()?;
    let status = Status {
        commits: session.commit_counter()?,
        audit_head: session.audit_head()?.hash,
        records,
    };
    engine.queue_status(session, status)?;
    let mut total = Exchange::default();
    let mut rounds = 0;
    let mut failed = 0u32;
    let mut failed_in_a_row = 0u32;
    let mut last_failure = None;
    let mut done = false;
    while rounds < a.rounds {
        engine.collect(kit.session_mut(), now_ms())?;
        let ex = match engine.exchange(&mut kit, &mut link, now_ms(), Priority::Bulk) {
            Ok(ex) => {
                failed_in_a_row = 0;
                ex
            }
            // The request or its answer was lost (a network that drops, a hub restarting):
            // what the hub did not acknowledge goes again after the retry delay, and what
            // it sent again too. Nothing was applied or acknowledged from this exchange.
            Err(fieldkit_kitsync::SyncError::Link(e)) => {
                rounds += 1;
                failed += 1;
                failed_in_a_row += 1;
                tracing::warn!(round = rounds, error = %e, "sync exchange failed");
                last_failure = Some(e);
                if failed_in_a_row >= a.give_up_after.max(1) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(
                    a.retry_s.saturating_mul(1000).max(100),
                ));
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("syncing with {}", engine.hub_address()));
            }
        };
        rounds += 1;
        total.frames_sent += ex.frames_sent;
        total.bytes_sent += ex.bytes_sent;
        total.frames_received += ex.frames_received;
        total.frames_refused += ex.frames_refused;
        total.messages_applied += ex.messages_applied;
        total.messages_ignored += ex.messages_ignored;
        total.records_changed += ex.records_changed;
        tracing::info!(
            round = rounds,
            sent = ex.frames_sent,
            received = ex.frames_received,
            waiting = engine.unacked_fragments(),
            "sync exchange"
        );
        let idle = ex.frames_sent == 0 && ex.frames_received == 0;
        if idle && engine.pending().0 == 0 && kit.session().queued(1)?.is_empty() {
            done = true;
            break;
        }
        if idle {
            // Waiting for acknowledgements: the fragments go again after the retry delay.
            std::thread::sleep(Duration::from_millis(
                a.retry_s.saturating_mul(1000).max(100),
            ));
        }
    }
    if let Some(e) = last_failure
        && failed == rounds
    {
        // Not one exchange reached the hub: say why, as an error.
        return Err(e).with_context(|| format!("syncing with {}", engine.hub_address()));
    }
    let (waiting, waiting_bytes) = engine.pending();
    if a.json {
        print_json(&json!({
            "kit_id": engine.kit_id().to_string(),
            "hub": engine.hub_address(),
            "done": done,
            "rounds": rounds,
            "frames_sent": total.frames_sent,
            "bytes_sent": total.bytes_sent,
            "frames_received": total.frames_received,
            "frames_refused": total.frames_refused,
            "exchanges_failed": failed,
            "messages_applied": total.messages_applied,
            "records_changed": total.records_changed,
            "messages_waiting": waiting,
            "bytes_waiting": waiting_bytes,
            "resumed": resumed,
        }))?;
    } else {
        println!(
            "sync with {} (kit {}): {} after {rounds} exchanges ({failed} failed); sent {} frames ({} bytes), received {} ({} refused), {} records changed here; {waiting} messages waiting",
            engine.hub_address(),
            engine.kit_id(),
            if done { "done" } else { "not finished" },
            total.frames_sent,
            total.bytes_sent,
            total.frames_received,
            total.frames_refused,
            total.records_changed,
        );
    }
    Ok(())
}

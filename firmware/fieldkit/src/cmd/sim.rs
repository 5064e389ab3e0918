//! `fieldkit sim`: field trials in simulation. `reunion` runs a hub and two kits in one
//! process over the simulated radios (kit A on LoRa only, kit B on cellular and HTTP) and
//! reports whether both kits got the hub's match notice, the rounds, bytes and time on air,
//! the frames refused and any record lost or duplicated.

use anyhow::Context;
use fieldkit_sim::reunion::{ReunionConfig, run};

/// Simulated field trials.
#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// A child registered on a LoRa-only kit, the parents' tracing request on a cellular kit:
    /// does the hub's match notice reach both?
    Reunion(ReunionArgs),
}

/// Options of `fieldkit sim reunion`.
#[derive(Debug, clap::Args)]
pub struct ReunionArgs {
    /// Frames lost on the air and on the IP path, percent (0–100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub loss: u8,
    /// Cut kit A's power right after its first transmission and restart it from storage.
    #[arg(long)]
    pub kill_during_transfer: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs one sim subcommand.
pub fn run_sim(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Reunion(a) => reunion(a),
    }
}

fn reunion(a: ReunionArgs) -> anyhow::Result<()> {
    let report = run(&ReunionConfig {
        loss_percent: a.loss,
        kill_during_transfer: a.kill_during_transfer,
        ..ReunionConfig::default()
    })
    .context("running the reunion trial")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let yes = |b: bool| if b { "yes" } else { "NO" };
        println!("reunion trial at {} % frame loss", report.loss_percent);
        println!(
            "  kit A (LoRa) holds the match notice:      {}",
            yes(report.kit_a_notified)
        );
        println!(
            "  kit B (cellular) holds the match notice:  {}",
            yes(report.kit_b_notified)
        );
        println!(
            "  review decision from B reached A:         {}",
            yes(report.review_reached_a)
        );
        println!(
            "  rounds to the notice / in all:            {} / {}",
            report.rounds_to_notice, report.rounds
        );
        println!(
            "  kit A restarted mid-transfer:             {}",
            yes(report.kit_a_restarted)
        );
        println!(
            "  LoRa: {} bytes, {} ms on air; IP: {} bytes",
            report.lora_bytes, report.lora_airtime_ms, report.ip_bytes
        );
        println!(
            "  frames refused: {}; records lost: {}; notices duplicated: {}",
            report.frames_rejected, report.records_lost, report.notices_duplicated
        );
        if let Some(n) = report.notices.first() {
            println!("  notice: {} match, {:.1} bits", n.likelihood, n.score_bits);
            for (field, weight, detail) in &n.evidence {
                println!("    {field:<22} {weight:>+6.1}  {detail}");
            }
        }
    }
    let ok = report.kit_a_notified
        && report.kit_b_notified
        && report.review_reached_a
        && report.records_lost == 0
        && report.notices_duplicated == 0;
    anyhow::ensure!(ok, "the trial did not converge");
    Ok(())
}

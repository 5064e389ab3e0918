//! `fieldkit power`: probe, decode and simulate (owned by the power work; being written).

/// Technician commands for the power system.
#[derive(Debug, clap::Subcommand)]
pub enum PowerCommand {}

/// Runs one power subcommand.
pub fn run(cmd: PowerCommand) -> anyhow::Result<()> {
    match cmd {}
}

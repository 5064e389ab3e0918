//! `fieldkit trace`: family-tracing matches (owned by the matcher work; being written).

/// Family-tracing commands.
#[derive(Debug, clap::Subcommand)]
pub enum TraceCommand {}

/// Runs one trace subcommand.
pub fn run(cmd: TraceCommand) -> anyhow::Result<()> {
    match cmd {}
}

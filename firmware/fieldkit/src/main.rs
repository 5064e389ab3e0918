//! The `fieldkit` binary: kiosk daemon and command-line tool.

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Debug, Parser)]
#[command(name = "fieldkit", version, about = "Child-protection case management for solar-powered field kits")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Power system: probe live readings, decode captures, simulate a solar kit.
    #[command(subcommand)]
    Power(cmd::power::PowerCommand),
    /// Family tracing: match tracing requests against cases.
    #[command(subcommand)]
    Trace(cmd::trace::TraceCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Power(c) => cmd::power::run(c),
        Command::Trace(c) => cmd::trace::run(c),
    }
}

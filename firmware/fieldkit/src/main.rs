//! The `fieldkit` binary: the kit's command-line tool (and, later, its kiosk daemon).
//!
//! **Architecture invariant:** only this crate opens devices, reads the configuration, reads the
//! clock for records and installs logging; the libraries get all of that passed in.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod clock;
mod cmd;
mod config;
mod harden;

#[derive(Debug, Parser)]
#[command(
    name = "fieldkit",
    version,
    about = "Child-protection case management for solar-powered field kits",
    long_about = "Child-protection case management for solar-powered field kits: an encrypted case \
                  vault, family tracing, and the kit's power system. Credentials are asked on the \
                  terminal, or read one per line from standard input with --pin-stdin."
)]
struct Cli {
    /// Configuration file (default /etc/fieldkit/fieldkit.toml when it exists).
    #[arg(long, global = true, env = "FIELDKIT_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory holding the vault (default: data_dir from the configuration).
    #[arg(long, global = true, env = "FIELDKIT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Caseworker to sign in as.
    #[arg(long, global = true, env = "FIELDKIT_USER")]
    user: Option<String>,
    /// Read PINs from standard input, one per line, instead of asking on the terminal.
    #[arg(long, global = true)]
    pin_stdin: bool,
    /// Log filter (overrides the configuration), e.g. `debug` or `info,fieldkit_vault=debug`.
    #[arg(long, global = true, env = "FIELDKIT_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the kit's daemon: power policy over the board's sensors (or simulated ones).
    Kiosk(cmd::kiosk::KioskArgs),
    /// Create the vault and its first caseworker; prints the recovery key once.
    Init(cmd::init::InitArgs),
    /// Manage caseworkers.
    #[command(subcommand)]
    Caseworker(cmd::caseworker::CaseworkerCommand),
    /// Sign in with the recovery key and set a caseworker's new PIN (after a wipe, or lost PINs).
    Recover(cmd::recover::RecoverArgs),
    /// Register and manage children's cases.
    #[command(subcommand)]
    Case(cmd::records::CaseCommand),
    /// Record and manage families' tracing requests.
    #[command(subcommand)]
    Tracing(cmd::records::TracingCommand),
    /// Check or list the audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Write records to an encrypted bundle or to Primero JSON.
    Export(cmd::exchange::ExportArgs),
    /// Merge records from a bundle or from Primero JSON.
    Import(cmd::exchange::ImportArgs),
    /// The configuration file.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Power system: probe live readings, decode captures, simulate a solar kit.
    #[command(subcommand)]
    Power(cmd::power::PowerCommand),
    /// Family tracing: match tracing requests against cases.
    #[command(subcommand)]
    Trace(cmd::trace::TraceCommand),
    /// Field trials in simulation (sync: `reunion`).
    #[command(subcommand)]
    Sim(cmd::sim::SimCommand),
}

fn install_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to standard error, so standard output stays clean for --json.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldkit: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Before any secret is read or any file written.
    harden::harden_process()?;
    let config = config::Config::load(cli.config.as_deref())?;
    let filter = cli
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| config.log.filter.clone());
    install_logging(&filter);
    let ctx = cmd::Ctx {
        data_dir: cli
            .data_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.clone()),
        config,
        user: cli.user.clone(),
        pin_stdin: cli.pin_stdin,
    };
    match cli.command {
        Command::Kiosk(a) => cmd::kiosk::run(&ctx, a),
        Command::Init(a) => cmd::init::run(&ctx, a),
        Command::Caseworker(c) => cmd::caseworker::run(&ctx, c),
        Command::Recover(a) => cmd::recover::run(&ctx, a),
        Command::Case(c) => cmd::records::run_case(&ctx, c),
        Command::Tracing(c) => cmd::records::run_tracing(&ctx, c),
        Command::Audit(c) => cmd::audit::run(&ctx, c),
        Command::Export(a) => cmd::exchange::export(&ctx, a),
        Command::Import(a) => cmd::exchange::import(&ctx, a),
        Command::Config(c) => cmd::config::run(&ctx, c),
        Command::Power(c) => cmd::power::run(c),
        Command::Trace(c) => cmd::trace::run_with(&ctx, c),
        Command::Sim(c) => cmd::sim::run_sim(c),
    }
}

//! The `fieldkit` binary: the kit's command-line tool and its kiosk daemon (`fieldkit kiosk`).
//!
//! **Architecture invariant:** only this crate opens devices, reads the configuration, reads the
//! clock for records and installs logging; the libraries get all of that passed in.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// Printing that never panics (see `out`): these shadow the standard library's macros in every
// module below, so a closed pipe or a full disk under `>` ends a command quietly or with a
// message, never with a panic.
macro_rules! println {
    () => { $crate::out::stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::stdout(format_args!($($arg)*), true) };
}
macro_rules! print {
    ($($arg:tt)*) => { $crate::out::stdout(format_args!($($arg)*), false) };
}
macro_rules! eprintln {
    () => { $crate::out::stderr(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::stderr(format_args!($($arg)*), true) };
}
#[allow(unused_macros)] // for the next command that prints without a newline
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::out::stderr(format_args!($($arg)*), false) };
}

mod out;

mod clock;
mod cmd;
mod config;
mod harden;
mod progress;

/// Where each subcommand's `--help` lists the options every command takes, apart from its own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "fieldkit",
    version,
    about = "Child-protection case management for solar-powered field kits",
    long_about = "Child-protection case management for solar-powered field kits: an encrypted case \
                  vault, family tracing, and the kit's power system. Credentials are asked on the \
                  terminal, or read one per line from standard input (--pin-stdin), from an \
                  open file descriptor (--pin-fd) or from a file only its owner can read \
                  (--pin-file); never from the command line or the environment."
)]
struct Cli {
    /// Configuration file (default /etc/fieldkit/fieldkit.toml when it exists).
    #[arg(long, global = true, env = "FIELDKIT_CONFIG", help_heading = GLOBAL)]
    config: Option<PathBuf>,
    /// Data directory holding the vault (default: data_dir from the configuration).
    #[arg(long, global = true, env = "FIELDKIT_DATA_DIR", help_heading = GLOBAL)]
    data_dir: Option<PathBuf>,
    /// Caseworker to sign in as.
    #[arg(long, global = true, env = "FIELDKIT_USER", help_heading = GLOBAL)]
    user: Option<String>,
    /// Read PINs from standard input, one per line, instead of asking on the terminal.
    #[arg(long, global = true, help_heading = GLOBAL, conflicts_with_all = ["pin_fd", "pin_file"])]
    pin_stdin: bool,
    /// Read PINs, one per line, from this open file descriptor (e.g. `--pin-fd 3 3<pinfile`),
    /// leaving standard input free for `--from -`.
    #[arg(long, global = true, value_name = "FD", help_heading = GLOBAL, conflicts_with = "pin_file")]
    pin_fd: Option<u32>,
    /// Read PINs, one per line, from a file that only its owner may read or write (mode 600).
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pin_file: Option<PathBuf>,
    /// How long to wait, in seconds, while another fieldkit process (the kiosk, an import) holds
    /// the vault.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60, help_heading = GLOBAL)]
    wait: u64,
    /// Fail at once if another fieldkit process holds the vault, instead of waiting.
    #[arg(long, global = true, help_heading = GLOBAL, conflicts_with = "wait")]
    no_wait: bool,
    /// Log filter (overrides the configuration), e.g. `debug` or `info,fieldkit_vault=debug`.
    #[arg(long, global = true, env = "FIELDKIT_LOG", help_heading = GLOBAL)]
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
    /// Provision a new kit: vault, supervisor, TPM enrolment, sync identity and hub key.
    Provision(cmd::provision::ProvisionArgs),
    /// Sync with the hub, or show this kit's sync status.
    #[command(subcommand)]
    Sync(cmd::sync::SyncCommand),
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
    /// The kit's TPM: how far the vault's key slots have moved into it.
    #[command(subcommand)]
    Tpm(cmd::tpm::TpmCommand),
    /// The coordinators' hub: enrol kits, serve them, see what they sent.
    #[command(subcommand)]
    Hub(cmd::hub::HubCommand),
    /// Field trials in simulation (sync: `reunion`).
    #[cfg(feature = "simulation")]
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
    let result = run(cli);
    let output = out::finish();
    match (result, output) {
        (Err(e), _) => {
            eprintln!("fieldkit: {}", error_text(&e));
            std::process::ExitCode::FAILURE
        }
        // The reader of our output went away (`| head`): what it wanted it got; leave quietly,
        // as Unix tools do.
        (Ok(()), Err(e)) if out::is_closed_pipe(&e) => std::process::ExitCode::SUCCESS,
        (Ok(()), Err(e)) => {
            eprintln!("fieldkit: writing to standard output: {e}");
            std::process::ExitCode::FAILURE
        }
        (Ok(()), Ok(())) => std::process::ExitCode::SUCCESS,
    }
}

/// An error and its causes on one line, `outer: inner: root`. A library error often quotes its
/// source in its own message and also returns it as its source, which `{:#}` then printed twice
/// (`Permission denied (os error 13): Permission denied (os error 13)`): a cause whose text an
/// outer message already holds is left out.
fn error_text(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
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
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.clone());
    let seams = cmd::hardware::Seams::configured(&config.security, &data_dir)?;
    let ctx = cmd::Ctx {
        data_dir,
        config,
        user: cli.user.clone(),
        pins: cmd::PinSource::from_flags(cli.pin_stdin, cli.pin_fd, cli.pin_file.as_deref())?,
        lock_wait: (!cli.no_wait).then(|| std::time::Duration::from_secs(cli.wait)),
        seams,
    };
    match cli.command {
        Command::Kiosk(a) => cmd::kiosk::run(&ctx, a),
        Command::Init(a) => cmd::init::run(&ctx, a),
        Command::Provision(a) => cmd::provision::run(&ctx, a),
        Command::Sync(c) => cmd::sync::run(&ctx, c),
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
        Command::Hub(c) => cmd::hub::run(&ctx, c),
        Command::Tpm(c) => cmd::tpm::run(&ctx, c),
        #[cfg(feature = "simulation")]
        Command::Sim(c) => cmd::sim::run_sim(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("io: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_cause_quoted_by_its_parent_is_printed_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let text = io.to_string();
        let e = anyhow::Error::new(Quoting(io)).context("opening /data/vault.redb");
        assert_eq!(
            error_text(&e),
            format!("opening /data/vault.redb: io: {text}")
        );
        let plain = anyhow::anyhow!("root").context("middle").context("top");
        assert_eq!(error_text(&plain), "top: middle: root");
    }
}

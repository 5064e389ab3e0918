//! The process the vault scenarios kill.
//!
//! ```text
//! vault-writer write   <vault> <seed> <round-seed> <now-ms> <pin-generation>
//! vault-writer attempt <vault> <user> <credential> <now-ms>
//! vault-writer hold    <vault>
//! vault-writer open    <vault>
//! ```
//!
//! `write` runs the mixed workload of `fieldkit_scenarios::workload` until it is killed: it
//! signs in with the PIN of `pin-generation`, reads what the vault holds (a vault killed
//! mid-step is simply continued), then takes steps chosen by `round-seed`: single saves,
//! batches (one transaction), follow-up edits, merges of another kit's changes, wrong PINs and
//! sign-ins, PIN changes, new caseworkers. Each step is announced before it starts and
//! acknowledged only after the vault returned from it, which is when it is on disk, so at a
//! kill the scenario knows the one step that may be half done:
//!
//! ```text
//! begin <step>          (create <i> | batch <from> <to> | edit <i> <n> | merge <i> <m> |
//! ack <step>             wrong | signin | pin <k> | caseworker <k>)
//! ready <cases>
//! ```
//!
//! `attempt` makes one sign-in attempt and prints `ok`, `wrong <failures>`,
//! `locked <failures> <retry-after-s>`, `wiped` or `error <message>`. It logs to stderr through
//! `tracing` (honouring `RUST_LOG`), so a scenario can wait for the vault's
//! `sign-in attempt recorded` and kill it before the check is done.
//!
//! `hold` opens the vault and keeps it open until stdin closes, printing `holding`; `open`
//! tries to open it and prints `opened`, `in-use` or `error <message>`.

use fieldkit_vault::{OpenError, SignInError};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use fieldkit_scenarios::Rng;
use fieldkit_scenarios::workload::{Model, Step, Workload};
use fieldkit_vault::{OpenOptions, Vault};

type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", path, seed, round_seed, now, pin] => write(
            Path::new(path),
            seed.parse().unwrap_or(0),
            round_seed.parse().unwrap_or(0),
            now.parse().unwrap_or(0),
            pin.parse().unwrap_or(0),
        ),
        ["attempt", path, user, credential, now] => attempt(
            Path::new(path),
            user,
            credential.as_bytes(),
            now.parse().unwrap_or(0),
        ),
        ["hold", path] => hold(Path::new(path)),
        ["open", path] => open(Path::new(path)),
        _ => Err("usage: vault-writer write|attempt|hold|open ... (see the source)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vault-writer: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints one line and flushes it, so the scenario sees it before the next save starts.
fn say(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn write(
    path: &Path,
    seed: u64,
    round_seed: u64,
    now_ms: u64,
    pin_generation: u64,
) -> Result<(), Failure> {
    let model = Model {
        pin: pin_generation,
        ..Model::default()
    };
    let mut w = Workload::new(seed, model, || Vault::open(path, OpenOptions::default()));
    let mut rng = Rng::new(round_seed);
    say("begin signin")?;
    w.run(Step::SignIn, now_ms)?;
    say("ack signin")?;
    w.resync(now_ms)?;
    say(&format!("ready {}", w.model.created))?;
    for tick in 1.. {
        let step = w.choose(&mut rng);
        say(&format!("begin {step}"))?;
        w.run(step, now_ms + tick)?;
        say(&format!("ack {step}"))?;
    }
    Ok(())
}

fn attempt(path: &Path, user: &str, credential: &[u8], now_ms: u64) -> Result<(), Failure> {
    let vault = Vault::open(path, OpenOptions::default())?;
    match vault.unlock(user, credential, now_ms) {
        Ok(_) => say("ok"),
        Err(SignInError::WrongCredential { failures }) => say(&format!("wrong {failures}")),
        Err(SignInError::LockedOut {
            failures,
            retry_after_s,
        }) => say(&format!("locked {failures} {retry_after_s}")),
        Err(SignInError::Wiped) => say("wiped"),
        Err(e) => say(&format!("error {e}")),
    }
}

fn hold(path: &Path) -> Result<(), Failure> {
    let _vault = Vault::open(path, OpenOptions::default())?;
    say("holding")?;
    // Keep the vault open until the scenario closes our stdin.
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    Ok(())
}

fn open(path: &Path) -> Result<(), Failure> {
    match Vault::open(path, OpenOptions::default()) {
        Ok(_) => say("opened"),
        Err(OpenError::InUse(_)) => say("in-use"),
        Err(e) => say(&format!("error {e}")),
    }
}

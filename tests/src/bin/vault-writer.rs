//! The process the vault scenarios kill.
//!
//! ```text
//! vault-writer write   <vault> <seed> <round-seed> <now-ms>
//! vault-writer attempt <vault> <user> <credential> <now-ms>
//! vault-writer hold    <vault>
//! vault-writer open    <vault>
//! ```
//!
//! `write` signs in and saves cases until it is killed: single saves, batches (one transaction)
//! and follow-up edits, chosen by `round-seed`. Case `i` is always case `i` of `seed` (see
//! `fieldkit_scenarios::cases`), and the next case is the vault's case count, so a vault killed
//! mid-save is simply continued. Every save is reported on stdout only after the vault returned
//! from it, which is when it is on disk:
//!
//! ```text
//! ready <next-index>
//! ack create <i>
//! ack batch <from> <to>        (from..to, one transaction)
//! ack edit <i> <edit-count>
//! ```
//!
//! `attempt` makes one sign-in attempt and prints `ok`, `wrong <failures>`,
//! `locked <failures> <retry-after-s>`, `wiped` or `error <message>`. It logs to stderr through
//! `tracing` (honouring `RUST_LOG`), so a scenario can wait for the vault's
//! `sign-in attempt recorded` and kill it before the check is done.
//!
//! `hold` opens the vault and keeps it open until stdin closes, printing `holding`; `open`
//! tries to open it and prints `opened`, `in-use` or `error <message>`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use fieldkit_domain::{Record, RecordKind};
use fieldkit_scenarios::{PIN, USER, cases, edit_count, edited_record};
use fieldkit_vault::{OpenOptions, Vault, VaultError};

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
        ["write", path, seed, round_seed, now] => write(
            Path::new(path),
            seed.parse().unwrap_or(0),
            round_seed.parse().unwrap_or(0),
            now.parse().unwrap_or(0),
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

fn write(path: &Path, seed: u64, round_seed: u64, now_ms: u64) -> Result<(), Failure> {
    let vault = Vault::open(path, OpenOptions::default())?;
    let mut session = vault.unlock(USER, PIN, now_ms)?;
    let mut next = session.count(RecordKind::Case)?;
    say(&format!("ready {next}"))?;
    let mut rng = cases::Rng::new(round_seed);
    let mut tick = 0u64;
    loop {
        tick += 1;
        let now = now_ms + tick;
        let roll = rng.below(100);
        if roll < 20 && next > 0 {
            let i = rng.below(next);
            let id = cases::case_id(seed, i);
            let opened = session.get(RecordKind::Case, id, now)?;
            let Record::Case(stored) = &opened.record else {
                return Err(format!("record {i} is not a case").into());
            };
            let n = edit_count(stored) + 1;
            session.update(
                RecordKind::Case,
                id,
                &edited_record(seed, i, n).to_json(),
                now,
            )?;
            say(&format!("ack edit {i} {n}"))?;
        } else if roll < 45 {
            let len = rng.range(2, 8) as u64;
            let batch: Vec<Record> = (next..next + len)
                .map(|i| edited_record(seed, i, 0))
                .collect();
            session.create_many(&batch, now)?;
            say(&format!("ack batch {next} {}", next + len))?;
            next += len;
        } else {
            session.create(&edited_record(seed, next, 0), now)?;
            say(&format!("ack create {next}"))?;
            next += 1;
        }
    }
}

fn attempt(path: &Path, user: &str, credential: &[u8], now_ms: u64) -> Result<(), Failure> {
    let vault = Vault::open(path, OpenOptions::default())?;
    match vault.unlock(user, credential, now_ms) {
        Ok(_) => say("ok"),
        Err(VaultError::WrongCredential { failures }) => say(&format!("wrong {failures}")),
        Err(VaultError::LockedOut {
            failures,
            retry_after_s,
        }) => say(&format!("locked {failures} {retry_after_s}")),
        Err(VaultError::Wiped) => say("wiped"),
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
        Err(VaultError::InUse(_)) => say("in-use"),
        Err(e) => say(&format!("error {e}")),
    }
}

//! The failed-attempt counter survives a process killed between recording an attempt and
//! finishing the check: an attacker who kills the kiosk (or cuts its power) as soon as a guess
//! starts gets no free guesses.
#![allow(clippy::unwrap_used)]

use fieldkit_vault::SignInError;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fieldkit_scenarios::{NOW_MS, PIN, USER, WRONG_PIN, create_vault};
use fieldkit_vault::{CredentialPolicy, OpenOptions, Vault};

/// What one attempt in a child process came to.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// Killed after `sign-in attempt recorded`, before the answer.
    KilledMidCheck,
    /// The answer came before the kill (the check outran us): what it printed.
    Answered(String),
}

/// Makes a sign-in attempt in a child process and kills it with SIGKILL as soon as the vault
/// logs that the attempt is recorded.
fn attempt_and_kill(path: &Path, pin: &[u8], now: u64) -> Attempt {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vault-writer"))
        .args([
            "attempt",
            path.to_str().unwrap(),
            USER,
            std::str::from_utf8(pin).unwrap(),
            &now.to_string(),
        ])
        .env("RUST_LOG", "fieldkit_vault=debug")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("sign-in attempt recorded") {
                tx.send(()).ok();
            }
            seen.push(line);
        }
        seen
    });
    let recorded = rx.recv_timeout(Duration::from_secs(60)).is_ok();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    let mut answer = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut answer)
        .unwrap();
    assert!(
        recorded,
        "the attempt never logged `sign-in attempt recorded`; stderr: {log:?}; stdout: {answer}"
    );
    if status.signal() == Some(9) && answer.is_empty() {
        Attempt::KilledMidCheck
    } else {
        Attempt::Answered(answer.trim().to_string())
    }
}

fn failures(path: &Path) -> u32 {
    Vault::open(path, OpenOptions::default())
        .unwrap()
        .failed_attempts()
        .unwrap()
}

#[test]
fn a_wrong_pin_counts_even_when_the_check_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let path = Vault::file_in(dir.path());
    // Three free attempts, then 30 s, doubling.
    let policy = CredentialPolicy::default();
    drop(create_vault(&path, policy).unwrap());
    let mut killed = 0;
    let mut now = NOW_MS;

    // Three guesses, each killed before its answer: each still counts.
    for n in 1..=3u32 {
        now += 1_000;
        if attempt_and_kill(&path, WRONG_PIN, now) == Attempt::KilledMidCheck {
            killed += 1;
        }
        assert_eq!(failures(&path), n, "killed attempt {n} did not count");
    }
    // The right PIN is now refused until the delay has passed.
    now += 1_000;
    match Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, now)
    {
        Err(SignInError::LockedOut {
            failures: 3,
            retry_after_s,
        }) => assert_eq!(retry_after_s, 29),
        other => panic!("the right PIN after three killed guesses: {other:?}"),
    }
    assert_eq!(failures(&path), 3);

    // After the delay, another killed guess counts and doubles the delay.
    now += 30_000;
    if attempt_and_kill(&path, WRONG_PIN, now) == Attempt::KilledMidCheck {
        killed += 1;
    }
    assert_eq!(failures(&path), 4);
    match Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, now + 1_000)
    {
        Err(SignInError::LockedOut {
            failures: 4,
            retry_after_s,
        }) => assert_eq!(retry_after_s, 59),
        other => panic!("the right PIN after four killed guesses: {other:?}"),
    }

    // A guess made while locked out is refused before any check, and changes nothing.
    let early = Command::new(env!("CARGO_BIN_EXE_vault-writer"))
        .args([
            "attempt",
            path.to_str().unwrap(),
            USER,
            std::str::from_utf8(WRONG_PIN).unwrap(),
            &(now + 2_000).to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&early.stdout).trim(), "locked 4 58");
    assert_eq!(failures(&path), 4);

    // Once the delay is over, the right PIN signs in and clears the counter.
    let s = Vault::open(&path, OpenOptions::default())
        .unwrap()
        .unlock(USER, PIN, now + 61_000)
        .unwrap();
    drop(s);
    assert_eq!(failures(&path), 0);
    println!("lockout: {killed} of 4 wrong-PIN attempts killed mid-check; every one counted");
    assert!(
        killed >= 1,
        "no attempt was killed before its check finished"
    );
}

//! A writer process running the kit's mixed workload (single saves, batches, edits, merges,
//! wrong PINs, sign-ins, PIN changes, new caseworkers) is killed with SIGKILL at random moments;
//! after every kill the vault reopens and holds exactly what the writer acknowledged, plus, at
//! most, the one step it had announced and not acknowledged, whole: never part of a batch,
//! never a lost failed sign-in.
//!
//! 120 kills by default; `FIELDKIT_CRASH_KILLS=N` for more. The seed varies from run to run and
//! is printed; `FIELDKIT_CRASH_SEED=S` replays a run. Kills land anywhere: while the file is
//! opened and checked, during sign-in, in the middle of any step, or between steps.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fieldkit_scenarios::workload::{Model, Step, check_after_crash};
use fieldkit_scenarios::{NOW_MS, Rng, create_vault, lenient_policy};
use fieldkit_testkit::{count_from_env, seed_from_env};
use fieldkit_vault::{OpenOptions, Vault};

/// The data seed: case `i` is `cases::case(DATA_SEED, i)`.
const DATA_SEED: u64 = 0xF1E1_D000_0002;
/// Wall time between rounds, so every round's saves are later than the last round's.
const ROUND_MS: u64 = 100_000;

fn spawn_writer(path: &Path, round_seed: u64, now: u64, pin: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vault-writer"))
        .args([
            "write",
            path.to_str().unwrap(),
            &DATA_SEED.to_string(),
            &round_seed.to_string(),
            &now.to_string(),
            &pin.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What one round's lines say: the acknowledged state and the step in flight at the kill.
#[derive(Debug, Default)]
struct Round {
    ready: bool,
    acked: u64,
    batches: u64,
    in_flight: Option<Step>,
}

fn follow(lines: &[String], durable: &mut Model, round: usize) -> Round {
    let mut r = Round::default();
    for line in lines {
        match line.split_once(' ') {
            Some(("begin", step)) => {
                assert!(
                    r.in_flight.is_none(),
                    "round {round}: `{line}` while {:?} was in flight",
                    r.in_flight
                );
                r.in_flight = Some(step.parse().unwrap());
            }
            Some(("ack", step)) => {
                let step: Step = step.parse().unwrap();
                assert_eq!(r.in_flight, Some(step), "round {round}: `{line}`");
                *durable = durable.after(step);
                r.in_flight = None;
                r.acked += 1;
                r.batches += u64::from(matches!(step, Step::Batch(..)));
            }
            Some(("ready", n)) => {
                assert_eq!(
                    n.parse::<u64>().unwrap(),
                    durable.created,
                    "round {round}: the writer resumed at the wrong case"
                );
                r.ready = true;
            }
            _ => panic!("round {round}: unexpected line from the writer: {line}"),
        }
    }
    r
}

#[test]
fn every_acknowledged_step_survives_sigkill_and_none_is_half_done() {
    let kills = count_from_env("FIELDKIT_CRASH_KILLS", 120);
    let seed = seed_from_env("FIELDKIT_CRASH_SEED", "crash test");
    let dir = tempfile::tempdir().unwrap();
    let path = Vault::file_in(dir.path());
    drop(create_vault(&path, lenient_policy()).unwrap());
    let mut open = || Vault::open(&path, OpenOptions::default());

    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut durable = Model::default();
    let (mut acked, mut batches, mut before_ready, mut in_flight_kept) = (0u64, 0u64, 0u64, 0u64);
    let mut in_flight_at_kill = std::collections::BTreeMap::<&str, u64>::new();
    let mut check_time = Duration::ZERO;
    let mut ready_time = Duration::from_millis(100);
    for round in 0..usize::try_from(kills).unwrap() {
        let now = NOW_MS + (round as u64 + 1) * ROUND_MS;
        let spawned = Instant::now();
        let mut child = spawn_writer(&path, rng.next_u64(), now, durable.pin);
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let errors = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).ok();
            s
        });

        // Choose the moment: a third of the kills at a random time from the start, up to a
        // little past the time the writer usually takes to be ready (opening, checking,
        // signing in, reading the vault); the rest after a random number of lines plus a
        // random delay (inside or between steps).
        let mut lines = Vec::new();
        if rng.chance(33) {
            let until = u64::try_from(ready_time.as_micros() * 5 / 4).unwrap();
            std::thread::sleep(Duration::from_micros(rng.below(until)));
        } else {
            let wait_for = 3 + rng.below(12);
            while (lines.len() as u64) < wait_for {
                match rx.recv_timeout(Duration::from_secs(60)) {
                    Ok(line) => {
                        if line.starts_with("ready") {
                            ready_time = (ready_time * 3 + spawned.elapsed()) / 4;
                        }
                        lines.push(line);
                    }
                    Err(_) => break,
                }
            }
            std::thread::sleep(Duration::from_micros(rng.below(6_000)));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let stderr = errors.join().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the writer was not killed but exited ({status}): {stderr}"
        );

        let r = follow(&lines, &mut durable, round);
        acked += r.acked;
        batches += r.batches;
        before_ready += u64::from(!r.ready);
        if let Some(step) = r.in_flight {
            *in_flight_at_kill.entry(step.kind()).or_default() += 1;
        }
        let checking = Instant::now();
        let (found, done) = check_after_crash(
            &mut open,
            DATA_SEED,
            &durable,
            r.in_flight,
            now + ROUND_MS / 2,
            &mut rng,
        )
        .unwrap_or_else(|e| panic!("round {round} (FIELDKIT_CRASH_SEED={seed}): {e}"));
        check_time += checking.elapsed();
        in_flight_kept += u64::from(done);
        durable = found;
    }
    println!(
        "crash test: {kills} kills in {:.1} s ({:.1} s reopening and checking); {acked} \
         acknowledged steps ({batches} batches), each checked after every later kill; {} cases, \
         {} edits, {} merges, PIN generation {}, {} caseworkers at the end; {before_ready} kills \
         before the writer was ready; steps in flight at the kill: {in_flight_at_kill:?}; \
         {in_flight_kept} of them were found done",
        started.elapsed().as_secs_f64(),
        check_time.as_secs_f64(),
        durable.created,
        durable.edits.values().sum::<u64>(),
        durable.merges.values().sum::<u64>(),
        durable.pin,
        durable.caseworkers,
    );
    assert!(durable.created > 0, "the writer never saved anything");
    assert!(batches > 0, "no batch was ever acknowledged");
}

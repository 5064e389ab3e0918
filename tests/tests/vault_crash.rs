//! A writer process saving cases is killed with SIGKILL at random moments; after every kill the
//! vault reopens, unlocks, and holds every save the writer acknowledged, decrypted and equal to
//! what was written.
//!
//! 200 kills by default; `FIELDKIT_CRASH_KILLS=N` for more, `FIELDKIT_CRASH_SEED=S` to replay a
//! run (the seed is printed). Kills land anywhere: while the file is opened and checked, during
//! sign-in, in the middle of a single save, a batch or an edit, or between saves.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fieldkit_domain::{Record, RecordKind, Summary};
use fieldkit_scenarios::cases::{self, Rng};
use fieldkit_scenarios::{
    NOW_MS, PIN, USER, all_cases, canonical, create_vault, edit_count, edited_case, lenient_policy,
};
use fieldkit_vault::{OpenOptions, Vault};

/// The data seed: case `i` is `cases::case(DATA_SEED, i)`.
const DATA_SEED: u64 = 0xF1E1_D000_0002;
/// The largest batch the writer saves in one transaction.
const MAX_BATCH: u64 = 8;
/// Wall time between rounds, so every round's saves are later than the last round's.
const ROUND_MS: u64 = 100_000;

/// What the scenario knows must be in the vault.
#[derive(Debug, Default, Clone)]
struct Durable {
    /// Cases `0..created` exist.
    created: u64,
    /// Follow-up edits per case (absent: none).
    edits: HashMap<u64, u64>,
}

/// What one writer round acknowledged.
#[derive(Debug, Default)]
struct Round {
    ready: bool,
    creates: u64,
    batches: u64,
    edits: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn spawn_writer(path: &Path, round_seed: u64, now: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vault-writer"))
        .args([
            "write",
            path.to_str().unwrap(),
            &DATA_SEED.to_string(),
            &round_seed.to_string(),
            &now.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Applies one acknowledgement line to what must be durable.
fn acknowledge(line: &str, durable: &mut Durable, round: &mut Round) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> u64 { words[i].parse().unwrap() };
    match words.as_slice() {
        ["ready", _] => {
            assert_eq!(
                num(1),
                durable.created,
                "the writer resumed at the wrong case"
            );
            round.ready = true;
        }
        ["ack", "create", _] => {
            assert_eq!(num(2), durable.created, "{line}");
            durable.created += 1;
            round.creates += 1;
        }
        ["ack", "batch", _, _] => {
            assert_eq!(num(2), durable.created, "{line}");
            durable.created = num(3);
            round.batches += 1;
        }
        ["ack", "edit", _, _] => {
            let (i, n) = (num(2), num(3));
            let before = durable.edits.get(&i).copied().unwrap_or(0);
            assert_eq!(n, before + 1, "{line}");
            durable.edits.insert(i, n);
            round.edits += 1;
        }
        _ => panic!("unexpected line from the writer: {line}"),
    }
}

/// Reopens the vault and checks it against what must be durable. Returns what is durable now
/// (which may include the one save that was in flight when the writer was killed).
fn check(path: &Path, durable: &Durable, now: u64, rng: &mut Rng, round: usize) -> Durable {
    let vault = Vault::open(path, OpenOptions::default())
        .unwrap_or_else(|e| panic!("round {round}: the vault does not reopen after a kill: {e}"));
    let mut s = vault
        .unlock(USER, PIN, now)
        .unwrap_or_else(|e| panic!("round {round}: sign-in fails after a kill: {e}"));
    let stored = all_cases(&mut s, now)
        .unwrap_or_else(|e| panic!("round {round}: reading every case fails after a kill: {e}"));
    let n = stored.len() as u64;
    assert!(
        n >= durable.created,
        "round {round}: {} cases were acknowledged but only {n} are in the vault",
        durable.created
    );
    assert!(
        n <= durable.created + MAX_BATCH,
        "round {round}: {n} cases in the vault, more than the {} acknowledged plus one batch",
        durable.created
    );
    let mut now_durable = Durable {
        created: n,
        edits: HashMap::new(),
    };
    // At most one save was in flight: a create or batch beyond the acknowledged ones, or one
    // edit beyond the acknowledged count of one case.
    let mut unacknowledged = u64::from(n > durable.created);
    for (i, (case, version)) in stored.iter().enumerate() {
        let i = i as u64;
        assert_eq!(
            case.id,
            cases::case_id(DATA_SEED, i),
            "round {round}: case {i} is missing or out of order"
        );
        let acked = durable.edits.get(&i).copied().unwrap_or(0);
        let edits = edit_count(case);
        assert!(
            edits == acked || edits == acked + 1,
            "round {round}: case {i} has {edits} edits, {acked} were acknowledged"
        );
        if edits == acked + 1 {
            unacknowledged += 1;
        }
        assert_eq!(
            *case,
            canonical(edited_case(DATA_SEED, i, edits)),
            "round {round}: case {i} differs from what was written"
        );
        assert_eq!(*version, edits + 1, "round {round}: case {i} version");
        if edits > 0 {
            now_durable.edits.insert(i, edits);
        }
    }
    assert!(
        unacknowledged <= 1,
        "round {round}: {unacknowledged} unacknowledged saves are in the vault"
    );
    assert_eq!(s.verify().unwrap(), n, "round {round}: verify");
    s.verify_audit()
        .unwrap_or_else(|e| panic!("round {round}: audit chain: {e}"));
    assert_eq!(s.count(RecordKind::Case).unwrap(), n);
    // The index and the summaries moved with the records: the list shows exactly the summary
    // of each stored case.
    let first = s.list(RecordKind::Case, 0, 50).unwrap();
    let expected: Vec<Summary> = stored
        .iter()
        .take(50)
        .map(|(c, _)| Summary::of(&Record::Case(Box::new(c.clone())), 0))
        .collect();
    assert_eq!(first, expected, "round {round}: list");
    if n > 0 {
        for _ in 0..3 {
            let i = rng.below(n);
            let (case, _) = &stored[usize::try_from(i).unwrap()];
            let name = case.name.as_deref().unwrap();
            let found = s
                .search_unaudited(RecordKind::Case, name, usize::MAX)
                .unwrap();
            let hit = found.iter().find(|x| x.id == case.id);
            assert!(
                hit.is_some(),
                "round {round}: search for case {i} misses it"
            );
            assert_eq!(hit.unwrap().name, name);
        }
    }
    drop(s);
    now_durable
}

#[test]
fn every_acknowledged_save_survives_sigkill() {
    let kills = env_u64("FIELDKIT_CRASH_KILLS").unwrap_or(200);
    let seed = env_u64("FIELDKIT_CRASH_SEED").unwrap_or(0x00C0_FFEE_2025);
    println!("crash test: {kills} kills, FIELDKIT_CRASH_SEED={seed}");
    let dir = tempfile::tempdir().unwrap();
    let path = Vault::file_in(dir.path());
    drop(create_vault(&path, lenient_policy()).unwrap());

    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut durable = Durable::default();
    let (mut acked_saves, mut before_ready, mut in_flight_kept) = (0u64, 0u64, 0u64);
    let mut check_time = Duration::ZERO;
    let mut ready_time = Duration::from_millis(100);
    let mut case_checks = 0u64;
    for round in 0..usize::try_from(kills).unwrap() {
        let now = NOW_MS + (round as u64 + 1) * ROUND_MS;
        let spawned = Instant::now();
        let mut child = spawn_writer(&path, rng.next_u64(), now);
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
        // little past the time the writer usually takes to sign in (opening, checking, signing
        // in, the first save); the rest after a random number of acknowledged saves plus a
        // random delay (inside or between saves).
        let mut lines = Vec::new();
        if rng.chance(33) {
            let until = u64::try_from(ready_time.as_micros() * 5 / 4).unwrap();
            std::thread::sleep(Duration::from_micros(rng.below(until)));
        } else {
            let wait_for = 1 + rng.below(6);
            while (lines.len() as u64) < wait_for {
                match rx.recv_timeout(Duration::from_secs(60)) {
                    Ok(line) => {
                        if lines.is_empty() {
                            // How long opening and signing in take on this machine now.
                            ready_time = (ready_time * 3 + spawned.elapsed()) / 4;
                        }
                        lines.push(line);
                    }
                    Err(_) => break,
                }
            }
            std::thread::sleep(Duration::from_micros(rng.below(4_000)));
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

        let mut r = Round::default();
        let before = durable.clone();
        for line in &lines {
            acknowledge(line, &mut durable, &mut r);
        }
        acked_saves += r.creates + r.batches + r.edits;
        before_ready += u64::from(!r.ready);
        let checking = Instant::now();
        let after = check(&path, &durable, now + ROUND_MS / 2, &mut rng, round);
        check_time += checking.elapsed();
        case_checks += after.created;
        let acked_created = durable.created;
        let acked_edits: u64 = durable.edits.values().sum();
        let now_edits: u64 = after.edits.values().sum();
        if after.created > acked_created || now_edits > acked_edits {
            in_flight_kept += 1;
        }
        assert!(after.created >= before.created);
        durable = after;
    }
    let elapsed = started.elapsed();
    println!(
        "crash test: {kills} kills in {:.1} s ({:.1} s reopening and checking); \
         {acked_saves} acknowledged saves, each checked after every later reopen \
         ({case_checks} case reads compared in all; {} cases and {} edits in the vault at the \
         end); {before_ready} kills before sign-in finished; {in_flight_kept} saves in flight \
         at the kill were kept",
        elapsed.as_secs_f64(),
        check_time.as_secs_f64(),
        durable.created,
        durable.edits.values().sum::<u64>(),
    );
    assert!(durable.created > 0, "the writer never saved anything");
}

//! The vault against SQLCipher, side by side, on the same realistic cases, on equal terms.
//!
//! ```text
//! cargo bench -p fieldkit-vault --bench vault
//! FIELDKIT_BENCH_CASES=50000 FIELDKIT_BENCH_SINGLE=2000 FIELDKIT_BENCH_COLD_RUNS=5 \
//!     cargo bench -p fieldkit-vault --bench vault
//! ```
//!
//! Every phase of every engine runs in a fresh child process (this binary with `--engine
//! vault|sqlcipher --phase <phase> --dir <dir>`), so each phase's peak RSS (`VmHWM` at its end)
//! is its own, from a process that did nothing else; the parent prints a table. Files go to
//! `FIELDKIT_BENCH_DIR` (default: the system temp dir, removed afterwards).
//!
//! The phases, for both engines:
//! 1. `insert`: batched insert of `FIELDKIT_BENCH_CASES` (default 50,000) cases, 1,000 per
//!    transaction.
//! 2. `open`: open and unlock, warm (median of 3) and cold (median of `FIELDKIT_BENCH_COLD_RUNS`,
//!    default 5, each after `echo 3 > /proc/sys/vm/drop_caches`; where the cache cannot be
//!    dropped the row says "not measured"). Vault: `Vault::open` + `unlock`, with and without
//!    redb's check on open. SQLCipher: open + `PRAGMA key` + a first query that only reads the
//!    schema (`SELECT count(*) FROM sqlite_master`: it derives the key and decrypts page 1, no
//!    more, as the vault's unlock reads its few meta rows).
//! 3. `check`: the whole-file check alone. Vault: the open with `verify_on_open` minus the open
//!    without (both medians). SQLCipher: `PRAGMA cipher_integrity_check` on a connection already
//!    opened and keyed (median of 3), so neither side counts opening or key derivation.
//! 4. `session`: name search for 1,000 full names of existing cases, top 20: unaudited (vault
//!    `Session::search_unaudited`; SQLCipher the ranked query on a `name_terms` table of the same
//!    tokens) and as caseworkers use it (vault `Session::search`, which commits an audit entry;
//!    SQLCipher the query plus an audit row committed, `FIELDKIT_BENCH_AUDITED`, default 200
//!    queries); a naive `name LIKE '%…%'` scan for comparison; the first 50 summaries. The
//!    vault's search is timed three ways: the first pass of a session that has no sealed
//!    snapshot of its term sets yet (each candidate's term set opened as it first comes up);
//!    cold, the first search of each of `FIELDKIT_BENCH_COLD_SEARCHES` (default 30) fresh
//!    sessions after the term sets were saved (`Session::save_search_terms`; the first search
//!    loads them); warm, the same 1,000 names again in one session.
//! 5. `verify` (vault): `Session::verify`, every record, summary, index term and the manifest.
//! 6. `single`: `FIELDKIT_BENCH_SINGLE` (default 2,000) more cases, one transaction each, into
//!    the full file (the steady state of a kit registering children).
//! 7. `kiosk` (vault): batched insert and search with the kiosk's cross-script index terms
//!    (first pass, cold and warm as above).
//!
//! To run some phases alone: `FIELDKIT_BENCH_ENGINES=vault` (or `sqlcipher`),
//! `FIELDKIT_BENCH_PHASES=insert,session` (a phase needs the files `insert` wrote), and
//! `FIELDKIT_BENCH_KEEP_DIR=DIR` to write the files to DIR and keep them, so a later run can
//! skip `insert`. For the search alone at 50,000 cases:
//!
//! ```text
//! FIELDKIT_BENCH_ENGINES=vault FIELDKIT_BENCH_PHASES=insert,session,kiosk \
//!     cargo bench -p fieldkit-vault --bench vault
//! ```
//!
//! Durability is the same on both sides: every commit is on disk when it returns. The vault
//! commits with `Durability::Immediate`; SQLCipher runs WAL with `synchronous=FULL` (the WAL is
//! fsynced at every commit). SQLCipher uses its defaults (AES-256-CBC with HMAC-SHA512 per page,
//! PBKDF2-HMAC-SHA512 with 256,000 iterations for the key); the vault uses Argon2id m=19 MiB t=2
//! for the PIN and XChaCha20-Poly1305 per record. The machine the figures come from may be
//! shared: say so beside them.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fieldkit_domain::{Record, RecordKind, names::basic_tokens};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};

use fieldkit_testkit::{Rng, cases};

type Res<T> = Result<T, Box<dyn Error>>;

const SEED: u64 = 0xBE7C_2025;
const USER: &str = "amina";
const PIN: &[u8] = b"482915";
const NOW_MS: u64 = 1_764_500_000_000;
const BATCH: usize = 1_000;
const QUERIES: usize = 1_000;
const SEARCH_LIMIT: usize = 20;
const OPEN_RUNS: usize = 3;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The workload's size, from the environment.
#[derive(Debug, Clone, Copy)]
struct Size {
    cases: usize,
    single: usize,
    cold_runs: usize,
    audited: usize,
    cold_searches: usize,
}

impl Size {
    fn from_env() -> Size {
        Size {
            cases: env_usize("FIELDKIT_BENCH_CASES", 50_000).max(BATCH),
            single: env_usize("FIELDKIT_BENCH_SINGLE", 2_000),
            cold_runs: env_usize("FIELDKIT_BENCH_COLD_RUNS", 5).max(1),
            audited: env_usize("FIELDKIT_BENCH_AUDITED", 200).clamp(1, QUERIES),
            cold_searches: env_usize("FIELDKIT_BENCH_COLD_SEARCHES", 30).clamp(1, QUERIES),
        }
    }
}

fn record(i: usize) -> Record {
    Record::Case(Box::new(cases::case(SEED, i as u64)))
}

/// Cases `0..n` in batches of [`BATCH`], as both engines insert them.
fn batches(n: usize) -> impl Iterator<Item = Vec<Record>> {
    (0..n)
        .step_by(BATCH)
        .map(move |start| (start..(start + BATCH).min(n)).map(record).collect())
}

/// The names a caseworker types: full names of existing cases, spread over the file.
fn queries(n: usize) -> Vec<String> {
    let mut rng = Rng::new(SEED ^ 0x005E_A2C4);
    (0..QUERIES)
        .map(|_| cases::search_name(SEED, rng.below(n as u64)))
        .collect()
}

/// Peak resident set size of this process, in KiB (`VmHWM`): each phase runs in a fresh
/// process, so this is the phase's peak.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Writes dirty pages out and drops the whole page cache (root only), so the next open reads
/// from the disk. False where that is not allowed: cold figures are then not reported.
fn drop_caches() -> bool {
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Median of `runs` timings of `f`, each after the cache was dropped; `None` when it cannot be.
fn cold<F: FnMut() -> Res<Duration>>(runs: usize, mut f: F) -> Res<Option<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        if !drop_caches() {
            return Ok(None);
        }
        times.push(f()?);
    }
    Ok(Some(median(times)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    percentile(&v, 0.5)
}

/// What a child reports: `key<TAB>value` lines on stdout.
struct Report;

impl Report {
    fn put(key: &str, value: f64) {
        println!("{key}\t{value}");
    }
}

/// Timing of the single-commit phase.
fn report_single(latencies: &mut [Duration]) {
    latencies.sort_unstable();
    let total: Duration = latencies.iter().sum();
    Report::put("single_n", latencies.len() as f64);
    Report::put(
        "single_per_s",
        latencies.len() as f64 / total.as_secs_f64().max(1e-9),
    );
    Report::put("single_p50_ms", ms(percentile(latencies, 0.5)));
    Report::put("single_p99_ms", ms(percentile(latencies, 0.99)));
}

fn report_search(latencies: &mut [Duration], prefix: &str) {
    latencies.sort_unstable();
    Report::put(&format!("{prefix}_p50_ms"), ms(percentile(latencies, 0.5)));
    Report::put(&format!("{prefix}_p99_ms"), ms(percentile(latencies, 0.99)));
    Report::put(&format!("{prefix}_max_ms"), ms(percentile(latencies, 1.0)));
}

// ---------------------------------------------------------------------------------------------
// The vault

/// A new vault at `path` holding `size.cases` cases, inserted in batches of [`BATCH`]; returns
/// the session and the time spent in the inserts.
fn create_filled(
    path: &Path,
    opts: OpenOptions,
    size: Size,
) -> Res<(fieldkit_vault::Session, Duration)> {
    let (mut s, _recovery) = Vault::create(
        path,
        InitOptions {
            username: USER,
            display_name: "Amina K.",
            credential: PIN,
            policy: CredentialPolicy::default(),
            now_ms: NOW_MS,
        },
        opts,
    )?;
    let mut insert = Duration::ZERO;
    for batch in batches(size.cases) {
        let t = Instant::now();
        s.create_many(&batch, NOW_MS)?;
        insert += t.elapsed();
    }
    Ok((s, insert))
}

fn vault_phase(phase: &str, dir: &Path, size: Size) -> Res<()> {
    let path = dir.join("vault.redb");
    // Every phase signs in later than the one before it.
    let now =
        NOW_MS + 1_000_000 * (1 + PHASES.iter().position(|p| *p == phase).unwrap_or(0) as u64);
    match phase {
        "insert" => {
            let (s, insert) = create_filled(&path, OpenOptions::default(), size)?;
            Report::put("batched_s", insert.as_secs_f64());
            drop(s);
            Report::put(
                "size_mib",
                std::fs::metadata(&path)?.len() as f64 / 1_048_576.0,
            );
        }
        "open" => {
            let mut now = now;
            for verify in [true, false] {
                let opts = OpenOptions {
                    verify_on_open: verify,
                    ..OpenOptions::default()
                };
                let tag = if verify { "verify" } else { "noverify" };
                let (mut opens, mut unlocks) = (Vec::new(), Vec::new());
                for _ in 0..OPEN_RUNS {
                    let t = Instant::now();
                    let v = Vault::open(&path, opts.clone())?;
                    opens.push(t.elapsed());
                    let t = Instant::now();
                    let s = v.unlock(USER, PIN, now)?;
                    unlocks.push(t.elapsed());
                    now += 1;
                    drop(s);
                }
                let (open, unlock) = (median(opens), median(unlocks));
                Report::put(&format!("open_{tag}_ms"), ms(open));
                Report::put(&format!("unlock_{tag}_ms"), ms(unlock));
                Report::put(&format!("open_unlock_{tag}_ms"), ms(open + unlock));
                let cold_open = cold(size.cold_runs, || {
                    let t = Instant::now();
                    let s = Vault::open(&path, opts.clone())?.unlock(USER, PIN, now)?;
                    let d = t.elapsed();
                    now += 1;
                    drop(s);
                    Ok(d)
                })?;
                if let Some(d) = cold_open {
                    Report::put(&format!("cold_open_unlock_{tag}_ms"), ms(d));
                }
            }
        }
        "session" => {
            let qs = queries(size.cases);
            let mut s = search_passes(&path, &OpenOptions::default(), now, &qs, size, "search")?;
            // Later than every sign-in of the passes.
            let now = now + 10_000;
            // As caseworkers use it: each search commits its audit entry (one fsync).
            let mut lat = Vec::with_capacity(size.audited);
            for (n, q) in qs.iter().take(size.audited).enumerate() {
                let t = Instant::now();
                s.search(RecordKind::Case, q, SEARCH_LIMIT, now + n as u64)?;
                lat.push(t.elapsed());
            }
            report_search(&mut lat, "audited_search");
            let t = Instant::now();
            let first = s.list(RecordKind::Case, 0, 50)?;
            Report::put("list_first_ms", ms(t.elapsed()));
            let mut lat = Vec::new();
            for _ in 0..100 {
                let t = Instant::now();
                let l = s.list(RecordKind::Case, 0, 50)?;
                lat.push(t.elapsed());
                if l.len() != first.len() {
                    return Err("the list changed between two reads".into());
                }
            }
            Report::put("list_ms", ms(median(lat)));
        }
        "verify" => {
            let s = Vault::open(&path, OpenOptions::default())?.unlock(USER, PIN, now)?;
            // The full check a supervisor runs: every record, summary, index term and the
            // manifest.
            let t = Instant::now();
            let checked = s.verify()?;
            Report::put("verify_ms", ms(t.elapsed()));
            if checked != size.cases as u64 {
                return Err(format!("verify checked {checked} records").into());
            }
        }
        "single" => {
            let mut s = Vault::open(&path, OpenOptions::default())?.unlock(USER, PIN, now)?;
            let mut lat = Vec::with_capacity(size.single);
            for i in size.cases..size.cases + size.single {
                let r = record(i);
                let t = Instant::now();
                s.create(&r, now)?;
                lat.push(t.elapsed());
            }
            report_single(&mut lat);
            drop(s);
            Report::put(
                "size_end_mib",
                std::fs::metadata(&path)?.len() as f64 / 1_048_576.0,
            );
        }
        "kiosk" => run_vault_kiosk_index(dir, size)?,
        _ => {}
    }
    Ok(())
}

/// CPU time this thread has used, in ns (`/proc/thread-self/schedstat`): under load the wall
/// time of a search is mostly waiting for a core.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The mean of CPU times, as `<key>_mean_ms` (the kernel counts a thread's CPU time in ticks
/// of a few ms here, so single searches are not timed by it; their mean is).
fn report_mean(cpu: &[Duration], key: &str) {
    let total: Duration = cpu.iter().sum();
    Report::put(
        &format!("{key}_mean_ms"),
        ms(total) / cpu.len().max(1) as f64,
    );
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> Res<T>) -> Res<(T, Duration, Duration)> {
    let (t, c) = (Instant::now(), thread_cpu_ns());
    let out = f()?;
    Ok((
        out,
        t.elapsed(),
        Duration::from_nanos(thread_cpu_ns().saturating_sub(c)),
    ))
}

/// The vault's search four ways (see the module documentation), each with wall and CPU time:
/// the first search of fresh sessions with no saved term sets (`<prefix>_unsaved`), the first
/// pass of one session over every query (`<prefix>`), the first search of fresh sessions after
/// the term sets were saved and loaded at sign-in (`<prefix>_cold`, the load apart as
/// `<prefix>_load`), and every query again in one session (`<prefix>_again`). Returns that
/// last session.
fn search_passes(
    path: &Path,
    opts: &OpenOptions,
    now: u64,
    qs: &[String],
    size: Size,
    prefix: &str,
) -> Res<fieldkit_vault::Session> {
    let mut now = now;
    let mut sign_in = || -> Res<fieldkit_vault::Session> {
        now += 1;
        Ok(Vault::open(path, opts.clone())?.unlock(USER, PIN, now)?)
    };
    let step = (qs.len() / size.cold_searches).max(1);
    let spread: Vec<&String> = qs.iter().step_by(step).take(size.cold_searches).collect();
    let mut s = sign_in()?;
    s.forget_search_terms()?;
    drop(s);
    // Cold, nothing saved: each candidate's term set opened one by one.
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for q in &spread {
        let s = sign_in()?;
        let (_, w, c) = timed(|| Ok(s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?))?;
        wall.push(w);
        cpu.push(c);
    }
    report_search(&mut wall, &format!("{prefix}_unsaved"));
    report_mean(&cpu, &format!("{prefix}_unsaved_cpu"));
    // One session's first pass over every query.
    let mut s = sign_in()?;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut results = 0usize;
    for q in qs {
        let (found, w, c) = timed(|| Ok(s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?))?;
        wall.push(w);
        cpu.push(c);
        results += found.len();
    }
    report_search(&mut wall, prefix);
    report_mean(&cpu, &format!("{prefix}_cpu"));
    Report::put(
        &format!("{prefix}_results_avg"),
        results as f64 / qs.len() as f64,
    );
    let (saved, w, _) = timed(|| Ok(s.save_search_terms()?))?;
    Report::put(&format!("{prefix}_saved"), saved as f64);
    Report::put(&format!("{prefix}_save_ms"), ms(w));
    drop(s);
    // Cold, saved: the sets loaded at sign-in (timed apart), then the session's first search.
    let (mut wall, mut cpu, mut load) = (Vec::new(), Vec::new(), Vec::new());
    for q in &spread {
        let s = sign_in()?;
        let (_, w, _) = timed(|| Ok(s.load_search_terms()?))?;
        load.push(w);
        let (_, w, c) = timed(|| Ok(s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?))?;
        wall.push(w);
        cpu.push(c);
    }
    report_search(&mut load, &format!("{prefix}_load"));
    report_search(&mut wall, &format!("{prefix}_cold"));
    report_mean(&cpu, &format!("{prefix}_cold_cpu"));
    // Warm: everything again in the last session.
    let s = sign_in()?;
    for q in qs {
        s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?;
    }
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for q in qs {
        let (_, w, c) = timed(|| Ok(s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?))?;
        wall.push(w);
        cpu.push(c);
    }
    report_search(&mut wall, &format!("{prefix}_again"));
    report_mean(&cpu, &format!("{prefix}_again_cpu"));
    Report::put("searched_records", s.searched_records() as f64);
    Ok(s)
}

/// The kiosk indexes names with the matcher's cross-script terms (folded spelling, consonant
/// skeleton and Double Metaphone code per token), three terms a word where the comparison above
/// uses one. The same batched insert and searches with those terms.
fn run_vault_kiosk_index(dir: &Path, size: Size) -> Res<()> {
    struct CrossScript;
    impl fieldkit_vault::NameIndexer for CrossScript {
        fn id(&self) -> &str {
            "bench-cross-script"
        }
        fn terms(&self, name: &str) -> Vec<String> {
            fieldkit_match::names::index_terms(name)
        }
    }
    let opts = OpenOptions {
        indexer: std::sync::Arc::new(CrossScript),
        ..OpenOptions::default()
    };
    let path = dir.join("kiosk.redb");
    let (s, insert) = create_filled(&path, opts.clone(), size)?;
    Report::put("kiosk_batched_s", insert.as_secs_f64());
    drop(s);
    let qs = queries(size.cases);
    search_passes(
        &path,
        &opts,
        NOW_MS + 100_000_000,
        &qs,
        size,
        "kiosk_search",
    )?;
    Report::put(
        "kiosk_size_mib",
        std::fs::metadata(&path)?.len() as f64 / 1_048_576.0,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SQLCipher

const SQL_KEY: &str = "PRAGMA key = 'correct horse battery staple 482915';";

fn sql_open(path: &Path) -> Res<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.execute_batch(SQL_KEY)?;
    let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(format!("journal_mode is {mode}").into());
    }
    c.execute_batch("PRAGMA synchronous = FULL;")?;
    Ok(c)
}

/// The summary columns and the JSON of a case, as an app on SQLCipher would store it.
fn sql_insert(tx: &rusqlite::Connection, r: &Record) -> Res<()> {
    let Record::Case(c) = r else {
        return Err("not a case".into());
    };
    let json = r.to_json().to_string();
    let id = c.id.as_bytes().to_vec();
    tx.prepare_cached(
        "INSERT INTO cases (id, name, sex, age, location, risk, status, reg_date, urgent, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        id,
        c.name.clone().unwrap_or_default(),
        c.sex.map(|s| format!("{s:?}").to_lowercase()),
        c.age,
        c.location_current,
        c.risk_level,
        c.status,
        c.registration_date.map(|d| d.to_string()),
        c.urgent_protection_concern,
        json,
    ])?;
    let mut terms: Vec<String> = c.names().flat_map(basic_tokens).collect();
    terms.sort_unstable();
    terms.dedup();
    let mut stmt =
        tx.prepare_cached("INSERT OR IGNORE INTO name_terms (term, case_id) VALUES (?1, ?2)")?;
    for t in terms {
        stmt.execute(rusqlite::params![t, id])?;
    }
    Ok(())
}

/// The same search as the vault's: rows sharing most query terms first, then newest, top 20.
fn sql_search(c: &rusqlite::Connection, query: &str) -> Res<usize> {
    let terms = basic_tokens(query);
    let placeholders = vec!["?"; terms.len()].join(", ");
    let sql = format!(
        "SELECT c.id, c.name, c.sex, c.age, c.location, c.risk, c.status, c.reg_date, c.urgent
         FROM (SELECT case_id, count(*) AS hits FROM name_terms WHERE term IN ({placeholders})
               GROUP BY case_id ORDER BY hits DESC, case_id DESC LIMIT {SEARCH_LIMIT}) t
         JOIN cases c ON c.id = t.case_id ORDER BY t.hits DESC, c.id DESC"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(terms.iter()), |r| {
        r.get::<_, String>(1)
    })?;
    let mut n = 0;
    for row in rows {
        row?;
        n += 1;
    }
    Ok(n)
}

fn sql_list(c: &rusqlite::Connection) -> Res<usize> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, sex, age, location, risk, status, reg_date, urgent FROM cases
         ORDER BY id LIMIT 50",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    let mut n = 0;
    for row in rows {
        row?;
        n += 1;
    }
    Ok(n)
}

/// Open, key, and the least first query: it derives the key (PBKDF2) and decrypts page 1.
fn sql_open_keyed(path: &Path) -> Res<rusqlite::Connection> {
    let c = sql_open(path)?;
    let tables: i64 = c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables < 2 {
        return Err("the schema is missing".into());
    }
    Ok(c)
}

fn sql_phase(phase: &str, dir: &Path, size: Size) -> Res<()> {
    let path = dir.join("cases.db");
    match phase {
        "insert" => {
            let mut c = sql_open(&path)?;
            c.execute_batch(
                "CREATE TABLE cases (id BLOB PRIMARY KEY, name TEXT NOT NULL, sex TEXT,
                    age INTEGER, location TEXT, risk TEXT, status TEXT, reg_date TEXT,
                    urgent INTEGER, json TEXT NOT NULL);
                 CREATE INDEX cases_name ON cases (name);
                 CREATE TABLE name_terms (term TEXT NOT NULL, case_id BLOB NOT NULL,
                    PRIMARY KEY (term, case_id)) WITHOUT ROWID;
                 CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,
                    action TEXT NOT NULL, results INTEGER NOT NULL);",
            )?;
            let mut insert = Duration::ZERO;
            for batch in batches(size.cases) {
                let t = Instant::now();
                let tx = c.transaction()?;
                for r in &batch {
                    sql_insert(&tx, r)?;
                }
                tx.commit()?;
                insert += t.elapsed();
            }
            Report::put("batched_s", insert.as_secs_f64());
            // Close with a checkpoint, as an app does at exit, so the size is the database's.
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            drop(c);
            Report::put(
                "size_mib",
                std::fs::metadata(&path)?.len() as f64 / 1_048_576.0,
            );
        }
        "open" => {
            let timed = || -> Res<Duration> {
                let t = Instant::now();
                let c = sql_open_keyed(&path)?;
                let d = t.elapsed();
                drop(c);
                Ok(d)
            };
            let runs: Res<Vec<Duration>> = (0..OPEN_RUNS).map(|_| timed()).collect();
            Report::put("open_unlock_noverify_ms", ms(median(runs?)));
            if let Some(d) = cold(size.cold_runs, timed)? {
                Report::put("cold_open_unlock_noverify_ms", ms(d));
            }
        }
        "check" => {
            // The counterpart of redb's check on open, timed alone: every page's HMAC, on a
            // connection already opened and keyed.
            let mut runs = Vec::new();
            for _ in 0..OPEN_RUNS {
                let c = sql_open_keyed(&path)?;
                let t = Instant::now();
                let problems: Vec<String> = c
                    .prepare("PRAGMA cipher_integrity_check")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                runs.push(t.elapsed());
                if !problems.is_empty() {
                    return Err(format!("cipher_integrity_check: {problems:?}").into());
                }
            }
            Report::put("integrity_ms", ms(median(runs)));
        }
        "session" => {
            let c = sql_open_keyed(&path)?;
            let qs = queries(size.cases);
            let mut lat = Vec::with_capacity(qs.len());
            let mut results = 0usize;
            for q in &qs {
                let t = Instant::now();
                results += sql_search(&c, q)?;
                lat.push(t.elapsed());
            }
            report_search(&mut lat, "search");
            Report::put("search_results_avg", results as f64 / qs.len() as f64);
            // With an audit row committed per search, as the vault's audited search does.
            let mut lat = Vec::with_capacity(size.audited);
            for (n, q) in qs.iter().take(size.audited).enumerate() {
                let t = Instant::now();
                let found = sql_search(&c, q)?;
                c.prepare_cached(
                    "INSERT INTO audit (at, action, results) VALUES (?1, 'search', ?2)",
                )?
                .execute(rusqlite::params![NOW_MS as i64 + n as i64, found as i64])?;
                lat.push(t.elapsed());
            }
            report_search(&mut lat, "audited_search");
            let mut lat = Vec::new();
            let mut like_results = 0usize;
            for q in qs.iter().take(100) {
                let word = basic_tokens(q).pop().unwrap_or_default();
                let t = Instant::now();
                let mut stmt = c.prepare_cached(
                    "SELECT id, name, sex, age, location FROM cases WHERE name LIKE ?1 LIMIT 20",
                )?;
                let n = stmt
                    .query_map([format!("%{word}%")], |r| r.get::<_, String>(1))?
                    .count();
                lat.push(t.elapsed());
                like_results += n;
            }
            report_search(&mut lat, "like");
            Report::put("like_results_avg", like_results as f64 / 100.0);
            let t = Instant::now();
            let first = sql_list(&c)?;
            Report::put("list_first_ms", ms(t.elapsed()));
            let mut lat = Vec::new();
            for _ in 0..100 {
                let t = Instant::now();
                let n = sql_list(&c)?;
                lat.push(t.elapsed());
                if n != first {
                    return Err("the list changed between two reads".into());
                }
            }
            Report::put("list_ms", ms(median(lat)));
        }
        "single" => {
            let mut c = sql_open_keyed(&path)?;
            let mut lat = Vec::with_capacity(size.single);
            for i in size.cases..size.cases + size.single {
                let r = record(i);
                let t = Instant::now();
                let tx = c.transaction()?;
                sql_insert(&tx, &r)?;
                tx.commit()?;
                lat.push(t.elapsed());
            }
            report_single(&mut lat);
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            drop(c);
            Report::put(
                "size_end_mib",
                std::fs::metadata(&path)?.len() as f64 / 1_048_576.0,
            );
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The parent: one child per engine, then the table.

/// The phases, in order; an engine skips those it has no counterpart for.
const PHASES: [&str; 7] = [
    "insert", "open", "check", "session", "verify", "single", "kiosk",
];

/// Runs one phase of one engine in a fresh process; its figures come back with the phase's
/// peak RSS as `rss_<phase>_kib`.
fn run_child(engine: &str, phase: &str, dir: &Path) -> Res<BTreeMap<String, f64>> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--engine", engine, "--phase", phase, "--dir"])
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("{engine} {phase} failed: {}", out.status).into());
    }
    let text = String::from_utf8(out.stdout)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            let k = if k == "rss_kib" {
                format!("rss_{phase}_kib")
            } else {
                k.to_string()
            };
            Some((k, v.parse().ok()?))
        })
        .collect())
}

/// A comma-separated list from the environment, or `None` (all).
fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

fn run_engine(engine: &str, dir: &Path) -> Res<BTreeMap<String, f64>> {
    let started = Instant::now();
    let mut all = BTreeMap::new();
    let wanted = env_list("FIELDKIT_BENCH_PHASES");
    for phase in PHASES {
        let skip = matches!(
            (engine, phase),
            ("sqlcipher", "verify" | "kiosk") | ("vault", "check")
        ) || wanted
            .as_ref()
            .is_some_and(|w| !w.iter().any(|p| p == phase));
        if !skip {
            all.extend(run_child(engine, phase, dir)?);
        }
    }
    // The vault's whole-file check: the open with it minus the open without.
    if let (Some(a), Some(b)) = (all.get("open_verify_ms"), all.get("open_noverify_ms")) {
        all.insert("integrity_ms".into(), a - b);
    }
    all.insert("wall_s".into(), started.elapsed().as_secs_f64());
    Ok(all)
}

/// A cold median, or why there is none.
fn cold_ms(m: &BTreeMap<String, f64>, key: &str) -> String {
    match m.get(key) {
        Some(v) => fmt_ms(Some(v)),
        None => "not measured (page cache cannot be dropped)".into(),
    }
}

fn fmt_ms(v: Option<&f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if *v >= 100.0 => format!("{v:.0} ms"),
        Some(v) if *v >= 1.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.3} ms"),
    }
}

/// The vault search's rows (see `search_passes`): wall p50/p99 and CPU p50/p99.
fn search_rows(
    vault: &BTreeMap<String, f64>,
    p: &str,
    title: &str,
) -> Vec<(String, String, String)> {
    let both = |k: &str, cpu: &str| {
        format!(
            "p50 {} / p99 {} (CPU mean {})",
            fmt_ms(vault.get(&format!("{k}_p50_ms"))),
            fmt_ms(vault.get(&format!("{k}_p99_ms"))),
            fmt_ms(vault.get(&format!("{cpu}_mean_ms"))),
        )
    };
    let title = if title.is_empty() {
        "vault search"
    } else {
        title
    };
    vec![
        (
            format!("{title}: cold, first search of a session, nothing saved"),
            both(&format!("{p}_unsaved"), &format!("{p}_unsaved_cpu")),
            "—".into(),
        ),
        (
            "  first pass of one session over every query".into(),
            both(p, &format!("{p}_cpu")),
            "—".into(),
        ),
        (
            format!(
                "  saving the held term sets ({:.0}) / loading them at sign-in (p50/p99)",
                vault.get(&format!("{p}_saved")).copied().unwrap_or(0.0)
            ),
            format!(
                "{} / {} / {}",
                fmt_ms(vault.get(&format!("{p}_save_ms"))),
                fmt_ms(vault.get(&format!("{p}_load_p50_ms"))),
                fmt_ms(vault.get(&format!("{p}_load_p99_ms")))
            ),
            "—".into(),
        ),
        (
            "  cold, first search of a session, saved sets loaded".into(),
            both(&format!("{p}_cold"), &format!("{p}_cold_cpu")),
            "—".into(),
        ),
        (
            "  warm, every query again in one session".into(),
            both(&format!("{p}_again"), &format!("{p}_again_cpu")),
            "—".into(),
        ),
    ]
}

fn print_table(size: Size, vault: &BTreeMap<String, f64>, sql: &BTreeMap<String, f64>) {
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied();
    let rate = |m: &BTreeMap<String, f64>| {
        get(m, "batched_s").map_or("—".into(), |s| {
            format!("{s:.1} s ({:.0} cases/s)", size.cases as f64 / s)
        })
    };
    let single = |m: &BTreeMap<String, f64>| match (get(m, "single_per_s"), get(m, "single_p50_ms"))
    {
        (Some(r), Some(p50)) => format!(
            "{r:.0}/s (p50 {p50:.2} ms, p99 {:.2} ms)",
            get(m, "single_p99_ms").unwrap_or(0.0)
        ),
        _ => "—".into(),
    };
    let pct = |m: &BTreeMap<String, f64>, p: &str| {
        format!(
            "p50 {} / p99 {}",
            fmt_ms(m.get(&format!("{p}_p50_ms"))),
            fmt_ms(m.get(&format!("{p}_p99_ms")))
        )
    };
    let mib = |m: &BTreeMap<String, f64>, k: &str| {
        get(m, k).map_or("—".into(), |v| format!("{:.0} MiB", v / 1024.0))
    };
    let size_of = |m: &BTreeMap<String, f64>, k: &str| {
        get(m, k).map_or("—".into(), |v| format!("{v:.1} MiB"))
    };
    let kiosk_insert = get(vault, "kiosk_batched_s").map_or("—".into(), |s| {
        format!("{s:.1} s ({:.0} cases/s)", size.cases as f64 / s)
    });
    let rows: Vec<(String, String, String)> = vec![
        (
            "batched insert, kiosk's cross-script index terms (3 a word)".to_string(),
            kiosk_insert,
            "—".into(),
        ),
        search_rows(
            vault,
            "kiosk_search",
            "name search, kiosk's cross-script index terms",
        )[0]
        .clone(),
        search_rows(vault, "kiosk_search", "")[1].clone(),
        search_rows(vault, "kiosk_search", "")[2].clone(),
        search_rows(vault, "kiosk_search", "")[3].clone(),
        search_rows(vault, "kiosk_search", "")[4].clone(),
        (
            "file size, kiosk's cross-script index terms".to_string(),
            size_of(vault, "kiosk_size_mib"),
            "—".into(),
        ),
        (
            format!("batched insert, {} cases in batches of {BATCH}", size.cases),
            rate(vault),
            rate(sql),
        ),
        (
            format!(
                "single-commit insert, {} more cases into the full file",
                size.single
            ),
            single(vault),
            single(sql),
        ),
        (
            "open + unlock, warm, with check on open (vault: verify_on_open)".into(),
            fmt_ms(vault.get("open_unlock_verify_ms")),
            "—".into(),
        ),
        (
            "  of which open / unlock".into(),
            format!(
                "{} / {}",
                fmt_ms(vault.get("open_verify_ms")),
                fmt_ms(vault.get("unlock_verify_ms"))
            ),
            "—".into(),
        ),
        (
            "open + unlock, warm, no check (SQLCipher: open + key + first query)".into(),
            fmt_ms(vault.get("open_unlock_noverify_ms")),
            fmt_ms(sql.get("open_unlock_noverify_ms")),
        ),
        (
            "  of which open / unlock".into(),
            format!(
                "{} / {}",
                fmt_ms(vault.get("open_noverify_ms")),
                fmt_ms(vault.get("unlock_noverify_ms"))
            ),
            "—".into(),
        ),
        (
            "open + unlock, cold page cache, with check on open (median)".into(),
            cold_ms(vault, "cold_open_unlock_verify_ms"),
            "—".into(),
        ),
        (
            "open + unlock, cold page cache, no check (median)".into(),
            cold_ms(vault, "cold_open_unlock_noverify_ms"),
            cold_ms(sql, "cold_open_unlock_noverify_ms"),
        ),
        (
            "whole-file check alone, no open or key derivation (redb verify_on_open / \
             cipher_integrity_check)"
                .into(),
            fmt_ms(vault.get("integrity_ms")),
            fmt_ms(sql.get("integrity_ms")),
        ),
        (
            "Session::verify (every record, summary, index term, manifest)".into(),
            fmt_ms(vault.get("verify_ms")),
            "—".into(),
        ),
        (
            format!("name search, {QUERIES} full names, top {SEARCH_LIMIT}, unaudited"),
            "—".into(),
            pct(sql, "search"),
        ),
        search_rows(vault, "search", "")[0].clone(),
        search_rows(vault, "search", "")[1].clone(),
        search_rows(vault, "search", "")[2].clone(),
        search_rows(vault, "search", "")[3].clone(),
        search_rows(vault, "search", "")[4].clone(),
        (
            format!(
                "name search as caseworkers use it ({} queries; each commits an audit entry)",
                size.audited
            ),
            pct(vault, "audited_search"),
            pct(sql, "audited_search"),
        ),
        (
            "  results per search (avg)".into(),
            format!("{:.1}", get(vault, "search_results_avg").unwrap_or(0.0)),
            format!("{:.1}", get(sql, "search_results_avg").unwrap_or(0.0)),
        ),
        (
            "name search, naive LIKE '%word%' (100 queries)".into(),
            "—".into(),
            pct(sql, "like"),
        ),
        (
            "list first 50 summaries (first / median of 100)".into(),
            format!(
                "{} / {}",
                fmt_ms(vault.get("list_first_ms")),
                fmt_ms(vault.get("list_ms"))
            ),
            format!(
                "{} / {}",
                fmt_ms(sql.get("list_first_ms")),
                fmt_ms(sql.get("list_ms"))
            ),
        ),
        (
            "peak RSS, batched insert (fresh process)".into(),
            mib(vault, "rss_insert_kib"),
            mib(sql, "rss_insert_kib"),
        ),
        (
            "peak RSS, open + unlock, warm and cold (fresh process)".into(),
            mib(vault, "rss_open_kib"),
            mib(sql, "rss_open_kib"),
        ),
        (
            "peak RSS, whole-file check (fresh process; vault: in the open phase)".into(),
            "—".into(),
            mib(sql, "rss_check_kib"),
        ),
        (
            "peak RSS, open + searches + list (fresh process)".into(),
            mib(vault, "rss_session_kib"),
            mib(sql, "rss_session_kib"),
        ),
        (
            "peak RSS, Session::verify (fresh process)".into(),
            mib(vault, "rss_verify_kib"),
            "—".into(),
        ),
        (
            "peak RSS, single-commit inserts (fresh process)".into(),
            mib(vault, "rss_single_kib"),
            mib(sql, "rss_single_kib"),
        ),
        (
            format!("file size after {} cases", size.cases),
            size_of(vault, "size_mib"),
            size_of(sql, "size_mib"),
        ),
        (
            format!("file size after {} cases", size.cases + size.single),
            size_of(vault, "size_end_mib"),
            size_of(sql, "size_end_mib"),
        ),
    ];
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(22);
    println!();
    println!(
        "{:w0$} | {:w1$} | SQLCipher (rusqlite bundled)",
        "", "fieldkit vault (redb)"
    );
    println!(
        "{}-+-{}-+-{}",
        "-".repeat(w0),
        "-".repeat(w1),
        "-".repeat(30)
    );
    for (a, b, c) in &rows {
        println!("{a:w0$} | {b:w1$} | {c}");
    }
    println!();
    let check = |ok: bool| if ok { "met" } else { "NOT MET" };
    for key in [
        "search_unsaved",
        "search_cold",
        "search_again",
        "kiosk_search_unsaved",
        "kiosk_search_cold",
        "kiosk_search_again",
    ] {
        if let Some(p99) = get(vault, &format!("{key}_p99_ms")) {
            println!("target: {key} p99 {p99:.2} ms < 5 ms: {}", check(p99 < 5.0));
        }
    }
    if let (Some(u), Some(a), Some(b)) = (
        get(vault, "unlock_verify_ms"),
        get(vault, "batched_s"),
        get(sql, "batched_s"),
    ) {
        println!(
            "targets: unlock {u:.0} ms < 1 s: {}; \
             open + unlock with check {:.0} ms < 1 s: {}; batched insert {a:.1} s vs SQLCipher \
             {b:.1} s: {}",
            check(u < 1000.0),
            get(vault, "open_unlock_verify_ms").unwrap_or(f64::MAX),
            check(get(vault, "open_unlock_verify_ms").unwrap_or(f64::MAX) < 1000.0),
            check(a <= b),
        );
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let size = Size::from_env();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    if let (Some(engine), Some(phase), Some(dir)) = (arg("--engine"), arg("--phase"), arg("--dir"))
    {
        let dir = Path::new(dir);
        match engine {
            "vault" => vault_phase(phase, dir, size)?,
            "sqlcipher" => sql_phase(phase, dir, size)?,
            other => return Err(format!("unknown engine {other}").into()),
        }
        Report::put("rss_kib", peak_rss_kib() as f64);
        return Ok(());
    }
    eprintln!(
        "vault bench: {} cases batched, {} single commits, {} cold runs, {} audited searches \
         (FIELDKIT_BENCH_CASES, FIELDKIT_BENCH_SINGLE, FIELDKIT_BENCH_COLD_RUNS, \
         FIELDKIT_BENCH_AUDITED); every phase in a fresh process; vault first, then SQLCipher",
        size.cases, size.single, size.cold_runs, size.audited
    );
    let base = std::env::var_os("FIELDKIT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::tempdir_in(base)?;
    let dir = match std::env::var_os("FIELDKIT_BENCH_KEEP_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            std::path::PathBuf::from(d)
        }
        None => temp.path().to_path_buf(),
    };
    let engines = env_list("FIELDKIT_BENCH_ENGINES");
    let wanted = |e: &str| engines.as_ref().is_none_or(|w| w.iter().any(|x| x == e));
    let mut vault = BTreeMap::new();
    if wanted("vault") {
        vault = run_engine("vault", &dir)?;
        eprintln!("vault done in {:.0} s", vault.get("wall_s").unwrap_or(&0.0));
    }
    let mut sql = BTreeMap::new();
    if wanted("sqlcipher") {
        sql = run_engine("sqlcipher", &dir)?;
        eprintln!(
            "SQLCipher done in {:.0} s",
            sql.get("wall_s").unwrap_or(&0.0)
        );
    }
    print_table(size, &vault, &sql);
    Ok(())
}

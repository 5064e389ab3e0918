//! The vault against SQLCipher, side by side, on the same realistic cases.
//!
//! ```text
//! cargo bench -p fieldkit-vault --bench vault
//! FIELDKIT_BENCH_CASES=50000 FIELDKIT_BENCH_SINGLE=2000 cargo bench -p fieldkit-vault --bench vault
//! ```
//!
//! Each engine runs in its own child process (this binary with `--engine vault|sqlcipher`), so
//! peak RSS is per engine; the parent prints a table. Files go to `FIELDKIT_BENCH_DIR` (default:
//! the system temp dir, removed afterwards).
//!
//! The workload, for both engines:
//! 1. Batched insert of `FIELDKIT_BENCH_CASES` (default 50,000) cases, 1,000 per transaction.
//! 2. Open and unlock, warm (the file was just written) and cold (the file dropped from the page
//!    cache with `dd iflag=nocache`), median of 3: vault `Vault::open` + `unlock` with and without
//!    `verify_on_open`; SQLCipher open + `PRAGMA key` + a first query, and
//!    `PRAGMA cipher_integrity_check` as the counterpart of redb's check on open.
//! 3. Name search: 1,000 full names of existing cases. Vault: `Session::search_unaudited` (blind
//!    index of the same word tokens). SQLCipher: a `name_terms(term, case_id)` table holding the
//!    same tokens, ranked the same way (most shared terms, then newest), top 20; and for
//!    comparison a naive `name LIKE '%…%'` scan.
//! 4. The first 50 summaries: vault `Session::list`; SQLCipher the summary columns by id. Then
//!    the vault's full `Session::verify`.
//! 5. Single-commit inserts: `FIELDKIT_BENCH_SINGLE` (default 2,000) more cases one transaction
//!    each, into the full file (the steady state of a kit registering children).
//!
//! Durability is the same on both sides: every commit is on disk when it returns. The vault
//! commits with `Durability::Immediate`; SQLCipher runs WAL with `synchronous=FULL` (the WAL is
//! fsynced at every commit). SQLCipher uses its defaults (AES-256-CBC with HMAC-SHA512 per page,
//! PBKDF2-HMAC-SHA512 with 256,000 iterations for the key); the vault uses Argon2id m=19 MiB t=2
//! for the PIN and XChaCha20-Poly1305 per record.

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
}

impl Size {
    fn from_env() -> Size {
        Size {
            cases: env_usize("FIELDKIT_BENCH_CASES", 50_000).max(BATCH),
            single: env_usize("FIELDKIT_BENCH_SINGLE", 2_000),
        }
    }
}

fn record(i: usize) -> Record {
    Record::Case(Box::new(cases::case(SEED, i as u64)))
}

/// The names a caseworker types: full names of existing cases, spread over the file.
fn queries(n: usize) -> Vec<String> {
    let mut rng = Rng::new(SEED ^ 0x5EA2C4);
    (0..QUERIES)
        .map(|_| cases::search_name(SEED, rng.below(n as u64)))
        .collect()
}

/// Peak resident set size of this process so far, in KiB (`VmHWM`).
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

/// Starts a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM). Returns false
/// where the kernel does not allow it; the peaks are then cumulative.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Drops a file from the page cache, so the next open reads it from the disk.
fn drop_from_cache(path: &Path) -> bool {
    Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .is_ok_and(|s| s.success())
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
    for start in (0..size.cases).step_by(BATCH) {
        let batch: Vec<Record> = (start..(start + BATCH).min(size.cases))
            .map(record)
            .collect();
        let t = Instant::now();
        s.create_many(&batch, NOW_MS)?;
        insert += t.elapsed();
    }
    Ok((s, insert))
}

fn run_vault(dir: &Path, size: Size) -> Res<()> {
    let path = dir.join("vault.redb");
    let now = NOW_MS;
    reset_peak_rss();
    let (s, insert) = create_filled(&path, OpenOptions::default(), size)?;
    Report::put("batched_s", insert.as_secs_f64());
    Report::put("rss_insert_kib", peak_rss_kib() as f64);
    drop(s);
    Report::put(
        "size_mib",
        std::fs::metadata(&path)?.len() as f64 / 1048576.0,
    );

    // Open and unlock, with and without redb's check on open, warm and cold.
    let mut now = now + 1;
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
        if drop_from_cache(&path) {
            let t = Instant::now();
            let s = Vault::open(&path, opts.clone())?.unlock(USER, PIN, now)?;
            Report::put(&format!("cold_open_unlock_{tag}_ms"), ms(t.elapsed()));
            now += 1;
            drop(s);
        }
    }

    // Search and list in a session, as the kiosk runs them.
    reset_peak_rss();
    let s = Vault::open(&path, OpenOptions::default())?.unlock(USER, PIN, now)?;
    let qs = queries(size.cases);
    let mut lat = Vec::with_capacity(qs.len());
    let mut results = 0usize;
    for q in &qs {
        let t = Instant::now();
        let found = s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?;
        lat.push(t.elapsed());
        results += found.len();
    }
    report_search(&mut lat, "search");
    Report::put("search_results_avg", results as f64 / qs.len() as f64);
    let t = Instant::now();
    let first = s.list(RecordKind::Case, 0, 50)?;
    Report::put("list_first_ms", ms(t.elapsed()));
    let mut lat = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let l = s.list(RecordKind::Case, 0, 50)?;
        lat.push(t.elapsed());
        assert_eq!(l.len(), first.len());
    }
    Report::put("list_ms", ms(median(lat)));
    Report::put("rss_session_kib", peak_rss_kib() as f64);
    // The full check a supervisor runs: every record, summary, index term and the manifest.
    let t = Instant::now();
    let checked = s.verify()?;
    Report::put("verify_ms", ms(t.elapsed()));
    if checked != size.cases as u64 {
        return Err(format!("verify checked {checked} records").into());
    }
    let mut s = s;

    // Single-commit inserts into the full vault.
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
        std::fs::metadata(&path)?.len() as f64 / 1048576.0,
    );
    run_vault_kiosk_index(dir, size)
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
    let (s, insert) = create_filled(&path, opts, size)?;
    Report::put("kiosk_batched_s", insert.as_secs_f64());
    let qs = queries(size.cases);
    let mut lat = Vec::with_capacity(qs.len());
    for q in &qs {
        let t = Instant::now();
        s.search_unaudited(RecordKind::Case, q, SEARCH_LIMIT)?;
        lat.push(t.elapsed());
    }
    report_search(&mut lat, "kiosk_search");
    Report::put(
        "kiosk_size_mib",
        std::fs::metadata(&path)?.len() as f64 / 1048576.0,
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

fn run_sqlcipher(dir: &Path, size: Size) -> Res<()> {
    let path = dir.join("cases.db");
    reset_peak_rss();
    let mut c = sql_open(&path)?;
    c.execute_batch(
        "CREATE TABLE cases (id BLOB PRIMARY KEY, name TEXT NOT NULL, sex TEXT, age INTEGER,
            location TEXT, risk TEXT, status TEXT, reg_date TEXT, urgent INTEGER, json TEXT NOT NULL);
         CREATE INDEX cases_name ON cases (name);
         CREATE TABLE name_terms (term TEXT NOT NULL, case_id BLOB NOT NULL,
            PRIMARY KEY (term, case_id)) WITHOUT ROWID;",
    )?;
    let mut insert = Duration::ZERO;
    for start in (0..size.cases).step_by(BATCH) {
        let batch: Vec<Record> = (start..(start + BATCH).min(size.cases))
            .map(record)
            .collect();
        let t = Instant::now();
        let tx = c.transaction()?;
        for r in &batch {
            sql_insert(&tx, r)?;
        }
        tx.commit()?;
        insert += t.elapsed();
    }
    Report::put("batched_s", insert.as_secs_f64());
    Report::put("rss_insert_kib", peak_rss_kib() as f64);
    // Close with a checkpoint, as an app does at exit, so the size is the database's.
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(c);
    Report::put(
        "size_mib",
        std::fs::metadata(&path)?.len() as f64 / 1048576.0,
    );

    let open_key_query = |path: &Path| -> Res<Duration> {
        let t = Instant::now();
        let c = sql_open(path)?;
        let n: i64 = c.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?;
        let d = t.elapsed();
        if n < 1 {
            return Err("no cases".into());
        }
        Ok(d)
    };
    let runs: Res<Vec<Duration>> = (0..OPEN_RUNS).map(|_| open_key_query(&path)).collect();
    Report::put("open_unlock_noverify_ms", ms(median(runs?)));
    if drop_from_cache(&path) {
        Report::put("cold_open_unlock_noverify_ms", ms(open_key_query(&path)?));
    }
    // The counterpart of redb's check on open: every page's HMAC.
    let t = Instant::now();
    let c = sql_open(&path)?;
    let problems: Vec<String> = c
        .prepare("PRAGMA cipher_integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Report::put("integrity_ms", ms(t.elapsed()));
    if !problems.is_empty() {
        return Err(format!("cipher_integrity_check: {problems:?}").into());
    }
    drop(c);

    reset_peak_rss();
    let c = sql_open(&path)?;
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
        assert_eq!(n, first);
    }
    Report::put("list_ms", ms(median(lat)));
    Report::put("rss_session_kib", peak_rss_kib() as f64);

    let mut c = c;
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
        std::fs::metadata(&path)?.len() as f64 / 1048576.0,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The parent: one child per engine, then the table.

fn run_child(engine: &str) -> Res<BTreeMap<String, f64>> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--engine", engine])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("{engine} run failed: {}", out.status).into());
    }
    let text = String::from_utf8(out.stdout)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}

fn fmt_ms(v: Option<&f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if *v >= 100.0 => format!("{v:.0} ms"),
        Some(v) if *v >= 1.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.3} ms"),
    }
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
        (
            "name search, kiosk's cross-script index terms".to_string(),
            pct(vault, "kiosk_search"),
            "—".into(),
        ),
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
            "open + unlock, cold page cache, with check on open".into(),
            fmt_ms(vault.get("cold_open_unlock_verify_ms")),
            "—".into(),
        ),
        (
            "open + unlock, cold page cache, no check".into(),
            fmt_ms(vault.get("cold_open_unlock_noverify_ms")),
            fmt_ms(sql.get("cold_open_unlock_noverify_ms")),
        ),
        (
            "whole-file check (redb verify_on_open / cipher_integrity_check)".into(),
            match (get(vault, "open_verify_ms"), get(vault, "open_noverify_ms")) {
                (Some(a), Some(b)) => fmt_ms(Some(&(a - b))),
                _ => "—".into(),
            },
            fmt_ms(sql.get("integrity_ms")),
        ),
        (
            "Session::verify (every record, summary, index term, manifest)".into(),
            fmt_ms(vault.get("verify_ms")),
            "—".into(),
        ),
        (
            format!("name search, {QUERIES} full names, top {SEARCH_LIMIT}"),
            pct(vault, "search"),
            pct(sql, "search"),
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
            "peak RSS, insert phase".into(),
            mib(vault, "rss_insert_kib"),
            mib(sql, "rss_insert_kib"),
        ),
        (
            "peak RSS, open + search + list".into(),
            mib(vault, "rss_session_kib"),
            mib(sql, "rss_session_kib"),
        ),
        (
            "peak RSS, whole run".into(),
            mib(vault, "rss_peak_kib"),
            mib(sql, "rss_peak_kib"),
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
    if let (Some(p99), Some(u), Some(a), Some(b)) = (
        get(vault, "search_p99_ms"),
        get(vault, "unlock_verify_ms"),
        get(vault, "batched_s"),
        get(sql, "batched_s"),
    ) {
        println!(
            "targets: name search p99 {p99:.2} ms < 5 ms: {}; unlock {u:.0} ms < 1 s: {}; \
             open + unlock with check {:.0} ms < 1 s: {}; batched insert {a:.1} s vs SQLCipher \
             {b:.1} s: {}",
            check(p99 < 5.0),
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
    if let Some(i) = args.iter().position(|a| a == "--engine") {
        let engine = args.get(i + 1).map(String::as_str).unwrap_or_default();
        let base = std::env::var_os("FIELDKIT_BENCH_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::tempdir_in(base)?;
        let started = Instant::now();
        match engine {
            "vault" => run_vault(dir.path(), size)?,
            "sqlcipher" => run_sqlcipher(dir.path(), size)?,
            other => return Err(format!("unknown engine {other}").into()),
        }
        Report::put("rss_peak_kib", peak_rss_kib() as f64);
        Report::put("wall_s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    eprintln!(
        "vault bench: {} cases batched, {} single commits (FIELDKIT_BENCH_CASES, \
         FIELDKIT_BENCH_SINGLE); vault first, then SQLCipher",
        size.cases, size.single
    );
    let vault = run_child("vault")?;
    eprintln!("vault done in {:.0} s", vault.get("wall_s").unwrap_or(&0.0));
    let sql = run_child("sqlcipher")?;
    eprintln!(
        "SQLCipher done in {:.0} s",
        sql.get("wall_s").unwrap_or(&0.0)
    );
    print_table(size, &vault, &sql);
    Ok(())
}

//! Registration with matching at N cases: the kit core (warm matcher index, one vault
//! transaction per registration) side by side with the path the command line took before the
//! kit core existed (save the record in its own commit, decrypt every case or tracing request of
//! the vault, rebuild the matcher's profiles, match; nothing persisted). Also sign-in to ready
//! (unlock + the warm index built) and each process's peak resident memory.
//!
//! ```text
//! cargo bench -p fieldkit-app --bench registration                 # 2,000 cases, a quick look
//! FIELDKIT_BENCH_CASES=10000,50000,100000 cargo bench -p fieldkit-app --bench registration
//! ```
//! It also times a one-shot command (`fieldkit case add`: open, sign in, ready, register one
//! case, sign out) in fresh processes, without and then with the index's snapshot.
//!
//! Other knobs: `FIELDKIT_BENCH_SAVES` (kit registrations per kind, default 200),
//! `FIELDKIT_BENCH_OLD_SAVES` (today's path, default 20: it takes seconds each at 50k),
//! `FIELDKIT_BENCH_DIR` (keep the built vaults there and reuse them; default a temporary
//! directory), `FIELDKIT_BENCH_CACHE_MIB` (the vault's page cache; default the kit's,
//! `fieldkit_app::KIT_VAULT_CACHE_BYTES`).
//!
//! Each size runs in fresh processes, so each peak RSS (`VmHWM`) is that of one job alone: one
//! process builds the vault from the evaluation population (seed 7), one signs in as the kiosk
//! does and registers tracing requests and cases through the kit, one runs today's path on a
//! copy of the same vault. The registered records come from the same population (they match
//! children already in the vault). The vault is opened as the kiosk opens it (whole-file check,
//! the matcher's name indexer); that check is timed apart from sign-in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use fieldkit_app::{KIT_VAULT_CACHE_BYTES, Kit, KitConfig, MatcherIndexer};
use fieldkit_domain::{Case, Date, Record, RecordKind, TracingRequest};
use fieldkit_match::matcher::{MatchSettings, match_changed};
use fieldkit_match::profile::Locations;
use fieldkit_match::triage::TriageRules;
use fieldkit_match_eval::population::{PopulationSpec, generate};
use fieldkit_vault::{OpenOptions, Session, Vault};
use serde_json::{Map, Value, json};

/// 2026-03-01 12:00 UTC, the evaluation population's day.
const NOW: u64 = 1_772_366_400_000;
/// Records held back from the vault to be registered, per kind.
const HELD_BACK: usize = 400;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn options() -> OpenOptions {
    OpenOptions {
        indexer: Arc::new(MatcherIndexer),
        cache_bytes: std::env::var("FIELDKIT_BENCH_CACHE_MIB")
            .ok()
            .and_then(|m| m.parse::<usize>().ok())
            .map_or(KIT_VAULT_CACHE_BYTES, |m| m << 20),
        ..OpenOptions::default()
    }
}

/// One `/proc/self/status` figure (kB there), in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Peak resident set of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident set now, in MiB.
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// Time this thread spent on a CPU so far, in ms (the figure a loaded machine inflates least).
fn cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |ns| ns / 1e6)
}

/// CPU time of the whole process so far (every thread, those ended included), in ms; 10 ms
/// steps.
fn process_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse::<f64>().ok())
        .collect();
    // utime and stime (fields 14 and 15, in ticks of 10 ms): the 11th and 12th numbers after
    // the name (the state before them is a letter).
    match (f.get(10), f.get(11)) {
        (Some(u), Some(s)) => (u + s) * 10.0,
        _ => f64::NAN,
    }
}

/// Nearest-rank percentile of milliseconds.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[path = "../tests/common/mod.rs"]
mod common;
use common::{PIN, USER, form};

/// Builds the vault of about `n` cases (and the population's tracing requests), and writes the
/// records held back for registration beside it.
fn build(dir: &Path, n: usize) {
    let t = Instant::now();
    let pop = generate(PopulationSpec::with_cases(7, n + HELD_BACK));
    let (mut cases, mut requests) = common::population_records(&pop, Date::from_unix_ms(NOW));
    drop(pop);
    // The vault keeps most of the requests (a kit's registrations seek children of each other).
    let held_cases = cases.split_off(cases.len() - HELD_BACK.min(cases.len() / 10));
    let held_requests = requests.split_off(requests.len() - HELD_BACK.min(requests.len() / 3));
    let mut s = common::new_vault(&dir.join("vault.redb"), NOW, options());
    for chunk in cases.chunks(2000).chain(requests.chunks(2000)) {
        s.create_many(chunk, NOW).unwrap();
    }
    let forms = json!({
        "cases": held_cases.iter().map(|r| Value::Object(form(r))).collect::<Vec<_>>(),
        "requests": held_requests.iter().map(|r| Value::Object(form(r))).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("register.json"), forms.to_string()).unwrap();
    let built = json!({"cases": cases.len(), "requests": requests.len(),
                       "secs": t.elapsed().as_secs_f64()});
    std::fs::write(dir.join("built.json"), built.to_string()).unwrap();
    println!("{built}");
}

fn held(dir: &Path, kind: &str, take: usize) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(dir.join("register.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v[kind]
        .as_array()
        .unwrap()
        .iter()
        .take(take)
        .map(|o| o.as_object().unwrap().clone())
        .collect()
}

/// Opens the vault as the kiosk does (timed: the whole-file check) and signs in.
fn open(dir: &Path) -> (Vault, f64) {
    let t = Instant::now();
    let vault = Vault::open(&dir.join("vault.redb"), options()).unwrap();
    (vault, ms(t))
}

/// The kit core: sign-in to ready, then registrations.
fn kit(dir: &Path, n: usize) {
    let saves = env_usize("FIELDKIT_BENCH_SAVES", 200);
    let (vault, open_ms) = open(dir);
    let open_rss = rss_mib();
    let (t, cpu, proc_cpu) = (Instant::now(), cpu_ms(), process_cpu_ms());
    let session = vault.unlock(USER, PIN, NOW).unwrap();
    let unlock_rss = rss_mib();
    let mut kit = Kit::open(session, KitConfig::default(), NOW).unwrap();
    let ready_ms = ms(t);
    let ready_cpu_ms = cpu_ms() - cpu;
    let ready_process_cpu_ms = process_cpu_ms() - proc_cpu;
    let ready_rss = rss_mib();
    let index_mib = kit.index().memory_bytes() as f64 / f64::from(1 << 20);
    // Resident memory after 1, 10, 50 and every 100 registrations (where the growth after
    // sign-in goes; `FIELDKIT_BENCH_SAVES=400` registers 800 in all), with the index's own
    // bytes (its tables' capacities) beside it and the resident set split into anonymous memory
    // (the heap) and file pages (the program's code and mapped files), and the vault file's
    // size: [registrations, RSS, index, RssAnon, RssFile, vault file] in MiB.
    let mut rss_after = Vec::new();
    let mut registered = 0usize;
    let mut lat = |kind: RecordKind, forms: Vec<Map<String, Value>>, kit: &mut Kit| {
        let (mut out, mut cpu) = (Vec::new(), Vec::new());
        let mut found = 0;
        for (i, f) in forms.into_iter().enumerate() {
            let (t, c) = (Instant::now(), cpu_ms());
            let saved = kit.register(kind, f, NOW + 1000 + i as u64).unwrap();
            out.push(ms(t));
            cpu.push(cpu_ms() - c);
            found += saved.matches.len();
            registered += 1;
            if [1, 10, 50].contains(&registered) || registered.is_multiple_of(100) {
                let index_mib = kit.index().memory_bytes() as f64 / f64::from(1 << 20);
                rss_after.push(json!([
                    registered,
                    rss_mib(),
                    index_mib,
                    status_mib("RssAnon:"),
                    status_mib("RssFile:"),
                    std::fs::metadata(dir.join("vault.redb"))
                        .map_or(f64::NAN, |m| m.len() as f64 / f64::from(1 << 20))
                ]));
            }
        }
        (out, cpu, found)
    };
    let (req, req_cpu, req_found) = lat(
        RecordKind::TracingRequest,
        held(dir, "requests", saves),
        &mut kit,
    );
    let (case, case_cpu, case_found) = lat(RecordKind::Case, held(dir, "cases", saves), &mut kit);
    println!(
        "{}",
        json!({"mode": "kit", "cases": n, "open_ms": open_ms, "ready_ms": ready_ms,
               "ready_cpu_ms": ready_cpu_ms, "ready_process_cpu_ms": ready_process_cpu_ms, "open_rss_mib": open_rss, "unlock_rss_mib": unlock_rss,
               "ready_rss_mib": ready_rss, "index_mib": index_mib, "rss_after_registrations": rss_after, "rss_mib": rss_mib(), "peak_rss_mib": peak_rss_mib(),
               "request_cpu_p50": pct(&req_cpu, 50.0), "request_cpu_p99": pct(&req_cpu, 99.0),
               "case_cpu_p50": pct(&case_cpu, 50.0), "case_cpu_p99": pct(&case_cpu, 99.0),
               "request_p50": pct(&req, 50.0), "request_p99": pct(&req, 99.0), "requests": req.len(),
               "request_matches": req_found,
               "case_p50": pct(&case, 50.0), "case_p99": pct(&case, 99.0), "cases_registered": case.len(),
               "case_matches": case_found})
    );
}

fn all_cases(s: &mut Session) -> Vec<Case> {
    s.all(RecordKind::Case, NOW)
        .unwrap()
        .into_iter()
        .filter_map(|o| match o.record {
            Record::Case(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn all_requests(s: &mut Session) -> Vec<TracingRequest> {
    s.all(RecordKind::TracingRequest, NOW)
        .unwrap()
        .into_iter()
        .filter_map(|o| match o.record {
            Record::TracingRequest(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// The path before the kit core (the command line's `case add` / `tracing add` of the morning
/// of 2026-12-03): mint, triage a case, save it in its own commit, then decrypt every record
/// of the other kind, rebuild the profiles and match the new record; nothing persisted.
fn old(dir: &Path, n: usize) {
    let saves = env_usize("FIELDKIT_BENCH_OLD_SAVES", 20);
    let (vault, _) = open(dir);
    let mut s = vault.unlock(USER, PIN, NOW).unwrap();
    let today = Date::from_unix_ms(NOW);
    let rules = TriageRules::default_rules();
    let settings = MatchSettings::default();
    let locations = Locations::CodePrefixes;
    let register = |kind: RecordKind, f: Map<String, Value>, i: u64, s: &mut Session| {
        let t = Instant::now();
        let mut f = f;
        let id = s.mint_id(NOW).unwrap();
        f.insert("id".into(), Value::String(id.to_string()));
        let mut record = Record::from_json(kind, Value::Object(f)).unwrap();
        if let Record::Case(c) = &mut record {
            let t = rules.assess(c, today);
            c.risk_level = Some(t.level.as_str().to_string());
            c.urgent_protection_concern |= t.urgent_alert(c.id).is_some();
        }
        s.create(&record, NOW + i).unwrap();
        let found = match &record {
            Record::Case(c) => {
                let requests = all_requests(s);
                match_changed(
                    std::slice::from_ref(&**c),
                    &[],
                    std::iter::once(&**c),
                    &requests,
                    &locations,
                    today,
                    &settings,
                )
            }
            Record::TracingRequest(r) => {
                let cases = all_cases(s);
                match_changed(
                    &[],
                    std::slice::from_ref(&**r),
                    &cases,
                    std::iter::once(&**r),
                    &locations,
                    today,
                    &settings,
                )
            }
            _ => Vec::new(),
        };
        (ms(t), found.len())
    };
    let mut req = Vec::new();
    for (i, f) in held(dir, "requests", saves).into_iter().enumerate() {
        req.push(register(RecordKind::TracingRequest, f, i as u64, &mut s).0);
    }
    let mut case = Vec::new();
    for (i, f) in held(dir, "cases", saves).into_iter().enumerate() {
        case.push(register(RecordKind::Case, f, (saves + i) as u64, &mut s).0);
    }
    println!(
        "{}",
        json!({"mode": "old", "cases": n, "peak_rss_mib": peak_rss_mib(),
               "request_p50": pct(&req, 50.0), "request_p99": pct(&req, 99.0), "requests": req.len(),
               "case_p50": pct(&case, 50.0), "case_p99": pct(&case, 99.0), "cases_registered": case.len()})
    );
}

/// A one-shot command (`fieldkit case add`): open the vault, sign in, make the kit ready,
/// register one record, keep the index's snapshot when due, sign out. Run twice in fresh
/// processes: first on a vault without a snapshot (it builds and saves one), then with it.
fn oneshot(dir: &Path, n: usize) {
    let t = Instant::now();
    let (vault, open_ms) = open(dir);
    let session = vault.unlock(USER, PIN, NOW).unwrap();
    let unlock_ms = ms(t) - open_ms;
    let t_ready = Instant::now();
    let mut kit = Kit::open(session, KitConfig::default(), NOW).unwrap();
    let ready_ms = ms(t_ready);
    let source = format!("{:?}", kit.index_source());
    let t_save = Instant::now();
    let saved_snapshot = kit.save_index_snapshot_if_due(NOW).unwrap();
    let save_ms = ms(t_save);
    let t_reg = Instant::now();
    let f = held(dir, "cases", 1).remove(0);
    let saved = kit.register(RecordKind::Case, f, NOW + 1).unwrap();
    let register_ms = ms(t_reg);
    drop(kit.lock());
    println!(
        "{}",
        json!({"mode": "oneshot", "cases": n, "source": source, "open_ms": open_ms,
               "unlock_ms": unlock_ms, "ready_ms": ready_ms, "snapshot_saved": saved_snapshot,
               "save_ms": save_ms, "register_ms": register_ms, "matches": saved.matches.len(),
               "total_ms": ms(t), "process_cpu_ms": process_cpu_ms(), "peak_rss_mib": peak_rss_mib()})
    );
}

/// Runs this program again as `mode` on `dir` and returns the JSON line it printed.
fn child(mode: &str, dir: &Path, n: usize) -> Value {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--fieldkit-bench-child", mode])
        .arg(dir)
        .arg(n.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{mode} at {n} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{mode}: {e}: {text}"))
}

/// A copy of the built vault's directory, so each run starts from the same records.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--fieldkit-bench-child") {
        let mode = args[at + 1].as_str();
        let dir = PathBuf::from(&args[at + 2]);
        let n: usize = args[at + 3].parse().unwrap();
        match mode {
            "build" => build(&dir, n),
            "kit" => kit(&dir, n),
            "old" => old(&dir, n),
            "oneshot" => oneshot(&dir, n),
            other => panic!("unknown mode {other}"),
        }
        return;
    }
    let sizes: Vec<usize> = std::env::var("FIELDKIT_BENCH_CASES")
        .unwrap_or_else(|_| "2000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let root = std::env::var_os("FIELDKIT_BENCH_DIR")
        .map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    println!(
        "registration with matching (fresh process per job; load average {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:>7} | {:>7} {:>8} | {:>15} {:>15} {:>7} | {:>15} {:>15} {:>7}",
        "cases",
        "open ms",
        "ready ms",
        "kit TR p50/p99",
        "kit case p50/99",
        "kit MiB",
        "old TR p50/p99",
        "old case p50/99",
        "old MiB"
    );
    for n in sizes {
        let base = root.join(format!("cases-{n}"));
        if !base.join("built.json").exists() {
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&base).unwrap();
            child("build", &base, n);
        }
        let built: Value =
            serde_json::from_str(&std::fs::read_to_string(base.join("built.json")).unwrap())
                .unwrap();
        let work = root.join(format!("work-{n}"));
        copy_dir(&base, &work);
        let k = child("kit", &work, n);
        copy_dir(&base, &work);
        let first = child("oneshot", &work, n);
        let second = child("oneshot", &work, n);
        copy_dir(&base, &work);
        let o = child("old", &work, n);
        let _ = std::fs::remove_dir_all(&work);
        let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:>7} | {:>7.0} {:>8.0} | {:>7.1}/{:<7.1} {:>7.1}/{:<7.1} {:>7.1} | {:>7.0}/{:<7.0} {:>7.0}/{:<7.0} {:>7.1}",
            built["cases"].as_u64().unwrap_or(0),
            f(&k, "open_ms"),
            f(&k, "ready_ms"),
            f(&k, "request_p50"),
            f(&k, "request_p99"),
            f(&k, "case_p50"),
            f(&k, "case_p99"),
            f(&k, "peak_rss_mib"),
            f(&o, "request_p50"),
            f(&o, "request_p99"),
            f(&o, "case_p50"),
            f(&o, "case_p99"),
            f(&o, "peak_rss_mib"),
        );
        println!(
            "  vault: {} cases, {} tracing requests (built in {:.0} s); registered: {} requests and {} cases by the kit, {} and {} by today's path",
            built["cases"],
            built["requests"],
            f(&built, "secs"),
            k["requests"],
            k["cases_registered"],
            o["requests"],
            o["cases_registered"]
        );
        println!(
            "  one-shot `case add` (open, sign in, ready, register, sign out): without a snapshot {:.0} ms (ready {:.0}, saving the snapshot {:.0}), with it {:.0} ms (ready {:.0}, {})",
            f(&first, "total_ms"),
            f(&first, "ready_ms"),
            f(&first, "save_ms"),
            f(&second, "total_ms"),
            f(&second, "ready_ms"),
            second["source"].as_str().unwrap_or("")
        );
        println!("  kit: {k}\n  one-shot: {first}\n  one-shot: {second}\n  old: {o}");
    }
}

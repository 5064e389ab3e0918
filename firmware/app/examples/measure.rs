//! Registration with matching at N cases: the kit's warm index against today's path (decrypt
//! all, match_changed). Usage: cargo run --release -p fieldkit-app --example measure -- 10000
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Instant;

use fieldkit_app::{Kit, KitConfig};
use fieldkit_domain::{Date, Record, RecordId, RecordKind};
use fieldkit_match::eval::population::{PopulationSpec, generate};
use fieldkit_match::matcher::{MatchSettings, match_changed};
use fieldkit_match::profile::Locations;
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};

fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let now: u64 = 1_772_000_000_000;
    let pop = generate(PopulationSpec::with_cases(7, n));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.redb");
    let (mut s, _) = Vault::create(
        &path,
        InitOptions {
            username: "amina",
            display_name: "A",
            credential: b"482915",
            policy: CredentialPolicy::default(),
            now_ms: now,
        },
        OpenOptions::default(),
    )
    .unwrap();
    let today = Date::from_unix_ms(now);
    let cases: Vec<Record> = pop
        .cases
        .iter()
        .map(|c| Record::Case(Box::new(c.clone())))
        .filter(|r| r.validate(today).is_ok())
        .collect();
    let n = cases.len();
    for chunk in cases.chunks(2000) {
        s.create_many(chunk, now).unwrap();
    }
    let reqs: Vec<_> = pop.requests.iter().take(60).cloned().collect();
    drop(pop);
    let vault = s.lock();
    let t = Instant::now();
    let s = vault.unlock("amina", b"482915", now).unwrap();
    let unlock = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut kit = Kit::open(s, KitConfig::default(), now).unwrap();
    let ready = t.elapsed().as_secs_f64();
    let (rss0, _) = rss();
    let mut lat = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let mut v = serde_json::to_value(r).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("id");
        let t = Instant::now();
        if kit
            .register(RecordKind::TracingRequest, o.clone(), now + i as u64)
            .is_err()
        {
            continue;
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (rss1, hwm1) = rss();
    println!(
        "cases {n}: unlock {unlock:.2} s, sign-in to ready (index) {ready:.2} s; kit registration of a tracing request p50 {:.1} ms p99 {:.1} ms ({} saves); RSS {rss0}->{rss1} MiB, peak {hwm1} MiB",
        pct(&mut lat.clone(), 0.5),
        pct(&mut lat, 0.99),
        reqs.len()
    );
    // Today's path: decrypt every case, build profiles, match the new request.
    let mut s = kit.lock().unlock("amina", b"482915", now).unwrap();
    let mut old = Vec::new();
    for r in reqs.iter().take(5) {
        let mut r = r.clone();
        r.id = RecordId::mint(now, [3; 10]);
        let t = Instant::now();
        let all: Vec<_> = s
            .all(RecordKind::Case, now)
            .unwrap()
            .into_iter()
            .filter_map(|o| match o.record {
                Record::Case(c) => Some(*c),
                _ => None,
            })
            .collect();
        let _ = match_changed(
            &[],
            std::slice::from_ref(&r),
            &all,
            std::iter::once(&r),
            &Locations::CodePrefixes,
            Date::from_unix_ms(now),
            &MatchSettings::default(),
        );
        old.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (_, hwm2) = rss();
    println!(
        "cases {n}: today's path (decrypt all + match_changed) p50 {:.0} ms max {:.0} ms (5 saves); peak RSS {hwm2} MiB",
        pct(&mut old.clone(), 0.5),
        pct(&mut old, 1.0)
    );
}

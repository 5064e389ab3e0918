//! The touch screen's figures, printed (a bench binary, not timed assertions):
//! - process start to the first frame of the lock page;
//! - one frame of the case list with 10,000 and 50,000 cases in the vault, and frames while
//!   scrolling it;
//! - peak RSS of a kiosk signed in on 50,000 cases (a fresh process: vault, kit, screen);
//! - frames drawn per minute while nothing changes (should be 0).
//!
//! `cargo bench -p fieldkit-ui --bench screen` (sizes: `FIELDKIT_BENCH_CASES=10000,50000`;
//! idle measurement seconds: `FIELDKIT_BENCH_IDLE_S=10`; one case in
//! `FIELDKIT_BENCH_PHOTO_EVERY=4` has a photo, 0 for none: each list row looks its thumbnail
//! up, and a row with one decodes it). Headless software renderer at 800×480, as on the 7"
//! panel. `FIELDKIT_BENCH_VAULT_DIR=DIR` keeps the filled vaults in DIR and reuses them.
//! The RSS child prints its memory after each step (unlock, kit, first frames, scrolling).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldkit_app::{Kit, KitConfig};
use fieldkit_ui::controller::{App, KitSlot, Setup};
use fieldkit_ui::{MainWindow, Page, demo};
use fieldkit_vault::{CredentialPolicy, InitOptions, OpenOptions, Vault};
use slint::platform::WindowEvent;
use slint::{ComponentHandle, LogicalPosition, PhysicalSize};

const SIZE: PhysicalSize = PhysicalSize::new(800, 480);

/// The vault opened as the kiosk opens it (`fieldkit kiosk`: the kit's page cache, not the
/// library's default 32 MiB, which would put up to 24 MiB more in the peak RSS figure).
fn options() -> OpenOptions {
    OpenOptions {
        // The kiosk's blind-index terms: the matcher's cross-script name keys (as the binary's).
        indexer: Arc::new(fieldkit_app::MatcherIndexer),
        verify_on_open: false,
        cache_bytes: fieldkit_app::KIT_VAULT_CACHE_BYTES,
        ..OpenOptions::default()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Seconds since this process started, from the kernel's start time (clock ticks since boot).
fn since_process_start() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // USER_HZ is 100 on Linux for every architecture the kit uses.
    Some(uptime - start_ticks / 100.0)
}

/// A field of `/proc/self/status` in MiB (`VmHWM`: peak RSS; `RssAnon`, `RssFile`: now).
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM")
}

/// One step of the RSS child: resident memory now (anonymous and file-backed) and the peak.
fn rss_step(step: &str) {
    let m = |f| status_mib(f).unwrap_or(f64::NAN);
    println!(
        "  {step}: RSS {:.1} MiB (anon {:.1}, files {:.1}), peak {:.1} MiB",
        m("VmRSS"),
        m("RssAnon"),
        m("RssFile"),
        m("VmHWM")
    );
}

/// One case in this many has a photo (0: none).
fn photo_every() -> usize {
    std::env::var("FIELDKIT_BENCH_PHOTO_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

fn make_vault(path: &Path, cases: usize) {
    let (mut session, _) = Vault::create(
        path,
        InitOptions {
            username: demo::USER,
            display_name: "bench",
            credential: demo::PIN.as_bytes(),
            policy: CredentialPolicy::default(),
            now_ms: now(),
        },
        options(),
    )
    .unwrap();
    demo::bulk_cases(&mut session, cases, photo_every(), now()).unwrap();
}

/// Signs in on `path` and puts the screen on the case list; returns the window and app.
/// `step` is told after each stage (the RSS child prints memory there).
fn signed_in(path: &Path, step: &dyn Fn(&str)) -> (MainWindow, App) {
    let session = Vault::open(path, options())
        .unwrap()
        .unlock(demo::USER, demo::PIN.as_bytes(), now())
        .unwrap();
    step("vault unlocked");
    let kit = Kit::open(session, KitConfig::default(), now()).unwrap();
    step("kit open (matcher index built or loaded)");
    let window = MainWindow::new().unwrap();
    let p = path.to_owned();
    let app = App::install(
        &window,
        Setup {
            config: KitConfig::default(),
            kit: Arc::new(Mutex::new(KitSlot::Open(Box::new(kit)))),
            reopen: Arc::new(move || Vault::open(&p, options())),
            idle: Duration::from_secs(3600),
            kit_name: "fieldkit".into(),
            user: demo::USER.into(),
            on_open: None,
            on_lock: None,
        },
    );
    app.opened();
    (window, app)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The case list at `cases`: first frame, then frames while scrolling down.
fn case_list(surface: &slint::platform::software_renderer::MinimalSoftwareWindow, cases: usize) {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let path = bench_vault(dir.path(), cases);
    let filled = t.elapsed();
    let (window, app) = signed_in(&path, &|_| ());
    fieldkit_ui::headless::render(surface, SIZE);
    let t = Instant::now();
    window
        .global::<fieldkit_ui::AppState>()
        .invoke_navigate(Page::Cases);
    fieldkit_ui::headless::render(surface, SIZE);
    let first = t.elapsed();
    assert_eq!(app.case_rows(), cases);
    // Scroll: wheel events over the list, one frame each.
    let mut frames = Vec::new();
    for _ in 0..120 {
        window
            .window()
            .dispatch_event(WindowEvent::PointerScrolled {
                position: LogicalPosition::new(400.0, 380.0),
                delta_x: 0.0,
                delta_y: -180.0,
            });
        let t = Instant::now();
        if fieldkit_ui::headless::draw(surface, SIZE).is_some() {
            frames.push(t.elapsed());
        }
    }
    frames.sort();
    let p = |q: f64| {
        frames
            .get(((frames.len() as f64 - 1.0) * q) as usize)
            .copied()
    };
    println!(
        "case list, {cases} cases (one in {} with a photo): vault filled in {:.1} s; first frame {:.1} ms; scrolling {} frames, \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; vault pages read {}",
        photo_every(),
        filled.as_secs_f64(),
        ms(first),
        frames.len(),
        p(0.5).map_or(f64::NAN, ms),
        p(0.99).map_or(f64::NAN, ms),
        p(1.0).map_or(f64::NAN, ms),
        app.cases().reads(),
    );
    app.lock();
}

/// A fresh process signed in on a vault of `FIELDKIT_BENCH_RSS_VAULT`: prints its memory at
/// each step, then its peak RSS on the last line.
fn rss_child(path: &Path) {
    let surface = fieldkit_ui::headless::install().unwrap();
    rss_step("started");
    let (window, app) = signed_in(path, &rss_step);
    fieldkit_ui::headless::render(&surface, SIZE);
    rss_step("home page drawn");
    window
        .global::<fieldkit_ui::AppState>()
        .invoke_navigate(Page::Cases);
    fieldkit_ui::headless::render(&surface, SIZE);
    rss_step("case list drawn");
    for _ in 0..60 {
        window
            .window()
            .dispatch_event(WindowEvent::PointerScrolled {
                position: LogicalPosition::new(400.0, 380.0),
                delta_x: 0.0,
                delta_y: -300.0,
            });
        fieldkit_ui::headless::draw(&surface, SIZE);
    }
    rss_step(&format!(
        "case list scrolled ({} thumbnails held)",
        app.cases().thumbnails_kept()
    ));
    app.lock();
    rss_step("signed out");
    println!("{:.1}", peak_rss_mib().unwrap_or(f64::NAN));
}

/// A vault of `cases` at `dir/vault.redb`; with `FIELDKIT_BENCH_VAULT_DIR` set, kept there and
/// reused by later runs (filling 50,000 cases takes a while).
fn bench_vault(dir: &Path, cases: usize) -> std::path::PathBuf {
    if let Some(keep) = std::env::var_os("FIELDKIT_BENCH_VAULT_DIR") {
        let path = Path::new(&keep).join(format!("screen-{cases}-{}.redb", photo_every()));
        if !path.exists() {
            make_vault(&path, cases);
        }
        return path;
    }
    let path = dir.join("vault.redb");
    make_vault(&path, cases);
    path
}

fn main() {
    if let Some(path) = std::env::var_os("FIELDKIT_BENCH_RSS_VAULT") {
        rss_child(Path::new(&path));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let surface = fieldkit_ui::headless::install().unwrap();

    // Start to first frame: the lock page of a fresh screen.
    let window = MainWindow::new().unwrap();
    fieldkit_ui::headless::render(&surface, SIZE);
    if let Some(s) = since_process_start() {
        println!("process start to first frame: {:.0} ms", s * 1000.0);
    }

    // Idle: nothing changes, so nothing should be drawn.
    let idle_s: u64 = std::env::var("FIELDKIT_BENCH_IDLE_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let start = Instant::now();
    let mut drawn = 0u64;
    while start.elapsed() < Duration::from_secs(idle_s) {
        if fieldkit_ui::headless::draw(&surface, SIZE).is_some() {
            drawn += 1;
        }
        std::thread::sleep(Duration::from_millis(16));
    }
    println!(
        "idle lock page: {drawn} frames drawn in {idle_s} s ({:.1} per minute)",
        drawn as f64 * 60.0 / idle_s as f64
    );
    drop(window);

    let sizes: Vec<usize> = std::env::var("FIELDKIT_BENCH_CASES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 50_000]);
    for &n in &sizes {
        case_list(&surface, n);
    }

    // Peak RSS of a kiosk on the largest vault, in a fresh process.
    if let Some(&n) = sizes.iter().max() {
        let dir = tempfile::tempdir().unwrap();
        let path = bench_vault(dir.path(), n);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env("FIELDKIT_BENCH_RSS_VAULT", &path)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        let mut lines: Vec<&str> = out.lines().collect();
        let peak = lines.pop().unwrap_or("?");
        println!("peak RSS, signed in on {n} cases, case list scrolled: {peak} MiB");
        for line in lines {
            println!("{line}");
        }
    }
}

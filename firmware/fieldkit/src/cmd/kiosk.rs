//! `fieldkit kiosk`: what a kit runs all day. The touch screen (`fieldkit-ui`) runs on the main
//! thread and holds the vault, locked until a caseworker signs in on it. The power daemon runs on
//! a thread of its own ("power"): it reads the fuel gauge, current monitors and charge controller
//! through the board's drivers, lets the power policy decide, and carries the decision out:
//! backlight (blanked after the mode's screen timeout without a touch), CPU governor, which links
//! and background jobs may run, the Critical warning and the "saving and shutting down" screen,
//! and a clean shutdown before the battery browns out. Each decision is also handed to the
//! screen (status page, top bar).
//!
//! `--no-screen` (or a bounded run with `--hours`) runs the daemon alone, as tests and
//! technicians do. `--simulate --screenshots DIR` draws every screen in every language into PNG
//! files with the software renderer and exits.
//!
//! Under systemd (`Type=notify`) it tells the service manager when it is ready and pings the
//! watchdog from the daemon loop itself, so a loop that hangs gets the kiosk restarted.
//!
//! With `--simulate` the same loop runs against the simulated kit (the battery, panel and
//! charger model on an accelerated clock; the charger on a pseudo-terminal; sysfs files under
//! the data directory), so the whole daemon can be watched on a laptop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use fieldkit_drivers::embedded_hal::i2c::I2c;
use fieldkit_drivers::serial::ChargerLink;
use fieldkit_kitsync::LoraRound;
use fieldkit_kitsync::jobs::{Jobs, Radios, SyncStatus};
use fieldkit_linux::{Backlight, CpuFreq};
use fieldkit_power::{
    Admission, CpuGovernor, DAILY_JOBS, Decision, JobKind, JobQueue, Policy, PolicyConfig,
    PowerPolicy, Timestamp,
};
use fieldkit_sensors::{PowerSensors, SensorLayout};
use fieldkit_ui::controller::{App, KitSlot, Setup, SharedKit, lock_slot};
use fieldkit_ui::power::PowerView;
use fieldkit_ui::slint::{self, ComponentHandle};
use fieldkit_ui::sync::{LinkState, LinkView, SyncView};
use fieldkit_ui::{MainWindow, demo};
use fieldkit_vault::{InitOptions, Vault};

use super::Ctx;

/// Arguments of `kiosk`.
#[derive(Debug, clap::Args)]
pub struct KioskArgs {
    /// Run on simulated hardware: the battery, panel and charger model on an accelerated clock,
    /// the charger on a pseudo-terminal, the backlight and CPU governor as files under
    /// DATA_DIR/sim-sys.
    #[arg(long)]
    pub simulate: bool,
    /// With --simulate: simulated seconds per second.
    #[arg(long, default_value_t = 600)]
    pub speed: u32,
    /// With --simulate: the hour of day the simulation starts at.
    #[arg(long, default_value_t = 8.0)]
    pub start_hour: f32,
    /// With --simulate: state of charge the battery starts with, in %.
    #[arg(long, default_value_t = 70.0)]
    pub start_soc: f32,
    /// With --simulate: weather trace (TOML; default clear skies).
    #[arg(long)]
    pub weather: Option<PathBuf>,
    /// Stop after this many (simulated) hours; default: run until shut down.
    #[arg(long)]
    pub hours: Option<f32>,
    /// Print status as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Run the power daemon without the touch screen (also the case with --hours).
    #[arg(long)]
    pub no_screen: bool,
    /// With --simulate: draw every screen in every bundled language at 800x480, 1280x800 and
    /// 480x800 (portrait) into PNG files in DIR (a demo vault's records, after one sync round
    /// over the simulated links), then exit.
    #[arg(long, value_name = "DIR", requires = "simulate")]
    pub screenshots: Option<PathBuf>,
}

/// The backlight, shared by the power daemon (which sets the mode's level) and the screen
/// (which blanks it after the mode's screen timeout and wakes it on a touch).
struct Screen {
    backlight: Backlight,
    percent: u8,
    dark: bool,
    written: Option<u8>,
}

impl Screen {
    fn apply(&mut self) -> anyhow::Result<()> {
        let want = if self.dark { 0 } else { self.percent };
        if self.written != Some(want) {
            self.backlight
                .set_percent(want)
                .context("setting the backlight")?;
            self.written = Some(want);
        }
        Ok(())
    }
}

type SharedScreen = Arc<Mutex<Screen>>;

fn screen_of(shared: &SharedScreen) -> std::sync::MutexGuard<'_, Screen> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hands each decision, with what it was taken on, to the screen.
type Report = Box<dyn FnMut(&Decision, &fieldkit_power::Observation) + Send>;

/// Told each time a background job ran with the unlocked kit: the job and what it did (its
/// outcome, or why it failed), in words for the log (never case data).
type JobDone = Box<dyn FnMut(JobKind, &str) + Send>;

/// Hands the sync jobs' state to the screen (status page, top bar) each time it changed.
type SyncReport = Box<dyn FnMut(&SyncStatus) + Send>;

/// What the daemon loop tells the rest of the kiosk.
struct Hooks {
    /// Each decision, with what it was taken on.
    report: Report,
    /// Set when the screen closed: the loop ends.
    stop: Arc<AtomicBool>,
    /// The unlocked kit (background jobs run only with it).
    kit: SharedKit,
    /// How many times the screen locked the kit (the jobs forget the session on a change).
    locks: Arc<AtomicU64>,
    /// Each job that ran (besides the log line).
    job_done: JobDone,
    /// The sync jobs' state, when it changed.
    sync: SyncReport,
    /// The background work, with the kit's radios (shared so a test can look at it between
    /// runs of the loop).
    jobs: SharedJobs,
}

#[path = "kiosk_worker.rs"]
mod worker;
use worker::{SharedJobs, Work, Worker, jobs_of};

impl Hooks {
    fn none() -> Hooks {
        Hooks {
            report: Box::new(|_, _| {}),
            stop: Arc::new(AtomicBool::new(false)),
            kit: SharedKit::default(),
            locks: Arc::default(),
            job_done: Box::new(|_, _| {}),
            sync: Box::new(|_| {}),
            jobs: SharedJobs::default(),
        }
    }
}

/// What the daemon drives from a decision.
struct Outputs {
    screen: SharedScreen,
    cpufreq: CpuFreq,
    last: Option<(u8, CpuGovernor)>,
}

impl Outputs {
    fn new(backlight: Backlight, cpufreq: CpuFreq) -> Outputs {
        Outputs {
            screen: Arc::new(Mutex::new(Screen {
                backlight,
                percent: 100,
                dark: false,
                written: None,
            })),
            cpufreq,
            last: None,
        }
    }

    /// Carries out `d`; true if that changed an output.
    fn apply(&mut self, d: &Decision) -> anyhow::Result<bool> {
        let now = (d.backlight_percent, d.governor);
        let changed = self.last != Some(now);
        if changed {
            {
                let mut screen = screen_of(&self.screen);
                screen.percent = d.backlight_percent;
                screen.apply()?;
            }
            if let Err(e) = self.cpufreq.set_governor(d.governor) {
                tracing::warn!("CPU governor not set: {e}");
            }
            self.last = Some(now);
        }
        Ok(changed)
    }
}

/// Fake sysfs files for the simulated board, so the real backlight and cpufreq code writes them.
#[cfg(feature = "simulation")]
fn simulated_sysfs(root: &std::path::Path) -> anyhow::Result<()> {
    let bl = root.join("sys/class/backlight/10-0045");
    let cpu = root.join("sys/devices/system/cpu/cpufreq/policy0");
    for d in [&bl, &cpu] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let files = [
        (bl.join("max_brightness"), "255"),
        (bl.join("brightness"), "255"),
        (bl.join("bl_power"), "0"),
        (
            cpu.join("scaling_available_governors"),
            "performance ondemand powersave",
        ),
        (cpu.join("scaling_governor"), "ondemand"),
    ];
    for (path, text) in files {
        std::fs::write(&path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Checks the kiosk's numeric arguments: every float must be a finite value in range.
fn check_args(args: &KioskArgs) -> anyhow::Result<()> {
    if args.speed == 0 {
        anyhow::bail!("--speed must be at least 1");
    }
    if !(args.start_hour.is_finite() && (0.0..24.0).contains(&args.start_hour)) {
        anyhow::bail!(
            "--start-hour must be an hour from 0 to 24 (got {})",
            args.start_hour
        );
    }
    if !(args.start_soc.is_finite() && (0.0..=100.0).contains(&args.start_soc)) {
        anyhow::bail!(
            "--start-soc must be between 0 and 100 (got {})",
            args.start_soc
        );
    }
    if let Some(h) = args.hours
        && !(h.is_finite() && h > 0.0 && h <= 24.0 * 3650.0)
    {
        anyhow::bail!("--hours must be a positive number of hours (got {h})");
    }
    Ok(())
}

/// The kit's configuration for the application core.
fn kit_config(ctx: &Ctx) -> anyhow::Result<fieldkit_app::KitConfig> {
    Ok(fieldkit_app::KitConfig {
        locations: ctx.locations()?,
        triage: ctx.triage_rules()?,
        matching: fieldkit_match::matcher::MatchSettings::default(),
        lookups: ctx.lookups()?,
    })
}

/// Makes the demo vault of `--simulate`: the demo supervisor and seeded cases and tracing
/// requests, through the kit. Prints how to sign in. With a hub's key, the kit is provisioned
/// for sync with that hub (agency `unicef`) and its public key written to `sync/kit.pub`.
fn demo_vault(ctx: &Ctx, hub: Option<x25519_dalek::PublicKey>) -> anyhow::Result<Vault> {
    let path = ctx.vault_path();
    let now = super::now_ms();
    let (session, _recovery) = Vault::create(
        &path,
        InitOptions {
            username: demo::USER,
            display_name: "Amina (demo)",
            credential: demo::PIN.as_bytes(),
            policy: ctx.config.security.policy(),
            now_ms: now,
        },
        ctx.open_options(),
    )
    .with_context(|| format!("creating the demo vault at {}", path.display()))?;
    let mut kit = fieldkit_app::Kit::open(session, kit_config(ctx)?, now)
        .context("preparing the demo kit")?;
    demo::seed(&mut kit, 40, now).context("registering the demo records")?;
    if let Some(hub_public) = hub {
        let public = fieldkit_kitsync::KitSync::provision(
            kit.session_mut(),
            &fieldkit_kitsync::Provision {
                hub_public,
                // The simulated hub's address changes each run: the jobs are told it.
                hub_address: "",
                agency: "unicef",
                label: "demo kit",
            },
        )
        .context("provisioning the demo kit for the simulated hub")?;
        let path = super::provision::public_key_path(ctx);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(
            &path,
            format!("{}\n", fieldkit_sync::seal::public_key_to_text(&public)),
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "Demo vault created at {}: sign in as `{}` with PIN {} (a demo PIN: never use it on a kit).",
        path.display(),
        demo::USER,
        demo::PIN
    );
    Ok(kit.lock())
}

/// Runs the kiosk.
pub fn run(ctx: &Ctx, args: KioskArgs) -> anyhow::Result<()> {
    check_args(&args)?;
    if let Some(dir) = &args.screenshots {
        return screenshots(ctx, &args, dir);
    }
    if !args.simulate && !cfg!(feature = "kiosk") {
        anyhow::bail!(
            "this build has no device support: run with --simulate, or build with --features kiosk"
        );
    }
    let with_screen = !args.no_screen && args.hours.is_none();
    // The simulated kiosk's LoRa air, modem and in-process hub, started before the vault so a
    // new demo vault is provisioned for that hub.
    #[cfg(feature = "simulation")]
    let mut links = if args.simulate {
        Some(simulated::start(ctx, &args)?)
    } else {
        None
    };
    #[cfg(feature = "simulation")]
    let hub_public = links
        .as_ref()
        .map(fieldkit_sim::links::KioskLinks::hub_public);
    #[cfg(not(feature = "simulation"))]
    let hub_public = None;
    // The vault: opening it checks every page and holds the lock, so no other process writes.
    let vault = match Vault::open(&ctx.vault_path(), ctx.open_options()) {
        Ok(v) => {
            let n = v.caseworker_count()?;
            tracing::info!(
                caseworkers = n,
                "vault open and locked: caseworkers sign in on the touch screen"
            );
            Some(v)
        }
        Err(fieldkit_vault::OpenError::Missing(_)) if args.simulate && with_screen => {
            Some(demo_vault(ctx, hub_public)?)
        }
        Err(fieldkit_vault::OpenError::Missing(p)) => {
            tracing::warn!(
                "no vault at {}: this kit is not provisioned yet (run `fieldkit init`)",
                p.display()
            );
            None
        }
        Err(e) => return Err(e).context("opening the vault"),
    };
    let k = &ctx.config.kiosk;
    let policy = PowerPolicy::new(PolicyConfig {
        battery_capacity_wh: k.battery_capacity_wh,
        working_hours: k.working_hours,
        ..PolicyConfig::default()
    });
    let jobs = SharedJobs::default();
    #[cfg(feature = "simulation")]
    if let Some(links) = links.as_mut() {
        *jobs_of(&jobs) = simulated::jobs(ctx, &args, links)?;
    }
    if !with_screen {
        let hooks = Hooks {
            jobs,
            ..Hooks::none()
        };
        let no_screen = Mutex::new(None);
        if args.simulate {
            run_simulated(ctx, &args, policy, hooks, &no_screen)?;
        } else {
            run_devices(ctx, &args, policy, hooks, &no_screen)?;
        }
        drop(vault);
        return Ok(());
    }
    let Some(vault) = vault else {
        anyhow::bail!("no vault to open on the screen: provision this kit first (`fieldkit init`)");
    };
    run_with_screen(ctx, &args, policy, vault, jobs)
}

/// The touch screen on this thread, the power daemon on the "power" thread.
fn run_with_screen(
    ctx: &Ctx,
    args: &KioskArgs,
    policy: PowerPolicy,
    vault: Vault,
    jobs: SharedJobs,
) -> anyhow::Result<()> {
    #[cfg(feature = "kiosk")]
    let activity = if args.simulate {
        None
    } else {
        Some(fieldkit_ui::board::install_backend().context("starting the DRM/KMS screen")?)
    };
    let window = MainWindow::new().context(
        "opening the kiosk's window (no display? run with --no-screen for the daemon alone)",
    )?;
    let kit: SharedKit = Arc::new(Mutex::new(KitSlot::Locked(Box::new(vault))));
    let locks = Arc::new(AtomicU64::new(0));
    let lock_count = locks.clone();
    let path = ctx.vault_path();
    let options = ctx.open_options();
    let app = App::install(
        &window,
        Setup {
            config: kit_config(ctx)?,
            kit: kit.clone(),
            reopen: Arc::new(move || Vault::open(&path, options.clone())),
            idle: Duration::from_secs(u64::from(ctx.config.kiosk.lock_after_s.max(10))),
            kit_name: "fieldkit".into(),
            user: ctx
                .user
                .clone()
                .or_else(|| ctx.config.default_caseworker.clone())
                .unwrap_or_else(|| {
                    if args.simulate {
                        demo::USER.into()
                    } else {
                        String::new()
                    }
                }),
            // A kit provisioned for sync queues every save made on the screen for the hub.
            on_open: Some(Arc::new(|kit: &mut fieldkit_app::Kit| {
                fieldkit_kitsync::attach(kit)
                    .map(|_| ())
                    .map_err(Into::into)
            })),
            on_lock: Some(Arc::new(move || {
                lock_count.fetch_add(1, Ordering::Relaxed);
            })),
        },
    );
    app.set_photo_sources(super::photo::screen_sources(ctx, args.simulate));
    #[cfg(feature = "kiosk")]
    if let Some(activity) = activity {
        activity.replace(Some(app.idle().clone()));
    }

    // The daemon hands its backlight over once it found it; the screen blanks and wakes it.
    let screen_slot: Arc<Mutex<Option<SharedScreen>>> = Arc::default();
    let weak = window.as_weak();
    let stop = Arc::new(AtomicBool::new(false));
    let report_weak = weak.clone();
    let hooks = Hooks {
        report: Box::new(move |d: &Decision, obs: &fieldkit_power::Observation| {
            power_view(d, obs).send(&report_weak);
        }),
        stop: stop.clone(),
        kit: kit.clone(),
        locks,
        job_done: Box::new(|_, _| {}),
        jobs,
        sync: {
            let ui = weak.clone();
            let offset = ctx.config.kiosk.utc_offset_minutes;
            Box::new(move |s: &SyncStatus| {
                sync_view(s, super::now_ms(), offset).send(&ui);
            })
        },
    };
    let slot = screen_slot.clone();
    app.idle().on_screen(move |dark| {
        let guard = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(screen) = guard.as_ref() {
            let mut s = screen_of(screen);
            s.dark = dark;
            if let Err(e) = s.apply() {
                tracing::warn!("{e:#}");
            }
        }
    });

    let result = std::thread::scope(|scope| -> anyhow::Result<()> {
        let daemon_stop = stop.clone();
        let slot = screen_slot.clone();
        let ui = weak.clone();
        let daemon = std::thread::Builder::new()
            .name("power".into())
            .spawn_scoped(scope, move || {
                let r = if args.simulate {
                    run_simulated(ctx, args, policy, hooks, &slot)
                } else {
                    run_devices(ctx, args, policy, hooks, &slot)
                };
                if !daemon_stop.load(Ordering::Relaxed) {
                    // The daemon ended on its own: a clean shutdown (or a failure). Lock the
                    // kit (everything is saved as it is typed), keep the screen up a moment,
                    // then leave.
                    let _ = ui.upgrade_in_event_loop(|_| {
                        slint::Timer::single_shot(Duration::from_secs(5), || {
                            let _ = slint::quit_event_loop();
                        });
                    });
                }
                r
            })
            .context("starting the power thread")?;
        let ran = window.run().context("running the touch screen");
        stop.store(true, Ordering::Relaxed);
        let daemon = daemon
            .join()
            .map_err(|_| anyhow::anyhow!("the power thread panicked"))?;
        ran?;
        daemon
    });
    app.lock();
    if let KitSlot::Open(kit) = std::mem::take(&mut *lock_slot(&kit)) {
        drop(kit.lock());
    }
    result
}

/// What the screen shows of the sync jobs' state: per link whether it can run now, and when
/// its last round completed, in the kit's local time.
fn sync_view(s: &SyncStatus, now_ms: u64, utc_offset_minutes: i32) -> SyncView {
    let clock = |ms: u64| fieldkit_ui::sync::clock_text(ms, now_ms, utc_offset_minutes);
    let links = s
        .links
        .iter()
        .map(|l| LinkView {
            link: l.name,
            state: if s.syncing == Some(l.name) {
                LinkState::Syncing
            } else if s.provisioned.is_none() {
                LinkState::Unknown
            } else if !l.fitted {
                LinkState::NotFitted
            } else if l.last_error.is_some() {
                LinkState::Failed
            } else if !l.allowed {
                LinkState::Off
            } else {
                LinkState::Ready
            },
            last_sync: l.last_ok_ms.map(clock),
        })
        .collect();
    SyncView {
        provisioned: s.provisioned,
        queued: s.queued.map(|(messages, _)| messages),
        links,
        last_sync: s.links.iter().filter_map(|l| l.last_ok_ms).max().map(clock),
    }
}

/// What the screen shows of a decision.
fn power_view(d: &Decision, obs: &fieldkit_power::Observation) -> PowerView {
    PowerView {
        soc_percent: obs.soc_percent.map(|r| r.value),
        battery_volts: obs.battery_voltage_mv.map(|r| r.value as f32 / 1000.0),
        solar_watts: obs.panel_power_w.map(|r| r.value),
        load_watts: obs.load_power_w.map(|r| r.value),
        mode: mode_name(d.mode),
        reason: Some(d.reason),
        charger: obs
            .charge_stage
            .map(|r| r.value.name().to_string())
            .unwrap_or_default(),
        shutting_down: d.shutdown.is_some(),
        screen_timeout_s: d.screen_timeout_s,
    }
}

/// `--screenshots DIR`: every screen of an unlocked demo kit, headless. The status page's sync
/// rows are the simulated links' own: the kit is provisioned for the simulated hub (a new demo
/// vault) and one sync round runs over the links the kiosk uses, so the rows, the queue and
/// the top bar's last sync show what that round left, worded as the live kiosk words them.
fn screenshots(ctx: &Ctx, args: &KioskArgs, dir: &Path) -> anyhow::Result<()> {
    let surface = fieldkit_ui::headless::install().context("the headless renderer")?;
    #[cfg(feature = "simulation")]
    let mut links = simulated::start(ctx, args)?;
    #[cfg(feature = "simulation")]
    let hub_public = Some(links.hub_public());
    #[cfg(not(feature = "simulation"))]
    let hub_public = None;
    let vault = match Vault::open(&ctx.vault_path(), ctx.open_options()) {
        Ok(v) => v,
        Err(fieldkit_vault::OpenError::Missing(_)) => demo_vault(ctx, hub_public)?,
        Err(e) => return Err(e).context("opening the vault"),
    };
    let now = super::now_ms();
    let user = ctx.user.clone().unwrap_or_else(|| demo::USER.into());
    let session = vault
        .unlock(&user, demo::PIN.as_bytes(), now)
        .with_context(|| format!("signing in as {user} with the demo PIN"))?;
    // Changed by the sync round (the simulated links; a build without them has none).
    #[cfg_attr(not(feature = "simulation"), allow(unused_mut))]
    let mut kit = fieldkit_app::Kit::open(session, kit_config(ctx)?, now)?;
    #[cfg(feature = "simulation")]
    let sync = Some(simulated::one_round(ctx, args, &mut kit, &mut links)?);
    #[cfg(not(feature = "simulation"))]
    let sync: Option<SyncView> = {
        let _ = args;
        None
    };
    let window = MainWindow::new().context("the screen")?;
    let shared: SharedKit = Arc::new(Mutex::new(KitSlot::Open(Box::new(kit))));
    let app = App::install(
        &window,
        Setup {
            config: kit_config(ctx)?,
            kit: shared.clone(),
            reopen: Arc::new(|| {
                Err(fieldkit_vault::OpenError::InUse(
                    "the screenshot writer signs in only once".into(),
                ))
            }),
            idle: Duration::from_secs(3600),
            kit_name: "fieldkit".into(),
            user: user.clone(),
            on_open: None,
            on_lock: None,
        },
    );
    app.opened();
    PowerView {
        soc_percent: Some(62.0),
        battery_volts: Some(13.1),
        solar_watts: Some(18.0),
        load_watts: Some(6.0),
        mode: "normal",
        reason: Some(fieldkit_power::ModeReason::Plenty),
        charger: "bulk".into(),
        shutting_down: false,
        screen_timeout_s: None,
    }
    .show(&window);
    if let Some(sync) = sync {
        sync.show(&window);
    }
    let n = fieldkit_ui::screens::write_all(&surface, &window, dir)
        .with_context(|| format!("writing screenshots to {}", dir.display()))?;
    println!("{n} screenshots written to {}", dir.display());
    app.lock();
    Ok(())
}

#[cfg(not(feature = "simulation"))]
fn run_simulated(
    _ctx: &Ctx,
    _args: &KioskArgs,
    _policy: PowerPolicy,
    _hooks: Hooks,
    _screen: &Mutex<Option<SharedScreen>>,
) -> anyhow::Result<()> {
    anyhow::bail!("this build has no simulated kit (built without the `simulation` feature)")
}

/// The daemon on the simulated kit; `screen` receives the backlight the screen blanks.
#[cfg(feature = "simulation")]
fn run_simulated(
    ctx: &Ctx,
    args: &KioskArgs,
    policy: PowerPolicy,
    hooks: Hooks,
    screen: &Mutex<Option<SharedScreen>>,
) -> anyhow::Result<()> {
    use fieldkit_sim::clock::SimClock;
    use fieldkit_sim::live::{SimCharger, SimulatedKit};
    use fieldkit_sim::model::KitSpec;
    use fieldkit_sim::weather::WeatherTrace;

    let weather = match &args.weather {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            WeatherTrace::from_toml(&text)
                .with_context(|| format!("{}: not a weather trace", p.display()))?
        }
        None => WeatherTrace::clear(365),
    };
    let spec = KitSpec {
        battery_capacity_wh: ctx.config.kiosk.battery_capacity_wh,
        ..KitSpec::default()
    };
    let clock = SimClock::new(Timestamp::from_day_and_hour(0, args.start_hour), args.speed);
    let (sim, port) = SimulatedKit::start(
        spec,
        weather,
        args.start_soc,
        clock,
        6.0,
        SimCharger::VeDirect,
    )
    .context("starting the simulated kit")?;
    let root = ctx.data_dir.join("sim-sys");
    simulated_sysfs(&root)?;
    let outputs = Outputs::new(Backlight::find(&root)?, CpuFreq::find(&root)?);
    *screen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outputs.screen.clone());
    let charger = fieldkit_drivers::serial::VeDirectPort::new(port);
    let sensors = PowerSensors::new(sim.bus.clone(), Some(charger), SensorLayout::default());
    let loads = fieldkit_sim::run::LoadFigures::default();
    let kit = &sim.kit;
    // About one decision per simulated minute (the board decides every 10 s of real time),
    // within what a thread can keep up.
    let tick = Duration::from_secs_f64((60.0 / f64::from(args.speed.max(1))).clamp(0.005, 1.0));
    tracing::info!(
        speed = args.speed,
        sysfs = %root.display(),
        "simulated kit running: battery, panel and charger model; VE.Direct on a pseudo-terminal"
    );
    daemon_loop(
        sensors,
        Daemon {
            outputs,
            policy,
            args,
            tick,
            now: || clock.now(),
            set_load: |d: &Decision, now, working, busy| {
                kit.set_load_w(loads.draw_w(d, now, working, busy, 0.0));
            },
            hooks,
        },
    )
}

/// The LoRa module on an opened port, started in point-to-point mode with the configured
/// radio settings and duty cycle. The board and the simulator share this; they differ only in
/// how the port is opened.
fn lora_round<P>(
    port: P,
    s: &crate::config::LoraSettings,
) -> Result<Box<dyn LoraRound>, fieldkit_drivers::rak3172::LoraError>
where
    P: fieldkit_drivers::serial::SerialPort + Send + std::fmt::Debug + 'static,
{
    let mut radio = fieldkit_drivers::rak3172::Rak3172::new(port);
    radio.set_duty_cycle(fieldkit_drivers::lora::DutyCycle::new(
        s.duty_permille,
        3_600_000,
    ));
    let version = radio.start()?;
    radio.configure(s.p2p)?;
    tracing::info!(
        port = %s.port,
        ?version,
        sf = s.p2p.modulation.sf,
        frequency_hz = s.p2p.frequency_hz,
        "LoRa module ready"
    );
    // After each frame the kit listens long enough for the gateway's turnaround and one
    // whole answer frame.
    let listen = fieldkit_hub::gateway::LORA_TURNAROUND
        + Duration::from_millis(u64::from(radio.time_on_air_ms(s.mtu)) + 300);
    // The kit's id is set when its sync state is read (after a sign-in).
    Ok(Box::new(fieldkit_kitsync::LoraLink::new(
        radio,
        fieldkit_sync::seal::KitId([0; 4]),
        s.mtu,
        listen,
    )))
}

/// The modem's power key on the board: a GPIO, or none when only a supply switch powers it.
#[cfg(feature = "kiosk")]
struct BoardKey(Option<fieldkit_linux::ModemPower>);

#[cfg(feature = "kiosk")]
impl fieldkit_drivers::modem::PowerKey for BoardKey {
    fn set_pressed(&mut self, pressed: bool) -> std::io::Result<()> {
        if let Some(pin) = self.0.as_mut() {
            pin.set(pressed);
        }
        Ok(())
    }
}

/// The board's radios from the configuration. A device that does not open is logged and
/// shown on its status row; the kiosk runs on without it.
#[cfg(feature = "kiosk")]
fn device_radios(ctx: &Ctx) -> anyhow::Result<Radios> {
    let mut radios = Radios::default();
    if let Some(s) = ctx.config.lora.settings()? {
        let opened = fieldkit_linux::open_serial(&s.port, 115_200, Duration::from_millis(50))
            .map_err(anyhow::Error::from)
            .and_then(|port| lora_round(port, &s).map_err(anyhow::Error::from));
        match opened {
            Ok(link) => radios.lora = Some(link),
            Err(e) => {
                tracing::warn!("LoRa module on {}: {e:#}", s.port);
                radios.lora_fault = Some(format!("LoRa module on {}: {e:#}", s.port));
            }
        }
    }
    if let Some(m) = ctx.config.modem.settings()? {
        match device_modem(&m) {
            Ok(modem) => {
                tracing::info!(port = %m.port, model = ?m.model, "cellular modem configured: on only for sync rounds");
                radios.cellular = Some(modem);
            }
            // The kiosk runs on without it (LoRa, or offline): say why on the log.
            Err(e) => tracing::warn!("cellular modem on {}: {e:#}", m.port),
        }
    }
    Ok(radios)
}

/// The modem behind its power key and supply switch GPIOs.
#[cfg(feature = "kiosk")]
fn device_modem(
    m: &crate::config::ModemSettings,
) -> anyhow::Result<Box<dyn fieldkit_kitsync::Cellular>> {
    use fieldkit_kitsync::{ModemTiming, SwitchedModem};
    let key = match m.power_key_gpio {
        Some(pin) => Some(
            fieldkit_linux::ModemPower::with_pin(pin)
                .with_context(|| format!("the modem's power key on GPIO {pin}"))?,
        ),
        None => None,
    };
    let port = m.port.clone();
    let open: fieldkit_kitsync::radio::OpenPort<serialport::TTYPort> = Box::new(move || {
        fieldkit_linux::open_serial(&port, 115_200, Duration::from_millis(50))
            .map_err(std::io::Error::other)
    });
    let mut modem = SwitchedModem::new(open, BoardKey(key), m.model, ModemTiming::default())
        .with_apn(m.apn.clone());
    if let Some(pin) = m.enable_gpio {
        let mut line = fieldkit_linux::ModemPower::with_pin(pin)
            .with_context(|| format!("the modem's supply switch on GPIO {pin}"))?;
        modem = modem.with_enable(Box::new(move |on| {
            line.set(on);
            Ok(())
        }));
    }
    Ok(Box::new(modem))
}

/// The simulated kiosk's links (`--simulate`).
#[cfg(feature = "simulation")]
mod simulated {
    use super::{Context, Ctx, Duration, Jobs, KioskArgs, Radios, Timestamp, lora_round};
    use fieldkit_kitsync::{ModemTiming, SwitchedModem};
    use fieldkit_sim::clock::SimClock;
    use fieldkit_sim::links::{KioskLinks, LinksConfig};

    /// The radio settings of the configuration, whatever its ports say (nothing is opened).
    pub(super) fn lora_settings(ctx: &Ctx) -> anyhow::Result<crate::config::LoraSettings> {
        let config = crate::config::LoraConfig {
            port: "simulated".into(),
            ..ctx.config.lora.clone()
        };
        config
            .settings()?
            .context("the simulated LoRa module's settings")
    }

    /// The air, the modem and the in-process hub (its vault under DATA_DIR/sim-hub).
    pub(super) fn start(ctx: &Ctx, args: &KioskArgs) -> anyhow::Result<KioskLinks> {
        let settings = lora_settings(ctx)?;
        let links = KioskLinks::start(
            &ctx.data_dir.join("sim-hub"),
            LinksConfig {
                p2p: settings.p2p,
                mtu: settings.mtu,
                time_scale: 0.25,
                loss_percent: 0,
                modem_boot: Duration::from_millis(1500),
                modem_register: Duration::from_millis(1000),
                clock: SimClock::new(Timestamp::from_day_and_hour(0, args.start_hour), args.speed),
                // The hub reads the kit's own location tree, lookups and triage rules, so the
                // kit codes its records against the lists the hub announces.
                deployment: super::kit_config(ctx)?,
            },
        )
        .context("starting the simulated LoRa air, modem and hub")?;
        tracing::info!(
            hub = links.hub_address(),
            "simulated links: LoRa air (kit module, hub gateway), SIM7600 modem, in-process hub"
        );
        Ok(links)
    }

    /// The scheduler's waits shortened with the simulated clock (but not below a minute
    /// between listens, so an idle kiosk stays idle).
    pub(super) fn schedule(speed: u32) -> fieldkit_sync::schedule::SchedulePolicy {
        let d = fieldkit_sync::schedule::SchedulePolicy::default();
        let speed = u64::from(speed.max(1));
        fieldkit_sync::schedule::SchedulePolicy {
            max_batch_age_ms: (d.max_batch_age_ms / speed).max(20_000),
            listen_every_ms: (d.listen_every_ms / speed).max(60_000),
            poll_every_ms: (d.poll_every_ms / speed).max(60_000),
            // A hub that does not answer: rests shortened too (not below a second).
            backoff_base_ms: (d.backoff_base_ms / speed).max(1_000),
            backoff_max_ms: (d.backoff_max_ms / speed).max(1_000),
            urgent_retry_ms: (d.urgent_retry_ms / speed).max(1_000),
            idle_ms: 5_000,
            ..d
        }
    }

    /// One sync round before the screenshots, as the kiosk runs a daily `BulkSync` with the
    /// kit a caseworker unlocked: the jobs over the simulated links, the kit given its outbox
    /// as the screen's sign-in gives it, the power mode a sunny day's (the status page's
    /// figures). Returns what the status page shows after it. A round that fails is shown
    /// failed, as on a kit; a kit not provisioned for sync is shown working offline.
    pub(super) fn one_round(
        ctx: &Ctx,
        args: &KioskArgs,
        kit: &mut fieldkit_app::Kit,
        links: &mut KioskLinks,
    ) -> anyhow::Result<super::SyncView> {
        let mut jobs = jobs(ctx, args, links)?;
        fieldkit_kitsync::attach(kit).context("the kit's sync state")?;
        let decision = super::Decision::for_mode(fieldkit_power::PowerMode::Normal, false);
        match jobs.run(
            super::JobKind::BulkSync,
            kit,
            &decision,
            super::super::now_ms(),
        ) {
            Ok(outcome) => tracing::info!(?outcome, "sync round before the screenshots"),
            Err(e) => tracing::warn!("sync round before the screenshots failed: {e}"),
        }
        Ok(super::sync_view(
            &jobs.status(),
            super::super::now_ms(),
            ctx.config.kiosk.utc_offset_minutes,
        ))
    }

    /// The jobs with the kit's ends of the simulated links, driven by the same code as a
    /// board's devices; the kit enrolled at the hub if it has a sync key (`sync/kit.pub`).
    pub(super) fn jobs(
        ctx: &Ctx,
        args: &KioskArgs,
        links: &mut KioskLinks,
    ) -> anyhow::Result<Jobs> {
        let key_file = super::super::provision::public_key_path(ctx);
        if let Ok(text) = std::fs::read_to_string(&key_file) {
            let public = fieldkit_sync::seal::public_key_from_text(&text)
                .with_context(|| format!("{}", key_file.display()))?;
            links.enroll(public, "unicef", "demo kit")?;
        }
        let lora = match links.lora_port.take() {
            Some(port) => Some(lora_round(port, &lora_settings(ctx)?)?),
            None => None,
        };
        let cellular = match links.modem_port.take() {
            Some(port) => {
                let model = crate::config::ModemConfig {
                    port: "simulated".into(),
                    ..ctx.config.modem.clone()
                }
                .settings()
                .ok()
                .flatten();
                // A USB modem's port is opened anew at each power-up; the pseudo-terminal's
                // end is kept and a handle of it opened instead.
                let open: fieldkit_kitsync::radio::OpenPort<serialport::TTYPort> =
                    Box::new(move || port.try_clone_native().map_err(std::io::Error::other));
                let modem = SwitchedModem::new(
                    open,
                    links.modem_key.clone(),
                    fieldkit_drivers::modem::ModemModel::Sim7600,
                    ModemTiming {
                        press: Duration::from_millis(100),
                        boot: Duration::from_secs(10),
                        register: Duration::from_secs(10),
                    },
                )
                .with_apn(model.and_then(|m| m.apn));
                Some(Box::new(modem) as Box<dyn fieldkit_kitsync::Cellular>)
            }
            None => None,
        };
        let mut jobs = Jobs::with_radios(Radios {
            lora,
            cellular,
            lora_fault: None,
        });
        jobs.set_hub_address(links.hub_address());
        jobs.set_schedule(schedule(args.speed));
        Ok(jobs)
    }
}

/// The daemon on the board's devices; `screen` receives the backlight the screen blanks.
#[cfg(feature = "kiosk")]
fn run_devices(
    ctx: &Ctx,
    args: &KioskArgs,
    policy: PowerPolicy,
    hooks: Hooks,
    screen: &Mutex<Option<SharedScreen>>,
) -> anyhow::Result<()> {
    use super::power::probe::{NoBus, open_charger};
    let k = &ctx.config.kiosk;
    let charger = Some(k.charger.as_str())
        .filter(|c| !c.is_empty())
        .map(open_charger)
        .transpose()?;
    let outputs = Outputs::new(
        Backlight::find(&k.sysfs_root)?,
        CpuFreq::find(&k.sysfs_root)?,
    );
    *screen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outputs.screen.clone());
    *jobs_of(&hooks.jobs) = Jobs::with_radios(device_radios(ctx)?);
    let offset_s = i64::from(k.utc_offset_minutes) * 60;
    let now = || Timestamp((super::now_ms() / 1000).saturating_add_signed(offset_s));
    let daemon = Daemon {
        outputs,
        policy,
        args,
        tick: Duration::from_secs(10),
        now,
        set_load: |_: &Decision, _, _, _| {},
        hooks,
    };
    if k.i2c_bus.is_empty() {
        // No I2C bus configured: the charge controller's serial link is the only sensor.
        let layout = SensorLayout {
            gauge: false,
            panel_monitor: None,
            load_monitor: None,
            ..SensorLayout::default()
        };
        daemon_loop(PowerSensors::new(NoBus, charger, layout), daemon)
    } else {
        let bus = fieldkit_linux::open_i2c(&k.i2c_bus).context("opening the I2C bus")?;
        daemon_loop(
            PowerSensors::new(bus, charger, SensorLayout::default()),
            daemon,
        )
    }
}

#[cfg(not(feature = "kiosk"))]
fn run_devices(
    _ctx: &Ctx,
    _args: &KioskArgs,
    _policy: PowerPolicy,
    _hooks: Hooks,
    _screen: &Mutex<Option<SharedScreen>>,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no device support: run with --simulate, or build with --features kiosk"
    )
}

/// The service manager's side of the daemon: `READY=1` once the first decision is applied,
/// `WATCHDOG=1` from the loop at half the `WatchdogSec` period, `STOPPING=1` on the way out.
/// Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.
struct ServiceManager {
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
}

impl ServiceManager {
    fn from_env() -> Self {
        let watchdog = sd_notify::watchdog_enabled();
        if let Some(p) = watchdog {
            tracing::info!(period_ms = p.as_millis() as u64, "systemd watchdog enabled");
        }
        ServiceManager {
            watchdog,
            last_ping: None,
        }
    }

    fn send(&self, state: &[sd_notify::NotifyState]) {
        if let Err(e) = sd_notify::notify(state) {
            tracing::warn!("telling systemd failed: {e}");
        }
    }

    /// Called once per loop iteration, after the decision was carried out.
    fn alive(&mut self, d: &Decision) {
        let now = Instant::now();
        match self.last_ping {
            None => {
                let status = format!("power mode {}", mode_name(d.mode));
                self.send(&[
                    sd_notify::NotifyState::Ready,
                    sd_notify::NotifyState::Status(&status),
                ]);
                if self.watchdog.is_some() {
                    self.send(&[sd_notify::NotifyState::Watchdog]);
                }
                self.last_ping = Some(now);
            }
            Some(last) => {
                if let Some(period) = self.watchdog
                    && now.duration_since(last) >= period / 2
                {
                    self.send(&[sd_notify::NotifyState::Watchdog]);
                    self.last_ping = Some(now);
                }
            }
        }
    }

    fn stopping(&self) {
        self.send(&[sd_notify::NotifyState::Stopping]);
    }
}

/// What the daemon loop drives besides its sensors (which differ in type by board).
struct Daemon<'a, Now, Load> {
    outputs: Outputs,
    policy: PowerPolicy,
    args: &'a KioskArgs,
    /// Real time between two decisions.
    tick: Duration,
    /// The kit's clock (the simulated one runs faster).
    now: Now,
    /// Tells the simulated battery what the kit draws (nothing on a board).
    set_load: Load,
    hooks: Hooks,
}

/// The daemon's loop: observe, decide, apply, run admitted jobs; a status line each hour.
fn daemon_loop<I2C: I2c, L: ChargerLink, Now, Load>(
    mut sensors: PowerSensors<I2C, L>,
    daemon: Daemon<'_, Now, Load>,
) -> anyhow::Result<()>
where
    Now: Fn() -> Timestamp,
    Load: FnMut(&Decision, Timestamp, bool, bool),
{
    let Daemon {
        mut outputs,
        mut policy,
        args,
        tick,
        now,
        mut set_load,
        mut hooks,
    } = daemon;
    let start = now();
    let stop_after_s = args.hours.map(|h| (h.max(0.0) * 3600.0) as u64);
    let (work_from, work_to) = policy.config().working_hours;
    let mut jobs = JobQueue::daily();
    // What the jobs do, with the kit a caseworker unlocked on the screen, on the "sync"
    // worker: a round takes seconds (the modem's boot, LoRa airtime) and the loop goes on
    // sampling meanwhile.
    let mut worker = Worker::start(hooks.jobs.clone(), hooks.kit.clone(), hooks.locks.clone())
        .context("starting the sync worker")?;
    // Jobs whose turn in the power budget came while the kit was locked: they run at the first
    // turn the kit is unlocked and the policy admits them.
    let mut owed: Vec<JobKind> = Vec::new();
    let mut last_status_hour = None;
    let mut sync_rows = jobs_of(&hooks.jobs).status();
    let mut last_sync = None;
    let mut last_mode = None;
    let mut last_t = start;
    let mut service = ServiceManager::from_env();
    loop {
        let t = now();
        if let Some(done) = worker.poll() {
            if let Some((kind, what)) = done.job {
                (hooks.job_done)(kind, &what);
            }
            sync_rows = done.status;
        }
        if hooks.stop.load(Ordering::Relaxed) {
            tracing::info!("the screen closed: stopping");
            // A round under way stops at its next step (the modem off, what was
            // acknowledged kept).
            worker.finish(true, worker::SHUTDOWN_WAIT);
            service.stopping();
            return Ok(());
        }
        if stop_after_s.is_some_and(|s| t.since(start) >= s) {
            tracing::info!("stopping after the requested time");
            // A bounded run lets the round under way finish, and says what it did.
            if let Some(done) = worker.finish(false, Duration::MAX) {
                if let Some((kind, what)) = done.job {
                    (hooks.job_done)(kind, &what);
                }
                (hooks.sync)(&done.status);
            }
            service.stopping();
            return Ok(());
        }
        let obs = sensors.observe(t);
        let d = policy.decide(t, &obs);
        // A round under way stops at its next step if this decision took its link away.
        worker.control().allow(&d);
        (hooks.report)(&d, &obs);
        if last_mode != Some(d.mode) {
            tracing::info!(
                mode = mode_name(d.mode),
                reason = d.reason.explain(),
                backlight = d.backlight_percent,
                governor = d.governor.sysfs_name(),
                "power mode"
            );
            last_mode = Some(d.mode);
        }
        if let Some(sd) = d.shutdown {
            let wake = sd.wake_at.map(|w| {
                let m = w.time_of_day_s() / 60;
                format!("day {} {:02}:{:02}", w.day(), m / 60, m % 60)
            });
            tracing::warn!(
                reason = sd.reason.name(),
                wake = wake.as_deref().unwrap_or("when power returns"),
                "clean shutdown"
            );
            status(t, &d, &obs, &jobs, args.json, Some(sd.reason.name()));
            // The round under way stops at its next step and is awaited (bounded): nothing
            // acknowledged is lost, the modem is switched off, the rest waits in the outbox.
            worker.finish(true, worker::SHUTDOWN_WAIT);
            service.stopping();
            return Ok(());
        }
        let outputs_changed = outputs.apply(&d)?;
        service.alive(&d);

        // Background work: queued at dawn, run one at a time when the policy admits it.
        let working = (work_from..work_to).contains(&t.hour_f());
        let elapsed_min = t.since(last_t) as f32 / 60.0;
        last_t = t;
        let step = jobs.step(t, &d, &policy, elapsed_min);
        let busy = step.running.is_some() || worker.busy();
        if let Some(kind) = step.finished {
            tracing::info!(
                job = kind.name(),
                "background job's turn in the power budget (its work needs the unlocked kit)"
            );
            if !owed.contains(&kind) {
                owed.push(kind);
            }
        }
        if !worker.busy() {
            if let Some(kind) = owed_job(&mut owed, &hooks.kit, &policy, t, &d) {
                worker.send(Work::Job(kind, d));
            } else {
                // Between the daily jobs: urgent alerts, match notices and review decisions go
                // at once, records when a batch is due, over the link the scheduler picks.
                worker.send(Work::Check(d));
            }
        }
        // The status page's sync rows, with the link a round runs over now: sent when they
        // changed (and once a day, as the times it shows lose their date at midnight), so an
        // idle screen draws nothing.
        sync_rows.syncing = worker.control().syncing();
        let sync_now = (sync_rows.clone(), super::now_ms() / 86_400_000);
        if last_sync.as_ref() != Some(&sync_now) {
            (hooks.sync)(&sync_now.0);
            last_sync = Some(sync_now);
        }
        set_load(&d, t, working, busy);

        // A status line each hour, and whenever the backlight or governor changed, so the
        // last line always says what the outputs are at.
        if outputs_changed || last_status_hour != Some((t.day(), t.hour())) {
            status(t, &d, &obs, &jobs, args.json, None);
            last_status_hour = Some((t.day(), t.hour()));
        }
        std::thread::sleep(tick);
    }
}

/// Takes the first job of `owed` the policy admits now, if a caseworker unlocked the kit on
/// the screen. The power queue accounts for a job's energy when its turn comes; the job's work
/// needs the unlocked kit (the locked kiosk holds no key), so a job whose turn came while the
/// kit was locked waits here for a sign-in.
fn owed_job(
    owed: &mut Vec<JobKind>,
    kit: &SharedKit,
    policy: &PowerPolicy,
    t: Timestamp,
    d: &Decision,
) -> Option<JobKind> {
    let admitted = |kind: JobKind| {
        (!kind.needs_cellular() || d.links.cellular)
            && DAILY_JOBS
                .iter()
                .find(|daily| daily.job.kind == kind)
                .is_some_and(|daily| policy.admit(t, &daily.job) == Admission::Run)
    };
    let pos = owed.iter().position(|k| admitted(*k))?;
    if !matches!(&*lock_slot(kit), KitSlot::Open(_)) {
        return None;
    }
    Some(owed.remove(pos))
}

/// A mode's name in status lines and JSON.
fn mode_name(mode: fieldkit_power::PowerMode) -> &'static str {
    use fieldkit_power::PowerMode;
    match mode {
        PowerMode::Normal => "normal",
        PowerMode::Saver => "saver",
        PowerMode::Critical => "critical",
        PowerMode::Shutdown => "shutdown",
    }
}

fn status(
    t: Timestamp,
    d: &Decision,
    obs: &fieldkit_power::Observation,
    jobs: &JobQueue,
    as_json: bool,
    shutdown: Option<&str>,
) {
    let soc = obs.soc_percent.map(|r| r.value);
    let pending: Vec<&str> = jobs.pending().map(|k| k.name()).collect();
    if as_json {
        println!(
            "{}",
            json!({
                "day": t.day(), "hour": t.hour(), "soc_percent": soc,
                "mode": mode_name(d.mode),
                "reason": d.reason,
                "backlight_percent": d.backlight_percent,
                "governor": d.governor.sysfs_name(),
                "lora": d.links.lora, "cellular": d.links.cellular,
                "surplus": d.surplus, "power_known": d.power_known,
                "jobs_pending": pending, "shutdown": shutdown,
            })
        );
        return;
    }
    let soc = soc.map_or_else(|| "unknown".to_string(), |s| format!("{s:.1}%"));
    let links = match (d.links.lora, d.links.cellular) {
        (true, true) => "lora+cellular",
        (true, false) => "lora",
        (false, true) => "cellular",
        (false, false) => "none",
    };
    // The mode with its reason, so "saver" beside "surplus" explains itself.
    let mode = format!("{} ({})", mode_name(d.mode), d.reason.explain());
    println!(
        "day {} {:02}:00  battery {soc:>7}  mode {mode:<44} backlight {:>3}%  cpu {:<11} links {links:<13} {}{}",
        t.day(),
        t.hour(),
        d.backlight_percent,
        d.governor.sysfs_name(),
        if d.surplus { "surplus " } else { "" },
        shutdown.map_or_else(
            || if pending.is_empty() {
                String::new()
            } else {
                format!("jobs waiting: {}", pending.join(", "))
            },
            |r| format!("SHUTDOWN ({r})"),
        ),
    );
}

#[cfg(all(test, feature = "simulation"))]
mod tests {
    //! The kiosk end to end, without the window: the daemon loop on the simulated kit, a demo
    //! vault, and a caseworker signed in through the screen's own sign-in
    //! (`fieldkit_ui::controller::sign_in`). The daily jobs' work runs with the kit a
    //! caseworker unlocked, and not at all while it is locked.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::cmd::{PinSource, hardware::Seams};
    use fieldkit_ui::controller::{SignInOutcome, sign_in};

    fn ctx(dir: &Path) -> Ctx {
        let config = crate::config::Config::default();
        let seams = Seams::configured(&config.security, dir).unwrap();
        Ctx {
            config,
            data_dir: dir.to_path_buf(),
            user: None,
            pins: PinSource::Terminal,
            lock_wait: None,
            seams,
        }
    }

    /// `kiosk --simulate --no-screen` at `speed` from `start_hour` with `soc` % charge, for
    /// `hours` (or until stopped).
    fn sim_args(speed: u32, start_hour: f32, soc: f32, hours: Option<f32>) -> KioskArgs {
        KioskArgs {
            simulate: true,
            speed,
            start_hour,
            start_soc: soc,
            weather: None,
            hours,
            json: false,
            no_screen: true,
            screenshots: None,
        }
    }

    /// Records go at every round (no batching), the scheduler asked every 200 ms.
    fn quick_schedule() -> fieldkit_sync::schedule::SchedulePolicy {
        fieldkit_sync::schedule::SchedulePolicy {
            idle_ms: 200,
            max_batch_age_ms: 0,
            ..simulated::schedule(3_600)
        }
    }

    /// The simulated kiosk's jobs over `links`, scheduled by [`quick_schedule`]; a frame the
    /// gateway missed goes again a second later (not 20 s: the test would wait).
    fn quick_jobs(
        ctx: &Ctx,
        args: &KioskArgs,
        links: &mut fieldkit_sim::links::KioskLinks,
    ) -> SharedJobs {
        let mut jobs = simulated::jobs(ctx, args, links).unwrap();
        jobs.set_schedule(quick_schedule());
        jobs.set_retry_ms(1_000);
        Arc::new(Mutex::new(jobs))
    }

    /// A simulated working day (from 09:00, 8 hours, 10 simulated hours a second); returns
    /// the jobs that ran, with what they did.
    fn day(ctx: &Ctx, kit: &SharedKit) -> Vec<(JobKind, String)> {
        let args = sim_args(36_000, 9.0, 90.0, Some(8.0));
        let ran = Arc::new(Mutex::new(Vec::new()));
        let seen = ran.clone();
        let hooks = Hooks {
            kit: kit.clone(),
            job_done: Box::new(move |kind, what: &str| {
                seen.lock().unwrap().push((kind, what.to_owned()));
            }),
            ..Hooks::none()
        };
        let policy = PowerPolicy::new(PolicyConfig::default());
        run_simulated(ctx, &args, policy, hooks, &Mutex::new(None)).unwrap();
        ran.lock().unwrap().clone()
    }

    /// The demo caseworker signs in as on the PIN pad (the kiosk's own sign-in hook attaches
    /// sync), through the screen's own sign-in.
    fn sign_in_on_screen(ctx: &Ctx, kit: &SharedKit) {
        let path = ctx.vault_path();
        let options = ctx.open_options();
        let reopen: fieldkit_ui::controller::Reopen =
            Arc::new(move || Vault::open(&path, options.clone()));
        let taken = match std::mem::take(&mut *lock_slot(kit)) {
            KitSlot::Locked(v) => Some(*v),
            _ => None,
        };
        let on_open: fieldkit_ui::controller::OnOpen = Arc::new(|kit: &mut fieldkit_app::Kit| {
            fieldkit_kitsync::attach(kit)
                .map(|_| ())
                .map_err(Into::into)
        });
        let outcome = sign_in(
            kit,
            taken,
            &reopen,
            demo::USER,
            demo::PIN,
            kit_config(ctx).unwrap(),
            Some(&on_open),
        );
        assert_eq!(outcome, SignInOutcome::Open);
    }

    /// Registers a case on the open kit, as the form's save does.
    fn register(kit: &SharedKit, fields: serde_json::Value) {
        let mut slot = lock_slot(kit);
        let KitSlot::Open(open) = &mut *slot else {
            panic!("the kit is locked")
        };
        open.register(
            fieldkit_domain::RecordKind::Case,
            fields.as_object().unwrap().clone(),
            super::super::now_ms(),
        )
        .unwrap();
    }

    /// What the daemon handed the screen: each decision's mode and each change of the sync
    /// rows, with when.
    #[derive(Default)]
    struct Seen {
        modes: Vec<(Instant, fieldkit_power::PowerMode)>,
        rows: Vec<(Instant, SyncStatus)>,
    }

    /// Runs the daemon loop on the simulated kit from 10:00 at `soc` % with `jobs`, for
    /// `hours` or until `stop` is set; returns what it handed the screen.
    fn run_seen(
        ctx: &Ctx,
        kit: &SharedKit,
        jobs: &SharedJobs,
        soc: f32,
        hours: Option<f32>,
        stop: Arc<AtomicBool>,
    ) -> Seen {
        let args = sim_args(3_600, 10.0, soc, hours);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (rows, modes) = (seen.clone(), seen.clone());
        let hooks = Hooks {
            kit: kit.clone(),
            jobs: jobs.clone(),
            stop,
            sync: Box::new(move |s: &SyncStatus| {
                rows.lock().unwrap().rows.push((Instant::now(), s.clone()));
            }),
            report: Box::new(move |d: &Decision, _| {
                modes.lock().unwrap().modes.push((Instant::now(), d.mode));
            }),
            ..Hooks::none()
        };
        let policy = PowerPolicy::new(PolicyConfig::default());
        run_simulated(ctx, &args, policy, hooks, &Mutex::new(None)).unwrap();
        std::mem::take(&mut *seen.lock().unwrap())
    }

    /// Runs the daemon loop on the simulated kit for `hours` from 10:00 at `soc` % with `jobs`;
    /// returns the sync rows the screen was last sent and the power modes decided.
    fn run_with_links(
        ctx: &Ctx,
        kit: &SharedKit,
        jobs: &SharedJobs,
        soc: f32,
        hours: f32,
    ) -> (SyncStatus, Vec<fieldkit_power::PowerMode>) {
        let seen = run_seen(ctx, kit, jobs, soc, Some(hours), Arc::default());
        let rows = seen.rows.last().map(|r| r.1.clone()).unwrap_or_default();
        (rows, seen.modes.into_iter().map(|m| m.1).collect())
    }

    /// The simulated links for a test: quick air, the modem answering at once and
    /// registering `register` later, the hub on the kit's configuration.
    fn test_links(ctx: &Ctx, dir: &Path, register: Duration) -> fieldkit_sim::links::KioskLinks {
        fieldkit_sim::links::KioskLinks::start(
            &dir.join("sim-hub"),
            fieldkit_sim::links::LinksConfig {
                p2p: simulated::lora_settings(ctx).unwrap().p2p,
                mtu: 239,
                time_scale: 0.05,
                loss_percent: 0,
                modem_boot: Duration::from_millis(50),
                modem_register: register,
                clock: fieldkit_sim::clock::SimClock::new(Timestamp::from_day_and_hour(0, 12.0), 1),
                deployment: kit_config(ctx).unwrap(),
            },
        )
        .unwrap()
    }

    /// A demo kit provisioned for `links`' hub, signed in on the screen, with its quick jobs.
    fn signed_in_kit(
        ctx: &Ctx,
        links: &mut fieldkit_sim::links::KioskLinks,
    ) -> (SharedKit, SharedJobs) {
        let vault = demo_vault(ctx, Some(links.hub_public())).unwrap();
        let jobs = quick_jobs(ctx, &sim_args(3_600, 10.0, 90.0, None), links);
        let kit: SharedKit = Arc::new(Mutex::new(KitSlot::Locked(Box::new(vault))));
        sign_in_on_screen(ctx, &kit);
        (kit, jobs)
    }

    fn cases_on(kit: &SharedKit) -> u64 {
        let slot = lock_slot(kit);
        let KitSlot::Open(open) = &*slot else {
            panic!("locked")
        };
        open.session()
            .count(fieldkit_domain::RecordKind::Case)
            .unwrap()
    }

    /// A cellular round takes seconds (here the modem registers 2 s after it answers); it
    /// runs on the sync worker while the daemon loop goes on deciding, and the status page
    /// shows the cellular row "syncing" meanwhile. (Before, the loop stood still for the
    /// whole round and the page never said so.)
    #[test]
    fn the_daemon_keeps_deciding_while_a_round_runs_and_the_page_says_syncing() {
        use fieldkit_domain::RecordKind;
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut links = test_links(&ctx, dir.path(), Duration::from_secs(2));
        let (kit, jobs) = signed_in_kit(&ctx, &mut links);
        let cases = cases_on(&kit);

        let seen = run_seen(&ctx, &kit, &jobs, 90.0, Some(5.0), Arc::default());
        let began = seen
            .rows
            .iter()
            .position(|(_, r)| r.syncing == Some("cellular"))
            .expect("the page said a cellular round runs");
        let (t0, rows) = &seen.rows[began];
        assert_eq!(sync_view(rows, 0, 0).links[0].state, LinkState::Syncing);
        let (t1, _) = seen.rows[began..]
            .iter()
            .find(|(_, r)| r.syncing.is_none())
            .expect("the round ended");
        let during = seen
            .modes
            .iter()
            .filter(|(at, _)| at > t0 && at < t1)
            .count();
        assert!(during >= 10, "{during} decisions while the round ran");
        assert_eq!(
            links.hub_holds(RecordKind::Case),
            cases,
            "the round was done"
        );
        assert!(!links.modem_on());
    }

    /// The screen closes (the kiosk is stopped) while a round waits for the network: the
    /// round stops at its next step, the modem goes off, nothing was sent and nothing is
    /// lost; the next run sends everything, once.
    #[test]
    fn closing_the_screen_halts_a_round_and_nothing_is_lost() {
        use fieldkit_domain::RecordKind;
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut links = test_links(&ctx, dir.path(), Duration::from_secs(3));
        let (kit, jobs) = signed_in_kit(&ctx, &mut links);
        let cases = cases_on(&kit);

        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|scope| {
            let daemon = scope.spawn(|| run_seen(&ctx, &kit, &jobs, 90.0, None, stop.clone()));
            while !links.modem_on() {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, Ordering::Relaxed);
            let seen = daemon.join().unwrap();
            assert!(seen.rows.iter().any(|(_, r)| r.syncing == Some("cellular")));
        });
        assert!(!links.modem_on(), "the modem is off");
        assert_eq!(links.hub_holds(RecordKind::Case), 0, "nothing was sent");
        let queued = jobs_of(&jobs).status().queued;
        assert!(queued.is_some_and(|(m, _)| m > 0), "{queued:?}");

        let (rows, _) = run_with_links(&ctx, &kit, &jobs, 90.0, 5.0);
        assert_eq!(links.hub_holds(RecordKind::Case), cases, "{rows:?}");
        assert_eq!(rows.queued.map(|(m, _)| m), Some(0), "{rows:?}");
        assert_eq!(links.hub_dropped(), 0);
    }

    /// `kiosk --simulate`'s links through the real daemon loop: the simulated air with the
    /// hub's gateway module, the simulated modem (power key, registration) and the in-process
    /// hub. A case registered on the kit reaches the hub over cellular in Normal mode, the
    /// modem switched off after the round; in Critical mode cellular stays off and an urgent
    /// case goes by LoRa (alert and record) while another waits; a kit with LoRa alone sends
    /// its records by LoRa.
    #[test]
    fn a_case_reaches_the_simulated_hub_over_cellular_and_over_lora() {
        use fieldkit_domain::RecordKind;
        use fieldkit_power::PowerMode;

        // The jobs' log, shown if the test fails.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info")
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut links = test_links(&ctx, dir.path(), Duration::from_millis(50));
        let vault = demo_vault(&ctx, Some(links.hub_public())).unwrap();
        let args = sim_args(3_600, 10.0, 90.0, None);
        let jobs = quick_jobs(&ctx, &args, &mut links);
        let schedule = quick_schedule();
        let kit: SharedKit = Arc::new(Mutex::new(KitSlot::Locked(Box::new(vault))));
        sign_in_on_screen(&ctx, &kit);
        register(
            &kit,
            serde_json::json!({"name": "Amina Yusuf", "sex": "female", "age": 7,
                "consent_for_tracing": true}),
        );
        let on_kit = |kind| {
            let slot = lock_slot(&kit);
            let KitSlot::Open(open) = &*slot else {
                panic!("locked")
            };
            open.session().count(kind).unwrap()
        };
        let cases = on_kit(RecordKind::Case);
        assert_eq!(links.hub_holds(RecordKind::Case), 0);

        // Normal mode: the modem comes up for the round and goes off after it.
        let (rows, modes) = run_with_links(&ctx, &kit, &jobs, 90.0, 1.0);
        assert!(modes.contains(&PowerMode::Normal), "{modes:?}");
        assert_eq!(
            links.hub_holds(RecordKind::Case),
            cases,
            "every case reached the hub: {rows:?}"
        );
        assert_eq!(
            links.hub_holds(RecordKind::TracingRequest),
            on_kit(RecordKind::TracingRequest)
        );
        assert!(!links.modem_on(), "the modem is off after the round");
        let cellular = &rows.links[0];
        assert_eq!(
            (cellular.name, cellular.fitted, cellular.allowed),
            ("cellular", true, true)
        );
        assert!(
            cellular.last_ok_ms.is_some() && cellular.last_error.is_none(),
            "{rows:?}"
        );
        assert_eq!(sync_view(&rows, 0, 0).links[0].state, LinkState::Ready);
        assert_eq!(rows.queued.map(|(m, _)| m), Some(0), "{rows:?}");
        let cellular_round = cellular.last_ok_ms;

        // Critical mode: cellular is off; an urgent case goes by LoRa at once (its alert, then
        // its record), a case that is not urgent waits for cellular.
        let alerts = links.hub_alerts();
        register(
            &kit,
            serde_json::json!({"name": "Zahra Haidari", "sex": "female", "age": 6,
                "urgent_protection_concern": true, "risk_level": "high"}),
        );
        register(
            &kit,
            serde_json::json!({"name": "Idris Yusuf", "sex": "male", "age": 12,
                "consent_for_tracing": true}),
        );
        // A frame can be lost to the gateway's turnaround; the next round sends it again.
        let mut runs = Vec::new();
        for _ in 0..4 {
            runs.push(run_with_links(&ctx, &kit, &jobs, 15.0, 0.5));
            if links.hub_alerts() > alerts && links.hub_holds(RecordKind::Case) > cases {
                break;
            }
        }
        let rows = runs.last().unwrap().0.clone();
        let modes: Vec<PowerMode> = runs.iter().flat_map(|r| r.1.clone()).collect();
        assert!(
            modes.contains(&PowerMode::Critical) && !modes.contains(&PowerMode::Normal),
            "{modes:?}"
        );
        assert_eq!(
            links.hub_alerts(),
            alerts + 1,
            "the alert went by LoRa: {rows:?}"
        );
        assert_eq!(
            links.hub_holds(RecordKind::Case),
            cases + 1,
            "the urgent case went by LoRa, the other waits: {rows:?}"
        );
        assert!(!links.modem_on());
        let (cellular, lora) = (&rows.links[0], &rows.links[1]);
        assert!(!cellular.allowed, "{rows:?}");
        assert_eq!(cellular.last_ok_ms, cellular_round, "no cellular round");
        assert_eq!(sync_view(&rows, 0, 0).links[0].state, LinkState::Off);
        assert_eq!((lora.name, lora.fitted, lora.allowed), ("lora", true, true));
        assert!(
            lora.last_ok_ms.is_some() && lora.last_error.is_none(),
            "{rows:?}"
        );

        // The same kit without its modem (LoRa alone): records go by LoRa too.
        let radios = std::mem::take(&mut *jobs_of(&jobs)).into_radios();
        *jobs_of(&jobs) = Jobs::with_radios(Radios {
            cellular: None,
            ..radios
        });
        jobs_of(&jobs).set_schedule(schedule);
        jobs_of(&jobs).set_retry_ms(1_000);
        let mut rows = SyncStatus::default();
        for _ in 0..4 {
            rows = run_with_links(&ctx, &kit, &jobs, 15.0, 1.0).0;
            if links.hub_holds(RecordKind::Case) == cases + 2 {
                break;
            }
        }
        assert_eq!(
            links.hub_holds(RecordKind::Case),
            cases + 2,
            "the waiting case went by LoRa: {rows:?}"
        );
        assert_eq!(rows.links[0].name, "ip");
        assert!(!rows.links[0].fitted, "no modem, no hub address: LoRa only");
    }

    /// The case on the open kit with this name.
    fn case_named(kit: &SharedKit, name: &str) -> fieldkit_domain::RecordId {
        let mut slot = lock_slot(kit);
        let KitSlot::Open(open) = &mut *slot else {
            panic!("the kit is locked")
        };
        cmd_cases(open.session_mut())
            .into_iter()
            .find(|c| c.name.as_deref() == Some(name))
            .map(|c| c.id)
            .expect("registered")
    }

    fn cmd_cases(s: &mut fieldkit_vault::Session) -> Vec<fieldkit_domain::Case> {
        crate::cmd::all_cases(s, super::super::now_ms()).unwrap()
    }

    /// `kiosk --simulate` with a configuration naming a location file: the in-process hub
    /// opens with the kit's own configuration, announces the kit's code lists, and the kit
    /// codes what it sends against them; the hub reads it (same place), refusing nothing.
    /// (With the hub on the shipped defaults the kit was never told its list and sent text.)
    #[test]
    fn a_simulated_kit_with_a_location_file_sends_coded_records_the_hub_reads() {
        use fieldkit_domain::{Record, RecordKind};

        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info")
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let places = serde_json::json!([
            {"code": "JO", "name": "Jordan", "level": "country"},
            {"code": "JO-MA", "name": "Mafraq", "level": "region", "parent": "JO"},
            {"code": "JO-MA-ZAATARI", "name": "Zaatari", "level": "camp", "parent": "JO-MA"},
            {"code": "JO-MA-AZRAQ", "name": "Azraq", "level": "camp", "parent": "JO-MA"},
            {"code": "JO-MA-ZAATARI-D1", "name": "District 1", "level": "block", "parent": "JO-MA-ZAATARI"},
            {"code": "JO-MA-ZAATARI-D3", "name": "District 3", "level": "block", "parent": "JO-MA-ZAATARI"},
            {"code": "JO-MA-ZAATARI-D5", "name": "District 5", "level": "block", "parent": "JO-MA-ZAATARI"},
            {"code": "JO-MA-AZRAQ-V2", "name": "Village 2", "level": "block", "parent": "JO-MA-AZRAQ"},
        ]);
        let file = dir.path().join("locations.json");
        std::fs::write(&file, places.to_string()).unwrap();
        let mut ctx = ctx(dir.path());
        ctx.config.locations_file = Some(file);
        let config = kit_config(&ctx).unwrap();
        let digest = fieldkit_sync::codes::CodeBook::of_deployment(
            config.locations.as_ref(),
            &config.lookups,
        )
        .digest();
        let args = sim_args(3_600, 10.0, 90.0, None);
        // The kiosk's own wiring: links, demo vault, jobs.
        let mut links = simulated::start(&ctx, &args).unwrap();
        let vault = demo_vault(&ctx, Some(links.hub_public())).unwrap();
        let jobs = quick_jobs(&ctx, &args, &mut links);
        let kit: SharedKit = Arc::new(Mutex::new(KitSlot::Locked(Box::new(vault))));
        sign_in_on_screen(&ctx, &kit);
        let coding = || {
            let slot = lock_slot(&kit);
            let KitSlot::Open(open) = &*slot else {
                panic!("locked")
            };
            fieldkit_kitsync::KitSync::load(open.session())
                .unwrap()
                .unwrap()
                .coding()
        };
        assert_eq!(
            coding(),
            None,
            "nothing announced yet: the demo records go as text"
        );
        let until_at_hub = |cases: u64| {
            for _ in 0..6 {
                let rows = run_with_links(&ctx, &kit, &jobs, 90.0, 1.0).0;
                if links.hub_holds(RecordKind::Case) == cases && rows.queued == Some((0, 0)) {
                    return;
                }
            }
            panic!(
                "the hub holds {} cases, not {cases}",
                links.hub_holds(RecordKind::Case)
            );
        };
        let cases = {
            let slot = lock_slot(&kit);
            let KitSlot::Open(open) = &*slot else {
                panic!("locked")
            };
            open.session().count(RecordKind::Case).unwrap()
        };
        until_at_hub(cases);
        assert_eq!(
            coding(),
            Some(digest),
            "the hub announced the kit's own lists"
        );

        // Now a case goes coded against them, and the hub reads its place.
        register(
            &kit,
            serde_json::json!({"name": "Hala Nasser", "sex": "female", "age": 9,
                "location_current": "JO-MA-ZAATARI-D3", "consent_for_tracing": true}),
        );
        until_at_hub(cases + 1);
        let id = case_named(&kit, "Hala Nasser");
        let Some(Record::Case(at_hub)) = links.hub_record(RecordKind::Case, id) else {
            panic!("the hub does not hold the case")
        };
        assert_eq!(at_hub.location_current.as_deref(), Some("JO-MA-ZAATARI-D3"));
        assert_eq!(links.hub_dropped(), 0, "the hub refused no message");
    }

    /// Another kit on the same hub, over the camp's IP network, driven by its sync engine.
    struct OtherKit {
        kit: fieldkit_app::Kit,
        engine: fieldkit_kitsync::KitSync,
    }

    impl OtherKit {
        fn new(ctx: &Ctx, dir: &Path, links: &fieldkit_sim::links::KioskLinks) -> OtherKit {
            let now = super::super::now_ms();
            std::fs::create_dir_all(dir).unwrap();
            let (session, _) = Vault::create(
                &Vault::file_in(dir),
                InitOptions {
                    username: "bashir",
                    display_name: "Bashir (kit B)",
                    credential: b"615243",
                    policy: fieldkit_vault::CredentialPolicy::default(),
                    now_ms: now,
                },
                fieldkit_vault::OpenOptions::default(),
            )
            .unwrap();
            let mut kit = fieldkit_app::Kit::open(session, kit_config(ctx).unwrap(), now).unwrap();
            let public = fieldkit_kitsync::KitSync::provision(
                kit.session_mut(),
                &fieldkit_kitsync::Provision {
                    hub_public: links.hub_public(),
                    hub_address: links.hub_address(),
                    agency: "unicef",
                    label: "kit B",
                },
            )
            .unwrap();
            links.enroll(public, "unicef", "kit B").unwrap();
            assert!(fieldkit_kitsync::attach(&mut kit).unwrap());
            let engine = fieldkit_kitsync::KitSync::load(kit.session())
                .unwrap()
                .unwrap();
            OtherKit { kit, engine }
        }

        /// A few exchanges with the hub (what is queued, then what the hub holds for it).
        fn sync(&mut self) {
            for _ in 0..4 {
                let now = super::super::now_ms();
                self.engine.collect(self.kit.session_mut(), now).unwrap();
                let mut link = fieldkit_kitsync::HttpLink::new(
                    self.engine.hub_address(),
                    self.engine.kit_id(),
                    Duration::from_secs(5),
                );
                self.engine
                    .exchange(
                        &mut self.kit,
                        &mut link,
                        now,
                        fieldkit_sync::message::Priority::Bulk,
                    )
                    .unwrap();
            }
        }
    }

    /// The potential matches of `case` a kit lists.
    fn matches_of(
        kit: &fieldkit_app::Kit,
        case: fieldkit_domain::RecordId,
    ) -> Vec<fieldkit_domain::PotentialMatch> {
        kit.potential_matches(&fieldkit_app::MatchFilter {
            case_id: Some(case),
            ..fieldkit_app::MatchFilter::default()
        })
    }

    /// Across kits through the kiosk's own sync: the kiosk (`--simulate`'s links, the daemon
    /// loop, the sync worker) registers a separated child; another kit registers the
    /// mother's tracing request; the hub matches them and both kits list the match with its
    /// explanation (the kiosk hears it at its next call to the hub though it had nothing to
    /// send); the kiosk's caseworker confirms it, and the decision reaches the other kit,
    /// which links its request to the child.
    #[test]
    fn a_match_notice_and_a_decision_travel_between_the_kiosk_and_another_kit() {
        use fieldkit_domain::{Record, RecordKind};
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut links = test_links(&ctx, dir.path(), Duration::from_millis(50));
        let (kit, jobs) = signed_in_kit(&ctx, &mut links);
        // The kiosk calls the hub every 300 ms even with nothing to send.
        jobs_of(&jobs).set_schedule(fieldkit_sync::schedule::SchedulePolicy {
            poll_every_ms: 300,
            ..quick_schedule()
        });
        let mut b = OtherKit::new(&ctx, &dir.path().join("kit-b"), &links);

        register(
            &kit,
            serde_json::json!({"name": "Nadia Haddad", "sex": "female", "age": 7,
                "consent_for_tracing": true, "location_separation": "JO-MA-ZAATARI-D3",
                "date_of_separation": "2025-03-14"}),
        );
        let case_id = case_named(&kit, "Nadia Haddad");
        run_with_links(&ctx, &kit, &jobs, 90.0, 1.0);
        assert!(links.hub_record(RecordKind::Case, case_id).is_some());

        let now = super::super::now_ms();
        let request = serde_json::json!({
            "relation_name": "Salma Haddad", "relation": "mother",
            "tracing_request_subform_section": [{"name": "Nadia Hadad", "sex": "female",
                "age": 7, "location_separation": "JO-MA-ZAATARI-D3",
                "date_of_separation": "2025-03-14"}],
        });
        b.kit
            .register(
                RecordKind::TracingRequest,
                request.as_object().unwrap().clone(),
                now,
            )
            .unwrap();
        b.sync();
        let on_b = matches_of(&b.kit, case_id);
        assert_eq!(on_b.len(), 1, "kit B lists the hub's notice: {on_b:?}");
        assert!(!on_b[0].comparison.is_empty(), "with its explanation");
        let id = on_b[0].id;

        // The kiosk had nothing to send: it hears the notice at its next call to the hub.
        let mut on_a = Vec::new();
        for _ in 0..3 {
            run_with_links(&ctx, &kit, &jobs, 90.0, 1.0);
            let slot = lock_slot(&kit);
            let KitSlot::Open(open) = &*slot else {
                panic!("locked")
            };
            on_a = matches_of(open, case_id);
            if !on_a.is_empty() {
                break;
            }
        }
        assert_eq!(on_a.len(), 1, "the kiosk lists the hub's notice");
        assert_eq!(on_a[0].id, id);
        assert_eq!(
            on_a[0].comparison, on_b[0].comparison,
            "the same explanation"
        );

        // The kiosk's caseworker confirms it (the review page's call).
        {
            let mut slot = lock_slot(&kit);
            let KitSlot::Open(open) = &mut *slot else {
                panic!("locked")
            };
            open.confirm_match(id, Some("the mother knew her"), super::super::now_ms())
                .unwrap();
        }
        run_with_links(&ctx, &kit, &jobs, 90.0, 1.0);
        b.sync();
        let on_b = b
            .kit
            .potential_matches(&fieldkit_app::MatchFilter::default())
            .into_iter()
            .find(|m| m.id == id)
            .expect("kit B still holds the match");
        assert_eq!(on_b.status.as_deref(), Some("confirmed"));
        assert_eq!(on_b.reviewed_by.as_deref(), Some(demo::USER));
        let Record::TracingRequest(r) = b
            .kit
            .session_mut()
            .get(RecordKind::TracingRequest, on_b.tracing_request_id, now)
            .unwrap()
            .record
        else {
            panic!("not a request")
        };
        assert_eq!(
            r.tracing_request_subform_section[0]
                .matched_case_id
                .as_deref(),
            Some(case_id.to_string().as_str()),
            "kit B linked its request to the child"
        );
        assert_eq!(links.hub_dropped(), 0);
    }

    #[test]
    fn the_status_page_shows_each_links_state_and_last_round() {
        use fieldkit_kitsync::jobs::LinkStatus;
        let at = 1_796_294_520_000; // 2026-12-03 10:42 UTC
        let link = |name, fitted, allowed, last_ok_ms, last_error: Option<&str>| LinkStatus {
            name,
            fitted,
            allowed,
            last_ok_ms,
            last_error: last_error.map(str::to_owned),
        };
        let status = SyncStatus {
            provisioned: Some(true),
            queued: Some((4, 1_200)),
            unacked_fragments: Some(0),
            links: vec![
                link("ip", true, false, Some(at), None),
                link("lora", false, false, None, None),
            ],
            syncing: None,
        };
        let v = sync_view(&status, at + 60_000, 180);
        assert_eq!(v.queued, Some(4));
        assert_eq!(v.last_sync.as_deref(), Some("13:42"));
        assert_eq!(v.links[0].state, LinkState::Off);
        assert_eq!(v.links[1].state, LinkState::NotFitted);
        assert_eq!(v.links[1].last_sync, None);
        let failed = SyncStatus {
            links: vec![link("ip", true, true, Some(at), Some("hub unreachable"))],
            ..status.clone()
        };
        assert_eq!(sync_view(&failed, at, 0).links[0].state, LinkState::Failed);
        let ready = SyncStatus {
            links: vec![link("ip", true, true, Some(at), None)],
            ..status.clone()
        };
        assert_eq!(sync_view(&ready, at, 0).links[0].state, LinkState::Ready);
        let syncing = SyncStatus {
            syncing: Some("ip"),
            ..ready.clone()
        };
        assert_eq!(
            sync_view(&syncing, at, 0).links[0].state,
            LinkState::Syncing
        );
        let unknown = SyncStatus {
            provisioned: None,
            ..status
        };
        assert_eq!(
            sync_view(&unknown, at, 0).links[0].state,
            LinkState::Unknown
        );
    }

    #[test]
    fn the_daily_jobs_run_in_the_kiosk_once_a_caseworker_signs_in() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let vault = demo_vault(&ctx, None).unwrap();
        let kit: SharedKit = Arc::new(Mutex::new(KitSlot::Locked(Box::new(vault))));

        // Locked all day: the jobs get their turn in the power budget, but nothing runs
        // without the caseworker's keys.
        assert_eq!(day(&ctx, &kit), vec![]);

        // A caseworker signs in, as on the PIN pad (the kiosk's own sign-in hook attaches sync).
        sign_in_on_screen(&ctx, &kit);

        let ran = day(&ctx, &kit);
        let kinds: Vec<JobKind> = ran.iter().map(|(k, _)| *k).collect();
        assert!(kinds.contains(&JobKind::Reindex), "{ran:?}");
        assert!(kinds.contains(&JobKind::MatchRun), "{ran:?}");
        let reindex = &ran.iter().find(|(k, _)| *k == JobKind::Reindex).unwrap().1;
        assert_eq!(reindex, "matcher index rebuilt and compacted");
        let match_run = &ran.iter().find(|(k, _)| *k == JobKind::MatchRun).unwrap().1;
        assert!(match_run.starts_with("match run: "), "{match_run}");
        // The demo kit is not provisioned for sync: the sync job says so instead of failing.
        if let Some((_, sync)) = ran.iter().find(|(k, _)| *k == JobKind::BulkSync) {
            assert!(sync.contains("not provisioned"), "{sync}");
        }
        // And the kit is still open for the caseworker, with its records.
        let slot = lock_slot(&kit);
        let KitSlot::Open(open) = &*slot else {
            panic!("the jobs left the kit open")
        };
        assert!(
            open.session()
                .count(fieldkit_domain::RecordKind::Case)
                .unwrap()
                > 0
        );
    }

    /// The screenshots' status page shows what one round over the simulated links left: the
    /// demo kit provisioned for their hub, its records at the hub, the cellular row ready with
    /// the time of that round, nothing left to send, LoRa fitted and not yet used.
    #[test]
    fn the_screenshots_show_the_sync_state_one_simulated_round_left() {
        use fieldkit_domain::RecordKind;
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path());
        let mut links = test_links(&ctx, dir.path(), Duration::from_millis(50));
        let vault = demo_vault(&ctx, Some(links.hub_public())).unwrap();
        let now = super::super::now_ms();
        let session = vault.unlock(demo::USER, demo::PIN.as_bytes(), now).unwrap();
        let mut kit = fieldkit_app::Kit::open(session, kit_config(&ctx).unwrap(), now).unwrap();
        let cases = kit.session().count(RecordKind::Case).unwrap();
        assert!(cases > 0);

        let args = KioskArgs {
            no_screen: false,
            screenshots: Some(dir.path().join("shots")),
            ..sim_args(600, 8.0, 70.0, None)
        };
        let view = simulated::one_round(&ctx, &args, &mut kit, &mut links).unwrap();
        assert_eq!(view.provisioned, Some(true));
        assert_eq!(links.hub_holds(RecordKind::Case), cases);
        assert_eq!(view.queued, Some(0), "{view:?}");
        let cellular = &view.links[0];
        assert_eq!(
            (cellular.link, cellular.state),
            ("cellular", LinkState::Ready),
            "{view:?}"
        );
        let at = cellular.last_sync.as_deref().expect("the round's time");
        assert_eq!(view.last_sync.as_deref(), Some(at));
        let lora = &view.links[1];
        assert_eq!(
            (lora.link, lora.state, lora.last_sync.as_deref()),
            ("lora", LinkState::Ready, None)
        );
    }
}

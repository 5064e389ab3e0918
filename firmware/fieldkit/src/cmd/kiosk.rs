//! `fieldkit kiosk`: the daemon a kit runs. It holds the vault open and locked (the touch screen
//! that signs caseworkers in is not started by the kiosk yet), reads the fuel gauge, current monitors and charge controller through
//! the board's drivers, lets the power policy decide, and carries the decision out: backlight,
//! CPU governor, which links and background jobs may run, and a clean shutdown before the
//! battery browns out.
//!
//! Under systemd (`Type=notify`) it tells the service manager when it is ready and pings the
//! watchdog from the daemon loop itself, so a loop that hangs gets the kiosk restarted.
//!
//! With `--simulate` the same loop runs against the simulated kit (the battery, panel and
//! charger model on an accelerated clock; the charger on a pseudo-terminal; sysfs files under
//! the data directory), so the whole daemon can be watched on a laptop.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use fieldkit_drivers::embedded_hal::i2c::I2c;
use fieldkit_drivers::serial::ChargerLink;
use fieldkit_linux::{Backlight, CpuFreq};
use fieldkit_power::{
    CpuGovernor, Decision, JobQueue, Policy, PolicyConfig, PowerPolicy, Timestamp,
};
use fieldkit_sensors::{PowerSensors, SensorLayout};
use fieldkit_vault::Vault;

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
}

/// What the daemon drives from a decision.
struct Outputs {
    backlight: Backlight,
    cpufreq: CpuFreq,
    last: Option<(u8, CpuGovernor)>,
}

impl Outputs {
    /// Carries out `d`; true if that changed an output.
    fn apply(&mut self, d: &Decision) -> anyhow::Result<bool> {
        let now = (d.backlight_percent, d.governor);
        let changed = self.last != Some(now);
        if changed {
            self.backlight
                .set_percent(d.backlight_percent)
                .context("setting the backlight")?;
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

/// Runs the kiosk.
pub fn run(ctx: &Ctx, args: KioskArgs) -> anyhow::Result<()> {
    check_args(&args)?;
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
    if args.simulate {
        run_simulated(ctx, &args, policy)?;
    } else {
        run_devices(ctx, &args, policy)?;
    }
    drop(vault);
    Ok(())
}

#[cfg(not(feature = "simulation"))]
fn run_simulated(_ctx: &Ctx, _args: &KioskArgs, _policy: PowerPolicy) -> anyhow::Result<()> {
    anyhow::bail!("this build has no simulated kit (built without the `simulation` feature)")
}

#[cfg(feature = "simulation")]
fn run_simulated(ctx: &Ctx, args: &KioskArgs, policy: PowerPolicy) -> anyhow::Result<()> {
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
    let outputs = Outputs {
        backlight: Backlight::find(&root)?,
        cpufreq: CpuFreq::find(&root)?,
        last: None,
    };
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
        outputs,
        policy,
        args,
        tick,
        || clock.now(),
        |d, now, working, busy| kit.set_load_w(loads.draw_w(d, now, working, busy, 0.0)),
    )
}

#[cfg(feature = "kiosk")]
fn run_devices(ctx: &Ctx, args: &KioskArgs, policy: PowerPolicy) -> anyhow::Result<()> {
    use super::power::probe::{NoBus, open_charger};
    let k = &ctx.config.kiosk;
    let charger = Some(k.charger.as_str())
        .filter(|c| !c.is_empty())
        .map(open_charger)
        .transpose()?;
    let outputs = Outputs {
        backlight: Backlight::find(&k.sysfs_root)?,
        cpufreq: CpuFreq::find(&k.sysfs_root)?,
        last: None,
    };
    let offset_s = i64::from(k.utc_offset_minutes) * 60;
    let now = || Timestamp((super::now_ms() / 1000).saturating_add_signed(offset_s));
    let tick = Duration::from_secs(10);
    if k.i2c_bus.is_empty() {
        let layout = SensorLayout {
            gauge: false,
            panel_monitor: None,
            load_monitor: None,
            ..SensorLayout::default()
        };
        let sensors = PowerSensors::new(NoBus, charger, layout);
        daemon_loop(sensors, outputs, policy, args, tick, now, |_, _, _, _| {})
    } else {
        let bus = fieldkit_linux::open_i2c(&k.i2c_bus).context("opening the I2C bus")?;
        let sensors = PowerSensors::new(bus, charger, SensorLayout::default());
        daemon_loop(sensors, outputs, policy, args, tick, now, |_, _, _, _| {})
    }
}

#[cfg(not(feature = "kiosk"))]
fn run_devices(_ctx: &Ctx, _args: &KioskArgs, _policy: PowerPolicy) -> anyhow::Result<()> {
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
                let status = format!("power mode {:?}", d.mode).to_lowercase();
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

/// The daemon's loop: observe, decide, apply, run admitted jobs; a status line each hour.
fn daemon_loop<I2C: I2c, L: ChargerLink>(
    mut sensors: PowerSensors<I2C, L>,
    mut outputs: Outputs,
    mut policy: PowerPolicy,
    args: &KioskArgs,
    tick: Duration,
    now: impl Fn() -> Timestamp,
    mut set_load: impl FnMut(&Decision, Timestamp, bool, bool),
) -> anyhow::Result<()> {
    let start = now();
    let stop_after_s = args.hours.map(|h| (h.max(0.0) * 3600.0) as u64);
    let (work_from, work_to) = policy.config().working_hours;
    let mut jobs = JobQueue::daily();
    let mut last_status_hour = None;
    let mut last_mode = None;
    let mut last_t = start;
    let mut service = ServiceManager::from_env();
    loop {
        let t = now();
        if stop_after_s.is_some_and(|s| t.since(start) >= s) {
            tracing::info!("stopping after the requested time");
            service.stopping();
            return Ok(());
        }
        let obs = sensors.observe(t);
        let d = policy.decide(t, &obs);
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
            tracing::warn!(reason = ?sd.reason, wake = wake.as_deref().unwrap_or("when power returns"), "clean shutdown");
            status(
                t,
                &d,
                &obs,
                &jobs,
                args.json,
                Some(&format!("{:?}", sd.reason)),
            );
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
        let busy = step.running.is_some();
        if let Some(kind) = step.finished {
            tracing::info!(job = kind.name(), "background job done");
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

//! The simulation runner: the model, the simulated devices, the real drivers and a power
//! policy, stepped minute by minute over days of weather.
//!
//! The policy sees only what the board would see: the gauge and current monitors read by
//! the real drivers over the simulated I2C bus, and the charger's VE.Direct blocks encoded
//! and decoded by the real codec; plus its own learned forecast. The weather trace drives
//! the panel only. The kit's load comes from the policy's outputs (backlight, screen
//! timeout, CPU governor, modem and LoRa use, admitted jobs) and the caseworkers' use of
//! the screen during working hours.

use serde::Serialize;

use fieldkit_power::{
    CpuGovernor, Decision, JobQueue, Policy, PolicyConfig, PowerMode, ShutdownReason, Timestamp,
};
use fieldkit_sensors::{PowerSensors, SensorLayout};

use crate::i2c::SimI2c;
use crate::model::{KitModel, KitSpec};
use crate::speak::{SimVeDirectLink, StateCell};
use crate::weather::WeatherTrace;

/// Power figures of the kit's parts (DESIGN §6), in W at the 5 V side unless noted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoadFigures {
    /// Pi idle draw per governor: performance, ondemand, powersave.
    pub pi_idle_w: [f32; 3],
    /// Extra draw while a job keeps the CPU busy, per governor.
    pub pi_busy_extra_w: [f32; 3],
    /// Work speed per governor (ondemand = 1).
    pub pi_speed: [f32; 3],
    /// Display electronics while the screen is on.
    pub screen_on_w: f32,
    /// Backlight at 100 %.
    pub backlight_full_w: f32,
    /// LTE modem powered and idle (~10 mA).
    pub modem_idle_w: f32,
    /// LTE modem transmitting (0.5–0.8 A at ~4 V).
    pub modem_tx_w: f32,
    /// Periodic small syncs over cellular: minutes of transmitting per half hour.
    pub sync_tx_minutes_per_half_hour: u64,
    /// LoRa module average (receive plus a few 14 dBm transmissions an hour).
    pub lora_w: f32,
    /// Converter efficiency from the battery bus to 5 V.
    pub converter_efficiency: f32,
    /// Draw of the halted kit from the battery (RTC, charger standby).
    pub halted_w: f32,
    /// A caseworker touches the screen about once per this many seconds.
    pub interaction_period_s: f32,
    /// Minutes a boot keeps the CPU busy.
    pub boot_minutes: u32,
}

impl Default for LoadFigures {
    fn default() -> Self {
        Self {
            pi_idle_w: [3.0, 2.6, 2.2],
            pi_busy_extra_w: [3.3, 3.0, 2.3],
            pi_speed: [1.15, 1.0, 0.6],
            screen_on_w: 0.6,
            backlight_full_w: 3.4,
            modem_idle_w: 0.05,
            modem_tx_w: 2.8,
            sync_tx_minutes_per_half_hour: 2,
            lora_w: 0.02,
            converter_efficiency: 0.9,
            halted_w: 0.05,
            interaction_period_s: 300.0,
            boot_minutes: 2,
        }
    }
}

/// Everything a run needs besides the weather and the policy.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Days to run.
    pub days: u32,
    /// Battery, panel and charger.
    pub spec: KitSpec,
    /// SOC at the start, %.
    pub start_soc_percent: f32,
    /// Step in seconds.
    pub step_s: u64,
    /// Part figures.
    pub loads: LoadFigures,
    /// Working hours (local), [start, end).
    pub working_hours: (f32, f32),
    /// How the sensors are wired.
    pub layout: SensorLayout,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            days: 14,
            spec: KitSpec::default(),
            start_soc_percent: 80.0,
            step_s: 60,
            loads: LoadFigures::default(),
            working_hours: (8.0, 17.0),
            layout: SensorLayout::default(),
        }
    }
}

impl SimConfig {
    /// The fieldkit policy's configuration for this kit (its nameplate battery size and
    /// working hours: what a technician would set at provisioning).
    pub fn policy_config(&self) -> PolicyConfig {
        PolicyConfig {
            battery_capacity_wh: self.spec.battery_capacity_wh,
            working_hours: self.working_hours,
            ..PolicyConfig::default()
        }
    }
}

/// Minutes spent in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ModeMinutes {
    /// Running in Normal.
    pub normal: u64,
    /// Running in Saver.
    pub saver: u64,
    /// Running in Critical.
    pub critical: u64,
    /// Halted after a clean shutdown.
    pub halted: u64,
    /// Dead after a brown-out.
    pub browned_out: u64,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// Policy name.
    pub policy: String,
    /// Days simulated.
    pub days: u32,
    /// Times the battery emptied under a running kit.
    pub brownouts: u32,
    /// Brown-outs that hit unsaved work (a form open in working hours, or a job writing).
    pub saves_lost: u32,
    /// Saves completed.
    pub saves: u32,
    /// Clean shutdowns because the battery was low.
    pub low_battery_shutdowns: u32,
    /// Clean overnight shutdowns (Critical mode).
    pub overnight_shutdowns: u32,
    /// Fraction of working-hour minutes (08:00–17:00) the kit was up, 0–1.
    pub availability_working_hours: f64,
    /// Working-hour minutes in the run.
    pub working_minutes: u64,
    /// Working-hour minutes the kit was up.
    pub working_minutes_up: u64,
    /// Working-hour minutes the kit was up in Normal mode (full service).
    pub working_minutes_normal: u64,
    /// Solar energy available but not used (battery full), Wh.
    pub energy_wasted_wh: f64,
    /// Solar energy that reached the battery bus, Wh.
    pub energy_harvested_wh: f64,
    /// Energy the kit drew, Wh.
    pub energy_consumed_wh: f64,
    /// Lowest state of charge, %.
    pub min_soc_percent: f64,
    /// State of charge at the end, %.
    pub final_soc_percent: f64,
    /// Background jobs finished.
    pub jobs_completed: u32,
    /// Background jobs still waiting at the end.
    pub jobs_pending: u32,
    /// Mode changes decided by the policy.
    pub mode_changes: u32,
    /// Minutes per state.
    pub minutes: ModeMinutes,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum KitPower {
    Up { booting_min: u32 },
    Halted { wake_at: Option<Timestamp> },
    BrownedOut,
}

fn governor_index(g: CpuGovernor) -> usize {
    match g {
        CpuGovernor::Performance => 0,
        CpuGovernor::Ondemand => 1,
        CpuGovernor::Powersave => 2,
    }
}

impl LoadFigures {
    /// What the kit draws from the battery, in W, while it runs under decision `d`: the board
    /// at its governor (busy or idle), the screen for the share of the time caseworkers keep it
    /// on, the modem and LoRa when their links may run, plus `extra_5v_w` on the 5 V rail (a
    /// job's transmissions), through the converter.
    pub fn draw_w(
        &self,
        d: &Decision,
        now: Timestamp,
        working: bool,
        busy: bool,
        extra_5v_w: f32,
    ) -> f32 {
        let g = governor_index(d.governor);
        let mut load_5v_w = extra_5v_w + self.pi_idle_w[g];
        if busy {
            load_5v_w += self.pi_busy_extra_w[g];
        }
        // Screen: on while caseworkers use it, then for the timeout.
        let on_fraction = match d.screen_timeout_s {
            None => 1.0,
            Some(t) if working => ((60.0 + t as f32) / self.interaction_period_s).clamp(0.0, 1.0),
            Some(_) => 0.0,
        };
        load_5v_w += on_fraction
            * (self.screen_on_w + self.backlight_full_w * f32::from(d.backlight_percent) / 100.0);
        if d.links.cellular {
            load_5v_w += self.modem_idle_w;
            if (now.time_of_day_s() / 60) % 30 < self.sync_tx_minutes_per_half_hour {
                load_5v_w += self.modem_tx_w;
            }
        }
        if d.links.lora {
            load_5v_w += self.lora_w;
        }
        load_5v_w / self.converter_efficiency
    }
}

/// Whether `now` is in the working hours `[from, to)` (the simulation's definition, which the
/// oracle shares).
pub fn is_working(now: Timestamp, (from, to): (f32, f32)) -> bool {
    let hour = now.hour_f();
    hour >= from && hour < to
}

/// Runs `policy` over `weather` for `config.days` days.
pub fn simulate(config: &SimConfig, weather: &WeatherTrace, policy: &mut dyn Policy) -> SimReport {
    let spec = config.spec;
    let loads = config.loads;
    let mut kit = KitModel::new(spec, weather.clone(), config.start_soc_percent);
    let bus = SimI2c::new(kit.state(), spec.cells_in_series);
    let cell = StateCell::new(kit.state());
    let mut sensors = PowerSensors::new(
        bus.clone(),
        Some(SimVeDirectLink::new(cell.clone())),
        config.layout,
    );

    let step = config.step_s.max(1);
    let steps = u64::from(config.days) * 86_400 / step;
    let mut power = KitPower::Up { booting_min: 0 };
    let mut jobs = JobQueue::daily();
    let mut last_mode: Option<PowerMode> = None;
    let mut r = SimReport {
        policy: policy.name().to_string(),
        days: config.days,
        brownouts: 0,
        saves_lost: 0,
        saves: 0,
        low_battery_shutdowns: 0,
        overnight_shutdowns: 0,
        availability_working_hours: 0.0,
        working_minutes: 0,
        working_minutes_up: 0,
        working_minutes_normal: 0,
        energy_wasted_wh: 0.0,
        energy_harvested_wh: 0.0,
        energy_consumed_wh: 0.0,
        min_soc_percent: f64::from(kit.soc_percent()),
        final_soc_percent: 0.0,
        jobs_completed: 0,
        jobs_pending: 0,
        mode_changes: 0,
        minutes: ModeMinutes::default(),
    };
    let step_min = step as f32 / 60.0;

    for i in 0..steps {
        let now = Timestamp(i * step);
        let working = is_working(now, config.working_hours);
        jobs.queue_due(now);

        // Wake-ups.
        match power {
            KitPower::Halted { wake_at } => {
                let due = wake_at.is_some_and(|w| now >= w);
                if due && !kit.load_disconnected() {
                    power = KitPower::Up {
                        booting_min: loads.boot_minutes,
                    };
                }
            }
            KitPower::BrownedOut if !kit.load_disconnected() => {
                power = KitPower::Up {
                    booting_min: loads.boot_minutes,
                };
            }
            _ => {}
        }

        let mut writing = false;
        let mut battery_draw_w = loads.halted_w;
        let mut normal = false;
        if let KitPower::Up { booting_min } = power {
            bus.set_state(kit.state());
            cell.set(kit.state());
            let obs = sensors.observe(now);
            let d: Decision = policy.decide(now, &obs);
            if last_mode.is_some_and(|m| m != d.mode) {
                r.mode_changes += 1;
            }
            last_mode = Some(d.mode);
            if let Some(sd) = d.shutdown {
                if booting_min > 0 {
                    // Woken only to find it must halt again: the boot is paid all the same
                    // (its minutes' energy in this step). Not counted as another shutdown.
                    let minutes = booting_min as f32 * 60.0 / step as f32;
                    battery_draw_w = minutes * loads.draw_w(&d, now, working, true, 0.0);
                } else {
                    match sd.reason {
                        ShutdownReason::BatteryLow => r.low_battery_shutdowns += 1,
                        ShutdownReason::Overnight => r.overnight_shutdowns += 1,
                    }
                }
                power = KitPower::Halted {
                    wake_at: sd.wake_at,
                };
            } else {
                match d.mode {
                    PowerMode::Normal => r.minutes.normal += 1,
                    PowerMode::Saver => r.minutes.saver += 1,
                    _ => r.minutes.critical += 1,
                }
                normal = d.mode == PowerMode::Normal;
                let mut busy = booting_min > 0;
                let mut extra_5v_w = 0.0;
                if booting_min > 0 {
                    power = KitPower::Up {
                        booting_min: booting_min - 1,
                    };
                } else {
                    // One background job at a time, admitted or paused each step.
                    let speed = loads.pi_speed[governor_index(d.governor)];
                    let s = jobs.step(now, &d, &*policy, step_min * speed);
                    if let Some(kind) = s.running {
                        busy = true;
                        writing = kind.writes();
                        if kind.needs_cellular() {
                            extra_5v_w += loads.modem_tx_w;
                        }
                    }
                    if s.finished.is_some() {
                        r.jobs_completed += 1;
                    }
                }
                if working && (now.time_of_day_s() / 60).is_multiple_of(10) {
                    r.saves += 1;
                }
                battery_draw_w = loads.draw_w(&d, now, working, busy, extra_5v_w);
            }
        }

        if working {
            r.working_minutes += 1;
            if matches!(power, KitPower::Up { .. }) {
                r.working_minutes_up += 1;
                if normal {
                    r.working_minutes_normal += 1;
                }
            }
        }
        match power {
            KitPower::Halted { .. } => r.minutes.halted += 1,
            KitPower::BrownedOut => r.minutes.browned_out += 1,
            KitPower::Up { .. } => {}
        }

        let browned = kit.step(step, battery_draw_w);
        if browned && matches!(power, KitPower::Up { .. }) {
            r.brownouts += 1;
            if working || writing {
                r.saves_lost += 1;
            }
            power = KitPower::BrownedOut;
        } else if browned {
            // The halted kit's standby draw emptied it: it will cold-boot on reconnect.
            power = KitPower::BrownedOut;
        }
        r.min_soc_percent = r.min_soc_percent.min(f64::from(kit.soc_percent()));
    }

    r.availability_working_hours = if r.working_minutes > 0 {
        r.working_minutes_up as f64 / r.working_minutes as f64
    } else {
        0.0
    };
    r.energy_wasted_wh = f64::from(kit.totals.wasted_wh);
    r.energy_harvested_wh = f64::from(kit.totals.harvested_wh);
    r.energy_consumed_wh = f64::from(kit.totals.consumed_wh);
    r.final_soc_percent = f64::from(kit.soc_percent());
    r.jobs_pending = jobs.len() as u32;
    r
}

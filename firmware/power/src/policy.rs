//! Power modes and what each allows.

use serde::{Deserialize, Serialize};

use crate::forecast::in_window;
use crate::{
    Admission, EnergyForecast, ForecastConfig, Job, JobClass, Observation, Timestamp, WaitReason,
};

/// The kit's power mode. Ordered from least to most capable, so `mode <= Saver` reads as
/// "Saver or worse".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerMode {
    /// Saving everything and halting (or halted).
    Shutdown,
    /// Registration still possible on a dim screen; LoRa alerts only; off overnight.
    Critical,
    /// Dimmer, slower; cellular only on surplus; bulk work only on surplus.
    Saver,
    /// Everything on.
    Normal,
}

/// CPU frequency governor (the name Linux's cpufreq uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuGovernor {
    /// Full speed: heavy work while energy is free.
    Performance,
    /// Scales with load.
    Ondemand,
    /// Lowest frequency.
    Powersave,
}

impl CpuGovernor {
    /// The string written to `scaling_governor`.
    pub fn sysfs_name(self) -> &'static str {
        match self {
            Self::Performance => "performance",
            Self::Ondemand => "ondemand",
            Self::Powersave => "powersave",
        }
    }
}

/// Which sync links may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncLinks {
    /// LoRa (tiny, cheap: alerts and notices).
    pub lora: bool,
    /// Cellular (costly: full records, photos).
    pub cellular: bool,
}

/// Why the kit shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownReason {
    /// The battery is nearly empty: halt before it browns out.
    BatteryLow,
    /// Critical mode outside working hours: off overnight, back before work starts.
    Overnight,
}

impl ShutdownReason {
    /// The reason as status lines and logs name it (`battery_low`, `overnight`).
    pub fn name(self) -> &'static str {
        match self {
            Self::BatteryLow => "battery_low",
            Self::Overnight => "overnight",
        }
    }
}

/// A clean shutdown: save everything, close the vault, halt; wake at `wake_at` (RTC alarm)
/// or when the hardware repowers the kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Why.
    pub reason: ShutdownReason,
    /// When to wake (RTC alarm), if at all.
    pub wake_at: Option<Timestamp>,
}

/// Why the kit is in its mode, for the status line and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeReason {
    /// Everything the mode allows is affordable.
    Plenty,
    /// The state of charge is below the better mode's threshold (or not yet back above the
    /// level at which the kit returns to it).
    BatteryLevel,
    /// The forecast to the next sunrise would leave too little in the better mode.
    SunriseForecast,
    /// The energy budget over the next days (the battery, plus what the recent days suggest
    /// will come, as if the weather goes on like that) does not afford the better mode.
    Budget,
    /// The better mode would eat into the reserve kept for a dark spell starting tomorrow.
    SpellReserve,
    /// A better mode is affordable and must hold for the dwell time before the kit moves up.
    Dwell,
    /// No usable battery reading: treated as low power.
    PowerUnknown,
    /// The battery voltage is below the shutdown threshold.
    LowVoltage,
    /// Set by the caller, not by measurements (the always-on baseline, the oracle's plan).
    Fixed,
}

impl ModeReason {
    /// A short explanation in the field's words.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Plenty => "energy for everything",
            Self::BatteryLevel => "battery level",
            Self::SunriseForecast => "saving for tonight",
            Self::Budget => "saving for the coming days",
            Self::SpellReserve => "keeping a reserve for a dark spell",
            Self::Dwell => "waiting for the better level to hold",
            Self::PowerUnknown => "battery state unknown",
            Self::LowVoltage => "battery voltage low",
            Self::Fixed => "fixed",
        }
    }
}

/// What the policy decided for now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Mode in force.
    pub mode: PowerMode,
    /// Backlight level while the screen is on, 0–100 %.
    pub backlight_percent: u8,
    /// Screen blanks after this many idle seconds (`None`: never).
    pub screen_timeout_s: Option<u32>,
    /// CPU governor.
    pub governor: CpuGovernor,
    /// Links that may run.
    pub links: SyncLinks,
    /// Shut down cleanly now.
    pub shutdown: Option<Shutdown>,
    /// False when the battery state is unknown (missing, stale or garbled readings).
    pub power_known: bool,
    /// Solar energy is going spare: the charger is in absorption or float, or the battery is
    /// nearly full and the panel gives more than the load takes.
    pub surplus: bool,
    /// Why the kit is in this mode.
    pub reason: ModeReason,
    /// State of charge the forecast expects at the next sunrise if the mode stays, in %.
    pub projected_sunrise_soc_percent: Option<f32>,
}

impl Decision {
    /// What `mode` allows, with or without solar energy going spare: backlight, screen
    /// timeout, governor and links. Power is known and nothing is shutting down.
    pub fn for_mode(mode: PowerMode, surplus: bool) -> Self {
        let (backlight_percent, screen_timeout_s, governor, links) = match mode {
            // With solar energy going spare the screen may as well be bright.
            PowerMode::Normal => (
                if surplus { 100 } else { 70 },
                Some(300),
                if surplus {
                    CpuGovernor::Performance
                } else {
                    CpuGovernor::Ondemand
                },
                SyncLinks {
                    lora: true,
                    cellular: true,
                },
            ),
            PowerMode::Saver => (
                40,
                Some(60),
                CpuGovernor::Powersave,
                SyncLinks {
                    lora: true,
                    cellular: surplus,
                },
            ),
            PowerMode::Critical => (
                15,
                Some(20),
                CpuGovernor::Powersave,
                SyncLinks {
                    lora: true,
                    cellular: false,
                },
            ),
            PowerMode::Shutdown => (0, Some(0), CpuGovernor::Powersave, SyncLinks::default()),
        };
        Self {
            mode,
            backlight_percent,
            screen_timeout_s,
            governor,
            links,
            shutdown: None,
            power_known: true,
            surplus,
            reason: ModeReason::Fixed,
            projected_sunrise_soc_percent: None,
        }
    }
}

/// Anything that decides power for the kit: the fieldkit policy, or the always-on baseline
/// the simulator compares it with.
pub trait Policy {
    /// Short name for reports.
    fn name(&self) -> &'static str;
    /// Decides what the kit may do now, given what was measured.
    fn decide(&mut self, now: Timestamp, observation: &Observation) -> Decision;
    /// Whether `job` may start now (as of the last decision).
    fn admit(&self, now: Timestamp, job: &Job) -> Admission;
}

/// Thresholds and figures of the fieldkit policy. State-of-charge thresholds come in
/// pairs: a mode is left downward at one value and re-entered only at a higher one, and
/// only after the better state has held for `min_dwell_s`, so the mode never flaps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    /// Usable battery energy in Wh (nameplate).
    pub battery_capacity_wh: f32,
    /// Readings older than this are unknown.
    pub max_reading_age_s: u64,
    /// Working hours, local time, [start, end).
    pub working_hours: (f32, f32),
    /// Normal → Saver below this SOC.
    pub saver_below_percent: f32,
    /// Saver → Normal from this SOC.
    pub normal_from_percent: f32,
    /// Saver → Critical below this SOC.
    pub critical_below_percent: f32,
    /// Critical → Saver from this SOC.
    pub saver_from_percent: f32,
    /// Shut down at or below this SOC.
    pub shutdown_at_percent: f32,
    /// After a low-battery shutdown, run again only from this SOC.
    pub boot_from_percent: f32,
    /// A kit shut down for a low battery wakes to look at it again before work and, during
    /// working hours, after this many hours.
    pub low_battery_recheck_h: f32,
    /// Shut down when the battery voltage (under load) is below this, in mV.
    pub shutdown_below_mv: u32,
    /// Normal needs the forecast to leave at least this SOC at the next sunrise.
    pub sunrise_reserve_percent: f32,
    /// A better mode must hold this long before the kit moves up.
    pub min_dwell_s: u64,
    /// The kit sleeps (halts) overnight, from `overnight_margin_h` after work to as long
    /// before it: always in Critical mode, and in the other modes unless the night awake is
    /// paid for by energy that would otherwise go to waste.
    pub hibernate_in_critical: bool,
    /// How long before work the sleeping kit wakes (a boot takes a minute or two) and how
    /// long after work it stays up before sleeping, in hours.
    pub overnight_margin_h: f32,
    /// Draw of the halted kit (RTC and charger only), in W.
    pub halted_load_w: f32,
    /// Panel power must exceed the load by this much to count as surplus, in W.
    pub surplus_margin_w: f32,
    /// ... and the battery must be at least this full, in % (below it the spare panel power
    /// is charging the battery, not going to waste).
    pub surplus_from_percent: f32,
    /// Days ahead the energy budget looks: the battery above the shutdown floor, plus this
    /// many days of the harvest recent days suggest, must cover this many days of a mode.
    pub budget_horizon_days: f32,
    /// What the budget must leave at the horizon, in % of the battery.
    pub budget_reserve_percent: f32,
    /// Extra budget, in % of the battery, needed to move up to a better mode.
    pub budget_margin_percent: f32,
    /// Harvest per day assumed before a whole day has been measured, in Wh.
    pub assumed_daily_harvest_wh: f32,
    /// The spell reserve: a better mode than Critical, or a night awake, may spend only what
    /// leaves, at the next start of work, enough for this many dark days in Critical (asleep
    /// overnight), each giving the dark-day harvest. The reserve grows to the longest spell
    /// the kit has seen, up to `spell_days_max`.
    pub spell_days: f32,
    /// The most days of spell the reserve is sized for.
    pub spell_days_max: f32,
    /// Extra, in % of the battery, above the spell reserve needed to move up.
    pub spell_margin_percent: f32,
    /// Design load figures per mode [working hours, other hours] in W, until measured:
    /// Shutdown, Critical, Saver, Normal.
    pub design_load_w: [[f32; 2]; 4],
    /// Forecast tuning.
    pub forecast: ForecastConfig,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            battery_capacity_wh: 256.0,
            max_reading_age_s: 180,
            working_hours: (8.0, 17.0),
            saver_below_percent: 40.0,
            normal_from_percent: 50.0,
            critical_below_percent: 20.0,
            saver_from_percent: 30.0,
            shutdown_at_percent: 7.0,
            boot_from_percent: 12.0,
            low_battery_recheck_h: 2.0,
            shutdown_below_mv: 11_600,
            sunrise_reserve_percent: 25.0,
            min_dwell_s: 900,
            hibernate_in_critical: true,
            overnight_margin_h: 0.15,
            halted_load_w: 0.05,
            surplus_margin_w: 3.0,
            surplus_from_percent: 90.0,
            budget_horizon_days: 7.0,
            budget_reserve_percent: 10.0,
            budget_margin_percent: 10.0,
            assumed_daily_harvest_wh: 60.0,
            spell_days: 5.0,
            spell_days_max: 10.0,
            spell_margin_percent: 5.0,
            design_load_w: [[0.05, 0.05], [3.0, 2.6], [4.0, 2.7], [6.0, 3.0]],
            forecast: ForecastConfig::default(),
        }
    }
}

/// The fieldkit power policy.
#[derive(Debug, Clone)]
pub struct PowerPolicy {
    config: PolicyConfig,
    forecast: EnergyForecast,
    mode: PowerMode,
    /// Since when the conditions for the next better mode have held.
    better_since: Option<(PowerMode, Timestamp)>,
    low_voltage_count: u8,
    last: Option<Decision>,
    /// The last usable state of charge, for job admission.
    last_soc: Option<f32>,
    /// Solar energy is going spare now.
    surplus_now: bool,
}

impl PowerPolicy {
    /// A policy starting in Normal with an empty forecast.
    pub fn new(config: PolicyConfig) -> Self {
        Self {
            forecast: EnergyForecast::new(config.forecast, config.design_load_w),
            config,
            mode: PowerMode::Normal,
            better_since: None,
            low_voltage_count: 0,
            last: None,
            last_soc: None,
            surplus_now: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The learned forecast.
    pub fn forecast(&self) -> &EnergyForecast {
        &self.forecast
    }

    /// The mode of the state machine (what `decide` last settled on).
    pub fn mode(&self) -> PowerMode {
        self.mode
    }

    fn working(&self, now: Timestamp) -> bool {
        let (from, to) = self.config.working_hours;
        in_window(now.hour_f(), from, to)
    }

    /// The overnight window in which the kit sleeps: from `overnight_margin_h` after work
    /// ends to as long before it starts.
    fn overnight(&self) -> (f32, f32) {
        let (from, to) = self.config.working_hours;
        let m = self.overnight_margin();
        ((to + m) % 24.0, (to_positive(from - m)) % 24.0)
    }

    fn overnight_margin(&self) -> f32 {
        let (from, to) = self.config.working_hours;
        let off_h = 24.0 - to_positive(to - from);
        if self.config.overnight_margin_h.is_finite() {
            self.config.overnight_margin_h.clamp(0.0, off_h / 2.0)
        } else {
            0.5
        }
    }

    /// Energy a day in `mode` costs, asleep overnight, in Wh.
    fn day_asleep_wh(&self, mode: PowerMode) -> f32 {
        let c = &self.config;
        let (from, to) = c.working_hours;
        let work_h = to_positive(to - from);
        let off_h = 24.0 - work_h;
        let m = 2.0 * self.overnight_margin();
        work_h * self.forecast.expected_load_w(mode, true)
            + m * self.forecast.expected_load_w(mode, false)
            + (off_h - m).max(0.0) * c.halted_load_w
    }

    /// The spell reserve in Wh: what a spell of dark days in Critical would take from the
    /// battery, sized from the longest spell seen (at least `spell_days`).
    pub fn spell_reserve_wh(&self) -> f32 {
        let c = &self.config;
        let crit = self.day_asleep_wh(PowerMode::Critical);
        // Where the recent days' harvest barely covers a day in Normal (a winter, a rainy
        // season), the battery is the only buffer between spells and they run into each
        // other: plan for a longer spell.
        let mean = self.forecast.daily_harvest_wh();
        let climate_days = if mean.is_empty() {
            0.0
        } else {
            let mean = mean.iter().sum::<f32>() / mean.len() as f32;
            c.spell_days_max * self.day_asleep_wh(PowerMode::Normal) / mean.max(1e-3)
        };
        let days = (self.forecast.longest_spell_days() as f32)
            .max(c.spell_days)
            .max(climate_days)
            .min(c.spell_days_max.max(c.spell_days))
            .max(0.0);
        let dark = self.forecast.dark_day_harvest_wh().unwrap_or(0.0);
        days * (crit - dark).max(0.0)
    }

    /// What is left above the shutdown floor and the spell reserve, in % of the battery, at
    /// the next start of work (the kit's wake-up) if it runs in `mode` until then, awake
    /// overnight or asleep. Today's harvest still to come counts at the brightness today
    /// has shown; the nights and the coming spell at the learned loads.
    pub fn spell_left_percent(
        &self,
        now: Timestamp,
        soc: f32,
        mode: PowerMode,
        awake: bool,
    ) -> f32 {
        let c = &self.config;
        let cap = c.battery_capacity_wh.max(1.0);
        let (night_from, wake) = self.overnight();
        let until = now.next_at_hour(wake);
        let hours = until.since(now) as f32 / 3600.0;
        // The next wake-up is later today: the night is nearly over, and little of today's
        // sun comes before it.
        let harvest = if until.day() == now.day() {
            0.0
        } else {
            self.forecast.harvest_rest_of_today_wh(now)
        };
        let off = (!awake || mode <= PowerMode::Critical)
            .then_some((c.halted_load_w, (night_from, wake)));
        let need = self
            .forecast
            .consumption_wh(now, hours, mode, c.working_hours, off);
        soc - c.shutdown_at_percent + 100.0 * (harvest - need - self.spell_reserve_wh()) / cap
    }

    /// When a kit shut down for a low battery wakes to look again: before the next start of
    /// work (the battery may have come back above the boot level the day before), and during
    /// working hours every `low_battery_recheck_h` (the sun may be bringing it back now). A
    /// look that finds the battery still too low shuts down again at once.
    fn low_battery_wake(&self, now: Timestamp) -> Timestamp {
        let c = &self.config;
        let (from, to) = c.working_hours;
        let morning = now.next_at_hour(to_positive(from - self.overnight_margin()) % 24.0);
        let recheck_s = (c.low_battery_recheck_h.clamp(0.25, 24.0) * 3600.0) as u64;
        let recheck = now.plus_s(recheck_s);
        let day = |t: Timestamp| {
            in_window(
                t.hour_f(),
                to_positive(from - self.overnight_margin()) % 24.0,
                to,
            )
        };
        if day(now) && day(recheck) && recheck < morning {
            recheck
        } else {
            morning
        }
    }

    /// SOC expected at the next sunrise if the kit stays in `mode`.
    pub fn projected_sunrise_soc(&self, now: Timestamp, soc: f32, mode: PowerMode) -> f32 {
        let outlook = self.forecast.outlook(now);
        let off = (mode == PowerMode::Critical && self.config.hibernate_in_critical)
            .then(|| (self.config.halted_load_w, self.overnight()));
        let need =
            self.forecast
                .consumption_until_sunrise_wh(now, mode, self.config.working_hours, off);
        let cap = self.config.battery_capacity_wh.max(1.0);
        soc + 100.0 * (outlook.harvest_wh - need) / cap
    }

    /// Whether the kit in `mode` sleeps through the coming night: always in Critical (and
    /// when the battery state is unknown), otherwise when the budget cannot afford the
    /// night awake.
    fn sleeps_tonight(&self, now: Timestamp, mode: PowerMode, soc: Option<f32>) -> bool {
        match soc {
            _ if mode <= PowerMode::Critical => true,
            None => true,
            Some(soc) => {
                self.budget_left_percent(now, soc, mode, true) < self.config.budget_reserve_percent
                    || !self.night_awake_is_free(now, soc, mode)
            }
        }
    }

    /// Whether a night awake in `mode` is paid for by energy that would otherwise go to
    /// waste: the spell reserve still holds after the night, and the harvest recent days
    /// suggest for tomorrow would fill the battery anyway. Up time outside working hours
    /// earns little, and a night awake costs as much as a day and a half in Critical.
    fn night_awake_is_free(&self, now: Timestamp, soc: f32, mode: PowerMode) -> bool {
        let c = &self.config;
        if self.spell_left_percent(now, soc, mode, true) < 0.0 {
            return false;
        }
        let cap = c.battery_capacity_wh.max(1.0);
        let (from, to) = c.working_hours;
        let work_h = to_positive(to - from);
        let harvest = self
            .forecast
            .planning_daily_harvest_wh(now)
            .unwrap_or(c.assumed_daily_harvest_wh);
        let after_work = self.spell_left_percent(now, soc, mode, true)
            + c.shutdown_at_percent
            + 100.0
                * (self.spell_reserve_wh() + harvest
                    - work_h * self.forecast.expected_load_w(mode, true))
                / cap;
        after_work >= c.surplus_from_percent
    }

    /// What the energy budget leaves at the horizon if the kit runs in `mode` every day, in
    /// % of the battery: the battery above the shutdown floor, plus the harvest recent days
    /// suggest for each coming day, minus each day's need (working hours in `mode`, and the
    /// night awake in it or asleep).
    pub fn budget_left_percent(
        &self,
        now: Timestamp,
        soc: f32,
        mode: PowerMode,
        awake: bool,
    ) -> f32 {
        let c = &self.config;
        let cap = c.battery_capacity_wh.max(1.0);
        let stored = (soc - c.shutdown_at_percent).max(0.0) / 100.0 * cap;
        let harvest = self
            .forecast
            .planning_daily_harvest_wh(now)
            .unwrap_or(c.assumed_daily_harvest_wh);
        let (from, to) = c.working_hours;
        let work_h = to_positive(to - from);
        let off_h = 24.0 - work_h;
        let off_w = self.forecast.expected_load_w(mode, false);
        // Asleep: halted from a margin after work to as long before it.
        let margin = 2.0 * self.overnight_margin();
        let night_wh = if awake || off_h <= margin {
            off_h * off_w
        } else {
            (off_h - margin) * c.halted_load_w + margin * off_w
        };
        let day_wh = work_h * self.forecast.expected_load_w(mode, true) + night_wh;
        let h = c.budget_horizon_days.max(0.0);
        100.0 * (stored + h * (harvest - day_wh)) / cap
    }

    /// The mode the state of charge, the forecast and the budget call for, from the current
    /// mode, and why.
    fn next_mode(&mut self, now: Timestamp, soc: f32) -> (PowerMode, ModeReason) {
        let c = self.config;
        let reserve = c.sunrise_reserve_percent;
        let proj = |m| self.projected_sunrise_soc(now, soc, m);
        // The cheapest way to run a mode: asleep overnight when the budget needs it. While
        // solar energy goes to waste the budget does not hold the kit back: spending it is
        // free.
        let spare = self.surplus_now;
        let budget = |m| {
            if spare {
                f32::INFINITY
            } else {
                self.budget_left_percent(now, soc, m, !c.hibernate_in_critical)
            }
        };
        let r = c.budget_reserve_percent;
        // The spell reserve, for the cheapest way to run a mode (asleep overnight).
        let spell = |m| {
            if spare {
                f32::INFINITY
            } else {
                self.spell_left_percent(now, soc, m, false)
            }
        };
        // Downward moves are immediate; each looks only at its own threshold.
        let mut mode = self.mode;
        let mut reason = ModeReason::Plenty;
        if mode == PowerMode::Shutdown {
            if soc < c.boot_from_percent {
                return (PowerMode::Shutdown, ModeReason::BatteryLevel);
            }
            mode = PowerMode::Critical;
            reason = ModeReason::BatteryLevel;
        }
        let why_down = |m: PowerMode, level: f32, sunrise: f32| {
            if soc < level {
                Some(ModeReason::BatteryLevel)
            } else if proj(m) < sunrise {
                Some(ModeReason::SunriseForecast)
            } else if budget(m) < r {
                Some(ModeReason::Budget)
            } else if spell(m) < 0.0 {
                Some(ModeReason::SpellReserve)
            } else {
                None
            }
        };
        if mode == PowerMode::Normal
            && let Some(w) = why_down(PowerMode::Normal, c.saver_below_percent, reserve)
        {
            mode = PowerMode::Saver;
            reason = w;
        }
        if mode == PowerMode::Saver
            && let Some(w) = why_down(PowerMode::Saver, c.critical_below_percent, reserve / 2.0)
        {
            mode = PowerMode::Critical;
            reason = w;
        }
        if soc <= c.shutdown_at_percent {
            return (PowerMode::Shutdown, ModeReason::BatteryLevel);
        }
        if mode < self.mode {
            self.better_since = None;
            return (mode, reason);
        }
        // Upward: one step at a time, with margins above the downward thresholds, held
        // for the dwell time.
        let m = c.budget_margin_percent;
        let why_not_up = |better: PowerMode, level: f32, sunrise: f32| {
            if soc < level {
                Some(ModeReason::BatteryLevel)
            } else if proj(better) < sunrise {
                Some(ModeReason::SunriseForecast)
            } else if budget(better) < r + m {
                Some(ModeReason::Budget)
            } else if spell(better) < c.spell_margin_percent {
                Some(ModeReason::SpellReserve)
            } else {
                None
            }
        };
        let (better, held_by) = match mode {
            PowerMode::Critical => {
                match why_not_up(PowerMode::Saver, c.saver_from_percent, reserve / 2.0 + 10.0) {
                    None => (Some(PowerMode::Saver), ModeReason::Dwell),
                    Some(w) => (None, w),
                }
            }
            PowerMode::Saver => {
                match why_not_up(PowerMode::Normal, c.normal_from_percent, reserve + 10.0) {
                    None => (Some(PowerMode::Normal), ModeReason::Dwell),
                    Some(w) => (None, w),
                }
            }
            _ => (None, ModeReason::Plenty),
        };
        match (better, self.better_since) {
            (Some(b), Some((since_mode, since))) if since_mode == b => {
                if now.since(since) >= c.min_dwell_s {
                    self.better_since = None;
                    (b, ModeReason::Plenty)
                } else {
                    (mode, held_by)
                }
            }
            (Some(b), _) => {
                self.better_since = Some((b, now));
                (mode, held_by)
            }
            (None, _) => {
                self.better_since = None;
                (mode, held_by)
            }
        }
    }
}

fn to_positive(h: f32) -> f32 {
    if h < 0.0 { h + 24.0 } else { h }
}

impl Policy for PowerPolicy {
    fn name(&self) -> &'static str {
        "fieldkit"
    }

    fn decide(&mut self, now: Timestamp, obs: &Observation) -> Decision {
        let age = self.config.max_reading_age_s;
        let soc = obs
            .soc_percent
            .and_then(|r| r.fresh(now, age))
            .filter(|s| s.is_finite() && (0.0..=100.0).contains(s));
        let voltage_mv = obs.battery_voltage_mv.and_then(|r| r.fresh(now, age));
        let stage = obs.charge_stage.and_then(|r| r.fresh(now, age));
        let panel_w = obs
            .panel_power_w
            .and_then(|r| r.fresh(now, age))
            .filter(|w| w.is_finite() && *w >= 0.0);
        let load_w = obs
            .load_power_w
            .and_then(|r| r.fresh(now, age))
            .filter(|w| w.is_finite() && *w >= 0.0);
        let working = self.working(now);
        self.last_soc = soc;

        self.forecast.record_panel(now, panel_w);

        // Two low readings in a row, so one glitch does not halt the kit.
        let low_voltage = voltage_mv.is_some_and(|v| v < self.config.shutdown_below_mv);
        self.low_voltage_count = if low_voltage {
            self.low_voltage_count.saturating_add(1)
        } else {
            0
        };

        let nearly_full = soc.is_some_and(|s| s >= self.config.surplus_from_percent);
        let surplus = stage.is_some_and(|s| s.has_surplus())
            || (nearly_full
                && matches!((panel_w, load_w), (Some(p), Some(l)) if p > l + self.config.surplus_margin_w));
        if surplus {
            self.forecast.mark_saturated();
        } else {
            // The loads to plan on are those of ordinary hours: with energy going spare the
            // kit brightens and speeds up, which the budget never has to pay for.
            self.forecast.record_load(self.mode, working, load_w);
        }
        self.surplus_now = surplus;

        let (mode, reason, power_known, projected) = match soc {
            Some(soc) => {
                let (mut mode, mut reason) = self.next_mode(now, soc);
                if self.low_voltage_count >= 2 {
                    mode = PowerMode::Shutdown;
                    reason = ModeReason::LowVoltage;
                }
                self.mode = mode;
                (
                    mode,
                    reason,
                    true,
                    Some(self.projected_sunrise_soc(now, soc, mode)),
                )
            }
            None => {
                // Unknown counts as low power: at most Critical, and a low voltage on its
                // own still shuts down.
                let (mode, reason) = if self.low_voltage_count >= 2 {
                    (PowerMode::Shutdown, ModeReason::LowVoltage)
                } else {
                    (PowerMode::Critical, ModeReason::PowerUnknown)
                };
                self.better_since = None;
                if self.mode > mode || mode == PowerMode::Shutdown {
                    self.mode = mode;
                }
                (mode, reason, false, None)
            }
        };

        let mut shutdown = None;
        let mut mode = mode;
        if mode == PowerMode::Shutdown {
            shutdown = Some(Shutdown {
                reason: ShutdownReason::BatteryLow,
                wake_at: Some(self.low_battery_wake(now)),
            });
        } else if self.config.hibernate_in_critical && self.sleeps_tonight(now, mode, soc) {
            let (from, to) = self.overnight();
            if in_window(now.hour_f(), from, to) {
                shutdown = Some(Shutdown {
                    reason: ShutdownReason::Overnight,
                    wake_at: Some(now.next_at_hour(to)),
                });
                mode = PowerMode::Shutdown;
            }
        }

        let decision = Decision {
            shutdown,
            power_known,
            reason,
            projected_sunrise_soc_percent: projected,
            ..Decision::for_mode(mode, surplus)
        };
        self.last = Some(decision);
        decision
    }

    fn admit(&self, now: Timestamp, job: &Job) -> Admission {
        let Some(last) = self.last else {
            return match job.kind.class() {
                JobClass::Essential => Admission::Run,
                _ => Admission::Wait(WaitReason::PowerUnknown),
            };
        };
        if last.mode == PowerMode::Shutdown {
            return Admission::Wait(WaitReason::ShuttingDown);
        }
        match job.kind.class() {
            JobClass::Essential | JobClass::Urgent => Admission::Run,
            JobClass::Bulk => {
                if !last.power_known {
                    return Admission::Wait(WaitReason::PowerUnknown);
                }
                match last.mode {
                    PowerMode::Normal | PowerMode::Saver if last.surplus => Admission::Run,
                    PowerMode::Normal => {
                        // Without surplus, only if tonight's and the coming days' budgets
                        // stay comfortable after it: background work yields first.
                        let c = &self.config;
                        let cost = 100.0 * job.energy_wh / c.battery_capacity_wh.max(1.0);
                        let margin = last
                            .projected_sunrise_soc_percent
                            .map(|p| p - cost)
                            .unwrap_or(f32::MIN);
                        let days_ok = self.last_soc.is_some_and(|soc| {
                            self.budget_left_percent(now, soc - cost, PowerMode::Normal, true)
                                >= c.budget_reserve_percent + c.budget_margin_percent
                        });
                        if days_ok && margin >= c.sunrise_reserve_percent + 25.0 {
                            Admission::Run
                        } else {
                            Admission::Wait(WaitReason::NoSurplus)
                        }
                    }
                    PowerMode::Saver => Admission::Wait(WaitReason::NoSurplus),
                    _ => Admission::Wait(WaitReason::ModeTooLow),
                }
            }
        }
    }
}

/// The baseline: everything on all the time, never dims, never defers, never shuts down.
/// It is what a kit without a power policy does; the simulator runs it side by side.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOn;

impl Policy for AlwaysOn {
    fn name(&self) -> &'static str {
        "always-on"
    }

    fn decide(&mut self, _now: Timestamp, _obs: &Observation) -> Decision {
        Decision {
            mode: PowerMode::Normal,
            backlight_percent: 100,
            screen_timeout_s: None,
            governor: CpuGovernor::Performance,
            links: SyncLinks {
                lora: true,
                cellular: true,
            },
            shutdown: None,
            power_known: true,
            surplus: false,
            reason: ModeReason::Fixed,
            projected_sunrise_soc_percent: None,
        }
    }

    fn admit(&self, _now: Timestamp, _job: &Job) -> Admission {
        Admission::Run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChargeStage, JobKind, Reading};

    fn obs(now: Timestamp, soc: f32) -> Observation {
        Observation {
            soc_percent: Some(Reading::new(soc, now)),
            battery_voltage_mv: Some(Reading::new(13_000, now)),
            ..Observation::default()
        }
    }

    /// A policy whose forecast sees no sun and a tiny load, so only SOC thresholds act.
    fn policy() -> PowerPolicy {
        PowerPolicy::new(PolicyConfig {
            design_load_w: [[0.0; 2]; 4],
            hibernate_in_critical: false,
            ..PolicyConfig::default()
        })
    }

    #[test]
    fn soc_hovering_at_a_threshold_does_not_flap() {
        let mut p = policy();
        let mut t = Timestamp::from_day_and_hour(0, 9.0);
        let mut changes = 0;
        let mut last = p.decide(t, &obs(t, 60.0)).mode;
        // Twelve hours of readings jittering ±1 % around the Normal→Saver threshold.
        for i in 0..720u32 {
            t = t.plus_s(60);
            let jitter = [(-1.0), 0.6, -0.3, 1.0, 0.2, -0.8][(i % 6) as usize];
            let soc = p.config().saver_below_percent + jitter;
            let mode = p.decide(t, &obs(t, soc)).mode;
            if mode != last {
                changes += 1;
                last = mode;
            }
        }
        assert!(changes <= 1, "{changes} mode changes");
        assert_eq!(last, PowerMode::Saver);
    }

    #[test]
    fn moves_up_only_past_the_margin_and_after_the_dwell() {
        let mut p = policy();
        let t0 = Timestamp::from_day_and_hour(0, 9.0);
        assert_eq!(p.decide(t0, &obs(t0, 35.0)).mode, PowerMode::Saver);
        // 45 %: above the Saver threshold but below Normal's re-entry.
        let t1 = t0.plus_s(3600);
        assert_eq!(p.decide(t1, &obs(t1, 45.0)).mode, PowerMode::Saver);
        let t2 = t1.plus_s(60);
        assert_eq!(p.decide(t2, &obs(t2, 55.0)).mode, PowerMode::Saver);
        let t3 = t2.plus_s(p.config().min_dwell_s - 60);
        assert_eq!(p.decide(t3, &obs(t3, 55.0)).mode, PowerMode::Saver);
        let t4 = t2.plus_s(p.config().min_dwell_s);
        assert_eq!(p.decide(t4, &obs(t4, 55.0)).mode, PowerMode::Normal);
    }

    #[test]
    fn shuts_down_cleanly_before_empty_and_boots_only_with_margin() {
        let mut p = policy();
        let t = Timestamp::from_day_and_hour(0, 12.0);
        let d = p.decide(t, &obs(t, 6.0));
        assert_eq!(d.mode, PowerMode::Shutdown);
        let s = d.shutdown.unwrap();
        assert_eq!(s.reason, ShutdownReason::BatteryLow);
        assert!(s.wake_at.unwrap() > t);
        let t = t.plus_s(3600);
        assert_eq!(p.decide(t, &obs(t, 10.0)).mode, PowerMode::Shutdown);
        let t = t.plus_s(3600);
        assert_eq!(p.decide(t, &obs(t, 13.0)).mode, PowerMode::Critical);
    }

    #[test]
    fn low_voltage_shuts_down_even_with_a_good_soc_but_not_on_one_glitch() {
        let mut p = policy();
        let t = Timestamp::from_day_and_hour(0, 12.0);
        let mut o = obs(t, 80.0);
        o.battery_voltage_mv = Some(Reading::new(10_500, t));
        assert_eq!(p.decide(t, &o).mode, PowerMode::Normal);
        let t = t.plus_s(60);
        let mut o = obs(t, 80.0);
        o.battery_voltage_mv = Some(Reading::new(10_500, t));
        assert_eq!(p.decide(t, &o).mode, PowerMode::Shutdown);
    }

    #[test]
    fn unknown_and_stale_readings_count_as_low_power() {
        let mut p = policy();
        let t = Timestamp::from_day_and_hour(0, 10.0);
        assert_eq!(p.decide(t, &obs(t, 90.0)).mode, PowerMode::Normal);
        // Same 90 % reading, ten minutes old: stale, so unknown.
        let later = t.plus_s(600);
        let d = p.decide(later, &obs(t, 90.0));
        assert!(!d.power_known);
        assert_eq!(d.mode, PowerMode::Critical);
        assert!(!d.links.cellular);
        let bulk = Job {
            kind: JobKind::BulkSync,
            energy_wh: 1.0,
        };
        assert_eq!(
            p.admit(later, &bulk),
            Admission::Wait(WaitReason::PowerUnknown)
        );
        // A garbled value (NaN, 300 %) is unknown too.
        let d = p.decide(later, &obs(later, f32::NAN));
        assert!(!d.power_known);
        let d = p.decide(later, &obs(later, 300.0));
        assert!(!d.power_known);
    }

    #[test]
    fn bulk_work_waits_for_surplus() {
        let mut p = policy();
        let t = Timestamp::from_day_and_hour(0, 11.0);
        let bulk = Job {
            kind: JobKind::MatchRun,
            energy_wh: 20.0,
        };
        p.decide(t, &obs(t, 45.0));
        assert_eq!(p.admit(t, &bulk), Admission::Wait(WaitReason::NoSurplus));
        let mut o = obs(t, 45.0);
        o.charge_stage = Some(Reading::new(ChargeStage::Absorption, t));
        let d = p.decide(t, &o);
        assert!(d.surplus);
        assert_eq!(d.governor, CpuGovernor::Performance);
        assert_eq!(p.admit(t, &bulk), Admission::Run);
        let save = Job {
            kind: JobKind::Save,
            energy_wh: 0.01,
        };
        assert_eq!(p.admit(t, &save), Admission::Run);
    }

    #[test]
    fn critical_hibernates_overnight_and_wakes_before_work() {
        let mut p = PowerPolicy::new(PolicyConfig {
            design_load_w: [[0.0; 2]; 4],
            ..PolicyConfig::default()
        });
        let t = Timestamp::from_day_and_hour(0, 16.0);
        assert_eq!(p.decide(t, &obs(t, 15.0)).mode, PowerMode::Critical);
        let t = Timestamp::from_day_and_hour(0, 20.0);
        let d = p.decide(t, &obs(t, 15.0));
        assert_eq!(d.mode, PowerMode::Shutdown);
        let s = d.shutdown.unwrap();
        assert_eq!(s.reason, ShutdownReason::Overnight);
        let wake = Timestamp::from_day_and_hour(1, 8.0 - p.config().overnight_margin_h);
        assert_eq!(s.wake_at, Some(wake));
        let t = wake;
        let d = p.decide(t, &obs(t, 15.0));
        assert_eq!(d.mode, PowerMode::Critical);
        assert!(d.shutdown.is_none());
    }

    #[test]
    fn a_tight_budget_sleeps_overnight_and_explains_itself() {
        // The design loads and no harvest learned yet: a quarter-full battery cannot afford a
        // week of nights awake in Saver, a full one can.
        let config = PolicyConfig {
            assumed_daily_harvest_wh: 20.0,
            ..PolicyConfig::default()
        };
        let evening = Timestamp::from_day_and_hour(0, 19.0);
        let mut tight = PowerPolicy::new(config);
        tight.mode = PowerMode::Saver;
        let d = tight.decide(evening, &obs(evening, 35.0));
        assert_eq!(
            d.shutdown.map(|s| s.reason),
            Some(ShutdownReason::Overnight)
        );
        let wake = Timestamp::from_day_and_hour(1, 8.0 - config.overnight_margin_h);
        assert!(d.shutdown.and_then(|s| s.wake_at) == Some(wake));
        let mut full = PowerPolicy::new(PolicyConfig {
            assumed_daily_harvest_wh: 150.0,
            ..config
        });
        let d = full.decide(evening, &obs(evening, 95.0));
        assert_eq!(d.mode, PowerMode::Normal);
        assert!(d.shutdown.is_none());
        assert_eq!(d.reason, ModeReason::Plenty);
        // A budget that affords Saver but not Normal says so.
        let mut mid = PowerPolicy::new(config);
        let noon = Timestamp::from_day_and_hour(0, 12.0);
        let d = mid.decide(noon, &obs(noon, 80.0));
        assert_eq!((d.mode, d.reason), (PowerMode::Saver, ModeReason::Budget));
    }

    #[test]
    fn the_spell_reserve_holds_back_what_a_dark_spell_would_need() {
        // Nothing learned: the reserve is `spell_days` of Critical with no harvest at all.
        let config = PolicyConfig::default();
        let fresh = PowerPolicy::new(config);
        let crit = fresh.day_asleep_wh(PowerMode::Critical);
        assert!((fresh.spell_reserve_wh() - config.spell_days * crit).abs() < 0.01);
        // At 10:00 the budget over the week and tonight's forecast both afford Normal at
        // 75 %; what Normal spends by tomorrow morning would eat into the reserve.
        let t = Timestamp::from_day_and_hour(0, 10.0);
        let mut p = PowerPolicy::new(config);
        assert!(p.budget_left_percent(t, 75.0, PowerMode::Normal, false) > 20.0);
        assert!(p.projected_sunrise_soc(t, 75.0, PowerMode::Normal) > 35.0);
        let d = p.decide(t, &obs(t, 75.0));
        assert_eq!(
            (d.mode, d.reason),
            (PowerMode::Saver, ModeReason::SpellReserve)
        );
        let mut p = PowerPolicy::new(config);
        assert_eq!(p.decide(t, &obs(t, 90.0)).mode, PowerMode::Normal);

        // A kit that has lived through a long spell keeps a larger reserve than one that has
        // seen only fair days (same loads, same best day).
        let feed = |p: &mut PowerPolicy, peaks: &[f32]| {
            for (day, &peak) in peaks.iter().enumerate() {
                for m in 0..(24 * 60) {
                    let t = Timestamp(day as u64 * 86_400 + m * 60);
                    let h = t.hour_f();
                    let w = if (6.0..18.0).contains(&h) {
                        peak * ((h - 6.0) / 12.0 * core::f32::consts::PI).sin()
                    } else {
                        0.0
                    };
                    p.forecast.record_panel(t, Some(w));
                }
            }
        };
        let mut fair = PowerPolicy::new(config);
        feed(&mut fair, &[30.0; 12]);
        let mut spell = PowerPolicy::new(config);
        let mut peaks = [1.5; 12];
        peaks[..3].copy_from_slice(&[30.0; 3]);
        peaks[11] = 30.0;
        feed(&mut spell, &peaks);
        assert_eq!(spell.forecast().longest_spell_days(), 8);
        assert!(
            spell.spell_reserve_wh() > 1.5 * fair.spell_reserve_wh(),
            "{} vs {}",
            spell.spell_reserve_wh(),
            fair.spell_reserve_wh()
        );
    }

    #[test]
    fn a_night_awake_only_when_tomorrow_would_fill_the_battery_anyway() {
        // The week's budget affords the night awake in Normal at 95 % (the rule before the
        // spell reserve kept it up); tomorrow's expected sun would not fill the battery
        // again, so the kit sleeps.
        let evening = Timestamp::from_day_and_hour(0, 19.0);
        let config = PolicyConfig {
            assumed_daily_harvest_wh: 75.0,
            ..PolicyConfig::default()
        };
        let mut p = PowerPolicy::new(config);
        assert!(
            p.budget_left_percent(evening, 95.0, PowerMode::Normal, true)
                >= config.budget_reserve_percent
        );
        let d = p.decide(evening, &obs(evening, 95.0));
        assert_eq!(
            d.shutdown.map(|s| s.reason),
            Some(ShutdownReason::Overnight)
        );
        // With sun enough to fill it tomorrow, the night is free.
        let mut p = PowerPolicy::new(PolicyConfig {
            assumed_daily_harvest_wh: 200.0,
            ..config
        });
        let d = p.decide(evening, &obs(evening, 95.0));
        assert_eq!((d.mode, d.shutdown), (PowerMode::Normal, None));
    }

    #[test]
    fn a_kit_down_for_a_low_battery_looks_again_before_work_and_during_the_day() {
        let config = PolicyConfig::default();
        let wake_of = |t: Timestamp| {
            let mut p = policy();
            p.decide(t, &obs(t, 6.0))
                .shutdown
                .and_then(|s| s.wake_at)
                .unwrap()
        };
        let before_work = 8.0 - config.overnight_margin_h;
        // Mid-morning: again in two hours.
        let t = Timestamp::from_day_and_hour(0, 10.0);
        assert_eq!(wake_of(t), t.plus_s(7200));
        // Late afternoon or night: before work the next morning.
        let t = Timestamp::from_day_and_hour(0, 16.0);
        assert_eq!(wake_of(t), Timestamp::from_day_and_hour(1, before_work));
        let t = Timestamp::from_day_and_hour(1, 3.0);
        assert_eq!(wake_of(t), Timestamp::from_day_and_hour(1, before_work));
    }

    #[test]
    fn spare_panel_power_is_surplus_only_when_the_battery_is_nearly_full() {
        let mut p = policy();
        let t = Timestamp::from_day_and_hour(0, 9.0);
        let mut o = obs(t, 70.0);
        o.panel_power_w = Some(Reading::new(20.0, t));
        o.load_power_w = Some(Reading::new(4.0, t));
        // Charging a battery at 70 % is not energy going to waste.
        assert!(!p.decide(t, &o).surplus);
        o.soc_percent = Some(Reading::new(95.0, t));
        assert!(p.decide(t, &o).surplus);
    }
}

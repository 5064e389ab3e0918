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

/// A clean shutdown: save everything, close the vault, halt; wake at `wake_at` (RTC alarm)
/// or when the hardware repowers the kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Why.
    pub reason: ShutdownReason,
    /// When to wake (RTC alarm), if at all.
    pub wake_at: Option<Timestamp>,
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
    /// Solar energy is going spare (charger in absorption/float, or panel above load).
    pub surplus: bool,
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
    /// Shut down when the battery voltage (under load) is below this, in mV.
    pub shutdown_below_mv: u32,
    /// Normal needs the forecast to leave at least this SOC at the next sunrise.
    pub sunrise_reserve_percent: f32,
    /// A better mode must hold this long before the kit moves up.
    pub min_dwell_s: u64,
    /// Critical mode switches the kit off outside working hours.
    pub hibernate_in_critical: bool,
    /// Draw of the halted kit (RTC and charger only), in W.
    pub halted_load_w: f32,
    /// Panel power must exceed the load by this much to count as surplus, in W.
    pub surplus_margin_w: f32,
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
            shutdown_below_mv: 11_600,
            sunrise_reserve_percent: 25.0,
            min_dwell_s: 900,
            hibernate_in_critical: true,
            halted_load_w: 0.05,
            surplus_margin_w: 3.0,
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

    /// The overnight window in which Critical mode hibernates: from half an hour after
    /// work ends to half an hour before it starts.
    fn overnight(&self) -> (f32, f32) {
        let (from, to) = self.config.working_hours;
        ((to + 0.5) % 24.0, (to_positive(from - 0.5)) % 24.0)
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

    /// The mode the state of charge and forecast call for, from the current mode.
    fn next_mode(&mut self, now: Timestamp, soc: f32) -> PowerMode {
        let c = self.config;
        let reserve = c.sunrise_reserve_percent;
        let proj = |m| self.projected_sunrise_soc(now, soc, m);
        // Downward moves are immediate; each looks only at its own threshold.
        let mut mode = self.mode;
        if mode == PowerMode::Shutdown {
            if soc < c.boot_from_percent {
                return PowerMode::Shutdown;
            }
            mode = PowerMode::Critical;
        }
        if mode == PowerMode::Normal
            && (soc < c.saver_below_percent || proj(PowerMode::Normal) < reserve)
        {
            mode = PowerMode::Saver;
        }
        if mode == PowerMode::Saver
            && (soc < c.critical_below_percent || proj(PowerMode::Saver) < reserve / 2.0)
        {
            mode = PowerMode::Critical;
        }
        if soc <= c.shutdown_at_percent {
            return PowerMode::Shutdown;
        }
        if mode < self.mode {
            self.better_since = None;
            return mode;
        }
        // Upward: one step at a time, with margins above the downward thresholds, held
        // for the dwell time.
        let better = match mode {
            PowerMode::Critical
                if soc >= c.saver_from_percent
                    && proj(PowerMode::Saver) >= reserve / 2.0 + 10.0 =>
            {
                Some(PowerMode::Saver)
            }
            PowerMode::Saver
                if soc >= c.normal_from_percent && proj(PowerMode::Normal) >= reserve + 10.0 =>
            {
                Some(PowerMode::Normal)
            }
            _ => None,
        };
        match (better, self.better_since) {
            (Some(b), Some((since_mode, since))) if since_mode == b => {
                if now.since(since) >= c.min_dwell_s {
                    self.better_since = None;
                    b
                } else {
                    mode
                }
            }
            (Some(b), _) => {
                self.better_since = Some((b, now));
                mode
            }
            (None, _) => {
                self.better_since = None;
                mode
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

        self.forecast.record_panel(now, panel_w);
        self.forecast.record_load(self.mode, working, load_w);

        // Two low readings in a row, so one glitch does not halt the kit.
        let low_voltage = voltage_mv.is_some_and(|v| v < self.config.shutdown_below_mv);
        self.low_voltage_count = if low_voltage {
            self.low_voltage_count.saturating_add(1)
        } else {
            0
        };

        let surplus = stage.is_some_and(|s| s.has_surplus())
            || matches!((panel_w, load_w), (Some(p), Some(l)) if p > l + self.config.surplus_margin_w);

        let (mode, power_known, projected) = match soc {
            Some(soc) => {
                let mut mode = self.next_mode(now, soc);
                if self.low_voltage_count >= 2 {
                    mode = PowerMode::Shutdown;
                }
                self.mode = mode;
                (mode, true, Some(self.projected_sunrise_soc(now, soc, mode)))
            }
            None => {
                // Unknown counts as low power: at most Critical, and a low voltage on its
                // own still shuts down.
                let mode = if self.low_voltage_count >= 2 {
                    PowerMode::Shutdown
                } else {
                    PowerMode::Critical
                };
                self.better_since = None;
                if self.mode > mode || mode == PowerMode::Shutdown {
                    self.mode = mode;
                }
                (mode, false, None)
            }
        };

        let mut shutdown = None;
        let mut mode = mode;
        if mode == PowerMode::Shutdown {
            // Wake two hours after the next sunrise: the panel has had time to charge.
            let sunrise = self.forecast.sunrise_hour();
            let wake = now.next_at_hour(sunrise + 2.0);
            shutdown = Some(Shutdown {
                reason: ShutdownReason::BatteryLow,
                wake_at: Some(wake),
            });
        } else if mode == PowerMode::Critical && self.config.hibernate_in_critical {
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
            projected_sunrise_soc_percent: projected,
            ..Decision::for_mode(mode, surplus)
        };
        self.last = Some(decision);
        decision
    }

    fn admit(&self, _now: Timestamp, job: &Job) -> Admission {
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
                        // Without surplus, only if the budget stays comfortable after it.
                        let cost = 100.0 * job.energy_wh / self.config.battery_capacity_wh.max(1.0);
                        let margin = last
                            .projected_sunrise_soc_percent
                            .map(|p| p - cost)
                            .unwrap_or(f32::MIN);
                        if margin >= self.config.sunrise_reserve_percent + 25.0 {
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
        assert_eq!(s.wake_at, Some(Timestamp::from_day_and_hour(1, 7.5)));
        let t = Timestamp::from_day_and_hour(1, 7.5);
        let d = p.decide(t, &obs(t, 15.0));
        assert_eq!(d.mode, PowerMode::Critical);
        assert!(d.shutdown.is_none());
    }
}

//! Forecast of the energy between now and the next sunrise, learned from past days.
//!
//! The forecast keeps, per hour of the day, an envelope of the panel power seen on the
//! best recent days (it rises at once to a brighter hour and decays slowly on dull days),
//! and how bright the last day was compared with that envelope. Harvest still to come
//! today is the envelope's remaining hours times that brightness (blended with today's
//! brightness so far). Consumption is the expected load of a mode, learned per mode for
//! working hours and for the rest of the day, times the hours until sunrise.
//!
//! Nothing here reads the weather: only what the panel and load monitors reported.

use serde::{Deserialize, Serialize};

use crate::{PowerMode, Timestamp};

/// Tuning of the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForecastConfig {
    /// Sunrise assumed before any day has been learned.
    pub default_sunrise_hour: f32,
    /// Fraction an hour's envelope decays each day it is not matched.
    pub envelope_decay: f32,
    /// Brightness assumed before any day has been seen (pessimistic).
    pub default_brightness: f32,
    /// Longest gap between two samples that is still integrated, in seconds.
    pub max_gap_s: u64,
    /// A day whose harvest is below this share of the best recent day is a dull day; a run
    /// of dull days is a spell.
    pub dull_day_share: f32,
    /// A dark day (deep in a spell) is assumed to give no more than this share of the best
    /// recent day, even before such a day has been seen.
    pub dark_day_share: f32,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        Self {
            default_sunrise_hour: 6.0,
            envelope_decay: 0.03,
            default_brightness: 0.3,
            max_gap_s: 900,
            dull_day_share: 0.35,
            dark_day_share: 0.1,
        }
    }
}

/// What the forecast expects until the next sunrise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SunriseOutlook {
    /// Hours from now until the next sunrise.
    pub hours_to_sunrise: f32,
    /// Solar energy expected to reach the battery before then, in Wh.
    pub harvest_wh: f32,
}

/// Expected load in W per mode, for working hours and the rest of the day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct LoadTable {
    /// Indexed by mode rank (Shutdown, Critical, Saver, Normal), then [working, off-hours].
    watts: [[f32; 2]; 4],
}

/// The learned forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyForecast {
    config: ForecastConfig,
    envelope_w: [f32; 24],
    today_wh: [f32; 24],
    today_seen_s: [u32; 24],
    today: Option<u64>,
    last_sample: Option<Timestamp>,
    last_brightness: Option<f32>,
    days_learned: u32,
    daily_harvest_wh: Vec<f32>,
    /// The charger reached absorption or float today: the panel was throttled, so today's
    /// harvest says less than the sky gave.
    today_saturated: bool,
    loads: LoadTable,
    load_samples: [[u32; 2]; 4],
    /// Dull days in a row up to the last learned day.
    dull_run: u32,
    /// The longest run of dull days seen since the kit started.
    longest_dull_run: u32,
}

fn rank(mode: PowerMode) -> usize {
    match mode {
        PowerMode::Shutdown => 0,
        PowerMode::Critical => 1,
        PowerMode::Saver => 2,
        PowerMode::Normal => 3,
    }
}

impl EnergyForecast {
    /// A forecast that knows nothing yet. `initial_load_w[mode rank] = [working, off-hours]`
    /// are the design figures used until loads have been measured.
    pub fn new(config: ForecastConfig, initial_load_w: [[f32; 2]; 4]) -> Self {
        Self {
            config,
            envelope_w: [0.0; 24],
            today_wh: [0.0; 24],
            today_seen_s: [0; 24],
            today: None,
            last_sample: None,
            last_brightness: None,
            days_learned: 0,
            daily_harvest_wh: Vec::new(),
            today_saturated: false,
            loads: LoadTable {
                watts: initial_load_w,
            },
            load_samples: [[0; 2]; 4],
            dull_run: 0,
            longest_dull_run: 0,
        }
    }

    /// Dull days in a row up to the last learned day (a spell going on).
    pub fn dull_run_days(&self) -> u32 {
        self.dull_run
    }

    /// The longest spell of dull days seen since the kit started, in days.
    pub fn longest_spell_days(&self) -> u32 {
        self.longest_dull_run
    }

    /// The harvest a dark day deep in a spell is expected to give, in Wh: the dullest recent
    /// day, and never more than [`ForecastConfig::dark_day_share`] of the best one (so a kit
    /// that has seen only fair weather does not count on fair weather in its spells). `None`
    /// before any day is learned.
    pub fn dark_day_harvest_wh(&self) -> Option<f32> {
        let h = &self.daily_harvest_wh;
        let best = h.iter().copied().reduce(f32::max)?;
        let dullest = h.iter().copied().reduce(f32::min)?;
        Some(dullest.min(self.config.dark_day_share * best).max(0.0))
    }

    /// Days completed and learned from.
    pub fn days_learned(&self) -> u32 {
        self.days_learned
    }

    /// Harvest of past days in Wh, oldest first (at most 14 kept).
    pub fn daily_harvest_wh(&self) -> &[f32] {
        &self.daily_harvest_wh
    }

    /// The learned clear-day envelope of panel power per hour, in W.
    pub fn envelope_w(&self) -> &[f32; 24] {
        &self.envelope_w
    }

    /// Brightness of the last finished day against the envelope (0–1), if known.
    pub fn last_brightness(&self) -> Option<f32> {
        self.last_brightness
    }

    /// Takes one sample of panel power (None when unknown: that interval is not learned).
    pub fn record_panel(&mut self, now: Timestamp, panel_power_w: Option<f32>) {
        let day = now.day();
        if let Some(today) = self.today
            && day != today
        {
            self.finish_day();
        }
        self.today = Some(day);
        let gap = self.last_sample.map(|t| now.since(t)).unwrap_or(0);
        self.last_sample = Some(now);
        if gap == 0 || gap > self.config.max_gap_s {
            return;
        }
        if let Some(w) = panel_power_w.filter(|w| w.is_finite() && *w >= 0.0) {
            let h = now.hour();
            self.today_wh[h] += w * gap as f32 / 3600.0;
            self.today_seen_s[h] = self.today_seen_s[h].saturating_add(gap as u32);
        }
    }

    /// Takes one sample of the kit's load while in `mode` (working hours or not).
    pub fn record_load(&mut self, mode: PowerMode, working_hours: bool, load_w: Option<f32>) {
        let Some(w) = load_w.filter(|w| w.is_finite() && *w >= 0.0) else {
            return;
        };
        let (r, b) = (rank(mode), usize::from(!working_hours));
        let n = self.load_samples[r][b];
        // Running mean for the first samples, counting the design figure as thirty samples
        // (so one odd first reading, such as the load of the moment before a mode change,
        // does not stand for the mode), then an exponential average (about a day).
        let alpha = if n < 60 {
            1.0 / (n as f32 + 31.0)
        } else {
            1.0 / 600.0
        };
        let cur = &mut self.loads.watts[r][b];
        *cur += alpha * (w - *cur);
        self.load_samples[r][b] = n.saturating_add(1);
    }

    /// Expected load in W of `mode` during working hours or outside them.
    pub fn expected_load_w(&self, mode: PowerMode, working_hours: bool) -> f32 {
        self.loads.watts[rank(mode)][usize::from(!working_hours)]
    }

    fn finish_day(&mut self) {
        // Learn from a day whose daylight was mostly watched (a kit asleep overnight misses
        // dawn and dusk, not the day), or, before any daylight is known, from a day watched
        // for a working day's length.
        let env_max = self.envelope_w.iter().copied().fold(0.0f32, f32::max);
        let daylight: Vec<usize> = (0..24)
            .filter(|&h| self.envelope_w[h] > 0.03 * env_max)
            .collect();
        let watched_daylight_s: u32 = daylight
            .iter()
            .map(|&h| self.today_seen_s[h].min(3600))
            .sum();
        let watched: u32 = self.today_seen_s.iter().sum();
        let learn = if env_max > 0.5 {
            watched_daylight_s as f32 >= 0.6 * 3600.0 * daylight.len() as f32
        } else {
            watched >= 8 * 3600
        };
        if learn {
            let seen_wh: f32 = self.today_wh.iter().sum();
            let env_total: f32 = self.envelope_w.iter().sum();
            // Hours not watched count at the pace of the watched ones.
            let (env_seen, env_unseen) = (0..24).fold((0.0f32, 0.0f32), |(s, u), h| {
                let frac = (self.today_seen_s[h].min(3600) as f32 / 3600.0).clamp(0.0, 1.0);
                (
                    s + self.envelope_w[h] * frac,
                    u + self.envelope_w[h] * (1.0 - frac),
                )
            });
            let total = if env_seen > 1.0 {
                seen_wh + env_unseen * (seen_wh / env_seen).clamp(0.0, 1.2)
            } else {
                seen_wh
            };
            if env_total > 1.0 {
                self.last_brightness = Some((total / env_total).clamp(0.0, 1.0));
            }
            for h in 0..24 {
                let seen = self.today_seen_s[h] as f32 / 3600.0;
                if seen < 0.5 {
                    continue;
                }
                let avg_w = self.today_wh[h] / seen.min(1.0);
                let env = &mut self.envelope_w[h];
                if avg_w > *env {
                    *env = avg_w;
                } else {
                    *env += self.config.envelope_decay * (avg_w - *env);
                }
            }
            if env_total <= 1.0 {
                // First day: the envelope is this day, brightness unknown until tomorrow,
                // so judge it as middling rather than as a clear day.
                self.last_brightness = Some(self.config.default_brightness.max(0.5));
            }
            // A day the battery filled was at least as good as the envelope says.
            let harvest = if self.today_saturated {
                total.max(env_total)
            } else {
                total
            };
            self.daily_harvest_wh.push(harvest);
            if self.daily_harvest_wh.len() > 14 {
                self.daily_harvest_wh.remove(0);
            }
            let best = self.daily_harvest_wh.iter().copied().fold(0.0f32, f32::max);
            if harvest < self.config.dull_day_share * best {
                self.dull_run = self.dull_run.saturating_add(1);
                self.longest_dull_run = self.longest_dull_run.max(self.dull_run);
            } else {
                self.dull_run = 0;
            }
            self.days_learned += 1;
        }
        self.today_wh = [0.0; 24];
        self.today_seen_s = [0; 24];
        self.today_saturated = false;
    }

    /// Notes that the battery is full or nearly (charger in absorption or float): the panel is
    /// being throttled, so today's readings understate the sky.
    pub fn mark_saturated(&mut self) {
        self.today_saturated = true;
    }

    /// The harvest to plan on for each coming day, in Wh: as if the weather of the last days
    /// goes on (the duller of the last two), until today has shown enough of itself (a third
    /// of its envelope), from when today's pace counts. `None` before any day is learned.
    pub fn planning_daily_harvest_wh(&self, now: Timestamp) -> Option<f32> {
        let env_total: f32 = self.envelope_w.iter().sum();
        let h = now.hour();
        let env_so_far: f32 = self.envelope_w[..h].iter().sum();
        let today = self.today == Some(now.day());
        // A day that filled the battery gave at least what it was seen to give.
        let watched_s: u32 = self.today_seen_s.iter().sum();
        let floor = if today && self.today_saturated && watched_s >= 3600 {
            Some(self.today_wh.iter().sum::<f32>().max(env_total))
        } else {
            None
        };
        let Some(recent) = self
            .daily_harvest_wh
            .iter()
            .rev()
            .take(2)
            .copied()
            .reduce(f32::min)
        else {
            return floor;
        };
        if today && env_total > 1.0 && env_so_far >= env_total / 3.0 {
            let seen: f32 = self.today_wh[..h].iter().sum();
            let pace = seen / env_so_far * env_total;
            return Some(pace.max(floor.unwrap_or(0.0)));
        }
        Some(recent.max(floor.unwrap_or(0.0)))
    }

    /// Learned sunrise: the first hour whose envelope is above 3 % of the brightest hour.
    pub fn sunrise_hour(&self) -> f32 {
        let max = self.envelope_w.iter().copied().fold(0.0f32, f32::max);
        if max <= 0.5 {
            return self.config.default_sunrise_hour;
        }
        self.envelope_w
            .iter()
            .position(|&w| w > 0.03 * max)
            .map(|h| h as f32)
            .unwrap_or(self.config.default_sunrise_hour)
    }

    /// Brightness expected for the rest of today: yesterday's, blended with today's so far
    /// in proportion to how much of today's envelope has passed.
    pub fn brightness(&self, now: Timestamp) -> f32 {
        let yesterday = self
            .last_brightness
            .unwrap_or(self.config.default_brightness);
        let h = now.hour();
        let env_so_far: f32 = self.envelope_w[..h].iter().sum();
        let env_total: f32 = self.envelope_w.iter().sum();
        if env_total <= 1.0 || env_so_far < 0.05 * env_total {
            return yesterday;
        }
        let seen_so_far: f32 = self.today_wh[..h].iter().sum();
        let today = (seen_so_far / env_so_far).clamp(0.0, 1.0);
        let w = (env_so_far / env_total).clamp(0.0, 1.0);
        w * today + (1.0 - w) * yesterday
    }

    /// Solar energy expected to reach the battery from now until midnight, in Wh: the rest of
    /// today's envelope at the brightness expected for it.
    pub fn harvest_rest_of_today_wh(&self, now: Timestamp) -> f32 {
        let h = now.hour();
        let frac_left = 1.0 - (now.hour_f() - h as f32);
        let env_wh = self.envelope_w[h] * frac_left + self.envelope_w[h + 1..].iter().sum::<f32>();
        env_wh * self.brightness(now)
    }

    /// Hours until the next sunrise and the harvest expected before it.
    pub fn outlook(&self, now: Timestamp) -> SunriseOutlook {
        let sunrise = now.next_at_hour(self.sunrise_hour());
        let hours_to_sunrise = sunrise.since(now) as f32 / 3600.0;
        let brightness = self.brightness(now);
        // Remaining envelope energy today (the rest of this hour, then whole hours).
        let h = now.hour();
        let frac_left = 1.0 - (now.hour_f() - h as f32);
        let mut env_wh = self.envelope_w[h] * frac_left;
        if sunrise.day() == now.day() {
            // Before sunrise: nothing to harvest until then.
            env_wh = 0.0;
        } else {
            env_wh += self.envelope_w[h + 1..].iter().sum::<f32>();
        }
        SunriseOutlook {
            hours_to_sunrise,
            harvest_wh: env_wh * brightness,
        }
    }

    /// Energy `mode` needs from now until the next sunrise, in Wh, given the working hours
    /// and, for modes that hibernate overnight, the hours the kit will be off.
    pub fn consumption_until_sunrise_wh(
        &self,
        now: Timestamp,
        mode: PowerMode,
        working: (f32, f32),
        off_w: Option<(f32, (f32, f32))>,
    ) -> f32 {
        self.consumption_wh(
            now,
            self.outlook(now).hours_to_sunrise,
            mode,
            working,
            off_w,
        )
    }

    /// Energy `mode` needs over the next `hours` from `now`, in Wh, given the working hours
    /// and the hours the kit is off (`off_w`: its draw then and the window), if any.
    pub fn consumption_wh(
        &self,
        now: Timestamp,
        hours: f32,
        mode: PowerMode,
        working: (f32, f32),
        off_w: Option<(f32, (f32, f32))>,
    ) -> f32 {
        let outlook_h = hours.max(0.0);
        let steps = (outlook_h * 4.0).ceil() as u32;
        let mut wh = 0.0;
        for i in 0..steps {
            let t = now.plus_s(u64::from(i) * 900);
            let hour = t.hour_f();
            let dt_h = (outlook_h - i as f32 * 0.25).min(0.25);
            let in_work = hour >= working.0 && hour < working.1;
            let w = match off_w {
                Some((off, (from, to))) if in_window(hour, from, to) => off,
                _ => self.expected_load_w(mode, in_work),
            };
            wh += w * dt_h;
        }
        wh
    }
}

/// True when `hour` is in the window `[from, to)`, which may wrap past midnight.
pub(crate) fn in_window(hour: f32, from: f32, to: f32) -> bool {
    if from <= to {
        hour >= from && hour < to
    } else {
        hour >= from || hour < to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day_curve(hour: f32, peak_w: f32) -> f32 {
        if (6.0..18.0).contains(&hour) {
            peak_w * ((hour - 6.0) / 12.0 * core::f32::consts::PI).sin()
        } else {
            0.0
        }
    }

    fn feed_day(f: &mut EnergyForecast, day: u64, peak_w: f32) {
        for m in 0..(24 * 60) {
            let t = Timestamp(day * 86_400 + m * 60);
            f.record_panel(t, Some(day_curve(t.hour_f(), peak_w)));
        }
    }

    #[test]
    fn learns_sunrise_and_a_dull_day() {
        let mut f = EnergyForecast::new(ForecastConfig::default(), [[3.0; 2]; 4]);
        feed_day(&mut f, 0, 40.0);
        feed_day(&mut f, 1, 40.0);
        feed_day(&mut f, 2, 4.0);
        // Roll into day 3.
        f.record_panel(Timestamp(3 * 86_400), Some(0.0));
        assert_eq!(f.days_learned(), 3);
        assert!((f.sunrise_hour() - 6.0).abs() < 1.01);
        let b = f.last_brightness().unwrap();
        assert!(b < 0.15, "{b}");
        // At 04:00 on day 3: a dull day ahead, nothing until sunrise.
        let out = f.outlook(Timestamp::from_day_and_hour(3, 4.0));
        assert_eq!(out.harvest_wh, 0.0);
        assert!((out.hours_to_sunrise - 2.0).abs() < 1.01);
        // At 07:00 on day 3: the rest of a dull day.
        let out = f.outlook(Timestamp::from_day_and_hour(3, 7.0));
        assert!(out.harvest_wh < 60.0, "{}", out.harvest_wh);
        assert!(out.hours_to_sunrise > 20.0);
    }

    #[test]
    fn a_bright_day_forecasts_more_than_a_dull_one() {
        let mut bright = EnergyForecast::new(ForecastConfig::default(), [[3.0; 2]; 4]);
        let mut dull = bright.clone();
        for d in 0..3 {
            feed_day(&mut bright, d, 40.0);
            feed_day(&mut dull, d, if d == 2 { 5.0 } else { 40.0 });
        }
        let t = Timestamp::from_day_and_hour(3, 7.0);
        bright.record_panel(t, Some(1.0));
        dull.record_panel(t, Some(1.0));
        assert!(bright.outlook(t).harvest_wh > 3.0 * dull.outlook(t).harvest_wh);
    }

    #[test]
    fn counts_spells_and_expects_little_of_a_dark_day() {
        let mut f = EnergyForecast::new(ForecastConfig::default(), [[3.0; 2]; 4]);
        // Nothing learned: no dark-day figure to plan on yet.
        assert_eq!(f.dark_day_harvest_wh(), None);
        let peaks = [40.0, 40.0, 40.0, 3.0, 2.0, 3.0, 4.0, 40.0, 2.0];
        for (d, &peak) in peaks.iter().enumerate() {
            feed_day(&mut f, d as u64, peak);
        }
        f.record_panel(Timestamp(peaks.len() as u64 * 86_400), Some(0.0));
        assert_eq!(f.days_learned(), peaks.len() as u32);
        // Four dull days in a row, then a fair one, then one dull day going on.
        assert_eq!(f.longest_spell_days(), 4);
        assert_eq!(f.dull_run_days(), 1);
        let best = f.daily_harvest_wh().iter().copied().fold(0.0f32, f32::max);
        let dullest = f
            .daily_harvest_wh()
            .iter()
            .copied()
            .fold(f32::MAX, f32::min);
        assert_eq!(f.dark_day_harvest_wh(), Some(dullest));

        // A kit that has seen only fair days still expects a dark day to be dark.
        let mut fair = EnergyForecast::new(ForecastConfig::default(), [[3.0; 2]; 4]);
        for d in 0..3 {
            feed_day(&mut fair, d, 40.0);
        }
        fair.record_panel(Timestamp(3 * 86_400), Some(0.0));
        assert_eq!(fair.longest_spell_days(), 0);
        let dark = fair.dark_day_harvest_wh().unwrap();
        assert!(dark <= 0.1 * best + 0.01 && dark > 0.0, "{dark} of {best}");
    }

    #[test]
    fn learns_loads_per_mode() {
        let mut f = EnergyForecast::new(ForecastConfig::default(), [[3.0; 2]; 4]);
        for _ in 0..2000 {
            f.record_load(PowerMode::Saver, false, Some(2.0));
        }
        assert!((f.expected_load_w(PowerMode::Saver, false) - 2.0).abs() < 0.05);
        assert_eq!(f.expected_load_w(PowerMode::Normal, false), 3.0);
    }
}

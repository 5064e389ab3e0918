//! Seeded families of weather traces, so a power policy is judged on many kinds of bad
//! weather rather than tuned to one trace: a rainy season, harmattan dust, a high-latitude
//! winter, passing clouds, and multi-day spells of varying length and depth.
//!
//! The same family and seed give the same trace on every machine (`rand_xorshift`, whose
//! output is fixed by its paper and does not change between versions). Each generated case
//! also draws the state of charge the kit starts with.

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

use crate::weather::{WeatherDay, WeatherTrace};

/// A kind of weather.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Monsoon weeks: days persist as fair, showery, overcast or downpour, with afternoon
    /// storms cutting the hours after noon.
    RainySeason,
    /// Dust haze for weeks (Sahel, December–March): a steady cut to a third to two thirds of
    /// clear sky, with thick days.
    Harmattan,
    /// Far from the equator in winter: a short, low sun (about 6.5 hours) and snowy or
    /// overcast spells.
    HighLatitudeWinter,
    /// Mostly fair days with clouds passing hour by hour.
    PassingClouds,
    /// Fair weather broken by one or two spells of 2–10 near-dark to dull days.
    Spells,
}

impl Family {
    /// Every family, in the order [`generate_set`] cycles through them.
    pub const ALL: [Family; 5] = [
        Family::RainySeason,
        Family::Harmattan,
        Family::HighLatitudeWinter,
        Family::PassingClouds,
        Family::Spells,
    ];

    /// The family's short key, as `fieldkit power simulate --generated KEY:SEED` takes it.
    pub fn key(self) -> &'static str {
        match self {
            Self::RainySeason => "rainy",
            Self::Harmattan => "harmattan",
            Self::HighLatitudeWinter => "winter",
            Self::PassingClouds => "clouds",
            Self::Spells => "spells",
        }
    }

    /// The family with this short key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == key)
    }

    /// The family's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::RainySeason => "rainy season",
            Self::Harmattan => "harmattan",
            Self::HighLatitudeWinter => "high-latitude winter",
            Self::PassingClouds => "passing clouds",
            Self::Spells => "spells",
        }
    }
}

/// One generated case: a trace and the state of charge the run starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Which family.
    pub family: Family,
    /// Its seed.
    pub seed: u64,
    /// The weather.
    pub weather: WeatherTrace,
    /// State of charge at the start, %.
    pub start_soc_percent: f32,
}

/// Uniform draws in the ranges the families need.
#[derive(Debug)]
struct Draw(XorShiftRng);

impl Draw {
    fn new(seed: u64) -> Self {
        Self(XorShiftRng::seed_from_u64(seed))
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        // 24 random bits: every value exactly representable.
        (self.0.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// Uniform integer in [lo, hi].
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.0.next_u32() % (hi - lo + 1)
    }
}

fn day(label: &str, factor: f32, hourly: Vec<f32>) -> WeatherDay {
    WeatherDay {
        factor: factor.clamp(0.0, 1.2),
        label: label.to_string(),
        hourly: hourly.into_iter().map(|h| h.clamp(0.0, 1.2)).collect(),
    }
}

/// Generates `days` days of `family` weather from `seed`.
pub fn generate(family: Family, seed: u64, days: usize) -> Case {
    // Different families from the same seed must not share their draws.
    let mut r = Draw::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ family as u64);
    let start_soc_percent = r.range(30.0, 90.0);
    let days = days.max(1);
    let (sunrise_hour, sunset_hour, list) = match family {
        Family::RainySeason => (6.0, 18.5, rainy_season(&mut r, days)),
        Family::Harmattan => (6.5, 18.3, harmattan(&mut r, days)),
        Family::HighLatitudeWinter => {
            let rise = r.range(8.3, 9.0);
            let set = rise + r.range(6.0, 7.0);
            (rise, set, winter(&mut r, days))
        }
        Family::PassingClouds => (6.0, 18.5, passing_clouds(&mut r, days)),
        Family::Spells => (6.0, 18.5, spells(&mut r, days)),
    };
    Case {
        family,
        seed,
        weather: WeatherTrace {
            sunrise_hour,
            sunset_hour,
            days: list,
        },
        start_soc_percent,
    }
}

/// `count` cases cycling through the families, seeds `first_seed..`.
pub fn generate_set(count: usize, days: usize, first_seed: u64) -> Vec<Case> {
    (0..count)
        .map(|i| {
            let family = Family::ALL[i % Family::ALL.len()];
            generate(family, first_seed + i as u64, days)
        })
        .collect()
}

fn rainy_season(r: &mut Draw, days: usize) -> Vec<WeatherDay> {
    // A Markov chain over four kinds of day; each tends to persist.
    let mut state = r.int(0, 3);
    (0..days)
        .map(|_| {
            if !r.chance(0.65) {
                state = r.int(0, 3);
            }
            match state {
                0 => {
                    // Fair morning, a storm after noon on some days.
                    let storm = r.chance(0.5);
                    let hourly = (0..13)
                        .map(|h| {
                            if storm && h >= 6 {
                                r.range(0.15, 0.6)
                            } else {
                                1.0
                            }
                        })
                        .collect();
                    day("fair, afternoon storms", r.range(0.6, 0.95), hourly)
                }
                1 => {
                    let hourly = (0..13).map(|_| r.range(0.3, 1.0)).collect();
                    day("showers", r.range(0.3, 0.6), hourly)
                }
                2 => day("overcast", r.range(0.08, 0.3), Vec::new()),
                _ => day("downpour", r.range(0.02, 0.08), Vec::new()),
            }
        })
        .collect()
}

fn harmattan(r: &mut Draw, days: usize) -> Vec<WeatherDay> {
    // Haze drifting slowly (an AR(1) walk), with thick dust days.
    let mut haze = r.range(0.35, 0.65);
    (0..days)
        .map(|_| {
            haze = (0.8 * haze + 0.2 * r.range(0.3, 0.7)).clamp(0.25, 0.75);
            if r.chance(0.12) {
                day("thick dust", r.range(0.12, 0.3), Vec::new())
            } else {
                day("dust haze", haze, Vec::new())
            }
        })
        .collect()
}

fn winter(r: &mut Draw, days: usize) -> Vec<WeatherDay> {
    // A low sun: even a clear day gives about half of an equatorial one.
    let mut out = Vec::with_capacity(days);
    while out.len() < days {
        if r.chance(0.35) {
            let len = r.int(2, 6) as usize;
            for _ in 0..len {
                out.push(day("snow, overcast", r.range(0.02, 0.12), Vec::new()));
            }
        } else {
            out.push(day("low sun", r.range(0.3, 0.6), Vec::new()));
        }
    }
    out.truncate(days);
    out
}

fn passing_clouds(r: &mut Draw, days: usize) -> Vec<WeatherDay> {
    (0..days)
        .map(|_| {
            let cover = r.range(0.0, 0.7);
            let hourly = (0..13)
                .map(|_| {
                    if r.chance(cover) {
                        r.range(0.2, 0.7)
                    } else {
                        1.0
                    }
                })
                .collect();
            day("passing clouds", r.range(0.75, 1.0), hourly)
        })
        .collect()
}

fn spells(r: &mut Draw, days: usize) -> Vec<WeatherDay> {
    let mut out: Vec<WeatherDay> = (0..days)
        .map(|_| day("fair", r.range(0.7, 1.0), Vec::new()))
        .collect();
    let count = r.int(1, 2);
    for _ in 0..count {
        let len = r.int(2, 10) as usize;
        let depth = r.range(0.02, 0.3);
        let start = r.int(0, days.saturating_sub(len).max(1) as u32) as usize;
        for d in out.iter_mut().skip(start).take(len) {
            *d = day("spell", depth * r.range(0.6, 1.4), Vec::new());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_trace_and_families_differ() {
        for family in Family::ALL {
            let a = generate(family, 7, 21);
            assert_eq!(a, generate(family, 7, 21));
            assert_ne!(a.weather, generate(family, 8, 21).weather);
            assert_eq!(a.weather.days.len(), 21);
            // Every generated trace is one the TOML loader would accept.
            let ok = |f: f32| (0.0..=1.2).contains(&f);
            assert!(
                a.weather
                    .days
                    .iter()
                    .all(|d| ok(d.factor) && d.hourly.iter().all(|&h| ok(h)))
            );
            assert!(a.weather.sunrise_hour < a.weather.sunset_hour);
        }
        let set = generate_set(10, 21, 1);
        assert_eq!(set[0].family, Family::RainySeason);
        assert_eq!(set[5].family, Family::RainySeason);
        assert_ne!(set[0].weather, set[5].weather);
    }

    #[test]
    fn spells_are_darker_than_the_fair_weather_around_them() {
        let mean = |c: &Case| {
            c.weather.days.iter().map(|d| d.factor).sum::<f32>() / c.weather.days.len() as f32
        };
        let spells = generate(Family::Spells, 3, 21);
        let clouds = generate(Family::PassingClouds, 3, 21);
        assert!(spells.weather.days.iter().any(|d| d.factor < 0.45));
        assert!(mean(&clouds) > 0.7);
        let winter = generate(Family::HighLatitudeWinter, 3, 21);
        assert!(winter.weather.sunset_hour - winter.weather.sunrise_hour < 7.5);
    }
}

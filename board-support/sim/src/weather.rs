//! A weather trace: how much of a clear day's sun reaches the panel, day by day.
//!
//! Read from TOML:
//!
//! ```toml
//! sunrise_hour = 6.0
//! sunset_hour = 18.5
//!
//! [[day]]
//! factor = 0.95        # fraction of clear-sky power reaching the panel
//! label = "clear"
//!
//! [[day]]
//! factor = 0.1
//! label = "overcast"
//! hourly = [1.0, 0.8]  # optional per-hour multipliers from sunrise on
//! ```
//!
//! Only the simulated panel reads this; the policy never sees it.

use serde::Deserialize;

/// Errors loading a weather file.
#[derive(Debug, thiserror::Error)]
pub enum WeatherError {
    /// The file is not valid TOML for a trace.
    #[error("weather file is not a valid trace: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value is out of range.
    #[error("weather file: {0}")]
    Invalid(String),
}

/// One day of the trace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherDay {
    /// Fraction (0–1.2) of clear-sky panel power.
    pub factor: f32,
    /// What the day was like, for reports.
    #[serde(default)]
    pub label: String,
    /// Optional multipliers per hour from sunrise (missing hours are 1).
    #[serde(default)]
    pub hourly: Vec<f32>,
}

/// The whole trace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherTrace {
    /// Local hour the sun rises.
    #[serde(default = "default_sunrise")]
    pub sunrise_hour: f32,
    /// Local hour it sets.
    #[serde(default = "default_sunset")]
    pub sunset_hour: f32,
    /// The days, in order; the trace repeats its last day if run longer.
    #[serde(rename = "day")]
    pub days: Vec<WeatherDay>,
}

fn default_sunrise() -> f32 {
    6.0
}

fn default_sunset() -> f32 {
    18.5
}

impl WeatherTrace {
    /// Parses and checks a trace.
    pub fn from_toml(text: &str) -> Result<Self, WeatherError> {
        let trace: Self = toml::from_str(text)?;
        if trace.days.is_empty() {
            return Err(WeatherError::Invalid("no [[day]] entries".into()));
        }
        if !(0.0..24.0).contains(&trace.sunrise_hour)
            || !(0.0..=24.0).contains(&trace.sunset_hour)
            || trace.sunset_hour <= trace.sunrise_hour
        {
            return Err(WeatherError::Invalid(
                "sunrise_hour must come before sunset_hour, both within the day".into(),
            ));
        }
        for (i, d) in trace.days.iter().enumerate() {
            let ok = |f: f32| f.is_finite() && (0.0..=1.2).contains(&f);
            if !ok(d.factor) || !d.hourly.iter().all(|&h| ok(h)) {
                return Err(WeatherError::Invalid(format!(
                    "day {}: factors must be between 0 and 1.2",
                    i + 1
                )));
            }
        }
        Ok(trace)
    }

    /// A trace of `days` identical clear days.
    pub fn clear(days: usize) -> Self {
        Self {
            sunrise_hour: default_sunrise(),
            sunset_hour: default_sunset(),
            days: vec![
                WeatherDay {
                    factor: 1.0,
                    label: "clear".into(),
                    hourly: Vec::new(),
                };
                days.max(1)
            ],
        }
    }

    /// The day `index`, repeating the last one past the end.
    pub fn day(&self, index: u64) -> Option<&WeatherDay> {
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        self.days.get(i).or_else(|| self.days.last())
    }

    /// Fraction of the panel's rated power available at `day`, `hour`: the clear-sky day
    /// curve (a half sine between sunrise and sunset) times the day's weather.
    pub fn panel_fraction(&self, day: u64, hour: f32) -> f32 {
        let (rise, set) = (self.sunrise_hour, self.sunset_hour);
        if hour <= rise || hour >= set {
            return 0.0;
        }
        let curve = ((hour - rise) / (set - rise) * core::f32::consts::PI).sin();
        let Some(d) = self.day(day) else {
            return 0.0;
        };
        let h = (hour - rise) as usize;
        let hourly = d.hourly.get(h).copied().unwrap_or(1.0);
        (curve * d.factor * hourly).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shapes_the_day() {
        let t = WeatherTrace::from_toml(
            "sunrise_hour = 6.0\nsunset_hour = 18.0\n[[day]]\nfactor = 1.0\n[[day]]\nfactor = 0.1\n",
        )
        .unwrap();
        assert_eq!(t.panel_fraction(0, 5.0), 0.0);
        assert!((t.panel_fraction(0, 12.0) - 1.0).abs() < 1e-3);
        assert!((t.panel_fraction(1, 12.0) - 0.1).abs() < 1e-3);
        assert!((t.panel_fraction(7, 12.0) - 0.1).abs() < 1e-3);
    }

    #[test]
    fn refuses_nonsense() {
        assert!(WeatherTrace::from_toml("[[day]]\nfactor = 3.0\n").is_err());
        assert!(WeatherTrace::from_toml("sunrise_hour = 20.0\n[[day]]\nfactor = 1.0\n").is_err());
        assert!(WeatherTrace::from_toml("").is_err());
    }
}

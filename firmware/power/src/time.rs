//! Time as the policy sees it: seconds passed in by the caller.

use serde::{Deserialize, Serialize};

/// Seconds in a day.
pub const SECONDS_PER_DAY: u64 = 86_400;

/// A moment in local time: seconds since a local midnight chosen by the caller (the board
/// uses the Unix epoch shifted by the camp's UTC offset; the simulator starts at 0). Only
/// differences and the time of day are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Seconds since the epoch.
    pub fn as_secs(self) -> u64 {
        self.0
    }

    /// Day number since the epoch.
    pub fn day(self) -> u64 {
        self.0 / SECONDS_PER_DAY
    }

    /// Seconds since local midnight.
    pub fn time_of_day_s(self) -> u64 {
        self.0 % SECONDS_PER_DAY
    }

    /// Hour of the day, 0–23.
    pub fn hour(self) -> usize {
        // At most 23, so the cast cannot truncate.
        (self.time_of_day_s() / 3600) as usize
    }

    /// Hours since local midnight as a fraction.
    pub fn hour_f(self) -> f32 {
        self.time_of_day_s() as f32 / 3600.0
    }

    /// `day` days and `hour` hours after the epoch.
    pub fn from_day_and_hour(day: u64, hour: f32) -> Self {
        let secs = (hour.max(0.0) * 3600.0) as u64;
        Self(day * SECONDS_PER_DAY + secs)
    }

    /// This moment plus `s` seconds.
    pub fn plus_s(self, s: u64) -> Self {
        Self(self.0.saturating_add(s))
    }

    /// Seconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The next moment at or after `self` whose time of day is `hour`.
    pub fn next_at_hour(self, hour: f32) -> Self {
        let today = Self::from_day_and_hour(self.day(), hour);
        if today > self {
            today
        } else {
            Self::from_day_and_hour(self.day() + 1, hour)
        }
    }
}

//! What the board measured, each value with the moment it was taken.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A measured value and when it was taken. A reading older than the policy's limit is
/// treated as unknown: an old value is never shown as current.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading<T> {
    /// The value.
    pub value: T,
    /// When it was taken.
    pub taken_at: Timestamp,
}

impl<T: Copy> Reading<T> {
    /// A reading taken at `taken_at`.
    pub fn new(value: T, taken_at: Timestamp) -> Self {
        Self { value, taken_at }
    }

    /// The value if it is at most `max_age_s` old at `now` (and not from the future).
    pub fn fresh(&self, now: Timestamp, max_age_s: u64) -> Option<T> {
        if self.taken_at > now || now.since(self.taken_at) > max_age_s {
            None
        } else {
            Some(self.value)
        }
    }

    /// Age in seconds at `now`.
    pub fn age_s(&self, now: Timestamp) -> u64 {
        now.since(self.taken_at)
    }
}

/// The charge controller's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStage {
    /// Not charging (night, or no panel).
    Off,
    /// Bulk: all the panel gives goes in.
    Bulk,
    /// Absorption: battery nearly full, current tapering; the panel could give more.
    Absorption,
    /// Float: battery full; the panel is throttled to the load.
    Float,
    /// Equalize.
    Equalize,
    /// The charger reports a fault.
    Fault,
}

impl ChargeStage {
    /// The stage's name as status lines and the screen show it (`bulk`, `float`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Bulk => "bulk",
            Self::Absorption => "absorption",
            Self::Float => "float",
            Self::Equalize => "equalize",
            Self::Fault => "fault",
        }
    }

    /// True when the battery is (nearly) full and solar energy is going spare.
    pub fn has_surplus(self) -> bool {
        matches!(self, Self::Absorption | Self::Float)
    }
}

/// Everything the policy may know, all of it optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Battery state of charge, 0–100 % (fuel gauge or battery monitor).
    pub soc_percent: Option<Reading<f32>>,
    /// Battery (pack) voltage in mV.
    pub battery_voltage_mv: Option<Reading<u32>>,
    /// Charger stage.
    pub charge_stage: Option<Reading<ChargeStage>>,
    /// Power coming from the panel in W.
    pub panel_power_w: Option<Reading<f32>>,
    /// Power the kit draws in W.
    pub load_power_w: Option<Reading<f32>>,
}

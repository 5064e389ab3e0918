//! The kit's power policy: which mode the kit is in (Normal, Saver, Critical, Shutdown),
//! what that mode allows (backlight, screen timeout, CPU governor, sync links, background
//! jobs), a forecast of the energy until the next sunrise learned from past days, and a
//! clean shutdown before the battery browns out.
//!
//! **Architecture invariant:** this crate does no IO and holds no clock. Readings come in
//! as an [`Observation`] whose values carry the time they were taken, and every call takes
//! `now`; the same code runs on the board, in the simulator and in tests. A reading that is
//! missing, stale or out of range is *unknown*, and unknown is treated as low power.
//!
//! ```
//! use fieldkit_power::{Observation, Policy, PolicyConfig, PowerMode, PowerPolicy, Reading, Timestamp};
//! let mut policy = PowerPolicy::new(PolicyConfig::default());
//! let now = Timestamp::from_day_and_hour(0, 10.0);
//! let obs = Observation {
//!     soc_percent: Some(Reading::new(85.0, now)),
//!     ..Observation::default()
//! };
//! let decision = policy.decide(now, &obs);
//! assert_eq!(decision.mode, PowerMode::Normal);
//! // Nothing known: treated as low power.
//! let blind = policy.decide(now.plus_s(60), &Observation::default());
//! assert!(blind.mode <= PowerMode::Critical);
//! ```

mod forecast;
mod jobs;
mod policy;
mod reading;
mod time;
mod warn;

pub use forecast::{EnergyForecast, ForecastConfig, SunriseOutlook};
pub use jobs::{
    Admission, DAILY_JOBS, DailyJob, Job, JobClass, JobKind, JobQueue, JobStep, WaitReason,
};
pub use policy::{
    AlwaysOn, CpuGovernor, Decision, ModeReason, Policy, PolicyConfig, PowerMode, PowerPolicy,
    Shutdown, ShutdownReason, SyncLinks,
};
pub use reading::{ChargeStage, Observation, Reading};
pub use time::{SECONDS_PER_DAY, Timestamp};
pub use warn::WarnLimiter;

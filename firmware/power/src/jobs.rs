//! Work the kit wants to do, and whether the power policy lets it run now.

use serde::{Deserialize, Serialize};

/// What a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A caseworker's save: never deferred while the kit runs.
    Save,
    /// An urgent alert over LoRa (child at risk, match notice).
    UrgentAlert,
    /// Bulk sync over cellular: full records and photos.
    BulkSync,
    /// Rebuilding search indexes.
    Reindex,
    /// A family-tracing matching run.
    MatchRun,
}

/// How much a job may be held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobClass {
    /// Must run whenever the kit is up.
    Essential,
    /// Runs in every mode but Shutdown.
    Urgent,
    /// Waits for surplus energy or a comfortable budget.
    Bulk,
}

impl JobKind {
    /// The job's class.
    pub fn class(self) -> JobClass {
        match self {
            Self::Save => JobClass::Essential,
            Self::UrgentAlert => JobClass::Urgent,
            Self::BulkSync | Self::Reindex | Self::MatchRun => JobClass::Bulk,
        }
    }
}

/// A job and the energy it declares it will cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// What it is.
    pub kind: JobKind,
    /// Declared energy cost in Wh (CPU, radio and screen time it adds).
    pub energy_wh: f32,
}

/// Why a job has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// The kit is shutting down.
    ShuttingDown,
    /// The mode does not allow this class of work.
    ModeTooLow,
    /// No solar surplus and the battery budget cannot afford it.
    NoSurplus,
    /// Power state unknown: treated as low.
    PowerUnknown,
}

/// The policy's answer to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// Run it now.
    Run,
    /// Ask again later.
    Wait(WaitReason),
}

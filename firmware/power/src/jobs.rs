//! Work the kit wants to do, whether the power policy lets it run now, and the queue that
//! runs the daily background work one job at a time.

use serde::{Deserialize, Serialize};

use crate::{Decision, Policy, Timestamp};

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

    /// Whether the job needs the cellular link (it can only run while that link may).
    pub fn needs_cellular(self) -> bool {
        self == Self::BulkSync
    }

    /// Whether the job writes to the vault while it runs (a brown-out then loses work).
    pub fn writes(self) -> bool {
        matches!(self, Self::BulkSync | Self::Reindex)
    }

    /// The name used in status lines and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Save => "save",
            Self::UrgentAlert => "urgent alert",
            Self::BulkSync => "bulk sync",
            Self::Reindex => "reindex",
            Self::MatchRun => "match run",
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

/// A job queued once a day, with the work it takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyJob {
    /// The job and its declared energy.
    pub job: Job,
    /// Minutes of work at the `ondemand` governor's speed.
    pub work_min: f32,
}

/// The kit's daily background work (DESIGN §6's figures): a bulk sync (30 min of modem time,
/// 3.5 Wh), a reindex (40 min, 2.5 Wh) and a matching run (80 min, 4.5 Wh). The kiosk and
/// the simulation run the same list.
pub const DAILY_JOBS: [DailyJob; 3] = [
    DailyJob {
        job: Job {
            kind: JobKind::BulkSync,
            energy_wh: 3.5,
        },
        work_min: 30.0,
    },
    DailyJob {
        job: Job {
            kind: JobKind::Reindex,
            energy_wh: 2.5,
        },
        work_min: 40.0,
    },
    DailyJob {
        job: Job {
            kind: JobKind::MatchRun,
            energy_wh: 4.5,
        },
        work_min: 80.0,
    },
];

/// What the queue did in one step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JobStep {
    /// The job that ran during the step, if one did.
    pub running: Option<JobKind>,
    /// The job that finished in the step, if one did.
    pub finished: Option<JobKind>,
}

/// The background work queue: the daily jobs are queued once a day from `queue_hour` (a job
/// still waiting from the day before is not queued twice), and run one at a time, first
/// queued first, whenever the policy admits the head of the queue and its link may run.
///
/// No clock: the caller passes `now` and how much work a running job gets done in the step.
#[derive(Debug, Clone)]
pub struct JobQueue {
    daily: Vec<DailyJob>,
    queue_hour: usize,
    pending: Vec<DailyJob>,
    queued_on: Option<u64>,
}

impl JobQueue {
    /// A queue of `daily` jobs, queued each day from `queue_hour` (0–23).
    pub fn new(daily: &[DailyJob], queue_hour: usize) -> Self {
        Self {
            daily: daily.to_vec(),
            queue_hour,
            pending: Vec::new(),
            queued_on: None,
        }
    }

    /// The kit's queue: [`DAILY_JOBS`] from 06:00.
    pub fn daily() -> Self {
        Self::new(&DAILY_JOBS, 6)
    }

    /// Jobs waiting, the head first.
    pub fn pending(&self) -> impl Iterator<Item = JobKind> + '_ {
        self.pending.iter().map(|p| p.job.kind)
    }

    /// Number of jobs waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Queues the day's jobs if `now` is the first call of a day at or after the queue hour.
    pub fn queue_due(&mut self, now: Timestamp) {
        if now.hour() >= self.queue_hour && self.queued_on != Some(now.day()) {
            self.queued_on = Some(now.day());
            for d in &self.daily {
                if !self.pending.iter().any(|p| p.job.kind == d.job.kind) {
                    self.pending.push(*d);
                }
            }
        }
    }

    /// One step: queues the day's jobs when due, then lets the head of the queue run if
    /// `policy` admits it and `decision` allows its link, doing `work_min` minutes of its
    /// work (elapsed time times the CPU's speed).
    pub fn step(
        &mut self,
        now: Timestamp,
        decision: &Decision,
        policy: &dyn Policy,
        work_min: f32,
    ) -> JobStep {
        self.queue_due(now);
        let mut step = JobStep::default();
        let Some(head) = self.pending.first_mut() else {
            return step;
        };
        let kind = head.job.kind;
        if kind.needs_cellular() && !decision.links.cellular {
            return step;
        }
        if policy.admit(now, &head.job) != Admission::Run {
            return step;
        }
        step.running = Some(kind);
        head.work_min -= work_min.max(0.0);
        if head.work_min <= 0.0 {
            self.pending.remove(0);
            step.finished = Some(kind);
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlwaysOn, Observation, PowerMode};

    #[test]
    fn jobs_queue_once_a_day_and_run_one_at_a_time() {
        let mut q = JobQueue::daily();
        let mut on = AlwaysOn;
        let t = Timestamp::from_day_and_hour(0, 5.0);
        let d = on.decide(t, &Observation::default());
        assert_eq!(q.step(t, &d, &on, 1.0), JobStep::default());
        assert!(q.is_empty(), "nothing before the queue hour");
        let t = Timestamp::from_day_and_hour(0, 6.0);
        let s = q.step(t, &d, &on, 29.0);
        assert_eq!(s.running, Some(JobKind::BulkSync));
        assert_eq!(q.len(), 3);
        let s = q.step(t.plus_s(60), &d, &on, 1.0);
        assert_eq!(s.finished, Some(JobKind::BulkSync));
        assert_eq!(
            q.pending().collect::<Vec<_>>(),
            [JobKind::Reindex, JobKind::MatchRun]
        );
        // Later the same day: not queued again; the next day: the missing one only.
        q.queue_due(Timestamp::from_day_and_hour(0, 20.0));
        assert_eq!(q.len(), 2);
        q.queue_due(Timestamp::from_day_and_hour(1, 6.5));
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn a_sync_waits_for_the_cellular_link_and_the_policy() {
        let mut q = JobQueue::daily();
        let mut on = AlwaysOn;
        let t = Timestamp::from_day_and_hour(0, 9.0);
        let mut d = on.decide(t, &Observation::default());
        d.links.cellular = false;
        assert_eq!(q.step(t, &d, &on, 10.0).running, None);
        let saver = Decision::for_mode(PowerMode::Saver, false);
        let mut p = crate::PowerPolicy::new(crate::PolicyConfig::default());
        let _ = p.decide(t, &Observation::default());
        assert_eq!(
            q.step(t, &saver, &p, 10.0).running,
            None,
            "power unknown: bulk waits"
        );
    }
}

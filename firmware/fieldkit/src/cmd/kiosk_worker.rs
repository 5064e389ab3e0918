//! The kiosk's "sync" worker: the background jobs' work (sync rounds, the daily reindex and
//! match run) on a thread of its own, one piece at a time, so the power daemon's loop keeps
//! sampling the battery, deciding and pinging the watchdog while the modem boots (seconds to
//! a minute and a half) and frames travel (a LoRa frame is up to 1.3 s on air at SF10).
//!
//! The daemon hands it one [`Work`] when it is idle and picks up what it [`Finished`] at a
//! later turn. While a round runs, the daemon tells the jobs' [`RoundControl`] what each
//! decision allows: a round over a link the power mode took away stops at its next step (the
//! modem switched off, what was acknowledged already committed, the rest left queued). At a
//! shutdown the round is halted and awaited a bounded time; at the end of a bounded run
//! (`--hours`) it is awaited to its end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fieldkit_kitsync::jobs::{Jobs, Outcome, RoundControl, SyncStatus};
use fieldkit_power::{Decision, JobKind};
use fieldkit_ui::controller::{KitSlot, SharedKit, lock_slot};

/// The background work, shared with whoever started the daemon.
pub(super) type SharedJobs = Arc<Mutex<Jobs>>;

pub(super) fn jobs_of(shared: &SharedJobs) -> std::sync::MutexGuard<'_, Jobs> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a shutdown waits for a halted round to reach its next step: longer than one
/// HTTP exchange may take (30 s) and the modem's power-down. Past it the kiosk stops anyway:
/// nothing acknowledged is lost (the engine commits before it acknowledges), and what was
/// not acknowledged goes again at the next start.
pub(super) const SHUTDOWN_WAIT: Duration = Duration::from_secs(40);

/// One piece of background work.
pub(super) enum Work {
    /// A daily job whose turn came and which the policy admitted.
    Job(JobKind, Decision),
    /// Between the daily jobs: a sync round if the scheduler says one is due.
    Check(Decision),
}

/// What a piece of work did.
pub(super) struct Finished {
    /// The daily job that ran and what it did, in words for the log (never case data).
    pub job: Option<(JobKind, String)>,
    /// The sync rows after it.
    pub status: SyncStatus,
}

/// The worker thread and its two channels.
pub(super) struct Worker {
    to: Option<mpsc::Sender<Work>>,
    from: mpsc::Receiver<Finished>,
    busy: bool,
    control: Arc<RoundControl>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread over the shared jobs and kit; `locks` counts the screen's locks (a
    /// change means the kit's keys, and the session the sync engine was loaded from, are
    /// gone).
    pub(super) fn start(
        jobs: SharedJobs,
        kit: SharedKit,
        locks: Arc<AtomicU64>,
    ) -> std::io::Result<Worker> {
        let control = jobs_of(&jobs).control();
        control.resume();
        let (to, work) = mpsc::channel::<Work>();
        let (done, from) = mpsc::channel::<Finished>();
        let thread = std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || serve(&jobs, &kit, &locks, &work, &done))?;
        Ok(Worker {
            to: Some(to),
            from,
            busy: false,
            control,
            thread: Some(thread),
        })
    }

    /// What a round under way may still do.
    pub(super) fn control(&self) -> &RoundControl {
        &self.control
    }

    /// Whether a piece of work runs now.
    pub(super) fn busy(&self) -> bool {
        self.busy
    }

    /// Hands over a piece of work (call only when not [`Worker::busy`]).
    pub(super) fn send(&mut self, work: Work) {
        if let Some(to) = &self.to
            && to.send(work).is_ok()
        {
            self.busy = true;
        }
    }

    /// What the last piece of work did, once it finished.
    pub(super) fn poll(&mut self) -> Option<Finished> {
        let done = self.from.try_recv().ok()?;
        self.busy = false;
        Some(done)
    }

    /// Ends the worker: with `halt` the round under way stops at its next step (a shutdown,
    /// the screen closed), else it runs to its end; waits at most `wait`. Returns what the
    /// last piece of work did, if it finished in time.
    pub(super) fn finish(&mut self, halt: bool, wait: Duration) -> Option<Finished> {
        if halt {
            self.control.halt();
        }
        self.to = None;
        // A wait too long for the clock is no deadline.
        let deadline = Instant::now().checked_add(wait);
        let mut last = None;
        loop {
            let next = match deadline {
                Some(d) => self
                    .from
                    .recv_timeout(d.saturating_duration_since(Instant::now())),
                None => self.from.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(done) => last = Some(done),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    tracing::warn!(
                        "the sync round did not stop within {} s: leaving it (nothing \
                         acknowledged is lost)",
                        wait.as_secs()
                    );
                    self.thread = None;
                    return last;
                }
            }
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::warn!("the sync worker panicked");
        }
        self.busy = false;
        last
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.finish(true, SHUTDOWN_WAIT);
        }
    }
}

/// The worker's loop: one piece of work at a time, with the jobs held throughout it (the
/// daemon never waits for them: it reads the rows each piece of work sends back).
fn serve(
    shared: &SharedJobs,
    kit: &SharedKit,
    locks: &AtomicU64,
    work: &mpsc::Receiver<Work>,
    done: &mpsc::Sender<Finished>,
) {
    let mut seen = locks.load(Ordering::Relaxed);
    while let Ok(piece) = work.recv() {
        let mut jobs = jobs_of(shared);
        let now_locks = locks.load(Ordering::Relaxed);
        if now_locks != seen {
            // Locked since the last piece: the keys are gone, and so is the session the
            // sync engine was loaded from.
            jobs.locked();
            seen = now_locks;
        }
        // The kit as it was unlocked when this piece began: locked (and maybe unlocked
        // again) since, it is not touched (the engine goes with the old session).
        let mut with_kit = |f: &mut dyn FnMut(&mut fieldkit_app::Kit)| {
            if locks.load(Ordering::Relaxed) != seen {
                return;
            }
            if let KitSlot::Open(kit) = &mut *lock_slot(kit) {
                f(kit);
            }
        };
        let job = match piece {
            Work::Job(kind, d) => {
                let what = match jobs.run_shared(kind, &d, super::super::now_ms(), &mut with_kit) {
                    Ok(outcome) => {
                        tracing::info!(job = kind.name(), ?outcome, "background job done");
                        match outcome {
                            Outcome::Done(what) => what,
                            Outcome::Skipped(why) => format!("skipped: {why}"),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(job = kind.name(), "background job failed: {e}");
                        format!("failed: {e}")
                    }
                };
                Some((kind, what))
            }
            Work::Check(d) => {
                let open = matches!(&*lock_slot(kit), KitSlot::Open(_));
                if open {
                    match jobs.check_shared(&d, super::super::now_ms(), &mut with_kit) {
                        Some(Ok(outcome)) => tracing::info!(?outcome, "sync round"),
                        Some(Err(e)) => tracing::warn!("sync round failed: {e}"),
                        None => {}
                    }
                } else {
                    jobs.observe(&d);
                }
                None
            }
        };
        let status = jobs.status();
        drop(jobs);
        if done.send(Finished { job, status }).is_err() {
            return;
        }
    }
}

//! The kiosk's background jobs doing their real work (`fieldkit kiosk` calls [`Jobs::run`]
//! when the power crate's `JobQueue` says a job ran, with the kit a caseworker unlocked): `BulkSync` (the scheduler picks the link
//! and how much, then one sync round over it), `Reindex` (a fresh matcher index, compacted)
//! and `MatchRun` (every open case against every trace).
//!
//! **They run only with the kit a caseworker unlocked.** The kiosk's locked state holds no key:
//! the vault's keys are zeroized on lock, case data and the sync outbox stay sealed at rest,
//! and nothing (not even sync) can read them until the next sign-in. We considered a sync-only
//! key kept while locked, so queued alerts could leave a locked kiosk: it would keep in memory a
//! key that opens the outbox (which holds case data) and the X25519 secret — exactly what a
//! locked kit must not hold. An urgent alert is queued in the transaction that saves the case,
//! and the next `BulkSync` with the kit unlocked sends it first; the kiosk's idle lock waits
//! minutes, not hours, in working hours.

use std::time::Duration;

use fieldkit_app::Kit;
use fieldkit_power::{Decision, JobKind};
use fieldkit_sync::message::Priority;
use fieldkit_sync::schedule::{self, LinkState, Plan, SchedulePolicy, Situation};

use crate::engine::{KitSync, SyncError};
use crate::link::{HttpLink, Link};

/// Access to a kit shared with the touch screen: runs the closure it is given with the
/// unlocked kit (under the screen's lock), or does not run it while the kit is locked.
pub type WithKit<'a> = dyn FnMut(&mut dyn FnMut(&mut Kit)) + 'a;

/// What one job did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done(String),
    /// Nothing to do or not possible now (said why); the job counts as run.
    Skipped(String),
}

/// The background work of one kiosk.
#[derive(Debug, Default)]
pub struct Jobs {
    engine: Option<KitSync>,
    provisioned: Option<bool>,
    last_ip_ms: Option<u64>,
    last_listen_ms: Option<u64>,
    ip_allowed: bool,
    last_error: Option<String>,
}

/// What the status page can show about sync, read without the kit (no case data: counts,
/// times and error texts of links only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncStatus {
    /// Provisioned for sync: `None` until a sign-in let the jobs look (a locked kit's vault
    /// is sealed), then whether it is.
    pub provisioned: Option<bool>,
    /// Messages and bytes waiting to be sent, when known (signed in, provisioned).
    pub queued: Option<(usize, usize)>,
    /// Fragments sent and not yet acknowledged, when known.
    pub unacked_fragments: Option<usize>,
    /// Each link.
    pub links: Vec<LinkStatus>,
}

/// One link on the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// `ip` (the camp's network or the cellular modem's data path) or `lora`.
    pub name: &'static str,
    /// The kit has it (a hub address; a LoRa module configured).
    pub fitted: bool,
    /// The power mode allows it now (as of the last sync job).
    pub allowed: bool,
    /// When a sync round over it last completed (the jobs' clock, ms).
    pub last_ok_ms: Option<u64>,
    /// Why the last round over it failed, if it did (never case data).
    pub last_error: Option<String>,
}

impl Jobs {
    /// Jobs for a kiosk that just started.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the sync engine (call when the kit locks: its keys go with the session).
    pub fn locked(&mut self) {
        self.engine = None;
        self.provisioned = None;
    }

    /// The sync rows of the status page. The kiosk's LoRa module is not wired yet (issue 11),
    /// so the LoRa row says it is not fitted.
    pub fn status(&self) -> SyncStatus {
        SyncStatus {
            provisioned: self.provisioned,
            queued: self.engine.as_ref().map(KitSync::pending),
            unacked_fragments: self.engine.as_ref().map(KitSync::unacked_fragments),
            links: vec![
                LinkStatus {
                    name: "ip",
                    fitted: self
                        .engine
                        .as_ref()
                        .is_some_and(|e| !e.hub_address().is_empty()),
                    allowed: self.ip_allowed,
                    last_ok_ms: self.last_ip_ms,
                    last_error: self.last_error.clone(),
                },
                LinkStatus {
                    name: "lora",
                    fitted: false,
                    allowed: false,
                    last_ok_ms: None,
                    last_error: None,
                },
            ],
        }
    }

    /// Keeps a sync job's failure for the status page (a link error's text; no case data).
    fn noted(&mut self, r: Result<Outcome, SyncError>) -> Result<Outcome, SyncError> {
        match &r {
            Err(e) => self.last_error = Some(e.to_string()),
            Ok(Outcome::Done(_)) => self.last_error = None,
            Ok(Outcome::Skipped(_)) => {}
        }
        r
    }

    /// Runs one job with the unlocked kit.
    pub fn run(
        &mut self,
        job: JobKind,
        kit: &mut Kit,
        decision: &Decision,
        now_ms: u64,
    ) -> Result<Outcome, SyncError> {
        match job {
            JobKind::Reindex => {
                kit.rebuild_index(now_ms)?;
                kit.compact_index();
                Ok(Outcome::Done("matcher index rebuilt and compacted".into()))
            }
            JobKind::MatchRun => {
                let merged = kit.rematch_all(now_ms)?;
                Ok(Outcome::Done(format!(
                    "match run: {} potential matches proposed, {} records changed",
                    merged.matches.len(),
                    merged.changed
                )))
            }
            JobKind::BulkSync | JobKind::UrgentAlert => {
                let r = self.sync(kit, decision, now_ms);
                self.noted(r)
            }
            JobKind::Save => Ok(Outcome::Skipped("saves run in the foreground".into())),
        }
    }

    /// Runs one job with a kit the touch screen shares: `with_kit` runs the closure it is
    /// given with the unlocked kit (holding the screen's lock on it), or not at all when the
    /// kit is locked. A sync round lets go of the kit while frames travel, so the screen
    /// never waits for the network (a hub that does not answer holds an HTTP exchange up to
    /// 30 s); only the vault work before and after each exchange holds it. Reindex and match
    /// runs hold it throughout (they change the kit's index).
    pub fn run_shared(
        &mut self,
        job: JobKind,
        decision: &Decision,
        now_ms: u64,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        if matches!(job, JobKind::BulkSync | JobKind::UrgentAlert) {
            let r = self.sync_shared(job, decision, now_ms, with_kit);
            return self.noted(r);
        }
        self.sync_shared(job, decision, now_ms, with_kit)
    }

    fn sync_shared(
        &mut self,
        job: JobKind,
        decision: &Decision,
        now_ms: u64,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        let locked = || Outcome::Skipped("the kit is locked: waiting for a sign-in".into());
        if !matches!(job, JobKind::BulkSync | JobKind::UrgentAlert) {
            let mut done = None;
            with_kit(&mut |kit| done = Some(self.run(job, kit, decision, now_ms)));
            return done.unwrap_or_else(|| Ok(locked()));
        }
        let mut planned = None;
        with_kit(&mut |kit| planned = Some(self.plan(kit, decision, now_ms)));
        let up_to = match planned {
            None => return Ok(locked()),
            Some(Err(e)) => return Err(e),
            Some(Ok(Planned::Skip(outcome))) => return Ok(outcome),
            Some(Ok(Planned::Ip { up_to })) => up_to,
        };
        let Some(engine) = self.engine.as_mut() else {
            return Ok(locked());
        };
        let mut link = HttpLink::new(
            engine.hub_address(),
            engine.kit_id(),
            Duration::from_secs(30),
        );
        let (mut sent, mut received, mut changed) = (0, 0, 0);
        for _ in 0..MAX_EXCHANGES {
            let mut out = None;
            with_kit(&mut |kit| {
                out = Some(engine.outgoing(kit, link.mtu(), link.max_frames(), now_ms, up_to));
            });
            let Some(frames) = out.transpose()? else {
                break;
            };
            // The network, without the kit: the screen stays usable.
            let replies = link.exchange(&frames, now_ms)?;
            let mut taken = None;
            with_kit(&mut |kit| {
                taken = Some(engine.incoming(kit, &replies, now_ms).and_then(|ex| {
                    engine.collect(kit.session_mut(), now_ms)?;
                    Ok(ex)
                }));
            });
            // Locked in between: the replies are not applied and not acknowledged (the hub
            // sends them again), the engine is forgotten with the session.
            let Some(ex) = taken.transpose()? else {
                self.locked();
                return Ok(locked());
            };
            sent += frames.len();
            received += ex.frames_received;
            changed += ex.records_changed;
            if frames.is_empty() && replies.is_empty() {
                break;
            }
        }
        self.last_ip_ms = Some(now_ms);
        self.last_listen_ms = Some(now_ms);
        Ok(Outcome::Done(format!(
            "sync over IP: {sent} frames sent, {received} received, {changed} records changed"
        )))
    }

    /// Loads the engine if needed, queues what changed and asks the scheduler.
    fn plan(
        &mut self,
        kit: &mut Kit,
        decision: &Decision,
        now_ms: u64,
    ) -> Result<Planned, SyncError> {
        self.ip_allowed = decision.links.cellular;
        if self.engine.is_none() && self.provisioned != Some(false) {
            self.engine = KitSync::load(kit.session())?;
            self.provisioned = Some(self.engine.is_some());
            if let Some(e) = &self.engine {
                kit.set_outbox(Box::new(e.outbox_hook()));
            }
        }
        let Some(engine) = self.engine.as_mut() else {
            return Ok(Planned::Skip(Outcome::Skipped(
                "not provisioned for sync: the kit works offline".into(),
            )));
        };
        engine.collect(kit.session_mut(), now_ms)?;
        let (_, pending_bytes) = engine.pending();
        // The IP path (the camp's network, or the cellular modem's data link once the OS
        // has it up) is used when the power policy allows the cellular link; its signal is
        // not known here, so it counts as good.
        let ip = LinkState {
            allowed: decision.links.cellular,
            fitted: !engine.hub_address().is_empty(),
            up: true,
            signal_dbm: Some(-80),
            ..LinkState::default()
        };
        let situation = Situation {
            now_ms,
            lora: LinkState::default(),
            cellular: ip,
            top_priority: engine.top_priority(),
            pending_bytes,
            last_cellular_ms: self.last_ip_ms,
            last_listen_ms: self.last_listen_ms,
        };
        Ok(
            match schedule::plan(&situation, &SchedulePolicy::default()) {
                Plan::Idle { recheck_ms } => Planned::Skip(Outcome::Skipped(format!(
                    "nothing due now (recheck in {} s)",
                    recheck_ms / 1000
                ))),
                Plan::Lora { .. } => Planned::Skip(Outcome::Skipped(
                    "LoRa round planned but no LoRa module configured".into(),
                )),
                Plan::Cellular { up_to } => Planned::Ip { up_to },
            },
        )
    }

    fn sync(
        &mut self,
        kit: &mut Kit,
        decision: &Decision,
        now_ms: u64,
    ) -> Result<Outcome, SyncError> {
        let up_to = match self.plan(kit, decision, now_ms)? {
            Planned::Skip(outcome) => return Ok(outcome),
            Planned::Ip { up_to } => up_to,
        };
        let Some(engine) = self.engine.as_mut() else {
            return Ok(Outcome::Skipped(
                "not provisioned for sync: the kit works offline".into(),
            ));
        };
        let mut link = HttpLink::new(
            engine.hub_address(),
            engine.kit_id(),
            Duration::from_secs(30),
        );
        let (sent, received, changed) = round(engine, kit, &mut link, now_ms, up_to)?;
        self.last_ip_ms = Some(now_ms);
        self.last_listen_ms = Some(now_ms);
        Ok(Outcome::Done(format!(
            "sync over IP: {sent} frames sent, {received} received, {changed} records changed"
        )))
    }
}

/// What the scheduler decided for a sync job.
enum Planned {
    Skip(Outcome),
    Ip { up_to: Priority },
}

/// Most exchanges one sync job makes.
const MAX_EXCHANGES: usize = 16;

/// Exchanges until nothing is due or received (at most [`MAX_EXCHANGES`] per job).
fn round(
    engine: &mut KitSync,
    kit: &mut Kit,
    link: &mut dyn Link,
    now_ms: u64,
    up_to: Priority,
) -> Result<(usize, usize, usize), SyncError> {
    let (mut sent, mut received, mut changed) = (0, 0, 0);
    for _ in 0..MAX_EXCHANGES {
        let ex = engine.exchange(kit, link, now_ms, up_to)?;
        sent += ex.frames_sent;
        received += ex.frames_received;
        changed += ex.records_changed;
        if ex.frames_sent == 0 && ex.frames_received == 0 {
            break;
        }
        engine.collect(kit.session_mut(), now_ms)?;
    }
    Ok((sent, received, changed))
}

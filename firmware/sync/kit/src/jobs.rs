//! The kiosk's background jobs doing their real work (`fieldkit kiosk` calls [`Jobs::run`]
//! when the power crate's `JobQueue` says a job ran, with the kit a caseworker unlocked): `BulkSync` (the scheduler picks the link
//! and how much, then one sync round over it), `Reindex` (a fresh matcher index, compacted)
//! and `MatchRun` (every open case against every trace). Between the daily jobs the kiosk
//! calls [`Jobs::check_shared`] about once a minute: the scheduler (`schedule::plan`) sends
//! urgent alerts, match notices and review decisions at once, records when a batch is due,
//! and listens on LoRa now and then — each over the link the power mode, the signal and the
//! queue make right.
//!
//! **The links.** [`Radios`] hold what the kit has: the LoRa module as a [`LoraRound`] (its
//! duty-cycle budget kept across rounds) and the cellular modem as a [`Cellular`], powered
//! on for a round and off after it, only when the power mode allows cellular. Without a
//! modem the IP row is the camp's network (HTTP to the hub's address, nothing to power).
//! A modem that does not register, or registers below the scheduler's weakest usable
//! signal, is switched off again and left alone for half an hour, five minutes while urgent
//! work waits (`SchedulePolicy::modem_rest`; whether it may run at all is the power mode's);
//! what was due goes by LoRa when the scheduler allows it.
//!
//! **A hub that does not answer** (down, or out of reach: an HTTP exchange that fails, a
//! LoRa round whose frames nobody acknowledged) makes its link rest, longer after each
//! failed round in a row (`schedule::Backoff`: 1, 2, 4 … minutes, at most two hours), so a
//! kit does not boot its modem or spend the channel's airtime every minute for nothing; the
//! other link is used meanwhile, urgent work waiting is tried again at least every ten
//! minutes and urgent work queued after the failure at once, and a round that reaches the
//! hub ends the rest. The rests (and the modem's) are written to the vault when they change
//! (`kit/rests`) and taken back at the first sign-in after a start, so a kit rebooting in a
//! brown-out loop does not try again at every start.
//!
//! **A round can run on a thread of its own** (the kiosk runs them on its "sync" worker, so
//! the power daemon keeps sampling while the modem boots and frames travel): the daemon
//! holds the jobs' [`RoundControl`] and tells it what each decision allows; a round asks it
//! between its steps (the modem's boot and registration polls, each exchange) and stops when
//! its link is no longer allowed or the kiosk is shutting down, with everything acknowledged
//! already committed (the engine commits before it acknowledges), the modem switched off,
//! and the rest left queued for a later round.
//!
//! **They run only with the kit a caseworker unlocked.** The kiosk's locked state holds no key:
//! the vault's keys are zeroized on lock, case data and the sync outbox stay sealed at rest,
//! and nothing (not even sync) can read them until the next sign-in. We considered a sync-only
//! key kept while locked, so queued alerts could leave a locked kiosk: it would keep in memory a
//! key that opens the outbox (which holds case data) and the X25519 secret — exactly what a
//! locked kit must not hold. An urgent alert is queued in the transaction that saves the case,
//! and the next `BulkSync` with the kit unlocked sends it first; the kiosk's idle lock waits
//! minutes, not hours, in working hours.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use fieldkit_app::Kit;
use fieldkit_domain::RecordKind;
use fieldkit_power::{Decision, JobKind};
use fieldkit_sync::message::{Priority, Status};
use fieldkit_sync::schedule::{self, Backoff, LinkState, Plan, SchedulePolicy, Situation};
use fieldkit_vault::Session;

use crate::engine::{KitSync, SyncError};
use crate::link::{HttpLink, Link, LinkError};
use crate::radio::{Cellular, LoraRound};
use crate::state::Rests;

/// Access to a kit shared with the touch screen: runs the closure it is given with the
/// unlocked kit (under the screen's lock), or does not run it while the kit is locked.
pub type WithKit<'a> = dyn FnMut(&mut dyn FnMut(&mut Kit)) + 'a;

/// What a running sync round may still do, shared between the thread that runs it and the
/// kiosk's daemon loop (which tells it each decision's links, and halts it at shutdown); and
/// which link a round runs over now, for the status page. Until told otherwise every link is
/// allowed (the round's own decision still applies).
#[derive(Debug)]
pub struct RoundControl {
    cellular: AtomicBool,
    lora: AtomicBool,
    halted: AtomicBool,
    /// The link of the round under way: 0 none, else [`Over`] + 1.
    over: AtomicU8,
}

impl Default for RoundControl {
    fn default() -> Self {
        Self {
            cellular: AtomicBool::new(true),
            lora: AtomicBool::new(true),
            halted: AtomicBool::new(false),
            over: AtomicU8::new(0),
        }
    }
}

impl RoundControl {
    /// Takes in what the power mode allows now: a round over a link the decision no longer
    /// allows stops at its next step.
    pub fn allow(&self, decision: &Decision) {
        self.cellular
            .store(decision.links.cellular, Ordering::Relaxed);
        self.lora.store(decision.links.lora, Ordering::Relaxed);
    }

    /// Stops the round under way at its next step, and every later one (the kiosk is
    /// shutting down).
    pub fn halt(&self) {
        self.halted.store(true, Ordering::Relaxed);
    }

    /// Lets rounds run again after a halt (a daemon loop starting over the same jobs).
    pub fn resume(&self) {
        self.halted.store(false, Ordering::Relaxed);
    }

    /// Whether [`RoundControl::halt`] was called.
    pub fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// The link a round runs over now (`cellular`, `ip` or `lora`, the status page's row
    /// names), if one runs.
    pub fn syncing(&self) -> Option<&'static str> {
        match self.over.load(Ordering::Relaxed) {
            1 => Some("ip"),
            2 => Some("cellular"),
            3 => Some("lora"),
            _ => None,
        }
    }

    fn may(&self, over: Over) -> bool {
        !self.halted()
            && match over {
                Over::Ip | Over::Cellular => self.cellular.load(Ordering::Relaxed),
                Over::Lora => self.lora.load(Ordering::Relaxed),
            }
    }

    /// Marks a round over `over` under way until the guard is dropped.
    fn running(&self, over: Over) -> Running<'_> {
        let code = match over {
            Over::Ip => 1,
            Over::Cellular => 2,
            Over::Lora => 3,
        };
        self.over.store(code, Ordering::Relaxed);
        Running(self)
    }
}

/// A round under way (cleared when dropped, however the round ended).
struct Running<'a>(&'a RoundControl);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.over.store(0, Ordering::Relaxed);
    }
}

/// What one job did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done(String),
    /// Nothing to do or not possible now (said why); the job counts as run.
    Skipped(String),
}

/// The kit's radios (none: sync over IP only, the camp's network).
#[derive(Debug, Default)]
pub struct Radios {
    /// The LoRa module's link.
    pub lora: Option<Box<dyn LoraRound>>,
    /// The cellular modem (its data path is IP, to the hub's address).
    pub cellular: Option<Box<dyn Cellular>>,
    /// Why a configured LoRa module could not be started (shown on its row).
    pub lora_fault: Option<String>,
}

/// What the status page shows of one link.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct LinkRecord {
    allowed: bool,
    last_ok_ms: Option<u64>,
    last_error: Option<String>,
    /// Rounds over it the hub did not answer lately.
    backoff: Backoff,
}

impl LinkRecord {
    fn ok(&mut self, now_ms: u64) {
        self.last_ok_ms = Some(now_ms);
        self.last_error = None;
        self.backoff.succeeded();
    }
}

/// The background work of one kiosk.
#[derive(Debug, Default)]
pub struct Jobs {
    engine: Option<KitSync>,
    provisioned: Option<bool>,
    radios: Radios,
    schedule: SchedulePolicy,
    /// The IP row: the camp's network, or the cellular modem's data path.
    ip: LinkRecord,
    lora: LinkRecord,
    /// The signal the modem last reported (it is off between rounds).
    cellular_dbm: Option<i16>,
    /// When the modem last failed to come up usable.
    cellular_failed_ms: Option<u64>,
    last_listen_ms: Option<u64>,
    /// No check before this (the scheduler's recheck time after an idle plan).
    next_check_ms: u64,
    /// The hub's address in place of the provisioned one (the simulated kiosk's own hub).
    hub_address: Option<String>,
    /// How long a fragment waits for its acknowledgement before it goes again, when not the
    /// engine's default.
    retry_ms: Option<u64>,
    /// What a round under way may still do (shared with the kiosk's daemon loop).
    control: Arc<RoundControl>,
    /// The rests persisted before this start were taken back (at the first sign-in).
    rests_restored: bool,
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
    /// The link a round runs over now (a row's name), if one runs.
    pub syncing: Option<&'static str>,
}

/// One link on the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// `cellular` (the modem, powered for a round), `ip` (the camp's network, no modem) or
    /// `lora`.
    pub name: &'static str,
    /// The kit has it (a hub address and, for `cellular`, a modem; a LoRa module).
    pub fitted: bool,
    /// The power mode allows it now.
    pub allowed: bool,
    /// When a sync round over it last completed (the jobs' clock, ms).
    pub last_ok_ms: Option<u64>,
    /// Why the last round over it failed, if it did (never case data).
    pub last_error: Option<String>,
}

/// What the scheduler decided for a sync round.
enum Planned {
    Skip(Outcome),
    /// Over IP: the camp's network, or (`cellular`) the modem's data path once it is up.
    Ip {
        up_to: Priority,
        cellular: bool,
    },
    Lora {
        up_to: Priority,
        frames: usize,
    },
}

/// Most exchanges one sync round makes.
const MAX_EXCHANGES: usize = 16;

/// Which link a round went over, for the log and the status page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Over {
    Ip,
    Cellular,
    Lora,
}

impl Over {
    fn words(self) -> &'static str {
        match self {
            Over::Ip => "IP",
            Over::Cellular => "cellular",
            Over::Lora => "LoRa",
        }
    }
}

impl Jobs {
    /// Jobs for a kiosk that just started, syncing over IP only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Jobs for a kiosk with these radios.
    pub fn with_radios(radios: Radios) -> Self {
        Self {
            radios,
            ..Self::default()
        }
    }

    /// The radios back (a kiosk reconfigured, a test changing the kit's links).
    pub fn into_radios(self) -> Radios {
        self.radios
    }

    /// Replaces the scheduler's settings (the simulated kiosk shortens its waits).
    pub fn set_schedule(&mut self, schedule: SchedulePolicy) {
        self.schedule = schedule;
    }

    /// Talks to the hub at `address` whatever the kit was provisioned with (the simulated
    /// kiosk's in-process hub listens on a port of the day).
    pub fn set_hub_address(&mut self, address: &str) {
        self.hub_address = Some(address.to_string());
    }

    /// Sends an unacknowledged fragment again after `ms` (default `engine::RETRY_MS`).
    pub fn set_retry_ms(&mut self, ms: u64) {
        self.retry_ms = Some(ms);
    }

    /// What a round under way may still do: the kiosk's daemon loop keeps this, tells it
    /// each decision and halts it at shutdown, while a round runs on another thread.
    pub fn control(&self) -> Arc<RoundControl> {
        self.control.clone()
    }

    /// Forgets the sync engine (call when the kit locks: its keys go with the session).
    pub fn locked(&mut self) {
        self.engine = None;
        self.provisioned = None;
    }

    /// Takes in what the power mode allows now (for the status page, without a round).
    pub fn observe(&mut self, decision: &Decision) {
        self.ip.allowed = decision.links.cellular;
        self.lora.allowed = decision.links.lora;
    }

    /// The sync rows of the status page.
    pub fn status(&self) -> SyncStatus {
        let hub = self
            .engine
            .as_ref()
            .is_some_and(|e| !e.hub_address().is_empty());
        let modem = self.radios.cellular.is_some();
        SyncStatus {
            provisioned: self.provisioned,
            queued: self.engine.as_ref().map(KitSync::pending),
            unacked_fragments: self.engine.as_ref().map(KitSync::unacked_fragments),
            links: vec![
                LinkStatus {
                    name: if modem { "cellular" } else { "ip" },
                    fitted: hub,
                    allowed: self.ip.allowed,
                    last_ok_ms: self.ip.last_ok_ms,
                    last_error: self.ip.last_error.clone(),
                },
                LinkStatus {
                    name: "lora",
                    fitted: self.radios.lora.is_some() || self.radios.lora_fault.is_some(),
                    allowed: self.lora.allowed,
                    last_ok_ms: self.lora.last_ok_ms,
                    last_error: self
                        .lora
                        .last_error
                        .clone()
                        .or_else(|| self.radios.lora_fault.clone()),
                },
            ],
            syncing: self.control.syncing(),
        }
    }

    /// Runs one job with the unlocked kit.
    pub fn run(
        &mut self,
        job: JobKind,
        kit: &mut Kit,
        decision: &Decision,
        now_ms: u64,
    ) -> Result<Outcome, SyncError> {
        let mut with_kit = |f: &mut dyn FnMut(&mut Kit)| f(kit);
        self.run_shared(job, decision, now_ms, &mut with_kit)
    }

    /// Runs one job with a kit the touch screen shares: `with_kit` runs the closure it is
    /// given with the unlocked kit (holding the screen's lock on it), or not at all when the
    /// kit is locked. A sync round lets go of the kit while frames travel (and while the
    /// modem comes up), so the screen never waits for the network (a hub that does not
    /// answer holds an HTTP exchange up to 30 s); only the vault work before and after each
    /// exchange holds it. Reindex and match runs hold it throughout (they change the kit's
    /// index).
    pub fn run_shared(
        &mut self,
        job: JobKind,
        decision: &Decision,
        now_ms: u64,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        let locked = || Outcome::Skipped("the kit is locked: waiting for a sign-in".into());
        match job {
            JobKind::BulkSync | JobKind::UrgentAlert => self.sync(decision, now_ms, with_kit),
            JobKind::Reindex | JobKind::MatchRun => {
                let mut done = None;
                with_kit(&mut |kit| done = Some(housekeeping(job, kit, now_ms)));
                done.unwrap_or_else(|| Ok(locked()))
            }
            JobKind::Save => Ok(Outcome::Skipped("saves run in the foreground".into())),
        }
    }

    /// Between the daily jobs: asks the scheduler whether something is due now (it is
    /// asked again after its recheck time, not before) and runs that round. `None` when
    /// nothing ran (nothing due, not yet time to ask, locked, not provisioned).
    pub fn check_shared(
        &mut self,
        decision: &Decision,
        now_ms: u64,
        with_kit: &mut WithKit<'_>,
    ) -> Option<Result<Outcome, SyncError>> {
        self.observe(decision);
        if now_ms < self.next_check_ms || self.provisioned == Some(false) {
            return None;
        }
        match self.sync(decision, now_ms, with_kit) {
            Ok(Outcome::Skipped(_)) => None,
            Err(e) => {
                // A failed round (hub unreachable, duty cycle spent) is not tried again at
                // every turn of the loop.
                self.next_check_ms = now_ms.saturating_add(self.schedule.idle_ms);
                Some(Err(e))
            }
            done => Some(done),
        }
    }

    /// One sync round: the scheduler's plan (with the kit), then the round over its link.
    fn sync(
        &mut self,
        decision: &Decision,
        now_ms: u64,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        self.observe(decision);
        if self.control.halted() {
            return Ok(Outcome::Skipped("the kiosk is shutting down".into()));
        }
        let mut planned = None;
        with_kit(&mut |kit| planned = Some(self.plan(kit, decision, now_ms)));
        let planned = match planned {
            None => {
                return Ok(Outcome::Skipped(
                    "the kit is locked: waiting for a sign-in".into(),
                ));
            }
            Some(p) => p?,
        };
        let before = self.rests();
        let r = self.round(planned, decision, now_ms, with_kit);
        let after = self.rests();
        if after != before && self.engine.is_some() {
            // Written when they change, so a restart does not try again at once. A kit
            // locked meanwhile keeps them in memory until the next change.
            let mut saved = None;
            with_kit(&mut |kit| saved = Some(KitSync::save_rests(kit.session_mut(), &after)));
            if let Some(Err(e)) = saved {
                tracing::warn!("keeping the links' rests: {e}");
            }
        }
        r
    }

    /// The links' rests as they are now.
    fn rests(&self) -> Rests {
        Rests {
            ip: self.ip.backoff,
            lora: self.lora.backoff,
            modem_failed_ms: self.cellular_failed_ms,
        }
    }

    /// The round the scheduler planned, over its link.
    fn round(
        &mut self,
        planned: Planned,
        decision: &Decision,
        now_ms: u64,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        let control = self.control.clone();
        match planned {
            Planned::Skip(outcome) => Ok(outcome),
            Planned::Ip { up_to, cellular } if cellular => {
                let _running = control.running(Over::Cellular);
                self.cellular_round(decision, now_ms, up_to, with_kit)
            }
            Planned::Ip { up_to, .. } => {
                let _running = control.running(Over::Ip);
                let r = self.ip_round(Over::Ip, now_ms, up_to, with_kit);
                self.noted(Over::Ip, now_ms, r)
            }
            Planned::Lora { up_to, frames } => {
                let _running = control.running(Over::Lora);
                let r = self.lora_round(now_ms, up_to, frames, with_kit);
                self.noted(Over::Lora, now_ms, r)
            }
        }
    }

    /// Keeps a round's result for the status page (a link error's text; no case data).
    fn noted(
        &mut self,
        over: Over,
        now_ms: u64,
        r: Result<Outcome, SyncError>,
    ) -> Result<Outcome, SyncError> {
        let record = match over {
            Over::Ip | Over::Cellular => &mut self.ip,
            Over::Lora => &mut self.lora,
        };
        match &r {
            Err(e) => record.last_error = Some(e.to_string()),
            Ok(Outcome::Done(_)) => record.ok(now_ms),
            Ok(Outcome::Skipped(_)) => {}
        }
        r
    }

    /// The modem on, a round over its data path, the modem off (whatever happened). A modem
    /// that does not come up usable rests (`SchedulePolicy::modem_rest`), and what is due
    /// goes by LoRa if the scheduler allows it.
    fn cellular_round(
        &mut self,
        decision: &Decision,
        now_ms: u64,
        up_to: Priority,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        let Some(modem) = self.radios.cellular.as_mut() else {
            return Ok(Outcome::Skipped("no modem".into()));
        };
        let control = self.control.clone();
        let go_on = || control.may(Over::Cellular);
        let up = modem.power_up(&go_on);
        if matches!(up, Err(LinkError::Stopped)) || (up.is_ok() && !go_on()) {
            // Stopped while it came up: off again, nothing sent, not counted as a failure.
            if let Err(e) = modem.power_down() {
                tracing::warn!("switching the modem off: {e}");
            }
            tracing::info!("cellular round stopped while the modem came up");
            return Ok(Outcome::Skipped(format!(
                "cellular: {}",
                LinkError::Stopped
            )));
        }
        let usable = match up {
            Ok(up) => {
                self.cellular_dbm = up.signal_dbm;
                match up.signal_dbm {
                    Some(d) if d >= self.schedule.min_cellular_dbm => Ok(()),
                    d => Err(format!(
                        "cellular signal too weak ({} dBm, at least {} needed)",
                        d.map_or_else(|| "unknown".to_string(), |d| d.to_string()),
                        self.schedule.min_cellular_dbm
                    )),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        // The round's own result, or why the modem was not usable.
        let r: Result<Result<Outcome, SyncError>, String> = match usable {
            Ok(()) => {
                self.cellular_failed_ms = None;
                Ok(
                    match self.ip_round(Over::Cellular, now_ms, up_to, with_kit) {
                        Ok(Outcome::Done(what)) => {
                            Ok(Outcome::Done(what.replacen("over IP", "over cellular", 1)))
                        }
                        other => other,
                    },
                )
            }
            Err(why) => {
                tracing::warn!("cellular modem not usable: {why}");
                self.cellular_failed_ms = Some(now_ms);
                self.ip.last_error = Some(why.clone());
                Err(why)
            }
        };
        let off = self
            .radios
            .cellular
            .as_mut()
            .map_or(Ok(()), |m| m.power_down());
        if let Err(e) = off {
            tracing::warn!("switching the modem off: {e}");
        }
        match r {
            Ok(r) => self.noted(Over::Cellular, now_ms, r),
            // The modem did not come up: LoRa, if the scheduler sends this by LoRa now.
            Err(why) => {
                let mut planned = None;
                with_kit(&mut |kit| planned = Some(self.plan(kit, decision, now_ms)));
                match planned.transpose()? {
                    Some(Planned::Lora { up_to, frames }) => {
                        let _running = control.running(Over::Lora);
                        let r = self.lora_round(now_ms, up_to, frames, with_kit);
                        self.noted(Over::Lora, now_ms, r)
                    }
                    _ => Ok(Outcome::Skipped(format!("cellular: {why}"))),
                }
            }
        }
    }

    /// Exchanges over HTTP to the hub's address until nothing is due or received.
    fn ip_round(
        &mut self,
        over: Over,
        now_ms: u64,
        up_to: Priority,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        let Some(engine) = self.engine.as_mut() else {
            return Ok(Outcome::Skipped(
                "the kit is locked: waiting for a sign-in".into(),
            ));
        };
        let mut link = HttpLink::new(
            engine.hub_address(),
            engine.kit_id(),
            Duration::from_secs(30),
        );
        let control = self.control.clone();
        let go_on = || control.may(over);
        let r = exchanges(
            engine,
            &mut link,
            now_ms,
            up_to,
            usize::MAX,
            &go_on,
            with_kit,
        );
        self.finish(Over::Ip, now_ms, r)
    }

    /// Up to `frames` frames over LoRa, each followed by the hub's answers. With nothing to
    /// send (a listen), one frame still goes, the vault's status when nothing else waits:
    /// the hub's gateway answers only a kit it hears (class A), and the status lets it
    /// notice a rolled-back vault.
    fn lora_round(
        &mut self,
        now_ms: u64,
        up_to: Priority,
        frames: usize,
        with_kit: &mut WithKit<'_>,
    ) -> Result<Outcome, SyncError> {
        let (Some(engine), Some(link)) = (self.engine.as_mut(), self.radios.lora.as_mut()) else {
            return Ok(Outcome::Skipped("no LoRa module".into()));
        };
        let (up_to, frames) = if frames == 0 {
            let mut queued = None;
            with_kit(&mut |kit| {
                queued = Some(if engine.pending().0 == 0 {
                    vault_status(kit.session())
                        .and_then(|s| engine.queue_status(kit.session_mut(), s))
                } else {
                    Ok(())
                });
            });
            queued.transpose()?;
            (Priority::Bulk, 1)
        } else {
            (up_to, frames)
        };
        // The duty-cycle ledger is persisted before the round with the most it may spend
        // (`frames` full frames, counted from its latest start), so a kit killed mid-round
        // restarts counting it, and after the round as it is.
        let most = link
            .frame_airtime_ms()
            .saturating_mul(u32::try_from(frames).unwrap_or(u32::MAX));
        let mut reserved = link.airtime_ledger();
        reserved.push((now_ms.saturating_add(u64::from(most)), most));
        let mut saved = None;
        with_kit(&mut |kit| saved = Some(engine.save_airtime(kit.session_mut(), &reserved)));
        saved.transpose()?;
        let control = self.control.clone();
        let go_on = || control.may(Over::Lora);
        let r = exchanges(
            engine,
            link.as_mut(),
            now_ms,
            up_to,
            frames,
            &go_on,
            with_kit,
        );
        let ledger = link.airtime_ledger();
        let mut saved = None;
        with_kit(&mut |kit| saved = Some(engine.save_airtime(kit.session_mut(), &ledger)));
        self.last_listen_ms = Some(now_ms);
        saved.transpose()?;
        self.finish(Over::Lora, now_ms, r)
    }

    /// A round's exchanges as its outcome; a round the hub did not answer (a link error, or
    /// LoRa frames nobody acknowledged: the hub's gateway answers every frame it hears) makes
    /// its link rest, and one that heard the hub ends the rest.
    fn finish(
        &mut self,
        over: Over,
        now_ms: u64,
        r: Result<Option<Exchanged>, SyncError>,
    ) -> Result<Outcome, SyncError> {
        let r = match r {
            Ok(Some(Exchanged {
                sent,
                received: 0,
                stopped: false,
                ..
            })) if over == Over::Lora && sent > 0 => Err(LinkError::NoAnswer { sent }.into()),
            r => r,
        };
        let urgent = self.engine.as_ref().and_then(newest_urgent);
        let record = match over {
            Over::Ip | Over::Cellular => &mut self.ip,
            Over::Lora => &mut self.lora,
        };
        match &r {
            Err(SyncError::Link(LinkError::Stopped)) => {}
            Err(SyncError::Link(e)) => {
                record.backoff.failed(now_ms, urgent);
                let rest = record
                    .backoff
                    .retry_at_ms(&self.schedule, urgent)
                    .map_or(0, |t| t.saturating_sub(now_ms) / 1000);
                tracing::warn!(
                    "sync over {}: {e}; {} failed rounds in a row, next try in {rest} s at the \
                     earliest",
                    over.words(),
                    record.backoff.failures()
                );
            }
            Ok(Some(ex)) if ex.received > 0 || (!ex.stopped && over != Over::Lora) => {
                record.backoff.succeeded();
            }
            _ => {}
        }
        match r? {
            None => {
                // Locked in between: the replies were not applied and not acknowledged (the
                // hub sends them again); the engine goes with the session.
                self.locked();
                Ok(Outcome::Skipped(
                    "the kit is locked: waiting for a sign-in".into(),
                ))
            }
            Some(Exchanged {
                sent,
                received,
                changed,
                stopped: false,
            }) => Ok(Outcome::Done(format!(
                "sync over {}: {sent} frames sent, {received} received, {changed} records changed",
                over.words()
            ))),
            Some(Exchanged {
                sent,
                received,
                changed,
                stopped: true,
            }) => {
                let why = format!(
                    "sync over {} {} ({sent} frames sent, {received} received, {changed} records \
                     changed; the rest goes later)",
                    over.words(),
                    LinkError::Stopped
                );
                tracing::info!("{why}");
                Ok(Outcome::Skipped(why))
            }
        }
    }

    /// Loads the engine if needed, queues what changed and asks the scheduler.
    fn plan(
        &mut self,
        kit: &mut Kit,
        decision: &Decision,
        now_ms: u64,
    ) -> Result<Planned, SyncError> {
        if self.engine.is_none() && self.provisioned != Some(false) {
            self.engine = KitSync::load(kit.session())?;
            self.provisioned = Some(self.engine.is_some());
            if let Some(e) = self.engine.as_mut() {
                kit.set_outbox(Box::new(e.outbox_hook()));
                if let Some(address) = &self.hub_address {
                    e.set_hub_address(address);
                }
                if let Some(ms) = self.retry_ms {
                    e.set_retry_ms(ms);
                }
                if let Some(lora) = self.radios.lora.as_mut() {
                    lora.set_kit(e.kit_id());
                    // The hour's airtime spent before a restart still counts.
                    lora.restore_airtime(now_ms, &KitSync::airtime(kit.session())?);
                }
                if !self.rests_restored {
                    // So do the rests: a kit restarted in a brown-out loop waits them out.
                    let rests = KitSync::rests(kit.session())?.restored(now_ms);
                    self.ip.backoff = rests.ip;
                    self.lora.backoff = rests.lora;
                    self.cellular_failed_ms = rests.modem_failed_ms;
                    self.rests_restored = true;
                }
            }
        }
        let Some(engine) = self.engine.as_mut() else {
            return Ok(Planned::Skip(Outcome::Skipped(
                "not provisioned for sync: the kit works offline".into(),
            )));
        };
        engine.collect(kit.session_mut(), now_ms)?;
        let (_, pending_bytes) = engine.pending();
        let hub = !engine.hub_address().is_empty();
        let modem = self.radios.cellular.is_some();
        let urgent = newest_urgent(engine);
        let cellular = if modem {
            // The modem is off between rounds: its last signal stands for it, and one that
            // failed is left alone for a while, less while urgent work waits.
            let rest = self.schedule.modem_rest(urgent.is_some());
            let resting = self
                .cellular_failed_ms
                .is_some_and(|t| now_ms.saturating_sub(t) < rest);
            LinkState {
                allowed: decision.links.cellular,
                fitted: hub,
                up: !resting,
                backoff: self.ip.backoff,
                signal_dbm: if resting {
                    self.cellular_dbm
                } else {
                    Some(
                        self.cellular_dbm
                            .unwrap_or(self.schedule.min_cellular_dbm)
                            .max(self.schedule.min_cellular_dbm),
                    )
                },
                ..LinkState::default()
            }
        } else {
            // The camp's network: nothing to power, its signal not known here (counts as good).
            LinkState {
                allowed: decision.links.cellular,
                fitted: hub,
                up: true,
                signal_dbm: Some(-80),
                backoff: self.ip.backoff,
                ..LinkState::default()
            }
        };
        let lora = match self.radios.lora.as_mut() {
            Some(l) => LinkState {
                allowed: decision.links.lora,
                fitted: true,
                up: true,
                signal_dbm: None,
                airtime_left_ms: l.airtime_left_ms(now_ms),
                frame_airtime_ms: l.frame_airtime_ms(),
                backoff: self.lora.backoff,
            },
            None => LinkState::default(),
        };
        let situation = Situation {
            now_ms,
            lora,
            cellular,
            top_priority: engine.top_priority(),
            pending_bytes,
            last_cellular_ms: self.ip.last_ok_ms,
            last_listen_ms: self.last_listen_ms,
            newest_urgent: urgent,
        };
        Ok(match schedule::plan(&situation, &self.schedule) {
            Plan::Idle { recheck_ms } => {
                self.next_check_ms = now_ms.saturating_add(recheck_ms);
                Planned::Skip(Outcome::Skipped(format!(
                    "nothing due now (recheck in {} s)",
                    recheck_ms / 1000
                )))
            }
            Plan::Lora { up_to, max_frames } => Planned::Lora {
                up_to,
                frames: usize::try_from(max_frames).unwrap_or(usize::MAX),
            },
            Plan::Cellular { up_to } => Planned::Ip {
                up_to,
                cellular: modem,
            },
        })
    }
}

/// The id of the newest urgent alert, match notice or review decision waiting to be sent.
fn newest_urgent(engine: &KitSync) -> Option<u64> {
    engine
        .outbox()
        .messages()
        .iter()
        .filter(|m| m.priority <= Priority::Review)
        .map(|m| m.id)
        .max()
}

/// The vault's state for the hub's rollback check.
fn vault_status(session: &Session) -> Result<Status, SyncError> {
    let records = session.count(RecordKind::Case)? + session.count(RecordKind::TracingRequest)?;
    Ok(Status {
        commits: session.commit_counter()?,
        audit_head: session.audit_head()?.hash,
        records,
    })
}

/// Reindex and match runs.
fn housekeeping(job: JobKind, kit: &mut Kit, now_ms: u64) -> Result<Outcome, SyncError> {
    if job == JobKind::Reindex {
        kit.rebuild_index(now_ms)?;
        kit.compact_index();
        return Ok(Outcome::Done("matcher index rebuilt and compacted".into()));
    }
    let merged = kit.rematch_all(now_ms)?;
    Ok(Outcome::Done(format!(
        "match run: {} potential matches proposed, {} records changed",
        merged.matches.len(),
        merged.changed
    )))
}

/// What a round's exchanges did.
struct Exchanged {
    sent: usize,
    received: usize,
    changed: usize,
    /// `go_on` said stop before the round was done.
    stopped: bool,
}

/// Exchanges over `link` until nothing is due or received (at most [`MAX_EXCHANGES`], and
/// `budget` frames in all), holding the kit only around each exchange, and asking `go_on`
/// before each (a stop leaves the rest queued: what was acknowledged is committed). `None`
/// when the kit was locked in between.
fn exchanges(
    engine: &mut KitSync,
    link: &mut dyn Link,
    now_ms: u64,
    up_to: Priority,
    budget: usize,
    go_on: &dyn Fn() -> bool,
    with_kit: &mut WithKit<'_>,
) -> Result<Option<Exchanged>, SyncError> {
    let (mut sent, mut received, mut changed) = (0, 0, 0);
    for _ in 0..MAX_EXCHANGES {
        if !go_on() {
            return Ok(Some(Exchanged {
                sent,
                received,
                changed,
                stopped: true,
            }));
        }
        let room = link.max_frames().min(budget - sent);
        let mut out = None;
        with_kit(&mut |kit| {
            out = Some(engine.outgoing(kit, link.mtu(), room, now_ms, up_to));
        });
        let Some(frames) = out.transpose()? else {
            return Ok(None);
        };
        // The link, without the kit: the screen stays usable.
        let replies = link.exchange(&frames, now_ms)?;
        let mut taken = None;
        with_kit(&mut |kit| {
            taken = Some(engine.incoming(kit, &replies, now_ms).and_then(|ex| {
                engine.collect(kit.session_mut(), now_ms)?;
                Ok(ex)
            }));
        });
        let Some(ex) = taken.transpose()? else {
            return Ok(None);
        };
        sent += frames.len();
        received += ex.frames_received;
        changed += ex.records_changed;
        if (frames.is_empty() && replies.is_empty()) || sent >= budget {
            break;
        }
    }
    Ok(Some(Exchanged {
        sent,
        received,
        changed,
        stopped: false,
    }))
}

//! Which link to use, and when: a pure function of the power mode's allowed links, each
//! link's state (up, signal, LoRa duty-cycle budget left) and the outbox.
//!
//! LoRa is cheap per message but tiny and rationed (1 % of the hour); cellular is costly per
//! session (the modem draws 0.5–0.8 A while it transmits) but fast. So:
//! - urgent alerts, match notices and review decisions go at once, by cellular when it is
//!   allowed and registered with a usable signal (and the session, once the modem is up,
//!   carries the records waiting too: the modem's boot and registration are the session's
//!   cost, a few more kilobytes are not), else by LoRa within its budget;
//! - records wait for cellular and are sent in batches (once enough has queued or the last
//!   session is old), unless the kit has no cellular at all, when LoRa carries them too;
//! - with nothing to send, the kit still listens on LoRa now and then for what the hub
//!   sends back, and calls it over cellular or IP now and then;
//! - a link whose rounds the hub did not answer rests for a while ([`Backoff`]: one minute,
//!   doubling each failed round, at most two hours), and the other link is used meanwhile.
//!   An urgent alert, match notice or review decision is never held longer than
//!   [`SchedulePolicy::urgent_retry_ms`] by it, and a new one (queued after the last
//!   failed round) is tried at once.

use serde::{Deserialize, Serialize};

use crate::message::Priority;

/// One link as the caller sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkState {
    /// The power policy allows it now.
    pub allowed: bool,
    /// The kit has this link at all (module present, provisioned).
    pub fitted: bool,
    /// Up: LoRa module started; modem registered.
    pub up: bool,
    /// Signal, dBm (cellular), when known.
    pub signal_dbm: Option<i16>,
    /// LoRa: airtime left in the duty-cycle window, ms.
    pub airtime_left_ms: u64,
    /// LoRa: time on air of one full frame at the current settings, ms.
    pub frame_airtime_ms: u32,
    /// Rounds over it the hub did not answer lately.
    pub backoff: Backoff,
}

/// A link's back-off after rounds the hub did not answer (a hub that is down, a gateway out
/// of reach): without it a kit would try every time the scheduler is asked, about once a
/// minute, each try over cellular costing the modem's boot and registration (~1 min at
/// ~2 W) and over LoRa a shared channel's airtime. The caller keeps one per link, tells it
/// each round's end (no clock here) and persists it when it changes: a kit rebooting in a
/// brown-out loop would otherwise try at every start ([`Backoff::restored`] takes it back).
///
/// After `n` failed rounds in a row the link rests `backoff_base_ms · 2^(n−1)`, at most
/// `backoff_max_ms`. **Urgent work** (an urgent alert, a match notice or a review decision)
/// waiting shortens the rest to at most `urgent_retry_ms`, and urgent work queued after the
/// last failure ends it (a caseworker just registered a child at risk: try now). Why a cap
/// and not none: the power policy admits urgent work in every mode but Shutdown and asks
/// no energy of it beyond the link it allows, so the back-off must not be what keeps an
/// alert from a link the policy allows; but a try every minute over cellular is ~1.8 Wh an
/// hour for a hub that is down. Ten minutes is the delay the design already accepts in the
/// other direction (an idle kit listens for the hub every ten minutes), and a link resting
/// never blocks the other one (a kit with LoRa sends its alert there meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Backoff {
    /// Failed rounds in a row.
    failures: u32,
    /// When the last one failed, ms.
    last_failure_ms: u64,
    /// The newest urgent message waiting when it failed (ids grow: a higher one is new).
    urgent_seen: Option<u64>,
}

impl Backoff {
    /// A round over the link failed at `now_ms` (the hub did not answer); `newest_urgent`
    /// is the id of the newest urgent message waiting then, if any.
    pub fn failed(&mut self, now_ms: u64, newest_urgent: Option<u64>) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure_ms = now_ms;
        self.urgent_seen = self.urgent_seen.max(newest_urgent);
    }

    /// A round over the link reached the hub: no more back-off.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }

    /// Failed rounds in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A back-off persisted before a restart, taken back at `now_ms`: a last failure later
    /// than now (a board without a real-time clock that started with an older time) counts
    /// from now, so the rest is never longer than the one it had left.
    #[must_use]
    pub fn restored(mut self, now_ms: u64) -> Self {
        self.last_failure_ms = self.last_failure_ms.min(now_ms);
        self
    }

    /// When the link may be tried again (`None`: now, it is not resting), given the newest
    /// urgent message waiting now.
    pub fn retry_at_ms(&self, p: &SchedulePolicy, newest_urgent: Option<u64>) -> Option<u64> {
        if self.failures == 0 || newest_urgent > self.urgent_seen {
            return None;
        }
        let doubled = 1u64 << (self.failures - 1).min(32);
        let mut wait = p
            .backoff_base_ms
            .saturating_mul(doubled)
            .min(p.backoff_max_ms);
        if newest_urgent.is_some() {
            wait = wait.min(p.urgent_retry_ms);
        }
        Some(self.last_failure_ms.saturating_add(wait))
    }

    /// Whether the link may be tried at `now_ms`.
    pub fn ready(&self, now_ms: u64, p: &SchedulePolicy, newest_urgent: Option<u64>) -> bool {
        self.retry_at_ms(p, newest_urgent)
            .is_none_or(|t| now_ms >= t)
    }
}

/// What the scheduler is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// Now, ms on the caller's monotonic clock.
    pub now_ms: u64,
    /// The LoRa link.
    pub lora: LinkState,
    /// The cellular link.
    pub cellular: LinkState,
    /// The most urgent message waiting, if any.
    pub top_priority: Option<Priority>,
    /// Bytes waiting in the outbox.
    pub pending_bytes: usize,
    /// When the last cellular session ended.
    pub last_cellular_ms: Option<u64>,
    /// When the kit last listened on LoRa.
    pub last_listen_ms: Option<u64>,
    /// The id of the newest urgent alert, match notice or review decision waiting, if any
    /// (message ids only grow, so a higher one is work queued later).
    pub newest_urgent: Option<u64>,
}

/// The scheduler's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulePolicy {
    /// Weakest usable cellular signal, dBm.
    pub min_cellular_dbm: i16,
    /// Send records by cellular once this many bytes wait…
    pub batch_bytes: usize,
    /// …or once the last session is this old, ms.
    pub max_batch_age_ms: u64,
    /// Most LoRa frames in one round.
    pub max_lora_frames: u32,
    /// Listen on LoRa at least this often, ms.
    pub listen_every_ms: u64,
    /// Recheck after this long when idle, ms.
    pub idle_ms: u64,
    /// With nothing to send, ask the hub over cellular or IP at least this often, ms: the
    /// hub answers only a kit that calls, so without it a kit with nothing queued would never
    /// hear the match notices, review decisions and transfers waiting for it there (unless
    /// a LoRa listen carries them). Each poll over cellular costs a modem boot (~1 min at
    /// ~2 W, about 0.03 Wh).
    pub poll_every_ms: u64,
    /// A link the hub did not answer rests this long after the first failed round, ms,
    /// twice as long after each further one…
    pub backoff_base_ms: u64,
    /// …at most this long, ms.
    pub backoff_max_ms: u64,
    /// Longest rest while urgent work waits, ms ([`Backoff`] says why).
    pub urgent_retry_ms: u64,
    /// A cellular modem that did not come up usable (no network registration, or a signal
    /// below `min_cellular_dbm`) is left off this long before the next try, ms: each try
    /// costs its boot and search (~1 min at ~2 W)…
    pub modem_rest_ms: u64,
    /// …or this long while urgent work waits, ms ([`SchedulePolicy::modem_rest`] says why).
    pub urgent_modem_rest_ms: u64,
}

impl SchedulePolicy {
    /// How long a modem that did not come up usable rests, ms, with urgent work (an urgent
    /// alert, a match notice or a review decision) waiting or not.
    ///
    /// Whether the modem may be tried at all is the power mode's (the link's `allowed`:
    /// Normal, or Saver while solar energy goes spare; never Critical, where LoRa carries
    /// urgent work), so the rest only says how often within that. Routine work waits half an
    /// hour: a failed registration is mostly a kit out of coverage, and records can wait
    /// for the noon batch. Urgent work is tried again after five minutes: a search is often
    /// cut short on a weak or crowded cell and succeeds at the next try, and a child at risk
    /// should not wait half an hour for it; twelve tries an hour cost about 0.5 Wh, which
    /// the modes that allow the modem afford (Saver allows it only on energy that would
    /// otherwise go to waste).
    pub fn modem_rest(&self, urgent_waiting: bool) -> u64 {
        if urgent_waiting {
            self.urgent_modem_rest_ms.min(self.modem_rest_ms)
        } else {
            self.modem_rest_ms
        }
    }
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        Self {
            min_cellular_dbm: -105,
            batch_bytes: 16 * 1024,
            max_batch_age_ms: 4 * 3_600_000,
            max_lora_frames: 8,
            listen_every_ms: 10 * 60_000,
            idle_ms: 60_000,
            poll_every_ms: 3_600_000,
            backoff_base_ms: 60_000,
            backoff_max_ms: 2 * 3_600_000,
            urgent_retry_ms: 10 * 60_000,
            modem_rest_ms: 30 * 60_000,
            urgent_modem_rest_ms: 5 * 60_000,
        }
    }
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Nothing now; ask again after this long, ms.
    Idle {
        /// Recheck delay.
        recheck_ms: u64,
    },
    /// A LoRa round: send up to `max_frames` of priority up to `up_to` (none: only listen),
    /// then listen for the hub's answers.
    Lora {
        /// Highest priority class the round may carry.
        up_to: Priority,
        /// Frames at most.
        max_frames: u32,
    },
    /// A cellular session carrying everything up to `up_to`.
    Cellular {
        /// Highest priority class the session may carry.
        up_to: Priority,
    },
}

/// Fitted, allowed, up and not resting after rounds the hub did not answer.
fn ready(l: &LinkState, s: &Situation, p: &SchedulePolicy) -> bool {
    l.fitted && l.allowed && l.up && l.backoff.ready(s.now_ms, p, s.newest_urgent)
}

fn cellular_usable(s: &Situation, p: &SchedulePolicy) -> bool {
    ready(&s.cellular, s, p)
        && s.cellular
            .signal_dbm
            .is_some_and(|d| d >= p.min_cellular_dbm)
}

fn lora_frames(s: &Situation, p: &SchedulePolicy) -> u32 {
    let l = s.lora;
    if !ready(&l, s, p) {
        return 0;
    }
    let per = u64::from(l.frame_airtime_ms.max(1));
    u32::try_from(l.airtime_left_ms / per)
        .unwrap_or(u32::MAX)
        .min(p.max_lora_frames)
}

/// Decides what to do now.
pub fn plan(s: &Situation, p: &SchedulePolicy) -> Plan {
    let cellular = cellular_usable(s, p);
    let lora = lora_frames(s, p);
    let lora_only = !s.cellular.fitted;
    match s.top_priority {
        Some(top) if top <= Priority::Review => {
            if cellular {
                return Plan::Cellular {
                    up_to: Priority::Bulk,
                };
            }
            if lora > 0 {
                return Plan::Lora {
                    up_to: if lora_only {
                        Priority::Bulk
                    } else {
                        Priority::Review
                    },
                    max_frames: lora,
                };
            }
        }
        Some(_) => {
            let due = s.pending_bytes >= p.batch_bytes
                || s.last_cellular_ms
                    .is_none_or(|t| s.now_ms.saturating_sub(t) >= p.max_batch_age_ms);
            if cellular && due {
                return Plan::Cellular {
                    up_to: Priority::Bulk,
                };
            }
            if lora_only && lora > 0 {
                return Plan::Lora {
                    up_to: Priority::Bulk,
                    max_frames: lora,
                };
            }
        }
        None => {}
    }
    // Nothing due to send: fetch what waits at the hub now and then.
    let poll_due = s
        .last_cellular_ms
        .is_none_or(|t| s.now_ms.saturating_sub(t) >= p.poll_every_ms);
    if poll_due && cellular {
        return Plan::Cellular {
            up_to: Priority::Bulk,
        };
    }
    let listen_due = s
        .last_listen_ms
        .is_none_or(|t| s.now_ms.saturating_sub(t) >= p.listen_every_ms);
    if listen_due && ready(&s.lora, s, p) {
        return Plan::Lora {
            up_to: Priority::Urgent,
            max_frames: 0,
        };
    }
    Plan::Idle {
        recheck_ms: p.idle_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lora(left: u64) -> LinkState {
        LinkState {
            allowed: true,
            fitted: true,
            up: true,
            signal_dbm: None,
            airtime_left_ms: left,
            frame_airtime_ms: 400,
            backoff: Backoff::default(),
        }
    }

    fn cell(allowed: bool, dbm: Option<i16>) -> LinkState {
        LinkState {
            allowed,
            fitted: true,
            up: dbm.is_some(),
            signal_dbm: dbm,
            ..LinkState::default()
        }
    }

    fn situation(top: Option<Priority>, lora: LinkState, cellular: LinkState) -> Situation {
        Situation {
            now_ms: 10_000_000,
            lora,
            cellular,
            top_priority: top,
            pending_bytes: 2_000,
            last_cellular_ms: Some(9_000_000),
            last_listen_ms: Some(9_999_000),
            newest_urgent: top.filter(|t| *t <= Priority::Review).map(|_| 7),
        }
    }

    #[test]
    fn urgent_goes_at_once_by_the_best_link_allowed() {
        let p = SchedulePolicy::default();
        let s = situation(Some(Priority::Urgent), lora(36_000), cell(true, Some(-80)));
        assert_eq!(
            plan(&s, &p),
            Plan::Cellular {
                up_to: Priority::Bulk
            },
            "the session carries what waits"
        );
        // Critical power: no cellular; LoRa within its budget.
        let s = situation(Some(Priority::Urgent), lora(1_000), cell(false, Some(-80)));
        assert_eq!(
            plan(&s, &p),
            Plan::Lora {
                up_to: Priority::Review,
                max_frames: 2
            }
        );
        // Budget spent: wait.
        let s = situation(Some(Priority::Urgent), lora(100), cell(true, Some(-115)));
        assert!(matches!(plan(&s, &p), Plan::Idle { .. }));
    }

    /// The hub answers only a kit that calls: a kit with nothing to send still calls over
    /// cellular (or the camp's IP) once `poll_every_ms` passed since its last session, to
    /// fetch the match notices and decisions waiting there; not before, and not when
    /// cellular is off (then LoRa listens carry them).
    #[test]
    fn a_kit_with_nothing_to_send_calls_the_hub_now_and_then() {
        let p = SchedulePolicy::default();
        let mut s = situation(None, LinkState::default(), cell(true, Some(-80)));
        s.pending_bytes = 0;
        assert!(matches!(plan(&s, &p), Plan::Idle { .. }), "called recently");
        s.now_ms = 9_000_000 + p.poll_every_ms;
        assert_eq!(
            plan(&s, &p),
            Plan::Cellular {
                up_to: Priority::Bulk
            }
        );
        s.last_cellular_ms = None;
        assert!(
            matches!(plan(&s, &p), Plan::Cellular { .. }),
            "never called"
        );
        s.cellular = cell(false, Some(-80));
        assert!(matches!(plan(&s, &p), Plan::Idle { .. }), "cellular off");
        s.lora = lora(36_000);
        assert_eq!(
            plan(&s, &p),
            Plan::Lora {
                up_to: Priority::Urgent,
                max_frames: 0
            },
            "a LoRa listen instead"
        );
    }

    #[test]
    fn records_wait_for_a_cellular_batch_unless_the_kit_has_only_lora() {
        let p = SchedulePolicy::default();
        let s = situation(Some(Priority::Records), lora(36_000), cell(true, Some(-80)));
        assert!(
            matches!(plan(&s, &p), Plan::Idle { .. }),
            "small and recent: batch later"
        );
        let mut old = s;
        old.last_cellular_ms = Some(0);
        old.now_ms = 5 * 3_600_000;
        assert_eq!(
            plan(&old, &p),
            Plan::Cellular {
                up_to: Priority::Bulk
            }
        );
        let mut only_lora = s;
        only_lora.cellular = LinkState::default();
        assert_eq!(
            plan(&only_lora, &p),
            Plan::Lora {
                up_to: Priority::Bulk,
                max_frames: 8
            }
        );
    }

    #[test]
    fn an_idle_kit_still_listens_now_and_then() {
        let p = SchedulePolicy::default();
        let mut s = situation(None, lora(36_000), cell(true, Some(-80)));
        assert!(matches!(plan(&s, &p), Plan::Idle { .. }));
        s.last_listen_ms = Some(0);
        assert_eq!(
            plan(&s, &p),
            Plan::Lora {
                up_to: Priority::Urgent,
                max_frames: 0
            }
        );
    }

    /// A link whose rounds the hub did not answer: `n` failures in a row rest it
    /// 1, 2, 4 … minutes, never more than two hours; a round that reaches the hub ends it.
    #[test]
    fn a_link_the_hub_does_not_answer_rests_twice_as_long_after_each_failed_round() {
        let p = SchedulePolicy::default();
        let mut b = Backoff::default();
        assert_eq!(b.retry_at_ms(&p, None), None, "never failed: ready");
        let mut waits = Vec::new();
        for n in 0..10u64 {
            let now = 1_000_000 + n * 10_000_000;
            b.failed(now, None);
            let at = b.retry_at_ms(&p, None).unwrap();
            waits.push((at - now) / 60_000);
            assert!(!b.ready(at - 1, &p, None) && b.ready(at, &p, None));
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
        assert_eq!(b.failures(), 10);
        // Many more failures: still capped, no overflow.
        for _ in 0..100 {
            b.failed(5, None);
        }
        assert_eq!(b.retry_at_ms(&p, None), Some(5 + p.backoff_max_ms));
        b.succeeded();
        assert_eq!(b, Backoff::default());
        assert!(b.ready(0, &p, None));
    }

    /// An urgent alert (or notice, or decision) that waits is tried again at least every
    /// `urgent_retry_ms` however long the link rests; one queued after the last failure is
    /// tried at once; one already seen does not reset the rest.
    #[test]
    fn urgent_work_is_never_held_longer_than_the_urgent_retry_time() {
        let p = SchedulePolicy::default();
        let mut b = Backoff::default();
        for _ in 0..8 {
            b.failed(0, None);
        }
        assert_eq!(b.retry_at_ms(&p, None), Some(p.backoff_max_ms));
        // Urgent work queued after the failures (any id beats none): at once.
        assert_eq!(b.retry_at_ms(&p, Some(3)), None);
        // It failed again with that alert waiting: at most the urgent retry time.
        b.failed(1_000, Some(3));
        assert_eq!(b.retry_at_ms(&p, Some(3)), Some(1_000 + p.urgent_retry_ms));
        assert!(!b.ready(1_000 + p.urgent_retry_ms - 1, &p, Some(3)));
        // A newer one: at once.
        assert_eq!(b.retry_at_ms(&p, Some(4)), None);
        // The alert went out by the other link: the full rest again.
        assert_eq!(b.retry_at_ms(&p, None), Some(1_000 + p.backoff_max_ms));
        // A first failure with urgent work waiting: the short rest stays short.
        let mut once = Backoff::default();
        once.failed(0, Some(3));
        assert_eq!(once.retry_at_ms(&p, Some(3)), Some(p.backoff_base_ms));
    }

    /// A back-off taken back after a restart keeps its rest; one whose last failure is
    /// later than the restarted kit's clock (no real-time clock, an older time at boot)
    /// rests from now, never longer than it had left.
    #[test]
    fn a_restored_back_off_rests_no_longer_than_it_had_left() {
        let p = SchedulePolicy::default();
        let mut b = Backoff::default();
        b.failed(1_000_000, None);
        b.failed(1_000_000, None);
        assert_eq!(b.restored(1_060_000), b, "the clock went on: unchanged");
        assert_eq!(
            b.restored(1_060_000).retry_at_ms(&p, None),
            Some(1_000_000 + 2 * p.backoff_base_ms)
        );
        let behind = b.restored(5_000);
        assert_eq!(behind.failures(), 2);
        assert_eq!(
            behind.retry_at_ms(&p, None),
            Some(5_000 + 2 * p.backoff_base_ms)
        );
    }

    /// A modem that did not come up rests half an hour, five minutes while urgent work
    /// waits; never longer than the routine rest if that is set shorter.
    #[test]
    fn a_modem_rests_less_while_urgent_work_waits() {
        let p = SchedulePolicy::default();
        assert_eq!(p.modem_rest(false), 30 * 60_000);
        assert_eq!(p.modem_rest(true), 5 * 60_000);
        let short = SchedulePolicy {
            modem_rest_ms: 60_000,
            ..p
        };
        assert_eq!(short.modem_rest(true), 60_000);
    }

    /// The scheduler does not plan a resting link: urgent work goes by the other one, records
    /// and the hourly call wait, a LoRa listen waits too; after the rest, the link again.
    #[test]
    fn a_resting_link_is_left_alone_and_the_other_link_carries_urgent_work() {
        let p = SchedulePolicy::default();
        let mut resting = Backoff::default();
        resting.failed(9_900_000, None);
        resting.failed(9_900_000, None); // two in a row: 2 minutes, until 10_020_000
        let mut cellular = cell(true, Some(-80));
        cellular.backoff = resting;
        // Urgent work queued before the failures (id 7 seen), cellular resting: by LoRa.
        let mut seen = resting;
        seen.failed(9_900_000, Some(7));
        cellular.backoff = seen;
        let s = situation(Some(Priority::Urgent), lora(36_000), cellular);
        assert_eq!(
            plan(&s, &p),
            Plan::Lora {
                up_to: Priority::Review,
                max_frames: 8
            }
        );
        // Records due by age, and the hourly call: not while cellular rests.
        let mut records = situation(Some(Priority::Records), LinkState::default(), cellular);
        records.last_cellular_ms = Some(0);
        records.newest_urgent = None;
        assert!(matches!(plan(&records, &p), Plan::Idle { .. }));
        let mut poll = records;
        poll.top_priority = None;
        poll.pending_bytes = 0;
        assert!(matches!(plan(&poll, &p), Plan::Idle { .. }));
        // The rest is over (4 minutes after three failures): cellular again.
        poll.now_ms = 9_900_000 + 4 * 60_000;
        assert_eq!(
            plan(&poll, &p),
            Plan::Cellular {
                up_to: Priority::Bulk
            }
        );
        // A resting LoRa link does not listen either.
        let mut l = lora(36_000);
        l.backoff = resting;
        let mut listen = situation(None, l, cell(false, None));
        listen.last_listen_ms = Some(0);
        assert!(matches!(plan(&listen, &p), Plan::Idle { .. }));
        listen.now_ms = 9_900_000 + 2 * 60_000;
        assert_eq!(
            plan(&listen, &p),
            Plan::Lora {
                up_to: Priority::Urgent,
                max_frames: 0
            }
        );
        // Both links resting with an urgent alert seen: nothing until the urgent retry time.
        let mut both = situation(Some(Priority::Urgent), lora(36_000), cellular);
        both.lora.backoff = seen;
        both.now_ms = 9_900_000 + 5 * 60_000;
        for _ in 0..6 {
            both.cellular.backoff.failed(9_900_000, Some(7));
            both.lora.backoff.failed(9_900_000, Some(7));
        }
        assert!(matches!(plan(&both, &p), Plan::Idle { .. }));
        both.now_ms = 9_900_000 + p.urgent_retry_ms;
        assert!(matches!(plan(&both, &p), Plan::Cellular { .. }));
        // A new alert: at once.
        both.now_ms = 9_900_000 + 60_000;
        both.newest_urgent = Some(8);
        assert!(matches!(plan(&both, &p), Plan::Cellular { .. }));
    }
}

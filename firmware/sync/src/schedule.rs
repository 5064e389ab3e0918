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
//!   sends back.

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

fn cellular_usable(s: &Situation, p: &SchedulePolicy) -> bool {
    let c = s.cellular;
    c.fitted && c.allowed && c.up && c.signal_dbm.is_some_and(|d| d >= p.min_cellular_dbm)
}

fn lora_frames(s: &Situation, p: &SchedulePolicy) -> u32 {
    let l = s.lora;
    if !(l.fitted && l.allowed && l.up) {
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
    if listen_due && s.lora.fitted && s.lora.allowed && s.lora.up {
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
}

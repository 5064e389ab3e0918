//! Send counters that never repeat, even across a brown-out, and the receiver's replay window.
//!
//! A frame's nonce is its send counter, so a counter used twice under one key would expose
//! both plaintexts. LoRaWAN devices that keep counters in RAM and reset them after a power
//! cut either repeat nonces or open replay gaps. Here the counter is handed out only below a
//! limit that is already on disk: [`SendCounter::next`] asks the caller to persist a new
//! limit (one block ahead) *before* it hands out the first counter past the old one, and a
//! counter resumed after a restart starts at the persisted limit. Whatever was in flight
//! when the power went, every counter it could have used lies below that limit. Some
//! counters of the last block are skipped; none is ever reused.

use serde::{Deserialize, Serialize};

/// Counters stop below this (2^62: at a frame a second, 146 billion years), so the
/// receiver's window arithmetic cannot overflow and a counter needs at most 9 bytes.
pub const COUNTER_END: u64 = 1 << 62;

/// A limit the caller must write to durable storage before the counter goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the reservation must be persisted before counters below it are used"]
pub struct Reservation(pub u64);

/// Why no counter could be handed out.
#[derive(Debug, thiserror::Error)]
pub enum CounterError<E> {
    /// Persisting the next block failed; no counter was used.
    #[error("persisting the send counter's next block failed")]
    Persist(#[source] E),
    /// Every counter has been used: the key must be replaced (after 2^64 frames).
    #[error("send counters exhausted; re-key this link")]
    Exhausted,
}

/// A send counter reserved in blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCounter {
    next: u64,
    limit: u64,
    block: u64,
}

impl SendCounter {
    /// Default counters per reservation: one durable write per 64 frames.
    pub const DEFAULT_BLOCK: u64 = 64;

    /// Resumes from the limit last persisted (0 for a new link). Counters start at that
    /// limit, past anything a previous run could have used.
    pub fn resume(persisted_limit: u64, block: u64) -> Self {
        Self {
            next: persisted_limit,
            limit: persisted_limit,
            block: block.max(1),
        }
    }

    /// The next counter. When the reserved block is used up, `persist` is called with the
    /// new limit first; if it fails, nothing is handed out and the state is unchanged.
    pub fn next<E>(
        &mut self,
        persist: impl FnOnce(Reservation) -> Result<(), E>,
    ) -> Result<u64, CounterError<E>> {
        if self.next >= COUNTER_END {
            return Err(CounterError::Exhausted);
        }
        if self.next >= self.limit {
            let new_limit = self.limit.saturating_add(self.block).min(COUNTER_END);
            persist(Reservation(new_limit)).map_err(CounterError::Persist)?;
            self.limit = new_limit;
        }
        let c = self.next;
        self.next += 1;
        Ok(c)
    }

    /// The limit currently reserved (what storage holds).
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// Width of the replay window in frames.
pub const WINDOW: u64 = 128;

/// Why a counter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Replay {
    /// This counter was accepted before.
    #[error("frame replayed")]
    Seen,
    /// Older than the window: it may have been accepted before, so it is refused.
    #[error("frame older than the replay window")]
    TooOld,
}

/// The receiver's sliding window over counters (as in IPsec and WireGuard): frames may
/// arrive out of order within [`WINDOW`], never twice. Persist it in the same transaction
/// as what the accepted frame delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplayWindow {
    /// One past the highest counter accepted (0: none yet).
    top: u64,
    /// Bit `i` set: counter `top - 1 - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// Whether `counter` may be accepted. Does not change the window: call
    /// [`ReplayWindow::accept`] once the frame is authenticated.
    pub fn check(&self, counter: u64) -> Result<(), Replay> {
        if counter >= self.top {
            return Ok(());
        }
        let age = self.top - 1 - counter;
        if age >= WINDOW {
            return Err(Replay::TooOld);
        }
        if self.seen & (1u128 << age) != 0 {
            return Err(Replay::Seen);
        }
        Ok(())
    }

    /// Records `counter` as accepted (call only after [`ReplayWindow::check`] and
    /// authentication succeeded).
    pub fn accept(&mut self, counter: u64) {
        if counter >= COUNTER_END {
            return;
        }
        if counter >= self.top {
            let shift = counter + 1 - self.top;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.top = counter + 1;
        } else {
            let age = self.top - 1 - counter;
            if age < WINDOW {
                self.seen |= 1u128 << age;
            }
        }
    }

    /// The highest counter accepted.
    pub fn highest(&self) -> Option<u64> {
        self.top.checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[test]
    fn a_failed_persist_hands_out_nothing() {
        let mut c = SendCounter::resume(0, 4);
        let e = c.next(|_| Err::<(), _>("disk full"));
        assert!(matches!(e, Err(CounterError::Persist("disk full"))));
        assert_eq!(c.limit(), 0);
        let mut asked = None;
        let got = c.next(|r| {
            asked = Some(r);
            Ok::<_, Infallible>(())
        });
        assert_eq!(got.ok(), Some(0));
        assert_eq!(asked, Some(Reservation(4)));
        assert_eq!(c.limit(), 4);
    }

    #[test]
    fn the_window_takes_reordered_frames_once() {
        let mut w = ReplayWindow::default();
        for c in [5, 3, 4, 200, 100] {
            assert_eq!(w.check(c), Ok(()), "{c}");
            w.accept(c);
            assert_eq!(w.check(c), Err(Replay::Seen), "{c}");
        }
        assert_eq!(w.check(5), Err(Replay::TooOld));
        assert_eq!(w.check(73), Ok(()));
        assert_eq!(w.highest(), Some(200));
    }
}

//! Hybrid logical clock: wall time in milliseconds, a counter, and the device id.
//!
//! Stamps order every operation across kits: they follow wall time when clocks are sane, never
//! go backwards on one kit even when its clock does (a Pi has no real-time clock and may boot
//! in 1970), and the device id breaks ties so two kits never mint the same stamp.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::DeviceId;

/// One stamp. Ordered by wall time, then counter, then device.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch, as the minting kit believed.
    pub wall_ms: u64,
    /// Orders stamps minted within the same millisecond (or while the wall clock lags).
    pub counter: u32,
    /// The kit that minted the stamp.
    pub device: DeviceId,
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}@{}", self.wall_ms, self.counter, self.device)
    }
}

/// The latest wall time a stamp may carry: the last millisecond of the year 9999. A wall time
/// passed in or observed beyond it is taken as this, so `wall_ms + 1` can never overflow and a
/// bogus stamp from another kit cannot wrap the clock back to 1970 (issue 8, finding 13).
pub const MAX_WALL_MS: u64 = 253_402_300_799_999;

/// A kit's clock state. The caller passes the wall time in; the vault persists `last()` so the
/// clock survives a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A fresh clock for `device`.
    pub fn new(device: DeviceId) -> Self {
        HlcClock {
            last: Hlc {
                wall_ms: 0,
                counter: 0,
                device,
            },
        }
    }

    /// Resumes from a persisted stamp.
    pub fn resume(last: Hlc) -> Self {
        HlcClock { last }
    }

    /// The last stamp minted or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// The device this clock mints for.
    pub fn device(&self) -> DeviceId {
        self.last.device
    }

    /// Mints a stamp greater than every stamp minted or observed so far.
    pub fn tick(&mut self, wall_ms: u64) -> Hlc {
        let wall_ms = wall_ms.min(MAX_WALL_MS);
        let device = self.last.device;
        self.last = if wall_ms > self.last.wall_ms {
            Hlc {
                wall_ms,
                counter: 0,
                device,
            }
        } else if self.last.counter == u32::MAX {
            Hlc {
                // At most MAX_WALL_MS + 1: `last` never exceeds MAX_WALL_MS + 1 either, since
                // both inputs are clamped.
                wall_ms: self.last.wall_ms.saturating_add(1),
                counter: 0,
                device,
            }
        } else {
            Hlc {
                wall_ms: self.last.wall_ms,
                counter: self.last.counter + 1,
                device,
            }
        };
        self.last
    }

    /// Takes a stamp from another kit into account, so later local stamps sort after it.
    pub fn observe(&mut self, remote: Hlc) {
        let remote_wall = remote.wall_ms.min(MAX_WALL_MS);
        if (remote_wall, remote.counter) > (self.last.wall_ms, self.last.counter) {
            self.last = Hlc {
                wall_ms: remote_wall,
                counter: remote.counter,
                device: self.last.device,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_monotonic_even_when_the_wall_clock_goes_back() {
        let mut c = HlcClock::new(DeviceId(7));
        let a = c.tick(1_000);
        let b = c.tick(1_000);
        let d = c.tick(10); // clock reset after a power cut
        let e = c.tick(2_000);
        assert!(a < b && b < d && d < e);
        assert_eq!(d.wall_ms, 1_000);
        assert_eq!(d.counter, 2);
    }

    #[test]
    fn observing_a_remote_stamp_orders_later_local_ones_after_it() {
        let mut c = HlcClock::new(DeviceId(1));
        c.tick(100);
        let remote = Hlc {
            wall_ms: 5_000,
            counter: 3,
            device: DeviceId(2),
        };
        c.observe(remote);
        let next = c.tick(200);
        assert!(next > remote);
        assert_eq!(next.device, DeviceId(1));
    }

    #[test]
    fn counter_overflow_moves_to_the_next_millisecond() {
        let mut c = HlcClock::resume(Hlc {
            wall_ms: 5,
            counter: u32::MAX,
            device: DeviceId(1),
        });
        let next = c.tick(0);
        assert_eq!((next.wall_ms, next.counter), (6, 0));
    }

    #[test]
    fn a_stamp_at_the_end_of_time_does_not_wrap_the_clock() {
        let mut c = HlcClock::new(DeviceId(1));
        c.observe(Hlc {
            wall_ms: u64::MAX,
            counter: u32::MAX,
            device: DeviceId(2),
        });
        let a = c.tick(0);
        let b = c.tick(u64::MAX);
        assert!(a.wall_ms >= MAX_WALL_MS, "{a:?}");
        assert!(b > a, "{a:?} then {b:?}");
    }
}

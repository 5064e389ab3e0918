//! A clock the lockout can trust. Anyone at a kit can set its wall clock (a Raspberry Pi has no
//! battery-backed clock; the date is whatever was last saved or typed), so a wait measured on
//! the wall clock is skipped by moving the date forward. The boot-time clock cannot be set: it
//! counts from power-on (suspend included), and each boot has a random id. The lockout keeps the
//! last attempt's reading and measures elapsed time on it, with [`elapsed_ms`]:
//!
//! - in the same boot, the boot clock's difference, whatever the wall clock says;
//! - after a reboot, only the time since this boot: a lower bound of the real time (the kit
//!   may have been off for any time, but rebooting never shortens a wait by more than the
//!   reboot itself took);
//! - with no boot-clock reading for the last attempt (a vault from before this clock), the
//!   smaller of the wall clock's difference and the time since boot.
//!
//! The binary reads the clock ([`BootClock`]); this crate only compares readings.

use serde::{Deserialize, Serialize};

/// One reading of the boot-time clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uptime {
    /// This boot's random id (Linux: `/proc/sys/kernel/random/boot_id`).
    pub boot_id: [u8; 16],
    /// Milliseconds since boot, suspend included (Linux: `CLOCK_BOOTTIME`, `/proc/uptime`).
    pub since_boot_ms: u64,
}

/// Where readings come from: the binary's implementation reads the kernel's clock.
pub trait BootClock: Send + Sync {
    /// The clock now, or `None` when the platform has none (then only the wall clock counts).
    fn now(&self) -> Option<Uptime>;
}

/// No boot-time clock (tests, and platforms without one): waits are measured on the wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBootClock;

impl BootClock for NoBootClock {
    fn now(&self) -> Option<Uptime> {
        None
    }
}

/// Milliseconds that certainly passed since the attempt that read `last`, measured on the boot
/// clock reading `now`; `wall_elapsed_ms` (the wall clock's difference, 0 when it went back)
/// counts only when `last` has no reading. See the module's notes.
pub fn elapsed_ms(last: Option<Uptime>, now: Uptime, wall_elapsed_ms: u64) -> u64 {
    match last {
        Some(last) if last.boot_id == now.boot_id => {
            now.since_boot_ms.saturating_sub(last.since_boot_ms)
        }
        Some(_) => now.since_boot_ms,
        None => wall_elapsed_ms.min(now.since_boot_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOOT_A: [u8; 16] = [0xa; 16];
    const BOOT_B: [u8; 16] = [0xb; 16];

    fn at(boot_id: [u8; 16], since_boot_ms: u64) -> Uptime {
        Uptime {
            boot_id,
            since_boot_ms,
        }
    }

    #[test]
    fn moving_the_wall_clock_forward_does_not_shorten_a_wait() {
        // Ten seconds after the last attempt, with the date moved a day forward.
        let day = 86_400_000;
        assert_eq!(
            elapsed_ms(Some(at(BOOT_A, 60_000)), at(BOOT_A, 70_000), day),
            10_000
        );
    }

    #[test]
    fn a_reboot_counts_only_the_time_since_boot() {
        assert_eq!(
            elapsed_ms(Some(at(BOOT_A, 5_000_000)), at(BOOT_B, 40_000), 86_400_000),
            40_000
        );
    }

    #[test]
    fn without_a_last_reading_the_smaller_clock_counts() {
        assert_eq!(elapsed_ms(None, at(BOOT_A, 40_000), 86_400_000), 40_000);
        assert_eq!(elapsed_ms(None, at(BOOT_A, 40_000_000), 3_000), 3_000);
    }

    proptest! {
        #[test]
        fn elapsed_time_never_exceeds_the_boot_clock(
            last in proptest::option::of((any::<bool>(), 0u64..u64::MAX / 2)),
            now in 0u64..u64::MAX / 2,
            wall in any::<u64>(),
        ) {
            let last = last.map(|(same, ms)| at(if same { BOOT_A } else { BOOT_B }, ms));
            let e = elapsed_ms(last, at(BOOT_A, now), wall);
            prop_assert!(e <= now);
        }
    }
}

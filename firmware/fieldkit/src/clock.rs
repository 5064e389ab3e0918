//! The kernel's boot-time clock, for the vault's lockout: a reading nobody at the kit can set,
//! unlike the wall clock (see `fieldkit_vault::elapsed_ms`).

use fieldkit_vault::{BootClock, Uptime};

/// Reads `/proc/sys/kernel/random/boot_id` (random per boot) and `/proc/uptime` (seconds since
/// boot on `CLOCK_BOOTTIME`, suspend included).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcBootClock;

impl BootClock for ProcBootClock {
    fn now(&self) -> Option<Uptime> {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        Some(Uptime {
            boot_id: parse_boot_id(&boot_id)?,
            since_boot_ms: parse_uptime_ms(&uptime)?,
        })
    }
}

/// A boot id as the kernel prints it: a UUID, `8-4-4-4-12` hex digits.
fn parse_boot_id(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.trim().bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The first field of `/proc/uptime`, `SECONDS.CENTISECONDS`, in milliseconds.
fn parse_uptime_ms(text: &str) -> Option<u64> {
    let first = text.split_ascii_whitespace().next()?;
    let (secs, frac) = first.split_once('.').unwrap_or((first, "0"));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let mut ms = 0u64;
    for (i, d) in frac.bytes().take(3).enumerate() {
        ms += u64::from(d - b'0') * [100, 10, 1][i];
    }
    secs.checked_mul(1000)?.checked_add(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kernel_formats_parse() {
        assert_eq!(
            parse_boot_id("5b1e6c5e-4f55-4c7a-9f0e-0a1b2c3d4e5f\n"),
            Some([
                0x5b, 0x1e, 0x6c, 0x5e, 0x4f, 0x55, 0x4c, 0x7a, 0x9f, 0x0e, 0x0a, 0x1b, 0x2c, 0x3d,
                0x4e, 0x5f
            ])
        );
        assert_eq!(parse_boot_id("not a uuid"), None);
        assert_eq!(parse_uptime_ms("35119.52 68807.26\n"), Some(35_119_520));
        assert_eq!(parse_uptime_ms("7 1"), Some(7_000));
        assert_eq!(parse_uptime_ms("-3.5 1"), None);
        assert_eq!(parse_uptime_ms(""), None);
    }

    #[test]
    fn this_machine_has_a_boot_clock_that_moves_forward() {
        let a = ProcBootClock
            .now()
            .expect("Linux has /proc/uptime and a boot id");
        std::thread::sleep(std::time::Duration::from_millis(30));
        let b = ProcBootClock.now().expect("boot clock");
        assert_eq!(a.boot_id, b.boot_id);
        assert!(b.since_boot_ms >= a.since_boot_ms);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,60}") {
            let _ = parse_boot_id(&s);
            let _ = parse_uptime_ms(&s);
        }

        #[test]
        fn uptimes_read_back(secs in 0u64..10_000_000_000, cs in 0u64..100) {
            prop_assert_eq!(parse_uptime_ms(&format!("{secs}.{cs:02} 1.00")), Some(secs * 1000 + cs * 10));
        }
    }
}

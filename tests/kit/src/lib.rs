//! What fieldkit's tests and benchmarks share, in one place: a seeded random generator
//! ([`Rng`]), realistic deterministic cases ([`cases`]), proptest strategies for records of any
//! shape ([`arb`]) and the proptest settings every property test uses ([`proptest_config`]).
//!
//! It depends on `fieldkit-domain` only, so any crate's tests and benches can use it, the
//! vault's included. It never touches a vault, a device or the network, and it is never linked
//! into the `fieldkit` binary.

pub mod arb;
pub mod cases;

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, good enough for test data, and the same
/// sequence on every platform and for every version of the `rand` crates, so a printed seed
/// replays a run. Not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A seed that differs from run to run (the clock and the process id), for tests that
    /// explore: print it, and replay with it.
    pub fn fresh_seed() -> u64 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::new(nanos ^ u64::from(std::process::id()).rotate_left(32)).next_u64()
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `0..n` for indices (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi` < `lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add(self.below(span) as i64)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// A seed from the environment variable `var` when set (to replay a run), else a fresh one;
/// printed either way with the variable's name, so a failing run says how to replay it.
pub fn seed_from_env(var: &str, what: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|v| parse_u64(&v))
        .unwrap_or_else(Rng::fresh_seed);
    println!("{what}: {var}={seed}");
    seed
}

/// A count from the environment variable `var`, or `default` (the size CI runs).
pub fn count_from_env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| parse_u64(&v))
        .unwrap_or(default)
}

/// Decimal (underscores allowed) or `0x` hexadecimal.
fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim().replace('_', "");
    match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// Proptest settings for `cases` cases with failing cases kept for replay: proptest's default
/// looks for `lib.rs` above the test file, which a crate's `tests/` folder does not have, so it
/// warns on every run. This names the file outright: `<test file>.proptest-regressions`, beside
/// the test, to be committed when a case fails.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of SplitMix64 seeded with 0, from the reference C implementation
        // (Vigna, splitmix64.c).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn ranges_stay_inside_their_bounds() {
        let mut r = Rng::new(42);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x), "{x}");
            let u = r.unit();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.range(5, 1), 5);
        // The widest range must not overflow.
        r.range(i64::MIN, i64::MAX);
        assert_eq!(parse_u64("0x10"), Some(16));
        assert_eq!(parse_u64("1_000"), Some(1000));
    }
}

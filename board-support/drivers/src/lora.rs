//! LoRa radio arithmetic: time on air by Semtech's formula, and a 1 % duty-cycle budget.
//!
//! Time on air (SX127x/SX126x datasheets, Semtech AN1200.13):
//!
//! ```text
//! Tsym      = 2^SF / BW
//! Tpreamble = (Npreamble + 4.25) · Tsym            (SF5/6 on SX126x: + 6.25)
//! Npayload  = 8 + max(ceil((8·PL − 4·SF + 28 + 16·CRC − 20·IH) / (4·(SF − 2·DE))) · (CR + 4), 0)
//! T         = Tpreamble + Npayload · Tsym
//! ```
//!
//! with DE (low-data-rate optimisation) on when a symbol lasts 16 ms or more (SF11 and SF12
//! at 125 kHz), as the SX126x driver in RUI3 sets it. Computed in exact integer arithmetic
//! (microseconds, rounded down), so `no_std` needs no float library. At 125 kHz, CR 4/5,
//! preamble 8, explicit header and CRC: 13 bytes take 46.3 ms at SF7 and 1155.1 ms at SF12,
//! 64 bytes 118.0 ms at SF7 and 2793.5 ms at SF12 (the figures DESIGN.md §7 quotes).
//!
//! The duty-cycle budget keeps every transmission of the last hour in a ledger and allows a
//! new one only if the hour's total with it stays within the limit (EU868 sub-band g/g1:
//! 1 %, 36 s per hour), so the limit is never exceeded over any sliding hour. Time is
//! passed in by the caller (milliseconds on any monotonic clock).

use heapless::Deque;

/// LoRa bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bandwidth {
    /// 7.8 kHz
    K7_8,
    /// 10.4 kHz
    K10_4,
    /// 15.63 kHz
    K15_6,
    /// 20.83 kHz
    K20_8,
    /// 31.25 kHz
    K31_25,
    /// 41.67 kHz
    K41_7,
    /// 62.5 kHz
    K62_5,
    /// 125 kHz
    K125,
    /// 250 kHz
    K250,
    /// 500 kHz
    K500,
}

impl Bandwidth {
    /// Bandwidth in Hz (the fractional ones rounded as Semtech lists them).
    pub fn hz(self) -> u32 {
        match self {
            Bandwidth::K7_8 => 7_810,
            Bandwidth::K10_4 => 10_420,
            Bandwidth::K15_6 => 15_630,
            Bandwidth::K20_8 => 20_830,
            Bandwidth::K31_25 => 31_250,
            Bandwidth::K41_7 => 41_670,
            Bandwidth::K62_5 => 62_500,
            Bandwidth::K125 => 125_000,
            Bandwidth::K250 => 250_000,
            Bandwidth::K500 => 500_000,
        }
    }

    /// RUI3's index in `AT+P2P` (3.5.0b and later): 0 = 125, 1 = 250, 2 = 500, 3 = 7.8 …
    pub fn rui3_index(self) -> u8 {
        match self {
            Bandwidth::K125 => 0,
            Bandwidth::K250 => 1,
            Bandwidth::K500 => 2,
            Bandwidth::K7_8 => 3,
            Bandwidth::K10_4 => 4,
            Bandwidth::K15_6 => 5,
            Bandwidth::K20_8 => 6,
            Bandwidth::K31_25 => 7,
            Bandwidth::K41_7 => 8,
            Bandwidth::K62_5 => 9,
        }
    }

    /// The bandwidth of a RUI3 index, or of a value in kHz (125/250/500), as `AT+P2P=?`
    /// prints it on 3.x (kHz) and later firmware (index).
    pub fn from_rui3(v: u32) -> Option<Self> {
        Some(match v {
            0 | 125 => Bandwidth::K125,
            1 | 250 => Bandwidth::K250,
            2 | 500 => Bandwidth::K500,
            3 => Bandwidth::K7_8,
            4 => Bandwidth::K10_4,
            5 => Bandwidth::K15_6,
            6 => Bandwidth::K20_8,
            7 => Bandwidth::K31_25,
            8 => Bandwidth::K41_7,
            9 => Bandwidth::K62_5,
            _ => return None,
        })
    }
}

/// Radio settings that decide time on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Modulation {
    /// Spreading factor, 5–12.
    pub sf: u8,
    /// Bandwidth.
    pub bandwidth: Bandwidth,
    /// Coding rate 4/(4 + `cr`), `cr` 1–4 (RUI3 prints `cr − 1`: 0 = 4/5).
    pub cr: u8,
    /// Preamble symbols.
    pub preamble: u16,
    /// Explicit header (RUI3 P2P always sends one).
    pub explicit_header: bool,
    /// Payload CRC on (RUI3 P2P: on).
    pub crc: bool,
}

impl Modulation {
    /// RUI3's P2P defaults at a spreading factor: 125 kHz, 4/5, preamble 8.
    pub const fn p2p(sf: u8) -> Self {
        Self {
            sf,
            bandwidth: Bandwidth::K125,
            cr: 1,
            preamble: 8,
            explicit_header: true,
            crc: true,
        }
    }

    /// Symbol time in microseconds, exact as a fraction `num / den`.
    fn symbol_us(&self) -> (u64, u64) {
        let sf = u32::from(self.sf.clamp(5, 12));
        ((1u64 << sf) * 1_000_000, u64::from(self.bandwidth.hz()))
    }

    /// Low-data-rate optimisation: on when a symbol lasts 16 ms or more.
    pub fn low_data_rate_optimize(&self) -> bool {
        let (num, den) = self.symbol_us();
        num >= 16_000 * den
    }

    /// Payload symbols for `len` bytes.
    pub fn payload_symbols(&self, len: usize) -> u64 {
        let sf = i64::from(self.sf.clamp(5, 12));
        let de = i64::from(self.low_data_rate_optimize());
        let ih = i64::from(!self.explicit_header);
        let crc = i64::from(self.crc);
        let cr = i64::from(self.cr.clamp(1, 4));
        let pl = i64::try_from(len).unwrap_or(i64::MAX / 16).min(1 << 20);
        let num = if sf < 7 {
            // SX126x, SF5/6: no 8-symbol header term and no low-data-rate mode.
            8 * pl + 16 * crc - 4 * sf + 20 * (1 - ih)
        } else {
            8 * pl - 4 * sf + 28 + 16 * crc - 20 * ih
        };
        let den = 4 * (sf - if sf < 7 { 0 } else { 2 * de });
        let blocks = if num > 0 { (num + den - 1) / den } else { 0 };
        8 + (blocks * (cr + 4)) as u64
    }

    /// Time on air of a `len`-byte payload, in microseconds.
    pub fn time_on_air_us(&self, len: usize) -> u64 {
        let (num, den) = self.symbol_us();
        // Preamble: (n + 4.25) symbols, or (n + 6.25) at SF5/6; in quarter symbols.
        let extra_quarters = if self.sf < 7 { 25 } else { 17 };
        let quarters =
            4 * u64::from(self.preamble) + extra_quarters + 4 * self.payload_symbols(len);
        quarters * num / (4 * den)
    }

    /// Time on air of a `len`-byte payload, in milliseconds (rounded up).
    pub fn time_on_air_ms(&self, len: usize) -> u32 {
        u32::try_from(self.time_on_air_us(len).div_ceil(1000)).unwrap_or(u32::MAX)
    }
}

/// A transmission the budget refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The earliest time (ms) at which this transmission would fit.
    pub retry_at_ms: u64,
}

/// Transmissions kept in the ledger; a full ledger refuses further ones (never exceeds).
pub const LEDGER: usize = 1024;

/// A duty-cycle budget over a sliding window.
#[derive(Debug, Clone)]
pub struct DutyCycle {
    window_ms: u64,
    allowance_ms: u64,
    ledger: Deque<(u64, u32), LEDGER>,
}

impl DutyCycle {
    /// `permille` of every `window_ms` (EU868: 10 ‰ of an hour).
    pub fn new(permille: u32, window_ms: u64) -> Self {
        Self {
            window_ms,
            allowance_ms: window_ms * u64::from(permille) / 1000,
            ledger: Deque::new(),
        }
    }

    /// EU868's 1 % per hour.
    pub fn eu868() -> Self {
        Self::new(10, 3_600_000)
    }

    /// Airtime allowed per window, ms.
    pub fn allowance_ms(&self) -> u64 {
        self.allowance_ms
    }

    fn forget(&mut self, now_ms: u64) {
        while let Some(&(start, _)) = self.ledger.front() {
            if start.saturating_add(self.window_ms) <= now_ms {
                self.ledger.pop_front();
            } else {
                break;
            }
        }
    }

    /// Airtime used in the window ending at `now_ms`.
    pub fn used_ms(&mut self, now_ms: u64) -> u64 {
        self.forget(now_ms);
        self.ledger.iter().map(|&(_, ms)| u64::from(ms)).sum()
    }

    /// Whether `airtime_ms` may start at `now_ms`.
    pub fn check(&mut self, now_ms: u64, airtime_ms: u32) -> Result<(), OverBudget> {
        let used = self.used_ms(now_ms);
        if used + u64::from(airtime_ms) <= self.allowance_ms && !self.ledger.is_full() {
            return Ok(());
        }
        // Walk the ledger until enough has left the window.
        let mut freed = 0u64;
        let need = (used + u64::from(airtime_ms)).saturating_sub(self.allowance_ms);
        for &(start, ms) in self.ledger.iter() {
            freed += u64::from(ms);
            if freed >= need {
                return Err(OverBudget {
                    retry_at_ms: start + self.window_ms,
                });
            }
        }
        Err(OverBudget {
            retry_at_ms: now_ms + self.window_ms,
        })
    }

    /// Records a transmission (call only after [`DutyCycle::check`] allowed it).
    pub fn record(&mut self, now_ms: u64, airtime_ms: u32) {
        self.forget(now_ms);
        let _ = self.ledger.push_back((now_ms, airtime_ms));
    }

    /// The transmissions in the window (start, airtime, ms), oldest first: what a caller
    /// persists so that a restart does not forget the hour's airtime (the ledger lives in
    /// memory; a kit restarted with an empty one could send another full allowance).
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.ledger.iter().copied()
    }

    /// Takes back transmissions persisted before a restart, oldest first: each one that
    /// starts after the newest already held (so restoring twice adds nothing) and has not
    /// left the window at `now_ms`. One that starts after `now_ms` (the clock was set back)
    /// is kept until it leaves the window: that errs on the side of sending less.
    pub fn restore(&mut self, now_ms: u64, entries: impl IntoIterator<Item = (u64, u32)>) {
        self.forget(now_ms);
        for (start, ms) in entries {
            let newer = self.ledger.back().is_none_or(|&(last, _)| start > last);
            if newer && start.saturating_add(self.window_ms) > now_ms {
                // A full ledger refuses every transmission (see `check`): never exceeds.
                let _ = self.ledger.push_back((start, ms));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_on_air_matches_semtech_figures() {
        assert_eq!(Modulation::p2p(7).time_on_air_us(13), 46_336);
        assert_eq!(Modulation::p2p(12).time_on_air_us(13), 1_155_072);
        assert_eq!(Modulation::p2p(7).time_on_air_us(64), 118_016);
        assert_eq!(Modulation::p2p(12).time_on_air_us(64), 2_793_472);
        assert!(Modulation::p2p(11).low_data_rate_optimize());
        assert!(!Modulation::p2p(10).low_data_rate_optimize());
        // SF10, 51 bytes (the largest LoRaWAN EU868 payload at SF10): 75.25 symbols of 8.192 ms.
        assert_eq!(Modulation::p2p(10).time_on_air_us(51), 616_448);
    }

    /// A restart with the persisted ledger: the hour's airtime is still counted, restoring
    /// twice counts it once, and what left the window is dropped.
    #[test]
    fn a_restored_ledger_keeps_the_hour_s_airtime() {
        let mut d = DutyCycle::eu868();
        d.record(1_000, 20_000);
        d.record(2_000_000, 10_000);
        let saved: std::vec::Vec<(u64, u32)> = d.entries().collect();
        assert_eq!(saved, [(1_000, 20_000), (2_000_000, 10_000)]);
        let mut restarted = DutyCycle::eu868();
        restarted.restore(3_000_000, saved.iter().copied());
        restarted.restore(3_000_000, saved.iter().copied());
        assert_eq!(restarted.used_ms(3_000_000), 30_000);
        assert_eq!(
            restarted.check(3_000_000, 7_000),
            Err(OverBudget {
                retry_at_ms: 3_601_000
            })
        );
        // An hour after the first: only the second is left.
        let mut later = DutyCycle::eu868();
        later.restore(3_601_000, saved.iter().copied());
        assert_eq!(later.used_ms(3_601_000), 10_000);
        assert_eq!(later.entries().count(), 1);
    }

    #[test]
    fn the_budget_is_never_exceeded_over_any_hour() {
        let mut d = DutyCycle::eu868();
        let mut now = 0u64;
        let mut sent: std::vec::Vec<(u64, u32)> = std::vec::Vec::new();
        for _ in 0..5000 {
            let ms = 1155;
            match d.check(now, ms) {
                Ok(()) => {
                    d.record(now, ms);
                    sent.push((now, ms));
                    now += 1;
                }
                Err(e) => {
                    assert!(e.retry_at_ms > now);
                    now = e.retry_at_ms;
                }
            }
        }
        for &(t, _) in &sent {
            let used: u64 = sent
                .iter()
                .filter(|(s, _)| *s >= t && *s < t + 3_600_000)
                .map(|(_, m)| u64::from(*m))
                .sum();
            assert!(used <= 36_000, "{used} ms in the hour from {t}");
        }
        assert!(sent.len() > 60);
    }
}

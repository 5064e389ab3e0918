//! Rate limiting for warnings about bad readings: the decision only, so the caller logs.

use crate::Timestamp;

/// Lets a warning through at most once per interval per source, and counts the ones it
/// held back so the next message can say how many.
#[derive(Debug, Clone)]
pub struct WarnLimiter {
    interval_s: u64,
    last: Vec<(&'static str, Timestamp, u32)>,
}

impl WarnLimiter {
    /// At most one warning per `interval_s` seconds for each source.
    pub fn new(interval_s: u64) -> Self {
        Self {
            interval_s,
            last: Vec::new(),
        }
    }

    /// Whether to log a warning from `source` now; `Some(n)` says yes and that `n` were
    /// suppressed since the last one, `None` says stay quiet.
    pub fn check(&mut self, source: &'static str, now: Timestamp) -> Option<u32> {
        match self.last.iter_mut().find(|(s, _, _)| *s == source) {
            None => {
                self.last.push((source, now, 0));
                Some(0)
            }
            Some((_, at, suppressed)) => {
                if now.since(*at) >= self.interval_s {
                    let held = *suppressed;
                    *at = now;
                    *suppressed = 0;
                    Some(held)
                } else {
                    *suppressed = suppressed.saturating_add(1);
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_per_source() {
        let mut w = WarnLimiter::new(60);
        let t = Timestamp(1000);
        assert_eq!(w.check("gauge", t), Some(0));
        assert_eq!(w.check("gauge", t.plus_s(1)), None);
        assert_eq!(w.check("charger", t.plus_s(1)), Some(0));
        assert_eq!(w.check("gauge", t.plus_s(30)), None);
        assert_eq!(w.check("gauge", t.plus_s(60)), Some(2));
    }
}

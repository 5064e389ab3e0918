//! Calendar dates as Primero writes them: ISO `YYYY-MM-DD`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date without time zone.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

/// A date that is not `YYYY-MM-DD` or does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", date_problem(.0))]
pub struct DateError(pub String);

/// Why a text is not a date: the wrong shape, or a day the calendar does not have
/// (`2015-02-30`), which people type and deserve to be told about plainly.
fn date_problem(text: &str) -> String {
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|t| t.parse::<u16>().ok());
    let bytes = text.as_bytes();
    let shaped = bytes.get(4) == Some(&b'-') && bytes.get(7) == Some(&b'-');
    match (shaped, num(0..4), num(5..7), num(8..10)) {
        (true, Some(year), Some(month), Some(day)) => {
            match u8::try_from(month)
                .ok()
                .and_then(|m| time::Month::try_from(m).ok())
            {
                None => format!("`{text}`: there is no month {month} (months run 01 to 12)"),
                Some(m) => {
                    let days = time::util::days_in_month(m, i32::from(year));
                    if day == 0 || day > u16::from(days) {
                        format!("`{text}`: that day does not exist ({m} {year} has {days} days)")
                    } else {
                        format!("`{text}` is not a date in the form YYYY-MM-DD")
                    }
                }
            }
        }
        _ => format!("`{text}` is not a date in the form YYYY-MM-DD"),
    }
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

const ISO: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Date {
    /// The date with the given year, month (1–12) and day.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Result<Self, DateError> {
        let m =
            time::Month::try_from(month).map_err(|_| DateError(format!("{year}-{month}-{day}")))?;
        time::Date::from_calendar_date(year, m, day)
            .map(Date)
            .map_err(|_| DateError(format!("{year:04}-{month:02}-{day:02}")))
    }

    /// The date `unix_ms` milliseconds after the epoch falls on (UTC).
    pub fn from_unix_ms(unix_ms: u64) -> Self {
        let days = i64::try_from(unix_ms / 86_400_000).unwrap_or(i64::MAX);
        Date::from_days_since_epoch(days)
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(&self) -> i64 {
        i64::from(self.0.to_julian_day()) - i64::from(UNIX_EPOCH_JULIAN_DAY)
    }

    /// The date `days` after 1970-01-01, clamped to the supported range.
    pub fn from_days_since_epoch(days: i64) -> Self {
        let jd = i64::from(UNIX_EPOCH_JULIAN_DAY).saturating_add(days);
        let jd = jd.clamp(
            i64::from(time::Date::MIN.to_julian_day()),
            i64::from(time::Date::MAX.to_julian_day()),
        );
        let jd = i32::try_from(jd).unwrap_or(0);
        Date(time::Date::from_julian_day(jd).unwrap_or(time::Date::MIN))
    }

    /// Year.
    pub fn year(&self) -> i32 {
        self.0.year()
    }

    /// Month, 1–12.
    pub fn month(&self) -> u8 {
        u8::from(self.0.month())
    }

    /// Day of the month.
    pub fn day(&self) -> u8 {
        self.0.day()
    }

    /// Whole years from `self` (a birth date) to `on`.
    pub fn age_on(&self, on: Date) -> i32 {
        let mut years = on.year() - self.year();
        if (on.month(), on.day()) < (self.month(), self.day()) {
            years -= 1;
        }
        years
    }

    /// Days from `self` to `other` (positive when `other` is later).
    pub fn days_until(&self, other: Date) -> i64 {
        other.days_since_epoch() - self.days_since_epoch()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        )
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Primero sometimes sends a full timestamp; the date part is what counts.
        let day = s
            .get(..10)
            .filter(|_| s.len() == 10 || s.as_bytes().get(10) == Some(&b'T'));
        let day = day.ok_or_else(|| DateError(s.to_string()))?;
        time::Date::parse(day, ISO)
            .map(Date)
            .map_err(|_| DateError(s.to_string()))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_day_is_named_as_such() {
        let e = "2015-02-30".parse::<Date>().unwrap_err().to_string();
        assert!(
            e.contains("does not exist") && e.contains("February 2015 has 28 days"),
            "{e}"
        );
        let e = "2015-02-28x".parse::<Date>().unwrap_err().to_string();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
        let e = "2015-13-01".parse::<Date>().unwrap_err().to_string();
        assert!(e.contains("no month 13"), "{e}");
        let e = "30/02/2015".parse::<Date>().unwrap_err().to_string();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn parses_and_prints_iso_dates() {
        let d: Date = "2016-02-29".parse().unwrap();
        assert_eq!(d.to_string(), "2016-02-29");
        assert!("2017-02-29".parse::<Date>().is_err());
        assert!("29/02/2016".parse::<Date>().is_err());
        assert!("".parse::<Date>().is_err());
        assert_eq!("2016-02-29T10:00:00Z".parse::<Date>().unwrap(), d);
    }

    #[test]
    fn ages_count_whole_years() {
        let dob: Date = "2015-06-15".parse().unwrap();
        assert_eq!(dob.age_on("2026-06-14".parse().unwrap()), 10);
        assert_eq!(dob.age_on("2026-06-15".parse().unwrap()), 11);
    }

    #[test]
    fn unix_days_round_trip() {
        let d: Date = "2026-11-30".parse().unwrap();
        assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), d);
        assert_eq!(Date::from_unix_ms(0).to_string(), "1970-01-01");
    }
}

//! Time as the caller hands it in. The core never reads a clock: every
//! command and reply carries `now`, so a replay or a simulation is exact.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// One day, in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Timestamp {
    /// `self` plus `days` whole days.
    pub fn plus_days(self, days: u32) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::from(days) * DAY_MS))
    }

    /// `self` plus `minutes`.
    pub fn plus_minutes(self, minutes: u32) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::from(minutes) * 60_000))
    }

    /// The calendar date at `utc_offset_minutes` from UTC.
    pub fn local_date(self, utc_offset_minutes: i32) -> Date {
        let local = self.0 + i64::from(utc_offset_minutes) * 60_000;
        Date::from_days(local.div_euclid(DAY_MS))
    }

    /// Local `(hour, minute, second)` at `utc_offset_minutes` from UTC.
    pub fn local_time(self, utc_offset_minutes: i32) -> (u32, u32, u32) {
        let local = self.0 + i64::from(utc_offset_minutes) * 60_000;
        let secs = local.rem_euclid(DAY_MS) / 1000;
        (
            (secs / 3600) as u32,
            (secs / 60 % 60) as u32,
            (secs % 60) as u32,
        )
    }
}

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day, 1–31.
    pub day: u32,
}

impl Date {
    /// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl Date {
    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Parses `YYYY-MM-DD`, refusing dates that do not exist.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b[r.clone()]
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| text[r].parse::<u32>().ok())
                .flatten()
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let date = Date {
            year: digits(0..4)? as i32,
            month: digits(5..7)?,
            day: digits(8..10)?,
        };
        (Date::from_days(date.to_days()) == date).then_some(date)
    }

    /// Day of the week, 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday).
    pub fn weekday(self) -> u32 {
        ((self.to_days() + 3).rem_euclid(7) + 1) as u32
    }

    /// The day after.
    pub fn next_day(self) -> Date {
        Date::from_days(self.to_days() + 1)
    }

    /// The date `n` business days after `self`, skipping Saturdays, Sundays
    /// and `holidays` (`n = 0` is `self`).
    pub fn plus_business_days(self, n: u32, holidays: &[Date]) -> Date {
        let mut date = self;
        let mut left = n;
        while left > 0 {
            date = date.next_day();
            if date.weekday() <= 5 && !holidays.contains(&date) {
                left -= 1;
            }
        }
        date
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text).ok_or_else(|| serde::de::Error::custom("a date as YYYY-MM-DD"))
    }
}

impl std::fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_offsets() {
        assert_eq!(Timestamp(0).local_date(0).to_string(), "1970-01-01");
        // 2026-11-22T16:30:00Z is already the 23rd in Beijing.
        let t = Timestamp(1_795_365_000_000);
        assert_eq!(t.local_date(0).to_string(), "2026-11-22");
        assert_eq!(t.local_date(480).to_string(), "2026-11-23");
        assert_eq!(t.local_time(480), (0, 30, 0));
        assert_eq!(Date::from_days(-1).to_string(), "1969-12-31");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
    }

    #[test]
    fn days_round_trip_and_business_days() {
        for days in [-800_000, -1, 0, 11_016, 20_779, 2_000_000] {
            assert_eq!(Date::from_days(days).to_days(), days);
        }
        assert_eq!(Date::parse("2026-02-29"), None);
        assert_eq!(Date::parse("2026-1-01"), None);
        let fri = Date::parse("2026-11-20").unwrap();
        assert_eq!(fri.weekday(), 5);
        assert_eq!(fri.plus_business_days(1, &[]).to_string(), "2026-11-23");
        let holiday = Date::parse("2026-11-23").unwrap();
        assert_eq!(
            fri.plus_business_days(1, &[holiday]).to_string(),
            "2026-11-24"
        );
        assert_eq!(fri.plus_business_days(0, &[]), fri);
    }
}

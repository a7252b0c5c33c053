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
}

//! Naive timestamp strings as the raw files carry them.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS`, optionally followed by `.` and 1 to 9 fraction digits, optionally
//! followed by `Z`. That covers every form in seed-analysis §1.5: `isoformat()` without microseconds,
//! `%S.%f`, the simulator's `%SZ`, and longer fractions from other writers. Times are naive (no zone);
//! a trailing `Z` is accepted and ignored, as the original's `strptime(..., '%SZ')` did. Years run
//! from 0001 to 9999, Python's `datetime` range (the original's parser); the date and time must exist
//! (no February 30, no hour 24, no leap second 60).

use chrono::NaiveDate;

use super::schema::TimestampPrecision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NaiveTimestamp {
    /// Seconds since 1970-01-01T00:00:00 (naive).
    pub seconds: i64,
    /// 0..1_000_000_000
    pub nanos: u32,
}

impl NaiveTimestamp {
    /// Milliseconds since the epoch, truncated to `precision` first (never rounded).
    pub fn to_millis(self, precision: TimestampPrecision) -> i64 {
        let sub_second_ms = match precision {
            TimestampPrecision::Millisecond => i64::from(self.nanos / 1_000_000),
            TimestampPrecision::Second => 0,
        };
        self.seconds * 1000 + sub_second_ms
    }
}

/// Parses one timestamp string; `None` when it is not one of the accepted forms or not a real
/// calendar date/time.
pub fn parse(s: &str) -> Option<NaiveTimestamp> {
    parse_bytes(s.as_bytes())
}

/// [`parse`] of the string's bytes (anything not ASCII fails).
pub fn parse_bytes(b: &[u8]) -> Option<NaiveTimestamp> {
    let b = b.strip_suffix(b"Z").unwrap_or(b);
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(&b[0..4]).filter(|&y| y >= 1)?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let time =
        NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, minute, second)?;
    Some(NaiveTimestamp {
        seconds: time.and_utc().timestamp(),
        nanos,
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimestampPrecision::{Millisecond, Second};

    const BASE: i64 = 1_705_190_361; // 2024-01-13T23:59:21

    fn ms(s: &str, p: TimestampPrecision) -> Option<i64> {
        parse(s).map(|t| t.to_millis(p))
    }

    #[test]
    fn accepts_every_documented_form() {
        assert_eq!(ms("2024-01-13T23:59:21", Millisecond), Some(BASE * 1000));
        assert_eq!(ms("2024-01-13T23:59:21Z", Millisecond), Some(BASE * 1000));
        assert_eq!(
            ms("2024-01-13T23:59:21.654999", Millisecond),
            Some(BASE * 1000 + 654)
        );
        assert_eq!(
            ms("2024-01-13T23:59:21.654999Z", Millisecond),
            Some(BASE * 1000 + 654)
        );
        assert_eq!(
            ms("2024-01-13T23:59:21.6", Millisecond),
            Some(BASE * 1000 + 600)
        );
        assert_eq!(
            ms("2024-01-13T23:59:21.999999999", Millisecond),
            Some(BASE * 1000 + 999)
        );
    }

    #[test]
    fn truncates_to_the_column_unit() {
        assert_eq!(ms("2024-01-13T23:59:21.999999", Second), Some(BASE * 1000));
        assert_eq!(
            ms("2024-01-13T23:59:21.0009", Millisecond),
            Some(BASE * 1000)
        );
    }

    #[test]
    fn accepts_the_whole_year_range() {
        assert_eq!(
            ms("0001-01-01T00:00:00", Millisecond),
            Some(-62_135_596_800_000)
        );
        assert_eq!(
            ms("9999-12-31T23:59:59.999999999Z", Millisecond),
            Some(253_402_300_799_999)
        );
    }

    #[test]
    fn truncates_towards_the_past_before_1970() {
        // pyarrow: s * 1000 + us / 1000 with us >= 0
        assert_eq!(ms("1969-12-31T23:59:59.500", Millisecond), Some(-500));
    }

    #[test]
    fn rejects_malformed_and_impossible_values() {
        for bad in [
            "",
            "2024-01-13",
            "2024-01-13 23:59:21",
            "2024-01-13T23:59:21.",
            "2024-01-13T23:59:21.1234567890",
            "2024-01-13T23:59:21ZZ",
            "2024-01-13T23:59:21+00:00",
            "2024-02-30T00:00:00",
            "2024-01-13T24:00:00",
            "2024-01-13T23:60:00",
            "2024-01-13T23:59:60",
            "2024-1-13T23:59:21",
            "２０２４-01-13T23:59:21",
            "2024-01-13T23:59:2a",
            "0000-01-01T00:00:00",
            " 2024-01-13T23:59:21",
            "2024-01-13T23:59:21 ",
            "2024-01-13t23:59:21",
            "2024-01-13T23:59:21z",
            "+2024-01-13T23:59:21",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}

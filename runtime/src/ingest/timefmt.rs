//! Timestamp forms used on the wire and in raw files (seed §1.5, §2.5).
//!
//! Accepted on input: `YYYY-MM-DDTHH:MM:SS`, with an optional `.f` fraction (1 to 9 digits) and an
//! optional trailing `Z`. Written on output: `YYYY-MM-DDTHH:MM:SS.ffffff` (always 6 digits, naive, UTC).

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

/// The raw files' timestamp format (`strftime('%Y-%m-%dT%H:%M:%S.%f')`).
pub const RAW_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";
/// Length of a [`RAW_FORMAT`] text of a year 0-9999.
pub const RAW_LEN: usize = 26;

/// Parses any of the simulator's timestamp forms. Returns `None` when the text is not one of them.
pub fn parse_loose(text: &str) -> Option<NaiveDateTime> {
    let t = text.strip_suffix('Z').unwrap_or(text);
    // `%.f` accepts an optional fraction of any length.
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// Formats as `YYYY-MM-DDTHH:MM:SS.ffffff`: `t.format(RAW_FORMAT)`, written digit by digit (chrono's
/// formatter interprets the pattern on every call, a few times per message).
pub fn format_raw(t: &NaiveDateTime) -> String {
    let year = t.year();
    if !(0..=9999).contains(&year) || t.nanosecond() >= 1_000_000_000 {
        // Signed or 5-digit years, leap seconds: chrono's own rendering.
        return t.format(RAW_FORMAT).to_string();
    }
    let mut b = RAW_TEMPLATE;
    put_date(&mut b, year as u32, t.month(), t.day());
    put_time(
        &mut b,
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1_000,
    );
    // ASCII digits and separators: always valid, so nothing is ever replaced.
    match std::str::from_utf8(&b) {
        Ok(text) => text.to_owned(),
        // Unreachable: every byte above is an ASCII digit or separator.
        Err(_) => t.format(RAW_FORMAT).to_string(),
    }
}

/// A [`RAW_FORMAT`] text of a year 0-9999 before its date and time are written.
const RAW_TEMPLATE: [u8; RAW_LEN] = *b"0000-00-00T00:00:00.000000";

/// Writes the date part of a [`RAW_TEMPLATE`] text.
fn put_date(b: &mut [u8; RAW_LEN], year: u32, month: u32, day: u32) {
    put_digits(&mut b[0..4], year);
    put_digits(&mut b[5..7], month);
    put_digits(&mut b[8..10], day);
}

/// Writes the time part of a [`RAW_TEMPLATE`] text.
fn put_time(b: &mut [u8; RAW_LEN], hour: u32, minute: u32, second: u32, micros: u32) {
    put_digits(&mut b[11..13], hour);
    put_digits(&mut b[14..16], minute);
    put_digits(&mut b[17..19], second);
    put_digits(&mut b[20..26], micros);
}

/// Writes the last `out.len()` decimal digits of `v`, zero-padded.
fn put_digits(out: &mut [u8], mut v: u32) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Kafka epoch milliseconds as a naive UTC datetime (`None` when out of range).
pub fn from_epoch_ms(ms: i64) -> Option<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|d| d.naive_utc())
}

/// Kafka epoch milliseconds as raw text (`None` when out of range); [`EpochMsText`] writes the
/// same for a batch's run of times.
pub fn format_epoch_ms(ms: i64) -> Option<String> {
    from_epoch_ms(ms).map(|t| format_raw(&t))
}

/// Kafka epoch milliseconds as raw text, `format_raw(&from_epoch_ms(ms)?)`, for the messages of a
/// batch: they share a day or two, so the date is worked out with chrono once per day and the
/// time of day with integer arithmetic (chrono's conversion and a String per message cost more
/// than the rest of the buffer row).
#[derive(Debug, Default)]
pub struct EpochMsText {
    /// The day (`ms.div_euclid(MS_PER_DAY)`) the fields below are for.
    day: Option<i64>,
    /// Whether that day's year is 0-9999: then `text` holds its date, and the last time of day
    /// written; otherwise each text is [`format_raw`]'s, in `other`.
    four_digit_year: bool,
    text: [u8; RAW_LEN],
    other: String,
}

const MS_PER_DAY: i64 = 86_400_000;

impl EpochMsText {
    pub fn new() -> Self {
        Self::default()
    }

    /// The text of `ms`, or `None` when chrono has no datetime for it.
    pub fn text(&mut self, ms: i64) -> Option<&str> {
        let day = ms.div_euclid(MS_PER_DAY);
        if self.day != Some(day) {
            self.set_day(day, ms)?;
        }
        if !self.four_digit_year {
            self.other = format_epoch_ms(ms)?;
            return Some(&self.other);
        }
        let of_day = ms.rem_euclid(MS_PER_DAY);
        put_time(
            &mut self.text,
            (of_day / 3_600_000) as u32,
            (of_day / 60_000 % 60) as u32,
            (of_day / 1000 % 60) as u32,
            (of_day % 1000) as u32 * 1000,
        );
        std::str::from_utf8(&self.text).ok()
    }

    /// Takes `day` (of `ms`) as the current one.
    fn set_day(&mut self, day: i64, ms: i64) -> Option<()> {
        self.day = None;
        let date = from_epoch_ms(ms)?;
        let year = date.year();
        self.four_digit_year = (0..=9999).contains(&year);
        if self.four_digit_year {
            self.text = RAW_TEMPLATE;
            put_date(&mut self.text, year as u32, date.month(), date.day());
        }
        self.day = Some(day);
        Some(())
    }
}

/// Python's `datetime.isoformat()`: the fraction is left out when microseconds are 0.
pub fn python_isoformat(t: &NaiveDateTime) -> String {
    if t.and_utc().timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        t.format(RAW_FORMAT).to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_simulator_form() {
        for (input, want) in [
            ("2024-01-13T22:25:40Z", "2024-01-13T22:25:40.000000"),
            ("2024-01-13T22:25:41.654321", "2024-01-13T22:25:41.654321"),
            ("2024-01-13T22:25:41.654321Z", "2024-01-13T22:25:41.654321"),
            ("2024-01-13T22:25:41", "2024-01-13T22:25:41.000000"),
            ("2024-01-13T22:25:41.5", "2024-01-13T22:25:41.500000"),
        ] {
            let t = parse_loose(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(format_raw(&t), want);
        }
        for bad in [
            "",
            "2024-01-13",
            "2024-13-13T00:00:00",
            "yesterday",
            "2024-01-13 22:25:40",
        ] {
            assert!(parse_loose(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn format_raw_is_chronos_format() {
        use chrono::NaiveDate;
        let mut cases = vec![
            NaiveDate::from_ymd_opt(0, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 999_999_999)
                .unwrap(),
            NaiveDate::from_ymd_opt(10000, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(-1, 6, 15)
                .unwrap()
                .and_hms_micro_opt(1, 2, 3, 4)
                .unwrap(),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_milli_opt(23, 59, 59, 1_500)
                .unwrap(),
        ];
        // Every millisecond-ish step over a few centuries, as Kafka timestamps arrive.
        let mut ms: i64 = -2_000_000_000_000;
        while ms < 40_000_000_000_000 {
            cases.push(from_epoch_ms(ms).unwrap());
            ms += 7_777_777_777 + ms.rem_euclid(1_000);
        }
        for t in cases {
            assert_eq!(format_raw(&t), t.format(RAW_FORMAT).to_string(), "{t:?}");
        }
    }

    /// The day-cached text is `format_raw` of chrono's datetime for every millisecond, across
    /// days, years 0 and 9999, negative times and times chrono has no datetime for.
    #[test]
    fn epoch_ms_text_is_format_raw_of_from_epoch_ms() {
        let mut starts = vec![
            0,
            -1,
            1_705_190_360_317,
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001,
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000,
            i64::MIN,
            i64::MAX,
            i64::MIN + 86_399_999,
            -8_334_632_851_200_000, // chrono's first day
            8_210_298_412_799_999,  // chrono's last millisecond
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            starts.push((x % 400_000_000_000_000) as i64 - 100_000_000_000_000);
        }
        let mut text = EpochMsText::new();
        for start in starts {
            // Runs within a day and across the next midnight, as a batch's times arrive.
            let mut ms = start;
            for step in [
                0, 1, 999, 1000, 59_999, 3_600_000, 86_399_999, 86_400_000, 7, 1,
            ] {
                ms = ms.saturating_add(step);
                let want = from_epoch_ms(ms).map(|t| format_raw(&t));
                assert_eq!(text.text(ms).map(str::to_string), want, "{ms}");
            }
        }
    }

    #[test]
    fn kafka_ms_has_six_digit_fraction() {
        let t = from_epoch_ms(1_705_184_741_654).unwrap();
        assert_eq!(format_raw(&t), "2024-01-13T22:25:41.654000");
    }

    #[test]
    fn isoformat_drops_zero_fraction() {
        let t = parse_loose("2024-01-13T22:25:41").unwrap();
        assert_eq!(python_isoformat(&t), "2024-01-13T22:25:41");
        let t = parse_loose("2024-01-13T22:25:41.000001").unwrap();
        assert_eq!(python_isoformat(&t), "2024-01-13T22:25:41.000001");
    }
}

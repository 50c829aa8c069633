//! Timestamp forms used on the wire and in raw files (seed §1.5, §2.5).
//!
//! Accepted on input: `YYYY-MM-DDTHH:MM:SS`, with an optional `.f` fraction (1 to 9 digits) and an
//! optional trailing `Z`. Written on output: `YYYY-MM-DDTHH:MM:SS.ffffff` (always 6 digits, naive, UTC).

use chrono::{DateTime, NaiveDateTime, Utc};

/// The raw files' timestamp format (`strftime('%Y-%m-%dT%H:%M:%S.%f')`).
pub const RAW_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// Parses any of the simulator's timestamp forms. Returns `None` when the text is not one of them.
pub fn parse_loose(text: &str) -> Option<NaiveDateTime> {
    let t = text.strip_suffix('Z').unwrap_or(text);
    // `%.f` accepts an optional fraction of any length.
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// Formats as `YYYY-MM-DDTHH:MM:SS.ffffff`.
pub fn format_raw(t: &NaiveDateTime) -> String {
    t.format(RAW_FORMAT).to_string()
}

/// Kafka epoch milliseconds as a naive UTC datetime (`None` when out of range).
pub fn from_epoch_ms(ms: i64) -> Option<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|d| d.naive_utc())
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

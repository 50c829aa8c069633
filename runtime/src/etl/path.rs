//! Raw blob names and the standard names derived from them.
//!
//! A raw name is `[raw/]<folder>/YYYY/MM/DD/<file>.json.gzip` (the Functions host passes it relative
//! to container `raw`). The standard outputs, all in the standard container:
//!
//! | output                         | name                                              |
//! |--------------------------------|---------------------------------------------------|
//! | Parquet                        | `<folder>/YYYY/MM/DD/<file>.parquet`              |
//! | rejected records (JSON lines)  | `_quarantine/<raw name>.jsonl`                    |
//! | unreadable file (original)     | `_quarantine/<raw name>`                          |
//! | why it was unreadable          | `_quarantine/<raw name>.reason.json`              |
//!
//! `<raw name>` is the whole raw blob name without the `raw/` container segment (so it ends in
//! `.json.gzip`): every quarantine output leads back to its blob by removing `_quarantine/` and the
//! added suffix, without guessing an extension.
//!
//! The original rewrote names with two regexes and produced `<file>.parquet.gzip` although the file
//! is plain Parquet; here the extension says what the bytes are.

use std::fmt;

use super::schema::{Folder, UnknownFolder};

pub const RAW_EXTENSION: &str = ".json.gzip";
pub const QUARANTINE_PREFIX: &str = "_quarantine";
/// `provision verify`'s canary batches live under this prefix in raw and standard alike.
pub const CANARY_PREFIX: &str = "_canary";

/// A validated raw blob name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlobPath {
    /// Under `_canary/`: a deployment check, kept apart from real data.
    canary: bool,
    folder: Folder,
    /// `YYYY/MM/DD`
    date: String,
    /// File name without `.json.gzip`.
    stem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("blob name {0:?} is not <folder>/YYYY/MM/DD/<file>.json.gzip")]
    Layout(String),
    #[error(transparent)]
    UnknownFolder(#[from] UnknownFolder),
    #[error("blob name {name:?} has an invalid date {date:?}")]
    Date { name: String, date: String },
    #[error("blob name {0:?} does not end in .json.gzip")]
    Extension(String),
}

impl RawBlobPath {
    /// Validates a raw blob name, with or without the leading `raw/` container segment.
    pub fn parse(name: &str) -> Result<Self, PathError> {
        let relative = name.strip_prefix("raw/").unwrap_or(name);
        let (canary, relative) = match relative.strip_prefix(&format!("{CANARY_PREFIX}/")) {
            Some(rest) => (true, rest),
            None => (false, relative),
        };
        let parts: Vec<&str> = relative.split('/').collect();
        let [folder, year, month, day, file] = parts[..] else {
            return Err(PathError::Layout(name.to_owned()));
        };
        let folder: Folder = folder.parse()?;
        let date = format!("{year}/{month}/{day}");
        if !is_valid_date(year, month, day) {
            return Err(PathError::Date {
                name: name.to_owned(),
                date,
            });
        }
        let stem = file
            .strip_suffix(RAW_EXTENSION)
            .filter(|stem| !stem.is_empty())
            .ok_or_else(|| PathError::Extension(name.to_owned()))?;
        Ok(Self {
            canary,
            folder,
            date,
            stem: stem.to_owned(),
        })
    }

    pub fn folder(&self) -> Folder {
        self.folder
    }

    fn canary_prefix(&self) -> &'static str {
        if self.canary {
            "_canary/"
        } else {
            ""
        }
    }

    pub fn is_canary(&self) -> bool {
        self.canary
    }

    /// The name relative to container `raw`.
    pub fn raw_name(&self) -> String {
        format!(
            "{}{}/{}/{}{RAW_EXTENSION}",
            self.canary_prefix(),
            self.folder,
            self.date,
            self.stem
        )
    }

    /// Where the Parquet file goes in the standard container.
    pub fn parquet_name(&self) -> String {
        format!(
            "{}{}/{}/{}.parquet",
            self.canary_prefix(),
            self.folder,
            self.date,
            self.stem
        )
    }

    /// Where rejected records go in the standard container: the whole raw name plus `.jsonl`.
    pub fn record_quarantine_name(&self) -> String {
        format!("{QUARANTINE_PREFIX}/{}.jsonl", self.raw_name())
    }
}

impl fmt::Display for RawBlobPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw_name())
    }
}

/// Where a whole unreadable file is copied, for any raw name (valid or not).
pub fn file_quarantine_name(raw_name: &str) -> String {
    let relative = raw_name.strip_prefix("raw/").unwrap_or(raw_name);
    format!("{QUARANTINE_PREFIX}/{relative}")
}

/// Where the reason for a whole-file quarantine goes.
pub fn file_quarantine_reason_name(raw_name: &str) -> String {
    format!("{}.reason.json", file_quarantine_name(raw_name))
}

fn is_valid_date(year: &str, month: &str, day: &str) -> bool {
    let number = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (number(year, 4), number(month, 2), number(day, 2)) {
        (Some(y), Some(m), Some(d)) => chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str =
        "lib_server_game/2024/01/13/3febb019-42a1-40ff-8b3f-19e53c6ab6b9_1705190367510031.json.gzip";

    #[test]
    fn canary_batches_keep_their_prefix_on_every_output() {
        let p = RawBlobPath::parse("_canary/log_meta/2026/11/25/check-1.json.gzip")
            .expect("canary path");
        assert!(p.is_canary());
        assert_eq!(
            p.parquet_name(),
            "_canary/log_meta/2026/11/25/check-1.parquet"
        );
        assert_eq!(
            p.raw_name(),
            "_canary/log_meta/2026/11/25/check-1.json.gzip"
        );
        assert_eq!(
            p.record_quarantine_name(),
            "_quarantine/_canary/log_meta/2026/11/25/check-1.json.gzip.jsonl"
        );
        assert!(!RawBlobPath::parse("log_meta/2026/11/25/x.json.gzip")
            .expect("plain")
            .is_canary());
    }

    #[test]
    fn maps_raw_to_standard_names() {
        let p = RawBlobPath::parse(NAME).expect("valid");
        assert_eq!(p.folder(), Folder::LibServerGame);
        assert_eq!(p.raw_name(), NAME);
        assert_eq!(
            p.parquet_name(),
            "lib_server_game/2024/01/13/3febb019-42a1-40ff-8b3f-19e53c6ab6b9_1705190367510031.parquet"
        );
        assert_eq!(
            p.record_quarantine_name(),
            "_quarantine/lib_server_game/2024/01/13/3febb019-42a1-40ff-8b3f-19e53c6ab6b9_1705190367510031.json.gzip.jsonl"
        );
    }

    #[test]
    fn accepts_the_container_prefix() {
        let with = RawBlobPath::parse(&format!("raw/{NAME}")).expect("valid");
        assert_eq!(with, RawBlobPath::parse(NAME).expect("valid"));
        assert_eq!(
            file_quarantine_name(&format!("raw/{NAME}")),
            format!("_quarantine/{NAME}")
        );
        assert_eq!(
            file_quarantine_reason_name(NAME),
            format!("_quarantine/{NAME}.reason.json")
        );
    }

    #[test]
    fn keeps_raw_substrings_inside_file_names() {
        // The original's re.sub('raw', 'standard', ...) rewrote these too.
        let p = RawBlobPath::parse("log_meta/2024/01/13/raw_jsonXgzip.json.gzip").expect("valid");
        assert_eq!(
            p.parquet_name(),
            "log_meta/2024/01/13/raw_jsonXgzip.parquet"
        );
    }

    #[test]
    fn rejects_bad_names_with_named_errors() {
        assert!(matches!(
            RawBlobPath::parse("other/2024/01/13/x.json.gzip"),
            Err(PathError::UnknownFolder(_))
        ));
        assert!(matches!(
            RawBlobPath::parse("log_meta/2024/01/x.json.gzip"),
            Err(PathError::Layout(_))
        ));
        assert!(matches!(
            RawBlobPath::parse("log_meta/2024/01/13/extra/x.json.gzip"),
            Err(PathError::Layout(_))
        ));
        assert!(matches!(
            RawBlobPath::parse("log_meta/2024/13/01/x.json.gzip"),
            Err(PathError::Date { .. })
        ));
        assert!(matches!(
            RawBlobPath::parse("log_meta/24/01/01/x.json.gzip"),
            Err(PathError::Date { .. })
        ));
        assert!(matches!(
            RawBlobPath::parse("log_meta/2024/01/13/x.json.gz"),
            Err(PathError::Extension(_))
        ));
        assert!(matches!(
            RawBlobPath::parse("log_meta/2024/01/13/.json.gzip"),
            Err(PathError::Extension(_))
        ));
    }
}

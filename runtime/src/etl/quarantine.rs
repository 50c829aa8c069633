//! The quarantine formats: one JSON line per rejected record, and a reason document for a whole
//! file that could not be read.

use std::io::{self, BufWriter, Write};

use serde::Serialize;
use serde_json::value::RawValue;

use super::convert::FileRejection;
use super::record::RecordError;

/// Writes `{"index":n,"kind":"...","field":"...","reason":"...","record":<original JSON>}` lines.
/// `field` is the field the reason is about, absent only when the record is not an object; `record` is
/// the original text, with line breaks between tokens turned into spaces.
pub(crate) struct RejectWriter<Q: Write> {
    out: BufWriter<Q>,
}

#[derive(Serialize)]
struct RejectLine<'a> {
    index: u64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    reason: String,
    record: &'a RawValue,
}

impl<Q: Write> RejectWriter<Q> {
    pub(crate) fn new(out: Q) -> Self {
        Self {
            out: BufWriter::new(out),
        }
    }

    pub(crate) fn write(
        &mut self,
        index: u64,
        reason: &RecordError,
        record: &RawValue,
    ) -> io::Result<()> {
        // JSON forbids raw line breaks inside strings, so any in the record are whitespace between
        // tokens: they become spaces to keep one reject per line (found by tests/etl_prop.rs).
        let one_line;
        let record = if record.get().contains(['\n', '\r']) {
            one_line = RawValue::from_string(record.get().replace(['\n', '\r'], " "))
                .map_err(io::Error::other)?;
            &*one_line
        } else {
            record
        };
        let line = RejectLine {
            index,
            kind: reason.kind(),
            field: reason.field(),
            reason: reason.to_string(),
            record,
        };
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")
    }

    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The `.reason.json` stored next to a quarantined file. Deterministic for the same input, so a
/// re-run rewrites the same bytes.
#[derive(Debug, Serialize)]
pub struct FileQuarantineReason<'a> {
    /// The raw blob name as received.
    pub blob: &'a str,
    pub kind: &'static str,
    pub reason: String,
    /// Bytes of the original blob.
    pub size: u64,
}

impl<'a> FileQuarantineReason<'a> {
    pub fn new(blob: &'a str, kind: &'static str, reason: String, size: u64) -> Self {
        Self {
            blob,
            kind,
            reason,
            size,
        }
    }

    pub fn for_rejection(blob: &'a str, rejection: &FileRejection, size: u64) -> Self {
        Self::new(blob, rejection.kind(), rejection.to_string(), size)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).unwrap_or_default();
        json.push(b'\n');
        json
    }
}

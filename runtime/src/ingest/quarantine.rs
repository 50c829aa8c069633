//! Quarantine rows: messages that could not be turned into records. They are written as a gzip JSON
//! array under `_quarantine/YYYY/MM/DD/` in the raw container, as part of the batch they arrived in
//! (same deterministic name as the batch's other files), so they are also written exactly once.

use crate::ingest::records::RawMessage;
use crate::ingest::timefmt;
use base64::Engine;
use serde::Serialize;

/// One quarantined message.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineRow<'a> {
    pub etl_id: &'a str,
    pub msg_id: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Kafka timestamp, `YYYY-MM-DDTHH:MM:SS.ffffff` UTC, or null.
    pub timestamp: Option<String>,
    pub error: &'a str,
    /// `utf8`, `base64` (value is not UTF-8) or `null` (no value).
    pub value_encoding: &'static str,
    pub value: Option<String>,
}

impl<'a> QuarantineRow<'a> {
    pub fn new(etl_id: &'a str, msg_id: &'a str, msg: &'a RawMessage, error: &'a str) -> Self {
        let (value_encoding, value) = match msg.value.as_deref() {
            None => ("null", None),
            Some(v) => match std::str::from_utf8(v) {
                Ok(s) => ("utf8", Some(s.to_string())),
                Err(_) => (
                    "base64",
                    Some(base64::engine::general_purpose::STANDARD.encode(v)),
                ),
            },
        };
        QuarantineRow {
            etl_id,
            msg_id,
            topic: &msg.topic,
            partition: msg.partition,
            offset: msg.offset,
            timestamp: msg.timestamp_ms.and_then(timefmt::format_epoch_ms),
            error,
            value_encoding,
            value,
        }
    }
}

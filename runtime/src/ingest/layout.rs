//! Turns one closed batch into the raw files the original wrote (seed §2.6), deterministically.
//!
//! * `etl_id` = UUIDv5(`<topic>/<partition>/<first>/<last>`), `msg_id` = UUIDv5(`<topic>/<partition>/<offset>`).
//! * Paths: `<folder>/YYYY/MM/DD/<etl_id>_<topic>_<partition>_<first>_<last>.json.gzip`, where the date
//!   is the UTC date of the batch's first message's Kafka timestamp (1970/01/01 when it has none).
//! * `etl_meta.timestamp_start`/`timestamp_end` are the smallest/largest Kafka timestamp in the batch
//!   (the original used wall-clock times, which would make replays differ).
//! * `etl_meta`, `buffer_meta` and `log_meta` are written whenever the batch has at least one valid
//!   message; the task file (`lib_server_lobby` / `lib_server_game`) only when it has task rows;
//!   `_quarantine` only when some message was bad.
//!
//! So a replay of the same offsets produces the same paths and the same bytes.

use crate::ingest::gzip::RawGzip;
use crate::ingest::quarantine::QuarantineRow;
use crate::ingest::records::{
    self, buffer_row_at, log_row, RawMessage, TaskKind, GAME_TOPIC, LOBBY_TOPIC,
};
use crate::ingest::rowjson::{self, IdRowJson, RowJson};
use crate::ingest::timefmt;
use bytes::Bytes;
use chrono::{Datelike, NaiveDateTime};
use sha1::{Digest, Sha1};
use std::borrow::Cow;
use std::sync::Arc;
use uuid::Uuid;

/// Namespace of every UUIDv5 this worker derives.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x5e9e_7a1c_4b1d_5f3a_9c2e_0d6b_8f41_a7c3);

/// Folder of quarantined messages inside the raw container.
pub const QUARANTINE_FOLDER: &str = "_quarantine";

/// Messages of one topic-partition with consecutive (increasing) offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub topic: Arc<str>,
    pub partition: i32,
    pub messages: Vec<RawMessage>,
}

impl Batch {
    pub fn first_offset(&self) -> i64 {
        self.messages.first().map_or(-1, |m| m.offset)
    }
    pub fn last_offset(&self) -> i64 {
        self.messages.last().map_or(-1, |m| m.offset)
    }
}

/// One file to upload.
#[derive(Debug, Clone)]
pub struct RawFile {
    /// Path inside the raw container.
    pub path: String,
    pub bytes: Bytes,
    pub rows: usize,
}

/// Everything a flush must do for one batch.
#[derive(Debug, Clone, Default)]
pub struct BatchOutput {
    pub etl_id: String,
    pub files: Vec<RawFile>,
    /// `(game_token, user_token)` of every `Cleaning Game Records` message.
    pub cleanups: Vec<(String, String)>,
    pub messages: usize,
    pub quarantined: usize,
    pub task_rows: usize,
    /// `(offset, error)` of each quarantined message, for logging.
    pub errors: Vec<(i64, String)>,
}

/// Deterministic batch id.
pub fn etl_id(topic: &str, partition: i32, first: i64, last: i64) -> Uuid {
    derived_id(topic, partition, [first, last])
}

/// Deterministic message id.
pub fn msg_id(topic: &str, partition: i32, offset: i64) -> Uuid {
    derived_id(topic, partition, [offset])
}

/// UUIDv5 of `topic/partition/n/...`, the name built without the formatting machinery: this runs
/// per message. The SHA-1 is the `sha1` crate's, which uses the CPU's SHA instructions where it
/// has them (uuid's own is portable code, ~4 % of the worker's CPU).
fn derived_id<const N: usize>(topic: &str, partition: i32, numbers: [i64; N]) -> Uuid {
    const { assert!(N <= 2, "the buffer holds the partition and two numbers") };
    // `/partition/n/...` on the stack (at most 3 x 21 bytes); the topic is hashed in place.
    let mut tail = [0u8; 64];
    let mut len = 0;
    for n in std::iter::once(i64::from(partition)).chain(numbers) {
        let mut digits = [0u8; 20];
        let text = rowjson::int_text(n, &mut digits);
        tail[len] = b'/';
        tail[len + 1..len + 1 + text.len()].copy_from_slice(text);
        len += 1 + text.len();
    }
    let digest = Sha1::new()
        .chain_update(ID_NAMESPACE.as_bytes())
        .chain_update(topic.as_bytes())
        .chain_update(&tail[..len])
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The task folder of a topic, if it has one.
pub fn task_folder(topic: &str) -> Option<&'static str> {
    match topic {
        LOBBY_TOPIC => Some("lib_server_lobby"),
        GAME_TOPIC => Some("lib_server_game"),
        _ => None,
    }
}

/// Gzip of a JSON array, written like `json.dump(rows, f)`. The rows are written (by
/// [`RowJson`]) into a plain buffer and compressed in one call at the end: fed straight into an
/// encoder, each of the serialiser's many small writes was a deflate call, which cost more than the
/// deflating itself, and the row encoder needs the whole file.
struct ArrayWriter {
    json: Vec<u8>,
    rows: usize,
}

impl ArrayWriter {
    /// Room for `bytes` of JSON up front: growing a buffer of a few hundred KB copies it several
    /// times over.
    fn with_capacity(bytes: usize) -> Self {
        let mut json = Vec::with_capacity(bytes);
        json.push(b'[');
        Self { json, rows: 0 }
    }
    fn push(&mut self, row: &impl RowJson) {
        self.push_with(|json| row.write_json(json));
    }
    /// [`push`](Self::push) of a message's row whose start, `ids` ([`rowjson::put_ids`]), is
    /// already written.
    fn push_ids(&mut self, ids: &[u8], row: &impl IdRowJson) {
        self.push_with(|json| {
            json.extend_from_slice(ids);
            row.write_rest(json);
        });
    }
    /// One more row, which `write` appends to the array.
    fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if self.rows > 0 {
            self.json.extend_from_slice(b", ");
        }
        write(&mut self.json);
        self.rows += 1;
    }
    fn finish(mut self, path: String, gzip: RawGzip) -> std::io::Result<RawFile> {
        self.json.push(b']');
        Ok(RawFile {
            path,
            bytes: Bytes::from(gzip.compress(&self.json)?),
            rows: self.rows,
        })
    }
}

/// Builds the raw files of `batch` with the default compression (the row encoder; the worker uses
/// `RAW_GZIP_LEVEL`, see [`assemble_at`]). Pure; only fails on an internal I/O error of a zlib
/// encoder.
pub fn assemble(batch: &Batch) -> std::io::Result<BatchOutput> {
    assemble_at(batch, RawGzip::default())
}

/// [`assemble`] with `gzip` (`RAW_GZIP_LEVEL`): the files hold the same JSON with every setting.
pub fn assemble_at(batch: &Batch, gzip: RawGzip) -> std::io::Result<BatchOutput> {
    let topic: &str = &batch.topic;
    let (first, last) = (batch.first_offset(), batch.last_offset());
    let etl = etl_id(topic, batch.partition, first, last).to_string();
    // The batch's first and last Kafka time (ms), over every message (quarantined ones too).
    let mut span: Option<(i64, i64)> = None;
    let mut times = timefmt::EpochMsText::new();
    let epoch = NaiveDateTime::default();
    let date = batch
        .messages
        .first()
        .and_then(|m| m.timestamp_ms)
        .and_then(timefmt::from_epoch_ms)
        .unwrap_or(epoch);
    let file_name = format!(
        "{:04}/{:02}/{:02}/{etl}_{topic}_{}_{first}_{last}.json.gzip",
        date.year(),
        date.month(),
        date.day(),
        batch.partition
    );
    let path = |folder: &str| format!("{folder}/{file_name}");

    let mut out = BatchOutput {
        etl_id: etl.clone(),
        messages: batch.messages.len(),
        ..Default::default()
    };
    // Rows are ~350 (buffer_meta), ~250 (log_meta) and ~400 (task) bytes; quarantine is rare.
    let n = batch.messages.len();
    let mut buffers = ArrayWriter::with_capacity(n * 400 + 64);
    let mut logs = ArrayWriter::with_capacity(n * 300 + 64);
    let mut tasks = ArrayWriter::with_capacity(n * 450 + 64);
    let mut quarantine = ArrayWriter::with_capacity(1024);
    let mut ids = Vec::with_capacity(128);
    for msg in &batch.messages {
        let time = msg.timestamp_ms.and_then(|ms| Some((ms, times.text(ms)?)));
        if let Some((t, _)) = time {
            span = Some(span.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
        }
        let mut id_text = Uuid::encode_buffer();
        let id: &str = msg_id(topic, msg.partition, msg.offset)
            .hyphenated()
            .encode_lower(&mut id_text);
        let parsed = match records::parse(topic, msg.value.as_deref()) {
            Ok(p) => p,
            Err(err) => {
                let error = err.to_string();
                quarantine.push(&QuarantineRow::new(&etl, id, msg, &error));
                out.errors.push((msg.offset, error));
                continue;
            }
        };
        ids.clear();
        rowjson::put_ids(&mut ids, &etl, id);
        let timestamp = time.map_or("", |(_, text)| text);
        buffers.push_ids(
            &ids,
            &buffer_row_at(&etl, id, msg, Cow::Borrowed(timestamp)),
        );
        logs.push_ids(&ids, &log_row(&etl, id, &parsed.envelope));
        parsed
            .task
            .for_each_row(&etl, id, |row| tasks.push_ids(&ids, &row));
        if let TaskKind::Cleaning {
            game_token,
            user_token,
        } = &parsed.task
        {
            out.cleanups.push((game_token.clone(), user_token.clone()));
        }
    }
    out.quarantined = quarantine.rows;
    out.task_rows = tasks.rows;
    if buffers.rows > 0 {
        let mut etl_rows = ArrayWriter::with_capacity(256);
        // Times that have text have a datetime.
        let datetime = |ms| timefmt::from_epoch_ms(ms).unwrap_or(epoch);
        let (start, end) = span.map_or((epoch, epoch), |(lo, hi)| (datetime(lo), datetime(hi)));
        etl_rows.push(&records::EtlRow {
            etl_id: &etl,
            service: "Kafka",
            mode: "Batch",
            timestamp_start: timefmt::format_raw(&start),
            timestamp_end: timefmt::format_raw(&end),
        });
        out.files.push(etl_rows.finish(path("etl_meta"), gzip)?);
        out.files.push(buffers.finish(path("buffer_meta"), gzip)?);
        out.files.push(logs.finish(path("log_meta"), gzip)?);
        if tasks.rows > 0 {
            if let Some(folder) = task_folder(topic) {
                out.files.push(tasks.finish(path(folder), gzip)?);
            }
        }
    }
    if quarantine.rows > 0 {
        out.files
            .push(quarantine.finish(path(QUARANTINE_FOLDER), gzip)?);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn msg(offset: i64, value: &[u8]) -> RawMessage {
        RawMessage {
            topic: Arc::from(LOBBY_TOPIC),
            partition: 1,
            offset,
            timestamp_ms: Some(1_705_190_360_317 + offset),
            timestamp_type: 0,
            key: None,
            header_keys: vec![],
            value: Some(Bytes::copy_from_slice(value)),
        }
    }

    /// A batch of partition 1 of the lobby topic (the messages of [`msg`]).
    fn lobby_batch(messages: Vec<RawMessage>) -> Batch {
        Batch {
            topic: Arc::from(LOBBY_TOPIC),
            partition: 1,
            messages,
        }
    }

    fn gunzip(b: &[u8]) -> String {
        let mut s = String::new();
        GzDecoder::new(b).read_to_string(&mut s).unwrap();
        s
    }

    const START: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T23:59:20.999999", "name": "kafka.lib.server.lobby", "log_message": "Starting Match", "task": "{\"TIMESTAMP\": \"2024-01-13T23:59:20Z\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g\", \"PARTICIPANTS\": [\"a\", \"b\"], \"PARTICIPANTS_HEROS\": {\"a\": {\"token\": \"a\", \"id\": 14, \"attack\": 73600, \"health\": 4536000}, \"b\": {\"token\": \"b\", \"id\": 243, \"attack\": 1, \"health\": 10}}}, \"STATUS\": {\"GAME\": \"START\"}}"}"#;
    const CLEAN: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T23:59:25.000001", "name": "kafka.lib.server.lobby", "log_message": "Cleaning Game Records", "task": {"game_token": "g", "user_token": "a"}}"#;

    /// Every row of every file, quarantine included, carries the id of the batch's first and last
    /// offset (UUIDv5, computed here from its name), and the same id names the files.
    #[test]
    fn every_row_carries_the_batch_id_of_its_first_and_last_offset() {
        let batch = lobby_batch(vec![
            msg(40, START.as_bytes()),
            msg(41, b"garbage"),
            msg(42, CLEAN.as_bytes()),
            msg(43, START.as_bytes()),
        ]);
        let out = assemble(&batch).unwrap();
        let want = Uuid::new_v5(&ID_NAMESPACE, format!("{LOBBY_TOPIC}/1/40/43").as_bytes());
        assert_eq!(out.etl_id, want.to_string());
        let mut rows = 0;
        for file in &out.files {
            assert!(file.path.contains(&format!("/{want}_")), "{}", file.path);
            let parsed: serde_json::Value = serde_json::from_str(&gunzip(&file.bytes)).unwrap();
            for row in parsed.as_array().unwrap() {
                assert_eq!(row["etl_id"], want.to_string(), "{}", file.path);
                rows += 1;
            }
        }
        // etl_meta 1, buffer_meta 3, log_meta 3, lobby 4 heroes, quarantine 1.
        assert_eq!(rows, 12);
    }

    /// `etl_meta`'s span is the batch's first and last Kafka time over every message, the
    /// quarantined ones too (here the first and the last).
    #[test]
    fn the_batch_span_counts_quarantined_messages() {
        let batch = lobby_batch(vec![
            msg(5, b"garbage"),
            msg(7, START.as_bytes()),
            msg(9, CLEAN.as_bytes()),
            msg(11, b"garbage"),
        ]);
        let out = assemble(&batch).unwrap();
        let etl = out
            .files
            .iter()
            .find(|f| f.path.starts_with("etl_meta/"))
            .unwrap();
        let rows: serde_json::Value = serde_json::from_str(&gunzip(&etl.bytes)).unwrap();
        // msg(offset) is at 1_705_190_360_317 ms + offset: 2024-01-13T23:59:20.317 + offset ms.
        assert_eq!(rows[0]["timestamp_start"], "2024-01-13T23:59:20.322000");
        assert_eq!(rows[0]["timestamp_end"], "2024-01-13T23:59:20.328000");
        assert_eq!(out.quarantined, 2);
    }

    /// Each file holds what serde with the `json.dumps` formatter writes for the same rows, built
    /// one by one: the rows' shared start, written once per message, is each row's own.
    #[test]
    fn files_hold_serdes_json_of_their_rows() {
        use crate::ingest::pyjson;
        use crate::ingest::records::{buffer_row, log_row, TaskRow};
        let batch = lobby_batch(vec![
            msg(7, START.as_bytes()),
            msg(8, b"garbage"),
            msg(9, CLEAN.as_bytes()),
            msg(10, START.as_bytes()),
        ]);
        let out = assemble(&batch).unwrap();
        let etl = out.etl_id.clone();
        let good: Vec<_> = batch
            .messages
            .iter()
            .filter_map(|m| {
                let parsed = records::parse(LOBBY_TOPIC, m.value.as_deref()).ok()?;
                Some((m, msg_id(LOBBY_TOPIC, 1, m.offset).to_string(), parsed))
            })
            .collect();
        let buffers: Vec<_> = good
            .iter()
            .map(|(m, id, _)| buffer_row(&etl, id, m))
            .collect();
        let logs: Vec<_> = good
            .iter()
            .map(|(_, id, p)| log_row(&etl, id, &p.envelope))
            .collect();
        let mut tasks: Vec<TaskRow> = Vec::new();
        for (_, id, p) in &good {
            p.task.for_each_row(&etl, id, |row| tasks.push(row));
        }
        assert_eq!(tasks.len(), 4);
        let file = |folder: &str| {
            let f = out
                .files
                .iter()
                .find(|f| f.path.starts_with(folder))
                .unwrap();
            gunzip(&f.bytes)
        };
        assert_eq!(file("buffer_meta/"), pyjson::to_string(&buffers).unwrap());
        assert_eq!(file("log_meta/"), pyjson::to_string(&logs).unwrap());
        assert_eq!(
            file("lib_server_lobby/"),
            pyjson::to_string(&tasks).unwrap()
        );
    }

    #[test]
    fn ids_are_the_uuid_v5_of_their_formatted_names() {
        for (topic, partition, offset) in [
            (LOBBY_TOPIC, 0, 0),
            (GAME_TOPIC, 5, 538_948),
            ("t", -1, -42),
            (GAME_TOPIC, i32::MAX, i64::MIN),
            // Names longer than one SHA-1 block (55 bytes with the namespace).
            (
                "lib.server.game.with.a.topic.name.longer.than.any.the.simulator.uses",
                7,
                1,
            ),
        ] {
            let name = format!("{topic}/{partition}/{offset}");
            assert_eq!(
                msg_id(topic, partition, offset),
                Uuid::new_v5(&ID_NAMESPACE, name.as_bytes()),
                "{name}"
            );
            let name = format!("{topic}/{partition}/{offset}/{}", i64::MAX);
            assert_eq!(
                etl_id(topic, partition, offset, i64::MAX),
                Uuid::new_v5(&ID_NAMESPACE, name.as_bytes()),
                "{name}"
            );
        }
    }

    #[test]
    fn batch_files_are_deterministic_and_shaped_like_the_original() {
        let batch = lobby_batch(vec![
            msg(7, START.as_bytes()),
            msg(8, b"garbage"),
            msg(9, CLEAN.as_bytes()),
        ]);
        let a = assemble(&batch).unwrap();
        let b = assemble(&batch).unwrap();
        let names: Vec<_> = a.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            names,
            b.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
        );
        for (x, y) in a.files.iter().zip(&b.files) {
            assert_eq!(x.bytes, y.bytes, "{}", x.path);
        }
        let etl = etl_id(LOBBY_TOPIC, 1, 7, 9).to_string();
        let folders: Vec<_> = names.iter().map(|n| n.split('/').next().unwrap()).collect();
        assert_eq!(
            folders,
            [
                "etl_meta",
                "buffer_meta",
                "log_meta",
                "lib_server_lobby",
                "_quarantine"
            ]
        );
        assert_eq!(
            names[0],
            format!("etl_meta/2024/01/13/{etl}_lib.server.lobby_1_7_9.json.gzip")
        );
        assert_eq!(a.cleanups, vec![("g".to_string(), "a".to_string())]);
        assert_eq!((a.messages, a.quarantined, a.task_rows), (3, 1, 2));

        let m7 = msg_id(LOBBY_TOPIC, 1, 7);
        assert_eq!(
            gunzip(&a.files[0].bytes),
            format!(
                r#"[{{"etl_id": "{etl}", "service": "Kafka", "mode": "Batch", "timestamp_start": "2024-01-13T23:59:20.324000", "timestamp_end": "2024-01-13T23:59:20.326000"}}]"#
            )
        );
        let buffer = gunzip(&a.files[1].bytes);
        assert!(buffer.starts_with(&format!(
            r#"[{{"etl_id": "{etl}", "msg_id": "{m7}", "checksum": null, "headers": [], "key": "", "offset": 7, "partition": 1, "serialized_key_size": -1, "serialized_value_size": {}, "timestamp": "2024-01-13T23:59:20.324000", "timestamp_type": 0, "topic": "lib.server.lobby", "_is_protocol": false}}, "#,
            START.len()
        )), "{buffer}");
        assert_eq!(
            gunzip(&a.files[3].bytes),
            format!(
                r#"[{{"etl_id": "{etl}", "msg_id": "{m7}", "timestamp": "2024-01-13T23:59:20.000000", "game_token": "g", "user_token": "a", "superhero_id": 14, "superhero_attack": 73600, "superhero_health": 4536000}}, {{"etl_id": "{etl}", "msg_id": "{m7}", "timestamp": "2024-01-13T23:59:20.000000", "game_token": "g", "user_token": "b", "superhero_id": 243, "superhero_attack": 1, "superhero_health": 10}}]"#
            )
        );
        let q: serde_json::Value = serde_json::from_str(&gunzip(&a.files[4].bytes)).unwrap();
        assert_eq!(q[0]["offset"], 8);
        assert_eq!(q[0]["value"], "garbage");
    }

    #[test]
    fn batch_without_task_rows_has_no_task_file() {
        let batch = Batch {
            topic: Arc::from(LOBBY_TOPIC),
            partition: 0,
            messages: vec![msg(0, CLEAN.as_bytes())],
        };
        let out = assemble(&batch).unwrap();
        let folders: Vec<_> = out
            .files
            .iter()
            .map(|f| f.path.split('/').next().unwrap().to_string())
            .collect();
        assert_eq!(folders, ["etl_meta", "buffer_meta", "log_meta"]);
    }

    #[test]
    fn all_bad_batch_writes_only_quarantine() {
        let batch = Batch {
            topic: Arc::from(GAME_TOPIC),
            partition: 0,
            messages: vec![msg(0, b"\xff")],
        };
        let out = assemble(&batch).unwrap();
        assert_eq!(out.files.len(), 1);
        assert!(out.files[0].path.starts_with("_quarantine/2024/01/13/"));
        let q: serde_json::Value = serde_json::from_str(&gunzip(&out.files[0].bytes)).unwrap();
        assert_eq!(q[0]["value_encoding"], "base64");
        assert_eq!(q[0]["value"], "/w==");
    }
}

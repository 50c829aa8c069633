//! Every class of bad input: whole-file rejections with a named reason, and bad records that are
//! set aside while the good ones around them are kept.
#![allow(clippy::unwrap_used)]

mod etl_support;

use arrow::array::Array;
use runtime::etl::{ConvertOptions, ConvertOutcome, FileRejection, Folder, RawBlobPath};
use serde_json::{json, Value};

use etl_support::{convert_bytes, fixtures, gzip, read_parquet, reject_lines};

fn rejected(folder: Folder, input: &[u8]) -> FileRejection {
    match convert_bytes(folder, input, &ConvertOptions::default()).outcome {
        ConvertOutcome::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn golden(folder: &str) -> (Folder, Vec<u8>) {
    let (name, raw) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(folder))
        .unwrap();
    (RawBlobPath::parse(&name).unwrap().folder(), raw)
}

#[test]
fn empty_file() {
    assert_eq!(rejected(Folder::LogMeta, b""), FileRejection::Empty);
}

#[test]
fn not_gzip() {
    let r = rejected(Folder::LogMeta, br#"[{"etl_id": "x"}]"#);
    assert_eq!(r, FileRejection::NotGzip("5b 7b 22 65".into()));
}

#[test]
fn truncated_gzip_at_any_point_is_rejected_not_half_written() {
    let (folder, raw) = golden("log_meta");
    for cut in [
        3,
        10,
        raw.len() / 3,
        raw.len() / 2,
        raw.len() - 9,
        raw.len() - 1,
    ] {
        let r = rejected(folder, &raw[..cut]);
        assert!(
            matches!(r, FileRejection::Gzip(_) | FileRejection::Json(_)),
            "cut at {cut}: {r:?}"
        );
    }
    // A cut inside the compressed data is reported as a gzip problem, with the reason.
    let r = rejected(folder, &raw[..raw.len() / 2]);
    assert_eq!(r.kind(), "gzip", "{r}");
}

#[test]
fn corrupt_gzip_is_rejected() {
    let (folder, mut raw) = golden("buffer_meta");
    let middle = raw.len() / 2;
    for b in &mut raw[middle..middle + 16] {
        *b ^= 0x5a;
    }
    // Garbage from the decoder may break the JSON before the gzip CRC check sees it.
    let r = rejected(folder, &raw);
    assert!(matches!(r.kind(), "gzip" | "json"), "{r}");

    // A flipped byte in the trailer (CRC32) leaves the JSON intact: only the gzip check catches it.
    let (folder, mut raw) = golden("etl_meta");
    let crc = raw.len() - 8;
    raw[crc] ^= 0xff;
    assert_eq!(rejected(folder, &raw).kind(), "gzip");
}

#[test]
fn gzip_of_something_that_is_not_json() {
    let r = rejected(Folder::LogMeta, &gzip(b"etl_id,msg_id\nx,y\n"));
    assert_eq!(r.kind(), "json", "{r}");
}

#[test]
fn json_that_is_not_an_array() {
    let r = rejected(Folder::LogMeta, &gzip(br#"{"etl_id": "x"}"#));
    assert_eq!(r.kind(), "not_array", "{r}");
    let r = rejected(Folder::LogMeta, &gzip(b"null"));
    assert_eq!(r.kind(), "not_array", "{r}");
}

#[test]
fn truncated_json_inside_a_complete_gzip() {
    let json = br#"[{"etl_id": "e", "msg_id": "m", "level": "INFO", "timestamp": "2024-01-13T23:59:21.1", "name": "n", "log_message": "l"}, {"etl_id": "#;
    let r = rejected(Folder::LogMeta, &gzip(json));
    assert_eq!(r.kind(), "json", "{r}");
    assert!(r.to_string().contains("after 1 records"), "{r}");
}

#[test]
fn data_after_the_array() {
    let r = rejected(Folder::EtlMeta, &gzip(b"[] []"));
    assert_eq!(r.kind(), "trailing_data", "{r}");
}

#[test]
fn empty_array_is_a_valid_empty_parquet_file() {
    let out = convert_bytes(
        Folder::BufferMeta,
        &gzip(b" [ ] \n"),
        &ConvertOptions::default(),
    );
    let ConvertOutcome::Converted(summary) = out.outcome else {
        panic!("{:?}", out.outcome)
    };
    assert_eq!((summary.rows_written, summary.rows_rejected), (0, 0));
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(out.parquet),
    )
    .unwrap();
    assert_eq!(
        builder.schema().as_ref(),
        Folder::BufferMeta.arrow_schema().as_ref()
    );
    assert_eq!(builder.metadata().file_metadata().num_rows(), 0);
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    // Python's gzip module reads multi-member files as one stream; so do we.
    let mut raw = gzip(br#"[{"etl_id": "e", "service": "Kafka", "mode": "Batch", "#);
    raw.extend(gzip(
        br#""timestamp_start": "2024-01-13T23:59:21.5", "timestamp_end": "2024-01-13T23:59:27Z"}]"#,
    ));
    let out = convert_bytes(Folder::EtlMeta, &raw, &ConvertOptions::default());
    assert!(
        matches!(out.outcome, ConvertOutcome::Converted(ref s) if s.rows_written == 1),
        "{:?}",
        out.outcome
    );
}

fn log(timestamp: Value) -> Value {
    json!({"etl_id": "e", "msg_id": "m", "level": "INFO", "timestamp": timestamp, "name": "kafka.lib.server.game", "log_message": "Attack Completed"})
}

fn buffer(field: &str, value: Value) -> Value {
    let mut v = json!({"etl_id": "e", "msg_id": "m", "checksum": null, "headers": [], "key": "", "offset": 7, "partition": 1, "serialized_key_size": -1, "serialized_value_size": 720, "timestamp": "2024-01-13T22:25:40.123000", "timestamp_type": 0, "topic": "lib.server.lobby", "_is_protocol": false});
    v[field] = value;
    v
}

/// Converts `records`; returns the good rows' msg_ids, and (index, kind, record) of each reject.
fn mixed(folder: Folder, records: &[Value]) -> (Vec<String>, Vec<(u64, String, Value)>) {
    let raw = gzip(serde_json::to_string(records).unwrap().as_bytes());
    let out = convert_bytes(folder, &raw, &ConvertOptions::default());
    let ConvertOutcome::Converted(summary) = out.outcome else {
        panic!("{:?}", out.outcome)
    };
    let rejects: Vec<_> = reject_lines(&out.rejects)
        .into_iter()
        .map(|l| {
            assert!(l["reason"].as_str().is_some_and(|r| !r.is_empty()));
            (
                l["index"].as_u64().unwrap(),
                l["kind"].as_str().unwrap().to_owned(),
                l["record"].clone(),
            )
        })
        .collect();
    let (batches, _) = read_parquet(out.parquet);
    let msg_ids: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let col = arrow::array::AsArray::as_string::<i32>(b.column_by_name("msg_id").unwrap())
                .clone();
            (0..col.len()).map(move |i| col.value(i).to_owned())
        })
        .collect();
    assert_eq!(summary.rows_written as usize, msg_ids.len());
    assert_eq!(summary.rows_rejected as usize, rejects.len());
    assert_eq!(
        msg_ids.len() + rejects.len(),
        records.len(),
        "a record was lost"
    );
    (msg_ids, rejects)
}

#[test]
fn bad_records_among_good_ones_are_quarantined_with_their_index_and_original_json() {
    let mut records = Vec::new();
    let mut expected_rejects = Vec::new();
    let bad: Vec<(&str, Value)> = vec![
        ("out_of_range", buffer("partition", json!(256))),
        ("out_of_range", buffer("partition", json!(-1))),
        ("out_of_range", buffer("offset", json!(-5))),
        (
            "out_of_range",
            buffer("serialized_value_size", json!(40000)),
        ),
        ("out_of_range", buffer("serialized_key_size", json!(-32769))),
        ("out_of_range", buffer("timestamp_type", json!(300))),
        ("wrong_type", buffer("offset", json!("7"))),
        ("wrong_type", buffer("_is_protocol", json!(0))),
        ("wrong_type", buffer("headers", json!("none"))),
        (
            "bad_timestamp",
            buffer("timestamp", json!("13/01/2024 22:25")),
        ),
        (
            "bad_timestamp",
            buffer("timestamp", json!("2024-02-30T00:00:00")),
        ),
        ("unknown_field", buffer("extra", json!(1))),
        ("not_an_object", json!(["a", "b"])),
        ("not_an_object", json!(null)),
    ];
    for (i, (kind, record)) in bad.into_iter().enumerate() {
        records.push(buffer("msg_id", json!(format!("good-{i}"))));
        expected_rejects.push(((records.len()) as u64, kind.to_owned(), record.clone()));
        records.push(record);
    }
    let mut missing = buffer("msg_id", json!("bad-missing"));
    missing.as_object_mut().unwrap().remove("topic");
    expected_rejects.push((
        records.len() as u64,
        "missing_field".into(),
        missing.clone(),
    ));
    records.push(missing);
    records.push(buffer("msg_id", json!("good-last")));

    let (good, rejects) = mixed(Folder::BufferMeta, &records);
    let expected_good: Vec<String> = (0..14)
        .map(|i| format!("good-{i}"))
        .chain(["good-last".into()])
        .collect();
    assert_eq!(good, expected_good);
    assert_eq!(rejects, expected_rejects);
}

#[test]
fn every_timestamp_form_is_accepted_and_bad_ones_are_named() {
    let good = [
        "2024-01-13T22:25:41",
        "2024-01-13T22:25:41Z",
        "2024-01-13T22:25:41.6",
        "2024-01-13T22:25:41.654",
        "2024-01-13T22:25:41.654999",
        "2024-01-13T22:25:41.654999Z",
        "2024-01-13T22:25:41.123456789",
    ];
    let bad = [
        "2024-01-13 22:25:41",
        "2024-01-13T22:25",
        "",
        "2024-01-13T22:25:41+01:00",
        "yesterday",
    ];
    let records: Vec<Value> = good
        .iter()
        .chain(bad.iter())
        .map(|t| log(json!(t)))
        .collect();
    let (kept, rejects) = mixed(Folder::LogMeta, &records);
    assert_eq!(kept.len(), good.len());
    let kinds: Vec<&str> = rejects.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, vec!["bad_timestamp"; bad.len()]);
    let indexes: Vec<u64> = rejects.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(
        indexes,
        (good.len() as u64..records.len() as u64).collect::<Vec<_>>()
    );
}

#[test]
fn every_record_bad_still_produces_an_empty_parquet_and_all_rejects() {
    let records = vec![buffer("partition", json!(999)); 3];
    let (kept, rejects) = mixed(Folder::BufferMeta, &records);
    assert!(kept.is_empty());
    assert_eq!(rejects.len(), 3);
}

#[test]
fn reject_lines_keep_the_original_key_order_and_text() {
    let raw = br#"[{"z": 1, "etl_id": "e"}, {"etl_id": "e", "service": "Kafka", "mode": "Batch", "timestamp_start": "2024-01-13T23:59:21", "timestamp_end": "2024-01-13T23:59:22"}]"#;
    let out = convert_bytes(Folder::EtlMeta, &gzip(raw), &ConvertOptions::default());
    let text = String::from_utf8(out.rejects).unwrap();
    assert_eq!(
        text,
        "{\"index\":0,\"kind\":\"unknown_field\",\"field\":\"z\",\"reason\":\"unknown field \\\"z\\\"\",\"record\":{\"z\": 1, \"etl_id\": \"e\"}}\n"
    );
}

/// Issue 13: a `log_meta` record whose required `timestamp` was `null` used to be written to
/// Parquet with a null timestamp.
#[test]
fn null_required_timestamp_in_log_meta_is_quarantined_not_written() {
    let mut good = log(json!("2024-01-13T22:25:41.654999"));
    good["msg_id"] = json!("good");
    let mut null_ts = log(Value::Null);
    null_ts["msg_id"] = json!("null-timestamp");
    let (kept, rejects) = mixed(Folder::LogMeta, &[good.clone(), null_ts.clone(), good]);
    assert_eq!(kept, ["good", "good"]);
    assert_eq!(rejects, vec![(1, "null_field".to_owned(), null_ts)]);

    let raw = gzip(
        serde_json::to_string(&[log(Value::Null)])
            .unwrap()
            .as_bytes(),
    );
    let out = convert_bytes(Folder::LogMeta, &raw, &ConvertOptions::default());
    let line = &reject_lines(&out.rejects)[0];
    assert_eq!(line["field"], "timestamp");
    assert_eq!(line["reason"], "field \"timestamp\" is null but required");
}

/// Every required field of every folder rejects `null` and names itself; the one nullable field
/// (`buffer_meta.checksum`, always null from aiokafka) keeps it.
#[test]
fn null_is_rejected_in_every_required_field_of_every_folder() {
    for (name, raw) in fixtures() {
        let folder = RawBlobPath::parse(&name).unwrap().folder();
        let text = etl_support::gunzip(&raw);
        let records: Vec<Value> = serde_json::from_slice(&text).unwrap();
        let base = &records[0];
        for column in folder.columns() {
            let mut record = base.clone();
            record[column.name] = Value::Null;
            let raw = gzip(serde_json::to_string(&[record]).unwrap().as_bytes());
            let out = convert_bytes(folder, &raw, &ConvertOptions::default());
            let ConvertOutcome::Converted(summary) = out.outcome else {
                panic!("{:?}", out.outcome)
            };
            let rejects = reject_lines(&out.rejects);
            if column.nullable {
                assert_eq!(summary.rows_written, 1, "{folder}.{}", column.name);
                assert!(rejects.is_empty());
            } else {
                assert_eq!(
                    summary.rows_written, 0,
                    "{folder}.{} null was written",
                    column.name
                );
                assert_eq!(rejects[0]["kind"], "null_field", "{folder}.{}", column.name);
                assert_eq!(rejects[0]["field"], column.name);
            }
        }
    }
}

/// Found by etl_prop: a pretty-printed record broke the JSON-lines file (one reject over lines).
#[test]
fn a_record_spanning_lines_is_one_reject_line() {
    let raw = b"[\n  {\n    \"etl_id\": \"e\",\r\n    \"z\": \"a\\nb\"\n  }\n]\n";
    let out = convert_bytes(Folder::EtlMeta, &gzip(raw), &ConvertOptions::default());
    let text = String::from_utf8(out.rejects).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let line = &reject_lines(text.as_bytes())[0];
    assert_eq!(line["kind"], "unknown_field");
    assert_eq!(line["record"], json!({"etl_id": "e", "z": "a\nb"}));
}

/// Found by the etl_prop fuzz run (an oracle that kept the last of duplicate keys): the first error
/// in text order wins, so an invalid first copy of a duplicated field is what the reject names.
#[test]
fn a_duplicated_field_with_an_invalid_first_copy_is_rejected_for_that_copy() {
    let raw = br#"[{"etl_id": "e", "service": "s", "mode": "m", "timestamp_start": "001-01-01T00:00:00", "timestamp_end": "0001-01-01T00:00:00", "timestamp_start": "0001-01-01T00:00:00"}]"#;
    let out = convert_bytes(Folder::EtlMeta, &gzip(raw), &ConvertOptions::default());
    let line = &reject_lines(&out.rejects)[0];
    assert_eq!(
        (&line["kind"], &line["field"]),
        (&json!("bad_timestamp"), &json!("timestamp_start"))
    );
}

//! Golden files written by the original worker -> Parquet, read back with the arrow-rs reader.
#![allow(clippy::unwrap_used)]

mod etl_support;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Int16Type, TimeUnit, TimestampMillisecondType, UInt16Type, UInt64Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDateTime;
use parquet::basic::{Compression, LogicalType, TimeUnit as ParquetTimeUnit};
use runtime::etl::schema::{ColumnKind, TimestampPrecision};
use runtime::etl::{
    ConvertOptions, ConvertOutcome, ConvertSummary, Folder, ParquetCodec, RawBlobPath,
};
use serde_json::{json, Value};

use etl_support::{convert_bytes, fixtures, gunzip, read_parquet};

/// The expected standard value of one raw JSON value, computed independently of the library.
fn expected(kind: ColumnKind, raw: &Value) -> Value {
    match (kind, raw) {
        (ColumnKind::Timestamp(precision), Value::String(s)) => {
            let t = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap();
            let ms = t.and_utc().timestamp_millis();
            match precision {
                TimestampPrecision::Millisecond => json!(ms),
                TimestampPrecision::Second => json!(ms.div_euclid(1000) * 1000),
            }
        }
        _ => raw.clone(),
    }
}

fn cell(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            let items = items.as_string::<i32>();
            Value::Array((0..items.len()).map(|i| json!(items.value(i))).collect())
        }
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::UInt8 => json!(array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => json!(array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt64 => json!(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Int16 => json!(array.as_primitive::<Int16Type>().value(row)),
        DataType::Timestamp(TimeUnit::Millisecond, None) => {
            json!(array.as_primitive::<TimestampMillisecondType>().value(row))
        }
        other => panic!("unexpected type {other}"),
    }
}

fn rows(batches: &[RecordBatch]) -> Vec<Vec<Value>> {
    batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .map(move |r| b.columns().iter().map(|c| cell(c.as_ref(), r)).collect())
        })
        .collect()
}

fn assert_golden(name: &str, raw: &[u8], options: &ConvertOptions) -> usize {
    let folder = RawBlobPath::parse(name).unwrap().folder();
    let records: Vec<Value> = serde_json::from_slice(&gunzip(raw)).unwrap();
    let out = convert_bytes(folder, raw, options);
    let expected_groups = records.len().div_ceil(options.batch_rows);
    assert_eq!(
        out.outcome,
        ConvertOutcome::Converted(ConvertSummary {
            rows_written: records.len() as u64,
            rows_rejected: 0,
            row_groups: expected_groups,
        }),
        "{name}"
    );
    assert!(out.rejects.is_empty());

    let (batches, metadata) = read_parquet(out.parquet);
    let schema = batches[0].schema();
    assert_eq!(schema.as_ref(), folder.arrow_schema().as_ref(), "{name}");
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let expected_names: Vec<&str> = folder.columns().iter().map(|c| c.name).collect();
    assert_eq!(names, expected_names);

    assert_eq!(metadata.num_row_groups(), expected_groups);
    let codec = match options.codec {
        ParquetCodec::Zstd => "ZSTD",
        ParquetCodec::Gzip => "GZIP",
    };
    for (i, column) in folder.columns().iter().enumerate() {
        let descr = metadata.file_metadata().schema_descr().column(i);
        if let ColumnKind::Timestamp(_) = column.kind {
            // Generic readers (DuckDB, Spark) need the logical type, not a bare INT64.
            assert_eq!(
                descr.logical_type(),
                Some(LogicalType::Timestamp {
                    is_adjusted_to_u_t_c: false,
                    unit: ParquetTimeUnit::MILLIS(Default::default()),
                }),
                "{name} {}",
                column.name
            );
        }
        let compression = metadata.row_group(0).column(i).compression();
        assert!(
            matches!(
                (codec, compression),
                ("ZSTD", Compression::ZSTD(_)) | ("GZIP", Compression::GZIP(_))
            ),
            "{compression:?}"
        );
    }

    let actual = rows(&batches);
    assert_eq!(actual.len(), records.len());
    for (r, (record, row)) in records.iter().zip(&actual).enumerate() {
        for (column, value) in folder.columns().iter().zip(row) {
            assert_eq!(
                *value,
                expected(column.kind, &record[column.name]),
                "{name} row {r} column {}",
                column.name
            );
        }
    }
    records.len()
}

#[test]
fn every_golden_file_converts_with_the_original_schema_and_values() {
    let mut per_folder = std::collections::BTreeMap::new();
    for (name, raw) in fixtures() {
        let rows = assert_golden(&name, &raw, &ConvertOptions::default());
        *per_folder
            .entry(name.split('/').next().unwrap().to_owned())
            .or_insert(0) += rows;
    }
    assert_eq!(
        per_folder.len(),
        Folder::ALL.len(),
        "a folder has no golden file: {per_folder:?}"
    );
}

#[test]
fn gzip_codec_and_small_row_groups_keep_the_values() {
    let options = ConvertOptions {
        codec: ParquetCodec::Gzip,
        batch_rows: 5,
    };
    for (name, raw) in fixtures() {
        assert_golden(&name, &raw, &options);
    }
}

#[test]
fn output_is_deterministic() {
    for (name, raw) in fixtures() {
        let folder = RawBlobPath::parse(&name).unwrap().folder();
        let a = convert_bytes(folder, &raw, &ConvertOptions::default());
        let b = convert_bytes(folder, &raw, &ConvertOptions::default());
        assert_eq!(a.parquet, b.parquet, "{name}");
    }
}

#[test]
fn game_timestamps_are_truncated_to_seconds_and_log_timestamps_to_milliseconds() {
    let game = br#"[{"etl_id": "e", "msg_id": "m", "timestamp": "2024-01-13T22:25:41.999999", "game_token": "g", "user_token": "u", "action": "ATTACK", "enemy_token": "x", "enemy_damage": 1, "enemy_health_prior": 2, "enemy_health_post": 1}]"#;
    let out = convert_bytes(
        Folder::LibServerGame,
        &etl_support::gzip(game),
        &ConvertOptions::default(),
    );
    let (batches, _) = read_parquet(out.parquet);
    assert_eq!(rows(&batches)[0][2], json!(1_705_184_741_000i64));

    let log = br#"[{"etl_id": "e", "msg_id": "m", "level": "INFO", "timestamp": "2024-01-13T22:25:41.999999", "name": "n", "log_message": "l"}]"#;
    let out = convert_bytes(
        Folder::LogMeta,
        &etl_support::gzip(log),
        &ConvertOptions::default(),
    );
    let (batches, _) = read_parquet(out.parquet);
    assert_eq!(rows(&batches)[0][3], json!(1_705_184_741_999i64));
}

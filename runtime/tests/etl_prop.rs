//! The ETL's conservation law over generated input (issue 13): for every raw batch, rows in = rows
//! written + rows quarantined; every written row satisfies the data contract (the Parquet is read
//! back); every quarantined row carries a reason naming the field; a file unreadable as a whole is
//! quarantined whole with its reason; nothing panics.
//!
//! * `records_follow_the_contract_model`: valid batches and field/record mutations, with the expected
//!   outcome of every record computed by a model of the contract (runtime/docs/data-contract.md).
//! * `mutated_bytes_conserve_every_record`: byte-level damage to the JSON and to the gzip stream,
//!   checked against an independent reader (flate2 + serde_json) and an independent validator.
//! * `blobs_are_processed_or_quarantined_whole`: the blob entry point, names included, against an
//!   in-memory standard container.
//!
//! Case counts: `prop_support` (small under `cargo test`, large under `scripts/fuzz.sh`).
#![allow(clippy::unwrap_used)]

mod etl_support;
mod prop_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int16Type, TimestampMillisecondType, UInt16Type, UInt64Type, UInt8Type};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use chrono::NaiveDate;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use runtime::etl::schema::{Column, ColumnKind, TimestampPrecision};
use runtime::etl::{
    process_raw_blob, BlobOutcome, ConvertOptions, ConvertOutcome, Folder, ParquetCodec,
    RawBlobPath,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use etl_support::{convert_bytes, read_parquet};

// ---------------------------------------------------------------------------------------------
// Values as the test sees them
// ---------------------------------------------------------------------------------------------

/// A stored value, read back from Parquet or predicted by the model.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Str(String),
    List(Vec<String>),
    Bool(bool),
    UInt(u64),
    Int(i64),
    Millis(i64),
}

/// What the contract says about one generated value.
#[derive(Debug, Clone)]
enum Verdict {
    Valid(Cell),
    /// The record must be rejected for this field, with one of these kinds.
    Invalid(&'static [&'static str]),
}

#[derive(Debug, Clone)]
struct FieldValue {
    json: String,
    verdict: Verdict,
}

fn valid(json: String, cell: Cell) -> FieldValue {
    FieldValue {
        json,
        verdict: Verdict::Valid(cell),
    }
}

fn invalid(json: impl Into<String>, kinds: &'static [&'static str]) -> FieldValue {
    FieldValue {
        json: json.into(),
        verdict: Verdict::Invalid(kinds),
    }
}

const WRONG_TYPE: &[&str] = &["wrong_type"];
const OUT_OF_RANGE: &[&str] = &["out_of_range"];
const NULL_FIELD: &[&str] = &["null_field"];
const BAD_TIMESTAMP: &[&str] = &["bad_timestamp"];
const UNREADABLE: &[&str] = &["unreadable_value"];
const DEEP_ARRAY: &[&str] = &["wrong_type", "unreadable_value"];

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        12 => "[a-zA-Z0-9_.:-]{0,40}",
        6 => any::<String>(),
        2 => "[\u{0}-\u{1f}\"\\\\/]{0,8}",
        1 => (1usize..70_000, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
    ]
    .boxed()
}

/// A string as JSON: serde_json's escapes, or Python's `ensure_ascii` (`\uXXXX`, surrogate pairs).
fn string_json(s: &str, python: bool) -> String {
    if python {
        runtime::ingest::pyjson::to_string(s).unwrap()
    } else {
        serde_json::to_string(s).unwrap()
    }
}

fn string_value() -> BoxedStrategy<FieldValue> {
    (text(), any::<bool>())
        .prop_map(|(s, py)| valid(string_json(&s, py), Cell::Str(s)))
        .boxed()
}

fn list_value() -> BoxedStrategy<FieldValue> {
    (proptest::collection::vec(text(), 0..4), any::<bool>())
        .prop_map(|(items, py)| {
            let json: Vec<String> = items.iter().map(|s| string_json(s, py)).collect();
            valid(format!("[{}]", json.join(", ")), Cell::List(items))
        })
        .boxed()
}

fn int_bounds(kind: ColumnKind) -> (i128, i128) {
    match kind {
        ColumnKind::UInt8 => (0, u8::MAX.into()),
        ColumnKind::UInt16 => (0, u16::MAX.into()),
        ColumnKind::UInt64 => (0, u64::MAX.into()),
        ColumnKind::Int16 => (i16::MIN.into(), i16::MAX.into()),
        other => unreachable!("{other:?} is not an integer kind"),
    }
}

fn int_cell(kind: ColumnKind, v: i128) -> Cell {
    match kind {
        ColumnKind::Int16 => Cell::Int(v as i64),
        _ => Cell::UInt(v as u64),
    }
}

fn int_value(kind: ColumnKind) -> BoxedStrategy<FieldValue> {
    let (min, max) = int_bounds(kind);
    prop_oneof![Just(min), Just(max), min..=max, min..=(min + 100).min(max)]
        .prop_map(move |v| valid(v.to_string(), int_cell(kind, v)))
        .boxed()
}

fn bad_int(kind: ColumnKind) -> BoxedStrategy<FieldValue> {
    let (min, max) = int_bounds(kind);
    prop_oneof![
        (1i128..1_000_000).prop_map(move |k| invalid((max + k).to_string(), OUT_OF_RANGE)),
        (1i128..1_000_000).prop_map(move |k| invalid((min - k).to_string(), OUT_OF_RANGE)),
        Just(invalid("18446744073709551616", OUT_OF_RANGE)),
        Just(invalid("-9223372036854775809", OUT_OF_RANGE)),
        Just(invalid(format!("1{}", "0".repeat(400)), UNREADABLE)),
        Just(invalid("1e400", UNREADABLE)),
        prop_oneof![
            Just("\"7\""),
            Just("7.5"),
            Just("7.0"),
            Just("1e2"),
            Just("-0"),
            Just("true"),
            Just("[]"),
            Just("{}"),
        ]
        .prop_map(|j| invalid(j, WRONG_TYPE)),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct TsParts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    fraction: String,
    z: bool,
}

impl TsParts {
    fn base(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    fn text(&self) -> String {
        let mut s = self.base();
        if !self.fraction.is_empty() {
            s.push('.');
            s.push_str(&self.fraction);
        }
        if self.z {
            s.push('Z');
        }
        s
    }

    /// Milliseconds since the epoch, truncated to `precision` (computed with chrono, not the ETL).
    fn millis(&self, precision: TimestampPrecision) -> i64 {
        let seconds = NaiveDate::from_ymd_opt(self.year, self.month, self.day)
            .and_then(|d| d.and_hms_opt(self.hour, self.minute, self.second))
            .unwrap()
            .and_utc()
            .timestamp();
        let ms = match precision {
            TimestampPrecision::Second => 0,
            TimestampPrecision::Millisecond => {
                let mut digits: String = self.fraction.chars().take(3).collect();
                while digits.len() < 3 {
                    digits.push('0');
                }
                digits.parse::<i64>().unwrap()
            }
        };
        seconds * 1000 + ms
    }
}

fn last_day(year: i32, month: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|&d| NaiveDate::from_ymd_opt(year, month, d).is_some())
        .unwrap()
}

fn ts_parts() -> impl Strategy<Value = TsParts> {
    (
        prop_oneof![1i32..=9999, 1969i32..=2030, Just(1), Just(9999)],
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..60,
        "[0-9]{0,9}",
        any::<bool>(),
    )
        .prop_map(
            |(year, month, day, hour, minute, second, fraction, z)| TsParts {
                year,
                month,
                day: day.min(last_day(year, month)),
                hour,
                minute,
                second,
                fraction,
                z,
            },
        )
}

fn timestamp_value(precision: TimestampPrecision) -> BoxedStrategy<FieldValue> {
    ts_parts()
        .prop_map(move |t| {
            valid(
                serde_json::to_string(&t.text()).unwrap(),
                Cell::Millis(t.millis(precision)),
            )
        })
        .boxed()
}

/// Strings that are almost timestamps; every one breaks exactly one rule of the contract.
fn near_miss_timestamp() -> BoxedStrategy<FieldValue> {
    (ts_parts(), 0usize..22)
        .prop_map(|(t, which)| {
            let base = t.base();
            let (y, mo, d) = (t.year, t.month, t.day);
            let hms = &base[11..];
            let date = &base[..10];
            let s = match which {
                0 => base.replacen('T', " ", 1),
                1 => base.replacen('T', "t", 1),
                2 => format!("{base}z"),
                3 => format!("{base}ZZ"),
                4 => format!("{base}+00:00"),
                5 => format!("{base}."),
                6 => format!("{base}.1234567890"),
                7 => format!(" {base}"),
                8 => format!("{base} "),
                9 => base[..16].to_string(),
                10 => format!("{y:04}-02-30T{hms}"),
                11 => format!("{y:04}-13-{d:02}T{hms}"),
                12 => format!("{y:04}-00-{d:02}T{hms}"),
                13 => format!("{y:04}-{mo:02}-00T{hms}"),
                14 => format!("{date}T24:00:00"),
                15 => format!("{date}T23:60:00"),
                16 => format!("{date}T23:59:60"),
                17 => format!("0000-{mo:02}-{d:02}T{hms}"),
                18 => format!("２{}", &base[1..]),
                19 if mo < 10 => format!("{y:04}-{mo}-{d:02}T{hms}"),
                19 => format!("{base}x"),
                20 => format!("{date}T{hms}.5Z.5"),
                _ => format!("{y:04}/{mo:02}/{d:02}T{hms}"),
            };
            invalid(serde_json::to_string(&s).unwrap(), BAD_TIMESTAMP)
        })
        .boxed()
}

fn deep_array() -> BoxedStrategy<FieldValue> {
    (100usize..400)
        .prop_map(|n| invalid(format!("{}{}", "[".repeat(n), "]".repeat(n)), DEEP_ARRAY))
        .boxed()
}

fn deep_object() -> BoxedStrategy<FieldValue> {
    (1usize..1500)
        .prop_map(|n| {
            invalid(
                format!("{}1{}", "{\"a\": ".repeat(n), "}".repeat(n)),
                WRONG_TYPE,
            )
        })
        .boxed()
}

/// Values that break the contract in ways every column shares.
fn any_column_breakage(column: Column) -> BoxedStrategy<FieldValue> {
    let null = if column.nullable {
        valid("null".into(), Cell::Null)
    } else {
        invalid("null", NULL_FIELD)
    };
    prop_oneof![
        4 => Just(null),
        1 => Just(invalid("\"\\ud800\"", UNREADABLE)),
        1 => Just(invalid("\"a\\udc00b\"", UNREADABLE)),
        1 => deep_array(),
        1 => deep_object(),
    ]
    .boxed()
}

fn bad_value(column: Column) -> BoxedStrategy<FieldValue> {
    let specific = match column.kind {
        ColumnKind::Utf8 => prop_oneof![
            Just(invalid("7", WRONG_TYPE)),
            Just(invalid("true", WRONG_TYPE)),
            Just(invalid("[\"a\"]", WRONG_TYPE)),
            Just(invalid("{\"a\": \"b\"}", WRONG_TYPE)),
            Just(invalid("1.5", WRONG_TYPE)),
        ]
        .boxed(),
        ColumnKind::Utf8List => prop_oneof![
            Just(invalid("\"a\"", WRONG_TYPE)),
            Just(invalid("[1]", WRONG_TYPE)),
            Just(invalid("[null]", WRONG_TYPE)),
            Just(invalid("[\"a\", 1]", WRONG_TYPE)),
            Just(invalid("[[\"a\"]]", WRONG_TYPE)),
            Just(invalid("{}", WRONG_TYPE)),
        ]
        .boxed(),
        ColumnKind::Bool => prop_oneof![
            Just(invalid("0", WRONG_TYPE)),
            Just(invalid("1", WRONG_TYPE)),
            Just(invalid("\"true\"", WRONG_TYPE)),
            Just(invalid("\"false\"", WRONG_TYPE)),
        ]
        .boxed(),
        ColumnKind::UInt8 | ColumnKind::UInt16 | ColumnKind::UInt64 | ColumnKind::Int16 => {
            bad_int(column.kind)
        }
        ColumnKind::Timestamp(_) => prop_oneof![
            4 => near_miss_timestamp(),
            1 => Just(invalid("1705190361", WRONG_TYPE)),
            1 => Just(invalid("[\"2024-01-13T23:59:21\"]", WRONG_TYPE)),
        ]
        .boxed(),
    };
    prop_oneof![3 => specific, 1 => any_column_breakage(column)].boxed()
}

fn good_value(column: Column) -> BoxedStrategy<FieldValue> {
    let good = match column.kind {
        ColumnKind::Utf8 => string_value(),
        ColumnKind::Utf8List => list_value(),
        ColumnKind::Bool => any::<bool>()
            .prop_map(|b| valid(b.to_string(), Cell::Bool(b)))
            .boxed(),
        ColumnKind::UInt8 | ColumnKind::UInt16 | ColumnKind::UInt64 | ColumnKind::Int16 => {
            int_value(column.kind)
        }
        ColumnKind::Timestamp(precision) => timestamp_value(precision),
    };
    if column.nullable {
        prop_oneof![3 => Just(valid("null".into(), Cell::Null)), 1 => good].boxed()
    } else {
        good
    }
}

fn field_value(column: Column) -> BoxedStrategy<FieldValue> {
    prop_oneof![30 => good_value(column), 1 => bad_value(column)].boxed()
}

/// Which key an entry of the object has.
#[derive(Debug, Clone)]
enum Key {
    Column(usize),
    Unknown(String),
}

/// A change to the record as a whole.
#[derive(Debug, Clone)]
enum RecordChange {
    None,
    Drop(usize),
    Duplicate(usize, FieldValue),
    Unknown(String, usize),
    NotAnObject(&'static str),
    /// A key spelled with a `\u` escape (still the same key).
    EscapedKey(usize),
}

/// One generated record: its JSON text and the outcome the contract demands.
#[derive(Debug, Clone)]
struct GenRecord {
    json: String,
    expect: Expect,
}

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Row(Vec<Cell>),
    Reject {
        field: Option<String>,
        kinds: &'static [&'static str],
    },
}

fn record_change(folder: Folder) -> BoxedStrategy<RecordChange> {
    let n = folder.columns().len();
    let columns = folder.columns();
    prop_oneof![
        40 => Just(RecordChange::None),
        2 => (0..n).prop_map(RecordChange::Drop),
        2 => (0..n).prop_flat_map(move |i| field_value(columns[i])
            .prop_map(move |v| RecordChange::Duplicate(i, v))),
        2 => (prop_oneof!["[a-z_]{1,12}", any::<String>()], 0..=n)
            .prop_filter("an unknown key", move |(k, _)| !columns.iter().any(|c| c.name == k.as_str()))
            .prop_map(|(k, at)| RecordChange::Unknown(k, at)),
        1 => prop_oneof![
            Just("null"), Just("1"), Just("\"etl_id\""), Just("[1, 2]"), Just("true"), Just("[]"),
            Just("[{\"etl_id\": \"e\"}]"),
        ].prop_map(RecordChange::NotAnObject),
        2 => (0..n).prop_map(RecordChange::EscapedKey),
    ]
    .boxed()
}

fn key_json(folder: Folder, key: &Key, escaped: Option<usize>) -> String {
    match key {
        Key::Column(i) => {
            let name = folder.columns()[*i].name;
            if escaped == Some(*i) {
                // `\u00XX` for the first character: the same key once decoded.
                let first = name.as_bytes()[0];
                format!("\"\\u{:04x}{}\"", first, &name[1..])
            } else {
                format!("\"{name}\"")
            }
        }
        Key::Unknown(k) => serde_json::to_string(k).unwrap(),
    }
}

/// The contract's verdict on a whole record: the first error in text order wins, a missing field
/// is only known at the end (the first missing column in column order).
fn expected(folder: Folder, entries: &[(Key, FieldValue)]) -> Expect {
    let columns = folder.columns();
    let mut row: Vec<Option<Cell>> = vec![None; columns.len()];
    for (key, value) in entries {
        match key {
            Key::Unknown(k) => {
                return Expect::Reject {
                    field: Some(k.clone()),
                    kinds: &["unknown_field"],
                }
            }
            Key::Column(i) => {
                let field = Some(columns[*i].name.to_owned());
                if row[*i].is_some() {
                    return Expect::Reject {
                        field,
                        kinds: &["duplicate_field"],
                    };
                }
                match &value.verdict {
                    Verdict::Valid(cell) => row[*i] = Some(cell.clone()),
                    Verdict::Invalid(kinds) => return Expect::Reject { field, kinds },
                }
            }
        }
    }
    match row.iter().position(Option::is_none) {
        Some(i) => Expect::Reject {
            field: Some(columns[i].name.to_owned()),
            kinds: &["missing_field"],
        },
        None => Expect::Row(row.into_iter().map(Option::unwrap).collect()),
    }
}

fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

fn record(folder: Folder) -> BoxedStrategy<GenRecord> {
    let values: Vec<BoxedStrategy<FieldValue>> =
        folder.columns().iter().map(|c| field_value(*c)).collect();
    let separators = prop_oneof![Just(", "), Just(","), Just(",\n  "), Just(" , ")];
    let colons = prop_oneof![Just(": "), Just(":"), Just(" : ")];
    (
        values,
        record_change(folder),
        prop_oneof![Just(None), any::<u64>().prop_map(Some)],
        separators,
        colons,
    )
        .prop_map(move |(values, change, order, sep, colon)| {
            if let RecordChange::NotAnObject(json) = change {
                return GenRecord {
                    json: json.to_owned(),
                    expect: Expect::Reject {
                        field: None,
                        kinds: &["not_an_object"],
                    },
                };
            }
            let mut entries: Vec<(Key, FieldValue)> = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Key::Column(i), v))
                .collect();
            let mut escaped = None;
            match change {
                RecordChange::None | RecordChange::NotAnObject(_) => {}
                RecordChange::Drop(i) => {
                    entries.remove(i);
                }
                RecordChange::Duplicate(i, v) => entries.push((Key::Column(i), v)),
                RecordChange::Unknown(k, at) => entries.insert(
                    at.min(entries.len()),
                    (Key::Unknown(k), valid("1".into(), Cell::Null)),
                ),
                RecordChange::EscapedKey(i) => escaped = Some(i),
            }
            if let Some(seed) = order {
                shuffle(&mut entries, seed);
            }
            let expect = expected(folder, &entries);
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}{colon}{}", key_json(folder, k, escaped), v.json))
                .collect();
            GenRecord {
                json: format!("{{{}}}", body.join(sep)),
                expect,
            }
        })
        .boxed()
}

fn folder() -> impl Strategy<Value = Folder> {
    proptest::sample::select(Folder::ALL.to_vec())
}

/// A folder and a batch of its records.
fn batch(max: usize) -> impl Strategy<Value = (Folder, Vec<GenRecord>)> {
    folder().prop_flat_map(move |f| (Just(f), proptest::collection::vec(record(f), 0..max)))
}

fn array_json(records: &[GenRecord], pretty: bool) -> String {
    let items: Vec<&str> = records.iter().map(|r| r.json.as_str()).collect();
    if pretty {
        format!("[\n  {}\n]\n", items.join(",\n  "))
    } else {
        format!("[{}]", items.join(", "))
    }
}

fn gzip(data: &[u8], split: Option<usize>) -> Vec<u8> {
    // Python's gzip module reads concatenated members as one stream; so must the ETL.
    let member = |part: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(part).unwrap();
        enc.finish().unwrap()
    };
    match split {
        Some(at) if at < data.len() => {
            let mut out = member(&data[..at]);
            out.extend(member(&data[at..]));
            out
        }
        _ => member(data),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the outputs back
// ---------------------------------------------------------------------------------------------

fn cells(batch: &RecordBatch, column: Column, index: usize) -> Vec<Cell> {
    let array = batch.column(index);
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return Cell::Null;
            }
            match column.kind {
                ColumnKind::Utf8 => Cell::Str(array.as_string::<i32>().value(i).to_owned()),
                ColumnKind::Utf8List => {
                    let list = array.as_list::<i32>().value(i);
                    let strings = list.as_string::<i32>();
                    Cell::List(
                        (0..strings.len())
                            .map(|j| strings.value(j).to_owned())
                            .collect(),
                    )
                }
                ColumnKind::Bool => Cell::Bool(array.as_boolean().value(i)),
                ColumnKind::UInt8 => Cell::UInt(array.as_primitive::<UInt8Type>().value(i).into()),
                ColumnKind::UInt16 => {
                    Cell::UInt(array.as_primitive::<UInt16Type>().value(i).into())
                }
                ColumnKind::UInt64 => Cell::UInt(array.as_primitive::<UInt64Type>().value(i)),
                ColumnKind::Int16 => Cell::Int(array.as_primitive::<Int16Type>().value(i).into()),
                ColumnKind::Timestamp(_) => {
                    Cell::Millis(array.as_primitive::<TimestampMillisecondType>().value(i))
                }
            }
        })
        .collect()
}

/// Every row of a Parquet file, after checking its schema is the folder's standard schema.
fn parquet_rows(folder: Folder, parquet: Vec<u8>) -> Result<Vec<Vec<Cell>>, TestCaseError> {
    let (batches, metadata) = read_parquet(parquet);
    let schema = parquet::arrow::parquet_to_arrow_schema(
        metadata.file_metadata().schema_descr(),
        metadata.file_metadata().key_value_metadata(),
    )
    .unwrap();
    let standard = folder.arrow_schema();
    prop_assert_eq!(schema.fields(), standard.fields());
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for batch in &batches {
        let columns: Vec<Vec<Cell>> = folder
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| cells(batch, *c, i))
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    // The contract's null rule, checked on the file itself.
    for row in &rows {
        for (cell, column) in row.iter().zip(folder.columns()) {
            prop_assert!(
                column.nullable || *cell != Cell::Null,
                "null written in required column {}",
                column.name
            );
        }
    }
    Ok(rows)
}

#[derive(Debug, Deserialize)]
struct RejectLine {
    index: u64,
    kind: String,
    field: Option<String>,
    reason: String,
    record: Box<RawValue>,
}

fn reject_lines(rejects: &[u8]) -> Vec<RejectLine> {
    std::str::from_utf8(rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const RECORD_KINDS: &[&str] = &[
    "not_an_object",
    "missing_field",
    "null_field",
    "unknown_field",
    "duplicate_field",
    "wrong_type",
    "out_of_range",
    "bad_timestamp",
    "unreadable_value",
];

/// The rules every reject line obeys, whatever the input.
fn check_reject_line(
    folder: Folder,
    line: &RejectLine,
    element: &str,
) -> Result<(), TestCaseError> {
    prop_assert!(RECORD_KINDS.contains(&line.kind.as_str()), "{}", line.kind);
    prop_assert_eq!(
        line.record.get(),
        element.replace(['\n', '\r'], " "),
        "the record is kept verbatim, on one line"
    );
    prop_assert!(!line.reason.is_empty());
    match &line.field {
        None => {
            prop_assert_eq!(line.kind.as_str(), "not_an_object");
            let object = element.trim_start().starts_with('{');
            prop_assert!(!object, "not_an_object for an object: {}", element);
        }
        Some(field) => {
            prop_assert!(
                line.reason.contains(&format!("{field:?}")),
                "the reason names the field: {} / {}",
                line.reason,
                field
            );
            if line.kind != "unknown_field" {
                prop_assert!(
                    folder.columns().iter().any(|c| c.name == field),
                    "{} is not a column of {}",
                    field,
                    folder
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Property 1: the model
// ---------------------------------------------------------------------------------------------

fn options() -> impl Strategy<Value = ConvertOptions> {
    (1usize..6, any::<bool>()).prop_map(|(batch_rows, gzip)| ConvertOptions {
        codec: if gzip {
            ParquetCodec::Gzip
        } else {
            ParquetCodec::Zstd
        },
        batch_rows,
    })
}

fn check_model(
    folder: Folder,
    records: &[GenRecord],
    input: &[u8],
    options: &ConvertOptions,
) -> Result<(), TestCaseError> {
    let out = convert_bytes(folder, input, options);
    let ConvertOutcome::Converted(summary) = out.outcome else {
        return Err(TestCaseError::fail(format!(
            "a well-formed file was rejected: {:?}",
            out.outcome
        )));
    };
    let want_rows: Vec<&Vec<Cell>> = records
        .iter()
        .filter_map(|r| match &r.expect {
            Expect::Row(row) => Some(row),
            Expect::Reject { .. } => None,
        })
        .collect();
    let rejects = reject_lines(&out.rejects);
    prop_assert_eq!(
        summary.rows_written + summary.rows_rejected,
        records.len() as u64,
        "rows in = rows written + rows quarantined"
    );
    prop_assert_eq!(summary.rows_rejected as usize, rejects.len());
    let rows = parquet_rows(folder, out.parquet)?;
    prop_assert_eq!(rows.len() as u64, summary.rows_written);
    prop_assert_eq!(rows.iter().collect::<Vec<_>>(), want_rows);

    let want_rejects: Vec<(usize, &GenRecord)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.expect, Expect::Reject { .. }))
        .collect();
    prop_assert_eq!(rejects.len(), want_rejects.len());
    for (line, (index, record)) in rejects.iter().zip(want_rejects) {
        prop_assert_eq!(line.index, index as u64);
        check_reject_line(folder, line, &record.json)?;
        let Expect::Reject { field, kinds } = &record.expect else {
            unreachable!()
        };
        prop_assert!(
            kinds.contains(&line.kind.as_str()),
            "record {}: kind {} not in {:?} ({})",
            index,
            line.kind,
            kinds,
            line.reason
        );
        prop_assert_eq!(&line.field, field);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Property 2: damaged bytes, independent oracle
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Damage {
    /// Cut the gzip stream after this fraction (per mille) of its bytes.
    TruncateGzip(u32),
    FlipGzipByte(u32, u8),
    /// Edit the JSON text before compression: position (per mille), bytes to insert, bytes to delete.
    EditJson(u32, Vec<u8>, usize),
    AppendToGzip(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    let json_bytes = proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(b"{}[],:\"\\ nult0-9.eE+Z\n".to_vec()),
            any::<u8>(),
        ],
        0..4,
    );
    prop_oneof![
        1 => (0u32..1000).prop_map(Damage::TruncateGzip),
        1 => (0u32..1000, 1u8..=255).prop_map(|(p, x)| Damage::FlipGzipByte(p, x)),
        4 => (0u32..=1000, json_bytes, 0usize..4).prop_map(|(p, i, d)| Damage::EditJson(p, i, d)),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Damage::AppendToGzip),
    ]
}

fn at(len: usize, per_mille: u32) -> usize {
    len * per_mille as usize / 1000
}

fn apply(damage: &Damage, json: &[u8], split: Option<usize>) -> Vec<u8> {
    match damage {
        Damage::TruncateGzip(p) => {
            let gz = gzip(json, split);
            let cut = at(gz.len(), *p).min(gz.len() - 1);
            gz[..cut].to_vec()
        }
        Damage::FlipGzipByte(p, x) => {
            let mut gz = gzip(json, split);
            let i = at(gz.len(), *p).min(gz.len() - 1);
            gz[i] ^= x;
            gz
        }
        Damage::EditJson(p, insert, delete) => {
            let mut text = json.to_vec();
            let i = at(text.len(), *p);
            let end = (i + delete).min(text.len());
            let _removed: Vec<u8> = text.splice(i..end, insert.iter().copied()).collect();
            gzip(&text, split)
        }
        Damage::AppendToGzip(tail) => {
            let mut gz = gzip(json, split);
            gz.extend(tail);
            gz
        }
    }
}

/// What an independent reader makes of the bytes: the array's elements, or `None` when the file is
/// unreadable as a whole.
fn oracle_elements(input: &[u8]) -> Option<Vec<Box<RawValue>>> {
    if input.is_empty() {
        return None;
    }
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(input)
        .read_to_end(&mut text)
        .ok()?;
    serde_json::from_slice(&text).ok()
}

/// An independent reading of a timestamp string (the contract's forms), in milliseconds.
fn oracle_millis(s: &str, precision: TimestampPrecision) -> Option<i64> {
    let body = s.strip_suffix('Z').unwrap_or(s);
    let (main, fraction) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    let b = main.as_bytes();
    let shape = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let n = |r: std::ops::Range<usize>| main[r].parse::<u32>().unwrap();
    let year = n(0..4) as i32;
    if year == 0 {
        return None;
    }
    let seconds = NaiveDate::from_ymd_opt(year, n(5..7), n(8..10))?
        .and_hms_opt(n(11..13), n(14..16), n(17..19))?
        .and_utc()
        .timestamp();
    let ms = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()) => {
            format!("{f:0<3}")[..3].parse::<i64>().unwrap()
        }
        Some(_) => return None,
    };
    Some(
        seconds * 1000
            + match precision {
                TimestampPrecision::Millisecond => ms,
                TimestampPrecision::Second => 0,
            },
    )
}

/// The cell an independent validator expects for a JSON value accepted into `column`.
fn oracle_cell(column: Column, value: &serde_json::Value) -> Option<Cell> {
    use serde_json::Value;
    Some(match (column.kind, value) {
        (_, Value::Null) if column.nullable => Cell::Null,
        (ColumnKind::Utf8, Value::String(s)) => Cell::Str(s.clone()),
        (ColumnKind::Utf8List, Value::Array(items)) => Cell::List(
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()?,
        ),
        (ColumnKind::Bool, Value::Bool(b)) => Cell::Bool(*b),
        (ColumnKind::Int16, Value::Number(n)) => Cell::Int(i16::try_from(n.as_i64()?).ok()?.into()),
        (ColumnKind::UInt8, Value::Number(n)) => Cell::UInt(u8::try_from(n.as_u64()?).ok()?.into()),
        (ColumnKind::UInt16, Value::Number(n)) => {
            Cell::UInt(u16::try_from(n.as_u64()?).ok()?.into())
        }
        (ColumnKind::UInt64, Value::Number(n)) => Cell::UInt(n.as_u64()?),
        (ColumnKind::Timestamp(p), Value::String(s)) => Cell::Millis(oracle_millis(s, p)?),
        _ => return None,
    })
}

/// A JSON object's entries in order, duplicates kept (serde_json's `Value` keeps only the last).
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// The row an independent validator makes of a record, `None` when the contract rejects it.
fn oracle_row(folder: Folder, element: &str) -> Option<Vec<Cell>> {
    let Entries(entries) = serde_json::from_str(element).ok()?;
    let mut object = BTreeMap::new();
    for (key, value) in entries {
        let value: serde_json::Value = serde_json::from_str(value.get()).ok()?;
        if object.insert(key, value).is_some() {
            return None;
        }
    }
    if object.len() != folder.columns().len() {
        return None;
    }
    folder
        .columns()
        .iter()
        .map(|c| object.get(c.name).and_then(|v| oracle_cell(*c, v)))
        .collect()
}

fn check_damaged(folder: Folder, input: &[u8]) -> Result<(), TestCaseError> {
    let out = convert_bytes(folder, input, &ConvertOptions::default());
    let elements = oracle_elements(input);
    let (elements, summary) = match (elements, out.outcome) {
        (None, ConvertOutcome::Rejected(reason)) => {
            prop_assert!(!reason.to_string().is_empty());
            prop_assert!(!reason.kind().is_empty());
            return Ok(());
        }
        (Some(elements), ConvertOutcome::Converted(summary)) => (elements, summary),
        (elements, outcome) => {
            return Err(TestCaseError::fail(format!(
                "the converter says {outcome:?}, an independent reader {}",
                match elements {
                    Some(e) => format!("reads {} records", e.len()),
                    None => "cannot read the file".into(),
                }
            )))
        }
    };
    prop_assert_eq!(
        summary.rows_written + summary.rows_rejected,
        elements.len() as u64,
        "rows in = rows written + rows quarantined"
    );
    let rejects = reject_lines(&out.rejects);
    prop_assert_eq!(rejects.len() as u64, summary.rows_rejected);
    let mut rejected = vec![false; elements.len()];
    for line in &rejects {
        let i = line.index as usize;
        prop_assert!(i < elements.len() && !rejected[i], "index {}", i);
        rejected[i] = true;
        check_reject_line(folder, line, elements[i].get())?;
        prop_assert!(
            oracle_row(folder, elements[i].get()).is_none(),
            "a valid record was rejected: {} ({})",
            elements[i].get(),
            line.reason
        );
    }
    let rows = parquet_rows(folder, out.parquet)?;
    let kept: Vec<&RawValue> = elements
        .iter()
        .zip(&rejected)
        .filter(|(_, r)| !**r)
        .map(|(e, _)| &**e)
        .collect();
    prop_assert_eq!(rows.len(), kept.len());
    for (row, element) in rows.iter().zip(kept) {
        let want = oracle_row(folder, element.get());
        prop_assert_eq!(Some(row), want.as_ref(), "written row of {}", element.get());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Property 3: blobs, names and the standard container
// ---------------------------------------------------------------------------------------------

fn blob_name(folder: Folder) -> impl Strategy<Value = String> {
    let folder_name = prop_oneof![
        8 => Just(folder.as_str().to_owned()),
        1 => Just("other".to_owned()),
        1 => Just(format!("{}x", folder.as_str())),
    ];
    let date = prop_oneof![
        8 => Just("2024/01/13".to_owned()),
        1 => Just("2024/02/30".to_owned()),
        1 => Just("24/01/13".to_owned()),
        1 => Just("2024/01".to_owned()),
    ];
    let stem = prop_oneof![
        8 => "[a-z0-9_.-]{1,20}",
        1 => Just(String::new()),
        1 => "[a-z]{1,5}/[a-z]{1,5}",
    ];
    let extension = prop_oneof![
        8 => Just(".json.gzip"),
        1 => Just(".json.gz"),
        1 => Just(""),
    ];
    let prefix = prop_oneof![
        6 => Just(""),
        2 => Just("raw/"),
        1 => Just("_canary/"),
        1 => Just("_quarantine/"),
        1 => Just("raw/_quarantine/"),
    ];
    (prefix, folder_name, date, stem, extension)
        .prop_map(|(p, f, d, s, e)| format!("{p}{f}/{d}/{s}{e}"))
}

/// A name as the store spells it (object_store drops empty segments, escapes `.` and `..`).
fn stored(name: &str) -> String {
    Path::from(name).to_string()
}

fn check_blob(name: &str, input: Vec<u8>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let concrete = Arc::new(InMemory::new());
    let store: Arc<dyn ObjectStore> = concrete.clone();
    let run = || {
        rt.block_on(process_raw_blob(
            &store,
            name,
            Bytes::from(input.clone()),
            &ConvertOptions::default(),
        ))
        .unwrap()
    };
    let outcome = run();
    let first = rt.block_on(etl_support::objects(concrete.as_ref()));
    let relative = name.strip_prefix("raw/").unwrap_or(name);
    match &outcome {
        BlobOutcome::Ignored { .. } => {
            prop_assert!(relative.starts_with("_quarantine/"), "{}", name);
            prop_assert!(first.is_empty());
        }
        BlobOutcome::Processed {
            raw,
            parquet,
            rejects,
            summary,
        } => {
            prop_assert_eq!(raw, &RawBlobPath::parse(name).unwrap());
            let mut expected = vec![stored(parquet)];
            prop_assert_eq!(rejects.is_some(), summary.rows_rejected > 0);
            if let Some(rejects) = rejects {
                // The quarantine keeps the blob's whole name.
                prop_assert_eq!(rejects, &format!("_quarantine/{relative}.jsonl"));
                expected.push(stored(rejects));
                let lines = reject_lines(&first[&stored(rejects)]);
                prop_assert_eq!(lines.len() as u64, summary.rows_rejected);
            }
            expected.sort();
            prop_assert_eq!(first.keys().cloned().collect::<Vec<_>>(), expected);
            let rows = parquet_rows(raw.folder(), first[&stored(parquet)].to_vec())?;
            prop_assert_eq!(rows.len() as u64, summary.rows_written);
        }
        BlobOutcome::Quarantined {
            copy, reason_doc, ..
        } => {
            prop_assert_eq!(copy, &format!("_quarantine/{relative}"));
            prop_assert_eq!(reason_doc, &format!("_quarantine/{relative}.reason.json"));
            let mut expected = vec![stored(copy), stored(reason_doc)];
            expected.sort();
            prop_assert_eq!(first.keys().cloned().collect::<Vec<_>>(), expected);
            prop_assert_eq!(
                &first[&stored(copy)][..],
                &input[..],
                "the file is kept whole"
            );
            let doc: serde_json::Value =
                serde_json::from_slice(&first[&stored(reason_doc)]).unwrap();
            prop_assert_eq!(&doc["blob"], name);
            prop_assert_eq!(&doc["size"], input.len());
            prop_assert!(doc["kind"].as_str().is_some_and(|k| !k.is_empty()));
            prop_assert!(doc["reason"].as_str().is_some_and(|r| !r.is_empty()));
        }
    }
    // Processing the same blob again (a host retry) leaves exactly the same objects.
    prop_assert_eq!(run(), outcome);
    prop_assert_eq!(rt.block_on(etl_support::objects(concrete.as_ref())), first);
    Ok(())
}

// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(prop_support::config("etl records_follow_the_contract_model", 96))]
    #[test]
    fn records_follow_the_contract_model(
        (folder, records) in batch(12),
        pretty in any::<bool>(),
        split in proptest::option::of(0usize..4000),
        options in options(),
    ) {
        let json = array_json(&records, pretty);
        check_model(folder, &records, &gzip(json.as_bytes(), split), &options)?;
    }
}

proptest! {
    #![proptest_config(prop_support::config("etl mutated_bytes_conserve_every_record", 128))]
    #[test]
    fn mutated_bytes_conserve_every_record(
        (folder, records) in batch(6),
        split in proptest::option::of(0usize..2000),
        damage in damage(),
    ) {
        let json = array_json(&records, false);
        check_damaged(folder, &apply(&damage, json.as_bytes(), split))?;
    }
}

proptest! {
    #![proptest_config(prop_support::config("etl blobs_are_processed_or_quarantined_whole", 48))]
    #[test]
    fn blobs_are_processed_or_quarantined_whole(
        (_, records) in batch(5),
        name in folder().prop_flat_map(blob_name),
        damage in proptest::option::of(damage()),
    ) {
        let json = array_json(&records, false);
        let input = match &damage {
            Some(d) => apply(d, json.as_bytes(), None),
            None => gzip(json.as_bytes(), None),
        };
        check_blob(&name, input)?;
    }
}

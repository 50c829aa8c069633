//! How each column is laid out in the Parquet pages: the writer properties of every conversion.
//!
//! Deflate at level 9 (the original's gzip level) spends its time on long match chains, which the
//! default layout feeds plenty of: a dictionary of unique 8-byte integers (zero high bytes at every
//! 8th position), a 4-byte length before every 36-character id. So the columns whose values are
//! (nearly) all different leave the dictionary and take a delta encoding, which the Parquet format
//! defines for exactly this and pyarrow and DuckDB read: integers and timestamps as
//! DELTA_BINARY_PACKED (a few bits per value for counters, offsets and clocks), ids as
//! DELTA_BYTE_ARRAY (lengths as deltas, values without length prefixes). Columns with few distinct
//! values keep the dictionary. The values read back are the same; only the pages' bytes change
//! (runtime/docs/etl-performance.md has the measurements).
//!
//! Min/max statistics are kept for numbers, booleans and timestamps (row group and page index: what
//! readers prune time and offset ranges with) and left out for text: parquet-rs computes them by
//! comparing every string twice, which was ~10 % of a buffer_meta conversion, and on ids (random
//! UUIDs) or a batch's constant `etl_id` they cannot skip anything within a file.

use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::schema::{Column, ColumnKind, Folder};

/// The encoding a column is written with when it does not use a dictionary.
fn delta_encoding(column: &Column) -> Option<Encoding> {
    match column.kind {
        ColumnKind::UInt64 | ColumnKind::Timestamp(_) => Some(Encoding::DELTA_BINARY_PACKED),
        ColumnKind::Utf8 if column.unique => Some(Encoding::DELTA_BYTE_ARRAY),
        _ => None,
    }
}

/// Text columns carry no min/max statistics (module doc).
fn statistics(column: &Column) -> EnabledStatistics {
    match column.kind {
        ColumnKind::Utf8 | ColumnKind::Utf8List => EnabledStatistics::None,
        _ => EnabledStatistics::Page,
    }
}

/// The Parquet path of the column's values: a list's strings are its `list.item` leaf.
fn leaf_path(column: &Column) -> ColumnPath {
    match column.kind {
        ColumnKind::Utf8List => ColumnPath::new(vec![
            column.name.to_owned(),
            "list".to_owned(),
            "item".to_owned(),
        ]),
        _ => ColumnPath::from(column.name),
    }
}

/// Writer properties for one conversion of `folder`: `compression` on every page (a
/// [`super::ParquetCodec`]'s, or none for `etl stages`), one row group per `batch_rows` rows, each
/// column's encoding and statistics as described in the module doc.
pub(super) fn writer_properties(
    folder: Folder,
    compression: Compression,
    batch_rows: usize,
) -> WriterProperties {
    let builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_size(batch_rows);
    folder
        .columns()
        .iter()
        .fold(builder, |builder, column| {
            let path = leaf_path(column);
            let builder = builder.set_column_statistics_enabled(path.clone(), statistics(column));
            match delta_encoding(column) {
                Some(encoding) => builder
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path, encoding),
                None => builder,
            }
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etl::ParquetCodec;

    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, StringArray, TimestampMillisecondArray, UInt16Array, UInt64Array,
    };
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    /// A lib_server_lobby batch whose columns cover every rule: a unique id, repeated strings,
    /// timestamps, a small integer and large integers including both ends of the u64 range.
    fn lobby_batch(rows: u64) -> RecordBatch {
        let text = |f: &dyn Fn(u64) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values((0..rows).map(f)))
        };
        let large = |i: u64| match i % 5 {
            0 => u64::MAX,
            1 => 0,
            _ => i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        };
        let columns: Vec<ArrayRef> = vec![
            text(&|_| "3febb019-42a1-40ff-8b3f-19e53c6ab6b9".into()),
            text(&|i| {
                format!(
                    "{:08x}-4e3a-4b1c-9d2e-{:012x}",
                    i.wrapping_mul(2_654_435_761),
                    i
                )
            }),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..rows).map(|i| 1_705_190_361_000 + (i as i64 * 7919) % 100_000),
            )),
            text(&|i| format!("game-{}", i / 30)),
            text(&|i| format!("user-{}", i % 3)),
            Arc::new(UInt16Array::from_iter_values(
                (0..rows).map(|i| (i % 12) as u16),
            )),
            Arc::new(UInt64Array::from_iter_values((0..rows).map(large))),
            Arc::new(UInt64Array::from_iter_values(
                (0..rows).map(|i| large(i + 2)),
            )),
        ];
        RecordBatch::try_new(Folder::LibServerLobby.arrow_schema(), columns).expect("the schema")
    }

    fn write(batch: &RecordBatch, codec: ParquetCodec) -> bytes::Bytes {
        let properties = writer_properties(Folder::LibServerLobby, codec.compression(), 4096);
        let mut out = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut out, batch.schema(), Some(properties)).expect("writer");
        writer.write(batch).expect("write");
        writer.close().expect("close");
        out.into()
    }

    #[test]
    fn high_cardinality_columns_are_delta_encoded_and_the_rest_use_a_dictionary() {
        let file = write(&lobby_batch(10_000), ParquetCodec::Gzip);
        let reader = SerializedFileReader::new(file).expect("a Parquet file");
        let metadata = reader.metadata();
        assert_eq!(metadata.num_row_groups(), 3, "4096 rows per row group");
        for group in metadata.row_groups() {
            for chunk in group.columns() {
                let name = chunk.column_path().string();
                let encodings = chunk.encodings();
                let dictionary = encodings.contains(&Encoding::RLE_DICTIONARY);
                match name.as_str() {
                    "msg_id" => {
                        assert!(encodings.contains(&Encoding::DELTA_BYTE_ARRAY), "{name}");
                        assert!(!dictionary, "{name}: {encodings:?}");
                    }
                    "timestamp" | "superhero_attack" | "superhero_health" => {
                        assert!(encodings.contains(&Encoding::DELTA_BINARY_PACKED), "{name}");
                        assert!(!dictionary, "{name}: {encodings:?}");
                    }
                    _ => assert!(dictionary, "{name}: {encodings:?}"),
                }
            }
        }
    }

    /// Statistics per leaf column of a written file: `Some(has_min_max)` or `None` when absent.
    fn statistics_by_column(file: bytes::Bytes) -> Vec<(String, Option<bool>)> {
        let reader = SerializedFileReader::new(file).expect("a Parquet file");
        let group = reader.metadata().row_group(0);
        group
            .columns()
            .iter()
            .map(|chunk| {
                let stats = chunk
                    .statistics()
                    .map(|s| s.min_bytes_opt().is_some() && s.max_bytes_opt().is_some());
                (chunk.column_path().string(), stats)
            })
            .collect()
    }

    #[test]
    fn text_columns_have_no_statistics_and_the_others_have_min_and_max() {
        let lobby = statistics_by_column(write(&lobby_batch(10_000), ParquetCodec::Gzip));
        assert_eq!(lobby.len(), 8);
        for (name, stats) in lobby {
            match name.as_str() {
                "etl_id" | "msg_id" | "game_token" | "user_token" => {
                    assert_eq!(stats, None, "{name}")
                }
                _ => assert_eq!(stats, Some(true), "{name}"),
            }
        }

        // buffer_meta holds the list column, whose strings are the `headers.list.item` leaf.
        let record = r#"{"etl_id": "e", "msg_id": "m", "checksum": null, "headers": ["h1", "h2"], "key": "k", "offset": 7, "partition": 1, "serialized_key_size": -1, "serialized_value_size": 9, "timestamp": "2024-01-14T00:00:00.000000", "timestamp_type": 0, "topic": "t", "_is_protocol": false}"#;
        let json = format!("[{record}, {record}]");
        let properties =
            writer_properties(Folder::BufferMeta, ParquetCodec::Zstd.compression(), 4096);
        let mut out = Vec::new();
        let outcome = crate::etl::convert::convert_json(
            Folder::BufferMeta,
            json.as_bytes(),
            &mut out,
            std::io::sink(),
            4096,
            properties,
        )
        .expect("written");
        assert!(
            matches!(outcome, crate::etl::ConvertOutcome::Converted(ref s) if s.rows_written == 2),
            "{outcome:?}"
        );
        let buffer = statistics_by_column(out.into());
        let text = [
            "etl_id",
            "msg_id",
            "checksum",
            "headers.list.item",
            "key",
            "topic",
        ];
        assert_eq!(buffer.len(), 13);
        for (name, stats) in buffer {
            if text.contains(&name.as_str()) {
                assert_eq!(stats, None, "{name}");
            } else {
                assert_eq!(stats, Some(true), "{name}");
            }
        }
    }

    #[test]
    fn delta_encoded_values_read_back_unchanged() {
        for codec in [ParquetCodec::Zstd, ParquetCodec::Gzip] {
            let batch = lobby_batch(10_000);
            let reader = ParquetRecordBatchReaderBuilder::try_new(write(&batch, codec))
                .expect("a Parquet file")
                .with_batch_size(20_000)
                .build()
                .expect("a reader");
            let read: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("batches");
            assert_eq!(read.len(), 1);
            assert_eq!(read[0], batch, "{codec}");
        }
    }
}

//! A large batch streams through: the input is generated on the fly and the output discarded, so
//! neither side is ever held in memory, and rows are flushed as row groups as they come.
#![allow(clippy::unwrap_used)]

use std::io::{self, Write};

mod etl_support;
use etl_support::{CountingSink, LazyArray};

use runtime::etl::{convert, ConvertOptions, ConvertOutcome, ConvertSummary, Folder, ParquetCodec};

/// One buffer_meta record; every 1000th has an out-of-range partition.
fn record(i: u64, out: &mut Vec<u8>) -> io::Result<()> {
    let partition = if i % 1000 == 999 { 300 } else { i % 4 };
    write!(
        out,
        r#"{{"etl_id": "e", "msg_id": "m{i}", "checksum": null, "headers": [], "key": "", "offset": {i}, "partition": {partition}, "serialized_key_size": -1, "serialized_value_size": 500, "timestamp": "2024-01-13T22:25:40.123000", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false}}"#
    )
}

#[test]
fn a_large_generated_batch_streams_through_in_row_groups() {
    let total = 300_000;
    let records = LazyArray::new(total, record);
    let gzip = flate2::read::GzEncoder::new(records, flate2::Compression::fast());
    let mut parquet = CountingSink(0);
    let mut rejects = CountingSink(0);
    let options = ConvertOptions {
        codec: ParquetCodec::Zstd,
        batch_rows: 10_000,
    };
    let outcome = convert(
        Folder::BufferMeta,
        gzip,
        &mut parquet,
        &mut rejects,
        &options,
    )
    .unwrap();
    let rejected = total / 1000;
    assert_eq!(
        outcome,
        ConvertOutcome::Converted(ConvertSummary {
            rows_written: total - rejected,
            rows_rejected: rejected,
            row_groups: ((total - rejected) as usize).div_ceil(10_000),
        })
    );
    assert!(parquet.0 > 0 && rejects.0 > 0);
}

//! A large batch streams through: the input is generated on the fly and the output discarded, so
//! neither side is ever held in memory, and rows are flushed as row groups as they come.
#![allow(clippy::unwrap_used)]

use std::io::{self, Read, Write};

use runtime::etl::{convert, ConvertOptions, ConvertOutcome, ConvertSummary, Folder, ParquetCodec};

/// `[rec, rec, ...]` produced lazily, every 1000th record with an out-of-range partition.
struct Records {
    next: u64,
    total: u64,
    pending: Vec<u8>,
    at: usize,
}

impl Read for Records {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.pending.len() {
            self.pending.clear();
            self.at = 0;
            if self.next == 0 {
                self.pending.push(b'[');
            }
            if self.next < self.total {
                let i = self.next;
                let partition = if i % 1000 == 999 { 300 } else { i % 4 };
                if i > 0 {
                    self.pending.extend_from_slice(b", ");
                }
                write!(
                    self.pending,
                    r#"{{"etl_id": "e", "msg_id": "m{i}", "checksum": null, "headers": [], "key": "", "offset": {i}, "partition": {partition}, "serialized_key_size": -1, "serialized_value_size": 500, "timestamp": "2024-01-13T22:25:40.123000", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false}}"#
                )?;
            } else if self.next == self.total {
                self.pending.push(b']');
            }
            self.next += 1;
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

struct Counting(u64);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_generated_batch_streams_through_in_row_groups() {
    let total = 300_000;
    let records = Records {
        next: 0,
        total,
        pending: Vec::new(),
        at: 0,
    };
    let gzip = flate2::read::GzEncoder::new(records, flate2::Compression::fast());
    let mut parquet = Counting(0);
    let mut rejects = Counting(0);
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

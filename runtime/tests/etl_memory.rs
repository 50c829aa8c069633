//! Memory stays flat in the file size for every Parquet codec: after a small generated batch has
//! converted, a batch ten times larger (ten times the row groups and pages) must not raise the
//! process's peak resident memory (`VmHWM`) by more than a small margin. The crate forbids unsafe
//! code, so the bound is on what the kernel reports, not on a counting allocator. With glibc's
//! malloc instead of the binaries' allocator, the gzip codec's peak grows ~10x here (68 -> 613 MiB).
#![allow(clippy::unwrap_used)]

use std::io::{self, Write};

mod etl_support;
use etl_support::{CountingSink, LazyArray};

use runtime::etl::{
    convert, ConvertAllocator, ConvertOptions, ConvertOutcome, Folder, ParquetCodec,
};

// What the etl and handler binaries register.
#[global_allocator]
static ALLOCATOR: ConvertAllocator = ConvertAllocator;

/// One buffer_meta record with values varying by `i`.
fn record(i: u64, out: &mut Vec<u8>) -> io::Result<()> {
    write!(
        out,
        r#"{{"etl_id": "3febb019-42a1-40ff-8b3f-19e53c6ab6b9", "msg_id": "{:08x}-4e3a-4b1c-9d2e-{:012x}", "checksum": null, "headers": [], "key": "", "offset": {i}, "partition": {}, "serialized_key_size": -1, "serialized_value_size": {}, "timestamp": "2024-01-13T22:25:{:02}.{:06}", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false}}"#,
        i as u32,
        i.wrapping_mul(2_654_435_761),
        i % 4,
        490 + i % 40,
        i % 60,
        i * 997 % 1_000_000,
    )
}

/// The process's peak resident set so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}

/// Converts `rows` generated records with `codec`, checking the outcome.
fn convert_generated(codec: ParquetCodec, rows: u64) {
    let input =
        flate2::read::GzEncoder::new(LazyArray::new(rows, record), flate2::Compression::fast());
    let mut parquet = CountingSink(0);
    let options = ConvertOptions {
        codec,
        batch_rows: 2048,
    };
    let outcome = convert(
        Folder::BufferMeta,
        input,
        &mut parquet,
        io::sink(),
        &options,
    )
    .unwrap();
    match outcome {
        ConvertOutcome::Converted(s) => {
            assert_eq!((s.rows_written, s.rows_rejected), (rows, 0));
            assert_eq!(s.row_groups as u64, rows.div_ceil(2048));
        }
        other => panic!("{codec}: {other:?}"),
    }
    assert!(parquet.0 > 0);
}

/// Ten times the rows, row groups and pages must not need more resident memory. Both codecs run in
/// one test: the peak is process-wide. The small batches run first for both codecs, so the
/// baseline already holds the allocator's and the inflate thread's warm-up (a few MiB that arrive
/// over the first row groups, more on machines with more cores); a leak per row group or page
/// (glibc's malloc: 68 -> 613 MiB) still shows many times over the margin.
#[test]
fn peak_memory_is_flat_in_file_size_for_every_codec() {
    const MIB: u64 = 1024 * 1024;
    const CODECS: [ParquetCodec; 2] = [ParquetCodec::Gzip, ParquetCodec::Zstd];
    for codec in CODECS {
        convert_generated(codec, 16_000);
    }
    let after_small = peak_rss();
    for codec in CODECS {
        convert_generated(codec, 160_000);
        let after_large = peak_rss();
        eprintln!(
            "{codec}: peak RSS {} MiB after 16k rows, {} MiB after 160k rows",
            after_small / MIB,
            after_large / MIB
        );
        assert!(
            after_large <= after_small + 16 * MIB,
            "{codec}: peak RSS grew with the file: {} MiB after 16k rows, {} MiB after 160k rows",
            after_small / MIB,
            after_large / MIB
        );
    }
}

//! Shared helpers for the ETL integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;
use runtime::etl::{convert, ConvertOptions, ConvertOutcome, Folder};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/raw")
}

/// Every golden raw file as (name relative to container raw, bytes), sorted by name.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = fixtures_dir();
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 5,
        "fixtures missing under {}",
        root.display()
    );
    files
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

pub struct Converted {
    pub outcome: ConvertOutcome,
    pub parquet: Vec<u8>,
    pub rejects: Vec<u8>,
}

pub fn convert_bytes(folder: Folder, input: &[u8], options: &ConvertOptions) -> Converted {
    let mut parquet = Vec::new();
    let mut rejects = Vec::new();
    let outcome = convert(folder, input, &mut parquet, &mut rejects, options).unwrap();
    Converted {
        outcome,
        parquet,
        rejects,
    }
}

pub fn read_parquet(data: Vec<u8>) -> (Vec<RecordBatch>, std::sync::Arc<ParquetMetaData>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(data)).unwrap();
    let metadata = builder.metadata().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, metadata)
}

/// Every object in `store`, by name.
pub async fn objects(
    store: &dyn object_store::ObjectStore,
) -> std::collections::BTreeMap<String, Bytes> {
    use futures::TryStreamExt;
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut out = std::collections::BTreeMap::new();
    for meta in metas {
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        out.insert(meta.location.to_string(), bytes);
    }
    out
}

pub fn reject_lines(rejects: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `[rec, rec, ...]` of `total` records, each written by `record(i, out)` only when the reader gets
/// to it: a large batch is never held in memory.
pub struct LazyArray<F> {
    next: u64,
    total: u64,
    pending: Vec<u8>,
    at: usize,
    record: F,
}

impl<F: FnMut(u64, &mut Vec<u8>) -> io::Result<()>> LazyArray<F> {
    pub fn new(total: u64, record: F) -> Self {
        Self {
            next: 0,
            total,
            pending: Vec::new(),
            at: 0,
            record,
        }
    }
}

impl<F: FnMut(u64, &mut Vec<u8>) -> io::Result<()>> Read for LazyArray<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.pending.len() {
            self.pending.clear();
            self.at = 0;
            if self.next == 0 {
                self.pending.push(b'[');
            }
            if self.next < self.total {
                if self.next > 0 {
                    self.pending.extend_from_slice(b", ");
                }
                (self.record)(self.next, &mut self.pending)?;
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

/// Discards what is written, counting the bytes.
pub struct CountingSink(pub u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

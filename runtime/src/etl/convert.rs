//! Streaming conversion of one raw batch file to Parquet.
//!
//! The gzip stream and the JSON array are decoded element by element; valid rows go to Arrow
//! builders and are written as one Parquet row group every `batch_rows` rows, so memory stays
//! bounded by one row group plus the largest single record whatever the file size.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::str::FromStr;

use flate2::bufread::MultiGzDecoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use serde_json::error::Category;
use serde_json::value::RawValue;

use super::builders::BatchBuilder;
use super::direct::RowSlots;
use super::elements::{ArrayElements, Element};
use super::layout::writer_properties;
use super::quarantine::RejectWriter;
use super::read_ahead::with_read_ahead;
use super::record;
use super::schema::Folder;

/// Parquet column codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParquetCodec {
    #[default]
    Zstd,
    /// What the original functions wrote, at the original's level ([`GZIP_LEVEL`]).
    Gzip,
}

/// pyarrow's default GZIP level (Arrow C++ `kGZipDefaultCompressionLevel`), which the original's
/// `pq.write_table(compression="gzip")` used; parquet-rs defaults to 6.
pub const GZIP_LEVEL: u32 = 9;

impl ParquetCodec {
    pub(super) fn compression(self) -> Compression {
        match self {
            ParquetCodec::Zstd => Compression::ZSTD(ZstdLevel::default()),
            // 9 is within 0..=9: never the default.
            ParquetCodec::Gzip => {
                Compression::GZIP(GzipLevel::try_new(GZIP_LEVEL).unwrap_or_default())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Parquet codec {0:?} (expected zstd or gzip)")]
pub struct UnknownCodec(pub String);

impl FromStr for ParquetCodec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "zstd" => Ok(ParquetCodec::Zstd),
            "gzip" => Ok(ParquetCodec::Gzip),
            _ => Err(UnknownCodec(s.to_owned())),
        }
    }
}

impl fmt::Display for ParquetCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParquetCodec::Zstd => "zstd",
            ParquetCodec::Gzip => "gzip",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    pub codec: ParquetCodec,
    /// Rows per Parquet row group (and per in-memory Arrow batch).
    pub batch_rows: usize,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            codec: ParquetCodec::Zstd,
            batch_rows: 64 * 1024,
        }
    }
}

/// What a readable file produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub row_groups: usize,
}

/// Why a whole file could not be read; nothing from it may be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRejection {
    #[error("the file is empty")]
    Empty,
    #[error("not a gzip stream (starts with {0})")]
    NotGzip(String),
    #[error("corrupt or truncated gzip stream: {0}")]
    Gzip(String),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not a JSON array of records: {0}")]
    NotArray(String),
    #[error("data after the JSON array: {0}")]
    TrailingData(String),
}

impl FileRejection {
    /// A stable machine-readable name for the rejection class.
    pub fn kind(&self) -> &'static str {
        match self {
            FileRejection::Empty => "empty",
            FileRejection::NotGzip(_) => "not_gzip",
            FileRejection::Gzip(_) => "gzip",
            FileRejection::Json(_) => "json",
            FileRejection::NotArray(_) => "not_array",
            FileRejection::TrailingData(_) => "trailing_data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertOutcome {
    Converted(ConvertSummary),
    /// The outputs are incomplete and must be discarded.
    Rejected(FileRejection),
}

/// Writing an output failed: a problem on our side, not in the input.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("writing Parquet: {0}")]
    Parquet(#[from] ParquetError),
    #[error("writing rejected records: {0}")]
    Rejects(#[source] io::Error),
}

/// Converts one raw batch file (gzip JSON array) of `folder` into Parquet on `parquet_out`, writing
/// each rejected record as a JSON line to `rejects_out`.
pub fn convert<R: Read + Send, W: Write + Send, Q: Write>(
    folder: Folder,
    input: R,
    parquet_out: W,
    rejects_out: Q,
    options: &ConvertOptions,
) -> Result<ConvertOutcome, OutputError> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    match input.fill_buf() {
        Ok([]) => return Ok(ConvertOutcome::Rejected(FileRejection::Empty)),
        Ok([0x1f, 0x8b, ..]) => {}
        Ok(start) => {
            let shown: Vec<String> = start.iter().take(4).map(|b| format!("{b:02x}")).collect();
            return Ok(ConvertOutcome::Rejected(FileRejection::NotGzip(
                shown.join(" "),
            )));
        }
        Err(e) => return Ok(ConvertOutcome::Rejected(FileRejection::Gzip(e.to_string()))),
    }
    let batch_rows = options.batch_rows.max(1);
    let properties = writer_properties(folder, options.codec.compression(), batch_rows);
    with_read_ahead(MultiGzDecoder::new(input), |json| {
        convert_json(
            folder,
            json,
            parquet_out,
            rejects_out,
            batch_rows,
            properties,
        )
    })
}

/// Converts the inflated JSON text, one row group per `batch_rows` rows.
pub(super) fn convert_json<R: Read, W: Write + Send, Q: Write>(
    folder: Folder,
    json: R,
    parquet_out: W,
    rejects_out: Q,
    batch_rows: usize,
    properties: WriterProperties,
) -> Result<ConvertOutcome, OutputError> {
    let mut elements = ArrayElements::new(json);
    let batch = BatchBuilder::new(folder);
    let writer = ArrowWriter::try_new(parquet_out, batch.schema(), Some(properties))?;
    let mut sink = RowSink {
        folder,
        batch,
        writer,
        rejects: RejectWriter::new(rejects_out),
        batch_rows,
        next_index: 0,
        summary: ConvertSummary {
            rows_written: 0,
            rows_rejected: 0,
            row_groups: 0,
        },
    };

    let mut row = RowSlots::default();
    loop {
        match elements.next_record(folder.columns(), &mut row) {
            Ok(Some(Element::Row(record))) => sink.push_row(record, &row)?,
            Ok(Some(Element::Text(record))) => sink.push(record)?,
            Ok(None) => return sink.finish().map(ConvertOutcome::Converted),
            Err(rejection) => return Ok(ConvertOutcome::Rejected(rejection)),
        }
    }
}

pub(super) fn classify(e: serde_json::Error, records_seen: u64) -> FileRejection {
    let message = e.to_string();
    match e.classify() {
        Category::Io => FileRejection::Gzip(message),
        Category::Data => FileRejection::NotArray(message),
        Category::Eof if records_seen > 0 => {
            FileRejection::Json(format!("truncated after {records_seen} records: {message}"))
        }
        Category::Syntax if message.starts_with("trailing characters") => {
            FileRejection::TrailingData(message)
        }
        Category::Eof | Category::Syntax => FileRejection::Json(message),
    }
}

struct RowSink<W: Write + Send, Q: Write> {
    folder: Folder,
    batch: BatchBuilder,
    writer: ArrowWriter<W>,
    rejects: RejectWriter<Q>,
    batch_rows: usize,
    next_index: u64,
    summary: ConvertSummary,
}

impl<W: Write + Send, Q: Write> RowSink<W, Q> {
    /// A record read in one pass, its values in `row`.
    fn push_row(&mut self, record: &str, row: &RowSlots) -> Result<(), OutputError> {
        self.next_index += 1;
        self.batch.append_slots(record, row);
        self.written()
    }

    fn written(&mut self) -> Result<(), OutputError> {
        self.summary.rows_written += 1;
        if self.batch.rows() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Any other element: checked by the general record reader.
    fn push(&mut self, record: &str) -> Result<(), OutputError> {
        let index = self.next_index;
        self.next_index += 1;
        match record::parse(self.folder.columns(), record) {
            Ok(row) => {
                self.batch.append_row(row);
                self.written()?;
            }
            Err(reason) => {
                // The element reader has checked the syntax: this cannot fail.
                let raw = serde_json::from_str::<&RawValue>(record)
                    .map_err(|e| OutputError::Rejects(io::Error::other(e)))?;
                self.rejects
                    .write(index, &reason, raw)
                    .map_err(OutputError::Rejects)?;
                self.summary.rows_rejected += 1;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        if self.batch.rows() == 0 {
            return Ok(());
        }
        let batch = self.batch.finish().map_err(ParquetError::from)?;
        self.writer.write(&batch)?;
        self.writer.flush()?;
        self.summary.row_groups += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<ConvertSummary, OutputError> {
        self.flush()?;
        self.writer.close()?;
        self.rejects.finish().map_err(OutputError::Rejects)?;
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Same codec" as the original means the same level, not parquet-rs's default.
    #[test]
    fn gzip_is_written_at_the_original_level() {
        assert_eq!(
            ParquetCodec::Gzip.compression(),
            Compression::GZIP(GzipLevel::try_new(9).expect("a valid level"))
        );
        assert_ne!(GzipLevel::default().compression_level(), GZIP_LEVEL);
    }
}

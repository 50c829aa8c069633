//! Where a conversion's time goes: the same raw batch run through ever longer prefixes of the
//! pipeline (inflate, then read and check each record, then build Arrow batches, then the whole
//! conversion with each codec). The differences between consecutive figures are the stages' costs;
//! `etl stages` prints them for runtime/docs/etl-performance.md.
//!
//! It also measures a floor for the gzip codec: inflating the input plus deflating, at the
//! original's level, the pages our file holds (each page of the uncompressed file on its own).
//! A gzip conversion cannot take less than that on one core, whatever its parser and encoders do.

use std::io::{self, Read, Write};
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::builders::BatchBuilder;
use super::convert::{
    convert, convert_json, ConvertOptions, ConvertOutcome, FileRejection, OutputError, GZIP_LEVEL,
};
use super::direct::RowSlots;
use super::elements::{ArrayElements, Element};
use super::layout::writer_properties;
use super::record;
use super::schema::Folder;
use super::ParquetCodec;

/// Seconds for each cumulative prefix of the pipeline on one in-memory raw batch.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageSeconds {
    pub inflate: f64,
    /// Records read and checked against the contract (one pass over the JSON).
    pub inflate_parse: f64,
    pub inflate_parse_build: f64,
    pub convert_zstd: f64,
    pub convert_gzip: f64,
    /// The whole conversion on one thread with uncompressed pages.
    pub convert_uncompressed: f64,
    /// Deflating each page of the uncompressed Parquet file at [`GZIP_LEVEL`], one stream per
    /// page as the gzip codec does, on one thread.
    pub deflate_pages: f64,
    /// `inflate + deflate_pages`: the least a one-core gzip conversion can take.
    pub gzip_floor: f64,
    pub records: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the batch is unreadable: {0}")]
    Unreadable(#[from] FileRejection),
    #[error("the batch was rejected: {0:?}")]
    Rejected(ConvertOutcome),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("inflating: {0}")]
    Inflate(#[from] io::Error),
    #[error("building a batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("reading the uncompressed pages back: {0}")]
    Pages(#[from] parquet::errors::ParquetError),
}

fn timed<T>(run: impl FnOnce() -> Result<T, StageError>) -> Result<(f64, T), StageError> {
    let started = Instant::now();
    let value = run()?;
    Ok((started.elapsed().as_secs_f64(), value))
}

/// Runs each prefix of the pipeline once over `raw` (a gzip JSON array of `folder` records).
pub fn measure(folder: Folder, raw: &[u8], batch_rows: usize) -> Result<StageSeconds, StageError> {
    let (inflate, ()) = timed(|| {
        let mut decoder = MultiGzDecoder::new(raw);
        let mut chunk = vec![0; 256 * 1024];
        while decoder.read(&mut chunk)? > 0 {}
        Ok(())
    })?;
    let columns = folder.columns();
    let (inflate_parse, records) = timed(|| {
        let mut elements = ArrayElements::new(MultiGzDecoder::new(raw));
        let mut row = RowSlots::default();
        let mut valid = 0u64;
        while let Some(element) = elements.next_record(columns, &mut row)? {
            valid += u64::from(match element {
                Element::Row(_) => true,
                Element::Text(text) => record::parse(columns, text).is_ok(),
            });
        }
        Ok(valid)
    })?;
    let (inflate_parse_build, _) = timed(|| {
        let mut elements = ArrayElements::new(MultiGzDecoder::new(raw));
        let mut row = RowSlots::default();
        let mut batch = BatchBuilder::new(folder);
        let mut rows = 0usize;
        while let Some(element) = elements.next_record(columns, &mut row)? {
            match element {
                Element::Row(text) => batch.append_slots(text, &row),
                Element::Text(text) => match record::parse(columns, text) {
                    Ok(cells) => batch.append_row(cells),
                    Err(_) => continue,
                },
            }
            if batch.rows() >= batch_rows {
                rows += batch.finish()?.num_rows();
            }
        }
        Ok(rows + batch.finish()?.num_rows())
    })?;
    let whole = |codec| {
        timed(|| {
            let options = ConvertOptions { codec, batch_rows };
            match convert(folder, raw, io::sink(), io::sink(), &options)? {
                ConvertOutcome::Converted(_) => Ok(()),
                other => Err(StageError::Rejected(other)),
            }
        })
        .map(|(seconds, ())| seconds)
    };
    let (convert_uncompressed, pages) = timed(|| {
        let properties = writer_properties(folder, Compression::UNCOMPRESSED, batch_rows);
        let mut pages = Vec::new();
        let json = MultiGzDecoder::new(raw);
        match convert_json(folder, json, &mut pages, io::sink(), batch_rows, properties)? {
            ConvertOutcome::Converted(_) => Ok(pages),
            other => Err(StageError::Rejected(other)),
        }
    })?;
    let pages = page_bodies(pages)?;
    let (deflate_pages, ()) = timed(|| {
        let level = flate2::Compression::new(GZIP_LEVEL);
        for page in &pages {
            let mut encoder = flate2::write::GzEncoder::new(io::sink(), level);
            encoder.write_all(page)?;
            encoder.finish()?;
        }
        Ok(())
    })?;
    Ok(StageSeconds {
        inflate,
        inflate_parse,
        inflate_parse_build,
        convert_zstd: whole(ParquetCodec::Zstd)?,
        convert_gzip: whole(ParquetCodec::Gzip)?,
        convert_uncompressed,
        deflate_pages,
        gzip_floor: inflate + deflate_pages,
        records,
    })
}

/// The body of every page (dictionary and data) of an uncompressed Parquet file.
fn page_bodies(file: Vec<u8>) -> Result<Vec<bytes::Bytes>, StageError> {
    let reader = SerializedFileReader::new(bytes::Bytes::from(file))?;
    let mut bodies = Vec::new();
    for group in 0..reader.num_row_groups() {
        let group = reader.get_row_group(group)?;
        for column in 0..group.num_columns() {
            for page in group.get_column_page_reader(column)? {
                bodies.push(page?.buffer().clone());
            }
        }
    }
    Ok(bodies)
}

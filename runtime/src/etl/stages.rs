//! Where a conversion's time goes: the same raw batch run through ever longer prefixes of the
//! pipeline (inflate, then read and check each record, then build Arrow batches, then the whole
//! conversion with each codec). The differences between consecutive figures are the stages' costs;
//! `etl stages` prints them for runtime/docs/etl-performance.md.

use std::io::{self, Read};
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;

use super::builders::BatchBuilder;
use super::convert::{convert, ConvertOptions, ConvertOutcome, FileRejection, OutputError};
use super::direct::RowSlots;
use super::elements::{ArrayElements, Element};
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
    Ok(StageSeconds {
        inflate,
        inflate_parse,
        inflate_parse_build,
        convert_zstd: whole(ParquetCodec::Zstd)?,
        convert_gzip: whole(ParquetCodec::Gzip)?,
        records,
    })
}

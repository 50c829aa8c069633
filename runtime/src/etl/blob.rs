//! One raw blob end to end against the standard container: convert, then write the Parquet file,
//! the rejected records or the quarantined original (names in [`super::path`]).
//!
//! Every output name is derived from the raw name only, so processing the same blob again
//! overwrites the same objects. Outputs that belong to the other outcome (a stale Parquet file after
//! the blob became unreadable, stale rejects after it became clean) are deleted, so what the standard
//! container holds always reflects the blob's current bytes.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use tokio::io::AsyncWriteExt;

use super::convert::{
    convert, ConvertOptions, ConvertOutcome, ConvertSummary, FileRejection, OutputError,
};
use super::path::{
    file_quarantine_name, file_quarantine_reason_name, PathError, RawBlobPath, QUARANTINE_PREFIX,
};
use super::quarantine::FileQuarantineReason;

/// Uploads above this size go through multipart (block) upload.
const SINGLE_PUT_LIMIT: usize = 8 * 1024 * 1024;

/// What happened to a blob. Every variant means the blob is fully handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    Processed {
        raw: RawBlobPath,
        /// Standard-container name of the Parquet file.
        parquet: String,
        /// Standard-container name of the rejected records, when there are any.
        rejects: Option<String>,
        summary: ConvertSummary,
    },
    /// A blob in the raw container's own `_quarantine/` (bad Kafka messages the ingest set aside):
    /// not an ETL input, nothing is written.
    Ignored { reason: &'static str },
    Quarantined {
        /// Standard-container name of the copy of the original bytes.
        copy: String,
        /// Standard-container name of the reason document.
        reason_doc: String,
        reason: Unreadable,
    },
}

/// Why a whole blob was quarantined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Content(#[from] FileRejection),
}

impl Unreadable {
    pub fn kind(&self) -> &'static str {
        match self {
            Unreadable::Path(PathError::UnknownFolder(_)) => "unknown_folder",
            Unreadable::Path(_) => "bad_path",
            Unreadable::Content(rejection) => rejection.kind(),
        }
    }
}

/// A failure that retrying may fix (storage or local disk); the blob is not handled yet.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("writing {name} to the standard container: {source}")]
    Store {
        name: String,
        #[source]
        source: object_store::Error,
    },
    #[error("uploading {name} to the standard container: {source}")]
    Upload {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("local temporary file: {0}")]
    TempFile(#[source] io::Error),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("conversion task failed: {0}")]
    Task(String),
}

/// Converts the raw blob `raw_name` (relative to container `raw`, a leading `raw/` is accepted)
/// with content `bytes`, and writes the results to `standard`.
pub async fn process_raw_blob(
    standard: &Arc<dyn ObjectStore>,
    raw_name: &str,
    bytes: Bytes,
    options: &ConvertOptions,
) -> Result<BlobOutcome, ProcessError> {
    if is_raw_quarantine(raw_name) {
        return Ok(BlobOutcome::Ignored {
            reason: "the raw container's _quarantine/ holds ingest dead letters, not batches",
        });
    }
    let raw = match RawBlobPath::parse(raw_name) {
        Ok(raw) => raw,
        Err(e) => return quarantine_file(standard, raw_name, bytes, e.into(), None).await,
    };
    let folder = raw.folder();
    let options = *options;
    let input = bytes.clone();
    let converted = tokio::task::spawn_blocking(move || -> Result<_, ProcessError> {
        let mut parquet = tempfile::tempfile().map_err(ProcessError::TempFile)?;
        let mut rejects = tempfile::tempfile().map_err(ProcessError::TempFile)?;
        let outcome = convert(folder, &input[..], &mut parquet, &mut rejects, &options)?;
        Ok((outcome, parquet, rejects))
    })
    .await
    .map_err(|e| ProcessError::Task(e.to_string()))??;

    match converted {
        (ConvertOutcome::Rejected(rejection), _, _) => {
            quarantine_file(standard, raw_name, bytes, rejection.into(), Some(&raw)).await
        }
        (ConvertOutcome::Converted(summary), parquet, rejects) => {
            let rejects_name = raw.record_quarantine_name();
            let rejects = if summary.rows_rejected > 0 {
                upload_file(standard, &rejects_name, rejects).await?;
                Some(rejects_name)
            } else {
                delete_if_present(standard, &rejects_name).await?;
                None
            };
            let parquet_name = raw.parquet_name();
            upload_file(standard, &parquet_name, parquet).await?;
            delete_if_present(standard, &file_quarantine_name(raw_name)).await?;
            delete_if_present(standard, &file_quarantine_reason_name(raw_name)).await?;
            Ok(BlobOutcome::Processed {
                raw,
                parquet: parquet_name,
                rejects,
                summary,
            })
        }
    }
}

fn is_raw_quarantine(raw_name: &str) -> bool {
    let relative = raw_name.strip_prefix("raw/").unwrap_or(raw_name);
    relative
        .strip_prefix(QUARANTINE_PREFIX)
        .is_some_and(|rest| rest.starts_with('/'))
}

async fn quarantine_file(
    standard: &Arc<dyn ObjectStore>,
    raw_name: &str,
    bytes: Bytes,
    reason: Unreadable,
    raw: Option<&RawBlobPath>,
) -> Result<BlobOutcome, ProcessError> {
    let copy = file_quarantine_name(raw_name);
    let reason_doc = file_quarantine_reason_name(raw_name);
    let size = bytes.len() as u64;
    put(standard, &copy, bytes).await?;
    let document = FileQuarantineReason::new(raw_name, reason.kind(), reason.to_string(), size);
    put(standard, &reason_doc, Bytes::from(document.to_json())).await?;
    if let Some(raw) = raw {
        delete_if_present(standard, &raw.parquet_name()).await?;
        delete_if_present(standard, &raw.record_quarantine_name()).await?;
    }
    Ok(BlobOutcome::Quarantined {
        copy,
        reason_doc,
        reason,
    })
}

async fn put(store: &Arc<dyn ObjectStore>, name: &str, bytes: Bytes) -> Result<(), ProcessError> {
    store
        .put(&Path::from(name), PutPayload::from_bytes(bytes))
        .await
        .map(drop)
        .map_err(|source| ProcessError::Store {
            name: name.to_owned(),
            source,
        })
}

async fn upload_file(
    store: &Arc<dyn ObjectStore>,
    name: &str,
    mut file: File,
) -> Result<(), ProcessError> {
    let upload_error = |source| ProcessError::Upload {
        name: name.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(0))
        .map_err(ProcessError::TempFile)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut writer = BufWriter::with_capacity(store.clone(), Path::from(name), SINGLE_PUT_LIMIT);
    if let Err(e) = tokio::io::copy(&mut file, &mut writer).await {
        let _ = writer.abort().await;
        return Err(upload_error(e));
    }
    writer.shutdown().await.map_err(upload_error)
}

async fn delete_if_present(store: &Arc<dyn ObjectStore>, name: &str) -> Result<(), ProcessError> {
    match store.delete(&Path::from(name)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(ProcessError::Store {
            name: name.to_owned(),
            source,
        }),
    }
}

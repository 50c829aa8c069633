//! Raw batch -> Parquet conversion (the function's ETL, seed-analysis §3.1).
//!
//! - [`schema`]: the five folders and their standard Arrow schemas: the data contract (which fields
//!   may be null, each kind's range; [`timestamp`] for the accepted timestamp forms), rendered by
//!   [`contract`] as the table in `runtime/docs/data-contract.md`.
//! - [`path`]: raw names, the standard and quarantine names derived from them.
//! - [`convert()`]: streaming gzip JSON array -> Parquet with per-record validation.
//! - [`process_raw_blob`]: one blob end to end against the standard container.
//!
//! Outcomes are values: a readable file is [`ConvertOutcome::Converted`] with its bad records
//! written as JSON lines beside it; an unreadable one is [`ConvertOutcome::Rejected`] with a
//! [`FileRejection`] naming why. Only output-side failures are errors.

mod blob;
mod builders;
pub mod contract;
mod convert;
pub mod path;
mod quarantine;
mod record;
pub mod schema;
pub mod timestamp;

pub use blob::{process_raw_blob, BlobOutcome, ProcessError, Unreadable};
pub use convert::{
    convert, ConvertOptions, ConvertOutcome, ConvertSummary, FileRejection, OutputError,
    ParquetCodec, UnknownCodec,
};
pub use path::{PathError, RawBlobPath};
pub use quarantine::FileQuarantineReason;
pub use record::RecordError;
pub use schema::{Folder, UnknownFolder};

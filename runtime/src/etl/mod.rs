//! Raw batch -> Parquet conversion (the function's ETL, seed-analysis §3.1).
//!
//! - [`schema`]: the five folders and their standard Arrow schemas: the data contract (which fields
//!   may be null, each kind's range; [`timestamp`] for the accepted timestamp forms), rendered by
//!   [`contract`] as the table in `runtime/docs/data-contract.md`.
//! - [`path`]: raw names, the standard and quarantine names derived from them.
//! - [`convert()`]: streaming gzip JSON array -> Parquet with per-record validation; [`layout`]:
//!   each column's Parquet encoding.
//! - [`process_raw_blob`]: one blob end to end against the standard container.
//! - [`stages`]: where a conversion's time goes (`etl stages`, runtime/docs/etl-performance.md).
//!
//! Outcomes are values: a readable file is [`ConvertOutcome::Converted`] with its bad records
//! written as JSON lines beside it; an unreadable one is [`ConvertOutcome::Rejected`] with a
//! [`FileRejection`] naming why. Only output-side failures are errors.

mod blob;
mod builders;
pub mod contract;
mod convert;
mod direct;
mod elements;
mod layout;
pub mod path;
mod quarantine;
mod read_ahead;
mod record;
pub mod schema;
pub mod stages;
pub mod timestamp;

/// The allocator every process that converts should register (`#[global_allocator]`): with glibc's
/// malloc the gzip codec's per-page compressor state (aligned allocations) is never reused and peak
/// memory grows with the file (tests/etl_memory.rs; docs/decisions.md).
pub use mimalloc::MiMalloc as ConvertAllocator;

pub use blob::{process_raw_blob, BlobOutcome, ProcessError, Unreadable};
pub use convert::{
    convert, ConvertOptions, ConvertOutcome, ConvertSummary, FileRejection, OutputError,
    ParquetCodec, UnknownCodec,
};
pub use path::{PathError, RawBlobPath};
pub use quarantine::FileQuarantineReason;
pub use record::RecordError;
pub use schema::{Folder, UnknownFolder};

//! Superhero dataflow runtime.
//!
//! - [`etl`]: raw gzip-JSON batch files to Parquet, one schema per log model (used by the function).
//! - [`ingest`]: Kafka topics to raw batch files, exactly once, offsets in Redis.
//! - [`azure_blob`]: Shared Key and SAS signing for what object_store does not cover.
//! - [`loadgen`]: the superhero game-server load generator that feeds the topics.

pub mod azure_blob;
pub mod etl;
pub mod ingest;
pub mod loadgen;

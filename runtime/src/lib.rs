//! Superhero dataflow runtime.
//!
//! - [`etl`]: raw gzip-JSON batch files to Parquet, one schema per log model (used by the function).
//! - [`ingest`]: Kafka topics to raw batch files, exactly once, offsets in Redis.
//! - [`loadgen`]: the superhero game-server load generator that feeds the topics.

pub mod etl;
pub mod ingest;
pub mod loadgen;

//! Kafka -> raw batch ingestion, exactly once, offsets in Redis.
//!
//! - [`config`]: environment variables and flags.
//! - [`consumer`]: the group consumer, positioned from Redis on every assignment.
//! - [`batcher`]: per-partition batching by size and age (pure).
//! - [`records`] / [`layout`] / [`quarantine`]: the original's record builders and file layout (pure).
//! - [`sink`]: blob storage (or a local directory).
//! - [`offsets`]: `last_offset` / `pending_batch` in Redis.
//! - [`cleanup`]: expiry of finished games' Redis keys.
//! - [`worker`]: the loop tying them together.

pub mod batcher;
pub mod cleanup;
pub mod config;
pub mod consumer;
pub mod layout;
pub mod offsets;
pub mod pyjson;
pub mod quarantine;
pub mod records;
pub mod sink;
pub mod timefmt;
pub mod worker;

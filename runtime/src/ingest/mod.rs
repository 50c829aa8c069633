//! Kafka -> raw batch ingestion, exactly once, offsets in Redis.
//!
//! - [`config`]: environment variables and flags.
//! - [`consumer`]: the group consumer, positioned from Redis on every assignment.
//! - [`batcher`]: per-partition batching by size and age (pure).
//! - [`records`] (typed fast path in `fastparse`) / [`layout`] / [`quarantine`]: the original's
//!   record builders and file layout (pure).
//! - [`sink`]: blob storage (or a local directory).
//! - [`offsets`]: `last_offset` / `pending_batch` in Redis.
//! - [`cleanup`]: expiry of finished games' Redis keys.
//! - [`worker`]: the loop tying them together.
//!
//! # Decisions (differences from the original worker, seed §2)
//!
//! * **One batch = one topic-partition**, closed at `BATCH_SIZE` messages or when its oldest message
//!   is `BATCH_MAX_AGE` seconds old, and on SIGTERM/SIGINT. (The original flushed every partition's
//!   data when one partition passed `BATCH_SIZE`, had no time trigger and no shutdown flush.)
//! * **Names and ids are derived, not random:** `etl_id` = UUIDv5 of `topic/partition/first/last`,
//!   `msg_id` = UUIDv5 of `topic/partition/offset`, files
//!   `<folder>/YYYY/MM/DD/<etl_id>_<topic>_<partition>_<first>_<last>.json.gzip`, the date being the
//!   UTC date of the first message's Kafka timestamp, and `etl_meta.timestamp_start`/`_end` the
//!   batch's smallest/largest Kafka timestamp. A replay therefore writes the same paths and bytes.
//! * **Which files:** `etl_meta`, `buffer_meta` and `log_meta` whenever the batch has a valid message;
//!   `lib_server_lobby`/`lib_server_game` only when there are task rows (a batch of only
//!   `Cleaning Game Records` has no task file; the original instead carried such messages over into
//!   the next batch); `_quarantine` only when a message was bad.
//! * **Bad messages** (not UTF-8 / JSON / an object, missing or mistyped fields, unparseable
//!   timestamps) go only to `_quarantine` (with topic, partition, offset, Kafka timestamp, error and
//!   the value, base64 when not UTF-8), not to `buffer_meta`/`log_meta`, so the raw tables hold valid
//!   messages only and `buffer_meta` ∪ `_quarantine` covers every offset exactly once.
//! * **Timestamps** are parsed tolerantly (`...SS`, `...SS.f`, optional `Z`) and written
//!   `...SS.ffffff`; `buffer_meta.timestamp` is UTC (the original used the worker's local time);
//!   `log_meta.timestamp` is copied verbatim as before. Task timestamps keep their microseconds.
//! * **Exactly once:** see [`worker`]: `pending_batch` intent, upload, clean-up, CAS commit of
//!   `last_offset`; on every assignment the consumer seeks to `last_offset + 1` from Redis and, if a
//!   pending range was recorded, closes its first batch exactly at that range's end. Kafka committed
//!   offsets are never used. The `...state.counts` key of the original is not written.
//! * **Known limit:** a worker that stays stuck in one flush longer than `max.poll.interval.ms`
//!   (300 s) while another worker takes its partitions over could still upload a batch that
//!   overlaps the new owner's; `FLUSH_TIMEOUT` (120 s) gives up a flush well before that, and both
//!   Redis writes are compare-and-set, so offsets never move backwards.

pub mod batcher;
pub mod cleanup;
pub mod config;
pub mod consumer;
mod fastparse;
pub mod gzip;
pub mod layout;
pub mod offsets;
pub mod pyjson;
pub mod quarantine;
pub mod records;
pub mod rowjson;
pub mod sink;
mod swar;
pub mod timefmt;
pub mod worker;

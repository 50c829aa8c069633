//! The five raw folders and the standard Parquet schema of each (seed-analysis §3.1): the data
//! contract the converter enforces, rendered for readers by [`super::contract`].
//!
//! Column names, order and Arrow types are the original functions' `pa.schema({...})`, with one
//! deliberate difference: every timestamp column is written as `Timestamp(Millisecond)`.
//! arrow-rs writes `Timestamp(Second)` as a bare INT64 with no Parquet logical type, which DuckDB,
//! Spark and pyarrow-without-our-metadata read as plain integers. pyarrow 10 stored the original
//! `timestamp[s]` columns as INT64 TIMESTAMP(MILLIS) too, so the Parquet bytes of those columns are
//! the same as before: the value is still truncated to the second (the original's unit) and then
//! stored in milliseconds.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// A raw folder; one folder is one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Folder {
    EtlMeta,
    BufferMeta,
    LogMeta,
    LibServerLobby,
    LibServerGame,
}

impl Folder {
    pub const ALL: [Folder; 5] = [
        Folder::EtlMeta,
        Folder::BufferMeta,
        Folder::LogMeta,
        Folder::LibServerLobby,
        Folder::LibServerGame,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Folder::EtlMeta => "etl_meta",
            Folder::BufferMeta => "buffer_meta",
            Folder::LogMeta => "log_meta",
            Folder::LibServerLobby => "lib_server_lobby",
            Folder::LibServerGame => "lib_server_game",
        }
    }

    /// The standard columns of this folder, in file order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Folder::EtlMeta => ETL_META,
            Folder::BufferMeta => BUFFER_META,
            Folder::LogMeta => LOG_META,
            Folder::LibServerLobby => LIB_SERVER_LOBBY,
            Folder::LibServerGame => LIB_SERVER_GAME,
        }
    }

    /// The Arrow schema written to Parquet. Every field is declared nullable, like the original
    /// `pa.schema({...})`, so the files keep their Parquet shape (OPTIONAL columns); which columns may
    /// really hold nulls is [`Column::nullable`], enforced on input.
    pub fn arrow_schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, c.kind.arrow_type(), true))
            .collect();
        Arc::new(Schema::new(fields))
    }
}

impl fmt::Display for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown raw folder {0:?} (expected one of etl_meta, buffer_meta, log_meta, lib_server_lobby, lib_server_game)")]
pub struct UnknownFolder(pub String);

impl FromStr for Folder {
    type Err = UnknownFolder;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Folder::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFolder(s.to_owned()))
    }
}

/// One standard column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
    /// Whether a JSON `null` is a valid value; a null in any other column rejects the record.
    pub nullable: bool,
    /// Every record has its own value (an id): a dictionary would only add an index per row
    /// (see [`super::layout`]).
    pub unique: bool,
}

/// What a raw JSON value must be and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Utf8,
    Utf8List,
    Bool,
    UInt8,
    UInt16,
    UInt64,
    Int16,
    /// A timestamp string, truncated to `precision`, stored as milliseconds (see module doc).
    Timestamp(TimestampPrecision),
}

/// The unit the original schema declared; sub-unit digits are truncated, never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampPrecision {
    Millisecond,
    Second,
}

impl ColumnKind {
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnKind::Utf8 => DataType::Utf8,
            ColumnKind::Utf8List => {
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
            }
            ColumnKind::Bool => DataType::Boolean,
            ColumnKind::UInt8 => DataType::UInt8,
            ColumnKind::UInt16 => DataType::UInt16,
            ColumnKind::UInt64 => DataType::UInt64,
            ColumnKind::Int16 => DataType::Int16,
            ColumnKind::Timestamp(_) => DataType::Timestamp(TimeUnit::Millisecond, None),
        }
    }
}

/// A required column: a value of `kind`, never null.
const fn col(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        unique: false,
    }
}

/// A required string that identifies its record (a message id).
const fn id(name: &'static str) -> Column {
    Column {
        name,
        kind: ColumnKind::Utf8,
        nullable: false,
        unique: true,
    }
}

/// A column that may be null.
const fn nullable(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        unique: false,
    }
}

use ColumnKind::*;
const TS_MS: ColumnKind = Timestamp(TimestampPrecision::Millisecond);
const TS_S: ColumnKind = Timestamp(TimestampPrecision::Second);

const ETL_META: &[Column] = &[
    col("etl_id", Utf8),
    col("service", Utf8),
    col("mode", Utf8),
    col("timestamp_start", TS_MS),
    col("timestamp_end", TS_MS),
];

const BUFFER_META: &[Column] = &[
    col("etl_id", Utf8),
    id("msg_id"),
    // aiokafka's deprecated CRC: always null for v2 record batches (seed §2.5).
    nullable("checksum", Utf8),
    col("headers", Utf8List),
    col("key", Utf8),
    col("offset", UInt64),
    col("partition", UInt8),
    col("serialized_key_size", Int16),
    col("serialized_value_size", Int16),
    col("timestamp", TS_MS),
    col("timestamp_type", UInt8),
    col("topic", Utf8),
    col("_is_protocol", Bool),
];

const LOG_META: &[Column] = &[
    col("etl_id", Utf8),
    id("msg_id"),
    col("level", Utf8),
    col("timestamp", TS_MS),
    col("name", Utf8),
    col("log_message", Utf8),
];

const LIB_SERVER_LOBBY: &[Column] = &[
    col("etl_id", Utf8),
    id("msg_id"),
    col("timestamp", TS_S),
    col("game_token", Utf8),
    col("user_token", Utf8),
    col("superhero_id", UInt16),
    col("superhero_attack", UInt64),
    col("superhero_health", UInt64),
];

const LIB_SERVER_GAME: &[Column] = &[
    col("etl_id", Utf8),
    id("msg_id"),
    col("timestamp", TS_S),
    col("game_token", Utf8),
    col("user_token", Utf8),
    col("action", Utf8),
    col("enemy_token", Utf8),
    col("enemy_damage", UInt64),
    col("enemy_health_prior", UInt64),
    col("enemy_health_post", UInt64),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_round_trip() {
        for f in Folder::ALL {
            assert_eq!(f.as_str().parse::<Folder>(), Ok(f));
        }
        assert!("raw".parse::<Folder>().is_err());
    }

    #[test]
    fn column_names_are_unique_per_folder() {
        for f in Folder::ALL {
            let mut names: Vec<_> = f.columns().iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), f.columns().len(), "{f}");
        }
    }
}

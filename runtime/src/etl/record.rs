//! One raw record (a flat JSON object) checked against a folder's columns.
//!
//! A record is either a full row of typed [`Cell`]s or a [`RecordError`] that names what is wrong;
//! a bad record never leaves part of a row behind. The JSON text has already been checked for
//! syntax by the array reader, so the only failures here are about shape and values.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;

use super::schema::{Column, ColumnKind};
use super::timestamp;

/// A value ready for its column's builder; the variant always matches the column kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Utf8(Cow<'a, str>),
    Utf8List(Vec<Cow<'a, str>>),
    Bool(bool),
    UInt8(u8),
    UInt16(u16),
    UInt64(u64),
    Int16(i16),
    TimestampMillis(i64),
}

/// Why a record was rejected. Every variant except [`RecordError::NotAnObject`] names the field
/// (see [`RecordError::field`]), so a quarantined record says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is a JSON {found}, not an object")]
    NotAnObject { found: &'static str },
    #[error("missing field {0:?}")]
    MissingField(&'static str),
    #[error("field {0:?} is null but required")]
    NullField(&'static str),
    #[error("unknown field {0:?}")]
    UnknownField(String),
    #[error("field {0:?} appears more than once")]
    DuplicateField(&'static str),
    #[error("field {field:?}: expected {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field {field:?}: {value} is out of range for {target}")]
    OutOfRange {
        field: &'static str,
        value: String,
        target: &'static str,
    },
    #[error("field {field:?}: unparseable timestamp {value:?} (expected YYYY-MM-DDTHH:MM:SS[.f{{1,9}}][Z], years 0001-9999)")]
    BadTimestamp { field: &'static str, value: String },
    /// Valid JSON syntax that cannot be read as a value: a lone UTF-16 surrogate in a string, a
    /// number beyond f64, nesting deeper than the JSON reader allows.
    #[error("field {field:?}: unreadable value: {detail}")]
    UnreadableValue { field: &'static str, detail: String },
}

impl RecordError {
    /// A stable machine-readable name for the error class.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordError::NotAnObject { .. } => "not_an_object",
            RecordError::MissingField(_) => "missing_field",
            RecordError::NullField(_) => "null_field",
            RecordError::UnknownField(_) => "unknown_field",
            RecordError::DuplicateField(_) => "duplicate_field",
            RecordError::WrongType { .. } => "wrong_type",
            RecordError::OutOfRange { .. } => "out_of_range",
            RecordError::BadTimestamp { .. } => "bad_timestamp",
            RecordError::UnreadableValue { .. } => "unreadable_value",
        }
    }

    /// The field the error is about; `None` only when the record is not an object at all.
    pub fn field(&self) -> Option<&str> {
        match self {
            RecordError::NotAnObject { .. } => None,
            RecordError::MissingField(field)
            | RecordError::NullField(field)
            | RecordError::DuplicateField(field)
            | RecordError::WrongType { field, .. }
            | RecordError::OutOfRange { field, .. }
            | RecordError::BadTimestamp { field, .. }
            | RecordError::UnreadableValue { field, .. } => Some(field),
            RecordError::UnknownField(field) => Some(field),
        }
    }
}

/// Checks one record's JSON text against `columns`, returning one cell per column in order.
pub(crate) fn parse<'a>(
    columns: &'static [Column],
    json: &'a str,
) -> Result<Vec<Cell<'a>>, RecordError> {
    let first = json.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        return Err(RecordError::NotAnObject {
            found: json_type_from_first_byte(first),
        });
    }
    let mut de = serde_json::Deserializer::from_str(json);
    // The column whose value was being read when the JSON reader failed.
    let mut reading = None;
    match de.deserialize_map(RecordVisitor {
        columns,
        reading: &mut reading,
    }) {
        Ok(result) => result,
        Err(e) => Err(RecordError::UnreadableValue {
            // Keys are read as raw bytes and skipped values are not decoded, so the reader can only
            // fail inside a column's value (the array reader has checked the syntax already).
            field: reading.unwrap_or("(field name)"),
            detail: e.to_string(),
        }),
    }
}

fn json_type_from_first_byte(b: Option<u8>) -> &'static str {
    match b {
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "number",
        _ => "value",
    }
}

struct RecordVisitor<'r> {
    columns: &'static [Column],
    reading: &'r mut Option<&'static str>,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Result<Vec<Cell<'de>>, RecordError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut cells: Vec<Option<Cell<'de>>> = vec![None; self.columns.len()];
        let mut first_error = None;
        while first_error.is_none() {
            let Some(key) = map.next_key_seed(ColumnKey {
                columns: self.columns,
            })?
            else {
                break;
            };
            let index = match key {
                Ok(index) => index,
                Err(unknown) => {
                    first_error = Some(RecordError::UnknownField(unknown));
                    map.next_value::<IgnoredAny>()?;
                    break;
                }
            };
            let column = &self.columns[index];
            if cells[index].is_some() {
                first_error = Some(RecordError::DuplicateField(column.name));
                map.next_value::<IgnoredAny>()?;
                break;
            }
            *self.reading = Some(column.name);
            let found = map.next_value_seed(FoundSeed)?;
            *self.reading = None;
            match to_cell(column, found) {
                Ok(cell) => cells[index] = Some(cell),
                Err(e) => first_error = Some(e),
            }
        }
        if let Some(e) = first_error {
            // The rest of the object must still be consumed for the parser to accept it.
            while map
                .next_entry_seed(SkippedKey, PhantomData::<IgnoredAny>)?
                .is_some()
            {}
            return Ok(Err(e));
        }
        let row = cells
            .into_iter()
            .zip(self.columns)
            .map(|(cell, column)| cell.ok_or(RecordError::MissingField(column.name)))
            .collect();
        Ok(row)
    }
}

/// Resolves a key to its column index, or returns the unknown key.
///
/// Keys are read as bytes: serde_json then accepts any escape the array reader accepted (a lone
/// surrogate included) instead of failing on it, and an unknown key is reported lossily.
struct ColumnKey {
    columns: &'static [Column],
}

impl<'de> DeserializeSeed<'de> for ColumnKey {
    type Value = Result<usize, String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for ColumnKey {
    type Value = Result<usize, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Self::Value, E> {
        Ok(self
            .columns
            .iter()
            .position(|c| c.name.as_bytes() == key)
            .ok_or_else(|| String::from_utf8_lossy(key).into_owned()))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.visit_bytes(key.as_bytes())
    }
}

/// A key that is skipped, read as bytes for the same reason as [`ColumnKey`].
struct SkippedKey;

impl<'de> DeserializeSeed<'de> for SkippedKey {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for SkippedKey {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(())
    }
}

/// A JSON value as found, before it is checked against its column.
enum Found<'de> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(Cow<'de, str>),
    /// An array whose elements are all strings.
    StrArray(Vec<Cow<'de, str>>),
    /// An array with at least one element that is not a string.
    MixedArray,
    Object,
}

impl Found<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Found::Null => "null",
            Found::Bool(_) => "boolean",
            Found::Unsigned(_) | Found::Signed(_) => "integer",
            Found::Float(_) => "float",
            Found::Str(_) => "string",
            Found::StrArray(_) => "array of strings",
            Found::MixedArray => "array with non-string elements",
            Found::Object => "object",
        }
    }
}

struct FoundSeed;

impl<'de> DeserializeSeed<'de> for FoundSeed {
    type Value = Found<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(FoundVisitor)
    }
}

struct FoundVisitor;

impl<'de> Visitor<'de> for FoundVisitor {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Found::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Found::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Found::Unsigned(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Found::Signed(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Found::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Found::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Found::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Found::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut strings = Vec::new();
        while let Some(element) = seq.next_element_seed(FoundSeed)? {
            match element {
                Found::Str(s) => strings.push(s),
                _ => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Found::MixedArray);
                }
            }
        }
        Ok(Found::StrArray(strings))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Found::Object)
    }
}

fn to_cell<'de>(column: &Column, found: Found<'de>) -> Result<Cell<'de>, RecordError> {
    let field = column.name;
    let wrong_type = |expected: &'static str, found: &Found| RecordError::WrongType {
        field,
        expected,
        found: found.type_name(),
    };
    if let Found::Null = found {
        return if column.nullable {
            Ok(Cell::Null)
        } else {
            Err(RecordError::NullField(field))
        };
    }
    match column.kind {
        ColumnKind::Utf8 => match found {
            Found::Str(s) => Ok(Cell::Utf8(s)),
            other => Err(wrong_type("string", &other)),
        },
        ColumnKind::Utf8List => match found {
            Found::StrArray(items) => Ok(Cell::Utf8List(items)),
            other => Err(wrong_type("array of strings", &other)),
        },
        ColumnKind::Bool => match found {
            Found::Bool(b) => Ok(Cell::Bool(b)),
            other => Err(wrong_type("boolean", &other)),
        },
        ColumnKind::UInt8 => integer(field, found, "uint8").map(Cell::UInt8),
        ColumnKind::UInt16 => integer(field, found, "uint16").map(Cell::UInt16),
        ColumnKind::UInt64 => integer(field, found, "uint64").map(Cell::UInt64),
        ColumnKind::Int16 => integer(field, found, "int16").map(Cell::Int16),
        ColumnKind::Timestamp(precision) => match found {
            Found::Str(s) => timestamp::parse(&s)
                .map(|t| Cell::TimestampMillis(t.to_millis(precision)))
                .ok_or_else(|| RecordError::BadTimestamp {
                    field,
                    value: s.into_owned(),
                }),
            other => Err(wrong_type("timestamp string", &other)),
        },
    }
}

fn integer<T>(field: &'static str, found: Found, target: &'static str) -> Result<T, RecordError>
where
    T: TryFrom<u64> + TryFrom<i64>,
{
    let out_of_range = |value: String| RecordError::OutOfRange {
        field,
        value,
        target,
    };
    match found {
        Found::Unsigned(v) => T::try_from(v).map_err(|_| out_of_range(v.to_string())),
        Found::Signed(v) => T::try_from(v).map_err(|_| out_of_range(v.to_string())),
        // serde_json reads integers beyond the 64-bit range as floats.
        Found::Float(v) if v.is_finite() && v.fract() == 0.0 && v.abs() >= 9.2e18 => {
            Err(out_of_range(format!("{v}")))
        }
        other => Err(RecordError::WrongType {
            field,
            expected: "integer",
            found: other.type_name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etl::schema::Folder;

    const BUFFER: &str = r#"{"etl_id": "e", "msg_id": "m", "checksum": null, "headers": [], "key": "", "offset": 0, "partition": 3, "serialized_key_size": -1, "serialized_value_size": 504, "timestamp": "2024-01-13T23:59:22.999000", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false}"#;

    fn buffer(json: &str) -> Result<Vec<Cell<'_>>, RecordError> {
        parse(Folder::BufferMeta.columns(), json)
    }

    fn with(field: &str, value: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(BUFFER).expect("fixture");
        v[field] = serde_json::from_str(value).expect("value");
        v.to_string()
    }

    #[test]
    fn accepts_the_original_quirks() {
        let row = buffer(BUFFER).expect("valid");
        assert_eq!(row[2], Cell::Null);
        assert_eq!(row[3], Cell::Utf8List(vec![]));
        assert_eq!(row[4], Cell::Utf8(Cow::Borrowed("")));
        assert_eq!(row[7], Cell::Int16(-1));
        assert_eq!(row[9], Cell::TimestampMillis(1_705_190_362_999));
        assert_eq!(row[12], Cell::Bool(false));
    }

    #[test]
    fn field_order_does_not_matter_and_escapes_decode() {
        let json = r#"{"timestamp_end": "2024-01-13T23:59:27", "timestamp_start": "2024-01-13T23:59:21.5Z", "mode": "Batch", "service": "Ka\"fka", "etl_id": "\u00e9"}"#;
        let row = parse(Folder::EtlMeta.columns(), json).expect("valid");
        assert_eq!(row[0], Cell::Utf8(Cow::Owned("é".into())));
        assert_eq!(row[1], Cell::Utf8(Cow::Owned("Ka\"fka".into())));
        assert_eq!(row[3], Cell::TimestampMillis(1_705_190_361_500));
    }

    #[test]
    fn names_each_record_error() {
        let cases: Vec<(String, RecordError)> = vec![
            (
                with("partition", "256"),
                RecordError::OutOfRange {
                    field: "partition",
                    value: "256".into(),
                    target: "uint8",
                },
            ),
            (
                with("offset", "-1"),
                RecordError::OutOfRange {
                    field: "offset",
                    value: "-1".into(),
                    target: "uint64",
                },
            ),
            (
                with("serialized_value_size", "32768"),
                RecordError::OutOfRange {
                    field: "serialized_value_size",
                    value: "32768".into(),
                    target: "int16",
                },
            ),
            (
                with("offset", "1.5"),
                RecordError::WrongType {
                    field: "offset",
                    expected: "integer",
                    found: "float",
                },
            ),
            (
                with("offset", "18446744073709551616"),
                RecordError::OutOfRange {
                    field: "offset",
                    value: "18446744073709552000".into(),
                    target: "uint64",
                },
            ),
            (
                with("key", "5"),
                RecordError::WrongType {
                    field: "key",
                    expected: "string",
                    found: "integer",
                },
            ),
            (
                with("headers", r#"[["k", "v"]]"#),
                RecordError::WrongType {
                    field: "headers",
                    expected: "array of strings",
                    found: "array with non-string elements",
                },
            ),
            (
                with("timestamp", r#""2024-01-13 23:59:22""#),
                RecordError::BadTimestamp {
                    field: "timestamp",
                    value: "2024-01-13 23:59:22".into(),
                },
            ),
            (
                with("extra", "1"),
                RecordError::UnknownField("extra".into()),
            ),
            (
                BUFFER.replace(r#""topic": "lib.server.game", "#, ""),
                RecordError::MissingField("topic"),
            ),
            (
                BUFFER.replace(r#""key": """#, r#""key": "", "key": "x""#),
                RecordError::DuplicateField("key"),
            ),
            ("[1]".into(), RecordError::NotAnObject { found: "array" }),
            ("7".into(), RecordError::NotAnObject { found: "number" }),
        ];
        for (json, expected) in cases {
            assert_eq!(buffer(&json), Err(expected), "{json}");
        }
    }

    #[test]
    fn accepts_nulls_and_limits() {
        let json = with("partition", "255");
        assert_eq!(buffer(&json).expect("valid")[6], Cell::UInt8(255));
        let json = with("serialized_key_size", "-32768");
        assert_eq!(buffer(&json).expect("valid")[7], Cell::Int16(-32768));
        let json = with("offset", "18446744073709551615");
        assert_eq!(buffer(&json).expect("valid")[5], Cell::UInt64(u64::MAX));
        let json = with("checksum", "null");
        assert_eq!(buffer(&json).expect("valid")[2], Cell::Null);
    }

    #[test]
    fn null_in_a_required_field_is_rejected_and_named() {
        for field in ["timestamp", "etl_id", "offset", "headers", "_is_protocol"] {
            assert_eq!(
                buffer(&with(field, "null")),
                Err(RecordError::NullField(
                    Folder::BufferMeta
                        .columns()
                        .iter()
                        .find(|c| c.name == field)
                        .expect("column")
                        .name
                )),
                "{field}"
            );
        }
    }

    #[test]
    fn unreadable_values_name_their_field_and_odd_keys_do_not_fail() {
        let lone = BUFFER.replace(r#""topic": "lib.server.game""#, r#""topic": "\ud800x""#);
        let err = buffer(&lone).expect_err("lone surrogate");
        assert_eq!(err.kind(), "unreadable_value");
        assert_eq!(err.field(), Some("topic"));
        let huge = BUFFER.replace(r#""offset": 0"#, r#""offset": 1e400"#);
        assert_eq!(buffer(&huge).expect_err("huge").field(), Some("offset"));
        let odd_key = BUFFER.replace(r#""key": """#, r#""k\udc00": 1"#);
        let err = buffer(&odd_key).expect_err("unknown key");
        assert_eq!(err.kind(), "unknown_field");
        assert!(err.field().is_some_and(|f| f.starts_with('k')), "{err}");
    }
}

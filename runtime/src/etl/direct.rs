//! One record read and checked in a single pass over the inflated bytes, its values left in
//! per-column slots that the batch builder appends straight from the buffer.
//!
//! This reader takes only what a record that passes the contract can contain: an object whose keys
//! are the folder's columns, each once, each holding a value of its kind (strings, arrays of strings,
//! integers in range, booleans, `null` where allowed, valid timestamps). For anything else (any
//! record error, any unusual but valid form such as an escaped key, and any syntax error) it gives
//! up, and the element is read again by the general path: serde_json's raw-value reader, then
//! [`super::record::parse`]. So every rejection, and every acceptance of an unusual form, is decided
//! exactly as before; this reader only accepts what both of those would have accepted, with the
//! same values.

use super::schema::{Column, ColumnKind};
use super::timestamp;

/// Why the single-pass reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The bytes end inside the element: read more, then try again from its start.
    NeedMore,
    /// Not a form this reader takes: leave the element to the general path.
    Fallback,
}

/// Byte range of a string's contents (between its quotes) within the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Contains backslash escapes, to be decoded when appended.
    pub(crate) escaped: bool,
}

/// One column's value, ready for its builder; the variant always matches the column kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Missing,
    Null,
    Str(Span),
    /// `items[first..first + len]` of the row.
    List {
        first: usize,
        len: usize,
    },
    Bool(bool),
    UInt8(u8),
    UInt16(u16),
    UInt64(u64),
    Int16(i16),
    Millis(i64),
}

/// An integer as serde_json reads it (before the column's range is checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Integer {
    Unsigned(u64),
    Signed(i64),
}

impl Integer {
    fn to<T: TryFrom<u64> + TryFrom<i64>>(self) -> Result<T, Stop> {
        match self {
            Integer::Unsigned(v) => T::try_from(v).map_err(|_| Stop::Fallback),
            Integer::Signed(v) => T::try_from(v).map_err(|_| Stop::Fallback),
        }
    }
}

/// The values of one record, reused from row to row so that reading allocates nothing once the
/// buffers have grown to the largest row.
#[derive(Debug, Default)]
pub(crate) struct RowSlots {
    pub(crate) slots: Vec<Slot>,
    pub(crate) items: Vec<Span>,
}

/// serde_json's whitespace between tokens.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// A string so far held a byte above 0x7f (outside strings, such a byte is a fallback).
    non_ascii: bool,
}

impl Cursor<'_> {
    fn peek(&self) -> Result<u8, Stop> {
        self.bytes.get(self.at).copied().ok_or(Stop::NeedMore)
    }

    /// The next byte that is not whitespace (not consumed).
    fn peek_token(&mut self) -> Result<u8, Stop> {
        loop {
            let b = self.peek()?;
            if !is_space(b) {
                return Ok(b);
            }
            self.at += 1;
        }
    }

    fn expect_token(&mut self, token: u8) -> Result<(), Stop> {
        if self.peek_token()? == token {
            self.at += 1;
            Ok(())
        } else {
            Err(Stop::Fallback)
        }
    }

    /// Reads a string whose opening quote is at `self.at`; escapes are checked, not decoded.
    fn string(&mut self) -> Result<Span, Stop> {
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        loop {
            let (run, high) = plain_run(&self.bytes[self.at..]);
            self.at += run;
            self.non_ascii |= high;
            match self.peek()? {
                b'"' => {
                    let span = Span {
                        start,
                        end: self.at,
                        escaped,
                    };
                    self.at += 1;
                    return Ok(span);
                }
                b'\\' => {
                    escaped = true;
                    match escape(self.bytes, self.at) {
                        Escape::Char(_, len) => self.at += len,
                        Escape::Truncated => return Err(Stop::NeedMore),
                        Escape::Invalid => return Err(Stop::Fallback),
                    }
                }
                // A control character: a syntax error.
                _ => return Err(Stop::Fallback),
            }
        }
    }

    /// Reads an integer; anything serde_json would read as a float (a fraction, an exponent, `-0`,
    /// beyond 64 bits) is left to the general path.
    fn integer(&mut self) -> Result<Integer, Stop> {
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return Err(Stop::Fallback);
        }
        self.at += 1;
        let mut value = u64::from(first - b'0');
        loop {
            let b = self.peek()?;
            if !b.is_ascii_digit() {
                if matches!(b, b'.' | b'e' | b'E') {
                    return Err(Stop::Fallback);
                }
                break;
            }
            // One leading zero only (serde_json: "invalid number").
            if first == b'0' {
                return Err(Stop::Fallback);
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or(Stop::Fallback)?;
            self.at += 1;
        }
        if !negative {
            return Ok(Integer::Unsigned(value));
        }
        // serde_json reads `-0` and anything below i64::MIN as floats.
        match 0i64.checked_sub_unsigned(value) {
            Some(v) if value != 0 => Ok(Integer::Signed(v)),
            _ => Err(Stop::Fallback),
        }
    }

    /// Reads `literal` (whose first byte is at `self.at`).
    fn literal(&mut self, literal: &[u8]) -> Result<(), Stop> {
        let rest = &self.bytes[self.at..];
        let n = rest.len().min(literal.len());
        if rest[..n] != literal[..n] {
            return Err(Stop::Fallback);
        }
        if n < literal.len() {
            return Err(Stop::NeedMore);
        }
        self.at += literal.len();
        Ok(())
    }
}

/// How many bytes from the start of `bytes` need no attention inside a string (not `"`, `\` or a
/// control character), eight at a time where possible, and whether any of them is above 0x7f.
fn plain_run(bytes: &[u8]) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut n = 0;
    let mut high = 0;
    while let Some(word) = bytes.get(n..n + 8) {
        let mut array = [0u8; 8];
        array.copy_from_slice(word);
        let v = u64::from_le_bytes(array);
        // Bytes below 0x20, equal to '"' or equal to '\\' (bytes >= 0x80 never match the first).
        let special = (v.wrapping_sub(ONES * 0x20) & !v & HIGHS)
            | has_zero(v ^ (ONES * u64::from(b'"')))
            | has_zero(v ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            break;
        }
        high |= v & HIGHS;
        n += 8;
    }
    let mut high = high != 0;
    while let Some(&b) = bytes.get(n) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        high |= b >= 0x80;
        n += 1;
    }
    (n, high)
}

/// One escape sequence as serde_json decodes it into a string.
pub(crate) enum Escape {
    /// The character and the length of its escape text.
    Char(char, usize),
    /// The bytes end inside the escape.
    Truncated,
    /// Not an escape serde_json decodes to a string (a lone surrogate among them).
    Invalid,
}

/// The escape starting with the backslash at `bytes[at]`.
pub(crate) fn escape(bytes: &[u8], at: usize) -> Escape {
    let Some(&kind) = bytes.get(at + 1) else {
        return Escape::Truncated;
    };
    let simple = match kind {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return unicode_escape(bytes, at),
        _ => return Escape::Invalid,
    };
    Escape::Char(simple, 2)
}

fn hex4(bytes: &[u8], at: usize) -> Result<u32, Escape> {
    let digits = bytes.get(at..at + 4).ok_or(Escape::Truncated)?;
    digits.iter().try_fold(0u32, |acc, &d| {
        char::from(d)
            .to_digit(16)
            .map(|v| acc * 16 + v)
            .ok_or(Escape::Invalid)
    })
}

/// `\uXXXX`, or a surrogate pair `\uD8XX\uDCXX`.
fn unicode_escape(bytes: &[u8], at: usize) -> Escape {
    let high = match hex4(bytes, at + 2) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if !(0xD800..0xDC00).contains(&high) {
        // A low surrogate alone is refused by char::from_u32 too.
        return char::from_u32(high).map_or(Escape::Invalid, |c| Escape::Char(c, 6));
    }
    match bytes.get(at + 6..at + 8) {
        Some(b"\\u") => {}
        Some(_) => return Escape::Invalid,
        None => return Escape::Truncated,
    }
    let low = match hex4(bytes, at + 8) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if !(0xDC00..0xE000).contains(&low) {
        return Escape::Invalid;
    }
    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    char::from_u32(code).map_or(Escape::Invalid, |c| Escape::Char(c, 12))
}

/// A record read by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The element's length in bytes.
    pub(crate) len: usize,
    /// Every byte is ASCII; otherwise the caller must check that the element is UTF-8.
    pub(crate) ascii: bool,
}

/// Reads the record at the start of `bytes` (its first byte is not whitespace) into `row`.
pub(crate) fn parse(
    columns: &'static [Column],
    bytes: &[u8],
    row: &mut RowSlots,
) -> Result<Parsed, Stop> {
    row.slots.clear();
    row.slots.resize(columns.len(), Slot::Missing);
    row.items.clear();
    let mut cur = Cursor {
        bytes,
        at: 0,
        non_ascii: false,
    };
    cur.expect_token(b'{')?;
    let mut filled = 0;
    // Keys usually come in column order: try the one after the last first.
    let mut next = 0;
    loop {
        if cur.peek_token()? != b'"' {
            return Err(Stop::Fallback);
        }
        let index = match columns
            .get(next)
            .and_then(|c| quoted_at(bytes, cur.at, c.name))
        {
            Some(len) => {
                cur.at += len;
                next
            }
            None => {
                let key = cur.string()?;
                if key.escaped {
                    return Err(Stop::Fallback);
                }
                let name = &bytes[key.start..key.end];
                columns
                    .iter()
                    .position(|c| c.name.as_bytes() == name)
                    .ok_or(Stop::Fallback)?
            }
        };
        if row.slots[index] != Slot::Missing {
            return Err(Stop::Fallback);
        }
        cur.expect_token(b':')?;
        let token = cur.peek_token()?;
        row.slots[index] = value(&columns[index], token, &mut cur, &mut row.items)?;
        filled += 1;
        next = index + 1;
        match cur.peek_token()? {
            b',' => cur.at += 1,
            b'}' => {
                cur.at += 1;
                break;
            }
            _ => return Err(Stop::Fallback),
        }
    }
    if filled != columns.len() {
        return Err(Stop::Fallback);
    }
    // The raw-value reader looks one byte past an element that ends where the bytes do.
    if cur.at == bytes.len() {
        return Err(Stop::NeedMore);
    }
    Ok(Parsed {
        len: cur.at,
        ascii: !cur.non_ascii,
    })
}

/// The length of `"name"` when `bytes` hold exactly that at `at` (a key read without scanning it).
fn quoted_at(bytes: &[u8], at: usize, name: &str) -> Option<usize> {
    let end = at + 1 + name.len();
    (bytes.get(at + 1..end) == Some(name.as_bytes()) && bytes.get(end) == Some(&b'"'))
        .then_some(name.len() + 2)
}

/// Reads the value starting with `token` for `column`, or falls back when it is not one the column
/// accepts.
fn value(
    column: &Column,
    token: u8,
    cur: &mut Cursor,
    items: &mut Vec<Span>,
) -> Result<Slot, Stop> {
    if token == b'n' {
        cur.literal(b"null")?;
        return if column.nullable {
            Ok(Slot::Null)
        } else {
            Err(Stop::Fallback)
        };
    }
    match (column.kind, token) {
        (ColumnKind::Utf8, b'"') => cur.string().map(Slot::Str),
        (ColumnKind::Timestamp(precision), b'"') => {
            let span = cur.string()?;
            if span.escaped {
                return Err(Stop::Fallback);
            }
            timestamp::parse_bytes(&cur.bytes[span.start..span.end])
                .map(|t| Slot::Millis(t.to_millis(precision)))
                .ok_or(Stop::Fallback)
        }
        (ColumnKind::Utf8List, b'[') => {
            cur.at += 1;
            let first = items.len();
            if cur.peek_token()? != b']' {
                loop {
                    if cur.peek_token()? != b'"' {
                        return Err(Stop::Fallback);
                    }
                    items.push(cur.string()?);
                    match cur.peek_token()? {
                        b',' => cur.at += 1,
                        b']' => break,
                        _ => return Err(Stop::Fallback),
                    }
                }
            }
            cur.at += 1;
            Ok(Slot::List {
                first,
                len: items.len() - first,
            })
        }
        (ColumnKind::Bool, b't') => cur.literal(b"true").map(|()| Slot::Bool(true)),
        (ColumnKind::Bool, b'f') => cur.literal(b"false").map(|()| Slot::Bool(false)),
        (ColumnKind::UInt8, b'-' | b'0'..=b'9') => cur.integer()?.to().map(Slot::UInt8),
        (ColumnKind::UInt16, b'-' | b'0'..=b'9') => cur.integer()?.to().map(Slot::UInt16),
        (ColumnKind::UInt64, b'-' | b'0'..=b'9') => cur.integer()?.to().map(Slot::UInt64),
        (ColumnKind::Int16, b'-' | b'0'..=b'9') => cur.integer()?.to().map(Slot::Int16),
        _ => Err(Stop::Fallback),
    }
}

/// Appends the decoded text of a string with escapes (checked by [`parse`]) to `out`.
pub(crate) fn unescape_into(raw: &str, out: &mut String) {
    let bytes = raw.as_bytes();
    let mut at = 0;
    while let Some(offset) = raw[at..].find('\\') {
        out.push_str(&raw[at..at + offset]);
        at += offset;
        match escape(bytes, at) {
            Escape::Char(c, len) => {
                out.push(c);
                at += len;
            }
            // Checked when the record was read; not reached.
            Escape::Truncated | Escape::Invalid => {
                out.push('\\');
                at += 1;
            }
        }
    }
    out.push_str(&raw[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etl::record::{self, Cell};
    use crate::etl::schema::Folder;

    const BUFFER: &str = r#"{"etl_id": "e", "msg_id": "m", "checksum": null, "headers": ["a", "b\u00e9"], "key": "", "offset": 18446744073709551615, "partition": 255, "serialized_key_size": -32768, "serialized_value_size": 504, "timestamp": "2024-01-13T23:59:22.999000", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false} "#;

    fn read(json: &str) -> Result<(usize, RowSlots), Stop> {
        let mut row = RowSlots::default();
        parse(Folder::BufferMeta.columns(), json.as_bytes(), &mut row).map(|p| (p.len, row))
    }

    fn text(json: &str, span: Span) -> String {
        let mut out = String::new();
        unescape_into(&json[span.start..span.end], &mut out);
        out
    }

    /// The values this reader takes are the ones the general path produces.
    #[test]
    fn reads_the_same_values_as_the_general_path() {
        let (len, row) = read(BUFFER).expect("taken");
        assert_eq!(&BUFFER[len..], " ");
        let cells = record::parse(Folder::BufferMeta.columns(), &BUFFER[..len]).expect("valid");
        for (slot, cell) in row.slots.iter().zip(cells) {
            match (*slot, cell) {
                (Slot::Null, Cell::Null) => {}
                (Slot::Str(s), Cell::Utf8(v)) => assert_eq!(text(BUFFER, s), v),
                (Slot::List { first, len }, Cell::Utf8List(v)) => {
                    let got: Vec<String> = row.items[first..first + len]
                        .iter()
                        .map(|s| text(BUFFER, *s))
                        .collect();
                    assert_eq!(got, v);
                }
                (Slot::Bool(a), Cell::Bool(b)) => assert_eq!(a, b),
                (Slot::UInt64(a), Cell::UInt64(b)) => assert_eq!(a, b),
                (Slot::UInt8(a), Cell::UInt8(b)) => assert_eq!(a, b),
                (Slot::UInt16(a), Cell::UInt16(b)) => assert_eq!(a, b),
                (Slot::Int16(a), Cell::Int16(b)) => assert_eq!(a, b),
                (Slot::Millis(a), Cell::TimestampMillis(b)) => assert_eq!(a, b),
                (slot, cell) => panic!("{slot:?} vs {cell:?}"),
            }
        }
    }

    #[test]
    fn reads_keys_in_any_order() {
        let reordered = BUFFER
            .replacen(
                "\"offset\": 18446744073709551615, \"partition\": 255",
                "\"partition\": 255, \"offset\": 18446744073709551615",
                1,
            )
            .replacen("{\"etl_id\": \"e\", ", "{", 1)
            .replacen(
                "\"_is_protocol\": false}",
                "\"_is_protocol\": false, \"etl_id\": \"e\"}",
                1,
            );
        assert_ne!(reordered, BUFFER);
        let (_, in_order) = read(BUFFER).expect("taken");
        let (len, row) = read(&reordered).expect("taken");
        assert_eq!(&reordered[len..], " ");
        assert_eq!(row.slots.len(), in_order.slots.len());
        for (index, (a, b)) in row.slots.iter().zip(&in_order.slots).enumerate() {
            match (*a, *b) {
                (Slot::Str(x), Slot::Str(y)) => assert_eq!(text(&reordered, x), text(BUFFER, y)),
                (Slot::List { len: x, .. }, Slot::List { len: y, .. }) => assert_eq!(x, y),
                (x, y) => assert_eq!(x, y, "column {index}"),
            }
        }
    }

    /// Every form this reader does not take goes to the general path, which decides it.
    #[test]
    fn leaves_everything_unusual_to_the_general_path() {
        let cases = [
            (
                "\"offset\": 18446744073709551615",
                "\"offset\": 18446744073709551616",
            ),
            ("\"offset\": 18446744073709551615", "\"offset\": 1.0"),
            ("\"offset\": 18446744073709551615", "\"offset\": 1e2"),
            ("\"offset\": 18446744073709551615", "\"offset\": 01"),
            ("\"offset\": 18446744073709551615", "\"offset\": -0"),
            ("\"offset\": 18446744073709551615", "\"offset\": -1"),
            ("\"partition\": 255", "\"partition\": 256"),
            (
                "\"serialized_key_size\": -32768",
                "\"serialized_key_size\": -32769",
            ),
            ("\"checksum\": null", "\"checksum\": 5"),
            ("\"key\": \"\"", "\"key\": null"),
            ("\"key\": \"\"", "\"k\\u0065y\": \"\""),
            ("\"key\": \"\"", "\"key\": \"\", \"key\": \"\""),
            ("\"key\": \"\"", "\"key\": \"\\ud800\""),
            ("\"key\": \"\"", "\"key\": \"\\x\""),
            ("\"key\": \"\"", "\"key\": \"\t\""),
            ("\"key\": \"\", ", ""),
            ("\"key\": \"\"", "\"key\": \"\", \"extra\": 1"),
            // A key that starts like the expected column, or that the expected column starts with.
            ("\"key\": \"\"", "\"keys\": \"\""),
            ("\"key\": \"\"", "\"ke\": \"\""),
            (
                "\"headers\": [\"a\", \"b\\u00e9\"]",
                "\"headers\": [\"a\",]",
            ),
            ("\"headers\": [\"a\", \"b\\u00e9\"]", "\"headers\": [1]"),
            ("\"headers\": [\"a\", \"b\\u00e9\"]", "\"headers\": [[]]"),
            ("\"_is_protocol\": false", "\"_is_protocol\": fals"),
            ("\"_is_protocol\": false", "\"_is_protocol\": falsey"),
            (
                "\"timestamp\": \"2024-01-13T23:59:22.999000\"",
                "\"timestamp\": \"2024-01-13 23:59:22\"",
            ),
            (
                "\"timestamp\": \"2024-01-13T23:59:22.999000\"",
                "\"timestamp\": \"2024\\u002d01-13T23:59:22\"",
            ),
        ];
        for (from, to) in cases {
            let json = BUFFER.replacen(from, to, 1);
            assert_ne!(json, BUFFER, "{from}");
            assert_eq!(read(&json).map(|(n, _)| n), Err(Stop::Fallback), "{json}");
        }
        assert_eq!(read("[1]").map(|(n, _)| n), Err(Stop::Fallback));
    }

    #[test]
    fn asks_for_more_bytes_when_the_element_is_cut() {
        let whole = BUFFER.trim_end();
        for cut in 0..whole.len() {
            assert_eq!(
                read(&whole[..cut]).map(|(n, _)| n),
                Err(Stop::NeedMore),
                "{cut}"
            );
        }
        // Even whole, the element might be a number going on: the raw-value reader looks further.
        assert_eq!(read(whole).map(|(n, _)| n), Err(Stop::NeedMore));
    }

    #[test]
    fn decodes_escapes_as_serde_json_does() {
        let raw = r#"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00z"#;
        let mut out = String::new();
        unescape_into(raw, &mut out);
        let expected: String = serde_json::from_str(&format!("\"{raw}\"")).expect("valid");
        assert_eq!(out, expected);
    }

    #[test]
    fn finds_the_first_byte_needing_attention() {
        for (text, n) in [
            ("abcdefghijklmnop\"", 16),
            ("abc\\", 3),
            ("abcdefgh\u{1}", 8),
            ("é漢字 and more text", "é漢字 and more text".len()),
            ("", 0),
        ] {
            assert_eq!(plain_run(text.as_bytes()).0, n, "{text:?}");
            assert_eq!(
                plain_run(text.as_bytes()).1,
                !text[..n].is_ascii(),
                "{text:?}"
            );
        }
    }
}

//! JSON text exactly as Python's `json.dumps` writes it with default arguments.
//!
//! Python separates items with `", "` and keys from values with `": "`, and with `ensure_ascii=True`
//! writes every character outside `' '..='~'` as a lowercase `\uXXXX` escape (surrogate pairs above
//! U+FFFF). Control characters use the same short escapes serde_json uses (`\n`, `\t`, ...).
//! Floats are not used by any record of this pipeline and are written the serde_json way.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io::{self, Write};

/// A [`Formatter`] that reproduces `json.dumps(obj)` output.
#[derive(Debug, Clone, Copy, Default)]
pub struct PyFormatter;

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        if bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
            return w.write_all(bytes);
        }
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if (' '..='~').contains(&ch) {
                continue;
            }
            w.write_all(&bytes[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        w.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(w, "\\u{byte:04x}"),
        };
        w.write_all(s)
    }
}

/// Serialises `value` into `out` as `json.dumps(value)` would.
pub fn write<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    let mut ser = Serializer::with_formatter(out, PyFormatter);
    value.serialize(&mut ser)
}

/// `json.dumps(value)` as bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value)?;
    Ok(out)
}

/// `json.dumps(value)` as a string (always ASCII).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let bytes = to_vec(value)?;
    // The formatter only ever writes ASCII.
    String::from_utf8(bytes).map_err(|e| serde_json::Error::io(io::Error::other(e)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn separators_match_python() {
        let v = json!({"a": [1, 2, {"b": null}], "c": "x", "d": [], "e": {}, "f": true});
        assert_eq!(
            to_string(&v).unwrap(),
            r#"{"a": [1, 2, {"b": null}], "c": "x", "d": [], "e": {}, "f": false}"#
                .replace("false", "true")
        );
    }

    #[test]
    fn ensure_ascii_escapes_like_python() {
        // python: json.dumps("é\u007f\n\"\\/\x01😀") ==
        // '"\\u00e9\\u007f\\n\\"\\\\/\\u0001\\ud83d\\ude00"'
        let s = "é\u{7f}\n\"\\/\u{1}😀";
        assert_eq!(
            to_string(s).unwrap(),
            r#""\u00e9\u007f\n\"\\/\u0001\ud83d\ude00""#
        );
    }

    #[test]
    fn nested_string_is_double_encoded() {
        let inner = to_string(&json!({"TIMESTAMP": "2024-01-13T22:25:40Z"})).unwrap();
        let outer = to_string(&json!({"task": inner})).unwrap();
        assert_eq!(
            outer,
            r#"{"task": "{\"TIMESTAMP\": \"2024-01-13T22:25:40Z\"}"}"#
        );
    }
}

//! The raw rows as JSON text, written by hand into the file's buffer: the very bytes
//! [`pyjson::write`](crate::ingest::pyjson::write) (serde with the `json.dumps` formatter) writes for
//! the same row, without serde's call per token and the formatter's check per string fragment
//! (serialising was ~2.6 us of the ~14 us of CPU per message). The tests compare both on every row
//! type, with strings of every kind of character.

use crate::ingest::quarantine::QuarantineRow;
use crate::ingest::records::{BufferRow, EtlRow, GameRow, LobbyRow, LogRow, TaskRow};
use crate::ingest::swar;

/// A row that writes itself as `json.dumps(row)` would.
pub trait RowJson {
    fn write_json(&self, out: &mut Vec<u8>);
}

/// A row of one message, which starts with the batch's `etl_id` and the message's `msg_id`: that
/// start is the same in each of the message's rows, so it is written once ([`put_ids`]) and
/// copied.
pub trait IdRowJson {
    /// `(etl_id, msg_id)`.
    fn ids(&self) -> (&str, &str);
    /// The row after its `msg_id`: `, "key": value, ...}`.
    fn write_rest(&self, out: &mut Vec<u8>);
}

impl<T: IdRowJson> RowJson for T {
    fn write_json(&self, out: &mut Vec<u8>) {
        let (etl_id, msg_id) = self.ids();
        put_ids(out, etl_id, msg_id);
        self.write_rest(out);
    }
}

/// `{"etl_id": "...", "msg_id": "..."`, the start of a message's rows.
pub fn put_ids(out: &mut Vec<u8>, etl_id: &str, msg_id: &str) {
    out.extend_from_slice(b"{\"etl_id\": ");
    put_str(out, etl_id);
    out.extend_from_slice(b", \"msg_id\": ");
    put_str(out, msg_id);
}

/// `s` as a JSON string, `ensure_ascii` style: printable ASCII as is, `"` and `\` escaped, the
/// short escapes for `\b \f \n \r \t`, every other character as lowercase `\uXXXX` UTF-16 units.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Ids, tokens, timestamps and names never need escaping: checked as a whole, then copied.
    if is_plain(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        put_escaped(out, s);
    }
}

/// Whether every byte of `bytes` is one [`put_str`] copies as it is: eight at a time without a
/// branch per word, the last eight (overlapping) for the rest.
#[inline]
fn is_plain(bytes: &[u8]) -> bool {
    let word = |w: &[u8], at| plain_bits(swar::word(w, at));
    match bytes.len().checked_sub(8) {
        Some(last) => {
            let all = bytes
                .chunks_exact(8)
                .fold(word(bytes, last), |all, w| all & word(w, 0));
            all == swar::HIGH
        }
        None => bytes.iter().all(|b| plain_byte(*b)),
    }
}

/// Whether [`put_str`] copies `b` as it is: printable ASCII (`' '..='~'`) other than `"` and `\`.
#[inline]
fn plain_byte(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'
}

/// [`put_str`] for a string with at least one byte to escape.
fn put_escaped(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        // Eight bytes at a time while nothing needs escaping.
        if let Some(word) = bytes
            .get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            if plain_bits(u64::from_le_bytes(word)) == swar::HIGH {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if plain_byte(b) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ if b < 0x80 => put_unit(out, u16::from(b)),
            _ => {
                let ch = s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    put_unit(out, *unit);
                }
                i += ch.len_utf8();
                start = i;
                continue;
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The high bit of each byte of `w` that is [`plain_byte`], eight at once.
#[inline]
fn plain_bits(w: u64) -> u64 {
    let special = swar::below(w, b' ') | swar::equal(w, b'"') | swar::equal(w, b'\\');
    swar::below(w, 0x7f) & !special
}

fn put_unit(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

/// A decimal integer.
pub fn put_int(out: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(int_text(v, &mut digits));
}

/// `v` in decimal, written at the end of `digits` (20 bytes hold `i64::MIN`), two digits per
/// division.
pub fn int_text(v: i64, digits: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut at = digits.len();
    while n >= 100 {
        let pair = pair(n % 100);
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(pair);
    }
    if n >= 10 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(pair(n));
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    if v < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    &digits[at..]
}

/// The two digits of `n` (< 100).
#[inline]
fn pair(n: u64) -> &'static [u8] {
    const PAIRS: [u8; 200] = {
        let mut t = [0u8; 200];
        let mut i = 0;
        while i < 100 {
            t[2 * i] = b'0' + (i / 10) as u8;
            t[2 * i + 1] = b'0' + (i % 10) as u8;
            i += 1;
        }
        t
    };
    let i = 2 * n as usize;
    &PAIRS[i..i + 2]
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

impl IdRowJson for TaskRow<'_> {
    fn ids(&self) -> (&str, &str) {
        match self {
            TaskRow::Lobby(row) => row.ids(),
            TaskRow::Game(row) => row.ids(),
        }
    }
    fn write_rest(&self, out: &mut Vec<u8>) {
        match self {
            TaskRow::Lobby(row) => row.write_rest(out),
            TaskRow::Game(row) => row.write_rest(out),
        }
    }
}

impl RowJson for EtlRow<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"etl_id\": ");
        put_str(out, self.etl_id);
        out.extend_from_slice(b", \"service\": ");
        put_str(out, self.service);
        out.extend_from_slice(b", \"mode\": ");
        put_str(out, self.mode);
        out.extend_from_slice(b", \"timestamp_start\": ");
        put_str(out, &self.timestamp_start);
        out.extend_from_slice(b", \"timestamp_end\": ");
        put_str(out, &self.timestamp_end);
        out.push(b'}');
    }
}

impl IdRowJson for BufferRow<'_> {
    fn ids(&self) -> (&str, &str) {
        (self.etl_id, self.msg_id)
    }
    fn write_rest(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b", \"checksum\": ");
        match self.checksum {
            Some(c) => put_int(out, i64::from(c)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b", \"headers\": [");
        for (i, h) in self.headers.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            put_str(out, h);
        }
        out.extend_from_slice(b"], \"key\": ");
        put_str(out, &self.key);
        out.extend_from_slice(b", \"offset\": ");
        put_int(out, self.offset);
        out.extend_from_slice(b", \"partition\": ");
        put_int(out, i64::from(self.partition));
        out.extend_from_slice(b", \"serialized_key_size\": ");
        put_int(out, self.serialized_key_size);
        out.extend_from_slice(b", \"serialized_value_size\": ");
        put_int(out, self.serialized_value_size);
        out.extend_from_slice(b", \"timestamp\": ");
        put_str(out, &self.timestamp);
        out.extend_from_slice(b", \"timestamp_type\": ");
        put_int(out, i64::from(self.timestamp_type));
        out.extend_from_slice(b", \"topic\": ");
        put_str(out, self.topic);
        out.extend_from_slice(if self.is_protocol {
            b", \"_is_protocol\": true}"
        } else {
            b", \"_is_protocol\": false}"
        });
    }
}

impl IdRowJson for LogRow<'_> {
    fn ids(&self) -> (&str, &str) {
        (self.etl_id, self.msg_id)
    }
    fn write_rest(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b", \"level\": ");
        put_str(out, self.level);
        out.extend_from_slice(b", \"timestamp\": ");
        put_str(out, self.timestamp);
        out.extend_from_slice(b", \"name\": ");
        put_str(out, self.name);
        out.extend_from_slice(b", \"log_message\": ");
        put_str(out, self.log_message);
        out.push(b'}');
    }
}

impl IdRowJson for LobbyRow<'_> {
    fn ids(&self) -> (&str, &str) {
        (self.etl_id, self.msg_id)
    }
    fn write_rest(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b", \"timestamp\": ");
        put_str(out, self.timestamp);
        out.extend_from_slice(b", \"game_token\": ");
        put_str(out, self.game_token);
        out.extend_from_slice(b", \"user_token\": ");
        put_str(out, self.user_token);
        out.extend_from_slice(b", \"superhero_id\": ");
        put_int(out, self.superhero_id);
        out.extend_from_slice(b", \"superhero_attack\": ");
        put_int(out, self.superhero_attack);
        out.extend_from_slice(b", \"superhero_health\": ");
        put_int(out, self.superhero_health);
        out.push(b'}');
    }
}

impl IdRowJson for GameRow<'_> {
    fn ids(&self) -> (&str, &str) {
        (self.etl_id, self.msg_id)
    }
    fn write_rest(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b", \"timestamp\": ");
        put_str(out, self.timestamp);
        out.extend_from_slice(b", \"game_token\": ");
        put_str(out, self.game_token);
        out.extend_from_slice(b", \"user_token\": ");
        put_str(out, self.user_token);
        out.extend_from_slice(b", \"action\": ");
        put_str(out, self.action);
        out.extend_from_slice(b", \"enemy_token\": ");
        put_str(out, self.enemy_token);
        out.extend_from_slice(b", \"enemy_damage\": ");
        put_int(out, self.enemy_damage);
        out.extend_from_slice(b", \"enemy_health_prior\": ");
        put_int(out, self.enemy_health_prior);
        out.extend_from_slice(b", \"enemy_health_post\": ");
        put_int(out, self.enemy_health_post);
        out.push(b'}');
    }
}

impl RowJson for QuarantineRow<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"etl_id\": ");
        put_str(out, self.etl_id);
        out.extend_from_slice(b", \"msg_id\": ");
        put_str(out, self.msg_id);
        out.extend_from_slice(b", \"topic\": ");
        put_str(out, self.topic);
        out.extend_from_slice(b", \"partition\": ");
        put_int(out, i64::from(self.partition));
        out.extend_from_slice(b", \"offset\": ");
        put_int(out, self.offset);
        out.extend_from_slice(b", \"timestamp\": ");
        put_opt_str(out, self.timestamp.as_deref());
        out.extend_from_slice(b", \"error\": ");
        put_str(out, self.error);
        out.extend_from_slice(b", \"value_encoding\": ");
        put_str(out, self.value_encoding);
        out.extend_from_slice(b", \"value\": ");
        put_opt_str(out, self.value.as_deref());
        out.push(b'}');
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ingest::pyjson;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::borrow::Cow;

    /// Both writers on one row: the hand-written one must give serde's bytes.
    fn agree<T: RowJson + Serialize>(row: &T) {
        let mut hand = Vec::new();
        row.write_json(&mut hand);
        let serde = pyjson::to_vec(row).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&hand),
            String::from_utf8_lossy(&serde)
        );
    }

    /// Every row type with the strings `s`, `t` in its text fields and `n`, `m` in its integers.
    fn all_rows(s: &str, t: &str, n: i64, m: i32) {
        let headers = [s.to_string(), t.to_string()];
        agree(&EtlRow {
            etl_id: s,
            service: "Kafka",
            mode: "Batch",
            timestamp_start: t.to_string(),
            timestamp_end: s.to_string(),
        });
        for (headers, checksum, is_protocol) in [
            (&headers[..], None, false),
            (&headers[..1], Some(m as u32), true),
            (&headers[..0], Some(u32::MAX), false),
        ] {
            agree(&BufferRow {
                etl_id: s,
                msg_id: t,
                checksum,
                headers,
                key: Cow::Borrowed(s),
                offset: n,
                partition: m,
                serialized_key_size: -1,
                serialized_value_size: n.wrapping_neg(),
                timestamp: Cow::Borrowed(t),
                timestamp_type: m.wrapping_neg(),
                topic: s,
                is_protocol,
            });
        }
        agree(&LogRow {
            etl_id: s,
            msg_id: t,
            level: s,
            timestamp: t,
            name: s,
            log_message: t,
        });
        let lobby = LobbyRow {
            etl_id: s,
            msg_id: t,
            timestamp: s,
            game_token: t,
            user_token: s,
            superhero_id: n,
            superhero_attack: i64::from(m),
            superhero_health: i64::MIN,
        };
        agree(&lobby);
        agree(&TaskRow::Lobby(lobby));
        let game = GameRow {
            etl_id: s,
            msg_id: t,
            timestamp: s,
            game_token: t,
            user_token: s,
            action: t,
            enemy_token: s,
            enemy_damage: n,
            enemy_health_prior: i64::MAX,
            enemy_health_post: i64::from(m),
        };
        agree(&game);
        agree(&TaskRow::Game(game));
        for (timestamp, value) in [(Some(t.to_string()), Some(s.to_string())), (None, None)] {
            agree(&QuarantineRow {
                etl_id: s,
                msg_id: t,
                topic: s,
                partition: m,
                offset: n,
                timestamp,
                error: t,
                value_encoding: "utf8",
                value,
            });
        }
    }

    #[test]
    fn every_character_class_is_written_like_serde() {
        // Every ASCII byte, DEL, 2-, 3- and 4-byte characters (surrogate pairs), at the start, the
        // middle and the end of a string.
        let ascii: String = (0u8..=0x7f).map(char::from).collect();
        for s in [
            ascii.as_str(),
            "",
            "plain",
            "é",
            "aé\u{7ff}b",
            "\u{800}\u{ffff}",
            "x😀y\u{10ffff}",
            "\"\\/\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}",
        ] {
            all_rows(s, &format!("<{s}>"), 0, 0);
        }
    }

    /// The eight-bytes-at-a-time paths: one character of every class at every position of plain
    /// strings of every length up to 21 (so it falls in every lane of a word, and in the padded
    /// tail), written like serde.
    #[test]
    fn a_special_character_anywhere_in_a_long_string_is_written_like_serde() {
        let specials: Vec<char> = (0u8..0x20)
            .chain([b'"', b'\\', 0x7f, b' ', b'~', b'!', b'}'])
            .map(char::from)
            .chain(['é', '\u{800}', '😀'])
            .collect();
        let long = "0123456789abcdef-GHIJ";
        for c in specials {
            // Every length, so that the character is also in the padded last word.
            for plain in (0..=long.len()).map(|n| &long[..n]) {
                for at in 0..=plain.len() {
                    let s = format!("{}{c}{}", &plain[..at], &plain[at..]);
                    let mut hand = Vec::new();
                    put_str(&mut hand, &s);
                    assert_eq!(
                        String::from_utf8_lossy(&hand),
                        String::from_utf8_lossy(&pyjson::to_vec(&s).unwrap()),
                        "{c:?} at {at} of {plain:?}"
                    );
                }
            }
        }
    }

    /// Every length of number, each side of every power of ten, both signs, both ends of `i64`.
    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut values: Vec<i64> = (-1000..=1000).collect();
        let mut power = 1i64;
        while let Some(next) = power.checked_mul(10) {
            values.extend([
                power - 1,
                power,
                power + 1,
                -power,
                -power - 1,
                next / 2 + 7,
            ]);
            power = next;
        }
        values.extend([power, i64::MAX, i64::MIN, i64::MIN + 1]);
        for v in values {
            let mut digits = [0u8; 20];
            assert_eq!(int_text(v, &mut digits), v.to_string().as_bytes(), "{v}");
        }
    }

    proptest! {
        #[test]
        fn rows_are_written_like_serde(s in any::<String>(), t in "[ -~\\\\\"]{0,12}", n in any::<i64>(), m in any::<i32>()) {
            all_rows(&s, &t, n, m);
        }
    }
}

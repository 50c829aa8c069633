//! The LZ77 half of the row encoder: back-references looked for only where JSON rows repeat.
//!
//! Rows of one file share their keys, and many values (the batch's `etl_id`, topics, tokens,
//! timestamp prefixes) recur in later rows. Every key and every string value starts just after a
//! `"`, so only those positions are looked up, keyed on the 16 bytes from there, each against the
//! latest earlier position with the same key; a hit is extended forwards and backwards byte by
//! byte, and the quotes it covers are not looked at. A general deflate hashes every byte, which is
//! where zlib spends its time on this input.

use crate::ingest::swar;

/// Deflate's window and longest match (RFC 1951 §3.2.5).
pub const WINDOW: usize = 32 * 1024;
pub const MAX_MATCH: usize = 258;
/// Shorter matches cost about as many bits as their literals.
const MIN_MATCH: usize = 5;
const KEY_BYTES: usize = 16;
const TABLE_BITS: u32 = 12;

/// `literals` bytes copied as they are, then a match of `len` bytes (0: none, at the end) from
/// `dist` bytes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seq {
    pub literals: u32,
    pub len: u16,
    pub dist: u16,
}

/// The sequences that rebuild `data`.
pub fn parse(data: &[u8], seqs: &mut Vec<Seq>) {
    let mut table = vec![0u32; 1 << TABLE_BITS];
    let mut lit_start = 0;
    let mut covered: usize = 0;
    let mut quotes = Quotes::new(data);
    // Looked up just after each quote outside the matches found so far: where a key or a string
    // value starts, even when the quote itself ends a match.
    while let Some(quote) = quotes.next_from(covered.saturating_sub(1)) {
        let q = quote + 1;
        let Some(key) = key_at(data, q) else { break };
        let slot = &mut table[key];
        let earlier = *slot;
        // Stored as position + 1, so 0 is empty.
        *slot = q as u32 + 1;
        if earlier == 0 {
            continue;
        }
        let from = earlier as usize - 1;
        if q - from > WINDOW {
            continue;
        }
        let ahead = common_len(data, from, q, MAX_MATCH);
        let behind = common_behind(data, from, q, lit_start, MAX_MATCH - ahead);
        let len = ahead + behind;
        if len < MIN_MATCH {
            continue;
        }
        let start = q - behind;
        seqs.push(Seq {
            literals: (start - lit_start) as u32,
            len: len as u16,
            dist: (q - from) as u16,
        });
        covered = start + len;
        // A run longer than one match (rows equal for more than 258 bytes) goes on at the same
        // distance.
        let dist = q - from;
        let mut last = len;
        while last == MAX_MATCH {
            last = common_len(data, covered - dist, covered, MAX_MATCH);
            if last < MIN_MATCH {
                break;
            }
            seqs.push(Seq {
                literals: 0,
                len: last as u16,
                dist: dist as u16,
            });
            covered += last;
        }
        lit_start = covered;
    }
    seqs.push(Seq {
        literals: (data.len() - lit_start) as u32,
        len: 0,
        dist: 0,
    });
}

/// Positions of `"`, eight bytes at a time.
struct Quotes<'a> {
    data: &'a [u8],
    /// Start of the word `pending` was taken from.
    word_at: usize,
    /// One high bit per `"` in that word not yet returned.
    pending: u64,
}

impl<'a> Quotes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            word_at: 0,
            pending: quote_bits(data, 0),
        }
    }

    /// The next `"` at or after `from` (which never decreases between calls).
    #[inline]
    fn next_from(&mut self, from: usize) -> Option<usize> {
        if from >= self.word_at + 8 {
            self.word_at = from & !7;
            self.pending = quote_bits(self.data, self.word_at);
        }
        // Quotes before `from` in this word are passed over.
        let skip = from.saturating_sub(self.word_at) * 8;
        if skip > 0 {
            self.pending &= u64::MAX << skip;
        }
        loop {
            if self.pending != 0 {
                let at = self.word_at + swar::first(self.pending);
                self.pending &= self.pending - 1;
                return Some(at);
            }
            self.word_at += 8;
            if self.word_at >= self.data.len() {
                return None;
            }
            self.pending = quote_bits(self.data, self.word_at);
        }
    }
}

/// The high bit of each byte of `data[at..at + 8]` that is `"` (bytes past the end count as none).
#[inline]
fn quote_bits(data: &[u8], at: usize) -> u64 {
    let w = swar::word_at(data, at).unwrap_or_else(|| {
        let mut w = [0u8; 8];
        let tail = data.get(at..).unwrap_or_default();
        w[..tail.len()].copy_from_slice(tail);
        u64::from_le_bytes(w)
    });
    swar::equal(w, b'"')
}

/// The table slot of the 16 bytes at `at`, if there are 16.
#[inline]
fn key_at(data: &[u8], at: usize) -> Option<usize> {
    let bytes = data.get(at..at + KEY_BYTES)?;
    let (a, b) = bytes.split_at(8);
    let a = u64::from_le_bytes(a.try_into().ok()?);
    let b = u64::from_le_bytes(b.try_into().ok()?);
    let mixed = (a ^ b.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    Some((mixed >> (64 - TABLE_BITS)) as usize)
}

/// How many bytes from `at` equal those from `from` (`from < at`; the two may overlap, as in
/// deflate), at most `max`.
#[inline]
fn common_len(data: &[u8], from: usize, at: usize, max: usize) -> usize {
    let max = max.min(data.len() - at);
    let (a, b) = (&data[from..from + max], &data[at..at + max]);
    // Rows repeat for tens to hundreds of bytes: whole blocks first, then the word that differs.
    let mut n = 0;
    for (x, y) in a.chunks_exact(BLOCK).zip(b.chunks_exact(BLOCK)) {
        let differ = (0..BLOCK)
            .step_by(8)
            .fold(0, |d, i| d | (swar::word(x, i) ^ swar::word(y, i)));
        if differ != 0 {
            break;
        }
        n += BLOCK;
    }
    while n + 8 <= max {
        let diff = swar::word(a, n) ^ swar::word(b, n);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && a[n] == b[n] {
        n += 1;
    }
    n
}

/// Bytes compared at once by [`common_len`].
const BLOCK: usize = 32;

/// How many bytes just before `at` equal those just before `from`, not reaching back before
/// `floor` (where the pending literals start), at most `max`.
#[inline]
fn common_behind(data: &[u8], from: usize, at: usize, floor: usize, max: usize) -> usize {
    let max = max.min(at - floor).min(from);
    let mut n = 0;
    // Eight bytes at a time, the word ending just before each position; the highest differing
    // byte is the one nearest to it.
    while n + 8 <= max {
        let diff = swar::word(data, from - n - 8) ^ swar::word(data, at - n - 8);
        if diff != 0 {
            return n + (diff.leading_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data[from - n - 1] == data[at - n - 1] {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rebuilds the bytes from the sequences as an inflater would.
    pub fn replay(data: &[u8], seqs: &[Seq]) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        let mut src = 0;
        for s in seqs {
            out.extend_from_slice(&data[src..src + s.literals as usize]);
            src += s.literals as usize;
            let from = out.len() - s.dist as usize;
            for i in 0..s.len as usize {
                out.push(out[from + i]);
            }
            src += s.len as usize;
        }
        out
    }

    fn seqs(data: &[u8]) -> Vec<Seq> {
        let mut s = Vec::new();
        parse(data, &mut s);
        s
    }

    #[test]
    fn repeated_rows_become_matches_within_the_window() {
        let row = br#"{"etl_id": "3febb019-42a1-40ff-8b3f-19e53c6ab6b9", "msg_id": "X", "topic": "lib.server.game"}, "#;
        let mut data = Vec::new();
        for i in 0..400 {
            data.extend_from_slice(&row[..]);
            data.extend_from_slice(format!("{i:08}").as_bytes());
        }
        let s = seqs(&data);
        assert_eq!(replay(&data, &s), data);
        let literals: usize = s.iter().map(|s| s.literals as usize).sum();
        assert!(literals < data.len() / 5, "{literals} of {}", data.len());
        assert!(s
            .iter()
            .all(|s| s.dist as usize <= WINDOW && s.len as usize <= MAX_MATCH));
        assert!(s.iter().all(|s| s.len == 0 || s.len as usize >= MIN_MATCH));
    }

    #[test]
    fn runs_longer_than_one_match_continue_at_the_same_distance() {
        let mut data = b"\"".to_vec();
        data.extend(std::iter::repeat_n(b'a', 2000));
        data.extend_from_slice(b"\"");
        data.extend_from_slice(&data.clone());
        let s = seqs(&data);
        assert_eq!(replay(&data, &s), data);
        assert!(
            s.iter().filter(|s| s.len as usize == MAX_MATCH).count() >= 7,
            "{s:?}"
        );
    }

    #[test]
    fn matches_never_reach_past_the_window() {
        let mut data = Vec::new();
        let unit = br#""0123456789abcdef0123""#;
        data.extend_from_slice(unit);
        // 40 KB of quote-free noise, then the same unit: too far back to refer to.
        let mut x = 7u32;
        for _ in 0..40_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.push(b'A' + (x >> 16) as u8 % 26);
        }
        data.extend_from_slice(unit);
        let s = seqs(&data);
        assert_eq!(replay(&data, &s), data);
        assert!(s.iter().all(|s| s.len == 0), "{s:?}");
    }

    #[test]
    fn text_without_quotes_or_shorter_than_a_key_is_all_literals() {
        for data in [&b""[..], b"[]", b"\"abc\"", b"no quotes here at all, none"] {
            let s = seqs(data);
            assert_eq!(
                s,
                vec![Seq {
                    literals: data.len() as u32,
                    len: 0,
                    dist: 0
                }]
            );
        }
    }

    /// The block and word comparisons agree with a byte loop at every length and offset, with the
    /// difference in every byte of a block and a word.
    #[test]
    fn common_lengths_equal_a_byte_by_byte_count() {
        let mut x = 0x9e37_79b9u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            // A text repeated at some distance, with one byte changed somewhere (or none).
            let dist = 1 + (next() % 90) as usize;
            let len = 1 + (next() % 400) as usize;
            let mut data: Vec<u8> = (0..dist).map(|_| b'a' + (next() % 3) as u8).collect();
            while data.len() < dist + len {
                data.push(data[data.len() - dist]);
            }
            if round % 4 != 0 {
                let at = (next() as usize) % data.len();
                data[at] ^= 1;
            }
            let at = dist + (next() as usize) % (data.len() - dist);
            let from = at - dist;
            let max = (next() % 300) as usize;
            let floor = (next() as usize) % (at + 1);
            let mut ahead = 0;
            while ahead < max.min(data.len() - at) && data[from + ahead] == data[at + ahead] {
                ahead += 1;
            }
            let mut behind = 0;
            while behind < max
                && at - behind > floor
                && from > behind
                && data[from - behind - 1] == data[at - behind - 1]
            {
                behind += 1;
            }
            assert_eq!(common_len(&data, from, at, max), ahead, "round {round}");
            assert_eq!(
                common_behind(&data, from, at, floor, max),
                behind,
                "round {round}"
            );
        }
    }

    #[test]
    fn arbitrary_bytes_replay_exactly() {
        let mut x = 0x1234_5678u64;
        for round in 0..300 {
            let n = (round * 37) % 5000;
            let alphabet: &[u8] = if round % 3 == 0 {
                b"\"ab, :"
            } else {
                b"\"abcdefghij0123456789{}[], :"
            };
            let mut data = Vec::with_capacity(n);
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let s = seqs(&data);
            assert_eq!(replay(&data, &s), data, "round {round}");
        }
    }
}

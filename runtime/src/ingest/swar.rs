//! Byte tests on eight bytes at once (SIMD within a register), for the scans of the message
//! parser, the row writer and the row encoder: each answer is exact for every byte of the word
//! (no carry crosses from one byte into the next), with the high bit of each matching byte set.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// The high bit of every byte: what a test answers when all eight bytes match.
pub const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `b` from `at`, little-endian, if there are eight.
#[inline]
pub fn word_at(b: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The eight bytes of `b` from `at`, little-endian, for callers that know there are eight (it
/// panics otherwise, as indexing does).
#[inline]
pub fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The high bit of each byte of `w` that equals `byte`.
#[inline]
pub fn equal(w: u64, byte: u8) -> u64 {
    let x = w ^ (ONES * u64::from(byte));
    // Without its high bit, a byte plus 0x7f reaches the high bit unless it is zero.
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The high bit of each byte of `w` below `n` (`n` <= 0x80).
#[inline]
pub fn below(w: u64, n: u8) -> u64 {
    debug_assert!(n <= 0x80);
    // A byte without its high bit reaches it, plus 0x80 - n, exactly when it is >= n.
    !(((w & LOW7) + ONES * u64::from(0x80 - n)) | w) & HIGH
}

/// The index (0..8) of the lowest byte whose high bit is set in `bits` (which is not zero).
#[inline]
pub fn first(bits: u64) -> usize {
    (bits.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value in every position, beside neighbours that could carry or borrow into it.
    fn words() -> impl Iterator<Item = ([u8; 8], usize)> {
        (0..=255u8).flat_map(|v| {
            (0..8).flat_map(move |at| {
                [0x00u8, 0x7f, 0x80, 0xff, b'"']
                    .into_iter()
                    .map(move |fill| {
                        let mut w = [fill; 8];
                        w[at] = v;
                        (w, at)
                    })
            })
        })
    }

    fn expected(w: [u8; 8], hit: impl Fn(u8) -> bool) -> u64 {
        w.iter()
            .enumerate()
            .filter(|(_, b)| hit(**b))
            .map(|(i, _)| 0x80u64 << (8 * i))
            .sum()
    }

    #[test]
    fn equal_marks_exactly_the_equal_bytes() {
        for (w, _) in words() {
            for byte in [b'"', b'\\', 0, 0x7f, 0x80, 0xff] {
                let got = equal(u64::from_le_bytes(w), byte);
                assert_eq!(got, expected(w, |b| b == byte), "{w:?} == {byte:#x}");
            }
        }
    }

    #[test]
    fn below_marks_exactly_the_smaller_bytes() {
        for (w, _) in words() {
            for n in [1u8, 0x20, 0x7f, 0x80] {
                let got = below(u64::from_le_bytes(w), n);
                assert_eq!(got, expected(w, |b| b < n), "{w:?} < {n:#x}");
            }
        }
    }

    #[test]
    fn first_and_word_at_read_little_endian() {
        let b = *b"abcdefgh\"j";
        let w = word_at(&b, 2).unwrap_or_default();
        assert_eq!(first(equal(w, b'"')), 6);
        assert_eq!(word_at(&b, 3), None);
        assert_eq!(word_at(&b, usize::MAX), None);
    }
}

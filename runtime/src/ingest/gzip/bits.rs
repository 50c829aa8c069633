//! Bits out, least significant first, as deflate packs them (RFC 1951 §3.1.1).

pub struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    filled: u32,
}

impl BitWriter {
    pub fn new(out: Vec<u8>) -> Self {
        Self {
            out,
            acc: 0,
            filled: 0,
        }
    }

    /// Appends the low `n` bits of `bits` (`n` <= 32; higher bits of `bits` must be zero).
    #[inline]
    pub fn put(&mut self, bits: u32, n: u32) {
        self.acc |= u64::from(bits) << self.filled;
        self.filled += n;
        spill(&mut self.out, &mut self.acc, &mut self.filled);
    }

    /// Appends the code of each of `bytes`, `table[byte]` holding its bits in the low 16 and its
    /// length above them: [`put`](Self::put) per byte, with the state kept in registers.
    #[inline]
    pub fn put_each(&mut self, bytes: &[u8], table: &[u32; 256]) {
        let (mut acc, mut filled) = (self.acc, self.filled);
        self.out.reserve(bytes.len() * 2 + 8);
        // Two codes (15 bits each at most) go in per step, which halves the chain of shifts.
        let mut pairs = bytes.chunks_exact(2);
        for pair in &mut pairs {
            let (a, b) = (table[usize::from(pair[0])], table[usize::from(pair[1])]);
            let bits = u64::from(a & 0xffff) | u64::from(b & 0xffff) << (a >> 16);
            acc |= bits << filled;
            filled += (a >> 16) + (b >> 16);
            spill(&mut self.out, &mut acc, &mut filled);
        }
        (self.acc, self.filled) = (acc, filled);
        if let [last] = pairs.remainder() {
            let entry = table[usize::from(*last)];
            self.put(entry & 0xffff, entry >> 16);
        }
    }

    /// Pads to a byte boundary with zero bits and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let bytes = self.filled.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.acc.to_le_bytes()[..bytes.min(8)]);
        self.out
    }
}

/// Moves the complete low 32 bits of `acc` to `out` once there are that many.
#[inline]
fn spill(out: &mut Vec<u8>, acc: &mut u64, filled: &mut u32) {
    if *filled >= 32 {
        // Truncation intended: the low 32 bits are the complete ones.
        out.extend_from_slice(&(*acc as u32).to_le_bytes());
        *acc >>= 32;
        *filled -= 32;
    }
}

/// `code` with its lowest `len` bits in reverse order: Huffman codes are defined most significant
/// bit first but packed starting from the least significant bit.
pub fn reverse(code: u32, len: u32) -> u32 {
    if len == 0 {
        0
    } else {
        code.reverse_bits() >> (32 - len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_packed_low_first_across_word_boundaries() {
        let mut w = BitWriter::new(Vec::new());
        w.put(0b1, 1);
        w.put(0b10, 2);
        w.put(0b1_0110, 5);
        // 0b10110_10_1 = 0xB5
        w.put(0xABCD_EF01, 32);
        w.put(0b111, 3);
        assert_eq!(w.finish(), vec![0xB5, 0x01, 0xEF, 0xCD, 0xAB, 0b111]);
    }

    /// The pieces packed one bit at a time, least significant first: what deflate asks for.
    fn packed_bit_by_bit(start: &[u8], pieces: &[(u32, u32)]) -> Vec<u8> {
        let mut out = start.to_vec();
        let mut bit = 0;
        for &(bits, n) in pieces {
            for i in 0..n {
                if bit % 8 == 0 {
                    out.push(0);
                }
                if let Some(last) = out.last_mut() {
                    *last |= (((bits >> i) & 1) as u8) << (bit % 8);
                }
                bit += 1;
            }
        }
        out
    }

    /// Runs of every length from 0 to 9 and a long one, between single puts, with codes of every
    /// length and with every code 15 bits long (the most a word store must hold).
    #[test]
    fn put_each_writes_the_codes_bit_by_bit() {
        for longest in [false, true] {
            let mut table = [0u32; 256];
            for (b, entry) in table.iter_mut().enumerate() {
                let len = if longest { 15 } else { 1 + (b as u32 * 7) % 15 };
                *entry = (((b as u32).wrapping_mul(2_654_435_761) >> 7) & ((1 << len) - 1))
                    | (len << 16);
            }
            let mut w = BitWriter::new(vec![9]);
            let mut pieces = Vec::new();
            let mut next = 0u32;
            for run in (0..=9).chain([1000]) {
                w.put(0b101, 3);
                pieces.push((0b101, 3));
                let bytes: Vec<u8> = (0..run)
                    .map(|_| {
                        next = next.wrapping_mul(37).wrapping_add(11);
                        (next % 256) as u8
                    })
                    .collect();
                w.put_each(&bytes, &table);
                pieces.extend(bytes.iter().map(|b| {
                    let e = table[usize::from(*b)];
                    (e & 0xffff, e >> 16)
                }));
            }
            assert_eq!(
                w.finish(),
                packed_bit_by_bit(&[9], &pieces),
                "longest {longest}"
            );
        }
    }

    #[test]
    fn reverse_mirrors_only_the_code_bits() {
        assert_eq!(reverse(0b110, 3), 0b011);
        assert_eq!(reverse(0b1, 1), 0b1);
        assert_eq!(reverse(0b0000_0001, 8), 0b1000_0000);
        assert_eq!(reverse(0, 0), 0);
    }
}

//! The Huffman half: one final deflate block (RFC 1951 §3.2.5-3.2.7) for a whole file, with
//! dynamic codes or, when they would cost more, the fixed ones.

use super::bits::BitWriter;
use super::huffman::{self, code_lengths};
use super::lz::Seq;

const END_OF_BLOCK: usize = 256;
const LITLEN_SYMBOLS: usize = 286;
const DIST_SYMBOLS: usize = 30;
/// The order code-length code lengths are sent in (§3.2.7).
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Symbol, extra bit count and extra bits of a match length (3..=258).
#[inline]
pub fn length_symbol(len: usize) -> (usize, u32, u32) {
    let x = len - 3;
    if len == 258 {
        return (285, 0, 0);
    }
    if x < 8 {
        return (257 + x, 0, 0);
    }
    let top = usize::BITS - 1 - x.leading_zeros();
    let extra = top - 2;
    let sym = 257 + 4 * (top as usize - 1) + ((x >> extra) & 3);
    (sym, extra, (x & ((1 << extra) - 1)) as u32)
}

/// Symbol, extra bit count and extra bits of a match distance (1..=32768).
#[inline]
pub fn distance_symbol(dist: usize) -> (usize, u32, u32) {
    let x = dist - 1;
    if x < 4 {
        return (x, 0, 0);
    }
    let top = usize::BITS - 1 - x.leading_zeros();
    let extra = top - 1;
    let sym = 2 * top as usize + ((x >> extra) & 1);
    (sym, extra, (x & ((1 << extra) - 1)) as u32)
}

/// Appends `data`, cut into `seqs`, to `out` as one final block.
pub fn write_final(data: &[u8], seqs: &[Seq], out: Vec<u8>) -> Vec<u8> {
    let (mut lit_freq, mut dist_freq) = ([0u32; LITLEN_SYMBOLS], [0u32; DIST_SYMBOLS]);
    let mut src = 0;
    for s in seqs {
        for &b in &data[src..src + s.literals as usize] {
            lit_freq[usize::from(b)] += 1;
        }
        src += s.literals as usize + usize::from(s.len);
        if s.len > 0 {
            lit_freq[length_symbol(usize::from(s.len)).0] += 1;
            dist_freq[distance_symbol(usize::from(s.dist)).0] += 1;
        }
    }
    lit_freq[END_OF_BLOCK] = 1;
    at_least_two(&mut lit_freq);
    at_least_two(&mut dist_freq);
    let dynamic = Dynamic::new(&lit_freq, &dist_freq);
    let fixed = Codes::fixed();
    let mut bits = BitWriter::new(out);
    bits.put(1, 1); // BFINAL
    let codes = if dynamic.header_bits + dynamic.codes.data_bits(&lit_freq, &dist_freq)
        < fixed.data_bits(&lit_freq, &dist_freq)
    {
        bits.put(0b10, 2);
        dynamic.write_header(&mut bits);
        dynamic.codes
    } else {
        bits.put(0b01, 2);
        fixed
    };
    codes.write_data(data, seqs, &mut bits);
    bits.finish()
}

/// Inflaters want every code complete, which takes two symbols; the extra ones cost nothing.
fn at_least_two(freq: &mut [u32]) {
    for sym in 0..2 {
        if freq.iter().filter(|f| **f > 0).count() >= 2 {
            return;
        }
        if freq[sym] == 0 {
            freq[sym] = 1;
        }
    }
}

struct Codes {
    lit_len: Vec<u8>,
    lit_code: Vec<u16>,
    dist_len: Vec<u8>,
    dist_code: Vec<u16>,
    /// Code | length << 16 of each literal byte, for [`BitWriter::put_each`].
    bytes: [u32; 256],
}

impl Codes {
    fn new(lit_len: Vec<u8>, dist_len: Vec<u8>) -> Self {
        let lit_code = huffman::codes(&lit_len);
        let mut bytes = [0u32; 256];
        for (b, entry) in bytes.iter_mut().enumerate() {
            *entry = u32::from(lit_code[b]) | u32::from(lit_len[b]) << 16;
        }
        Self {
            dist_code: huffman::codes(&dist_len),
            lit_code,
            lit_len,
            dist_len,
            bytes,
        }
    }

    /// The fixed codes of §3.2.6.
    fn fixed() -> Self {
        let lit: Vec<u8> = (0..288)
            .map(|s| match s {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            })
            .collect();
        Self::new(lit, vec![5; 32])
    }

    /// Bits of the block's symbols under these codes (extra bits left out: equal for any code).
    fn data_bits(&self, lit_freq: &[u32], dist_freq: &[u32]) -> u64 {
        let cost = |freq: &[u32], len: &[u8]| -> u64 {
            freq.iter()
                .zip(len)
                .map(|(f, l)| u64::from(*f) * u64::from(*l))
                .sum()
        };
        cost(lit_freq, &self.lit_len) + cost(dist_freq, &self.dist_len)
    }

    fn write_data(&self, data: &[u8], seqs: &[Seq], bits: &mut BitWriter) {
        let lit = |bits: &mut BitWriter, sym: usize| {
            bits.put(u32::from(self.lit_code[sym]), u32::from(self.lit_len[sym]));
        };
        let mut src = 0;
        for s in seqs {
            bits.put_each(&data[src..src + s.literals as usize], &self.bytes);
            src += s.literals as usize + usize::from(s.len);
            if s.len > 0 {
                // Each code with its extra bits in one put: at most 15 + 5 and 15 + 13 bits.
                let (sym, n, extra) = length_symbol(usize::from(s.len));
                let len = u32::from(self.lit_len[sym]);
                bits.put(u32::from(self.lit_code[sym]) | extra << len, len + n);
                let (sym, n, extra) = distance_symbol(usize::from(s.dist));
                let len = u32::from(self.dist_len[sym]);
                bits.put(u32::from(self.dist_code[sym]) | extra << len, len + n);
            }
        }
        lit(bits, END_OF_BLOCK);
    }
}

/// Dynamic codes and how they are described in the block header.
struct Dynamic {
    codes: Codes,
    /// Code-length symbols (0..=18) with their extra bits, for both codes' lengths in a row.
    cl_symbols: Vec<(u8, u8)>,
    cl_len: Vec<u8>,
    cl_code: Vec<u16>,
    hlit: usize,
    hdist: usize,
    hclen: usize,
    header_bits: u64,
}

impl Dynamic {
    fn new(lit_freq: &[u32], dist_freq: &[u32]) -> Self {
        let codes = Codes::new(code_lengths(lit_freq, 15), code_lengths(dist_freq, 15));
        let used = |len: &[u8]| len.iter().rposition(|l| *l > 0).map_or(0, |i| i + 1);
        let hlit = used(&codes.lit_len).max(257);
        let hdist = used(&codes.dist_len).max(1);
        let mut all = codes.lit_len[..hlit].to_vec();
        all.extend_from_slice(&codes.dist_len[..hdist]);
        let cl_symbols = run_lengths(&all);
        let mut cl_freq = [0u32; 19];
        for (sym, _) in &cl_symbols {
            cl_freq[usize::from(*sym)] += 1;
        }
        at_least_two(&mut cl_freq);
        let cl_len = code_lengths(&cl_freq, 7);
        let hclen = CL_ORDER
            .iter()
            .rposition(|s| cl_len[*s] > 0)
            .map_or(4, |i| (i + 1).max(4));
        let header_bits = 3
            + 14
            + 3 * hclen as u64
            + cl_symbols
                .iter()
                .map(|(sym, _)| u64::from(cl_len[usize::from(*sym)]) + extra_bits(*sym) as u64)
                .sum::<u64>();
        Self {
            codes,
            cl_code: huffman::codes(&cl_len),
            cl_symbols,
            cl_len,
            hlit,
            hdist,
            hclen,
            header_bits,
        }
    }

    fn write_header(&self, bits: &mut BitWriter) {
        bits.put((self.hlit - 257) as u32, 5);
        bits.put((self.hdist - 1) as u32, 5);
        bits.put((self.hclen - 4) as u32, 4);
        for sym in &CL_ORDER[..self.hclen] {
            bits.put(u32::from(self.cl_len[*sym]), 3);
        }
        for (sym, extra) in &self.cl_symbols {
            let s = usize::from(*sym);
            bits.put(u32::from(self.cl_code[s]), u32::from(self.cl_len[s]));
            bits.put(u32::from(*extra), extra_bits(*sym));
        }
    }
}

/// Extra bits after code-length symbol `sym`: 16 repeats the previous length 3-6 times, 17 and 18
/// repeat zero 3-10 and 11-138 times.
fn extra_bits(sym: u8) -> u32 {
    match sym {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// `lengths` as code-length symbols with their extra bits (§3.2.7).
fn run_lengths(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lengths.len() {
        let l = lengths[i];
        let run = lengths[i..].iter().take_while(|x| **x == l).count();
        i += run;
        let mut left = run;
        if l == 0 {
            while left >= 11 {
                let r = left.min(138);
                out.push((18, (r - 11) as u8));
                left -= r;
            }
            if left >= 3 {
                out.push((17, (left - 3) as u8));
                left = 0;
            }
        } else {
            out.push((l, 0));
            left -= 1;
            while left >= 3 {
                let r = left.min(6);
                out.push((16, (r - 3) as u8));
                left -= r;
            }
        }
        out.extend(std::iter::repeat_n((l, 0), left));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_symbols_match_the_rfc_table() {
        // (length, symbol, extra bits, extra value) from RFC 1951 §3.2.5.
        for (len, sym, n, v) in [
            (3, 257, 0, 0),
            (10, 264, 0, 0),
            (11, 265, 1, 0),
            (12, 265, 1, 1),
            (13, 266, 1, 0),
            (19, 269, 2, 0),
            (34, 272, 2, 3),
            (35, 273, 3, 0),
            (67, 277, 4, 0),
            (131, 281, 5, 0),
            (227, 284, 5, 0),
            (257, 284, 5, 30),
            (258, 285, 0, 0),
        ] {
            assert_eq!(length_symbol(len), (sym, n, v), "length {len}");
        }
    }

    #[test]
    fn distance_symbols_match_the_rfc_table() {
        for (dist, sym, n, v) in [
            (1, 0, 0, 0),
            (4, 3, 0, 0),
            (5, 4, 1, 0),
            (6, 4, 1, 1),
            (7, 5, 1, 0),
            (9, 6, 2, 0),
            (13, 7, 2, 0),
            (1025, 20, 9, 0),
            (24_577, 29, 13, 0),
            (32_768, 29, 13, 8191),
        ] {
            assert_eq!(distance_symbol(dist), (sym, n, v), "distance {dist}");
        }
    }

    #[test]
    fn runs_of_lengths_use_the_repeat_symbols() {
        let mut lengths = vec![0u8; 140];
        lengths.extend([5; 8]);
        lengths.extend([0; 4]);
        lengths.extend([3, 3]);
        assert_eq!(
            run_lengths(&lengths),
            vec![
                (18, 127),
                (0, 0),
                (0, 0),
                (5, 0),
                (16, 3),
                (5, 0),
                (17, 1),
                (3, 0),
                (3, 0)
            ]
        );
    }
}

//! Length-limited canonical Huffman codes (RFC 1951 §3.2.2).

use super::bits::reverse;

/// Code lengths for `freqs`, none longer than `max_len`, forming a complete code whenever at
/// least two symbols occur (inflaters reject incomplete and over-full codes). Symbols with no
/// occurrence get length 0; a lone symbol gets length 1.
pub fn code_lengths(freqs: &[u32], max_len: u32) -> Vec<u8> {
    let mut lengths = vec![0u8; freqs.len()];
    let mut leaves: Vec<(u32, usize)> = freqs
        .iter()
        .enumerate()
        .filter(|(_, f)| **f > 0)
        .map(|(sym, f)| (*f, sym))
        .collect();
    match leaves.len() {
        0 => return lengths,
        1 => {
            lengths[leaves[0].1] = 1;
            return lengths;
        }
        _ => {}
    }
    leaves.sort_unstable();
    let mut per_len = depth_counts(&leaves, max_len);
    // Fewest bits to the most frequent symbols: walk the leaves from the rarest up while handing
    // out lengths from the longest down.
    let mut len = max_len as usize;
    for &(_, sym) in &leaves {
        while per_len[len] == 0 {
            len -= 1;
        }
        per_len[len] -= 1;
        lengths[sym] = len as u8;
    }
    lengths
}

/// How many leaves sit at each depth (index = depth, up to `max_len`) of a Huffman tree over
/// `leaves` (sorted by weight, at least two), with leaves deeper than `max_len` lifted and the code
/// made complete again.
fn depth_counts(leaves: &[(u32, usize)], max_len: u32) -> Vec<u32> {
    // Two-queue construction: leaves and merged nodes both come out in weight order.
    let n = leaves.len();
    let mut weight: Vec<u64> = leaves.iter().map(|(f, _)| u64::from(*f)).collect();
    let mut parent = vec![usize::MAX; 2 * n - 1];
    let (mut next_leaf, mut next_node) = (0, n);
    let take = |weight: &Vec<u64>, next_leaf: &mut usize, next_node: &mut usize| {
        let node_ready = *next_node < weight.len();
        if *next_leaf < n && (!node_ready || weight[*next_leaf] <= weight[*next_node]) {
            *next_leaf += 1;
            *next_leaf - 1
        } else {
            *next_node += 1;
            *next_node - 1
        }
    };
    for merged in n..2 * n - 1 {
        let a = take(&weight, &mut next_leaf, &mut next_node);
        let b = take(&weight, &mut next_leaf, &mut next_node);
        weight.push(weight[a] + weight[b]);
        parent[a] = merged;
        parent[b] = merged;
    }
    // Depths from the root (the last node) down: a parent always has a larger index.
    let mut depth = vec![0u32; 2 * n - 1];
    for node in (0..2 * n - 2).rev() {
        depth[node] = depth[parent[node]] + 1;
    }
    let max = max_len as usize;
    let mut per_len = vec![0u32; max + 1];
    for d in &depth[..n] {
        per_len[(*d as usize).min(max)] += 1;
    }
    // Lifting leaves to `max_len` over-fills the code (Kraft sum above 1). Each step takes one leaf
    // off the deepest level and hangs it beside the deepest shorter leaf, which moves down a level:
    // the sum drops by one unit of 2^-max_len, and no leaf is lost.
    let units =
        |per_len: &[u32]| -> u64 { (1..=max).map(|l| u64::from(per_len[l]) << (max - l)).sum() };
    let mut sum = units(&per_len);
    while sum > 1 << max {
        per_len[max] -= 1;
        if let Some(l) = (1..max).rev().find(|l| per_len[*l] > 0) {
            per_len[l] -= 1;
            per_len[l + 1] += 2;
        }
        sum -= 1;
    }
    per_len
}

/// Canonical codes for `lengths`, bit-reversed ready for [`BitWriter::put`](super::bits::BitWriter::put).
pub fn codes(lengths: &[u8]) -> Vec<u16> {
    let max = lengths.iter().copied().max().unwrap_or(0) as usize;
    let mut count = vec![0u32; max + 1];
    for &l in lengths {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = vec![0u32; max + 2];
    for l in 1..=max {
        next[l + 1] = (next[l] + count[l]) << 1;
    }
    let mut next = next[1..].to_vec();
    lengths
        .iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let code = next[l as usize - 1];
            next[l as usize - 1] += 1;
            reverse(code, u32::from(l)) as u16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft_is_complete(lengths: &[u8]) -> bool {
        let sum: f64 = lengths
            .iter()
            .filter(|l| **l > 0)
            .map(|l| 0.5f64.powi(i32::from(*l)))
            .sum();
        (sum - 1.0).abs() < 1e-12
    }

    #[test]
    fn rfc_1951_example_gets_its_canonical_codes() {
        // RFC 1951 §3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) give codes 010 011 100 101 110 00 1110 1111.
        let codes = codes(&[3, 3, 3, 3, 3, 2, 4, 4]);
        let expect = [0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        let lens = [3, 3, 3, 3, 3, 2, 4, 4];
        for (i, (c, e)) in codes.iter().zip(expect).enumerate() {
            assert_eq!(u32::from(*c), reverse(e, lens[i]), "symbol {i}");
        }
    }

    #[test]
    fn skewed_weights_give_the_textbook_lengths() {
        // Weights 1, 1, 2, 4, 8 build a chain: depths 4, 4, 3, 2, 1.
        assert_eq!(code_lengths(&[1, 1, 2, 4, 8], 15), vec![4, 4, 3, 2, 1]);
        assert_eq!(code_lengths(&[0, 5, 0, 0], 15), vec![0, 1, 0, 0]);
        assert_eq!(code_lengths(&[0, 0], 15), vec![0, 0]);
    }

    #[test]
    fn fibonacci_weights_are_cut_to_the_limit_and_stay_complete() {
        // Fibonacci weights give the deepest possible tree: 29 symbols would need depth 28.
        let mut fib = vec![1u32, 1];
        while fib.len() < 29 {
            let n = fib[fib.len() - 1] + fib[fib.len() - 2];
            fib.push(n);
        }
        let unlimited = code_lengths(&fib, 30);
        assert_eq!(unlimited.iter().max(), Some(&28));
        for max in [7, 9, 15] {
            let lengths = code_lengths(&fib, max);
            assert_eq!(lengths.iter().copied().max(), Some(max as u8));
            assert!(kraft_is_complete(&lengths), "limit {max}: {lengths:?}");
            // More frequent never longer.
            for w in lengths.windows(2) {
                assert!(w[1] <= w[0], "limit {max}: {lengths:?}");
            }
        }
    }

    #[test]
    fn every_code_of_many_random_alphabets_is_complete_and_within_its_limit() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..500 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = 2 + (seed % 300) as usize;
            let freqs: Vec<u32> = (0..n)
                .map(|i| {
                    let x = seed.rotate_left(i as u32 * 7) ^ (i as u64 * 0x9e37_79b9);
                    if x.is_multiple_of(5) {
                        0
                    } else {
                        1 + (x >> (x % 40)) as u32 % 100_000
                    }
                })
                .collect();
            let max = if round % 2 == 0 { 15 } else { 7 };
            let used = freqs.iter().filter(|f| **f > 0).count();
            if used < 2 || (max == 7 && used > 128) {
                continue;
            }
            let lengths = code_lengths(&freqs, max);
            assert!(lengths.iter().all(|l| u32::from(*l) <= max));
            assert!(kraft_is_complete(&lengths), "round {round}");
            for (f, l) in freqs.iter().zip(&lengths) {
                assert_eq!(*f == 0, *l == 0);
            }
        }
    }
}

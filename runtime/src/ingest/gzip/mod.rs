//! Gzip of the raw files' JSON with an encoder made for it: rows of one file repeat their keys and
//! many values, so back-references are looked for only where a JSON string starts ([`lz`]), and
//! the file becomes one deflate block with codes built for it ([`block`]). The output is ordinary
//! gzip (RFC 1952), read by any inflater; it costs a fraction of a general deflate's CPU for files
//! about the size of zlib level 2's (runtime/docs/ingest-performance.md).

mod bits;
mod block;
mod huffman;
mod lz;

use flate2::write::GzEncoder;
use flate2::Compression;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// How the raw files are compressed (`RAW_GZIP_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawGzip {
    /// The row encoder of this module.
    #[default]
    Rows,
    /// zlib (zlib-rs) at this level, 0-9.
    Zlib(u32),
}

impl FromStr for RawGzip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "rows" => Ok(Self::Rows),
            level => match level.parse::<u32>() {
                Ok(n) if n <= 9 => Ok(Self::Zlib(n)),
                _ => Err(format!(
                    "`{s}` is not a raw gzip setting: use `rows` (the default, the row encoder) or a zlib level 0-9"
                )),
            },
        }
    }
}

impl fmt::Display for RawGzip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rows => f.write_str("rows"),
            Self::Zlib(n) => write!(f, "{n}"),
        }
    }
}

impl RawGzip {
    /// `data` as one gzip member.
    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Rows => Ok(gzip_rows(data)),
            Self::Zlib(level) => {
                let mut gz =
                    GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::new(level));
                gz.write_all(data)?;
                gz.finish()
            }
        }
    }
}

/// Gzip header (RFC 1952 §2.3): deflate, no name or time, unknown OS, so the bytes depend on `data`
/// alone.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// `data` gzipped by the row encoder.
pub fn gzip_rows(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 6 + 64);
    out.extend_from_slice(&HEADER);
    let mut seqs = Vec::with_capacity(data.len() / 24 + 1);
    lz::parse(data, &mut seqs);
    let mut out = block::write_final(data, &seqs, out);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

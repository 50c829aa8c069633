//! Just enough ELF reading to learn which glibc a binary needs: the highest `GLIBC_x.y[.z]` named in
//! its `.gnu.version_r` (SHT_GNU_verneed) section. A static binary has no such section and needs none.

use std::fmt;
use std::str::FromStr;

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
pub const EM_X86_64: u16 = 62;

/// A glibc symbol version such as `GLIBC_2.31`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl GlibcVersion {
    /// Debian 11 (bullseye), the base of the Functions Linux host image.
    pub const FUNCTIONS_HOST_FLOOR: GlibcVersion = GlibcVersion::new(2, 31, 0);

    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl Default for GlibcVersion {
    fn default() -> Self {
        Self::FUNCTIONS_HOST_FLOOR
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GLIBC_{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a glibc version (expected 2.31 or GLIBC_2.31)")]
pub struct InvalidGlibcVersion(pub String);

impl FromStr for GlibcVersion {
    type Err = InvalidGlibcVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidGlibcVersion(s.to_owned());
        let digits = s.strip_prefix("GLIBC_").unwrap_or(s);
        let parts: Vec<u32> = digits
            .split('.')
            .map(|p| p.parse().map_err(|_| invalid()))
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [major, minor] => Ok(Self::new(major, minor, 0)),
            [major, minor, patch] => Ok(Self::new(major, minor, patch)),
            _ => Err(invalid()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("only 64-bit little-endian ELF is supported")]
    Unsupported,
    #[error("ELF file is truncated or inconsistent at offset {0}")]
    Truncated(u64),
}

/// What the package builder needs to know about the handler binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine` (62 = x86-64).
    pub machine: u16,
    /// The highest glibc version any needed library is asked for; `None` for static binaries.
    pub glibc: Option<GlibcVersion>,
}

pub fn inspect(elf: &[u8]) -> Result<ElfInfo, ElfError> {
    if elf.get(..4) != Some(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err(ElfError::Unsupported);
    }
    let r = Reader(elf);
    let machine = r.u16(18)?;
    let section_offset = r.u64(0x28)?;
    let entry_size = u64::from(r.u16(0x3a)?);
    let count = u64::from(r.u16(0x3c)?);
    let section = |index: u64| -> Result<Section, ElfError> {
        let at = index
            .checked_mul(entry_size)
            .and_then(|o| o.checked_add(section_offset))
            .ok_or(ElfError::Truncated(section_offset))?;
        Ok(Section {
            kind: r.u32(at + 4)?,
            offset: r.u64(at + 24)?,
            size: r.u64(at + 32)?,
            link: r.u32(at + 40)?,
            info: r.u32(at + 44)?,
        })
    };

    let mut glibc = None;
    for index in 0..count {
        let verneed = section(index)?;
        if verneed.kind != SHT_GNU_VERNEED {
            continue;
        }
        let strings = section(u64::from(verneed.link))?;
        let mut entry = verneed.offset;
        for _ in 0..verneed.info {
            let aux_count = r.u16(entry + 2)?;
            let mut aux = entry + u64::from(r.u32(entry + 8)?);
            for _ in 0..aux_count {
                let name_offset = u64::from(r.u32(aux + 8)?);
                if name_offset >= strings.size {
                    return Err(ElfError::Truncated(strings.offset + name_offset));
                }
                let name = r.c_str(strings.offset + name_offset)?;
                if let Some(version) = name
                    .strip_prefix("GLIBC_")
                    .and_then(|v| v.parse::<GlibcVersion>().ok())
                {
                    glibc = glibc.max(Some(version));
                }
                let next = r.u32(aux + 12)?;
                if next == 0 {
                    break;
                }
                aux += u64::from(next);
            }
            let next = r.u32(entry + 12)?;
            if next == 0 {
                break;
            }
            entry += u64::from(next);
        }
    }
    Ok(ElfInfo { machine, glibc })
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Result<[u8; N], ElfError> {
        let start = usize::try_from(at).map_err(|_| ElfError::Truncated(at))?;
        start
            .checked_add(N)
            .and_then(|end| self.0.get(start..end))
            .and_then(|b| b.try_into().ok())
            .ok_or(ElfError::Truncated(at))
    }
    fn u16(&self, at: u64) -> Result<u16, ElfError> {
        self.bytes(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: u64) -> Result<u32, ElfError> {
        self.bytes(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: u64) -> Result<u64, ElfError> {
        self.bytes(at).map(u64::from_le_bytes)
    }
    fn c_str(&self, at: u64) -> Result<&str, ElfError> {
        let start = usize::try_from(at).map_err(|_| ElfError::Truncated(at))?;
        let rest = self.0.get(start..).ok_or(ElfError::Truncated(at))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(ElfError::Truncated(at))?;
        std::str::from_utf8(&rest[..end]).map_err(|_| ElfError::Truncated(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        let v = |s: &str| s.parse::<GlibcVersion>().expect("valid");
        assert_eq!(v("GLIBC_2.31"), GlibcVersion::new(2, 31, 0));
        assert_eq!(v("2.2.5"), GlibcVersion::new(2, 2, 5));
        assert!(v("2.34") > v("2.31"));
        assert!(v("2.3.4") > v("2.3"));
        assert!(v("2.10") > v("2.9"));
        assert_eq!(v("2.2.5").to_string(), "GLIBC_2.2.5");
        assert!("GLIBC_PRIVATE".parse::<GlibcVersion>().is_err());
        assert!("2".parse::<GlibcVersion>().is_err());
    }

    #[test]
    fn reads_this_test_binary() {
        let exe = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        let info = inspect(&exe).expect("elf");
        assert_eq!(info.machine, EM_X86_64);
        // Built against the host glibc: it needs at least the x86-64 baseline version.
        assert!(
            info.glibc.is_some_and(|v| v >= GlibcVersion::new(2, 2, 5)),
            "{info:?}"
        );
    }

    #[test]
    fn rejects_non_elf_and_truncated_input() {
        assert_eq!(inspect(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        let exe = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        assert!(matches!(inspect(&exe[..200]), Err(ElfError::Truncated(_))));
    }
}

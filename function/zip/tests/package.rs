//! The deployment zip: reproducible bytes, layout and modes, and the glibc floor.
#![allow(clippy::unwrap_used)]

use std::io::Read;

use function_zip::elf::{inspect, GlibcVersion};
use function_zip::package::{
    build_package, zip_package, BinarySource, PackageError, PackageOptions,
};
use sha2::{Digest, Sha256};

/// A minimal x86-64 ELF whose `.gnu.version_r` asks libc.so.6 for `versions`.
fn crafted_elf(versions: &[&str]) -> Vec<u8> {
    let mut dynstr = vec![0u8];
    let mut add = |s: &str| {
        let at = dynstr.len() as u32;
        dynstr.extend_from_slice(s.as_bytes());
        dynstr.push(0);
        at
    };
    let libc = add("libc.so.6");
    let names: Vec<u32> = versions.iter().map(|v| add(v)).collect();
    let shstrtab = b"\0.dynstr\0.gnu.version_r\0.shstrtab\0".to_vec();

    let mut verneed = Vec::new();
    verneed.extend(1u16.to_le_bytes()); // vn_version
    verneed.extend((names.len() as u16).to_le_bytes()); // vn_cnt
    verneed.extend(libc.to_le_bytes()); // vn_file
    verneed.extend(16u32.to_le_bytes()); // vn_aux
    verneed.extend(0u32.to_le_bytes()); // vn_next
    for (i, name) in names.iter().enumerate() {
        verneed.extend(0u32.to_le_bytes()); // vna_hash
        verneed.extend(0u16.to_le_bytes()); // vna_flags
        verneed.extend((i as u16 + 2).to_le_bytes()); // vna_other
        verneed.extend(name.to_le_bytes()); // vna_name
        let next: u32 = if i + 1 < names.len() { 16 } else { 0 };
        verneed.extend(next.to_le_bytes());
    }

    let dynstr_off = 64u64;
    let verneed_off = dynstr_off + dynstr.len() as u64;
    let shstr_off = verneed_off + verneed.len() as u64;
    let sh_off = shstr_off + shstrtab.len() as u64;

    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1;
    elf[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    elf[0x28..0x30].copy_from_slice(&sh_off.to_le_bytes());
    elf[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
    elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    elf[0x3c..0x3e].copy_from_slice(&4u16.to_le_bytes());
    elf[0x3e..0x40].copy_from_slice(&3u16.to_le_bytes());
    elf.extend(&dynstr);
    elf.extend(&verneed);
    elf.extend(&shstrtab);
    let section = |name: u32, kind: u32, off: u64, size: u64, link: u32, info: u32| {
        let mut s = vec![0u8; 64];
        s[0..4].copy_from_slice(&name.to_le_bytes());
        s[4..8].copy_from_slice(&kind.to_le_bytes());
        s[24..32].copy_from_slice(&off.to_le_bytes());
        s[32..40].copy_from_slice(&size.to_le_bytes());
        s[40..44].copy_from_slice(&link.to_le_bytes());
        s[44..48].copy_from_slice(&info.to_le_bytes());
        s
    };
    elf.extend(vec![0u8; 64]);
    elf.extend(section(1, 3, dynstr_off, dynstr.len() as u64, 0, 0));
    elf.extend(section(
        9,
        0x6fff_fffe,
        verneed_off,
        verneed.len() as u64,
        1,
        1,
    ));
    elf.extend(section(24, 3, shstr_off, shstrtab.len() as u64, 0, 0));
    elf
}

fn prebuilt(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PackageOptions {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    PackageOptions::new(BinarySource::Prebuilt(path))
}

#[test]
fn crafted_elf_reports_its_highest_glibc() {
    let info = inspect(&crafted_elf(&[
        "GLIBC_2.2.5",
        "GLIBC_2.34",
        "GLIBC_2.17",
        "GLIBC_PRIVATE",
    ]))
    .unwrap();
    assert_eq!(info.glibc, Some(GlibcVersion::new(2, 34, 0)));
    assert_eq!(inspect(&crafted_elf(&[])).unwrap().glibc, None);
}

#[test]
fn same_binary_gives_identical_zip_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let elf = crafted_elf(&["GLIBC_2.2.5", "GLIBC_2.17"]);
    let mut options = prebuilt(&dir, "handler", &elf);
    options.output = Some(dir.path().join("a.zip"));
    let a = build_package(&options).unwrap();
    // Different file name and mtime on disk, same content.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut options = prebuilt(&dir, "other-name", &elf);
    options.output = Some(dir.path().join("b.zip"));
    let b = build_package(&options).unwrap();

    assert_eq!(a.zip, b.zip);
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.sha256, hex::encode(Sha256::digest(&a.zip)));
    assert_eq!(a.size, a.zip.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("a.zip")).unwrap(), a.zip);
    assert_eq!(a.binary_glibc, Some(GlibcVersion::new(2, 17, 0)));

    let changed = zip_package(&crafted_elf(&["GLIBC_2.2.5"])).unwrap();
    assert_ne!(changed, a.zip, "the zip must depend on the binary");
}

#[test]
fn zip_layout_modes_and_timestamps() {
    let elf = crafted_elf(&["GLIBC_2.28"]);
    let zip = zip_package(&elf).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert_eq!(names, ["handler", "host.json", "process_raw/function.json"]);
    let expected: [(&str, u32, &[u8]); 3] = [
        ("handler", 0o100755, &elf),
        ("host.json", 0o100644, function_zip::HOST_JSON.as_bytes()),
        (
            "process_raw/function.json",
            0o100644,
            function_zip::FUNCTION_JSON.as_bytes(),
        ),
    ];
    for (i, (name, mode, content)) in expected.into_iter().enumerate() {
        let mut file = archive.by_index(i).unwrap();
        assert_eq!(file.name(), name);
        assert_eq!(file.unix_mode(), Some(mode), "{name}");
        let modified = file.last_modified().unwrap();
        assert_eq!(
            (modified.year(), modified.month(), modified.day()),
            (1980, 1, 1)
        );
        assert_eq!(
            (modified.hour(), modified.minute(), modified.second()),
            (0, 0, 0)
        );
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, content, "{name}");
    }
}

#[test]
fn binary_above_the_glibc_floor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = prebuilt(
        &dir,
        "handler",
        &crafted_elf(&["GLIBC_2.2.5", "GLIBC_2.34"]),
    );
    let err = build_package(&options).unwrap_err();
    assert!(
        matches!(err, PackageError::GlibcTooNew { required, floor, .. }
            if required == GlibcVersion::new(2, 34, 0) && floor == GlibcVersion::new(2, 31, 0)),
        "{err}"
    );
    assert!(
        err.to_string().contains("GLIBC_2.34") && err.to_string().contains("GLIBC_2.31"),
        "{err}"
    );

    // Exactly at the floor, and static binaries, pass.
    let options = prebuilt(&dir, "at-floor", &crafted_elf(&["GLIBC_2.31"]));
    assert!(build_package(&options).is_ok());
    let options = prebuilt(&dir, "static", &crafted_elf(&[]));
    assert_eq!(build_package(&options).unwrap().binary_glibc, None);

    // A higher floor admits the newer binary.
    let mut options = prebuilt(&dir, "newer", &crafted_elf(&["GLIBC_2.34"]));
    options.glibc_floor = "2.36".parse().unwrap();
    assert!(build_package(&options).is_ok());
}

#[test]
fn non_elf_and_wrong_machine_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = build_package(&prebuilt(&dir, "script", b"#!/bin/sh\necho hi\n")).unwrap_err();
    assert!(matches!(err, PackageError::Elf { .. }), "{err}");
    let mut arm = crafted_elf(&[]);
    arm[18..20].copy_from_slice(&183u16.to_le_bytes()); // aarch64
    let err = build_package(&prebuilt(&dir, "arm", &arm)).unwrap_err();
    assert!(
        matches!(err, PackageError::WrongMachine { machine: 183, .. }),
        "{err}"
    );
    let missing = PackageOptions::new(BinarySource::Prebuilt(dir.path().join("nope")));
    assert!(matches!(
        build_package(&missing).unwrap_err(),
        PackageError::Read { .. }
    ));
}

/// A tool the test needs and CI installs: missing in CI is a failure, elsewhere a skip.
fn tool_or_skip(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing in CI: `bash tests/local-cloud.sh install` installs it"
    );
    eprintln!("SKIPPED: {what} is not installed (bash tests/local-cloud.sh install)");
    false
}

/// Compiles a small C program with `compiler` (+ `args`) into `dir`.
fn compile_hello(dir: &tempfile::TempDir, compiler: &[&str]) -> Option<std::path::PathBuf> {
    let source = dir.path().join("hello.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
    )
    .unwrap();
    let out = dir.path().join("hello");
    let status = std::process::Command::new(compiler[0])
        .args(&compiler[1..])
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .status()
        .ok()?;
    status.success().then_some(out)
}

/// The highest `GLIBC_x.y` a binary needs, as binutils' readelf reports it: a second, independent
/// reading of the same ELF sections the package builder parses.
fn readelf_highest_glibc(path: &std::path::Path) -> Option<(u32, u32, u32)> {
    let out = std::process::Command::new("readelf")
        .arg("--version-info")
        .arg("--wide")
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            Some((
                parts.next()?.parse().ok()?,
                parts.next().unwrap_or("0").parse().ok()?,
                parts.next().unwrap_or("0").parse().ok()?,
            ))
        })
        .max()
}

fn glibc_name((major, minor, patch): (u32, u32, u32)) -> String {
    match patch {
        0 => format!("GLIBC_{major}.{minor}"),
        p => format!("GLIBC_{major}.{minor}.{p}"),
    }
}

#[test]
fn a_binary_built_against_this_machines_glibc_is_refused_with_both_versions_named() {
    let dir = tempfile::tempdir().unwrap();
    let gcc = std::process::Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok();
    let readelf = std::process::Command::new("readelf")
        .arg("--version")
        .output()
        .is_ok();
    if !tool_or_skip(gcc && readelf, "gcc and readelf (binutils)") {
        return;
    }
    let path = compile_hello(&dir, &["gcc"]).expect("gcc builds hello.c");
    let needed = readelf_highest_glibc(&path).expect("readelf lists GLIBC versions");
    let (major, minor, _) = needed;
    let info = inspect(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(info.glibc.map(|g| g.to_string()), Some(glibc_name(needed)));
    // Debian 12 links __libc_start_main@GLIBC_2.34: above the Functions host floor (2.31).
    assert!(
        (major, minor) > (2, 31),
        "this machine's glibc is older than expected"
    );
    match build_package(&PackageOptions::new(BinarySource::Prebuilt(path))) {
        Err(e @ PackageError::GlibcTooNew { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("{major}.{minor}")) && text.contains("2.31"),
                "{text}"
            );
        }
        other => panic!("expected GlibcTooNew, got {other:?}"),
    }
}

#[test]
fn a_binary_linked_for_the_floor_with_zig_passes() {
    // The same toolchain the release package uses (zig from PyPI's ziglang, targeting glibc 2.31).
    let dir = tempfile::tempdir().unwrap();
    let zig = std::process::Command::new("python3")
        .args(["-c", "import ziglang"])
        .status()
        .is_ok_and(|s| s.success());
    if !tool_or_skip(zig, "zig (PyPI ziglang)") {
        return;
    }
    let path = compile_hello(
        &dir,
        &[
            "python3",
            "-m",
            "ziglang",
            "cc",
            "-target",
            "x86_64-linux-gnu.2.31",
        ],
    )
    .expect("zig cc builds hello.c for glibc 2.31");
    let needed = readelf_highest_glibc(&path).expect("readelf lists GLIBC versions");
    assert!(needed <= (2, 31, 0), "zig linked {needed:?}");
    let package = build_package(&PackageOptions::new(BinarySource::Prebuilt(path))).unwrap();
    assert_eq!(
        package.binary_glibc.map(|g| g.to_string()),
        Some(glibc_name(needed))
    );
    assert!(package.binary_glibc.unwrap() <= GlibcVersion::FUNCTIONS_HOST_FLOOR);
}

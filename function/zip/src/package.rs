//! The deployment package: a reproducible zip of `handler`, `host.json` and
//! `process_raw/function.json` (azure-rest-facts §12.1).
//!
//! Same inputs give the same bytes: entries are sorted by name, every timestamp is 1980-01-01
//! 00:00:00 (the zip epoch), modes are fixed (0755 for the handler, 0644 for the JSON files) and
//! nothing from the build machine (owner, time zone, extra fields) is recorded.
//!
//! Before zipping, the handler is checked against the glibc of the Functions host image: a binary
//! linked against a newer glibc than the floor would fail to start there, so the build fails instead.
//! A binary built on this workspace's Debian 12 toolchain needs `GLIBC_2.34`; build with
//! `cargo zigbuild --target x86_64-unknown-linux-gnu.2.31` (or on an older distribution) and pass it
//! as [`BinarySource::Prebuilt`], or build it with [`BinarySource::Build`] and `subcommand: "zigbuild"`.

use std::io::{BufRead, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::elf::{self, ElfError, ElfInfo, GlibcVersion, EM_X86_64};
use crate::{FUNCTION_JSON, FUNCTION_NAME, HOST_JSON};

pub const HANDLER_ENTRY: &str = "handler";
pub const HOST_JSON_ENTRY: &str = "host.json";
const BIN_NAME: &str = "handler";
const PACKAGE_NAME: &str = "superhero-function";

/// Where the handler binary comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinarySource {
    /// `cargo <subcommand> --release -p superhero-function --bin handler [--target <target>]` run in
    /// `workspace_root`; `subcommand` is `build` normally, `zigbuild` to pin an older glibc.
    Build {
        workspace_root: PathBuf,
        subcommand: String,
        target: Option<String>,
    },
    /// An already built binary.
    Prebuilt(PathBuf),
}

impl BinarySource {
    /// `cargo build --release` in `workspace_root`.
    pub fn cargo_build(workspace_root: impl Into<PathBuf>) -> Self {
        BinarySource::Build {
            workspace_root: workspace_root.into(),
            subcommand: "build".into(),
            target: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOptions {
    pub binary: BinarySource,
    /// The newest glibc the handler may require (default `GLIBC_2.31`, Debian 11).
    pub glibc_floor: GlibcVersion,
    /// Also write the zip here.
    pub output: Option<PathBuf>,
}

impl PackageOptions {
    pub fn new(binary: BinarySource) -> Self {
        Self {
            binary,
            glibc_floor: GlibcVersion::FUNCTIONS_HOST_FLOOR,
            output: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub zip: Vec<u8>,
    /// Lowercase hex SHA-256 of `zip`.
    pub sha256: String,
    pub size: u64,
    /// The path the zip was written to, when `output` was set.
    pub path: Option<PathBuf>,
    /// The handler binary that was packaged.
    pub binary: PathBuf,
    /// The highest glibc version the handler requires (`None`: statically linked).
    pub binary_glibc: Option<GlibcVersion>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("could not run cargo {subcommand}: {source}")]
    Spawn {
        subcommand: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cargo {subcommand} failed ({status}):\n{stderr}")]
    Build {
        subcommand: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("cargo built no `{BIN_NAME}` executable (no compiler-artifact message for it)")]
    NoArtifact,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable handler binary: {source}")]
    Elf {
        path: PathBuf,
        #[source]
        source: ElfError,
    },
    #[error(
        "{path} is built for ELF machine {machine}, the Functions host runs x86-64 ({EM_X86_64})"
    )]
    WrongMachine { path: PathBuf, machine: u16 },
    #[error("{path} requires {required}, newer than the Functions host's {floor}: it would not start there. Build against an older glibc (e.g. cargo zigbuild --target x86_64-unknown-linux-gnu.{}.{}) or statically", floor.major, floor.minor)]
    GlibcTooNew {
        path: PathBuf,
        required: GlibcVersion,
        floor: GlibcVersion,
    },
    #[error("writing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// Builds (or takes) the handler, checks it against the glibc floor and zips the package.
pub fn build_package(options: &PackageOptions) -> Result<Package, PackageError> {
    let binary = match &options.binary {
        BinarySource::Prebuilt(path) => path.clone(),
        BinarySource::Build {
            workspace_root,
            subcommand,
            target,
        } => cargo_build(workspace_root, subcommand, target.as_deref())?,
    };
    let handler = std::fs::read(&binary).map_err(|source| PackageError::Read {
        path: binary.clone(),
        source,
    })?;
    let info = check_binary(&binary, &handler, options.glibc_floor)?;
    let zip = zip_package(&handler)?;
    let path = match &options.output {
        Some(path) => {
            std::fs::write(path, &zip).map_err(|source| PackageError::Write {
                path: path.clone(),
                source,
            })?;
            Some(path.clone())
        }
        None => None,
    };
    Ok(Package {
        sha256: hex::encode(Sha256::digest(&zip)),
        size: zip.len() as u64,
        zip,
        path,
        binary,
        binary_glibc: info.glibc,
    })
}

/// Fails unless `handler` is an x86-64 ELF needing at most `floor`.
pub fn check_binary(
    path: &Path,
    handler: &[u8],
    floor: GlibcVersion,
) -> Result<ElfInfo, PackageError> {
    let info = elf::inspect(handler).map_err(|source| PackageError::Elf {
        path: path.to_owned(),
        source,
    })?;
    if info.machine != EM_X86_64 {
        return Err(PackageError::WrongMachine {
            path: path.to_owned(),
            machine: info.machine,
        });
    }
    match info.glibc {
        Some(required) if required > floor => Err(PackageError::GlibcTooNew {
            path: path.to_owned(),
            required,
            floor,
        }),
        _ => Ok(info),
    }
}

/// The zip bytes for a given handler binary; a pure function of its input.
pub fn zip_package(handler: &[u8]) -> Result<Vec<u8>, PackageError> {
    let function_json = format!("{FUNCTION_NAME}/function.json");
    let mut entries: Vec<(&str, &[u8], u32)> = vec![
        (HANDLER_ENTRY, handler, 0o755),
        (HOST_JSON_ENTRY, HOST_JSON.as_bytes(), 0o644),
        (function_json.as_str(), FUNCTION_JSON.as_bytes(), 0o644),
    ];
    entries.sort_by(|a, b| a.0.cmp(b.0));

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content, mode) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(DateTime::default())
            .unix_permissions(mode)
            .large_file(false);
        zip.start_file(name, options)?;
        zip.write_all(content).map_err(zip::result::ZipError::Io)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Runs cargo and returns the path of the built `handler`, taken from cargo's JSON messages so
/// that `CARGO_TARGET_DIR` and `--target` need no guessing.
/// The handler's bytes must not depend on where the checkout, the cargo home or the target
/// directory sit on this machine (file paths survive in panic locations even when stripped):
/// the package is named by its hash, and another machine must build the same one.
fn reproducible_paths(workspace_root: &Path) -> Vec<String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".cargo")));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root.join("target"));
    let mut remaps: Vec<(PathBuf, &str)> = vec![(workspace_root.to_path_buf(), "/build")];
    remaps.extend(cargo_home.map(|c| (c, "/cargo")));
    remaps.push((target_dir, "/target"));
    let flags: Vec<String> = remaps
        .iter()
        .map(|(from, to)| {
            let from = from.display().to_string();
            let from = from.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"--remap-path-prefix={from}={to}\"")
        })
        .collect();
    vec![
        "--config".to_string(),
        format!("build.rustflags=[{}]", flags.join(", ")),
    ]
}

/// Copies a child's stderr to ours line by line; returns its last lines.
fn relay_tail(stderr: Option<std::process::ChildStderr>) -> String {
    const KEEP: usize = 60;
    let mut tail = std::collections::VecDeque::with_capacity(KEEP);
    if let Some(stderr) = stderr {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("  | {line}");
            if tail.len() == KEEP {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    Vec::from(tail).join("\n")
}

fn cargo_build(
    workspace_root: &Path,
    subcommand: &str,
    target: Option<&str>,
) -> Result<PathBuf, PackageError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root)
        .args([
            subcommand,
            "--release",
            "-p",
            PACKAGE_NAME,
            "--bin",
            BIN_NAME,
        ])
        .arg("--message-format=json-render-diagnostics")
        .args(reproducible_paths(workspace_root));
    if let Some(target) = target {
        command.args(["--target", target]);
    }
    // cargo's own progress goes to stderr: pass it through as it comes (a first release build
    // takes minutes) and keep its tail for the error.
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PackageError::Spawn {
            subcommand: subcommand.to_owned(),
            source,
        })?;
    let stderr = child.stderr.take();
    let relay = std::thread::spawn(move || relay_tail(stderr));
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let status = child.wait().map_err(|source| PackageError::Spawn {
        subcommand: subcommand.to_owned(),
        source,
    })?;
    let stderr_tail = relay.join().unwrap_or_default();
    if !status.success() {
        return Err(PackageError::Build {
            subcommand: subcommand.to_owned(),
            status,
            stderr: stderr_tail,
        });
    }
    let output = std::process::Output {
        status,
        stdout: stdout.into_bytes(),
        stderr: Vec::new(),
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == BIN_NAME)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or(PackageError::NoArtifact)
}

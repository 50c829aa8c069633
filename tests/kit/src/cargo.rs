//! Building the workspace's binaries from inside a running test, as the suite's own build did.

use std::path::Path;
use std::process::{Command, ExitStatus};

/// Variables cargo (and nextest) set for a test process about the test's own package. Build
/// scripts name some of them in `rerun-if-env-changed` (ring: `CARGO_PKG_NAME`,
/// `CARGO_MANIFEST_DIR`, ...), so a cargo started with them inherited sees a changed environment
/// and rebuilds those crates and everything above them.
const TEST_PROCESS_PREFIXES: &[&str] = &[
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_CRATE_",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "NEXTEST_",
];

/// `cargo test -q --workspace --no-run` and `extra`, in `workspace`: the same features and
/// environment as `cargo test --workspace`, so it is a no-op when the suite has built already.
pub fn build_as_the_suite(workspace: &Path, extra: &[&str]) -> std::io::Result<ExitStatus> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["test", "-q", "--workspace", "--no-run"])
        .args(extra);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if TEST_PROCESS_PREFIXES.iter().any(|p| name.starts_with(p)) {
            command.env_remove(name);
        }
    }
    command.status()
}

/// Keeps `bytes` (a package a test built) as `<target dir>/test-packages/<content hash>.zip` and
/// returns its path: the same handler gives the same file, shared by every test process, written
/// once (to a temporary name, then renamed, so a reader never sees half of it). Files not touched
/// for a day are removed, so packages of old builds do not pile up; per-process files in the
/// temp dir used to (32 MB each, never removed).
pub fn keep_package(target_dir: &Path, bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    use std::hash::{Hash, Hasher};
    let dir = target_dir.join("test-packages");
    std::fs::create_dir_all(&dir)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    let path = dir.join(format!("{:016x}-{}.zip", hasher.finish(), bytes.len()));
    if path.exists() {
        // In use: not stale for the sweep below in other processes.
        std::fs::File::options()
            .append(true)
            .open(&path)?
            .set_modified(std::time::SystemTime::now())?;
    } else {
        // One name per call, so two threads of a process never write into each other's file.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let partial = dir.join(format!(".partial-{}-{call}", std::process::id()));
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, &path)?;
    }
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if stale && entry.path() != path {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(path)
}

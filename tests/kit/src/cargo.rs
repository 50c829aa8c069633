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

//! Running the workspace's own binaries from the demo.

use std::path::{Path, PathBuf};

/// A binary built beside the running one (`target/<profile>/`), also from `deps/`.
pub fn sibling_bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    for _ in 0..2 {
        if dir.join(name).is_file() {
            return Ok(dir.join(name));
        }
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    anyhow::bail!(
        "{name} is not built next to {}; run `cargo build --workspace --bins` first",
        exe.display()
    )
}

/// Progress lines on stderr, unless the summary goes out as JSON.
pub(crate) struct Progress(pub bool);

impl Progress {
    pub fn say(&self, message: &str) {
        if self.0 {
            eprintln!("[demo] {message}");
        }
    }
}

pub(crate) async fn run_tool(
    bin: &Path,
    args: &[String],
    envs: &[(&str, String)],
    cwd: &Path,
) -> anyhow::Result<(i32, String, String)> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", bin.display()))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

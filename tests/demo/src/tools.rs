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

    /// A line the running tool printed, passed through as it comes.
    fn relay(&self, tool: &str, line: &str) {
        if self.0 {
            eprintln!("[{tool}] {line}");
        }
    }
}

/// Like [`run_tool`], but the tool's stderr is relayed line by line while it runs, so a long
/// step (a first `provision up` builds the package for minutes) shows its own progress.
pub(crate) async fn run_tool_streaming(
    bin: &Path,
    args: &[String],
    envs: &[(&str, String)],
    cwd: &Path,
    progress: &Progress,
) -> anyhow::Result<(i32, String, String)> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", bin.display()))?;
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let read_stdout = async {
        let mut text = String::new();
        stdout.read_to_string(&mut text).await.map(|_| text)
    };
    let relay_stderr = async {
        let mut lines = BufReader::new(stderr).lines();
        let mut text = String::new();
        while let Some(line) = lines.next_line().await? {
            progress.relay(&name, &line);
            text.push_str(&line);
            text.push('\n');
        }
        Ok::<_, std::io::Error>(text)
    };
    let (out, err) = tokio::try_join!(read_stdout, relay_stderr)?;
    let status = child.wait().await?;
    Ok((status.code().unwrap_or(-1), out, err))
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

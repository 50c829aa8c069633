//! Redis and the tansu broker as child processes on free loopback ports, for the demo and tests.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct Service {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn bin(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

pub fn tansu_bin() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    bin(
        "TANSU_BIN",
        &format!("{home}/.cache/superhero-dataflow/tansu/bin/tansu"),
    )
}

pub fn redis_bin() -> PathBuf {
    bin("REDIS_SERVER_BIN", "/usr/bin/redis-server")
}

async fn wait_listening(name: &str, port: u16, child: &mut Child) -> anyhow::Result<()> {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("{name} exited while starting ({status})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{name} did not listen on 127.0.0.1:{port} within 30 s")
}

pub async fn redis() -> anyhow::Result<Service> {
    let dir = tempfile::tempdir()?;
    let port = crate::azurite::free_port();
    let mut child = Command::new(redis_bin())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start redis-server ({}): {e}; run tests/local-cloud.sh install",
                redis_bin().display()
            )
        })?;
    wait_listening("redis-server", port, &mut child).await?;
    Ok(Service {
        port,
        child,
        _dir: dir,
    })
}

/// tansu with a sqlite store in a temporary folder (it resolves the sqlite path against its cwd).
pub async fn kafka() -> anyhow::Result<Service> {
    let dir = tempfile::tempdir()?;
    let port = crate::azurite::free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("tansu.log"))?;
    let mut child = Command::new(tansu_bin())
        .current_dir(dir.path())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "sqlite://tansu.db",
        ])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start tansu ({}): {e}; run tests/local-cloud.sh install",
                tansu_bin().display()
            )
        })?;
    wait_listening("tansu", port, &mut child).await?;
    Ok(Service {
        port,
        child,
        _dir: dir,
    })
}

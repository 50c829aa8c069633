//! How each service is started: Azurite (blob), Redis and the tansu Kafka broker, on 127.0.0.1.

use crate::process::{try_free_port, Service};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An Azurite blob service: a temporary folder and Azurite's development account unless told
/// otherwise.
#[derive(Debug, Clone)]
pub struct Azurite {
    bin: PathBuf,
    port: Option<u16>,
    account: Option<(String, String)>,
    location: Option<PathBuf>,
}

impl Azurite {
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            port: None,
            account: None,
            location: None,
        }
    }

    /// Serve only this account, with this base64 key.
    pub fn account(mut self, name: &str, key: &str) -> Self {
        self.account = Some((name.to_string(), key.to_string()));
        self
    }

    /// Keep the data (and `azurite.log`) in `dir`, which outlives the service.
    pub fn location(mut self, dir: &Path) -> Self {
        self.location = Some(dir.to_path_buf());
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Starts Azurite and waits until it listens.
    pub fn start(self) -> anyhow::Result<Service> {
        let port = match self.port {
            Some(port) => port,
            None => try_free_port()?,
        };
        let (dir, location) = match self.location {
            Some(location) => {
                std::fs::create_dir_all(&location)?;
                (None, location)
            }
            None => {
                let dir = tempfile::tempdir()?;
                let location = dir.path().to_path_buf();
                (Some(dir), location)
            }
        };
        let mut command = Command::new(&self.bin);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(&location)
            .args([
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--loose",
                "--silent",
            ]);
        match &self.account {
            Some((name, key)) => command.env("AZURITE_ACCOUNTS", format!("{name}:{key}")),
            None => command.env_remove("AZURITE_ACCOUNTS"),
        };
        Service::launch(
            "azurite-blob",
            command,
            port,
            location.join("azurite.log"),
            dir,
        )
    }
}

/// redis-server without persistence.
pub fn redis(bin: &Path) -> anyhow::Result<Service> {
    let dir = tempfile::tempdir()?;
    let port = try_free_port()?;
    let mut command = Command::new(bin);
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir.path());
    let log = dir.path().join("redis.log");
    Service::launch("redis-server", command, port, log, Some(dir))
}

/// The tansu broker with a sqlite store in its own folder (it resolves the sqlite path against
/// its working directory).
pub fn tansu(bin: &Path) -> anyhow::Result<Service> {
    let dir = tempfile::tempdir()?;
    let port = try_free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(bin);
    command
        .current_dir(dir.path())
        .args(["broker", "--listener-url", &url])
        .args(["--advertised-listener-url", &url])
        .args(["--storage-engine", "sqlite://tansu.db"]);
    let log = dir.path().join("tansu.log");
    Service::launch("tansu", command, port, log, Some(dir))
}

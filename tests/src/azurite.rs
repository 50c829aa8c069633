//! The storage data plane: one Azurite blob instance per storage account, so each account created
//! through ARM has its own endpoint and keys, and deleting it removes its data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

pub struct AzuriteFleet {
    bin: PathBuf,
    root: PathBuf,
    children: Mutex<HashMap<String, Child>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AzuriteError {
    #[error("cannot start Azurite at {bin}: {source}. Install it with `tests/local-cloud.sh install` or set AZURITE_BLOB_BIN")]
    Spawn { bin: String, source: std::io::Error },
    #[error(
        "Azurite for account {account} did not listen on 127.0.0.1:{port} within 30 s; see {log}"
    )]
    NotListening {
        account: String,
        port: u16,
        log: String,
    },
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

impl AzuriteFleet {
    pub fn new(bin: PathBuf, root: PathBuf) -> Self {
        Self {
            bin,
            root,
            children: Mutex::new(HashMap::new()),
        }
    }

    /// Starts Azurite for `account` with `key` on `port` and waits until it listens.
    pub async fn start(&self, account: &str, key: &str, port: u16) -> Result<(), AzuriteError> {
        let _ = std::fs::remove_dir_all(self.root.join(account));
        self.start_keeping_data(account, key, port).await
    }

    /// Starts over the account's existing data (an emulator restarted from its state file).
    pub async fn start_keeping_data(
        &self,
        account: &str,
        key: &str,
        port: u16,
    ) -> Result<(), AzuriteError> {
        let dir = self.root.join(account);
        let _ = std::fs::create_dir_all(&dir);
        let log = dir.join("azurite.log");
        let log_file = std::fs::File::create(&log).ok();
        let mut command = Command::new(&self.bin);
        command
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
            ])
            .arg(&dir)
            .args([
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--loose",
                "--silent",
            ])
            .env("AZURITE_ACCOUNTS", format!("{account}:{key}"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match log_file {
            Some(f) => command
                .stdout(Stdio::from(f.try_clone().map_err(|source| {
                    AzuriteError::Spawn {
                        bin: self.bin.display().to_string(),
                        source,
                    }
                })?))
                .stderr(Stdio::from(f)),
            None => command.stdout(Stdio::null()).stderr(Stdio::null()),
        };
        let child = command.spawn().map_err(|source| AzuriteError::Spawn {
            bin: self.bin.display().to_string(),
            source,
        })?;
        self.children
            .lock()
            .await
            .insert(account.to_string(), child);
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(AzuriteError::NotListening {
            account: account.into(),
            port,
            log: log.display().to_string(),
        })
    }

    pub async fn stop(&self, account: &str) {
        if let Some(mut child) = self.children.lock().await.remove(account) {
            let _ = child.kill().await;
        }
        let _ = std::fs::remove_dir_all(self.root.join(account));
    }

    /// Stops every instance gracefully, so Azurite writes its metadata before it exits.
    pub async fn stop_all(&self) {
        let mut children = self.children.lock().await;
        for (_, mut child) in children.drain() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-INT", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

//! The storage data plane: one Azurite blob instance per storage account, so each account created
//! through ARM has its own endpoint and keys, and deleting it removes its data. The processes are
//! started by the shared test kit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use test_kit::{Azurite, Service};

pub struct AzuriteFleet {
    bin: PathBuf,
    root: PathBuf,
    running: Mutex<HashMap<String, Service>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AzuriteError {
    #[error("Azurite for account {account} did not start: {reason}")]
    NotStarted { account: String, reason: String },
}

impl AzuriteFleet {
    pub fn new(bin: PathBuf, root: PathBuf) -> Self {
        Self {
            bin,
            root,
            running: Mutex::new(HashMap::new()),
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
        let azurite = Azurite::new(&self.bin)
            .account(account, key)
            .location(&self.root.join(account))
            .port(port);
        let started = tokio::task::spawn_blocking(move || azurite.start())
            .await
            .map_err(anyhow::Error::from)
            .and_then(|started| started)
            .map_err(|e| AzuriteError::NotStarted {
                account: account.into(),
                reason: format!("{e:#}"),
            })?;
        let replaced = crate::sync::lock(&self.running).insert(account.to_string(), started);
        drop_off_thread(replaced);
        Ok(())
    }

    /// Kills the account's instance and removes its data.
    pub async fn stop(&self, account: &str) {
        let service = crate::sync::lock(&self.running).remove(account);
        let _ = tokio::task::spawn_blocking(move || drop(service)).await;
        let _ = std::fs::remove_dir_all(self.root.join(account));
    }

    /// Stops every instance gracefully, so Azurite writes its metadata before it exits.
    pub async fn stop_all(&self) {
        let services: Vec<Service> = crate::sync::lock(&self.running)
            .drain()
            .map(|(_, s)| s)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for service in services {
                service.stop(Duration::from_secs(5));
            }
        })
        .await;
    }
}

/// Killing and reaping a process blocks briefly: not on a runtime thread.
fn drop_off_thread(service: Option<Service>) {
    if service.is_some() {
        tokio::task::spawn_blocking(move || drop(service));
    }
}

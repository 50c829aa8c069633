//! The local cloud: an emulator of Entra ID (token + managed identity), ARM, Microsoft Graph and the
//! Functions host, with one Azurite instance per storage account as the real data plane.
//!
//! Layers, each module naming only modules in its own layer or below (no import circle):
//! `sync`, `behaviours`, `config`, `error`, `token`, `request_log`, `azurite` → `state` (what the
//! cloud holds, shared by every handler; `state::notices` carries what the layers above the
//! providers must act on: a site changed or was deleted, a webhook call to make) → `blob_client`,
//! `data_plane`, `site_package` (the data plane as a caller sees it) → `arm` (shared ARM rules,
//! LROs) → `providers` (one file per namespace), `graph`, `identity` → `functions_host` (runs the
//! sites, consuming the site notices) → `event_pump` (Event Grid delivery: blob events and the
//! webhook calls; posts to a site through the host) → `faults`, `admin`, `server` (routes and
//! layers). `Emulator::start` attaches the host and the pump before the first request. Inside
//! `arm` and `providers` it holds file by file: a parent names its children and no child names its
//! parent; what siblings share has its own file (`arm::request`, `arm::path`,
//! `providers::web::app_service`).
//!
//! `Emulator::start` binds 127.0.0.1 (port 0 picks a free one) and returns the URLs to point the
//! provisioner at. Everything behaves like Azure where Azure is awkward: 202 with an empty body and
//! LRO polling, 409s, 429 with Retry-After, PrincipalNotFound right after a principal is created.

pub mod admin;
pub mod arm;
pub mod azurite;
pub mod behaviours;
pub mod blob_client;
pub mod config;
pub mod data_plane;
pub mod error;
pub mod event_pump;
pub mod faults;
pub mod functions_host;
pub mod graph;
pub mod identity;
pub mod providers;
pub mod request_log;
pub mod server;
pub mod site_package;
pub mod state;
mod sync;
pub mod token;

use config::EmulatorConfig;
use state::{lock, AppState, Shared};
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{
    DEFAULT_SUBSCRIPTION, DEFAULT_TENANT, DEPLOYER_CLIENT_ID, DEPLOYER_OBJECT_ID, DEPLOYER_SECRET,
};

/// A running emulator. Dropping it stops the server, the Azurite instances and hosted handlers.
pub struct Emulator {
    pub addr: SocketAddr,
    pub state: Shared,
    server: tokio::task::JoinHandle<()>,
    host: tokio::task::JoinHandle<()>,
    pump: tokio::task::JoinHandle<()>,
    _data_dir: Option<tempfile::TempDir>,
}

/// Reloads a saved cloud and restarts each account's Azurite over its kept data.
async fn restore(state: &Shared, file: &std::path::Path) -> anyhow::Result<()> {
    let cloud = state::Cloud::load(file)?;
    let accounts: Vec<state::AccountData> = cloud.accounts.values().cloned().collect();
    *lock(&state.cloud) = cloud;
    for account in accounts {
        state
            .azurite
            .start_keeping_data(&account.name, &account.key1, account.port)
            .await?;
        if let Some(a) = lock(&state.cloud).accounts.get_mut(&account.name) {
            a.ready = true;
        }
    }
    let sites: Vec<String> = lock(&state.cloud)
        .resources
        .values()
        .filter(|r| r.kind == "Microsoft.Web/sites")
        .map(|r| r.id.clone())
        .collect();
    for site in sites {
        state.notices.site_changed(&site);
    }
    Ok(())
}

impl Emulator {
    /// Starts on `port` (0 = any free port) on 127.0.0.1.
    pub async fn start(cfg: EmulatorConfig, port: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        if !cfg.azurite_blob_bin.exists() {
            anyhow::bail!(
                "Azurite is not installed at {}: run `tests/local-cloud.sh install` or set AZURITE_BLOB_BIN",
                cfg.azurite_blob_bin.display()
            );
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e} (is another emulator running? pick another --port)"))?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(AppState::new(cfg.clone()));
        *lock(&state.base_url) = format!("http://{addr}");
        state.azurite.set_gate(data_plane::gate(&state));
        // Attached before the restore and the first request, so no notice finds them missing.
        let host = functions_host::spawn(state.clone());
        let pump = event_pump::spawn(state.clone());
        let ready = match cfg.state_file.as_ref().filter(|f| f.exists()) {
            Some(file) => restore(&state, file).await,
            None => {
                state::seed_directory(&state, &cfg);
                Ok(())
            }
        };
        if let Err(e) = ready {
            host.abort();
            pump.abort();
            return Err(e);
        }
        let app = server::router(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            state,
            server,
            host,
            pump,
            _data_dir: None,
        })
    }

    /// A fast emulator in a temporary folder, for tests.
    pub async fn start_for_tests() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let cfg = EmulatorConfig::new(dir.path().to_path_buf());
        let mut emulator = Self::start(cfg, 0).await?;
        emulator._data_dir = Some(dir);
        Ok(emulator)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn authority(&self) -> String {
        self.url()
    }

    pub fn requests(&self) -> Vec<request_log::LoggedRequest> {
        self.state.log.entries()
    }

    pub async fn shutdown(self) {
        state::save_state(&self.state);
        functions_host::stop_all(&self.state).await;
        self.state.azurite.stop_all().await;
        self.pump.abort();
        self.host.abort();
        self.server.abort();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.pump.abort();
        self.host.abort();
        self.server.abort();
    }
}

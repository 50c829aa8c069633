//! The state side of the emulator: what the cloud holds (`cloud`), what the Functions host runs
//! (`hosts`), what changed for the layers above the providers (`notices`), and the pieces every
//! handler shares. Providers and handlers depend on this module; it depends on none of them.

mod cloud;
pub mod hosts;
pub mod notices;

pub use crate::sync::lock;
pub use cloud::*;

use crate::azurite::AzuriteFleet;
use crate::config::EmulatorConfig;
use crate::request_log::RequestLog;
use crate::token::TokenSigner;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use std::sync::{Arc, Mutex};

pub struct AppState {
    pub cfg: Mutex<EmulatorConfig>,
    pub cloud: Mutex<Cloud>,
    pub signer: TokenSigner,
    pub log: RequestLog,
    /// Seeded: the faults a test injects come out the same on every run.
    pub rng: Mutex<StdRng>,
    pub azurite: AzuriteFleet,
    pub base_url: Mutex<String>,
    pub http: reqwest::Client,
    pub sites: hosts::SiteHosts,
    pub notices: notices::Notices,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(cfg: EmulatorConfig) -> Self {
        let signer = TokenSigner::new(&cfg.tenant_id);
        let rng = StdRng::seed_from_u64(cfg.faults.seed);
        let log = RequestLog::new(cfg.request_log.clone());
        let azurite = AzuriteFleet::new(cfg.azurite_blob_bin.clone(), cfg.data_dir.join("azurite"));
        Self {
            cfg: Mutex::new(cfg),
            cloud: Mutex::new(Cloud::default()),
            signer,
            log,
            rng: Mutex::new(rng),
            azurite,
            base_url: Mutex::new(String::new()),
            http: reqwest::Client::new(),
            sites: Default::default(),
            notices: Default::default(),
        }
    }

    pub fn cfg(&self) -> EmulatorConfig {
        lock(&self.cfg).clone()
    }

    pub fn base_url(&self) -> String {
        lock(&self.base_url).clone()
    }
}

/// Directory objects every tenant starts with: the configured apps' service principals,
/// replicated long ago.
pub fn seed_directory(state: &Shared, cfg: &EmulatorConfig) {
    let mut cloud = lock(&state.cloud);
    for app in &cfg.apps {
        cloud.directory.insert(app.object_id.clone(), DirectoryObject {
            id: app.object_id.clone(),
            principal_type: "ServicePrincipal".into(),
            body: json!({"id": app.object_id, "appId": app.client_id, "displayName": app.display_name, "servicePrincipalType": "Application"}),
            created: None,
            members: vec![],
            owners: vec![],
        });
    }
}

/// Saves the cloud to the configured state file, if any (the emulator does so when it shuts down).
pub fn save_state(state: &Shared) {
    let file = lock(&state.cfg).state_file.clone();
    if let Some(file) = file {
        if let Err(e) = lock(&state.cloud).save(&file) {
            tracing::warn!(file = %file.display(), error = %e, "cannot save the emulator state");
        }
    }
}

//! What the emulated Functions host is running per site, and which blob events Event Grid has
//! delivered per subscription. The behaviour lives in `functions_host` and `event_pump`.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use tokio::process::Child;

#[derive(Default)]
pub struct SiteHosts {
    /// Keyed by the lower-cased site id.
    pub(crate) sites: tokio::sync::Mutex<HashMap<String, HostedSite>>,
    /// Event Grid deliveries already made, per event subscription id.
    pub delivered: std::sync::Mutex<HashMap<String, HashSet<String>>>,
    /// App Service resources (sites, plans) still applying a write, until when (lower-cased id).
    pub busy_until: std::sync::Mutex<HashMap<String, tokio::time::Instant>>,
    /// Sites whose Functions host is restarting after a write, until when (lower-cased id).
    pub restarting_until: std::sync::Mutex<HashMap<String, tokio::time::Instant>>,
}

/// A function a package declares in its `function.json`.
#[derive(Debug, Clone)]
pub(crate) struct FunctionInfo {
    pub name: String,
    pub binding: String,
    pub trigger: String,
    pub container: String,
    pub source: String,
}

#[derive(Default)]
pub(crate) struct HostedSite {
    pub app: String,
    pub package_url: String,
    pub settings_hash: u64,
    pub child: Option<Child>,
    pub port: u16,
    pub functions: Vec<FunctionInfo>,
    pub blobs_key: Option<String>,
    pub status: String,
    pub invocations: Vec<Value>,
    pub poison: Vec<Value>,
}

//! What the emulated Functions host is running per site, its keys, and which blob events Event Grid
//! has delivered per subscription. The behaviour lives in `functions_host` and `event_pump`; the
//! providers read what they answer from here, never from those modules.

use serde_json::{json, Value};
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

impl SiteHosts {
    /// The keys `host/default/listkeys` answers. The `blobs_extension` system key is there once the
    /// running host has registered a blob trigger, and not while the host holds its table (a restart).
    pub fn host_keys(&self, site_id: &str) -> Value {
        let blobs_key = self.sites.try_lock().ok().and_then(|s| {
            s.get(&site_id.to_ascii_lowercase())
                .and_then(|h| h.blobs_key.clone())
        });
        let master = format!("{:x}", md5_like(site_id));
        let mut system = serde_json::Map::new();
        if let Some(k) = blobs_key {
            system.insert("blobs_extension".into(), json!(k));
        }
        json!({"masterKey": master, "functionKeys": {"default": format!("{:x}", md5_like(&format!("{site_id}/default")))}, "systemKeys": system})
    }
}

fn md5_like(s: &str) -> u128 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(s.as_bytes());
    u128::from_be_bytes(digest[..16].try_into().unwrap_or([0; 16]))
}

/// How `delivered` names a blob version: a new etag is a new event.
pub fn delivery_key(container: &str, name: &str, etag: &str) -> String {
    format!("{container}/{name}#{etag}")
}

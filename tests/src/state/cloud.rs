//! Everything the emulated cloud knows, behind one lock that is never held across an await.
//! Times are tokio's, so a test on a paused clock moves operations and replication along.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// An ARM resource as stored: its canonical id, type and the body GET returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    pub body: Value,
}

/// A long-running operation that finishes at `done_at`.
#[derive(Debug, Clone)]
pub struct Operation {
    pub resource_id: String,
    pub action: OperationAction,
    pub done_at: Instant,
    pub fails: bool,
    /// Storage accounts also wait for their Azurite instance to listen.
    pub waits_for_account: Option<String>,
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationAction {
    Create,
    Delete,
}

/// A directory object: group, service principal or managed identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectoryObject {
    pub id: String,
    /// `Group` or `ServicePrincipal` (the ARM principalType it answers to).
    pub principal_type: String,
    pub body: Value,
    /// When it was created here; `None` for objects replicated long ago (seeded, or restored
    /// from a state file).
    #[serde(skip)]
    pub created: Option<Instant>,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
}

/// The data plane behind a storage account: one Azurite instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountData {
    pub name: String,
    pub port: u16,
    pub key1: String,
    pub key2: String,
    pub ready: bool,
}

impl AccountData {
    pub fn blob_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}/", self.port, self.name)
    }
}

/// A soft-deleted Log Analytics workspace: its name stays reserved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedWorkspace {
    pub id: String,
    pub location: String,
    pub customer_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cloud {
    /// Keyed by the lower-cased resource id.
    pub resources: BTreeMap<String, Resource>,
    /// Running operations are not saved: a restarted emulator has finished them.
    #[serde(skip)]
    pub operations: HashMap<String, Operation>,
    pub directory: BTreeMap<String, DirectoryObject>,
    pub accounts: BTreeMap<String, AccountData>,
    pub deleted_workspaces: BTreeMap<String, DeletedWorkspace>,
    pub registered_providers: BTreeMap<String, bool>,
    /// Why an operation that ends Failed failed (`{"code","message","details"}`), by operation
    /// id; operations without an entry fail as an injected fault.
    #[serde(skip)]
    pub operation_errors: HashMap<String, Value>,
    /// When Event Grid first reached a Functions host since its site was last written (keyed by
    /// host name and `lastModifiedTimeUtc`): until it has started, handshakes to it fail.
    #[serde(skip)]
    pub webhook_first_contact: HashMap<String, Instant>,
    /// IDENTITY_HEADER secret handed to a hosted site -> the principal it stands for.
    pub msi_secrets: BTreeMap<String, String>,
}

pub fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

impl Cloud {
    /// Writes the state to `path` atomically (a temp file renamed over it).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }

    pub fn load(path: &std::path::Path) -> std::io::Result<Self> {
        let mut cloud: Cloud = serde_json::from_slice(&std::fs::read(path)?).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not an emulator state file: {e}", path.display()),
            )
        })?;
        for account in cloud.accounts.values_mut() {
            account.ready = false;
        }
        Ok(cloud)
    }

    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.get(&key(id))
    }
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(&key(id))
    }
    pub fn insert(&mut self, resource: Resource) {
        self.resources.insert(key(&resource.id), resource);
    }
    pub fn remove(&mut self, id: &str) -> Option<Resource> {
        self.resources.remove(&key(id))
    }

    /// Every resource whose id is `id` or lies below it (children, role assignments at that scope).
    pub fn ids_under(&self, id: &str) -> Vec<String> {
        let prefix = format!("{}/", key(id));
        self.resources
            .iter()
            .filter(|(k, _)| **k == key(id) || k.starts_with(&prefix))
            .map(|(_, r)| r.id.clone())
            .collect()
    }

    /// A running operation on this resource or on its resource group blocks writes.
    pub fn running_operation_on(&self, id: &str) -> Option<(&String, &Operation)> {
        let target = key(id);
        self.operations.iter().find(|(_, op)| {
            !op.finished && {
                let op_key = key(&op.resource_id);
                target == op_key || target.starts_with(&format!("{op_key}/"))
            }
        })
    }

    /// How long ago the principal was created; `Duration::MAX` for one replicated long ago.
    pub fn principal_age(&self, id: &str) -> Option<Duration> {
        self.directory
            .get(id)
            .map(|o| o.created.map_or(Duration::MAX, |t| t.elapsed()))
    }

    /// A site's app settings (`{site}/config/appsettings`), empty when it has none.
    pub fn app_settings_of(&self, site_id: &str) -> Map<String, Value> {
        self.get(&format!("{site_id}/config/appsettings"))
            .and_then(|r| r.body["properties"].as_object().cloned())
            .unwrap_or_default()
    }
}

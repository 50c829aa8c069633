//! What every resource is given: the fixed context of a run (`Ctx`) and the values its dependencies
//! reported when they were read or applied (`Outputs`). Neither changes behind a resource's back:
//! the engine passes outputs along the dependency graph.

use super::storage_account::AccountRole;
use crate::arm::Azure;
use crate::env::Environment;
use crate::names::Names;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const MANAGED_BY: &str = "provision";

/// Values a resource reports about itself for the resources that depend on it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outputs {
    pub group_id: Option<String>,
    pub site_principal_id: Option<String>,
    pub app_insights_connection_string: Option<String>,
    pub blob_endpoints: BTreeMap<AccountRole, String>,
    /// The function app's settings as last read or written, so nothing lists them twice.
    pub app_settings: Option<BTreeMap<String, String>>,
}

impl Outputs {
    /// Takes every value `other` knows over this one's.
    pub fn overlay(&mut self, other: &Outputs) {
        let Outputs {
            group_id,
            site_principal_id,
            app_insights_connection_string,
            blob_endpoints,
            app_settings,
        } = other;
        if group_id.is_some() {
            self.group_id.clone_from(group_id);
        }
        if site_principal_id.is_some() {
            self.site_principal_id.clone_from(site_principal_id);
        }
        if app_insights_connection_string.is_some() {
            self.app_insights_connection_string
                .clone_from(app_insights_connection_string);
        }
        if app_settings.is_some() {
            self.app_settings.clone_from(app_settings);
        }
        self.blob_endpoints
            .extend(blob_endpoints.iter().map(|(k, v)| (*k, v.clone())));
    }
}

/// The fixed context of one run.
#[derive(Clone)]
pub struct Ctx {
    pub azure: Azure,
    pub env: Environment,
    pub names: Names,
    /// The deploying identity's object id (from its token): owner and member of the group.
    pub caller_object_id: Option<String>,
    /// A prebuilt package (`up --package PATH`), else the package is built from function/.
    pub package_path: Option<PathBuf>,
    /// `down --force`: delete the resource group even when it holds resources that are not ours.
    pub force: bool,
    /// Blob endpoints known when this context was made (`with_outputs`), for the blob client.
    pub blob_endpoints: BTreeMap<AccountRole, String>,
}

impl Ctx {
    /// The same context, knowing the blob endpoints `outputs` carry.
    pub fn with_outputs(&self, outputs: &Outputs) -> Ctx {
        let mut ctx = self.clone();
        ctx.blob_endpoints
            .extend(outputs.blob_endpoints.iter().map(|(k, v)| (*k, v.clone())));
        ctx
    }
    /// The account's blob endpoint as ARM reported it, else the public cloud's spelling.
    pub fn blob_endpoint(&self, role: AccountRole) -> String {
        self.blob_endpoints.get(&role).cloned().unwrap_or_else(|| {
            format!("https://{}.blob.core.windows.net/", role.account_name(self))
        })
    }
    pub fn subscription_path(&self) -> String {
        format!("/subscriptions/{}", self.env.subscription)
    }
    pub fn rg_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.env.subscription, self.names.resource_group
        )
    }
    pub fn provider_path(&self, provider_type: &str, name: &str) -> String {
        format!("{}/providers/{provider_type}/{name}", self.rg_path())
    }
    /// The tags every resource we own carries: ownership first, then the environment file's.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.env.tags.clone();
        tags.insert("managed-by".into(), MANAGED_BY.into());
        tags.insert("environment".into(), self.env.name.clone());
        tags
    }
    pub fn tags_json(&self) -> Value {
        json!(self.tags())
    }
}

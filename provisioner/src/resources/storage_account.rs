//! The three storage accounts: `raw` and `standard` (ADLS Gen2: hierarchical namespace, Entra only)
//! and `functions` (host storage, the package and the run lock). Updates go through PATCH; a change
//! of hierarchical namespace would need a new account, which provision never does by itself.

use super::compare::{action_for, delete_if_ours, merged_tags, read_arm};
use super::{
    Applied, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource, ResourceError, Result,
};
use crate::arm::models::{self, AccountSpec};
use crate::arm::versions::STORAGE;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountRole {
    Raw,
    Standard,
    Functions,
}

impl AccountRole {
    pub fn label(self) -> &'static str {
        match self {
            AccountRole::Raw => "raw",
            AccountRole::Standard => "standard",
            AccountRole::Functions => "functions",
        }
    }
    pub fn account_name(self, ctx: &Ctx) -> String {
        match self {
            AccountRole::Raw => ctx.names.raw_account.clone(),
            AccountRole::Standard => ctx.names.standard_account.clone(),
            AccountRole::Functions => ctx.names.functions_account.clone(),
        }
    }
    pub fn key(self) -> Key {
        Key::Storage(self)
    }
    pub fn id(self, ctx: &Ctx) -> String {
        ctx.provider_path("Microsoft.Storage/storageAccounts", &self.account_name(ctx))
    }
    fn hierarchical_namespace(self) -> bool {
        self != AccountRole::Functions
    }
    /// The functions account signs the package SAS and the run lock with its key; the data
    /// accounts accept Entra identities only.
    fn allow_shared_key(self) -> bool {
        self == AccountRole::Functions
    }
}

pub struct StorageAccount(pub AccountRole);

fn path(ctx: &Ctx, role: AccountRole) -> String {
    format!("{}?api-version={STORAGE}", role.id(ctx))
}

fn desired(ctx: &Ctx, role: AccountRole) -> Value {
    let tags = ctx.tags();
    models::storage_account(&AccountSpec {
        location: &ctx.env.location,
        hierarchical_namespace: role.hierarchical_namespace(),
        allow_shared_key: role.allow_shared_key(),
        tags: &tags,
    })
}

/// The account's blob endpoint, for the function app's settings and the blob client.
fn outputs(role: AccountRole, body: &Value) -> Outputs {
    let endpoint = body
        .pointer("/properties/primaryEndpoints/blob")
        .and_then(Value::as_str);
    Outputs {
        blob_endpoints: endpoint
            .map(|e| BTreeMap::from([(role, e.to_string())]))
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// An update goes through PATCH without isHnsEnabled, which cannot change in place.
async fn update(ctx: &Ctx, role: AccountRole, current: &Value, body: &Value) -> Result<Value> {
    let hns = |v: &Value| {
        v.pointer("/properties/isHnsEnabled")
            .cloned()
            .unwrap_or(json!(false))
    };
    let (want_hns, live_hns) = (hns(body), hns(current));
    if live_hns != want_hns {
        return Err(ResourceError::Other(format!(
            "storage account {} has isHnsEnabled={live_hns} but must be {want_hns}; that needs a new account (data migration), which provision will not do by itself",
            role.account_name(ctx)
        )));
    }
    let mut props = body["properties"].clone();
    if let Some(p) = props.as_object_mut() {
        p.remove("isHnsEnabled");
    }
    let patch = json!({"tags": body["tags"], "sku": body["sku"], "kind": body["kind"], "properties": props});
    Ok(ctx.azure.patch(&path(ctx, role), &patch).await?)
}

impl Resource for StorageAccount {
    fn key(&self) -> Key {
        self.0.key()
    }
    fn kind(&self) -> &'static str {
        "storage account"
    }
    fn name(&self, ctx: &Ctx) -> String {
        self.0.account_name(ctx)
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![Key::ResourceGroup]
    }
    fn contained_in(&self) -> Option<Key> {
        Some(Key::ResourceGroup)
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            let live = read_arm(ctx, &path(ctx, self.0)).await?;
            let outputs = live.body().map(|b| outputs(self.0, b)).unwrap_or_default();
            Ok(Read { live, outputs })
        })
    }
    fn diff(&self, ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        action_for(&desired(ctx, self.0), live).into()
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            let mut body = desired(ctx, self.0);
            body["tags"] = merged_tags(ctx, live);
            let result = match live.body() {
                None => ctx.azure.put(&path(ctx, self.0), &body).await?,
                Some(current) => update(ctx, self.0, current, &body).await?,
            };
            Ok(outputs(self.0, &result).into())
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move { delete_if_ours(ctx, live, &path(ctx, self.0)).await })
    }
}

//! The three storage accounts: `raw` and `standard` (ADLS Gen2: hierarchical namespace, Entra only)
//! and `functions` (host storage, the package and the run lock). Updates go through PATCH; a change
//! of hierarchical namespace would need a new account, which provision never does by itself.

use super::{
    action_for, delete_if_ours, merged_tags, read_arm, Action, Ctx, Live, Resource, ResourceError,
    Result,
};
use crate::arm::models::{self, AccountSpec};
use crate::arm::versions::STORAGE;
use futures::future::BoxFuture;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub fn key(self) -> String {
        format!("storage:{}", self.label())
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

fn remember(ctx: &Ctx, role: AccountRole, body: &Value) {
    if let Some(endpoint) = body
        .pointer("/properties/primaryEndpoints/blob")
        .and_then(Value::as_str)
    {
        ctx.update(|o| {
            o.blob_endpoints
                .insert(role.label().to_string(), endpoint.to_string());
        });
    }
}

impl Resource for StorageAccount {
    fn key(&self) -> String {
        self.0.key()
    }
    fn kind(&self) -> &'static str {
        "storage account"
    }
    fn name(&self, ctx: &Ctx) -> String {
        self.0.account_name(ctx)
    }
    fn depends_on(&self) -> Vec<String> {
        vec!["resource-group".into()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            let live = read_arm(ctx, path(ctx, self.0)).await?;
            if let Some(body) = live.body() {
                remember(ctx, self.0, body);
            }
            Ok(live)
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        action_for(&desired(ctx, self.0), live)
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = desired(ctx, self.0);
            body["tags"] = merged_tags(ctx, live);
            let result = match live.body() {
                None => ctx.azure.put(&path(ctx, self.0), &body).await?,
                Some(current) => {
                    let want_hns = body
                        .pointer("/properties/isHnsEnabled")
                        .cloned()
                        .unwrap_or(json!(false));
                    if current
                        .pointer("/properties/isHnsEnabled")
                        .cloned()
                        .unwrap_or(json!(false))
                        != want_hns
                    {
                        return Err(ResourceError::Other(format!(
                            "storage account {} has isHnsEnabled={} but must be {want_hns}; that needs a new account (data migration), which provision will not do by itself",
                            self.0.account_name(ctx),
                            current.pointer("/properties/isHnsEnabled").cloned().unwrap_or(json!(false))
                        )));
                    }
                    let mut props = body["properties"].clone();
                    if let Some(p) = props.as_object_mut() {
                        p.remove("isHnsEnabled");
                    }
                    let patch = json!({"tags": body["tags"], "sku": body["sku"], "kind": body["kind"], "properties": props});
                    ctx.azure.patch(&path(ctx, self.0), &patch).await?
                }
            };
            remember(ctx, self.0, &result);
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(delete_if_ours(ctx, live, path(ctx, self.0)))
    }
}

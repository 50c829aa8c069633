//! The three storage accounts: `raw` and `standard` (ADLS Gen2: hierarchical namespace, Entra only)
//! and `functions` (host storage, the package and the run lock). Updates go through PATCH; a change
//! of hierarchical namespace would need a new account, which provision never does by itself.

use super::tracked::{self, TrackedKind};
use super::{Ctx, Key, Outputs, ResourceError, Result};
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
        tracked::id(ctx, &StorageAccount(self))
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

/// The storage account of one role, as a tracked resource (`Tracked(StorageAccount(role))`).
#[derive(Debug, Clone, Copy)]
pub struct StorageAccount(pub AccountRole);

impl TrackedKind for StorageAccount {
    fn key(&self) -> Key {
        self.0.key()
    }
    fn kind(&self) -> &'static str {
        "storage account"
    }
    fn resource_type(&self) -> &'static str {
        "Microsoft.Storage/storageAccounts"
    }
    fn api_version(&self) -> &'static str {
        STORAGE
    }
    fn name(&self, ctx: &Ctx) -> String {
        self.0.account_name(ctx)
    }
    fn desired(&self, ctx: &Ctx) -> Value {
        let tags = ctx.tags();
        models::storage_account(&AccountSpec {
            location: &ctx.env.location,
            hierarchical_namespace: self.0.hierarchical_namespace(),
            allow_shared_key: self.0.allow_shared_key(),
            tags: &tags,
        })
    }
    /// The account's blob endpoint, for the function app's settings and the blob client.
    fn outputs(&self, body: &Value) -> Outputs {
        let endpoint = body
            .pointer("/properties/primaryEndpoints/blob")
            .and_then(Value::as_str);
        Outputs {
            blob_endpoints: endpoint
                .map(|e| BTreeMap::from([(self.0, e.to_string())]))
                .unwrap_or_default(),
            ..Default::default()
        }
    }
    /// Through PATCH without isHnsEnabled, which cannot change in place.
    fn update<'a>(
        &'a self,
        ctx: &'a Ctx,
        path: &'a str,
        current: &'a Value,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            let patch = patch_body(&self.0.account_name(ctx), current, body)?;
            Ok(ctx.azure.patch(path, &patch).await?)
        })
    }
}

/// The PATCH for an update, refused when it would flip hierarchical namespace.
fn patch_body(account: &str, current: &Value, body: &Value) -> Result<Value> {
    let hns = |v: &Value| {
        v.pointer("/properties/isHnsEnabled")
            .cloned()
            .unwrap_or(json!(false))
    };
    let (want_hns, live_hns) = (hns(body), hns(current));
    if live_hns != want_hns {
        return Err(ResourceError::Other(format!(
            "storage account {account} has isHnsEnabled={live_hns} but must be {want_hns}; that needs a new account (data migration), which provision will not do by itself"
        )));
    }
    let mut props = body["properties"].clone();
    if let Some(p) = props.as_object_mut() {
        p.remove("isHnsEnabled");
    }
    Ok(json!({"tags": body["tags"], "sku": body["sku"], "kind": body["kind"], "properties": props}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(hns: bool) -> Value {
        json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "tags": {"managed-by": "provision", "team": "theirs"},
            "properties": {"isHnsEnabled": hns, "minimumTlsVersion": "TLS1_2"}})
    }

    #[test]
    fn an_update_patches_everything_but_hierarchical_namespace() {
        let patch = patch_body("acct", &body(true), &body(true)).expect("allowed");
        assert_eq!(
            patch,
            json!({"tags": {"managed-by": "provision", "team": "theirs"}, "sku": {"name": "Standard_LRS"},
                "kind": "StorageV2", "properties": {"minimumTlsVersion": "TLS1_2"}})
        );
        let live_without_the_default = json!({"properties": {}});
        assert!(patch_body("acct", &live_without_the_default, &body(false)).is_ok());
    }

    #[test]
    fn a_change_of_hierarchical_namespace_is_refused_naming_the_account() {
        let error =
            patch_body("rawacct", &json!({"properties": {}}), &body(true)).expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains("rawacct")
                && text.contains("isHnsEnabled=false but must be true")
                && text.contains("new account"),
            "{text}"
        );
    }
}

//! The resources an environment consists of. Each kind lives in its own file with its whole life:
//! what we want, how to read it, how it differs, how to create or update it, how to delete it.
//! The engine only sees the `Resource` trait and the list `all()` returns.

pub mod app_insights;
pub mod event_subscription;
pub mod event_topic;
pub mod function_app;
pub mod function_package;
pub mod log_analytics;
pub mod resource_group;
pub mod role_assignment;
pub mod security_group;
pub mod service_plan;
pub mod storage_account;
pub mod storage_container;

use crate::arm::{ArmError, Azure};
use crate::env::Environment;
use crate::names::Names;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const MANAGED_BY: &str = "provision";

/// What a read found.
#[derive(Debug, Clone)]
pub enum Live {
    Absent,
    Present(Value),
}

impl Live {
    pub fn body(&self) -> Option<&Value> {
        match self {
            Live::Present(v) => Some(v),
            Live::Absent => None,
        }
    }
}

/// One property that differs: where, what Azure has, what we want. Secrets are shown redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub property: String,
    pub live: Value,
    pub desired: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    Create,
    Update { changes: Vec<Change> },
    Noop,
}

impl Action {
    pub fn is_change(&self) -> bool {
        !matches!(self, Action::Noop)
    }
}

/// Values resources learn about each other while reading and applying.
#[derive(Debug, Default, Clone)]
pub struct Outputs {
    pub caller_object_id: Option<String>,
    pub group_id: Option<String>,
    pub site_principal_id: Option<String>,
    pub app_insights_connection_string: Option<String>,
    pub blob_endpoints: BTreeMap<String, String>,
    pub workspace_id: Option<String>,
    /// Notes for the user that are not drift (app settings others set, ...).
    pub notices: Vec<String>,
}

pub struct Ctx {
    pub azure: Azure,
    pub env: Environment,
    pub names: Names,
    pub outputs: Mutex<Outputs>,
    /// A prebuilt package (`up --package PATH`), else the package is built from function/.
    pub package_path: Option<std::path::PathBuf>,
    /// `down --force`: delete the resource group even when it holds resources that are not ours.
    pub force: bool,
}

impl Ctx {
    pub fn outputs(&self) -> Outputs {
        self.outputs.lock().map(|o| o.clone()).unwrap_or_default()
    }
    pub fn update(&self, f: impl FnOnce(&mut Outputs)) {
        if let Ok(mut o) = self.outputs.lock() {
            f(&mut o);
        }
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

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Azure(#[from] ArmError),
    #[error("{0}")]
    Other(String),
}

impl ResourceError {
    /// A failed long-running operation is worth one more PUT; most other errors are not.
    pub fn retry_apply(&self) -> bool {
        matches!(self, ResourceError::Azure(e) if matches!(e.code.as_str(), "ProvisioningFailed" | "OperationFailed" | "InternalOperationError"))
    }
}

pub type Result<T> = std::result::Result<T, ResourceError>;

pub trait Resource: Send + Sync {
    /// Unique within an environment, e.g. `storage:raw`.
    fn key(&self) -> String;
    /// Human name of the kind, e.g. `storage account`.
    fn kind(&self) -> &'static str;
    /// The Azure name.
    fn name(&self, ctx: &Ctx) -> String;
    fn depends_on(&self) -> Vec<String>;
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>>;
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action;
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>>;
    /// Deletes it if it is ours; returns false when something not ours was kept.
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>>;
    /// Resources deleted with their parent (containers with accounts) need no delete of their own.
    fn deleted_with_parent(&self) -> bool {
        false
    }
}

/// Every resource of an environment, in a stable order.
pub fn all(_env: &Environment) -> Vec<Box<dyn Resource>> {
    use role_assignment::{Principal, RoleAssignment, Scope};
    use storage_account::AccountRole;
    let mut list: Vec<Box<dyn Resource>> = vec![
        Box::new(resource_group::ResourceGroup),
        Box::new(log_analytics::LogAnalytics),
        Box::new(app_insights::AppInsights),
        Box::new(storage_account::StorageAccount(AccountRole::Raw)),
        Box::new(storage_account::StorageAccount(AccountRole::Standard)),
        Box::new(storage_account::StorageAccount(AccountRole::Functions)),
        Box::new(storage_container::Container {
            account: AccountRole::Raw,
            name: crate::names::RAW_CONTAINER,
        }),
        Box::new(storage_container::Container {
            account: AccountRole::Standard,
            name: crate::names::STANDARD_CONTAINER,
        }),
        Box::new(storage_container::Container {
            account: AccountRole::Functions,
            name: crate::names::PACKAGE_CONTAINER,
        }),
        Box::new(storage_container::Container {
            account: AccountRole::Functions,
            name: crate::names::LOCK_CONTAINER,
        }),
        Box::new(security_group::SecurityGroup),
        Box::new(service_plan::ServicePlan),
        Box::new(function_app::FunctionApp),
    ];
    let roles = [
        (
            Principal::Group,
            Scope::Account(AccountRole::Raw),
            role_assignment::BLOB_DATA_CONTRIBUTOR,
            "group reads and writes raw",
        ),
        (
            Principal::Group,
            Scope::Account(AccountRole::Standard),
            role_assignment::BLOB_DATA_CONTRIBUTOR,
            "group reads and writes standard",
        ),
        (
            Principal::FunctionApp,
            Scope::Account(AccountRole::Raw),
            role_assignment::BLOB_DATA_OWNER,
            "blob trigger reads raw",
        ),
        (
            Principal::FunctionApp,
            Scope::Account(AccountRole::Raw),
            role_assignment::QUEUE_DATA_CONTRIBUTOR,
            "blob trigger poison queue on raw",
        ),
        (
            Principal::FunctionApp,
            Scope::Account(AccountRole::Standard),
            role_assignment::BLOB_DATA_CONTRIBUTOR,
            "handler writes standard",
        ),
        (
            Principal::FunctionApp,
            Scope::Account(AccountRole::Functions),
            role_assignment::BLOB_DATA_OWNER,
            "host storage and package",
        ),
        (
            Principal::FunctionApp,
            Scope::Account(AccountRole::Functions),
            role_assignment::QUEUE_DATA_CONTRIBUTOR,
            "host storage queues",
        ),
        (
            Principal::FunctionApp,
            Scope::Account(AccountRole::Functions),
            role_assignment::ACCOUNT_CONTRIBUTOR,
            "host storage management",
        ),
    ];
    for (principal, scope, role, why) in roles {
        list.push(Box::new(RoleAssignment {
            principal,
            scope,
            role,
            why,
        }));
    }
    list.push(Box::new(function_package::FunctionPackage));
    list.push(Box::new(event_topic::EventTopic));
    list.push(Box::new(event_subscription::EventSubscription));
    list
}

/// Compares only the properties we set: a property Azure adds or defaults never shows as drift.
pub fn diff_owned(desired: &Value, live: &Value, path: &str, out: &mut Vec<Change>) {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (k, dv) in d {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match l.get(k) {
                    Some(lv) => diff_owned(dv, lv, &p, out),
                    None => out.push(Change {
                        property: p,
                        live: Value::Null,
                        desired: dv.clone(),
                    }),
                }
            }
        }
        (Value::String(d), Value::String(l))
            if d.eq_ignore_ascii_case(l)
                && (path.ends_with("location") || path.ends_with("Id")) => {}
        (d, l) if d == l => {}
        (d, l) => out.push(Change {
            property: path.to_string(),
            live: l.clone(),
            desired: d.clone(),
        }),
    }
}

/// A resource whose last operation ended Failed is not in sync, whatever its properties say; the
/// next apply sends it again, which makes ARM provision it again.
pub fn failed_state(body: &Value) -> Option<Change> {
    let state = body
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)?;
    state.eq_ignore_ascii_case("Failed").then(|| Change {
        property: "properties.provisioningState".into(),
        live: json!(state),
        desired: json!("Succeeded"),
    })
}

/// Creates when absent, updates when an owned property differs, else nothing.
pub fn action_for(desired: &Value, live: &Live) -> Action {
    match live {
        Live::Absent => Action::Create,
        Live::Present(body) => {
            let mut changes = Vec::new();
            diff_owned(desired, body, "", &mut changes);
            changes.extend(failed_state(body));
            if changes.is_empty() {
                Action::Noop
            } else {
                Action::Update { changes }
            }
        }
    }
}

/// Tags to send: ours over whatever else is already there, so others' tags survive an update.
pub fn merged_tags(ctx: &Ctx, live: &Live) -> Value {
    let mut tags = live
        .body()
        .and_then(|b| b.get("tags"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in ctx.tags() {
        tags.insert(k, Value::String(v));
    }
    Value::Object(tags)
}

/// Whether a live ARM resource carries our ownership tags for this environment.
pub fn is_ours(ctx: &Ctx, live: &Live) -> bool {
    live.body().is_some_and(|b| {
        b.pointer("/tags/managed-by").and_then(Value::as_str) == Some(MANAGED_BY)
            && b.pointer("/tags/environment").and_then(Value::as_str) == Some(ctx.env.name.as_str())
    })
}

pub async fn read_arm(ctx: &Ctx, path: String) -> Result<Live> {
    Ok(match ctx.azure.get(&path).await? {
        Some(body) => Live::Present(body),
        None => Live::Absent,
    })
}

/// Deletes an ARM resource only when it carries our tags.
pub async fn delete_if_ours(ctx: &Ctx, live: &Live, path: String) -> Result<bool> {
    match live {
        Live::Absent => Ok(true),
        Live::Present(_) if is_ours(ctx, live) => {
            ctx.azure.delete(&path).await?;
            Ok(true)
        }
        Live::Present(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owned_properties_count_and_server_defaults_do_not() {
        let desired = json!({"location": "westeurope", "properties": {"minimumTlsVersion": "TLS1_2", "isHnsEnabled": true}, "tags": {"environment": "dev"}});
        let live = json!({"location": "WestEurope", "properties": {"minimumTlsVersion": "TLS1_2", "isHnsEnabled": true, "provisioningState": "Succeeded", "networkAcls": {}}, "tags": {"environment": "dev", "owner": "someone"}});
        assert_eq!(
            action_for(&desired, &Live::Present(live.clone())),
            Action::Noop
        );
        let mut drifted = live;
        drifted["properties"]["minimumTlsVersion"] = json!("TLS1_0");
        match action_for(&desired, &Live::Present(drifted)) {
            Action::Update { changes } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].property, "properties.minimumTlsVersion");
                assert_eq!(changes[0].live, json!("TLS1_0"));
            }
            other => panic!("expected an update, got {other:?}"),
        }
        assert_eq!(action_for(&desired, &Live::Absent), Action::Create);
    }

    #[test]
    fn a_resource_left_failed_by_its_last_operation_is_not_in_sync() {
        let desired = json!({"location": "westeurope"});
        let failed =
            json!({"location": "westeurope", "properties": {"provisioningState": "Failed"}});
        match action_for(&desired, &Live::Present(failed)) {
            Action::Update { changes } => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].property, "properties.provisioningState");
            }
            other => panic!("expected an update, got {other:?}"),
        }
        let fine =
            json!({"location": "westeurope", "properties": {"provisioningState": "Succeeded"}});
        assert_eq!(action_for(&desired, &Live::Present(fine)), Action::Noop);
    }
}

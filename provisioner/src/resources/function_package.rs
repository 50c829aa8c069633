//! The function package: built from function/ (or given with `up --package`), uploaded under its
//! content hash only when that changed, and wired with WEBSITE_RUN_FROM_PACKAGE — either a SAS bound
//! to a stored access policy (revocable, renewed before it expires) or the site's managed identity.

use reqwest::Method;
use super::function_app::{self, PACKAGE_SETTINGS};
use super::storage_account::AccountRole;
use super::{Action, Change, Ctx, Live, Resource, ResourceError, Result};
use crate::blob::{AccessPolicy, BlobAccount};
use crate::env::PackageAccess;
use crate::names::PACKAGE_CONTAINER;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub struct FunctionPackage;

static BUILT: OnceLock<std::result::Result<(Vec<u8>, String), String>> = OnceLock::new();

/// The zip and its SHA-256, built once per run.
pub fn package(ctx: &Ctx) -> Result<(Vec<u8>, String)> {
    BUILT
        .get_or_init(|| match &ctx.package_path {
            Some(path) => std::fs::read(path)
                .map(|zip| {
                    use sha2::Digest;
                    let sha = hex::encode(sha2::Sha256::digest(&zip));
                    (zip, sha)
                })
                .map_err(|e| format!("cannot read the package {}: {e}", path.display())),
            None => crate::package::build(None)
                .map(|p| (p.zip, p.sha256))
                .map_err(|e| e.to_string()),
        })
        .clone()
        .map_err(ResourceError::Other)
}

fn blob_name(sha: &str) -> String {
    format!("pkg-{}.zip", &sha[..16.min(sha.len())])
}

fn policy_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("pkg-read-{}", now.format("%Y%m%d%H%M%S"))
}

fn fmt_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn current_setting(live: &Live) -> Option<String> {
    live.body()
        .and_then(|b| b["setting"].as_str())
        .map(str::to_string)
}

impl Resource for FunctionPackage {
    fn key(&self) -> String {
        "function-package".into()
    }
    fn kind(&self) -> &'static str {
        "function package"
    }
    fn name(&self, ctx: &Ctx) -> String {
        format!("{}/{PACKAGE_CONTAINER}", ctx.names.functions_account)
    }
    fn depends_on(&self) -> Vec<String> {
        vec![
            "function-app".into(),
            "container:functions/packages".into(),
            "role:function-app:functions:blob-owner".into(),
        ]
    }
    /// Reads the package setting and, in SAS mode, the stored access policy it relies on.
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            let site = function_app::id(ctx);
            let settings = match ctx
                .azure
                .call(
                    crate::arm::Api::Arm,
                    Method::POST,
                    &format!(
                        "{site}/config/appsettings/list?api-version={}",
                        crate::arm::versions::WEB
                    ),
                    None,
                    &[],
                )
                .await
            {
                Ok(r) => r.body["properties"].clone(),
                Err(e) if e.is_not_found() => return Ok(Live::Absent),
                Err(e) => return Err(e.into()),
            };
            let Some(setting) = settings
                .get("WEBSITE_RUN_FROM_PACKAGE")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                return Ok(Live::Absent);
            };
            let mut live = json!({"setting": setting, "mi": settings.get("WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID")});
            if ctx.env.package_access == PackageAccess::Sas {
                let policy = url::Url::parse(&setting).ok().and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "si")
                        .map(|(_, v)| v.into_owned())
                });
                if let Some(policy) = policy {
                    let account = BlobAccount::open(ctx, AccountRole::Functions).await?;
                    let policies = account.access_policies(PACKAGE_CONTAINER).await?;
                    live["policyExpiry"] = json!(policies
                        .iter()
                        .find(|p| p.id == policy)
                        .map(|p| p.expiry.clone()));
                }
            }
            Ok(Live::Present(live))
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        // Nothing deployed yet: a create either way, without building the package just to plan.
        let Some(setting) = current_setting(live) else {
            return Action::Create;
        };
        let desired_blob = match package(ctx) {
            Ok((_, sha)) => blob_name(&sha),
            Err(e) => {
                return Action::Update {
                    changes: vec![Change {
                        property: "package".into(),
                        live: Value::Null,
                        desired: json!(format!("cannot build: {e}")),
                    }],
                }
            }
        };
        let mut changes = Vec::new();
        let base = setting.split('?').next().unwrap_or_default().to_string();
        if !base.ends_with(&format!("/{desired_blob}")) {
            changes.push(Change {
                property: "package".into(),
                live: json!(base.rsplit('/').next()),
                desired: json!(desired_blob),
            });
        }
        match ctx.env.package_access {
            PackageAccess::Sas => {
                let expiry = live
                    .body()
                    .and_then(|b| b["policyExpiry"].as_str())
                    .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok());
                let renew_by =
                    chrono::Utc::now() + chrono::Duration::days(ctx.env.sas_renew_within_days);
                match expiry {
                    None => changes.push(Change {
                        property: "sas.policy".into(),
                        live: json!("missing or revoked"),
                        desired: json!("a valid stored access policy"),
                    }),
                    Some(e) if e < renew_by => changes.push(Change {
                        property: "sas.expiry".into(),
                        live: json!(e.to_rfc3339()),
                        desired: json!(format!(
                            "renewed (expires within {} days)",
                            ctx.env.sas_renew_within_days
                        )),
                    }),
                    Some(_) => {}
                }
            }
            PackageAccess::Identity => {
                if setting.contains("sig=")
                    || live.body().and_then(|b| b["mi"].as_str()) != Some("SystemAssigned")
                {
                    changes.push(Change {
                        property: "access".into(),
                        live: json!(if setting.contains("sig=") {
                            "sas"
                        } else {
                            "unset"
                        }),
                        desired: json!("managed identity"),
                    });
                }
            }
        }
        if changes.is_empty() {
            Action::Noop
        } else {
            Action::Update { changes }
        }
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, _live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (zip, sha) = package(ctx)?;
            let blob = blob_name(&sha);
            let account = BlobAccount::open(ctx, AccountRole::Functions).await?;
            if !account.exists(PACKAGE_CONTAINER, &blob).await? {
                account
                    .put(PACKAGE_CONTAINER, &blob, zip, "application/zip")
                    .await?;
            }
            let mut wanted: BTreeMap<&str, String> = BTreeMap::new();
            match ctx.env.package_access {
                PackageAccess::Sas => {
                    let now = chrono::Utc::now();
                    let id = policy_id(now);
                    let mut policies: Vec<AccessPolicy> = account
                        .access_policies(PACKAGE_CONTAINER)
                        .await?
                        .into_iter()
                        .filter(|p| {
                            chrono::DateTime::parse_from_rfc3339(&p.expiry).is_ok_and(|e| e > now)
                        })
                        .collect();
                    // Keep the newest few so the previous URL works until the app has restarted on the new one.
                    policies.sort_by(|a, b| b.id.cmp(&a.id));
                    policies.truncate(3);
                    policies.push(AccessPolicy {
                        id: id.clone(),
                        start: fmt_time(now - chrono::Duration::minutes(5)),
                        expiry: fmt_time(now + chrono::Duration::days(ctx.env.sas_lifetime_days)),
                        permission: "r".into(),
                    });
                    account
                        .set_access_policies(PACKAGE_CONTAINER, &policies)
                        .await?;
                    wanted.insert(
                        "WEBSITE_RUN_FROM_PACKAGE",
                        account.sas_url(PACKAGE_CONTAINER, &blob, &id),
                    );
                }
                PackageAccess::Identity => {
                    wanted.insert(
                        "WEBSITE_RUN_FROM_PACKAGE",
                        account.blob_url(PACKAGE_CONTAINER, &blob),
                    );
                    wanted.insert(
                        "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID",
                        "SystemAssigned".into(),
                    );
                }
            }
            let site = function_app::id(ctx);
            let web = crate::arm::versions::WEB;
            let current = ctx
                .azure
                .post(
                    &format!("{site}/config/appsettings/list?api-version={web}"),
                    None,
                )
                .await?;
            let mut merged: BTreeMap<String, String> = current["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect();
            for key in PACKAGE_SETTINGS {
                merged.remove(*key);
            }
            for (k, v) in wanted {
                merged.insert(k.to_string(), v);
            }
            ctx.azure
                .put(&format!("{site}/config/appsettings?api-version={web}"),
                    &crate::arm::models::app_settings(&merged),
                )
                .await?;
            ctx.azure
                .post(
                    &format!("{site}/syncfunctiontriggers?api-version={web}"),
                    None,
                )
                .await?;
            Ok(())
        })
    }
    fn delete<'a>(&'a self, _ctx: &'a Ctx, _live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(true) })
    }
    fn deleted_with_parent(&self) -> bool {
        true
    }
}

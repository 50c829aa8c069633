//! The Linux function app: system-assigned identity, hardened config, and the app settings we own.
//! App settings are merged, never replaced: keys others set are reported and kept, and the package
//! setting belongs to `function_package`.

use super::storage_account::AccountRole;
use super::{
    diff_owned, failed_state, is_ours, merged_tags, Action, Change, Ctx, Live, Resource,
    ResourceError, Result,
};
use crate::arm::versions::WEB;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub struct FunctionApp;

pub const PACKAGE_SETTINGS: &[&str] = &[
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID",
];

pub fn id(ctx: &Ctx) -> String {
    ctx.provider_path("Microsoft.Web/sites", &ctx.names.function_app)
}

fn path(ctx: &Ctx, suffix: &str) -> String {
    format!("{}{suffix}?api-version={WEB}", id(ctx))
}

fn endpoint(ctx: &Ctx, role: AccountRole) -> String {
    ctx.outputs()
        .blob_endpoints
        .get(role.label())
        .cloned()
        .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", role.account_name(ctx)))
        .trim_end_matches('/')
        .to_string()
}

/// The settings provision owns, with their values.
pub fn owned_settings(ctx: &Ctx) -> BTreeMap<String, String> {
    let raw = endpoint(ctx, AccountRole::Raw);
    let mut s = BTreeMap::new();
    s.insert("FUNCTIONS_EXTENSION_VERSION".into(), "~4".into());
    s.insert("FUNCTIONS_WORKER_RUNTIME".into(), "custom".into());
    s.insert(
        "AzureWebJobsStorage__accountName".into(),
        ctx.names.functions_account.clone(),
    );
    s.insert("RawStorage__blobServiceUri".into(), raw.clone());
    s.insert(
        "RawStorage__queueServiceUri".into(),
        raw.replace(".blob.", ".queue."),
    );
    s.insert(
        "STANDARD_ACCOUNT_URL".into(),
        endpoint(ctx, AccountRole::Standard),
    );
    s.insert(
        "STANDARD_ACCOUNT_NAME".into(),
        ctx.names.standard_account.clone(),
    );
    s.insert(
        "STANDARD_CONTAINER".into(),
        crate::names::STANDARD_CONTAINER.into(),
    );
    s.insert("PARQUET_CODEC".into(), "zstd".into());
    if let Some(cs) = ctx.outputs().app_insights_connection_string {
        s.insert("APPLICATIONINSIGHTS_CONNECTION_STRING".into(), cs);
    }
    s
}

fn site_config(ctx: &Ctx) -> Value {
    let mut config = json!({"ftpsState": "Disabled", "minTlsVersion": "1.2", "scmMinTlsVersion": "1.2", "http20Enabled": true, "linuxFxVersion": ""});
    if ctx.env.plan.always_on() {
        config["alwaysOn"] = json!(true);
    }
    config
}

fn desired_site(ctx: &Ctx) -> Value {
    json!({
        "location": ctx.env.location, "kind": "functionapp,linux", "tags": ctx.tags_json(),
        "identity": {"type": "SystemAssigned"},
        "properties": {"serverFarmId": super::service_plan::id(ctx), "httpsOnly": true, "reserved": true},
    })
}

/// Values that are secrets, or close to it, are never printed.
pub fn shown(key: &str, value: &Value) -> Value {
    let sensitive =
        key.contains("CONNECTION_STRING") || value.as_str().is_some_and(|v| v.contains("sig="));
    if sensitive && !value.is_null() {
        json!("(sensitive)")
    } else {
        value.clone()
    }
}

fn settings_changes(owned: &BTreeMap<String, String>, live: &Map<String, Value>) -> Vec<Change> {
    owned
        .iter()
        .filter(|(k, v)| live.get(*k).and_then(Value::as_str) != Some(v.as_str()))
        .map(|(k, v)| Change {
            property: format!("appSettings.{k}"),
            live: shown(k, live.get(k).unwrap_or(&Value::Null)),
            desired: shown(k, &json!(v)),
        })
        .collect()
}

impl Resource for FunctionApp {
    fn key(&self) -> String {
        "function-app".into()
    }
    fn kind(&self) -> &'static str {
        "function app"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.function_app.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec![
            "service-plan".into(),
            "app-insights".into(),
            AccountRole::Raw.key(),
            AccountRole::Standard.key(),
            AccountRole::Functions.key(),
        ]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            let Some(site) = ctx.azure.get(&path(ctx, "")).await? else {
                return Ok(Live::Absent);
            };
            let (config_path, settings_path) = (
                path(ctx, "/config/web"),
                path(ctx, "/config/appsettings/list"),
            );
            let (config, settings) = futures::try_join!(
                ctx.azure.get(&config_path),
                ctx.azure.post(&settings_path, None)
            )?;
            if let Some(principal) = site
                .pointer("/identity/principalId")
                .and_then(Value::as_str)
            {
                ctx.update(|o| o.site_principal_id = Some(principal.to_string()));
            }
            Ok(Live::Present(
                json!({"site": site, "config": config.map(|c| c["properties"].clone()).unwrap_or_default(), "settings": settings["properties"]}),
            ))
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        let Some(body) = live.body() else {
            return Action::Create;
        };
        let mut changes = Vec::new();
        diff_owned(&desired_site(ctx), &body["site"], "", &mut changes);
        changes.extend(failed_state(&body["site"]));
        diff_owned(
            &site_config(ctx),
            &body["config"],
            "siteConfig",
            &mut changes,
        );
        let live_settings = body["settings"].as_object().cloned().unwrap_or_default();
        let owned = owned_settings(ctx);
        changes.extend(settings_changes(&owned, &live_settings));
        let foreign: Vec<&String> = live_settings
            .keys()
            .filter(|k| !owned.contains_key(*k) && !PACKAGE_SETTINGS.contains(&k.as_str()))
            .collect();
        if !foreign.is_empty() {
            let note = format!(
                "function app {} has app settings provision does not own (kept): {}",
                ctx.names.function_app,
                foreign
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            ctx.update(|o| {
                if !o.notices.contains(&note) {
                    o.notices.push(note.clone())
                }
            });
        }
        if changes.is_empty() {
            Action::Noop
        } else {
            Action::Update { changes }
        }
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let owned = owned_settings(ctx);
            let mut site = desired_site(ctx);
            site["tags"] = merged_tags(
                ctx,
                &match live.body() {
                    Some(b) => Live::Present(b["site"].clone()),
                    None => Live::Absent,
                },
            );
            site["properties"]["clientAffinityEnabled"] = json!(false);
            site["properties"]["siteConfig"] = site_config(ctx);
            let site_drifted = match live.body() {
                None => true,
                Some(body) => {
                    let mut c = Vec::new();
                    diff_owned(&desired_site(ctx), &body["site"], "", &mut c);
                    c.extend(failed_state(&body["site"]));
                    diff_owned(&site_config(ctx), &body["config"], "siteConfig", &mut c);
                    !c.is_empty()
                }
            };
            if live.body().is_none() {
                // A new site has no settings to lose: they go in with the create.
                site["properties"]["siteConfig"]["appSettings"] = json!(owned
                    .iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect::<Vec<_>>());
            }
            if site_drifted {
                let created = ctx.azure.put(&path(ctx, ""), &site).await?;
                let principal = created
                    .pointer("/identity/principalId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ResourceError::Other(
                            "the function app came back without identity.principalId".into(),
                        )
                    })?;
                ctx.update(|o| o.site_principal_id = Some(principal.to_string()));
            }
            if let Some(body) = live.body() {
                let mut merged = body["settings"].as_object().cloned().unwrap_or_default();
                if settings_changes(&owned, &merged).is_empty() {
                    return Ok(());
                }
                for (k, v) in &owned {
                    merged.insert(k.clone(), json!(v));
                }
                let settings: BTreeMap<String, String> = merged
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                    .collect();
                ctx.azure
                    .put(&path(ctx, "/config/appsettings"),
                        &crate::arm::models::app_settings(&settings),
                    )
                    .await?;
            }
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let site = match live.body() {
                Some(b) => Live::Present(b["site"].clone()),
                None => return Ok(true),
            };
            if !is_ours(ctx, &site) {
                return Ok(false);
            }
            ctx.azure
                .delete(&format!(
                    "{}?api-version={WEB}&deleteEmptyServerFarm=false",
                    id(ctx)
                ))
                .await?;
            Ok(true)
        })
    }
}

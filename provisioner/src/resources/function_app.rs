//! The Linux function app: system-assigned identity, hardened config, and the app settings we own.
//! App settings are merged, never replaced: keys others set are reported and kept, and the package
//! setting belongs to `function_package`, which gets the settings this file read through outputs.
//! Bodies come from azure_mgmt_web's `Site`/`SiteConfig`/`NameValuePair` (see `web_body`).
//!
//! The site is PUT whole only to create it. A PUT whose `siteConfig` lacks `appSettings` drops
//! every setting (azure-cli#11718, azure-functions-host#8189), so an existing site is PATCHed, its
//! config PATCHed through `config/web`, and the settings written through `config/appsettings` only.
//!
//! On Flex Consumption (FC1) the site carries `functionAppConfig` (deployment container, runtime,
//! scale), which the site PATCH body (`SitePatchResource`) does not have: a Flex site that differs
//! is PUT whole, its live settings merged with ours inside `siteConfig.appSettings` so none is
//! lost. Nothing Flex rejects (`flex::REJECTED_SETTINGS`, `flex::REJECTED_SITE_CONFIG`, `reserved`)
//! is ever sent to it.

use super::compare::{diff_owned, failed_state, is_ours, merged_tags};
use super::flex::{self, is_flex};
use super::storage_account::AccountRole;
use super::storage_container::Container;
use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use crate::arm::versions::WEB;
use azure_mgmt_web::package_2024_04::models as web;
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

pub fn path(ctx: &Ctx, suffix: &str) -> String {
    format!("{}{suffix}?api-version={WEB}", id(ctx))
}

fn endpoint(ctx: &Ctx, inputs: &Outputs, role: AccountRole) -> String {
    inputs
        .blob_endpoints
        .get(&role)
        .cloned()
        .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", role.account_name(ctx)))
        .trim_end_matches('/')
        .to_string()
}

/// The settings provision owns, with their values: identity-based connections, no keys. On Flex
/// the runtime is `functionAppConfig.runtime`, and the host version is the platform's.
pub fn owned_settings(ctx: &Ctx, inputs: &Outputs) -> BTreeMap<String, String> {
    let raw = endpoint(ctx, inputs, AccountRole::Raw);
    let mut s = BTreeMap::new();
    if !is_flex(ctx) {
        s.insert("FUNCTIONS_EXTENSION_VERSION".into(), "~4".into());
        s.insert("FUNCTIONS_WORKER_RUNTIME".into(), "custom".into());
    }
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
        endpoint(ctx, inputs, AccountRole::Standard),
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
    if let Some(cs) = &inputs.app_insights_connection_string {
        s.insert("APPLICATIONINSIGHTS_CONNECTION_STRING".into(), cs.clone());
    }
    s
}

/// Request bodies from azure_mgmt_web 0.21. Its `ManagedServiceIdentity.type`, `SiteConfig`'s
/// `ftpsState`, `minTlsVersion` and `scmMinTlsVersion` fields serialize through quick-xml's
/// `text_content` helper, which turns them into `{"$text": "..."}` objects in JSON; those four are
/// left unset in the model and written from the model's own enums (docs/decisions.md).
mod web_body {
    use super::web;
    use crate::arm::models::without_nulls;
    use serde_json::Value;

    fn enum_text<T: serde::Serialize>(value: T) -> Value {
        serde_json::to_value(value).unwrap_or(Value::Null)
    }

    pub struct SiteSpec<'a> {
        pub location: &'a str,
        pub tags: Option<Value>,
        pub server_farm_id: String,
        /// Create-time fields: client affinity off, the config and the settings go in with the PUT.
        pub config: Option<Value>,
        /// Flex Consumption: the site's `functionAppConfig`; then no `reserved` (Flex lists
        /// `isReserved` as not valid; the plan says Linux).
        pub flex: Option<Value>,
    }

    pub fn site(spec: SiteSpec) -> Value {
        let mut resource = web::Resource::new(spec.location.to_string());
        resource.kind = Some("functionapp,linux".into());
        resource.tags = spec.tags;
        let mut site = web::Site::new(resource);
        site.identity = Some(web::ManagedServiceIdentity::new());
        site.properties = Some(web::site::Properties {
            server_farm_id: Some(spec.server_farm_id),
            https_only: Some(true),
            reserved: spec.flex.is_none().then_some(true),
            client_affinity_enabled: spec.config.as_ref().map(|_| false),
            ..Default::default()
        });
        let mut body = without_nulls(serde_json::to_value(site).unwrap_or_default());
        body["identity"]["type"] = enum_text(web::managed_service_identity::Type::SystemAssigned);
        if let Some(config) = spec.config {
            body["properties"]["siteConfig"] = config;
        }
        if let Some(function_app_config) = spec.flex {
            body["properties"]["functionAppConfig"] = function_app_config;
        }
        body
    }

    /// How the plan shapes the site config: alwaysOn on dedicated plans; on Flex none of
    /// `linuxFxVersion`, `ftpsState`, `alwaysOn` (it answers 400 for each).
    #[derive(Clone, Copy)]
    pub struct Hosting {
        pub always_on: bool,
        pub flex: bool,
    }

    pub fn config(hosting: Hosting, settings: &[(String, String)]) -> Value {
        use web::site_config::{FtpsState, MinTlsVersion, ScmMinTlsVersion};
        let config = web::SiteConfig {
            http20_enabled: Some(true),
            linux_fx_version: (!hosting.flex).then(String::new),
            always_on: (hosting.always_on && !hosting.flex).then_some(true),
            app_settings: settings
                .iter()
                .map(|(name, value)| web::NameValuePair {
                    name: Some(name.clone()),
                    value: Some(value.clone()),
                })
                .collect(),
            ..Default::default()
        };
        let mut body = without_nulls(serde_json::to_value(config).unwrap_or_default());
        if !hosting.flex {
            body["ftpsState"] = enum_text(FtpsState::Disabled);
        }
        body["minTlsVersion"] = enum_text(MinTlsVersion::N1_2);
        body["scmMinTlsVersion"] = enum_text(ScmMinTlsVersion::N1_2);
        body
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        /// Why four fields are written by hand: the model's own serialization of them is not the
        /// JSON ARM takes. When the crate fixes this, this test fails and the workaround can go.
        #[test]
        fn the_model_wraps_text_content_fields_in_an_object() {
            let mut identity = web::ManagedServiceIdentity::new();
            identity.type_ = Some(web::managed_service_identity::Type::SystemAssigned);
            assert_eq!(
                serde_json::to_value(identity).ok(),
                Some(json!({"type": {"$text": "SystemAssigned"}}))
            );
            let config = web::SiteConfig {
                ftps_state: Some(web::site_config::FtpsState::Disabled),
                ..Default::default()
            };
            let body = without_nulls(serde_json::to_value(config).unwrap_or_default());
            assert_eq!(body["ftpsState"], json!({"$text": "Disabled"}));
        }

        #[test]
        fn site_and_config_bodies_have_the_arm_shapes() {
            let farm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/p";
            let created = site(SiteSpec {
                location: "westeurope",
                tags: Some(json!({"environment": "dev"})),
                server_farm_id: farm.into(),
                config: Some(config(DEDICATED, &[("A".into(), "1".into())])),
                flex: None,
            });
            assert_eq!(
                created,
                json!({
                    "location": "westeurope", "kind": "functionapp,linux", "tags": {"environment": "dev"},
                    "identity": {"type": "SystemAssigned"},
                    "properties": {
                        "serverFarmId": farm, "reserved": true, "clientAffinityEnabled": false, "httpsOnly": true,
                        "siteConfig": {
                            "linuxFxVersion": "", "appSettings": [{"name": "A", "value": "1"}], "alwaysOn": true,
                            "http20Enabled": true, "minTlsVersion": "1.2", "scmMinTlsVersion": "1.2", "ftpsState": "Disabled"
                        }
                    }
                })
            );
            let compared = config(
                Hosting {
                    always_on: false,
                    flex: false,
                },
                &[],
            );
            assert_eq!(
                compared,
                json!({"linuxFxVersion": "", "http20Enabled": true, "minTlsVersion": "1.2", "scmMinTlsVersion": "1.2", "ftpsState": "Disabled"})
            );
        }

        const DEDICATED: Hosting = Hosting {
            always_on: true,
            flex: false,
        };

        /// A Flex site: functionAppConfig in, and nothing Flex answers 400 for.
        #[test]
        fn a_flex_site_sends_function_app_config_and_nothing_flex_rejects() {
            let farm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/p";
            let fac = json!({"runtime": {"name": "custom", "version": "1.0"}});
            let flex = Hosting {
                always_on: true,
                flex: true,
            };
            let created = site(SiteSpec {
                location: "westeurope",
                tags: None,
                server_farm_id: farm.into(),
                config: Some(config(flex, &[("A".into(), "1".into())])),
                flex: Some(fac.clone()),
            });
            assert_eq!(
                created,
                json!({
                    "location": "westeurope", "kind": "functionapp,linux",
                    "identity": {"type": "SystemAssigned"},
                    "properties": {
                        "serverFarmId": farm, "clientAffinityEnabled": false, "httpsOnly": true,
                        "functionAppConfig": fac,
                        "siteConfig": {
                            "appSettings": [{"name": "A", "value": "1"}],
                            "http20Enabled": true, "minTlsVersion": "1.2", "scmMinTlsVersion": "1.2"
                        }
                    }
                })
            );
            for rejected in crate::resources::flex::REJECTED_SITE_CONFIG {
                assert!(
                    created["properties"]["siteConfig"].get(*rejected).is_none(),
                    "{rejected}"
                );
            }
        }
    }
}

fn hosting(ctx: &Ctx) -> web_body::Hosting {
    web_body::Hosting {
        always_on: super::service_plan::always_on(ctx.env.plan),
        flex: is_flex(ctx),
    }
}

fn flex_config(ctx: &Ctx, inputs: &Outputs) -> Option<Value> {
    is_flex(ctx).then(|| flex::function_app_config(ctx, inputs))
}

/// The site as compared with what is live (create-time fields left out).
fn desired_site(ctx: &Ctx, inputs: &Outputs) -> Value {
    web_body::site(web_body::SiteSpec {
        location: &ctx.env.location,
        tags: Some(ctx.tags_json()),
        server_farm_id: super::service_plan::id(ctx),
        config: None,
        flex: flex_config(ctx, inputs),
    })
}

fn desired_config(ctx: &Ctx) -> Value {
    web_body::config(hosting(ctx), &[])
}

/// What is written to the settings: on Flex, never a setting it rejects.
fn sendable(ctx: &Ctx, mut settings: BTreeMap<String, String>) -> BTreeMap<String, String> {
    if is_flex(ctx) {
        settings.retain(|k, _| !flex::REJECTED_SETTINGS.contains(&k.as_str()));
    }
    settings
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

fn settings_changes(
    owned: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> Vec<Change> {
    owned
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| Change {
            property: format!("appSettings.{k}"),
            live: shown(k, &live.get(k).map_or(Value::Null, |l| json!(l))),
            desired: shown(k, &json!(v)),
        })
        .collect()
}

/// Site and config changes (not settings).
fn site_changes(ctx: &Ctx, inputs: &Outputs, body: &Value) -> Vec<Change> {
    let mut changes = site_only_changes(ctx, inputs, body);
    changes.extend(config_changes(ctx, body));
    changes
}

fn site_only_changes(ctx: &Ctx, inputs: &Outputs, body: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_owned(&desired_site(ctx, inputs), &body["site"], "", &mut changes);
    changes.extend(failed_state(&body["site"]));
    changes
}

fn config_changes(ctx: &Ctx, body: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_owned(
        &desired_config(ctx),
        &body["config"],
        "siteConfig",
        &mut changes,
    );
    changes
}

/// App settings as strings (a StringDictionary's `properties`).
pub fn settings_map(properties: &Value) -> BTreeMap<String, String> {
    properties
        .as_object()
        .map(Map::iter)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn live_settings(body: &Value) -> BTreeMap<String, String> {
    settings_map(&body["settings"])
}

/// A Flex site that differs is PUT whole: `functionAppConfig` has no PATCH, and a PUT without
/// `appSettings` would drop them, so the live settings go in, ours over them.
async fn put_flex_site(
    ctx: &Ctx,
    inputs: &Outputs,
    body: &Value,
    live_site: &Live,
) -> Result<Applied> {
    let mut merged = live_settings(body);
    merged.extend(owned_settings(ctx, inputs));
    let merged = sendable(ctx, merged);
    let settings: Vec<(String, String)> = merged.clone().into_iter().collect();
    let site = web_body::site(web_body::SiteSpec {
        location: &ctx.env.location,
        tags: Some(merged_tags(ctx, live_site)),
        server_farm_id: super::service_plan::id(ctx),
        config: Some(web_body::config(hosting(ctx), &settings)),
        flex: flex_config(ctx, inputs),
    });
    let written = ctx.azure.put(&path(ctx, ""), &site).await?;
    let outputs = Outputs {
        site_principal_id: written
            .pointer("/identity/principalId")
            .or_else(|| body.pointer("/site/identity/principalId"))
            .and_then(Value::as_str)
            .map(str::to_string),
        app_settings: Some(merged),
        ..Default::default()
    };
    Ok(outputs.into())
}

impl Resource for FunctionApp {
    fn key(&self) -> Key {
        Key::FunctionApp
    }
    fn kind(&self) -> &'static str {
        "function app"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.function_app.clone()
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![
            Key::ServicePlan,
            Key::AppInsights,
            // Flex's deployment container must exist when the site is created.
            Key::Container(Container::Packages),
            AccountRole::Raw.key(),
            AccountRole::Standard.key(),
            AccountRole::Functions.key(),
        ]
    }
    fn contained_in(&self) -> Option<Key> {
        Some(Key::ResourceGroup)
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            // All three at once: the site's children answer 404 when it is absent, and then
            // only the site's own answer counts.
            let (site_path, config_path, settings_path) = (
                path(ctx, ""),
                path(ctx, "/config/web"),
                path(ctx, "/config/appsettings/list"),
            );
            let (site, config, settings) = futures::join!(
                ctx.azure.get(&site_path),
                ctx.azure.get(&config_path),
                ctx.azure.post(&settings_path, None)
            );
            let Some(site) = site? else {
                return Ok(Read::absent());
            };
            let (config, settings) = (config?, settings?);
            let outputs = Outputs {
                site_principal_id: site
                    .pointer("/identity/principalId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                app_settings: Some(settings_map(&settings["properties"])),
                ..Default::default()
            };
            Ok(Read {
                live: Live::Present(json!({
                    "site": site,
                    "config": config.map(|c| c["properties"].clone()).unwrap_or_default(),
                    "settings": settings["properties"],
                })),
                outputs,
            })
        })
    }
    fn diff(&self, ctx: &Ctx, inputs: &Outputs, live: &Live) -> Diff {
        let Some(body) = live.body() else {
            return Action::Create.into();
        };
        let mut changes = site_changes(ctx, inputs, body);
        let live_settings = live_settings(body);
        let owned = owned_settings(ctx, inputs);
        changes.extend(settings_changes(&owned, &live_settings));
        let foreign: Vec<&str> = live_settings
            .keys()
            .map(String::as_str)
            .filter(|k| !owned.contains_key(*k) && !PACKAGE_SETTINGS.contains(k))
            .collect();
        let notices = if foreign.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "function app {} has app settings provision does not own (kept): {}",
                ctx.names.function_app,
                foreign.join(", ")
            )]
        };
        Diff {
            action: Action::from_changes(changes),
            notices,
        }
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            let owned = owned_settings(ctx, inputs);
            let live_site = match live.body() {
                Some(b) => Live::Present(b["site"].clone()),
                None => Live::Absent,
            };
            let mut outputs = Outputs::default();
            if let Some(body) = live.body() {
                if is_flex(ctx) && !site_changes(ctx, inputs, body).is_empty() {
                    return put_flex_site(ctx, inputs, body, &live_site).await;
                }
                if !site_only_changes(ctx, inputs, body).is_empty() {
                    let patch = web_body::site(web_body::SiteSpec {
                        location: &ctx.env.location,
                        tags: Some(merged_tags(ctx, &live_site)),
                        server_farm_id: super::service_plan::id(ctx),
                        config: None,
                        flex: None,
                    });
                    let patched = ctx.azure.patch(&path(ctx, ""), &patch).await?;
                    outputs.site_principal_id = patched
                        .pointer("/identity/principalId")
                        .or_else(|| body.pointer("/site/identity/principalId"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                if !config_changes(ctx, body).is_empty() {
                    ctx.azure
                        .patch(
                            &path(ctx, "/config/web"),
                            &json!({"properties": desired_config(ctx)}),
                        )
                        .await?;
                }
            } else {
                // A new site has no settings to lose: they go in with the create.
                let create_settings: Vec<(String, String)> =
                    sendable(ctx, owned.clone()).into_iter().collect();
                let body = web_body::site(web_body::SiteSpec {
                    location: &ctx.env.location,
                    tags: Some(merged_tags(ctx, &live_site)),
                    server_farm_id: super::service_plan::id(ctx),
                    config: Some(web_body::config(hosting(ctx), &create_settings)),
                    flex: flex_config(ctx, inputs),
                });
                let created = ctx.azure.put(&path(ctx, ""), &body).await?;
                let principal = created
                    .pointer("/identity/principalId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ResourceError::Other(
                            "the function app came back without identity.principalId".into(),
                        )
                    })?;
                outputs.site_principal_id = Some(principal.to_string());
            }
            if let Some(body) = live.body() {
                let mut merged = live_settings(body);
                if settings_changes(&owned, &merged).is_empty() {
                    return Ok(outputs.into());
                }
                merged.extend(owned);
                let merged = sendable(ctx, merged);
                let written = ctx
                    .azure
                    .put(
                        &path(ctx, "/config/appsettings"),
                        &crate::arm::models::app_settings(&merged),
                    )
                    .await?;
                // What ARM answered is what the package step merges into; else it lists them.
                outputs.app_settings = written
                    .get("properties")
                    .filter(|p| p.is_object())
                    .map(settings_map);
            }
            Ok(outputs.into())
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move {
            let site = match live.body() {
                Some(b) => Live::Present(b["site"].clone()),
                None => return Ok(Deletion::Deleted),
            };
            if !is_ours(ctx, &site) {
                return Ok(Deletion::not_ours());
            }
            ctx.azure
                .delete(&format!(
                    "{}?api-version={WEB}&deleteEmptyServerFarm=false",
                    id(ctx)
                ))
                .await?;
            Ok(Deletion::Deleted)
        })
    }
}

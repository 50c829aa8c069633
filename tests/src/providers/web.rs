//! Microsoft.Web: App Service plans and Linux function apps — system-assigned identity (a new
//! principal), app settings (PUT replaces, POST list reads), site config, host keys, trigger sync.
//! Whatever changes what a site runs is recorded for the emulated Functions host (`state::notices`).
//!
//! App Service's own awkwardness, each behind its switch: a write leaves the site or plan busy
//! for a while (409 `Conflict` "another operation is in progress"), restarts the Functions host
//! (`listkeys` and `syncfunctiontriggers` answer 400 "Encountered an error (ServiceUnavailable)
//! from host runtime." until it is up: azure-functions-core-tools#3008, azure-cli#20892), and a
//! site PUT whose `siteConfig` lacks `appSettings` drops the settings (azure-cli#11718,
//! azure-functions-host#8189). App Service answers errors in its own shape: top-level
//! `Code`/`Message`.
//!
//! Flex Consumption (FC1) sites are modelled by default (`flex`): `functionAppConfig`, the
//! settings and properties Flex refuses, One Deploy, and the regions that offer FC1.

mod app_service;
mod flex;
pub use flex::{deployment_of as flex_deployment, RELEASED_PACKAGE};

use crate::arm::path::ResourcePath;
use crate::arm::{self, lro, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{lock, Shared};
use crate::state::{DirectoryObject, Resource};
use app_service::{busy, host_starting, require_site, written, PLAN, SITE};
use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

const PLAN_SKUS: &[(&str, &str)] = &[
    ("B1", "Basic"),
    ("B2", "Basic"),
    ("B3", "Basic"),
    ("S1", "Standard"),
    ("P1v3", "PremiumV3"),
    ("Y1", "Dynamic"),
    ("EP1", "ElasticPremium"),
    ("EP2", "ElasticPremium"),
    ("EP3", "ElasticPremium"),
    ("FC1", "FlexConsumption"),
];

pub async fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let names = parsed.names();
    match (types.as_slice(), action.as_deref()) {
        (["serverfarms"], None) => plan(state, req, parsed),
        (["sites"], None) => site(state, req, parsed).await,
        (["sites"], Some("syncfunctiontriggers")) => {
            let site = require_site(state, parsed)?;
            if let Some(refused) = host_starting(state, &site.id) {
                return Ok(refused);
            }
            state.notices.site_changed(&site.id);
            arm::empty(StatusCode::NO_CONTENT)
        }
        (["sites"], Some("restart")) => {
            let site = require_site(state, parsed)?;
            if let Some(refused) = busy(state, &site.id, "site") {
                return Ok(refused);
            }
            written(state, &site.id, true);
            state.notices.site_changed(&site.id);
            arm::empty(StatusCode::OK)
        }
        (["sites", "config"], list)
            if names
                .get(1)
                .is_some_and(|n| n.eq_ignore_ascii_case("appsettings")) =>
        {
            app_settings(state, req, parsed, list.is_some())
        }
        (["sites", "config"], None)
            if names.get(1).is_some_and(|n| n.eq_ignore_ascii_case("web")) =>
        {
            site_config(state, req, parsed)
        }
        (["sites", "host"], Some("listkeys")) => {
            let site = require_site(state, parsed)?;
            if let Some(refused) = host_starting(state, &site.id) {
                return Ok(refused);
            }
            host_keys(state, parsed)
        }
        (["sites", "extensions"], None)
            if names
                .get(1)
                .is_some_and(|n| n.eq_ignore_ascii_case("onedeploy")) =>
        {
            flex::one_deploy(state, req, parsed).await
        }
        (["sites", "basicpublishingcredentialspolicies"], None) => {
            publishing_policy(state, req, parsed)
        }
        _ => Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        )),
    }
}

fn plan(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let id = parsed.resource_id(1);
    let name = parsed.names().first().cloned().unwrap_or_default();
    match req.method {
        Method::GET => arm::get_tracked(state, &id, PLAN, parsed),
        Method::DELETE => {
            if let Some(refused) = busy(state, &id, "web hosting plan") {
                return Ok(refused);
            }
            let in_use = lock(&state.cloud).resources.values().any(|r| {
                r.kind == SITE
                    && r.body
                        .pointer("/properties/serverFarmId")
                        .and_then(Value::as_str)
                        .is_some_and(|f| f.eq_ignore_ascii_case(&id))
            });
            if in_use {
                return Err(ArmError::conflict("Conflict", format!("Server farm '{name}' cannot be deleted because it has web app(s) assigned to it.")));
            }
            arm::delete_tracked(state, &id)
        }
        Method::PUT => {
            arm::ensure_no_conflict(state, &id)?;
            if let Some(refused) = busy(state, &id, "web hosting plan") {
                return Ok(refused);
            }
            let body = req.body()?;
            let location = arm::require_location(body)?;
            let tags = arm::validate_tags(body)?;
            let sku_name = body
                .pointer("/sku/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some((sku, tier)) = PLAN_SKUS
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(sku_name))
            else {
                return Err(ArmError::bad_request(
                    "InvalidSku",
                    format!("The pricing tier '{sku_name}' is not allowed in this resource group."),
                ));
            };
            if let Some(refused) =
                flex::refuse_plan_region(&json!({"sku": {"tier": tier}}), &location)
            {
                return Err(refused);
            }
            let reserved = body
                .pointer("/properties/reserved")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let capacity = body
                .pointer("/sku/capacity")
                .and_then(Value::as_u64)
                .unwrap_or(if *tier == "Dynamic" { 0 } else { 1 });
            let kind = body.get("kind").and_then(Value::as_str).unwrap_or("app");
            let resource = json!({
                "id": id, "name": name, "type": PLAN, "location": location, "tags": tags, "kind": kind,
                "sku": {"name": sku, "tier": tier, "size": sku, "family": sku.trim_end_matches(char::is_numeric), "capacity": capacity},
                "properties": {"reserved": reserved, "status": "Ready", "numberOfSites": 0, "maximumNumberOfWorkers": 3, "geoRegion": location, "perSiteScaling": false, "zoneRedundant": false},
            });
            let secs = state.cfg().latency.plan_create_s;
            let response = arm::put_tracked(state, req, &id, PLAN, resource, Some(secs));
            written(state, &id, false);
            response
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn valid_site_name(name: &str) -> bool {
    (2..=60).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

async fn site(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let id = parsed.resource_id(1);
    let name = parsed.names().first().cloned().unwrap_or_default();
    match req.method {
        Method::GET => arm::get_tracked(state, &id, SITE, parsed),
        Method::DELETE => {
            if lock(&state.cloud).get(&id).is_none() {
                return arm::empty(StatusCode::NOT_FOUND);
            }
            arm::ensure_no_conflict(state, &id)?;
            if let Some(refused) = busy(state, &id, "site") {
                return Ok(refused);
            }
            lro::cascade_delete(state, &id, false).await;
            arm::empty(StatusCode::OK)
        }
        Method::PUT => put_site(state, req, parsed, &id, &name),
        Method::PATCH => patch_site(state, req, parsed, &id),
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn put_site(
    state: &Shared,
    req: &ArmRequest,
    parsed: &ResourcePath,
    id: &str,
    name: &str,
) -> ArmResult {
    if !valid_site_name(name) {
        return Err(ArmError::bad_request(
            "InvalidSiteName",
            format!("The site name '{name}' is invalid: 2-60 letters, digits and hyphens."),
        ));
    }
    arm::ensure_no_conflict(state, id)?;
    if let Some(refused) = busy(state, id, "site") {
        return Ok(refused);
    }
    let body = req.body()?;
    let location = arm::require_location(body)?;
    let tags = arm::validate_tags(body)?;
    let farm = body
        .pointer("/properties/serverFarmId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(plan) = lock(&state.cloud).get(&farm).cloned() else {
        return Err(ArmError::not_found(
            "ServerFarmNotFound",
            format!("The server farm '{farm}' was not found."),
        ));
    };
    let taken =
        lock(&state.cloud).resources.values().any(|r| {
            r.kind == SITE && r.body["name"] == json!(name) && !r.id.eq_ignore_ascii_case(id)
        }) || (state.cfg().behaviours.name_taken_elsewhere(name)
            && lock(&state.cloud).get(id).is_none());
    if taken {
        return Err(ArmError::conflict(
            "Conflict",
            format!("Website with given name {name} already exists."),
        ));
    }
    let existing = lock(&state.cloud).get(id).cloned();
    let mut site_config = body
        .pointer("/properties/siteConfig")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let app_settings = site_config
        .as_object_mut()
        .and_then(|c| c.remove("appSettings"));
    if plan.body.pointer("/sku/tier") == Some(&json!("Dynamic"))
        && site_config.get("alwaysOn") == Some(&json!(true))
    {
        return Err(ArmError::bad_request(
            "BadRequest",
            "Always On is not supported on Consumption (Dynamic) plans.",
        ));
    }
    let flex_site = flex::is_flex_plan(&plan.body);
    if flex_site {
        let setting_names: Vec<String> = app_settings
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        if let Some(refused) = flex::refuse_settings(&setting_names) {
            return Ok(refused);
        }
        if let Some(refused) = flex::refuse_site_config(&site_config) {
            return Ok(refused);
        }
        if let Some(refused) =
            flex::refuse_incomplete(body.pointer("/properties/functionAppConfig"))
        {
            return Ok(refused);
        }
    }
    let principal = identity_for(state, body, existing.as_ref());
    let mut props = existing.as_ref().and_then(|r| r.body.get("properties").cloned()).unwrap_or_else(|| {
        json!({
            "state": "Running", "enabled": true, "usageState": "Normal", "availabilityState": "Normal",
            "defaultHostName": format!("{name}.azurewebsites.net"),
            "hostNames": [format!("{name}.azurewebsites.net")],
            "enabledHostNames": [format!("{name}.azurewebsites.net"), format!("{name}.scm.azurewebsites.net")],
            "hostNameSslStates": [
                {"name": format!("{name}.azurewebsites.net"), "hostType": "Standard", "sslState": "Disabled"},
                {"name": format!("{name}.scm.azurewebsites.net"), "hostType": "Repository", "sslState": "Disabled"}],
            "httpsOnly": false, "clientAffinityEnabled": true, "publicNetworkAccess": "Enabled", "reserved": false,
            "outboundIpAddresses": "127.0.0.1", "possibleOutboundIpAddresses": "127.0.0.1",
        })
    });
    let mut requested = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    if let Some(obj) = requested.as_object_mut() {
        obj.remove("siteConfig");
    }
    arm::merge(&mut props, &requested);
    props["lastModifiedTimeUtc"] = json!(chrono::Utc::now().to_rfc3339());
    props["siteConfig"] = json!({"linuxFxVersion": site_config.get("linuxFxVersion").cloned().unwrap_or(json!("")), "numberOfWorkers": 1});
    if flex_site {
        // As Azure reads a Flex site back: Linux, its sku, the service's additions, and the
        // maximum instance count mirrored into siteConfig.functionAppScaleLimit.
        props["reserved"] = json!(true);
        props["sku"] = json!(flex::TIER);
        flex::as_read(&mut props["functionAppConfig"]);
        let limit = props
            .pointer("/functionAppConfig/scaleAndConcurrency/maximumInstanceCount")
            .cloned()
            .unwrap_or(json!(100));
        props["siteConfig"]["functionAppScaleLimit"] = limit.clone();
        site_config["functionAppScaleLimit"] = limit;
    }
    let mut resource = json!({
        "id": id, "name": name, "type": SITE, "location": location, "tags": tags,
        "kind": body.get("kind").cloned().unwrap_or(json!("app")), "properties": props,
    });
    if let Some((principal_id, tenant)) = principal {
        resource["identity"] =
            json!({"type": "SystemAssigned", "principalId": principal_id, "tenantId": tenant});
    }
    store_site_config(state, id, &site_config, existing.is_none());
    let drops_settings = state.cfg().behaviours.site_put_drops_settings;
    let app_settings = match app_settings {
        // A whole-site PUT replaces siteConfig, settings included (azure-cli#11718).
        None if existing.is_some() && drops_settings => Some(json!([])),
        other => other,
    };
    if let Some(settings) = app_settings {
        let map: Map<String, Value> = settings
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| {
                        Some((
                            i.get("name")?.as_str()?.to_string(),
                            i.get("value").cloned().unwrap_or(json!("")),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        store_app_settings(state, id, Value::Object(map));
    }
    let secs = state.cfg().latency.site_create_s;
    let response = arm::put_tracked(state, req, id, SITE, resource, Some(secs));
    written(state, id, true);
    state.notices.site_changed(id);
    let _ = parsed;
    response
}

/// PATCH: what the body names changes; siteConfig merges; app settings are left alone.
fn patch_site(state: &Shared, req: &ArmRequest, parsed: &ResourcePath, id: &str) -> ArmResult {
    let existing = require_site(state, parsed)?;
    arm::ensure_no_conflict(state, id)?;
    if let Some(refused) = busy(state, id, "site") {
        return Ok(refused);
    }
    let body = req.body()?;
    let mut resource = existing.body.clone();
    if body.get("tags").is_some() {
        resource["tags"] = arm::validate_tags(body)?;
    }
    if body.get("identity").is_some() {
        match identity_for(state, body, Some(&existing)) {
            Some((principal_id, tenant)) => {
                resource["identity"] = json!({"type": "SystemAssigned", "principalId": principal_id, "tenantId": tenant})
            }
            None => {
                if let Some(obj) = resource.as_object_mut() {
                    obj.remove("identity");
                }
            }
        }
    }
    let mut requested = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    if flex::is_flex_site(state, &existing.body) {
        if let Some(refused) = requested
            .get("siteConfig")
            .and_then(flex::refuse_site_config)
        {
            return Ok(refused);
        }
    }
    let site_config = requested
        .as_object_mut()
        .and_then(|p| p.remove("siteConfig"))
        .map(|mut c| {
            if let Some(obj) = c.as_object_mut() {
                obj.remove("appSettings");
            }
            c
        });
    arm::merge(&mut resource["properties"], &requested);
    resource["properties"]["lastModifiedTimeUtc"] = json!(chrono::Utc::now().to_rfc3339());
    if let Some(config) = site_config {
        store_site_config(state, id, &config, false);
    }
    lock(&state.cloud).insert(Resource {
        id: existing.id.clone(),
        kind: SITE.into(),
        body: resource.clone(),
    });
    written(state, id, true);
    state.notices.site_changed(id);
    arm::ok(resource)
}

/// App Service's error shape (not ARM's `error` object).
/// A system-assigned identity is a new service principal, created with the site.
fn identity_for(
    state: &Shared,
    body: &Value,
    existing: Option<&Resource>,
) -> Option<(String, String)> {
    let wants = body
        .pointer("/identity/type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("SystemAssigned"));
    let tenant = state.cfg().tenant_id;
    let current = existing
        .and_then(|r| r.body.pointer("/identity/principalId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    match (wants, current) {
        (true, Some(id)) => Some((id, tenant)),
        (true, None) => {
            let id = uuid::Uuid::new_v4().to_string();
            lock(&state.cloud).directory.insert(id.clone(), DirectoryObject {
                id: id.clone(),
                principal_type: "ServicePrincipal".into(),
                body: json!({"id": id, "servicePrincipalType": "ManagedIdentity", "displayName": body.get("name")}),
                created: Some(Instant::now()),
                members: vec![],
                owners: vec![],
            });
            Some((id, tenant))
        }
        (false, Some(id)) => {
            lock(&state.cloud).directory.remove(&id);
            None
        }
        (false, None) => None,
    }
}

fn store_site_config(state: &Shared, site_id: &str, requested: &Value, fresh: bool) {
    let id = format!("{site_id}/config/web");
    let mut config = lock(&state.cloud).get(&id).map(|r| r.body["properties"].clone()).filter(|_| !fresh).unwrap_or_else(|| {
        json!({"alwaysOn": false, "ftpsState": "AllAllowed", "minTlsVersion": "1.2", "scmMinTlsVersion": "1.2",
               "http20Enabled": false, "use32BitWorkerProcess": true, "linuxFxVersion": "", "numberOfWorkers": 1})
    });
    arm::merge(&mut config, requested);
    let body = json!({"id": id, "name": "web", "type": "Microsoft.Web/sites/config", "properties": config});
    lock(&state.cloud).insert(Resource {
        id,
        kind: "Microsoft.Web/sites/config".into(),
        body,
    });
}

pub fn store_app_settings(state: &Shared, site_id: &str, settings: Value) {
    let id = format!("{site_id}/config/appsettings");
    let body = json!({"id": id, "name": "appsettings", "type": "Microsoft.Web/sites/config", "properties": settings});
    lock(&state.cloud).insert(Resource {
        id,
        kind: "Microsoft.Web/sites/config".into(),
        body,
    });
}

fn app_settings(state: &Shared, req: &ArmRequest, parsed: &ResourcePath, list: bool) -> ArmResult {
    let site = require_site(state, parsed)?;
    let id = format!("{}/config/appsettings", site.id);
    match (req.method.clone(), list) {
        (Method::POST, true) => {
            let settings = lock(&state.cloud).app_settings_of(&site.id);
            arm::ok(
                json!({"id": id, "name": "appsettings", "type": "Microsoft.Web/sites/config", "properties": settings}),
            )
        }
        (Method::PUT, false) => {
            arm::ensure_no_conflict(state, &site.id)?;
            if let Some(refused) = busy(state, &site.id, "site") {
                return Ok(refused);
            }
            let props = req
                .body()?
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if props
                .as_object()
                .is_none_or(|m| m.values().any(|v| !v.is_string()))
            {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    "App settings must be an object of string values.",
                ));
            }
            if flex::is_flex_site(state, &site.body) {
                if let Some(refused) =
                    flex::refuse_settings(props.as_object().into_iter().flat_map(Map::keys))
                {
                    return Ok(refused);
                }
            }
            store_app_settings(state, &site.id, props.clone());
            written(state, &site.id, true);
            state.notices.site_changed(&site.id);
            arm::ok(
                json!({"id": id, "name": "appsettings", "type": "Microsoft.Web/sites/config", "properties": props}),
            )
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn site_config(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let site = require_site(state, parsed)?;
    let id = format!("{}/config/web", site.id);
    match req.method {
        Method::GET => arm::get_tracked(state, &id, "Microsoft.Web/sites/config", parsed),
        Method::PUT | Method::PATCH => {
            if let Some(refused) = busy(state, &site.id, "site") {
                return Ok(refused);
            }
            let mut requested = req
                .body()?
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(obj) = requested.as_object_mut() {
                obj.remove("appSettings");
            }
            if flex::is_flex_site(state, &site.body) {
                if let Some(refused) = flex::refuse_site_config(&requested) {
                    return Ok(refused);
                }
            }
            store_site_config(state, &site.id, &requested, false);
            written(state, &site.id, true);
            state.notices.site_changed(&site.id);
            arm::get_tracked(state, &id, "Microsoft.Web/sites/config", parsed)
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn publishing_policy(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let site = require_site(state, parsed)?;
    let which = parsed.names().get(1).cloned().unwrap_or_default();
    let id = format!("{}/basicPublishingCredentialsPolicies/{which}", site.id);
    match req.method {
        Method::GET => {
            let body = lock(&state.cloud).get(&id).map(|r| r.body.clone());
            arm::ok(
                body.unwrap_or_else(
                    || json!({"id": id, "name": which, "properties": {"allow": true}}),
                ),
            )
        }
        Method::PUT => {
            let allow = req
                .body()?
                .pointer("/properties/allow")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let body = json!({"id": id, "name": which, "type": "Microsoft.Web/sites/basicPublishingCredentialsPolicies", "properties": {"allow": allow}});
            lock(&state.cloud).insert(Resource {
                id,
                kind: "Microsoft.Web/sites/basicPublishingCredentialsPolicies".into(),
                body: body.clone(),
            });
            arm::ok(body)
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn host_keys(state: &Shared, parsed: &ResourcePath) -> ArmResult {
    let site = require_site(state, parsed)?;
    let keys = state.sites.host_keys(&site.id);
    arm::ok(keys)
}

/// `POST /subscriptions/{sub}/providers/Microsoft.Web/checknameavailability`: a site name is
/// global (it becomes `{name}.azurewebsites.net`).
pub fn check_name_availability(
    state: &Shared,
    req: &ArmRequest,
    parsed: &ResourcePath,
) -> ArmResult {
    let crate::arm::path::Target::SubscriptionAction { action, .. } = &parsed.target else {
        return Err(arm::method_not_allowed(req));
    };
    if action.eq_ignore_ascii_case("geoRegions") {
        return flex::geo_regions(req);
    }
    if !action.eq_ignore_ascii_case("checknameavailability") || req.method != Method::POST {
        return Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        ));
    }
    let name = req
        .body()?
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !valid_site_name(&name) {
        return arm::ok(
            json!({"nameAvailable": false, "reason": "Invalid", "message": format!("The site name '{name}' is invalid: 2-60 letters, digits and hyphens.")}),
        );
    }
    let exists = lock(&state.cloud).resources.values().any(|r| {
        r.kind == SITE
            && r.body["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
    });
    if exists || state.cfg().behaviours.name_taken_elsewhere(&name) {
        return arm::ok(
            json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("Hostname '{name}' already exists. Please select a different name.")}),
        );
    }
    arm::ok(json!({"nameAvailable": true}))
}

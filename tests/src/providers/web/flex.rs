//! Flex Consumption (FC1) as App Service serves it: the regions that offer it (`geoRegions?sku=
//! FlexConsumption`), a site's `functionAppConfig`, the app settings and site config properties it
//! refuses, and One Deploy (`sites/{app}/extensions/onedeploy`) from a package URI into the site's
//! deployment container, as `released-package.zip`, which the Functions host then runs.
//! Facts and sources: docs/research/flex-consumption.md.

use super::app_service::{app_service_error, busy, require_site, written, PLAN};
use crate::arm::path::ResourcePath;
use crate::arm::{self, ArmRequest, ArmResult};
use crate::data_plane::{account_scope, role_effective, WRITE_ROLES};
use crate::error::ArmError;
use crate::site_package::fetch_package;
use crate::state::{lock, Resource, Shared};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

pub const TIER: &str = "FlexConsumption";
/// Where One Deploy leaves the package (learn.microsoft.com/azure/azure-functions/
/// functions-infrastructure-as-code, Flex "Deployment package").
pub const RELEASED_PACKAGE: &str = "released-package.zip";

/// The regions that offered FC1 in a Microsoft sample's `@allowed` list
/// (Azure-Samples/mcp-sdk-functions-hosting-python `infra/main.bicep`), as the seed of the list.
const REGIONS: &[(&str, &str)] = &[
    ("australiaeast", "Australia East"),
    ("australiasoutheast", "Australia Southeast"),
    ("brazilsouth", "Brazil South"),
    ("canadacentral", "Canada Central"),
    ("centralindia", "Central India"),
    ("centralus", "Central US"),
    ("eastasia", "East Asia"),
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("francecentral", "France Central"),
    ("germanywestcentral", "Germany West Central"),
    ("italynorth", "Italy North"),
    ("japaneast", "Japan East"),
    ("koreacentral", "Korea Central"),
    ("northcentralus", "North Central US"),
    ("northeurope", "North Europe"),
    ("norwayeast", "Norway East"),
    ("southafricanorth", "South Africa North"),
    ("southcentralus", "South Central US"),
    ("southeastasia", "Southeast Asia"),
    ("southindia", "South India"),
    ("spaincentral", "Spain Central"),
    ("swedencentral", "Sweden Central"),
    ("uaenorth", "UAE North"),
    ("uksouth", "UK South"),
    ("ukwest", "UK West"),
    ("westcentralus", "West Central US"),
    ("westeurope", "West Europe"),
    ("westus", "West US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
];

/// App settings a Flex site answers 400 for. Azure's text is public for one setting
/// (microsoft/vscode-azurefunctions#4142, #4761); a name with `:` gets the same answer
/// (azure-functions-host#11908). FUNCTIONS_EXTENSION_VERSION and WEBSITE_CONTENTSHARE are
/// accepted and ignored; WEBSITE_RUN_FROM_PACKAGE is accepted but fails One Deploy.
const REJECTED_SETTINGS: &[&str] = &[
    "ENABLE_ORYX_BUILD",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_DNS_SERVER",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_VNET_ROUTE_ALL",
];

/// Site config properties a Flex site answers 400 for (azure-cli#31414, azure-functions-host#10643,
/// terraform-azurerm-avm-res-web-site#345; the deprecations list of functions-app-settings).
const REJECTED_SITE_CONFIG: &[&str] = &[
    "alwaysOn",
    "ftpsState",
    "functionAppScaleLimit",
    "functionsRuntimeScaleMonitoringEnabled",
    "javaVersion",
    "linuxFxVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "preWarmedInstanceCount",
    "use32BitWorkerProcess",
    "vnetRouteAllEnabled",
    "windowsFxVersion",
];

/// `GET /subscriptions/{sub}/providers/Microsoft.Web/geoRegions[?sku=...]`: with
/// `sku=FlexConsumption` the regions that offer FC1; without, every region the seed knows.
pub fn geo_regions(req: &ArmRequest) -> ArmResult {
    if req.method != Method::GET {
        return Err(arm::method_not_allowed(req));
    }
    let sku = req.query.get("sku").cloned().unwrap_or_default();
    let known = [
        "",
        "FlexConsumption",
        "Dynamic",
        "Basic",
        "ElasticPremium",
        "Standard",
    ];
    if !known.iter().any(|k| k.eq_ignore_ascii_case(&sku)) {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!("The sku '{sku}' is not a valid value for geoRegions."),
        ));
    }
    let subscription = req.segments.get(1).cloned().unwrap_or_default();
    let value: Vec<Value> = REGIONS
        .iter()
        .map(|(_, display)| {
            json!({
                "id": format!("/subscriptions/{subscription}/providers/Microsoft.Web/geoRegions/{display}"),
                "name": display, "type": "Microsoft.Web/geoRegions",
                "properties": {"description": null, "displayName": display, "orgDomain": "PUBLIC;DYNAMIC;LINUX;FLEXCONSUMPTION"},
            })
        })
        .collect();
    arm::ok(json!({"value": value, "nextLink": null}))
}

pub fn offered_in(location: &str) -> bool {
    let wanted = location.replace(' ', "").to_ascii_lowercase();
    REGIONS.iter().any(|(name, _)| *name == wanted)
}

pub fn is_flex_plan(plan: &Value) -> bool {
    plan.pointer("/sku/tier")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(TIER))
}

/// Whether the site runs on a Flex Consumption plan.
pub fn is_flex_site(state: &Shared, site: &Value) -> bool {
    let farm = site
        .pointer("/properties/serverFarmId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    lock(&state.cloud)
        .get(farm)
        .is_some_and(|p| is_flex_plan(&p.body))
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// 400 for the first app setting Flex refuses (only the one-setting text is public).
pub fn refuse_settings<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<Response> {
    let bad = names
        .into_iter()
        .find(|n| REJECTED_SETTINGS.contains(&n.as_str()) || n.contains(':'))?;
    Some(app_service_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("The following app setting (Site.SiteConfig.AppSettings.{bad}) for Flex Consumption sites is invalid. Please remove or rename it before retrying."),
    ))
}

/// 400 for the site config properties Flex refuses, in Azure's one- and many-property texts.
pub fn refuse_site_config(config: &Value) -> Option<Response> {
    let bad: Vec<String> = config
        .as_object()
        .into_iter()
        .flat_map(Map::keys)
        .filter(|k| {
            REJECTED_SITE_CONFIG
                .iter()
                .any(|r| r.eq_ignore_ascii_case(k))
        })
        .map(|k| format!("Site.SiteConfig.{}", pascal(k)))
        .collect();
    let message = match bad.as_slice() {
        [] => return None,
        [one] => format!("The following site configuration property ({one}) for Flex Consumption sites is invalid.  Please remove or rename it before retrying."),
        many => format!("The following list of {} site configuration properties ({}) for Flex Consumption sites is invalid.  Please remove or rename them before retrying.", many.len(), many.join(", ")),
    };
    Some(app_service_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &message,
    ))
}

/// A Flex site must say where its package is deployed. Azure's text for a missing or incomplete
/// `functionAppConfig` is not public; this one names what is missing.
pub fn refuse_incomplete(function_app_config: Option<&Value>) -> Option<Response> {
    let missing: Vec<&str> = [
        ("/deployment/storage/value", "deployment.storage.value"),
        ("/runtime/name", "runtime.name"),
    ]
    .into_iter()
    .filter(|(p, _)| {
        function_app_config
            .and_then(|c| c.pointer(p))
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    })
    .map(|(_, what)| what)
    .collect();
    (!missing.is_empty()).then(|| {
        app_service_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "Site.FunctionAppConfig is required for Flex Consumption sites; missing: {}.",
                missing.join(", ")
            ),
        )
    })
}

/// What the service adds to a Flex site's `functionAppConfig` when it reads back (a real
/// `az functionapp show`): the update strategy, an empty always-ready list and no triggers.
pub fn as_read(function_app_config: &mut Value) {
    if function_app_config.get("siteUpdateStrategy").is_none() {
        function_app_config["siteUpdateStrategy"] = json!({"type": "Recreate"});
    }
    let scale = &mut function_app_config["scaleAndConcurrency"];
    if scale.get("alwaysReady").is_none() {
        scale["alwaysReady"] = json!([]);
    }
    if scale.get("triggers").is_none() {
        scale["triggers"] = Value::Null;
    }
}

/// `(account, container)` of a deployment container URL, path style or Azure style.
fn container_of(url: &str) -> Option<(String, String)> {
    let url = url::Url::parse(url).ok()?;
    let mut parts = url.path().trim_matches('/').split('/');
    let host = url.host_str()?;
    if host.contains(".blob.") {
        let account = host.split('.').next()?.to_string();
        return Some((account, parts.next()?.to_string()));
    }
    let account = parts.next()?.to_string();
    Some((account, parts.next()?.to_string()))
}

fn deploy_failed(message: &str) -> ArmResult {
    Ok(app_service_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        message,
    ))
}

/// `PUT sites/{app}/extensions/onedeploy` `{"properties": {"packageUri": ...}}`: fetches the
/// package (a SAS, or the site identity's read role), writes it to the deployment container as
/// the site identity, and restarts the host on it. `GET` answers the last deployment's status.
pub async fn one_deploy(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let site = require_site(state, parsed)?;
    let id = format!("{}/extensions/onedeploy", site.id);
    if req.method == Method::GET {
        return match lock(&state.cloud).get(&id) {
            Some(r) => arm::ok(r.body.clone()),
            None => Err(ArmError::not_found(
                "NotFound",
                "No deployment has been made to this site.".to_string(),
            )),
        };
    }
    if req.method != Method::PUT {
        return Err(arm::method_not_allowed(req));
    }
    if let Some(refused) = busy(state, &site.id, "site") {
        return Ok(refused);
    }
    if !is_flex_site(state, &site.body) {
        // The local cloud models One Deploy for Flex sites only (the one plan that needs it).
        return deploy_failed(
            "One Deploy to a deployment container needs a Flex Consumption site.",
        );
    }
    let settings = lock(&state.cloud).app_settings_of(&site.id);
    if settings.contains_key("WEBSITE_RUN_FROM_PACKAGE") {
        // Azure reports this in the deployment's status_text (azure-functions-dotnet-worker#2712);
        // here the PUT fails with it, so the caller sees it.
        return deploy_failed("App setting WEBSITE_RUN_FROM_PACKAGE is not supported for Flex Consumption apps. Remove it and deploy again.");
    }
    let Some(package_uri) = req
        .body()?
        .pointer("/properties/packageUri")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return deploy_failed("properties.packageUri is required.");
    };
    let principal = site
        .body
        .pointer("/identity/principalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let storage = site
        .body
        .pointer("/properties/functionAppConfig/deployment/storage")
        .cloned()
        .unwrap_or_default();
    if storage["authentication"]["type"] != json!("SystemAssignedIdentity") {
        return deploy_failed("The local cloud deploys with deployment.storage.authentication.type SystemAssignedIdentity only.");
    }
    let Some((account, container)) = storage["value"].as_str().and_then(container_of) else {
        return deploy_failed(
            "functionAppConfig.deployment.storage.value is not a blob container URL.",
        );
    };
    let zip = match fetch_package(state, &package_uri, principal.as_deref()).await {
        Ok(zip) => zip,
        Err(e) => {
            return deploy_failed(&format!(
                "Failed to download the package from packageUri: {e}"
            ))
        }
    };
    let Some(scope) = account_scope(state, &account) else {
        return deploy_failed(&format!(
            "The deployment storage account {account} does not exist."
        ));
    };
    let container_scope = format!("{scope}/blobServices/default/containers/{container}");
    if !role_effective(state, principal.as_deref(), &container_scope, WRITE_ROLES) {
        return deploy_failed(&format!("BlobUploadFailedException: uploading the package to {account}/{container} failed: 403 AuthorizationPermissionMismatch (the site identity has no blob write role there yet)."));
    }
    let Some(data) = lock(&state.cloud).accounts.get(&account).cloned() else {
        return deploy_failed(&format!(
            "The deployment storage account {account} has no data plane."
        ));
    };
    let upload = async {
        let key = azure::storage::AccountKey::new(&data.name, &data.key1)?;
        let client = azure::storage::BlobClient::with_http(
            &data.blob_endpoint(),
            azure::storage::BlobAuth::SharedKey(key),
            state.http.clone(),
        )?;
        client
            .put_blob(&container, RELEASED_PACKAGE, zip, "application/zip")
            .await?;
        anyhow::Ok(())
    };
    if let Err(e) = upload.await {
        return deploy_failed(&format!("BlobUploadFailedException: {e}"));
    }
    let deployment = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "id": id, "name": "onedeploy", "type": "Microsoft.Web/sites/extensions",
        "properties": {"id": deployment, "status": 4, "complete": true, "deployer": "OneDeploy",
                       "end_time": chrono::Utc::now().to_rfc3339()},
    });
    lock(&state.cloud).insert(Resource {
        id: id.clone(),
        kind: "Microsoft.Web/sites/extensions".into(),
        body: body.clone(),
    });
    written(state, &site.id, true);
    state.notices.site_changed(&site.id);
    arm::ok(body)
}

/// The deployment a Flex site last received (its id changes with each One Deploy).
pub fn deployment_of(state: &Shared, site_id: &str) -> Option<String> {
    lock(&state.cloud)
        .get(&format!("{site_id}/extensions/onedeploy"))
        .and_then(|r| {
            r.body
                .pointer("/properties/id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// Refuses an FC1 plan where FC1 is not offered. Azure's text for this is not public.
pub fn refuse_plan_region(plan: &Value, location: &str) -> Option<ArmError> {
    (is_flex_plan(plan) && !offered_in(location)).then(|| {
        ArmError::bad_request(
            "LocationNotAvailableForResourceType",
            format!("The SKU FC1 ({TIER}) is not available in location '{location}' for resource type '{PLAN}'."),
        )
    })
}

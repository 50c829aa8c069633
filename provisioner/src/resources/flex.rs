//! What is different when the function app is hosted on Flex Consumption (FC1): where FC1 is
//! offered, the site's `functionAppConfig`, and what must never be sent to a Flex site. Sources
//! for each fact are in docs/research/flex-consumption.md; the choices in docs/decisions.md.

use super::storage_account::AccountRole;
use super::{Ctx, Outputs, ResourceError, Result};
use crate::arm::models::without_nulls;
use crate::arm::versions::WEB;
use crate::env::PlanSku;
use crate::names::PACKAGE_CONTAINER;
use azure_mgmt_web::package_2024_04::models as web;
use serde_json::Value;
use std::sync::Mutex;

/// Whether the environment's function app is hosted on Flex Consumption.
pub fn is_flex(ctx: &Ctx) -> bool {
    ctx.env.plan == PlanSku::FC1
}

/// App settings Flex rejects (400 "The following app setting (Site.SiteConfig.AppSettings.X) for
/// Flex Consumption sites is invalid"), ignores, or that break its One Deploy
/// (WEBSITE_RUN_FROM_PACKAGE): the "Flex Consumption plan deprecations" list of
/// learn.microsoft.com/azure/azure-functions/functions-app-settings. None is ever sent to FC1.
pub const REJECTED_SETTINGS: &[&str] = &[
    "ENABLE_ORYX_BUILD",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_DNS_SERVER",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_VNET_ROUTE_ALL",
];

/// Site config properties Flex answers 400 for ("The following site configuration property
/// (Site.SiteConfig.X) for Flex Consumption sites is invalid"), same source.
pub const REJECTED_SITE_CONFIG: &[&str] = &[
    "alwaysOn",
    "ftpsState",
    "functionAppScaleLimit",
    "javaVersion",
    "linuxFxVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "preWarmedInstanceCount",
    "use32BitWorkerProcess",
    "vnetRouteAllEnabled",
    "windowsFxVersion",
];

/// The runtime version a custom handler declares on Flex: the stacks API's FC1 entry for `custom`
/// (the name is the model's `Name::Custom`).
const CUSTOM_RUNTIME_VERSION: &str = "1.0";

/// The deployment container's URL: the package container of the functions account, which exists
/// before the site (Flex needs it "when the app is created") and belongs to this one app.
pub fn deployment_container(ctx: &Ctx, inputs: &Outputs) -> String {
    format!(
        "{}/{PACKAGE_CONTAINER}",
        ctx.with_outputs(inputs)
            .blob_endpoint(AccountRole::Functions)
            .trim_end_matches('/')
    )
}

/// `properties.functionAppConfig`: the package comes from the deployment container, read by the
/// site's own identity; the custom runtime; the scale the environment file asks for. Built from
/// azure_mgmt_web's model; its three `type`/`name` enum fields go through the same `text_content`
/// helper as the site's four (docs/decisions.md), so they are written from the model's own enums.
pub fn function_app_config(ctx: &Ctx, inputs: &Outputs) -> Value {
    config_body(
        deployment_container(ctx, inputs),
        ctx.env.flex.maximum_instances,
        ctx.env.flex.instance_memory_mb,
    )
}

fn config_body(container: String, maximum_instances: u32, instance_memory_mb: u32) -> Value {
    use web::functions_deployment::storage::{authentication, Authentication, Type as StorageType};
    use web::functions_deployment::Storage;
    use web::functions_runtime::Name;
    let config = web::FunctionAppConfig {
        deployment: Some(web::FunctionsDeployment {
            storage: Some(Storage {
                value: Some(container),
                authentication: Some(Authentication::new()),
                ..Storage::new()
            }),
        }),
        runtime: Some(web::FunctionsRuntime {
            version: Some(CUSTOM_RUNTIME_VERSION.to_string()),
            ..web::FunctionsRuntime::new()
        }),
        scale_and_concurrency: Some(web::FunctionsScaleAndConcurrency {
            maximum_instance_count: i32::try_from(maximum_instances).ok(),
            instance_memory_mb: i32::try_from(instance_memory_mb).ok(),
            ..Default::default()
        }),
    };
    let mut body = without_nulls(serde_json::to_value(config).unwrap_or_default());
    body["deployment"]["storage"]["type"] = model_enum(StorageType::BlobContainer);
    body["deployment"]["storage"]["authentication"]["type"] =
        model_enum(authentication::Type::SystemAssignedIdentity);
    body["runtime"]["name"] = model_enum(Name::Custom);
    body
}

/// A model enum as ARM takes it (its own `Serialize`, a plain string).
fn model_enum<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Region names as the CLI compares them: lower case, no spaces ("West Europe" = westeurope).
fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

static REGIONS: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// The regions that offer FC1, from `ListGeoRegions` with `sku=FlexConsumption`; asked once per run.
async fn flex_regions(ctx: &Ctx) -> Result<Vec<String>> {
    if let Some(cached) = REGIONS.lock().ok().and_then(|r| r.clone()) {
        return Ok(cached);
    }
    let path = format!(
        "{}/providers/Microsoft.Web/geoRegions?sku=FlexConsumption&api-version={WEB}",
        ctx.subscription_path()
    );
    let listing = ctx.azure.get(&path).await?.unwrap_or_default();
    let mut regions: Vec<String> = listing["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(normalized))
        .collect();
    regions.sort();
    regions.dedup();
    if let Ok(mut cache) = REGIONS.lock() {
        *cache = Some(regions.clone());
    }
    Ok(regions)
}

/// Refuses a region where Flex Consumption is not offered, naming the ones where it is.
pub async fn check_region(ctx: &Ctx) -> Result<()> {
    let regions = flex_regions(ctx).await?;
    refuse_unless_offered(&ctx.env.location, &regions)
}

fn refuse_unless_offered(location: &str, regions: &[String]) -> Result<()> {
    if regions.iter().any(|r| *r == normalized(location)) {
        return Ok(());
    }
    Err(ResourceError::Other(format!(
        "Flex Consumption (FC1) is not offered in `{location}`; set `location` in the environment file to one of: {} (Azure's list for this subscription), or use another [plan] sku. Nothing was sent.",
        if regions.is_empty() { "(none listed)".to_string() } else { regions.join(", ") }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_region_is_matched_as_the_cli_matches_it_and_refused_with_the_list() {
        let regions = vec!["eastus".to_string(), "westeurope".to_string()];
        assert!(refuse_unless_offered("westeurope", &regions).is_ok());
        assert!(refuse_unless_offered("West Europe", &regions).is_ok());
        let refused = refuse_unless_offered("uksouth", &regions)
            .expect_err("not offered")
            .to_string();
        assert!(refused.contains("`uksouth`"), "{refused}");
        assert!(refused.contains("eastus, westeurope"), "{refused}");
        assert_eq!(normalized("Sweden Central"), "swedencentral");
    }

    #[test]
    fn function_app_config_has_the_shape_flex_takes() {
        let url = "https://stfn.blob.core.windows.net/packages";
        assert_eq!(
            config_body(url.to_string(), 40, 2048),
            json!({
                "deployment": {"storage": {"type": "blobContainer", "value": url,
                    "authentication": {"type": "SystemAssignedIdentity"}}},
                "runtime": {"name": "custom", "version": "1.0"},
                "scaleAndConcurrency": {"maximumInstanceCount": 40, "instanceMemoryMB": 2048},
            })
        );
    }
}

//! The Linux App Service plan (B1 by default, as the original; Y1 and EP1 accepted). What each sku
//! means on the wire — tier, plan kind, Linux, and whether the site needs alwaysOn — is decided
//! here and nowhere else; the environment file only names the sku.

use super::tracked::{self, TrackedKind};
use super::{Ctx, Key};
use crate::arm::models::without_nulls;
use crate::arm::versions::WEB;
use crate::env::PlanSku;
use azure_mgmt_web::package_2024_04::models as web;
use serde_json::Value;

pub struct ServicePlan;

/// The plan's ARM id, which the site names as its server farm.
pub fn id(ctx: &Ctx) -> String {
    tracked::id(ctx, &ServicePlan)
}

/// The pricing tier ARM pairs with the sku name.
fn tier(sku: PlanSku) -> &'static str {
    match sku {
        PlanSku::B1 => "Basic",
        PlanSku::Y1 => "Dynamic",
        PlanSku::EP1 => "ElasticPremium",
    }
}

/// The plan's `kind`: a dedicated Linux plan, or a Functions plan.
fn plan_kind(sku: PlanSku) -> &'static str {
    match sku {
        PlanSku::B1 => "linux",
        PlanSku::Y1 | PlanSku::EP1 => "functionapp",
    }
}

/// Dedicated plans need alwaysOn for non-HTTP triggers; Consumption and Premium reject or ignore it.
pub fn always_on(sku: PlanSku) -> bool {
    matches!(sku, PlanSku::B1)
}

/// The plan body from azure_mgmt_web's `AppServicePlan` (`reserved` = Linux).
fn body(location: &str, sku: PlanSku) -> Value {
    let mut resource = web::Resource::new(location.to_string());
    resource.kind = Some(plan_kind(sku).to_string());
    let mut plan = web::AppServicePlan::new(resource);
    plan.sku = Some(web::SkuDescription {
        name: Some(sku.name().to_string()),
        tier: Some(tier(sku).to_string()),
        ..Default::default()
    });
    plan.properties = Some(web::app_service_plan::Properties {
        reserved: Some(true),
        ..Default::default()
    });
    without_nulls(serde_json::to_value(plan).unwrap_or_default())
}

impl TrackedKind for ServicePlan {
    fn key(&self) -> Key {
        Key::ServicePlan
    }
    fn kind(&self) -> &'static str {
        "app service plan"
    }
    fn resource_type(&self) -> &'static str {
        "Microsoft.Web/serverfarms"
    }
    fn api_version(&self) -> &'static str {
        WEB
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.plan.clone()
    }
    fn desired(&self, ctx: &Ctx) -> Value {
        body(&ctx.env.location, ctx.env.plan)
    }
    /// Azure echoes a plan's kind in more than one spelling.
    fn sent_only(&self) -> &'static [&'static str] {
        &["kind"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_sku_goes_on_the_wire_with_its_tier_kind_and_linux_flag() {
        assert_eq!(
            body("westeurope", PlanSku::B1),
            json!({"location": "westeurope", "kind": "linux", "sku": {"name": "B1", "tier": "Basic"}, "properties": {"reserved": true}})
        );
        assert_eq!(
            body("westeurope", PlanSku::Y1),
            json!({"location": "westeurope", "kind": "functionapp", "sku": {"name": "Y1", "tier": "Dynamic"}, "properties": {"reserved": true}})
        );
        assert_eq!(
            body("northeurope", PlanSku::EP1),
            json!({"location": "northeurope", "kind": "functionapp", "sku": {"name": "EP1", "tier": "ElasticPremium"}, "properties": {"reserved": true}})
        );
        assert!(always_on(PlanSku::B1));
        assert!(!always_on(PlanSku::Y1) && !always_on(PlanSku::EP1));
    }
}

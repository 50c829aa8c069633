//! The Linux App Service plan (B1 by default, as the original; FC1, Y1 and EP1 accepted). What each
//! sku means on the wire — tier, plan kind, Linux, and whether the site needs alwaysOn — is decided
//! here and nowhere else; the environment file only names the sku. An FC1 plan is refused, before
//! anything is written, in a region that does not offer Flex Consumption; a Y1 plan is reminded of
//! its retirement on every plan, up and drift.

use super::tracked::{self, TrackedKind};
use super::{Ctx, Key, Result};
use crate::arm::models::without_nulls;
use crate::arm::versions::WEB;
use crate::env::PlanSku;
use azure_mgmt_web::package_2024_04::models as web;
use futures::future::BoxFuture;
use serde_json::Value;

/// The plan: one tracked resource like any other (`Tracked(PlanKind)`).
pub struct PlanKind;

/// The plan's ARM id, which the site names as its server farm.
pub fn id(ctx: &Ctx) -> String {
    tracked::id(ctx, &PlanKind)
}

/// The pricing tier ARM pairs with the sku name.
fn tier(sku: PlanSku) -> &'static str {
    match sku {
        PlanSku::B1 => "Basic",
        PlanSku::Y1 => "Dynamic",
        PlanSku::EP1 => "ElasticPremium",
        PlanSku::FC1 => "FlexConsumption",
    }
}

/// The plan's `kind`: a dedicated Linux plan, or a Functions plan.
fn plan_kind(sku: PlanSku) -> &'static str {
    match sku {
        PlanSku::B1 => "linux",
        PlanSku::Y1 | PlanSku::EP1 | PlanSku::FC1 => "functionapp",
    }
}

/// Dedicated plans need alwaysOn for non-HTTP triggers; Consumption, Flex and Premium reject or
/// ignore it.
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

impl TrackedKind for PlanKind {
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
    /// An FC1 region is checked on the first plan, before the resource group exists.
    fn read_without_group(&self) -> bool {
        true
    }
    fn before_read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if super::flex::is_flex(ctx) {
                super::flex::check_region(ctx).await?;
            }
            Ok(())
        })
    }
    /// The environment file's warnings (Y1's retirement) on every plan, up and drift.
    fn notices(&self, ctx: &Ctx) -> Vec<String> {
        ctx.env.warnings.clone()
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
        assert_eq!(
            body("westeurope", PlanSku::FC1),
            json!({"location": "westeurope", "kind": "functionapp", "sku": {"name": "FC1", "tier": "FlexConsumption"}, "properties": {"reserved": true}})
        );
        assert!(always_on(PlanSku::B1));
        assert!(!always_on(PlanSku::Y1) && !always_on(PlanSku::EP1) && !always_on(PlanSku::FC1));
    }
}

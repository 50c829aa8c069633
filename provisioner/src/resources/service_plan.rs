//! The Linux App Service plan (B1 by default, as the original; Y1 and EP1 accepted).

use super::{
    action_for, delete_if_ours, merged_tags, read_arm, Action, Ctx, Live, Resource, Result,
};
use crate::arm::versions::WEB;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct ServicePlan;

pub fn id(ctx: &Ctx) -> String {
    ctx.provider_path("Microsoft.Web/serverfarms", &ctx.names.plan)
}

fn path(ctx: &Ctx) -> String {
    format!("{}?api-version={WEB}", id(ctx))
}

/// `kind` is left out of the comparison: Azure echoes it in more than one spelling.
fn desired(ctx: &Ctx) -> Value {
    json!({"location": ctx.env.location, "tags": ctx.tags_json(),
           "sku": {"name": ctx.env.plan.name(), "tier": ctx.env.plan.tier()}, "properties": {"reserved": true}})
}

impl Resource for ServicePlan {
    fn key(&self) -> String {
        "service-plan".into()
    }
    fn kind(&self) -> &'static str {
        "app service plan"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.plan.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec!["resource-group".into()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(read_arm(ctx, path(ctx)))
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        action_for(&desired(ctx), live)
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = desired(ctx);
            body["tags"] = merged_tags(ctx, live);
            body["kind"] = json!(if ctx.env.plan == crate::env::PlanSku::B1 {
                "linux"
            } else {
                "functionapp"
            });
            ctx.azure.put(&path(ctx), &body).await?;
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(delete_if_ours(ctx, live, path(ctx)))
    }
}

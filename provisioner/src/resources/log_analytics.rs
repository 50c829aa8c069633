//! The Log Analytics workspace Application Insights stores into. Deleted with force=true, so the
//! name is free again at once (a soft-deleted workspace keeps it for 14 days).

use super::{
    action_for, delete_if_ours, merged_tags, read_arm, Action, Ctx, Live, Resource, Result,
};
use crate::arm::versions::OPERATIONAL_INSIGHTS;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct LogAnalytics;

pub fn id(ctx: &Ctx) -> String {
    ctx.provider_path(
        "Microsoft.OperationalInsights/workspaces",
        &ctx.names.workspace,
    )
}

fn desired(ctx: &Ctx) -> Value {
    json!({"location": ctx.env.location, "tags": ctx.tags_json(), "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30}})
}

impl Resource for LogAnalytics {
    fn key(&self) -> String {
        "log-analytics".into()
    }
    fn kind(&self) -> &'static str {
        "log analytics workspace"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.workspace.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec!["resource-group".into()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(read_arm(
            ctx,
            format!("{}?api-version={OPERATIONAL_INSIGHTS}", id(ctx)),
        ))
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        action_for(&desired(ctx), live)
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = desired(ctx);
            body["tags"] = merged_tags(ctx, live);
            ctx.azure
                .put(&format!("{}?api-version={OPERATIONAL_INSIGHTS}", id(ctx)),
                    &body,
                )
                .await?;
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(delete_if_ours(
            ctx,
            live,
            format!("{}?api-version={OPERATIONAL_INSIGHTS}&force=true", id(ctx)),
        ))
    }
}

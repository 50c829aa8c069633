//! Workspace-based Application Insights; its connection string goes to the function app.

use super::{
    action_for, delete_if_ours, merged_tags, read_arm, Action, Ctx, Live, Resource, Result,
};
use crate::arm::versions::INSIGHTS;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct AppInsights;

fn path(ctx: &Ctx) -> String {
    format!(
        "{}?api-version={INSIGHTS}",
        ctx.provider_path("Microsoft.Insights/components", &ctx.names.app_insights)
    )
}

fn desired(ctx: &Ctx) -> Value {
    json!({
        "location": ctx.env.location, "kind": "web", "tags": ctx.tags_json(),
        "properties": {"Application_Type": "web", "WorkspaceResourceId": super::log_analytics::id(ctx), "IngestionMode": "LogAnalytics",
                       "publicNetworkAccessForIngestion": "Enabled", "publicNetworkAccessForQuery": "Enabled"},
    })
}

fn remember(ctx: &Ctx, body: &Value) {
    if let Some(cs) = body
        .pointer("/properties/ConnectionString")
        .and_then(Value::as_str)
    {
        ctx.update(|o| o.app_insights_connection_string = Some(cs.to_string()));
    }
}

impl Resource for AppInsights {
    fn key(&self) -> String {
        "app-insights".into()
    }
    fn kind(&self) -> &'static str {
        "application insights"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.app_insights.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec!["log-analytics".into()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            let live = read_arm(ctx, path(ctx)).await?;
            if let Some(body) = live.body() {
                remember(ctx, body);
            }
            Ok(live)
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        action_for(&desired(ctx), live)
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = desired(ctx);
            body["tags"] = merged_tags(ctx, live);
            let created = ctx.azure.put(&path(ctx), &body).await?;
            remember(ctx, &created);
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(delete_if_ours(ctx, live, path(ctx)))
    }
}

//! Workspace-based Application Insights; its connection string goes to the function app.

use super::tracked::{self, TrackedKind};
use super::{Ctx, Key, Outputs};
use crate::arm::versions::INSIGHTS;
use serde_json::{json, Value};

pub struct AppInsights;

impl TrackedKind for AppInsights {
    fn key(&self) -> Key {
        Key::AppInsights
    }
    fn kind(&self) -> &'static str {
        "application insights"
    }
    fn resource_type(&self) -> &'static str {
        "Microsoft.Insights/components"
    }
    fn api_version(&self) -> &'static str {
        INSIGHTS
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.app_insights.clone()
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![Key::LogAnalytics]
    }
    fn desired(&self, ctx: &Ctx) -> Value {
        json!({
            "location": ctx.env.location, "kind": "web",
            "properties": {"Application_Type": "web", "WorkspaceResourceId": tracked::id(ctx, &super::log_analytics::LogAnalytics), "IngestionMode": "LogAnalytics",
                           "publicNetworkAccessForIngestion": "Enabled", "publicNetworkAccessForQuery": "Enabled"},
        })
    }
    fn outputs(&self, body: &Value) -> Outputs {
        Outputs {
            app_insights_connection_string: body
                .pointer("/properties/ConnectionString")
                .and_then(Value::as_str)
                .map(str::to_string),
            ..Default::default()
        }
    }
}

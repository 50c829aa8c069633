//! The Log Analytics workspace Application Insights stores into. Deleted with force=true, so the
//! name is free again at once (a soft-deleted workspace keeps it for 14 days).

use super::tracked::TrackedKind;
use super::{Ctx, Key};
use crate::arm::versions::OPERATIONAL_INSIGHTS;
use serde_json::{json, Value};

pub struct LogAnalytics;

impl TrackedKind for LogAnalytics {
    fn key(&self) -> Key {
        Key::LogAnalytics
    }
    fn kind(&self) -> &'static str {
        "log analytics workspace"
    }
    fn resource_type(&self) -> &'static str {
        "Microsoft.OperationalInsights/workspaces"
    }
    fn api_version(&self) -> &'static str {
        OPERATIONAL_INSIGHTS
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.workspace.clone()
    }
    fn desired(&self, ctx: &Ctx) -> Value {
        json!({"location": ctx.env.location, "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30}})
    }
    fn delete_query(&self) -> &'static str {
        "&force=true"
    }
}

//! Every Azure name an environment uses, derived in one place.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Names {
    pub resource_group: String,
    pub raw_account: String,
    pub standard_account: String,
    pub functions_account: String,
    pub workspace: String,
    pub app_insights: String,
    pub plan: String,
    pub function_app: String,
    pub system_topic: String,
    pub event_subscription: String,
    pub function_name: String,
}

pub const RAW_CONTAINER: &str = "raw";
pub const STANDARD_CONTAINER: &str = "standard";
pub const PACKAGE_CONTAINER: &str = "packages";
pub const LOCK_CONTAINER: &str = "locks";

impl Names {
    pub fn derive(prefix: &str, env: &str, suffix: &str) -> Self {
        let short_prefix: String = prefix.chars().take(8).collect();
        let account = |role: &str| format!("st{short_prefix}{env}{role}{suffix}");
        Self {
            resource_group: format!("rg-{prefix}-{env}"),
            raw_account: account("raw"),
            standard_account: account("std"),
            functions_account: account("fn"),
            workspace: format!("log-{prefix}-{env}"),
            app_insights: format!("appi-{prefix}-{env}"),
            plan: format!("asp-{prefix}-{env}"),
            function_app: format!("func-{prefix}-{env}-{suffix}"),
            system_topic: format!("evgt-{prefix}-{env}-raw"),
            event_subscription: "raw-blob-created".into(),
            function_name: "process_raw".into(),
        }
    }
}

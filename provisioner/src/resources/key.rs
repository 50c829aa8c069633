//! Resource keys: which resource of an environment a plan line, an event or a dependency means.
//! The string form (`storage:raw`, `role:function-app:raw:blob-owner`, ...) is stable: JSON output
//! and tests use it.

use super::role_assignment::{Principal, RoleDefinition};
use super::storage_account::AccountRole;
use super::storage_container::Container;
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    ResourceGroup,
    LogAnalytics,
    AppInsights,
    Storage(AccountRole),
    Container(Container),
    SecurityGroup,
    ServicePlan,
    FunctionApp,
    Role {
        principal: Principal,
        account: AccountRole,
        role: RoleDefinition,
    },
    FunctionPackage,
    EventTopic,
    EventSubscription,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::ResourceGroup => f.write_str("resource-group"),
            Key::LogAnalytics => f.write_str("log-analytics"),
            Key::AppInsights => f.write_str("app-insights"),
            Key::Storage(account) => write!(f, "storage:{}", account.label()),
            Key::Container(c) => write!(f, "container:{}/{}", c.account().label(), c.name()),
            Key::SecurityGroup => f.write_str("security-group"),
            Key::ServicePlan => f.write_str("service-plan"),
            Key::FunctionApp => f.write_str("function-app"),
            Key::Role {
                principal,
                account,
                role,
            } => write!(
                f,
                "role:{}:{}:{}",
                principal.label(),
                account.label(),
                role.label()
            ),
            Key::FunctionPackage => f.write_str("function-package"),
            Key::EventTopic => f.write_str("event-topic"),
            Key::EventSubscription => f.write_str("event-subscription"),
        }
    }
}

impl Key {
    /// The resource provider namespaces a write of this resource needs registered on the
    /// subscription. Microsoft.Resources and Microsoft.Authorization are registered everywhere;
    /// Application Insights also makes a Failure Anomalies rule in Microsoft.AlertsManagement.
    pub fn namespaces(self) -> &'static [&'static str] {
        match self {
            Key::ResourceGroup | Key::SecurityGroup | Key::Role { .. } => &[],
            Key::LogAnalytics => &["Microsoft.OperationalInsights"],
            Key::AppInsights => &["Microsoft.Insights", "Microsoft.AlertsManagement"],
            Key::Storage(_) | Key::Container(_) => &["Microsoft.Storage"],
            Key::ServicePlan | Key::FunctionApp | Key::FunctionPackage => &["Microsoft.Web"],
            Key::EventTopic | Key::EventSubscription => &["Microsoft.EventGrid"],
        }
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_published_spelling() {
        assert_eq!(Key::ResourceGroup.to_string(), "resource-group");
        assert_eq!(Key::Storage(AccountRole::Raw).to_string(), "storage:raw");
        assert_eq!(
            Key::Container(Container::Packages).to_string(),
            "container:functions/packages"
        );
        assert_eq!(
            Key::Container(Container::Locks).to_string(),
            "container:functions/locks"
        );
        assert_eq!(
            Key::Role {
                principal: Principal::FunctionApp,
                account: AccountRole::Raw,
                role: RoleDefinition::BlobDataOwner
            }
            .to_string(),
            "role:function-app:raw:blob-owner"
        );
        assert_eq!(
            Key::Role {
                principal: Principal::Group,
                account: AccountRole::Standard,
                role: RoleDefinition::BlobDataContributor
            }
            .to_string(),
            "role:group:standard:blob-contributor"
        );
        assert_eq!(Key::FunctionPackage.to_string(), "function-package");
        assert_eq!(
            serde_json::to_value(Key::Storage(AccountRole::Functions)).ok(),
            Some(serde_json::json!("storage:functions"))
        );
    }
}

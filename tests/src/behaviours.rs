//! Azure's awkward behaviours, each with its public source. Every one is on by default — the
//! local cloud must be at least as awkward as Azure — and each has a switch so a focused test can
//! turn the others off (`POST /_admin/behaviours {"host_not_ready": false}`, or
//! `azure-emulator --without host_not_ready,graph_lag`). Durations are emulated seconds, scaled by
//! the config's `time_scale` like every other delay.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviours {
    /// 1. After a write to a site or its settings the Functions host restarts: `host/default/listkeys`
    ///    and `syncfunctiontriggers` answer 400 with App Service's top-level `Code`/`Message`
    ///    "Encountered an error (ServiceUnavailable) from host runtime." for `host_restart_s`
    ///    (azure-functions-core-tools#3008, azure-cli#20892).
    pub host_not_ready: bool,
    pub host_restart_s: f64,
    /// 2. An Event Grid subscription PUT is long-running; a failed webhook handshake is a Failed
    ///    async operation with inner code "Url validation" (EventGrid spec, azure-cli#21006).
    pub async_url_validation: bool,
    /// 3. A new Entra group is unknown to `members/$ref` and `owners/$ref` (404
    ///    `Request_ResourceNotFound`) for `graph_lag_s` (azuread provider retries 404 for this).
    pub graph_lag: bool,
    pub graph_lag_s: f64,
    /// 4. Creating an Application Insights component adds an untagged action group "Application
    ///    Insights Smart Detection" and a smart detector alert rule "Failure Anomalies - <name>"
    ///    to the group (terraform-provider-azurerm#10563, #18026); the rule only when
    ///    Microsoft.AlertsManagement is registered.
    pub insights_smart_detection: bool,
    /// 5. A fresh subscription has only Microsoft.Resources and Microsoft.Authorization
    ///    registered: a PUT or PATCH to any other namespace answers 409
    ///    `MissingSubscriptionRegistration` with the namespace in `details[0].target`
    ///    (azure-sdk-for-node#2305) until `POST providers/{ns}/register` finishes
    ///    (`registrationState` NotRegistered → Registering → Registered after
    ///    `provider_register_s`; "Azure resource providers and types", learn.microsoft.com).
    pub provider_registration: bool,
    pub provider_register_s: f64,
    /// 6. A role assignment for the same scope, role and principal under another name answers 409
    ///    `RoleAssignmentExists` naming the existing one (off: the duplicate is stored).
    pub role_assignment_exists: bool,
    /// 7. ARM echoes enum values in its own case (a Log Analytics sku `PerGB2018` reads back as
    ///    `pergb2018`, and any case is accepted) and omits properties at their default
    ///    (`isHnsEnabled` on a non-HNS storage account).
    pub arm_spelling: bool,
    /// 8. A site PUT without `siteConfig.appSettings` drops the app settings (azure-cli#11718,
    ///    azure-functions-host#8189).
    pub site_put_drops_settings: bool,
    /// 9. Sites and plans answer 409 `Conflict` "... another operation is in progress" while an
    ///    earlier write to them is still being applied (`app_service_busy_s`).
    pub app_service_busy: bool,
    pub app_service_busy_s: f64,
    /// 10. A new data-plane role answers 403 `AuthorizationPermissionMismatch` until it lands
    ///     (`data_role_delay_s`; terraform-provider-azurerm#6934, azure-rest-api-specs#9467). A
    ///     Functions host started before its roles landed stays unable to read until restarted.
    pub data_role_delay: bool,
    pub data_role_delay_s: f64,
    /// 11. A new stored access policy takes up to 30 s to apply; a SAS bound to it answers 403
    ///     until then (Set Container ACL docs).
    pub access_policy_delay: bool,
    pub access_policy_delay_s: f64,
    /// 12. The token endpoint rejects a client assertion past its `exp` (AADSTS700024); GitHub's
    ///     OIDC tokens live about 5 minutes.
    pub assertion_expiry: bool,
    /// 13. Globally unique names can be taken by someone else: `checkNameAvailability` (storage
    ///     and Microsoft.Web) reports names in `taken_names` as unavailable, and a PUT of one
    ///     answers 409 (`StorageAccountAlreadyTaken`; App Service's `Conflict` "Website with
    ///     given name … already exists.").
    pub global_names: bool,
    pub taken_names: Vec<String>,
    /// 14. Long-running operations answer with `provisioningState` polling and `Retry-After` on
    ///     the resource itself, besides `Azure-AsyncOperation` and `Location`: a Log Analytics
    ///     workspace create answers 201 `Creating` with `Retry-After` (10 emulated s) and no
    ///     operation URL, and a GET says `Retry-After` again until it is `Succeeded`. Dropped
    ///     connections while polling come from the seeded faults (`drop_rate`, `methods`).
    pub provisioning_state_polling: bool,
    /// 16. A group with the same uniqueName may already exist in the tenant, made by someone else.
    ///     (Seeded through `POST /_admin/directory`; the switch keeps Graph's uniqueName 400.)
    pub unique_group_names: bool,
    /// 17. Graph answers 403 `Authorization_RequestDenied` for calls the deploying identity has
    ///     no permission for; `graph_denied` lists them ("Group.Create", "GroupMember.ReadWrite.All",
    ///     "Directory.Read.All").
    pub graph_permissions: bool,
    pub graph_denied: Vec<String>,
}

impl Default for Behaviours {
    fn default() -> Self {
        Self {
            host_not_ready: true,
            host_restart_s: 20.0,
            async_url_validation: true,
            graph_lag: true,
            graph_lag_s: 15.0,
            insights_smart_detection: true,
            provider_registration: true,
            provider_register_s: 30.0,
            role_assignment_exists: true,
            arm_spelling: true,
            site_put_drops_settings: true,
            app_service_busy: true,
            app_service_busy_s: 10.0,
            data_role_delay: true,
            data_role_delay_s: 120.0,
            access_policy_delay: true,
            access_policy_delay_s: 30.0,
            assertion_expiry: true,
            global_names: true,
            taken_names: Vec::new(),
            provisioning_state_polling: true,
            unique_group_names: true,
            graph_permissions: true,
            graph_denied: Vec::new(),
        }
    }
}

/// The switch names, as `--without` and the admin API take them.
pub const SWITCHES: &[&str] = &[
    "host_not_ready",
    "async_url_validation",
    "graph_lag",
    "insights_smart_detection",
    "provider_registration",
    "role_assignment_exists",
    "arm_spelling",
    "site_put_drops_settings",
    "app_service_busy",
    "data_role_delay",
    "access_policy_delay",
    "assertion_expiry",
    "global_names",
    "provisioning_state_polling",
    "unique_group_names",
    "graph_permissions",
];

impl Behaviours {
    /// Every behaviour off: the kind cloud earlier tests were written against.
    pub fn none() -> Self {
        let mut b = Self::default();
        for name in SWITCHES {
            b.set(name, false).expect("every listed switch exists");
        }
        b
    }

    /// Only `names` on.
    pub fn only(names: &[&str]) -> Result<Self, String> {
        let mut b = Self::none();
        for name in names {
            b.set(name, true)?;
        }
        Ok(b)
    }

    pub fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        let field = match name {
            "host_not_ready" => &mut self.host_not_ready,
            "async_url_validation" => &mut self.async_url_validation,
            "graph_lag" => &mut self.graph_lag,
            "insights_smart_detection" => &mut self.insights_smart_detection,
            "provider_registration" => &mut self.provider_registration,
            "role_assignment_exists" => &mut self.role_assignment_exists,
            "arm_spelling" => &mut self.arm_spelling,
            "site_put_drops_settings" => &mut self.site_put_drops_settings,
            "app_service_busy" => &mut self.app_service_busy,
            "data_role_delay" => &mut self.data_role_delay,
            "access_policy_delay" => &mut self.access_policy_delay,
            "assertion_expiry" => &mut self.assertion_expiry,
            "global_names" => &mut self.global_names,
            "provisioning_state_polling" => &mut self.provisioning_state_polling,
            "unique_group_names" => &mut self.unique_group_names,
            "graph_permissions" => &mut self.graph_permissions,
            other => {
                return Err(format!(
                    "no behaviour named `{other}`; the switches are: {}",
                    SWITCHES.join(", ")
                ))
            }
        };
        *field = on;
        Ok(())
    }

    /// `--without a,b`: everything on except those.
    pub fn without(names: &str) -> Result<Self, String> {
        let mut b = Self::default();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(Self::none());
            }
            b.set(name, false)?;
        }
        Ok(b)
    }

    /// A globally unique name someone outside this subscription holds (`global_names`,
    /// `taken_names`): name checks report it unavailable and a create of it is refused.
    pub fn name_taken_elsewhere(&self, name: &str) -> bool {
        self.global_names
            && self
                .taken_names
                .iter()
                .any(|t| t.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_switch_is_on_by_default_and_can_be_turned_off_alone() {
        for name in SWITCHES {
            let mut b = Behaviours::default();
            let before = serde_json::to_value(&b).expect("behaviours serialise");
            assert_eq!(before[name], true, "{name} is on by default");
            b.set(name, false).expect("a listed switch");
            let after = serde_json::to_value(&b).expect("behaviours serialise");
            assert_eq!(after[name], false, "{name} turns off");
            let changed: Vec<_> = before
                .as_object()
                .expect("an object")
                .keys()
                .filter(|k| before[k.as_str()] != after[k.as_str()])
                .collect();
            assert_eq!(changed, vec![name], "only {name} changed");
        }
        assert!(Behaviours::without("graph_lag, nope").is_err());
        assert_eq!(
            Behaviours::without("all").expect("all is a switch"),
            Behaviours::none()
        );
    }
}

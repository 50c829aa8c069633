//! One file per resource provider namespace; each owns its types' validation and behaviour.
//! `route` hands an admitted ARM call to the provider that owns its path.

pub mod authorization;
pub mod event_grid;
pub mod insights;
pub mod operational_insights;
pub mod resources;
pub mod storage;
pub mod web;

use crate::arm::path::{self, ResourcePath, Target};
use crate::arm::{self, lro, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{lock, Shared};
use axum::http::Method;

pub async fn route(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    match &parsed.target {
        Target::Operation { .. } => lro::poll(state, req, parsed),
        Target::Provider { .. } => resources::provider(state, req, parsed),
        Target::ResourceGroupList => resources::list_resource_groups(state, req),
        Target::ResourceGroup { .. } | Target::ResourceGroupResources { .. } => {
            resources::resource_group(state, req, parsed).await
        }
        Target::RoleAssignment { .. }
        | Target::RoleAssignmentList { .. }
        | Target::RoleDefinition { .. } => authorization::handle(state, req, parsed),
        Target::SubscriptionAction { namespace, .. }
            if namespace.eq_ignore_ascii_case("Microsoft.Web") =>
        {
            web::check_name_availability(state, req, parsed)
        }
        Target::SubscriptionAction { .. } => storage::subscription_action(state, req, parsed),
        Target::Resource { namespace, .. } => {
            // ARM refuses a write to an unregistered namespace before it looks any further.
            if matches!(req.method, Method::PUT | Method::PATCH) {
                if let Some(refused) = resources::unregistered_write(state, namespace) {
                    return Ok(refused);
                }
            }
            require_resource_group(state, parsed)?;
            if matches!(req.method, Method::PUT | Method::PATCH | Method::DELETE) {
                let depth = parsed.names().len();
                arm::ensure_no_conflict(state, &parsed.resource_id(depth))?;
            }
            match namespace.to_ascii_lowercase().as_str() {
                "microsoft.storage" => storage::handle(state, req, parsed).await,
                "microsoft.operationalinsights" => operational_insights::handle(state, req, parsed),
                "microsoft.insights" => insights::handle(state, req, parsed),
                "microsoft.alertsmanagement" => insights::smart_detector_rule(state, req, parsed),
                "microsoft.web" => web::handle(state, req, parsed).await,
                "microsoft.eventgrid" => event_grid::handle(state, req, parsed).await,
                other => Err(ArmError::bad_request(
                    "NoRegisteredProviderFound",
                    format!("No registered resource provider found for namespace '{other}'."),
                )),
            }
        }
    }
}

fn require_resource_group(state: &Shared, parsed: &ResourcePath) -> Result<(), ArmError> {
    let rg = parsed.resource_group.clone().unwrap_or_default();
    let id = path::resource_group_id(&parsed.subscription, &rg);
    if lock(&state.cloud).get(&id).is_none() {
        return Err(ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        ));
    }
    Ok(())
}

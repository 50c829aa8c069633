//! Microsoft.OperationalInsights: Log Analytics workspaces, with soft delete (the name stays reserved
//! and a re-create recovers the old workspace) unless deleted with `force=true`.

use crate::arm::path::ResourcePath;
use crate::arm::{self, lro, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{key, OperationAction};
use crate::state::{lock, Shared};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const KIND: &str = "Microsoft.OperationalInsights/workspaces";
const SKUS: &[&str] = &[
    "PerGB2018",
    "Free",
    "Standalone",
    "PerNode",
    "Standard",
    "Premium",
    "CapacityReservation",
    "LACluster",
];

pub fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    if types != ["workspaces"] || action.is_some() {
        return Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        ));
    }
    let id = parsed.resource_id(1);
    let name = parsed.names().first().cloned().unwrap_or_default();
    match req.method {
        Method::GET => arm::get_tracked(state, &id, KIND, parsed),
        Method::PUT => put(state, req, &id, &name),
        Method::DELETE => {
            if lock(&state.cloud).get(&id).is_none() {
                return arm::empty(StatusCode::NO_CONTENT);
            }
            arm::ensure_no_conflict(state, &id)?;
            let force = req
                .query
                .get("force")
                .is_some_and(|f| f.eq_ignore_ascii_case("true"));
            if force {
                lock(&state.cloud).deleted_workspaces.remove(&key(&id));
            }
            let secs = state.cfg().latency.workspace_delete_s;
            let op = lro::start(state, &id, OperationAction::Delete, secs, None);
            if force {
                // A forced delete releases the name: the operation must not soft-delete it.
                let mut cloud = lock(&state.cloud);
                cloud.operations.retain(|k, _| *k != op);
                drop(cloud);
                let state = state.clone();
                let id = id.clone();
                tokio::spawn(async move { lro::cascade_delete(&state, &id, true).await });
                return arm::empty(StatusCode::OK);
            }
            Ok(lro::with_async_operation(
                state,
                StatusCode::ACCEPTED,
                json!({}),
                "Microsoft.OperationalInsights",
                &op,
                req.api_version(),
            ))
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn valid_name(name: &str) -> bool {
    (4..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

fn put(state: &Shared, req: &ArmRequest, id: &str, name: &str) -> ArmResult {
    if !valid_name(name) {
        return Err(ArmError::bad_request("InvalidWorkspaceName", format!("Workspace name '{name}' is invalid: 4-63 letters, digits and '-', starting and ending with a letter or digit.")));
    }
    arm::ensure_no_conflict(state, id)?;
    let body = req.body()?;
    let location = arm::require_location(body)?;
    let tags = arm::validate_tags(body)?;
    let requested = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    if let Some(sku) = requested.pointer("/sku/name").and_then(Value::as_str) {
        // ARM takes enum values in any case.
        if !SKUS.iter().any(|s| s.eq_ignore_ascii_case(sku)) {
            return Err(ArmError::bad_request(
                "InvalidParameter",
                format!("The SKU '{sku}' is not valid."),
            ));
        }
    }
    if let Some(days) = requested.get("retentionInDays").and_then(Value::as_i64) {
        if !(30..=730).contains(&days) {
            return Err(ArmError::bad_request(
                "InvalidParameter",
                "retentionInDays must be between 30 and 730.",
            ));
        }
    }
    let existing = lock(&state.cloud).get(id).cloned();
    let soft_deleted = lock(&state.cloud).deleted_workspaces.get(&key(id)).cloned();
    if let Some(deleted) = &soft_deleted {
        if deleted.location != location {
            return Err(ArmError::conflict(
                "WorkspaceInDeletedState",
                format!("Workspace '{name}' was deleted recently and its name is reserved in location '{}'. Recover it there, or delete it permanently with force=true.", deleted.location),
            ));
        }
    }
    let customer_id = existing
        .as_ref()
        .and_then(|r| r.body.pointer("/properties/customerId").cloned())
        .or_else(|| soft_deleted.as_ref().map(|d| json!(d.customer_id)))
        .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
    let mut props = existing.as_ref().and_then(|r| r.body.get("properties").cloned()).unwrap_or_else(|| {
        json!({
            "sku": {"name": "PerGB2018"}, "retentionInDays": 30,
            "publicNetworkAccessForIngestion": "Enabled", "publicNetworkAccessForQuery": "Enabled",
            "features": {"enableLogAccessUsingOnlyResourcePermissions": true},
            "workspaceCapping": {"dailyQuotaGb": -1.0, "dataIngestionStatus": "RespectQuota"},
            "createdDate": chrono::Utc::now().to_rfc3339(),
        })
    });
    arm::merge(&mut props, &requested);
    if state.cfg().behaviours.arm_spelling {
        // The service keeps and echoes its own spelling: `PerGB2018` reads back as `pergb2018`.
        if let Some(sku) = props.pointer("/sku/name").and_then(Value::as_str) {
            props["sku"]["name"] = json!(sku.to_ascii_lowercase());
        }
    }
    props["customerId"] = customer_id;
    props["modifiedDate"] = json!(chrono::Utc::now().to_rfc3339());
    lock(&state.cloud).deleted_workspaces.remove(&key(id));
    let resource = json!({"id": id, "name": name, "type": KIND, "location": location, "tags": tags, "properties": props});
    let secs = state.cfg().latency.workspace_create_s;
    arm::put_tracked(state, req, id, KIND, resource, Some(secs))
}

//! Tracked resources: stored as sent (with a provisioning state), created behind an
//! `Azure-AsyncOperation` when their kind takes time, and read back as stored.

use super::lro;
use super::path::ResourcePath;
use super::request::{empty, ok, status_json, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{lock, OperationAction, Resource, Shared};
use axum::http::StatusCode;
use serde_json::Value;

/// Stores a created or updated tracked resource. A new one starts in `Creating` behind an
/// `Azure-AsyncOperation` (when `create_seconds` is given); an update answers 200 at once.
pub fn put_tracked(
    state: &Shared,
    req: &ArmRequest,
    id: &str,
    kind: &str,
    body: Value,
    create_seconds: Option<f64>,
) -> ArmResult {
    let exists = lock(&state.cloud).get(id).is_some();
    let mut body = body;
    let namespace = kind.split('/').next().unwrap_or_default().to_string();
    match (exists, create_seconds) {
        (false, Some(seconds)) if polled_by_state(state, kind) => {
            body["properties"]["provisioningState"] = Value::from("Creating");
            lock(&state.cloud).insert(Resource {
                id: id.into(),
                kind: kind.into(),
                body: body.clone(),
            });
            lro::start(state, id, OperationAction::Create, seconds, None);
            Ok(lro::with_provisioning_state(
                state,
                StatusCode::CREATED,
                body,
            ))
        }
        (false, Some(seconds)) => {
            body["properties"]["provisioningState"] =
                Value::from(if namespace.eq_ignore_ascii_case("Microsoft.Web") {
                    "InProgress"
                } else {
                    "Creating"
                });
            lock(&state.cloud).insert(Resource {
                id: id.into(),
                kind: kind.into(),
                body: body.clone(),
            });
            let op = lro::start(state, id, OperationAction::Create, seconds, None);
            Ok(lro::with_async_operation(
                state,
                StatusCode::CREATED,
                body,
                &namespace,
                &op,
                req.api_version(),
            ))
        }
        (exists, _) => {
            body["properties"]["provisioningState"] = Value::from("Succeeded");
            lock(&state.cloud).insert(Resource {
                id: id.into(),
                kind: kind.into(),
                body: body.clone(),
            });
            status_json(
                if exists {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                body,
            )
        }
    }
}

/// Kinds whose create answers with a non-terminal `provisioningState` and `Retry-After` alone, no
/// operation URL (`provisioning_state_polling`; ARM's async contract allows it, and Log Analytics
/// workspaces answer so).
fn polled_by_state(state: &Shared, kind: &str) -> bool {
    const KINDS: &[&str] = &["Microsoft.OperationalInsights/workspaces"];
    state.cfg().behaviours.provisioning_state_polling && KINDS.contains(&kind)
}

/// A synchronous delete: 200 when the resource was there, 204 when it was already gone.
pub fn delete_tracked(state: &Shared, id: &str) -> ArmResult {
    let existed = lock(&state.cloud).remove(id).is_some();
    empty(if existed {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    })
}

/// The stored body of `id`, or ARM's 404 for it. A resource still being created says when to
/// look again.
pub fn get_tracked(state: &Shared, id: &str, kind: &str, parsed: &ResourcePath) -> ArmResult {
    let body = lock(&state.cloud).get(id).map(|r| r.body.clone());
    match body {
        Some(body) if polled_by_state(state, kind) && lro::in_progress(&body) => {
            Ok(lro::with_provisioning_state(state, StatusCode::OK, body))
        }
        Some(body) => ok(body),
        None => Err(ArmError::resource_not_found(
            kind,
            id.rsplit('/').next().unwrap_or_default(),
            parsed.rg(),
        )),
    }
}

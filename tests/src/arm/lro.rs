//! Long-running operations: an operations table that advances with time, the two polling styles
//! (`Location` and `Azure-AsyncOperation`), and what finishing a create or delete does.

use super::path::{ResourcePath, Target};
use super::request::{empty, ok, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{key, DeletedWorkspace, Operation, OperationAction};
use crate::state::{lock, Shared};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::{json, Value};
use tokio::time::Instant;

/// Registers an operation on `resource_id` that ends after `emulated_seconds` (scaled).
pub fn start(
    state: &Shared,
    resource_id: &str,
    action: OperationAction,
    emulated_seconds: f64,
    waits_for_account: Option<String>,
) -> String {
    let cfg = state.cfg();
    let fails = cfg.faults.lro_failure_rate > 0.0
        && lock(&state.rng).gen::<f64>() < cfg.faults.lro_failure_rate;
    let id = uuid::Uuid::new_v4().to_string();
    let op = Operation {
        resource_id: resource_id.to_string(),
        action,
        done_at: Instant::now() + cfg.scaled(emulated_seconds),
        fails,
        waits_for_account,
        finished: false,
    };
    lock(&state.cloud).operations.insert(id.clone(), op);
    id
}

/// Seconds a client should wait before polling again, as ARM would say it.
fn retry_after(state: &Shared) -> u64 {
    retry_after_at(state.cfg().time_scale)
}

/// The `Retry-After` every long-running operation answers at `time_scale` (10 emulated seconds,
/// whole seconds as ARM sends them; none when time barely passes).
pub fn retry_after_at(time_scale: f64) -> u64 {
    if time_scale < 0.05 {
        0
    } else {
        (10.0 * time_scale).ceil() as u64
    }
}

pub fn operation_url(
    state: &Shared,
    namespace: &str,
    op_id: &str,
    kind: &str,
    api_version: &str,
) -> String {
    let sub = state.cfg().subscription_id;
    if namespace.eq_ignore_ascii_case("Microsoft.Resources") {
        return format!(
            "{}/subscriptions/{sub}/operationresults/{op_id}?api-version={api_version}",
            state.base_url()
        );
    }
    format!(
        "{}/subscriptions/{sub}/providers/{namespace}/locations/westeurope/{kind}/{op_id}?api-version={api_version}",
        state.base_url()
    )
}

/// `202 Accepted`, empty body, `Location` (+ `Retry-After`): storage create, resource group delete.
pub fn accepted_location(
    state: &Shared,
    namespace: &str,
    op_id: &str,
    api_version: &str,
) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    let url = operation_url(state, namespace, op_id, "operationResults", api_version);
    set_header(&mut response, "location", &url);
    set_header(
        &mut response,
        "retry-after",
        &retry_after(state).to_string(),
    );
    response
}

/// A body with `provisioningState` plus `Azure-AsyncOperation` (and `Location`): web, workspaces, event grid.
pub fn with_async_operation(
    state: &Shared,
    status: StatusCode,
    body: Value,
    namespace: &str,
    op_id: &str,
    api_version: &str,
) -> Response {
    let mut response = (status, Json(body)).into_response();
    let async_url = operation_url(state, namespace, op_id, "operationStatuses", api_version);
    let location = operation_url(state, namespace, op_id, "operationResults", api_version);
    set_header(&mut response, "azure-asyncoperation", &async_url);
    set_header(&mut response, "location", &location);
    set_header(
        &mut response,
        "retry-after",
        &retry_after(state).to_string(),
    );
    response
}

/// A body whose `provisioningState` is not terminal, with only a `Retry-After` to say when to
/// read the resource again (in emulated seconds, scaled, so fractions appear at small scales).
pub fn with_provisioning_state(state: &Shared, status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let seconds = state.cfg().scaled(10.0).as_secs_f64();
    let value = if seconds >= 1.0 {
        format!("{}", seconds.ceil() as u64)
    } else {
        format!("{seconds:.3}")
    };
    set_header(&mut response, "retry-after", &value);
    response
}

/// Whether a stored body is still being provisioned.
pub fn in_progress(body: &Value) -> bool {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .is_some_and(|s| !["Succeeded", "Failed", "Canceled"].contains(&s))
}

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// Finishes every operation whose time has come.
pub async fn advance(state: &Shared) {
    let now = Instant::now();
    let mut finished = Vec::new();
    {
        let mut cloud = lock(&state.cloud);
        let ready: Vec<String> = cloud
            .operations
            .iter()
            .filter(|(_, op)| !op.finished && op.done_at <= now)
            .filter(|(_, op)| {
                op.waits_for_account
                    .as_ref()
                    .is_none_or(|a| cloud.accounts.get(a).is_some_and(|d| d.ready))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            if let Some(op) = cloud.operations.get_mut(&id) {
                op.finished = true;
                finished.push(op.clone());
            }
        }
    }
    for op in finished {
        match (op.action, op.fails) {
            (OperationAction::Create, fails) => {
                let mut cloud = lock(&state.cloud);
                if let Some(resource) = cloud.get_mut(&op.resource_id) {
                    if let Some(props) = resource
                        .body
                        .get_mut("properties")
                        .and_then(Value::as_object_mut)
                    {
                        props.insert(
                            "provisioningState".into(),
                            json!(if fails { "Failed" } else { "Succeeded" }),
                        );
                    }
                }
            }
            (OperationAction::Delete, false) => cascade_delete(state, &op.resource_id, false).await,
            (OperationAction::Delete, true) => {}
        }
    }
}

/// Removes a resource and everything below it, with each kind's side effects.
pub async fn cascade_delete(state: &Shared, id: &str, force_workspace: bool) {
    let mut accounts = Vec::new();
    let mut sites = Vec::new();
    {
        let mut cloud = lock(&state.cloud);
        for child in cloud.ids_under(id) {
            let Some(resource) = cloud.remove(&child) else {
                continue;
            };
            match resource.kind.as_str() {
                "Microsoft.Storage/storageAccounts" => {
                    let name = resource
                        .id
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    cloud.accounts.remove(&name);
                    accounts.push(name);
                }
                "Microsoft.Web/sites" => {
                    if let Some(principal) = resource
                        .body
                        .pointer("/identity/principalId")
                        .and_then(Value::as_str)
                    {
                        cloud.directory.remove(principal);
                        cloud.msi_secrets.retain(|_, p| p != principal);
                    }
                    sites.push(resource.id.clone());
                }
                "Microsoft.OperationalInsights/workspaces" if !force_workspace => {
                    let location = resource
                        .body
                        .get("location")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let customer_id = resource
                        .body
                        .pointer("/properties/customerId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    cloud.deleted_workspaces.insert(
                        key(&resource.id),
                        DeletedWorkspace {
                            id: resource.id.clone(),
                            location,
                            customer_id,
                        },
                    );
                }
                _ => {}
            }
        }
    }
    for account in accounts {
        state.azurite.stop(&account).await;
    }
    for site in sites {
        state.notices.site_deleted(&site).await;
    }
}

/// `GET` on an operation URL.
pub fn poll(state: &Shared, _req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let Target::Operation { kind, id, .. } = &parsed.target else {
        return Err(ArmError::not_found("NotFound", "No such operation."));
    };
    let op = lock(&state.cloud).operations.get(id).cloned();
    let Some(op) = op else {
        return Err(ArmError::not_found(
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        ));
    };
    let api_version = _req.api_version().to_string();
    if kind == "operationstatuses" {
        let status = match (op.finished, op.fails) {
            (false, _) => "InProgress",
            (true, false) => "Succeeded",
            (true, true) => "Failed",
        };
        let mut body = json!({"id": parsed_op_id(parsed, id), "name": id, "status": status});
        if op.finished && op.fails {
            body["error"] = failure(state, id, &op);
        }
        let mut response = (StatusCode::OK, Json(body)).into_response();
        if !op.finished {
            set_header(
                &mut response,
                "retry-after",
                &retry_after(state).to_string(),
            );
        }
        return Ok(response);
    }
    if !op.finished {
        return Ok(accepted_location(
            state,
            parsed.namespace(),
            id,
            &api_version,
        ));
    }
    if op.fails {
        let error = failure(state, id, &op);
        let text = |p: &str| error.pointer(p).and_then(Value::as_str).map(str::to_string);
        return Err(ArmError::bad_request(
            &text("/details/0/code")
                .or_else(|| text("/code"))
                .unwrap_or_default(),
            text("/details/0/message")
                .or_else(|| text("/message"))
                .unwrap_or_default(),
        ));
    }
    match op.action {
        OperationAction::Delete => empty(StatusCode::OK),
        OperationAction::Create => {
            let body = lock(&state.cloud)
                .get(&op.resource_id)
                .map(|r| r.body.clone());
            match body {
                Some(body) => ok(body),
                None => empty(StatusCode::NO_CONTENT),
            }
        }
    }
}

/// Why a failed operation failed: what its provider recorded, else an injected fault.
fn failure(state: &Shared, id: &str, op: &crate::state::Operation) -> Value {
    lock(&state.cloud)
        .operation_errors
        .get(id)
        .cloned()
        .unwrap_or_else(|| json!({"code": "ProvisioningFailed", "message": format!("The operation on '{}' failed (injected fault). Retry the request.", op.resource_id)}))
}

fn parsed_op_id(parsed: &ResourcePath, id: &str) -> String {
    format!(
        "/subscriptions/{}/providers/{}/operations/{id}",
        parsed.subscription,
        parsed.namespace()
    )
}

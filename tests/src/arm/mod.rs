//! ARM's shared rules: a call read and admitted (path, api-version, subscription), conflicts
//! with running operations, tags and locations, and how tracked resources are stored and
//! answered. Providers build on this; `server` routes calls to them.

pub mod lro;
pub mod path;
mod request;
mod tracked;

pub use request::{empty, method_not_allowed, ok, status_json, ArmRequest, ArmResult};
pub use tracked::{delete_tracked, get_tracked, put_tracked};

use crate::error::ArmError;
use crate::state::{lock, OperationAction, Shared};
use path::ResourcePath;
use serde_json::Value;

/// api-versions each namespace serves here (the pinned ones and those our SDK family sends).
fn supported_versions(namespace: &str) -> &'static [&'static str] {
    match namespace.to_ascii_lowercase().as_str() {
        "microsoft.resources" => &["2021-04-01", "2022-09-01", "2025-04-01"],
        "microsoft.storage" => &["2023-01-01", "2023-05-01", "2025-01-01", "2025-06-01"],
        "microsoft.authorization" => &["2022-04-01"],
        "microsoft.web" => &["2023-12-01", "2024-04-01", "2024-11-01"],
        "microsoft.insights" => &["2020-02-02", "2023-01-01"],
        "microsoft.operationalinsights" => &["2023-09-01", "2025-02-01"],
        "microsoft.eventgrid" => &["2025-02-15"],
        "microsoft.alertsmanagement" => &["2019-06-01", "2021-04-01"],
        _ => &[],
    }
}

/// What ARM checks before any provider sees a call: a path it knows, an api-version the
/// namespace serves, and this emulator's subscription.
pub fn admit(state: &Shared, req: &ArmRequest) -> Result<ResourcePath, ArmError> {
    let parsed = ResourcePath::parse(&req.segments)?;
    // `GET /providers/{ns}` and `POST .../register` belong to Microsoft.Resources, whatever `ns` is.
    let versions_of = match parsed.target {
        path::Target::Provider { .. } => "Microsoft.Resources",
        _ => parsed.namespace(),
    };
    check_api_version(req, versions_of)?;
    let subscription = state.cfg().subscription_id;
    if !parsed.subscription.eq_ignore_ascii_case(&subscription) {
        return Err(ArmError::not_found(
            "SubscriptionNotFound",
            format!(
                "The subscription '{}' could not be found.",
                parsed.subscription
            ),
        ));
    }
    Ok(parsed)
}

fn check_api_version(req: &ArmRequest, namespace: &str) -> Result<(), ArmError> {
    let Some(version) = req.query.get("api-version") else {
        return Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let supported = supported_versions(namespace);
    if !supported.contains(&version.as_str()) {
        return Err(ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{version}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        ));
    }
    Ok(())
}

/// 409 while an operation on the resource (or its resource group) is still running.
pub fn ensure_no_conflict(state: &Shared, id: &str) -> Result<(), ArmError> {
    let cloud = lock(&state.cloud);
    if let Some((_, op)) = cloud.running_operation_on(id) {
        if op.action == OperationAction::Delete && path::is_resource_group_id(&op.resource_id) {
            return Err(ArmError::conflict(
                "ResourceGroupBeingDeleted",
                "The resource group is being deleted. Please retry after the delete operation completes.",
            ));
        }
        if crate::state::key(&op.resource_id) == crate::state::key(id) {
            return Err(ArmError::conflict(
                "AnotherOperationInProgress",
                format!("Cannot modify resource '{id}': another operation is in progress on it."),
            ));
        }
    }
    Ok(())
}

/// Tags must be an object of strings; ARM allows at most 50.
pub fn validate_tags(body: &Value) -> Result<Value, ArmError> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(Value::Object(map)) => {
            if map.len() > 50 {
                return Err(ArmError::bad_request(
                    "InvalidTagCount",
                    "A resource can have at most 50 tags.",
                ));
            }
            if map.values().any(|v| !v.is_string()) {
                return Err(ArmError::bad_request(
                    "InvalidTagValue",
                    "Tag values must be strings.",
                ));
            }
            Ok(Value::Object(map.clone()))
        }
        Some(_) => Err(ArmError::bad_request(
            "InvalidRequestContent",
            "'tags' must be an object.",
        )),
    }
}

pub fn require_location(body: &Value) -> Result<String, ArmError> {
    body.get("location")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .map(|l| l.to_ascii_lowercase().replace(' ', ""))
        .ok_or_else(|| {
            ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            )
        })
}

/// Deep-merges `patch` into `target` (objects merge, everything else replaces).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

//! Microsoft.Insights: workspace-based Application Insights components (synchronous PUT).

use crate::arm::path::ResourcePath;
use crate::arm::{self, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{lock, Shared};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const KIND: &str = "Microsoft.Insights/components";

pub fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    if types != ["components"] || action.is_some() {
        return Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        ));
    }
    let id = parsed.resource_id(1);
    let name = parsed.names().first().cloned().unwrap_or_default();
    match req.method {
        Method::GET => arm::get_tracked(state, &id, KIND, parsed),
        Method::DELETE => {
            let existed = lock(&state.cloud).remove(&id).is_some();
            arm::empty(if existed {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            })
        }
        Method::PATCH => {
            let mut resource = lock(&state.cloud)
                .get(&id)
                .cloned()
                .ok_or_else(|| ArmError::resource_not_found(KIND, &name, parsed.rg()))?;
            resource.body["tags"] = arm::validate_tags(req.body()?)?;
            lock(&state.cloud).insert(resource.clone());
            arm::ok(resource.body)
        }
        Method::PUT => put(state, req, &id, &name),
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn put(state: &Shared, req: &ArmRequest, id: &str, name: &str) -> ArmResult {
    let body = req.body()?;
    let location = arm::require_location(body)?;
    let tags = arm::validate_tags(body)?;
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| ArmError::bad_request("InvalidRequestContent", "'kind' is required."))?;
    let requested = body.get("properties").cloned().unwrap_or_else(|| json!({}));
    let app_type = requested
        .get("Application_Type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !["web", "other"].contains(&app_type) {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "properties.Application_Type must be 'web' or 'other'.",
        ));
    }
    let workspace = requested
        .get("WorkspaceResourceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if workspace.is_empty() {
        return Err(ArmError::bad_request(
            "WorkspaceResourceIdRequired",
            "WorkspaceResourceId is required to create an application with this API version.",
        ));
    }
    if lock(&state.cloud).get(workspace).is_none() {
        return Err(ArmError::bad_request(
            "InvalidWorkspaceResourceId",
            format!("The workspace '{workspace}' does not exist or is not accessible."),
        ));
    }
    let existing = lock(&state.cloud).get(id).cloned();
    let mut props = existing.as_ref().and_then(|r| r.body.get("properties").cloned()).unwrap_or_else(|| {
        let ikey = uuid::Uuid::new_v4().to_string();
        let app_id = uuid::Uuid::new_v4().to_string();
        json!({
            "ApplicationId": name, "AppId": app_id, "InstrumentationKey": ikey,
            "ConnectionString": format!("InstrumentationKey={ikey};IngestionEndpoint=https://{location}-0.in.applicationinsights.azure.com/;LiveEndpoint=https://{location}.livediagnostics.monitor.azure.com/;ApplicationId={app_id}"),
            "CreationDate": chrono::Utc::now().to_rfc3339(), "TenantId": state.cfg().subscription_id,
            "RetentionInDays": 90, "IngestionMode": "LogAnalytics",
            "publicNetworkAccessForIngestion": "Enabled", "publicNetworkAccessForQuery": "Enabled",
            "Flow_Type": "Bluefield", "Request_Source": "rest",
        })
    });
    for read_only in [
        "InstrumentationKey",
        "AppId",
        "ConnectionString",
        "ApplicationId",
    ] {
        if requested
            .get(read_only)
            .is_some_and(|v| props.get(read_only) != Some(v))
        {
            return Err(ArmError::bad_request(
                "InvalidRequestContent",
                format!(
                    "You cannot specify a different value for {read_only} in the Put operation."
                ),
            ));
        }
    }
    arm::merge(&mut props, &requested);
    let resource = json!({"id": id, "name": name, "type": KIND, "location": location, "tags": tags, "kind": kind, "properties": props});
    arm::put_tracked(state, req, id, KIND, resource, None)
}

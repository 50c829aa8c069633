//! Microsoft.Insights: workspace-based Application Insights components (synchronous PUT), and what
//! creating one adds to the group behind the caller's back: the untagged action group
//! "Application Insights Smart Detection" and the smart detector alert rule
//! "Failure Anomalies - <component>" (terraform-provider-azurerm#10563, #18026).

use crate::arm::path::ResourcePath;
use crate::arm::{self, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{lock, Resource, Shared};
use axum::http::Method;
use serde_json::{json, Value};

const KIND: &str = "Microsoft.Insights/components";

const ACTION_GROUP: &str = "microsoft.insights/actiongroups";
const ACTION_GROUP_NAME: &str = "Application Insights Smart Detection";
const ALERT_RULE: &str = "microsoft.alertsmanagement/smartDetectorAlertRules";

pub fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    if types == ["actiongroups"] && action.is_none() {
        return side_resource(state, req, parsed, ACTION_GROUP);
    }
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
        Method::DELETE => arm::delete_tracked(state, &id),
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

/// `microsoft.alertsmanagement/smartDetectorAlertRules/{name}`: read and delete.
pub fn smart_detector_rule(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    if types != ["smartdetectoralertrules"] || action.is_some() {
        return Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        ));
    }
    side_resource(state, req, parsed, ALERT_RULE)
}

/// What the smart detection setup made: readable and deletable like any resource.
fn side_resource(state: &Shared, req: &ArmRequest, parsed: &ResourcePath, kind: &str) -> ArmResult {
    let id = side_id(parsed.rg(), &parsed.subscription, kind, &parsed.names()[0]);
    match req.method {
        Method::GET => arm::get_tracked(state, &id, kind, parsed),
        Method::DELETE => arm::delete_tracked(state, &id),
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn side_id(rg: &str, subscription: &str, kind: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{rg}/providers/{kind}/{name}")
}

/// What Azure adds when a component is created: the shared action group (once per group) and
/// the component's Failure Anomalies rule, which needs Microsoft.AlertsManagement registered.
fn add_smart_detection(state: &Shared, component_id: &str, name: &str) {
    let parts: Vec<&str> = component_id.trim_matches('/').split('/').collect();
    let (subscription, rg) = (parts[1], parts[3]);
    let group_id = side_id(rg, subscription, ACTION_GROUP, ACTION_GROUP_NAME);
    let mut cloud = lock(&state.cloud);
    if cloud.get(&group_id).is_none() {
        cloud.insert(Resource {
            id: group_id.clone(),
            kind: ACTION_GROUP.into(),
            body: json!({
                "id": group_id, "name": ACTION_GROUP_NAME, "type": "Microsoft.Insights/ActionGroups",
                "location": "Global",
                "properties": {"groupShortName": "SmartDetect", "enabled": true, "emailReceivers": [],
                    "armRoleReceivers": [
                        {"name": "Monitoring Contributor", "roleId": "749f88d5-cbae-40b8-bcfc-e573ddc772fa", "useCommonAlertSchema": true},
                        {"name": "Monitoring Reader", "roleId": "43d0d8ad-25c7-4714-9337-8ba259a9fe05", "useCommonAlertSchema": true}]},
            }),
        });
    }
    drop(cloud);
    if !super::resources::is_registered(state, "Microsoft.AlertsManagement") {
        return;
    }
    let rule_name = format!("Failure Anomalies - {name}");
    let rule_id = side_id(rg, subscription, ALERT_RULE, &rule_name);
    lock(&state.cloud).insert(Resource {
        id: rule_id.clone(),
        kind: ALERT_RULE.into(),
        body: json!({
            "id": rule_id, "name": rule_name, "type": "Microsoft.AlertsManagement/smartDetectorAlertRules",
            "location": "global",
            "properties": {"description": "Failure Anomalies notifies you of an unusual rise in the rate of failed HTTP requests or dependency calls.",
                "state": "Enabled", "severity": "Sev3", "frequency": "PT1M",
                "detector": {"id": "FailureAnomaliesDetector"}, "scope": [component_id],
                "actionGroups": {"groupIds": [group_id]}},
        }),
    });
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
    let response = arm::put_tracked(state, req, id, KIND, resource, None)?;
    if existing.is_none() && state.cfg().behaviours.insights_smart_detection {
        add_smart_detection(state, id, name);
    }
    Ok(response)
}

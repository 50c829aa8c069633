//! Microsoft.Resources: resource groups (delete is a 202 LRO that cascades) and provider registration.

use crate::arm::path::{resource_group_id, ResourcePath, Target};
use crate::arm::{self, lro, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::{lock, Shared};
use crate::state::{OperationAction, Resource};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const NAMESPACES: &[&str] = &[
    "Microsoft.Storage",
    "Microsoft.Web",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.EventGrid",
    "Microsoft.Authorization",
    "Microsoft.Resources",
];

pub fn provider(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let Target::Provider {
        namespace,
        register,
    } = &parsed.target
    else {
        return Err(arm::method_not_allowed(req));
    };
    let Some(canonical) = NAMESPACES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(namespace))
    else {
        return Err(ArmError::not_found(
            "InvalidResourceNamespace",
            format!("The resource namespace '{namespace}' is invalid."),
        ));
    };
    let registered = {
        let mut cloud = lock(&state.cloud);
        if *register {
            cloud
                .registered_providers
                .insert(canonical.to_string(), true);
        }
        // Everything we serve is usable, as on a subscription where it was registered long ago.
        *cloud
            .registered_providers
            .entry(canonical.to_string())
            .or_insert(true)
    };
    arm::ok(json!({
        "id": format!("/subscriptions/{}/providers/{canonical}", parsed.subscription),
        "namespace": canonical,
        "registrationState": if registered { "Registered" } else { "NotRegistered" },
    }))
}

/// `GET /subscriptions/{sub}/resourcegroups`: every group as GET shows it, optionally only those
/// with a tag (`$filter=tagName eq 'n' and tagValue eq 'v'`).
pub fn list_resource_groups(state: &Shared, req: &ArmRequest) -> ArmResult {
    if req.method != Method::GET {
        return Err(arm::method_not_allowed(req));
    }
    let filter = req
        .query
        .get("$filter")
        .map(|f| tag_filter(f))
        .transpose()?;
    let cloud = lock(&state.cloud);
    let value: Vec<Value> = cloud
        .resources
        .values()
        .filter(|r| r.kind == "Microsoft.Resources/resourceGroups")
        .filter(|r| {
            filter.as_ref().is_none_or(|(name, value)| {
                let tag = r.body["tags"].get(name.as_str()).and_then(Value::as_str);
                tag.is_some_and(|t| value.as_ref().is_none_or(|v| v == t))
            })
        })
        .map(|r| r.body.clone())
        .collect();
    arm::ok(json!({"value": value}))
}

/// `tagName eq 'n'` or `tagName eq 'n' and tagValue eq 'v'`: the only filters ARM takes here.
fn tag_filter(filter: &str) -> Result<(String, Option<String>), ArmError> {
    let invalid = || {
        ArmError::bad_request(
            "InvalidFilterInQueryString",
            format!("Invalid $filter '{filter}': only \"tagName eq '<name>'\" optionally followed by \" and tagValue eq '<value>'\" is supported."),
        )
    };
    let quoted = |clause: &str, field: &str| -> Option<String> {
        let rest = clause.trim().strip_prefix(field)?.trim_start();
        let rest = rest.strip_prefix("eq")?.trim();
        rest.strip_prefix('\'')?
            .strip_suffix('\'')
            .map(str::to_string)
    };
    let mut clauses = filter.splitn(2, " and ");
    let name = clauses
        .next()
        .and_then(|c| quoted(c, "tagName"))
        .ok_or_else(invalid)?;
    let value = match clauses.next() {
        Some(c) => Some(quoted(c, "tagValue").ok_or_else(invalid)?),
        None => None,
    };
    Ok((name, value))
}

fn validate_rg_name(name: &str) -> Result<(), ArmError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || "_-.()".contains(c));
    if name.is_empty() || name.len() > 90 || !ok_chars || name.ends_with('.') {
        return Err(ArmError::bad_request(
            "InvalidResourceGroup",
            format!("The provided resource group name '{name}' has these invalid characters or length. Names are 1-90 characters of letters, digits, '_', '-', '.', '(' and ')', not ending in '.'."),
        ));
    }
    Ok(())
}

pub async fn resource_group(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (name, list_resources) = match &parsed.target {
        Target::ResourceGroup { name } => (name.clone(), false),
        Target::ResourceGroupResources { name } => (name.clone(), true),
        _ => return Err(arm::method_not_allowed(req)),
    };
    let id = resource_group_id(&parsed.subscription, &name);
    let existing = lock(&state.cloud).get(&id).cloned();
    let not_found = || {
        ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{name}' could not be found."),
        )
    };
    if list_resources {
        let Some(rg) = existing else {
            return Err(not_found());
        };
        let cloud = lock(&state.cloud);
        let value: Vec<Value> = cloud
            .ids_under(&rg.id)
            .iter()
            .filter_map(|i| cloud.get(i))
            .filter(|r| r.kind.matches('/').count() == 1 && r.kind != "Microsoft.Resources/resourceGroups")
            .map(|r| json!({"id": r.id, "name": r.body.get("name"), "type": r.kind, "location": r.body.get("location"), "tags": r.body.get("tags")}))
            .collect();
        return arm::ok(json!({"value": value}));
    }
    match req.method {
        Method::GET => existing
            .map(|r| r.body)
            .map(arm::ok)
            .unwrap_or_else(|| Err(not_found())),
        Method::HEAD => arm::empty(if existing.is_some() {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::NOT_FOUND
        }),
        Method::PUT => {
            validate_rg_name(&name)?;
            arm::ensure_no_conflict(state, &id)?;
            let body = req.body()?;
            let location = arm::require_location(body)?;
            let tags = arm::validate_tags(body)?;
            if let Some(old) = &existing {
                if old.body["location"] != json!(location) {
                    return Err(ArmError::conflict(
                        "InvalidResourceGroupLocation",
                        format!("Invalid resource group location '{location}'. The Resource group already exists in location '{}'.", old.body["location"].as_str().unwrap_or_default()),
                    ));
                }
            }
            let canonical_id = existing.as_ref().map(|r| r.id.clone()).unwrap_or(id);
            let rg_body = json!({
                "id": canonical_id,
                "name": canonical_id.rsplit('/').next(),
                "type": "Microsoft.Resources/resourceGroups",
                "location": location,
                "tags": tags,
                "properties": {"provisioningState": "Succeeded"},
            });
            lock(&state.cloud).insert(Resource {
                id: canonical_id,
                kind: "Microsoft.Resources/resourceGroups".into(),
                body: rg_body.clone(),
            });
            arm::status_json(
                if existing.is_some() {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                rg_body,
            )
        }
        Method::PATCH => {
            let Some(mut rg) = existing else {
                return Err(not_found());
            };
            let tags = arm::validate_tags(req.body()?)?;
            if req.body()?.get("tags").is_some() {
                rg.body["tags"] = tags;
            }
            lock(&state.cloud).insert(rg.clone());
            arm::ok(rg.body)
        }
        Method::DELETE => {
            let Some(rg) = existing else {
                return arm::empty(StatusCode::NO_CONTENT);
            };
            arm::ensure_no_conflict(state, &rg.id)?;
            if let Some(props) = lock(&state.cloud)
                .get_mut(&rg.id)
                .and_then(|r| r.body.get_mut("properties"))
            {
                props["provisioningState"] = json!("Deleting");
            }
            let secs = state.cfg().latency.resource_group_delete_s;
            let op = lro::start(state, &rg.id, OperationAction::Delete, secs, None);
            Ok(lro::accepted_location(
                state,
                "Microsoft.Resources",
                &op,
                req.api_version(),
            ))
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

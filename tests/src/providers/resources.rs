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
    "Microsoft.AlertsManagement",
    "Microsoft.Authorization",
    "Microsoft.Resources",
];

/// What a fresh subscription has registered: only the namespaces ARM registers by default
/// ("Azure resource providers and types", learn.microsoft.com); the rest wait for
/// `POST providers/{ns}/register` when `provider_registration` is on.
const REGISTERED_BY_DEFAULT: &[&str] = &["Microsoft.Authorization", "Microsoft.Resources"];

fn provider_id(subscription: &str, namespace: &str) -> String {
    format!("/subscriptions/{subscription}/providers/{namespace}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registration {
    NotRegistered,
    Registering,
    Registered,
}

impl Registration {
    fn as_str(self) -> &'static str {
        match self {
            Registration::NotRegistered => "NotRegistered",
            Registration::Registering => "Registering",
            Registration::Registered => "Registered",
        }
    }
}

/// A namespace's state: a registration runs as an operation on the provider's id and, once
/// finished, is remembered as registered.
fn registration(state: &Shared, namespace: &str) -> Registration {
    let Some(canonical) = NAMESPACES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(namespace))
    else {
        return Registration::Registered;
    };
    let id = provider_id(&state.cfg().subscription_id, canonical);
    let fresh_default =
        !state.cfg().behaviours.provider_registration || REGISTERED_BY_DEFAULT.contains(canonical);
    let mut cloud = lock(&state.cloud);
    let running = cloud
        .operations
        .values()
        .filter(|op| op.resource_id.eq_ignore_ascii_case(&id))
        .map(|op| op.finished)
        .collect::<Vec<_>>();
    if running.iter().any(|finished| *finished) {
        cloud
            .registered_providers
            .insert(canonical.to_string(), true);
        cloud
            .operations
            .retain(|_, op| !op.resource_id.eq_ignore_ascii_case(&id));
        return Registration::Registered;
    }
    if cloud
        .registered_providers
        .get(*canonical)
        .copied()
        .unwrap_or(fresh_default)
    {
        Registration::Registered
    } else if running.is_empty() {
        Registration::NotRegistered
    } else {
        Registration::Registering
    }
}

/// Whether the subscription may use `namespace` now.
pub fn is_registered(state: &Shared, namespace: &str) -> bool {
    registration(state, namespace) == Registration::Registered
}

/// ARM's 409 for a write to a namespace the subscription has not registered, in its own shape:
/// the namespace is `details[0].target` (azure-sdk-for-node#2305).
pub fn unregistered_write(state: &Shared, namespace: &str) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    if is_registered(state, namespace) {
        return None;
    }
    let canonical = crate::arm::path::canonical(namespace);
    let message = format!("The subscription is not registered to use namespace '{canonical}'. See https://aka.ms/rps-not-found for how to register subscriptions.");
    let body = json!({"error": {"code": "MissingSubscriptionRegistration", "message": message,
        "details": [{"code": "MissingSubscriptionRegistration", "target": canonical, "message": message}]}});
    Some((StatusCode::CONFLICT, axum::Json(body)).into_response())
}

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
    match (*register, &req.method) {
        (false, &Method::GET) | (true, &Method::POST) => {}
        _ => return Err(arm::method_not_allowed(req)),
    }
    let id = provider_id(&parsed.subscription, canonical);
    let mut now = registration(state, canonical);
    if *register && now == Registration::NotRegistered {
        let secs = state.cfg().behaviours.provider_register_s;
        lro::start(state, &id, OperationAction::Create, secs, None);
        now = Registration::Registering;
    }
    arm::ok(json!({
        "id": id,
        "namespace": canonical,
        "registrationState": now.as_str(),
        "registrationPolicy": "RegistrationRequired",
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

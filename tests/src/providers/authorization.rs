//! Microsoft.Authorization: built-in role definitions and role assignments, with ARM's awkward
//! parts: GUID names, RoleAssignmentExists naming the existing id, and PrincipalNotFound while a new
//! principal replicates unless principalType is given.

use crate::arm::path::{ResourcePath, Target};
use crate::arm::{self, ArmRequest, ArmResult};
use crate::error::ArmError;
use crate::state::Resource;
use crate::state::{lock, Shared};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

pub const BUILT_IN_ROLES: &[(&str, &str)] = &[
    (
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Contributor",
    ),
    (
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Reader",
    ),
    (
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
        "Storage Blob Data Owner",
    ),
    (
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
        "Storage Queue Data Contributor",
    ),
    (
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
        "Storage Table Data Contributor",
    ),
    (
        "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        "Storage Account Contributor",
    ),
    (
        "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
        "Storage Blob Delegator",
    ),
    (
        "3913510d-42f4-4e42-8a64-420c390055eb",
        "Monitoring Metrics Publisher",
    ),
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
];

const PRINCIPAL_TYPES: &[&str] = &[
    "User",
    "Group",
    "ServicePrincipal",
    "ForeignGroup",
    "Device",
];

pub fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    match &parsed.target {
        Target::RoleDefinition { id } => role_definition(req, parsed, id),
        Target::RoleAssignmentList { scope } => list(state, req, scope),
        Target::RoleAssignment { scope, name } => assignment(state, req, scope, name),
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn role_definition(req: &ArmRequest, parsed: &ResourcePath, id: &str) -> ArmResult {
    if req.method != Method::GET {
        return Err(arm::method_not_allowed(req));
    }
    let Some((guid, name)) = BUILT_IN_ROLES
        .iter()
        .find(|(g, _)| g.eq_ignore_ascii_case(id))
    else {
        return Err(ArmError::not_found(
            "RoleDefinitionDoesNotExist",
            format!("The specified role definition with ID '{id}' does not exist."),
        ));
    };
    arm::ok(json!({
        "id": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{guid}", parsed.subscription),
        "name": guid, "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {"roleName": name, "type": "BuiltInRole", "assignableScopes": ["/"]},
    }))
}

fn role_guid(role_definition_id: &str) -> Option<&'static str> {
    let guid = role_definition_id.rsplit('/').next()?;
    BUILT_IN_ROLES
        .iter()
        .find(|(g, _)| g.eq_ignore_ascii_case(guid))
        .map(|(g, _)| *g)
}

fn assignment_id(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}")
}

fn scope_exists(state: &Shared, scope: &str) -> bool {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    parts.len() <= 2 || lock(&state.cloud).get(scope).is_some()
}

fn assignment(state: &Shared, req: &ArmRequest, scope: &str, name: &str) -> ArmResult {
    let id = assignment_id(scope, name);
    let existing = lock(&state.cloud).get(&id).cloned();
    match req.method {
        Method::GET => existing.map(|r| r.body).map(arm::ok).unwrap_or_else(|| {
            Err(ArmError::not_found(
                "RoleAssignmentNotFound",
                format!("The role assignment '{name}' is not found."),
            ))
        }),
        Method::DELETE => match existing {
            Some(r) => {
                lock(&state.cloud).remove(&r.id);
                arm::ok(r.body)
            }
            None => arm::empty(StatusCode::NO_CONTENT),
        },
        Method::PUT => put_assignment(state, req, scope, name, &id, existing),
        _ => Err(arm::method_not_allowed(req)),
    }
}

fn put_assignment(
    state: &Shared,
    req: &ArmRequest,
    scope: &str,
    name: &str,
    id: &str,
    existing: Option<Resource>,
) -> ArmResult {
    if uuid::Uuid::parse_str(name).is_err() {
        return Err(ArmError::bad_request("InvalidRoleAssignmentId", format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")));
    }
    let props = req
        .body()?
        .get("properties")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let principal_id = props
        .get("principalId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let role_definition_id = props
        .get("roleDefinitionId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let principal_type = props
        .get("principalType")
        .and_then(Value::as_str)
        .map(str::to_string);
    if principal_id.is_empty() || role_definition_id.is_empty() {
        return Err(ArmError::bad_request("InvalidRequestContent", "The request content was invalid: 'properties.principalId' and 'properties.roleDefinitionId' are required."));
    }
    let Some(role) = role_guid(&role_definition_id) else {
        return Err(ArmError::bad_request(
            "RoleDefinitionDoesNotExist",
            format!(
                "The specified role definition with ID '{}' does not exist.",
                role_definition_id.rsplit('/').next().unwrap_or_default()
            ),
        ));
    };
    if let Some(t) = &principal_type {
        if !PRINCIPAL_TYPES.contains(&t.as_str()) {
            return Err(ArmError::bad_request(
                "InvalidPrincipalType",
                format!("The principal type '{t}' is not valid."),
            ));
        }
    }
    if !scope_exists(state, scope) {
        return Err(ArmError::not_found(
            "ResourceNotFound",
            format!("The scope '{scope}' does not exist."),
        ));
    }
    check_principal(state, &principal_id, principal_type.as_deref())?;
    if let Some(old) = &existing {
        let same = old.body.pointer("/properties/principalId") == Some(&json!(principal_id))
            && role_guid(
                old.body
                    .pointer("/properties/roleDefinitionId")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ) == Some(role);
        if !same {
            return Err(ArmError::bad_request(
                "InvalidRoleAssignmentUpdate",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            ));
        }
        return arm::ok(old.body.clone());
    }
    let duplicate = {
        let cloud = lock(&state.cloud);
        cloud
            .resources
            .values()
            .find(|r| {
                r.kind == "Microsoft.Authorization/roleAssignments"
                    && r.body
                        .pointer("/properties/scope")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.eq_ignore_ascii_case(scope))
                    && r.body.pointer("/properties/principalId") == Some(&json!(principal_id))
                    && role_guid(
                        r.body
                            .pointer("/properties/roleDefinitionId")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ) == Some(role)
            })
            .map(|r| r.body["name"].as_str().unwrap_or_default().replace('-', ""))
    };
    if let Some(existing_name) = duplicate {
        return Err(ArmError::conflict("RoleAssignmentExists", format!("The role assignment already exists. The ID of the existing role assignment is {existing_name}.")));
    }
    let actual_type = lock(&state.cloud)
        .directory
        .get(&principal_id)
        .map(|o| o.principal_type.clone());
    let now = chrono::Utc::now().to_rfc3339();
    let body = json!({
        "id": id, "name": name, "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal_id,
            "principalType": principal_type.or(actual_type).unwrap_or_else(|| "User".into()),
            "scope": scope,
            "description": props.get("description").cloned().unwrap_or(Value::Null),
            "condition": props.get("condition").cloned().unwrap_or(Value::Null),
            "createdOn": now, "updatedOn": now, "createdBy": req.caller.oid, "updatedBy": req.caller.oid,
        },
    });
    lock(&state.cloud).insert(Resource {
        id: id.to_string(),
        kind: "Microsoft.Authorization/roleAssignments".into(),
        body: body.clone(),
    });
    arm::status_json(StatusCode::CREATED, body)
}

/// A principal ARM cannot see yet fails with PrincipalNotFound; giving principalType skips the lookup.
fn check_principal(
    state: &Shared,
    principal_id: &str,
    principal_type: Option<&str>,
) -> Result<(), ArmError> {
    let window = state.cfg().principal_replication;
    let age = lock(&state.cloud).principal_age(principal_id);
    let not_found = || {
        ArmError::bad_request(
        "PrincipalNotFound",
        format!("Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype", principal_id.replace('-', ""), state.cfg().tenant_id),
    )
    };
    match age {
        None => Err(not_found()),
        Some(age) if age < window && principal_type.is_none() => Err(not_found()),
        Some(_) => Ok(()),
    }
}

/// `GET {scope}/providers/Microsoft.Authorization/roleAssignments` — at, above and below the scope.
fn list(state: &Shared, req: &ArmRequest, scope: &str) -> ArmResult {
    if req.method != Method::GET {
        return Err(arm::method_not_allowed(req));
    }
    let filter = req.query.get("$filter").cloned().unwrap_or_default();
    let at_scope_only = filter.contains("atScope()");
    let principal_filter = filter
        .split("principalId eq '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .map(str::to_string);
    let scope_lc = scope.to_ascii_lowercase();
    let cloud = lock(&state.cloud);
    let value: Vec<Value> = cloud
        .resources
        .values()
        .filter(|r| r.kind == "Microsoft.Authorization/roleAssignments")
        .filter(|r| {
            let s = r
                .body
                .pointer("/properties/scope")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let above = scope_lc == s || scope_lc.starts_with(&format!("{s}/"));
            let below = s.starts_with(&format!("{scope_lc}/"));
            if at_scope_only {
                above
            } else {
                above || below
            }
        })
        .filter(|r| {
            principal_filter
                .as_ref()
                .is_none_or(|p| r.body.pointer("/properties/principalId") == Some(&json!(p)))
        })
        .map(|r| r.body.clone())
        .collect();
    arm::ok(json!({"value": value}))
}

//! Microsoft Graph v1.0, the part we need: security groups (create, upsert by uniqueName with
//! `Prefer: create-if-missing`), members and owners by `$ref`, and directory objects.
//!
//! Three of Azure's behaviours live here (see `behaviours`): replication lag after a group is
//! created (`graph_lag`), a tenant-wide unique `uniqueName` (`unique_group_names`), and 403s for
//! the permissions the deploying identity lacks (`graph_permissions`).

use crate::error::graph_error;
use crate::state::DirectoryObject;
use crate::state::{lock, Shared};
use crate::token::Claims;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::time::Instant;

type GraphResult = Result<Response, GraphError>;

/// Graph's error answer, kept small until it becomes a response.
pub struct GraphError(StatusCode, &'static str, String);

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        graph_error(self.0, self.1, &self.2)
    }
}

fn not_found(id: &str) -> GraphError {
    GraphError(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn bad_request(message: &str) -> GraphError {
    GraphError(
        StatusCode::BAD_REQUEST,
        "Request_BadRequest",
        message.to_string(),
    )
}

pub async fn dispatch(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(Body::new(body), 4 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                return bad_request(&format!("Unable to read JSON request payload: {e}"))
                    .into_response()
            }
        }
    };
    let prefer_create = parts
        .headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.contains("create-if-missing"));
    let path = parts.uri.path().trim_start_matches("/v1.0/").to_string();
    let path = percent_decode(&path);
    let segments: Vec<&str> = path.split('/').collect();
    let caller = parts
        .extensions
        .get::<Claims>()
        .map(|c| c.oid.clone())
        .unwrap_or_default();
    let call = Call {
        method: &parts.method,
        segments: &segments,
        body: body.as_ref(),
        prefer_create,
        caller: &caller,
    };
    if let Err(denied) = permitted(&state, &call) {
        return denied.into_response();
    }
    let result = route(&state, &parts.method, &segments, body, prefer_create);
    result.unwrap_or_else(IntoResponse::into_response)
}

/// One Graph call, as far as its permission check needs to know it.
struct Call<'a> {
    method: &'a Method,
    segments: &'a [&'a str],
    body: Option<&'a Value>,
    prefer_create: bool,
    caller: &'a str,
}

/// The least application permission each call we serve needs (Graph's permissions reference):
/// creating a group `Group.Create`; changing or deleting one `Group.ReadWrite.All`; `$ref` on
/// members or owners `GroupMember.ReadWrite.All`; reading groups and their members
/// `GroupMember.Read.All`; reading other directory objects, or binding them as owners or members
/// of a new group, `Directory.Read.All` (an app may bind itself without it).
fn needed_permissions(state: &Shared, call: &Call) -> Vec<&'static str> {
    let group_exists = |segment: &str| -> bool {
        let unique = segment
            .trim_start_matches("groups(uniqueName=")
            .trim_end_matches(')')
            .trim_matches('\'');
        find_by_unique(state, unique).is_some()
    };
    let binds_others = || {
        call.body.is_some_and(|b| {
            ["owners@odata.bind", "members@odata.bind"].iter().any(|k| {
                b.get(*k).and_then(Value::as_array).is_some_and(|urls| {
                    urls.iter().any(|u| {
                        !u.as_str()
                            .unwrap_or_default()
                            .ends_with(&format!("/{}", call.caller))
                    })
                })
            })
        })
    };
    let create = || {
        let mut needs = vec!["Group.Create"];
        if binds_others() {
            needs.push("Directory.Read.All");
        }
        needs
    };
    let first = call.segments.first().copied().unwrap_or_default();
    let is_ref = call.segments.last() == Some(&"$ref");
    match *call.method {
        Method::GET if first.starts_with("groups") => vec!["GroupMember.Read.All"],
        Method::GET => vec!["Directory.Read.All"],
        _ if is_ref => vec!["GroupMember.ReadWrite.All"],
        Method::POST if call.segments == ["groups"] => create(),
        Method::PATCH
            if first.starts_with("groups(uniqueName=")
                && call.prefer_create
                && !group_exists(first) =>
        {
            create()
        }
        _ => vec!["Group.ReadWrite.All"],
    }
}

/// 403 `Authorization_RequestDenied` when the call needs a permission listed in `graph_denied`.
/// Graph does not name the permission; the caller has to know what its call needs.
fn permitted(state: &Shared, call: &Call) -> Result<(), GraphError> {
    let behaviours = state.cfg().behaviours;
    if !behaviours.graph_permissions || behaviours.graph_denied.is_empty() {
        return Ok(());
    }
    let needed = needed_permissions(state, call);
    if needed.iter().any(|p| {
        behaviours
            .graph_denied
            .iter()
            .any(|d| d.eq_ignore_ascii_case(p))
    }) {
        return Err(GraphError(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.".to_string(),
        ));
    }
    Ok(())
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn route(
    state: &Shared,
    method: &Method,
    segments: &[&str],
    body: Option<Value>,
    prefer_create: bool,
) -> GraphResult {
    match segments {
        [g] if g.starts_with("groups(uniqueName=") => {
            let unique = g
                .trim_start_matches("groups(uniqueName=")
                .trim_end_matches(')')
                .trim_matches('\'')
                .to_string();
            by_unique_name(state, method, &unique, body, prefer_create)
        }
        ["groups"] if *method == Method::POST => {
            create_group(state, body.unwrap_or_default(), None).map(|(_, r)| r)
        }
        ["groups", id] => group(state, method, id, body),
        ["groups", id, rel]
            if *method == Method::GET && (*rel == "members" || *rel == "owners") =>
        {
            list_refs(state, id, rel)
        }
        ["groups", id, rel, "$ref"] if *method == Method::POST => {
            add_ref(state, id, rel, body.unwrap_or_default())
        }
        ["groups", id, rel, member, "$ref"] if *method == Method::DELETE => {
            remove_ref(state, id, rel, member)
        }
        ["servicePrincipals", id] | ["directoryObjects", id] | ["users", id]
            if *method == Method::GET =>
        {
            let object = lock(&state.cloud).directory.get(*id).cloned();
            object
                .map(|o| Json(o.body).into_response())
                .ok_or_else(|| not_found(id))
        }
        _ => Err(GraphError(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!(
                "Resource not found for the segment '{}'.",
                segments.join("/")
            ),
        )),
    }
}

fn find_by_unique(state: &Shared, unique: &str) -> Option<DirectoryObject> {
    lock(&state.cloud)
        .directory
        .values()
        .find(|o| o.body.get("uniqueName").and_then(Value::as_str) == Some(unique))
        .cloned()
}

fn by_unique_name(
    state: &Shared,
    method: &Method,
    unique: &str,
    body: Option<Value>,
    prefer_create: bool,
) -> GraphResult {
    let existing = find_by_unique(state, unique);
    match (method.clone(), existing) {
        (Method::GET, Some(o)) => Ok(Json(o.body).into_response()),
        (Method::GET, None) => Err(not_found(unique)),
        (Method::DELETE, Some(o)) => {
            lock(&state.cloud).directory.remove(&o.id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Method::DELETE, None) => Err(not_found(unique)),
        (Method::PATCH, Some(o)) => {
            update_group(state, &o.id, body.unwrap_or_default())?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Method::PATCH, None) if prefer_create => {
            create_group(state, body.unwrap_or_default(), Some(unique)).map(|(_, r)| r)
        }
        (Method::PATCH, None) => Err(not_found(unique)),
        _ => Err(GraphError(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Method not allowed.".to_string(),
        )),
    }
}

fn bind_ids(state: &Shared, body: &Value, key: &str) -> Result<Vec<String>, GraphError> {
    let mut ids = Vec::new();
    for url in body
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let id = url
            .as_str()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or_default()
            .to_string();
        if !lock(&state.cloud).directory.contains_key(&id) {
            return Err(not_found(&id));
        }
        ids.push(id);
    }
    Ok(ids)
}

fn valid_mail_nickname(nick: &str) -> bool {
    !nick.is_empty()
        && nick.len() <= 64
        && nick.is_ascii()
        && !nick.chars().any(|c| "@()\\[]\";:.<>, ".contains(c))
}

fn create_group(
    state: &Shared,
    body: Value,
    unique: Option<&str>,
) -> Result<(String, Response), GraphError> {
    for required in [
        "displayName",
        "mailNickname",
        "mailEnabled",
        "securityEnabled",
    ] {
        if body.get(required).is_none() {
            return Err(bad_request(&format!(
                "Invalid value specified for property '{required}' of resource 'Group'."
            )));
        }
    }
    let nick = body["mailNickname"].as_str().unwrap_or_default();
    if !valid_mail_nickname(nick) {
        return Err(bad_request(
            "Invalid value specified for property 'mailNickname' of resource 'Group'.",
        ));
    }
    let unique_name = unique.map(str::to_string).or_else(|| {
        body.get("uniqueName")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if let Some(name) = &unique_name {
        if state.cfg().behaviours.unique_group_names && find_by_unique(state, name).is_some() {
            return Err(bad_request(
                "Another object with the same value for property uniqueName already exists.",
            ));
        }
    }
    let owners = bind_ids(state, &body, "owners@odata.bind")?;
    let members = bind_ids(state, &body, "members@odata.bind")?;
    if owners.len() + members.len() > 20 {
        return Err(bad_request(
            "A maximum of 20 owners and members can be bound when a group is created.",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let group = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups/$entity",
        "id": id, "displayName": body["displayName"], "description": body.get("description").cloned().unwrap_or(Value::Null),
        "mailEnabled": body["mailEnabled"], "mailNickname": nick, "securityEnabled": body["securityEnabled"],
        "groupTypes": body.get("groupTypes").cloned().unwrap_or(json!([])),
        "uniqueName": unique_name.map(Value::from).unwrap_or(Value::Null),
        "createdDateTime": chrono::Utc::now().to_rfc3339(),
    });
    lock(&state.cloud).directory.insert(
        id.clone(),
        DirectoryObject {
            id: id.clone(),
            principal_type: "Group".into(),
            body: group.clone(),
            created: Some(Instant::now()),
            members,
            owners,
        },
    );
    Ok((id, (StatusCode::CREATED, Json(group)).into_response()))
}

fn update_group(state: &Shared, id: &str, body: Value) -> Result<(), GraphError> {
    let members = bind_ids(state, &body, "members@odata.bind")?;
    let owners = bind_ids(state, &body, "owners@odata.bind")?;
    let mut cloud = lock(&state.cloud);
    let Some(group) = cloud.directory.get_mut(id) else {
        return Err(not_found(id));
    };
    for key in [
        "displayName",
        "description",
        "mailNickname",
        "securityEnabled",
        "mailEnabled",
    ] {
        if let Some(v) = body.get(key) {
            group.body[key] = v.clone();
        }
    }
    for m in members {
        if !group.members.contains(&m) {
            group.members.push(m);
        }
    }
    for o in owners {
        if !group.owners.contains(&o) {
            group.owners.push(o);
        }
    }
    Ok(())
}

fn group(state: &Shared, method: &Method, id: &str, body: Option<Value>) -> GraphResult {
    let existing = lock(&state.cloud)
        .directory
        .get(id)
        .filter(|o| o.principal_type == "Group")
        .cloned();
    let Some(group) = existing else {
        return Err(not_found(id));
    };
    match *method {
        Method::GET => Ok(Json(group.body).into_response()),
        Method::PATCH => {
            update_group(state, id, body.unwrap_or_default())?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::DELETE => {
            lock(&state.cloud).directory.remove(id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(GraphError(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Method not allowed.".to_string(),
        )),
    }
}

fn list_refs(state: &Shared, id: &str, rel: &str) -> GraphResult {
    let cloud = lock(&state.cloud);
    let Some(group) = cloud.directory.get(id) else {
        return Err(not_found(id));
    };
    let ids = if rel == "members" {
        &group.members
    } else {
        &group.owners
    };
    let value: Vec<Value> = ids
        .iter()
        .map(|m| {
            let kind = cloud
                .directory
                .get(m)
                .map(|o| o.principal_type.as_str())
                .unwrap_or("User");
            let odata = match kind {
                "Group" => "#microsoft.graph.group",
                "ServicePrincipal" => "#microsoft.graph.servicePrincipal",
                _ => "#microsoft.graph.user",
            };
            json!({"@odata.type": odata, "id": m})
        })
        .collect();
    Ok(Json(json!({"value": value})).into_response())
}

fn add_ref(state: &Shared, id: &str, rel: &str, body: Value) -> GraphResult {
    let member = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    let cfg = state.cfg();
    let mut cloud = lock(&state.cloud);
    if !cloud.directory.contains_key(&member) {
        return Err(not_found(&member));
    }
    let Some(group) = cloud.directory.get_mut(id) else {
        return Err(not_found(id));
    };
    // Replication lag: the replica answering `$ref` has not seen a group this young yet.
    if cfg.behaviours.graph_lag
        && group
            .created
            .is_some_and(|at| at.elapsed() < cfg.scaled(cfg.behaviours.graph_lag_s))
    {
        return Err(not_found(id));
    }
    let list = if rel == "members" {
        &mut group.members
    } else {
        &mut group.owners
    };
    if list.contains(&member) {
        return Err(bad_request(&format!("One or more added object references already exist for the following modified properties: '{rel}'.")));
    }
    list.push(member);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn remove_ref(state: &Shared, id: &str, rel: &str, member: &str) -> GraphResult {
    let mut cloud = lock(&state.cloud);
    let Some(group) = cloud.directory.get_mut(id) else {
        return Err(not_found(id));
    };
    let list = if rel == "members" {
        &mut group.members
    } else {
        &mut group.owners
    };
    let before = list.len();
    list.retain(|m| m != member);
    if list.len() == before {
        return Err(not_found(member));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! The admin API tests use: inspect state, read the request log, change things out of band
//! (drift), tune latency, faults and replication delay, mint tokens, and reset.

use crate::config::{FaultConfig, LatencyProfile};
use crate::state::DirectoryObject;
use crate::state::{lock, Shared};
use crate::token::claims_for;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/state", get(state_view))
        .route("/reset", post(reset))
        .route("/requests", get(requests).delete(clear_requests))
        .route(
            "/resource",
            get(get_resource)
                .patch(patch_resource)
                .delete(delete_resource),
        )
        .route("/faults", post(set_faults))
        .route("/latency", post(set_latency))
        .route("/settings", post(set_settings))
        .route("/behaviours", get(behaviours).post(set_behaviours))
        .route("/token", post(mint_token))
        .route("/oidc", post(mint_assertion))
        .route("/directory", post(add_directory_object))
        .route("/sites", get(sites))
}

async fn state_view(State(state): State<Shared>) -> Json<Value> {
    let cloud = lock(&state.cloud);
    let resources: Vec<Value> = cloud
        .resources
        .values()
        .map(|r| json!({"id": r.id, "type": r.kind, "body": r.body}))
        .collect();
    let directory: Vec<Value> = cloud
        .directory
        .values()
        .map(|o| json!({"id": o.id, "principalType": o.principal_type, "body": o.body, "members": o.members, "owners": o.owners}))
        .collect();
    let accounts: Vec<Value> = cloud
        .accounts
        .values()
        .map(|a| json!({"name": a.name, "blobEndpoint": a.blob_endpoint(), "ready": a.ready}))
        .collect();
    let deleted: Vec<Value> = cloud
        .deleted_workspaces
        .values()
        .map(|d| json!({"id": d.id, "location": d.location}))
        .collect();
    Json(
        json!({"resources": resources, "directory": directory, "accounts": accounts, "deletedWorkspaces": deleted}),
    )
}

async fn reset(State(state): State<Shared>) -> StatusCode {
    let accounts: Vec<String> = lock(&state.cloud).accounts.keys().cloned().collect();
    let sites: Vec<String> = lock(&state.cloud)
        .resources
        .values()
        .filter(|r| r.kind == "Microsoft.Web/sites")
        .map(|r| r.id.clone())
        .collect();
    for site in sites {
        crate::functions_host::stop_site(&state, &site).await;
    }
    for account in accounts {
        state.azurite.stop(&account).await;
    }
    let cfg = state.cfg();
    *lock(&state.cloud) = crate::state::Cloud::default();
    crate::state::seed_directory(&state, &cfg);
    state.log.clear();
    StatusCode::NO_CONTENT
}

async fn requests(State(state): State<Shared>) -> Json<Value> {
    Json(json!(state.log.entries()))
}

async fn clear_requests(State(state): State<Shared>) -> StatusCode {
    state.log.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct IdQuery {
    id: String,
}

async fn get_resource(State(state): State<Shared>, Query(q): Query<IdQuery>) -> Response {
    match lock(&state.cloud).get(&q.id) {
        Some(r) => Json(r.body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Merges the JSON body into the stored resource, as a change made by hand in the portal.
async fn patch_resource(
    State(state): State<Shared>,
    Query(q): Query<IdQuery>,
    Json(patch): Json<Value>,
) -> Response {
    let changed = {
        let mut cloud = lock(&state.cloud);
        match cloud.get_mut(&q.id) {
            Some(r) => {
                crate::arm::merge(&mut r.body, &patch);
                true
            }
            None => false,
        }
    };
    if !changed {
        return StatusCode::NOT_FOUND.into_response();
    }
    if q.id.to_ascii_lowercase().contains("/config/appsettings") {
        let site = q.id[..q
            .id
            .to_ascii_lowercase()
            .find("/config/appsettings")
            .unwrap_or(0)]
            .to_string();
        state.notices.site_changed(&site);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_resource(State(state): State<Shared>, Query(q): Query<IdQuery>) -> StatusCode {
    let existed = lock(&state.cloud).get(&q.id).is_some();
    if existed {
        crate::arm::lro::cascade_delete(&state, &q.id, true).await;
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn set_faults(State(state): State<Shared>, Json(faults): Json<FaultConfig>) -> StatusCode {
    *lock(&state.rng) = rand::SeedableRng::seed_from_u64(faults.seed);
    lock(&state.cfg).faults = faults;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct LatencyRequest {
    profile: Option<String>,
    time_scale: Option<f64>,
}

async fn set_latency(State(state): State<Shared>, Json(req): Json<LatencyRequest>) -> StatusCode {
    let mut cfg = lock(&state.cfg);
    match req.profile.as_deref() {
        Some("azure") => cfg.latency = LatencyProfile::azure_like(),
        Some("fast") => cfg.latency = LatencyProfile::fast(),
        _ => {}
    }
    if let Some(scale) = req.time_scale {
        cfg.time_scale = scale;
    }
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SettingsRequest {
    principal_replication_s: Option<f64>,
}

async fn set_settings(State(state): State<Shared>, Json(req): Json<SettingsRequest>) -> StatusCode {
    if let Some(s) = req.principal_replication_s {
        lock(&state.cfg).principal_replication = Duration::from_secs_f64(s.max(0.0));
    }
    StatusCode::NO_CONTENT
}

async fn behaviours(State(state): State<Shared>) -> Json<Value> {
    Json(json!(state.cfg().behaviours))
}

/// Merges the JSON body into the behaviours: `{"graph_lag": false}`, `{"graph_lag_s": 3}`, or
/// `{"all": false}` first to start from none.
async fn set_behaviours(State(state): State<Shared>, Json(req): Json<Value>) -> Response {
    let mut cfg = lock(&state.cfg);
    let current = match req.get("all").and_then(Value::as_bool) {
        Some(false) => crate::behaviours::Behaviours::none(),
        Some(true) => crate::behaviours::Behaviours::default(),
        None => cfg.behaviours.clone(),
    };
    let mut merged = json!(current);
    if let Some(fields) = req.as_object() {
        for (k, v) in fields.iter().filter(|(k, _)| k.as_str() != "all") {
            merged[k] = v.clone();
        }
    }
    match serde_json::from_value(merged) {
        Ok(b) => {
            cfg.behaviours = b;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("behaviours: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    audience: String,
    object_id: Option<String>,
    lifetime_s: Option<i64>,
}

async fn mint_token(State(state): State<Shared>, Json(req): Json<TokenRequest>) -> Json<Value> {
    let cfg = state.cfg();
    let oid = req
        .object_id
        .unwrap_or_else(|| crate::config::DEPLOYER_OBJECT_ID.to_string());
    let claims = claims_for(
        &cfg,
        &state.signer,
        &req.audience,
        &oid,
        &oid,
        req.lifetime_s.unwrap_or(3600),
    );
    Json(json!({"access_token": state.signer.mint(&claims)}))
}

/// An external OIDC token such as GitHub Actions hands a job, for workload identity federation.
async fn mint_assertion(Json(req): Json<HashMap<String, Value>>) -> Json<Value> {
    let now = chrono::Utc::now().timestamp();
    let lifetime = req.get("lifetime_s").and_then(Value::as_i64).unwrap_or(300);
    let claims = json!({
        "iss": req.get("iss").cloned().unwrap_or(json!(crate::config::OIDC_ISSUER)),
        "sub": req.get("sub").cloned().unwrap_or(json!(crate::config::OIDC_SUBJECT)),
        "aud": req.get("aud").cloned().unwrap_or(json!(crate::config::OIDC_AUDIENCE)),
        "iat": now, "nbf": now, "exp": now + lifetime,
    });
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    Json(json!({"value": format!("{header}.{payload}.c2lnbmF0dXJl")}))
}

#[derive(Deserialize)]
struct DirectoryRequest {
    id: Option<String>,
    principal_type: String,
    display_name: String,
    /// How old the object is already (seconds); 0 = just created.
    age_s: Option<u64>,
}

async fn add_directory_object(
    State(state): State<Shared>,
    Json(req): Json<DirectoryRequest>,
) -> Json<Value> {
    let id = req.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // An age the clock cannot go back to is older than any replication window.
    let created = Instant::now().checked_sub(Duration::from_secs(req.age_s.unwrap_or(0)));
    let body = json!({"id": id, "displayName": req.display_name});
    lock(&state.cloud).directory.insert(
        id.clone(),
        DirectoryObject {
            id: id.clone(),
            principal_type: req.principal_type,
            body: body.clone(),
            created,
            members: vec![],
            owners: vec![],
        },
    );
    Json(body)
}

async fn sites(State(state): State<Shared>) -> Json<Value> {
    Json(crate::functions_host::describe(&state).await)
}

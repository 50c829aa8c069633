//! The Entra v2 token endpoint and the App Service managed-identity endpoint.

use crate::state::{lock, Shared};
use crate::token::{audience_from_scope, claims_for, decode_unverified};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}"),
        "error_codes": [code],
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": uuid::Uuid::new_v4().to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
struct ExternalAssertion {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: serde_json::Value,
    exp: i64,
}

/// `POST /{tenant}/oauth2/v2.0/token`, client credentials with a secret or a federated assertion.
pub async fn token_endpoint(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let cfg = state.cfg();
    if tenant != cfg.tenant_id && tenant != "organizations" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let Some(scope) = form.get("scope") else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let Some(app) = cfg.apps.iter().find(|a| a.client_id == client_id) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        );
    };
    if let Some(secret) = form.get("client_secret") {
        if app.client_secret.as_deref() != Some(secret.as_str()) {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        let Some(external) = decode_unverified::<ExternalAssertion>(assertion) else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            );
        };
        // GitHub's OIDC tokens live about five minutes; Entra refuses one past its `exp`.
        let now = chrono::Utc::now().timestamp();
        if cfg.behaviours.assertion_expiry && external.exp <= now {
            let at = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                    .unwrap_or_default()
            };
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                700024,
                &format!(
                    "Client assertion is not within its valid time range. Current time: {}, expiry time of assertion {}.",
                    at(now),
                    at(external.exp)
                ),
            );
        }
        let audiences: Vec<String> = match &external.aud {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        };
        let matched = app.federated_credentials.iter().any(|fc| {
            fc.issuer == external.iss
                && fc.subject == external.sub
                && audiences.contains(&fc.audience)
        });
        if !matched {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                70021,
                &format!("No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'.", external.iss, external.sub),
            );
        }
    } else {
        return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    let audience = audience_from_scope(scope);
    let lifetime = cfg.token_lifetime.as_secs() as i64;
    let token = state.signer.mint(&claims_for(
        &cfg,
        &state.signer,
        &audience,
        &app.object_id,
        &app.client_id,
        lifetime,
    ));
    Json(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})).into_response()
}

/// `GET {IDENTITY_ENDPOINT}?resource=...&api-version=2019-08-01` with `X-IDENTITY-HEADER`.
pub async fn managed_identity_endpoint(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let secret = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let principal = lock(&state.cloud).msi_secrets.get(secret).cloned();
    let Some(principal) = principal else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"statusCode": 400, "message": "Missing or invalid X-IDENTITY-HEADER."})),
        )
            .into_response();
    };
    let Some(resource) = query.get("resource") else {
        return (StatusCode::BAD_REQUEST, Json(json!({"statusCode": 400, "message": "Required query parameter resource is missing."}))).into_response();
    };
    let cfg = state.cfg();
    let lifetime = cfg.token_lifetime.as_secs() as i64;
    let audience = resource.trim_end_matches('/');
    let claims = claims_for(
        &cfg,
        &state.signer,
        audience,
        &principal,
        &principal,
        lifetime,
    );
    let token = state.signer.mint(&claims);
    Json(json!({
        "access_token": token,
        "expires_on": claims.exp.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": principal,
    }))
    .into_response()
}

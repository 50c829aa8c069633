//! The HTTP front: the routes, and the layers every request passes (request log, latency and
//! faults, auth). It depends on the handlers and providers; nothing below depends on it.

mod auth;

use crate::arm::{self, lro, ArmRequest};
use crate::faults::faults_and_latency;
use crate::state::Shared;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

/// Kept for callers written before the state moved to `state`.
pub use crate::state::lock;

pub fn router(state: Shared) -> Router {
    let arm = Router::new()
        .route("/subscriptions/{*rest}", any(arm_endpoint))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::arm_auth,
        ));
    let graph = Router::new()
        .route("/v1.0/{*rest}", any(crate::graph::dispatch))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::graph_auth,
        ));
    let cloud_api = arm.merge(graph).layer(middleware::from_fn_with_state(
        state.clone(),
        faults_and_latency,
    ));
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(crate::identity::token_endpoint),
        )
        .route(
            "/msi/token",
            get(crate::identity::managed_identity_endpoint),
        )
        .merge(cloud_api)
        .nest("/_admin", crate::admin::router())
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// Every ARM call: read it, let due operations finish, admit it (path, api-version,
/// subscription), then hand it to the provider that owns it.
async fn arm_endpoint(State(state): State<Shared>, request: Request) -> Response {
    let answer = async {
        let req = ArmRequest::read(request).await?;
        lro::advance(&state).await;
        let parsed = arm::admit(&state, &req)?;
        crate::providers::route(&state, &req, &parsed).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// Records every request as a JSON line, secrets redacted, after the answer is known.
async fn log_request(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let method = parts.method.to_string();
    let user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let logged_body = if path.contains("/oauth2/") || path.starts_with("/_admin") {
        None
    } else {
        Some(String::from_utf8_lossy(&bytes).into_owned())
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !path.starts_with("/_admin") {
        state.log.record(
            &method,
            &path,
            &query,
            logged_body.as_deref(),
            response.status().as_u16(),
            user_agent.as_deref(),
        );
    }
    response
}

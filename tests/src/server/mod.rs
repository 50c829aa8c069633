//! The HTTP front: routes, and the layers every ARM/Graph request passes (log, latency, faults, auth).

use crate::azurite::AzuriteFleet;
use crate::config::EmulatorConfig;
use crate::error::{graph_error, ArmError};
use crate::request_log::RequestLog;
use crate::state::Cloud;
use crate::token::{Claims, TokenProblem, TokenSigner, ARM_AUDIENCES, GRAPH_AUDIENCES};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};

pub struct AppState {
    pub cfg: Mutex<EmulatorConfig>,
    pub cloud: Mutex<Cloud>,
    pub signer: TokenSigner,
    pub log: RequestLog,
    pub rng: Mutex<StdRng>,
    pub azurite: AzuriteFleet,
    pub base_url: Mutex<String>,
    pub http: reqwest::Client,
    pub sites: crate::functions_host::SiteHosts,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(cfg: EmulatorConfig) -> Self {
        let signer = TokenSigner::new(&cfg.tenant_id);
        let rng = StdRng::seed_from_u64(cfg.faults.seed);
        let log = RequestLog::new(cfg.request_log.clone());
        let azurite = AzuriteFleet::new(cfg.azurite_blob_bin.clone(), cfg.data_dir.join("azurite"));
        Self {
            cfg: Mutex::new(cfg),
            cloud: Mutex::new(Cloud::default()),
            signer,
            log,
            rng: Mutex::new(rng),
            azurite,
            base_url: Mutex::new(String::new()),
            http: reqwest::Client::new(),
            sites: Default::default(),
        }
    }

    pub fn cfg(&self) -> EmulatorConfig {
        lock(&self.cfg).clone()
    }

    pub fn base_url(&self) -> String {
        lock(&self.base_url).clone()
    }
}

/// Poisoning only follows a panic we injected on purpose; the data is still consistent.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn router(state: Shared) -> Router {
    let arm = Router::new()
        .route("/subscriptions/{*rest}", any(crate::arm::dispatch))
        .layer(middleware::from_fn_with_state(state.clone(), arm_auth));
    let graph = Router::new()
        .route("/v1.0/{*rest}", any(crate::graph::dispatch))
        .layer(middleware::from_fn_with_state(state.clone(), graph_auth));
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

/// Saves the cloud to the configured state file, if any (after every change).
pub fn save_state(state: &Shared) {
    let file = lock(&state.cfg).state_file.clone();
    if let Some(file) = file {
        if let Err(e) = lock(&state.cloud).save(&file) {
            tracing::warn!(file = %file.display(), error = %e, "cannot save the emulator state");
        }
    }
}

/// Azure-like latency and seeded faults: 429 + Retry-After, 500/503, dropped connections.
async fn faults_and_latency(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let cfg = state.cfg();
    if cfg.latency.request_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(cfg.latency.request_ms)).await;
    }
    let faults = &cfg.faults;
    let applies = faults.methods.is_empty()
        || faults
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(request.method().as_str()));
    if faults.is_active() && applies {
        let roll: f64 = lock(&state.rng).gen();
        if roll < faults.throttle_rate {
            return ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type - Write.",
            )
            .with_retry_after(faults.retry_after_s)
            .into_response();
        }
        let roll = roll - faults.throttle_rate;
        if roll < faults.server_error_rate {
            let (status, code) = if roll < faults.server_error_rate / 2.0 {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            };
            return ArmError::new(
                status,
                code,
                "Encountered internal server error. Please try again.",
            )
            .into_response();
        }
        if roll - faults.server_error_rate < faults.drop_rate {
            // Ends the connection task without a response, as a dropped TCP connection looks to a client.
            std::panic::resume_unwind(Box::new("injected connection drop"));
        }
    }
    next.run(request).await
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn arm_auth(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    match state
        .signer
        .verify(bearer(request.headers()).as_deref(), ARM_AUDIENCES)
    {
        Ok(claims) => {
            request.extensions_mut().insert::<Claims>(claims);
            next.run(request).await
        }
        Err(problem) => arm_auth_error(problem).into_response(),
    }
}

fn arm_auth_error(problem: TokenProblem) -> ArmError {
    let unauthorized =
        |code: &str, message: String| ArmError::new(StatusCode::UNAUTHORIZED, code, message);
    match problem {
        TokenProblem::Missing => unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.".into()),
        TokenProblem::Malformed => unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.".into()),
        TokenProblem::BadSignature => unauthorized("InvalidAuthenticationToken", "The access token is invalid.".into()),
        TokenProblem::Expired { exp, now } => unauthorized(
            "ExpiredAuthenticationToken",
            format!("The access token expiry UTC time '{}' is earlier than current UTC time '{}'.", fmt_time(exp), fmt_time(now)),
        ),
        TokenProblem::WrongAudience(aud) => unauthorized(
            "InvalidAuthenticationTokenAudience",
            format!("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."),
        ),
    }
}

fn fmt_time(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%m/%d/%Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

async fn graph_auth(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    match state
        .signer
        .verify(bearer(request.headers()).as_deref(), GRAPH_AUDIENCES)
    {
        Ok(claims) => {
            request.extensions_mut().insert::<Claims>(claims);
            next.run(request).await
        }
        Err(problem) => {
            let message = match problem {
                TokenProblem::Missing => "Access token is empty.".to_string(),
                TokenProblem::Expired { .. } => {
                    "Lifetime validation failed, the token is expired.".to_string()
                }
                TokenProblem::WrongAudience(_) => {
                    "Access token validation failure. Invalid audience.".to_string()
                }
                _ => "Access token validation failure.".to_string(),
            };
            graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                &message,
            )
        }
    }
}

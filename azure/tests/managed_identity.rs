//! The App Service managed identity through the shared credential path (azure_identity behind
//! our cache), against a fake identity endpoint that speaks the documented protocol. One test: it sets the process environment
//! the platform would set, which no other test in this binary reads.
#![allow(clippy::unwrap_used)]

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use azure::credential::{from_config, AuthConfig, AuthMethod, STORAGE_SCOPE};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The identity header and the query of one token request.
type Seen = (Option<String>, HashMap<String, String>);

#[derive(Clone, Default)]
struct Fake {
    calls: Arc<AtomicU64>,
    lifetime: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<Mutex<bool>>,
}

async fn token(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let n = fake.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let header = headers
        .get("x-identity-header")
        .map(|v| v.to_str().unwrap().to_owned());
    fake.seen.lock().unwrap().push((header, query));
    if *fake.fail.lock().unwrap() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": "identity not assigned"})),
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expires_on = now + fake.lifetime.load(Ordering::SeqCst);
    (
        StatusCode::OK,
        Json(json!({
            "access_token": format!("token-{n}"),
            "expires_on": expires_on.to_string(),
            "resource": "https://storage.azure.com",
            "token_type": "Bearer",
            "client_id": "c"
        })),
    )
}

#[tokio::test]
async fn managed_identity_tokens_are_fetched_once_and_errors_are_not_cached() {
    let fake = Fake::default();
    fake.lifetime.store(3600, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/msi/token", get(token))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    std::env::set_var(
        "IDENTITY_ENDPOINT",
        format!("http://127.0.0.1:{port}/msi/token"),
    );
    std::env::set_var("IDENTITY_HEADER", "hdr-value");
    let config = AuthConfig {
        method: AuthMethod::ManagedIdentity,
        authority: "https://login.microsoftonline.com".into(),
        tenant: String::new(),
        client_id: None,
    };

    let tokens = from_config(&config).unwrap();
    assert_eq!(tokens.method(), "managed-identity");
    let (a, b) = tokio::join!(tokens.token(STORAGE_SCOPE), tokens.token(STORAGE_SCOPE));
    assert_eq!(a.unwrap().secret, "token-1");
    assert_eq!(b.unwrap().secret, "token-1");
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        1,
        "concurrent callers share one fetch"
    );
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0].0.as_deref(), Some("hdr-value"));
    assert_eq!(seen[0].1["resource"], "https://storage.azure.com");
    assert_eq!(seen[0].1["api-version"], "2019-08-01");

    // (Refreshing before expiry is the cache's own unit test: azure_identity keeps a cache of
    // its own below ours, with its own margin.)

    // An endpoint error is reported with the endpoint's words and not cached.
    fake.lifetime.store(3600, Ordering::SeqCst);
    *fake.fail.lock().unwrap() = true;
    let failing = from_config(&config).unwrap();
    let error = failing.token(STORAGE_SCOPE).await.unwrap_err().to_string();
    assert!(error.contains("managed-identity"), "{error}");
    *fake.fail.lock().unwrap() = false;
    assert!(failing
        .token(STORAGE_SCOPE)
        .await
        .unwrap()
        .secret
        .starts_with("token-"));
}

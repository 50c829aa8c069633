//! The managed-identity credential against a fake App Service identity endpoint.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use function::credential::ManagedIdentityCredential;
use object_store::azure::AzureCredential;
use object_store::CredentialProvider;
use serde_json::{json, Value};

/// (X-IDENTITY-HEADER, query parameters) of each token request.
type SeenRequest = (Option<String>, std::collections::HashMap<String, String>);

#[derive(Clone, Default)]
struct Fake {
    calls: Arc<AtomicU64>,
    /// Seconds of life of the tokens handed out.
    lifetime: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    fail: Arc<Mutex<bool>>,
}

async fn token(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let n = fake.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let header = headers
        .get("x-identity-header")
        .map(|v| v.to_str().unwrap().to_owned());
    fake.seen.lock().unwrap().push((header, query));
    if *fake.fail.lock().unwrap() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
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
            "resource": "https://storage.azure.com/",
            "token_type": "Bearer",
            "client_id": "c"
        })),
    )
}

async fn start(fake: Fake) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/msi/token", get(token))
        .with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url::Url::parse(&format!("http://127.0.0.1:{port}/msi/token")).unwrap()
}

fn bearer(c: &AzureCredential) -> &str {
    match c {
        AzureCredential::BearerToken(t) => t,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn fetches_once_and_caches_until_near_expiry() {
    let fake = Fake::default();
    fake.lifetime.store(3600, Ordering::SeqCst);
    let endpoint = start(fake.clone()).await;
    let provider = ManagedIdentityCredential::new(endpoint, "hdr-value".into()).unwrap();

    let (a, b) = tokio::join!(provider.get_credential(), provider.get_credential());
    assert_eq!(bearer(&a.unwrap()), "token-1");
    assert_eq!(bearer(&b.unwrap()), "token-1");
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        1,
        "concurrent callers share one fetch"
    );

    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0].0.as_deref(), Some("hdr-value"));
    assert_eq!(seen[0].1["resource"], "https://storage.azure.com/");
    assert_eq!(seen[0].1["api-version"], "2019-08-01");
}

#[tokio::test]
async fn refreshes_a_token_that_expires_within_five_minutes() {
    let fake = Fake::default();
    fake.lifetime.store(120, Ordering::SeqCst);
    let endpoint = start(fake.clone()).await;
    let provider = ManagedIdentityCredential::new(endpoint, "h".into()).unwrap();
    assert_eq!(bearer(&provider.get_credential().await.unwrap()), "token-1");
    assert_eq!(bearer(&provider.get_credential().await.unwrap()), "token-2");
}

#[tokio::test]
async fn endpoint_errors_are_reported_not_cached() {
    let fake = Fake::default();
    fake.lifetime.store(3600, Ordering::SeqCst);
    *fake.fail.lock().unwrap() = true;
    let endpoint = start(fake.clone()).await;
    let provider = ManagedIdentityCredential::new(endpoint, "h".into()).unwrap();
    let err = provider.get_credential().await.unwrap_err().to_string();
    assert!(err.contains("400"), "{err}");
    *fake.fail.lock().unwrap() = false;
    assert_eq!(bearer(&provider.get_credential().await.unwrap()), "token-2");
}

//! Workload identity federation reads its assertion file afresh for every token request, so a
//! CI job that renews the file (GitHub's OIDC token lives about five minutes) keeps working.
//! One test: it sets the process environment, which no other test in this binary reads.
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::routing::post;
use axum::{Form, Json, Router};
use azure::credential::{from_config, AuthConfig, AuthMethod};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

async fn token(State(seen): State<Seen>, Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    let n = {
        let mut seen = seen.lock().unwrap();
        seen.push(form);
        seen.len()
    };
    Json(
        json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": format!("access-{n}")}),
    )
}

#[tokio::test]
async fn the_federated_token_file_is_read_again_for_each_new_token() {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc-token");
    std::fs::write(&file, "assertion-one\n").unwrap();
    std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", &file);
    std::env::set_var("AZURE_CLIENT_ID", "app-id");
    std::env::remove_var("AZURE_CLIENT_SECRET");
    let tokens = from_config(&AuthConfig {
        method: AuthMethod::Auto,
        authority: format!("http://127.0.0.1:{port}"),
        tenant: "tenant-1".into(),
        client_id: None,
    })
    .unwrap();
    assert_eq!(tokens.method(), "workload-identity");

    assert_eq!(
        tokens
            .token("https://management.azure.com/.default")
            .await
            .unwrap()
            .secret,
        "access-1"
    );
    // The workflow renews the file; the next token request (another scope) must send the new one.
    std::fs::write(&file, "assertion-two\n").unwrap();
    assert_eq!(
        tokens
            .token("https://graph.microsoft.com/.default")
            .await
            .unwrap()
            .secret,
        "access-2"
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["client_assertion"], "assertion-one");
    assert_eq!(seen[1]["client_assertion"], "assertion-two");
    assert_eq!(seen[0]["client_id"], "app-id");
    assert_eq!(
        seen[0]["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
}

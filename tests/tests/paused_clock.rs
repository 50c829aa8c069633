//! The emulator keeps time with tokio's clock. On a paused clock a long-running operation ends
//! exactly when its modelled duration has passed, and a new principal stays unknown to ARM for
//! exactly its replication window. Requests go through the same router the server runs, in
//! process (no socket, no Azurite), so only tokio's auto-advance moves time.

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use local_cloud::config::{EmulatorConfig, LatencyProfile, DEPLOYER_CLIENT_ID, DEPLOYER_SECRET};
use local_cloud::state::{lock, seed_directory, AppState, Shared};
use local_cloud::{DEFAULT_SUBSCRIPTION as SUB, DEFAULT_TENANT};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const BASE: &str = "http://emulator.test";

struct Front {
    app: Router,
    arm_token: String,
    graph_token: String,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Front {
    /// Azure-like durations at real scale: a workspace takes 8 s to create.
    async fn new(replication: Duration) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = EmulatorConfig::new(dir.path().to_path_buf());
        cfg.time_scale = 1.0;
        cfg.latency = LatencyProfile::azure_like();
        cfg.latency.request_ms = 0;
        cfg.principal_replication = replication;
        // The operation table's timing is under test, through an Azure-AsyncOperation on a
        // subscription that registered its namespaces long ago.
        cfg.behaviours.provider_registration = false;
        cfg.behaviours.provisioning_state_polling = false;
        let state: Shared = Arc::new(AppState::new(cfg.clone()));
        *lock(&state.base_url) = BASE.into();
        seed_directory(&state, &cfg);
        let mut front = Self {
            app: local_cloud::server::router(state),
            arm_token: String::new(),
            graph_token: String::new(),
            _dir: dir,
        };
        front.arm_token = front.token("https://management.azure.com/.default").await;
        front.graph_token = front.token("https://graph.microsoft.com/.default").await;
        front
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn token(&self, scope: &str) -> String {
        let form = format!(
            "grant_type=client_credentials&client_id={DEPLOYER_CLIENT_ID}&client_secret={DEPLOYER_SECRET}&scope={scope}"
        );
        let request = Request::post(format!("/{DEFAULT_TENANT}/oauth2/v2.0/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let reply = self.send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let path = path.strip_prefix(BASE).unwrap_or(path);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        self.send(request).await
    }

    async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, &self.arm_token, body).await
    }

    async fn resource_group(&self, rg: &str) {
        let reply = self
            .arm(
                "PUT",
                &format!("/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2021-04-01"),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
}

#[tokio::test(start_paused = true)]
async fn a_workspace_create_is_in_progress_until_its_modelled_duration_has_passed() {
    let started_real = std::time::Instant::now();
    let front = Front::new(Duration::from_secs(30)).await;
    let modelled = Duration::from_secs_f64(LatencyProfile::azure_like().workspace_create_s);
    front.resource_group("rg-lro").await;
    let workspace = format!("/subscriptions/{SUB}/resourceGroups/rg-lro/providers/Microsoft.OperationalInsights/workspaces/ws-paused");
    let created = front
        .arm(
            "PUT",
            &format!("{workspace}?api-version=2025-02-01"),
            Some(json!({"location": "westeurope", "properties": {"retentionInDays": 30}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let started = tokio::time::Instant::now();
    assert_eq!(created.body["properties"]["provisioningState"], "Creating");
    let status_url = created
        .headers
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .expect("Azure-AsyncOperation")
        .to_string();

    let status_after = |wait: Duration| {
        let (front, url, workspace) = (&front, status_url.clone(), workspace.clone());
        async move {
            tokio::time::sleep_until(started + wait).await;
            let reply = front.arm("GET", &url, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let resource = front
                .arm("GET", &format!("{workspace}?api-version=2025-02-01"), None)
                .await;
            (
                reply.body["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                reply.headers.contains_key("retry-after"),
                resource.body["properties"]["provisioningState"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };

    let (status, retry_after, state) = status_after(Duration::ZERO).await;
    assert_eq!(
        (status.as_str(), state.as_str()),
        ("InProgress", "Creating")
    );
    assert!(retry_after, "an in-progress poll says when to come back");
    let (status, _, state) = status_after(modelled - Duration::from_millis(100)).await;
    assert_eq!(
        (status.as_str(), state.as_str()),
        ("InProgress", "Creating"),
        "100 ms before the modelled {modelled:?} it is still running"
    );
    let (status, retry_after, state) = status_after(modelled).await;
    assert_eq!(
        (status.as_str(), state.as_str()),
        ("Succeeded", "Succeeded")
    );
    assert!(!retry_after, "a finished operation has no Retry-After");

    assert!(
        started_real.elapsed() < modelled,
        "the clock was advanced by tokio, not waited out ({:?} real)",
        started_real.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_principal_is_not_found_by_arm_until_its_replication_window_closes() {
    let started_real = std::time::Instant::now();
    let window = Duration::from_secs(30);
    let front = Front::new(window).await;
    front.resource_group("rg-rbac").await;
    let group = front
        .call(
            "POST",
            "/v1.0/groups",
            &front.graph_token,
            Some(json!({"displayName": "analysts", "mailNickname": "analysts", "mailEnabled": false, "securityEnabled": true})),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let created = tokio::time::Instant::now();
    let principal = group.body["id"].as_str().expect("group id").to_string();
    let role = |guid: &str| {
        format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    };
    let (reader, contributor) = (
        role("acdd72a7-3385-48ef-bd42-f606fba81ae7"),
        role("b24988ac-6180-42a0-ab88-20f7382dd24c"),
    );
    let assign = |name: &'static str,
                  role: &str,
                  principal_type: Option<&'static str>,
                  at: Duration| {
        let (front, principal, role) = (&front, principal.clone(), role.to_string());
        async move {
            tokio::time::sleep_until(created + at).await;
            let mut properties = json!({"roleDefinitionId": role, "principalId": principal});
            if let Some(t) = principal_type {
                properties["principalType"] = json!(t);
            }
            front
                .arm(
                    "PUT",
                    &format!("/subscriptions/{SUB}/resourceGroups/rg-rbac/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"),
                    Some(json!({"properties": properties})),
                )
                .await
        }
    };
    const FIRST: &str = "3f2b0b8e-0000-4000-8000-000000000001";
    const TYPED: &str = "3f2b0b8e-0000-4000-8000-000000000002";

    let early = assign(FIRST, &reader, None, Duration::ZERO).await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST, "{}", early.body);
    assert_eq!(early.body["error"]["code"], "PrincipalNotFound");
    let typed = assign(TYPED, &contributor, Some("Group"), Duration::ZERO).await;
    assert_eq!(
        typed.status,
        StatusCode::CREATED,
        "principalType skips the lookup: {}",
        typed.body
    );
    let late_but_early = assign(FIRST, &reader, None, window - Duration::from_millis(100)).await;
    assert_eq!(
        late_but_early.body["error"]["code"], "PrincipalNotFound",
        "100 ms before the window closes"
    );
    let replicated = assign(FIRST, &reader, None, window).await;
    assert_eq!(
        replicated.status,
        StatusCode::CREATED,
        "{}",
        replicated.body
    );
    assert_eq!(replicated.body["properties"]["principalType"], "Group");

    assert!(
        started_real.elapsed() < window,
        "the clock was advanced by tokio, not waited out ({:?} real)",
        started_real.elapsed()
    );
}

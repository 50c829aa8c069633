//! The storage data plane: one Azurite instance per storage account, so each account created
//! through ARM has its own endpoint and keys, and deleting it removes its data. The processes are
//! started by the shared test kit.
//!
//! Azurite answers on a private port; the account's advertised endpoint is a small proxy in front
//! of it. The proxy asks a [`Gate`] about each request first, because Azurite cannot do what Azure
//! does there: check an Entra token against data-plane role assignments (Azurite takes OAuth only
//! over HTTPS), and refuse a SAS bound to a stored access policy set moments ago. Requests the gate
//! lets through go to Azurite unchanged; a token the gate accepts is replaced by a Shared Key
//! signature of the same request.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use test_kit::{Azurite, Service};

/// What the gate sees of a data-plane request.
pub struct GateRequest<'a> {
    pub method: &'a str,
    /// `/{account}/{container}/{blob}` (path style, as Azurite takes it).
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// To Azurite as sent (Shared Key, SAS, anonymous).
    Forward,
    /// An accepted Entra token: signed with the account key instead.
    ForwardSigned,
    /// Answered here in storage's error shape (XML body and `x-ms-error-code`).
    Refuse {
        status: u16,
        code: String,
        message: String,
    },
}

pub trait Gate: Send + Sync {
    fn admit(&self, account: &str, request: &GateRequest<'_>) -> Verdict;
}

struct Running {
    service: Service,
    proxy: tokio::task::JoinHandle<()>,
}

pub struct AzuriteFleet {
    bin: PathBuf,
    root: PathBuf,
    running: Mutex<HashMap<String, Running>>,
    gate: OnceLock<Arc<dyn Gate>>,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum AzuriteError {
    #[error("Azurite for account {account} did not start: {reason}")]
    NotStarted { account: String, reason: String },
}

impl AzuriteFleet {
    pub fn new(bin: PathBuf, root: PathBuf) -> Self {
        Self {
            bin,
            root,
            running: Mutex::new(HashMap::new()),
            gate: OnceLock::new(),
            http: reqwest::Client::new(),
        }
    }

    /// The checks Azurite cannot make; set once, when the emulator starts.
    pub fn set_gate(&self, gate: Arc<dyn Gate>) {
        let _ = self.gate.set(gate);
    }

    /// Starts Azurite for `account` with `key`, its endpoint on `endpoint` (bound by the caller
    /// when it chose the port, so nothing else can take it meanwhile), and waits until it listens.
    pub async fn start(
        &self,
        account: &str,
        key: &str,
        endpoint: std::net::TcpListener,
    ) -> Result<(), AzuriteError> {
        let _ = std::fs::remove_dir_all(self.root.join(account));
        self.serve(account, key, endpoint).await
    }

    /// Starts over the account's existing data (an emulator restarted from its state file).
    pub async fn start_keeping_data(
        &self,
        account: &str,
        key: &str,
        port: u16,
    ) -> Result<(), AzuriteError> {
        let endpoint = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            AzuriteError::NotStarted {
                account: account.into(),
                reason: format!("cannot listen on 127.0.0.1:{port}: {e}"),
            }
        })?;
        self.serve(account, key, endpoint).await
    }

    async fn serve(
        &self,
        account: &str,
        key: &str,
        endpoint: std::net::TcpListener,
    ) -> Result<(), AzuriteError> {
        let not_started = |reason: String| AzuriteError::NotStarted {
            account: account.into(),
            reason,
        };
        let listener = endpoint
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(endpoint))
            .map_err(|e| not_started(format!("the endpoint is not usable: {e}")))?;
        let signer = azure::storage::AccountKey::new(account, key)
            .map_err(|e| not_started(format!("the account key is not usable: {e}")))?;
        let (service, private_port) = self.launch(account, key).await.map_err(not_started)?;
        let proxy = Arc::new(Proxy {
            account: account.to_string(),
            signer,
            upstream: private_port,
            gate: self.gate.get().cloned(),
            http: self.http.clone(),
        });
        let app = Router::new().fallback(forward).with_state(proxy);
        let proxy = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let replaced = crate::sync::lock(&self.running)
            .insert(account.to_string(), Running { service, proxy });
        drop_off_thread(replaced);
        Ok(())
    }

    /// Azurite on a private port, tried again on another port when it does not come up: its port
    /// is chosen before Azurite binds it, and another process may bind it first.
    async fn launch(&self, account: &str, key: &str) -> Result<(Service, u16), String> {
        let mut reasons = Vec::new();
        for _ in 0..LAUNCH_ATTEMPTS {
            let Some(port) = test_kit::port_for_child() else {
                reasons.push("no free port for Azurite below 32768".to_string());
                continue;
            };
            let azurite = Azurite::new(&self.bin)
                .account(account, key)
                .location(&self.root.join(account))
                .port(port);
            match tokio::task::spawn_blocking(move || azurite.start()).await {
                Ok(Ok(service)) => return Ok((service, port)),
                Ok(Err(e)) => reasons.push(format!("{e:#}")),
                Err(e) => reasons.push(e.to_string()),
            }
        }
        Err(reasons.join("; then "))
    }

    /// Kills the account's instance and removes its data.
    pub async fn stop(&self, account: &str) {
        let running = crate::sync::lock(&self.running).remove(account);
        if let Some(r) = &running {
            r.proxy.abort();
        }
        let _ = tokio::task::spawn_blocking(move || drop(running)).await;
        let _ = std::fs::remove_dir_all(self.root.join(account));
    }

    /// Stops every instance gracefully, so Azurite writes its metadata before it exits.
    pub async fn stop_all(&self) {
        let services: Vec<Running> = crate::sync::lock(&self.running)
            .drain()
            .map(|(_, s)| s)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for running in services {
                running.proxy.abort();
                running.service.stop(Duration::from_secs(5));
            }
        })
        .await;
    }
}

const LAUNCH_ATTEMPTS: usize = 3;

/// Killing and reaping a process blocks briefly: not on a runtime thread.
fn drop_off_thread(running: Option<Running>) {
    if let Some(r) = running {
        r.proxy.abort();
        tokio::task::spawn_blocking(move || drop(r));
    }
}

struct Proxy {
    account: String,
    signer: azure::storage::AccountKey,
    upstream: u16,
    gate: Option<Arc<dyn Gate>>,
    http: reqwest::Client,
}

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// Storage's own error shape.
pub fn storage_error(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:{}\nTime:{}</Message></Error>",
        uuid::Uuid::new_v4(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(code) {
        headers.insert("x-ms-error-code", v);
    }
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    response
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 30).await else {
        return storage_error(400, "InvalidInput", "The request body could not be read.");
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let verdict = proxy.gate.as_ref().map_or(Verdict::Forward, |gate| {
        gate.admit(
            &proxy.account,
            &GateRequest {
                method: parts.method.as_str(),
                path: &path,
                query: &query,
                authorization,
                body: &bytes,
            },
        )
    });
    if let Verdict::Refuse {
        status,
        code,
        message,
    } = &verdict
    {
        return storage_error(*status, code, message);
    }
    let url = if query.is_empty() {
        format!("http://127.0.0.1:{}{path}", proxy.upstream)
    } else {
        format!("http://127.0.0.1:{}{path}?{query}", proxy.upstream)
    };
    let mut upstream = proxy.http.request(parts.method.clone(), &url);
    let mut signed: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let name = name.as_str().to_ascii_lowercase();
        if HOP_BY_HOP.contains(&name.as_str())
            || (verdict == Verdict::ForwardSigned && name == "authorization")
        {
            continue;
        }
        if let Ok(text) = value.to_str() {
            signed.insert(name.clone(), text.to_string());
        }
        upstream = upstream.header(name, value.clone());
    }
    if verdict == Verdict::ForwardSigned {
        signed.insert("content-length".into(), bytes.len().to_string());
        if let Ok(parsed) = url::Url::parse(&url) {
            let signature =
                proxy
                    .signer
                    .shared_key_authorization(parts.method.as_str(), &parsed, &signed);
            upstream = upstream.header("authorization", signature);
        }
    }
    let answer = match upstream.body(bytes).send().await {
        Ok(answer) => answer,
        Err(e) => {
            return storage_error(
                503,
                "ServerBusy",
                &format!("The account's data plane did not answer: {e}"),
            )
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name == "transfer-encoding" || name == "connection" {
            continue;
        }
        response.headers_mut().append(name.clone(), value.clone());
    }
    response
}

//! The only way into Azure's control plane: ARM and Microsoft Graph over HTTPS, with tokens from
//! azure_identity, retries by failure class and long-running operations done right. Keeping it in
//! one module lets the SDK family behind it be replaced without touching the resources.

pub mod credential;
pub mod error;
pub mod lro;
pub mod models;

use credential::Credential;
pub use error::{ArmError, Class};
use rand::Rng;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// api-versions, one per provider (the azure_mgmt 0.21 packages' where we use their models).
pub mod versions {
    pub const RESOURCES: &str = "2021-04-01";
    pub const STORAGE: &str = "2023-05-01";
    pub const AUTHORIZATION: &str = "2022-04-01";
    pub const WEB: &str = "2024-04-01";
    pub const INSIGHTS: &str = "2020-02-02";
    pub const OPERATIONAL_INSIGHTS: &str = "2025-02-01";
    pub const EVENT_GRID: &str = "2025-02-15";
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_backoff: Duration,
    /// PrincipalNotFound is retried this long, and only while Graph confirms the principal exists.
    pub principal_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            principal_wait: Duration::from_secs(300),
        }
    }
}

/// Request counts, for "a converged re-run sends no write" and the benchmark.
#[derive(Debug, Default)]
pub struct Counters {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    pub retries: AtomicUsize,
}

/// Something worth telling the user while it happens (retries, waits).
pub type Notify = Arc<dyn Fn(String) + Send + Sync>;

#[derive(Clone)]
pub struct Azure {
    http: reqwest::Client,
    credential: Arc<Credential>,
    pub arm_base: String,
    pub graph_base: String,
    arm_scope: String,
    graph_scope: String,
    pub retry: RetryPolicy,
    pub counters: Arc<Counters>,
    pub notify: Notify,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Arm,
    Graph,
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(Duration::from_secs_f64)
}

impl Azure {
    pub fn new(env: &crate::env::Environment, credential: Credential) -> Self {
        let http = reqwest::Client::builder()
            // The pid tells concurrent runs apart in Azure's (and the local cloud's) request logs.
            .user_agent(format!(
                "provision/{} (pid {})",
                env!("CARGO_PKG_VERSION"),
                std::process::id()
            ))
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self {
            http,
            credential: Arc::new(credential),
            arm_base: env.endpoints.resource_manager.clone(),
            graph_base: env.endpoints.graph.clone(),
            arm_scope: format!("{}/.default", env.endpoints.resource_manager_audience),
            graph_scope: format!("{}/.default", env.endpoints.graph_audience),
            retry: RetryPolicy::default(),
            counters: Arc::new(Counters::default()),
            notify: Arc::new(|_| {}),
        }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    pub async fn arm_token(&self) -> Result<String, ArmError> {
        self.credential
            .token(&self.arm_scope)
            .await
            .map_err(|e| ArmError {
                method: "TOKEN".into(),
                what: self.arm_scope.clone(),
                status: 401,
                code: "AuthenticationFailed".into(),
                message: e.to_string(),
                retry_after: None,
            })
    }

    fn url(&self, api: Api, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        match api {
            Api::Arm => format!("{}{path}", self.arm_base),
            Api::Graph => format!("{}/v1.0{path}", self.graph_base),
        }
    }

    fn backoff(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        if let Some(h) = hint {
            return h.min(self.retry.max_backoff);
        }
        let exp = self
            .retry
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.retry.max_backoff);
        let jitter = rand::thread_rng().gen_range(0.5..1.0);
        exp.mul_f64(jitter)
    }

    /// One logical call: retried on throttling, transient failures and busy resources.
    pub async fn call(
        &self,
        api: Api,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ArmError> {
        let method = method.as_str();
        let url = self.url(api, path);
        let what = path.split('?').next().unwrap_or(path).to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .send_once(api, method, &url, &what, body, headers)
                .await;
            let err = match result {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            };
            let retryable = matches!(
                err.class(),
                Class::Throttled | Class::Transient | Class::Busy
            );
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(err);
            }
            let wait = self.backoff(attempt, err.retry_after);
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            (self.notify)(format!(
                "retrying {method} {} in {:.1}s: HTTP {} {}",
                short(&what),
                wait.as_secs_f64(),
                err.status,
                err.code
            ));
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        api: Api,
        method: &str,
        url: &str,
        what: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ArmError> {
        let scope = if api == Api::Arm {
            &self.arm_scope
        } else {
            &self.graph_scope
        };
        let token = self.credential.token(scope).await.map_err(|e| ArmError {
            method: method.into(),
            what: what.into(),
            status: 401,
            code: "AuthenticationFailed".into(),
            message: e.to_string(),
            retry_after: None,
        })?;
        let is_read = method == "GET"
            || (method == "POST"
                && (what.ends_with("/list")
                    || what.to_ascii_lowercase().ends_with("/listkeys")
                    || what.ends_with("/getFullUrl")));
        if is_read {
            &self.counters.reads
        } else {
            &self.counters.writes
        }
        .fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .request(method.parse().unwrap_or(reqwest::Method::GET), url)
            .bearer_auth(token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(b) = body {
            request = request.json(b);
        } else if method != "GET" && method != "DELETE" {
            request = request.header("content-length", "0");
        }
        let response = request
            .send()
            .await
            .map_err(|e| ArmError::transport(method, what, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| ArmError::transport(method, what, &e))?;
        if status >= 400 {
            return Err(ArmError::new(
                method,
                what,
                status,
                &text,
                retry_after(&headers),
            ));
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| ArmError {
                method: method.into(),
                what: what.into(),
                status,
                code: "InvalidResponse".into(),
                message: format!("Azure answered {status} with a body that is not JSON ({e}); report this with the request id"),
                retry_after: None,
            })?
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// GET a resource; `None` when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Value>, ArmError> {
        match self.call(Api::Arm, reqwest::Method::GET, path, None, &[]).await {
            Ok(reply) => Ok(Some(reply.body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT (or PATCH) and wait for the operation; returns the resource as it ends up.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ArmError> {
        let reply = self.call(Api::Arm, reqwest::Method::PUT, path, Some(body), &[]).await?;
        lro::finish(self, "PUT", path, reply).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ArmError> {
        let reply = self.call(Api::Arm, reqwest::Method::PATCH, path, Some(body), &[]).await?;
        lro::finish(self, "PATCH", path, reply).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ArmError> {
        Ok(self.call(Api::Arm, reqwest::Method::POST, path, body, &[]).await?.body)
    }

    /// DELETE and wait; an absent resource counts as deleted.
    pub async fn delete(&self, path: &str) -> Result<(), ArmError> {
        match self.call(Api::Arm, reqwest::Method::DELETE, path, None, &[]).await {
            Ok(reply) => lro::finish(self, "DELETE", path, reply).await.map(|_| ()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ArmError> {
        self.call(Api::Graph, method, path, body, headers).await
    }

    pub fn elapsed_since(start: Instant) -> String {
        format!("{:.1}s", start.elapsed().as_secs_f64())
    }
}

fn short(path: &str) -> String {
    path.rsplit("/providers/")
        .next()
        .unwrap_or(path)
        .to_string()
}

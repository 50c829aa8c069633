//! The way into Azure's control plane: ARM and Microsoft Graph over HTTPS, with tokens from the
//! shared [`TokenSource`], the one [`RetryPolicy`] and long-running operations done right.

mod lro;
pub mod versions;

use crate::credential::TokenSource;
use crate::error::Error;
use crate::retry::{self, Attempting, Class, RetryPolicy};
use crate::Notify;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where ARM and Graph are, and the audiences their tokens are for.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub resource_manager: String,
    pub resource_manager_audience: String,
    pub graph: String,
    pub graph_audience: String,
}

/// Request counts, for "a converged run sends no write" and the benchmark.
#[derive(Debug, Default)]
pub struct Counters {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    pub retries: AtomicUsize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Api {
    Arm,
    Graph,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
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

/// Extra failure classes one call knows about (e.g. a Graph 404 right after a create).
pub type Classifier = dyn Fn(&Error) -> Option<Class> + Send + Sync;

#[derive(Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    pub arm_base: String,
    pub graph_base: String,
    arm_scope: String,
    graph_scope: String,
    pub retry: RetryPolicy,
    pub counters: Arc<Counters>,
    pub notify: Notify,
}

impl ArmClient {
    pub fn new(endpoints: &Endpoints, tokens: Arc<dyn TokenSource>, user_agent: &str) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self {
            http,
            tokens,
            arm_base: endpoints.resource_manager.trim_end_matches('/').to_string(),
            graph_base: endpoints.graph.trim_end_matches('/').to_string(),
            arm_scope: scope_of(&endpoints.resource_manager_audience),
            graph_scope: scope_of(&endpoints.graph_audience),
            retry: RetryPolicy::default(),
            counters: Arc::new(Counters::default()),
            notify: crate::silent(),
        }
    }

    pub fn tokens(&self) -> &Arc<dyn TokenSource> {
        &self.tokens
    }

    /// A bearer token for ARM (its `oid` claim says who we are).
    pub async fn arm_token(&self) -> Result<String, Error> {
        self.tokens
            .token(&self.arm_scope)
            .await
            .map(|t| t.secret)
            .map_err(|e| Error::token(Method::GET, &self.arm_base, &e.to_string()))
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

    /// One logical call, retried by the policy.
    pub async fn call(
        &self,
        api: Api,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Error> {
        self.call_with(api, method, path, body, headers, &retry::no_override)
            .await
    }

    /// [`call`](Self::call) with extra failure classes this call knows about.
    pub async fn call_with(
        &self,
        api: Api,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        classify: &Classifier,
    ) -> Result<Reply, Error> {
        let url = self.url(api, path);
        let what = format!("{method} {}", short(path));
        let counters = self.counters.clone();
        let notify: Notify = {
            let notify = self.notify.clone();
            Arc::new(move |m| {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                notify(m)
            })
        };
        self.retry
            .run(
                Attempting {
                    what: &what,
                    classify,
                    notify: &notify,
                },
                || self.send_once(api, method.clone(), &url, body, headers),
            )
            .await
    }

    async fn send_once(
        &self,
        api: Api,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Error> {
        let scope = match api {
            Api::Arm => &self.arm_scope,
            Api::Graph => &self.graph_scope,
        };
        let token = self
            .tokens
            .token(scope)
            .await
            .map_err(|e| Error::token(method.clone(), url, &e.to_string()))?;
        if is_read(&method, url) {
            &self.counters.reads
        } else {
            &self.counters.writes
        }
        .fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(token.secret);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(b) = body {
            request = request.json(b);
        } else if method != Method::GET && method != Method::DELETE {
            request = request.header("content-length", "0");
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::connection(method.clone(), url, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| Error::connection(method.clone(), url, &e))?;
        if status >= 400 {
            return Err(Error::http(
                method,
                url,
                status,
                &text,
                None,
                retry::retry_after(&headers),
            ));
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| {
                Error::invalid_response(
                    method,
                    url,
                    status,
                    &format!("a body that is not JSON ({e})"),
                )
            })?
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// GET a resource; `None` when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Value>, Error> {
        match self.call(Api::Arm, Method::GET, path, None, &[]).await {
            Ok(reply) => Ok(Some(reply.body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT and wait for the operation; returns the resource as it ends up.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, Error> {
        self.write(Method::PUT, path, body, &retry::no_override)
            .await
    }

    /// PATCH and wait for the operation.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, Error> {
        self.write(Method::PATCH, path, body, &retry::no_override)
            .await
    }

    /// PUT or PATCH with extra failure classes, waiting for the operation. A long-running
    /// operation that fails with a class the caller marks temporary is sent again.
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        classify: &Classifier,
    ) -> Result<Value, Error> {
        let what = format!("{method} {}", short(path));
        let notify = self.notify.clone();
        self.retry
            .run(
                Attempting {
                    what: &what,
                    classify: &|e: &Error| match e.origin {
                        crate::Origin::Operation => {
                            classify(e).or(Some(operation_failure_class(e)))
                        }
                        _ => Some(Class::Fatal),
                    },
                    notify: &notify,
                },
                || async {
                    let reply = self
                        .call_with(Api::Arm, method.clone(), path, Some(body), &[], classify)
                        .await?;
                    lro::finish(self, method.clone(), path, reply).await
                },
            )
            .await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        Ok(self
            .call(Api::Arm, Method::POST, path, body, &[])
            .await?
            .body)
    }

    /// DELETE and wait; an absent resource counts as deleted. A delete whose operation failed on
    /// Azure's side is sent again, as a failed create is.
    pub async fn delete(&self, path: &str) -> Result<(), Error> {
        let what = format!("DELETE {}", short(path));
        let notify = self.notify.clone();
        self.retry
            .run(
                Attempting {
                    what: &what,
                    classify: &|e: &Error| Some(operation_failure_class(e)),
                    notify: &notify,
                },
                || async {
                    match self.call(Api::Arm, Method::DELETE, path, None, &[]).await {
                        Ok(reply) => lro::finish(self, Method::DELETE, path, reply)
                            .await
                            .map(|_| ()),
                        Err(e) if e.is_not_found() => Ok(()),
                        Err(e) => Err(e),
                    }
                },
            )
            .await
    }

    pub async fn graph(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Error> {
        self.call(Api::Graph, method, path, body, headers).await
    }
}

/// A failed operation is worth sending again when Azure says it failed on its side; answers to
/// the request itself were already retried in `call`.
fn operation_failure_class(e: &Error) -> Class {
    if e.origin == crate::Origin::Operation
        && RETRYABLE_OPERATION_FAILURES.contains(&e.code.as_str())
    {
        Class::Transient
    } else {
        Class::Fatal
    }
}

/// Operation failures that are Azure's own and pass when the request is sent again.
const RETRYABLE_OPERATION_FAILURES: &[&str] = &[
    "ProvisioningFailed",
    "OperationFailed",
    "InternalOperationError",
    "InternalServerError",
];

fn scope_of(audience: &str) -> String {
    format!("{}/.default", audience.trim_end_matches('/'))
}

/// Reads do not change anything: GETs and the POSTs that only list.
fn is_read(method: &Method, url: &str) -> bool {
    let path = url.split('?').next().unwrap_or(url).to_ascii_lowercase();
    *method == Method::GET
        || (*method == Method::POST
            && (path.ends_with("/list")
                || path.ends_with("/listkeys")
                || path.ends_with("/getfullurl")
                || path.ends_with("/checknameavailability")))
}

fn short(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.rsplit("/providers/")
        .next()
        .unwrap_or(path)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_posts_count_as_reads_and_writes_do_not() {
        assert!(is_read(&Method::GET, "https://m/x?api-version=1"));
        assert!(is_read(
            &Method::POST,
            "https://m/sites/a/config/appsettings/list?api-version=1"
        ));
        assert!(is_read(
            &Method::POST,
            "https://m/storageAccounts/a/listKeys?api-version=1"
        ));
        assert!(!is_read(
            &Method::POST,
            "https://m/sites/a/syncfunctiontriggers?api-version=1"
        ));
        assert!(!is_read(&Method::PUT, "https://m/x"));
    }
}

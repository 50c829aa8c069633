//! Requests through a URL that carries its own rights (a SAS URL, as a site is handed its
//! package): nothing is signed, so the answer is what any holder of the URL gets. The signature
//! never leaves the URL: errors carry the path only, and progress messages the caller's words.

use super::{reply_error_at, BlobReply, Classifier};
use crate::error::Error;
use crate::retry::{Attempting, RetryPolicy};
use crate::Notify;
use reqwest::Method;
use std::time::Duration;

#[derive(Clone)]
pub struct PresignedClient {
    http: reqwest::Client,
    pub retry: RetryPolicy,
    pub notify: Notify,
}

impl Default for PresignedClient {
    fn default() -> Self {
        Self::new()
    }
}

impl PresignedClient {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self {
            http,
            retry: RetryPolicy::default(),
            notify: crate::silent(),
        }
    }

    /// One HEAD of `url`, as a reader's first request would be, retried by the policy (throttling,
    /// server errors, lost connections, and what `classify` marks temporary). A refusal keeps
    /// storage's code (`x-ms-error-code`: a HEAD has no body). `what` names it in progress messages.
    pub async fn head(&self, what: &str, url: &str, classify: &Classifier) -> Result<(), Error> {
        self.retry
            .run(
                Attempting {
                    what,
                    classify,
                    notify: &self.notify,
                },
                || self.head_once(url),
            )
            .await
    }

    async fn head_once(&self, url: &str) -> Result<(), Error> {
        let response = self
            .http
            .head(url)
            .send()
            .await
            .map_err(|e| Error::connection(Method::HEAD, url, &e))?;
        let reply = BlobReply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Default::default(),
        };
        if response.status().is_success() {
            return Ok(());
        }
        let mut error = reply_error_at(&Method::HEAD, url, &reply);
        if error.message.is_empty() {
            error.message = format!("storage refused the URL (HTTP {})", reply.status);
        }
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Origin;
    use crate::retry::no_override;
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use axum::routing::head;
    use axum::Router;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    const SIGNATURE: &str = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D";

    /// A blob endpoint that refuses every SAS with storage's 403 and counts the HEADs.
    async fn refusing_endpoint() -> (String, Arc<AtomicU32>) {
        let heads = Arc::new(AtomicU32::new(0));
        let counted = heads.clone();
        let app = Router::new().route(
            "/acct/packages/pkg.zip",
            head(move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let mut headers = HeaderMap::new();
                    headers.insert(
                        "x-ms-error-code",
                        HeaderValue::from_static("AuthenticationFailed"),
                    );
                    (StatusCode::FORBIDDEN, headers)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, heads)
    }

    fn sas_url(base: &str) -> String {
        format!("{base}/acct/packages/pkg.zip?sv=2025-01-05&si=pkg-read-1&sr=b&sig={SIGNATURE}")
    }

    #[tokio::test]
    async fn a_refused_sas_keeps_storages_code_and_never_shows_the_signature() {
        let (base, heads) = refusing_endpoint().await;
        let error = PresignedClient::new()
            .head("the package URL", &sas_url(&base), &no_override)
            .await
            .expect_err("refused");
        assert_eq!(error.origin, Origin::Http(403));
        assert_eq!(error.code, "AuthenticationFailed");
        assert_eq!(error.message, "storage refused the URL (HTTP 403)");
        assert_eq!(heads.load(Ordering::SeqCst), 1, "a 403 is not retried");
        let shown = error.to_string();
        assert!(!shown.contains(SIGNATURE), "{shown}");
        assert!(shown.contains("/acct/packages/pkg.zip"), "{shown}");
    }

    #[tokio::test]
    async fn a_url_storage_serves_is_ok() {
        let app = Router::new().route("/acct/packages/pkg.zip", head(|| async { StatusCode::OK }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        PresignedClient::new()
            .head("the package URL", &sas_url(&base), &no_override)
            .await
            .expect("served");
    }

    #[tokio::test]
    async fn no_answer_is_reported_without_the_signature() {
        // A port that was free a moment ago: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let mut client = PresignedClient::new();
        client.retry.max_attempts = 1;
        let error = client
            .head("the package URL", &sas_url(&base), &no_override)
            .await
            .expect_err("no answer");
        assert_eq!(error.origin, Origin::Connection);
        let shown = error.to_string();
        assert!(!shown.contains(SIGNATURE), "{shown}");
    }
}

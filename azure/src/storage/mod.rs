//! The blob data-plane calls we make ourselves (object_store covers plain object I/O): uploads
//! and reads by name, leases, stored access policies and SAS URLs, signed with Shared Key or an
//! Entra token ([`BlobClient`]) or through a URL that carries its own SAS ([`PresignedClient`]),
//! retried by the one [`RetryPolicy`].

pub mod presigned;
pub mod signing;

pub use presigned::PresignedClient;
pub use signing::{AccountKey, SasSpec, SigningError, STORAGE_VERSION};

use crate::credential::{TokenSource, STORAGE_SCOPE};
use crate::error::Error;
use crate::retry::{no_override, Attempting, Class, RetryPolicy};
use crate::Notify;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How requests are signed.
#[derive(Clone)]
pub enum BlobAuth {
    SharedKey(AccountKey),
    /// An Entra token for the storage scope; a key, when given, still signs SAS URLs.
    Bearer {
        tokens: Arc<dyn TokenSource>,
        key: Option<AccountKey>,
    },
}

#[derive(Debug)]
pub struct BlobReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    pub id: String,
    pub start: String,
    pub expiry: String,
    pub permission: String,
}

/// A lease operation on a blob (`x-ms-lease-action`).
#[derive(Debug, Clone)]
pub enum Lease<'a> {
    Acquire { id: &'a str, seconds: u32 },
    Renew { id: &'a str },
    Release { id: &'a str },
    Break,
}

/// Extra failure classes one call knows about (e.g. a 403 while a new role propagates).
pub type Classifier = dyn Fn(&Error) -> Option<Class> + Send + Sync;

#[derive(Clone)]
pub struct BlobClient {
    http: reqwest::Client,
    endpoint: Url,
    auth: BlobAuth,
    pub retry: RetryPolicy,
    pub notify: Notify,
}

impl BlobClient {
    /// `endpoint` is the account's blob endpoint: `https://acct.blob.core.windows.net/`, or a
    /// path-style `http://127.0.0.1:port/acct/` (Azurite).
    pub fn new(endpoint: &str, auth: BlobAuth) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self::with_http(endpoint, auth, http)
    }

    /// Over an existing HTTP client, so a caller making many short-lived clients shares one
    /// connection pool.
    pub fn with_http(endpoint: &str, auth: BlobAuth, http: reqwest::Client) -> Result<Self, Error> {
        let endpoint =
            Url::parse(&format!("{}/", endpoint.trim_end_matches('/'))).map_err(|e| {
                Error::invalid_request(
                    Method::GET,
                    endpoint,
                    &format!("the blob endpoint is not a URL ({e})"),
                )
            })?;
        Ok(Self {
            http,
            endpoint,
            auth,
            retry: RetryPolicy::default(),
            notify: crate::silent(),
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Azurite's URLs carry the account as the first path segment.
    pub fn path_style(&self) -> bool {
        self.endpoint.path() != "/"
    }

    pub fn blob_url(&self, container: &str, blob: &str) -> String {
        format!("{}{container}/{blob}", self.endpoint)
    }

    /// Sends one request, retrying throttling, server errors and lost connections. Any other
    /// status comes back as a reply for the caller to interpret.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<BlobReply, Error> {
        self.send_with(method, path_and_query, headers, body, &no_override)
            .await
    }

    /// [`send`](Self::send), also retrying the failures `classify` marks temporary.
    pub async fn send_with(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        classify: &Classifier,
    ) -> Result<BlobReply, Error> {
        let url = self.endpoint.join(path_and_query).map_err(|e| {
            Error::invalid_request(
                method.clone(),
                path_and_query,
                &format!("the blob path is not a URL ({e})"),
            )
        })?;
        let what = format!("{method} {}", url.path());
        self.retry
            .run(
                Attempting {
                    what: &what,
                    classify,
                    notify: &self.notify,
                },
                || async {
                    let reply = self
                        .send_once(method.clone(), &url, headers, body.clone())
                        .await?;
                    if reply.status == 429 || reply.status >= 500 {
                        return Err(reply_error(&method, &url, &reply));
                    }
                    if reply.status >= 400 {
                        let error = reply_error(&method, &url, &reply);
                        if classify(&error).is_some_and(|c| c != Class::Fatal) {
                            return Err(error);
                        }
                    }
                    Ok(reply)
                },
            )
            .await
    }

    async fn send_once(
        &self,
        method: Method,
        url: &Url,
        extra: &[(&str, &str)],
        body: Bytes,
    ) -> Result<BlobReply, Error> {
        let mut headers = BTreeMap::new();
        headers.insert("x-ms-version".to_string(), STORAGE_VERSION.to_string());
        headers.insert(
            "x-ms-date".to_string(),
            chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        );
        headers.insert("content-length".to_string(), body.len().to_string());
        for (k, v) in extra {
            headers.insert(k.to_ascii_lowercase(), v.to_string());
        }
        let authorization = match &self.auth {
            BlobAuth::SharedKey(key) => {
                key.shared_key_authorization(method.as_str(), url, &headers)
            }
            BlobAuth::Bearer { tokens, .. } => {
                let token = tokens
                    .token(STORAGE_SCOPE)
                    .await
                    .map_err(|e| Error::token(method.clone(), url.as_str(), &e.to_string()))?;
                format!("Bearer {}", token.secret)
            }
        };
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header("authorization", authorization)
            .body(body);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::connection(method.clone(), url.as_str(), &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::connection(method, url.as_str(), &e))?;
        Ok(BlobReply {
            status,
            headers,
            body,
        })
    }

    pub async fn exists(&self, container: &str, blob: &str) -> Result<bool, Error> {
        let path = format!("{container}/{blob}");
        let reply = self.send(Method::HEAD, &path, &[], Bytes::new()).await?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.error(Method::HEAD, &path, &reply)),
        }
    }

    pub async fn put_blob(
        &self,
        container: &str,
        blob: &str,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<(), Error> {
        let path = format!("{container}/{blob}");
        let reply = self
            .send(
                Method::PUT,
                &path,
                &[
                    ("x-ms-blob-type", "BlockBlob"),
                    ("content-type", content_type),
                ],
                bytes.into(),
            )
            .await?;
        match reply.status {
            201 => Ok(()),
            _ => Err(self.error(Method::PUT, &path, &reply)),
        }
    }

    pub async fn get_blob(&self, container: &str, blob: &str) -> Result<Option<Bytes>, Error> {
        let path = format!("{container}/{blob}");
        let reply = self.send(Method::GET, &path, &[], Bytes::new()).await?;
        match reply.status {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(self.error(Method::GET, &path, &reply)),
        }
    }

    pub async fn delete_blob(&self, container: &str, blob: &str) -> Result<(), Error> {
        let path = format!("{container}/{blob}");
        let reply = self.send(Method::DELETE, &path, &[], Bytes::new()).await?;
        match reply.status {
            202 | 404 => Ok(()),
            _ => Err(self.error(Method::DELETE, &path, &reply)),
        }
    }

    /// One lease operation; the reply's status says how it went (409: leased by someone else).
    pub async fn lease(
        &self,
        container: &str,
        blob: &str,
        lease: Lease<'_>,
    ) -> Result<BlobReply, Error> {
        let seconds;
        let headers: Vec<(&str, &str)> = match &lease {
            Lease::Acquire { id, seconds: s } => {
                seconds = s.to_string();
                vec![
                    ("x-ms-lease-action", "acquire"),
                    ("x-ms-lease-duration", seconds.as_str()),
                    ("x-ms-proposed-lease-id", id),
                ]
            }
            Lease::Renew { id } => vec![("x-ms-lease-action", "renew"), ("x-ms-lease-id", id)],
            Lease::Release { id } => vec![("x-ms-lease-action", "release"), ("x-ms-lease-id", id)],
            Lease::Break => vec![
                ("x-ms-lease-action", "break"),
                ("x-ms-lease-break-period", "0"),
            ],
        };
        self.send(
            Method::PUT,
            &format!("{container}/{blob}?comp=lease"),
            &headers,
            Bytes::new(),
        )
        .await
    }

    pub async fn access_policies(&self, container: &str) -> Result<Vec<AccessPolicy>, Error> {
        let path = format!("{container}?restype=container&comp=acl");
        let reply = self.send(Method::GET, &path, &[], Bytes::new()).await?;
        if reply.status != 200 {
            return Err(self.error(Method::GET, &path, &reply));
        }
        let xml = String::from_utf8_lossy(&reply.body).to_string();
        let field = |chunk: &str, tag: &str| {
            chunk
                .split(&format!("<{tag}>"))
                .nth(1)
                .and_then(|s| s.split(&format!("</{tag}>")).next())
                .unwrap_or("")
                .to_string()
        };
        Ok(xml
            .split("<SignedIdentifier>")
            .skip(1)
            .map(|chunk| AccessPolicy {
                id: field(chunk, "Id"),
                start: field(chunk, "Start"),
                expiry: field(chunk, "Expiry"),
                permission: field(chunk, "Permission"),
            })
            .collect())
    }

    /// Replaces the container's stored access policies (the container stays private).
    pub async fn set_access_policies(
        &self,
        container: &str,
        policies: &[AccessPolicy],
    ) -> Result<(), Error> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers>");
        for p in policies {
            xml.push_str(&format!(
                "<SignedIdentifier><Id>{}</Id><AccessPolicy><Start>{}</Start><Expiry>{}</Expiry><Permission>{}</Permission></AccessPolicy></SignedIdentifier>",
                p.id, p.start, p.expiry, p.permission
            ));
        }
        xml.push_str("</SignedIdentifiers>");
        let path = format!("{container}?restype=container&comp=acl");
        let reply = self
            .send(
                Method::PUT,
                &path,
                &[("content-type", "application/xml")],
                Bytes::from(xml),
            )
            .await?;
        if reply.status != 200 {
            return Err(self.error(Method::PUT, &path, &reply));
        }
        Ok(())
    }

    /// A read URL for one blob whose rights come from a stored access policy; `None` when this
    /// client has no account key to sign with.
    pub fn sas_url(&self, container: &str, blob: &str, policy_id: &str) -> Option<String> {
        let key = match &self.auth {
            BlobAuth::SharedKey(key) => key,
            BlobAuth::Bearer { key, .. } => key.as_ref()?,
        };
        let url = self.blob_url(container, blob);
        let path = Url::parse(&url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let sas = key.blob_sas(
            &path,
            &SasSpec {
                policy_id: Some(policy_id.to_string()),
                path_style: self.path_style(),
                ..Default::default()
            },
        );
        Some(format!("{url}?{sas}"))
    }

    fn error(&self, method: Method, path: &str, reply: &BlobReply) -> Error {
        let url = self
            .endpoint
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| path.to_string());
        reply_error_at(&method, &url, reply)
    }
}

fn reply_error(method: &Method, url: &Url, reply: &BlobReply) -> Error {
    reply_error_at(method, url.as_str(), reply)
}

fn reply_error_at(method: &Method, url: &str, reply: &BlobReply) -> Error {
    let header_code = reply
        .headers
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok());
    Error::http(
        method.clone(),
        url,
        reply.status,
        &String::from_utf8_lossy(&reply.body),
        header_code,
        crate::retry::retry_after(&reply.headers),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Origin;

    #[test]
    fn an_endpoint_that_is_not_a_url_is_refused_before_anything_is_sent() {
        let key = AccountKey::new("acct", "MDEyMzQ1Njc4OWFiY2RlZg==").expect("key");
        let error = BlobClient::new("not a url", BlobAuth::SharedKey(key))
            .err()
            .expect("refused");
        assert_eq!(error.origin, Origin::Request);
        assert_eq!(error.status(), None, "no invented HTTP status");
        assert_eq!(crate::retry::classify(&error), Class::Fatal);
        assert!(error.to_string().contains("not a URL"), "{error}");
    }
}

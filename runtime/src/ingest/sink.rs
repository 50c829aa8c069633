//! Where batches go: container `raw` of the raw storage account (object_store's Azure client), or a
//! local directory for tests and benchmarks. Paths are inside the container (the original's `raw/`
//! prefix *is* the container).

use crate::ingest::config::IngestConfig;
use crate::ingest::layout::RawFile;
use azure::credential::{self, AuthConfig, AuthMethod, ObjectStoreCredential};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// Why the sink could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("RAW_ACCOUNT_URL {url:?} is not a blob endpoint: {reason}")]
    BadAccountUrl { url: String, reason: String },
    #[error("could not configure blob storage: {0}")]
    Build(#[source] object_store::Error),
    #[error("could not use local directory {dir}: {source}")]
    Local {
        dir: String,
        #[source]
        source: object_store::Error,
    },
    #[error("neither RAW_ACCOUNT_URL nor RAW_LOCAL_DIR is set")]
    NotConfigured,
    #[error("no credential for the raw account: {0}; or set RAW_ACCOUNT_KEY (local and dev only)")]
    Credential(#[source] azure::credential::AuthError),
}

/// The raw store.
#[derive(Debug, Clone)]
pub struct RawSink {
    store: Arc<dyn ObjectStore>,
    /// Printable description (no secrets).
    pub describe: String,
}

/// Splits a blob endpoint into `(endpoint, account, is_http)`.
/// `http://127.0.0.1:10000/devstoreaccount1` (emulator, account in the path) or
/// `https://acct.blob.core.windows.net` (account = first host label).
pub fn parse_account_url(url: &str) -> Result<(String, String, bool), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let http = match parsed.scheme() {
        "http" => true,
        "https" => false,
        other => return Err(format!("unsupported scheme {other:?}")),
    };
    let host = parsed.host_str().ok_or("no host")?.to_string();
    let first_segment = parsed
        .path_segments()
        .and_then(|mut s| s.next().map(str::to_string))
        .filter(|s| !s.is_empty());
    let account = match first_segment {
        Some(a) => a,
        None => host
            .split('.')
            .next()
            .filter(|a| !a.is_empty() && host.contains('.'))
            .ok_or("cannot tell the account name: use https://<account>.blob.core.windows.net or http://host:port/<account>")?
            .to_string(),
    };
    Ok((url.trim_end_matches('/').to_string(), account, http))
}

impl RawSink {
    pub fn from_config(cfg: &IngestConfig) -> Result<Self, SinkError> {
        if let Some(dir) = &cfg.raw_local_dir {
            std::fs::create_dir_all(dir).map_err(|e| SinkError::Local {
                dir: dir.display().to_string(),
                source: object_store::Error::Generic {
                    store: "local",
                    source: Box::new(e),
                },
            })?;
            let store =
                LocalFileSystem::new_with_prefix(dir).map_err(|source| SinkError::Local {
                    dir: dir.display().to_string(),
                    source,
                })?;
            return Ok(RawSink {
                store: Arc::new(store),
                describe: format!("local directory {}", dir.display()),
            });
        }
        let url = cfg
            .raw_account_url
            .as_deref()
            .ok_or(SinkError::NotConfigured)?;
        let (endpoint, account, http) =
            parse_account_url(url).map_err(|reason| SinkError::BadAccountUrl {
                url: url.to_string(),
                reason,
            })?;
        let mut builder = MicrosoftAzureBuilder::from_env()
            .with_account(&account)
            .with_container_name(&cfg.raw_container)
            .with_endpoint(endpoint.clone())
            .with_allow_http(http)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..Default::default()
            });
        let auth = if let Some(key) = &cfg.raw_account_key {
            builder = builder.with_access_key(key.expose());
            "shared key"
        } else {
            // The same credential path as every crate (azure_identity, chosen by the process
            // environment: AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE, managed identity, CLI).
            let tokens = credential::from_config(&AuthConfig {
                method: AuthMethod::Auto,
                authority: std::env::var("AZURE_AUTHORITY_HOST")
                    .unwrap_or_else(|_| "https://login.microsoftonline.com".into()),
                tenant: std::env::var("AZURE_TENANT_ID").unwrap_or_default(),
                client_id: None,
            })
            .map_err(SinkError::Credential)?;
            builder = builder.with_credentials(Arc::new(ObjectStoreCredential::new(tokens)));
            "Entra ID"
        };
        let store = builder.build().map_err(SinkError::Build)?;
        Ok(RawSink {
            store: Arc::new(store),
            describe: format!("container {} at {endpoint} ({auth})", cfg.raw_container),
        })
    }

    /// Wraps any store (tests).
    pub fn new(store: Arc<dyn ObjectStore>, describe: impl Into<String>) -> Self {
        Self {
            store,
            describe: describe.into(),
        }
    }

    /// Checks the container is reachable and readable with the configured credential.
    pub async fn check(&self) -> Result<(), object_store::Error> {
        self.store
            .list_with_delimiter(Some(&Path::from("etl_meta")))
            .await
            .map(|_| ())
    }

    /// Uploads one file (overwriting: a replay writes the same bytes).
    pub async fn put(&self, file: &RawFile) -> Result<(), object_store::Error> {
        self.store
            .put(
                &Path::from(file.path.as_str()),
                PutPayload::from_bytes(file.bytes.clone()),
            )
            .await
            .map(|_| ())
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn account_urls() {
        assert_eq!(
            parse_account_url("http://127.0.0.1:10000/devstoreaccount1/").unwrap(),
            (
                "http://127.0.0.1:10000/devstoreaccount1".to_string(),
                "devstoreaccount1".to_string(),
                true
            )
        );
        assert_eq!(
            parse_account_url("https://rawacct.blob.core.windows.net")
                .unwrap()
                .1,
            "rawacct"
        );
        assert!(parse_account_url("ftp://x/y").is_err());
        assert!(parse_account_url("http://localhost:1").is_err());
    }
}

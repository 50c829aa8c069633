//! Storage bearer tokens from the App Service managed identity endpoint, cached until shortly
//! before they expire (azure-rest-facts §3.3).
//!
//! `GET {IDENTITY_ENDPOINT}?resource=https://storage.azure.com/&api-version=2019-08-01` with header
//! `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; the answer carries `access_token` and `expires_on`
//! (epoch seconds, sent as a string).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use object_store::azure::AzureCredential;
use object_store::CredentialProvider;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

pub const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
const API_VERSION: &str = "2019-08-01";
/// A token with less life left than this is replaced before use.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("managed identity token request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("managed identity endpoint answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("managed identity response is not usable: {0}")]
    Response(String),
}

struct CachedToken {
    credential: Arc<AzureCredential>,
    expires_at: SystemTime,
}

/// A [`CredentialProvider`] for object_store backed by the managed identity endpoint.
pub struct ManagedIdentityCredential {
    client: reqwest::Client,
    endpoint: Url,
    header: String,
    cache: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityCredential")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_on: serde_json::Value,
}

impl ManagedIdentityCredential {
    pub fn new(endpoint: Url, header: String) -> Result<Self, TokenError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(TokenError::Request)?;
        Ok(Self {
            client,
            endpoint,
            header,
            cache: Mutex::new(None),
        })
    }

    /// The current token, fetched when there is none or it is about to expire. Concurrent callers
    /// wait for a single fetch.
    pub async fn token(&self) -> Result<Arc<AzureCredential>, TokenError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            if cached.expires_at > SystemTime::now() + REFRESH_MARGIN {
                return Ok(cached.credential.clone());
            }
        }
        let fresh = self.fetch().await?;
        let credential = fresh.credential.clone();
        *cache = Some(fresh);
        Ok(credential)
    }

    async fn fetch(&self) -> Result<CachedToken, TokenError> {
        let response = self
            .client
            .get(self.endpoint.clone())
            .query(&[("resource", STORAGE_RESOURCE), ("api-version", API_VERSION)])
            .header("X-IDENTITY-HEADER", &self.header)
            .send()
            .await
            .map_err(TokenError::Request)?;
        let status = response.status();
        let body = response.text().await.map_err(TokenError::Request)?;
        if !status.is_success() {
            return Err(TokenError::Status {
                status: status.as_u16(),
                body: body.chars().take(500).collect(),
            });
        }
        let token: TokenResponse =
            serde_json::from_str(&body).map_err(|e| TokenError::Response(e.to_string()))?;
        let expires_on = match &token.expires_on {
            serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
            serde_json::Value::Number(n) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| {
            TokenError::Response(format!(
                "expires_on {} is not epoch seconds",
                token.expires_on
            ))
        })?;
        Ok(CachedToken {
            credential: Arc::new(AzureCredential::BearerToken(token.access_token)),
            expires_at: UNIX_EPOCH + Duration::from_secs(expires_on),
        })
    }
}

#[async_trait]
impl CredentialProvider for ManagedIdentityCredential {
    type Credential = AzureCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AzureCredential>> {
        self.token()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "MicrosoftAzure",
                source: Box::new(e),
            })
    }
}

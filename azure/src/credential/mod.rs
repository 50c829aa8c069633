//! Who we are to Azure. Every crate gets its tokens through one [`TokenSource`]: azure_identity's
//! credentials chosen by [`AuthConfig`] ([`identity`]), behind one cache per scope ([`Cached`]).
//! object_store clients use the same source through [`ObjectStoreCredential`].

pub mod identity;
mod object_store_adapter;

pub use identity::{from_config, AuthConfig, AuthMethod};
pub use object_store_adapter::ObjectStoreCredential;

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// The storage data plane's scope.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// A token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

#[derive(Clone)]
pub struct Token {
    pub secret: String,
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("no Azure credential is configured. Tried: {0}. Set AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, or AZURE_FEDERATED_TOKEN_FILE (GitHub OIDC), or run `az login`")]
    NoneConfigured(String),
    #[error("the {method} credential is incomplete: {missing}")]
    Incomplete {
        method: &'static str,
        missing: String,
    },
    #[error("getting a token for {scope} with the {method} credential failed: {message}")]
    Token {
        method: &'static str,
        scope: String,
        message: String,
    },
}

/// Anything that hands out bearer tokens for a scope.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn token(&self, scope: &str) -> Result<Token, AuthError>;
    /// A short name for messages: `client-secret`, `workload-identity`, ...
    fn method(&self) -> &'static str;
}

/// One token per scope, fetched once and reused until shortly before it expires. Concurrent
/// callers for the same scope wait for a single fetch.
pub struct Cached {
    inner: Arc<dyn TokenSource>,
    tokens: Mutex<HashMap<String, Arc<Mutex<Option<Token>>>>>,
}

impl Cached {
    pub fn new(inner: Arc<dyn TokenSource>) -> Self {
        Self {
            inner,
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl TokenSource for Cached {
    async fn token(&self, scope: &str) -> Result<Token, AuthError> {
        let slot = self
            .tokens
            .lock()
            .await
            .entry(scope.to_string())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(token) = slot.as_ref() {
            if token.expires_at > SystemTime::now() + REFRESH_MARGIN {
                return Ok(token.clone());
            }
        }
        let fresh = self.inner.token(scope).await?;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    fn method(&self) -> &'static str {
        self.inner.method()
    }
}

/// The object id (`oid`) of the principal a token was issued to.
pub fn object_id_of(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("oid")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting {
        calls: AtomicU32,
        lifetime: Duration,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn token(&self, scope: &str) -> Result<Token, AuthError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(Token {
                secret: format!("{scope}#{n}"),
                expires_at: SystemTime::now() + self.lifetime,
            })
        }
        fn method(&self) -> &'static str {
            "counting"
        }
    }

    #[tokio::test]
    async fn one_fetch_per_scope_while_the_token_lives() {
        let inner = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: Duration::from_secs(3600),
        });
        let cached = Cached::new(inner.clone());
        let a = cached.token("arm").await.expect("token");
        let b = cached.token("arm").await.expect("token");
        let c = cached.token("graph").await.expect("token");
        assert_eq!(a.secret, b.secret);
        assert_ne!(a.secret, c.secret);
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_replaced() {
        let inner = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: Duration::from_secs(60),
        });
        let cached = Cached::new(inner.clone());
        let a = cached.token("arm").await.expect("token");
        let b = cached.token("arm").await.expect("token");
        assert_ne!(a.secret, b.secret, "60 s left is inside the refresh margin");
    }

    #[test]
    fn object_id_comes_from_the_oid_claim() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"oid":"abc-123","tid":"t"}"#);
        assert_eq!(
            object_id_of(&format!("h.{payload}.s")).as_deref(),
            Some("abc-123")
        );
        assert_eq!(object_id_of("not-a-jwt"), None);
    }
}

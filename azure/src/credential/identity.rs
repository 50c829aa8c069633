//! azure_identity's credentials, chosen by what is configured: client secret, workload identity
//! federation, App Service managed identity, Azure CLI. The first that is configured wins (or the
//! one the configuration names); otherwise the error lists what was tried.

use super::{AuthError, Cached, Token, TokenSource};
use crate::redact::redact;
use async_trait::async_trait;
use azure_core::auth::TokenCredential;
use azure_identity::{
    AppServiceManagedIdentityCredential, AzureCliCredential, ClientSecretCredential,
    TokenCredentialOptions, WorkloadIdentityCredential,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    #[default]
    Auto,
    ClientSecret,
    WorkloadIdentity,
    AzureCli,
    ManagedIdentity,
}

/// What decides the credential: the method, the Entra authority and tenant, the client id.
/// Secrets never come from here: only from the process environment.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub method: AuthMethod,
    pub authority: String,
    pub tenant: String,
    pub client_id: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The configured credential, cached per scope.
pub fn from_config(config: &AuthConfig) -> Result<Arc<dyn TokenSource>, AuthError> {
    let chosen = choose(config)?;
    Ok(Arc::new(Cached::new(chosen)))
}

fn choose(config: &AuthConfig) -> Result<Arc<dyn TokenSource>, AuthError> {
    let authority = url::Url::parse(&config.authority).map_err(|e| AuthError::Incomplete {
        method: "any",
        missing: format!("the authority {} is not a URL: {e}", config.authority),
    })?;
    let client_id = var("AZURE_CLIENT_ID").or_else(|| config.client_id.clone());
    let tenant = var("AZURE_TENANT_ID").unwrap_or_else(|| config.tenant.clone());
    let wants = |m: AuthMethod| config.method == AuthMethod::Auto || config.method == m;
    let mut tried = Vec::new();

    if wants(AuthMethod::ClientSecret) {
        match (client_id.clone(), var("AZURE_CLIENT_SECRET")) {
            (Some(id), Some(secret)) => {
                let http = azure_core::new_http_client();
                let cred = ClientSecretCredential::new(http, authority, tenant, id, secret);
                return Ok(Arc::new(Identity::new("client-secret", Arc::new(cred))));
            }
            (None, Some(_)) => tried.push("client secret (AZURE_CLIENT_SECRET is set but no client id: set AZURE_CLIENT_ID or [auth] client_id)"),
            _ => tried.push("client secret (AZURE_CLIENT_SECRET not set)"),
        }
    }
    if wants(AuthMethod::WorkloadIdentity) {
        match (client_id.clone(), var("AZURE_FEDERATED_TOKEN_FILE")) {
            (Some(client_id), Some(file)) => {
                return Ok(Arc::new(WorkloadIdentity {
                    authority,
                    tenant,
                    client_id,
                    file: PathBuf::from(file),
                }))
            }
            _ => tried.push("workload identity (AZURE_FEDERATED_TOKEN_FILE or client id not set)"),
        }
    }
    if wants(AuthMethod::ManagedIdentity) {
        if var("IDENTITY_ENDPOINT").is_some() && var("IDENTITY_HEADER").is_some() {
            let cred =
                AppServiceManagedIdentityCredential::create(TokenCredentialOptions::default())
                    .map_err(|e| AuthError::Incomplete {
                        method: "managed-identity",
                        missing: redact(&e.to_string()),
                    })?;
            return Ok(Arc::new(Identity::new("managed-identity", Arc::new(cred))));
        }
        tried.push("managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER not set)");
    }
    if wants(AuthMethod::AzureCli) {
        if on_path("az") {
            return Ok(Arc::new(Identity::new(
                "azure-cli",
                Arc::new(AzureCliCredential::new()),
            )));
        }
        tried.push("Azure CLI (`az` not on PATH)");
    }
    Err(AuthError::NoneConfigured(tried.join("; ")))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

/// One azure_identity credential as a [`TokenSource`].
struct Identity {
    method: &'static str,
    inner: Arc<dyn TokenCredential>,
}

impl Identity {
    fn new(method: &'static str, inner: Arc<dyn TokenCredential>) -> Self {
        Self { method, inner }
    }
}

async fn fetch(
    method: &'static str,
    credential: &dyn TokenCredential,
    scope: &str,
) -> Result<Token, AuthError> {
    let token = credential
        .get_token(&[scope])
        .await
        .map_err(|e| AuthError::Token {
            method,
            scope: scope.to_string(),
            message: redact(&with_causes(&e)),
        })?;
    let expires = token.expires_on.unix_timestamp().max(0) as u64;
    Ok(Token {
        secret: token.token.secret().to_string(),
        expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(expires),
    })
}

/// An error and its causes: azure_identity puts the HTTP status under a generic context.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

#[async_trait]
impl TokenSource for Identity {
    async fn token(&self, scope: &str) -> Result<Token, AuthError> {
        fetch(self.method, self.inner.as_ref(), scope).await
    }
    fn method(&self) -> &'static str {
        self.method
    }
}

/// Workload identity federation. The assertion in `AZURE_FEDERATED_TOKEN_FILE` is short-lived
/// (GitHub's OIDC token expires after about five minutes) and is renewed in place by whoever
/// provides it, so the file is read afresh for every token request.
struct WorkloadIdentity {
    authority: url::Url,
    tenant: String,
    client_id: String,
    file: PathBuf,
}

#[async_trait]
impl TokenSource for WorkloadIdentity {
    async fn token(&self, scope: &str) -> Result<Token, AuthError> {
        let assertion = std::fs::read_to_string(&self.file).map_err(|e| AuthError::Incomplete {
            method: "workload-identity",
            missing: format!(
                "cannot read AZURE_FEDERATED_TOKEN_FILE {}: {e}",
                self.file.display()
            ),
        })?;
        let assertion = assertion.trim().to_string();
        let expires = expiry_of(&assertion);
        let credential = WorkloadIdentityCredential::new(
            azure_core::new_http_client(),
            self.authority.clone(),
            self.tenant.clone(),
            self.client_id.clone(),
            assertion,
        );
        fetch("workload-identity", &credential, scope)
            .await
            .map_err(|e| match (e, expires) {
                (AuthError::Token { method, scope, message }, Some(exp)) if exp <= SystemTime::now() => {
                    AuthError::Token {
                        method,
                        scope,
                        message: format!(
                            "{message}. The client assertion in AZURE_FEDERATED_TOKEN_FILE ({}) expired {}s ago, and Entra refuses an expired assertion (AADSTS700024). GitHub's OIDC tokens live about five minutes: renew the file while a long job runs (request a new token from ACTIONS_ID_TOKEN_REQUEST_URL), or fetch it right before provision runs",
                            self.file.display(),
                            SystemTime::now().duration_since(exp).unwrap_or_default().as_secs()
                        ),
                    }
                }
                (e, _) => e,
            })
    }
    fn method(&self) -> &'static str {
        "workload-identity"
    }
}

/// The `exp` of a JWT, read without checking it (only to explain a refusal).
fn expiry_of(jwt: &str) -> Option<SystemTime> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_u64()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_of_an_assertion_is_read_without_checking_it() {
        use base64::Engine;
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000}"#);
        assert_eq!(
            expiry_of(&format!("h.{payload}.s")),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(expiry_of("not-a-jwt"), None);
    }
}

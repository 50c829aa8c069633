//! Who we are to Azure: one credential from azure_identity, chosen by what is configured (client
//! secret, workload identity federation, managed identity, Azure CLI), with an error listing what
//! was tried when none is.

use crate::env::{AuthMethod, Environment};
use azure_core::auth::TokenCredential;
use azure_identity::{
    AppServiceManagedIdentityCredential, AzureCliCredential, ClientSecretCredential,
    TokenCredentialOptions, WorkloadIdentityCredential,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Azure credential is configured. Tried: {0}. Set AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, or AZURE_FEDERATED_TOKEN_FILE (GitHub OIDC), or run `az login`")]
    NoneConfigured(String),
    #[error("{method} credential is incomplete: {missing}")]
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

pub struct Credential {
    method: &'static str,
    inner: Arc<dyn TokenCredential>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Credential {
    pub fn method(&self) -> &'static str {
        self.method
    }

    pub fn from_environment(env: &Environment) -> Result<Self, AuthError> {
        let http = azure_core::new_http_client();
        let authority =
            url::Url::parse(&env.endpoints.authority).map_err(|e| AuthError::Incomplete {
                method: "any",
                missing: format!("endpoints.authority is not a URL: {e}"),
            })?;
        let client_id = var("AZURE_CLIENT_ID").or_else(|| env.client_id.clone());
        let tenant = var("AZURE_TENANT_ID").unwrap_or_else(|| env.tenant.clone());
        let mut tried = Vec::new();
        let wants = |m: AuthMethod| env.auth_method == AuthMethod::Auto || env.auth_method == m;

        if wants(AuthMethod::ClientSecret) {
            match (client_id.clone(), var("AZURE_CLIENT_SECRET")) {
                (Some(id), Some(secret)) => {
                    let cred = ClientSecretCredential::new(http, authority, tenant, id, secret);
                    return Ok(Self { method: "client-secret", inner: Arc::new(cred) });
                }
                (None, Some(_)) => tried.push("client secret (AZURE_CLIENT_SECRET set but no client id: set AZURE_CLIENT_ID or [auth] client_id)"),
                _ => tried.push("client secret (AZURE_CLIENT_SECRET not set)"),
            }
        }
        if wants(AuthMethod::WorkloadIdentity) {
            match (client_id.clone(), var("AZURE_FEDERATED_TOKEN_FILE")) {
                (Some(id), Some(file)) => {
                    let token =
                        std::fs::read_to_string(&file).map_err(|e| AuthError::Incomplete {
                            method: "workload-identity",
                            missing: format!("cannot read AZURE_FEDERATED_TOKEN_FILE {file}: {e}"),
                        })?;
                    let cred = WorkloadIdentityCredential::new(
                        http,
                        authority,
                        tenant,
                        id,
                        token.trim().to_string(),
                    );
                    return Ok(Self {
                        method: "workload-identity",
                        inner: Arc::new(cred),
                    });
                }
                _ => tried
                    .push("workload identity (AZURE_FEDERATED_TOKEN_FILE or client id not set)"),
            }
        }
        if wants(AuthMethod::ManagedIdentity) {
            if var("IDENTITY_ENDPOINT").is_some() {
                let cred =
                    AppServiceManagedIdentityCredential::create(TokenCredentialOptions::default())
                        .map_err(|e| AuthError::Incomplete {
                            method: "managed-identity",
                            missing: e.to_string(),
                        })?;
                return Ok(Self {
                    method: "managed-identity",
                    inner: Arc::new(cred),
                });
            }
            tried.push("managed identity (IDENTITY_ENDPOINT not set)");
        }
        if wants(AuthMethod::AzureCli) {
            if which("az") {
                return Ok(Self {
                    method: "azure-cli",
                    inner: Arc::new(AzureCliCredential::new()),
                });
            }
            tried.push("Azure CLI (`az` not on PATH)");
        }
        Err(AuthError::NoneConfigured(tried.join("; ")))
    }

    pub async fn token(&self, scope: &str) -> Result<String, AuthError> {
        self.inner
            .get_token(&[scope])
            .await
            .map(|t| t.token.secret().to_string())
            .map_err(|e| AuthError::Token {
                method: self.method,
                scope: scope.to_string(),
                message: runtime::azure_blob::redact_sas(&e.to_string()),
            })
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
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

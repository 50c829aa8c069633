//! Entra ID as far as our clients see it: the v2 token endpoint (client secret and workload identity
//! federation), the App Service managed-identity endpoint, and bearer-token checks for ARM and Graph.

use crate::config::EmulatorConfig;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const ARM_AUDIENCES: &[&str] = &[
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
];
pub const GRAPH_AUDIENCES: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
];
pub const STORAGE_AUDIENCES: &[&str] = &["https://storage.azure.com", "https://storage.azure.com/"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub sub: String,
    pub oid: String,
    pub tid: String,
    #[serde(default)]
    pub appid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Signs and checks the emulator's tokens (HS256 with a key made at start-up).
pub struct TokenSigner {
    key: Vec<u8>,
    issuer: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenProblem {
    Missing,
    Malformed,
    BadSignature,
    Expired { exp: i64, now: i64 },
    WrongAudience(String),
}

impl TokenSigner {
    pub fn new(tenant: &str) -> Self {
        let key: [u8; 32] = rand::random();
        Self {
            key: key.to_vec(),
            issuer: format!("https://sts.windows.net/{tenant}/"),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn mint(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()))
        )
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => return Vec::new(),
        };
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks signature, expiry and audience of a `Bearer` header value.
    pub fn verify(
        &self,
        authorization: Option<&str>,
        audiences: &[&str],
    ) -> Result<Claims, TokenProblem> {
        let header = authorization.ok_or(TokenProblem::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(TokenProblem::Malformed)?;
        let claims = self.decode_signed(token)?;
        let now = chrono::Utc::now().timestamp();
        if claims.exp <= now {
            return Err(TokenProblem::Expired {
                exp: claims.exp,
                now,
            });
        }
        if !audiences.contains(&claims.aud.as_str()) {
            return Err(TokenProblem::WrongAudience(claims.aud));
        }
        Ok(claims)
    }

    pub fn decode_signed(&self, token: &str) -> Result<Claims, TokenProblem> {
        let mut parts = token.rsplitn(2, '.');
        let signature = parts.next().ok_or(TokenProblem::Malformed)?;
        let signing_input = parts.next().ok_or(TokenProblem::Malformed)?;
        let expected = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        if expected != signature {
            return Err(TokenProblem::BadSignature);
        }
        decode_unverified(token).ok_or(TokenProblem::Malformed)
    }
}

/// Reads a JWT's claims without checking its signature (for external assertions).
pub fn decode_unverified<T: serde::de::DeserializeOwned>(token: &str) -> Option<T> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The resource a v2 scope names: `https://management.azure.com/.default` -> `https://management.azure.com`.
pub fn audience_from_scope(scope: &str) -> String {
    let first = scope.split_whitespace().next().unwrap_or_default();
    first
        .trim_end_matches("/.default")
        .trim_end_matches('/')
        .to_string()
}

/// Claims for a token issued to `object_id` now.
pub fn claims_for(
    cfg: &EmulatorConfig,
    signer: &TokenSigner,
    audience: &str,
    object_id: &str,
    app_id: &str,
    lifetime_s: i64,
) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        aud: audience.to_string(),
        iss: signer.issuer().to_string(),
        sub: object_id.to_string(),
        oid: object_id.to_string(),
        tid: cfg.tenant_id.clone(),
        appid: app_id.to_string(),
        iat: now,
        nbf: now,
        exp: now + lifetime_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_rejects_tampering_expiry_and_audience() {
        let cfg = EmulatorConfig::new(std::env::temp_dir());
        let signer = TokenSigner::new(&cfg.tenant_id);
        let good = signer.mint(&claims_for(
            &cfg,
            &signer,
            "https://management.azure.com",
            "oid",
            "app",
            60,
        ));
        assert!(signer
            .verify(Some(&format!("Bearer {good}")), ARM_AUDIENCES)
            .is_ok());
        assert!(matches!(
            signer.verify(Some(&format!("Bearer {good}")), GRAPH_AUDIENCES),
            Err(TokenProblem::WrongAudience(_))
        ));
        let expired = signer.mint(&claims_for(
            &cfg,
            &signer,
            "https://management.azure.com",
            "oid",
            "app",
            -5,
        ));
        assert!(matches!(
            signer.verify(Some(&format!("Bearer {expired}")), ARM_AUDIENCES),
            Err(TokenProblem::Expired { .. })
        ));
        let other = TokenSigner::new(&cfg.tenant_id);
        assert_eq!(
            other
                .verify(Some(&format!("Bearer {good}")), ARM_AUDIENCES)
                .err(),
            Some(TokenProblem::BadSignature)
        );
        assert_eq!(
            signer.verify(None, ARM_AUDIENCES).err(),
            Some(TokenProblem::Missing)
        );
        assert_eq!(
            audience_from_scope("https://graph.microsoft.com/.default"),
            "https://graph.microsoft.com"
        );
    }
}

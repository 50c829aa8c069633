//! The handler's settings, read once from the environment at start-up.
//!
//! | variable | meaning |
//! |---|---|
//! | `FUNCTIONS_CUSTOMHANDLER_PORT` | port to listen on (127.0.0.1), set by the Functions host |
//! | `STANDARD_ACCOUNT_URL` | blob endpoint of the standard account: `https://<acct>.blob.core.windows.net`, or path-style `http://127.0.0.1:<port>/<acct>` (Azurite) |
//! | `STANDARD_ACCOUNT_NAME` | optional; default: derived from the URL (first host label, or first path segment for path-style URLs) |
//! | `STANDARD_CONTAINER` | default `standard` |
//! | `PARQUET_CODEC` | `zstd` (default) or `gzip` |
//! | `STANDARD_ACCOUNT_KEY` | shared key, for local and dev runs only; when set it wins |
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` | set by App Service when the app has a managed identity; used when there is no key (production) |
//!
//! An explicit key wins over the identity because the platform exports `IDENTITY_*` whenever an
//! identity exists, while a key is only ever set on purpose (local runs, the emulated Functions host,
//! which cannot check Entra tokens against Azurite). Production settings never carry a key.

use std::fmt;

use runtime::etl::ParquetCodec;
use url::Url;

pub const PORT_VAR: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
pub const ACCOUNT_URL_VAR: &str = "STANDARD_ACCOUNT_URL";
pub const ACCOUNT_NAME_VAR: &str = "STANDARD_ACCOUNT_NAME";
pub const CONTAINER_VAR: &str = "STANDARD_CONTAINER";
pub const CODEC_VAR: &str = "PARQUET_CODEC";
pub const IDENTITY_ENDPOINT_VAR: &str = "IDENTITY_ENDPOINT";
pub const IDENTITY_HEADER_VAR: &str = "IDENTITY_HEADER";
pub const ACCOUNT_KEY_VAR: &str = "STANDARD_ACCOUNT_KEY";

pub const DEFAULT_CONTAINER: &str = "standard";

#[derive(Debug, Clone)]
pub struct HandlerConfig {
    pub port: u16,
    pub standard: StandardConfig,
    pub codec: ParquetCodec,
}

/// Where and how the handler writes its outputs.
#[derive(Debug, Clone)]
pub struct StandardConfig {
    pub account_url: Url,
    pub account: String,
    pub container: String,
    pub auth: StandardAuth,
}

#[derive(Clone)]
pub enum StandardAuth {
    /// App Service / Functions managed identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`).
    ManagedIdentity { endpoint: Url, header: String },
    /// Shared key; local and dev only.
    AccountKey(String),
}

impl fmt::Debug for StandardAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StandardAuth::ManagedIdentity { endpoint, .. } => f
                .debug_struct("ManagedIdentity")
                .field("endpoint", &endpoint.as_str())
                .field("header", &"<redacted>")
                .finish(),
            StandardAuth::AccountKey(_) => f.write_str("AccountKey(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("no credential for the standard account: run with a managed identity (IDENTITY_ENDPOINT and IDENTITY_HEADER) or set STANDARD_ACCOUNT_KEY")]
    NoCredential,
}

impl HandlerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let require = |var: &'static str| get(var).ok_or(ConfigError::Missing(var));
        let invalid = |var: &'static str, reason: String| ConfigError::Invalid { var, reason };

        let port = require(PORT_VAR)?
            .trim()
            .parse::<u16>()
            .map_err(|e| invalid(PORT_VAR, e.to_string()))?;

        let account_url = Url::parse(require(ACCOUNT_URL_VAR)?.trim())
            .map_err(|e| invalid(ACCOUNT_URL_VAR, e.to_string()))?;
        if !matches!(account_url.scheme(), "http" | "https") || account_url.host_str().is_none() {
            return Err(invalid(
                ACCOUNT_URL_VAR,
                format!("{account_url} is not an http(s) URL"),
            ));
        }
        let account = match get(ACCOUNT_NAME_VAR) {
            Some(name) => name,
            None => account_from_url(&account_url)
                .ok_or_else(|| invalid(ACCOUNT_URL_VAR, "cannot derive the account name".into()))?,
        };

        let container = get(CONTAINER_VAR).unwrap_or_else(|| DEFAULT_CONTAINER.to_owned());
        let codec = match get(CODEC_VAR) {
            Some(codec) => codec
                .trim()
                .parse()
                .map_err(|e: runtime::etl::UnknownCodec| invalid(CODEC_VAR, e.to_string()))?,
            None => ParquetCodec::default(),
        };

        let auth = match (
            get(ACCOUNT_KEY_VAR),
            get(IDENTITY_ENDPOINT_VAR),
            get(IDENTITY_HEADER_VAR),
        ) {
            (Some(key), _, _) => StandardAuth::AccountKey(key),
            (None, Some(endpoint), Some(header)) => StandardAuth::ManagedIdentity {
                endpoint: Url::parse(&endpoint)
                    .map_err(|e| invalid(IDENTITY_ENDPOINT_VAR, e.to_string()))?,
                header,
            },
            _ => return Err(ConfigError::NoCredential),
        };

        Ok(Self {
            port,
            standard: StandardConfig {
                account_url,
                account,
                container,
                auth,
            },
            codec,
        })
    }
}

/// `https://acct.blob.core.windows.net` -> `acct`; `http://127.0.0.1:10000/acct` -> `acct`.
fn account_from_url(url: &Url) -> Option<String> {
    let first_segment = url
        .path_segments()
        .and_then(|mut segments| segments.next())
        .filter(|s| !s.is_empty());
    match first_segment {
        Some(segment) => Some(segment.to_owned()),
        None => {
            let host = url.host_str()?;
            let label = host.split('.').next()?;
            (host.contains('.') && !label.chars().all(|c| c.is_ascii_digit()))
                .then(|| label.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<HandlerConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HandlerConfig::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 2] = [
        (PORT_VAR, "7071"),
        (ACCOUNT_URL_VAR, "https://stdstandard.blob.core.windows.net"),
    ];

    #[test]
    fn managed_identity_without_a_key_and_an_explicit_key_wins() {
        let mut vars = BASE.to_vec();
        vars.extend([
            (IDENTITY_ENDPOINT_VAR, "http://127.0.0.1:41234/msi/token"),
            (IDENTITY_HEADER_VAR, "secret-header"),
        ]);
        let c = config(&vars).expect("valid");
        assert!(matches!(
            c.standard.auth,
            StandardAuth::ManagedIdentity { .. }
        ));
        vars.push((ACCOUNT_KEY_VAR, "a2V5"));
        let c = config(&vars).expect("valid");
        assert!(matches!(c.standard.auth, StandardAuth::AccountKey(_)));
        assert_eq!(c.port, 7071);
        assert_eq!(c.standard.account, "stdstandard");
        assert_eq!(c.standard.container, "standard");
        assert_eq!(c.codec, ParquetCodec::Zstd);
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("secret-header") && !debug.contains("a2V5"),
            "{debug}"
        );
    }

    #[test]
    fn path_style_url_names_the_account() {
        let vars = [
            (PORT_VAR, "1"),
            (ACCOUNT_URL_VAR, "http://127.0.0.1:10000/devacct"),
            (ACCOUNT_KEY_VAR, "a2V5"),
            (CONTAINER_VAR, "std2"),
            (CODEC_VAR, "GZIP"),
        ];
        let c = config(&vars).expect("valid");
        assert_eq!(c.standard.account, "devacct");
        assert_eq!(c.standard.container, "std2");
        assert_eq!(c.codec, ParquetCodec::Gzip);
        assert!(matches!(c.standard.auth, StandardAuth::AccountKey(_)));
    }

    #[test]
    fn named_errors() {
        assert_eq!(config(&[]).err(), Some(ConfigError::Missing(PORT_VAR)));
        assert_eq!(config(&BASE).err(), Some(ConfigError::NoCredential));
        let mut vars = BASE.to_vec();
        vars.extend([(ACCOUNT_KEY_VAR, "k"), (CODEC_VAR, "snappy")]);
        assert!(matches!(
            config(&vars),
            Err(ConfigError::Invalid { var: CODEC_VAR, .. })
        ));
        let vars = [
            (PORT_VAR, "1"),
            (ACCOUNT_URL_VAR, "http://127.0.0.1:10000"),
            (ACCOUNT_KEY_VAR, "k"),
        ];
        assert!(matches!(
            config(&vars),
            Err(ConfigError::Invalid {
                var: ACCOUNT_URL_VAR,
                ..
            })
        ));
    }
}

//! The object_store client for the standard container.

use std::sync::Arc;

use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStore;

use crate::config::{StandardAuth, StandardConfig};
use azure::credential::{self, AuthConfig, AuthError, AuthMethod, ObjectStoreCredential};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("building the standard store client: {0}")]
    Build(#[from] object_store::Error),
    #[error(transparent)]
    Credential(#[from] AuthError),
}

/// An [`ObjectStore`] rooted at the standard container.
///
/// `with_endpoint` takes the account URL as given. For a path-style URL
/// (`http://127.0.0.1:10000/acct`, Azurite) object_store appends `/<container>/<blob>` to the
/// URL's path and signs the canonicalized resource as `/<account><url path>`, i.e.
/// `/acct/acct/<container>/<blob>`, which is the form Azurite checks for path-style requests.
pub fn standard_store(config: &StandardConfig) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let builder = MicrosoftAzureBuilder::new()
        .with_account(&config.account)
        .with_container_name(&config.container)
        .with_endpoint(config.account_url.as_str().trim_end_matches('/').to_owned())
        .with_allow_http(config.account_url.scheme() == "http");
    let builder = match &config.auth {
        // The same credential path as every crate: azure_identity's App Service managed
        // identity, which reads IDENTITY_ENDPOINT and IDENTITY_HEADER as the platform sets them.
        StandardAuth::ManagedIdentity { .. } => {
            let tokens = credential::from_config(&AuthConfig {
                method: AuthMethod::ManagedIdentity,
                authority: "https://login.microsoftonline.com".into(),
                tenant: String::new(),
                client_id: None,
            })?;
            builder.with_credentials(Arc::new(ObjectStoreCredential::new(tokens)))
        }
        StandardAuth::AccountKey(key) => builder.with_access_key(key),
    };
    Ok(Arc::new(builder.build()?))
}

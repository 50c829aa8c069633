//! object_store's Azure client asks a `CredentialProvider` for each request's credential; this
//! one answers from the shared [`TokenSource`], so object_store uses our credential path too.

use super::{TokenSource, STORAGE_SCOPE};
use async_trait::async_trait;
use object_store::azure::AzureCredential;
use object_store::CredentialProvider;
use std::sync::Arc;

pub struct ObjectStoreCredential {
    source: Arc<dyn TokenSource>,
}

impl ObjectStoreCredential {
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self { source }
    }
}

impl std::fmt::Debug for ObjectStoreCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreCredential")
            .field("method", &self.source.method())
            .finish()
    }
}

#[async_trait]
impl CredentialProvider for ObjectStoreCredential {
    type Credential = AzureCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AzureCredential>> {
        let token =
            self.source
                .token(STORAGE_SCOPE)
                .await
                .map_err(|e| object_store::Error::Generic {
                    store: "MicrosoftAzure",
                    source: Box::new(e),
                })?;
        Ok(Arc::new(AzureCredential::BearerToken(token.secret)))
    }
}

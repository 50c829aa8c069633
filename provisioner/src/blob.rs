//! Opening a storage account's blob client for provisioning (package upload, stored access
//! policies, the run lock's lease): the key comes from listKeys and stays in memory. Signing,
//! retries and the calls themselves live in the shared `azure` crate's storage client.

use crate::arm::versions::STORAGE;
use crate::resources::storage_account::AccountRole;
use crate::resources::{Ctx, ResourceError, Result};
use azure::storage::{AccountKey, BlobAuth, BlobClient};
use std::ops::Deref;

pub use azure::storage::{AccessPolicy, Lease};

/// A blob client for one of the environment's accounts.
pub struct BlobAccount(BlobClient);

impl Deref for BlobAccount {
    type Target = BlobClient;
    fn deref(&self) -> &BlobClient {
        &self.0
    }
}

async fn account_key(ctx: &Ctx, role: AccountRole) -> Result<AccountKey> {
    let keys = ctx
        .azure
        .post(
            &format!("{}/listKeys?api-version={STORAGE}", role.id(ctx)),
            None,
        )
        .await?;
    let key = keys
        .pointer("/keys/0/value")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            ResourceError::Other(format!(
                "listKeys on {} returned no key",
                role.account_name(ctx)
            ))
        })?;
    AccountKey::new(&role.account_name(ctx), key).map_err(|e| ResourceError::Other(e.to_string()))
}

impl BlobAccount {
    /// Signed with the account key (listKeys).
    pub async fn open(ctx: &Ctx, role: AccountRole) -> Result<Self> {
        let key = account_key(ctx, role).await?;
        Self::build(ctx, role, BlobAuth::SharedKey(key))
    }

    /// As the deploying identity: an Entra token, checked against its data roles (the local
    /// cloud's account endpoints check them too).
    pub async fn open_as_identity(ctx: &Ctx, role: AccountRole) -> Result<Self> {
        let auth = BlobAuth::Bearer {
            tokens: ctx.azure.tokens().clone(),
            key: None,
        };
        Self::build(ctx, role, auth)
    }

    fn build(ctx: &Ctx, role: AccountRole, auth: BlobAuth) -> Result<Self> {
        let mut client = BlobClient::new(&ctx.blob_endpoint(role), auth)?;
        client.notify = ctx.azure.notify.clone();
        // One policy per run: the window the user chose applies to storage calls too.
        client.retry = ctx.azure.retry.clone();
        Ok(Self(client))
    }

    pub async fn put(
        &self,
        container: &str,
        blob: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<()> {
        Ok(self
            .0
            .put_blob(container, blob, bytes, content_type)
            .await?)
    }

    pub async fn get(&self, container: &str, blob: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get_blob(container, blob).await?.map(|b| b.to_vec()))
    }

    pub async fn delete(&self, container: &str, blob: &str) -> Result<()> {
        Ok(self.0.delete_blob(container, blob).await?)
    }

    /// A read URL bound to a stored access policy (the key signs it).
    pub fn sas_url(&self, container: &str, blob: &str, policy_id: &str) -> Result<String> {
        self.0.sas_url(container, blob, policy_id).ok_or_else(|| {
            ResourceError::Other(
                "a SAS needs the account key; open the account with its key".into(),
            )
        })
    }
}

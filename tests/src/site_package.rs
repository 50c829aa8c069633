//! How a site fetches a package, as App Service does for `WEBSITE_RUN_FROM_PACKAGE` and One
//! Deploy's `packageUri`: a SAS URL goes to Azurite, which checks the signature; any other blob URL
//! is read with the site's identity, checked against its role assignments.

use crate::blob_client::BlobClient;
use crate::data_plane::{account_scope, role_effective, READ_ROLES};
use crate::state::{lock, Shared};

/// `http://127.0.0.1:{port}/{account}/{container}/{blob}` -> (account, container, blob).
pub fn split_blob_url(url: &url::Url) -> Option<(String, String, String)> {
    let mut parts = url.path().trim_start_matches('/').splitn(3, '/');
    let account = parts.next()?.to_string();
    let container = parts.next()?.to_string();
    let blob = url::form_urlencoded::parse(format!("x={}", parts.next()?).as_bytes())
        .next()?
        .1
        .into_owned();
    Some((account, container, blob))
}

pub async fn fetch_package(
    state: &Shared,
    package_url: &str,
    principal: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    let url = url::Url::parse(package_url)
        .map_err(|e| anyhow::anyhow!("WEBSITE_RUN_FROM_PACKAGE is not a URL: {e}"))?;
    if url.query_pairs().any(|(k, _)| k == "sig") {
        let response = state.http.get(url.clone()).send().await?;
        if !response.status().is_success() {
            anyhow::bail!(
                "package download refused by storage: HTTP {} (SAS expired, revoked or invalid)",
                response.status()
            );
        }
        return Ok(response.bytes().await?.to_vec());
    }
    let (account, container, blob) =
        split_blob_url(&url).ok_or_else(|| anyhow::anyhow!("package URL names no blob"))?;
    let scope = account_scope(state, &account)
        .ok_or_else(|| anyhow::anyhow!("package account {account} does not exist"))?;
    let container_scope = format!("{scope}/blobServices/default/containers/{container}");
    if !role_effective(state, principal, &container_scope, READ_ROLES) {
        anyhow::bail!("package download refused: 403 AuthorizationPermissionMismatch (the site identity has no blob read role on {account}/{container})");
    }
    let data = lock(&state.cloud)
        .accounts
        .get(&account)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("account {account} has no data plane"))?;
    BlobClient::new(&state.http, data)
        .get_blob(&container, &blob)
        .await
}

//! The few blob data-plane calls provisioning needs (package upload, stored access policies, the
//! run lock's lease), signed with the account key from listKeys. The key stays in memory.

use crate::resources::storage_account::AccountRole;
use crate::resources::{Ctx, ResourceError, Result};
use runtime::azure_blob::{AccountKey, SasSpec, STORAGE_VERSION};
use std::collections::BTreeMap;
use url::Url;

pub struct BlobAccount {
    http: reqwest::Client,
    endpoint: Url,
    key: AccountKey,
    /// Sign as the deploying identity (Entra) instead of with the key.
    bearer: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccessPolicy {
    pub id: String,
    pub start: String,
    pub expiry: String,
    pub permission: String,
}

pub struct BlobReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

fn data_error(what: &str, status: u16, body: &[u8]) -> ResourceError {
    let text = String::from_utf8_lossy(body);
    let code = text
        .split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("");
    ResourceError::Other(format!("{what}: storage answered HTTP {status} {code}"))
}

impl BlobAccount {
    pub async fn open(ctx: &Ctx, role: AccountRole) -> Result<Self> {
        let keys = ctx
            .azure
            .post(
                &format!(
                    "{}/listKeys?api-version={}",
                    role.id(ctx),
                    crate::arm::versions::STORAGE
                ),
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
        let key = AccountKey::new(&role.account_name(ctx), key)
            .map_err(|e| ResourceError::Other(e.to_string()))?;
        let endpoint = ctx
            .outputs()
            .blob_endpoints
            .get(role.label())
            .cloned()
            .unwrap_or_else(|| {
                format!("https://{}.blob.core.windows.net/", role.account_name(ctx))
            });
        let endpoint = Url::parse(&format!("{}/", endpoint.trim_end_matches('/')))
            .map_err(|e| ResourceError::Other(format!("bad blob endpoint: {e}")))?;
        Ok(Self {
            http: reqwest::Client::new(),
            endpoint,
            key,
            bearer: None,
        })
    }

    /// The account as the deploying identity sees it: an Entra token where Azure checks one
    /// (https endpoints), the key where the local cloud's Azurite can only check keys.
    pub async fn open_as_identity(ctx: &Ctx, role: AccountRole) -> Result<Self> {
        let mut account = Self::open(ctx, role).await?;
        if account.endpoint.scheme() == "https" {
            let token = ctx
                .azure
                .credential()
                .token("https://storage.azure.com/.default")
                .await
                .map_err(|e| ResourceError::Other(e.to_string()))?;
            account.bearer = Some(token);
        }
        Ok(account)
    }

    fn path_style(&self) -> bool {
        self.endpoint.path() != "/"
    }

    pub fn blob_url(&self, container: &str, blob: &str) -> String {
        format!("{}{container}/{blob}", self.endpoint)
    }

    pub async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<BlobReply> {
        let url = self
            .endpoint
            .join(path_and_query)
            .map_err(|e| ResourceError::Other(format!("bad blob path: {e}")))?;
        let mut headers = BTreeMap::new();
        headers.insert("x-ms-version".to_string(), STORAGE_VERSION.to_string());
        headers.insert(
            "x-ms-date".to_string(),
            chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        );
        headers.insert("content-length".to_string(), body.len().to_string());
        for (k, v) in extra {
            headers.insert(k.to_ascii_lowercase(), v.to_string());
        }
        let auth = match &self.bearer {
            Some(token) => format!("Bearer {token}"),
            None => self.key.shared_key_authorization(method, &url, &headers),
        };
        let mut request = self
            .http
            .request(method.parse().unwrap_or(reqwest::Method::GET), url)
            .header("authorization", auth)
            .body(body);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let response = request.send().await.map_err(|e| {
            ResourceError::Other(format!(
                "storage unreachable: {}",
                runtime::azure_blob::redact_sas(&e.to_string())
            ))
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Ok(BlobReply {
            status,
            headers,
            body,
        })
    }

    pub async fn exists(&self, container: &str, blob: &str) -> Result<bool> {
        let reply = self
            .send("HEAD", &format!("{container}/{blob}"), &[], vec![])
            .await?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(data_error(
                &format!("HEAD {container}/{blob}"),
                s,
                &reply.body,
            )),
        }
    }

    pub async fn put(
        &self,
        container: &str,
        blob: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<()> {
        let reply = self
            .send(
                "PUT",
                &format!("{container}/{blob}"),
                &[
                    ("x-ms-blob-type", "BlockBlob"),
                    ("content-type", content_type),
                ],
                bytes,
            )
            .await?;
        if reply.status != 201 {
            return Err(data_error(
                &format!("upload {container}/{blob}"),
                reply.status,
                &reply.body,
            ));
        }
        Ok(())
    }

    pub async fn get(&self, container: &str, blob: &str) -> Result<Option<Vec<u8>>> {
        let reply = self
            .send("GET", &format!("{container}/{blob}"), &[], vec![])
            .await?;
        match reply.status {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            s => Err(data_error(
                &format!("GET {container}/{blob}"),
                s,
                &reply.body,
            )),
        }
    }

    pub async fn delete(&self, container: &str, blob: &str) -> Result<()> {
        let reply = self
            .send("DELETE", &format!("{container}/{blob}"), &[], vec![])
            .await?;
        match reply.status {
            202 | 404 => Ok(()),
            s => Err(data_error(
                &format!("DELETE {container}/{blob}"),
                s,
                &reply.body,
            )),
        }
    }

    pub async fn access_policies(&self, container: &str) -> Result<Vec<AccessPolicy>> {
        let reply = self
            .send(
                "GET",
                &format!("{container}?restype=container&comp=acl"),
                &[],
                vec![],
            )
            .await?;
        if reply.status != 200 {
            return Err(data_error(
                &format!("read access policies of {container}"),
                reply.status,
                &reply.body,
            ));
        }
        let xml = String::from_utf8_lossy(&reply.body).to_string();
        let field = |chunk: &str, tag: &str| {
            chunk
                .split(&format!("<{tag}>"))
                .nth(1)
                .and_then(|s| s.split(&format!("</{tag}>")).next())
                .unwrap_or("")
                .to_string()
        };
        Ok(xml
            .split("<SignedIdentifier>")
            .skip(1)
            .map(|chunk| AccessPolicy {
                id: field(chunk, "Id"),
                start: field(chunk, "Start"),
                expiry: field(chunk, "Expiry"),
                permission: field(chunk, "Permission"),
            })
            .collect())
    }

    /// Replaces the container's stored access policies (the container stays private).
    pub async fn set_access_policies(
        &self,
        container: &str,
        policies: &[AccessPolicy],
    ) -> Result<()> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers>");
        for p in policies {
            xml.push_str(&format!(
                "<SignedIdentifier><Id>{}</Id><AccessPolicy><Start>{}</Start><Expiry>{}</Expiry><Permission>{}</Permission></AccessPolicy></SignedIdentifier>",
                p.id, p.start, p.expiry, p.permission
            ));
        }
        xml.push_str("</SignedIdentifiers>");
        let reply = self
            .send(
                "PUT",
                &format!("{container}?restype=container&comp=acl"),
                &[("content-type", "application/xml")],
                xml.into_bytes(),
            )
            .await?;
        if reply.status != 200 {
            return Err(data_error(
                &format!("set access policies of {container}"),
                reply.status,
                &reply.body,
            ));
        }
        Ok(())
    }

    /// A read URL for one blob whose rights come from a stored access policy.
    pub fn sas_url(&self, container: &str, blob: &str, policy_id: &str) -> String {
        let url = self.blob_url(container, blob);
        let path = Url::parse(&url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let sas = self.key.blob_sas(
            &path,
            &SasSpec {
                policy_id: Some(policy_id.to_string()),
                path_style: self.path_style(),
                ..Default::default()
            },
        );
        format!("{url}?{sas}")
    }
}

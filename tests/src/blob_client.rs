//! The emulator's own data-plane calls into Azurite (container create/delete, list, read), signed
//! with the account key as Azure's internals would be entitled to.

use crate::state::AccountData;
use azure::storage::{AccountKey, BlobReply};

pub struct BlobClient<'a> {
    http: &'a reqwest::Client,
    account: AccountData,
}

#[derive(Debug, Clone)]
pub struct BlobItem {
    pub name: String,
    pub etag: String,
    pub content_length: u64,
}

impl<'a> BlobClient<'a> {
    /// Signing, retries and transport come from the shared `azure` crate's storage client.
    pub fn new(http: &'a reqwest::Client, account: AccountData) -> Self {
        Self { http, account }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<BlobReply> {
        let key = AccountKey::new(&self.account.name, &self.account.key1)?;
        let client = azure::storage::BlobClient::with_http(
            &self.account.blob_endpoint(),
            azure::storage::BlobAuth::SharedKey(key),
            self.http.clone(),
        )?;
        Ok(client
            .send(method, path_and_query, &[], body.into())
            .await?)
    }

    /// Creates the container; Ok(true) when it was new.
    pub async fn create_container(&self, name: &str) -> anyhow::Result<bool> {
        let response = self
            .send(
                reqwest::Method::PUT,
                &format!("{name}?restype=container"),
                vec![],
            )
            .await?;
        match response.status {
            201 => Ok(true),
            409 => Ok(false),
            s => anyhow::bail!("Azurite refused to create container {name}: HTTP {s}"),
        }
    }

    pub async fn delete_container(&self, name: &str) -> anyhow::Result<()> {
        let response = self
            .send(
                reqwest::Method::DELETE,
                &format!("{name}?restype=container"),
                vec![],
            )
            .await?;
        match response.status {
            202 | 404 => Ok(()),
            s => anyhow::bail!("Azurite refused to delete container {name}: HTTP {s}"),
        }
    }

    pub async fn list_blobs(&self, container: &str) -> anyhow::Result<Vec<BlobItem>> {
        let mut items = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = format!("{container}?restype=container&comp=list&maxresults=5000");
            if !marker.is_empty() {
                query.push_str(&format!("&marker={marker}"));
            }
            let response = self.send(reqwest::Method::GET, &query, vec![]).await?;
            if !(200..300).contains(&response.status) {
                anyhow::bail!(
                    "listing container {container} failed: HTTP {}",
                    response.status
                );
            }
            let xml = String::from_utf8_lossy(&response.body).to_string();
            items.extend(parse_blob_list(&xml));
            marker = between(&xml, "<NextMarker>", "</NextMarker>")
                .unwrap_or_default()
                .to_string();
            if marker.is_empty() {
                return Ok(items);
            }
        }
    }

    pub async fn get_blob(&self, container: &str, name: &str) -> anyhow::Result<Vec<u8>> {
        let path = format!("{container}/{}", encode_path(name));
        let response = self.send(reqwest::Method::GET, &path, vec![]).await?;
        if !(200..300).contains(&response.status) {
            anyhow::bail!(
                "reading {container}/{name} failed: HTTP {}",
                response.status
            );
        }
        Ok(response.body.to_vec())
    }
}

pub fn encode_path(name: &str) -> String {
    name.split('/')
        .map(|s| {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn between<'s>(text: &'s str, open: &str, close: &str) -> Option<&'s str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn parse_blob_list(xml: &str) -> Vec<BlobItem> {
    xml.split("<Blob>")
        .skip(1)
        .filter_map(|chunk| {
            Some(BlobItem {
                name: unescape(between(chunk, "<Name>", "</Name>")?),
                etag: between(chunk, "<Etag>", "</Etag>")
                    .unwrap_or_default()
                    .to_string(),
                content_length: between(chunk, "<Content-Length>", "</Content-Length>")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_azurite_listing() {
        let xml = "<EnumerationResults><Blobs><Blob><Name>a/b&amp;c.json</Name><Properties><Etag>0x1</Etag><Content-Length>12</Content-Length></Properties></Blob><Blob><Name>x</Name><Properties><Etag>0x2</Etag></Properties></Blob></Blobs><NextMarker /></EnumerationResults>";
        let items = super::parse_blob_list(xml);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].name, "a/b&c.json");
        assert_eq!(items[0].content_length, 12);
        assert_eq!(items[1].etag, "0x2");
        assert_eq!(super::encode_path("a b/c"), "a%20b/c");
    }
}

//! A container made through ARM exists in the account's Azurite and takes writes signed with the listed key.

mod common;
use azure::storage::{AccountKey, SasSpec};
use common::TestCloud;
use serde_json::json;

/// A reply from the shared storage client, read like a response.
struct Signed(azure::storage::BlobReply);

impl Signed {
    fn status(&self) -> u16 {
        self.0.status
    }
    async fn bytes(self) -> Result<bytes::Bytes, std::convert::Infallible> {
        Ok(self.0.body)
    }
}

/// One request signed with `key` by the shared storage client (the code provision uses).
async fn signed(
    _cloud: &TestCloud,
    key: &AccountKey,
    method: &str,
    url: &str,
    body: Vec<u8>,
    blob: bool,
) -> Signed {
    let url = url::Url::parse(url).expect("url");
    let origin = format!("{}/", url.origin().ascii_serialization());
    let client =
        azure::storage::BlobClient::new(&origin, azure::storage::BlobAuth::SharedKey(key.clone()))
            .expect("client");
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path().trim_start_matches('/')),
        None => url.path().trim_start_matches('/').to_string(),
    };
    let headers: &[(&str, &str)] = if blob {
        &[("x-ms-blob-type", "BlockBlob")]
    } else {
        &[]
    };
    Signed(
        client
            .send(method.parse().expect("method"), &path, headers, body.into())
            .await
            .expect("send"),
    )
}

#[tokio::test]
async fn container_created_through_arm_takes_writes_with_the_listed_key() {
    let cloud = TestCloud::start().await;
    cloud.resource_group("rgdata").await;
    let account = cloud.storage_account("rgdata", "stdata01").await;
    let endpoint = account["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .expect("endpoint")
        .to_string();
    let base = TestCloud::account_path("rgdata", "stdata01");
    let created = cloud
        .arm(
            "PUT",
            &format!("{base}/blobServices/default/containers/raw?api-version=2023-05-01"),
            Some(json!({"properties": {"publicAccess": "None"}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        cloud
            .arm(
                "PUT",
                &format!("{base}/blobServices/default/containers/raw?api-version=2023-05-01"),
                Some(json!({}))
            )
            .await
            .status,
        200
    );
    let public = cloud
        .arm(
            "PUT",
            &format!("{base}/blobServices/default/containers/pub?api-version=2023-05-01"),
            Some(json!({"properties": {"publicAccess": "Blob"}})),
        )
        .await;
    assert_eq!(public.code(), "PublicAccessNotPermitted");
    let keys = cloud
        .arm(
            "POST",
            &format!("{base}/listKeys?api-version=2023-05-01"),
            None,
        )
        .await
        .json();
    let key = AccountKey::new("stdata01", keys["keys"][0]["value"].as_str().expect("key"))
        .expect("base64 key");

    let put = signed(
        &cloud,
        &key,
        "PUT",
        &format!("{endpoint}raw/a/b.json"),
        b"hello".to_vec(),
        true,
    )
    .await;
    assert_eq!(put.status(), 201);
    let got = signed(
        &cloud,
        &key,
        "GET",
        &format!("{endpoint}raw/a/b.json"),
        vec![],
        false,
    )
    .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), b"hello");
    let wrong = AccountKey::new("stdata01", keys["keys"][1]["value"].as_str().expect("key2"))
        .expect("key2");
    assert_eq!(
        signed(
            &cloud,
            &wrong,
            "GET",
            &format!("{endpoint}raw/a/b.json"),
            vec![],
            false
        )
        .await
        .status(),
        403,
        "key2 is not the key Azurite knows"
    );

    // A service SAS signed with the key reads the blob; a tampered one does not.
    let path = url::Url::parse(&format!("{endpoint}raw/a/b.json"))
        .expect("url")
        .path()
        .to_string();
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let sas = key.blob_sas(
        &path,
        &SasSpec {
            permissions: Some("r".into()),
            expiry: Some(expiry),
            path_style: true,
            ..Default::default()
        },
    );
    assert_eq!(
        cloud
            .http
            .get(format!("{endpoint}raw/a/b.json?{sas}"))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    let tampered = sas.replace("sp=r", "sp=rw");
    assert_eq!(
        cloud
            .http
            .get(format!("{endpoint}raw/a/b.json?{tampered}"))
            .send()
            .await
            .expect("get")
            .status(),
        403
    );

    let deleted = cloud
        .arm(
            "DELETE",
            &format!("{base}/blobServices/default/containers/raw?api-version=2023-05-01"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        signed(
            &cloud,
            &key,
            "GET",
            &format!("{endpoint}raw/a/b.json"),
            vec![],
            false
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn a_restarted_emulator_keeps_its_resources_and_blobs_through_the_state_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = local_cloud::config::EmulatorConfig::new(dir.path().to_path_buf());
    cfg.state_file = Some(dir.path().join("state.json"));
    let emulator = local_cloud::Emulator::start(cfg.clone(), 0)
        .await
        .expect("start");
    let cloud = TestCloud::with(emulator).await;
    cloud.resource_group("rgkeep").await;
    let account = cloud.storage_account("rgkeep", "stkeep01").await;
    let endpoint = account["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .expect("endpoint")
        .to_string();
    let base = TestCloud::account_path("rgkeep", "stkeep01");
    assert_eq!(
        cloud
            .arm(
                "PUT",
                &format!("{base}/blobServices/default/containers/raw?api-version=2023-05-01"),
                Some(json!({}))
            )
            .await
            .status,
        201
    );
    let keys = cloud
        .arm(
            "POST",
            &format!("{base}/listKeys?api-version=2023-05-01"),
            None,
        )
        .await
        .json();
    let key =
        AccountKey::new("stkeep01", keys["keys"][0]["value"].as_str().expect("key")).expect("key");
    assert_eq!(
        signed(
            &cloud,
            &key,
            "PUT",
            &format!("{endpoint}raw/kept.txt"),
            b"kept".to_vec(),
            true
        )
        .await
        .status(),
        201
    );
    cloud.emulator.shutdown().await;

    let restarted = local_cloud::Emulator::start(cfg, 0).await.expect("restart");
    let cloud = TestCloud::with(restarted).await;
    assert_eq!(
        cloud
            .arm(
                "GET",
                &format!(
                    "/subscriptions/{}/resourcegroups/rgkeep?api-version=2021-04-01",
                    common::SUB
                ),
                None
            )
            .await
            .status,
        200
    );
    assert_eq!(
        cloud
            .arm("GET", &format!("{base}?api-version=2023-05-01"), None)
            .await
            .json()["properties"]["provisioningState"],
        "Succeeded"
    );
    let got = signed(
        &cloud,
        &key,
        "GET",
        &format!("{endpoint}raw/kept.txt"),
        vec![],
        false,
    )
    .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), b"kept");
}

//! Test helpers: a real Azurite with a custom account (started by the shared test kit), and
//! the handler binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use test_kit::{wait_listening, Service, Tool, READY_TIMEOUT};

use base64::Engine as _;
use object_store::ObjectStore;

pub const ACCOUNT: &str = "stdtestacct";
/// base64 of a fixed 32-byte test key (not a secret).
pub const KEY: &str = "c3VwZXJoZXJvLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

/// A free port on 127.0.0.1 (the shared test kit's).
pub fn free_port() -> u16 {
    test_kit::free_port()
}

/// Kills the child when dropped.
pub struct Process {
    pub child: Child,
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Azurite executable; `None` (the test skips) when missing, a panic under CI.
pub fn azurite_bin() -> Option<PathBuf> {
    Tool::Azurite.for_test()
}

/// Starts Azurite (blob only) on a free port with account [`ACCOUNT`] and a temp --location.
pub fn start_azurite(bin: &PathBuf) -> Service {
    test_kit::Azurite::new(bin)
        .account(ACCOUNT, KEY)
        .start()
        .unwrap()
}

pub fn account_url(azurite_port: u16) -> String {
    format!("http://127.0.0.1:{azurite_port}/{ACCOUNT}")
}

/// Creates a container through the shared storage client (object_store has no container API).
pub async fn create_container(azurite_port: u16, container: &str) {
    let key = azure::storage::AccountKey::new(ACCOUNT, KEY).unwrap();
    let client = azure::storage::BlobClient::new(
        &account_url(azurite_port),
        azure::storage::BlobAuth::SharedKey(key),
    )
    .unwrap();
    let reply = client
        .send(
            azure::Method::PUT,
            &format!("{container}?restype=container"),
            &[],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert!(
        (200..300).contains(&reply.status),
        "create container: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
}

/// An object_store client on `container` of the Azurite account, built the handler's way.
pub fn store(azurite_port: u16, container: &str) -> Arc<dyn ObjectStore> {
    let config = function::config::HandlerConfig::from_lookup(|k| match k {
        "FUNCTIONS_CUSTOMHANDLER_PORT" => Some("1".into()),
        "STANDARD_ACCOUNT_URL" => Some(account_url(azurite_port)),
        "STANDARD_ACCOUNT_KEY" => Some(KEY.into()),
        "STANDARD_CONTAINER" => Some(container.into()),
        _ => None,
    })
    .unwrap();
    function::store::standard_store(&config.standard).unwrap()
}

/// Starts the `handler` binary against Azurite; its stdout (JSON logs) goes to `log`.
pub fn start_handler(azurite_port: u16, container: &str, log: &std::path::Path) -> Process {
    let port = free_port();
    let log = std::fs::File::create(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("STANDARD_ACCOUNT_URL", account_url(azurite_port))
        .env("STANDARD_ACCOUNT_KEY", KEY)
        .env("STANDARD_CONTAINER", container)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_listening("handler", port, &mut child, READY_TIMEOUT).unwrap();
    Process {
        child,
        port,
        _dir: None,
    }
}

/// The request body the Functions host sends for a blob trigger (azure-rest-facts §12.5).
pub fn host_invocation(name: &str, data: &[u8]) -> serde_json::Value {
    let quoted = |s: &str| serde_json::to_string(s).unwrap();
    serde_json::json!({
        "Data": {"blob": base64::engine::general_purpose::STANDARD.encode(data)},
        "Metadata": {
            "name": quoted(name),
            "Uri": quoted(&format!("https://rawacct.blob.core.windows.net/raw/{name}")),
            "Properties": {"ContentLength": data.len(), "ContentType": "application/octet-stream", "ETag": "\"0x8DC\""},
            "Metadata": {},
            "sys": {"MethodName": "process_raw", "UtcNow": "2026-11-25T10:00:00Z", "RandGuid": "6b1b0c1e-0000-4000-8000-000000000000"}
        }
    })
}

pub fn fixture(folder: &str) -> (String, Vec<u8>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/tests/fixtures/raw")
        .join(folder);
    let mut dir = root;
    loop {
        let entry = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        if entry.is_dir() {
            dir = entry;
        } else {
            let base =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixtures/raw");
            let name = entry
                .strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            return (name, std::fs::read(&entry).unwrap());
        }
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

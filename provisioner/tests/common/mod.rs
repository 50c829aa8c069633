//! Runs the real `provision` binary against a fresh local cloud.
#![allow(dead_code)]

use local_cloud::Emulator;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

pub struct World {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    pub env_file: PathBuf,
    pub http: reqwest::Client,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

/// The handler packaged once per test process (a debug build: the local cloud runs it on this machine).
pub fn test_package() -> PathBuf {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
            let status = std::process::Command::new(env!("CARGO"))
                .current_dir(&root)
                .args(["build", "-q", "-p", "superhero-function", "--bin", "handler"])
                .status()
                .expect("cargo runs");
            assert!(status.success(), "the handler builds");
            let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
            let handler = std::fs::read(target.join("debug/handler")).expect("handler binary");
            let zip = function::package::zip_package(&handler).expect("zip");
            let path = std::env::temp_dir().join(format!("superhero-test-package-{}.zip", std::process::id()));
            std::fs::write(&path, zip).expect("write package");
            path
        })
        .clone()
}

pub fn env_text(url: &str, name: &str, extra: &str) -> String {
    format!(
        r#"name = "{name}"
subscription = "{sub}"
tenant = "{tenant}"
location = "westeurope"
prefix = "hero"
[security_group]
unique_name = "hero-{name}-data"
[auth]
method = "client-secret"
client_id = "{client}"
[endpoints]
authority = "{url}"
resource_manager = "{url}"
graph = "{url}"
{extra}
"#,
        sub = local_cloud::DEFAULT_SUBSCRIPTION,
        tenant = local_cloud::DEFAULT_TENANT,
        client = local_cloud::DEPLOYER_CLIENT_ID,
    )
}

impl World {
    pub async fn start() -> Self {
        Self::start_with("t1", "").await
    }

    pub async fn start_with(name: &str, extra: &str) -> Self {
        let emulator = Emulator::start_for_tests().await.expect("local cloud starts (run tests/local-cloud.sh install)");
        let dir = tempfile::tempdir().expect("tempdir");
        let env_file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&env_file, env_text(&emulator.url(), name, extra)).expect("env file");
        Self { emulator, dir, env_file, http: reqwest::Client::new() }
    }

    pub async fn provision(&self, args: &[&str]) -> Run {
        let package = test_package();
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if matches!(args.first(), Some(&"up") | Some(&"drift")) && !args.contains(&"--package") {
            full.push("--package".into());
            full.push(package.display().to_string());
        }
        full.push("--env-file".into());
        full.push(self.env_file.display().to_string());
        self.provision_raw(&full).await
    }

    pub async fn provision_raw(&self, args: &[String]) -> Run {
        let output: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
            .args(args)
            .env("AZURE_CLIENT_SECRET", local_cloud::DEPLOYER_SECRET)
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env_remove("IDENTITY_ENDPOINT")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("provision runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.parse().expect("method"), format!("{}/_admin{path}", self.emulator.url()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("admin call");
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn state(&self) -> Value {
        self.admin("GET", "/state", None).await
    }

    pub fn writes(&self) -> Vec<local_cloud::request_log::LoggedRequest> {
        self.emulator.requests().into_iter().filter(|r| r.is_write()).collect()
    }

    pub async fn patch_resource(&self, id: &str, patch: Value) {
        let status = self
            .http
            .patch(format!("{}/_admin/resource", self.emulator.url()))
            .query(&[("id", id)])
            .json(&patch)
            .send()
            .await
            .expect("patch")
            .status();
        assert!(status.is_success(), "out-of-band change to {id}: {status}");
    }

    pub fn resource_ids(state: &Value) -> Vec<String> {
        state["resources"].as_array().cloned().unwrap_or_default().iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
    }

    pub fn find(state: &Value, kind: &str) -> Vec<Value> {
        state["resources"].as_array().cloned().unwrap_or_default().into_iter().filter(|r| r["type"] == json!(kind)).collect()
    }
}

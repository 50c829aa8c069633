//! Runs the real `provision` binary against a fresh local cloud.
#![allow(dead_code)]

use local_cloud::config::EmulatorConfig;
use local_cloud::Emulator;
use provisioner::names::Names;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

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
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {}\n{}", self.stdout, self.stderr)
        })
    }
}

/// The handler packaged once per test process (a debug build: the local cloud runs it on this machine).
pub fn test_package() -> PathBuf {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace")
                .to_path_buf();
            // As the suite builds it (a no-op after the suite's own build): the function's
            // smallest test target brings its `handler` binary with it.
            let status = test_kit::build_as_the_suite(&root, &["--test", "package_contract"])
                .expect("cargo runs");
            assert!(status.success(), "the handler builds");
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| root.join("target"));
            let handler = std::fs::read(target.join("debug/handler")).expect("handler binary");
            let zip = function_zip::package::zip_package(&handler).expect("zip");
            test_kit::keep_package(&target, &zip).expect("write package")
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
        let emulator = Emulator::start_for_tests()
            .await
            .expect("local cloud starts (run tests/local-cloud.sh install)");
        Self::around(emulator, name, extra)
    }

    /// A fast local cloud whose configuration the test adjusts first (a request log file, ...).
    pub async fn start_configured(
        name: &str,
        extra: &str,
        data_dir: &Path,
        configure: impl FnOnce(&mut EmulatorConfig),
    ) -> Self {
        let mut cfg = EmulatorConfig::new(data_dir.to_path_buf());
        configure(&mut cfg);
        let emulator = Emulator::start(cfg, 0)
            .await
            .expect("local cloud starts (run tests/local-cloud.sh install)");
        Self::around(emulator, name, extra)
    }

    fn around(emulator: Emulator, name: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env_file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&env_file, env_text(&emulator.url(), name, extra)).expect("env file");
        Self {
            emulator,
            dir,
            env_file,
            http: reqwest::Client::new(),
        }
    }

    /// The arguments `provision` gets: `args`, the test package for up/drift, and the env file.
    pub fn full_args(&self, args: &[&str]) -> Vec<String> {
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if matches!(args.first(), Some(&"up") | Some(&"drift")) && !args.contains(&"--package") {
            full.push("--package".into());
            full.push(test_package().display().to_string());
        }
        full.push("--env-file".into());
        full.push(self.env_file.display().to_string());
        full
    }

    pub async fn provision(&self, args: &[&str]) -> Run {
        let full = self.full_args(args);
        self.provision_raw(&full).await
    }

    /// The real binary with the deployer's client secret in its environment, stdin not a terminal.
    pub fn command(args: &[String]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"));
        command
            .args(args)
            .env("AZURE_CLIENT_SECRET", local_cloud::DEPLOYER_SECRET)
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env_remove("IDENTITY_ENDPOINT")
            .env_remove("PROVISION_ENV")
            .stdin(Stdio::null());
        command
    }

    /// Starts `provision` without waiting for it; its output goes to files in the test's folder.
    pub fn spawn(&self, args: &[&str], label: &str) -> tokio::process::Child {
        let out = std::fs::File::create(self.dir.path().join(format!("{label}.stdout")))
            .expect("stdout file");
        let err = std::fs::File::create(self.dir.path().join(format!("{label}.stderr")))
            .expect("stderr file");
        Self::command(&self.full_args(args))
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("provision starts")
    }

    pub fn spawned_output(&self, label: &str) -> (String, String) {
        let read = |ext: &str| {
            std::fs::read_to_string(self.dir.path().join(format!("{label}.{ext}")))
                .unwrap_or_default()
        };
        (read("stdout"), read("stderr"))
    }

    pub async fn provision_raw(&self, args: &[String]) -> Run {
        let output: Output = Self::command(args).output().await.expect("provision runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(
            method.parse().expect("method"),
            format!("{}/_admin{path}", self.emulator.url()),
        );
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
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect()
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
        state["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    }

    pub fn find(state: &Value, kind: &str) -> Vec<Value> {
        state["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["type"] == json!(kind))
            .collect()
    }
}

/// Where the environment's resources live, derived exactly as `provision` derives them.
impl World {
    pub fn environment(&self) -> provisioner::env::Environment {
        provisioner::env::load(&self.env_file).expect("the test's environment file is valid")
    }

    pub fn names(&self) -> Names {
        let env = self.environment();
        Names::derive(&env.prefix, &env.name, &env.suffix)
    }

    pub fn rg_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            local_cloud::DEFAULT_SUBSCRIPTION,
            self.names().resource_group
        )
    }

    pub fn resource_id(&self, provider_type: &str, name: &str) -> String {
        format!("{}/providers/{provider_type}/{name}", self.rg_id())
    }

    pub fn account_id(&self, account: &str) -> String {
        self.resource_id("Microsoft.Storage/storageAccounts", account)
    }

    /// The storage account's keys as listKeys hands them out: (key name, value).
    pub async fn account_keys(&self, account: &str) -> Vec<(String, String)> {
        let path = format!(
            "{}/listKeys?api-version=2023-05-01",
            self.account_id(account)
        );
        let (status, keys) = self.arm("POST", &path, None).await;
        assert_eq!(status, 200, "listKeys {account}: {keys}");
        keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| {
                let name = k["keyName"].as_str().unwrap_or_default().to_string();
                (name, k["value"].as_str().expect("key value").to_string())
            })
            .collect()
    }

    pub fn site_id(&self) -> String {
        self.resource_id("Microsoft.Web/sites", &self.names().function_app)
    }

    /// Rewrites the environment file with `edit` applied to its text.
    pub fn edit_env(&self, edit: impl FnOnce(&str) -> String) {
        let text = std::fs::read_to_string(&self.env_file).expect("env file");
        std::fs::write(&self.env_file, edit(&text)).expect("env file");
    }

    /// A token from the local cloud's real token endpoint, as the deployer (client credentials).
    pub async fn token(&self, scope: &str) -> String {
        let reply = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.emulator.url(),
                local_cloud::DEFAULT_TENANT
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", local_cloud::DEPLOYER_CLIENT_ID),
                ("client_secret", local_cloud::DEPLOYER_SECRET),
                ("scope", scope),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(reply.status(), 200, "token endpoint");
        reply.json::<Value>().await.expect("token json")["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// An ARM call as a person at the portal or CLI would make it; `path` includes the api-version.
    pub async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token(ARM_SCOPE).await;
        self.call(
            method,
            &format!("{}{path}", self.emulator.url()),
            &token,
            body,
        )
        .await
    }

    /// A Microsoft Graph v1.0 call; `path` starts after `/v1.0`.
    pub async fn graph(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token(GRAPH_SCOPE).await;
        self.call(
            method,
            &format!("{}/v1.0{path}", self.emulator.url()),
            &token,
            body,
        )
        .await
    }

    async fn call(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().expect("method"), url)
            .bearer_auth(token);
        if let Some(b) = body {
            request = request.json(&b);
        } else if method != "GET" && method != "DELETE" {
            request = request.header("content-length", "0");
        }
        let response = request.send().await.expect("call the local cloud");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Fault injection in front of ARM and Graph (all zero turns it off).
    pub async fn set_faults(&self, faults: Value) {
        let status = self
            .http
            .post(format!("{}/_admin/faults", self.emulator.url()))
            .json(&faults)
            .send()
            .await
            .expect("faults")
            .status();
        assert!(status.is_success(), "set faults: {status}");
    }

    /// The promise for every Azure behaviour: `up --yes` from nothing succeeds in one run, a
    /// re-run sends no write, `drift` exits 0, and `down --yes` leaves nothing (group and
    /// resource group gone). Returns the first `up` for the caller's own checks.
    pub async fn up_converges_and_down_leaves_nothing(&self, what: &str) -> Run {
        self.up_converges_and_down_leaves_nothing_seen(what).await.0
    }

    /// `up` again on a converged environment: it succeeds and sends no write.
    pub async fn converged_up_writes_nothing(&self, what: &str) -> Run {
        self.emulator.state.log.clear();
        let again = self.provision(&["up", "--yes"]).await;
        again.assert_code(0, &format!("{what}: re-run"));
        let writes: Vec<String> = self
            .writes()
            .iter()
            .map(|w| format!("{} {}", w.method, w.path))
            .collect();
        assert!(
            writes.is_empty(),
            "{what}: a converged re-run sends no write, saw {writes:?}\n{}",
            again.stderr
        );
        again
    }

    /// As [`Self::up_converges_and_down_leaves_nothing`], also returning the cloud's state
    /// right after the first `up`.
    pub async fn up_converges_and_down_leaves_nothing_seen(&self, what: &str) -> (Run, Value) {
        let up = self.provision(&["up", "--yes"]).await;
        up.assert_code(0, &format!("{what}: up from nothing in one run"));
        let after_up = self.state().await;
        self.converged_up_writes_nothing(what).await;
        self.provision(&["drift"])
            .await
            .assert_code(0, &format!("{what}: drift after up"));
        self.provision(&["down", "--yes"])
            .await
            .assert_code(0, &format!("{what}: down"));
        let state = self.state().await;
        let left = Self::resource_ids(&state);
        assert!(
            left.is_empty(),
            "{what}: down leaves nothing, left {left:?}"
        );
        let groups: Vec<&Value> = state["directory"]
            .as_array()
            .map(|d| d.iter().filter(|o| o["principalType"] == "Group").collect())
            .unwrap_or_default();
        assert!(
            groups.is_empty(),
            "{what}: the group is gone, left {groups:?}"
        );
        (up, after_up)
    }

    /// Merges into the emulator's Azure behaviours (`{"all": false, "graph_lag": true}`).
    pub async fn set_behaviours(&self, behaviours: Value) {
        let response = self
            .http
            .post(format!("{}/_admin/behaviours", self.emulator.url()))
            .json(&behaviours)
            .send()
            .await
            .expect("behaviours");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "set behaviours: {status} {text}");
    }

    pub async fn faults_off(&self) {
        self.set_faults(json!({"seed": 0, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 0.0, "drop_rate": 0.0, "lro_failure_rate": 0.0})).await;
    }

    pub async fn delete_resource(&self, id: &str) {
        let status = self
            .http
            .delete(format!("{}/_admin/resource", self.emulator.url()))
            .query(&[("id", id)])
            .send()
            .await
            .expect("delete")
            .status();
        assert!(status.is_success(), "out-of-band delete of {id}: {status}");
    }

    pub async fn get_resource(&self, id: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/_admin/resource", self.emulator.url()))
            .query(&[("id", id)])
            .send()
            .await
            .expect("get");
        assert!(
            response.status().is_success(),
            "no resource {id}: {}",
            response.status()
        );
        response.json().await.expect("resource json")
    }

    /// Waits until a logged request matches (the log records a request once it is answered).
    pub async fn wait_for_request(
        &self,
        timeout: Duration,
        matches: impl Fn(&local_cloud::request_log::LoggedRequest) -> bool,
    ) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.emulator.requests().iter().any(&matches) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

impl Run {
    /// stdout and stderr together, for "is it mentioned anywhere".
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32, what: &str) {
        assert_eq!(
            self.code, code,
            "{what}: exit {} (want {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
    }
}

/// The blob data plane of one storage account, signed with its key (as `provision` does for its lock).
impl World {
    pub async fn blob(
        &self,
        account: &str,
        method: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, String) {
        let data = local_cloud::server::lock(&self.emulator.state.cloud)
            .accounts
            .get(account)
            .cloned()
            .expect("the account exists");
        let key = azure::storage::AccountKey::new(&data.name, &data.key1).expect("account key");
        let client = azure::storage::BlobClient::new(
            &data.blob_endpoint(),
            azure::storage::BlobAuth::SharedKey(key),
        )
        .expect("blob client");
        let reply = client
            .send(
                method.parse().expect("method"),
                path_and_query,
                extra,
                body.into(),
            )
            .await
            .expect("blob request");
        let status = reply.status;
        (status, String::from_utf8_lossy(&reply.body).to_string())
    }

    /// Takes the environment's run lock as another person's run would, with `holder` recorded in it.
    pub async fn hold_lock(&self, holder: &str) -> String {
        let account = self.names().functions_account;
        let blob = format!("locks/{}.lock", self.environment().name);
        let (status, text) = self
            .blob(
                &account,
                "PUT",
                &blob,
                &[
                    ("x-ms-blob-type", "BlockBlob"),
                    ("content-type", "application/json"),
                ],
                holder.as_bytes().to_vec(),
            )
            .await;
        assert!(status == 201, "write the lock blob: {status} {text}");
        let lease = uuid::Uuid::new_v4().to_string();
        let (status, text) = self
            .blob(
                &account,
                "PUT",
                &format!("{blob}?comp=lease"),
                &[
                    ("x-ms-lease-action", "acquire"),
                    ("x-ms-lease-duration", "-1"),
                    ("x-ms-proposed-lease-id", &lease),
                ],
                vec![],
            )
            .await;
        assert_eq!(status, 201, "acquire the lease: {text}");
        lease
    }

    pub async fn release_lock(&self, lease: &str) {
        let account = self.names().functions_account;
        let blob = format!("locks/{}.lock", self.environment().name);
        let (status, text) = self
            .blob(
                &account,
                "PUT",
                &format!("{blob}?comp=lease"),
                &[("x-ms-lease-action", "release"), ("x-ms-lease-id", lease)],
                vec![],
            )
            .await;
        assert_eq!(status, 200, "release the lease: {text}");
    }
}

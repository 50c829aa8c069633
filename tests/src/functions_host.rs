//! The emulated Functions host: for a site whose package is set, download it (a SAS URL checked by
//! Azurite, or identity access checked against role assignments), unzip it, start the custom
//! handler as host.json says, and turn blob webhook calls into real invocations.
//!
//! A Flex Consumption site has no package setting: it runs `released-package.zip` from the
//! deployment container its `functionAppConfig` names (put there by One Deploy), read with its
//! identity; each deployment restarts it.
//!
//! Azurite cannot check Entra tokens over plain HTTP, so the data-plane side of the managed identity
//! is emulated: the host checks the site's role assignments and, where they grant it, hands the
//! handler the account key (`STANDARD_ACCOUNT_KEY`) in place of a token.

use crate::blob_client::BlobClient;
use crate::data_plane::{account_scope, role_effective, READ_ROLES, WRITE_ROLES};
use crate::site_package::{fetch_package, split_blob_url};
use crate::state::hosts::{FunctionInfo, HostedSite};
use crate::state::notices::SiteNotice;
use crate::state::{lock, Shared};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const MAX_ATTEMPTS: usize = 5;

fn key(site_id: &str) -> String {
    site_id.to_ascii_lowercase()
}

/// Acts on what the providers record about sites (`state::notices`), each notice in its own
/// task as it arrives, for as long as the returned task runs.
pub fn spawn(state: Shared) -> tokio::task::JoinHandle<()> {
    let mut notices = state.notices.attach_host();
    tokio::spawn(async move {
        while let Some(notice) = notices.recv().await {
            match notice {
                SiteNotice::Changed(site_id) => site_changed(&state, &site_id),
                SiteNotice::Deleted(site_id, stopped) => {
                    let state = state.clone();
                    tokio::spawn(async move {
                        stop_site(&state, &site_id).await;
                        let _ = stopped.send(());
                    });
                }
            }
        }
    })
}

/// Something that decides what the site runs changed: reconcile the host in the background.
fn site_changed(state: &Shared, site_id: &str) {
    let state = state.clone();
    let site_id = site_id.to_string();
    tokio::spawn(async move { reconcile(&state, &site_id).await });
}

pub async fn stop_site(state: &Shared, site_id: &str) {
    if let Some(mut site) = state.sites.sites.lock().await.remove(&key(site_id)) {
        if let Some(child) = site.child.as_mut() {
            let _ = child.kill().await;
        }
    }
}

pub async fn stop_all(state: &Shared) {
    for (_, mut site) in state.sites.sites.lock().await.drain() {
        if let Some(child) = site.child.as_mut() {
            let _ = child.kill().await;
        }
    }
}

fn hash_settings(settings: &serde_json::Map<String, Value>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(settings)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

async fn reconcile(state: &Shared, site_id: &str) {
    let mut sites = state.sites.sites.lock().await;
    let site_body = lock(&state.cloud).get(site_id).map(|r| r.body.clone());
    let Some(site_body) = site_body else {
        if let Some(mut old) = sites.remove(&key(site_id)) {
            if let Some(c) = old.child.as_mut() {
                let _ = c.kill().await;
            }
        }
        return;
    };
    let app = site_body["name"].as_str().unwrap_or_default().to_string();
    let principal = site_body
        .pointer("/identity/principalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let settings = lock(&state.cloud).app_settings_of(site_id);
    let flex_package = flex_package_url(&site_body);
    let flex_deployment = flex_package
        .as_ref()
        .and_then(|_| crate::providers::web::flex_deployment(state, site_id));
    let mut hashed = settings.clone();
    if flex_package.is_some() {
        // A new deployment or a new functionAppConfig restarts a Flex host, as a setting does.
        hashed.insert(
            "\u{0}flex".into(),
            json!([
                flex_deployment,
                site_body.pointer("/properties/functionAppConfig")
            ]),
        );
    }
    let hash = hash_settings(&hashed);
    let entry = sites.entry(key(site_id)).or_insert_with(|| HostedSite {
        app: app.clone(),
        status: "NoPackage".into(),
        ..Default::default()
    });
    let running = entry
        .child
        .as_mut()
        .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
    if running && entry.settings_hash == hash {
        return;
    }
    if let Some(c) = entry.child.as_mut() {
        let _ = c.kill().await;
    }
    entry.child = None;
    entry.settings_hash = hash;
    entry.blobs_key = None;
    let deployed = flex_package.filter(|_| flex_deployment.is_some());
    let from_setting = || {
        settings
            .get("WEBSITE_RUN_FROM_PACKAGE")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let is_flex = site_body.pointer("/properties/functionAppConfig").is_some();
    let Some(package_url) = (if is_flex { deployed } else { from_setting() }) else {
        entry.status = "NoPackage".into();
        return;
    };
    entry.package_url = package_url.clone();
    let missing = roles_missing_at_start(state, &settings, principal.as_deref());
    if !missing.is_empty() {
        // Azure's host does not retry its storage after a failed start: it stays down until restarted.
        entry.status = format!(
            "Error: the host started before its data roles took effect ({}): 403 AuthorizationPermissionMismatch; restart the app once they are effective",
            missing.join(", ")
        );
        return;
    }
    let dir = state.cfg().data_dir.join("sites").join(&app);
    let result = async {
        let zip = fetch_package(state, &package_url, principal.as_deref()).await?;
        let root = unpack(&zip, &dir)?;
        start_handler(state, &root, &settings, principal.as_deref()).await
    }
    .await;
    match result {
        Ok((child, port, functions)) => {
            let has_blob_trigger = functions.iter().any(|f| f.trigger == "blobTrigger");
            entry.child = Some(child);
            entry.port = port;
            entry.functions = functions;
            entry.blobs_key = has_blob_trigger.then(|| system_key(state, site_id));
            entry.status = "Running".into();
        }
        Err(e) => entry.status = format!("Error: {e}"),
    }
}

/// The host's `blobs_extension` system key. Azure keeps host keys in the host's secrets store
/// (`azure-webjobs-secrets` in AzureWebJobsStorage), so a restart or a redeploy does not change
/// them; here they live beside the site, and go with it.
fn system_key(state: &Shared, site_id: &str) -> String {
    let id = format!("{site_id}/host/default/secrets");
    let mut cloud = lock(&state.cloud);
    if let Some(k) = cloud
        .get(&id)
        .and_then(|r| r.body["blobs_extension"].as_str().map(str::to_string))
    {
        return k;
    }
    let k = STANDARD
        .encode(rand::random::<[u8; 24]>())
        .replace(['+', '/', '='], "x");
    cloud.insert(crate::state::Resource {
        id,
        kind: "Microsoft.Web/sites/host/secrets".into(),
        body: json!({"blobs_extension": k}),
    });
    k
}

/// A Flex site's package: `released-package.zip` in its deployment container.
fn flex_package_url(site: &Value) -> Option<String> {
    let container = site
        .pointer("/properties/functionAppConfig/deployment/storage/value")
        .and_then(Value::as_str)?;
    Some(format!(
        "{}/{}",
        container.trim_end_matches('/'),
        crate::providers::web::RELEASED_PACKAGE
    ))
}

/// The account a connection setting's URL names: `https://{account}.blob...` or path style
/// `http://127.0.0.1:{port}/{account}/`.
fn account_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?;
    if host.contains(".blob.") {
        return host.split('.').next().map(str::to_string);
    }
    url.path()
        .trim_matches('/')
        .split('/')
        .next()
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// The data roles the host's settings need at start (its own storage, the trigger's account, the
/// handler's output) that the site's identity does not hold yet, as "what on account".
fn roles_missing_at_start(
    state: &Shared,
    settings: &serde_json::Map<String, Value>,
    principal: Option<&str>,
) -> Vec<String> {
    if principal.is_none() {
        return Vec::new();
    }
    let text = |k: &str| settings.get(k).and_then(Value::as_str).map(str::to_string);
    let needs = [
        (
            text("AzureWebJobsStorage__accountName"),
            WRITE_ROLES,
            "AzureWebJobsStorage",
        ),
        (
            text("RawStorage__blobServiceUri").and_then(|u| account_of(&u)),
            READ_ROLES,
            "the blob trigger",
        ),
        (
            text("STANDARD_ACCOUNT_URL").and_then(|u| account_of(&u)),
            WRITE_ROLES,
            "the handler's output",
        ),
    ];
    needs
        .into_iter()
        .filter_map(|(account, roles, what)| {
            let account = account?;
            let scope = account_scope(state, &account)?;
            (!role_effective(state, principal, &scope, roles))
                .then(|| format!("{what} on {account}"))
        })
        .collect()
}

fn unpack(zip_bytes: &[u8], dir: &Path) -> anyhow::Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| anyhow::anyhow!("package is not a zip: {e}"))?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let Some(rel) = file.enclosed_name() else {
            anyhow::bail!("package entry escapes the app root")
        };
        let out = dir.join(rel);
        if file.is_dir() {
            std::fs::create_dir_all(&out)?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::File::create(&out)?;
        std::io::copy(&mut file, &mut f)?;
        #[cfg(unix)]
        if let Some(mode) = file.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    Ok(dir.to_path_buf())
}

fn read_functions(root: &Path) -> Vec<FunctionInfo> {
    let mut functions = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return functions;
    };
    for entry in entries.flatten() {
        let path = entry.path().join("function.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for binding in doc["bindings"].as_array().cloned().unwrap_or_default() {
            if binding["direction"] == json!("in")
                && binding["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("Trigger"))
            {
                functions.push(FunctionInfo {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    binding: binding["name"].as_str().unwrap_or("blob").to_string(),
                    trigger: binding["type"].as_str().unwrap_or_default().to_string(),
                    container: binding["path"]
                        .as_str()
                        .unwrap_or_default()
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    source: binding["source"]
                        .as_str()
                        .unwrap_or("LogsAndContainerScan")
                        .to_string(),
                });
            }
        }
    }
    functions
}

async fn start_handler(
    state: &Shared,
    root: &Path,
    settings: &serde_json::Map<String, Value>,
    principal: Option<&str>,
) -> anyhow::Result<(Child, u16, Vec<FunctionInfo>)> {
    let host: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("host.json"))
            .map_err(|e| anyhow::anyhow!("package has no host.json: {e}"))?,
    )?;
    let exe = host
        .pointer("/customHandler/description/defaultExecutablePath")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            anyhow::anyhow!("host.json has no customHandler.description.defaultExecutablePath")
        })?;
    let functions = read_functions(root);
    let port = test_kit::port_for_child()
        .ok_or_else(|| anyhow::anyhow!("no free loopback port for the handler"))?;
    let secret = uuid::Uuid::new_v4().to_string();
    if let Some(p) = principal {
        lock(&state.cloud)
            .msi_secrets
            .insert(secret.clone(), p.to_string());
    }
    let mut command = Command::new(root.join(exe));
    command.current_dir(root).env_clear();
    for var in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(var) {
            command.env(var, v);
        }
    }
    for (k, v) in settings {
        command.env(k, v.as_str().unwrap_or_default());
    }
    command
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_HTTPWORKER_PORT", port.to_string())
        .env("FUNCTIONS_APP_ROOT_PATH", root)
        .env(
            "IDENTITY_ENDPOINT",
            format!("{}/msi/token", state.base_url()),
        )
        .env("IDENTITY_HEADER", &secret);
    if let Some(key) = storage_bridge_key(state, settings, principal) {
        command.env("STANDARD_ACCOUNT_KEY", key);
    }
    let log = std::fs::File::create(root.join("handler.log"))?;
    command
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| anyhow::anyhow!("handler {exe} did not start: {e}"))?;
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok((child, port, functions));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("handler did not listen on FUNCTIONS_CUSTOMHANDLER_PORT within 30 s")
}

/// The key that stands in for a storage token, given only where the identity's roles allow writing.
fn storage_bridge_key(
    state: &Shared,
    settings: &serde_json::Map<String, Value>,
    principal: Option<&str>,
) -> Option<String> {
    let url = url::Url::parse(settings.get("STANDARD_ACCOUNT_URL")?.as_str()?).ok()?;
    let account = url.path().trim_matches('/').split('/').next()?.to_string();
    let scope = account_scope(state, &account)?;
    if !role_effective(state, principal, &scope, WRITE_ROLES) {
        return None;
    }
    lock(&state.cloud)
        .accounts
        .get(&account)
        .map(|a| a.key1.clone())
}

/// A webhook call to `https://{app}.azurewebsites.net/runtime/webhooks/blobs?functionName=...&code=...`.
pub async fn webhook(
    state: &Shared,
    url: &url::Url,
    events: &Value,
) -> Result<Value, (u16, String)> {
    let host = url.host_str().unwrap_or_default();
    let app = host.trim_end_matches(".azurewebsites.net").to_string();
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let function = query
        .get("functionName")
        .map(|f| f.trim_start_matches("Host.Functions.").to_string())
        .unwrap_or_default();
    let site_key = {
        let sites = state.sites.sites.lock().await;
        sites
            .iter()
            .find(|(_, s)| s.app == app)
            .map(|(k, s)| (k.clone(), s.blobs_key.clone(), s.functions.clone(), s.port))
    };
    let Some((site_key, blobs_key, functions, port)) = site_key else {
        return Err((404, format!("no function app answers at {host}")));
    };
    if url.path() != "/runtime/webhooks/blobs" {
        return Err((404, "not found".into()));
    }
    if blobs_key.is_none() || query.get("code") != blobs_key.as_ref() {
        return Err((
            401,
            "the blobs_extension key is wrong or the host has not registered a blob trigger".into(),
        ));
    }
    let Some(func) = functions
        .iter()
        .find(|f| f.name == function && f.trigger == "blobTrigger" && f.source == "EventGrid")
    else {
        return Err((
            404,
            format!("function {function} with an EventGrid blob trigger is not registered"),
        ));
    };
    let mut answer = json!({});
    for event in events.as_array().cloned().unwrap_or_default() {
        match event["eventType"].as_str().unwrap_or_default() {
            "Microsoft.EventGrid.SubscriptionValidationEvent" => {
                answer = json!({"validationResponse": event.pointer("/data/validationCode")});
            }
            "Microsoft.Storage.BlobCreated" => {
                let blob_url = event
                    .pointer("/data/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let record = invoke_with_retries(state, &site_key, func, port, &blob_url).await;
                let mut sites = state.sites.sites.lock().await;
                if let Some(site) = sites.get_mut(&site_key) {
                    if record["outcome"] == json!("poisoned") {
                        site.poison.push(record.clone());
                    }
                    site.invocations.push(record);
                }
            }
            _ => {}
        }
    }
    Ok(answer)
}

async fn invoke_with_retries(
    state: &Shared,
    site_id: &str,
    func: &FunctionInfo,
    port: u16,
    blob_url: &str,
) -> Value {
    let mut attempts = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        match invoke_once(state, site_id, func, port, blob_url).await {
            Ok(logs) => {
                return json!({"function": func.name, "blob": blob_url, "outcome": "succeeded", "attempts": attempt, "logs": logs, "errors": attempts})
            }
            Err(e) => attempts.push(json!(e)),
        }
        tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await;
    }
    json!({"function": func.name, "blob": blob_url, "outcome": "poisoned", "attempts": MAX_ATTEMPTS, "logs": [], "errors": attempts})
}

async fn invoke_once(
    state: &Shared,
    site_id: &str,
    func: &FunctionInfo,
    port: u16,
    blob_url: &str,
) -> Result<Vec<String>, String> {
    let url = url::Url::parse(blob_url).map_err(|e| format!("bad blob url: {e}"))?;
    let (account, container, blob) = split_blob_url(&url).ok_or("blob url names no blob")?;
    if container != func.container {
        return Err(format!(
            "blob is in container {container}, the trigger watches {}",
            func.container
        ));
    }
    let principal = lock(&state.cloud).get(site_id).and_then(|r| {
        r.body
            .pointer("/identity/principalId")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let scope = account_scope(state, &account).ok_or("trigger account does not exist")?;
    if !role_effective(state, principal.as_deref(), &scope, READ_ROLES) {
        return Err(format!(
            "the trigger connection cannot read {account}: 403 AuthorizationPermissionMismatch"
        ));
    }
    let data = lock(&state.cloud)
        .accounts
        .get(&account)
        .cloned()
        .ok_or("account has no data plane")?;
    let bytes = BlobClient::new(&state.http, data)
        .get_blob(&container, &blob)
        .await
        .map_err(|e| e.to_string())?;
    let quoted = |s: &str| Value::String(serde_json::to_string(s).unwrap_or_default());
    let payload = json!({
        "Data": {func.binding.clone(): STANDARD.encode(&bytes)},
        "Metadata": {
            "name": quoted(&blob),
            "Uri": quoted(blob_url),
            "Properties": {"ContentLength": bytes.len(), "ContentType": "application/octet-stream", "LastModified": chrono::Utc::now().to_rfc3339()},
            "Metadata": {},
            "sys": {"MethodName": func.name, "UtcNow": chrono::Utc::now().to_rfc3339(), "RandGuid": uuid::Uuid::new_v4().to_string()},
        }
    });
    let response = state
        .http
        .post(format!("http://127.0.0.1:{port}/{}", func.name))
        .header(
            "X-Azure-Functions-InvocationId",
            uuid::Uuid::new_v4().to_string(),
        )
        .header("User-Agent", "Azure-Functions-Host/4.0-local-cloud")
        .json(&payload)
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .map_err(|e| format!("handler unreachable: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(json!({}));
    let logs: Vec<String> = body["Logs"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "handler answered HTTP {status}: {}",
            logs.join(" | ")
        ));
    }
    Ok(logs)
}

/// What each hosted site is doing, for tests and `provision verify` diagnostics (no secrets).
pub async fn describe(state: &Shared) -> Value {
    let sites = state.sites.sites.lock().await;
    let list: Vec<Value> = sites
        .values()
        .map(|s| json!({
            "app": s.app, "status": s.status,
            "package": azure::redact::redact(&s.package_url),
            "functions": s.functions.iter().map(|f| json!({"name": f.name, "trigger": f.trigger, "source": f.source})).collect::<Vec<_>>(),
            "invocations": s.invocations, "poison": s.poison,
        }))
        .collect();
    json!({"sites": list})
}

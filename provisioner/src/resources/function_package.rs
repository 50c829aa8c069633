//! The function package: built from function/ (or given with `up --package`), uploaded under its
//! content hash only when that changed, and wired with WEBSITE_RUN_FROM_PACKAGE — either a SAS bound
//! to a stored access policy (revocable, renewed before it expires) or the site's managed identity.
//!
//! Reading it costs no ARM request: the app settings come from the function app's read. In SAS mode
//! the URL the app uses is tried once (HEAD): a revoked or expired policy, or a rotated key, shows
//! as drift without listing the account's keys. The policy's expiry is part of its id.
//!
//! Azure is slow in three places here, and each is waited out by the one retry policy: a new
//! stored access policy takes up to 30 s to apply (Set Container ACL), so the SAS is tried until
//! storage honours it before the site gets it; the Functions host answers 400 "... from host
//! runtime" while it restarts after the settings write; and a host that started before its
//! identity's data roles took effect never registers its blob trigger until restarted, so it is
//! restarted until it does.
//!
//! On Flex Consumption there is no package setting: the package is uploaded to the deployment
//! container under its hash (when that changed) and handed to One Deploy (`PUT
//! sites/{app}/extensions/onedeploy` with its URI), which leaves it there as
//! `released-package.zip`, where the host runs it from. What is deployed is that blob's SHA-256.

use super::flex::is_flex;
use super::function_app::{self, settings_map, PACKAGE_SETTINGS};
use super::storage_account::AccountRole;
use super::storage_container::Container;
use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use crate::arm::versions::WEB;
use crate::arm::{Api, ArmError};
use crate::blob::{AccessPolicy, BlobAccount};
use crate::env::PackageAccess;
use crate::names::PACKAGE_CONTAINER;
use azure::retry::{eventual, propagating, Attempting};
use azure::storage::PresignedClient;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub struct FunctionPackage;

static BUILT: OnceLock<std::result::Result<(Vec<u8>, String), String>> = OnceLock::new();

/// The zip and its SHA-256, built once per run.
pub fn package(ctx: &Ctx) -> Result<&'static (Vec<u8>, String)> {
    package_at(ctx.package_path.as_deref())
}

fn package_at(path: Option<&std::path::Path>) -> Result<&'static (Vec<u8>, String)> {
    BUILT
        .get_or_init(|| match path {
            Some(path) => std::fs::read(path)
                .map(|zip| {
                    let sha = sha256_hex(&zip);
                    (zip, sha)
                })
                .map_err(|e| format!("cannot read the package {}: {e}", path.display())),
            None => crate::package::build(None)
                .map(|p| (p.zip, p.sha256))
                .map_err(|e| e.to_string()),
        })
        .as_ref()
        .map_err(|e| ResourceError::Other(e.clone()))
}

/// Reads and hashes a package given with `--package` on a blocking thread, so it is ready when
/// the plan compares it with the deployed one instead of after every read (a debug handler's zip
/// is tens of MB). A package built from source is left to the plan, which builds it only when
/// something is deployed to compare it with.
pub fn prepare(ctx: &Ctx) {
    if let Some(path) = ctx.package_path.clone() {
        tokio::task::spawn_blocking(move || {
            // An error is kept in BUILT and reported where the package is used.
            let _ = package_at(Some(&path));
        });
    }
}

/// Uploads the package under its hash unless that blob is there already; the account and the
/// blob's name for what comes next.
async fn upload_if_new(ctx: &Ctx, inputs: &Outputs) -> Result<(BlobAccount, String)> {
    let (zip, sha) = package(ctx)?;
    let blob = blob_name(sha);
    let account = BlobAccount::open(&ctx.with_outputs(inputs), AccountRole::Functions).await?;
    if !account.exists(PACKAGE_CONTAINER, &blob).await? {
        account
            .put(PACKAGE_CONTAINER, &blob, zip.clone(), "application/zip")
            .await?;
    }
    Ok((account, blob))
}

fn blob_name(sha: &str) -> String {
    format!("pkg-{}.zip", &sha[..16.min(sha.len())])
}

/// Where One Deploy leaves the package on Flex ("the name of the package file itself must be
/// `released-package.zip`": learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code).
pub const RELEASED_PACKAGE: &str = "released-package.zip";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

const POLICY_PREFIX: &str = "pkg-read-";
const POLICY_TIME: &str = "%Y%m%d%H%M%S";

/// `pkg-read-<created>-<expires>`: sorts by creation, and says when it ends without a data-plane
/// read of the container's policies (which only the account key may make).
fn policy_id(created: DateTime<Utc>, expires: DateTime<Utc>) -> String {
    format!(
        "{POLICY_PREFIX}{}-{}",
        created.format(POLICY_TIME),
        expires.format(POLICY_TIME)
    )
}

/// The expiry a policy id carries; `None` for ids made before it did.
fn policy_expiry(id: &str) -> Option<DateTime<Utc>> {
    let (_, expires) = id.strip_prefix(POLICY_PREFIX)?.split_once('-')?;
    NaiveDateTime::parse_from_str(expires, POLICY_TIME)
        .ok()
        .map(|t| t.and_utc())
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn query_value(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// The package URL as the site will use it: unsigned (the SAS carries the rights), with the run's
/// retry policy and progress.
fn package_url_client(ctx: &Ctx) -> PresignedClient {
    let mut client = PresignedClient::new();
    client.retry = ctx.azure.retry.clone();
    client.notify = ctx.azure.notify.clone();
    client
}

/// Whether storage serves the package through `url` (one HEAD, as the app's first read would be).
async fn url_serves(ctx: &Ctx, url: &str) -> Result<bool> {
    let answer = package_url_client(ctx)
        .head("HEAD the package URL", url, &azure::retry::no_override)
        .await;
    match answer {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(false),
        Err(e) => Err(ResourceError::Other(format!(
            "checking the package URL: {e}"
        ))),
    }
}

/// Tries a new SAS until storage honours it: a stored access policy takes up to 30 s to apply,
/// and a site handed a URL that storage refuses fails to load its package.
async fn wait_until_sas_works(ctx: &Ctx, url: &str) -> Result<()> {
    let classify = propagating(eventual::access_policy_not_effective);
    package_url_client(ctx)
        .head("the package URL's new stored access policy", url, &classify)
        .await
        .map_err(|e| {
            ResourceError::Other(format!(
                "function package: storage never honoured the new SAS for the package: {e}. A new stored access policy takes up to 30 s to apply; if the key was rotated meanwhile run `provision up` again"
            ))
        })
}

/// A POST to the site that the Functions host answers: its 400 "... from host runtime" while it
/// restarts after a write is waited out.
pub(super) async fn host_post(ctx: &Ctx, suffix: &str) -> Result<Value> {
    let classify = propagating(eventual::host_starting);
    match ctx
        .azure
        .call_with(
            Api::Arm,
            Method::POST,
            &format!("{}{suffix}?api-version={WEB}", function_app::id(ctx)),
            None,
            &[],
            &classify,
        )
        .await
    {
        Ok(reply) => Ok(reply.body),
        Err(e) if eventual::host_starting(&e) => Err(ResourceError::Other(format!(
            "function app {}: its Functions host never came back after the settings write: {e}. Look at the app's logs (Diagnose and solve problems in the portal), then run `provision up` again",
            ctx.names.function_app
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Waits until the host runs the package with its blob trigger registered. A host that started
/// before its identity's data roles took effect stays without them until restarted: each attempt
/// that finds it so restarts the app, until the roles have landed.
async fn wait_for_host(ctx: &Ctx) -> Result<()> {
    let notify = ctx.azure.notify.clone();
    let classify = propagating(eventual::host_without_data_roles);
    let listkeys = format!("{}/host/default/listkeys", function_app::id(ctx));
    ctx.azure
        .retry
        .run(
            Attempting {
                what: "the function host to start with its data roles",
                classify: &classify,
                notify: &notify,
            },
            || async {
                let keys = host_post(ctx, "/host/default/listkeys")
                    .await
                    .map_err(|e| match e {
                        ResourceError::Azure(e) => e,
                        other => ArmError::operation(Method::POST, &listkeys, "", &other.to_string()),
                    })?;
                if keys.pointer("/systemKeys/blobs_extension").is_some() {
                    return Ok(());
                }
                ctx.azure
                    .call(Api::Arm, Method::POST, &function_app::path(ctx, "/restart"), None, &[])
                    .await?;
                Err(ArmError::operation(
                    Method::POST,
                    &listkeys,
                    eventual::HOST_WITHOUT_DATA_ROLES,
                    "the function host is up but has not registered its blob trigger: it could not read its package or storage when it started, most often because the site identity's data roles had not taken effect (Azure applies new roles within minutes), and it does not retry until restarted; restarted it",
                ))
            },
        )
        .await
        .map_err(|e| {
            ResourceError::Other(format!(
                "function app {}: {e}. Check the app's role assignments on its storage accounts (`provision drift`) and its logs, then run `provision up` again",
                ctx.names.function_app
            ))
        })
}

/// The app settings as the function app reported them, or listed when it could not.
async fn current_settings(ctx: &Ctx, inputs: &Outputs) -> Result<Option<BTreeMap<String, String>>> {
    if let Some(settings) = &inputs.app_settings {
        return Ok(Some(settings.clone()));
    }
    list_settings(ctx).await
}

async fn list_settings(ctx: &Ctx) -> Result<Option<BTreeMap<String, String>>> {
    match ctx
        .azure
        .post(&function_app::path(ctx, "/config/appsettings/list"), None)
        .await
    {
        Ok(reply) => Ok(Some(settings_map(&reply["properties"]))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn package_prefix(ctx: &Ctx, inputs: &Outputs) -> String {
    format!(
        "{}/{PACKAGE_CONTAINER}/",
        ctx.with_outputs(inputs)
            .blob_endpoint(AccountRole::Functions)
            .trim_end_matches('/')
    )
}

fn sas_changes(ctx: &Ctx, live: &Value, changes: &mut Vec<Change>) {
    let refused = live["urlServes"] == json!(false);
    let expiry = live["policy"].as_str().and_then(policy_expiry);
    if live["policy"].is_null() || refused {
        changes.push(Change {
            property: "sas.policy".into(),
            live: json!(if refused {
                "refused by storage (policy revoked or expired, or the key rotated)"
            } else {
                "missing"
            }),
            desired: json!("a valid stored access policy"),
        });
        return;
    }
    let checked = live["checkedAt"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let renew_by = checked.map(|t| t + chrono::Duration::days(ctx.env.sas_renew_within_days));
    match (expiry, renew_by) {
        (Some(e), Some(by)) if e >= by => {}
        (expiry, _) => changes.push(Change {
            property: "sas.expiry".into(),
            live: expiry.map_or(json!("unknown"), |e| json!(e.to_rfc3339())),
            desired: json!(format!(
                "renewed (expires within {} days)",
                ctx.env.sas_renew_within_days
            )),
        }),
    }
}

/// A read SAS for the package blob, bound to a new stored access policy (the newest few kept, so
/// the previous URL works until the app has restarted on the new one), tried until storage
/// honours it.
async fn new_sas_url(ctx: &Ctx, account: &BlobAccount, blob: &str) -> Result<String> {
    let now = Utc::now();
    let expires = now + chrono::Duration::days(ctx.env.sas_lifetime_days);
    let id = policy_id(now, expires);
    let mut policies: Vec<AccessPolicy> = account
        .access_policies(PACKAGE_CONTAINER)
        .await?
        .into_iter()
        .filter(|p| DateTime::parse_from_rfc3339(&p.expiry).is_ok_and(|e| e > now))
        .collect();
    policies.sort_by(|a, b| b.id.cmp(&a.id));
    policies.truncate(3);
    policies.push(AccessPolicy {
        id: id.clone(),
        start: fmt_time(now - chrono::Duration::minutes(5)),
        expiry: fmt_time(expires),
        permission: "r".into(),
    });
    account
        .set_access_policies(PACKAGE_CONTAINER, &policies)
        .await?;
    let url = account.sas_url(PACKAGE_CONTAINER, blob, &id)?;
    wait_until_sas_works(ctx, &url).await?;
    Ok(url)
}

/// Flex: what the deployment container runs, as the SHA-256 of `released-package.zip`.
async fn read_flex(ctx: &Ctx, inputs: &Outputs) -> Result<Read> {
    let account = BlobAccount::open(&ctx.with_outputs(inputs), AccountRole::Functions).await?;
    let Some(released) = account.get(PACKAGE_CONTAINER, RELEASED_PACKAGE).await? else {
        return Ok(Read::absent());
    };
    Ok(Read {
        live: Live::Present(json!({"deployed": sha256_hex(&released)})),
        outputs: Outputs::default(),
    })
}

fn diff_flex(body: &Value, desired_sha: &str) -> Action {
    let deployed = body["deployed"].as_str().unwrap_or_default();
    let short = |sha: &str| sha.chars().take(16).collect::<String>();
    Action::from_changes(if deployed == desired_sha {
        Vec::new()
    } else {
        vec![Change {
            property: format!("{PACKAGE_CONTAINER}/{RELEASED_PACKAGE}"),
            live: json!(format!("sha256 {}", short(deployed))),
            desired: json!(format!("sha256 {}", short(desired_sha))),
        }]
    })
}

/// Flex: upload under the hash if new, then One Deploy from the container.
async fn apply_flex(ctx: &Ctx, inputs: &Outputs) -> Result<Applied> {
    let (account, blob) = upload_if_new(ctx, inputs).await?;
    let package_uri = match ctx.env.package_access {
        PackageAccess::Sas => new_sas_url(ctx, &account, &blob).await?,
        PackageAccess::Identity => account.blob_url(PACKAGE_CONTAINER, &blob),
    };
    let body = json!({"properties": {"packageUri": package_uri, "remoteBuild": false}});
    let onedeploy = function_app::path(ctx, "/extensions/onedeploy");
    let notify = ctx.azure.notify.clone();
    let classify = propagating(eventual::deployment_role_not_effective);
    ctx.azure
        .retry
        .run(
            Attempting {
                what: "One Deploy of the package (the site identity's role on the deployment container)",
                classify: &classify,
                notify: &notify,
            },
            || ctx.azure.put(&onedeploy, &body),
        )
        .await
        .map_err(|e| {
            ResourceError::Other(format!(
                "function app {}: One Deploy failed: {e}. Check the site identity's Storage Blob Data Owner role on {} (`provision drift`), then run `provision up` again",
                ctx.names.function_app, ctx.names.functions_account
            ))
        })?;
    wait_for_host(ctx).await?;
    Ok(Applied::default())
}

impl Resource for FunctionPackage {
    fn key(&self) -> Key {
        Key::FunctionPackage
    }
    fn kind(&self) -> &'static str {
        "function package"
    }
    fn name(&self, ctx: &Ctx) -> String {
        format!("{}/{PACKAGE_CONTAINER}", ctx.names.functions_account)
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![
            Key::FunctionApp,
            Key::Container(Container::Packages),
            Key::Role {
                principal: super::role_assignment::Principal::FunctionApp,
                account: AccountRole::Functions,
                role: super::role_assignment::RoleDefinition::BlobDataOwner,
            },
        ]
    }
    fn contained_in(&self) -> Option<Key> {
        Some(Key::FunctionApp)
    }
    /// The site's settings and the functions account's endpoint and keys.
    fn read_needs(&self) -> Vec<Key> {
        vec![Key::FunctionApp, AccountRole::Functions.key()]
    }
    /// The package setting and, in SAS mode, whether storage still serves its URL.
    fn read<'a>(&'a self, ctx: &'a Ctx, inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            if is_flex(ctx) {
                return read_flex(ctx, inputs).await;
            }
            let Some(settings) = current_settings(ctx, inputs).await? else {
                return Ok(Read::absent());
            };
            let Some(setting) = settings.get("WEBSITE_RUN_FROM_PACKAGE").cloned() else {
                return Ok(Read::absent());
            };
            let mut live = json!({
                "setting": setting,
                "mi": settings.get("WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"),
                "checkedAt": Utc::now().to_rfc3339(),
            });
            if ctx.env.package_access == PackageAccess::Sas {
                live["policy"] = json!(query_value(&setting, "si"));
                // Only our own package blob is tried; any other URL is drift by its name alone.
                if setting.starts_with(&package_prefix(ctx, inputs)) && setting.contains("sig=") {
                    live["urlServes"] = json!(url_serves(ctx, &setting).await?);
                }
            }
            Ok(Read {
                live: Live::Present(live),
                outputs: Outputs::default(),
            })
        })
    }
    fn diff(&self, ctx: &Ctx, inputs: &Outputs, live: &Live) -> Diff {
        // Nothing deployed yet: a create either way, without building the package just to plan.
        let Some(body) = live.body() else {
            return Action::Create.into();
        };
        let setting = body["setting"].as_str().unwrap_or_default();
        let sha = match package(ctx) {
            Ok((_, sha)) => sha,
            Err(e) => {
                return Action::Update {
                    changes: vec![Change {
                        property: "package".into(),
                        live: Value::Null,
                        desired: json!(format!("cannot build: {e}")),
                    }],
                }
                .into()
            }
        };
        if is_flex(ctx) {
            return diff_flex(body, sha).into();
        }
        let desired_blob = blob_name(sha);
        let mut changes = Vec::new();
        let base = setting.split('?').next().unwrap_or_default();
        if base != format!("{}{desired_blob}", package_prefix(ctx, inputs)) {
            changes.push(Change {
                property: "package".into(),
                live: json!(base.rsplit('/').next()),
                desired: json!(desired_blob),
            });
        }
        match ctx.env.package_access {
            PackageAccess::Sas => sas_changes(ctx, body, &mut changes),
            PackageAccess::Identity => {
                let sas = setting.contains("sig=");
                if sas || body["mi"].as_str() != Some("SystemAssigned") {
                    changes.push(Change {
                        property: "access".into(),
                        live: json!(if sas { "sas" } else { "unset" }),
                        desired: json!("managed identity"),
                    });
                }
            }
        }
        Action::from_changes(changes).into()
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        inputs: &'a Outputs,
        _live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            if is_flex(ctx) {
                return apply_flex(ctx, inputs).await;
            }
            let (account, blob) = upload_if_new(ctx, inputs).await?;
            let mut wanted: BTreeMap<&str, String> = BTreeMap::new();
            match ctx.env.package_access {
                PackageAccess::Sas => {
                    let url = new_sas_url(ctx, &account, &blob).await?;
                    wanted.insert("WEBSITE_RUN_FROM_PACKAGE", url);
                }
                PackageAccess::Identity => {
                    wanted.insert(
                        "WEBSITE_RUN_FROM_PACKAGE",
                        account.blob_url(PACKAGE_CONTAINER, &blob),
                    );
                    wanted.insert(
                        "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID",
                        "SystemAssigned".into(),
                    );
                }
            }
            // Listed again right before the write, so a setting someone added meanwhile survives.
            let mut merged = list_settings(ctx).await?.ok_or_else(|| {
                ResourceError::Other("the function app is gone; run `provision up` again".into())
            })?;
            for key in PACKAGE_SETTINGS {
                merged.remove(*key);
            }
            for (k, v) in wanted {
                merged.insert(k.to_string(), v);
            }
            ctx.azure
                .put(
                    &function_app::path(ctx, "/config/appsettings"),
                    &crate::arm::models::app_settings(&merged),
                )
                .await?;
            host_post(ctx, "/syncfunctiontriggers").await?;
            wait_for_host(ctx).await?;
            Ok(Applied::default())
        })
    }
    fn delete<'a>(
        &'a self,
        _ctx: &'a Ctx,
        _inputs: &'a Outputs,
        _live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async { Ok(Deletion::Deleted) })
    }
    fn deleted_with_parent(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_policy_id_carries_its_expiry() {
        let created = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        let expires = Utc.with_ymd_and_hms(2027, 1, 2, 3, 4, 5).single();
        let (Some(created), Some(expires)) = (created, expires) else {
            panic!("valid dates");
        };
        let id = policy_id(created, expires);
        assert_eq!(id, "pkg-read-20260102030405-20270102030405");
        assert!(
            id.len() <= 64,
            "stored access policy ids are at most 64 characters"
        );
        assert_eq!(policy_expiry(&id), Some(expires));
        assert_eq!(policy_expiry("pkg-read-20260102030405"), None);
        assert_eq!(policy_expiry("someone-elses"), None);
    }

    #[test]
    fn on_flex_the_deployed_package_is_compared_by_its_hash() {
        let sha = sha256_hex(b"the package");
        assert_eq!(diff_flex(&json!({"deployed": sha}), &sha), Action::Noop);
        let other = sha256_hex(b"another package");
        let Action::Update { changes } = diff_flex(&json!({"deployed": other}), &sha) else {
            panic!("a different hash is a change");
        };
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].property, "packages/released-package.zip");
        assert_eq!(changes[0].desired, json!(format!("sha256 {}", &sha[..16])));
    }
}

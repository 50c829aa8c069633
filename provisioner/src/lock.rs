//! One run at a time per environment: a blob lease on `locks/<env>.lock` in the functions account.
//! The holder is written into the blob, so a second run can say who it is waiting for. The lease is
//! short (60 s) and renewed while the run lasts, so a killed run frees it within a minute.

use crate::blob::{BlobAccount, Lease};
use crate::names::LOCK_CONTAINER;
use crate::resources::storage_account::AccountRole;
use crate::resources::{Ctx, ResourceError, Result};
use azure::Method;
use std::sync::Arc;

/// Short, and renewed while the run lasts, so a killed run frees the lock within a minute.
const LEASE_SECONDS: u32 = 60;
use std::time::{Duration, Instant};

pub struct Lock {
    account: Arc<BlobAccount>,
    blob: String,
    lease_id: String,
    renewer: tokio::task::JoinHandle<()>,
}

pub fn holder_description(command: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("GITHUB_ACTOR"))
        .unwrap_or_else(|_| "unknown".into());
    serde_json::json!({"holder": format!("{user}@{host}"), "pid": std::process::id(), "command": command, "since": chrono::Utc::now().to_rfc3339()}).to_string()
}

async fn lease(account: &BlobAccount, blob: &str, lease: Lease<'_>) -> Result<u16> {
    Ok(account.lease(LOCK_CONTAINER, blob, lease).await?.status)
}

impl Lock {
    pub async fn acquire(ctx: &Ctx, command: &str, timeout: Duration) -> Result<Lock> {
        let account = Arc::new(BlobAccount::open(ctx, AccountRole::Functions).await?);
        let blob = format!("{}.lock", ctx.env.name);
        let lease_id = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        loop {
            if !account.exists(LOCK_CONTAINER, &blob).await? {
                let _ = account
                    .put(LOCK_CONTAINER, &blob, b"{}".to_vec(), "application/json")
                    .await;
            }
            match lease(
                &account,
                &blob,
                Lease::Acquire {
                    id: &lease_id,
                    seconds: LEASE_SECONDS,
                },
            )
            .await?
            {
                201 | 200 => break,
                409 => {
                    let holder = account
                        .get(LOCK_CONTAINER, &blob)
                        .await?
                        .map(|b| String::from_utf8_lossy(&b).to_string())
                        .unwrap_or_default();
                    if started.elapsed() >= timeout {
                        return Err(ResourceError::Locked(format!(
                            "environment {} is locked by another run: {holder}. Waited {}s (--lock-timeout). If that run is dead, the lease expires within 60 s, or run `provision force-unlock --env {}`",
                            ctx.env.name, timeout.as_secs(), ctx.env.name
                        )));
                    }
                    (ctx.azure.notify)(format!(
                        "waiting for the lock on environment {} held by {holder}",
                        ctx.env.name
                    ));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                s => {
                    return Err(ResourceError::Other(format!(
                        "taking the lock failed: storage answered HTTP {s}"
                    )))
                }
            }
        }
        let body = holder_description(command).into_bytes();
        let reply = account
            .send(
                Method::PUT,
                &format!("{LOCK_CONTAINER}/{blob}"),
                &[
                    ("x-ms-blob-type", "BlockBlob"),
                    ("x-ms-lease-id", &lease_id),
                    ("content-type", "application/json"),
                ],
                body.into(),
            )
            .await?;
        if reply.status != 201 {
            return Err(ResourceError::Other(format!(
                "recording the lock holder failed: HTTP {}",
                reply.status
            )));
        }
        let renewer = {
            let (account, blob, lease_id) = (account.clone(), blob.clone(), lease_id.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    let _ = lease(&account, &blob, Lease::Renew { id: &lease_id }).await;
                }
            })
        };
        Ok(Lock {
            account,
            blob,
            lease_id,
            renewer,
        })
    }

    pub async fn release(self) {
        self.renewer.abort();
        let _ = lease(
            &self.account,
            &self.blob,
            Lease::Release { id: &self.lease_id },
        )
        .await;
    }
}

/// Breaks whatever lease holds the environment's lock.
pub async fn force_unlock(ctx: &Ctx) -> Result<()> {
    let account = BlobAccount::open(ctx, AccountRole::Functions).await?;
    let blob = format!("{}.lock", ctx.env.name);
    match lease(&account, &blob, Lease::Break).await? {
        202 | 200 | 409 | 404 => Ok(()),
        s => Err(ResourceError::Other(format!(
            "breaking the lock failed: HTTP {s}"
        ))),
    }
}

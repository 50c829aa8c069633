//! `provision verify`: no IaC tool checks that a deployed pipeline moves data; this does. It writes
//! a small canary batch under `_canary/` in raw as the deploying identity, waits for the function to
//! write the matching Parquet in standard, reads it back, checks its rows and removes both files.
//! A failure names the stage: write refused, trigger never fired, function failed, output wrong.
//!
//! Right after `up` the deploying identity's data roles (through the group) may not have taken
//! effect: storage answers 403 `AuthorizationPermissionMismatch` for minutes
//! (terraform-provider-azurerm#6934). Each canary call waits that out for the retry policy's
//! propagation window, saying so, before it counts as refused.

use crate::blob::BlobAccount;
use crate::cli::exit_code;
use crate::names::{RAW_CONTAINER, STANDARD_CONTAINER};
use crate::resources::storage_account::AccountRole;
use crate::resources::{Ctx, Resource};
use azure::retry::{eventual, propagating, Attempting};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Deployment,
    WriteRaw,
    Trigger,
    Function,
    Output,
}

#[derive(Debug)]
pub struct Failure {
    pub stage: Stage,
    pub message: String,
}

fn failure(stage: Stage, message: impl Into<String>) -> Failure {
    Failure {
        stage,
        message: message.into(),
    }
}

const ROWS: usize = 3;

/// `call` on `account`, with a 403 from a data role not yet in effect waited out.
async fn as_identity<T, F, Fut>(
    account: &BlobAccount,
    what: &str,
    call: F,
) -> Result<T, azure::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, azure::Error>>,
{
    let classify = propagating(eventual::data_role_not_effective);
    let what = format!("{what} (the deploying identity's data role may take minutes to apply)");
    account
        .retry
        .run(
            Attempting {
                what: &what,
                classify: &classify,
                notify: &account.notify,
            },
            call,
        )
        .await
}

/// A log_meta batch in the original worker's format, small and recognisable.
fn canary_batch(id: &str) -> (Vec<u8>, Vec<String>) {
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let msg_ids: Vec<String> = (0..ROWS).map(|i| format!("{id}-{i}")).collect();
    let records: Vec<Value> = msg_ids
        .iter()
        .map(|m| json!({"etl_id": id, "msg_id": m, "level": "INFO", "timestamp": now, "name": "provision.verify", "log_message": "canary"}))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(
        serde_json::to_string(&records)
            .unwrap_or_default()
            .as_bytes(),
    );
    (gz.finish().unwrap_or_default(), msg_ids)
}

fn parquet_rows(bytes: Vec<u8>) -> Result<Vec<String>, String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = batch.column_by_name("msg_id").ok_or("no msg_id column")?;
        let strings = column
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or("msg_id is not a string column")?;
        ids.extend(strings.iter().flatten().map(str::to_string));
    }
    Ok(ids)
}

async fn diagnose_trigger(ctx: &Ctx) -> Failure {
    let sub = crate::resources::event_subscription::EventSubscription;
    let none = crate::resources::Outputs::default();
    match sub.read(ctx, &none).await.map(|read| read.live) {
        Ok(live) if live.body().is_none() => failure(Stage::Trigger, "the trigger never fired: the Event Grid subscription on raw does not exist (run `provision drift --fix`)"),
        Ok(live) => match sub.diff(ctx, &none, &live).action {
            crate::resources::Action::Noop => failure(Stage::Trigger, "the trigger never fired: the Event Grid subscription exists as desired, but no output or quarantine appeared (is the function app running? check its logs)"),
            _ => failure(Stage::Trigger, "the trigger never fired: the Event Grid subscription differs from what provision set (run `provision drift`)"),
        },
        Err(e) => failure(Stage::Trigger, format!("the trigger never fired, and reading the subscription failed: {e}")),
    }
}

pub async fn check(ctx: &Ctx, timeout: Duration) -> Result<Duration, Failure> {
    let started = Instant::now();
    let mut outputs = crate::resources::Outputs::default();
    for role in [AccountRole::Raw, AccountRole::Standard] {
        let account = crate::resources::tracked::Tracked(
            crate::resources::storage_account::StorageAccount(role),
        );
        let read = account
            .read(ctx, &crate::resources::Outputs::default())
            .await
            .map_err(|e| failure(Stage::Deployment, e.to_string()))?;
        outputs.overlay(&read.outputs);
        if read.live.body().is_none() {
            return Err(failure(
                Stage::Deployment,
                format!(
                    "the {} account does not exist: run `provision up` first",
                    role.label()
                ),
            ));
        }
    }
    let ctx = &ctx.with_outputs(&outputs);
    let raw = BlobAccount::open_as_identity(ctx, AccountRole::Raw)
        .await
        .map_err(|e| failure(Stage::WriteRaw, e.to_string()))?;
    let standard = BlobAccount::open_as_identity(ctx, AccountRole::Standard)
        .await
        .map_err(|e| failure(Stage::Output, e.to_string()))?;
    let id = format!("canary-{}", uuid::Uuid::new_v4());
    let date = chrono::Utc::now().format("%Y/%m/%d");
    let raw_name = format!("_canary/log_meta/{date}/{id}.json.gzip");
    let parquet_name = format!("_canary/log_meta/{date}/{id}.parquet");
    // The ETL quarantines under the raw blob's whole name: `_quarantine/<raw name>.jsonl`.
    let quarantine_name = format!("_quarantine/{raw_name}.jsonl");
    let (batch, msg_ids) = canary_batch(&id);
    as_identity(&raw, "writing the canary to raw", || {
        raw.put_blob(RAW_CONTAINER, &raw_name, batch.clone(), "application/gzip")
    })
    .await
    .map_err(|e| {
        let hint = if eventual::data_role_not_effective(&e) {
            ". The deploying identity needs Storage Blob Data Contributor on raw: it is a member of the environment's group, which `provision up` grants it; if it was just added, wait a few minutes and run `provision verify` again"
        } else {
            ""
        };
        failure(
            Stage::WriteRaw,
            format!("writing the canary to raw was refused: {e}{hint}"),
        )
    })?;
    let result = async {
        loop {
            if let Some(bytes) = as_identity(&standard, "reading the canary's output", || {
                standard.get_blob(STANDARD_CONTAINER, &parquet_name)
            })
            .await
            .map_err(|e| failure(Stage::Output, e.to_string()))?
            {
                let rows = parquet_rows(bytes.to_vec()).map_err(|e| {
                    failure(
                        Stage::Output,
                        format!("the canary's Parquet is unreadable: {e}"),
                    )
                })?;
                if rows != msg_ids {
                    return Err(failure(
                        Stage::Output,
                        format!("the canary's Parquet has rows {rows:?}, expected {msg_ids:?}"),
                    ));
                }
                return Ok(started.elapsed());
            }
            if let Some(bytes) = standard
                .get(STANDARD_CONTAINER, &quarantine_name)
                .await
                .map_err(|e| failure(Stage::Output, e.to_string()))?
            {
                return Err(failure(
                    Stage::Function,
                    format!(
                        "the function quarantined the canary: {}",
                        String::from_utf8_lossy(&bytes)
                            .chars()
                            .take(400)
                            .collect::<String>()
                    ),
                ));
            }
            if started.elapsed() > timeout {
                return Err(diagnose_trigger(ctx).await);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    .await;
    let _ = raw.delete(RAW_CONTAINER, &raw_name).await;
    let _ = standard.delete(STANDARD_CONTAINER, &parquet_name).await;
    let _ = standard.delete(STANDARD_CONTAINER, &quarantine_name).await;
    result
}

pub async fn run(ctx: &Ctx, timeout: Duration, json_out: bool) -> u8 {
    match check(ctx, timeout).await {
        Ok(took) => {
            if json_out {
                println!(
                    "{}",
                    json!({"environment": ctx.env.name, "ok": true, "seconds": took.as_secs_f64()})
                );
            } else {
                println!("verify: the data path works — a canary batch went raw → function → Parquet in {:.1}s", took.as_secs_f64());
            }
            exit_code::OK
        }
        Err(f) => {
            if json_out {
                println!(
                    "{}",
                    json!({"environment": ctx.env.name, "ok": false, "stage": f.stage, "error": f.message})
                );
            } else {
                eprintln!("verify failed at stage {:?}: {}", f.stage, f.message);
            }
            exit_code::ERROR
        }
    }
}

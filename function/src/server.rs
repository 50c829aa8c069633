//! The HTTP server the Functions host invokes: `POST /process_raw`.
//!
//! Status policy (what the host does with each answer):
//!
//! | outcome | status | why |
//! |---|---|---|
//! | processed (Parquet written, bad records in `_quarantine/<raw name>.jsonl`) | 200 | the blob is handled |
//! | quarantined (unreadable file, unknown folder; copy + `.reason.json` in `_quarantine/`) | 200 | retrying cannot fix the bytes; the copy keeps them |
//! | ignored (`raw/_quarantine/...`, the ingest's own dead letters) | 200 | not an ETL input |
//! | writing to the standard account or the local temp disk failed | 500 | transient: the host retries, then poison-queues the blob |
//! | the invocation itself is malformed (no base64 data, no name) | 400 | nothing was written; the host retries, then poison-queues |
//!
//! Every answer is `{"Outputs":{},"Logs":[...],"ReturnValue":null}`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use object_store::ObjectStore;
use runtime::etl::{process_raw_blob, BlobOutcome, ConvertOptions};
use tokio::net::TcpListener;

use crate::config::HandlerConfig;
use crate::invocation::{parse_blob_invocation, InvocationResponse};
use crate::store::standard_store;

/// The function name: folder `process_raw/` in the package and the route the host calls.
pub use function_zip::FUNCTION_NAME;
/// Upper bound for one invocation body (base64 inflates the blob by 4/3).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub standard: Arc<dyn ObjectStore>,
    /// Container name, for log lines only.
    pub container: String,
    pub options: ConvertOptions,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(&format!("/{FUNCTION_NAME}"), post(process_raw))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Binds 127.0.0.1:`port` and serves until SIGTERM or Ctrl-C.
pub async fn serve(config: HandlerConfig) -> anyhow::Result<()> {
    let state = AppState {
        standard: standard_store(&config.standard)?,
        container: config.standard.container.clone(),
        options: ConvertOptions {
            codec: config.codec,
            ..ConvertOptions::default()
        },
    };
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port))).await?;
    tracing::info!(
        port = config.port,
        account = %config.standard.account,
        container = %config.standard.container,
        codec = %config.codec,
        "handler listening"
    );
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn process_raw(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<InvocationResponse>) {
    let invocation_id = headers
        .get("x-azure-functions-invocationid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let invocation = match parse_blob_invocation(&body) {
        Ok(invocation) => invocation,
        Err(e) => {
            tracing::error!(invocation_id, error = %e, "malformed invocation");
            return answer(
                StatusCode::BAD_REQUEST,
                format!("malformed invocation: {e}"),
            );
        }
    };
    drop(body);
    let name = invocation.name;
    let size = invocation.data.len();
    let outcome = process_raw_blob(&state.standard, &name, invocation.data, &state.options).await;
    let container = &state.container;
    match outcome {
        Ok(BlobOutcome::Processed {
            parquet,
            rejects,
            summary,
            ..
        }) => {
            tracing::info!(
                invocation_id,
                blob = %name,
                size,
                parquet = %parquet,
                rows = summary.rows_written,
                rejected = summary.rows_rejected,
                row_groups = summary.row_groups,
                "processed"
            );
            let mut log = format!(
                "processed raw/{name} -> {container}/{parquet}: {} rows",
                summary.rows_written
            );
            if let Some(rejects) = rejects {
                log.push_str(&format!(
                    ", {} rejected records -> {container}/{rejects}",
                    summary.rows_rejected
                ));
            }
            answer(StatusCode::OK, log)
        }
        Ok(BlobOutcome::Ignored { reason }) => {
            tracing::info!(invocation_id, blob = %name, size, reason, "ignored");
            answer(StatusCode::OK, format!("ignored raw/{name}: {reason}"))
        }
        Ok(BlobOutcome::Quarantined { copy, reason, .. }) => {
            tracing::warn!(invocation_id, blob = %name, size, kind = reason.kind(), reason = %reason, copy = %copy, "quarantined");
            answer(
                StatusCode::OK,
                format!("quarantined raw/{name} -> {container}/{copy}: {reason}"),
            )
        }
        Err(e) => {
            tracing::error!(invocation_id, blob = %name, size, error = %e, "failed; the host will retry");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed raw/{name}: {e}"),
            )
        }
    }
}

fn answer(status: StatusCode, log: String) -> (StatusCode, Json<InvocationResponse>) {
    (status, Json(InvocationResponse::with_logs(vec![log])))
}

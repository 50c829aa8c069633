//! `ingest`: Kafka topics -> raw gzip-JSON batches (see `runtime::ingest`).

use clap::Parser;
use runtime::ingest::config::IngestConfig;
use runtime::ingest::worker;

// Every message is copied out of librdkafka, parsed into short strings and written into per-file
// buffers, and every file gets a fresh deflate state: mimalloc (already the ETL's allocator, see
// docs/decisions.md) serves these faster than glibc's malloc (runtime/docs/ingest-performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cfg = IngestConfig::parse();
    init_tracing(cfg.log_json);
    match worker::run(cfg, shutdown_signal()).await {
        Ok(stats) => {
            // One machine-readable line on stdout for scripts and tests.
            println!(
                "{}",
                serde_json::to_string(&stats).unwrap_or_else(|_| "{}".into())
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "ingest stopped");
            eprintln!("ingest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Installs the SIGTERM/SIGINT handlers now (so an early signal is not fatal) and returns a future
/// that resolves when one arrives.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = (term, int);
            tokio::select! {
                Some(_) = async { term.as_mut()?.recv().await } => {},
                Some(_) = async { int.as_mut()?.recv().await } => {},
                else => std::future::pending::<()>().await,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received");
    }
}

//! `ingest`: Kafka topics -> raw gzip-JSON batches (see `runtime::ingest`).

use clap::Parser;
use runtime::ingest::config::IngestConfig;
use runtime::ingest::worker;

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

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown signal received");
}

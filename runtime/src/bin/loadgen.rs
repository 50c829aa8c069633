//! `loadgen`: simulated superhero game-server logs to Kafka (see `runtime::loadgen`).

use clap::Parser;
use runtime::loadgen::{self, LoadgenConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cfg = LoadgenConfig::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match loadgen::run(&cfg).await {
        Ok(counts) => {
            let json = serde_json::to_string(&counts).unwrap_or_else(|_| "{}".into());
            println!("{json}");
            if let Some(path) = &cfg.report {
                if let Err(e) = std::fs::write(path, &json) {
                    eprintln!("loadgen: cannot write {}: {e}", path.display());
                    return std::process::ExitCode::FAILURE;
                }
            }
            if counts.delivery_failures > 0 {
                eprintln!(
                    "loadgen: {} messages were not delivered",
                    counts.delivery_failures
                );
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

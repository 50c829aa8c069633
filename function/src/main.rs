//! `handler`: the custom handler executable named in host.json.

use std::process::ExitCode;

use function::config::HandlerConfig;

// The handler converts raw batches: see runtime::etl::ConvertAllocator.
#[global_allocator]
static ALLOCATOR: runtime::etl::ConvertAllocator = runtime::etl::ConvertAllocator;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .init();
    let config = match HandlerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    match function::server::serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "handler stopped");
            ExitCode::FAILURE
        }
    }
}

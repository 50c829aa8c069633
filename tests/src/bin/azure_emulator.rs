//! `azure-emulator`: the local cloud's Entra + ARM + Graph + Functions host emulator.

use clap::Parser;
use local_cloud::config::{EmulatorConfig, LatencyProfile};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    about = "Local stand-in for Entra ID, ARM, Microsoft Graph and the Functions host, beside Azurite"
)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one and prints it.
    #[arg(long, default_value_t = 0, env = "EMULATOR_PORT")]
    port: u16,
    /// Where Azurite instances, site packages and logs live.
    #[arg(long, default_value = ".local-cloud/emulator")]
    data_dir: PathBuf,
    /// `azure` for Azure-like operation durations, `fast` for tests.
    #[arg(long, default_value = "fast")]
    latency: String,
    /// Real seconds per emulated second (0.01 turns a 20 s LRO into 0.2 s).
    #[arg(long, default_value_t = 0.01)]
    time_scale: f64,
    /// Seconds a new principal stays unknown to ARM unless principalType is given.
    #[arg(long, default_value_t = 2.0)]
    principal_replication: f64,
    /// Keep the cloud in this file across restarts (loaded at start, saved on a clean shutdown).
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Append every request as a JSON line here.
    #[arg(long)]
    request_log: Option<PathBuf>,
    /// The azurite-blob executable.
    #[arg(long, env = "AZURITE_BLOB_BIN")]
    azurite_blob_bin: Option<PathBuf>,
    /// Turn these Azure behaviours off (comma-separated switch names, or `all`); every one is on
    /// by default. The switches are listed in tests/README.md.
    #[arg(long, default_value = "")]
    without: String,
    /// Write the chosen address here once listening.
    #[arg(long)]
    address_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut cfg = EmulatorConfig::new(args.data_dir.clone());
    cfg.latency = match args.latency.as_str() {
        "azure" => LatencyProfile::azure_like(),
        "fast" => LatencyProfile::fast(),
        other => anyhow::bail!("--latency must be `azure` or `fast`, not `{other}`"),
    };
    cfg.time_scale = args.time_scale;
    cfg.principal_replication = std::time::Duration::from_secs_f64(args.principal_replication);
    cfg.behaviours =
        local_cloud::behaviours::Behaviours::without(&args.without).map_err(anyhow::Error::msg)?;
    cfg.request_log = args.request_log;
    cfg.state_file = args.state_file;
    if let Some(bin) = args.azurite_blob_bin {
        cfg.azurite_blob_bin = bin;
    }
    let emulator = local_cloud::Emulator::start(cfg, args.port).await?;
    println!("azure-emulator listening on {}", emulator.url());
    if let Some(file) = args.address_file {
        std::fs::write(file, emulator.url())?;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    emulator.shutdown().await;
    Ok(())
}

//! `demo`: the whole pipeline on the local cloud (see the README's first command).

use clap::Parser;
use demo::{print_human, run_on_plan, DemoOptions};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Run the superhero dataflow end to end on the local cloud")]
struct Args {
    #[arg(long, default_value_t = 30)]
    games: u64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Leave the deployment and the local cloud up (Ctrl-C ends it).
    #[arg(long)]
    keep: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 18080)]
    emulator_port: u16,
    /// Deploy this package zip instead of building function/.
    #[arg(long)]
    package: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 500)]
    batch_size: u64,
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
    /// The App Service plan sku to deploy on: B1 (default) or FC1 (Flex Consumption, which has been
    /// through the local cloud only, not a real subscription yet), Y1, EP1.
    #[arg(long, default_value = "B1", value_parser = ["B1", "FC1", "Y1", "EP1"])]
    plan: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let workspace = std::env::current_dir().unwrap_or_default();
    let opts = DemoOptions {
        games: args.games,
        seed: args.seed,
        keep: args.keep,
        emulator_port: args.emulator_port,
        package: args.package,
        batch_size: args.batch_size,
        timeout: Duration::from_secs(args.timeout_s),
        workspace,
        progress: !args.json,
    };
    match run_on_plan(opts, &args.plan).await {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print_human(&report);
            }
            let ok = report.verify_ok && report.drift_in_sync && report.down_ok != Some(false);
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

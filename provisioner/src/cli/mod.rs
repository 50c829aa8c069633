//! The `provision` command line: flags here, one file per command, one way to build a command's
//! context (`context`), one error type with its exit codes (`error`).

pub mod context;
pub mod down;
pub mod drift;
pub mod error;
pub mod exit_code;
pub mod force_unlock;
pub mod output;
pub mod package;
pub mod plan;
pub mod render;
pub mod steps;
pub mod up;
pub mod validate;
pub mod verify;

use clap::{Args, Parser, Subcommand, ValueEnum};
use context::Options;
use error::CliError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "provision",
    version,
    about = "Provision, check and remove the superhero dataflow on Azure — no state file, Azure is the truth"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Environment name: reads environments/NAME.toml.
    #[arg(long, global = true, env = "PROVISION_ENV")]
    pub env: Option<String>,
    /// An environment file anywhere.
    #[arg(long, global = true, conflicts_with = "env")]
    pub env_file: Option<PathBuf>,
    /// `human` (default) or `json`: machine output on stdout, no progress on stderr.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// More detail on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// How long to wait for another run's lock on the environment.
    #[arg(long, global = true, default_value = "300", value_name = "SECONDS")]
    pub lock_timeout: u64,
    /// Resources worked on at once.
    #[arg(long, global = true, default_value_t = 8)]
    pub parallelism: usize,
    /// How long to wait for Azure to catch up with a write (a new principal, a data role, a
    /// restarting host) before giving up.
    #[arg(
        long,
        global = true,
        default_value = "300",
        value_name = "SECONDS",
        env = "PROVISION_PROPAGATION_WINDOW"
    )]
    pub propagation_window: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show what `up` would change, property by property.
    Plan {
        /// Compare against this prebuilt package zip instead of building function/.
        #[arg(long)]
        package: Option<PathBuf>,
    },
    /// Create or update everything the pipeline needs.
    Up {
        /// Do not ask; required when there is no terminal.
        #[arg(long, short)]
        yes: bool,
        /// Deploy this prebuilt package zip instead of building function/.
        #[arg(long)]
        package: Option<PathBuf>,
        /// Prove the data path works once applied.
        #[arg(long)]
        verify: bool,
    },
    /// Delete what provision created for this environment, nothing else.
    Down {
        #[arg(long, short)]
        yes: bool,
        /// Also delete the resource group when it holds resources provision does not own.
        #[arg(long)]
        force: bool,
    },
    /// Check live state against the environment file: exit 0 in sync, 2 drift, 1 error.
    Drift {
        /// Reconcile what drifted.
        #[arg(long)]
        fix: bool,
        #[arg(long)]
        package: Option<PathBuf>,
    },
    /// Print names and endpoints, like `terraform output`.
    Output {
        /// Print one value alone (no quotes), e.g. `--raw raw_account`.
        #[arg(long, value_name = "NAME")]
        raw: Option<String>,
    },
    /// Build the function package zip only.
    Package {
        /// Where to write the zip.
        #[arg(long, default_value = "target/function-package.zip")]
        out: PathBuf,
    },
    /// Check the environment file; sends nothing.
    Validate,
    /// Write a canary batch to raw and wait for its Parquet in standard.
    Verify {
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Break a lock left by a run that died.
    ForceUnlock,
}

pub fn main_impl() -> ExitCode {
    // clap exits 2 on a usage error, which here means drift: a usage error is an error (1).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_code::ERROR
            } else {
                exit_code::OK
            });
        }
    };
    let filter = if cli.global.verbose {
        "provisioner=debug"
    } else {
        "warn"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    let result = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => Err(CliError::Runtime(e)),
    };
    match result {
        Ok(()) => ExitCode::from(exit_code::OK),
        Err(e) => {
            if !e.shown() {
                eprintln!("error: {}", azure::redact::redact(&e.to_string()));
            }
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    let with = |package: Option<PathBuf>| Options {
        package,
        ..Default::default()
    };
    match cli.command {
        Command::Validate => validate::run(global),
        Command::Package { out } => package::run(global, &out),
        Command::Plan { package } => {
            plan::run(&context::connect(global, with(package)).await?).await
        }
        Command::Drift { fix, package } => {
            drift::run(&context::connect(global, with(package)).await?, fix).await
        }
        Command::Up {
            yes,
            package,
            verify,
        } => up::run(&context::connect(global, with(package)).await?, yes, verify).await,
        Command::Down { yes, force } => {
            let options = Options {
                force,
                ..Default::default()
            };
            down::run(&context::connect(global, options).await?, yes).await
        }
        Command::Output { raw } => {
            output::run(&context::connect(global, Options::default()).await?, raw).await
        }
        Command::Verify { timeout } => {
            let session = context::connect(global, Options::default()).await?;
            verify::run(&session, Duration::from_secs(timeout)).await
        }
        Command::ForceUnlock => {
            force_unlock::run(&context::connect(global, Options::default()).await?).await
        }
    }
}

//! The `provision` command line. Each subcommand turns its flags into engine calls.

pub mod exit_code;
pub mod render;

use crate::arm::credential::{object_id_of, Credential};
use crate::arm::Azure;
use crate::engine::{self, events, Reporter};
use crate::env::{self, Environment};
use crate::names::Names;
use crate::resources::{self, Ctx, Outputs, Resource};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
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
    /// `human` (default) or `json` on stdout.
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
        #[arg(long)]
        json: bool,
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
        #[arg(long)]
        json: bool,
        /// Reconcile what drifted.
        #[arg(long)]
        fix: bool,
        #[arg(long)]
        package: Option<PathBuf>,
    },
    /// Print names and endpoints, like `terraform output`.
    Output {
        #[arg(long)]
        json: bool,
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
    let cli = Cli::parse();
    let filter = if cli.global.verbose {
        "provisioner=debug"
    } else {
        "warn"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit_code::ERROR);
        }
    };
    ExitCode::from(runtime.block_on(run(cli)))
}

fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!(
        "error: {}",
        runtime::azure_blob::redact_sas(&message.to_string())
    );
    exit_code::ERROR
}

fn load_env(global: &Global) -> Result<Environment, String> {
    let path = match (&global.env_file, &global.env) {
        (Some(file), _) => file.clone(),
        (None, Some(name)) => env::path_for(name, &std::env::current_dir().unwrap_or_default()),
        (None, None) => {
            return Err(
                "say which environment: --env NAME (environments/NAME.toml) or --env-file PATH"
                    .into(),
            )
        }
    };
    env::load(&path).map_err(|e| e.to_string())
}

fn reporter(json: bool) -> Arc<dyn Reporter> {
    if json {
        Arc::new(events::Quiet)
    } else {
        Arc::new(events::Human)
    }
}

async fn context(
    environment: Environment,
    reporter: Arc<dyn Reporter>,
    package: Option<PathBuf>,
    force: bool,
) -> Result<Arc<Ctx>, String> {
    let credential = Credential::from_environment(&environment).map_err(|e| e.to_string())?;
    let mut azure = Azure::new(&environment, credential);
    let notify_reporter = reporter.clone();
    azure.notify = Arc::new(move |message| notify_reporter.event(events::Event::Note { message }));
    let token = azure.arm_token().await.map_err(|e| e.to_string())?;
    let outputs = Outputs {
        caller_object_id: object_id_of(&token),
        ..Default::default()
    };
    let names = Names::derive(&environment.prefix, &environment.name, &environment.suffix);
    Ok(Arc::new(Ctx {
        azure,
        env: environment,
        names,
        outputs: Mutex::new(outputs),
        package_path: package,
        force,
    }))
}

fn confirm(question: &str, yes: bool) -> Result<bool, String> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            "not a terminal, so nothing can be confirmed: pass --yes to apply without asking"
                .into(),
        );
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

async fn run(cli: Cli) -> u8 {
    let global = cli.global.clone();
    let json_out = global.output == OutputFormat::Json;
    match cli.command {
        Command::Validate => match load_env(&global) {
            Ok(e) => {
                let names = Names::derive(&e.prefix, &e.name, &e.suffix);
                if json_out {
                    println!(
                        "{}",
                        serde_json::json!({"valid": true, "environment": e.name, "names": names})
                    );
                } else {
                    println!(
                        "{} is valid: environment {}, resource group {}, storage {}, {}, {}",
                        e.file.display(),
                        e.name,
                        names.resource_group,
                        names.raw_account,
                        names.standard_account,
                        names.functions_account
                    );
                }
                exit_code::OK
            }
            Err(e) => fail(e),
        },
        Command::Package { out } => match crate::package::build(Some(&out)) {
            Ok(p) => {
                if json_out {
                    println!(
                        "{}",
                        serde_json::json!({"path": out, "size": p.size, "sha256": p.sha256})
                    );
                } else {
                    println!(
                        "{}: {} bytes ({:.1} MB), sha256 {}",
                        out.display(),
                        p.size,
                        p.size as f64 / 1e6,
                        p.sha256
                    );
                }
                exit_code::OK
            }
            Err(e) => fail(e),
        },
        Command::Plan { json, package } => {
            let json = json || json_out;
            let ctx = match load_env(&global).map(|e| (e, reporter(json))) {
                Ok((e, r)) => match context(e, r, package, false).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            commands::plan(&ctx, json).await
        }
        Command::Drift { json, fix, package } => {
            let json = json || json_out;
            let rep = reporter(json);
            let ctx = match load_env(&global) {
                Ok(e) => match context(e, rep.clone(), package, false).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            commands::drift(ctx, &global, json, fix, rep).await
        }
        Command::Up {
            yes,
            package,
            verify,
        } => {
            let rep = reporter(json_out);
            let ctx = match load_env(&global) {
                Ok(e) => match context(e, rep.clone(), package, false).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            let code = commands::up(ctx.clone(), &global, yes, json_out, rep).await;
            if code == exit_code::OK && verify {
                return crate::verify::run(&ctx, Duration::from_secs(120), json_out).await;
            }
            code
        }
        Command::Down { yes, force } => {
            let rep = reporter(json_out);
            let ctx = match load_env(&global) {
                Ok(e) => match context(e, rep.clone(), None, force).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            commands::down(ctx, &global, yes, json_out, rep).await
        }
        Command::Output { json, raw } => {
            let ctx = match load_env(&global) {
                Ok(e) => match context(e, reporter(true), None, false).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            commands::output(&ctx, json || json_out, raw).await
        }
        Command::Verify { timeout } => {
            let ctx = match load_env(&global) {
                Ok(e) => match context(e, reporter(json_out), None, false).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            crate::verify::run(&ctx, Duration::from_secs(timeout), json_out).await
        }
        Command::ForceUnlock => {
            let ctx = match load_env(&global) {
                Ok(e) => match context(e, reporter(json_out), None, false).await {
                    Ok(c) => c,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            };
            let observed = match engine::observe(&ctx, &resources::all(&ctx.env)).await {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            drop(observed);
            match crate::lock::force_unlock(&ctx).await {
                Ok(()) => {
                    eprintln!("lock on environment {} broken", ctx.env.name);
                    exit_code::OK
                }
                Err(e) => fail(e),
            }
        }
    }
}

mod commands;

pub fn all_resources(env: &Environment) -> Arc<Vec<Box<dyn Resource>>> {
    Arc::new(resources::all(env))
}

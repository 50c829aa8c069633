//! The one way a command gets its environment and its connection to Azure.

use super::error::CliError;
use super::{Global, OutputFormat};
use crate::engine::{events, Reporter};
use crate::env::{self, Environment};
use crate::names::Names;
use crate::resources::Ctx;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// A command's environment, connection and progress reporter.
pub struct Session {
    pub ctx: Arc<Ctx>,
    pub reporter: Arc<dyn Reporter>,
    pub global: Global,
}

impl Session {
    pub fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }
    /// Prints notes that are not drift, as progress (stderr; nothing in JSON mode).
    pub fn notices(&self, notices: &[String]) {
        for n in notices {
            self.reporter.event(events::Event::Note {
                message: format!("note: {n}"),
            });
        }
    }
}

/// What a command that talks to Azure needs besides the environment.
#[derive(Default)]
pub struct Options {
    pub package: Option<PathBuf>,
    pub force: bool,
}

pub fn load_env(global: &Global) -> Result<Environment, CliError> {
    let path = match (&global.env_file, &global.env) {
        (Some(file), _) => file.clone(),
        (None, Some(name)) => env::path_for(name, &std::env::current_dir().unwrap_or_default()),
        (None, None) => return Err(CliError::NoEnvironment),
    };
    Ok(env::load(&path)?)
}

/// Loads the environment file, connects with the credential it selects, and learns who we are.
pub async fn connect(global: &Global, options: Options) -> Result<Session, CliError> {
    let environment = load_env(global)?;
    let reporter: Arc<dyn Reporter> = match global.output {
        OutputFormat::Json => Arc::new(events::Quiet),
        OutputFormat::Human => Arc::new(events::Human),
    };
    let mut azure = crate::arm::connect(&environment)?;
    azure.retry.propagation_window = std::time::Duration::from_secs(global.propagation_window);
    let notify = reporter.clone();
    azure.notify = Arc::new(move |message| notify.event(events::Event::Note { message }));
    let token = azure.arm_token().await?;
    let names = Names::derive(&environment.prefix, &environment.name, &environment.suffix);
    let ctx = Ctx {
        azure,
        env: environment,
        names,
        caller_object_id: crate::arm::object_id_of(&token),
        package_path: options.package,
        force: options.force,
        blob_endpoints: Default::default(),
    };
    Ok(Session {
        ctx: Arc::new(ctx),
        reporter,
        global: global.clone(),
    })
}

/// Asks on the terminal; `--yes` answers for the user, and without a terminal it must.
pub fn confirm(question: &str, yes: bool) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NotATerminal);
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(CliError::Prompt)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

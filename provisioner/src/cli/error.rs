//! Every way a command can end other than success, and the exit code each gives.

use super::exit_code;
use crate::arm::{ArmError, AuthError};
use crate::engine::{GraphError, ObserveError};
use crate::env::EnvError;
use crate::resources::ResourceError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("say which environment: --env NAME (environments/NAME.toml) or --env-file PATH")]
    NoEnvironment,
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Azure(Box<ArmError>),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Observe(Box<ObserveError>),
    #[error(transparent)]
    Resource(Box<ResourceError>),
    /// Another run holds the lock; the message names it and the way out.
    #[error("{0}")]
    Locked(String),
    #[error("not a terminal, so nothing can be confirmed: pass --yes to apply without asking")]
    NotATerminal,
    #[error("reading the answer: {0}")]
    Prompt(std::io::Error),
    #[error("not confirmed; nothing {0}")]
    NotConfirmed(&'static str),
    /// The differences were printed; the exit code says the rest.
    #[error("environment {0} differs from its environment file")]
    Drift(String),
    #[error("{command}: {failed} resource(s) failed, {skipped} skipped (see above)")]
    Failed {
        command: String,
        failed: usize,
        skipped: usize,
    },
    /// `down` kept something (each named above with why): the environment is not gone.
    #[error("{0}")]
    Kept(String),
    #[error("verify failed at stage {stage}: {message}")]
    Verify { stage: String, message: String },
    #[error(transparent)]
    Package(#[from] function_zip::package::PackageError),
    #[error("{0}")]
    Output(String),
}

impl From<ResourceError> for CliError {
    fn from(e: ResourceError) -> Self {
        match e {
            ResourceError::Locked(message) => CliError::Locked(message),
            other => CliError::Resource(Box::new(other)),
        }
    }
}

impl From<ArmError> for CliError {
    fn from(e: ArmError) -> Self {
        CliError::Azure(Box::new(e))
    }
}

impl From<ObserveError> for CliError {
    fn from(e: ObserveError) -> Self {
        CliError::Observe(Box::new(e))
    }
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Drift(_) => exit_code::DRIFT,
            CliError::Locked(_) => exit_code::LOCKED,
            CliError::NoEnvironment
            | CliError::Env(_)
            | CliError::Runtime(_)
            | CliError::Auth(_)
            | CliError::Azure(_)
            | CliError::Graph(_)
            | CliError::Observe(_)
            | CliError::Resource(_)
            | CliError::NotATerminal
            | CliError::Prompt(_)
            | CliError::NotConfirmed(_)
            | CliError::Failed { .. }
            | CliError::Kept(_)
            | CliError::Verify { .. }
            | CliError::Package(_)
            | CliError::Output(_) => exit_code::ERROR,
        }
    }
    /// Whether the command already showed it in full (drift prints its report).
    pub fn shown(&self) -> bool {
        matches!(self, CliError::Drift(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_and_a_held_lock_have_their_own_exit_codes() {
        assert_eq!(CliError::Drift("dev".into()).exit_code(), 2);
        assert_eq!(
            CliError::from(ResourceError::Locked("held by alice".into())).exit_code(),
            3
        );
        assert_eq!(
            CliError::from(ResourceError::Other("boom".into())).exit_code(),
            1
        );
        assert_eq!(CliError::NotATerminal.exit_code(), 1);
    }
}

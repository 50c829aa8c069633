//! The provisioner's door to ARM and Graph: the shared `azure` crate's client (credentials,
//! retries, errors, long-running operations all live there), connected as an environment file
//! says, and the request bodies built from the azure_mgmt models.

pub mod models;

pub use azure::arm::{versions, Api, ArmClient as Azure, Counters, Reply};
pub use azure::credential::{object_id_of, AuthError};
pub use azure::retry::Class;
pub use azure::Error as ArmError;

use crate::env::{AuthMethod, Environment};
use azure::credential::{self, AuthConfig};

/// The ARM/Graph client for an environment, with the credential its file and process select.
pub fn connect(env: &Environment) -> Result<Azure, AuthError> {
    let tokens = credential::from_config(&AuthConfig {
        method: match env.auth_method {
            AuthMethod::Auto => credential::AuthMethod::Auto,
            AuthMethod::ClientSecret => credential::AuthMethod::ClientSecret,
            AuthMethod::WorkloadIdentity => credential::AuthMethod::WorkloadIdentity,
            AuthMethod::AzureCli => credential::AuthMethod::AzureCli,
            AuthMethod::ManagedIdentity => credential::AuthMethod::ManagedIdentity,
        },
        authority: env.endpoints.authority.clone(),
        tenant: env.tenant.clone(),
        client_id: env.client_id.clone(),
    })?;
    let endpoints = azure::arm::Endpoints {
        resource_manager: env.endpoints.resource_manager.clone(),
        resource_manager_audience: env.endpoints.resource_manager_audience.clone(),
        graph: env.endpoints.graph.clone(),
        graph_audience: env.endpoints.graph_audience.clone(),
    };
    // The pid tells concurrent runs apart in Azure's (and the local cloud's) request logs.
    let agent = format!(
        "provision/{} (pid {})",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    Ok(Azure::new(&endpoints, tokens, &agent))
}

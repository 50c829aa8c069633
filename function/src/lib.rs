//! The Azure Functions custom handler (the HTTP server the Functions host invokes for each raw
//! blob) and the deployment package builder.
//!
//! - [`config`]: environment settings of the handler.
//! - [`server`]: `POST /process_raw` and its status policy.
//! - [`invocation`]: the host's request and response JSON.
//! - [`credential`]: managed-identity bearer tokens for the standard account.
//! - [`package`]: the reproducible zip the provisioner deploys.

pub mod config;
pub mod credential;
pub mod elf;
pub mod invocation;
pub mod package;
pub mod server;
pub mod store;

pub use elf::GlibcVersion;

/// `host.json` as deployed.
pub const HOST_JSON: &str = include_str!("../host.json");
/// `process_raw/function.json` as deployed.
pub const FUNCTION_JSON: &str = include_str!("../process_raw/function.json");

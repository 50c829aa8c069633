//! The Azure Functions custom handler: the HTTP server the Functions host invokes for each raw blob.
//!
//! - [`config`]: environment settings of the handler.
//! - [`server`]: `POST /process_raw` and its status policy.
//! - [`invocation`]: the host's request and response JSON.
//! - [`store`]: the standard container, with the managed identity through the shared `azure` crate.
//!
//! The deployment package is built by the `function-zip` crate (`function/zip/`).

pub mod config;
pub mod invocation;
pub mod server;
pub mod store;

pub use function_zip::{FUNCTION_JSON, HOST_JSON};

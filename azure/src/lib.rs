//! Azure access shared by the provisioner, the function, the ingest worker and the local cloud's
//! tests. Each concern has one home:
//!
//! - [`credential`]: who we are: one [`credential::TokenSource`] over azure_identity (client
//!   secret, workload identity that re-reads its token file, Azure CLI, App Service managed
//!   identity), cached per scope, and its adapter for object_store.
//! - [`retry`]: the one retry policy: failure classes, `Retry-After` in seconds or HTTP-date,
//!   a deadline, a propagation window for eventually consistent answers, injectable jitter.
//! - [`error`]: one error type that keeps Azure's code and message in whichever shape the service
//!   sent them (ARM/Graph `error.code`, App Service's top-level `Code`, storage XML, OAuth).
//! - [`arm`]: the ARM and Microsoft Graph transport with long-running operations.
//! - [`storage`]: Shared Key and SAS signing and the blob calls we make ourselves (leases,
//!   stored access policies, uploads), with the same retry policy.
//! - [`redact`]: the one place secrets are hidden from logs, errors and output.
//!
//! It depends on no Kafka, Redis or Arrow crate, so every crate can use it.

pub mod arm;
pub mod credential;
pub mod error;
pub mod redact;
pub mod retry;
pub mod storage;

pub use error::{Error, Origin};
pub use reqwest::Method;

/// Something worth telling the user while it happens (retries, waits).
pub type Notify = std::sync::Arc<dyn Fn(String) + Send + Sync>;

/// A [`Notify`] that says nothing.
pub fn silent() -> Notify {
    std::sync::Arc::new(|_| {})
}

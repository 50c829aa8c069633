//! The function's deployment package, apart from the handler's code so that the provisioner can
//! build and hash it without depending on the ETL (and through it on Kafka, Redis and Arrow).
//!
//! - [`package`]: the reproducible zip the provisioner deploys.
//! - [`elf`]: the handler binary's machine and highest glibc symbol version.

pub mod elf;
pub mod package;

pub use elf::GlibcVersion;

/// The function's name: its folder in the package and its route in the handler.
pub const FUNCTION_NAME: &str = "process_raw";
/// `host.json` as deployed.
pub const HOST_JSON: &str = include_str!("../../host.json");
/// `process_raw/function.json` as deployed.
pub const FUNCTION_JSON: &str = include_str!("../../process_raw/function.json");

//! `provision package`: builds the function package zip only.

use super::error::CliError;
use super::{Global, OutputFormat};
use std::path::Path;

pub fn run(global: &Global, out: &Path) -> Result<(), CliError> {
    let p = crate::package::build(Some(out))?;
    if global.output == OutputFormat::Json {
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
    Ok(())
}

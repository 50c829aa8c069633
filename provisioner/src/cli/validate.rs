//! `provision validate`: checks the environment file; sends nothing.

use super::context::load_env;
use super::error::CliError;
use super::{Global, OutputFormat};
use crate::names::Names;

pub fn run(global: &Global) -> Result<(), CliError> {
    let e = load_env(global)?;
    for warning in &e.warnings {
        eprintln!("warning: {warning}");
    }
    if e.plan == crate::env::PlanSku::FC1 {
        // Where FC1 is offered is Azure's list for the subscription; validate sends nothing.
        eprintln!(
            "note: whether Flex Consumption (FC1) is offered in `{}` is checked by `provision plan` (it asks Azure's region list; nothing is written)",
            e.location
        );
    }
    let names = Names::derive(&e.prefix, &e.name, &e.suffix);
    if global.output == OutputFormat::Json {
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
    Ok(())
}

//! `provision output`: names and endpoints, like `terraform output`. Reads only the resources
//! whose outputs it prints.

use super::context::Session;
use super::error::CliError;
use crate::engine::{self, Stack};
use crate::resources::storage_account::AccountRole;
use crate::resources::Key;
use serde_json::{json, Value};

pub async fn run(s: &Session, raw: Option<String>) -> Result<(), CliError> {
    let ctx = &s.ctx;
    let stack = Stack::subset(
        crate::resources::all(&ctx.env),
        &[
            Key::Storage(AccountRole::Raw),
            Key::Storage(AccountRole::Standard),
            Key::Storage(AccountRole::Functions),
            Key::FunctionApp,
            Key::SecurityGroup,
        ],
    )?;
    let o = engine::observe(ctx, &stack, s.global.parallelism)
        .await?
        .all_outputs();
    let n = &ctx.names;
    let values = json!({
        "environment": ctx.env.name,
        "resource_group": n.resource_group,
        "raw_account": n.raw_account,
        "standard_account": n.standard_account,
        "functions_account": n.functions_account,
        "raw_blob_endpoint": o.blob_endpoints.get(&AccountRole::Raw),
        "standard_blob_endpoint": o.blob_endpoints.get(&AccountRole::Standard),
        "functions_blob_endpoint": o.blob_endpoints.get(&AccountRole::Functions),
        "raw_container": crate::names::RAW_CONTAINER,
        "standard_container": crate::names::STANDARD_CONTAINER,
        "function_app": n.function_app,
        "function_app_url": format!("https://{}.azurewebsites.net", n.function_app),
        "function_principal_id": o.site_principal_id,
        "security_group_id": o.group_id,
        "app_insights": n.app_insights,
        "log_analytics_workspace": n.workspace,
    });
    match raw {
        Some(name) => match values.get(&name) {
            Some(Value::String(s)) => println!("{s}"),
            Some(Value::Null) => {
                return Err(CliError::Output(format!(
                    "output {name} has no value yet: run `provision up` first"
                )))
            }
            Some(other) => println!("{other}"),
            None => {
                return Err(CliError::Output(format!(
                    "no output named {name}; known: {}",
                    values
                        .as_object()
                        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                )))
            }
        },
        None if s.json() => println!("{values}"),
        None => {
            for (k, v) in values.as_object().into_iter().flatten() {
                match v {
                    Value::String(s) => println!("{k} = {s}"),
                    other => println!("{k} = {other}"),
                }
            }
        }
    }
    Ok(())
}

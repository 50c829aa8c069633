//! Names that are unique across all of Azure: storage accounts (`{name}.blob.core.windows.net`)
//! and function apps (`{name}.azurewebsites.net`). One taken by someone else would stop `up`
//! half way, so before anything is created each new one is checked with its provider's
//! `checkNameAvailability`, and a taken one is refused with the setting that changes it.

use super::storage_account::AccountRole;
use super::{Ctx, Key, ResourceError, Result};
use crate::arm::versions::{STORAGE, WEB};
use serde_json::{json, Value};

/// A name `key` would be created with, and how to ask whether Azure has it free.
fn check_for(ctx: &Ctx, key: Key) -> Option<(String, &'static str, String, Value)> {
    let sub = ctx.subscription_path();
    match key {
        Key::Storage(role) => {
            let name = AccountRole::account_name(role, ctx);
            Some((
                name.clone(),
                "storage account",
                format!(
                    "{sub}/providers/Microsoft.Storage/checkNameAvailability?api-version={STORAGE}"
                ),
                json!({"name": name, "type": "Microsoft.Storage/storageAccounts"}),
            ))
        }
        Key::FunctionApp => Some((
            ctx.names.function_app.clone(),
            "function app",
            format!("{sub}/providers/Microsoft.Web/checknameavailability?api-version={WEB}"),
            json!({"name": ctx.names.function_app, "type": "Microsoft.Web/sites"}),
        )),
        _ => None,
    }
}

/// Refuses, before any write, to create a globally named resource whose name is taken.
pub async fn check_free(ctx: &Ctx, creates: &[Key]) -> Result<()> {
    let checks = creates.iter().filter_map(|k| check_for(ctx, *k)).map(
        |(name, kind, path, body)| async move {
            match ctx.azure.post(&path, Some(&body)).await {
                Ok(answer) if answer["nameAvailable"] == json!(false) => Ok(Some(format!(
                    "{kind} name '{name}' ({}: {})",
                    answer["reason"].as_str().unwrap_or("unavailable"),
                    answer["message"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_end_matches('.')
                ))),
                Ok(_) => Ok(None),
                // Not registered yet: nothing can be told before `up` registers the namespace.
                Err(e) if azure::retry::eventual::provider_registering(&e) => Ok(None),
                Err(e) => Err(ResourceError::from(e)),
            }
        },
    );
    let taken: Vec<String> = futures::future::join_all(checks)
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if taken.is_empty() {
        return Ok(());
    }
    Err(ResourceError::Other(format!(
        "Azure will not let this environment have these names: {}. Storage account and function app names are global across all of Azure, and the environment's `suffix` makes them unique: set another `suffix` (4-6 lowercase letters and digits; now \"{}\") in {} and run again. Nothing was created.",
        taken.join("; "),
        ctx.env.suffix,
        ctx.env.file.display()
    )))
}

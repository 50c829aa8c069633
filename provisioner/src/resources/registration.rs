//! Resource provider registration. A fresh subscription has only a few namespaces registered, and
//! a write to any other answers 409 `MissingSubscriptionRegistration` ("Azure resource providers
//! and types", learn.microsoft.com). Before the first write of a run, every namespace the planned
//! changes need is read and, when not registered, registered and waited for. A converged run
//! plans no change and so sends none of this.

use super::{Ctx, ResourceError, Result};
use crate::arm::versions::RESOURCES;
use crate::arm::{ArmError, Class};
use azure::retry::{eventual, Attempting};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

/// Makes sure every namespace in `namespaces` is registered; returns what it registered.
pub async fn ensure_registered(
    ctx: &Ctx,
    namespaces: &BTreeSet<&'static str>,
) -> Result<Vec<String>> {
    let checks = namespaces.iter().map(|ns| ensure_one(ctx, ns));
    let mut registered = Vec::new();
    for result in futures::future::join_all(checks).await {
        if let Some(ns) = result? {
            registered.push(ns);
        }
    }
    Ok(registered)
}

fn state_of(body: &Value) -> &str {
    body["registrationState"]
        .as_str()
        .unwrap_or("NotRegistered")
}

async fn ensure_one(ctx: &Ctx, namespace: &'static str) -> Result<Option<String>> {
    let path = format!(
        "{}/providers/{namespace}?api-version={RESOURCES}",
        ctx.subscription_path()
    );
    let what_to_do = |e: ArmError| {
        ResourceError::Other(format!(
            "resource provider {namespace} is not registered on subscription {} and could not be registered: {e}. The deploying identity needs `{namespace}/register/action` on the subscription (Contributor or Owner have it), or someone who has it runs `az provider register --namespace {namespace} --wait`",
            ctx.env.subscription
        ))
    };
    let current = ctx.azure.get(&path).await.map_err(what_to_do)?;
    match current.as_ref().map(state_of) {
        Some("Registered") => return Ok(None),
        // Someone (another run) registered it a moment ago: only the wait is left.
        Some("Registering") => {}
        _ => {
            (ctx.azure.notify)(format!(
                "registering resource provider {namespace} on the subscription (its first use there; this takes a minute or two)"
            ));
            let register = format!(
                "{}/providers/{namespace}/register?api-version={RESOURCES}",
                ctx.subscription_path()
            );
            ctx.azure.post(&register, None).await.map_err(what_to_do)?;
        }
    }
    let registering = |e: &ArmError| eventual::provider_registering(e).then_some(Class::Busy);
    ctx.azure
        .retry
        .run(
            Attempting {
                what: &format!("waiting for {namespace} to register"),
                classify: &registering,
                notify: &ctx.azure.notify,
            },
            || async {
                let body = ctx.azure.get(&path).await?.unwrap_or(Value::Null);
                match state_of(&body) {
                    "Registered" => Ok(()),
                    state => Err(ArmError::operation(
                        Method::GET,
                        &path,
                        "MissingSubscriptionRegistration",
                        &format!("resource provider {namespace} is {state}, not Registered yet"),
                    )),
                }
            },
        )
        .await
        .map_err(|e| {
            ResourceError::Other(format!(
                "resource provider {namespace}: registration did not finish: {e}. Check it with `az provider show --namespace {namespace} --query registrationState` and run again once it says Registered"
            ))
        })?;
    Ok(Some(namespace.to_string()))
}

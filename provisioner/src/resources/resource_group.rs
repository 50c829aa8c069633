//! The resource group. `down` deletes it only when nothing in it is someone else's.

use super::{
    action_for, is_ours, merged_tags, read_arm, Action, Ctx, Live, Resource, ResourceError, Result,
};
use crate::arm::versions::RESOURCES;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct ResourceGroup;

fn path(ctx: &Ctx) -> String {
    format!("{}?api-version={RESOURCES}", ctx.rg_path())
}

impl Resource for ResourceGroup {
    fn key(&self) -> String {
        "resource-group".into()
    }
    fn kind(&self) -> &'static str {
        "resource group"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.resource_group.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec![]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(read_arm(ctx, path(ctx)))
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        action_for(
            &json!({"location": ctx.env.location, "tags": ctx.tags_json()}),
            live,
        )
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if let Some(body) = live.body() {
                if !body["location"]
                    .as_str()
                    .unwrap_or_default()
                    .eq_ignore_ascii_case(&ctx.env.location)
                {
                    return Err(ResourceError::Other(format!(
                        "resource group {} exists in {} but the environment says {}; a location cannot change — fix `location` or delete the group",
                        ctx.names.resource_group, body["location"].as_str().unwrap_or_default(), ctx.env.location
                    )));
                }
            }
            ctx.azure
                .put(&path(ctx),
                    &json!({"location": ctx.env.location, "tags": merged_tags(ctx, live)}),
                )
                .await?;
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            if live.body().is_none() {
                return Ok(true);
            }
            if !is_ours(ctx, live) {
                return Ok(false);
            }
            let listing = ctx
                .azure
                .get(&format!(
                    "{}/resources?api-version={RESOURCES}",
                    ctx.rg_path()
                ))
                .await?
                .unwrap_or(Value::Null);
            let foreign: Vec<String> = listing["value"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|r| {
                    r.pointer("/tags/managed-by").and_then(Value::as_str) != Some(super::MANAGED_BY)
                })
                .map(|r| {
                    format!(
                        "{} ({})",
                        r["name"].as_str().unwrap_or_default(),
                        r["type"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            if !foreign.is_empty() && !ctx.force {
                ctx.update(|o| o.notices.push(format!(
                    "kept resource group {}: it holds resources provision does not own: {} (delete them, or run `down --force`)",
                    ctx.names.resource_group, foreign.join(", ")
                )));
                return Ok(false);
            }
            ctx.azure.delete(&path(ctx)).await?;
            Ok(true)
        })
    }
}

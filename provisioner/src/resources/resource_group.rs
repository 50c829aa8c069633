//! The resource group. `down` deletes it only when nothing in it is someone else's.

use super::compare::{action_for, is_ours, merged_tags, read_arm};
use super::{
    Applied, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource, ResourceError, Result,
    MANAGED_BY,
};
use crate::arm::versions::RESOURCES;
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub struct ResourceGroup;

fn path(ctx: &Ctx) -> String {
    format!("{}?api-version={RESOURCES}", ctx.rg_path())
}

/// Resources in the group that do not carry our tag, as `name (type)`.
async fn foreign_resources(ctx: &Ctx) -> Result<Vec<String>> {
    let listing = ctx
        .azure
        .get(&format!(
            "{}/resources?api-version={RESOURCES}",
            ctx.rg_path()
        ))
        .await?
        .unwrap_or(Value::Null);
    Ok(listing["value"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|r| r.pointer("/tags/managed-by").and_then(Value::as_str) != Some(MANAGED_BY))
        .map(|r| {
            format!(
                "{} ({})",
                r["name"].as_str().unwrap_or_default(),
                r["type"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

impl Resource for ResourceGroup {
    fn key(&self) -> Key {
        Key::ResourceGroup
    }
    fn kind(&self) -> &'static str {
        "resource group"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.names.resource_group.clone()
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![]
    }
    fn contained_in(&self) -> Option<Key> {
        None
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            Ok(Read {
                live: read_arm(ctx, &path(ctx)).await?,
                outputs: Outputs::default(),
            })
        })
    }
    fn diff(&self, ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        action_for(
            &json!({"location": ctx.env.location, "tags": ctx.tags_json()}),
            live,
        )
        .into()
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            if let Some(body) = live.body() {
                let location = body["location"].as_str().unwrap_or_default();
                if !location.eq_ignore_ascii_case(&ctx.env.location) {
                    return Err(ResourceError::Other(format!(
                        "resource group {} exists in {location} but the environment says {}; a location cannot change — fix `location` or delete the group",
                        ctx.names.resource_group, ctx.env.location
                    )));
                }
            }
            ctx.azure
                .put(
                    &path(ctx),
                    &json!({"location": ctx.env.location, "tags": merged_tags(ctx, live)}),
                )
                .await?;
            Ok(Applied::default())
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move {
            if live.body().is_none() {
                return Ok(Deletion::Deleted);
            }
            if !is_ours(ctx, live) {
                return Ok(Deletion::not_ours());
            }
            let foreign = foreign_resources(ctx).await?;
            if !foreign.is_empty() && !ctx.force {
                return Ok(Deletion::Kept(format!(
                    "it holds resources provision does not own: {} (delete them, or run `down --force`)",
                    foreign.join(", ")
                )));
            }
            ctx.azure.delete(&path(ctx)).await?;
            Ok(Deletion::Deleted)
        })
    }
}

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

/// What creating an Application Insights component adds to its group without our tags: the
/// shared action group and the component's Failure Anomalies rule (terraform-provider-azurerm#10563).
const SMART_DETECTION_GROUP: &str = "Application Insights Smart Detection";
const ACTION_GROUPS: &str = "microsoft.insights/actiongroups";
const SMART_DETECTOR_RULES: &str = "microsoft.alertsmanagement/smartdetectoralertrules";
const ACTION_GROUPS_API: &str = "2023-01-01";
const SMART_DETECTOR_RULES_API: &str = "2021-04-01";

/// What the group holds, sorted out.
#[derive(Debug, Default, PartialEq)]
struct Contents {
    /// Not ours and not made on our behalf, as `name (type)`.
    foreign: Vec<String>,
    /// Made by Azure on our behalf (smart detection), as ARM ids.
    on_our_behalf: Vec<String>,
}

fn sort_contents(component: &str, listing: &Value) -> Contents {
    let ours_rule = format!("Failure Anomalies - {component}");
    let mut contents = Contents::default();
    for r in listing["value"].as_array().into_iter().flatten() {
        let text = |k: &str| r[k].as_str().unwrap_or_default();
        let (name, kind) = (text("name"), text("type"));
        let tagged = r.pointer("/tags/managed-by").and_then(Value::as_str) == Some(MANAGED_BY);
        let made_for_us = (kind.eq_ignore_ascii_case(ACTION_GROUPS)
            && name.eq_ignore_ascii_case(SMART_DETECTION_GROUP))
            || (kind.eq_ignore_ascii_case(SMART_DETECTOR_RULES)
                && name.eq_ignore_ascii_case(&ours_rule));
        if made_for_us {
            contents.on_our_behalf.push(text("id").to_string());
        } else if !tagged {
            contents.foreign.push(format!("{name} ({kind})"));
        }
    }
    contents
}

async fn contents(ctx: &Ctx) -> Result<Contents> {
    let listing = ctx
        .azure
        .get(&format!(
            "{}/resources?api-version={RESOURCES}",
            ctx.rg_path()
        ))
        .await?
        .unwrap_or(Value::Null);
    Ok(sort_contents(&ctx.names.app_insights, &listing))
}

/// Deletes what smart detection made for our component when the group itself stays. The shared
/// action group stays too while a foreign smart detector rule may still send to it.
async fn delete_made_on_our_behalf(ctx: &Ctx, contents: &Contents) -> Result<()> {
    let foreign_rules = contents
        .foreign
        .iter()
        .any(|f| f.to_ascii_lowercase().contains(SMART_DETECTOR_RULES));
    for id in &contents.on_our_behalf {
        let lower = id.to_ascii_lowercase();
        let api = if lower.contains(SMART_DETECTOR_RULES) {
            SMART_DETECTOR_RULES_API
        } else if foreign_rules {
            continue;
        } else {
            ACTION_GROUPS_API
        };
        let encoded = id.replace(' ', "%20");
        ctx.azure
            .delete(&format!("{encoded}?api-version={api}"))
            .await?;
    }
    Ok(())
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
            let contents = contents(ctx).await?;
            if !contents.foreign.is_empty() && !ctx.force {
                delete_made_on_our_behalf(ctx, &contents).await?;
                return Ok(Deletion::Kept(format!(
                    "it holds {} resource(s) provision did not create: {}. Everything of this environment in it was deleted; delete those, or run `down --force` to delete the group with them",
                    contents.foreign.len(),
                    contents.foreign.join(", ")
                )));
            }
            ctx.azure.delete(&path(ctx)).await?;
            Ok(Deletion::Deleted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_detection_made_for_our_component_is_not_foreign() {
        let names = crate::names::Names::derive("hero", "dev", "abcd12");
        let ctx_rule = format!("Failure Anomalies - {}", names.app_insights);
        let listing = json!({"value": [
            {"id": "/s/ag", "name": "Application Insights Smart Detection", "type": "microsoft.insights/actiongroups"},
            {"id": "/s/r1", "name": ctx_rule, "type": "microsoft.alertsmanagement/smartDetectorAlertRules"},
            {"id": "/s/r2", "name": "Failure Anomalies - someone-elses", "type": "microsoft.alertsmanagement/smartDetectorAlertRules"},
            {"id": "/s/st", "name": "stours", "type": "Microsoft.Storage/storageAccounts", "tags": {"managed-by": "provision"}},
            {"id": "/s/vm", "name": "vm1", "type": "Microsoft.Compute/virtualMachines", "tags": {"managed-by": "someone"}},
        ]});
        let contents = sort_contents(&names.app_insights, &listing);
        assert_eq!(contents.on_our_behalf, vec!["/s/ag", "/s/r1"]);
        assert_eq!(
            contents.foreign,
            vec![
                "Failure Anomalies - someone-elses (microsoft.alertsmanagement/smartDetectorAlertRules)",
                "vm1 (Microsoft.Compute/virtualMachines)"
            ]
        );
    }
}

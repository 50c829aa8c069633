//! The Entra ID security group whose members may read and write raw and standard. Upserted by
//! uniqueName; the deploying principal owns it and is a member. Entra groups carry no tags, so the
//! description marks ownership.

use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};

pub struct SecurityGroup;

fn marker(ctx: &Ctx) -> String {
    format!(
        "Managed by provision for environment {} ({}). Changes made by hand are reverted.",
        ctx.env.name, ctx.names.resource_group
    )
}

fn by_name(ctx: &Ctx) -> String {
    format!("/groups(uniqueName='{}')", ctx.env.group_unique_name)
}

fn wanted_members(ctx: &Ctx) -> Vec<String> {
    let mut members = ctx.env.group_members.clone();
    if let Some(me) = &ctx.caller_object_id {
        if !members.contains(me) {
            members.push(me.clone());
        }
    }
    members
}

fn outputs(id: String) -> Outputs {
    Outputs {
        group_id: Some(id),
        ..Default::default()
    }
}

impl Resource for SecurityGroup {
    fn key(&self) -> Key {
        Key::SecurityGroup
    }
    fn kind(&self) -> &'static str {
        "entra security group"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.env.group_unique_name.clone()
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![]
    }
    fn contained_in(&self) -> Option<Key> {
        None
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            let mut group = match ctx.azure.graph(Method::GET, &by_name(ctx), None, &[]).await {
                Ok(reply) => reply.body,
                Err(e) if e.is_not_found() => return Ok(Read::absent()),
                Err(e) => return Err(e.into()),
            };
            let id = group["id"].as_str().unwrap_or_default().to_string();
            let members = ctx
                .azure
                .graph(
                    Method::GET,
                    &format!("/groups/{id}/members?$select=id"),
                    None,
                    &[],
                )
                .await?
                .body;
            group["memberIds"] = json!(members["value"]
                .as_array()
                .map(|m| m
                    .iter()
                    .filter_map(|x| x["id"].as_str())
                    .collect::<Vec<_>>())
                .unwrap_or_default());
            Ok(Read {
                live: Live::Present(group),
                outputs: outputs(id),
            })
        })
    }
    fn diff(&self, ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        let Some(group) = live.body() else {
            return Action::Create.into();
        };
        let mut changes = Vec::new();
        for (field, want) in [
            ("displayName", json!(ctx.env.group_display_name)),
            ("description", json!(marker(ctx))),
            ("securityEnabled", json!(true)),
        ] {
            if group[field] != want {
                changes.push(Change {
                    property: field.into(),
                    live: group[field].clone(),
                    desired: want,
                });
            }
        }
        let present: Vec<String> = group["memberIds"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let missing: Vec<String> = wanted_members(ctx)
            .into_iter()
            .filter(|m| !present.contains(m))
            .collect();
        if !missing.is_empty() {
            changes.push(Change {
                property: "members".into(),
                live: json!(present),
                desired: json!(missing.iter().map(|m| format!("+{m}")).collect::<Vec<_>>()),
            });
        }
        let extra: Vec<&String> = present
            .iter()
            .filter(|m| !wanted_members(ctx).contains(m))
            .collect();
        let mut notices = Vec::new();
        if !extra.is_empty() {
            notices.push(format!(
                "group {} has members provision did not add (left alone): {}",
                ctx.env.group_unique_name,
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Diff {
            action: Action::from_changes(changes),
            notices,
        }
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            let graph = &ctx.azure.graph_base;
            let mut body = json!({
                "displayName": ctx.env.group_display_name, "description": marker(ctx),
                "mailEnabled": false, "mailNickname": ctx.env.group_unique_name, "securityEnabled": true, "groupTypes": [],
            });
            if live.body().is_none() {
                if let Some(me) = &ctx.caller_object_id {
                    body["owners@odata.bind"] =
                        json!([format!("{graph}/v1.0/servicePrincipals/{me}")]);
                }
            }
            let reply = ctx
                .azure
                .graph(
                    Method::PATCH,
                    &by_name(ctx),
                    Some(&body),
                    &[("Prefer", "create-if-missing")],
                )
                .await?;
            let id = match reply.body.get("id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => ctx
                    .azure
                    .graph(Method::GET, &by_name(ctx), None, &[])
                    .await?
                    .body["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            if id.is_empty() {
                return Err(ResourceError::Other(format!(
                    "Graph did not return the id of group {}",
                    ctx.env.group_unique_name
                )));
            }
            let present: Vec<String> = live
                .body()
                .and_then(|g| g["memberIds"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            for member in wanted_members(ctx)
                .into_iter()
                .filter(|m| !present.contains(m))
            {
                let reference =
                    json!({"@odata.id": format!("{graph}/v1.0/directoryObjects/{member}")});
                match ctx
                    .azure
                    .graph(
                        Method::POST,
                        &format!("/groups/{id}/members/$ref"),
                        Some(&reference),
                        &[],
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.status() == Some(400) && e.message.contains("already exist") => {}
                    Err(e) if e.is_not_found() => {
                        return Err(ResourceError::Other(format!("security_group.members: {member} does not exist in the directory; remove it from the environment file")));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(outputs(id).into())
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move {
            let Some(group) = live.body() else {
                return Ok(Deletion::Deleted);
            };
            if group["description"] != json!(marker(ctx)) {
                return Ok(Deletion::Kept(
                    "its description does not mark it as provision's for this environment".into(),
                ));
            }
            match ctx
                .azure
                .graph(
                    Method::DELETE,
                    &format!("/groups/{}", group["id"].as_str().unwrap_or_default()),
                    None,
                    &[],
                )
                .await
            {
                Ok(_) => Ok(Deletion::Deleted),
                Err(e) if e.is_not_found() => Ok(Deletion::Deleted),
                Err(e) => Err(e.into()),
            }
        })
    }
}

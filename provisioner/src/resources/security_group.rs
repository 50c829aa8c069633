//! The Entra ID security group whose members may read and write raw and standard. Upserted by
//! uniqueName; the deploying principal owns it and is a member. Entra groups carry no tags, so the
//! description marks ownership.

use reqwest::Method;
use super::{Action, Change, Ctx, Live, Resource, ResourceError, Result};
use futures::future::BoxFuture;
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
    if let Some(me) = ctx.outputs().caller_object_id {
        if !members.contains(&me) {
            members.push(me);
        }
    }
    members
}

impl Resource for SecurityGroup {
    fn key(&self) -> String {
        "security-group".into()
    }
    fn kind(&self) -> &'static str {
        "entra security group"
    }
    fn name(&self, ctx: &Ctx) -> String {
        ctx.env.group_unique_name.clone()
    }
    fn depends_on(&self) -> Vec<String> {
        vec![]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            let mut group = match ctx.azure.graph(Method::GET, &by_name(ctx), None, &[]).await {
                Ok(reply) => reply.body,
                Err(e) if e.is_not_found() => return Ok(Live::Absent),
                Err(e) => return Err(e.into()),
            };
            let id = group["id"].as_str().unwrap_or_default().to_string();
            let members = ctx
                .azure
                .graph(Method::GET,
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
            ctx.update(|o| o.group_id = Some(id));
            Ok(Live::Present(group))
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        let Some(group) = live.body() else {
            return Action::Create;
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
        if !extra.is_empty() {
            let note = format!(
                "group {} has members provision did not add (left alone): {}",
                ctx.env.group_unique_name,
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            ctx.update(|o| {
                if !o.notices.contains(&note) {
                    o.notices.push(note.clone())
                }
            });
        }
        if changes.is_empty() {
            Action::Noop
        } else {
            Action::Update { changes }
        }
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let graph = &ctx.azure.graph_base;
            let mut body = json!({
                "displayName": ctx.env.group_display_name, "description": marker(ctx),
                "mailEnabled": false, "mailNickname": ctx.env.group_unique_name, "securityEnabled": true, "groupTypes": [],
            });
            if live.body().is_none() {
                if let Some(me) = ctx.outputs().caller_object_id {
                    body["owners@odata.bind"] =
                        json!([format!("{graph}/v1.0/servicePrincipals/{me}")]);
                }
            }
            let reply = ctx
                .azure
                .graph(Method::PATCH,
                    &by_name(ctx),
                    Some(&body),
                    &[("Prefer", "create-if-missing")],
                )
                .await?;
            let id = match reply.body.get("id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => ctx.azure.graph(Method::GET, &by_name(ctx), None, &[]).await?.body["id"]
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
            ctx.update(|o| o.group_id = Some(id.clone()));
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
                    .graph(Method::POST,
                        &format!("/groups/{id}/members/$ref"),
                        Some(&reference),
                        &[],
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.status == 400 && e.message.contains("already exist") => {}
                    Err(e) if e.is_not_found() => {
                        return Err(ResourceError::Other(format!("security_group.members: {member} does not exist in the directory; remove it from the environment file")));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let Some(group) = live.body() else {
                return Ok(true);
            };
            if group["description"] != json!(marker(ctx)) {
                return Ok(false);
            }
            match ctx
                .azure
                .graph(Method::DELETE,
                    &format!("/groups/{}", group["id"].as_str().unwrap_or_default()),
                    None,
                    &[],
                )
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(true),
                Err(e) => Err(e.into()),
            }
        })
    }
}

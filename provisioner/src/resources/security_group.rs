//! The Entra ID security group whose members may read and write raw and standard. Found by
//! uniqueName; created with its owner (the deploying principal) and members bound in the create
//! call itself, so Graph's replication lag right after a create cannot refuse them. Entra groups
//! carry no tags, so the description marks ownership: a group with our uniqueName that provision
//! did not create for this environment is never taken over unless the environment file says
//! `adopt = true`.

use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use crate::arm::{Api, ArmError, Reply};
use azure::retry::{eventual, propagating};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};

pub struct SecurityGroup;

/// Graph binds at most 20 owners and members in the call that creates a group.
const MAX_BINDS: usize = 20;

/// The least Microsoft Graph application permission each call needs (Graph's permissions
/// reference; README, "First deploy to a real subscription"). Graph's 403 does not say which.
mod needs {
    pub const READ: &str = "GroupMember.Read.All";
    pub const CREATE: &str = "Group.Create";
    pub const CREATE_BINDING_OTHERS: &str =
        "Group.Create, and Directory.Read.All to bind the members listed in [security_group] members";
    pub const WRITE: &str = "Group.ReadWrite.All";
    pub const MEMBERS: &str = "GroupMember.ReadWrite.All";
    pub const DIRECTORY: &str = "Directory.Read.All";
}

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

/// Made by provision for this environment: its description says so or, when someone edited the
/// description, the deploying principal (bound as owner at create) is one of its owners.
fn is_ours(ctx: &Ctx, group: &Value) -> bool {
    marked(ctx, group)
        || ctx.caller_object_id.as_ref().is_some_and(|me| {
            group["ownerIds"]
                .as_array()
                .is_some_and(|o| o.iter().any(|id| id.as_str() == Some(me)))
        })
}

fn marked(ctx: &Ctx, group: &Value) -> bool {
    group["description"] == json!(marker(ctx))
}

async fn ids_of(ctx: &Ctx, id: &str, relation: &str) -> Result<Value> {
    let list = graph(
        ctx,
        needs::READ,
        Method::GET,
        &format!("/groups/{id}/{relation}?$select=id"),
        None,
        false,
    )
    .await?
    .body;
    Ok(json!(list["value"]
        .as_array()
        .map(|m| m
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect::<Vec<_>>())
        .unwrap_or_default()))
}

/// Ours, or someone else's that the environment file says to take over.
fn managed(ctx: &Ctx, group: &Value) -> bool {
    is_ours(ctx, group) || ctx.env.group_adopt
}

fn refuse_foreign(ctx: &Ctx, group: &Value) -> ResourceError {
    ResourceError::Other(format!(
        "entra security group {unique}: a group with this uniqueName already exists in the tenant (id {id}, display name {display}) and was not created by provision for environment {env} (its description does not say so and the deploying identity is not among its owners); provision does not take it over. Choose another [security_group] unique_name in {file}, or set `adopt = true` under [security_group] to manage that group from now on (provision then sets its description and members, and `down` deletes it)",
        unique = ctx.env.group_unique_name,
        id = group["id"].as_str().unwrap_or("unknown"),
        display = group["displayName"],
        env = ctx.env.name,
        file = ctx.env.file.display(),
    ))
}

/// One Graph call; a 403 `Authorization_RequestDenied` keeps Graph's code and message and says
/// which permission the deploying identity lacks.
async fn graph(
    ctx: &Ctx,
    permission: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    lag_is_expected: bool,
) -> std::result::Result<Reply, ArmError> {
    let lag = propagating(eventual::graph_object_not_replicated);
    let none = azure::retry::no_override;
    let classify: &azure::arm::Classifier = if lag_is_expected { &lag } else { &none };
    ctx.azure
        .call_with(Api::Graph, method, path, body, &[], classify)
        .await
        .map_err(|e| name_permission(e, permission))
}

fn name_permission(mut e: ArmError, permission: &str) -> ArmError {
    if e.is(403, "Authorization_RequestDenied") {
        e.message = format!(
            "{} The deploying identity lacks the Microsoft Graph application permission {permission}: grant it to the app registration (API permissions, admin consent) and run again.",
            e.message
        );
    }
    e
}

/// A member the file names must exist: a wrong id fails at once, not after the replication window.
async fn check_exists(ctx: &Ctx, member: &str) -> Result<()> {
    match graph(
        ctx,
        needs::DIRECTORY,
        Method::GET,
        &format!("/directoryObjects/{member}"),
        None,
        false,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Err(ResourceError::Other(format!(
            "security_group.members: {member} does not exist in the directory; fix or remove the id in {}",
            ctx.env.file.display()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Members the file names (the deploying principal needs no check: it holds the token).
async fn check_listed(ctx: &Ctx, members: &[String]) -> Result<()> {
    for m in members {
        if Some(m) != ctx.caller_object_id.as_ref() {
            check_exists(ctx, m).await?;
        }
    }
    Ok(())
}

/// Adds members by `$ref`. Right after the group was created Graph may not know it yet (404
/// `Request_ResourceNotFound`): waited out for the propagation window.
async fn add_members(ctx: &Ctx, id: &str, members: &[String]) -> Result<()> {
    let graph_base = &ctx.azure.graph_base;
    for member in members {
        let reference =
            json!({"@odata.id": format!("{graph_base}/v1.0/directoryObjects/{member}")});
        match graph(
            ctx,
            needs::MEMBERS,
            Method::POST,
            &format!("/groups/{id}/members/$ref"),
            Some(&reference),
            true,
        )
        .await
        {
            Ok(_) => {}
            Err(e) if e.status() == Some(400) && e.message.contains("already exist") => {}
            Err(mut e) if e.is_not_found() => {
                e.message = format!(
                    "{} Entra has not replicated group {} ({id}) or member {member} to every replica yet; the environment file is fine. Run `provision up` again in a few minutes.",
                    e.message, ctx.env.group_unique_name
                );
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn present_members(group: &Value) -> Vec<String> {
    group["memberIds"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn create(ctx: &Ctx) -> Result<Applied> {
    let graph_base = &ctx.azure.graph_base;
    let members = wanted_members(ctx);
    check_listed(ctx, &members).await?;
    let bind = |id: &String| format!("{graph_base}/v1.0/directoryObjects/{id}");
    let owners: Vec<String> = ctx.caller_object_id.iter().map(bind).collect();
    let bound = members.len().min(MAX_BINDS - owners.len());
    let mut body = json!({
        "displayName": ctx.env.group_display_name, "description": marker(ctx),
        "mailEnabled": false, "mailNickname": ctx.env.group_unique_name, "securityEnabled": true,
        "groupTypes": [], "uniqueName": ctx.env.group_unique_name,
        "members@odata.bind": members[..bound].iter().map(bind).collect::<Vec<_>>(),
    });
    if !owners.is_empty() {
        body["owners@odata.bind"] = json!(owners);
    }
    let permission = if members[..bound]
        .iter()
        .any(|m| Some(m) != ctx.caller_object_id.as_ref())
    {
        needs::CREATE_BINDING_OTHERS
    } else {
        needs::CREATE
    };
    let reply = match graph(ctx, permission, Method::POST, "/groups", Some(&body), true).await {
        Ok(reply) => reply,
        // The uniqueName is taken: by our own create whose answer was lost (the POST was sent
        // again after a dropped connection or a 5xx), or by someone else since we looked.
        Err(e) if e.status() == Some(400) && e.message.contains("uniqueName") => {
            let mut group = graph(ctx, needs::READ, Method::GET, &by_name(ctx), None, false)
                .await?
                .body;
            let id = group["id"].as_str().unwrap_or_default().to_string();
            group["memberIds"] = ids_of(ctx, &id, "members").await?;
            group["ownerIds"] = ids_of(ctx, &id, "owners").await?;
            if !managed(ctx, &group) {
                return Err(refuse_foreign(ctx, &group));
            }
            return update(ctx, &group).await;
        }
        Err(e) => return Err(e.into()),
    };
    let Some(id) = reply.body["id"].as_str().map(str::to_string) else {
        return Err(ResourceError::Other(format!(
            "Graph did not return the id of group {}",
            ctx.env.group_unique_name
        )));
    };
    add_members(ctx, &id, &members[bound..]).await?;
    Ok(outputs(id).into())
}

async fn update(ctx: &Ctx, group: &Value) -> Result<Applied> {
    let id = group["id"].as_str().unwrap_or_default().to_string();
    let mut patch = serde_json::Map::new();
    for (field, want) in [
        ("displayName", json!(ctx.env.group_display_name)),
        ("description", json!(marker(ctx))),
        ("securityEnabled", json!(true)),
    ] {
        if group[field] != want {
            patch.insert(field.into(), want);
        }
    }
    if !patch.is_empty() {
        graph(
            ctx,
            needs::WRITE,
            Method::PATCH,
            &format!("/groups/{id}"),
            Some(&Value::Object(patch)),
            false,
        )
        .await?;
    }
    let present = present_members(group);
    let missing: Vec<String> = wanted_members(ctx)
        .into_iter()
        .filter(|m| !present.contains(m))
        .collect();
    check_listed(ctx, &missing).await?;
    add_members(ctx, &id, &missing).await?;
    Ok(outputs(id).into())
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
            let mut group =
                match graph(ctx, needs::READ, Method::GET, &by_name(ctx), None, false).await {
                    Ok(reply) => reply.body,
                    Err(e) if e.is_not_found() => return Ok(Read::absent()),
                    Err(e) => return Err(e.into()),
                };
            let id = group["id"].as_str().unwrap_or_default().to_string();
            group["memberIds"] = ids_of(ctx, &id, "members").await?;
            // Owners only matter when the description no longer says whose it is.
            if !marked(ctx, &group) {
                group["ownerIds"] = ids_of(ctx, &id, "owners").await?;
            }
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
        if !managed(ctx, group) {
            return Diff {
                action: Action::Update {
                    changes: vec![Change {
                        property: "owner".into(),
                        live: json!(format!("not environment {}", ctx.env.name)),
                        desired: json!("refused: choose another [security_group] unique_name, or set adopt = true"),
                    }],
                },
                notices: vec![refuse_foreign(ctx, group).to_string()],
            };
        }
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
        let present = present_members(group);
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
            match live.body() {
                None => create(ctx).await,
                Some(group) if !managed(ctx, group) => Err(refuse_foreign(ctx, group)),
                Some(group) => update(ctx, group).await,
            }
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
            if !is_ours(ctx, group) {
                return Ok(Deletion::Kept(
                    "neither its description nor its owners mark it as provision's for this environment".into(),
                ));
            }
            match graph(
                ctx,
                needs::WRITE,
                Method::DELETE,
                &format!("/groups/{}", group["id"].as_str().unwrap_or_default()),
                None,
                false,
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

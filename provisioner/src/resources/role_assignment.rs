//! Role assignments. Names are UUIDv5 of (scope, role, principal), so a re-run never meets
//! RoleAssignmentExists. A new principal may be unknown to ARM for a while: principalType is always
//! sent, and PrincipalNotFound is retried only while Graph confirms the principal exists.

use reqwest::Method;
use super::storage_account::AccountRole;
use super::{Action, Change, Ctx, Live, Resource, ResourceError, Result};
use crate::arm::models;
use crate::arm::versions::AUTHORIZATION;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::time::Instant;

pub const BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
pub const BLOB_DATA_OWNER: &str = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
pub const QUEUE_DATA_CONTRIBUTOR: &str = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
pub const ACCOUNT_CONTRIBUTOR: &str = "17d1049b-9a84-46fb-8f53-869881c3d3ab";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Group,
    FunctionApp,
}

#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Account(AccountRole),
}

pub struct RoleAssignment {
    pub principal: Principal,
    pub scope: Scope,
    pub role: &'static str,
    pub why: &'static str,
}

fn role_label(role: &str) -> &'static str {
    match role {
        BLOB_DATA_CONTRIBUTOR => "blob-contributor",
        BLOB_DATA_OWNER => "blob-owner",
        QUEUE_DATA_CONTRIBUTOR => "queue-contributor",
        ACCOUNT_CONTRIBUTOR => "account-contributor",
        _ => "role",
    }
}

/// Bicep's `guid()` idea: the same inputs always give the same assignment name.
pub fn assignment_name(scope: &str, role: &str, principal: &str) -> String {
    let input = format!(
        "{}|{}|{}",
        scope.to_ascii_lowercase(),
        role.to_ascii_lowercase(),
        principal.to_ascii_lowercase()
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, input.as_bytes()).to_string()
}

impl RoleAssignment {
    fn scope_id(&self, ctx: &Ctx) -> String {
        match self.scope {
            Scope::Account(role) => role.id(ctx),
        }
    }
    fn principal_id(&self, ctx: &Ctx) -> Option<String> {
        let o = ctx.outputs();
        match self.principal {
            Principal::Group => o.group_id,
            Principal::FunctionApp => o.site_principal_id,
        }
    }
    fn principal_type(&self) -> &'static str {
        match self.principal {
            Principal::Group => "Group",
            Principal::FunctionApp => "ServicePrincipal",
        }
    }
    fn path(&self, ctx: &Ctx, principal: &str) -> String {
        let scope = self.scope_id(ctx);
        format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTHORIZATION}", assignment_name(&scope, self.role, principal))
    }
    fn role_definition(&self, ctx: &Ctx) -> String {
        format!(
            "{}/providers/Microsoft.Authorization/roleDefinitions/{}",
            ctx.subscription_path(),
            self.role
        )
    }

    async fn principal_exists(&self, ctx: &Ctx, principal: &str) -> Result<bool> {
        match ctx
            .azure
            .graph(Method::GET, &format!("/directoryObjects/{principal}"), None, &[])
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

impl Resource for RoleAssignment {
    fn key(&self) -> String {
        let who = match self.principal {
            Principal::Group => "group",
            Principal::FunctionApp => "function-app",
        };
        let Scope::Account(account) = self.scope;
        format!("role:{who}:{}:{}", account.label(), role_label(self.role))
    }
    fn kind(&self) -> &'static str {
        "role assignment"
    }
    fn name(&self, ctx: &Ctx) -> String {
        let Scope::Account(account) = self.scope;
        format!(
            "{} on {} ({})",
            role_label(self.role),
            account.account_name(ctx),
            self.why
        )
    }
    fn depends_on(&self) -> Vec<String> {
        let Scope::Account(account) = self.scope;
        let principal = match self.principal {
            Principal::Group => "security-group",
            Principal::FunctionApp => "function-app",
        };
        vec![account.key(), principal.into()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            let Some(principal) = self.principal_id(ctx) else {
                return Ok(Live::Absent);
            };
            super::read_arm(ctx, self.path(ctx, &principal)).await
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        let Some(body) = live.body() else {
            return Action::Create;
        };
        let live_role = body
            .pointer("/properties/roleDefinitionId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !live_role.to_ascii_lowercase().ends_with(self.role) {
            return Action::Update {
                changes: vec![Change {
                    property: "properties.roleDefinitionId".into(),
                    live: json!(live_role),
                    desired: json!(self.role_definition(ctx)),
                }],
            };
        }
        Action::Noop
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, _live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let principal = self.principal_id(ctx).ok_or_else(|| {
                ResourceError::Other(format!(
                    "{}: the principal's object id is unknown (its resource was not created)",
                    self.key()
                ))
            })?;
            let body = models::role_assignment(
                &self.role_definition(ctx),
                &principal,
                self.principal_type(),
                &format!("provision: {}", self.why),
            );
            let started = Instant::now();
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                match ctx
                    .azure
                    .put(&self.path(ctx, &principal), &body)
                    .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) if e.status == 409 && e.code == "RoleAssignmentExists" => {
                        ctx.update(|o| {
                            o.notices.push(format!(
                                "{}: already granted under another assignment name; adopted as is",
                                self.key()
                            ))
                        });
                        return Ok(());
                    }
                    Err(e) if e.code == "PrincipalNotFound" => {
                        if !self.principal_exists(ctx, &principal).await? {
                            return Err(ResourceError::Other(format!("{}: principal {principal} does not exist in the directory; nothing to wait for", self.key())));
                        }
                        if started.elapsed() > ctx.azure.retry.principal_wait {
                            return Err(e.into());
                        }
                        let wait =
                            std::time::Duration::from_millis(500 * u64::from(attempt.min(20)));
                        (ctx.azure.notify)(format!("{}: principal {principal} not replicated to ARM yet; retrying in {:.1}s", self.key(), wait.as_secs_f64()));
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            if live.body().is_none() {
                return Ok(true);
            }
            let Some(principal) = self.principal_id(ctx) else {
                return Ok(true);
            };
            ctx.azure.delete(&self.path(ctx, &principal)).await?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_stable_guids_of_scope_role_and_principal() {
        let a = super::assignment_name("/subscriptions/s/rg/x", super::BLOB_DATA_OWNER, "p1");
        assert_eq!(
            a,
            super::assignment_name("/SUBSCRIPTIONS/s/rg/x", super::BLOB_DATA_OWNER, "P1")
        );
        assert_ne!(
            a,
            super::assignment_name("/subscriptions/s/rg/x", super::BLOB_DATA_OWNER, "p2")
        );
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}

//! Role assignments. Names are UUIDv5 of (scope, role, principal), so a re-run of ours never meets
//! RoleAssignmentExists. An equivalent assignment made by hand, by the portal or by the Terraform
//! original (same scope, role and principal, another name) is adopted: the read finds it when ours
//! is absent, so the next run sends no write and `drift` is clean. A new principal may be unknown
//! to ARM for a while: principalType is always sent, and PrincipalNotFound is retried only while
//! Graph confirms the principal exists.

use super::compare::read_arm;
use super::storage_account::AccountRole;
use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use crate::arm::models;
use crate::arm::versions::AUTHORIZATION;
use crate::arm::{ArmError, Class};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};

const PRINCIPAL_NOT_FOUND: &str = "PrincipalNotFound";

/// PrincipalNotFound for a principal Graph knows: ARM has not caught up yet.
fn not_replicated_yet(e: &ArmError) -> Option<Class> {
    (e.code == PRINCIPAL_NOT_FOUND).then_some(Class::Propagating)
}

/// Who is granted a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// The Entra security group.
    Group,
    /// The function app's system-assigned identity.
    FunctionApp,
}

impl Principal {
    pub fn label(self) -> &'static str {
        match self {
            Principal::Group => "group",
            Principal::FunctionApp => "function-app",
        }
    }
    fn key(self) -> Key {
        match self {
            Principal::Group => Key::SecurityGroup,
            Principal::FunctionApp => Key::FunctionApp,
        }
    }
    fn principal_type(self) -> &'static str {
        match self {
            Principal::Group => "Group",
            Principal::FunctionApp => "ServicePrincipal",
        }
    }
    fn object_id(self, inputs: &Outputs) -> Option<&str> {
        match self {
            Principal::Group => inputs.group_id.as_deref(),
            Principal::FunctionApp => inputs.site_principal_id.as_deref(),
        }
    }
}

/// The built-in roles we grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleDefinition {
    BlobDataContributor,
    BlobDataOwner,
    QueueDataContributor,
    AccountContributor,
}

impl RoleDefinition {
    /// The built-in role's id, the same in every tenant.
    pub fn guid(self) -> &'static str {
        match self {
            RoleDefinition::BlobDataContributor => "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
            RoleDefinition::BlobDataOwner => "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
            RoleDefinition::QueueDataContributor => "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
            RoleDefinition::AccountContributor => "17d1049b-9a84-46fb-8f53-869881c3d3ab",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            RoleDefinition::BlobDataContributor => "blob-contributor",
            RoleDefinition::BlobDataOwner => "blob-owner",
            RoleDefinition::QueueDataContributor => "queue-contributor",
            RoleDefinition::AccountContributor => "account-contributor",
        }
    }
}

pub struct RoleAssignment {
    pub principal: Principal,
    pub account: AccountRole,
    pub role: RoleDefinition,
    pub why: &'static str,
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
    fn path(&self, ctx: &Ctx, principal: &str) -> String {
        let scope = self.account.id(ctx);
        format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTHORIZATION}",
            assignment_name(&scope, self.role.guid(), principal)
        )
    }
    fn role_definition(&self, ctx: &Ctx) -> String {
        format!(
            "{}/providers/Microsoft.Authorization/roleDefinitions/{}",
            ctx.subscription_path(),
            self.role.guid()
        )
    }
    fn principal_id(&self, inputs: &Outputs) -> Result<String> {
        self.principal
            .object_id(inputs)
            .map(str::to_string)
            .ok_or_else(|| {
                ResourceError::Other(format!(
                    "{}: the principal's object id is unknown (its resource was not created)",
                    self.key()
                ))
            })
    }

    /// An assignment at exactly this scope of this role to this principal, whatever its name.
    async fn equivalent(&self, ctx: &Ctx, principal: &str) -> Result<Option<Value>> {
        let scope = self.account.id(ctx);
        let filter = format!("principalId eq '{principal}'");
        let filter: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let listing = ctx
            .azure
            .get(&format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHORIZATION}&$filter={filter}"
            ))
            .await?
            .unwrap_or(Value::Null);
        let role = self.role.guid();
        Ok(listing["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| {
                let text = |p: &str| a.pointer(p).and_then(Value::as_str).unwrap_or_default();
                text("/properties/scope").eq_ignore_ascii_case(&scope)
                    && text("/properties/principalId").eq_ignore_ascii_case(principal)
                    && text("/properties/roleDefinitionId")
                        .to_ascii_lowercase()
                        .ends_with(role)
            })
            .cloned())
    }

    async fn principal_exists(&self, ctx: &Ctx, principal: &str) -> Result<bool> {
        match ctx
            .azure
            .graph(
                Method::GET,
                &format!("/directoryObjects/{principal}"),
                None,
                &[],
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

impl Resource for RoleAssignment {
    fn key(&self) -> Key {
        Key::Role {
            principal: self.principal,
            account: self.account,
            role: self.role,
        }
    }
    fn kind(&self) -> &'static str {
        "role assignment"
    }
    fn name(&self, ctx: &Ctx) -> String {
        format!(
            "{} on {} ({})",
            self.role.label(),
            self.account.account_name(ctx),
            self.why
        )
    }
    fn depends_on(&self) -> Vec<Key> {
        vec![self.account.key(), self.principal.key()]
    }
    fn contained_in(&self) -> Option<Key> {
        Some(self.account.key())
    }
    fn read_needs(&self) -> Vec<Key> {
        vec![self.principal.key()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            // No principal yet: nothing can be assigned to it.
            let Some(principal) = self.principal.object_id(inputs) else {
                return Ok(Read::absent());
            };
            let live = match read_arm(ctx, &self.path(ctx, principal)).await? {
                Live::Absent => match self.equivalent(ctx, principal).await? {
                    Some(adopted) => Live::Present(adopted),
                    None => Live::Absent,
                },
                present => present,
            };
            Ok(Read {
                live,
                outputs: Outputs::default(),
            })
        })
    }
    fn diff(&self, ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        let Some(body) = live.body() else {
            return Action::Create.into();
        };
        let live_role = body
            .pointer("/properties/roleDefinitionId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !live_role.to_ascii_lowercase().ends_with(self.role.guid()) {
            return Action::Update {
                changes: vec![Change {
                    property: "properties.roleDefinitionId".into(),
                    live: json!(live_role),
                    desired: json!(self.role_definition(ctx)),
                }],
            }
            .into();
        }
        Action::Noop.into()
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        inputs: &'a Outputs,
        _live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            let principal = self.principal_id(inputs)?;
            let body = models::role_assignment(
                &self.role_definition(ctx),
                &principal,
                self.principal.principal_type(),
                &format!("provision: {}", self.why),
            );
            let path = self.path(ctx, &principal);
            match ctx.azure.put(&path, &body).await {
                Ok(_) => Ok(Applied::default()),
                // Granted already under another name (made by hand, by the portal or by
                // Terraform): the same grant, so it is adopted, and the next read finds it.
                Err(e) if e.is(409, "RoleAssignmentExists") => Ok(Applied {
                    outputs: Outputs::default(),
                    notices: vec![adopted_notice(self, &e.message)],
                }),
                Err(e) if e.code == PRINCIPAL_NOT_FOUND => {
                    if !self.principal_exists(ctx, &principal).await? {
                        return Err(ResourceError::Other(format!("{}: principal {principal} does not exist in the directory; nothing to wait for", self.key())));
                    }
                    // A new identity: ARM learns of it within minutes; the retry policy waits.
                    ctx.azure
                        .write(Method::PUT, &path, &body, &not_replicated_yet)
                        .await?;
                    Ok(Applied::default())
                }
                Err(e) => Err(e.into()),
            }
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move {
            if live.body().is_none() {
                return Ok(Deletion::Deleted);
            }
            let Some(principal) = self.principal.object_id(inputs) else {
                return Ok(Deletion::Deleted);
            };
            // An adopted assignment goes by its own id.
            let path = match live.body().and_then(|b| b["id"].as_str()) {
                Some(id) => format!("{id}?api-version={AUTHORIZATION}"),
                None => self.path(ctx, principal),
            };
            ctx.azure.delete(&path).await?;
            Ok(Deletion::Deleted)
        })
    }
}

fn adopted_notice(assignment: &RoleAssignment, azure_message: &str) -> String {
    format!(
        "{}: already granted by an assignment made outside provision ({}); adopted, it counts as this grant from now on",
        assignment.key(),
        azure_message.trim_end_matches('.')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_guids_of_scope_role_and_principal() {
        let owner = RoleDefinition::BlobDataOwner.guid();
        let a = assignment_name("/subscriptions/s/rg/x", owner, "p1");
        assert_eq!(a, assignment_name("/SUBSCRIPTIONS/s/rg/x", owner, "P1"));
        assert_ne!(a, assignment_name("/subscriptions/s/rg/x", owner, "p2"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}

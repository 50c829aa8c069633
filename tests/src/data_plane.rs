//! Who may do what on the storage data plane, as Azure decides it and Azurite cannot:
//!
//! - an Entra token is checked against the data roles of its principal (directly or through a
//!   group it is a member of) at the account or container scope. A role assignment takes effect
//!   `data_role_delay_s` after it was created (403 `AuthorizationPermissionMismatch` until then:
//!   terraform-provider-azurerm#6934, azure-rest-api-specs#9467);
//! - a SAS bound to a stored access policy set less than `access_policy_delay_s` ago answers 403
//!   `AuthenticationFailed` (Set Container ACL: a new policy "may take up to 30 seconds to take
//!   effect").
//!
//! The same role rule serves the emulated Functions host, whose managed identity reads its package
//! and storage through it.

use crate::azurite::{Gate, GateRequest, Verdict};
use crate::state::{lock, AppState, Shared};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::time::Instant;

pub const READ_ROLES: &[&str] = &[
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", // Storage Blob Data Reader
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe", // Storage Blob Data Contributor
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", // Storage Blob Data Owner
];
pub const WRITE_ROLES: &[&str] = &[
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
];

/// The gate the account proxies ask; holds the state weakly (the state owns the proxies).
pub fn gate(state: &Shared) -> Arc<dyn Gate> {
    Arc::new(DataPlane {
        state: Arc::downgrade(state),
        policies: Mutex::new(HashMap::new()),
    })
}

struct DataPlane {
    state: Weak<AppState>,
    /// (account, container, policy id) -> when a container ACL first carried it.
    policies: Mutex<HashMap<(String, String, String), Instant>>,
}

/// The ARM id of the account named `account`.
pub fn account_scope(state: &Shared, account: &str) -> Option<String> {
    lock(&state.cloud)
        .resources
        .values()
        .find(|r| {
            r.kind == "Microsoft.Storage/storageAccounts"
                && r.body["name"].as_str() == Some(account)
        })
        .map(|r| r.id.clone())
}

/// Whether `principal` holds one of `roles` at `scope` (or above it), directly or through a
/// group, by an assignment old enough to have taken effect.
pub fn role_effective(
    state: &Shared,
    principal: Option<&str>,
    scope: &str,
    roles: &[&str],
) -> bool {
    let Some(principal) = principal else {
        return false;
    };
    let behaviours = state.cfg().behaviours;
    let delay = if behaviours.data_role_delay {
        state.cfg().scaled(behaviours.data_role_delay_s)
    } else {
        std::time::Duration::ZERO
    };
    let scope = scope.to_ascii_lowercase();
    let cloud = lock(&state.cloud);
    let holders: Vec<&str> = std::iter::once(principal)
        .chain(
            cloud
                .directory
                .values()
                .filter(|o| o.principal_type == "Group" && o.members.iter().any(|m| m == principal))
                .map(|o| o.id.as_str()),
        )
        .collect();
    let now = chrono::Utc::now();
    cloud.resources.values().any(|r| {
        let props = &r.body["properties"];
        let text = |name: &str| props.get(name).and_then(Value::as_str).unwrap_or_default();
        r.kind == "Microsoft.Authorization/roleAssignments"
            && holders.contains(&text("principalId"))
            && roles.iter().any(|g| text("roleDefinitionId").ends_with(g))
            && {
                let s = text("scope").to_ascii_lowercase();
                !s.is_empty() && (scope == s || scope.starts_with(&format!("{s}/")))
            }
            && chrono::DateTime::parse_from_rfc3339(text("createdOn")).map_or(true, |created| {
                let age = now.signed_duration_since(created);
                age.to_std().is_ok_and(|age| age >= delay)
            })
    })
}

fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn policy_ids(xml: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(xml)
        .split("<Id>")
        .skip(1)
        .filter_map(|s| s.split("</Id>").next())
        .map(str::to_string)
        .collect()
}

impl DataPlane {
    fn note_policies(&self, account: &str, container: &str, body: &[u8]) {
        let mut policies = crate::sync::lock(&self.policies);
        for id in policy_ids(body) {
            policies
                .entry((account.to_string(), container.to_string(), id))
                .or_insert_with(Instant::now);
        }
    }

    fn policy_age(&self, account: &str, container: &str, id: &str) -> Option<std::time::Duration> {
        crate::sync::lock(&self.policies)
            .get(&(account.to_string(), container.to_string(), id.to_string()))
            .map(Instant::elapsed)
    }
}

fn refuse(status: u16, code: &str, message: &str) -> Verdict {
    Verdict::Refuse {
        status,
        code: code.into(),
        message: message.into(),
    }
}

impl Gate for DataPlane {
    fn admit(&self, account: &str, request: &GateRequest<'_>) -> Verdict {
        let Some(state) = self.state.upgrade() else {
            return Verdict::Forward;
        };
        let mut segments = request.path.trim_start_matches('/').splitn(3, '/');
        let _account = segments.next();
        let container = segments.next().unwrap_or_default().to_string();
        let acl = query_value(request.query, "comp") == Some("acl")
            && query_value(request.query, "restype") == Some("container");
        if acl && request.method == "PUT" {
            self.note_policies(account, &container, request.body);
        }
        if query_value(request.query, "sig").is_some() {
            let behaviours = state.cfg().behaviours;
            if let Some(id) =
                query_value(request.query, "si").filter(|_| behaviours.access_policy_delay)
            {
                let id = url::form_urlencoded::parse(format!("x={id}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let window = state.cfg().scaled(behaviours.access_policy_delay_s);
                if self
                    .policy_age(account, &container, &id)
                    .is_some_and(|age| age < window)
                {
                    return refuse(
                        403,
                        "AuthenticationFailed",
                        "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. (The stored access policy the signature names has not taken effect yet.)",
                    );
                }
            }
            return Verdict::Forward;
        }
        let Some(bearer) = request
            .authorization
            .filter(|a| a.starts_with("Bearer ") || a.starts_with("bearer "))
        else {
            return Verdict::Forward;
        };
        let claims = match state
            .signer
            .verify(Some(bearer), crate::token::STORAGE_AUDIENCES)
        {
            Ok(claims) => claims,
            Err(e) => {
                return refuse(
                    401,
                    "InvalidAuthenticationInfo",
                    &format!("Server failed to authenticate the request. Please refer to the information in the www-authenticate header. ({e:?})"),
                )
            }
        };
        let Some(scope) = account_scope(&state, account) else {
            return refuse(
                404,
                "ResourceNotFound",
                "The specified resource does not exist.",
            );
        };
        let scope = if container.is_empty() {
            scope
        } else {
            format!("{scope}/blobServices/default/containers/{container}")
        };
        let roles = if matches!(request.method, "GET" | "HEAD") {
            READ_ROLES
        } else {
            WRITE_ROLES
        };
        if role_effective(&state, Some(&claims.oid), &scope, roles) {
            Verdict::ForwardSigned
        } else {
            refuse(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_ids_come_from_the_acl_body() {
        let body = b"<?xml version=\"1.0\"?><SignedIdentifiers><SignedIdentifier><Id>a-1</Id></SignedIdentifier><SignedIdentifier><Id>b</Id></SignedIdentifier></SignedIdentifiers>";
        assert_eq!(policy_ids(body), vec!["a-1".to_string(), "b".to_string()]);
        assert_eq!(
            query_value("restype=container&comp=acl", "comp"),
            Some("acl")
        );
        assert_eq!(query_value("sv=1&si=x&sig=y", "si"), Some("x"));
        assert_eq!(query_value("sv=1", "si"), None);
    }
}

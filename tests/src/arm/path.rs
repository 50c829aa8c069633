//! ARM URL paths, parsed once: `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}/...`.

use crate::error::ArmError;

#[derive(Debug, Clone)]
pub enum Target {
    Provider {
        namespace: String,
        register: bool,
    },
    SubscriptionAction {
        namespace: String,
        action: String,
    },
    Operation {
        namespace: String,
        kind: String,
        id: String,
    },
    /// `GET /subscriptions/{sub}/resourcegroups`.
    ResourceGroupList,
    ResourceGroup {
        name: String,
    },
    ResourceGroupResources {
        name: String,
    },
    RoleAssignment {
        scope: String,
        name: String,
    },
    RoleAssignmentList {
        scope: String,
    },
    RoleDefinition {
        id: String,
    },
    Resource {
        namespace: String,
        types: Vec<(String, String)>,
        action: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ResourcePath {
    pub subscription: String,
    pub resource_group: Option<String>,
    pub target: Target,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn not_found(segments: &[String]) -> ArmError {
    ArmError::not_found(
        "NotFound",
        format!(
            "No HTTP resource was found that matches the request URI '/{}'.",
            segments.join("/")
        ),
    )
}

impl ResourcePath {
    pub fn parse(segments: &[String]) -> Result<Self, ArmError> {
        if segments.len() < 2 || !eq(&segments[0], "subscriptions") {
            return Err(not_found(segments));
        }
        let subscription = segments[1].clone();
        let rest = &segments[2..];
        let resource_group = match rest {
            [rg, name, ..] if eq(rg, "resourcegroups") => Some(name.clone()),
            _ => None,
        };
        if let Some(i) = (0..rest.len().saturating_sub(2)).find(|&i| {
            eq(&rest[i], "providers")
                && eq(&rest[i + 1], "Microsoft.Authorization")
                && eq(&rest[i + 2], "roleAssignments")
        }) {
            let scope = format!("/{}", segments[..i + 2].join("/"));
            let target = match rest.get(i + 3) {
                Some(name) => Target::RoleAssignment {
                    scope,
                    name: name.clone(),
                },
                None => Target::RoleAssignmentList { scope },
            };
            return Ok(Self {
                subscription,
                resource_group,
                target,
            });
        }
        let target = match rest {
            [p, ns, rd, id]
                if eq(p, "providers")
                    && eq(ns, "Microsoft.Authorization")
                    && eq(rd, "roleDefinitions") =>
            {
                Target::RoleDefinition { id: id.clone() }
            }
            [p, ns, l, _loc, kind, id] if eq(p, "providers") && eq(l, "locations") => {
                Target::Operation {
                    namespace: ns.clone(),
                    kind: kind.to_ascii_lowercase(),
                    id: id.clone(),
                }
            }
            [o, id] if eq(o, "operationresults") => Target::Operation {
                namespace: "Microsoft.Resources".into(),
                kind: "operationresults".into(),
                id: id.clone(),
            },
            [p, ns] if eq(p, "providers") => Target::Provider {
                namespace: ns.clone(),
                register: false,
            },
            [p, ns, r] if eq(p, "providers") && eq(r, "register") => Target::Provider {
                namespace: ns.clone(),
                register: true,
            },
            [p, ns, action] if eq(p, "providers") => Target::SubscriptionAction {
                namespace: ns.clone(),
                action: action.clone(),
            },
            [rg] if eq(rg, "resourcegroups") => Target::ResourceGroupList,
            [rg, name] if eq(rg, "resourcegroups") => Target::ResourceGroup { name: name.clone() },
            [rg, name, r] if eq(rg, "resourcegroups") && eq(r, "resources") => {
                Target::ResourceGroupResources { name: name.clone() }
            }
            [rg, _, p, ns, tail @ ..]
                if eq(rg, "resourcegroups") && eq(p, "providers") && !tail.is_empty() =>
            {
                let mut types = Vec::new();
                let mut chunks = tail.chunks(2);
                let mut action = None;
                for chunk in &mut chunks {
                    match chunk {
                        [t, n] => types.push((t.clone(), n.clone())),
                        [a] => action = Some(a.clone()),
                        _ => {}
                    }
                }
                Target::Resource {
                    namespace: ns.clone(),
                    types,
                    action,
                }
            }
            _ => return Err(not_found(segments)),
        };
        Ok(Self {
            subscription,
            resource_group,
            target,
        })
    }

    pub fn namespace(&self) -> &str {
        match &self.target {
            Target::Provider { namespace, .. }
            | Target::SubscriptionAction { namespace, .. }
            | Target::Operation { namespace, .. }
            | Target::Resource { namespace, .. } => namespace,
            Target::ResourceGroupList
            | Target::ResourceGroup { .. }
            | Target::ResourceGroupResources { .. } => "Microsoft.Resources",
            Target::RoleAssignment { .. }
            | Target::RoleAssignmentList { .. }
            | Target::RoleDefinition { .. } => "Microsoft.Authorization",
        }
    }

    pub fn rg(&self) -> &str {
        self.resource_group.as_deref().unwrap_or_default()
    }

    /// The id of the resource this path names, with canonical type casing, up to `depth` type/name pairs.
    pub fn resource_id(&self, depth: usize) -> String {
        let Target::Resource {
            namespace, types, ..
        } = &self.target
        else {
            return String::new();
        };
        let mut id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{}",
            self.subscription,
            self.rg(),
            canonical(namespace)
        );
        for (t, n) in types.iter().take(depth) {
            id.push_str(&format!("/{}/{}", canonical(t), n));
        }
        id
    }

    /// `Microsoft.Storage/storageAccounts/blobServices/containers` for the full path.
    pub fn resource_type(&self) -> String {
        match &self.target {
            Target::Resource {
                namespace, types, ..
            } => {
                let mut t = canonical(namespace).to_string();
                for (ty, _) in types {
                    t.push('/');
                    t.push_str(canonical(ty));
                }
                t
            }
            _ => String::new(),
        }
    }

    /// The (lower-cased) type names after the namespace, and the action if any.
    pub fn shape(&self) -> (Vec<String>, Option<String>) {
        match &self.target {
            Target::Resource { types, action, .. } => (
                types.iter().map(|(t, _)| t.to_ascii_lowercase()).collect(),
                action.as_ref().map(|a| a.to_ascii_lowercase()),
            ),
            _ => (vec![], None),
        }
    }

    pub fn names(&self) -> Vec<String> {
        match &self.target {
            Target::Resource { types, .. } => types.iter().map(|(_, n)| n.clone()).collect(),
            _ => vec![],
        }
    }
}

/// Azure's own casing for the namespaces and types we serve.
pub fn canonical(segment: &str) -> &str {
    const KNOWN: &[&str] = &[
        "Microsoft.Storage",
        "storageAccounts",
        "blobServices",
        "containers",
        "Microsoft.Web",
        "serverfarms",
        "sites",
        "config",
        "host",
        "Microsoft.Insights",
        "components",
        "Microsoft.OperationalInsights",
        "workspaces",
        "Microsoft.EventGrid",
        "systemTopics",
        "eventSubscriptions",
        "Microsoft.Authorization",
        "roleAssignments",
        "Microsoft.Resources",
        "resourceGroups",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(segment))
        .copied()
        .unwrap_or(segment)
}

pub fn resource_group_id(subscription: &str, rg: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{rg}")
}

pub fn is_resource_group_id(id: &str) -> bool {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    parts.len() == 4 && eq(parts[2], "resourceGroups")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.trim_matches('/').split('/').map(str::to_string).collect()
    }

    #[test]
    fn parses_nested_resources_actions_and_scopes() {
        let p = ResourcePath::parse(&segs("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/raw")).expect("parse");
        assert_eq!(
            p.resource_type(),
            "Microsoft.Storage/storageAccounts/blobServices/containers"
        );
        assert_eq!(
            p.resource_id(1),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
        );
        let p = ResourcePath::parse(&segs("/subscriptions/s/resourcegroups/rg/providers/Microsoft.Web/sites/app/config/appsettings/list")).expect("parse");
        assert_eq!(
            p.shape(),
            (vec!["sites".into(), "config".into()], Some("list".into()))
        );
        let p = ResourcePath::parse(&segs("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/providers/Microsoft.Authorization/roleAssignments/g")).expect("parse");
        match p.target {
            Target::RoleAssignment { scope, name } => {
                assert_eq!(scope, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a");
                assert_eq!(name, "g");
            }
            other => panic!("unexpected {other:?}"),
        }
        let p = ResourcePath::parse(&segs("/subscriptions/s/resourceGroups")).expect("parse");
        assert!(matches!(p.target, Target::ResourceGroupList));
        assert_eq!(p.namespace(), "Microsoft.Resources");
        assert!(ResourcePath::parse(&segs("/subscriptions")).is_err());
        assert!(is_resource_group_id("/subscriptions/s/resourceGroups/rg"));
        assert!(!is_resource_group_id(
            "/subscriptions/s/resourceGroups/rg/providers/x/y/z"
        ));
    }
}

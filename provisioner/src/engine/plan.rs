//! The plan: a pure function of what was read. Each resource is compared with what we want, given
//! its dependencies' outputs; notes that are not drift come back with it.

use super::graph::Stack;
use super::observe::Observed;
use crate::resources::{Action, Ctx, Key};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub key: Key,
    pub kind: String,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub items: Vec<Planned>,
    /// Notes for the user that are not drift (app settings others set, ...), each once.
    pub notices: Vec<String>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|p| p.action.is_change())
    }
    pub fn action(&self, key: Key) -> Option<&Action> {
        self.items.iter().find(|p| p.key == key).map(|p| &p.action)
    }
}

pub fn plan(ctx: &Ctx, stack: &Stack, observed: &Observed) -> Plan {
    let mut plan = Plan::default();
    for (i, r) in stack.resources.iter().enumerate() {
        let diff = r.diff(ctx, &observed.inputs(stack, i), observed.live(r.key()));
        for n in diff.notices {
            if !plan.notices.contains(&n) {
                plan.notices.push(n);
            }
        }
        plan.items.push(Planned {
            key: r.key(),
            kind: r.kind().to_string(),
            name: r.name(ctx),
            action: diff.action,
        });
    }
    plan
}

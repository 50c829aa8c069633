//! Dependency ordering over resource keys: levels for reads, a ready set for applies.

use crate::resources::Resource;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("resource {0} depends on {1}, which is not part of the environment")]
    Unknown(String, String),
    #[error("resources depend on each other in a cycle: {0}")]
    Cycle(String),
}

/// Groups resource indices into levels: every resource comes after all it depends on.
pub fn levels(resources: &[Box<dyn Resource>]) -> Result<Vec<Vec<usize>>, GraphError> {
    let index: BTreeMap<String, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key(), i))
        .collect();
    let mut deps: Vec<BTreeSet<usize>> = Vec::new();
    for r in resources {
        let mut set = BTreeSet::new();
        for d in r.depends_on() {
            let i = *index
                .get(&d)
                .ok_or_else(|| GraphError::Unknown(r.key(), d.clone()))?;
            set.insert(i);
        }
        deps.push(set);
    }
    let mut placed = BTreeSet::new();
    let mut out = Vec::new();
    while placed.len() < resources.len() {
        let level: Vec<usize> = (0..resources.len())
            .filter(|i| !placed.contains(i) && deps[*i].iter().all(|d| placed.contains(d)))
            .collect();
        if level.is_empty() {
            let stuck: Vec<String> = (0..resources.len())
                .filter(|i| !placed.contains(i))
                .map(|i| resources[i].key())
                .collect();
            return Err(GraphError::Cycle(stuck.join(", ")));
        }
        placed.extend(level.iter().copied());
        out.push(level);
    }
    Ok(out)
}

/// Everything `key` depends on, directly or not.
pub fn ancestors(resources: &[Box<dyn Resource>], key: &str) -> BTreeSet<String> {
    let by_key: BTreeMap<String, Vec<String>> = resources
        .iter()
        .map(|r| (r.key(), r.depends_on()))
        .collect();
    let mut out = BTreeSet::new();
    let mut stack = vec![key.to_string()];
    while let Some(k) = stack.pop() {
        for d in by_key.get(&k).cloned().unwrap_or_default() {
            if out.insert(d.clone()) {
                stack.push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env;

    #[test]
    fn the_environment_graph_has_no_cycle_and_respects_order() {
        let text = "subscription = \"00000000-0000-4000-8000-0000000000a1\"\ntenant = \"72f988bf-0000-4000-8000-00000000e001\"\nlocation = \"westeurope\"\nprefix = \"hero\"\n";
        let env = env::parse(text, std::path::Path::new("dev.toml")).expect("env");
        let resources = crate::resources::all(&env);
        let levels = levels(&resources).expect("acyclic");
        let level_of = |key: &str| {
            levels
                .iter()
                .position(|l| l.iter().any(|i| resources[*i].key() == key))
                .expect("placed")
        };
        assert!(level_of("resource-group") < level_of("storage:raw"));
        assert!(level_of("function-app") < level_of("role:function-app:raw:blob-owner"));
        assert!(level_of("function-package") < level_of("event-subscription"));
        assert!(ancestors(&resources, "event-subscription").contains("resource-group"));
    }
}

//! The environment's resources with their dependency graph: who waits for whom, and whose
//! outputs each resource is given.

use crate::resources::{Key, Outputs, Resource};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("resource {0} depends on {1}, which is not part of the environment")]
    Unknown(Key, Key),
    #[error("resource {0} appears twice")]
    Duplicate(Key),
    #[error("resources depend on each other in a cycle: {0}")]
    Cycle(String),
    #[error("resource {0} reads {1} first but does not depend on it")]
    ReadsUndeclared(Key, Key),
}

/// Resources and their dependencies, checked: every dependency known, no cycle.
pub struct Stack {
    pub resources: Vec<Box<dyn Resource>>,
    keys: Vec<Key>,
    index: BTreeMap<Key, usize>,
    prereqs: Vec<Vec<usize>>,
    read_prereqs: Vec<Vec<usize>>,
    ancestors: Vec<BTreeSet<usize>>,
}

impl Stack {
    pub fn new(resources: Vec<Box<dyn Resource>>) -> Result<Self, GraphError> {
        let keys: Vec<Key> = resources.iter().map(|r| r.key()).collect();
        let mut index = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            if index.insert(*k, i).is_some() {
                return Err(GraphError::Duplicate(*k));
            }
        }
        let mut prereqs = Vec::with_capacity(resources.len());
        for r in &resources {
            let mut deps = Vec::new();
            for d in r.depends_on() {
                deps.push(*index.get(&d).ok_or(GraphError::Unknown(r.key(), d))?);
            }
            prereqs.push(deps);
        }
        let mut stack = Self {
            resources,
            keys,
            index,
            prereqs,
            read_prereqs: Vec::new(),
            ancestors: Vec::new(),
        };
        let order = stack.topological()?;
        let mut ancestors = vec![BTreeSet::new(); stack.len()];
        for i in order {
            let mut all = BTreeSet::new();
            for &d in &stack.prereqs[i] {
                all.insert(d);
                all.extend(ancestors[d].iter().copied());
            }
            ancestors[i] = all;
        }
        stack.ancestors = ancestors;
        stack.read_prereqs = stack.read_order()?;
        Ok(stack)
    }

    /// What each resource's read waits for: its container and what its read uses, all of them
    /// among its dependencies, so the order has no cycle either.
    fn read_order(&self) -> Result<Vec<Vec<usize>>, GraphError> {
        let mut out = Vec::with_capacity(self.len());
        for (i, r) in self.resources.iter().enumerate() {
            let mut first = Vec::new();
            for k in r.contained_in().into_iter().chain(r.read_needs()) {
                let d = self
                    .position(k)
                    .filter(|d| self.ancestors[i].contains(d))
                    .ok_or(GraphError::ReadsUndeclared(r.key(), k))?;
                if !first.contains(&d) {
                    first.push(d);
                }
            }
            out.push(first);
        }
        Ok(out)
    }

    /// Only the resources `keep` names, with everything they depend on.
    pub fn subset(resources: Vec<Box<dyn Resource>>, keep: &[Key]) -> Result<Self, GraphError> {
        let full = Self::new(resources)?;
        let mut wanted = BTreeSet::new();
        for k in keep {
            if let Some(&i) = full.index.get(k) {
                wanted.insert(i);
                wanted.extend(full.ancestors[i].iter().copied());
            }
        }
        let kept = full
            .resources
            .into_iter()
            .enumerate()
            .filter(|(i, _)| wanted.contains(i))
            .map(|(_, r)| r)
            .collect();
        Self::new(kept)
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
    pub fn key(&self, i: usize) -> Key {
        self.keys[i]
    }
    pub fn position(&self, key: Key) -> Option<usize> {
        self.index.get(&key).copied()
    }
    /// Direct dependencies of `i`.
    pub fn prereqs(&self) -> &[Vec<usize>] {
        &self.prereqs
    }
    /// What must be read before `i` is: its container and what its read uses.
    pub fn read_prereqs(&self) -> &[Vec<usize>] {
        &self.read_prereqs
    }
    /// Direct dependents of each resource: the order deletes must wait for.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.len()];
        for (i, deps) in self.prereqs.iter().enumerate() {
            for &d in deps {
                out[d].push(i);
            }
        }
        out
    }
    pub fn ancestors(&self, i: usize) -> &BTreeSet<usize> {
        &self.ancestors[i]
    }
    /// What `i` is given: the outputs of everything it depends on, directly or not.
    pub fn inputs<'a>(
        &self,
        i: usize,
        outputs_of: impl Fn(usize) -> Option<&'a Outputs>,
    ) -> Outputs {
        overlaid(self.ancestors[i].iter().copied(), outputs_of)
    }

    /// What `i`'s read is given: the outputs of what it reads after, directly or not. Only
    /// those, so a read never sees outputs that happened to be read before it.
    pub fn read_inputs<'a>(
        &self,
        i: usize,
        outputs_of: impl Fn(usize) -> Option<&'a Outputs>,
    ) -> Outputs {
        let mut before = BTreeSet::new();
        let mut todo = self.read_prereqs[i].clone();
        while let Some(d) = todo.pop() {
            if before.insert(d) {
                todo.extend(self.read_prereqs[d].iter().copied());
            }
        }
        overlaid(before.into_iter(), outputs_of)
    }

    fn topological(&self) -> Result<Vec<usize>, GraphError> {
        Ok(self.levels()?.into_iter().flatten().collect())
    }

    /// Groups resources into levels: every resource comes after all it depends on.
    pub fn levels(&self) -> Result<Vec<Vec<usize>>, GraphError> {
        let mut placed = BTreeSet::new();
        let mut out = Vec::new();
        while placed.len() < self.len() {
            let level: Vec<usize> = (0..self.len())
                .filter(|i| {
                    !placed.contains(i) && self.prereqs[*i].iter().all(|d| placed.contains(d))
                })
                .collect();
            if level.is_empty() {
                let stuck: Vec<String> = (0..self.len())
                    .filter(|i| !placed.contains(i))
                    .map(|i| self.keys[i].to_string())
                    .collect();
                return Err(GraphError::Cycle(stuck.join(", ")));
            }
            placed.extend(level.iter().copied());
            out.push(level);
        }
        Ok(out)
    }
}

/// The outputs of `resources`, in index order, each laid over the ones before.
fn overlaid<'a>(
    resources: impl Iterator<Item = usize>,
    outputs_of: impl Fn(usize) -> Option<&'a Outputs>,
) -> Outputs {
    let mut all = Outputs::default();
    for o in resources.filter_map(outputs_of) {
        all.overlay(o);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env;
    use crate::resources::storage_account::AccountRole;

    fn stack() -> Stack {
        let text = "subscription = \"00000000-0000-4000-8000-0000000000a1\"\ntenant = \"72f988bf-0000-4000-8000-00000000e001\"\nlocation = \"westeurope\"\nprefix = \"hero\"\n";
        let env = env::parse(text, std::path::Path::new("dev.toml")).expect("env");
        Stack::new(crate::resources::all(&env)).expect("the environment's graph is valid")
    }

    #[test]
    fn the_environment_graph_has_no_cycle_and_respects_order() {
        let stack = stack();
        let levels = stack.levels().expect("acyclic");
        let level_of = |key: &str| {
            levels
                .iter()
                .position(|l| l.iter().any(|i| stack.key(*i).to_string() == key))
                .expect("placed")
        };
        assert!(level_of("resource-group") < level_of("storage:raw"));
        assert!(level_of("function-app") < level_of("role:function-app:raw:blob-owner"));
        assert!(level_of("function-package") < level_of("event-subscription"));
        let subscription = stack.position(Key::EventSubscription).expect("listed");
        let rg = stack.position(Key::ResourceGroup).expect("listed");
        assert!(stack.ancestors(subscription).contains(&rg));
    }

    #[test]
    fn a_subset_brings_what_it_depends_on_and_nothing_else() {
        let all = stack();
        let env = env::parse(
            "subscription = \"00000000-0000-4000-8000-0000000000a1\"\ntenant = \"72f988bf-0000-4000-8000-00000000e001\"\nlocation = \"westeurope\"\nprefix = \"hero\"\n",
            std::path::Path::new("dev.toml"),
        )
        .expect("env");
        let sub = Stack::subset(
            crate::resources::all(&env),
            &[Key::Storage(AccountRole::Functions)],
        )
        .expect("subset");
        let keys: Vec<String> = (0..sub.len()).map(|i| sub.key(i).to_string()).collect();
        assert_eq!(keys, ["resource-group", "storage:functions"]);
        assert!(all.len() > sub.len());
    }

    /// Reads wait for their container and what they use, not for every create before them.
    #[test]
    fn reads_wait_only_for_their_container_and_what_they_use() {
        let stack = stack();
        let read_before = |key: &str| -> Vec<String> {
            let i = (0..stack.len())
                .find(|i| stack.key(*i).to_string() == key)
                .expect("listed");
            let mut keys: Vec<String> = stack.read_prereqs()[i]
                .iter()
                .map(|d| stack.key(*d).to_string())
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(read_before("resource-group"), Vec::<String>::new());
        assert_eq!(read_before("function-app"), ["resource-group"]);
        assert_eq!(
            read_before("role:function-app:raw:blob-owner"),
            ["function-app", "storage:raw"]
        );
        assert_eq!(
            read_before("function-package"),
            ["function-app", "storage:functions"]
        );
        assert_eq!(read_before("event-subscription"), ["event-topic"]);
        // Longest chain of reads: group, then site or account, then what lives in them.
        let mut depth = vec![0usize; stack.len()];
        for level in stack.levels().expect("acyclic") {
            for i in level {
                depth[i] = 1 + stack.read_prereqs()[i]
                    .iter()
                    .map(|d| depth[*d])
                    .max()
                    .unwrap_or(0);
            }
        }
        assert_eq!(depth.iter().max(), Some(&3));
    }
}

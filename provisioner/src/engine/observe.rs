//! Reading live state (in dependency levels, reads within a level in parallel) and the plan.

use super::graph;
use crate::resources::{Action, Ctx, Live, Resource, ResourceError};
use futures::future::join_all;
use serde::Serialize;
use std::collections::BTreeMap;

pub type Observed = BTreeMap<String, Live>;

#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub key: String,
    pub kind: String,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Graph(#[from] graph::GraphError),
    #[error("reading {key}: {source}")]
    Read { key: String, source: ResourceError },
}

pub async fn observe(ctx: &Ctx, resources: &[Box<dyn Resource>]) -> Result<Observed, ObserveError> {
    let mut observed = Observed::new();
    for level in graph::levels(resources)? {
        let reads = level
            .iter()
            .map(|&i| async move { (resources[i].key(), resources[i].read(ctx).await) });
        for (key, result) in join_all(reads).await {
            let live = result.map_err(|source| ObserveError::Read {
                key: key.clone(),
                source,
            })?;
            observed.insert(key, live);
        }
    }
    Ok(observed)
}

pub fn plan(ctx: &Ctx, resources: &[Box<dyn Resource>], observed: &Observed) -> Vec<Planned> {
    resources
        .iter()
        .map(|r| {
            let live = observed.get(&r.key()).cloned().unwrap_or(Live::Absent);
            Planned {
                key: r.key(),
                kind: r.kind().to_string(),
                name: r.name(ctx),
                action: r.diff(ctx, &live),
            }
        })
        .collect()
}

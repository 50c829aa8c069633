//! Reading live state, once per resource: each read starts as soon as its container and the
//! resources whose outputs it uses are read (`Stack::read_prereqs`), not after every dependency, so
//! a converged environment is read in three rounds, not seven. A resource whose container (its resource group, account,
//! site, topic) is absent is absent too, and is not read.

use super::graph::{GraphError, Stack};
use super::schedule::{self, Step};
use crate::resources::{Ctx, Key, Live, Outputs, Read, ResourceError};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("reading {key}: {source}")]
    Read { key: Key, source: ResourceError },
}

/// What every resource of a stack looked like, with the outputs it reported.
#[derive(Debug, Clone, Default)]
pub struct Observed(BTreeMap<Key, Read>);

impl Observed {
    pub fn get(&self, key: Key) -> Option<&Read> {
        self.0.get(&key)
    }
    pub fn live(&self, key: Key) -> &Live {
        static ABSENT: Live = Live::Absent;
        self.0.get(&key).map_or(&ABSENT, |r| &r.live)
    }
    pub fn is_present(&self, key: Key) -> bool {
        self.live(key).body().is_some()
    }
    pub fn insert(&mut self, key: Key, read: Read) {
        self.0.insert(key, read);
    }
    pub fn outputs_mut(&mut self, key: Key) -> Option<&mut Outputs> {
        self.0.get_mut(&key).map(|r| &mut r.outputs)
    }
    /// Everything every resource reported (for `output` and the blob client).
    pub fn all_outputs(&self) -> Outputs {
        let mut all = Outputs::default();
        for read in self.0.values() {
            all.overlay(&read.outputs);
        }
        all
    }
    /// The inputs of resource `i` of `stack`: its ancestors' outputs.
    pub fn inputs(&self, stack: &Stack, i: usize) -> Outputs {
        stack.inputs(i, |a| self.get(stack.key(a)).map(|r| &r.outputs))
    }
}

/// Reads every resource of `stack` at most once.
pub async fn observe(
    ctx: &Ctx,
    stack: &Stack,
    parallelism: usize,
) -> Result<Observed, ObserveError> {
    type Outcome = Result<Read, Option<ObserveError>>;
    let results = schedule::run(
        stack.read_prereqs(),
        parallelism,
        |i, done: &[Option<Outcome>]| {
            let resource = &stack.resources[i];
            let result_of = |key: Key| stack.position(key).and_then(|p| done[p].as_ref());
            // A dependency that could not be read leaves this one unknown: no read.
            if stack.read_prereqs()[i]
                .iter()
                .any(|&d| matches!(done[d], Some(Err(_))))
            {
                return Step::Done(Err(None));
            }
            if let Some(container) = resource.contained_in() {
                if matches!(result_of(container), Some(Ok(r)) if r.live.body().is_none()) {
                    return Step::Done(Ok(Read::absent()));
                }
            }
            let inputs = stack.read_inputs(i, |a| match &done[a] {
                Some(Ok(read)) => Some(&read.outputs),
                _ => None,
            });
            Step::Run(Box::pin(async move {
                resource.read(ctx, &inputs).await.map_err(|source| {
                    Some(ObserveError::Read {
                        key: resource.key(),
                        source,
                    })
                })
            }))
        },
    )
    .await;
    let mut observed = Observed::default();
    let mut skipped = false;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Some(Ok(read)) => observed.insert(stack.key(i), read),
            Some(Err(Some(e))) => return Err(e),
            Some(Err(None)) | None => skipped = true,
        }
    }
    if skipped {
        return Err(GraphError::Cycle("some resources could not be ordered".into()).into());
    }
    Ok(observed)
}

//! The executor: applies a plan as a dependency graph with bounded parallelism, each resource as
//! soon as its own dependencies are done. Only what must be is read again, just before it is
//! applied: a resource whose dependency changed in this run (values such as an identity's principal
//! id only exist after a create), and, when the plan was made before the lock was taken, a
//! resource about to change. Deletes run dependents first.

use super::events::{Event, Reporter};
use super::gate::Gate;
use super::graph::Stack;
use super::observe::Observed;
use super::plan::Plan;
use super::schedule::{self, Step};
use crate::resources::{Action, Ctx, Deletion, Key, Outputs, Read};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplySummary {
    pub changed: Vec<Key>,
    pub unchanged: usize,
    pub failed: Vec<(Key, String)>,
    pub skipped: Vec<Key>,
    pub kept: Vec<Key>,
    pub notices: Vec<String>,
    pub seconds: f64,
}

impl ApplySummary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
    /// Adds a later step's summary to this one.
    pub fn absorb(&mut self, other: ApplySummary) {
        self.changed.extend(other.changed);
        self.unchanged += other.unchanged;
        self.failed.extend(other.failed);
        self.skipped.extend(other.skipped);
        self.kept.extend(other.kept);
        for n in other.notices {
            if !self.notices.contains(&n) {
                self.notices.push(n);
            }
        }
        self.seconds += other.seconds;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    Unchanged,
    Changed,
    Failed,
}

pub struct ApplyOptions<'g, 'r> {
    pub parallelism: usize,
    /// The plan was made before this process held the lock: read what is about to change again.
    pub reread_planned: bool,
    /// What a resource waits for before its first write (its namespaces' registration).
    pub gate: Option<&'g Gate<'r>>,
}

/// How one resource ended in an apply step.
struct Outcome {
    /// `None`: not part of this step.
    finish: Option<Finish>,
    /// What it looks like now, when this step read or changed it.
    read: Option<Read>,
    error: Option<String>,
    skipped: bool,
    notices: Vec<String>,
}

impl Outcome {
    fn finished(finish: Finish) -> Self {
        Self {
            finish: Some(finish),
            read: None,
            error: None,
            skipped: false,
            notices: Vec::new(),
        }
    }
    fn out_of_step() -> Self {
        Self {
            finish: None,
            ..Self::finished(Finish::Unchanged)
        }
    }
}

fn verb(action: &Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update { .. } => "updating",
        Action::Noop => "checking",
    }
}

fn done_verb(action: &Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update { .. } => "updated",
        Action::Noop => "checked",
    }
}

/// An apply in progress: what was observed, updated as resources are read and changed, and which
/// resources are done. Applied in steps (the lock's own home first, then the rest under the lock).
pub struct Progress {
    pub observed: Observed,
    finished: BTreeMap<Key, Finish>,
}

impl Progress {
    pub fn new(observed: Observed) -> Self {
        Self {
            observed,
            finished: BTreeMap::new(),
        }
    }

    /// Everything the resources read or applied so far reported.
    pub fn outputs(&self) -> Outputs {
        self.observed.all_outputs()
    }

    /// Applies the resources `in_step` selects (closed under dependencies: what they depend on
    /// is either selected or done in an earlier step).
    pub async fn apply(
        &mut self,
        ctx: &Ctx,
        stack: &Stack,
        plan: &Plan,
        in_step: &dyn Fn(Key) -> bool,
        options: &ApplyOptions<'_, '_>,
        reporter: Arc<dyn Reporter>,
    ) -> ApplySummary {
        let started = Instant::now();
        let (observed, finished) = (&self.observed, &self.finished);
        let outcomes = schedule::run(
            stack.prereqs(),
            options.parallelism,
            |i, done: &[Option<Outcome>]| {
                let key = stack.key(i);
                if let Some(f) = finished.get(&key) {
                    return Step::Done(Outcome {
                        finish: Some(*f),
                        ..Outcome::out_of_step()
                    });
                }
                if !in_step(key) {
                    return Step::Done(Outcome::out_of_step());
                }
                let deps: Vec<Option<Finish>> = stack.prereqs()[i]
                    .iter()
                    .map(|&d| done[d].as_ref().and_then(|o| o.finish))
                    .collect();
                if deps.contains(&Some(Finish::Failed)) {
                    reporter.event(Event::Skipped {
                        key,
                        because: "a resource it depends on failed".into(),
                    });
                    return Step::Done(Outcome {
                        skipped: true,
                        ..Outcome::finished(Finish::Failed)
                    });
                }
                let dep_changed = deps.contains(&Some(Finish::Changed));
                let planned = plan.action(key).is_some_and(Action::is_change);
                if !dep_changed && !planned {
                    return Step::Done(Outcome::finished(Finish::Unchanged));
                }
                let inputs = stack.inputs(i, |a| {
                    match done[a].as_ref().and_then(|o| o.read.as_ref()) {
                        Some(read) => Some(&read.outputs),
                        None => observed.get(stack.key(a)).map(|r| &r.outputs),
                    }
                });
                let reread = dep_changed || options.reread_planned;
                let read = observed.get(key).cloned().unwrap_or_else(Read::absent);
                let reporter = reporter.clone();
                Step::Run(Box::pin(apply_one(
                    ctx,
                    stack,
                    i,
                    inputs,
                    read,
                    reread,
                    options.gate,
                    reporter,
                )))
            },
        )
        .await;
        let mut summary = ApplySummary::default();
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let key = stack.key(i);
            let Some(outcome) = outcome else {
                summary
                    .failed
                    .push((key, "never ran: its dependencies form a cycle".into()));
                continue;
            };
            if let Some(read) = outcome.read {
                self.observed.insert(key, read);
            }
            for n in outcome.notices {
                if !summary.notices.contains(&n) {
                    summary.notices.push(n);
                }
            }
            if self.finished.contains_key(&key) {
                continue;
            }
            let Some(finish) = outcome.finish else {
                continue;
            };
            self.finished.insert(key, finish);
            match (finish, outcome.error) {
                (Finish::Changed, _) => summary.changed.push(key),
                (Finish::Unchanged, _) => summary.unchanged += 1,
                (Finish::Failed, Some(error)) => summary.failed.push((key, error)),
                (Finish::Failed, None) if outcome.skipped => summary.skipped.push(key),
                (Finish::Failed, None) => summary.failed.push((key, "failed".into())),
            }
        }
        summary.seconds = started.elapsed().as_secs_f64();
        summary
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_one(
    ctx: &Ctx,
    stack: &Stack,
    i: usize,
    inputs: Outputs,
    mut read: Read,
    reread: bool,
    gate: Option<&Gate<'_>>,
    reporter: Arc<dyn Reporter>,
) -> Outcome {
    let r = &stack.resources[i];
    let failed = |error: String, read: Option<Read>| Outcome {
        read,
        error: Some(error),
        ..Outcome::finished(Finish::Failed)
    };
    if reread {
        match r.read(ctx, &inputs).await {
            Ok(fresh) => read = fresh,
            Err(e) => return failed(format!("reading it again: {e}"), None),
        }
    }
    let action = r.diff(ctx, &inputs, &read.live).action;
    if !action.is_change() {
        return Outcome {
            read: Some(read),
            ..Outcome::finished(Finish::Unchanged)
        };
    }
    if let Some(gate) = gate {
        if let Err(e) = gate.open_for(r.key()).await {
            return failed(e, Some(read));
        }
    }
    let started = Instant::now();
    let (kind, name) = (r.kind().to_string(), r.name(ctx));
    reporter.event(Event::Started {
        key: r.key(),
        kind: kind.clone(),
        name: name.clone(),
        verb: verb(&action).into(),
    });
    match r.apply(ctx, &inputs, &read.live).await {
        Ok(applied) => {
            reporter.event(Event::Done {
                key: r.key(),
                kind,
                name,
                verb: done_verb(&action).into(),
                seconds: started.elapsed().as_secs_f64(),
            });
            read.outputs.overlay(&applied.outputs);
            Outcome {
                read: Some(read),
                notices: applied.notices,
                ..Outcome::finished(Finish::Changed)
            }
        }
        Err(e) => {
            let error = e.to_string();
            reporter.event(Event::Failed {
                key: r.key(),
                kind,
                name,
                error: error.clone(),
            });
            failed(error, Some(read))
        }
    }
}

/// Deletes what is ours, each resource once everything that depends on it is done; whatever is
/// not ours is kept and listed.
pub async fn destroy(
    ctx: &Ctx,
    stack: &Stack,
    observed: &Observed,
    parallelism: usize,
    reporter: Arc<dyn Reporter>,
) -> ApplySummary {
    let started = Instant::now();
    type Outcome = Option<(Key, Result<Deletion, String>)>;
    let outcomes = schedule::run(
        &stack.dependents(),
        parallelism,
        |i, _: &[Option<Outcome>]| {
            let r = &stack.resources[i];
            let live = observed.live(r.key());
            if live.body().is_none() || r.deleted_with_parent() {
                return Step::Done(None);
            }
            let inputs = observed.inputs(stack, i);
            let reporter = reporter.clone();
            Step::Run(Box::pin(async move {
                let t = Instant::now();
                let (key, kind, name) = (r.key(), r.kind().to_string(), r.name(ctx));
                reporter.event(Event::Started {
                    key,
                    kind: kind.clone(),
                    name: name.clone(),
                    verb: "deleting".into(),
                });
                let result = r.delete(ctx, &inputs, live).await;
                match &result {
                    Ok(Deletion::Deleted) => reporter.event(Event::Done {
                        key,
                        kind,
                        name,
                        verb: "deleted".into(),
                        seconds: t.elapsed().as_secs_f64(),
                    }),
                    Ok(Deletion::Kept(why)) => reporter.event(Event::Note {
                        message: format!("kept {kind} {name}: {why}"),
                    }),
                    Err(e) => reporter.event(Event::Failed {
                        key,
                        kind,
                        name,
                        error: e.to_string(),
                    }),
                }
                Some((key, result.map_err(|e| e.to_string())))
            }))
        },
    )
    .await;
    let mut summary = ApplySummary::default();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            None => summary.failed.push((
                stack.key(i),
                "never ran: its dependencies form a cycle".into(),
            )),
            Some(None) => {}
            Some(Some((key, Ok(Deletion::Deleted)))) => summary.changed.push(key),
            Some(Some((key, Ok(Deletion::Kept(why))))) => {
                let r = &stack.resources[i];
                summary
                    .notices
                    .push(format!("kept {} {}: {why}", r.kind(), r.name(ctx)));
                summary.kept.push(key);
            }
            Some(Some((key, Err(e)))) => summary.failed.push((key, e)),
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

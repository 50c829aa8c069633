//! The executor: applies a plan as a dependency graph with bounded parallelism. A resource whose
//! dependency changed during the run is read and compared again before it is touched, so values
//! that only exist after a create (an identity's principal id) are never stale. Deletes run in
//! reverse dependency order.

use super::events::{Event, Reporter};
use super::observe::{Observed, Planned};
use crate::resources::{Action, Ctx, Live, Resource};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplySummary {
    pub changed: Vec<String>,
    pub unchanged: usize,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    pub kept: Vec<String>,
    pub seconds: f64,
}

impl ApplySummary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Done { changed: bool },
    Failed,
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

const APPLY_ATTEMPTS: u32 = 3;

async fn apply_one(
    ctx: Arc<Ctx>,
    resources: Arc<Vec<Box<dyn Resource>>>,
    i: usize,
    fresh_read: bool,
    planned: Live,
    reporter: Arc<dyn Reporter>,
) -> (usize, Result<bool, String>) {
    let r = &resources[i];
    let mut live = planned;
    if fresh_read {
        match r.read(&ctx).await {
            Ok(l) => live = l,
            Err(e) => return (i, Err(e.to_string())),
        }
    }
    let action = r.diff(&ctx, &live);
    if !action.is_change() {
        return (i, Ok(false));
    }
    let started = Instant::now();
    reporter.event(Event::Started {
        key: r.key(),
        kind: r.kind().into(),
        name: r.name(&ctx),
        verb: verb(&action).into(),
    });
    let mut attempt = 0;
    loop {
        attempt += 1;
        match r.apply(&ctx, &live).await {
            Ok(()) => {
                reporter.event(Event::Done {
                    key: r.key(),
                    kind: r.kind().into(),
                    name: r.name(&ctx),
                    verb: done_verb(&action).into(),
                    seconds: started.elapsed().as_secs_f64(),
                });
                return (i, Ok(true));
            }
            Err(e) if e.retry_apply() && attempt < APPLY_ATTEMPTS => {
                reporter.event(Event::Note {
                    message: format!("{}: {e}; trying again", r.key()),
                });
                if let Ok(l) = r.read(&ctx).await {
                    live = l;
                }
            }
            Err(e) => {
                let error = e.to_string();
                reporter.event(Event::Failed {
                    key: r.key(),
                    kind: r.kind().into(),
                    name: r.name(&ctx),
                    error: error.clone(),
                });
                return (i, Err(error));
            }
        }
    }
}

/// Applies `plan` (only the resources whose action is a change, plus any whose dependency changed).
pub async fn apply(
    ctx: Arc<Ctx>,
    resources: Arc<Vec<Box<dyn Resource>>>,
    observed: &Observed,
    plan: &[Planned],
    parallelism: usize,
    reporter: Arc<dyn Reporter>,
) -> ApplySummary {
    let started = Instant::now();
    let keys: Vec<String> = resources.iter().map(|r| r.key()).collect();
    let index: BTreeMap<String, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect();
    let deps: Vec<Vec<usize>> = resources
        .iter()
        .map(|r| {
            r.depends_on()
                .iter()
                .filter_map(|d| index.get(d).copied())
                .collect()
        })
        .collect();
    let planned_change: BTreeSet<String> = plan
        .iter()
        .filter(|p| p.action.is_change())
        .map(|p| p.key.clone())
        .collect();
    let mut status = vec![Status::Pending; resources.len()];
    let mut summary = ApplySummary::default();
    let mut running = JoinSet::new();
    loop {
        for i in 0..resources.len() {
            if status[i] != Status::Pending || running.len() >= parallelism.max(1) {
                continue;
            }
            let dep_status: Vec<Status> = deps[i].iter().map(|&d| status[d]).collect();
            if dep_status.iter().any(|s| matches!(s, Status::Failed)) {
                status[i] = Status::Failed;
                summary.skipped.push(keys[i].clone());
                reporter.event(Event::Skipped {
                    key: keys[i].clone(),
                    because: "a resource it depends on failed".into(),
                });
                continue;
            }
            if !dep_status.iter().all(|s| matches!(s, Status::Done { .. })) {
                continue;
            }
            let dep_changed = dep_status
                .iter()
                .any(|s| matches!(s, Status::Done { changed: true }));
            if !dep_changed && !planned_change.contains(&keys[i]) {
                status[i] = Status::Done { changed: false };
                summary.unchanged += 1;
                continue;
            }
            status[i] = Status::Running;
            let live = observed.get(&keys[i]).cloned().unwrap_or(Live::Absent);
            running.spawn(apply_one(
                ctx.clone(),
                resources.clone(),
                i,
                dep_changed,
                live,
                reporter.clone(),
            ));
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((i, Ok(changed))) => {
                status[i] = Status::Done { changed };
                if changed {
                    summary.changed.push(keys[i].clone());
                } else {
                    summary.unchanged += 1;
                }
            }
            Ok((i, Err(error))) => {
                status[i] = Status::Failed;
                summary.failed.push((keys[i].clone(), error));
            }
            Err(join_error) => summary
                .failed
                .push(("engine".into(), join_error.to_string())),
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

/// Deletes what is ours, dependents first; whatever is not ours is kept and listed.
pub async fn destroy(
    ctx: Arc<Ctx>,
    resources: Arc<Vec<Box<dyn Resource>>>,
    observed: &Observed,
    parallelism: usize,
    reporter: Arc<dyn Reporter>,
) -> ApplySummary {
    let started = Instant::now();
    let mut summary = ApplySummary::default();
    let Ok(levels) = super::graph::levels(&resources) else {
        summary
            .failed
            .push(("engine".into(), "dependency cycle".into()));
        return summary;
    };
    for level in levels.into_iter().rev() {
        let mut running = JoinSet::new();
        for i in level {
            let r = &resources[i];
            let live = observed.get(&r.key()).cloned().unwrap_or(Live::Absent);
            if live.body().is_none() || r.deleted_with_parent() {
                continue;
            }
            let (ctx, resources, reporter) = (ctx.clone(), resources.clone(), reporter.clone());
            while running.len() >= parallelism.max(1) {
                let _ = running.join_next().await.map(|j| collect(j, &mut summary));
            }
            running.spawn(async move {
                let r = &resources[i];
                let t = Instant::now();
                reporter.event(Event::Started {
                    key: r.key(),
                    kind: r.kind().into(),
                    name: r.name(&ctx),
                    verb: "deleting".into(),
                });
                let result = r.delete(&ctx, &live).await;
                match &result {
                    Ok(true) => reporter.event(Event::Done {
                        key: r.key(),
                        kind: r.kind().into(),
                        name: r.name(&ctx),
                        verb: "deleted".into(),
                        seconds: t.elapsed().as_secs_f64(),
                    }),
                    Ok(false) => reporter.event(Event::Note {
                        message: format!(
                            "kept {} {}: not created by provision for this environment",
                            r.kind(),
                            r.name(&ctx)
                        ),
                    }),
                    Err(e) => reporter.event(Event::Failed {
                        key: r.key(),
                        kind: r.kind().into(),
                        name: r.name(&ctx),
                        error: e.to_string(),
                    }),
                }
                (r.key(), result.map_err(|e| e.to_string()))
            });
        }
        while let Some(j) = running.join_next().await {
            collect(j, &mut summary);
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

fn collect(
    joined: Result<(String, Result<bool, String>), tokio::task::JoinError>,
    summary: &mut ApplySummary,
) {
    match joined {
        Ok((key, Ok(true))) => summary.changed.push(key),
        Ok((key, Ok(false))) => summary.kept.push(key),
        Ok((key, Err(e))) => summary.failed.push((key, e)),
        Err(e) => summary.failed.push(("engine".into(), e.to_string())),
    }
}

//! The steps plan, up, drift and down share: read everything once and plan from it; apply a plan
//! under the environment's lock.

use super::context::Session;
use super::error::CliError;
use super::render;
use crate::engine::{
    self, events::Event, ApplyOptions, ApplySummary, Gate, Observed, Plan, Progress, Stack,
};
use crate::resources::storage_account::AccountRole;
use crate::resources::storage_container::Container;
use crate::resources::{global_names, registration, Action, Key};
use std::collections::BTreeSet;
use std::time::Duration;

/// What the environment looks like and what would change.
pub struct Planned {
    pub stack: Stack,
    pub observed: Observed,
    pub plan: Plan,
}

pub async fn observe_and_plan(s: &Session) -> Result<Planned, CliError> {
    let stack = Stack::new(crate::resources::all(&s.ctx.env))?;
    crate::resources::function_package::prepare(&s.ctx);
    let observed = engine::observe(&s.ctx, &stack, s.global.parallelism).await?;
    if s.ctx.package_path.is_none() && observed.is_present(Key::FunctionPackage) {
        s.reporter.event(Event::Note {
            message: "building the function package from function/ to compare it with the deployed one (minutes on a first build)".into(),
        });
    }
    let plan = engine::plan(&s.ctx, &stack, &observed);
    let creates: Vec<Key> = plan
        .items
        .iter()
        .filter(|p| p.action == Action::Create)
        .map(|p| p.key)
        .collect();
    global_names::check_free(&s.ctx, &creates).await?;
    Ok(Planned {
        stack,
        observed,
        plan,
    })
}

/// The lock's own home: it must exist before the lock can be taken.
pub const LOCK_HOME: [Key; 3] = [
    Key::ResourceGroup,
    Key::Storage(AccountRole::Functions),
    Key::Container(Container::Locks),
];

/// What is made sure of before the lock: its home, and the resource group's first level when it
/// does not exist yet (the storage accounts, the workspace, the plan: resources that live in the
/// group and need nothing else). A storage account is the longest of the first creates and the
/// site needs all of them, so creating them beside the lock's home, not after it, takes their
/// length off every cold `up`. Two runs that both find one absent send their create twice; the
/// run that takes the lock second re-reads it under the lock and sets what its own file says, as
/// it would after the first run had finished.
fn before_the_lock(stack: &Stack, plan: &Plan, key: Key) -> bool {
    if LOCK_HOME.contains(&key) {
        return true;
    }
    let first_level = stack
        .position(key)
        .is_some_and(|i| stack.resources[i].depends_on() == [Key::ResourceGroup]);
    first_level && matches!(plan.action(key), Some(Action::Create))
}

/// What an apply did: what it made sure of before the lock (the lock's home, the group's new
/// first level), and the rest, under it.
pub struct Applied {
    pub lock_home: Option<ApplySummary>,
    pub locked: ApplySummary,
}

/// Makes sure the lock's home (and the group's new first level) exists, takes the lock, applies
/// the rest of the plan (reading what it is about to change again, now that no other run can),
/// and releases the lock. The resource providers the plan needs register from the start, beside
/// all of it: registering is a subscription-wide, idempotent action, not a write to the
/// environment, and on a fresh subscription it is the longest wait before a resource's first write.
pub async fn apply_locked(
    s: &Session,
    planned: Planned,
    command: &str,
) -> Result<Applied, CliError> {
    let gate = registration_gate(s, &planned.plan);
    gate.beside(apply_under_lock(s, planned, command, &gate))
        .await
}

async fn apply_under_lock(
    s: &Session,
    planned: Planned,
    command: &str,
    gate: &Gate<'_>,
) -> Result<Applied, CliError> {
    let Planned {
        stack,
        observed,
        plan,
    } = planned;
    let ctx = &s.ctx;
    let mut progress = Progress::new(observed);
    let first = |k: Key| before_the_lock(&stack, &plan, k);
    let mut lock_home = None;
    if plan
        .items
        .iter()
        .any(|p| first(p.key) && p.action.is_change())
    {
        let options = ApplyOptions {
            parallelism: s.global.parallelism,
            reread_planned: false,
            gate: Some(gate),
        };
        let summary = progress
            .apply(ctx, &stack, &plan, &first, &options, s.reporter.clone())
            .await;
        if !summary.ok() {
            eprint!("{}", render::summary_text("before the lock", &summary));
            return Err(failed(command, &summary));
        }
        lock_home = Some(summary);
    }
    let lock = crate::lock::Lock::acquire(
        &ctx.with_outputs(&progress.outputs()),
        command,
        Duration::from_secs(s.global.lock_timeout),
    )
    .await?;
    let options = ApplyOptions {
        parallelism: s.global.parallelism,
        reread_planned: true,
        gate: Some(gate),
    };
    let locked = progress
        .apply(ctx, &stack, &plan, &|_| true, &options, s.reporter.clone())
        .await;
    lock.release().await;
    Ok(Applied { lock_home, locked })
}

/// The namespaces the planned changes need, each registered (when it is not) as soon as the
/// apply starts; a resource's first write waits for its own.
fn registration_gate<'a>(s: &'a Session, plan: &Plan) -> Gate<'a> {
    let namespaces: BTreeSet<&'static str> = plan
        .items
        .iter()
        .filter(|p| p.action.is_change())
        .flat_map(|p| p.key.namespaces().iter().copied())
        .collect();
    Gate::new(namespaces, move |ns| {
        Box::pin(async move {
            let registered = registration::ensure_registered(&s.ctx, &BTreeSet::from([ns]))
                .await
                .map_err(|e| e.to_string())?;
            if !registered.is_empty() {
                s.reporter.event(Event::Note {
                    message: format!("resource provider {ns} is registered on the subscription"),
                });
            }
            Ok(())
        })
    })
}

pub fn failed(command: &str, summary: &ApplySummary) -> CliError {
    CliError::Failed {
        command: command.to_string(),
        failed: summary.failed.len(),
        skipped: summary.skipped.len(),
    }
}

/// Prints what an apply did, in the session's format; an error when anything failed.
pub fn report_applied(
    s: &Session,
    command: &str,
    applied: &Applied,
    notices: &[String],
) -> Result<(), CliError> {
    let mut all_notices = notices.to_vec();
    for n in &applied.locked.notices {
        if !all_notices.contains(n) {
            all_notices.push(n.clone());
        }
    }
    if s.json() {
        println!(
            "{}",
            serde_json::json!({"environment": s.ctx.env.name, "lock_home": applied.lock_home, "summary": applied.locked, "notices": all_notices})
        );
    } else {
        s.notices(&all_notices);
        if let Some(home) = &applied.lock_home {
            print!("{}", render::summary_text("before the lock", home));
        }
        print!("{}", render::summary_text(command, &applied.locked));
    }
    if applied.locked.ok() {
        Ok(())
    } else {
        Err(failed(command, &applied.locked))
    }
}

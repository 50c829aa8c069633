//! `provision drift`: live state against the environment file — exit 0 in sync, 2 drift — and,
//! with `--fix`, reconciles what drifted under the lock.

use super::context::Session;
use super::error::CliError;
use super::{render, steps};

pub async fn run(s: &Session, fix: bool) -> Result<(), CliError> {
    let planned = steps::observe_and_plan(s).await?;
    let env = &s.ctx.env.name;
    let drifted = planned.plan.has_changes();
    if s.json() && !fix {
        println!("{}", render::plan_json(env, &planned.plan));
    } else if !s.json() {
        if drifted {
            println!("Drift in environment {env}:");
        }
        print!("{}", render::plan_text(env, &planned.plan));
        print!("{}", render::notices_text(&planned.plan.notices));
    }
    if !drifted {
        return Ok(());
    }
    if !fix {
        return Err(CliError::Drift(env.clone()));
    }
    let notices = planned.plan.notices.clone();
    let applied = steps::apply_locked(s, planned, "drift --fix").await?;
    steps::report_applied(s, "drift --fix", &applied, &notices)
}

//! `provision up`: create or update everything the pipeline needs. A converged environment is read
//! once and sent no write; otherwise the plan is shown, confirmed, and applied under the lock.

use super::context::{self, Session};
use super::error::CliError;
use super::{render, steps, verify};
use serde_json::json;
use std::time::Duration;

pub async fn run(s: &Session, yes: bool, then_verify: bool) -> Result<(), CliError> {
    let planned = steps::observe_and_plan(s).await?;
    let env = &s.ctx.env.name;
    if !planned.plan.has_changes() {
        if s.json() {
            println!(
                "{}",
                json!({"environment": env, "changed": [], "in_sync": true, "notices": planned.plan.notices})
            );
        } else {
            s.notices(&planned.plan.notices);
            println!(
                "Environment {env} is up to date ({} resources checked); nothing to do.",
                planned.plan.items.len()
            );
        }
    } else {
        if !s.json() {
            eprint!("{}", render::plan_text(env, &planned.plan));
        }
        if !context::confirm("Apply these changes?", yes)? {
            return Err(CliError::NotConfirmed("changed"));
        }
        let notices = planned.plan.notices.clone();
        let applied = steps::apply_locked(s, planned, "up").await?;
        steps::report_applied(s, "up", &applied, &notices)?;
    }
    if then_verify {
        verify::run(s, Duration::from_secs(120)).await?;
    }
    Ok(())
}

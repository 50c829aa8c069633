//! `provision plan`: what `up` would change, property by property. Reads only.

use super::context::Session;
use super::error::CliError;
use super::{render, steps};

pub async fn run(s: &Session) -> Result<(), CliError> {
    let planned = steps::observe_and_plan(s).await?;
    let env = &s.ctx.env.name;
    if s.json() {
        println!("{}", render::plan_json(env, &planned.plan));
    } else {
        print!("{}", render::plan_text(env, &planned.plan));
        print!("{}", render::notices_text(&planned.plan.notices));
    }
    Ok(())
}

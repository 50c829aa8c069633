//! `provision force-unlock`: breaks a lock left by a run that died.

use super::context::Session;
use super::error::CliError;
use crate::engine::{self, Stack};
use crate::resources::storage_container::Container;
use crate::resources::Key;

pub async fn run(s: &Session) -> Result<(), CliError> {
    let ctx = &s.ctx;
    let locks = Key::Container(Container::Locks);
    let stack = Stack::subset(crate::resources::all(&ctx.env), &[locks])?;
    let observed = engine::observe(ctx, &stack, s.global.parallelism).await?;
    if !observed.is_present(locks) {
        eprintln!(
            "environment {} has no lock to break: its functions account or locks container does not exist",
            ctx.env.name
        );
        return Ok(());
    }
    crate::lock::force_unlock(&ctx.with_outputs(&observed.all_outputs())).await?;
    eprintln!("lock on environment {} broken", ctx.env.name);
    Ok(())
}

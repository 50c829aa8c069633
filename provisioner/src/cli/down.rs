//! `provision down`: delete what provision created for this environment, nothing else. It takes
//! the run lock like every other writer, and refuses while another run holds it.

use super::context::{self, Session};
use super::error::CliError;
use super::render;
use super::steps::LOCK_HOME;
use crate::engine::{self, events::Event, Stack};
use crate::resources::storage_account::AccountRole;
use crate::resources::Key;
use serde_json::json;
use std::time::Duration;

pub async fn run(s: &Session, yes: bool) -> Result<(), CliError> {
    let ctx = &s.ctx;
    let env = &ctx.env.name;
    let stack = Stack::new(crate::resources::all(&ctx.env))?;
    let observed = engine::observe(ctx, &stack, s.global.parallelism).await?;
    let present: Vec<String> = stack
        .resources
        .iter()
        .filter(|r| observed.is_present(r.key()) && !r.deleted_with_parent())
        .map(|r| format!("  - {} {}", r.kind(), r.name(ctx)))
        .collect();
    if present.is_empty() {
        if s.json() {
            println!("{}", json!({"environment": env, "deleted": []}));
        } else {
            println!("Nothing of environment {env} exists; nothing to delete.");
        }
        return Ok(());
    }
    if !s.json() {
        eprintln!("Deleting environment {env} (only what provision created; anything else is kept and listed):\n{}", present.join("\n"));
    }
    if !context::confirm("Delete these?", yes)? {
        return Err(CliError::NotConfirmed("deleted"));
    }
    // Without the functions account or its locks container no run can hold the lock, and making
    // them only to delete them would be absurd.
    let (lock, observed) = if LOCK_HOME.iter().all(|k| observed.is_present(*k)) {
        let lock = crate::lock::Lock::acquire(
            &ctx.with_outputs(&observed.all_outputs()),
            "down",
            Duration::from_secs(s.global.lock_timeout),
        )
        .await?;
        // Read again under the lock: a run that held it before may have changed what is there.
        match engine::observe(ctx, &stack, s.global.parallelism).await {
            Ok(fresh) => (Some(lock), fresh),
            Err(e) => {
                lock.release().await;
                return Err(e.into());
            }
        }
    } else {
        s.reporter.event(Event::Note {
            message: "the run lock's home (the functions account's locks container) does not exist: deleting without the lock".into(),
        });
        (None, observed)
    };
    let summary = engine::destroy(
        ctx,
        &stack,
        &observed,
        s.global.parallelism,
        s.reporter.clone(),
    )
    .await;
    if let Some(lock) = lock {
        // The lease went with the functions account: releasing it would only retry against an
        // endpoint that no longer exists. The process ends right after, and the renewer with it.
        if summary
            .changed
            .contains(&Key::Storage(AccountRole::Functions))
        {
            drop(lock);
        } else {
            lock.release().await;
        }
    }
    if s.json() {
        println!(
            "{}",
            json!({"environment": env, "summary": summary, "notices": summary.notices})
        );
    } else {
        print!("{}", render::summary_text("down", &summary));
    }
    if !summary.failed.is_empty() {
        return Err(super::steps::failed("down", &summary));
    }
    if !summary.kept.is_empty() {
        return Err(CliError::Kept(format!(
            "down kept {} resource(s) of environment {env} (see above): it is not fully removed",
            summary.kept.len()
        )));
    }
    Ok(())
}

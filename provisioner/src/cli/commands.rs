//! The commands that talk to Azure.

use super::{all_resources, confirm, exit_code, fail, render, Global};
use crate::engine::{self, events::Event, Reporter};
use crate::resources::{Ctx, Resource};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const BOOTSTRAP: &[&str] = &[
    "resource-group",
    "storage:functions",
    "container:functions/locks",
];

fn print_notices(ctx: &Ctx, reporter: &Arc<dyn Reporter>) {
    for n in ctx.outputs().notices {
        reporter.event(Event::Note {
            message: format!("note: {n}"),
        });
    }
}

pub async fn plan(ctx: &Arc<Ctx>, json: bool) -> u8 {
    let resources = all_resources(&ctx.env);
    let observed = match engine::observe(ctx, &resources).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let plan = engine::plan(ctx, &resources, &observed);
    if json {
        println!(
            "{}",
            render::plan_json(&ctx.env.name, &plan, &ctx.outputs().notices)
        );
    } else {
        print!("{}", render::plan_text(&ctx.env.name, &plan));
        for n in ctx.outputs().notices {
            println!("note: {n}");
        }
    }
    exit_code::OK
}

pub async fn drift(
    ctx: Arc<Ctx>,
    global: &Global,
    json: bool,
    fix: bool,
    reporter: Arc<dyn Reporter>,
) -> u8 {
    let resources = all_resources(&ctx.env);
    let observed = match engine::observe(&ctx, &resources).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let plan = engine::plan(&ctx, &resources, &observed);
    let drifted = plan.iter().any(|p| p.action.is_change());
    if json && !fix {
        println!(
            "{}",
            render::plan_json(&ctx.env.name, &plan, &ctx.outputs().notices)
        );
    } else if !json {
        if drifted {
            println!("Drift in environment {}:", ctx.env.name);
        }
        print!("{}", render::plan_text(&ctx.env.name, &plan));
        for n in ctx.outputs().notices {
            println!("note: {n}");
        }
    }
    if !drifted {
        return exit_code::OK;
    }
    if !fix {
        return exit_code::DRIFT;
    }
    apply_with_lock(
        ctx.clone(),
        global,
        resources,
        plan,
        json,
        reporter,
        "drift --fix",
    )
    .await
}

pub async fn up(
    ctx: Arc<Ctx>,
    global: &Global,
    yes: bool,
    json: bool,
    reporter: Arc<dyn Reporter>,
) -> u8 {
    let resources = all_resources(&ctx.env);
    let observed = match engine::observe(&ctx, &resources).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let plan = engine::plan(&ctx, &resources, &observed);
    if !plan.iter().any(|p| p.action.is_change()) {
        print_notices(&ctx, &reporter);
        if json {
            println!(
                "{}",
                json!({"environment": ctx.env.name, "changed": [], "in_sync": true})
            );
        } else {
            println!(
                "Environment {} is up to date ({} resources checked); nothing to do.",
                ctx.env.name,
                plan.len()
            );
        }
        return exit_code::OK;
    }
    if !json {
        eprint!("{}", render::plan_text(&ctx.env.name, &plan));
    }
    match confirm("Apply these changes?", yes) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("Nothing changed.");
            return exit_code::ERROR;
        }
        Err(e) => return fail(e),
    }
    apply_with_lock(ctx, global, resources, plan, json, reporter, "up").await
}

/// Makes sure the lock's home exists, takes the lock, re-reads (another run may have just
/// finished) and applies.
async fn apply_with_lock(
    ctx: Arc<Ctx>,
    global: &Global,
    resources: Arc<Vec<Box<dyn Resource>>>,
    plan: Vec<engine::Planned>,
    json: bool,
    reporter: Arc<dyn Reporter>,
    command: &str,
) -> u8 {
    let bootstrap: Arc<Vec<Box<dyn Resource>>> = Arc::new(
        crate::resources::all(&ctx.env)
            .into_iter()
            .filter(|r| BOOTSTRAP.contains(&r.key().as_str()))
            .collect(),
    );
    let boot_plan: Vec<engine::Planned> = plan
        .iter()
        .filter(|p| BOOTSTRAP.contains(&p.key.as_str()))
        .cloned()
        .collect();
    if boot_plan.iter().any(|p| p.action.is_change()) {
        let observed = match engine::observe(&ctx, &bootstrap).await {
            Ok(o) => o,
            Err(e) => return fail(e),
        };
        let boot_plan = engine::plan(&ctx, &bootstrap, &observed);
        let summary = engine::apply(
            ctx.clone(),
            bootstrap,
            &observed,
            &boot_plan,
            global.parallelism,
            reporter.clone(),
        )
        .await;
        if !summary.ok() {
            eprint!("{}", render::summary_text("bootstrap", &summary));
            return exit_code::ERROR;
        }
    }
    let lock =
        match crate::lock::Lock::acquire(&ctx, command, Duration::from_secs(global.lock_timeout))
            .await
        {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
    let result = async {
        let observed = engine::observe(&ctx, &resources)
            .await
            .map_err(|e| e.to_string())?;
        let plan = engine::plan(&ctx, &resources, &observed);
        Ok::<_, String>(
            engine::apply(
                ctx.clone(),
                resources.clone(),
                &observed,
                &plan,
                global.parallelism,
                reporter.clone(),
            )
            .await,
        )
    }
    .await;
    lock.release().await;
    let summary = match result {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    print_notices(&ctx, &reporter);
    if json {
        println!(
            "{}",
            json!({"environment": ctx.env.name, "summary": summary})
        );
    } else {
        print!("{}", render::summary_text(command, &summary));
    }
    if summary.ok() {
        exit_code::OK
    } else {
        exit_code::ERROR
    }
}

pub async fn down(
    ctx: Arc<Ctx>,
    global: &Global,
    yes: bool,
    json: bool,
    reporter: Arc<dyn Reporter>,
) -> u8 {
    let resources = all_resources(&ctx.env);
    let observed = match engine::observe(&ctx, &resources).await {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let present: Vec<String> = resources
        .iter()
        .filter(|r| {
            observed.get(&r.key()).and_then(|l| l.body()).is_some() && !r.deleted_with_parent()
        })
        .map(|r| format!("  - {} {}", r.kind(), r.name(&ctx)))
        .collect();
    if present.is_empty() {
        if json {
            println!("{}", json!({"environment": ctx.env.name, "deleted": []}));
        } else {
            println!(
                "Nothing of environment {} exists; nothing to delete.",
                ctx.env.name
            );
        }
        return exit_code::OK;
    }
    if !json {
        eprintln!("Deleting environment {} (only what provision created; anything else is kept and listed):\n{}", ctx.env.name, present.join("\n"));
    }
    match confirm("Delete these?", yes) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("Nothing deleted.");
            return exit_code::ERROR;
        }
        Err(e) => return fail(e),
    }
    let lock = crate::lock::Lock::acquire(&ctx, "down", Duration::from_secs(global.lock_timeout))
        .await
        .ok();
    let summary = engine::destroy(
        ctx.clone(),
        resources,
        &observed,
        global.parallelism,
        reporter.clone(),
    )
    .await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    print_notices(&ctx, &reporter);
    if json {
        println!(
            "{}",
            json!({"environment": ctx.env.name, "summary": summary, "notices": ctx.outputs().notices})
        );
    } else {
        print!("{}", render::summary_text("down", &summary));
    }
    if summary.failed.is_empty() {
        exit_code::OK
    } else {
        exit_code::ERROR
    }
}

pub async fn output(ctx: &Arc<Ctx>, json: bool, raw: Option<String>) -> u8 {
    let resources = all_resources(&ctx.env);
    if let Err(e) = engine::observe(ctx, &resources).await {
        return fail(e);
    }
    let o = ctx.outputs();
    let n = &ctx.names;
    let values = json!({
        "environment": ctx.env.name,
        "resource_group": n.resource_group,
        "raw_account": n.raw_account,
        "standard_account": n.standard_account,
        "functions_account": n.functions_account,
        "raw_blob_endpoint": o.blob_endpoints.get("raw"),
        "standard_blob_endpoint": o.blob_endpoints.get("standard"),
        "functions_blob_endpoint": o.blob_endpoints.get("functions"),
        "raw_container": crate::names::RAW_CONTAINER,
        "standard_container": crate::names::STANDARD_CONTAINER,
        "function_app": n.function_app,
        "function_app_url": format!("https://{}.azurewebsites.net", n.function_app),
        "function_principal_id": o.site_principal_id,
        "security_group_id": o.group_id,
        "app_insights": n.app_insights,
        "log_analytics_workspace": n.workspace,
    });
    match raw {
        Some(name) => match values.get(&name) {
            Some(serde_json::Value::String(s)) => {
                println!("{s}");
                exit_code::OK
            }
            Some(serde_json::Value::Null) | None if values.get(&name).is_some() => fail(format!(
                "output {name} has no value yet: run `provision up` first"
            )),
            Some(other) => {
                println!("{other}");
                exit_code::OK
            }
            None => fail(format!(
                "no output named {name}; known: {}",
                values
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            )),
        },
        None if json => {
            println!("{values}");
            exit_code::OK
        }
        None => {
            for (k, v) in values.as_object().into_iter().flatten() {
                println!(
                    "{k} = {}",
                    match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }
                );
            }
            exit_code::OK
        }
    }
}

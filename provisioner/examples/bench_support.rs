//! Helpers for `provisioner/benches/provision_bench.sh` (not a benchmark by itself).
//!
//! ```text
//! bench_support package HANDLER OUT.zip     zip a handler binary as `provision up --package` wants it
//! bench_support critical-path TIME_SCALE    the azure_like profile's critical path for a cold `up`, as JSON
//! ```
//!
//! The critical path is a model, not a measurement. It walks the real dependency graph
//! (`provisioner::resources::all` + `depends_on`) and gives every resource a weight:
//!
//! * its long-running operation from `LatencyProfile::azure_like()`, times TIME_SCALE;
//! * plus `request_ms` (real milliseconds, not scaled) for each request a create needs at the
//!   least, one after the other (`MIN_REQUESTS` below: the PUT, one poll that finds the operation
//!   done, the GET some protocols need afterwards, and any list/sync calls the create makes);
//! * blob data-plane calls go to Azurite, which adds no latency, and count as nothing.
//!
//! The path's length is the heaviest chain of weights plus one read (learning the resource
//! group is absent) before anything can be created. Token requests are not delayed.

use anyhow::{bail, Context};
use local_cloud::config::LatencyProfile;
use provisioner::engine::Stack;
use provisioner::resources;
use serde_json::json;
use std::path::Path;

/// The smallest number of sequential ARM/Graph requests creating one resource of a kind takes.
const MIN_REQUESTS: &[(&str, u32, &str)] = &[
    ("resource group", 1, "PUT"),
    (
        "log analytics workspace",
        3,
        "PUT 201 + Azure-AsyncOperation, 1 status poll, GET",
    ),
    ("application insights", 1, "PUT"),
    (
        "storage account",
        2,
        "PUT 202 + Location, 1 Location poll answering the body",
    ),
    ("blob container", 1, "PUT"),
    (
        "entra security group",
        2,
        "PATCH create-if-missing, POST members/$ref",
    ),
    (
        "app service plan",
        3,
        "PUT 201 + Azure-AsyncOperation, 1 status poll, GET",
    ),
    (
        "function app",
        3,
        "PUT 201 + Azure-AsyncOperation, 1 status poll, GET",
    ),
    ("role assignment", 1, "PUT"),
    (
        "function package",
        4,
        "listKeys, appsettings/list, PUT appsettings, syncfunctiontriggers",
    ),
    (
        "event grid system topic",
        3,
        "PUT 201 + Azure-AsyncOperation, 1 status poll, GET",
    ),
    ("event grid subscription", 2, "host listkeys, PUT"),
];

/// The profile's operation duration (emulated seconds) for creating a resource of a kind.
fn lro_seconds(profile: &LatencyProfile, kind: &str) -> (f64, &'static str) {
    match kind {
        "storage account" => (profile.storage_create_s, "storage_create_s"),
        "log analytics workspace" => (profile.workspace_create_s, "workspace_create_s"),
        "app service plan" => (profile.plan_create_s, "plan_create_s"),
        "function app" => (profile.site_create_s, "site_create_s"),
        "event grid system topic" => (profile.system_topic_create_s, "system_topic_create_s"),
        "event grid subscription" => (
            profile.event_subscription_create_s,
            "event_subscription_create_s",
        ),
        _ => (0.0, ""),
    }
}

fn environment() -> anyhow::Result<provisioner::env::Environment> {
    let text = format!(
        "name = \"bench\"\nsubscription = \"{}\"\ntenant = \"{}\"\nlocation = \"westeurope\"\nprefix = \"hero\"\n",
        local_cloud::DEFAULT_SUBSCRIPTION,
        local_cloud::DEFAULT_TENANT
    );
    provisioner::env::parse(&text, Path::new("bench.toml")).context("the model's environment")
}

fn critical_path(time_scale: f64) -> anyhow::Result<serde_json::Value> {
    let profile = LatencyProfile::azure_like();
    let request_s = profile.request_ms as f64 / 1000.0;
    let env = environment()?;
    let stack = Stack::new(resources::all(&env))?;
    let all = &stack.resources;
    let levels = stack.levels()?;
    let requests_for = |kind: &str| -> anyhow::Result<u32> {
        match MIN_REQUESTS.iter().find(|(k, _, _)| *k == kind) {
            Some((_, n, _)) => Ok(*n),
            None => bail!("bench_support has no request model for resource kind `{kind}`: add it to MIN_REQUESTS"),
        }
    };
    // Longest finish time per resource, in topological (level) order.
    let mut finish = vec![0.0f64; all.len()];
    let mut via: Vec<Option<usize>> = vec![None; all.len()];
    for level in &levels {
        for &i in level {
            let r = &all[i];
            let (lro, _) = lro_seconds(&profile, r.kind());
            let own = lro * time_scale + f64::from(requests_for(r.kind())?) * request_s;
            let mut start = 0.0;
            for &j in &stack.prereqs()[i] {
                if finish[j] > start {
                    start = finish[j];
                    via[i] = Some(j);
                }
            }
            finish[i] = start + own;
        }
    }
    let (mut last, _) =
        finish.iter().enumerate().fold(
            (0, f64::MIN),
            |best, (i, f)| if *f > best.1 { (i, *f) } else { best },
        );
    let mut chain = vec![last];
    while let Some(prev) = via[last] {
        chain.push(prev);
        last = prev;
    }
    chain.reverse();
    let initial_reads = 1u32;
    let mut lro_total = 0.0;
    let mut requests_total = initial_reads;
    let steps: Vec<serde_json::Value> = chain
        .iter()
        .map(|&i| {
            let r = &all[i];
            let (lro, field) = lro_seconds(&profile, r.kind());
            let n = requests_for(r.kind()).unwrap_or(0);
            lro_total += lro * time_scale;
            requests_total += n;
            json!({"key": r.key(), "kind": r.kind(), "lro_field": field, "lro_emulated_s": lro,
                   "lro_s": lro * time_scale, "requests": n, "seconds": lro * time_scale + f64::from(n) * request_s})
        })
        .collect();
    let total = lro_total + f64::from(requests_total) * request_s;
    Ok(json!({
        "time_scale": time_scale,
        "request_ms": profile.request_ms,
        "initial_reads": initial_reads,
        "chain": steps,
        "lro_s": lro_total,
        "requests": requests_total,
        "request_s": f64::from(requests_total) * request_s,
        "critical_path_s": total,
        "event_subscription_create_s_scaled": profile.event_subscription_create_s * time_scale,
    }))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["package", handler, out] => {
            let bytes = std::fs::read(handler).with_context(|| format!("reading {handler}"))?;
            let zip = function_zip::package::zip_package(&bytes)?;
            std::fs::write(out, zip).with_context(|| format!("writing {out}"))?;
        }
        ["critical-path", scale] => {
            let scale: f64 = scale
                .parse()
                .with_context(|| format!("time scale `{scale}`"))?;
            println!("{}", serde_json::to_string_pretty(&critical_path(scale)?)?);
        }
        _ => bail!(
            "usage: bench_support package HANDLER OUT.zip | bench_support critical-path TIME_SCALE"
        ),
    }
    Ok(())
}

//! Helpers for `provisioner/benches/provision_bench.sh` (not a benchmark by itself).
//!
//! ```text
//! bench_support package HANDLER OUT.zip     zip a handler binary as `provision up --package` wants it
//! bench_support critical-path TIME_SCALE    the azure_like profile's critical path for a cold `up`, as JSON
//! ```
//!
//! The critical path is a model, not a measurement: the least time any client could take to
//! create the environment on the emulator as the bench runs it (all Azure behaviours on, their
//! durations from `Behaviours::default()`). It walks the real dependency graph
//! (`provisioner::resources::all` + `depends_on`) and gives every resource a weight:
//!
//! * its long-running operation from `LatencyProfile::azure_like()`, times TIME_SCALE, rounded up
//!   to the operation's `Retry-After` (a client following the protocol polls no sooner, so it
//!   learns of the end at the first poll after it);
//! * plus `request_ms` (real milliseconds, not scaled) for each request a create needs at the
//!   least, one after the other (`MIN_REQUESTS` below: the PUT, one poll that finds the operation
//!   done, the GET some protocols need afterwards, and any list/sync calls the create makes);
//! * blob data-plane calls go to Azurite, which adds no latency, and count as nothing;
//! * the waits Azure imposes (each scaled by TIME_SCALE):
//!   - a resource's first write comes after its namespaces register (`provider_register_s`, plus
//!     the POST register and the GET that finds it Registered), which can start right after the
//!     first read;
//!   - the function package: the package URL's new stored access policy takes effect
//!     (`access_policy_delay_s`), then the host restarts after the settings write
//!     (`host_restart_s`); and the host can only read its storage once every data role of the
//!     site's identity has landed (`data_role_delay_s` after its create) and it has restarted
//!     after that (`host_restart_s`, plus the restart POST and a listkeys);
//!   - the event subscription: Event Grid's handshake fails while the webhook's host is cold,
//!     `host_restart_s` from the first contact, before the create's own operation.
//!
//! The path's length is the heaviest chain of weights plus one read (learning the resource
//! group is absent) before anything can be created. Token requests are not delayed. The lock
//! (and the functions account it lives in) is not in the model: a client without one could
//! create the three storage accounts at once.

use anyhow::{bail, Context};
use local_cloud::behaviours::Behaviours;
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

/// A wait Azure imposes on one resource of the chain, in seconds of real time.
struct Wait {
    what: &'static str,
    seconds: f64,
}

fn critical_path(time_scale: f64) -> anyhow::Result<serde_json::Value> {
    let profile = LatencyProfile::azure_like();
    let behaviours = Behaviours::default();
    let scaled = |emulated: f64| emulated * time_scale;
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
    // A client that follows the protocol learns an operation is done at the first poll at or
    // after its end: polls come every Retry-After, not sooner.
    let retry_after = local_cloud::arm::lro::retry_after_at(time_scale) as f64;
    let observed = |lro_s: f64| {
        if retry_after > 0.0 && lro_s > 0.0 {
            (lro_s / retry_after - 1e-9).ceil() * retry_after
        } else {
            lro_s
        }
    };
    let initial_reads = 1u32;
    let first_read = f64::from(initial_reads) * request_s;
    let registered = first_read + 2.0 * request_s + scaled(behaviours.provider_register_s);
    let restart = scaled(behaviours.host_restart_s);
    // Earliest finish per resource, in topological (level) order; what it waited for.
    let mut finish = vec![0.0f64; all.len()];
    let mut via: Vec<Option<usize>> = vec![None; all.len()];
    let mut waits: Vec<Vec<Wait>> = (0..all.len()).map(|_| Vec::new()).collect();
    for level in &levels {
        for &i in level {
            let r = &all[i];
            let (lro, _) = lro_seconds(&profile, r.kind());
            let mut own = observed(scaled(lro)) + f64::from(requests_for(r.kind())?) * request_s;
            let mut start = first_read;
            for &j in &stack.prereqs()[i] {
                if finish[j] > start {
                    start = finish[j];
                    via[i] = Some(j);
                }
            }
            if !r.key().namespaces().is_empty() && registered > start {
                start = registered;
                via[i] = None;
                waits[i].push(Wait {
                    what: "provider_register_s (+ POST register, GET Registered)",
                    seconds: registered - first_read,
                });
            }
            match r.kind() {
                "function package" => {
                    let policy = scaled(behaviours.access_policy_delay_s);
                    own += policy + restart;
                    waits[i].push(Wait {
                        what: "access_policy_delay_s",
                        seconds: policy,
                    });
                    waits[i].push(Wait {
                        what: "host_restart_s after the settings write",
                        seconds: restart,
                    });
                    // The site identity's data roles land data_role_delay_s after their
                    // creates; the host reads its storage only after a restart that follows.
                    let lands = (0..all.len())
                        .filter(|&j| all[j].key().to_string().starts_with("role:function-app:"))
                        .map(|j| (finish[j] + scaled(behaviours.data_role_delay_s), j))
                        .fold(
                            (0.0, None),
                            |best, (t, j)| {
                                if t > best.0 {
                                    (t, Some(j))
                                } else {
                                    best
                                }
                            },
                        );
                    let after_roles = lands.0 + restart + 2.0 * request_s;
                    if after_roles > start + own {
                        waits[i].push(Wait {
                            what: "data_role_delay_s, then host_restart_s (+ restart, listkeys)",
                            seconds: after_roles - (start + own),
                        });
                        via[i] = lands.1;
                        start = after_roles - own;
                    }
                }
                "event grid subscription" => {
                    own += restart;
                    waits[i].push(Wait {
                        what: "host_restart_s: the webhook is cold from the first handshake",
                        seconds: restart,
                    });
                }
                _ => {}
            }
            finish[i] = start + own;
        }
    }
    let (mut last, total) =
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
    let mut lro_total = 0.0;
    let mut waits_total = 0.0;
    let mut requests_total = initial_reads;
    let steps: Vec<serde_json::Value> = chain
        .iter()
        .map(|&i| {
            let r = &all[i];
            let (lro, field) = lro_seconds(&profile, r.kind());
            let n = requests_for(r.kind()).unwrap_or(0);
            let waited: f64 = waits[i].iter().map(|w| w.seconds).sum();
            lro_total += observed(scaled(lro));
            waits_total += waited;
            requests_total += n;
            json!({"key": r.key(), "kind": r.kind(), "lro_field": field, "lro_emulated_s": lro,
                   "lro_s": observed(scaled(lro)), "requests": n,
                   "waits": waits[i].iter().map(|w| json!({"what": w.what, "seconds": w.seconds})).collect::<Vec<_>>(),
                   "seconds": observed(scaled(lro)) + f64::from(n) * request_s + waited})
        })
        .collect();
    Ok(json!({
        "time_scale": time_scale,
        "request_ms": profile.request_ms,
        "initial_reads": initial_reads,
        "chain": steps,
        "lro_s": lro_total,
        "waits_s": waits_total,
        "requests": requests_total,
        "request_s": f64::from(requests_total) * request_s,
        "critical_path_s": total,
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

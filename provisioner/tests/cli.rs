//! The command line on a fresh environment, where nothing exists yet: `plan` lists creates and
//! writes nothing, `output` prints derived names (and says what has no value yet), `drift` reports
//! everything missing, and `up` without a terminal refuses to apply without `--yes`.

mod common;
use common::World;
use serde_json::Value;

/// Nothing is deployed, so no package needs to be read (nor built) to plan.
const NO_PACKAGE: &str = "/nonexistent/package.zip";

#[tokio::test]
async fn on_a_fresh_environment_plan_output_drift_and_up_without_yes() {
    let world = World::start_with("cli", "").await;
    let names = world.names();
    let resource_count = provisioner::resources::all(&world.environment()).len();

    let validate = world.provision(&["validate"]).await;
    validate.assert_code(0, "validate");
    assert!(
        validate.stdout.contains(&names.raw_account),
        "{}",
        validate.stdout
    );
    assert!(
        world.emulator.requests().is_empty(),
        "validate sends nothing"
    );

    let plan = world.provision(&["plan", "--output", "json"]).await;
    plan.assert_code(0, "plan --output json");
    let j = plan.json();
    assert_eq!(j["version"], 1);
    assert_eq!(j["environment"], "cli");
    assert_eq!(j["in_sync"], false);
    assert_eq!(j["unchanged"], 0);
    let changes = j["changes"].as_array().expect("changes");
    assert_eq!(
        changes.len(),
        resource_count,
        "every resource is to be created: {j:#}"
    );
    assert!(changes.iter().all(|c| c["action"] == "create"), "{j:#}");
    let keys: Vec<&str> = changes.iter().filter_map(|c| c["key"].as_str()).collect();
    for key in [
        "resource-group",
        "storage:raw",
        "storage:standard",
        "storage:functions",
        "security-group",
        "function-app",
        "role:group:raw:blob-contributor",
        "function-package",
        "event-subscription",
    ] {
        assert!(keys.contains(&key), "plan lists {key}: {keys:?}");
    }
    let by_key = |k: &str| {
        changes
            .iter()
            .find(|c| c["key"] == k)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_key("storage:raw")["name"], names.raw_account.as_str());
    assert_eq!(by_key("function-app")["kind"], "function app");
    assert!(
        plan.stderr.is_empty(),
        "--output json keeps stderr quiet: {}",
        plan.stderr
    );

    let human = world.provision(&["plan"]).await;
    human.assert_code(0, "plan");
    assert!(
        human.stdout.contains(&format!(
            "Plan for cli: {resource_count} to create, 0 to update, 0 unchanged."
        )),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains(&format!("  + storage account {}", names.raw_account)),
        "{}",
        human.stdout
    );

    let raw = world.provision(&["output", "--raw", "raw_account"]).await;
    raw.assert_code(0, "output --raw raw_account");
    assert_eq!(
        raw.stdout,
        format!("{}\n", names.raw_account),
        "just the name"
    );
    assert!(raw.stderr.is_empty(), "{}", raw.stderr);
    let app = world
        .provision(&["output", "--raw", "function_app_url"])
        .await;
    assert_eq!(
        app.stdout,
        format!("https://{}.azurewebsites.net\n", names.function_app)
    );

    let unset = world
        .provision(&["output", "--raw", "raw_blob_endpoint"])
        .await;
    unset.assert_code(1, "an output with no value yet");
    assert!(
        unset.stdout.is_empty()
            && unset
                .stderr
                .contains("raw_blob_endpoint has no value yet: run `provision up` first"),
        "{}",
        unset.stderr
    );
    let unknown = world.provision(&["output", "--raw", "nope"]).await;
    unknown.assert_code(1, "an unknown output");
    assert!(
        unknown.stderr.contains("no output named nope; known:")
            && unknown.stderr.contains("raw_account"),
        "{}",
        unknown.stderr
    );
    let all = world.provision(&["output", "--output", "json"]).await;
    all.assert_code(0, "output --output json");
    assert_eq!(all.json()["resource_group"], names.resource_group.as_str());
    assert!(all.json()["raw_blob_endpoint"].is_null());

    let drift = world
        .provision(&["drift", "--output", "json", "--package", NO_PACKAGE])
        .await;
    drift.assert_code(2, "drift on nothing");
    assert_eq!(
        drift.json()["changes"].as_array().map(Vec::len),
        Some(resource_count)
    );

    let up = world.provision(&["up", "--package", NO_PACKAGE]).await;
    up.assert_code(1, "up without --yes and no terminal");
    assert!(
        up.stderr.contains("not a terminal") && up.stderr.contains("pass --yes"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr
            .contains(&format!("+ storage account {}", names.raw_account)),
        "the plan is shown first: {}",
        up.stderr
    );
    let down = world.provision(&["down"]).await;
    down.assert_code(0, "down with nothing to delete needs no --yes");
    assert!(
        down.stdout.contains("Nothing of environment cli exists"),
        "{}",
        down.stdout
    );

    let writes = world.writes();
    assert!(
        writes.is_empty(),
        "none of this writes anything: {:?}",
        writes
            .iter()
            .map(|w| format!("{} {}", w.method, w.path))
            .collect::<Vec<_>>()
    );
}

/// `--output json` is the one switch for machine output; the old per-command `--json` is gone, and
/// a usage error exits 1 (clap's own 2 would read as drift).
#[tokio::test]
async fn a_usage_error_exits_one_and_names_the_flag() {
    for args in [["plan", "--json"], ["drift", "--jsn"]] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let output = World::command(&args)
            .output()
            .await
            .expect("provision runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(
            stderr.contains(&args[1]) && stderr.contains("unexpected argument"),
            "{args:?}: {stderr}"
        );
    }
    let help = World::command(&["drift".to_string(), "--help".to_string()])
        .output()
        .await
        .expect("provision runs");
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--output") && !text.contains("--json"),
        "{text}"
    );
}

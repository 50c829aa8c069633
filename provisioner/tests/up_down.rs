//! `up` from nothing, a converged re-run, and `down`, against the local cloud.

mod common;
use common::World;
use serde_json::json;

#[tokio::test]
async fn up_creates_everything_then_a_rerun_writes_nothing_and_down_leaves_nothing_of_ours() {
    let world = World::start().await;
    let up = world.provision(&["up", "--yes"]).await;
    assert_eq!(up.code, 0, "up failed:\n{}\n{}", up.stdout, up.stderr);
    let state = world.state().await;
    for (kind, count) in [
        ("Microsoft.Resources/resourceGroups", 1),
        ("Microsoft.Storage/storageAccounts", 3),
        (
            "Microsoft.Storage/storageAccounts/blobServices/containers",
            4,
        ),
        ("Microsoft.OperationalInsights/workspaces", 1),
        ("Microsoft.Insights/components", 1),
        ("Microsoft.Web/serverfarms", 1),
        ("Microsoft.Web/sites", 1),
        ("Microsoft.Authorization/roleAssignments", 8),
        ("Microsoft.EventGrid/systemTopics", 1),
        ("Microsoft.EventGrid/systemTopics/eventSubscriptions", 1),
    ] {
        assert_eq!(World::find(&state, kind).len(), count, "{kind}");
    }
    for account in World::find(&state, "Microsoft.Storage/storageAccounts") {
        let body = &account["body"];
        assert_eq!(body["tags"]["managed-by"], "provision");
        assert_eq!(body["properties"]["minimumTlsVersion"], "TLS1_2");
        assert_eq!(body["properties"]["allowBlobPublicAccess"], false);
        assert_eq!(body["properties"]["supportsHttpsTrafficOnly"], true);
    }
    let hns: Vec<bool> = World::find(&state, "Microsoft.Storage/storageAccounts")
        .iter()
        .map(|a| a["body"]["properties"]["isHnsEnabled"] == json!(true))
        .collect();
    assert_eq!(
        hns.iter().filter(|h| **h).count(),
        2,
        "raw and standard are ADLS Gen2"
    );
    let site = &World::find(&state, "Microsoft.Web/sites")[0]["body"];
    assert_eq!(site["identity"]["type"], "SystemAssigned");
    assert_eq!(site["properties"]["httpsOnly"], true);
    let settings = World::find(&state, "Microsoft.Web/sites/config")
        .into_iter()
        .find(|c| c["id"].as_str().is_some_and(|i| i.ends_with("appsettings")))
        .expect("settings");
    let settings = &settings["body"]["properties"];
    assert_eq!(settings["FUNCTIONS_WORKER_RUNTIME"], "custom");
    assert!(
        settings["WEBSITE_RUN_FROM_PACKAGE"]
            .as_str()
            .is_some_and(|u| u.contains("si=pkg-read-")),
        "SAS bound to a stored access policy"
    );
    for (k, v) in settings.as_object().expect("object") {
        assert!(
            !k.to_ascii_lowercase().contains("key") || k == "AzureWebJobsStorage__accountName",
            "no account keys in app settings: {k}={v}"
        );
    }
    let group = state["directory"]
        .as_array()
        .expect("dir")
        .iter()
        .find(|o| o["principalType"] == "Group")
        .cloned()
        .expect("group");
    assert!(group["members"]
        .as_array()
        .expect("members")
        .contains(&json!(local_cloud::DEPLOYER_OBJECT_ID)));
    assert!(
        !up.stdout.contains("sig=") && !up.stderr.contains("sig="),
        "no SAS signature printed"
    );

    world.emulator.state.log.clear();
    let again = world.provision(&["up", "--yes"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("up to date"), "{}", again.stdout);
    let writes = world.writes();
    assert!(
        writes.is_empty(),
        "a converged re-run sends no write, saw: {:?}",
        writes
            .iter()
            .map(|w| format!("{} {}", w.method, w.path))
            .collect::<Vec<_>>()
    );
    let drift = world.provision(&["drift"]).await;
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);

    let down = world.provision(&["down", "--yes"]).await;
    assert_eq!(down.code, 0, "{}\n{}", down.stdout, down.stderr);
    let state = world.state().await;
    assert!(
        World::resource_ids(&state).is_empty(),
        "nothing left: {:?}",
        World::resource_ids(&state)
    );
    assert!(state["accounts"].as_array().expect("accounts").is_empty());
    assert!(
        !state["directory"]
            .as_array()
            .expect("dir")
            .iter()
            .any(|o| o["principalType"] == "Group"),
        "the group is gone"
    );
}

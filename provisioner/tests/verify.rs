//! `provision verify` proves the deployed data path: canary raw → Event Grid → function → Parquet,
//! names the stage that failed, and leaves nothing of its own behind.

mod common;
use common::World;

const MARKER: &str = "_canary/kept-by-the-test.txt";

/// The names of the blobs under `prefix` in one container, listed with the account key.
async fn blob_names(world: &World, account: &str, container: &str, prefix: &str) -> Vec<String> {
    let (status, xml) = world
        .blob(
            account,
            "GET",
            &format!("{container}?restype=container&comp=list&prefix={prefix}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(status, 200, "list {container}/{prefix}: {xml}");
    assert!(xml.contains("<EnumerationResults"), "{xml}");
    xml.split("<Name>")
        .skip(1)
        .filter_map(|s| s.split("</Name>").next())
        .map(str::to_string)
        .collect()
}

async fn put_marker(world: &World, account: &str, container: &str) {
    let (status, text) = world
        .blob(
            account,
            "PUT",
            &format!("{container}/{MARKER}"),
            &[
                ("x-ms-blob-type", "BlockBlob"),
                ("content-type", "text/plain"),
            ],
            b"not the canary's".to_vec(),
        )
        .await;
    assert_eq!(status, 201, "put the marker in {container}: {text}");
}

#[tokio::test]
async fn verify_passes_on_a_deployment_and_names_the_trigger_when_the_subscription_is_broken() {
    let world = World::start_with("ver", "").await;
    let names = world.names();
    let up = world.provision(&["up", "--yes", "--verify"]).await;
    assert_eq!(up.code, 0, "up --verify:\n{}\n{}", up.stdout, up.stderr);
    assert!(up.stdout.contains("the data path works"), "{}", up.stdout);
    // Someone else's blob under the canary prefix in standard: verify must not take it along.
    put_marker(&world, &names.standard_account, "standard").await;

    let state = world.state().await;
    let sub = World::find(
        &state,
        "Microsoft.EventGrid/systemTopics/eventSubscriptions",
    );
    let sub_id = sub[0]["id"].as_str().expect("subscription id").to_string();
    world.delete_resource(&sub_id).await;
    // Someone else's blob under the canary prefix in raw too.
    put_marker(&world, &names.raw_account, "raw").await;

    let broken = world
        .provision(&["verify", "--timeout", "5", "--output", "json"])
        .await;
    assert_eq!(broken.code, 1, "{}\n{}", broken.stdout, broken.stderr);
    let report = broken.json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["stage"], "trigger", "{report}");

    let drift = world.provision(&["drift"]).await;
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(
        drift.stdout.contains("event grid subscription"),
        "{}",
        drift.stdout
    );
    let fix = world.provision(&["drift", "--fix"]).await;
    assert_eq!(fix.code, 0, "{}\n{}", fix.stdout, fix.stderr);
    let again = world.provision(&["verify"]).await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    let sites = world.admin("GET", "/sites", None).await;
    let invocations = sites["sites"][0]["invocations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        invocations.len() >= 2,
        "both passing canaries ran through the function: {sites}"
    );
    // Three canaries were written (two passed, one never fired): none is left in raw, nor their
    // Parquet or quarantine in standard; the markers show the listings see what is there.
    assert_eq!(
        blob_names(&world, &names.raw_account, "raw", "_canary/").await,
        vec![MARKER.to_string()],
        "raw keeps no canary batch"
    );
    assert_eq!(
        blob_names(&world, &names.standard_account, "standard", "_canary/").await,
        vec![MARKER.to_string()],
        "standard keeps no canary Parquet"
    );
    // The raw marker may reach the function (it is not a batch, so it is quarantined); only
    // what came of it may be there.
    let quarantined = blob_names(
        &world,
        &names.standard_account,
        "standard",
        "_quarantine/_canary/",
    )
    .await;
    assert!(
        quarantined.iter().all(|n| n.contains("kept-by-the-test")),
        "standard keeps no canary quarantine: {quarantined:?}"
    );
}

//! `provision verify` proves the deployed data path: canary raw → Event Grid → function → Parquet.

mod common;
use common::World;

#[tokio::test]
async fn verify_passes_on_a_deployment_and_names_the_trigger_when_the_subscription_is_broken() {
    let world = World::start_with("ver", "").await;
    let up = world.provision(&["up", "--yes", "--verify"]).await;
    assert_eq!(up.code, 0, "up --verify:\n{}\n{}", up.stdout, up.stderr);
    assert!(up.stdout.contains("the data path works"), "{}", up.stdout);

    let state = world.state().await;
    let sub = World::find(
        &state,
        "Microsoft.EventGrid/systemTopics/eventSubscriptions",
    );
    let sub_id = sub[0]["id"].as_str().expect("subscription id").to_string();
    let removed = world
        .http
        .delete(format!("{}/_admin/resource", world.emulator.url()))
        .query(&[("id", sub_id.as_str())])
        .send()
        .await
        .expect("delete");
    assert!(removed.status().is_success());

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

    // The canary leaves nothing behind in raw or standard.
    let sites = world.admin("GET", "/sites", None).await;
    let invocations = sites["sites"][0]["invocations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        invocations.len() >= 2,
        "both canaries ran through the function: {sites}"
    );
}

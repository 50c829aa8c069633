//! A flaky cloud: throttling with Retry-After, 500/503, dropped connections and long-running
//! operations that end Failed, all injected (seeded) before `up`. `up` must still converge, and a
//! `drift` on a healthy cloud afterwards must find nothing. Also the PrincipalNotFound window a new
//! identity has in ARM.

mod common;
use common::World;
use serde_json::json;

#[tokio::test]
async fn up_converges_through_throttling_server_errors_dropped_connections_and_failed_operations() {
    let world = World::start_with("flaky", "").await;
    world
        .set_faults(json!({
            "seed": 20240611,
            "throttle_rate": 0.12,
            "retry_after_s": 0,
            "server_error_rate": 0.12,
            "drop_rate": 0.06,
            "lro_failure_rate": 0.2,
        }))
        .await;
    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "up through faults");

    let log = world.emulator.requests();
    let status_count = |codes: &[u16]| log.iter().filter(|r| codes.contains(&r.status)).count();
    assert!(status_count(&[429]) > 0, "throttling was injected");
    assert!(status_count(&[500, 503]) > 0, "server errors were injected");
    assert!(
        up.stderr.contains("retrying"),
        "retries are told to the user:\n{}",
        up.stderr
    );
    assert!(
        up.stderr.contains(": ConnectionFailed; retrying"),
        "dropped connections were injected and retried:\n{}",
        up.stderr
    );
    assert!(
        !up.stderr.contains("✗"),
        "nothing failed for good:\n{}",
        up.stderr
    );

    world.faults_off().await;
    let drift = world.provision(&["drift"]).await;
    drift.assert_code(0, "drift on a healthy cloud after a flaky up");
    let state = world.state().await;
    for r in state["resources"].as_array().expect("resources") {
        let provisioning = r["body"]["properties"]["provisioningState"].as_str();
        assert!(
            provisioning.is_none_or(|s| s == "Succeeded"),
            "{} is left {provisioning:?}",
            r["id"]
        );
    }
}

/// Long-running creates that end Failed, every one of them once: the create is tried again and
/// the run converges.
#[tokio::test]
async fn every_long_running_create_failing_once_is_retried() {
    let world = World::start_with("lrofail", "").await;
    world.set_faults(json!({"seed": 1, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 0.0, "drop_rate": 0.0, "lro_failure_rate": 1.0})).await;
    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "up when every long-running create fails once");
    assert!(
        up.stderr.contains("ProvisioningFailed") && up.stderr.contains("retrying"),
        "the failed operation is named and retried:\n{}",
        up.stderr
    );
    world.faults_off().await;
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "drift after");
    let state = world.state().await;
    for r in state["resources"].as_array().expect("resources") {
        let provisioning = r["body"]["properties"]["provisioningState"].as_str();
        assert!(
            provisioning.is_none_or(|s| s == "Succeeded"),
            "{} is left {provisioning:?}",
            r["id"]
        );
    }
}

/// A new identity is unknown to ARM for a while (here 60 s): a role assignment without
/// principalType fails with PrincipalNotFound. `up` sends principalType, so it converges at once
/// inside that window; the window itself is shown to be open with a hand-made request.
#[tokio::test]
async fn role_assignments_for_a_brand_new_identity_succeed_inside_the_replication_window() {
    let world = World::start_with("replica", "").await;
    let status = world
        .http
        .post(format!("{}/_admin/settings", world.emulator.url()))
        .json(&json!({"principal_replication_s": 60}))
        .send()
        .await
        .expect("settings")
        .status();
    assert!(status.is_success());
    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "up with a 60 s replication window");

    let log = world.emulator.requests();
    let puts: Vec<_> = log
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path
                    .contains("/providers/Microsoft.Authorization/roleAssignments/")
        })
        .collect();
    assert_eq!(
        puts.iter().filter(|r| r.status == 201).count(),
        8,
        "all eight assignments made"
    );
    for p in &puts {
        assert!(
            p.body
                .as_ref()
                .and_then(|b| b.pointer("/properties/principalType"))
                .is_some(),
            "principalType is always sent: {:?}",
            p.body
        );
        assert_ne!(p.status, 400, "no PrincipalNotFound: {p:?}");
    }

    // The window was open: the same grant without principalType is refused for the new identity.
    let principal = world.get_resource(&world.site_id()).await["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_string();
    let names = world.names();
    let scope = world.account_id(&names.standard_account);
    let (status, body) = world
        .arm(
            "PUT",
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", local_cloud::DEFAULT_SUBSCRIPTION),
                "principalId": principal,
            }})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PrincipalNotFound")),
        "{body}"
    );
    world.provision(&["drift"]).await.assert_code(0, "drift");
}

//! When Azure takes longer to catch up than the propagation window (`--propagation-window`),
//! `provision` gives up with a message that names the resource, keeps Azure's error code, says
//! what it waited for and for how long, and what to do. One test per eventual answer: each turns
//! on only its behaviour, makes it last far longer than a one-second window, and reads the error.
//! (A principal ARM has not replicated yet is not among them: `provision` always sends
//! `principalType`, which Azure documents as the way past that delay, and the local cloud honours.)

mod common;
use common::{Run, World};
use serde_json::json;

/// `up` with a one-second window: it must fail, not hang and not pass.
async fn up_outlasted(world: &World) -> Run {
    let up = world
        .provision(&["up", "--yes", "--propagation-window", "1"])
        .await;
    assert_ne!(
        up.code, 0,
        "up cannot succeed while Azure has not caught up:\n{}",
        up.stderr
    );
    up
}

/// Every piece a user needs is in what `up` printed.
#[track_caller]
fn says(run: &Run, what: &str, pieces: &[&str]) {
    let text = run.all();
    for piece in pieces
        .iter()
        .chain(&["waited the propagation window (1s)", "--propagation-window"])
    {
        assert!(
            text.contains(piece),
            "{what}: the message names `{piece}`:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_data_role_that_never_lands_names_the_app_and_what_to_check() {
    let world = World::start_with("norole", "").await;
    world
        .set_behaviours(json!({"all": false, "data_role_delay": true, "data_role_delay_s": 1.0e6}))
        .await;
    let up = up_outlasted(&world).await;
    says(
        &up,
        "host without data roles",
        &[
            &world.names().function_app,
            "HostStartedWithoutDataRoles",
            "identity to read its storage after a restart",
            "role assignments",
        ],
    );
}

#[tokio::test]
async fn a_stored_access_policy_that_never_applies_names_the_package_and_the_fix() {
    let world = World::start_with("nopolicy", "").await;
    world
        .set_behaviours(
            json!({"all": false, "access_policy_delay": true, "access_policy_delay_s": 1.0e6}),
        )
        .await;
    let up = up_outlasted(&world).await;
    says(
        &up,
        "access policy not effective",
        &[
            "function package",
            "AuthenticationFailed",
            "stored access policy to take effect",
            "provision drift --fix",
        ],
    );
}

#[tokio::test]
async fn a_host_that_never_restarts_names_the_app_and_where_to_look() {
    let world = World::start_with("nohost", "").await;
    world
        .set_behaviours(json!({"all": false, "host_not_ready": true, "host_restart_s": 1.0e6}))
        .await;
    let up = up_outlasted(&world).await;
    says(
        &up,
        "host never back",
        &[
            &world.names().function_app,
            "BadRequest",
            "the Functions host to start again",
            "log stream",
        ],
    );
}

#[tokio::test]
async fn a_webhook_that_never_validates_names_the_subscription_and_verify() {
    let world = World::start_with("nohook", "").await;
    world.set_behaviours(json!({"all": false})).await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up with every behaviour off");
    // The subscription is gone, and Event Grid's handshake now meets a host that keeps starting
    // (the host answers the provisioner itself: only the handshake fails).
    let subscriptions = World::find(
        &world.state().await,
        "Microsoft.EventGrid/systemTopics/eventSubscriptions",
    );
    let id = subscriptions[0]["id"]
        .as_str()
        .expect("subscription id")
        .to_string();
    world.delete_resource(&id).await;
    world
        .set_behaviours(json!({"async_url_validation": true, "host_restart_s": 1.0e6}))
        .await;
    let up = up_outlasted(&world).await;
    says(
        &up,
        "webhook never validated",
        &[
            "event grid subscription",
            "Url validation",
            "validation handshake",
            "provision verify",
        ],
    );
}

#[tokio::test]
async fn a_member_graph_never_finds_names_the_group_and_the_wait() {
    let world = World::start_with("nomember", "").await;
    world.set_behaviours(json!({"all": false})).await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up with every behaviour off");
    let colleague = world
        .admin(
            "POST",
            "/directory",
            Some(json!({"principal_type": "User", "display_name": "colleague", "age_s": 86400})),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    world.edit_env(|t| {
        t.replace(
            "unique_name = \"hero-nomember-data\"",
            &format!("unique_name = \"hero-nomember-data\"\nmembers = [\"{colleague}\"]"),
        )
    });
    world
        .set_behaviours(json!({"graph_lag": true, "graph_lag_s": 1.0e6}))
        .await;
    let up = up_outlasted(&world).await;
    says(
        &up,
        "graph lag",
        &[
            "security group",
            "Request_ResourceNotFound",
            "Microsoft Graph to replicate",
            "run again later",
        ],
    );
}

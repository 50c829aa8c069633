//! App Service and the storage data plane as they really are, one behaviour at a time (issue 10:
//! 1, 8, 9, 10, 11): each test turns on only its behaviour in the local cloud, proves it fired,
//! and holds `provision` to its promise — up from nothing in one run, a re-run with no write,
//! drift clean, down leaves nothing.

mod common;
use common::World;
use serde_json::{json, Value};

/// Requests to paths containing `needle`, as "METHOD path -> status", in order.
fn calls_to(world: &World, needle: &str) -> Vec<String> {
    world
        .emulator
        .requests()
        .iter()
        .filter(|r| {
            r.path
                .to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}

async fn app_settings(world: &World) -> Value {
    let (status, body) = world
        .arm(
            "POST",
            &format!(
                "{}/config/appsettings/list?api-version=2024-04-01",
                world.site_id()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "list app settings: {body}");
    body["properties"].clone()
}

#[tokio::test]
async fn a_functions_host_restarting_after_a_write_is_waited_out() {
    let world = World::start_with("hostready", "").await;
    // 1 s of real time: every listkeys and syncfunctiontriggers right after a write meets it.
    world
        .set_behaviours(json!({"all": false, "host_not_ready": true, "host_restart_s": 100}))
        .await;
    let up = world
        .up_converges_and_down_leaves_nothing("host not ready")
        .await;
    assert!(
        up.stderr
            .contains("syncfunctiontriggers: HTTP 400 BadRequest"),
        "the host's 400 (App Service's Code/Message shape, code read) was met and waited out:\n{}",
        up.stderr
    );
}

#[tokio::test]
async fn the_host_answers_in_app_service_shape_while_it_restarts() {
    let world = World::start_with("hostshape", "").await;
    world.set_behaviours(json!({"all": false})).await;
    world.provision(&["up", "--yes"]).await.assert_code(0, "up");
    world
        .set_behaviours(json!({"all": false, "host_not_ready": true, "host_restart_s": 100000}))
        .await;
    let (status, _) = world
        .arm(
            "POST",
            &format!("{}/restart?api-version=2024-04-01", world.site_id()),
            None,
        )
        .await;
    assert_eq!(status, 200, "restart");
    let (status, body) = world
        .arm(
            "POST",
            &format!(
                "{}/host/default/listkeys?api-version=2024-04-01",
                world.site_id()
            ),
            None,
        )
        .await;
    assert_eq!(status, 400, "listkeys while the host restarts: {body}");
    assert_eq!(body["Code"], "BadRequest", "top-level Code: {body}");
    assert_eq!(
        body["Message"], "Encountered an error (ServiceUnavailable) from host runtime.",
        "top-level Message: {body}"
    );
    assert!(body.get("error").is_none(), "not ARM's shape: {body}");
    world
        .provision(&["down", "--yes"])
        .await
        .assert_code(0, "down");
}

#[tokio::test]
async fn an_existing_site_is_patched_and_its_settings_survive() {
    let world = World::start_with("siteput", "").await;
    world
        .set_behaviours(json!({"all": false, "site_put_drops_settings": true}))
        .await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing");
    let before = app_settings(&world).await;
    assert!(
        before.get("WEBSITE_RUN_FROM_PACKAGE").is_some(),
        "the package is set: {before}"
    );
    // The site drifts (someone turned httpsOnly off): the fix must not drop the settings.
    world
        .patch_resource(
            &world.site_id(),
            json!({"properties": {"httpsOnly": false}}),
        )
        .await;
    world.emulator.state.log.clear();
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up fixes the drifted site");
    let site_writes: Vec<String> = world
        .writes()
        .iter()
        .filter(|r| r.path.eq_ignore_ascii_case(&world.site_id()))
        .map(|r| format!("{} -> {}", r.method, r.status))
        .collect();
    assert_eq!(
        site_writes,
        vec!["PATCH -> 200".to_string()],
        "an existing site is patched, never PUT whole"
    );
    assert_eq!(
        app_settings(&world).await,
        before,
        "every app setting survives the fix"
    );
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "drift after the fix");
    world
        .provision(&["down", "--yes"])
        .await
        .assert_code(0, "down");
    world
        .up_converges_and_down_leaves_nothing("site put drops settings")
        .await;
}

#[tokio::test]
async fn the_emulator_drops_settings_on_a_site_put_without_them() {
    let world = World::start_with("siteput2", "").await;
    world
        .set_behaviours(json!({"all": false, "site_put_drops_settings": true}))
        .await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing");
    let site = world.get_resource(&world.site_id()).await;
    let body = json!({"location": site["location"], "kind": site["kind"], "tags": site["tags"], "identity": {"type": "SystemAssigned"},
        "properties": {"serverFarmId": site["properties"]["serverFarmId"], "siteConfig": {"linuxFxVersion": ""}}});
    let (status, answer) = world
        .arm(
            "PUT",
            &format!("{}?api-version=2024-04-01", world.site_id()),
            Some(body),
        )
        .await;
    assert!(status < 300, "site PUT: {status} {answer}");
    assert_eq!(
        app_settings(&world).await,
        json!({}),
        "Azure's behaviour modelled: a whole-site PUT without appSettings drops them"
    );
    world
        .provision(&["down", "--yes"])
        .await
        .assert_code(0, "down");
}

#[tokio::test]
async fn a_busy_site_or_plan_is_waited_for() {
    let world = World::start_with("busy", "").await;
    // 3 s of real time: the writes that follow the site's create meet the 409.
    world
        .set_behaviours(json!({"all": false, "app_service_busy": true, "app_service_busy_s": 300}))
        .await;
    let up = world
        .up_converges_and_down_leaves_nothing("app service busy")
        .await;
    // Which write meets the window depends on the machine's load: the settings' PUT, or the
    // restart's POST when the package upload runs long.
    assert!(
        (up.stderr.contains("busy PUT") || up.stderr.contains("busy POST"))
            && up.stderr.contains("HTTP 409 Conflict"),
        "App Service's 409 Conflict \"another operation is in progress\" was met and waited out:\n{}",
        up.stderr
    );
}

#[tokio::test]
async fn new_data_roles_are_waited_for_by_the_host_and_by_verify() {
    let world = World::start_with("dataroles", "").await;
    // 3 s of real time: the host starts before the site's roles land, verify writes before the
    // group's role lands.
    world
        .set_behaviours(json!({"all": false, "data_role_delay": true, "data_role_delay_s": 300}))
        .await;
    let up = world
        .up_converges_and_down_leaves_nothing("data role delay")
        .await;
    assert!(
        up.stderr.contains("HostStartedWithoutDataRoles"),
        "the host started without its roles and was restarted:\n{}",
        up.stderr
    );
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up again from nothing");
    let restarts = calls_to(&world, "/restart");
    assert!(
        !restarts.is_empty(),
        "provision restarted the app once its roles could be effective"
    );
    // The group's data roles made anew, then verify at once: the deploying identity (a member)
    // is refused until they land.
    let state = world.state().await;
    let group_roles: Vec<String> = World::find(&state, "Microsoft.Authorization/roleAssignments")
        .iter()
        .filter(|r| r["body"]["properties"]["principalType"] == "Group")
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        group_roles.len(),
        2,
        "the group's roles on raw and standard"
    );
    for id in &group_roles {
        world.delete_resource(id).await;
    }
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up grants the group's roles again");
    let verify = world.provision(&["verify"]).await;
    verify.assert_code(0, "verify right after up");
    assert!(
        verify
            .stderr
            .contains("HTTP 403 AuthorizationPermissionMismatch")
            && verify.stderr.contains("may take minutes to apply"),
        "verify waited for the deploying identity's data role, saying so:\n{}",
        verify.stderr
    );
    world
        .provision(&["down", "--yes"])
        .await
        .assert_code(0, "down");
}

#[tokio::test]
async fn a_new_stored_access_policy_is_waited_for_before_the_site_gets_its_url() {
    let world = World::start_with("policy", "").await;
    // 2 s of real time. Had provision handed the URL at once, the host would have failed to
    // load the package and never registered its blob trigger.
    world
        .set_behaviours(
            // host_not_ready too, so that listkeys tells a host still starting (400) from one
            // that started without its package (200 without the blob trigger's key).
            json!({"all": false, "access_policy_delay": true, "access_policy_delay_s": 200, "host_not_ready": true}),
        )
        .await;
    let up = world
        .up_converges_and_down_leaves_nothing("access policy delay")
        .await;
    assert!(
        up.stderr.contains("HTTP 403 AuthenticationFailed"),
        "the SAS was refused while its policy was new, and tried until it worked:\n{}",
        up.stderr
    );
    assert!(
        !up.stderr.contains("HostStartedWithoutDataRoles"),
        "the site got a URL storage already honoured: its host loaded the package at once:\n{}",
        up.stderr
    );
}

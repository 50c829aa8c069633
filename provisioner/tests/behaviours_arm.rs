//! Azure Resource Manager as it really is, one behaviour at a time (issue 10: 4, 5, 6, 7, 13, 14):
//! each test turns on only its behaviour in the local cloud, proves it fired, and holds `provision`
//! to its promise — up from nothing in one run, a re-run with no write, drift clean, down leaves
//! nothing.

mod common;
use common::World;
use local_cloud::server::lock;
use serde_json::{json, Value};

fn writes_to(world: &World, needle: &str) -> Vec<String> {
    world
        .writes()
        .iter()
        .filter(|r| {
            r.path
                .to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}

fn ids(state: &Value) -> Vec<String> {
    World::resource_ids(state)
}

#[tokio::test]
async fn smart_detection_made_for_app_insights_does_not_keep_the_group() {
    let world = World::start_with("smart", "").await;
    world
        .set_behaviours(json!({"all": false, "insights_smart_detection": true}))
        .await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing");
    let state = world.state().await;
    let made: Vec<String> = ids(&state)
        .into_iter()
        .filter(|id| {
            let id = id.to_ascii_lowercase();
            id.contains("/actiongroups/application insights smart detection")
                || id.contains(&format!(
                    "/smartdetectoralertrules/failure anomalies - {}",
                    world.names().app_insights
                ))
        })
        .collect();
    assert_eq!(
        made.len(),
        2,
        "Application Insights added its action group and rule: {:?}",
        ids(&state)
    );
    world
        .up_converges_and_down_leaves_nothing("smart detection")
        .await;
}

#[tokio::test]
async fn a_group_with_foreign_resources_is_kept_named_and_down_fails() {
    let world = World::start_with("foreign", "").await;
    world
        .set_behaviours(json!({"all": false, "insights_smart_detection": true}))
        .await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing");
    let foreign = world.resource_id(
        "Microsoft.OperationalInsights/workspaces",
        "someone-elses-logs",
    );
    let (status, body) = world
        .arm(
            "PUT",
            &format!("{foreign}?api-version=2023-09-01"),
            Some(json!({"location": "westeurope", "properties": {"sku": {"name": "PerGB2018"}}})),
        )
        .await;
    assert!(status < 300, "someone else's workspace: {status} {body}");

    let down = world.provision(&["down", "--yes"]).await;
    down.assert_code(1, "down that had to keep the group");
    let said = down.all();
    assert!(
        said.contains("kept resource group") && said.contains("someone-elses-logs"),
        "down names the group and what kept it:\n{said}"
    );
    assert!(
        !said.contains("not created by provision") && !said.contains("Smart Detection"),
        "the group is ours and smart detection is not foreign:\n{said}"
    );
    let left: Vec<String> = ids(&world.state().await)
        .into_iter()
        .map(|id| id.to_ascii_lowercase())
        .collect();
    let want = vec![
        world.rg_id().to_ascii_lowercase(),
        foreign.to_ascii_lowercase(),
    ];
    let mut sorted = left.clone();
    sorted.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(
        sorted, want_sorted,
        "everything of the environment went, smart detection included; the group and the foreign workspace stay"
    );

    let (status, body) = world
        .arm(
            "DELETE",
            &format!("{foreign}?api-version=2023-09-01&force=true"),
            None,
        )
        .await;
    assert!(
        status < 300,
        "delete the foreign workspace: {status} {body}"
    );
    for _ in 0..100 {
        if ids(&world.state().await).len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    world
        .provision(&["down", "--yes"])
        .await
        .assert_code(0, "down once the group holds only ours");
    assert!(ids(&world.state().await).is_empty(), "the group is gone");
}

#[tokio::test]
async fn unregistered_resource_providers_are_registered_before_the_first_write() {
    let world = World::start_with("fresh", "").await;
    // Registering takes 3 s here, long enough to see what does not wait for it.
    world
        .set_behaviours(
            json!({"all": false, "provider_registration": true, "provider_register_s": 300.0}),
        )
        .await;
    // A fresh subscription refuses a write to an unregistered namespace, in ARM's own shape.
    let workspace = world.resource_id("Microsoft.OperationalInsights/workspaces", "probe");
    let (status, refused) = world
        .arm(
            "PUT",
            &format!("{workspace}?api-version=2023-09-01"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "MissingSubscriptionRegistration");
    assert_eq!(
        refused["error"]["details"][0]["target"],
        "Microsoft.OperationalInsights"
    );

    let up = world
        .up_converges_and_down_leaves_nothing("provider registration")
        .await;
    let registered = lock(&world.emulator.state.cloud)
        .registered_providers
        .clone();
    for ns in [
        "Microsoft.Storage",
        "Microsoft.Web",
        "Microsoft.Insights",
        "Microsoft.OperationalInsights",
        "Microsoft.EventGrid",
        "Microsoft.AlertsManagement",
    ] {
        assert_eq!(
            registered.get(ns),
            Some(&true),
            "{ns} registered: {registered:?}"
        );
        assert!(
            up.stderr
                .contains(&format!("registering resource provider {ns}")),
            "up says it registers {ns}:\n{}",
            up.stderr
        );
    }
    // Registration is no barrier: the resource group (Microsoft.Resources, always registered) is
    // created while every other namespace is still registering, not after.
    let group_created = up
        .stderr
        .find("created resource group")
        .expect("up says it created the resource group");
    let first_registered = up
        .stderr
        .find("is registered on the subscription")
        .expect("up says a namespace is registered");
    assert!(
        group_created < first_registered,
        "the resource group waited for a namespace to register:\n{}",
        up.stderr
    );
    // Nor is the lock's home: every namespace starts registering at once, not after the
    // functions account (which waits for Microsoft.Storage) is created.
    let functions_created = up
        .stderr
        .find(&format!(
            "creating storage account {}",
            world.names().functions_account
        ))
        .expect("up says it creates the functions account");
    let web_registering = up
        .stderr
        .find("registering resource provider Microsoft.Web")
        .expect("up says it registers Microsoft.Web");
    assert!(
        web_registering < functions_created,
        "Microsoft.Web started registering only after the lock's home was made:\n{}",
        up.stderr
    );
}

#[tokio::test]
async fn an_equivalent_role_assignment_made_by_hand_is_adopted() {
    let world = World::start_with("adopt", "").await;
    world
        .set_behaviours(json!({"all": false, "role_assignment_exists": true}))
        .await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing");
    // As the Terraform original left them: the same grants under names provision did not choose.
    let state = world.state().await;
    let ours = World::find(&state, "Microsoft.Authorization/roleAssignments");
    assert_eq!(ours.len(), 8, "eight grants");
    let mut by_hand = Vec::new();
    for assignment in &ours {
        let props = &assignment["body"]["properties"];
        let scope = props["scope"].as_str().expect("scope");
        let id = assignment["id"].as_str().expect("id");
        let (status, _) = world
            .arm("DELETE", &format!("{id}?api-version=2022-04-01"), None)
            .await;
        assert!(status < 300, "delete {id}: {status}");
        let other = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid::Uuid::new_v4()
        );
        let body = json!({"properties": {"roleDefinitionId": props["roleDefinitionId"], "principalId": props["principalId"], "principalType": props["principalType"]}});
        let (status, made) = world
            .arm(
                "PUT",
                &format!("{other}?api-version=2022-04-01"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 201, "the grant by hand: {made}");
        // ARM refuses the same grant a second time under yet another name.
        let third = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid::Uuid::new_v4()
        );
        let (status, refused) = world
            .arm(
                "PUT",
                &format!("{third}?api-version=2022-04-01"),
                Some(body),
            )
            .await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"]["code"], "RoleAssignmentExists");
        by_hand.push(other.to_ascii_lowercase());
    }

    world.emulator.state.log.clear();
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "the grants made by hand are these grants");
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up over the grants made by hand");
    let role_writes = writes_to(&world, "roleAssignments/");
    assert!(
        role_writes.is_empty(),
        "no grant is made twice: {role_writes:?}"
    );
    let mut now: Vec<String> = World::find(
        &world.state().await,
        "Microsoft.Authorization/roleAssignments",
    )
    .iter()
    .map(|a| a["id"].as_str().unwrap_or_default().to_ascii_lowercase())
    .collect();
    now.sort();
    by_hand.sort();
    assert_eq!(now, by_hand, "the grants are the ones made by hand");
    world
        .up_converges_and_down_leaves_nothing("role assignment made by hand")
        .await;
}

#[tokio::test]
async fn arm_spellings_are_not_drift() {
    let world = World::start_with("spelling", "").await;
    world
        .set_behaviours(json!({"all": false, "arm_spelling": true}))
        .await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing");
    let names = world.names();
    let workspace = world
        .get_resource(
            &world.resource_id("Microsoft.OperationalInsights/workspaces", &names.workspace),
        )
        .await;
    assert_eq!(
        workspace["properties"]["sku"]["name"], "pergb2018",
        "ARM echoed the sku in its own case"
    );
    let functions = world
        .get_resource(&world.account_id(&names.functions_account))
        .await;
    assert!(
        functions["body"]["properties"]
            .get("isHnsEnabled")
            .is_none(),
        "ARM left out isHnsEnabled at its default: {}",
        functions["body"]["properties"]
    );
    world
        .up_converges_and_down_leaves_nothing("ARM spellings")
        .await;
}

#[tokio::test]
async fn globally_unique_names_taken_elsewhere_are_refused_at_plan_time() {
    let world = World::start_with("taken", "").await;
    let names = world.names();
    world
        .set_behaviours(json!({"all": false, "global_names": true,
            "taken_names": [names.functions_account, names.function_app]}))
        .await;
    for args in [&["plan"][..], &["up", "--yes"][..]] {
        world.emulator.state.log.clear();
        let refused = world.provision(args).await;
        refused.assert_code(1, &format!("{args:?} with names taken"));
        for needle in ["`suffix`", &names.functions_account, &names.function_app] {
            assert!(
                refused.stderr.contains(needle),
                "{args:?} names {needle}:\n{}",
                refused.stderr
            );
        }
        assert!(
            !refused.stderr.contains(&names.raw_account),
            "a free name is not reported:\n{}",
            refused.stderr
        );
        let writes: Vec<String> = world
            .writes()
            .iter()
            .map(|w| format!("{} {}", w.method, w.path))
            .collect();
        assert!(writes.is_empty(), "{args:?} wrote nothing: {writes:?}");
        assert!(
            world
                .emulator
                .requests()
                .iter()
                .any(|r| r.path.ends_with("Microsoft.Web/checknameavailability")),
            "the site name was checked with Microsoft.Web"
        );
    }
    world.edit_env(|text| {
        text.replace(
            "prefix = \"hero\"\n",
            "prefix = \"hero\"\nsuffix = \"zq7k2m\"\n",
        )
    });
    assert_ne!(world.names().functions_account, names.functions_account);
    world
        .up_converges_and_down_leaves_nothing("names taken elsewhere")
        .await;
}

#[tokio::test]
async fn provisioning_state_polls_honour_retry_after_and_survive_dropped_connections() {
    let world = World::start_with("polled", "").await;
    world
        .set_behaviours(json!({"all": false, "provisioning_state_polling": true}))
        .await;
    // 1.5 s for the workspace to be created; the emulator asks for polls 10 emulated s = 0.1 s apart.
    lock(&world.emulator.state.cfg).latency.workspace_create_s = 150.0;
    world
        .set_faults(
            json!({"seed": 14, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 0.0,
            "drop_rate": 0.3, "lro_failure_rate": 0.0, "methods": ["GET"]}),
        )
        .await;
    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "up from nothing, polling through dropped connections");
    let workspace = world.resource_id(
        "Microsoft.OperationalInsights/workspaces",
        &world.names().workspace,
    );
    let log = world.emulator.requests();
    let put = log
        .iter()
        .position(|r| r.method == "PUT" && r.path.eq_ignore_ascii_case(&workspace))
        .expect("the workspace was created");
    assert_eq!(log[put].status, 201);
    let polls: Vec<chrono::DateTime<chrono::FixedOffset>> = log[put..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.eq_ignore_ascii_case(&workspace))
        .map(|r| chrono::DateTime::parse_from_rfc3339(&r.time).expect("log time"))
        .collect();
    // Not a count of polls (dropped connections and a loaded machine thin them out), but where
    // they end: the last one comes after the create's 1.5 s were up, and none came too soon.
    let put_at = chrono::DateTime::parse_from_rfc3339(&log[put].time).expect("log time");
    let last = polls.last().expect("the workspace was polled");
    assert!(
        polls.len() >= 2 && (*last - put_at).num_milliseconds() >= 1400,
        "the workspace was polled until Succeeded: {} polls, the last {} ms after the PUT",
        polls.len(),
        (*last - put_at).num_milliseconds()
    );
    let too_soon: Vec<i64> = polls
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .filter(|ms| *ms < 90)
        .collect();
    assert!(
        too_soon.is_empty(),
        "each poll waited the Retry-After (100 ms): gaps {too_soon:?}"
    );
    assert!(
        up.stderr.lines().any(|l| l.contains("ConnectionFailed")
            && l.contains("Microsoft.OperationalInsights/workspaces/")),
        "a poll lost its connection and was retried:\n{}",
        up.stderr
    );
    world.faults_off().await;
    world
        .up_converges_and_down_leaves_nothing("provisioningState polling")
        .await;
}

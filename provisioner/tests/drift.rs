//! Drift, one resource kind at a time: a change made out of band (the portal, another tool) is
//! reported by `drift` (exit 2) with the resource and the property, `drift --fix` puts it back and
//! touches nothing else, and a following `drift` is clean (exit 0).

mod common;
use common::{Run, World};
use local_cloud::request_log::LoggedRequest;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `drift` must report every string in `expect`, `--fix` must write only to paths containing one of
/// `fix_touches` (case-insensitive), and `drift` must be clean afterwards. Returns the first report.
async fn drift_then_fix(world: &World, case: &str, expect: &[&str], fix_touches: &[&str]) -> Run {
    let report = world.provision(&["drift"]).await;
    report.assert_code(2, &format!("{case}: drift reports it"));
    assert!(
        report.stdout.starts_with("Drift in environment"),
        "{case}: {}",
        report.stdout
    );
    for e in expect {
        assert!(
            report.stdout.contains(e),
            "{case}: drift output names {e:?}:\n{}",
            report.stdout
        );
    }
    world.emulator.state.log.clear();
    let fix = world.provision(&["drift", "--fix"]).await;
    fix.assert_code(0, &format!("{case}: drift --fix"));
    let writes: Vec<LoggedRequest> = world.writes();
    assert!(!writes.is_empty(), "{case}: --fix wrote nothing");
    for w in &writes {
        let path = w.path.to_ascii_lowercase();
        assert!(
            fix_touches
                .iter()
                .any(|t| path.contains(&t.to_ascii_lowercase())),
            "{case}: --fix wrote to something that had not drifted: {} {} (all writes: {:?})",
            w.method,
            w.path,
            writes
                .iter()
                .map(|w| format!("{} {}", w.method, w.path))
                .collect::<Vec<_>>()
        );
    }
    let after = world.provision(&["drift"]).await;
    after.assert_code(0, &format!("{case}: drift after --fix"));
    assert!(
        after.stdout.contains("is up to date"),
        "{case}: {}",
        after.stdout
    );
    report
}

fn group_of(state: &Value) -> Value {
    state["directory"]
        .as_array()
        .expect("directory")
        .iter()
        .find(|o| o["principalType"] == "Group")
        .cloned()
        .expect("the security group exists")
}

#[tokio::test]
async fn every_kind_of_out_of_band_change_is_reported_then_fixed() {
    let world = World::start_with("drift", "[tags]\nteam = \"data\"\n").await;
    // A wanted member from the environment file, besides the deployer.
    let analyst = world
        .http
        .post(format!("{}/_admin/directory", world.emulator.url()))
        .json(&json!({"principal_type": "User", "display_name": "analyst", "age_s": 86400}))
        .send()
        .await
        .expect("add user")
        .json::<Value>()
        .await
        .expect("user")["id"]
        .as_str()
        .expect("id")
        .to_string();
    world.edit_env(|t| {
        t.replace(
            "unique_name = \"hero-drift-data\"",
            &format!("unique_name = \"hero-drift-data\"\nmembers = [\"{analyst}\"]"),
        )
    });
    world.provision(&["up", "--yes"]).await.assert_code(0, "up");
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "drift right after up");
    let names = world.names();
    let raw = world.account_id(&names.raw_account);

    // Storage account: a weaker TLS floor and public blob access, by hand; reported in JSON too.
    world
        .patch_resource(
            &raw,
            json!({"properties": {"minimumTlsVersion": "TLS1_0", "allowBlobPublicAccess": true}}),
        )
        .await;
    let report = world.provision(&["drift", "--output", "json"]).await;
    report.assert_code(2, "drift --output json");
    let j = report.json();
    assert_eq!(j["in_sync"], false);
    assert_eq!(j["environment"], "drift");
    let changes = j["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "only the raw account drifted: {j:#}");
    assert_eq!(changes[0]["key"], "storage:raw");
    assert_eq!(changes[0]["kind"], "storage account");
    assert_eq!(changes[0]["name"], json!(names.raw_account));
    assert_eq!(changes[0]["action"], "update");
    let props: Vec<(String, Value, Value)> = changes[0]["changes"]
        .as_array()
        .expect("property changes")
        .iter()
        .map(|c| {
            (
                c["property"].as_str().expect("property").to_string(),
                c["live"].clone(),
                c["desired"].clone(),
            )
        })
        .collect();
    assert!(
        props.contains(&(
            "properties.minimumTlsVersion".into(),
            json!("TLS1_0"),
            json!("TLS1_2")
        )),
        "{props:?}"
    );
    assert!(
        props.contains(&(
            "properties.allowBlobPublicAccess".into(),
            json!(true),
            json!(false)
        )),
        "{props:?}"
    );
    drift_then_fix(
        &world,
        "storage account",
        &[
            &names.raw_account,
            "properties.minimumTlsVersion",
            "properties.allowBlobPublicAccess",
        ],
        &[&raw],
    )
    .await;
    let body = world.get_resource(&raw).await;
    assert_eq!(body["properties"]["minimumTlsVersion"], "TLS1_2");
    assert_eq!(body["properties"]["allowBlobPublicAccess"], false);

    // Resource group: a tag from the environment file removed through ARM (a PUT without it), and
    // someone else's tag added; theirs must survive the fix.
    let rg_path = format!("{}?api-version=2021-04-01", world.rg_id());
    let (status, _) = world
        .arm("PUT", &rg_path, Some(json!({"location": "westeurope", "tags": {"managed-by": "provision", "environment": "drift", "cost-center": "42"}})))
        .await;
    assert!(
        status == 200 || status == 201,
        "PUT resource group by hand: {status}"
    );
    drift_then_fix(
        &world,
        "resource group tag",
        &[&names.resource_group, "tags.team"],
        &[&world.rg_id()],
    )
    .await;
    let (_, rg) = world.arm("GET", &rg_path, None).await;
    assert_eq!(rg["tags"]["team"], "data", "{rg}");
    assert_eq!(
        rg["tags"]["cost-center"], "42",
        "a tag provision does not own is kept: {rg}"
    );

    // App Service plan: scaled up by hand.
    let plan = world.resource_id("Microsoft.Web/serverfarms", &names.plan);
    world
        .patch_resource(&plan, json!({"sku": {"name": "S1", "tier": "Standard"}}))
        .await;
    drift_then_fix(
        &world,
        "plan sku",
        &[&names.plan, "sku.name", "sku.tier"],
        &[&plan],
    )
    .await;
    assert_eq!(world.get_resource(&plan).await["sku"]["name"], "B1");

    // Function app: FTPS turned back on and HTTPS-only off.
    let site = world.site_id();
    world
        .patch_resource(
            &format!("{site}/config/web"),
            json!({"properties": {"ftpsState": "AllAllowed"}}),
        )
        .await;
    world
        .patch_resource(&site, json!({"properties": {"httpsOnly": false}}))
        .await;
    drift_then_fix(
        &world,
        "function app config",
        &[
            &names.function_app,
            "siteConfig.ftpsState",
            "properties.httpsOnly",
        ],
        &[&site],
    )
    .await;
    assert_eq!(
        world.get_resource(&format!("{site}/config/web")).await["properties"]["ftpsState"],
        "Disabled"
    );
    assert_eq!(
        world.get_resource(&site).await["properties"]["httpsOnly"],
        true
    );

    // App settings: one we own changed, and one nobody told us about added. Only ours is drift;
    // theirs is a note and survives the fix.
    let settings_id = format!("{site}/config/appsettings");
    world
        .patch_resource(
            &settings_id,
            json!({"properties": {"MY_FEATURE_FLAG": "on"}}),
        )
        .await;
    let foreign_only = world.provision(&["drift"]).await;
    foreign_only.assert_code(0, "a foreign app setting is not drift");
    assert!(
        foreign_only.stdout.contains("note:") && foreign_only.stdout.contains("MY_FEATURE_FLAG"),
        "{}",
        foreign_only.stdout
    );
    let foreign_json = world.provision(&["drift", "--output", "json"]).await;
    foreign_json.assert_code(0, "drift --output json with a foreign setting");
    assert_eq!(foreign_json.json()["in_sync"], true);
    assert!(
        foreign_json.json()["notices"]
            .to_string()
            .contains("MY_FEATURE_FLAG"),
        "{}",
        foreign_json.stdout
    );
    world
        .patch_resource(
            &settings_id,
            json!({"properties": {"FUNCTIONS_WORKER_RUNTIME": "python"}}),
        )
        .await;
    let report = drift_then_fix(
        &world,
        "owned app setting",
        &[
            &names.function_app,
            "appSettings.FUNCTIONS_WORKER_RUNTIME",
            "\"python\" → \"custom\"",
        ],
        &[&settings_id],
    )
    .await;
    assert!(
        !report.stdout.contains("appSettings.MY_FEATURE_FLAG"),
        "a foreign setting is never drift: {}",
        report.stdout
    );
    let settings = world.get_resource(&settings_id).await;
    assert_eq!(settings["properties"]["FUNCTIONS_WORKER_RUNTIME"], "custom");
    assert_eq!(
        settings["properties"]["MY_FEATURE_FLAG"], "on",
        "the foreign setting survives --fix"
    );
    assert!(
        settings["properties"]["WEBSITE_RUN_FROM_PACKAGE"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "the package setting survives --fix"
    );

    // A role assignment deleted by hand.
    let state = world.state().await;
    let group_id = group_of(&state)["id"]
        .as_str()
        .expect("group id")
        .to_string();
    let assignment = World::find(&state, "Microsoft.Authorization/roleAssignments")
        .into_iter()
        .find(|r| {
            r["body"]["properties"]["principalId"] == json!(group_id)
                && r["body"]["properties"]["scope"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(&names.standard_account))
        })
        .expect("the group's assignment on standard");
    let assignment_id = assignment["id"].as_str().expect("id").to_string();
    world.delete_resource(&assignment_id).await;
    drift_then_fix(
        &world,
        "role assignment",
        &[&format!(
            "+ role assignment blob-contributor on {} (group reads and writes standard)",
            names.standard_account
        )],
        &[&assignment_id],
    )
    .await;
    let (status, _) = world
        .arm(
            "GET",
            &format!("{assignment_id}?api-version=2022-04-01"),
            None,
        )
        .await;
    assert_eq!(status, 200, "the same assignment name comes back");

    // The event subscription deleted: nothing would fire without it.
    let subscription = World::find(
        &world.state().await,
        "Microsoft.EventGrid/systemTopics/eventSubscriptions",
    )[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    world.delete_resource(&subscription).await;
    drift_then_fix(
        &world,
        "event subscription",
        &[&format!(
            "+ event grid subscription {}/raw-blob-created",
            names.system_topic
        )],
        &[&subscription],
    )
    .await;
    assert_eq!(
        World::find(
            &world.state().await,
            "Microsoft.EventGrid/systemTopics/eventSubscriptions"
        )
        .len(),
        1
    );

    // The security group: description edited and both wanted members removed, through Graph.
    let (status, _) = world
        .graph(
            "PATCH",
            &format!("/groups/{group_id}"),
            Some(json!({"description": "edited in the portal"})),
        )
        .await;
    assert_eq!(status, 204, "PATCH group by hand");
    for member in [local_cloud::DEPLOYER_OBJECT_ID, analyst.as_str()] {
        let (status, body) = world
            .graph(
                "DELETE",
                &format!("/groups/{group_id}/members/{member}/$ref"),
                None,
            )
            .await;
        assert_eq!(status, 204, "remove member {member}: {body}");
    }
    drift_then_fix(
        &world,
        "security group",
        &[
            "entra security group hero-drift-data",
            "description",
            "\"edited in the portal\"",
            "members",
            &format!("+{analyst}"),
            &format!("+{}", local_cloud::DEPLOYER_OBJECT_ID),
        ],
        &["/groups"],
    )
    .await;
    let group = group_of(&world.state().await);
    let members = group["members"].as_array().expect("members");
    assert!(
        members.contains(&json!(analyst))
            && members.contains(&json!(local_cloud::DEPLOYER_OBJECT_ID)),
        "{group}"
    );
    assert!(
        group["body"]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Managed by provision")),
        "{group}"
    );

    // A member the environment file names that does not exist: --fix fails and names it.
    let ghost = "0badc0de-0000-4000-8000-000000000bad";
    world.edit_env(|t| {
        t.replace(
            &format!("members = [\"{analyst}\"]"),
            &format!("members = [\"{analyst}\", \"{ghost}\"]"),
        )
    });
    let report = world.provision(&["drift"]).await;
    report.assert_code(2, "a missing member is drift");
    assert!(
        report.stdout.contains(&format!("+{ghost}")),
        "{}",
        report.stdout
    );
    let fix = world.provision(&["drift", "--fix"]).await;
    fix.assert_code(1, "adding a member that does not exist");
    assert!(
        fix.all().contains(&format!(
            "security_group.members: {ghost} does not exist in the directory"
        )),
        "{}",
        fix.all()
    );
    world.edit_env(|t| t.replace(&format!(", \"{ghost}\""), ""));
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "drift once the ghost is out of the file");
}

/// The function app's identity points at a principal the directory does not have (deleted, or
/// the identity replaced): granting it roles must fail at once with the principal named, not
/// wait out the PrincipalNotFound replication window (300 s).
#[tokio::test]
async fn a_role_assignment_for_a_principal_that_does_not_exist_fails_fast() {
    let world = World::start_with("ghost", "").await;
    world.provision(&["up", "--yes"]).await.assert_code(0, "up");
    let site = world.site_id();
    let real = world.get_resource(&site).await["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_string();
    let ghost = "deadbeef-0000-4000-8000-00000000dead";
    world
        .patch_resource(&site, json!({"identity": {"principalId": ghost}}))
        .await;

    let report = world.provision(&["drift"]).await;
    report.assert_code(2, "assignments for the new principal are missing");
    assert!(
        report.stdout.contains("+ role assignment blob-owner on"),
        "{}",
        report.stdout
    );
    let started = Instant::now();
    let fix = world.provision(&["drift", "--fix"]).await;
    let took = started.elapsed();
    fix.assert_code(1, "granting roles to a principal that does not exist");
    assert!(
        fix.all().contains(&format!(
            "principal {ghost} does not exist in the directory"
        )),
        "{}",
        fix.all()
    );
    assert!(
        took < Duration::from_secs(60),
        "failed fast, not after the replication window: {took:?}"
    );
    let attempts = world
        .emulator
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("roleAssignments") && r.status == 400)
        .count();
    assert!(
        attempts <= 6,
        "one attempt per assignment, no waiting loop: {attempts}"
    );

    world
        .patch_resource(&site, json!({"identity": {"principalId": real}}))
        .await;
    world
        .provision(&["drift"])
        .await
        .assert_code(0, "back in sync with the real principal");
}

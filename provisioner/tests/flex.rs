//! Flex Consumption (FC1) against the local cloud: `up` from nothing, a converged re-run with no
//! write, `verify` moving data, drift of each owned Flex property repaired by `drift --fix`, the
//! deployed package compared by hash, `down` leaving nothing; nothing Flex rejects is ever sent,
//! and every serverfarms/sites body validates against the Microsoft.Web spec of the api-version
//! used. Also: a Y1 environment's retirement warning, bad FC1 values and an unsupported region.

mod common;
mod spec_check;

use common::World;
use local_cloud::request_log::LoggedRequest;
use provisioner::arm::versions::WEB;
use serde_json::{json, Value};
use spec_check::{web_spec_for, Specs};

const FC1: &str = "[plan]\nsku = \"FC1\"\n";

/// Names Flex refuses or ignores (learn.microsoft.com functions-app-settings, "Flex Consumption
/// plan deprecations"), written out here rather than taken from the code under test.
const FLEX_REFUSED_SETTINGS: &[&str] = &[
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
];
const FLEX_REFUSED_CONFIG: &[&str] = &[
    "alwaysOn",
    "ftpsState",
    "linuxFxVersion",
    "functionAppScaleLimit",
    "use32BitWorkerProcess",
    "preWarmedInstanceCount",
];

fn web_writes(world: &World) -> Vec<LoggedRequest> {
    world
        .writes()
        .into_iter()
        .filter(|w| w.path.contains("/providers/Microsoft.Web/"))
        .collect()
}

/// Every setting name a write sends: in a site's `siteConfig.appSettings` or a settings PUT.
fn settings_sent(w: &LoggedRequest) -> Vec<String> {
    let Some(body) = &w.body else { return vec![] };
    let mut names: Vec<String> = body
        .pointer("/properties/siteConfig/appSettings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    if w.path.to_ascii_lowercase().ends_with("/config/appsettings") {
        names.extend(
            body["properties"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys().cloned()),
        );
    }
    names
}

/// Nothing Flex refuses was sent, in any Microsoft.Web write of the log.
fn assert_nothing_flex_refuses_was_sent(world: &World, when: &str) {
    for w in web_writes(world) {
        for name in settings_sent(&w) {
            assert!(
                !FLEX_REFUSED_SETTINGS.contains(&name.as_str()),
                "{when}: {} {} sent the app setting {name}",
                w.method,
                w.path
            );
        }
        let Some(body) = &w.body else { continue };
        let config = if w.path.to_ascii_lowercase().ends_with("/config/web") {
            body.get("properties")
        } else {
            body.pointer("/properties/siteConfig")
        };
        for property in FLEX_REFUSED_CONFIG {
            assert!(
                config.and_then(|c| c.get(*property)).is_none(),
                "{when}: {} {} sent siteConfig.{property}",
                w.method,
                w.path
            );
        }
        if is_site(&w.path) {
            assert!(
                body.pointer("/properties/reserved").is_none(),
                "{when}: a Flex site body sent `reserved` (not valid on Flex): {body}"
            );
        }
    }
}

fn is_site(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower
        .rsplit_once("/providers/microsoft.web/sites/")
        .is_some_and(|(_, rest)| !rest.contains('/'))
}

/// Every serverfarms/sites PUT or PATCH body validates against the spec of its api-version.
fn assert_bodies_match_the_spec(world: &World, when: &str) -> usize {
    let specs = Specs::repository();
    let mut checked = 0;
    for w in web_writes(world) {
        if !matches!(w.method.as_str(), "PUT" | "PATCH") {
            continue;
        }
        let version = w.api_version.clone().unwrap_or_default();
        assert_eq!(version, WEB, "{when}: {} {} api-version", w.method, w.path);
        let spec = web_spec_for(&version, &w.path);
        let schema = specs
            .body_schema(&spec, &w.method, &w.path)
            .unwrap_or_else(|e| panic!("{when}: {e}"));
        let Some(schema) = schema else {
            // WebApps_CreateOneDeployOperation declares no body; its body is the documented
            // `{"properties": {"packageUri", "remoteBuild"}}` (functions-infrastructure-as-code).
            assert!(
                w.path.ends_with("/extensions/onedeploy"),
                "{when}: {} {} has no body in the spec",
                w.method,
                w.path
            );
            let body = w.body.clone().unwrap_or_default();
            let keys: Vec<&String> = body["properties"]
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            assert_eq!(
                keys,
                ["packageUri", "remoteBuild"],
                "{when}: One Deploy body {body}"
            );
            continue;
        };
        let body = w.body.clone().unwrap_or(Value::Null);
        let problems = specs.validate(&schema, &body);
        assert!(
            problems.is_empty(),
            "{when}: {} {} ({}) breaks {spec}:\n  {}\nbody: {body:#}",
            w.method,
            w.path,
            schema.operation,
            problems.join("\n  ")
        );
        checked += 1;
    }
    checked
}

fn site_put(world: &World) -> Value {
    web_writes(world)
        .into_iter()
        .find(|w| w.method == "PUT" && is_site(&w.path))
        .and_then(|w| w.body)
        .expect("the site was PUT")
}

#[tokio::test]
async fn fc1_up_converges_verifies_repairs_drift_and_down_leaves_nothing() {
    let world = World::start_with("flex", FC1).await;
    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "FC1 up from nothing");

    // The plan and the site, as Flex wants them.
    let plan = web_writes(&world)
        .into_iter()
        .find(|w| w.method == "PUT" && w.path.contains("/serverfarms/"))
        .and_then(|w| w.body)
        .expect("the plan was PUT");
    assert_eq!(
        plan["sku"],
        json!({"name": "FC1", "tier": "FlexConsumption"})
    );
    assert_eq!(plan["kind"], "functionapp");
    assert_eq!(plan["properties"]["reserved"], true);
    let site = site_put(&world);
    let names = world.names();
    let fac = &site["properties"]["functionAppConfig"];
    assert_eq!(fac["runtime"], json!({"name": "custom", "version": "1.0"}));
    assert_eq!(
        fac["scaleAndConcurrency"],
        json!({"maximumInstanceCount": 100, "instanceMemoryMB": 2048})
    );
    assert_eq!(fac["deployment"]["storage"]["type"], "blobContainer");
    assert_eq!(
        fac["deployment"]["storage"]["authentication"],
        json!({"type": "SystemAssignedIdentity"})
    );
    // The request log redacts every `value`; the site as stored says where the package comes from.
    let stored = world.get_resource(&world.site_id()).await;
    let container = stored
        .pointer("/body/properties/functionAppConfig/deployment/storage/value")
        .or_else(|| stored.pointer("/properties/functionAppConfig/deployment/storage/value"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the site names its deployment container: {stored}"))
        .to_string();
    assert!(
        container.contains(&names.functions_account) && container.ends_with("/packages"),
        "the deployment container is the functions account's packages container: {container}"
    );
    let site_write = web_writes(&world)
        .into_iter()
        .find(|w| w.method == "PUT" && is_site(&w.path))
        .expect("the site was PUT");
    let settings = settings_sent(&site_write);
    assert!(
        settings.contains(&"AzureWebJobsStorage__accountName".to_string()),
        "host storage by identity: {settings:?}"
    );
    assert!(
        web_writes(&world)
            .iter()
            .any(|w| w.method == "PUT" && w.path.ends_with("/extensions/onedeploy")),
        "the package went out through One Deploy"
    );
    assert_nothing_flex_refuses_was_sent(&world, "up");
    let checked = assert_bodies_match_the_spec(&world, "up");
    assert!(
        checked >= 2,
        "the plan and the site bodies were checked ({checked})"
    );

    // The package runs from the deployment container.
    let (status, _) = world
        .blob(
            &names.functions_account,
            "HEAD",
            "packages/released-package.zip",
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        status, 200,
        "One Deploy left released-package.zip in the deployment container"
    );

    // Converged: no write.
    world.converged_up_writes_nothing("FC1").await;

    // The data path works: Event Grid delivers the blob event, the handler runs from the container.
    let verify = world.provision(&["verify"]).await;
    verify.assert_code(0, "verify on FC1");

    // Azure's answers to what Flex refuses, from the local cloud.
    let site_path = format!("{}/config/appsettings?api-version={WEB}", world.site_id());
    let (status, refused) = world
        .arm(
            "PUT",
            &site_path,
            Some(json!({"properties": {"FUNCTIONS_WORKER_RUNTIME": "custom"}})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["Code"], "BadRequest");
    assert_eq!(
        refused["Message"],
        "The following app setting (Site.SiteConfig.AppSettings.FUNCTIONS_WORKER_RUNTIME) for Flex Consumption sites is invalid. Please remove or rename it before retrying."
    );
    let config_path = format!("{}/config/web?api-version={WEB}", world.site_id());
    let (status, refused) = world
        .arm(
            "PATCH",
            &config_path,
            Some(json!({"properties": {"ftpsState": "Disabled", "alwaysOn": true}})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("(Site.SiteConfig.FtpsState, Site.SiteConfig.AlwaysOn)")
            || refused["Message"]
                .as_str()
                .unwrap_or_default()
                .contains("(Site.SiteConfig.AlwaysOn, Site.SiteConfig.FtpsState)"),
        "{refused}"
    );

    // Drift of each owned Flex property, repaired by --fix.
    for (property, value) in [
        ("maximumInstanceCount", json!(250)),
        ("instanceMemoryMB", json!(4096)),
    ] {
        world
            .patch_resource(
                &world.site_id(),
                json!({"properties": {"functionAppConfig": {"scaleAndConcurrency": {property: value}}}}),
            )
            .await;
        let drift = world.provision(&["drift"]).await;
        drift.assert_code(2, &format!("drift reports {property}"));
        assert!(
            drift
                .stdout
                .contains(&format!("functionAppConfig.scaleAndConcurrency.{property}")),
            "{property}: {}",
            drift.stdout
        );
        world.emulator.state.log.clear();
        world
            .provision(&["drift", "--fix"])
            .await
            .assert_code(0, &format!("drift --fix {property}"));
        assert_nothing_flex_refuses_was_sent(&world, &format!("--fix {property}"));
        assert_bodies_match_the_spec(&world, &format!("--fix {property}"));
        let live = world.get_resource(&world.site_id()).await;
        let scale = live
            .pointer("/body/properties/functionAppConfig/scaleAndConcurrency")
            .or_else(|| live.pointer("/properties/functionAppConfig/scaleAndConcurrency"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (
                scale["maximumInstanceCount"].clone(),
                scale["instanceMemoryMB"].clone()
            ),
            (json!(100), json!(2048)),
            "{property} put back: {live}"
        );
        world
            .provision(&["drift"])
            .await
            .assert_code(0, &format!("clean after fixing {property}"));
    }
    world
        .patch_resource(
            &world.site_id(),
            json!({"properties": {"functionAppConfig": {"runtime": {"version": "0.9"}}}}),
        )
        .await;
    let drift = world.provision(&["drift"]).await;
    drift.assert_code(2, "drift reports the runtime version");
    assert!(
        drift.stdout.contains("functionAppConfig.runtime.version"),
        "{}",
        drift.stdout
    );
    world
        .provision(&["drift", "--fix"])
        .await
        .assert_code(0, "drift --fix runtime");

    // Another package in the container is drift, by hash, and --fix deploys ours again.
    let (status, text) = world
        .blob(
            &names.functions_account,
            "PUT",
            "packages/released-package.zip",
            &[("x-ms-blob-type", "BlockBlob")],
            b"not our package".to_vec(),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let drift = world.provision(&["drift"]).await;
    drift.assert_code(2, "drift reports the package");
    assert!(
        drift.stdout.contains("released-package.zip"),
        "{}",
        drift.stdout
    );
    world.emulator.state.log.clear();
    world
        .provision(&["drift", "--fix"])
        .await
        .assert_code(0, "drift --fix package");
    let fixes: Vec<String> = world
        .writes()
        .iter()
        .map(|w| format!("{} {}", w.method, w.path))
        .collect();
    assert!(
        fixes.iter().any(|w| w.ends_with("/extensions/onedeploy")),
        "the package is deployed again through One Deploy: {fixes:?}"
    );
    world
        .provision(&["verify"])
        .await
        .assert_code(0, "verify after the redeploy");

    // Then the promise every plan keeps: converged, clean, and down leaves nothing.
    world.up_converges_and_down_leaves_nothing("FC1").await;
}

#[tokio::test]
async fn a_y1_environment_is_warned_that_linux_consumption_retires() {
    let world = World::start_with("ycons", "[plan]\nsku = \"Y1\"\n").await;
    let validate = world.provision(&["validate"]).await;
    validate.assert_code(0, "validate on Y1 (a warning, not an error)");
    assert!(
        validate.stderr.contains("warning: plan.sku (line"),
        "{}",
        validate.all()
    );
    assert!(validate.stderr.contains("2028-09-30"), "{}", validate.all());
    let plan = world.provision(&["plan"]).await;
    plan.assert_code(0, "plan on Y1");
    let all = plan.all();
    assert!(all.contains("2028-09-30"), "the retirement date: {all}");
    assert!(all.contains("sku = \"FC1\""), "the one-line change: {all}");
    let b1 = World::start_with("bcons", "").await;
    let plan = b1.provision(&["plan"]).await;
    plan.assert_code(0, "plan on B1");
    assert!(
        !plan.all().contains("2028-09-30"),
        "no warning on B1: {}",
        plan.all()
    );
}

#[tokio::test]
async fn fc1_values_flex_does_not_allow_are_refused_before_anything_is_sent() {
    let world = World::start_with(
        "flexbad",
        "[plan]\nsku = \"FC1\"\nmaximum_instances = 20\ninstance_memory_mb = 1024\n",
    )
    .await;
    for command in ["validate", "plan"] {
        let run = world.provision(&[command]).await;
        assert_ne!(run.code, 0, "{command} refuses: {}", run.all());
        let all = run.all();
        assert!(
            all.contains("plan.maximum_instances (line"),
            "{command}: {all}"
        );
        assert!(all.contains("from 40 to 1000"), "{command}: {all}");
        assert!(
            all.contains("plan.instance_memory_mb (line"),
            "{command}: {all}"
        );
        assert!(
            all.contains("512, 2048 (default) or 4096"),
            "{command}: {all}"
        );
    }
    let sent: Vec<String> = world
        .emulator
        .requests()
        .iter()
        .filter(|r| !r.path.contains("/oauth2/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(sent.is_empty(), "nothing was sent to Azure: {sent:?}");
}

#[tokio::test]
async fn an_fc1_environment_in_a_region_without_flex_is_refused_with_the_list() {
    let world = World::start_with("flexgeo", FC1).await;
    world.edit_env(|t| t.replace("location = \"westeurope\"", "location = \"germanynorth\""));
    // validate sends nothing, so it cannot know Azure's list: it says where the check happens.
    let validate = world.provision(&["validate"]).await;
    validate.assert_code(0, "the file itself is valid");
    assert!(
        validate.stderr.contains("`germanynorth`") && validate.stderr.contains("provision plan"),
        "validate says plan checks the region: {}",
        validate.stderr
    );
    assert!(
        world.emulator.requests().is_empty(),
        "validate sent nothing"
    );
    let plan = world.provision(&["plan"]).await;
    assert_ne!(plan.code, 0, "plan refuses: {}", plan.all());
    let all = plan.all();
    assert!(all.contains("`germanynorth`"), "names the region: {all}");
    assert!(
        all.contains("westeurope") && all.contains("swedencentral"),
        "lists where FC1 is: {all}"
    );
    let requests = world.emulator.requests();
    let geo: Vec<&LoggedRequest> = requests
        .iter()
        .filter(|r| r.path.contains("/geoRegions"))
        .collect();
    assert_eq!(geo.len(), 1, "the region list is asked once per run");
    let writes = world.writes();
    assert!(
        writes.is_empty(),
        "nothing was written: {:?}",
        writes.iter().map(|w| w.path.clone()).collect::<Vec<_>>()
    );
    let up = world.provision(&["up", "--yes"]).await;
    assert_ne!(up.code, 0, "up refuses too: {}", up.all());
    assert!(world.writes().is_empty(), "up wrote nothing");
}

/// The validator itself: what it must accept and what it must refuse, on the real spec files.
#[test]
fn the_spec_check_accepts_a_flex_site_and_refuses_unknown_read_only_and_mistyped_properties() {
    let specs = Specs::repository();
    let path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app";
    let spec = web_spec_for(WEB, path);
    let schema = specs
        .body_schema(&spec, "PUT", path)
        .expect("op")
        .expect("a body");
    assert_eq!(schema.operation, "WebApps_CreateOrUpdate");
    let good = json!({
        "location": "westeurope", "kind": "functionapp,linux", "tags": {"a": "b"},
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "serverFarmId": "/x", "httpsOnly": true,
            "siteConfig": {"appSettings": [{"name": "A", "value": "1"}], "minTlsVersion": "1.2"},
            "functionAppConfig": {
                "deployment": {"storage": {"type": "blobContainer", "value": "https://a.blob.core.windows.net/c",
                                           "authentication": {"type": "SystemAssignedIdentity"}}},
                "runtime": {"name": "custom", "version": "1.0"},
                "scaleAndConcurrency": {"maximumInstanceCount": 100, "instanceMemoryMB": 2048}
            }
        }
    });
    assert_eq!(specs.validate(&schema, &good), Vec::<String>::new());
    let cases = [
        (
            "/properties/functionAppConfig/scaleAndConcurrency/maxInstances",
            json!(5),
            "not a property",
        ),
        (
            "/properties/siteConfig/ftpsStat",
            json!("Disabled"),
            "not a property",
        ),
        ("/properties/state", json!("Running"), "read-only"),
        ("/identity/type", json!("Someone"), "is not one of"),
        ("/properties/httpsOnly", json!("yes"), "not a boolean"),
        (
            "/properties/functionAppConfig/scaleAndConcurrency/instanceMemoryMB",
            json!("big"),
            "not a number",
        ),
        ("/tags/a", json!(1), "not a string"),
    ];
    for (pointer, value, expected) in cases {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        bad.pointer_mut(parent).expect("parent")[key] = value.clone();
        let problems = specs.validate(&schema, &bad);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{pointer} = {value}: expected {expected:?}, got {problems:?}"
        );
    }
    // A modelAsString enum takes a value the spec does not list (Azure adds runtimes).
    let mut newer = good.clone();
    newer["properties"]["functionAppConfig"]["runtime"]["name"] = json!("rust");
    assert_eq!(specs.validate(&schema, &newer), Vec::<String>::new());
    // The plan: a $ref into another file (AppServicePlans -> CommonDefinitions).
    let plan_path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/p";
    let plan = specs
        .body_schema(&web_spec_for(WEB, plan_path), "PUT", plan_path)
        .expect("op")
        .expect("a body");
    let body = json!({"location": "westeurope", "kind": "functionapp", "sku": {"name": "FC1", "tier": "FlexConsumption"}, "properties": {"reserved": true}});
    assert_eq!(specs.validate(&plan, &body), Vec::<String>::new());
    let missing_location = json!({"sku": {"name": "FC1"}});
    assert!(specs
        .validate(&plan, &missing_location)
        .iter()
        .any(|p| p.contains("`location`")));
    // A site PATCH has no functionAppConfig in this api-version: that is why FC1 sites are PUT.
    let patch = specs
        .body_schema(&spec, "PATCH", path)
        .expect("op")
        .expect("a body");
    let problems = specs.validate(&patch, &json!({"properties": {"functionAppConfig": {}}}));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("functionAppConfig: not a property")),
        "{problems:?}"
    );
}

//! `up` from nothing, a converged re-run, and `down`, against the local cloud.

mod common;
use common::World;
use serde_json::{json, Value};

/// The raw and the percent-encoded spelling of a secret, as either may end up in a URL.
fn spellings(secret: &str) -> [String; 2] {
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    [secret.to_string(), encoded]
}

fn blob_endpoint(state: &Value, account: &str) -> String {
    World::find(state, "Microsoft.Storage/storageAccounts")
        .iter()
        .find(|a| {
            a["body"]["name"] == json!(account)
                || a["id"]
                    .as_str()
                    .is_some_and(|id| id.ends_with(&format!("/{account}")))
        })
        .and_then(|a| a["body"]["properties"]["primaryEndpoints"]["blob"].as_str())
        .unwrap_or_else(|| panic!("the {account} account reports its blob endpoint"))
        .trim_end_matches('/')
        .to_string()
}

/// Every ARM/Graph resource was read at most once (a POST list/listKeys action counts as a read
/// of its resource, so listing the functions account's keys after reading it is a second read).
fn assert_each_resource_read_once(world: &World, run: &str) {
    let mut reads: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in world.emulator.requests() {
        if r.is_write() || r.path.contains("/oauth2/") {
            continue;
        }
        let resource = ["/list", "/listKeys", "/listkeys"]
            .iter()
            .find_map(|a| r.path.strip_suffix(a))
            .unwrap_or(&r.path)
            .to_string();
        reads
            .entry(resource)
            .or_default()
            .push(format!("{} {}", r.method, r.path));
    }
    assert!(reads.len() >= 24, "{run} read every resource: {reads:#?}");
    let twice: Vec<_> = reads.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{run} read these more than once: {twice:#?}"
    );
}

/// The function app connects by identity: the settings name the right accounts and endpoints,
/// and no value holds an account key, a SAS signature (but the package URL's, which is bound
/// to a stored access policy) or the deployer's client secret.
async fn assert_identity_based(world: &World, state: &Value, settings: &Value) {
    let names = world.names();
    let get = |k: &str| {
        settings[k]
            .as_str()
            .unwrap_or_else(|| panic!("app setting {k} is set: {settings:#}"))
            .to_string()
    };
    let raw = blob_endpoint(state, &names.raw_account);
    assert_eq!(
        get("AzureWebJobsStorage__accountName"),
        names.functions_account
    );
    assert_eq!(get("RawStorage__blobServiceUri"), raw);
    // Azure's queue endpoint differs from the blob one by its service name; the local cloud's
    // path-style Azurite endpoint has none, so there both are the same.
    assert_eq!(
        get("RawStorage__queueServiceUri"),
        raw.replace(".blob.", ".queue.")
    );
    assert_eq!(
        get("STANDARD_ACCOUNT_URL"),
        blob_endpoint(state, &names.standard_account)
    );
    assert_eq!(get("STANDARD_ACCOUNT_NAME"), names.standard_account);
    assert!(
        settings.get("AzureWebJobsStorage").is_none(),
        "no key-based host storage connection: {settings:#}"
    );

    let mut secrets = vec![(
        "the deployer's client secret".to_string(),
        local_cloud::DEPLOYER_SECRET.to_string(),
    )];
    for account in [
        &names.raw_account,
        &names.standard_account,
        &names.functions_account,
    ] {
        for (_, value) in world.account_keys(account).await {
            assert!(value.len() > 20, "a real key: {value}");
            secrets.push((format!("a key of {account}"), value));
        }
    }
    for (name, value) in settings.as_object().expect("settings") {
        let value = value.as_str().unwrap_or_default();
        for (what, secret) in &secrets {
            for spelling in spellings(secret) {
                assert!(
                    !value.contains(&spelling),
                    "app setting {name} holds {what}"
                );
            }
        }
        assert!(
            !value.contains("AccountKey=") && !value.contains("SharedAccessSignature="),
            "app setting {name} is a key-based connection string"
        );
        if name != "WEBSITE_RUN_FROM_PACKAGE" {
            assert!(
                !value.contains("sig="),
                "app setting {name} holds a SAS signature"
            );
        }
    }
    let package = url::Url::parse(&get("WEBSITE_RUN_FROM_PACKAGE")).expect("package URL");
    let query: std::collections::BTreeMap<String, String> =
        package.query_pairs().into_owned().collect();
    assert!(
        query.get("si").is_some_and(|si| si.starts_with("pkg-read-"))
            && query.get("sr").map(String::as_str) == Some("b")
            && !query.contains_key("sp")
            && !query.contains_key("se"),
        "the package SAS is for one blob and takes its rights and expiry from a stored access policy: {query:?}"
    );
    assert!(
        package.path().starts_with(&format!(
            "{}/packages/pkg-",
            url::Url::parse(&blob_endpoint(state, &names.functions_account))
                .expect("endpoint")
                .path()
                .trim_end_matches('/')
        )),
        "the package is in the functions account's packages container: {package}"
    );
}

/// The group's first level (storage accounts, workspace, plan) is created beside the lock's home:
/// every one of their creates is sent before the locks container is, which comes only once the
/// functions account exists; nothing else is created before it.
fn assert_first_level_created_before_the_lock(world: &World) {
    let names = world.names();
    let writes: Vec<String> = world
        .writes()
        .iter()
        .filter(|w| w.method == "PUT")
        .map(|w| w.path.to_ascii_lowercase())
        .collect();
    let position = |id: String| {
        let id = id.to_ascii_lowercase();
        writes
            .iter()
            .position(|p| *p == id)
            .unwrap_or_else(|| panic!("up created {id}: {writes:#?}"))
    };
    let locks = position(format!(
        "{}/blobServices/default/containers/locks",
        world.account_id(&names.functions_account)
    ));
    for id in [
        world.account_id(&names.raw_account),
        world.account_id(&names.standard_account),
        world.resource_id("Microsoft.OperationalInsights/workspaces", &names.workspace),
        world.resource_id("Microsoft.Web/serverfarms", &names.plan),
    ] {
        assert!(
            position(id.clone()) < locks,
            "{id} was created after the lock's container: {writes:#?}"
        );
    }
    let site = position(world.resource_id("Microsoft.Web/sites", &names.function_app));
    assert!(
        locks < site,
        "the site was created before the lock: {writes:#?}"
    );
}

#[tokio::test]
async fn up_creates_everything_then_a_rerun_writes_nothing_and_down_leaves_nothing_of_ours() {
    let world = World::start().await;
    // Registration stays on but answers at once: how long each namespace takes to register varies
    // with when its poll comes, and the order asserted below is about the lock, not about that.
    world
        .set_behaviours(json!({"provider_register_s": 0.0}))
        .await;
    let up = world.provision(&["up", "--yes"]).await;
    assert_eq!(up.code, 0, "up failed:\n{}\n{}", up.stdout, up.stderr);
    assert_first_level_created_before_the_lock(&world);
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
    assert_identity_based(&world, &state, settings).await;
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
    assert_each_resource_read_once(&world, "the converged up");
    world.emulator.state.log.clear();
    let drift = world.provision(&["drift"]).await;
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);
    assert_each_resource_read_once(&world, "drift");

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

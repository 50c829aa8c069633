//! ARM behaviour through real HTTP: LROs, conflicts, api-versions, names, cascades.

mod common;
use common::{TestCloud, SUB};
use serde_json::json;

#[tokio::test]
async fn storage_create_is_202_with_empty_body_then_location_polls_to_the_account() {
    let cloud = TestCloud::start().await;
    cloud
        .admin("POST", "/latency", Some(json!({"time_scale": 0.05})))
        .await;
    cloud.resource_group("rg1").await;
    let path = format!(
        "{}?api-version=2023-05-01",
        TestCloud::account_path("rg1", "stlro01")
    );
    let reply = cloud
        .arm("PUT", &path, Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {"isHnsEnabled": true}})))
        .await;
    assert_eq!(reply.status, 202);
    assert!(reply.text.is_empty(), "the 202 has no body: {}", reply.text);
    let location = reply.header("location").expect("Location header");
    assert!(reply.header("retry-after").is_some());
    // While creating, writes conflict and GET shows a non-terminal state.
    let again = cloud.arm("PUT", &path, Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}))).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(
        cloud.arm("GET", &path, None).await.json()["properties"]["provisioningState"],
        "Creating"
    );
    let (done, accepted) = cloud.poll_location(&location).await;
    assert!(accepted >= 1, "at least one 202 while the operation runs");
    assert_eq!(done.status, 200);
    let body = done.json();
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(body["properties"]["isHnsEnabled"], true);
    assert!(body["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .expect("blob endpoint")
        .starts_with("http://127.0.0.1:"));
    // A second identical PUT is a synchronous 200.
    let same = cloud.arm("PUT", &path, Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {"isHnsEnabled": true}}))).await;
    assert_eq!(same.status, 200, "{}", same.text);
}

#[tokio::test]
async fn api_versions_names_and_missing_groups_fail_like_arm() {
    let cloud = TestCloud::start().await;
    let rg_path = format!("/subscriptions/{SUB}/resourcegroups/rg2");
    assert_eq!(
        cloud.arm("GET", &rg_path, None).await.code(),
        "MissingApiVersionParameter"
    );
    assert_eq!(
        cloud
            .arm("GET", &format!("{rg_path}?api-version=1999-01-01"), None)
            .await
            .code(),
        "InvalidApiVersionParameter"
    );
    let missing = cloud
        .arm("GET", &format!("{rg_path}?api-version=2021-04-01"), None)
        .await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (404, "ResourceGroupNotFound")
    );
    let orphan = cloud.arm("PUT", &format!("{}?api-version=2023-05-01", TestCloud::account_path("rg2", "stx01")), Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}))).await;
    assert_eq!(orphan.code(), "ResourceGroupNotFound");
    cloud.resource_group("rg2").await;
    let bad = cloud.arm("PUT", &format!("{}?api-version=2023-05-01", TestCloud::account_path("rg2", "Bad-Name")), Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}))).await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (400, "AccountNameInvalid")
    );
    cloud.storage_account("rg2", "sttaken01").await;
    cloud.resource_group("rg3").await;
    let taken = cloud.arm("PUT", &format!("{}?api-version=2023-05-01", TestCloud::account_path("rg3", "sttaken01")), Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}))).await;
    assert_eq!(
        (taken.status, taken.code().as_str()),
        (409, "StorageAccountAlreadyTaken")
    );
    let check = cloud.arm("POST", &format!("/subscriptions/{SUB}/providers/Microsoft.Storage/checkNameAvailability?api-version=2023-05-01"), Some(json!({"name": "sttaken01", "type": "Microsoft.Storage/storageAccounts"}))).await;
    assert_eq!(check.json()["nameAvailable"], false);
    assert_eq!(check.json()["reason"], "AlreadyExists");
    let missing_account = cloud
        .arm(
            "GET",
            &format!(
                "{}?api-version=2023-05-01",
                TestCloud::account_path("rg2", "nothere01")
            ),
            None,
        )
        .await;
    assert_eq!(
        (missing_account.status, missing_account.code().as_str()),
        (404, "ResourceNotFound")
    );
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_from_a_seeded_fault() {
    let cloud = TestCloud::start().await;
    cloud.admin("POST", "/faults", Some(json!({"seed": 7, "throttle_rate": 1.0, "retry_after_s": 3, "server_error_rate": 0.0, "drop_rate": 0.0, "lro_failure_rate": 0.0}))).await;
    let reply = cloud
        .arm(
            "GET",
            &format!("/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01"),
            None,
        )
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after").as_deref(), Some("3"));
    assert_eq!(reply.code(), "TooManyRequests");
    cloud.admin("POST", "/faults", Some(json!({"seed": 1, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 1.0, "drop_rate": 0.0, "lro_failure_rate": 0.0}))).await;
    let reply = cloud
        .arm(
            "GET",
            &format!("/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01"),
            None,
        )
        .await;
    assert!(
        reply.status == 500 || reply.status == 503,
        "{}",
        reply.status
    );
    cloud.admin("POST", "/faults", Some(json!({"seed": 1, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 0.0, "drop_rate": 1.0, "lro_failure_rate": 0.0}))).await;
    let dropped = cloud
        .http
        .get(format!(
            "{}/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01",
            cloud.url()
        ))
        .bearer_auth(&cloud.arm_token)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is dropped without an answer"
    );
}

#[tokio::test]
async fn an_injected_lro_failure_ends_failed_and_a_retry_succeeds() {
    let cloud = TestCloud::start().await;
    // Focused on a failed operation and its retry: the plan is not left busy by the failed write
    // (App Service's 409 has its own tests).
    cloud.without(&["app_service_busy"]).await;
    cloud.resource_group("rg").await;
    cloud.admin("POST", "/faults", Some(json!({"seed": 3, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 0.0, "drop_rate": 0.0, "lro_failure_rate": 1.0}))).await;
    let path = format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan1?api-version=2024-04-01");
    let reply = cloud.arm("PUT", &path, Some(json!({"location": "westeurope", "kind": "linux", "sku": {"name": "B1", "tier": "Basic"}, "properties": {"reserved": true}}))).await;
    assert_eq!(reply.status, 201);
    let op = reply
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation");
    let mut status = String::new();
    for _ in 0..200 {
        status = cloud.arm("GET", &op, None).await.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status != "InProgress" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "Failed");
    assert_eq!(
        cloud.arm("GET", &path, None).await.json()["properties"]["provisioningState"],
        "Failed"
    );
    cloud.admin("POST", "/faults", Some(json!({"seed": 3, "throttle_rate": 0.0, "retry_after_s": 0, "server_error_rate": 0.0, "drop_rate": 0.0, "lro_failure_rate": 0.0}))).await;
    let retry = cloud.arm("PUT", &path, Some(json!({"location": "westeurope", "kind": "linux", "sku": {"name": "B1", "tier": "Basic"}, "properties": {"reserved": true}}))).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json()["properties"]["provisioningState"], "Succeeded");
}

#[tokio::test]
async fn deleting_a_resource_group_is_an_lro_that_cascades_to_its_accounts() {
    let cloud = TestCloud::start().await;
    cloud
        .admin(
            "POST",
            "/latency",
            Some(json!({"profile": "azure", "time_scale": 0.02})),
        )
        .await;
    cloud.resource_group("rgdel").await;
    let account = cloud.storage_account("rgdel", "stcascade01").await;
    let endpoint = url::Url::parse(
        account["properties"]["primaryEndpoints"]["blob"]
            .as_str()
            .expect("endpoint"),
    )
    .expect("url");
    let port = endpoint.port().expect("port");
    let container = format!(
        "{}/blobServices/default/containers/raw?api-version=2023-05-01",
        TestCloud::account_path("rgdel", "stcascade01")
    );
    let created = cloud.arm("PUT", &container, Some(json!({}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let reply = cloud
        .arm(
            "DELETE",
            &format!("/subscriptions/{SUB}/resourcegroups/rgdel?api-version=2021-04-01"),
            None,
        )
        .await;
    assert_eq!(reply.status, 202);
    let writes_meanwhile = cloud.arm("PUT", &container, Some(json!({}))).await;
    assert_eq!(writes_meanwhile.code(), "ResourceGroupBeingDeleted");
    let (done, _) = cloud
        .poll_location(&reply.header("location").expect("location"))
        .await;
    assert_eq!(done.status, 200);
    assert_eq!(
        cloud
            .arm(
                "GET",
                &format!("/subscriptions/{SUB}/resourcegroups/rgdel?api-version=2021-04-01"),
                None
            )
            .await
            .status,
        404
    );
    assert_eq!(
        cloud
            .arm(
                "GET",
                &format!(
                    "{}?api-version=2023-05-01",
                    TestCloud::account_path("rgdel", "stcascade01")
                ),
                None
            )
            .await
            .status,
        404
    );
    let state = cloud.admin("GET", "/state", None).await.json();
    assert!(state["accounts"].as_array().expect("accounts").is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the account's Azurite is gone"
    );
}

#[tokio::test]
async fn workspace_soft_delete_reserves_the_name_unless_forced() {
    let cloud = TestCloud::start().await;
    cloud.resource_group("rgws").await;
    let path = format!("/subscriptions/{SUB}/resourceGroups/rgws/providers/Microsoft.OperationalInsights/workspaces/log-test?api-version=2025-02-01");
    let create = |location: &'static str| json!({"location": location, "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30}});
    let first = cloud.arm("PUT", &path, Some(create("westeurope"))).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let customer_id = first.json()["properties"]["customerId"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let delete = cloud.arm("DELETE", &path, None).await;
    assert_eq!(delete.status, 202);
    for _ in 0..100 {
        if cloud.arm("GET", &path, None).await.status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let elsewhere = cloud.arm("PUT", &path, Some(create("northeurope"))).await;
    assert_eq!(
        (elsewhere.status, elsewhere.code().as_str()),
        (409, "WorkspaceInDeletedState")
    );
    let recovered = cloud.arm("PUT", &path, Some(create("westeurope"))).await;
    assert_eq!(
        recovered.json()["properties"]["customerId"],
        customer_id,
        "re-creating recovers the soft-deleted workspace"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let forced = cloud
        .arm("DELETE", &format!("{path}&force=true"), None)
        .await;
    assert_eq!(forced.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let fresh = cloud.arm("PUT", &path, Some(create("northeurope"))).await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    assert_ne!(fresh.json()["properties"]["customerId"], customer_id);
}

#[tokio::test]
async fn resource_groups_are_listed_as_arm_lists_them() {
    let cloud = TestCloud::start().await;
    let list = format!("/subscriptions/{SUB}/resourcegroups");
    assert_eq!(
        cloud.arm("GET", &list, None).await.code(),
        "MissingApiVersionParameter"
    );
    assert_eq!(
        cloud
            .arm("GET", &format!("{list}?api-version=1999-01-01"), None)
            .await
            .code(),
        "InvalidApiVersionParameter"
    );
    let empty = cloud
        .arm("GET", &format!("{list}?api-version=2021-04-01"), None)
        .await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json(), json!({"value": []}));

    for (rg, env) in [("rg-list-a", "dev"), ("rg-list-b", "prod")] {
        let reply = cloud
            .arm(
                "PUT",
                &format!("{list}/{rg}?api-version=2021-04-01"),
                Some(json!({"location": "westeurope", "tags": {"env": env}})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let all = cloud
        .arm("GET", &format!("{list}?api-version=2025-04-01"), None)
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(
        all.json(),
        json!({"value": [
            {"id": format!("/subscriptions/{SUB}/resourceGroups/rg-list-a"), "name": "rg-list-a",
             "type": "Microsoft.Resources/resourceGroups", "location": "westeurope",
             "tags": {"env": "dev"}, "properties": {"provisioningState": "Succeeded"}},
            {"id": format!("/subscriptions/{SUB}/resourceGroups/rg-list-b"), "name": "rg-list-b",
             "type": "Microsoft.Resources/resourceGroups", "location": "westeurope",
             "tags": {"env": "prod"}, "properties": {"provisioningState": "Succeeded"}},
        ]})
    );

    let names = |reply: common::Reply| -> Vec<String> {
        reply.json()["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|g| g["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let filtered = cloud
        .arm(
            "GET",
            &format!("{list}?api-version=2021-04-01&$filter=tagName%20eq%20'env'%20and%20tagValue%20eq%20'prod'"),
            None,
        )
        .await;
    assert_eq!(names(filtered), vec!["rg-list-b"]);
    let by_name = cloud
        .arm(
            "GET",
            &format!("{list}?api-version=2021-04-01&$filter=tagName%20eq%20'env'"),
            None,
        )
        .await;
    assert_eq!(names(by_name), vec!["rg-list-a", "rg-list-b"]);
    let bad_filter = cloud
        .arm(
            "GET",
            &format!("{list}?api-version=2021-04-01&$filter=location%20eq%20'westeurope'"),
            None,
        )
        .await;
    assert_eq!(bad_filter.status, 400);
    assert_eq!(bad_filter.code(), "InvalidFilterInQueryString");
    let post = cloud
        .arm("POST", &format!("{list}?api-version=2021-04-01"), None)
        .await;
    assert_eq!(post.status, 405, "{}", post.text);

    let deleted = cloud
        .arm(
            "DELETE",
            &format!("{list}/rg-list-a?api-version=2021-04-01"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 202);
    let (done, _) = cloud
        .poll_location(&deleted.header("location").expect("location"))
        .await;
    assert_eq!(done.status, 200);
    let after = cloud
        .arm("GET", &format!("{list}?api-version=2021-04-01"), None)
        .await;
    assert_eq!(names(after), vec!["rg-list-b"]);
}

#[tokio::test]
async fn a_fresh_subscription_registers_a_namespace_before_writing_to_it() {
    let cloud = TestCloud::fresh().await;
    cloud.resource_group("rgreg").await;
    let provider = format!("/subscriptions/{SUB}/providers/Microsoft.OperationalInsights");
    let state = |reply: common::Reply| reply.json()["registrationState"].clone();
    let read = format!("{provider}?api-version=2021-04-01");
    assert_eq!(state(cloud.arm("GET", &read, None).await), "NotRegistered");
    let path = format!("/subscriptions/{SUB}/resourceGroups/rgreg/providers/Microsoft.OperationalInsights/workspaces/log-reg?api-version=2025-02-01");
    let body = json!({"location": "westeurope", "properties": {"sku": {"name": "PerGB2018"}}});
    let refused = cloud.arm("PUT", &path, Some(body.clone())).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.code(), "MissingSubscriptionRegistration");
    assert_eq!(
        refused.json()["error"]["details"][0]["target"],
        "Microsoft.OperationalInsights"
    );
    let register = cloud
        .arm(
            "POST",
            &format!("{provider}/register?api-version=2021-04-01"),
            None,
        )
        .await;
    assert_eq!(state(register), "Registering");
    assert_eq!(
        cloud.arm("PUT", &path, Some(body.clone())).await.status,
        409,
        "still refused while registering"
    );
    let mut now = serde_json::Value::Null;
    for _ in 0..200 {
        now = state(cloud.arm("GET", &read, None).await);
        if now == "Registered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(now, "Registered");
    assert_eq!(cloud.arm("PUT", &path, Some(body)).await.status, 201);
}

/// An emulator whose Azurite is `script` (a shell script run in place of the real binary).
async fn cloud_with_azurite(dir: &std::path::Path, script: &str) -> TestCloud {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("azurite-blob");
    std::fs::write(&bin, script).expect("write the stand-in");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cfg = local_cloud::config::EmulatorConfig::new(dir.join("cloud"));
    cfg.azurite_blob_bin = bin;
    let emulator = local_cloud::Emulator::start(cfg, 0)
        .await
        .expect("emulator starts");
    TestCloud::with(emulator).await
}

#[tokio::test]
async fn a_storage_account_whose_data_plane_cannot_start_fails_its_create_and_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cloud = cloud_with_azurite(dir.path(), "#!/bin/sh\nexit 3\n").await;
    cloud.resource_group("rg").await;
    let path = format!(
        "{}?api-version=2023-05-01",
        TestCloud::account_path("rg", "stnodata01")
    );
    let reply = cloud
        .arm("PUT", &path, Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}})))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let (done, _) = cloud
        .poll_location(&reply.header("location").expect("location"))
        .await;
    assert!(
        done.status >= 400,
        "the operation ends failed: {} {}",
        done.status,
        done.text
    );
    assert_eq!(done.code(), "InternalServerError", "{}", done.text);
    assert!(done.text.contains("stnodata01"), "{}", done.text);
    assert_eq!(
        cloud.arm("GET", &path, None).await.status,
        404,
        "a create that failed leaves no account"
    );
}

#[tokio::test]
async fn azurite_that_does_not_come_up_at_first_is_launched_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let launches = dir.path().join("launches");
    let real = local_cloud::config::default_azurite_bin();
    let script = format!(
        "#!/bin/sh\necho x >> '{}'\n[ \"$(wc -l < '{}')\" -ge 2 ] || exit 1\nexec '{}' \"$@\"\n",
        launches.display(),
        launches.display(),
        real.display()
    );
    let cloud = cloud_with_azurite(dir.path(), &script).await;
    cloud.resource_group("rg").await;
    let account = cloud.storage_account("rg", "stsecond01").await;
    assert_eq!(account["properties"]["provisioningState"], "Succeeded");
    let launched = std::fs::read_to_string(&launches).expect("launch record");
    assert_eq!(
        launched.lines().count(),
        2,
        "one failed launch, then one that came up"
    );
}

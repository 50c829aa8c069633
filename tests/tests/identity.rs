//! Entra token endpoint, workload identity federation and bearer checks on ARM and Graph.

mod common;
use common::{TestCloud, SUB};
use local_cloud::{DEFAULT_TENANT, DEPLOYER_CLIENT_ID};
use serde_json::{json, Value};

async fn token_request(cloud: &TestCloud, form: &[(&str, &str)]) -> (u16, Value) {
    let reply = cloud
        .http
        .post(format!(
            "{}/{DEFAULT_TENANT}/oauth2/v2.0/token",
            cloud.url()
        ))
        .form(form)
        .send()
        .await
        .expect("send");
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_kind_of_bad_bearer_token_gets_azures_401() {
    let cloud = TestCloud::start().await;
    let path = format!("/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01");
    let missing = cloud.send("GET", &path, None, None, &[]).await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (401, "AuthenticationFailed")
    );
    let garbage = cloud
        .send("GET", &path, Some("not.a.token"), None, &[])
        .await;
    assert_eq!(
        (garbage.status, garbage.code().as_str()),
        (401, "InvalidAuthenticationToken")
    );
    let expired = cloud
        .admin(
            "POST",
            "/token",
            Some(json!({"audience": "https://management.azure.com", "lifetime_s": -10})),
        )
        .await
        .json();
    let reply = cloud
        .send("GET", &path, expired["access_token"].as_str(), None, &[])
        .await;
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (401, "ExpiredAuthenticationToken")
    );
    let wrong_audience = cloud
        .send("GET", &path, Some(&cloud.graph_token), None, &[])
        .await;
    assert_eq!(
        (wrong_audience.status, wrong_audience.code().as_str()),
        (401, "InvalidAuthenticationTokenAudience")
    );
    let graph_with_arm_token = cloud
        .send("GET", "/v1.0/groups/x", Some(&cloud.arm_token), None, &[])
        .await;
    assert_eq!(
        (
            graph_with_arm_token.status,
            graph_with_arm_token.code().as_str()
        ),
        (401, "InvalidAuthenticationToken")
    );
    let graph_missing = cloud.send("GET", "/v1.0/groups/x", None, None, &[]).await;
    assert_eq!(graph_missing.status, 401);
    // And a good token passes.
    assert_eq!(
        cloud.arm("GET", &path, None).await.code(),
        "ResourceGroupNotFound"
    );
}

#[tokio::test]
async fn client_secret_and_federated_assertions_are_checked() {
    let cloud = TestCloud::start().await;
    let scope = "https://management.azure.com/.default";
    let (status, body) = token_request(
        &cloud,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DEPLOYER_CLIENT_ID),
            ("client_secret", "wrong"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(body["error_description"]
        .as_str()
        .unwrap_or_default()
        .starts_with("AADSTS7000215"));
    let (status, body) = token_request(
        &cloud,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "00000000-0000-0000-0000-000000000000"),
            ("client_secret", "x"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    let assertion = cloud.admin("POST", "/oidc", Some(json!({}))).await.json()["value"]
        .as_str()
        .expect("assertion")
        .to_string();
    let federated = [
        ("grant_type", "client_credentials"),
        ("client_id", DEPLOYER_CLIENT_ID),
        ("scope", scope),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, body) = token_request(&cloud, &federated).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(
        cloud
            .send(
                "GET",
                &format!("/subscriptions/{SUB}/resourcegroups/x?api-version=2021-04-01"),
                Some(token),
                None,
                &[]
            )
            .await
            .status,
        404
    );

    let other_subject = cloud
        .admin(
            "POST",
            "/oidc",
            Some(json!({"sub": "repo:evil/fork:pull_request"})),
        )
        .await
        .json()["value"]
        .as_str()
        .expect("assertion")
        .to_string();
    let mut bad = federated;
    bad[4].1 = other_subject.as_str();
    let (status, body) = token_request(&cloud, &bad).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("AADSTS70021"),
        "{body}"
    );
    let stale = cloud
        .admin("POST", "/oidc", Some(json!({"lifetime_s": -60})))
        .await
        .json()["value"]
        .as_str()
        .expect("assertion")
        .to_string();
    bad[4].1 = stale.as_str();
    let (status, _) = token_request(&cloud, &bad).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn graph_upsert_by_unique_name_is_idempotent_and_duplicate_members_are_400() {
    let cloud = TestCloud::start().await;
    // Adds a member right after the create: Graph's replication lag (its own test is in
    // provisioner/tests/behaviours_entra.rs) would answer 404 here.
    cloud.without(&["graph_lag"]).await;
    let body = json!({"displayName": "sg-data-dev", "mailEnabled": false, "mailNickname": "sg-data-dev", "securityEnabled": true,
        "owners@odata.bind": [format!("https://graph.microsoft.com/v1.0/servicePrincipals/{}", local_cloud::DEPLOYER_OBJECT_ID)]});
    let prefer = [("Prefer", "create-if-missing")];
    let first = cloud
        .graph(
            "PATCH",
            "/groups(uniqueName='sg-data-dev')",
            Some(body.clone()),
            &prefer,
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let id = first.json()["id"].as_str().expect("id").to_string();
    let second = cloud
        .graph(
            "PATCH",
            "/groups(uniqueName='sg-data-dev')",
            Some(body.clone()),
            &prefer,
        )
        .await;
    assert_eq!(second.status, 204);
    assert!(second.text.is_empty());
    assert_eq!(
        cloud
            .graph("GET", "/groups(uniqueName='sg-data-dev')", None, &[])
            .await
            .json()["id"],
        json!(id)
    );
    let without_prefer = cloud
        .graph("PATCH", "/groups(uniqueName='other')", Some(body), &[])
        .await;
    assert_eq!(without_prefer.status, 404);

    let member = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", local_cloud::DEPLOYER_OBJECT_ID)});
    assert_eq!(
        cloud
            .graph(
                "POST",
                &format!("/groups/{id}/members/$ref"),
                Some(member.clone()),
                &[]
            )
            .await
            .status,
        204
    );
    let dup = cloud
        .graph(
            "POST",
            &format!("/groups/{id}/members/$ref"),
            Some(member),
            &[],
        )
        .await;
    assert_eq!(dup.status, 400);
    assert!(dup.text.contains("already exist"));
    let members = cloud
        .graph("GET", &format!("/groups/{id}/members"), None, &[])
        .await
        .json();
    assert_eq!(members["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        cloud
            .graph(
                "DELETE",
                &format!(
                    "/groups/{id}/members/{}/$ref",
                    local_cloud::DEPLOYER_OBJECT_ID
                ),
                None,
                &[]
            )
            .await
            .status,
        204
    );
    assert_eq!(
        cloud
            .graph("DELETE", &format!("/groups/{id}"), None, &[])
            .await
            .status,
        204
    );
    assert_eq!(
        cloud
            .graph("GET", &format!("/groups/{id}"), None, &[])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn role_assignment_for_a_new_principal_needs_principal_type_and_rejects_duplicates() {
    let cloud = TestCloud::start().await;
    cloud
        .admin(
            "POST",
            "/settings",
            Some(json!({"principal_replication_s": 30.0})),
        )
        .await;
    cloud.resource_group("rgra").await;
    let group = cloud
        .graph("PATCH", "/groups(uniqueName='sg-ra')", Some(json!({"displayName": "sg-ra", "mailEnabled": false, "mailNickname": "sg-ra", "securityEnabled": true})), &[("Prefer", "create-if-missing")])
        .await
        .json()["id"].as_str().expect("id").to_string();
    let scope = format!("/subscriptions/{SUB}/resourceGroups/rgra");
    let role = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe");
    let name = "5f6d2b7e-1a2b-4c3d-9e8f-0a1b2c3d4e5f";
    let put = |name: &str, principal_type: Option<&str>, principal: &str| {
        let mut props = json!({"roleDefinitionId": role, "principalId": principal});
        if let Some(t) = principal_type {
            props["principalType"] = json!(t);
        }
        (format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"), json!({"properties": props}))
    };
    let (path, body) = put(name, None, &group);
    let young = cloud.arm("PUT", &path, Some(body)).await;
    assert_eq!(
        (young.status, young.code().as_str()),
        (400, "PrincipalNotFound"),
        "a group seconds old is not yet replicated"
    );
    let (path, body) = put(name, Some("Group"), &group);
    let created = cloud.arm("PUT", &path, Some(body.clone())).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        cloud.arm("PUT", &path, Some(body)).await.status,
        200,
        "the same assignment under the same name is a 200"
    );
    let (other_path, body) = put(
        "0a0a0a0a-1111-2222-3333-444444444444",
        Some("Group"),
        &group,
    );
    let dup = cloud.arm("PUT", &other_path, Some(body)).await;
    assert_eq!(
        (dup.status, dup.code().as_str()),
        (409, "RoleAssignmentExists")
    );
    assert!(
        dup.text.contains(&name.replace('-', "")),
        "names the existing assignment: {}",
        dup.text
    );
    let (ghost_path, body) = put(
        "0b0b0b0b-1111-2222-3333-444444444444",
        Some("ServicePrincipal"),
        "99999999-9999-9999-9999-999999999999",
    );
    assert_eq!(
        cloud.arm("PUT", &ghost_path, Some(body)).await.code(),
        "PrincipalNotFound",
        "principalType does not make a missing principal exist"
    );
    let (bad_path, body) = put("not-a-guid", Some("Group"), &group);
    assert_eq!(
        cloud.arm("PUT", &bad_path, Some(body)).await.code(),
        "InvalidRoleAssignmentId"
    );
    let listed = cloud.arm("GET", &format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"), None).await.json();
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(1));
    // Once replicated, principalType is no longer needed.
    cloud
        .admin(
            "POST",
            "/settings",
            Some(json!({"principal_replication_s": 0.0})),
        )
        .await;
    let role2 = format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1");
    let later = cloud.arm("PUT", &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/0c0c0c0c-1111-2222-3333-444444444444?api-version=2022-04-01"), Some(json!({"properties": {"roleDefinitionId": role2, "principalId": group}}))).await;
    assert_eq!(later.status, 201, "{}", later.text);
}

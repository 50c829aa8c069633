//! Entra ID, Microsoft Graph and Event Grid as they really are, one behaviour at a time (issue 10:
//! 2, 3, 12, 16, 17): each test turns on only its behaviour in the local cloud, proves it fired,
//! and holds `provision` to its promise — up from nothing in one run, a re-run with no write,
//! drift clean, down leaves nothing.

mod common;
use common::World;
use local_cloud::request_log::LoggedRequest;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn requests_to(world: &World, method: &str, needle: &str) -> Vec<LoggedRequest> {
    world
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.contains(needle))
        .collect()
}

fn show(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}

/// A user that has been in the directory for a day.
async fn seeded_user(world: &World, name: &str) -> String {
    world
        .admin(
            "POST",
            "/directory",
            Some(json!({"principal_type": "User", "display_name": name, "age_s": 86400})),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn add_member(world: &World, name: &str, member: &str) {
    world.edit_env(|t| {
        t.replace(
            &format!("unique_name = \"hero-{name}-data\""),
            &format!("unique_name = \"hero-{name}-data\"\nmembers = [\"{member}\"]"),
        )
    });
}

fn group_in(state: &Value) -> Option<Value> {
    state["directory"]
        .as_array()?
        .iter()
        .find(|o| o["principalType"] == "Group")
        .cloned()
}

/// 2. The subscription PUT is long-running; the handshake to a host that is still starting fails
/// as the operation ending Failed ("Url validation"), never as a 400, and the PUT is sent again.
#[tokio::test]
async fn a_webhook_handshake_failing_while_the_host_starts_fails_the_operation_and_is_retried() {
    let world = World::start_with("urlval", "").await;
    world
        .set_behaviours(json!({"all": false, "async_url_validation": true}))
        .await;
    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "up from nothing in one run");
    let puts = requests_to(&world, "PUT", "/eventSubscriptions/");
    assert!(
        puts.len() >= 2,
        "the first handshake reaches a host still starting, so the PUT is sent again: {:?}",
        show(&puts)
    );
    assert!(
        puts.iter().all(|r| r.status == 200 || r.status == 201),
        "the PUT itself is accepted; the failure is the operation's: {:?}",
        show(&puts)
    );
    let polls = requests_to(&world, "GET", "/providers/Microsoft.EventGrid/locations/");
    assert!(
        polls.iter().any(|r| r.path.contains("/operationStatuses/")),
        "Azure-AsyncOperation polled: {:?}",
        show(&polls)
    );
    assert!(
        up.all().contains("Url validation"),
        "the wait names Event Grid's code: {}",
        up.all()
    );
    let subscription = world
        .get_resource(&format!(
            "{}/eventSubscriptions/{}",
            world.resource_id(
                "Microsoft.EventGrid/systemTopics",
                &world.names().system_topic
            ),
            world.names().event_subscription
        ))
        .await;
    assert_eq!(
        subscription["properties"]["provisioningState"], "Succeeded",
        "{subscription}"
    );
    world
        .up_converges_and_down_leaves_nothing("async url validation")
        .await;
}

/// 3. Right after a group is created Graph answers its `$ref`s 404: the group is created with its
/// owner and members bound in the body, and a later member add waits the lag out.
#[tokio::test]
async fn graph_replication_lag_is_avoided_at_create_and_waited_out_later() {
    let world = World::start_with("lag", "").await;
    world
        .set_behaviours(json!({"all": false, "graph_lag": true, "graph_lag_s": 15.0}))
        .await;
    let analyst = seeded_user(&world, "analyst").await;
    add_member(&world, "lag", &analyst);
    let started = Instant::now();
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up from nothing in one run");
    let creates = requests_to(&world, "POST", "/v1.0/groups");
    let create = creates
        .iter()
        .find(|r| r.path == "/v1.0/groups")
        .expect("the group is created by POST /groups");
    let body = create.body.clone().unwrap_or_default();
    let bound = |key: &str, id: &str| {
        body[key].as_array().is_some_and(|a| {
            a.iter().any(|u| {
                u.as_str()
                    == Some(&format!(
                        "{}/v1.0/directoryObjects/{id}",
                        world.emulator.url()
                    ))
            })
        })
    };
    assert!(
        bound("owners@odata.bind", local_cloud::DEPLOYER_OBJECT_ID),
        "the owner is bound through directoryObjects: {body}"
    );
    assert!(
        bound("members@odata.bind", &analyst)
            && bound("members@odata.bind", local_cloud::DEPLOYER_OBJECT_ID),
        "members are bound in the create: {body}"
    );
    let refs = requests_to(&world, "POST", "/$ref");
    assert!(refs.is_empty(), "no $ref after a create: {:?}", show(&refs));

    // A member added while the group is still unknown to some replicas: 404, waited out.
    let colleague = seeded_user(&world, "colleague").await;
    world.edit_env(|t| {
        t.replace(
            &format!("[\"{analyst}\"]"),
            &format!("[\"{analyst}\", \"{colleague}\"]"),
        )
    });
    let lag_s = (started.elapsed().as_secs_f64() + 2.0) / 0.01;
    world.set_behaviours(json!({"graph_lag_s": lag_s})).await;
    world.emulator.state.log.clear();
    let again = world.provision(&["up", "--yes"]).await;
    again.assert_code(0, "the member add waits the lag out");
    let refs = requests_to(&world, "POST", "/members/$ref");
    assert!(
        refs.first().is_some_and(|r| r.status == 404)
            && refs.last().is_some_and(|r| r.status == 204),
        "404 Request_ResourceNotFound, then added: {:?}",
        show(&refs)
    );
    assert!(
        !again.all().to_ascii_lowercase().contains("remove"),
        "lag is never blamed on the file: {}",
        again.all()
    );
    let group = group_in(&world.state().await).expect("group");
    assert!(
        group["members"]
            .as_array()
            .is_some_and(|m| m.contains(&json!(colleague))),
        "{group}"
    );
    world
        .up_converges_and_down_leaves_nothing("graph lag")
        .await;
}

/// 16. A group with our uniqueName made by someone else is refused by name, untouched, until the
/// environment file says to adopt it.
#[tokio::test]
async fn a_group_someone_else_made_is_refused_until_the_file_adopts_it() {
    let world = World::start_with("taken", "").await;
    world
        .set_behaviours(json!({"all": false, "unique_group_names": true}))
        .await;
    let foreign = json!({
        "displayName": "Finance readers", "description": "made by hand by the finance team",
        "mailEnabled": false, "mailNickname": "hero-taken-data", "securityEnabled": true,
        "uniqueName": "hero-taken-data",
    });
    let (status, made) = world.graph("POST", "/groups", Some(foreign.clone())).await;
    assert_eq!(status, 201, "{made}");
    let (status, twice) = world.graph("POST", "/groups", Some(foreign)).await;
    assert_eq!(
        (status, twice["error"]["code"].as_str()),
        (400, Some("Request_BadRequest")),
        "uniqueName is unique in the tenant: {twice}"
    );

    let up = world.provision(&["up", "--yes"]).await;
    assert_ne!(
        up.code,
        0,
        "a foreign group is not taken over: {}",
        up.all()
    );
    assert!(
        up.all().contains("hero-taken-data")
            && up.all().contains("was not created by provision")
            && up.all().contains("adopt = true"),
        "{}",
        up.all()
    );
    let group = group_in(&world.state().await).expect("group");
    assert_eq!(
        group["body"]["description"], "made by hand by the finance team",
        "untouched: {group}"
    );
    let group_writes: Vec<String> = show(&world.writes())
        .into_iter()
        .filter(|w| w.contains("/v1.0/groups") && !w.starts_with("POST /v1.0/groups ->"))
        .collect();
    assert!(group_writes.is_empty(), "{group_writes:?}");
    let drift = world.provision(&["drift"]).await;
    assert!(
        drift.all().contains("was not created by provision"),
        "{}",
        drift.all()
    );

    world.edit_env(|t| {
        t.replace(
            "unique_name = \"hero-taken-data\"",
            "unique_name = \"hero-taken-data\"\nadopt = true",
        )
    });
    world
        .up_converges_and_down_leaves_nothing("adopting a group")
        .await;
    assert_eq!(made["uniqueName"], "hero-taken-data");
}

/// 17. Graph's 403 `Authorization_RequestDenied` becomes an error naming the permission missing.
#[tokio::test]
async fn a_graph_permission_the_identity_lacks_is_named() {
    let world = World::start_with("perms", "").await;
    world
        .set_behaviours(
            json!({"all": false, "graph_permissions": true, "graph_denied": ["Group.Create"]}),
        )
        .await;
    let up = world.provision(&["up", "--yes"]).await;
    assert_ne!(up.code, 0, "{}", up.all());
    assert!(
        up.all().contains("Authorization_RequestDenied")
            && up.all().contains("Group.Create")
            && up.all().contains("hero-perms-data"),
        "names the group, Graph's code and the permission: {}",
        up.all()
    );
    let denied = requests_to(&world, "POST", "/v1.0/groups");
    assert!(
        denied.iter().any(|r| r.status == 403),
        "{:?}",
        show(&denied)
    );

    world.set_behaviours(json!({"graph_denied": []})).await;
    world
        .provision(&["up", "--yes"])
        .await
        .assert_code(0, "up once granted");
    let analyst = seeded_user(&world, "analyst").await;
    add_member(&world, "perms", &analyst);
    world
        .set_behaviours(json!({"graph_denied": ["GroupMember.ReadWrite.All"]}))
        .await;
    let add = world.provision(&["up", "--yes"]).await;
    assert_ne!(add.code, 0, "{}", add.all());
    assert!(
        add.all().contains("GroupMember.ReadWrite.All"),
        "{}",
        add.all()
    );

    world.set_behaviours(json!({"graph_denied": []})).await;
    world
        .up_converges_and_down_leaves_nothing("graph permissions")
        .await;
}

async fn mint_assertion(http: &reqwest::Client, url: &str, lifetime_s: i64) -> Option<String> {
    let reply = http
        .post(format!("{url}/_admin/oidc"))
        .json(&json!({"lifetime_s": lifetime_s}))
        .send()
        .await
        .ok()?;
    let body: Value = reply.json().await.ok()?;
    body["value"].as_str().map(str::to_string)
}

/// Replaces the file in one step, as a renewing workflow should, so no read sees half a token.
fn write_token(file: &std::path::Path, token: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, token).expect("write token");
    std::fs::rename(&tmp, file).expect("rename token");
}

/// 12. GitHub's OIDC token lives about five minutes and `up` can take longer: the token endpoint
/// refuses an expired assertion (AADSTS700024), so `up` only gets through because the credential
/// reads AZURE_FEDERATED_TOKEN_FILE afresh for every token while the file is renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assertion_file_renewed_during_up_keeps_it_going_and_an_expired_one_is_refused() {
    const LIFETIME_S: i64 = 4;
    let data = tempfile::tempdir().expect("tempdir");
    let world = World::start_configured("oidc", "", data.path(), |cfg| {
        cfg.behaviours =
            local_cloud::behaviours::Behaviours::only(&["assertion_expiry"]).expect("switch");
        // Access tokens come due (five minutes before expiry) two seconds after they are issued,
        // so the run asks for tokens all along, long after its first assertion expired.
        cfg.token_lifetime = Duration::from_secs(302);
        // The site's create outlasts the first assertion on any machine, however fast, so the
        // run has to renew its credential to finish.
        cfg.latency.site_create_s = (LIFETIME_S as f64 + 3.0) / cfg.time_scale;
    })
    .await;
    world.edit_env(|t| {
        t.replace(
            "method = \"client-secret\"",
            "method = \"workload-identity\"",
        )
    });
    let file = world.dir.path().join("oidc-token");
    let url = world.emulator.url();
    let first = mint_assertion(&world.http, &url, LIFETIME_S).await;
    write_token(&file, &first.expect("an assertion"));
    let renew = {
        let (http, url, file) = (world.http.clone(), url.clone(), file.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if let Some(token) = mint_assertion(&http, &url, LIFETIME_S).await {
                    write_token(&file, &token);
                }
            }
        })
    };
    let run = |args: &[&str]| {
        let mut command = World::command(&world.full_args(args));
        command
            .env_remove("AZURE_CLIENT_SECRET")
            .env("AZURE_FEDERATED_TOKEN_FILE", &file);
        command
    };
    let started = Instant::now();
    let up = run(&["up", "--yes"])
        .output()
        .await
        .expect("provision runs");
    let took = started.elapsed();
    renew.abort();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(
        up.status.code(),
        Some(0),
        "up with a renewed assertion: {text}"
    );
    assert!(
        took > Duration::from_secs(LIFETIME_S as u64 + 1),
        "the run outlived its first assertion ({took:?}), or this proves nothing"
    );
    let tokens = requests_to(&world, "POST", "/oauth2/v2.0/token");
    assert!(
        tokens.len() >= 3 && tokens.iter().all(|r| r.status == 200),
        "tokens asked for all along the run, each with a valid assertion: {:?}",
        show(&tokens)
    );

    // The file no longer renewed: once its assertion expires Entra refuses it.
    tokio::time::sleep(Duration::from_secs(LIFETIME_S as u64 + 1)).await;
    world.emulator.state.log.clear();
    let stale = run(&["up", "--yes"])
        .output()
        .await
        .expect("provision runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stale.stdout),
        String::from_utf8_lossy(&stale.stderr)
    );
    assert_ne!(stale.status.code(), Some(0), "{text}");
    let refused = requests_to(&world, "POST", "/oauth2/v2.0/token");
    assert!(
        refused.iter().any(|r| r.status == 400),
        "the token endpoint refused the expired assertion: {:?}",
        show(&refused)
    );
    assert!(
        text.contains("AADSTS700024") && text.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "says the assertion expired and where it came from: {text}"
    );

    world.edit_env(|t| {
        t.replace(
            "method = \"workload-identity\"",
            "method = \"client-secret\"",
        )
    });
    world
        .up_converges_and_down_leaves_nothing("assertion expiry")
        .await;
}

//! Secrets never reach the terminal: after up, drift, output (human and JSON) and verbose runs —
//! including one that redeploys the package, changes a sensitive setting and meets throttling —
//! no account key, SAS signature, client secret, bearer token or connection string is printed,
//! and the local cloud's request log (memory and file) holds SAS URLs only redacted.

mod common;
use common::{Run, World};
use serde_json::{json, Value};

fn sig_of(url: &str) -> String {
    let url = url::Url::parse(url).expect("package URL");
    url.query_pairs()
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .expect("the package URL carries a SAS signature")
}

/// The raw and the percent-encoded spelling of a value, as either may be printed.
fn spellings(secret: &str) -> Vec<String> {
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    vec![secret.to_string(), encoded]
}

async fn package_setting(world: &World) -> (String, String) {
    let (status, settings) = world
        .arm(
            "POST",
            &format!(
                "{}/config/appsettings/list?api-version=2024-04-01",
                world.site_id()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    let url = settings["properties"]["WEBSITE_RUN_FROM_PACKAGE"]
        .as_str()
        .expect("package setting")
        .to_string();
    let cs = settings["properties"]["APPLICATIONINSIGHTS_CONNECTION_STRING"]
        .as_str()
        .expect("connection string")
        .to_string();
    (sig_of(&url), cs)
}

#[tokio::test]
async fn no_secret_is_printed_or_logged_unredacted() {
    let data = tempfile::tempdir().expect("tempdir");
    let log_file = data.path().join("requests.jsonl");
    let log_path = log_file.clone();
    let world = World::start_configured("secret", "", data.path(), move |cfg| {
        cfg.request_log = Some(log_path)
    })
    .await;
    let mut runs: Vec<(String, Run)> = Vec::new();

    let up = world.provision(&["up", "--yes"]).await;
    up.assert_code(0, "up");
    runs.push(("up".into(), up));
    let (first_sig, connection_string) = package_setting(&world).await;
    for args in [
        vec!["drift"],
        vec!["drift", "--output", "json"],
        vec!["output"],
        vec!["output", "--output", "json"],
        vec!["output", "--raw", "function_principal_id"],
        vec!["drift", "-v"],
    ] {
        let run = world.provision(&args).await;
        run.assert_code(0, &format!("{args:?}"));
        runs.push((format!("{args:?}"), run));
    }

    // Out of band: the package URL replaced and the connection string changed. A verbose drift
    // shows both as drift, a verbose up under throttling redeploys with a new SAS.
    let settings = format!("{}/config/appsettings", world.site_id());
    world
        .patch_resource(
            &settings,
            json!({"properties": {"WEBSITE_RUN_FROM_PACKAGE": "https://elsewhere.invalid/pkg.zip", "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000"}}),
        )
        .await;
    let drift = world.provision(&["drift", "-v"]).await;
    drift.assert_code(2, "drift -v");
    assert!(
        drift.stdout.contains(
            "appSettings.APPLICATIONINSIGHTS_CONNECTION_STRING: \"(sensitive)\" → \"(sensitive)\""
        ),
        "{}",
        drift.stdout
    );
    runs.push(("drift -v (drifted)".into(), drift));
    let drift_json = world.provision(&["drift", "--output", "json"]).await;
    drift_json.assert_code(2, "drift --output json");
    runs.push(("drift --output json (drifted)".into(), drift_json));
    world.set_faults(json!({"seed": 5, "throttle_rate": 0.15, "retry_after_s": 0, "server_error_rate": 0.1, "drop_rate": 0.0, "lro_failure_rate": 0.0})).await;
    let up = world.provision(&["up", "--yes", "-v"]).await;
    world.faults_off().await;
    up.assert_code(0, "up -v");
    assert!(
        up.stderr.contains("retrying"),
        "the verbose run met throttling: {}",
        up.stderr
    );
    runs.push(("up -v".into(), up));
    let (second_sig, second_cs) = package_setting(&world).await;
    assert_ne!(
        first_sig, second_sig,
        "the package was redeployed with a new SAS"
    );
    assert_eq!(
        connection_string, second_cs,
        "the connection string was put back"
    );

    // The secrets, read the way an operator would: listKeys through ARM with a token.
    let names = world.names();
    let mut secrets: Vec<(String, String)> = vec![
        ("client secret".into(), local_cloud::DEPLOYER_SECRET.into()),
        ("first SAS sig".into(), first_sig.clone()),
        ("second SAS sig".into(), second_sig.clone()),
        (
            "App Insights connection string".into(),
            connection_string.clone(),
        ),
    ];
    let ikey = connection_string
        .split(';')
        .find_map(|p| p.strip_prefix("InstrumentationKey="))
        .expect("instrumentation key")
        .to_string();
    secrets.push(("instrumentation key".into(), ikey));
    for account in [
        &names.raw_account,
        &names.standard_account,
        &names.functions_account,
    ] {
        for (name, value) in world.account_keys(account).await {
            secrets.push((format!("{account} {name}"), value));
        }
    }
    assert!(secrets.len() >= 5 + 6);

    for (what, run) in &runs {
        let text = run.all();
        for (name, secret) in &secrets {
            for s in spellings(secret) {
                assert!(!text.contains(&s), "{what} printed the {name}:\n{text}");
            }
        }
        assert!(
            !text.contains("eyJ"),
            "{what} printed something like a JWT:\n{text}"
        );
        assert!(
            !text.to_ascii_lowercase().contains("bearer"),
            "{what} printed an authorization header:\n{text}"
        );
        assert!(
            !text.contains("sig=")
                || text.matches("sig=").count() == text.matches("sig=REDACTED").count(),
            "{what} printed a SAS:\n{text}"
        );
    }

    // The emulator's request log, in memory and on disk: SAS URLs redacted, no keys or secrets.
    let file = std::fs::read_to_string(&log_file).expect("request log file");
    let memory = serde_json::to_string(&world.emulator.requests()).expect("log json");
    for (where_, text) in [("request log file", &file), ("request log", &memory)] {
        assert!(
            text.contains("WEBSITE_RUN_FROM_PACKAGE"),
            "{where_} holds the settings writes"
        );
        assert_eq!(
            text.matches("sig=").count(),
            text.matches("sig=REDACTED").count(),
            "{where_} holds an unredacted SAS"
        );
        for (name, secret) in secrets
            .iter()
            .filter(|(n, _)| !n.contains("connection string") && !n.contains("instrumentation"))
        {
            for s in spellings(secret) {
                assert!(!text.contains(&s), "{where_} holds the {name}");
            }
        }
    }
    let lines: Vec<Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines.iter().any(|l| l["method"] == "PUT"
        && l["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/config/appsettings"))));
}

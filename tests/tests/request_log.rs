//! The request log keeps no secret: an Event Grid subscription whose webhook URL carries the
//! Functions host's key is logged (in memory and in the JSON-lines file) with the key redacted.

mod common;
use axum::routing::post;
use axum::{Json, Router};
use common::{TestCloud, SUB};
use local_cloud::config::EmulatorConfig;
use local_cloud::request_log::LoggedRequest;
use serde_json::{json, Value};

/// A webhook that answers Event Grid's validation handshake, as the Functions host does.
async fn webhook() -> u16 {
    let app = Router::new().route(
        "/runtime/webhooks/blobs",
        post(|Json(events): Json<Value>| async move {
            Json(json!({"validationResponse": events[0]["data"]["validationCode"]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test]
async fn an_event_subscription_is_logged_without_the_host_key() {
    const HOST_KEY: &str = "hostKeyDoNotLog0123456789";
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("requests.jsonl");
    let mut cfg = EmulatorConfig::new(data.path().join("emulator"));
    cfg.request_log = Some(file.clone());
    let emulator = local_cloud::Emulator::start(cfg, 0)
        .await
        .expect("emulator starts (is Azurite installed? run tests/local-cloud.sh install)");
    let cloud = TestCloud::with(emulator).await;
    cloud.resource_group("rg-log").await;
    cloud.storage_account("rg-log", "stlogsecret01").await;
    let topic = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-log/providers/Microsoft.EventGrid/systemTopics/raw-events"
    );
    let made = cloud
        .arm(
            "PUT",
            &format!("{topic}?api-version=2025-02-15"),
            Some(json!({"location": "westeurope", "properties": {
                "source": TestCloud::account_path("rg-log", "stlogsecret01"),
                "topicType": "Microsoft.Storage.StorageAccounts"}})),
        )
        .await;
    assert!(made.status == 201 || made.status == 200, "{}", made.text);
    let port = webhook().await;
    let endpoint = format!(
        "http://127.0.0.1:{port}/runtime/webhooks/blobs?functionName=Host.Functions.process_raw&code={HOST_KEY}"
    );
    let subscription = cloud
        .arm(
            "PUT",
            &format!("{topic}/eventSubscriptions/to-function?api-version=2025-02-15"),
            Some(json!({"properties": {
                "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": endpoint}},
                "filter": {"includedEventTypes": ["Microsoft.Storage.BlobCreated"]}}})),
        )
        .await;
    assert_eq!(subscription.status, 201, "{}", subscription.text);

    let memory = serde_json::to_string(&cloud.emulator.requests()).expect("log json");
    let written = std::fs::read_to_string(&file).expect("request log file");
    for (where_, text) in [("memory", &memory), ("file", &written)] {
        assert!(
            !text.contains(HOST_KEY),
            "the {where_} log holds the host key"
        );
    }
    let lines: Vec<LoggedRequest> = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let put = lines
        .iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/eventSubscriptions/to-function"))
        .expect("the subscription PUT is logged");
    assert_eq!(
        put.body.as_ref().expect("body")["properties"]["destination"]["properties"]["endpointUrl"],
        format!("http://127.0.0.1:{port}/runtime/webhooks/blobs?functionName=Host.Functions.process_raw&code=REDACTED"),
        "the URL stays readable, only the key goes"
    );
    assert_eq!(put.status, 201);
}

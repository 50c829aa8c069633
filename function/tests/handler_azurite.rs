//! The handler binary over real HTTP, with host-shaped invocations, writing to a real Azurite.
//! Skipped with a notice when the Azurite binary is missing (see support::azurite_bin).
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{json, Value};

use support::*;

async fn post(port: u16, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/process_raw"))
        .header(
            "X-Azure-Functions-InvocationId",
            "11111111-2222-3333-4444-555555555555",
        )
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get(store: &dyn ObjectStore, name: &str) -> Bytes {
    store
        .get(&Path::from(name))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

async fn names(store: &dyn ObjectStore) -> Vec<String> {
    let mut names: Vec<String> = store
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}

fn parquet_rows(bytes: Bytes) -> usize {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    reader.metadata().file_metadata().num_rows() as usize
}

fn assert_host_response(body: &Value) {
    assert_eq!(body["Outputs"], json!({}));
    assert_eq!(body["ReturnValue"], Value::Null);
    assert!(
        body["Logs"].as_array().is_some_and(|l| !l.is_empty()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn handler_processes_host_invocations_against_azurite() {
    let Some(bin) = azurite_bin() else {
        eprintln!("SKIPPED handler_azurite: no Azurite at $AZURITE_BLOB_BIN or /root/.cache/superhero-dataflow/azurite/node_modules/.bin/azurite-blob");
        return;
    };
    let azurite = start_azurite(&bin);
    create_container(azurite.port, "standard").await;
    let standard = store(azurite.port, "standard");
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("handler.log");
    let handler = start_handler(azurite.port, "standard", &log_path);

    // A good golden file: Parquet at the standard name; a re-run rewrites the same object.
    let (name, raw) = fixture("lib_server_game");
    let records: Vec<Value> = serde_json::from_slice(&support_gunzip(&raw)).unwrap();
    let parquet_name = name.replace(".json.gzip", ".parquet");
    let (status, body) = post(handler.port, &host_invocation(&name, &raw)).await;
    assert_eq!(status, 200, "{body}");
    assert_host_response(&body);
    assert!(
        body["Logs"][0].as_str().unwrap().contains(&parquet_name),
        "{body}"
    );
    let first = get(standard.as_ref(), &parquet_name).await;
    assert_eq!(parquet_rows(first.clone()), records.len());
    let (status, _) = post(handler.port, &host_invocation(&name, &raw)).await;
    assert_eq!(status, 200);
    assert_eq!(get(standard.as_ref(), &parquet_name).await, first);
    assert_eq!(names(standard.as_ref()).await, [parquet_name]);

    // A partly bad file: good rows kept, bad ones in _quarantine/...jsonl.
    let good = json!({"etl_id": "e", "msg_id": "m", "level": "INFO", "timestamp": "2024-01-13T23:59:21", "name": "n", "log_message": "Attack Completed"});
    let mut bad = good.clone();
    bad["timestamp"] = json!("not a time");
    let partly = gzip(
        serde_json::to_string(&[&good, &bad, &good])
            .unwrap()
            .as_bytes(),
    );
    let partly_name = "log_meta/2024/01/14/partly_1.json.gzip";
    let (status, body) = post(handler.port, &host_invocation(partly_name, &partly)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        parquet_rows(get(standard.as_ref(), "log_meta/2024/01/14/partly_1.parquet").await),
        2
    );
    let rejects = get(
        standard.as_ref(),
        "_quarantine/log_meta/2024/01/14/partly_1.json.gzip.jsonl",
    )
    .await;
    let line: Value = serde_json::from_slice(rejects.trim_ascii_end()).unwrap();
    assert_eq!(
        (
            line["index"].clone(),
            line["kind"].clone(),
            line["record"].clone()
        ),
        (json!(1), json!("bad_timestamp"), bad)
    );

    // An unreadable file: the original bytes and a reason, still 200 so the host stops retrying.
    let (name, raw) = fixture("buffer_meta");
    let truncated = &raw[..raw.len() / 2];
    let (status, body) = post(handler.port, &host_invocation(&name, truncated)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["Logs"][0].as_str().unwrap().starts_with("quarantined"),
        "{body}"
    );
    assert_eq!(
        &get(standard.as_ref(), &format!("_quarantine/{name}")).await[..],
        truncated
    );
    let reason: Value = serde_json::from_slice(
        &get(
            standard.as_ref(),
            &format!("_quarantine/{name}.reason.json"),
        )
        .await,
    )
    .unwrap();
    assert_eq!(reason["kind"], "gzip");

    // An unknown folder is quarantined, not silently ignored.
    let (status, _) = post(
        handler.port,
        &host_invocation("mystery/2024/01/13/x.json.gzip", b"x"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        &get(
            standard.as_ref(),
            "_quarantine/mystery/2024/01/13/x.json.gzip"
        )
        .await[..],
        b"x"
    );

    // The ingest's own dead letters in raw/_quarantine are not batches: ignored, nothing written.
    let before = names(standard.as_ref()).await;
    let (status, body) = post(
        handler.port,
        &host_invocation(
            "_quarantine/2024/01/13/e_lib.server.game_0_1_2.json.gzip",
            b"x",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["Logs"][0].as_str().unwrap().starts_with("ignored"),
        "{body}"
    );
    assert_eq!(names(standard.as_ref()).await, before);

    // A malformed invocation writes nothing and fails the invocation.
    let (status, body) = post(
        handler.port,
        &json!({"Data": {}, "Metadata": {"name": "\"log_meta/2024/01/13/y.json.gzip\""}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_host_response(&body);
    assert_eq!(names(standard.as_ref()).await, before);

    // Logs are JSON lines on stdout and never carry the key.
    drop(handler);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains(KEY));
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e["fields"]["message"] == "processed"
            && e["fields"]["invocation_id"] == "11111111-2222-3333-4444-555555555555"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_failure_answers_500_so_the_host_retries() {
    let Some(bin) = azurite_bin() else {
        eprintln!("SKIPPED handler_azurite: no Azurite binary");
        return;
    };
    let azurite = start_azurite(&bin);
    // The container does not exist: every write fails.
    let logs = tempfile::tempdir().unwrap();
    let handler = start_handler(azurite.port, "missing", &logs.path().join("handler.log"));
    let (name, raw) = fixture("etl_meta");
    let (status, body) = post(handler.port, &host_invocation(&name, &raw)).await;
    assert_eq!(status, 500, "{body}");
    assert_host_response(&body);
    assert!(
        body["Logs"][0].as_str().unwrap().starts_with("failed"),
        "{body}"
    );
}

fn support_gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

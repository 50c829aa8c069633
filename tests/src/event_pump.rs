//! Event Grid delivery: watches the containers of every storage account that has a system topic
//! with subscriptions and posts BlobCreated events to each subscription's webhook, and posts the
//! calls the Event Grid provider asks for (`state::notices`, the validation handshake). Blobs that
//! existed before a subscription was made are not delivered, as in Azure.

use crate::blob_client::BlobClient;
use crate::state::hosts::delivery_key;
use crate::state::notices::WebhookCall;
use crate::state::{lock, Shared};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

const SUBSCRIPTION: &str = "Microsoft.EventGrid/systemTopics/eventSubscriptions";

pub fn spawn(state: Shared) -> tokio::task::JoinHandle<()> {
    let calls = state.notices.attach_event_grid();
    tokio::spawn(async move {
        let blob_events = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                tick(&state).await;
            }
        };
        tokio::join!(blob_events, answer_calls(&state, calls));
    })
}

/// Each call in its own task as it arrives, so a slow webhook holds up no other.
async fn answer_calls(state: &Shared, mut calls: UnboundedReceiver<WebhookCall>) {
    while let Some(call) = calls.recv().await {
        let state = state.clone();
        tokio::spawn(async move {
            let answer = deliver(&state, &call.endpoint, &call.events).await;
            let _ = call.reply.send(answer);
        });
    }
}

struct Watched {
    subscription_id: String,
    endpoint: String,
    account: String,
    container: Option<String>,
    subject_prefix: String,
    event_types: Vec<String>,
}

fn watched(state: &Shared) -> Vec<Watched> {
    let cloud = lock(&state.cloud);
    cloud
        .resources
        .values()
        .filter(|r| r.kind == SUBSCRIPTION)
        // A subscription whose handshake failed (or has not finished) delivers nothing.
        .filter(|r| {
            r.body
                .pointer("/properties/provisioningState")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "Succeeded")
        })
        .filter_map(|sub| {
            let topic_id = sub.body.pointer("/properties/topic")?.as_str()?;
            let source = cloud
                .get(topic_id)?
                .body
                .pointer("/properties/source")?
                .as_str()?
                .to_string();
            let account = source.rsplit('/').next()?.to_string();
            let prefix = sub
                .body
                .pointer("/properties/filter/subjectBeginsWith")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let container = prefix
                .strip_prefix("/blobServices/default/containers/")
                .and_then(|r| r.split('/').next())
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            let event_types = sub
                .body
                .pointer("/properties/filter/includedEventTypes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_else(|| vec!["Microsoft.Storage.BlobCreated".to_string()]);
            Some(Watched {
                subscription_id: sub.id.clone(),
                endpoint: sub
                    .body
                    .pointer("/properties/destination/properties/endpointUrl")?
                    .as_str()?
                    .to_string(),
                account,
                container,
                subject_prefix: prefix,
                event_types,
            })
        })
        .collect()
}

async fn current_blobs(
    state: &Shared,
    account: &str,
    container: Option<&str>,
) -> Vec<(String, String, String, u64)> {
    let Some(data) = lock(&state.cloud).accounts.get(account).cloned() else {
        return vec![];
    };
    let containers: Vec<String> = match container {
        Some(c) => vec![c.to_string()],
        None => return vec![],
    };
    let client = BlobClient::new(&state.http, data);
    let mut out = Vec::new();
    for c in containers {
        if let Ok(items) = client.list_blobs(&c).await {
            out.extend(
                items
                    .into_iter()
                    .map(|i| (c.clone(), i.name, i.etag, i.content_length)),
            );
        }
    }
    out
}

async fn tick(state: &Shared) {
    for w in watched(state) {
        if !w
            .event_types
            .iter()
            .any(|t| t == "Microsoft.Storage.BlobCreated")
        {
            continue;
        }
        let data = lock(&state.cloud).accounts.get(&w.account).cloned();
        let Some(data) = data else { continue };
        for (container, name, etag, length) in
            current_blobs(state, &w.account, w.container.as_deref()).await
        {
            let subject = format!("/blobServices/default/containers/{container}/blobs/{name}");
            if !subject.starts_with(&w.subject_prefix) {
                continue;
            }
            let k = delivery_key(&container, &name, &etag);
            let sub_key = w.subscription_id.to_ascii_lowercase();
            if lock(&state.sites.delivered)
                .get(&sub_key)
                .is_some_and(|s| s.contains(&k))
            {
                continue;
            }
            let url = format!(
                "{}{}/{}",
                data.blob_endpoint(),
                container,
                crate::blob_client::encode_path(&name)
            );
            let event = json!([{
                "topic": format!("/subscriptions/{}/resourceGroups/x/providers/Microsoft.Storage/storageAccounts/{}", state.cfg().subscription_id, w.account),
                "subject": subject,
                "eventType": "Microsoft.Storage.BlobCreated",
                "id": uuid::Uuid::new_v4().to_string(),
                "eventTime": chrono::Utc::now().to_rfc3339(),
                "dataVersion": "", "metadataVersion": "1",
                "data": {"api": "PutBlob", "eTag": etag, "contentType": "application/octet-stream", "contentLength": length, "blobType": "BlockBlob", "url": url},
            }]);
            if deliver(state, &w.endpoint, &event).await.is_ok() {
                lock(&state.sites.delivered)
                    .entry(sub_key)
                    .or_default()
                    .insert(k);
            }
        }
    }
}

/// Posts events to a webhook: `*.azurewebsites.net` is answered by the emulated Functions host.
async fn deliver(state: &Shared, endpoint: &str, events: &Value) -> Result<Value, String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("endpoint is not a URL: {e}"))?;
    if url
        .host_str()
        .is_some_and(|h| h.ends_with(".azurewebsites.net"))
    {
        return crate::functions_host::webhook(state, &url, events)
            .await
            .map_err(|(status, reason)| format!("HTTP {status}: {reason}"));
    }
    let response = state
        .http
        .post(url)
        .header("aeg-event-type", "Notification")
        .json(events)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    Ok(response.json().await.unwrap_or(json!({})))
}

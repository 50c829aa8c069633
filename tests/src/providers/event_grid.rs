//! Microsoft.EventGrid: a system topic on a storage account and its event subscriptions. Creating a
//! webhook subscription runs the validation handshake (posted by Event Grid's delivery, `event_pump`,
//! through `state::notices`); blob events are then delivered by that pump, and only through
//! subscriptions that exist — as in Azure.
//! A subscription PUT is long-running (`event_subscription_create_s`); with `async_url_validation`
//! a failed handshake ends its operation Failed with inner code `Url validation`, and a Functions
//! host that is still starting fails the handshake (azure-cli#21006).

use crate::arm::path::ResourcePath;
use crate::arm::{self, ArmRequest, ArmResult};
use crate::blob_client::BlobClient;
use crate::error::ArmError;
use crate::state::hosts::delivery_key;
use crate::state::{lock, OperationAction, Shared};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use tokio::time::Instant;

const TOPIC: &str = "Microsoft.EventGrid/systemTopics";
const SUBSCRIPTION: &str = "Microsoft.EventGrid/systemTopics/eventSubscriptions";

pub async fn handle(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let (types, action) = parsed.shape();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    match (types.as_slice(), action.as_deref()) {
        (["systemtopics"], None) => topic(state, req, parsed),
        (["systemtopics", "eventsubscriptions"], None) => subscription(state, req, parsed).await,
        (["systemtopics", "eventsubscriptions"], Some("getfullurl")) => full_url(state, parsed),
        _ => Err(ArmError::not_found(
            "NotFound",
            format!("No route for {}.", req.path),
        )),
    }
}

fn topic(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let id = parsed.resource_id(1);
    let name = parsed.names().first().cloned().unwrap_or_default();
    match req.method {
        Method::GET => arm::get_tracked(state, &id, TOPIC, parsed),
        Method::DELETE => {
            let existed = !lock(&state.cloud).ids_under(&id).is_empty();
            let children = lock(&state.cloud).ids_under(&id);
            let mut cloud = lock(&state.cloud);
            for child in children {
                cloud.remove(&child);
            }
            arm::empty(if existed {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            })
        }
        Method::PUT => {
            let body = req.body()?;
            let location = arm::require_location(body)?;
            let tags = arm::validate_tags(body)?;
            let source = body
                .pointer("/properties/source")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let topic_type = body
                .pointer("/properties/topicType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !topic_type.eq_ignore_ascii_case("Microsoft.Storage.StorageAccounts") {
                return Err(ArmError::bad_request(
                    "InvalidRequest",
                    format!("Topic type '{topic_type}' is not supported here."),
                ));
            }
            let Some(account) = lock(&state.cloud).get(&source).cloned() else {
                return Err(ArmError::bad_request(
                    "InvalidRequest",
                    format!("The source resource '{source}' does not exist."),
                ));
            };
            if account.body.get("location") != Some(&json!(location)) {
                return Err(ArmError::bad_request("InvalidRequest", "The system topic location must match the location of its source storage account."));
            }
            let existing = lock(&state.cloud).get(&id).cloned();
            if let Some(old) = &existing {
                if !old
                    .body
                    .pointer("/properties/source")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case(&source))
                {
                    return Err(ArmError::bad_request(
                        "InvalidRequest",
                        "The source of a system topic cannot be changed.",
                    ));
                }
            }
            let resource = json!({
                "id": id, "name": name, "type": TOPIC, "location": location, "tags": tags,
                "properties": {"source": source, "topicType": "Microsoft.Storage.StorageAccounts", "metricResourceId": uuid::Uuid::new_v4().to_string()},
            });
            let secs = state.cfg().latency.system_topic_create_s;
            arm::put_tracked(state, req, &id, TOPIC, resource, Some(secs))
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

async fn subscription(state: &Shared, req: &ArmRequest, parsed: &ResourcePath) -> ArmResult {
    let topic_id = parsed.resource_id(1);
    let id = parsed.resource_id(2);
    let name = parsed.names().get(1).cloned().unwrap_or_default();
    match req.method {
        Method::GET => {
            let body = lock(&state.cloud).get(&id).map(|r| public_view(&r.body));
            body.map(arm::ok).unwrap_or_else(|| {
                Err(ArmError::resource_not_found(
                    SUBSCRIPTION,
                    &name,
                    parsed.rg(),
                ))
            })
        }
        Method::DELETE => arm::delete_tracked(state, &id),
        Method::PUT | Method::PATCH => {
            if lock(&state.cloud).get(&topic_id).is_none() {
                return Err(ArmError::resource_not_found(
                    TOPIC,
                    &parsed.names()[0],
                    parsed.rg(),
                ));
            }
            let mut props = req
                .body()?
                .get("properties")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if req.method == Method::PATCH {
                let mut old = lock(&state.cloud)
                    .get(&id)
                    .map(|r| r.body["properties"].clone())
                    .ok_or_else(|| {
                        ArmError::resource_not_found(SUBSCRIPTION, &name, parsed.rg())
                    })?;
                arm::merge(&mut old, &props);
                props = old;
            }
            let endpoint = props
                .pointer("/destination/properties/endpointUrl")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let endpoint_type = props
                .pointer("/destination/endpointType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if endpoint_type != "WebHook"
                || !endpoint.starts_with("https://") && !endpoint.starts_with("http://127.0.0.1")
            {
                return Err(ArmError::bad_request(
                    "InvalidRequest",
                    "Only WebHook destinations with an https endpoint are supported here.",
                ));
            }
            let cfg = state.cfg();
            let handshake =
                if cfg.behaviours.async_url_validation && host_still_starting(state, &endpoint) {
                    Err("Http POST request failed with response code Unknown.".to_string())
                } else {
                    validate_webhook(state, &endpoint).await
                };
            let failure = handshake.err().map(|reason| {
                format!(
                    "Webhook validation handshake failed for {}. {reason} For troublehooting, visit https://aka.ms/esvalidation. Activity id:{}, timestamp: {} (UTC).",
                    endpoint.split('?').next().unwrap_or_default(),
                    uuid::Uuid::new_v4(),
                    chrono::Utc::now().format("%-m/%-d/%Y %-I:%M:%S %p"),
                )
            });
            if let (Some(message), false) = (&failure, cfg.behaviours.async_url_validation) {
                return Err(ArmError::bad_request("Url validation", message.clone()));
            }
            let existed = lock(&state.cloud).get(&id).is_some();
            // As for tracked resources: an update that needs no new handshake answers at once.
            let at_once = existed && failure.is_none();
            props["provisioningState"] = json!(if at_once { "Succeeded" } else { "Creating" });
            props["topic"] = json!(topic_id);
            let body = json!({"id": id, "name": name, "type": SUBSCRIPTION, "properties": props});
            if failure.is_none() {
                baseline(state, &id, &topic_id).await;
            }
            lock(&state.cloud).insert(crate::state::Resource {
                id: id.clone(),
                kind: SUBSCRIPTION.into(),
                body: body.clone(),
            });
            if at_once {
                return arm::status_json(StatusCode::OK, public_view(&body));
            }
            // Long-running (the spec marks the PUT `x-ms-long-running-operation`); a failed
            // handshake is the operation ending Failed, not an answer to the PUT (azure-cli#21006).
            let op = arm::lro::start(
                state,
                &id,
                OperationAction::Create,
                cfg.latency.event_subscription_create_s,
                None,
            );
            if let Some(message) = failure {
                let mut cloud = lock(&state.cloud);
                if let Some(operation) = cloud.operations.get_mut(&op) {
                    operation.fails = true;
                }
                cloud.operation_errors.insert(op.clone(), json!({
                    "code": "ResourceOperationFailure",
                    "message": "The resource operation completed with terminal provisioning state 'Failed'.",
                    "details": [{"code": "Url validation", "message": message}],
                }));
            }
            Ok(arm::lro::with_async_operation(
                state,
                if existed {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                public_view(&body),
                "Microsoft.EventGrid",
                &op,
                req.api_version(),
            ))
        }
        _ => Err(arm::method_not_allowed(req)),
    }
}

/// The subscription validation handshake Event Grid performs when a webhook subscription is made.
async fn validate_webhook(state: &Shared, endpoint: &str) -> Result<(), String> {
    let code = uuid::Uuid::new_v4().to_string();
    let event = json!([{
        "id": uuid::Uuid::new_v4().to_string(), "topic": "", "subject": "",
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "eventTime": chrono::Utc::now().to_rfc3339(),
        "data": {"validationCode": code, "validationUrl": ""}, "dataVersion": "1", "metadataVersion": "1",
    }]);
    let answer = state.notices.call_webhook(endpoint, event).await?;
    if answer["validationResponse"] == json!(code) {
        Ok(())
    } else {
        Err("the endpoint did not echo the validation code".into())
    }
}

/// Marks what already exists as seen, so a new subscription fires only for new blobs.
async fn baseline(state: &Shared, subscription_id: &str, topic_id: &str) {
    let source = lock(&state.cloud).get(topic_id).and_then(|t| {
        t.body
            .pointer("/properties/source")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(source) = source else { return };
    let account = source.rsplit('/').next().unwrap_or_default().to_string();
    let existing = lock(&state.cloud).accounts.get(&account).cloned();
    let Some(data) = existing else { return };
    let client = BlobClient::new(&state.http, data);
    let mut seen = HashSet::new();
    let containers: Vec<String> = lock(&state.cloud)
        .resources
        .values()
        .filter(|r| {
            r.kind == "Microsoft.Storage/storageAccounts/blobServices/containers"
                && r.id
                    .to_ascii_lowercase()
                    .starts_with(&source.to_ascii_lowercase())
        })
        .filter_map(|r| r.body["name"].as_str().map(str::to_string))
        .collect();
    for c in containers {
        for item in client.list_blobs(&c).await.unwrap_or_default() {
            seen.insert(delivery_key(&c, &item.name, &item.etag));
        }
    }
    lock(&state.sites.delivered)
        .entry(subscription_id.to_ascii_lowercase())
        .or_insert(seen);
}

/// A Functions host is cold after its site is written: Event Grid's first handshake wakes it, and
/// until it has started (`host_restart_s`) handshakes get no answer in time. Other endpoints
/// answer at once.
fn host_still_starting(state: &Shared, endpoint: &str) -> bool {
    let Some(host) = url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .filter(|h| h.ends_with(".azurewebsites.net"))
    else {
        return false;
    };
    let app = host.trim_end_matches(".azurewebsites.net");
    let cfg = state.cfg();
    let mut cloud = lock(&state.cloud);
    let written = cloud
        .resources
        .values()
        .find(|r| {
            r.kind == "Microsoft.Web/sites"
                && r.body["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(app))
        })
        .and_then(|r| r.body.pointer("/properties/lastModifiedTimeUtc").cloned())
        .unwrap_or_default();
    let first = *cloud
        .webhook_first_contact
        .entry(format!("{host}@{written}"))
        .or_insert_with(Instant::now);
    first.elapsed() < cfg.scaled(cfg.behaviours.host_restart_s)
}

/// GET never shows the webhook's query string (it holds the function key): only endpointBaseUrl.
fn public_view(body: &Value) -> Value {
    let mut view = body.clone();
    if let Some(dest) = view
        .pointer_mut("/properties/destination/properties")
        .and_then(Value::as_object_mut)
    {
        if let Some(url) = dest
            .remove("endpointUrl")
            .and_then(|v| v.as_str().map(str::to_string))
        {
            dest.insert(
                "endpointBaseUrl".into(),
                json!(url.split('?').next().unwrap_or_default()),
            );
        }
    }
    view
}

fn full_url(state: &Shared, parsed: &ResourcePath) -> ArmResult {
    let id = parsed.resource_id(2);
    let url = lock(&state.cloud).get(&id).and_then(|r| {
        r.body
            .pointer("/properties/destination/properties/endpointUrl")
            .cloned()
    });
    match url {
        Some(url) => arm::ok(json!({"endpointUrl": url})),
        None => Err(ArmError::resource_not_found(
            SUBSCRIPTION,
            parsed
                .names()
                .get(1)
                .map(String::as_str)
                .unwrap_or_default(),
            parsed.rg(),
        )),
    }
}

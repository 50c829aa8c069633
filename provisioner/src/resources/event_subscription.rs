//! The event subscription that delivers BlobCreated on raw to the function's blob webhook. It can
//! only be made once the host runs with the trigger registered and reports its `blobs_extension`
//! key, so it comes after the package; without it nothing fires, as in Azure.

use super::{diff_owned, Action, Change, Ctx, Live, Resource, ResourceError, Result};
use crate::arm::versions::{EVENT_GRID, WEB};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct EventSubscription;

fn path(ctx: &Ctx, suffix: &str) -> String {
    format!(
        "{}/eventSubscriptions/{}{suffix}?api-version={EVENT_GRID}",
        super::event_topic::id(ctx),
        ctx.names.event_subscription
    )
}

pub fn webhook_base(ctx: &Ctx) -> String {
    format!(
        "https://{}.azurewebsites.net/runtime/webhooks/blobs",
        ctx.names.function_app
    )
}

fn webhook(ctx: &Ctx, key: &str) -> String {
    format!(
        "{}?functionName=Host.Functions.{}&code={key}",
        webhook_base(ctx),
        ctx.names.function_name
    )
}

fn filter() -> Value {
    json!({
        "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
        "subjectBeginsWith": format!("/blobServices/default/containers/{}/", crate::names::RAW_CONTAINER),
        "advancedFilters": [{"operatorType": "StringIn", "key": "data.api", "values": ["PutBlob", "PutBlockList", "FlushWithClose", "CopyBlob"]}],
    })
}

async fn blobs_key(ctx: &Ctx) -> Result<String> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        let keys = ctx
            .azure
            .post(
                &format!(
                    "{}/host/default/listkeys?api-version={WEB}",
                    super::function_app::id(ctx)
                ),
                None,
            )
            .await?;
        if let Some(k) = keys
            .pointer("/systemKeys/blobs_extension")
            .and_then(Value::as_str)
        {
            return Ok(k.to_string());
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(ResourceError::Other(
                "the function host never reported a blobs_extension key within 5 minutes: the package did not start or registers no EventGrid blob trigger (check `provision verify` and the app's logs)".into(),
            ));
        }
        (ctx.azure.notify)("waiting for the function host to register the blob trigger".into());
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

impl Resource for EventSubscription {
    fn key(&self) -> String {
        "event-subscription".into()
    }
    fn kind(&self) -> &'static str {
        "event grid subscription"
    }
    fn name(&self, ctx: &Ctx) -> String {
        format!(
            "{}/{}",
            ctx.names.system_topic, ctx.names.event_subscription
        )
    }
    fn depends_on(&self) -> Vec<String> {
        vec!["event-topic".into(), "function-package".into()]
    }
    fn read<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Result<Live>> {
        Box::pin(async move {
            match ctx.azure.get(&path(ctx, "")).await {
                Ok(Some(body)) => Ok(Live::Present(body)),
                Ok(None) => Ok(Live::Absent),
                Err(e) if e.is_not_found() => Ok(Live::Absent),
                Err(e) => Err(e.into()),
            }
        })
    }
    fn diff(&self, ctx: &Ctx, live: &Live) -> Action {
        let Some(body) = live.body() else {
            return Action::Create;
        };
        let mut changes = Vec::new();
        let base = body
            .pointer("/properties/destination/properties/endpointBaseUrl")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if base != webhook_base(ctx) {
            changes.push(Change {
                property: "destination.endpointBaseUrl".into(),
                live: json!(base),
                desired: json!(webhook_base(ctx)),
            });
        }
        diff_owned(
            &json!({"filter": filter()}),
            &body["properties"],
            "properties",
            &mut changes,
        );
        changes.extend(super::failed_state(body));
        if changes.is_empty() {
            Action::Noop
        } else {
            Action::Update { changes }
        }
    }
    fn apply<'a>(&'a self, ctx: &'a Ctx, _live: &'a Live) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let key = blobs_key(ctx).await?;
            let body = json!({"properties": {
                "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": webhook(ctx, &key), "maxEventsPerBatch": 1, "preferredBatchSizeInKilobytes": 64}},
                "filter": filter(),
                "eventDeliverySchema": "EventGridSchema",
                "retryPolicy": {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
            }});
            // The webhook handshake fails while the host is still starting: a few tries, then give up.
            let mut last = None;
            for attempt in 0..10u64 {
                match ctx.azure.put(&path(ctx, ""), &body).await {
                    Ok(_) => return Ok(()),
                    Err(e) if e.status == 400 && e.code.contains("validation") => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(500 * (attempt + 1))).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(last
                .map(ResourceError::from)
                .unwrap_or_else(|| ResourceError::Other("webhook validation failed".into())))
        })
    }
    fn delete<'a>(&'a self, ctx: &'a Ctx, live: &'a Live) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            if live.body().is_some() {
                ctx.azure.delete(&path(ctx, "")).await?;
            }
            Ok(true)
        })
    }
}

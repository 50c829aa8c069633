//! The event subscription that delivers BlobCreated on raw to the function's blob webhook. It can
//! only be made once the host runs with the trigger registered and reports its `blobs_extension`
//! key, so it comes after the package; without it nothing fires, as in Azure.

use super::compare::{diff_owned, failed_state};
use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use crate::arm::versions::EVENT_GRID;
use azure::retry::{eventual, propagating};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct EventSubscription;

fn path(ctx: &Ctx, suffix: &str) -> String {
    format!(
        "{}/eventSubscriptions/{}{suffix}?api-version={EVENT_GRID}",
        super::tracked::id(ctx, &super::event_topic::EventTopic),
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
        // The host answers 400 "... from host runtime" while it restarts: waited out there.
        let keys = super::function_package::host_post(ctx, "/host/default/listkeys").await?;
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
    fn key(&self) -> Key {
        Key::EventSubscription
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
    fn depends_on(&self) -> Vec<Key> {
        vec![Key::EventTopic, Key::FunctionPackage]
    }
    fn contained_in(&self) -> Option<Key> {
        Some(Key::EventTopic)
    }
    fn read<'a>(&'a self, ctx: &'a Ctx, _inputs: &'a Outputs) -> BoxFuture<'a, Result<Read>> {
        Box::pin(async move {
            let live = match ctx.azure.get(&path(ctx, "")).await? {
                Some(body) => Live::Present(body),
                None => Live::Absent,
            };
            Ok(Read {
                live,
                outputs: Outputs::default(),
            })
        })
    }
    fn diff(&self, ctx: &Ctx, _inputs: &Outputs, live: &Live) -> Diff {
        let Some(body) = live.body() else {
            return Action::Create.into();
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
        changes.extend(failed_state(body));
        Action::from_changes(changes).into()
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        _live: &'a Live,
    ) -> BoxFuture<'a, Result<Applied>> {
        Box::pin(async move {
            let key = blobs_key(ctx).await?;
            let body = json!({"properties": {
                "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": webhook(ctx, &key), "maxEventsPerBatch": 1, "preferredBatchSizeInKilobytes": 64}},
                "filter": filter(),
                "eventDeliverySchema": "EventGridSchema",
                "retryPolicy": {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440},
            }});
            // The handshake fails while the host is still starting: the PUT's operation ends
            // Failed with `Url validation`, and the PUT is sent again.
            let handshake_pending = propagating(eventual::webhook_not_ready);
            ctx.azure
                .write(Method::PUT, &path(ctx, ""), &body, &handshake_pending)
                .await
                .map_err(|mut e| {
                    if eventual::webhook_not_ready(&e) {
                        e.message = format!("{} Event Grid could not complete the webhook handshake with the function app {} while waiting for its host to start; check that the app runs (`provision verify`, the app's logs) and run `provision up` again.", e.message, ctx.names.function_app);
                    }
                    e
                })?;
            Ok(Applied::default())
        })
    }
    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        _inputs: &'a Outputs,
        live: &'a Live,
    ) -> BoxFuture<'a, Result<Deletion>> {
        Box::pin(async move {
            if live.body().is_some() {
                ctx.azure.delete(&path(ctx, "")).await?;
            }
            Ok(Deletion::Deleted)
        })
    }
}

//! The event subscription that delivers BlobCreated on raw to the function's blob webhook. It can
//! only be made once the host runs with the trigger registered and reports its `blobs_extension`
//! key, so it comes after the package; without it nothing fires, as in Azure.

use super::compare::{diff_owned, failed_state};
use super::function_app;
use super::{
    Action, Applied, Change, Ctx, Deletion, Diff, Key, Live, Outputs, Read, Resource,
    ResourceError, Result,
};
use crate::arm::versions::EVENT_GRID;
use crate::arm::ArmError;
use azure::retry::{eventual, propagating, Attempting, Class, RetryPolicy};
use azure::Notify;
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Mutex;

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

/// The host's `blobs_extension` key, which the webhook URL carries. The host reports it once it
/// has registered the blob trigger; until then its absence is an eventual answer, waited out for
/// the run's propagation window.
async fn blobs_key(ctx: &Ctx) -> Result<String> {
    // The host answers 400 "... from host runtime" while it restarts: waited out in host_post.
    let listkeys = format!("{}/host/default/listkeys", function_app::id(ctx));
    wait_for_blobs_key(&ctx.azure.retry, &ctx.azure.notify, &listkeys, || {
        super::function_package::host_post(ctx, "/host/default/listkeys")
    })
    .await
}

/// Asks `list_keys` until its answer holds the `blobs_extension` key, as `policy` allows.
async fn wait_for_blobs_key<F, Fut>(
    policy: &RetryPolicy,
    notify: &Notify,
    listkeys: &str,
    list_keys: F,
) -> Result<String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    // A failure that is not Azure's own (the host never came back) keeps its text: it ends the
    // wait at once and is returned as it was.
    let other: Mutex<Option<ResourceError>> = Mutex::new(None);
    // Each listkeys call has had the policy's retries already: only the missing key is waited.
    let classify = |e: &ArmError| {
        Some(if eventual::blobs_key_not_reported(e) {
            Class::Propagating
        } else {
            Class::Fatal
        })
    };
    let answer = policy
        .run(
            Attempting {
                what: "the function host's blobs_extension key (its blob trigger registered)",
                classify: &classify,
                notify,
            },
            || async {
                let keys = match list_keys().await {
                    Ok(keys) => keys,
                    Err(ResourceError::Azure(e)) => return Err(e),
                    Err(e) => {
                        let stopped = ArmError::operation(Method::POST, listkeys, "", &e.to_string());
                        if let Ok(mut slot) = other.lock() {
                            *slot = Some(e);
                        }
                        return Err(stopped);
                    }
                };
                match keys.pointer("/systemKeys/blobs_extension").and_then(Value::as_str) {
                    Some(key) => Ok(key.to_string()),
                    None => Err(ArmError::operation(
                        Method::POST,
                        listkeys,
                        eventual::BLOBS_KEY_NOT_REPORTED,
                        "the function host answers but reports no blobs_extension key: it has not registered its EventGrid blob trigger",
                    )),
                }
            },
        )
        .await;
    answer.map_err(|e| match other.into_inner().ok().flatten() {
        Some(stopped) => stopped,
        None => e.into(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    const LISTKEYS: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app/host/default/listkeys?api-version=1";

    /// Short real waits: the provisioner's tests run without tokio's paused clock.
    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            propagation_window: Duration::from_secs(1),
            jitter: azure::retry::Jitter::fixed(1.0),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_host_that_never_reports_the_key_is_given_up_after_the_window_saying_what_was_waited_for(
    ) {
        let started = Instant::now();
        let error = wait_for_blobs_key(&policy(), &azure::silent(), LISTKEYS, || async {
            Ok(json!({"masterKey": "m", "systemKeys": {}}))
        })
        .await
        .expect_err("gives up");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
            "waited the window, no longer: {waited:?}"
        );
        let ResourceError::Azure(azure_error) = &error else {
            panic!("the wait's own error: {error}");
        };
        assert_eq!(azure_error.code, "BlobsExtensionKeyNotReported");
        let text = error.to_string();
        for piece in [
            "waited the propagation window (1s)",
            "the Functions host to register its blob trigger and report its blobs_extension key",
            "provision verify",
            "--propagation-window",
        ] {
            assert!(text.contains(piece), "names `{piece}`: {text}");
        }
        assert!(!text.contains("api-version"), "no query: {text}");
    }

    #[tokio::test]
    async fn the_key_is_returned_once_the_host_reports_it() {
        let calls = AtomicU32::new(0);
        let key = wait_for_blobs_key(&policy(), &azure::silent(), LISTKEYS, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Ok(json!({"systemKeys": {}}))
            } else {
                Ok(json!({"systemKeys": {"blobs_extension": "k1"}}))
            }
        })
        .await
        .expect("reported on the third answer");
        assert_eq!(key, "k1");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_host_that_never_came_back_ends_the_wait_at_once_with_its_own_message() {
        let calls = AtomicU32::new(0);
        let said = "function app app: its Functions host never came back after the settings write";
        let error = wait_for_blobs_key(&policy(), &azure::silent(), LISTKEYS, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ResourceError::Other(said.into()))
        })
        .await
        .expect_err("fails");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");
        assert!(
            matches!(&error, ResourceError::Other(text) if text == said),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_azure_failure_of_listkeys_is_not_retried_again_by_the_wait() {
        let calls = AtomicU32::new(0);
        let error = wait_for_blobs_key(&policy(), &azure::silent(), LISTKEYS, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ResourceError::Azure(ArmError::http(
                Method::POST,
                LISTKEYS,
                503,
                r#"{"error":{"code":"ServiceUnavailable","message":"try later"}}"#,
                None,
                None,
            )))
        })
        .await
        .expect_err("fails");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "host_post's call has had its retries"
        );
        assert!(
            matches!(&error, ResourceError::Azure(e) if e.code == "ServiceUnavailable" && e.message == "try later"),
            "Azure's code and message kept: {error}"
        );
    }
}

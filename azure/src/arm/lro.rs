//! Long-running operations: `Azure-AsyncOperation`, `Location` (including a 202 with an empty
//! body, as storage account create answers) and a resource whose `provisioningState` is not
//! terminal. Every poll waits what the server's `Retry-After` says, up to a minute; polls go
//! through the same retry policy as any call, so a dropped connection while polling is retried,
//! not fatal. An operation is polled until the policy's deadline, then given up as timed out.

use super::{Api, ArmClient, Reply};
use crate::error::Error;
use crate::retry::parse_retry_after;
use reqwest::Method;
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// When the server gives no `Retry-After`.
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const MIN_POLL: Duration = Duration::from_millis(20);
/// A `Retry-After` of an hour (or an HTTP-date far ahead) would leave the run silent that long.
const MAX_POLL: Duration = Duration::from_secs(60);

fn wait_hint(reply: &Reply) -> Duration {
    reply
        .header("retry-after")
        .and_then(|v| parse_retry_after(&v, SystemTime::now()))
        .unwrap_or(DEFAULT_POLL)
        .clamp(MIN_POLL, MAX_POLL)
}

/// What one poll found.
enum Poll {
    Done(Value),
    /// Not finished: poll again after this long.
    Again(Duration),
}

/// Polls after each wait until `poll` says done or `deadline` has passed since the first wait.
async fn poll_until<F, Fut>(
    deadline: Duration,
    method: &Method,
    path: &str,
    mut wait: Duration,
    mut poll: F,
) -> Result<Value, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll, Error>>,
{
    let started = Instant::now();
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(timed_out(method.clone(), path, started.elapsed()));
        }
        tokio::time::sleep(wait.min(left)).await;
        match poll().await? {
            Poll::Done(body) => return Ok(body),
            Poll::Again(next) => wait = next,
        }
    }
}

/// The failure of an async operation. A generic outer code (`ResourceOperationFailure`) hides
/// the cause in `details` (Event Grid's `Url validation`, for one): the inner code wins.
fn operation_error(body: &Value, status: &str) -> (String, String) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let outer_code = text(body.pointer("/error/code"));
    let outer_message = text(body.pointer("/error/message"));
    let inner_code = text(body.pointer("/error/details/0/code"));
    let inner_message = text(body.pointer("/error/details/0/message"));
    let code = match (inner_code.is_empty(), outer_code.is_empty()) {
        (false, _) => inner_code,
        (true, false) => outer_code,
        (true, true) => "OperationFailed".to_string(),
    };
    let message = match (outer_message.is_empty(), inner_message.is_empty()) {
        (false, false) => format!("{outer_message} {inner_message}"),
        (false, true) => outer_message,
        (true, false) => inner_message,
        (true, true) => format!("the operation ended {status}"),
    };
    (code, message)
}

fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

fn is_terminal(state: &str) -> bool {
    ["Succeeded", "Failed", "Canceled"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(state))
}

fn timed_out(method: Method, path: &str, polled: Duration) -> Error {
    Error::operation(
        method,
        path,
        "OperationTimedOut",
        &format!(
            "the operation did not finish while we polled it for {:.0}s",
            polled.as_secs_f64()
        ),
    )
}

pub(super) async fn finish(
    client: &ArmClient,
    method: Method,
    path: &str,
    reply: Reply,
) -> Result<Value, Error> {
    if let Some(operation) = reply.header("azure-asyncoperation") {
        return async_operation(client, method, path, &operation, wait_hint(&reply)).await;
    }
    if reply.status == 202 {
        return match reply.header("location") {
            Some(location) => {
                location_poll(client, method, path, &location, wait_hint(&reply)).await
            }
            None => resource_after(client, method, path).await,
        };
    }
    if method != Method::DELETE {
        if let Some(state) = provisioning_state(&reply.body) {
            if !is_terminal(state) {
                return provisioning_poll(client, method, path, wait_hint(&reply)).await;
            }
        }
    }
    Ok(reply.body)
}

async fn async_operation(
    client: &ArmClient,
    method: Method,
    path: &str,
    operation: &str,
    wait: Duration,
) -> Result<Value, Error> {
    poll_until(client.retry.deadline, &method, path, wait, || async {
        let poll = client
            .call(Api::Arm, Method::GET, operation, None, &[])
            .await?;
        let status = poll
            .body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("InProgress");
        if status.eq_ignore_ascii_case("Succeeded") {
            return resource_after(client, method.clone(), path)
                .await
                .map(Poll::Done);
        }
        if status.eq_ignore_ascii_case("Failed") || status.eq_ignore_ascii_case("Canceled") {
            let (code, message) = operation_error(&poll.body, status);
            return Err(Error::operation(method.clone(), path, &code, &message));
        }
        Ok(Poll::Again(wait_hint(&poll)))
    })
    .await
}

async fn location_poll(
    client: &ArmClient,
    method: Method,
    path: &str,
    location: &str,
    wait: Duration,
) -> Result<Value, Error> {
    poll_until(client.retry.deadline, &method, path, wait, || async {
        // A `Location` URL answers a finished, failed operation with that failure's own 4xx/5xx
        // and error body (ARM's async-operation contract); that is the operation failing, not
        // the poll.
        let poll = match client
            .call(Api::Arm, Method::GET, location, None, &[])
            .await
        {
            Ok(poll) => poll,
            Err(e) if matches!(e.origin, crate::Origin::Http(_)) => {
                return Err(Error::operation(method.clone(), path, &e.code, &e.message))
            }
            Err(e) => return Err(e),
        };
        match poll.status {
            202 => Ok(Poll::Again(wait_hint(&poll))),
            200 | 201 if !poll.body.is_null() && method != Method::DELETE => {
                check_state(method.clone(), path, poll.body).map(Poll::Done)
            }
            _ => resource_after(client, method.clone(), path)
                .await
                .map(Poll::Done),
        }
    })
    .await
}

async fn provisioning_poll(
    client: &ArmClient,
    method: Method,
    path: &str,
    wait: Duration,
) -> Result<Value, Error> {
    poll_until(client.retry.deadline, &method, path, wait, || async {
        let poll = match client.call(Api::Arm, Method::GET, path, None, &[]).await {
            Ok(poll) => poll,
            Err(e) if e.is_not_found() => return Ok(Poll::Done(Value::Null)),
            Err(e) => return Err(e),
        };
        match provisioning_state(&poll.body) {
            Some(state) if !is_terminal(state) => Ok(Poll::Again(wait_hint(&poll))),
            _ => check_state(method.clone(), path, poll.body).map(Poll::Done),
        }
    })
    .await
}

async fn resource_after(client: &ArmClient, method: Method, path: &str) -> Result<Value, Error> {
    if method == Method::DELETE {
        return Ok(Value::Null);
    }
    let body = client.get(path).await?.unwrap_or(Value::Null);
    check_state(method, path, body)
}

fn check_state(method: Method, path: &str, body: Value) -> Result<Value, Error> {
    match provisioning_state(&body) {
        Some(state)
            if state.eq_ignore_ascii_case("Failed") || state.eq_ignore_ascii_case("Canceled") =>
        {
            Err(Error::operation(
                method,
                path,
                "ProvisioningFailed",
                &format!("the resource's provisioningState is {state}"),
            ))
        }
        _ => Ok(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn in_progress(retry_after: Option<&'static str>) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(v));
        }
        Reply {
            status: 202,
            headers,
            body: json!({"status": "InProgress"}),
        }
    }

    #[test]
    fn a_single_wait_honours_retry_after_up_to_a_minute() {
        assert_eq!(wait_hint(&in_progress(Some("7"))), Duration::from_secs(7));
        assert_eq!(
            wait_hint(&in_progress(Some("3600"))),
            Duration::from_secs(60)
        );
        assert_eq!(
            wait_hint(&in_progress(Some("Fri, 01 Jan 2100 00:00:00 GMT"))),
            Duration::from_secs(60)
        );
        assert_eq!(wait_hint(&in_progress(None)), Duration::from_secs(1));
        assert_eq!(
            wait_hint(&in_progress(Some("0"))),
            Duration::from_millis(20)
        );
    }

    /// An operation that answers "in progress" for ever, as fast as the server allows.
    async fn never_finishing(
        deadline: Duration,
        retry_after: &'static str,
        polls: &AtomicUsize,
    ) -> Result<Value, Error> {
        let first = wait_hint(&in_progress(Some(retry_after)));
        poll_until(
            deadline,
            &Method::PUT,
            "/x?api-version=1",
            first,
            || async {
                polls.fetch_add(1, Ordering::SeqCst);
                Ok(Poll::Again(wait_hint(&in_progress(Some(retry_after)))))
            },
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_never_finishing_operation_times_out_at_the_deadline_not_after_a_count_of_polls() {
        let polls = AtomicUsize::new(0);
        let started = Instant::now();
        let error = never_finishing(Duration::from_secs(600), "0", &polls)
            .await
            .expect_err("times out");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(600) && waited < Duration::from_secs(601),
            "polled until the deadline: {waited:?}"
        );
        assert!(
            polls.load(Ordering::SeqCst) > 20_000,
            "20 ms polls for 10 minutes, not cut at a count: {}",
            polls.load(Ordering::SeqCst)
        );
        assert_eq!(error.origin, crate::Origin::Operation);
        assert_eq!(error.code, "OperationTimedOut");
        assert!(
            error.message.contains("polled it for 600s"),
            "says how long: {}",
            error.message
        );
        assert_eq!(error.target, "/x", "no query in the error");
    }

    #[tokio::test(start_paused = true)]
    async fn an_hour_long_retry_after_is_polled_each_minute_and_the_last_wait_ends_at_the_deadline()
    {
        let polls = AtomicUsize::new(0);
        let started = Instant::now();
        let error = never_finishing(Duration::from_secs(150), "3600", &polls)
            .await
            .expect_err("times out");
        assert_eq!(
            polls.load(Ordering::SeqCst),
            3,
            "polled at 60 s, 120 s and 150 s"
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(150) && waited < Duration::from_secs(151),
            "{waited:?}"
        );
        assert!(error.message.contains("150s"), "{}", error.message);
    }

    #[test]
    fn the_inner_cause_of_a_failed_operation_wins() {
        // As azure-cli#21006 shows an Event Grid subscription whose webhook handshake failed.
        let body = json!({"status": "Failed", "error": {"code": "ResourceOperationFailure",
            "message": "The resource operation completed with terminal provisioning state 'Failed'.",
            "details": [{"code": "Url validation", "message": "Webhook validation handshake failed for https://x/runtime/webhooks/blobs."}]}});
        let (code, message) = operation_error(&body, "Failed");
        assert_eq!(code, "Url validation");
        assert!(
            message.contains("terminal provisioning state") && message.contains("handshake failed"),
            "{message}"
        );
        let plain = json!({"status": "Failed", "error": {"code": "Conflict", "message": "m"}});
        assert_eq!(
            operation_error(&plain, "Failed"),
            ("Conflict".to_string(), "m".to_string())
        );
        assert_eq!(
            operation_error(&json!({"status": "Canceled"}), "Canceled").0,
            "OperationFailed"
        );
    }
}

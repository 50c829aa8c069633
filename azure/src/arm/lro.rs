//! Long-running operations: `Azure-AsyncOperation`, `Location` (including a 202 with an empty
//! body, as storage account create answers) and a resource whose `provisioningState` is not
//! terminal. Every poll waits what the server's `Retry-After` says; polls go through the same
//! retry policy as any call, so a dropped connection while polling is retried, not fatal.

use super::{Api, ArmClient, Reply};
use crate::error::Error;
use crate::retry::parse_retry_after;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// When the server gives no `Retry-After`.
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const MIN_POLL: Duration = Duration::from_millis(20);
const MAX_POLLS: usize = 5_000;

fn wait_hint(reply: &Reply) -> Duration {
    reply
        .header("retry-after")
        .and_then(|v| parse_retry_after(&v, SystemTime::now()))
        .unwrap_or(DEFAULT_POLL)
        .max(MIN_POLL)
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

fn timed_out(method: Method, path: &str) -> Error {
    Error::operation(
        method,
        path,
        "OperationTimedOut",
        "the operation did not finish while we polled it",
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
    mut wait: Duration,
) -> Result<Value, Error> {
    for _ in 0..MAX_POLLS {
        tokio::time::sleep(wait).await;
        let poll = client
            .call(Api::Arm, Method::GET, operation, None, &[])
            .await?;
        let status = poll
            .body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("InProgress");
        if status.eq_ignore_ascii_case("Succeeded") {
            return resource_after(client, method, path).await;
        }
        if status.eq_ignore_ascii_case("Failed") || status.eq_ignore_ascii_case("Canceled") {
            let (code, message) = operation_error(&poll.body, status);
            return Err(Error::operation(method, path, &code, &message));
        }
        wait = wait_hint(&poll);
    }
    Err(timed_out(method, path))
}

async fn location_poll(
    client: &ArmClient,
    method: Method,
    path: &str,
    location: &str,
    mut wait: Duration,
) -> Result<Value, Error> {
    for _ in 0..MAX_POLLS {
        tokio::time::sleep(wait).await;
        // A `Location` URL answers a finished, failed operation with that failure's own 4xx/5xx
        // and error body (ARM's async-operation contract); that is the operation failing, not
        // the poll.
        let poll = match client
            .call(Api::Arm, Method::GET, location, None, &[])
            .await
        {
            Ok(poll) => poll,
            Err(e) if matches!(e.origin, crate::Origin::Http(_)) => {
                return Err(Error::operation(method, path, &e.code, &e.message))
            }
            Err(e) => return Err(e),
        };
        match poll.status {
            202 => wait = wait_hint(&poll),
            200 | 201 if !poll.body.is_null() && method != Method::DELETE => {
                return check_state(method, path, poll.body)
            }
            _ => return resource_after(client, method, path).await,
        }
    }
    Err(timed_out(method, path))
}

async fn provisioning_poll(
    client: &ArmClient,
    method: Method,
    path: &str,
    mut wait: Duration,
) -> Result<Value, Error> {
    for _ in 0..MAX_POLLS {
        tokio::time::sleep(wait).await;
        let poll = match client.call(Api::Arm, Method::GET, path, None, &[]).await {
            Ok(poll) => poll,
            Err(e) if e.is_not_found() => return Ok(Value::Null),
            Err(e) => return Err(e),
        };
        match provisioning_state(&poll.body) {
            Some(state) if !is_terminal(state) => wait = wait_hint(&poll),
            _ => return check_state(method, path, poll.body),
        }
    }
    Err(timed_out(method, path))
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
    use serde_json::json;

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

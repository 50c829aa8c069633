//! Long-running operations: `Azure-AsyncOperation`, `Location` (including a 202 with an empty
//! body, as storage account create answers) and a body whose provisioningState is not terminal.

use super::{Api, ArmError, Azure, Reply};
use serde_json::Value;
use std::time::Duration;

const TERMINAL: &[&str] = &["Succeeded", "Failed", "Canceled"];
const MAX_POLLS: usize = 2_000;

fn wait_hint(reply: &Reply) -> Duration {
    reply
        .header("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(5))
        .max(Duration::from_millis(50))
}

fn failed(method: &str, path: &str, code: &str, message: String) -> ArmError {
    ArmError {
        method: method.into(),
        what: path.split('?').next().unwrap_or(path).into(),
        status: 200,
        code: code.into(),
        message,
        retry_after: None,
    }
}

fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

pub async fn finish(
    azure: &Azure,
    method: &str,
    path: &str,
    reply: Reply,
) -> Result<Value, ArmError> {
    if let Some(op) = reply.header("azure-asyncoperation") {
        let mut wait = wait_hint(&reply);
        for _ in 0..MAX_POLLS {
            tokio::time::sleep(wait).await;
            let poll = azure.call(Api::Arm, reqwest::Method::GET, &op, None, &[]).await?;
            match poll
                .body
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("InProgress")
            {
                "Succeeded" => return resource_after(azure, method, path).await,
                "Failed" | "Canceled" => {
                    let code = poll
                        .body
                        .pointer("/error/code")
                        .and_then(Value::as_str)
                        .unwrap_or("OperationFailed")
                        .to_string();
                    let message = poll
                        .body
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("the operation failed")
                        .to_string();
                    return Err(failed(method, path, &code, message));
                }
                _ => wait = wait_hint(&poll),
            }
        }
        return Err(failed(
            method,
            path,
            "OperationTimedOut",
            "the operation did not finish".into(),
        ));
    }
    if reply.status == 202 {
        let Some(location) = reply.header("location") else {
            return resource_after(azure, method, path).await;
        };
        let mut wait = wait_hint(&reply);
        for _ in 0..MAX_POLLS {
            tokio::time::sleep(wait).await;
            let poll = azure.call(Api::Arm, reqwest::Method::GET, &location, None, &[]).await?;
            match poll.status {
                202 => wait = wait_hint(&poll),
                200 if !poll.body.is_null() && method != "DELETE" => return Ok(poll.body),
                _ => return resource_after(azure, method, path).await,
            }
        }
        return Err(failed(
            method,
            path,
            "OperationTimedOut",
            "the operation did not finish".into(),
        ));
    }
    if method != "DELETE" {
        if let Some(state) = provisioning_state(&reply.body) {
            if !TERMINAL.contains(&state) {
                for _ in 0..MAX_POLLS {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let Some(body) = azure.get(path).await? else {
                        break;
                    };
                    match provisioning_state(&body) {
                        Some("Succeeded") | None => return Ok(body),
                        Some("Failed") | Some("Canceled") => {
                            return Err(failed(
                                method,
                                path,
                                "ProvisioningFailed",
                                "provisioningState ended Failed".into(),
                            ))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(reply.body)
}

async fn resource_after(azure: &Azure, method: &str, path: &str) -> Result<Value, ArmError> {
    if method == "DELETE" {
        return Ok(Value::Null);
    }
    let body = azure.get(path).await?.unwrap_or(Value::Null);
    if provisioning_state(&body) == Some("Failed") {
        return Err(failed(
            method,
            path,
            "ProvisioningFailed",
            "the resource's provisioningState is Failed".into(),
        ));
    }
    Ok(body)
}

//! ARM and Graph failures as values that carry meaning.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {what}: HTTP {status} {code}: {message}")]
pub struct ArmError {
    pub method: String,
    pub what: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<Duration>,
}

/// How the retry policy treats a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Throttled,
    Transient,
    Busy,
    PrincipalNotFound,
    Fatal,
}

impl ArmError {
    pub fn new(
        method: &str,
        what: &str,
        status: u16,
        body: &str,
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let code = parsed
            .pointer("/error/code")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let message = parsed
            .pointer("/error/message")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| body.chars().take(300).collect());
        Self {
            method: method.to_string(),
            what: runtime::azure_blob::redact_sas(what),
            status,
            code,
            message: runtime::azure_blob::redact_sas(&message),
            retry_after,
        }
    }

    pub fn transport(method: &str, what: &str, error: &reqwest::Error) -> Self {
        Self {
            method: method.to_string(),
            what: runtime::azure_blob::redact_sas(what),
            status: 0,
            code: "ConnectionFailed".into(),
            message: runtime::azure_blob::redact_sas(&error.to_string()),
            retry_after: None,
        }
    }

    pub fn class(&self) -> Class {
        match (self.status, self.code.as_str()) {
            (429, _) => Class::Throttled,
            (0, _) | (500..=599, _) | (408, _) => Class::Transient,
            (400, "PrincipalNotFound") => Class::PrincipalNotFound,
            (
                409,
                "AnotherOperationInProgress"
                | "ResourceGroupBeingDeleted"
                | "StorageAccountIsNotProvisioned"
                | "OperationInProgress"
                | "ContainerBeingDeleted",
            ) => Class::Busy,
            _ => Class::Fatal,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }
}

//! One ARM call as the providers see it (`ArmRequest`, read from the HTTP request) and the shapes
//! of an answer. The rest of `arm` and every provider build on these.

use crate::error::ArmError;
use crate::token::Claims;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::collections::HashMap;

/// One ARM call, parsed.
pub struct ArmRequest {
    pub method: Method,
    pub path: String,
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub body: Option<Value>,
    pub headers: HeaderMap,
    pub caller: Claims,
}

impl ArmRequest {
    pub fn api_version(&self) -> &str {
        self.query
            .get("api-version")
            .map(String::as_str)
            .unwrap_or_default()
    }
    pub fn body(&self) -> Result<&Value, ArmError> {
        self.body.as_ref().ok_or_else(|| ArmError::bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Missing request body'."))
    }
}

pub type ArmResult = Result<Response, ArmError>;

impl ArmRequest {
    /// Reads an authenticated ARM call: caller claims, JSON body, query and decoded path segments.
    pub async fn read(request: Request) -> Result<Self, ArmError> {
        let (parts, body) = request.into_parts();
        let caller = parts.extensions.get::<Claims>().cloned().ok_or_else(|| {
            ArmError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed.",
            )
        })?;
        let bytes = to_bytes(Body::new(body), 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let body = if bytes.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&bytes).map_err(|e| {
                ArmError::bad_request(
                    "InvalidRequestContent",
                    format!(
                        "The request content was invalid and could not be deserialized: '{e}'."
                    ),
                )
            })?)
        };
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let path = parts.uri.path().to_string();
        let segments = path
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        Ok(Self {
            method: parts.method,
            path,
            segments,
            query,
            body,
            headers: parts.headers,
            caller,
        })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

pub fn ok(value: Value) -> ArmResult {
    Ok((StatusCode::OK, Json(value)).into_response())
}

pub fn status_json(status: StatusCode, value: Value) -> ArmResult {
    Ok((status, Json(value)).into_response())
}

pub fn empty(status: StatusCode) -> ArmResult {
    Ok(status.into_response())
}

pub fn method_not_allowed(req: &ArmRequest) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "The requested resource does not support http method '{}'.",
            req.method
        ),
    )
}

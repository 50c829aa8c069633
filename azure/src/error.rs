//! One error type for every Azure call. It keeps the service's own code and message, in
//! whichever shape the service sent them: ARM and Graph (`{"error": {"code", "message"}}`),
//! App Service's host runtime (top-level `Code` / `Message`), storage (XML `<Code>` or the
//! `x-ms-error-code` header) and the OAuth token endpoint (`error` / `error_description`).

use crate::redact::redact;
use reqwest::Method;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Where a failure came from. There is no invented HTTP status for failures that had none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Azure answered with this status.
    Http(u16),
    /// No answer: connect, TLS, reset or timeout.
    Connection,
    /// A long-running operation (or the resource it left behind) ended Failed or Canceled.
    Operation,
    /// No token could be had for the request.
    Token,
    /// The retry policy's deadline or window passed while the failure lasted.
    GaveUp,
    /// The request could not be built (an endpoint or path that is not a URL): nothing was sent.
    Request,
}

#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    pub method: Method,
    /// The path or URL without its query; secrets redacted.
    pub target: String,
    pub origin: Origin,
    /// Azure's error code; empty when the service sent none.
    pub code: String,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = if self.code.is_empty() {
            "(no error code)"
        } else {
            &self.code
        };
        match self.origin {
            Origin::Http(status) => write!(
                f,
                "{} {}: HTTP {status} {code}: {}",
                self.method, self.target, self.message
            ),
            Origin::Connection => write!(
                f,
                "{} {}: no answer ({code}): {}",
                self.method, self.target, self.message
            ),
            Origin::Operation => write!(
                f,
                "{} {}: the operation failed: {code}: {}",
                self.method, self.target, self.message
            ),
            Origin::Token => write!(
                f,
                "{} {}: no token: {}",
                self.method, self.target, self.message
            ),
            Origin::GaveUp => write!(
                f,
                "{} {}: {code}: {}",
                self.method, self.target, self.message
            ),
            Origin::Request => write!(
                f,
                "{} {}: not sent: {}",
                self.method, self.target, self.message
            ),
        }
    }
}

/// A service's code and message, from a body in any of the shapes Azure uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceError {
    pub code: String,
    pub message: String,
}

impl ServiceError {
    pub fn parse(body: &str, header_code: Option<&str>) -> Self {
        let trimmed = body.trim_start_matches('\u{feff}').trim_start();
        let mut parsed = if trimmed.starts_with('<') {
            Self {
                code: xml_field(body, "Code"),
                message: xml_field(body, "Message"),
            }
        } else {
            serde_json::from_str::<Value>(body)
                .map(|v| Self::from_json(&v))
                .unwrap_or_default()
        };
        if parsed.code.is_empty() {
            parsed.code = header_code.unwrap_or_default().to_string();
        }
        if parsed.message.is_empty() {
            parsed.message = body
                .chars()
                .take(300)
                .collect::<String>()
                .trim()
                .to_string();
        }
        parsed
    }

    fn from_json(v: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(error) = v.get("error") {
            if let Some(code) = error.as_str() {
                // OAuth: {"error": "invalid_client", "error_description": "..."}
                return Self {
                    code: code.to_string(),
                    message: text(v.get("error_description")),
                };
            }
            let mut found = Self {
                code: text(error.get("code")),
                message: text(error.get("message")),
            };
            // ARM wraps the real cause in details for some failures (e.g. deployment errors).
            if let Some(detail) = error.pointer("/details/0") {
                let inner = Self::from_json(&serde_json::json!({"error": detail}));
                if found.message.is_empty() {
                    found.message = inner.message;
                }
            }
            return found;
        }
        // App Service: {"Code": "BadRequest", "Message": "...", "Details": [{"ErrorEntity": {...}}]}
        let mut found = Self {
            code: text(v.get("Code")).to_string(),
            message: text(v.get("Message")),
        };
        if let Some(entity) = v
            .pointer("/Details/0/ErrorEntity")
            .or_else(|| v.get("ErrorEntity"))
        {
            let extended = text(entity.get("ExtendedCode"));
            if found.message.is_empty() {
                found.message = text(entity.get("Message"));
            }
            if !extended.is_empty() && !found.message.contains(&extended) {
                found.message = format!("{} (extended code {extended})", found.message);
            }
        }
        found
    }
}

fn xml_field(xml: &str, tag: &str) -> String {
    xml.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</{tag}>")).next())
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn strip_query(target: &str) -> String {
    redact(target.split('?').next().unwrap_or(target))
}

impl Error {
    /// An HTTP answer with status >= 400.
    pub fn http(
        method: Method,
        target: &str,
        status: u16,
        body: &str,
        header_code: Option<&str>,
        retry_after: Option<Duration>,
    ) -> Self {
        let service = ServiceError::parse(body, header_code);
        Self {
            method,
            target: strip_query(target),
            origin: Origin::Http(status),
            code: service.code,
            message: redact(&service.message),
            retry_after,
        }
    }

    pub fn connection(method: Method, target: &str, error: &reqwest::Error) -> Self {
        let code = if error.is_timeout() {
            "Timeout"
        } else {
            "ConnectionFailed"
        };
        Self {
            method,
            target: strip_query(target),
            origin: Origin::Connection,
            code: code.into(),
            message: redact(&error.to_string()),
            retry_after: None,
        }
    }

    pub fn operation(method: Method, target: &str, code: &str, message: &str) -> Self {
        Self {
            method,
            target: strip_query(target),
            origin: Origin::Operation,
            code: code.into(),
            message: redact(message),
            retry_after: None,
        }
    }

    pub fn token(method: Method, target: &str, message: &str) -> Self {
        Self {
            method,
            target: strip_query(target),
            origin: Origin::Token,
            code: "CredentialUnavailable".into(),
            message: redact(message),
            retry_after: None,
        }
    }

    /// A request that could not be built, so nothing was sent.
    pub fn invalid_request(method: Method, target: &str, why: &str) -> Self {
        Self {
            method,
            target: strip_query(target),
            origin: Origin::Request,
            code: "InvalidRequest".into(),
            message: why.to_string(),
            retry_after: None,
        }
    }

    /// An answer that is not what the API promises (e.g. a body that is not JSON).
    pub fn invalid_response(method: Method, target: &str, status: u16, why: &str) -> Self {
        Self {
            method,
            target: strip_query(target),
            origin: Origin::Http(status),
            code: "InvalidResponse".into(),
            message: format!("Azure answered {status} with {why}; report this with the request id"),
            retry_after: None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self.origin {
            Origin::Http(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is(&self, status: u16, code: &str) -> bool {
        self.status() == Some(status) && self.code.eq_ignore_ascii_case(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arm_and_graph_error_shape() {
        let e = Error::http(
            Method::PUT,
            "/subscriptions/s/x?api-version=1",
            409,
            r#"{"error":{"code":"RoleAssignmentExists","message":"The role assignment already exists."}}"#,
            None,
            None,
        );
        assert_eq!(e.code, "RoleAssignmentExists");
        assert_eq!(e.message, "The role assignment already exists.");
        assert_eq!(e.target, "/subscriptions/s/x");
        assert!(e.is(409, "roleassignmentexists"));
    }

    #[test]
    fn reads_app_service_top_level_code_and_message() {
        let body = r#"{"Code":"BadRequest","Message":"Encountered an error (ServiceUnavailable) from host runtime.","Target":null,"Details":[{"Message":"Encountered an error (ServiceUnavailable) from host runtime."},{"Code":"BadRequest"},{"ErrorEntity":{"ExtendedCode":"51024","Code":"BadRequest","Message":"Encountered an error (ServiceUnavailable) from host runtime."}}],"Innererror":null}"#;
        let e = Error::http(
            Method::POST,
            "/x/host/default/listkeys",
            400,
            body,
            None,
            None,
        );
        assert_eq!(e.code, "BadRequest");
        assert!(e
            .message
            .starts_with("Encountered an error (ServiceUnavailable) from host runtime."));
        let shown = e.to_string();
        assert!(shown.contains("HTTP 400 BadRequest"), "{shown}");
    }

    #[test]
    fn reads_storage_xml_and_the_error_code_header() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.\nRequestId:1</Message></Error>";
        let e = Error::http(Method::PUT, "https://a/c/b?sig=x", 403, xml, None, None);
        assert_eq!(e.code, "AuthorizationPermissionMismatch");
        assert_eq!(
            e.message,
            "This request is not authorized to perform this operation using this permission."
        );
        let head = Error::http(
            Method::HEAD,
            "https://a/c/b",
            403,
            "",
            Some("AuthorizationFailure"),
            None,
        );
        assert_eq!(head.code, "AuthorizationFailure");
    }

    #[test]
    fn reads_oauth_errors() {
        let e = Error::http(
            Method::POST,
            "/t/oauth2/v2.0/token",
            400,
            r#"{"error":"invalid_client","error_description":"AADSTS700024: Client assertion is not within its valid time range."}"#,
            None,
            None,
        );
        assert_eq!(e.code, "invalid_client");
        assert!(e.message.starts_with("AADSTS700024"));
    }

    #[test]
    fn a_failure_without_an_answer_has_no_status() {
        let e = Error::operation(
            Method::PUT,
            "/x",
            "Url validation",
            "Webhook validation handshake failed",
        );
        assert_eq!(e.status(), None);
        assert!(!e.is_not_found());
        assert!(e.to_string().contains("Url validation"));
    }
}

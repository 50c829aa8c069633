//! The custom-handler wire format for a blob-triggered invocation (azure-rest-facts §12.5, §12.6).
//!
//! The host sends `{"Data": {"<binding>": "<base64 bytes>"}, "Metadata": {"name": "\"<blob>\"",
//! "Uri": "\"https://.../raw/<blob>\"", ...}}`: string metadata values arrive JSON-encoded a second
//! time, object values (`Properties`, `sys`, ...) as plain objects.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// The trigger binding's name in `process_raw/function.json`.
pub const BLOB_BINDING: &str = "blob";

/// A decoded blob-trigger invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInvocation {
    /// Blob name relative to container `raw`.
    pub name: String,
    pub data: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    #[error("request body is not an invocation JSON object: {0}")]
    Body(String),
    #[error("Data.{BLOB_BINDING} is missing or not a string")]
    MissingData,
    #[error("Data.{BLOB_BINDING} is not base64: {0}")]
    DataEncoding(String),
    #[error("Metadata has no usable blob name (neither name nor Uri)")]
    MissingName,
}

#[derive(Deserialize)]
struct RawInvocation<'a> {
    /// Raw so that a large base64 payload is decoded straight from the request body, not copied.
    #[serde(rename = "Data", borrow, default)]
    data: HashMap<String, &'a RawValue>,
    #[serde(rename = "Metadata", default)]
    metadata: HashMap<String, Value>,
}

/// Decodes the host's request body.
pub fn parse_blob_invocation(body: &[u8]) -> Result<BlobInvocation, InvocationError> {
    let raw: RawInvocation =
        serde_json::from_slice(body).map_err(|e| InvocationError::Body(e.to_string()))?;
    let encoded = raw
        .data
        .get(BLOB_BINDING)
        .and_then(|v| json_string(v))
        .ok_or(InvocationError::MissingData)?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(unquote(&encoded).as_bytes())
        .map_err(|e| InvocationError::DataEncoding(e.to_string()))?;
    let name = metadata_string(&raw.metadata, "name")
        .filter(|n| !n.is_empty())
        .or_else(|| metadata_string(&raw.metadata, "Uri").and_then(|uri| name_from_uri(&uri)))
        .ok_or(InvocationError::MissingName)?;
    Ok(BlobInvocation {
        name,
        data: Bytes::from(data),
    })
}

/// The content of a JSON string literal, borrowed when it has no escapes (base64 never does).
fn json_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Some(Cow::Borrowed(inner)),
        Some(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
        None => None,
    }
}

/// A metadata string, with the host's second JSON encoding removed.
fn metadata_string(metadata: &HashMap<String, Value>, key: &str) -> Option<String> {
    match metadata.get(key)? {
        Value::String(s) => Some(unquote(s).into_owned()),
        _ => None,
    }
}

/// `"\"x\""` -> `x`; a value that is not a JSON string literal is returned as it is.
fn unquote(s: &str) -> Cow<'_, str> {
    if s.starts_with('"') {
        if let Ok(inner) = serde_json::from_str::<String>(s) {
            return Cow::Owned(inner);
        }
    }
    Cow::Borrowed(s)
}

/// `https://acct.blob.core.windows.net/raw/a/b.json.gzip` -> `a/b.json.gzip`.
fn name_from_uri(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let path = url.path();
    let (_, after) = path.split_once("/raw/")?;
    let decoded = percent_decode(after)?;
    (!decoded.is_empty()).then_some(decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Exactly two hex digits: `from_str_radix` alone would also take a sign (`%+1`).
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The handler's answer: `{"Outputs":{},"Logs":[...],"ReturnValue":null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs")]
    pub outputs: serde_json::Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Option<Value>,
}

impl InvocationResponse {
    pub fn with_logs(logs: Vec<String>) -> Self {
        Self {
            outputs: serde_json::Map::new(),
            logs,
            return_value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).expect("json")
    }

    #[test]
    fn decodes_the_host_shape() {
        let b = body(json!({
            "Data": {"blob": "SGVsbG8sIHdvcmxkIQ=="},
            "Metadata": {
                "name": "\"lib_server_game/2024/01/13/x.json.gzip\"",
                "Uri": "\"https://acct.blob.core.windows.net/raw/lib_server_game/2024/01/13/x.json.gzip\"",
                "Properties": {"ContentLength": 13},
                "sys": {"MethodName": "process_raw", "UtcNow": "2026-11-25T10:00:00Z", "RandGuid": "g"}
            }
        }));
        let inv = parse_blob_invocation(&b).expect("valid");
        assert_eq!(inv.name, "lib_server_game/2024/01/13/x.json.gzip");
        assert_eq!(&inv.data[..], b"Hello, world!");
    }

    #[test]
    fn tolerates_single_encoding_and_falls_back_to_the_uri() {
        let b = body(json!({
            "Data": {"blob": "\"AAE=\""},
            "Metadata": {"Uri": "\"http://127.0.0.1:10000/acct/raw/log_meta/2024/01/13/a%20b.json.gzip\""}
        }));
        let inv = parse_blob_invocation(&b).expect("valid");
        assert_eq!(inv.name, "log_meta/2024/01/13/a b.json.gzip");
        assert_eq!(&inv.data[..], &[0u8, 1]);

        let b = body(json!({"Data": {"blob": ""}, "Metadata": {"name": "log_meta/x"}}));
        assert_eq!(parse_blob_invocation(&b).expect("valid").name, "log_meta/x");
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(matches!(
            parse_blob_invocation(b"not json"),
            Err(InvocationError::Body(_))
        ));
        let b = body(json!({"Data": {}, "Metadata": {"name": "\"a\""}}));
        assert_eq!(parse_blob_invocation(&b), Err(InvocationError::MissingData));
        let b = body(json!({"Data": {"blob": null}, "Metadata": {"name": "\"a\""}}));
        assert_eq!(parse_blob_invocation(&b), Err(InvocationError::MissingData));
        let b = body(json!({"Data": {"blob": "***"}, "Metadata": {"name": "\"a\""}}));
        assert!(matches!(
            parse_blob_invocation(&b),
            Err(InvocationError::DataEncoding(_))
        ));
        let b =
            body(json!({"Data": {"blob": "AAE="}, "Metadata": {"Uri": "\"https://x/other/a\""}}));
        assert_eq!(parse_blob_invocation(&b), Err(InvocationError::MissingName));
        // A percent escape is two hex digits and nothing else (`%+1` used to decode to 0x01).
        for uri in [
            "\"https://x/raw/a%+1\"",
            "\"https://x/raw/a%-1\"",
            "\"https://x/raw/a%1\"",
        ] {
            let b = body(json!({"Data": {"blob": "AAE="}, "Metadata": {"Uri": uri}}));
            assert_eq!(
                parse_blob_invocation(&b),
                Err(InvocationError::MissingName),
                "{uri}"
            );
        }
    }
}

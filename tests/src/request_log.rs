//! The request log: one JSON line per request (time, method, path, api-version, body, status), so
//! tests can assert things like "a converged re-run made no writes".

use runtime::azure_blob::redact_sas;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub time: String,
    pub method: String,
    pub path: String,
    pub api_version: Option<String>,
    pub body: Option<serde_json::Value>,
    pub status: u16,
    /// The caller's User-Agent, to tell concurrent clients apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl LoggedRequest {
    pub fn is_write(&self) -> bool {
        if self.path.contains("/oauth2/") {
            return false;
        }
        match self.method.as_str() {
            "GET" | "HEAD" => false,
            // Reads that Azure exposes as POST actions.
            "POST" => {
                !(self.path.ends_with("/list")
                    || self.path.ends_with("/listKeys")
                    || self.path.ends_with("/listkeys")
                    || self.path.ends_with("/getFullUrl")
                    || self.path.ends_with("/checkNameAvailability"))
            }
            _ => true,
        }
    }
}

pub struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
    file: Option<PathBuf>,
}

impl RequestLog {
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            file,
        }
    }

    pub fn record(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&str>,
        status: u16,
        user_agent: Option<&str>,
    ) {
        let api_version = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.into_owned());
        let body = body.filter(|b| !b.is_empty()).map(|b| {
            let redacted = redact_sas(b);
            serde_json::from_str(&redacted).unwrap_or(serde_json::Value::String(redacted))
        });
        let entry = LoggedRequest {
            time: chrono::Utc::now().to_rfc3339(),
            method: method.to_string(),
            path: path.to_string(),
            api_version,
            body,
            status,
            user_agent: user_agent.map(str::to_string),
        };
        if let Some(file) = &self.file {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
            {
                let _ = writeln!(f, "{}", serde_json::to_string(&entry).unwrap_or_default());
            }
        }
        crate::server::lock(&self.entries).push(entry);
    }

    pub fn entries(&self) -> Vec<LoggedRequest> {
        crate::server::lock(&self.entries).clone()
    }

    pub fn clear(&self) {
        crate::server::lock(&self.entries).clear();
    }
}

//! The request log: one JSON line per request (time, method, path, api-version, body, status), so
//! tests can assert things like "a converged re-run made no writes". Paths and bodies pass the
//! Azure crate's redaction before they are kept in memory or written.

use crate::sync::lock;
use azure::redact::redact;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
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
                    || self
                        .path
                        .to_ascii_lowercase()
                        .ends_with("/checknameavailability"))
            }
            _ => true,
        }
    }
}

pub struct RequestLog {
    inner: Mutex<Inner>,
    file: Option<PathBuf>,
}

struct Inner {
    entries: Vec<LoggedRequest>,
    /// Opened on first use, in append mode.
    file: Option<File>,
}

impl RequestLog {
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                file: None,
            }),
            file,
        }
    }

    /// Logs one request, secrets redacted. A line reaches the file in one write under the log's
    /// lock, so concurrent requests never share a line.
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
        let entry = LoggedRequest {
            time: chrono::Utc::now().to_rfc3339(),
            method: method.to_string(),
            path: redact(path),
            api_version,
            body: body.filter(|b| !b.is_empty()).map(|b| {
                let redacted = redact(b);
                serde_json::from_str(&redacted).unwrap_or(serde_json::Value::String(redacted))
            }),
            status,
            user_agent: user_agent.map(str::to_string),
        };
        let mut line = serde_json::to_string(&entry).unwrap_or_default();
        line.push('\n');
        let mut inner = lock(&self.inner);
        if let Some(path) = &self.file {
            if inner.file.is_none() {
                match OpenOptions::new().create(true).append(true).open(path) {
                    Ok(f) => inner.file = Some(f),
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "cannot open the request log")
                    }
                }
            }
            if let Some(f) = inner.file.as_mut() {
                if let Err(e) = f.write_all(line.as_bytes()) {
                    tracing::warn!(file = %path.display(), error = %e, "cannot write the request log");
                }
            }
        }
        inner.entries.push(entry);
    }

    pub fn entries(&self) -> Vec<LoggedRequest> {
        lock(&self.inner).entries.clone()
    }

    pub fn clear(&self) {
        lock(&self.inner).entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_each_get_a_whole_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("requests.jsonl");
        let log = Arc::new(RequestLog::new(Some(file.clone())));
        let (tasks, per_task) = (16, 150);
        // Bodies of several kilobytes, so a line written in pieces would interleave.
        let padding = "x".repeat(6000);
        let handles: Vec<_> = (0..tasks)
            .map(|task| {
                let (log, padding) = (log.clone(), padding.clone());
                tokio::spawn(async move {
                    for seq in 0..per_task {
                        let body = serde_json::json!({"task": task, "seq": seq, "pad": padding,
                            "url": format!("https://a/b?sv=1&sig=secret{task}x{seq}")});
                        log.record(
                            "PUT",
                            "/subscriptions/s/x",
                            "api-version=2023-05-01",
                            Some(&body.to_string()),
                            200,
                            None,
                        );
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task");
        }
        let text = std::fs::read_to_string(&file).expect("log file");
        let mut seen = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let entry: LoggedRequest = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {n} is not one JSON object ({e}): {:.200}", line));
            let body = entry.body.expect("body");
            assert_eq!(body["url"], "https://a/b?sv=1&sig=REDACTED");
            assert!(
                seen.insert((body["task"].as_u64(), body["seq"].as_u64())),
                "line {n} repeated"
            );
        }
        assert_eq!(seen.len(), tasks * per_task, "every request logged once");
        assert!(
            !text.contains("sig=secret"),
            "no signature reaches the file"
        );
        assert_eq!(log.entries().len(), tasks * per_task);
    }
}

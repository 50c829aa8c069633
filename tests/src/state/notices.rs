//! What the providers and ARM tell the layers above them. A write to a site, a site's deletion or
//! an Event Grid handshake needs the Functions host or Event Grid's delivery, which sit above the
//! providers; so the providers record it here and those layers, once attached, act on it.
//! Nothing here knows who answers.

use crate::sync::lock;
use serde_json::Value;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Something about a site that decides what its Functions host runs.
pub enum SiteNotice {
    /// Settings, package, deployment or config changed: reconcile the host.
    Changed(String),
    /// The site is gone: stop its handler, then answer.
    Deleted(String, oneshot::Sender<()>),
}

/// Events to post to a webhook, and where to send the webhook's answer.
pub struct WebhookCall {
    pub endpoint: String,
    pub events: Value,
    pub reply: oneshot::Sender<Result<Value, String>>,
}

/// The two queues; each has one consumer, which attaches when the emulator starts.
#[derive(Default)]
pub struct Notices {
    sites: Mutex<Option<mpsc::UnboundedSender<SiteNotice>>>,
    webhooks: Mutex<Option<mpsc::UnboundedSender<WebhookCall>>>,
}

impl Notices {
    /// The Functions host takes the site notices from now on.
    pub fn attach_host(&self) -> mpsc::UnboundedReceiver<SiteNotice> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.sites) = Some(tx);
        rx
    }

    /// Event Grid's delivery takes the webhook calls from now on.
    pub fn attach_event_grid(&self) -> mpsc::UnboundedReceiver<WebhookCall> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.webhooks) = Some(tx);
        rx
    }

    /// Without a host attached nothing runs, so there is nothing to tell.
    pub fn site_changed(&self, site_id: &str) {
        if let Some(tx) = lock(&self.sites).as_ref() {
            let _ = tx.send(SiteNotice::Changed(site_id.to_string()));
        }
    }

    /// Returns once the host has stopped the site's handler (or at once when no host runs).
    pub async fn site_deleted(&self, site_id: &str) {
        let (ack, stopped) = oneshot::channel();
        let sent = lock(&self.sites).as_ref().is_some_and(|tx| {
            tx.send(SiteNotice::Deleted(site_id.to_string(), ack))
                .is_ok()
        });
        if sent {
            let _ = stopped.await;
        }
    }

    /// Posts `events` to `endpoint` through Event Grid's delivery and returns the answer.
    pub async fn call_webhook(&self, endpoint: &str, events: Value) -> Result<Value, String> {
        let (reply, answer) = oneshot::channel();
        let call = WebhookCall {
            endpoint: endpoint.to_string(),
            events,
            reply,
        };
        let sent = lock(&self.webhooks)
            .as_ref()
            .is_some_and(|tx| tx.send(call).is_ok());
        if !sent {
            return Err("Event Grid delivery is not running in this emulator.".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("Event Grid delivery stopped before answering.".into()))
    }
}

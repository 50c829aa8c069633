//! The Kafka side: a consumer-group member whose positions come from Redis, not from Kafka.
//!
//! The rebalance callback is overridden: on assignment it reads each partition's
//! `last_offset`/`pending_batch` from Redis (blocking, retried until Redis answers, since consuming
//! from any other position would break exactly-once) and assigns with explicit start offsets
//! (`last_offset + 1`, or the beginning). Assignments and revocations are queued for the worker loop,
//! which drops in-memory batches of partitions it no longer owns.

use crate::ingest::batcher::Tp;
use crate::ingest::config::IngestConfig;
use crate::ingest::offsets::{self, Committed};
use crate::ingest::records::RawMessage;
use bytes::Bytes;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, Timestamp, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A change of ownership, reported by the rebalance callback.
#[derive(Debug, Clone, PartialEq)]
pub enum RebalanceEvent {
    Assigned(Vec<(Tp, Committed)>),
    Revoked(Vec<Tp>),
}

/// rdkafka context: logging bridge, broker-error reporting, Redis-positioned rebalances.
pub struct IngestContext {
    redis: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
    events: Mutex<Vec<RebalanceEvent>>,
    /// Whether `events` may hold something: checked before the lock, once per message.
    has_events: AtomicBool,
    topics: Vec<Arc<str>>,
    last_error_log: Mutex<Option<Instant>>,
}

impl IngestContext {
    pub fn new(redis: redis::Client, topics: &[String]) -> Self {
        Self {
            redis,
            conn: Mutex::new(None),
            events: Mutex::new(Vec::new()),
            has_events: AtomicBool::new(false),
            topics: topics.iter().map(|t| Arc::from(t.as_str())).collect(),
            last_error_log: Mutex::new(None),
        }
    }

    /// Shared topic name (so every message of a topic points at the same string).
    pub fn topic(&self, name: &str) -> Arc<str> {
        self.topics
            .iter()
            .find(|t| &***t == name)
            .cloned()
            .unwrap_or_else(|| Arc::from(name))
    }

    /// Takes the queued rebalance events, oldest first.
    pub fn take_events(&self) -> Vec<RebalanceEvent> {
        if !self.has_events.load(Ordering::Acquire) {
            return Vec::new();
        }
        self.events
            .lock()
            .map(|mut e| {
                self.has_events.store(false, Ordering::Release);
                std::mem::take(&mut *e)
            })
            .unwrap_or_default()
    }

    fn push_event(&self, ev: RebalanceEvent) {
        if let Ok(mut e) = self.events.lock() {
            e.push(ev);
            self.has_events.store(true, Ordering::Release);
        }
    }

    /// Reads a partition's state, retrying (with backoff) until Redis answers.
    fn read_committed(&self, topic: &str, partition: i32) -> Committed {
        let mut delay = Duration::from_millis(200);
        loop {
            let result = (|| -> redis::RedisResult<Committed> {
                let mut guard = self.conn.lock().map_err(|_| {
                    redis::RedisError::from((redis::ErrorKind::ClientError, "lock poisoned"))
                })?;
                if guard.is_none() {
                    let c = self
                        .redis
                        .get_connection_with_timeout(Duration::from_secs(3))?;
                    c.set_read_timeout(Some(Duration::from_secs(3)))?;
                    c.set_write_timeout(Some(Duration::from_secs(3)))?;
                    *guard = Some(c);
                }
                let conn = guard.as_mut().ok_or_else(|| {
                    redis::RedisError::from((redis::ErrorKind::ClientError, "no connection"))
                })?;
                let r = offsets::read_blocking(conn, topic, partition);
                if r.is_err() {
                    *guard = None;
                }
                r
            })();
            match result {
                Ok(c) => return c,
                Err(e) => {
                    tracing::error!(
                        topic,
                        partition,
                        error = %e,
                        retry_in_ms = delay.as_millis() as u64,
                        "cannot read the partition's offset from Redis; not consuming it until Redis answers"
                    );
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

impl ClientContext for IngestContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka retries by itself; report at most every 10 s so an outage does not flood logs.
        let now = Instant::now();
        if let Ok(mut last) = self.last_error_log.lock() {
            if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(10)) {
                return;
            }
            *last = Some(now);
        }
        tracing::warn!(error = %error, reason, "Kafka client error (retrying)");
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        base_consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut positioned = TopicPartitionList::new();
                let mut assigned = Vec::new();
                for el in tpl.elements() {
                    let (topic, partition) = (el.topic(), el.partition());
                    let committed = self.read_committed(topic, partition);
                    let start = committed
                        .last_offset
                        .map_or(Offset::Beginning, |o| Offset::Offset(o + 1));
                    if let Err(e) = positioned.add_partition_offset(topic, partition, start) {
                        tracing::error!(topic, partition, error = %e, "cannot position partition");
                        continue;
                    }
                    tracing::info!(topic, partition, ?start, pending = ?committed.pending, "partition assigned");
                    assigned.push(((self.topic(topic), partition), committed));
                }
                self.push_event(RebalanceEvent::Assigned(assigned));
                if let Err(e) = base_consumer.assign(&positioned) {
                    tracing::error!(error = %e, "assign failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let revoked: Vec<Tp> = tpl
                    .elements()
                    .iter()
                    .map(|el| (self.topic(el.topic()), el.partition()))
                    .collect();
                tracing::info!(partitions = revoked.len(), "partitions revoked");
                self.push_event(RebalanceEvent::Revoked(revoked));
                if let Err(e) = base_consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance error; dropping the assignment");
                let revoked: Vec<Tp> = tpl
                    .elements()
                    .iter()
                    .map(|el| (self.topic(el.topic()), el.partition()))
                    .collect();
                self.push_event(RebalanceEvent::Revoked(revoked));
                let _ = base_consumer.unassign();
            }
        }
    }
}

/// The consumer type used by the worker.
pub type IngestConsumer = StreamConsumer<IngestContext>;

/// The librdkafka settings of every ingest consumer: the worker's, and the bench's bare consumer
/// (`runtime/examples/bare_consumer.rs`), so the bench's ceiling is measured with the same ones.
pub fn client_config(
    bootstrap: &str,
    group_id: &str,
    session_timeout_ms: u32,
    extra: &[String],
) -> ClientConfig {
    let heartbeat_ms = (session_timeout_ms / 5).clamp(100, 3000);
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group_id)
        .set("client.id", "superhero-ingest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", heartbeat_ms.to_string())
        .set("max.poll.interval.ms", "300000")
        .set("socket.keepalive.enable", "true")
        // Notice topics created after start-up within seconds (default is 5 minutes).
        .set("topic.metadata.refresh.interval.ms", "5000")
        // Fetch at least 1 MiB (up to 2 MiB per partition), or whatever is there after 100 ms: a
        // busy partition arrives in a few large fetch responses instead of many small ones, each of
        // which wakes the consumer (runtime/docs/ingest-performance.md, docs/decisions.md). A batch
        // waits up to BATCH_MAX_AGE anyway.
        .set("fetch.min.bytes", "1048576")
        .set("max.partition.fetch.bytes", "2097152")
        .set("fetch.wait.max.ms", "100")
        .set_log_level(RDKafkaLogLevel::Warning);
    for kv in extra {
        if let Some((k, v)) = kv.split_once('=') {
            config.set(k.trim(), v.trim());
        }
    }
    config
}

/// Builds and subscribes the group consumer.
pub fn subscribe(
    bootstrap: &str,
    group_id: &str,
    topics: &[String],
    session_timeout_ms: u32,
    extra: &[String],
    context: IngestContext,
) -> Result<IngestConsumer, KafkaError> {
    let consumer: IngestConsumer = client_config(bootstrap, group_id, session_timeout_ms, extra)
        .create_with_context(context)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names)?;
    Ok(consumer)
}

/// A plain consumer with the worker's settings (`client_config`), subscribed to the worker's topics:
/// the bench's examples (`bare_consumer`, `ingest_stages`) read the broker the way the worker does.
pub fn subscribed(cfg: &IngestConfig) -> Result<BaseConsumer, String> {
    let consumer: BaseConsumer = client_config(
        &cfg.bootstrap(),
        &cfg.group_id,
        cfg.session_timeout_ms,
        &cfg.kafka_config,
    )
    .create()
    .map_err(|e| format!("cannot create the consumer: {e}"))?;
    let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| format!("cannot subscribe to {topics:?}: {e}"))?;
    Ok(consumer)
}

/// Copies what the records need out of a borrowed message.
pub fn to_raw(msg: &BorrowedMessage<'_>, topic: Arc<str>) -> RawMessage {
    let (timestamp_ms, timestamp_type) = match msg.timestamp() {
        Timestamp::CreateTime(t) => (Some(t), 0),
        Timestamp::LogAppendTime(t) => (Some(t), 1),
        Timestamp::NotAvailable => (None, -1),
    };
    RawMessage {
        topic,
        partition: msg.partition(),
        offset: msg.offset(),
        timestamp_ms,
        timestamp_type,
        key: msg.key().map(Bytes::copy_from_slice),
        header_keys: msg
            .headers()
            .map(|h| h.iter().map(|h| h.key.to_string()).collect())
            .unwrap_or_default(),
        value: msg.payload().map(Bytes::copy_from_slice),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queued_rebalances_are_taken_once_in_order() {
        let ctx = IngestContext::new(
            redis::Client::open("redis://127.0.0.1:1/").unwrap(),
            &["t".to_string()],
        );
        assert_eq!(ctx.take_events(), vec![]);
        let tp = (ctx.topic("t"), 3);
        let assigned = RebalanceEvent::Assigned(vec![(tp.clone(), Committed::default())]);
        let revoked = RebalanceEvent::Revoked(vec![tp]);
        ctx.push_event(assigned.clone());
        ctx.push_event(revoked.clone());
        assert_eq!(ctx.take_events(), vec![assigned.clone(), revoked]);
        assert_eq!(ctx.take_events(), vec![]);
        ctx.push_event(assigned.clone());
        assert_eq!(ctx.take_events(), vec![assigned]);
        assert_eq!(ctx.take_events(), vec![]);
    }
}

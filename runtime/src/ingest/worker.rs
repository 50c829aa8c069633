//! The worker loop: consume, batch per partition, flush (files -> clean-up -> offset), repeat.
//!
//! Flush order for a batch `[first, last]` of partition `p`, whose committed offset is `c`:
//! 1. `pending_batch = first,last` (CAS on `last_offset == c`),
//! 2. upload every file of the batch (deterministic names, so a retry or replay overwrites),
//! 3. Redis clean-up for its `Cleaning Game Records` (idempotent; failures are logged, not fatal),
//! 4. `last_offset = last`, `pending_batch` deleted (CAS on `last_offset == c`).
//!
//! A crash anywhere before 4 replays the same range (step 1 makes the next owner cut the batch at the
//! same `last`), so every message lands in raw exactly once.

use crate::ingest::batcher::{Batcher, Limits, Pushed, Tp, TpMap};
use crate::ingest::cleanup;
use crate::ingest::config::IngestConfig;
use crate::ingest::consumer::{self, IngestConsumer, IngestContext, RebalanceEvent};
use crate::ingest::layout::{self, Batch, BatchOutput};
use crate::ingest::offsets;
use crate::ingest::sink::RawSink;
use futures::future::join_all;
use futures::{FutureExt, StreamExt};
use rdkafka::consumer::Consumer;
use rdkafka::message::BorrowedMessage;
use rdkafka::Offset;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use std::future::Future;
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};

/// Counters reported in logs and returned at exit.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub messages: u64,
    pub batches: u64,
    pub files: u64,
    pub bytes: u64,
    pub quarantined: u64,
    pub task_rows: u64,
    pub cleanups: u64,
    pub cleanup_errors: u64,
    pub duplicates_dropped: u64,
    pub flush_failures: u64,
    pub fenced: u64,
}

/// Why a flush did not complete.
#[derive(Debug, thiserror::Error)]
enum FlushError {
    #[error("gave up after {0:?} of errors; last: {1}")]
    Timeout(Duration, String),
    #[error("another worker moved the partition's offset; batch dropped")]
    Fenced,
}

/// Fatal errors (the process should exit non-zero).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Sink(#[from] crate::ingest::sink::SinkError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("Kafka consumer could not be created: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("cannot reposition {topic}/{partition} after a failed flush: {source}")]
    Seek {
        topic: String,
        partition: i32,
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

/// Most messages taken from librdkafka's queue in one wake-up of the loop without waiting (the timers
/// are checked between runs).
const DRAIN_MAX: usize = 4096;

/// Where a received message goes: the fields of [`Worker`] the consumer's stream does not borrow.
struct Intake<'a> {
    context: &'a IngestContext,
    batcher: &'a mut Batcher,
    committed: &'a mut TpMap<Option<i64>>,
    stats: &'a mut Stats,
    /// The wake-up's time, read once for every message it takes (all were already queued then): a
    /// batch's age counts from it.
    now: Instant,
}

impl Intake<'_> {
    /// Applies the rebalances queued so far (they happened before `m` was returned), then buffers
    /// `m`; batches it closed go to `closed`.
    fn take(&mut self, m: &BorrowedMessage<'_>, closed: &mut Vec<Batch>) {
        apply_events(self.context, self.batcher, self.committed);
        let topic = self.context.topic(rdkafka::Message::topic(m));
        let (pushed, done) = self.batcher.push(consumer::to_raw(m, topic), self.now);
        if pushed == Pushed::Duplicate {
            self.stats.duplicates_dropped += 1;
        }
        closed.extend(done);
    }
}

/// Applies the consumer's queued rebalance events to the batcher and the committed offsets.
fn apply_events(
    context: &IngestContext,
    batcher: &mut Batcher,
    committed: &mut TpMap<Option<i64>>,
) {
    for ev in context.take_events() {
        match ev {
            RebalanceEvent::Revoked(tps) => {
                for tp in tps {
                    batcher.revoke(&tp);
                    committed.remove(&tp);
                }
            }
            RebalanceEvent::Assigned(list) => {
                for (tp, c) in list {
                    batcher.assign(tp.clone(), c.pending);
                    committed.insert(tp, c.last_offset);
                }
            }
        }
    }
}

/// Retries `op` with exponential backoff until it succeeds, `deadline` passes, or it reports a
/// permanent outcome.
async fn retry<T, E: std::fmt::Display, F, Fut>(
    what: &str,
    deadline: Instant,
    mut op: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let msg = e.to_string();
                if Instant::now() + delay > deadline {
                    return Err(format!("{what}: {msg}"));
                }
                tracing::warn!(what, error = %msg, retry_in_ms = delay.as_millis() as u64, "retrying");
                sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Waits until `op` succeeds or `shutdown` fires (startup dependencies).
async fn wait_for<T, E: std::fmt::Display, F, Fut>(
    what: &str,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
    mut op: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(250);
    loop {
        match op().await {
            Ok(v) => return Some(v),
            Err(e) => {
                tracing::error!(what, error = %e, retry_in_s = delay.as_secs_f64(), "not reachable yet; retrying");
                tokio::select! {
                    _ = &mut *shutdown => return None,
                    _ = sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        }
    }
}

struct Worker {
    cfg: IngestConfig,
    sink: RawSink,
    redis: ConnectionManager,
    consumer: IngestConsumer,
    batcher: Batcher,
    committed: TpMap<Option<i64>>,
    stats: Stats,
    uploads: u64,
}

/// Runs the worker until `shutdown` resolves; then flushes every open batch and returns.
pub async fn run(
    cfg: IngestConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<Stats, WorkerError> {
    cfg.validate().map_err(WorkerError::Config)?;
    let mut shutdown = Box::pin(shutdown);
    let sink = RawSink::from_config(&cfg)?;
    tracing::info!(sink = %sink.describe, "checking raw storage");
    if wait_for("raw storage", &mut shutdown, || sink.check())
        .await
        .is_none()
    {
        return Ok(Stats::default());
    }
    let redis_client = redis::Client::open(cfg.redis_info())
        .map_err(|e| WorkerError::Config(format!("Redis settings: {e}")))?;
    let manager_cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(5))
        .set_number_of_retries(2);
    tracing::info!(host = %cfg.redis_host, port = cfg.redis_port, db = cfg.redis_db, "connecting to Redis");
    let Some(redis) = wait_for("redis", &mut shutdown, || {
        let connect = ConnectionManager::new_with_config(redis_client.clone(), manager_cfg.clone());
        async move {
            match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("no answer within 5 s".to_string()),
            }
        }
    })
    .await
    else {
        return Ok(Stats::default());
    };
    let context = IngestContext::new(redis_client.clone(), &cfg.topics);
    tracing::info!(bootstrap = %cfg.bootstrap(), group = %cfg.group_id, topics = ?cfg.topics, "subscribing");
    let consumer = consumer::subscribe(
        &cfg.bootstrap(),
        &cfg.group_id,
        &cfg.topics,
        cfg.session_timeout_ms,
        &cfg.kafka_config,
        context,
    )?;
    let limits = Limits {
        max_messages: cfg.batch_size,
        max_age: cfg.batch_max_age(),
    };
    let mut worker = Worker {
        cfg,
        sink,
        redis,
        consumer,
        batcher: Batcher::new(limits),
        committed: TpMap::default(),
        stats: Stats::default(),
        uploads: 0,
    };
    worker.run_loop(&mut shutdown).await?;
    tracing::info!(stats = ?worker.stats, "stopped");
    Ok(worker.stats)
}

impl Worker {
    async fn run_loop(
        &mut self,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<(), WorkerError> {
        let mut next_report = Instant::now() + Duration::from_secs(30);
        let mut last_consume_error: Option<Instant> = None;
        loop {
            let wake = self
                .batcher
                .next_deadline()
                .map_or(next_report, |d| d.min(next_report));
            let mut closed = Vec::new();
            let mut consume_error = None;
            {
                // One stream per wake-up, not per message: `recv` registers and drops a waker slot
                // (two mutex locks) for every message, and each `select!` round polls the shutdown
                // future and builds a timer.
                let mut stream = self.consumer.stream();
                tokio::select! {
                    biased;
                    _ = &mut *shutdown => break,
                    r = stream.next() => match r {
                        Some(Ok(m)) => {
                            let mut intake = Intake {
                                context: self.consumer.context(),
                                batcher: &mut self.batcher,
                                committed: &mut self.committed,
                                stats: &mut self.stats,
                                now: Instant::now(),
                            };
                            intake.take(&m, &mut closed);
                            drop(m);
                            // Then whatever is already queued, without waiting, until a batch
                            // closes (it is flushed before the next message is taken, as before).
                            for _ in 0..DRAIN_MAX {
                                if !closed.is_empty() {
                                    break;
                                }
                                match stream.next().now_or_never() {
                                    Some(Some(Ok(m))) => intake.take(&m, &mut closed),
                                    Some(Some(Err(e))) => {
                                        consume_error = Some(e);
                                        break;
                                    }
                                    _ => break,
                                }
                            }
                        }
                        Some(Err(e)) => consume_error = Some(e),
                        None => {}
                    },
                    _ = sleep_until(wake) => {}
                }
            }
            if let Some(e) = consume_error {
                if last_consume_error
                    .is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(10))
                {
                    tracing::warn!(error = %e, "consume error (retrying; repeats are logged every 10 s)");
                    last_consume_error = Some(Instant::now());
                }
                sleep(Duration::from_millis(200)).await;
            }
            self.apply_rebalances();
            for batch in closed {
                self.flush(batch).await?;
            }
            for batch in self.batcher.due(Instant::now()) {
                self.flush(batch).await?;
            }
            if Instant::now() >= next_report {
                next_report = Instant::now() + Duration::from_secs(30);
                tracing::info!(stats = ?self.stats, buffered = self.batcher.buffered(), "progress");
            }
        }
        tracing::info!(
            buffered = self.batcher.buffered(),
            "shutting down: flushing open batches"
        );
        self.apply_rebalances();
        for batch in self.batcher.drain() {
            self.flush(batch).await?;
        }
        Ok(())
    }

    fn apply_rebalances(&mut self) {
        apply_events(
            self.consumer.context(),
            &mut self.batcher,
            &mut self.committed,
        );
    }

    async fn flush(&mut self, batch: Batch) -> Result<(), WorkerError> {
        let tp: Tp = (batch.topic.clone(), batch.partition);
        let range = (batch.first_offset(), batch.last_offset());
        if !self.committed.contains_key(&tp) {
            // Revoked while the batch was being closed; its next owner re-reads it.
            return Ok(());
        }
        match self.try_flush(&tp, &batch, range).await {
            Ok(out) => {
                self.stats.batches += 1;
                self.stats.messages += out.messages as u64;
                self.stats.files += out.files.len() as u64;
                self.stats.bytes += out.files.iter().map(|f| f.bytes.len() as u64).sum::<u64>();
                self.stats.quarantined += out.quarantined as u64;
                self.stats.task_rows += out.task_rows as u64;
                for (offset, error) in &out.errors {
                    tracing::warn!(topic = %tp.0, partition = tp.1, offset, error = %error, "message quarantined");
                }
                tracing::info!(
                    topic = %tp.0, partition = tp.1, first = range.0, last = range.1,
                    messages = out.messages, files = out.files.len(), quarantined = out.quarantined,
                    etl_id = %out.etl_id, "batch written"
                );
                Ok(())
            }
            Err(e) => {
                match e {
                    FlushError::Fenced => self.stats.fenced += 1,
                    FlushError::Timeout(..) => self.stats.flush_failures += 1,
                }
                tracing::error!(topic = %tp.0, partition = tp.1, first = range.0, last = range.1, error = %e,
                    "batch not written; re-reading it from the committed offset");
                self.rewind(&tp, matches!(e, FlushError::Timeout(..)).then_some(range))
                    .await
            }
        }
    }

    async fn try_flush(
        &mut self,
        tp: &Tp,
        batch: &Batch,
        range: (i64, i64),
    ) -> Result<BatchOutput, FlushError> {
        let timeout = self.cfg.flush_timeout();
        let deadline = Instant::now() + timeout;
        let expected = self.committed.get(tp).copied().flatten();
        let out = layout::assemble_at(batch, self.cfg.raw_gzip_level)
            .map_err(|e| FlushError::Timeout(Duration::ZERO, format!("encoding batch: {e}")))?;
        let (topic, partition) = (tp.0.to_string(), tp.1);

        let redis = self.redis.clone();
        let ok = retry("record pending batch in Redis", deadline, || {
            let mut r = redis.clone();
            let topic = topic.clone();
            async move { offsets::record_intent(&mut r, &topic, partition, expected, range).await }
        })
        .await
        .map_err(|e| FlushError::Timeout(timeout, e))?;
        if !ok {
            return Err(FlushError::Fenced);
        }

        let sink = &self.sink;
        let uploads = out
            .files
            .iter()
            .map(|file| retry("upload", deadline, move || sink.put(file)));
        for r in join_all(uploads).await {
            r.map_err(|e| FlushError::Timeout(timeout, e))?;
        }

        self.uploads += 1;
        if self.cfg.fault_abort_after_uploads == Some(self.uploads) {
            tracing::error!(
                first = range.0,
                last = range.1,
                "fault injection: aborting before the offset commit"
            );
            std::process::abort();
        }

        if !self.cfg.no_cleanup && !out.cleanups.is_empty() {
            let mut r = self.redis.clone();
            match cleanup::clean_games(&mut r, &out.cleanups, self.cfg.redis_expiry).await {
                Ok(s) => self.stats.cleanups += s.participants as u64,
                Err(e) => {
                    self.stats.cleanup_errors += 1;
                    tracing::warn!(error = %e, games = out.cleanups.len(), "Redis clean-up failed (data is safe; keys stay until a later clean-up)");
                }
            }
        }

        let ok = retry("commit offset in Redis", deadline, || {
            let mut r = redis.clone();
            let topic = topic.clone();
            async move { offsets::commit(&mut r, &topic, partition, expected, range.1).await }
        })
        .await
        .map_err(|e| FlushError::Timeout(timeout, e))?;
        if !ok {
            return Err(FlushError::Fenced);
        }
        self.committed.insert(tp.clone(), Some(range.1));
        Ok(out)
    }

    /// After a failed flush: forget the partition's in-memory state and seek back to what Redis says.
    async fn rewind(
        &mut self,
        tp: &Tp,
        retry_range: Option<(i64, i64)>,
    ) -> Result<(), WorkerError> {
        self.batcher.reset(tp);
        let mut conn = self.redis.clone();
        let committed = match offsets::read(&mut conn, &tp.0, tp.1).await {
            Ok(c) => c,
            Err(e) => {
                // Redis is down: keep what we believed; the pending range (if recorded) is replayed.
                tracing::warn!(error = %e, "cannot re-read the offset from Redis");
                offsets::Committed {
                    last_offset: self.committed.get(tp).copied().flatten(),
                    pending: retry_range,
                }
            }
        };
        self.committed.insert(tp.clone(), committed.last_offset);
        if let Some(range) = committed.pending.or(retry_range) {
            if committed.last_offset.is_none_or(|l| range.0 == l + 1) {
                self.batcher.force(tp, range);
            }
        }
        let start = committed
            .last_offset
            .map_or(Offset::Beginning, |o| Offset::Offset(o + 1));
        self.consumer
            .seek(&tp.0, tp.1, start, Duration::from_secs(10))
            .map_err(|source| WorkerError::Seek {
                topic: tp.0.to_string(),
                partition: tp.1,
                source,
            })
    }
}

//! The ingest over generated message streams (issue 13), without Kafka or Redis: the pure parts
//! (message decoder, batcher, file layout, offset bookkeeping) driven the way `ingest::worker` drives
//! them.
//!
//! * `accepted_messages_give_rows_the_etl_accepts`: the message decoder over the load generator's
//!   messages, byte-level mutations of them and arbitrary bytes. Every message lands once, in
//!   `buffer_meta` or in `_quarantine`; every raw file the batch writes converts with zero rejects.
//! * `every_offset_lands_exactly_once_across_restarts`: valid and poison messages across partitions,
//!   flushes by size and age, redeliveries, rebalances and crashes at any point of a flush (after the
//!   intent, between uploads, before the commit), then restarts from what "Redis" holds: every offset
//!   ends up exactly once in raw or in raw `_quarantine/`.
//!
//! Case counts: `prop_support` (small under `cargo test`, large under `scripts/fuzz.sh`).
#![allow(clippy::unwrap_used)]

mod prop_support;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use runtime::etl::{convert, ConvertOptions, ConvertOutcome, Folder};
use runtime::ingest::batcher::{Batcher, Limits, Tp};
use runtime::ingest::layout::{self, Batch, QUARANTINE_FOLDER};
use runtime::ingest::offsets::Committed;
use runtime::ingest::records::RawMessage;
use runtime::loadgen::parse_start;
use runtime::loadgen::plan::{PlanOptions, Planner};
use serde_json::Value;
use tokio::time::Instant;

/// Kafka's CreateTime of the first generated message (2024-01-13T22:25:40Z).
const FIRST_MS: i64 = 1_705_184_740_000;

/// A change to one message's value.
#[derive(Debug, Clone)]
enum Poison {
    /// Replace `delete` bytes at `at` (per mille of the length) by `insert`.
    Edit {
        at: u32,
        insert: Vec<u8>,
        delete: usize,
    },
    /// Replace the value by these bytes.
    Bytes(Vec<u8>),
    NoValue,
}

fn poison() -> impl Strategy<Value = Poison> {
    let bytes = proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(b"{}[],:\"\\ 0123456789-.eTZnul".to_vec()),
            any::<u8>(),
        ],
        0..6,
    );
    prop_oneof![
        6 => (0u32..=1000, bytes, 0usize..6)
            .prop_map(|(at, insert, delete)| Poison::Edit { at, insert, delete }),
        2 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Poison::Bytes),
        1 => Just(Poison::NoValue),
    ]
}

fn damaged(value: &[u8], poison: &Poison) -> Option<Bytes> {
    match poison {
        Poison::Edit { at, insert, delete } => {
            let mut v = value.to_vec();
            let i = v.len() * *at as usize / 1000;
            let end = (i + delete).min(v.len());
            let _removed: Vec<u8> = v.splice(i..end, insert.iter().copied()).collect();
            Some(Bytes::from(v))
        }
        Poison::Bytes(b) => Some(Bytes::from(b.clone())),
        Poison::NoValue => None,
    }
}

/// The log of every topic-partition: the load generator's games (with its own poison messages),
/// some messages damaged, offsets from 0 in each partition.
#[derive(Debug, Clone)]
struct Log {
    partitions: BTreeMap<Tp, Vec<RawMessage>>,
}

impl Log {
    fn messages(&self) -> usize {
        self.partitions.values().map(Vec::len).sum()
    }
}

fn log(max_games: u64) -> impl Strategy<Value = Log> {
    (
        any::<u64>(),
        1..=max_games,
        prop_oneof![Just(0u64), 1u64..8],
        proptest::collection::vec(proptest::option::weighted(0.15, poison()), 0..400),
    )
        .prop_map(|(seed, games, poison_every, damage)| {
            let mut opts =
                PlanOptions::new(seed, games, parse_start("2024-01-13T22:25:40").unwrap());
            opts.poison_every = poison_every;
            let mut partitions: BTreeMap<Tp, Vec<RawMessage>> = BTreeMap::new();
            let mut n = 0usize;
            for game in Planner::new(opts) {
                for m in game.messages {
                    let tp: Tp = (Arc::from(m.topic), m.partition);
                    let messages = partitions.entry(tp.clone()).or_default();
                    let value = match damage.get(n).cloned().flatten() {
                        Some(p) => damaged(&m.value, &p),
                        None => Some(Bytes::from(m.value)),
                    };
                    messages.push(RawMessage {
                        topic: tp.0.clone(),
                        partition: tp.1,
                        offset: messages.len() as i64,
                        timestamp_ms: Some(FIRST_MS + 5 * n as i64),
                        timestamp_type: 0,
                        key: None,
                        header_keys: vec![],
                        value,
                    });
                    n += 1;
                }
            }
            Log { partitions }
        })
}

fn gunzip_rows(bytes: &[u8]) -> Vec<Value> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut text)
        .unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// `(topic, partition, offset)` of each row of the `buffer_meta` and `_quarantine` files.
fn landed(files: &BTreeMap<String, Bytes>) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    for (path, bytes) in files {
        let folder = path.split('/').next().unwrap();
        if folder != "buffer_meta" && folder != QUARANTINE_FOLDER {
            continue;
        }
        for row in gunzip_rows(bytes) {
            out.push((
                row["topic"].as_str().unwrap().to_owned(),
                row["partition"].as_i64().unwrap(),
                row["offset"].as_i64().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

fn every_offset(log: &Log) -> Vec<(String, i64, i64)> {
    let mut all: Vec<_> = log
        .partitions
        .iter()
        .flat_map(|(tp, ms)| {
            ms.iter()
                .map(move |m| (tp.0.to_string(), i64::from(tp.1), m.offset))
        })
        .collect();
    all.sort();
    all
}

// ---------------------------------------------------------------------------------------------
// Property 1: decoder and layout against the ETL's contract
// ---------------------------------------------------------------------------------------------

fn check_batch(batch: &Batch) -> Result<(), TestCaseError> {
    let out = layout::assemble(batch).unwrap();
    prop_assert_eq!(out.messages, batch.messages.len());
    let mut files = BTreeMap::new();
    for file in &out.files {
        let folder = file.path.split('/').next().unwrap();
        files.insert(file.path.clone(), file.bytes.clone());
        if folder == QUARANTINE_FOLDER {
            for row in gunzip_rows(&file.bytes) {
                prop_assert!(row["error"].as_str().is_some_and(|e| !e.is_empty()));
            }
            continue;
        }
        let folder: Folder = folder.parse().unwrap();
        let mut parquet = Vec::new();
        let mut rejects = Vec::new();
        let outcome = convert(
            folder,
            &file.bytes[..],
            &mut parquet,
            &mut rejects,
            &ConvertOptions::default(),
        )
        .unwrap();
        let ConvertOutcome::Converted(summary) = outcome else {
            return Err(TestCaseError::fail(format!("{}: {outcome:?}", file.path)));
        };
        prop_assert_eq!(
            summary.rows_rejected,
            0,
            "{} has rows the ETL rejects: {}",
            file.path,
            String::from_utf8_lossy(&rejects)
        );
        prop_assert_eq!(summary.rows_written, file.rows as u64);
    }
    let mut want: Vec<_> = batch
        .messages
        .iter()
        .map(|m| (m.topic.to_string(), i64::from(m.partition), m.offset))
        .collect();
    want.sort();
    prop_assert_eq!(
        landed(&files),
        want,
        "each message once, in buffer_meta or _quarantine"
    );
    Ok(())
}

proptest! {
    #![proptest_config(prop_support::config("ingest accepted_messages_give_rows_the_etl_accepts", 48))]
    #[test]
    fn accepted_messages_give_rows_the_etl_accepts(log in log(3)) {
        for (tp, messages) in &log.partitions {
            check_batch(&Batch {
                topic: tp.0.clone(),
                partition: tp.1,
                messages: messages.clone(),
            })?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property 2: exactly once across crashes and restarts
// ---------------------------------------------------------------------------------------------

/// What the outside world keeps across worker crashes: the Kafka log, Redis and the raw container.
struct World {
    log: Log,
    /// `(last_offset, pending_batch)` values as Redis holds them.
    redis: HashMap<Tp, (Option<String>, Option<String>)>,
    raw: BTreeMap<String, Bytes>,
    /// Side effects (Redis writes, uploads) left before the injected crash, if one is armed.
    crash_in: Option<u32>,
}

struct Crashed;

impl World {
    fn effect(&mut self) -> Result<(), Crashed> {
        match &mut self.crash_in {
            Some(0) => {
                self.crash_in = None;
                Err(Crashed)
            }
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn committed(&self, tp: &Tp) -> Committed {
        let (last, pending) = self.redis.get(tp).cloned().unwrap_or_default();
        Committed::from_values(last, pending)
    }
}

/// One worker process's memory, as `ingest::worker` keeps it.
struct Worker {
    batcher: Batcher,
    committed: HashMap<Tp, Option<i64>>,
    /// Next offset the consumer delivers per partition (its position after the seek).
    position: HashMap<Tp, i64>,
    /// Where the consumer was positioned at the partition's assignment: a seek drops what was
    /// fetched before it, so nothing earlier is delivered again in this assignment.
    seeked_to: HashMap<Tp, i64>,
}

impl Worker {
    /// A new process: every partition assigned, positioned from Redis.
    fn start(world: &World, limits: Limits) -> Self {
        let mut worker = Worker {
            batcher: Batcher::new(limits),
            committed: HashMap::new(),
            position: HashMap::new(),
            seeked_to: HashMap::new(),
        };
        for tp in world.log.partitions.keys() {
            worker.assign(world, tp);
        }
        worker
    }

    fn assign(&mut self, world: &World, tp: &Tp) {
        let c = world.committed(tp);
        self.batcher.assign(tp.clone(), c.pending);
        let start = c.last_offset.map_or(0, |l| l + 1);
        self.committed.insert(tp.clone(), c.last_offset);
        self.position.insert(tp.clone(), start);
        self.seeked_to.insert(tp.clone(), start);
    }

    fn deliver(&mut self, world: &mut World, tp: &Tp, now: Instant) -> Result<(), Crashed> {
        let position = self.position[tp];
        let Some(msg) = world.log.partitions[tp].get(position as usize).cloned() else {
            return Ok(());
        };
        self.position.insert(tp.clone(), position + 1);
        let (_, closed) = self.batcher.push(msg, now);
        for batch in closed {
            self.flush(world, batch)?;
        }
        Ok(())
    }

    /// The consumer hands the last message of this assignment again (a retried fetch).
    fn redeliver(&mut self, world: &mut World, tp: &Tp, now: Instant) -> Result<(), Crashed> {
        let position = self.position[tp];
        if position <= self.seeked_to[tp] {
            return Ok(());
        }
        let msg = world.log.partitions[tp][position as usize - 1].clone();
        let (_, closed) = self.batcher.push(msg, now);
        for batch in closed {
            self.flush(world, batch)?;
        }
        Ok(())
    }

    fn tick(&mut self, world: &mut World, now: Instant) -> Result<(), Crashed> {
        for batch in self.batcher.due(now) {
            self.flush(world, batch)?;
        }
        Ok(())
    }

    /// `ingest::worker`'s flush: intent (CAS), uploads, commit (CAS).
    fn flush(&mut self, world: &mut World, batch: Batch) -> Result<(), Crashed> {
        let tp: Tp = (batch.topic.clone(), batch.partition);
        let (first, last) = (batch.first_offset(), batch.last_offset());
        let expected = self.committed[&tp];
        let out = layout::assemble(&batch).unwrap();

        world.effect()?;
        assert_eq!(
            world.committed(&tp).last_offset,
            expected,
            "a single worker is never fenced"
        );
        world.redis.entry(tp.clone()).or_default().1 = Some(format!("{first},{last}"));

        for file in out.files {
            world.effect()?;
            world.raw.insert(file.path, file.bytes);
        }

        world.effect()?;
        *world.redis.entry(tp.clone()).or_default() = (Some(last.to_string()), None);
        self.committed.insert(tp, Some(last));
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Deliver this many messages of the partition with this index.
    Deliver(usize, usize),
    Redeliver(usize),
    /// Let virtual time pass (seconds).
    Wait(u64),
    /// Revoke and re-assign one partition (a consumer-group rebalance).
    Rebalance(usize),
    /// Crash after this many more side effects; the next step restarts the worker.
    CrashAfter(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (0usize..8, 1usize..6).prop_map(|(p, n)| Step::Deliver(p, n)),
        1 => (0usize..8).prop_map(Step::Redeliver),
        3 => (1u64..8).prop_map(Step::Wait),
        1 => (0usize..8).prop_map(Step::Rebalance),
        2 => (0u32..12).prop_map(Step::CrashAfter),
    ]
}

fn run(log: Log, limits: Limits, steps: &[Step]) -> Result<(), TestCaseError> {
    let base = Instant::now();
    let mut seconds = 0u64;
    let now = |s: u64| base + Duration::from_secs(s);
    let tps: Vec<Tp> = log.partitions.keys().cloned().collect();
    let mut world = World {
        log,
        redis: HashMap::new(),
        raw: BTreeMap::new(),
        crash_in: None,
    };
    let mut worker = Worker::start(&world, limits);
    let mut crashes = 0;
    for step in steps {
        let result = match step {
            Step::Deliver(p, n) => {
                let tp = &tps[p % tps.len()];
                (0..*n).try_for_each(|_| worker.deliver(&mut world, tp, now(seconds)))
            }
            Step::Redeliver(p) => worker.redeliver(&mut world, &tps[p % tps.len()], now(seconds)),
            Step::Wait(s) => {
                seconds += s;
                worker.tick(&mut world, now(seconds))
            }
            Step::Rebalance(p) => {
                let tp = &tps[p % tps.len()];
                worker.batcher.revoke(tp);
                worker.committed.remove(tp);
                worker.assign(&world, tp);
                Ok(())
            }
            Step::CrashAfter(n) => {
                world.crash_in = Some(*n);
                Ok(())
            }
        };
        if result.is_err() {
            crashes += 1;
            worker = Worker::start(&world, limits);
        }
    }
    // The last run: no more crashes, every message delivered, then a clean shutdown.
    world.crash_in = None;
    for tp in &tps {
        while (worker.position[tp] as usize) < world.log.partitions[tp].len() {
            if worker.deliver(&mut world, tp, now(seconds)).is_err() {
                unreachable!("no crash is armed");
            }
        }
    }
    for batch in worker.batcher.drain() {
        if worker.flush(&mut world, batch).is_err() {
            unreachable!("no crash is armed");
        }
    }
    prop_assert_eq!(worker.batcher.buffered(), 0, "nothing left unflushed");
    prop_assert_eq!(
        landed(&world.raw),
        every_offset(&world.log),
        "every offset exactly once in buffer_meta or _quarantine ({} crashes)",
        crashes
    );
    Ok(())
}

proptest! {
    #![proptest_config(prop_support::config("ingest every_offset_lands_exactly_once_across_restarts", 64))]
    #[test]
    fn every_offset_lands_exactly_once_across_restarts(
        log in log(3).prop_filter("at least one message", |l| l.messages() > 0),
        max_messages in 1usize..7,
        max_age in 1u64..10,
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let limits = Limits { max_messages, max_age: Duration::from_secs(max_age) };
        run(log, limits, &steps)?;
    }
}

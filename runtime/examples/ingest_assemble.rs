//! The ingest worker's batch encoding (`layout::assemble_at`: parse, ids, rows, gzip) alone, on
//! the simulator's messages generated in memory: no broker, no Redis, no files. The same input every
//! run, so it can be compared between builds, and counted instruction by instruction:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='runtime::ingest::layout::assemble_at*' \
//!     target/profiling/examples/ingest_assemble 1000 1
//! ```
//!
//! (this machine's speed drifts by tens of percent from one minute to the next; instruction counts do
//! not). Messages are cut into batches of 1000 per partition, in offset order, as the worker cuts a
//! backlog. Prints the messages, batches, compressed bytes and this thread's CPU per message, best of
//! the passes.
//! Usage: `ingest_assemble [games, default 2000] [passes, default 3]`.

use runtime::ingest::gzip::RawGzip;
use runtime::ingest::layout::{self, Batch};
use runtime::ingest::records::RawMessage;
use runtime::loadgen::plan::{PlanOptions, Planner};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest_assemble: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let arg = |n: usize, default: u64| -> Result<u64, String> {
        std::env::args().nth(n).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|e| format!("argument {n} ({s:?}) must be a whole number: {e}"))
        })
    };
    let (games, passes) = (arg(1, 2000)?, arg(2, 3)?.max(1));
    let batches = batches(games)?;
    let n = batches.iter().map(|b| b.messages.len()).sum::<usize>();
    let (mut best, mut bytes) = (f64::MAX, 0);
    for _ in 0..passes {
        let start = thread_cpu()?;
        bytes = 0;
        for b in &batches {
            let out = layout::assemble_at(b, RawGzip::Rows).map_err(|e| e.to_string())?;
            bytes += out.files.iter().map(|f| f.bytes.len()).sum::<usize>();
        }
        best = best.min(thread_cpu()? - start);
    }
    println!(
        "{n} messages, {} batches, {bytes} bytes gzipped; assemble {:.3} us CPU per message (best of {passes})",
        batches.len(),
        best * 1e6 / n.max(1) as f64
    );
    Ok(())
}

/// The plan's messages with offsets per partition and an increasing CreateTime, in batches.
fn batches(games: u64) -> Result<Vec<Batch>, String> {
    let start = runtime::loadgen::parse_start("2024-01-13T12:00:00")
        .ok_or("the fixed start time does not parse")?;
    let mut parts: BTreeMap<(&'static str, i32), Vec<RawMessage>> = BTreeMap::new();
    let mut ms = start.and_utc().timestamp_millis();
    for game in Planner::new(PlanOptions::new(7, games, start)) {
        for m in game.messages {
            let queue = parts.entry((m.topic, m.partition)).or_default();
            ms += 3;
            queue.push(RawMessage {
                topic: Arc::from(m.topic),
                partition: m.partition,
                offset: queue.len() as i64,
                timestamp_ms: Some(ms),
                timestamp_type: 0,
                key: None,
                header_keys: Vec::new(),
                value: Some(m.value.into()),
            });
        }
    }
    let mut out = Vec::new();
    for ((topic, partition), messages) in parts {
        let mut messages = messages.into_iter().peekable();
        while messages.peek().is_some() {
            out.push(Batch {
                topic: Arc::from(topic),
                partition,
                messages: messages.by_ref().take(BATCH).collect(),
            });
        }
    }
    Ok(out)
}

/// This thread's CPU seconds so far (`/proc/thread-self/schedstat`, nanoseconds on the CPU).
fn thread_cpu() -> Result<f64, String> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| format!("reading /proc/thread-self/schedstat: {e}"))?;
    let ns: f64 = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unexpected /proc/thread-self/schedstat: {stat:?}"))?;
    Ok(ns * 1e-9)
}

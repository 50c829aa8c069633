//! The ingest bench's ceiling: a consumer that only counts messages.
//!
//! Same broker, topics, partitions and librdkafka settings as the `ingest` worker (read from the
//! worker's own environment variables and built by `consumer::client_config`), subscribed as a fresh
//! group from the earliest offset, so it pays the same group join. It does nothing per message but
//! count it and its payload bytes: what it drains per second is what the broker and librdkafka allow
//! one consumer, and its CPU is the part of ours that no change to the worker can remove.
//!
//! Usage: `bare_consumer <messages to wait for>`; prints one JSON line when they have all arrived:
//! `messages`, `payload_bytes`, `secs` (since `BENCH_START`, epoch seconds, when set by the bench, so
//! process start is counted as for the worker; else since this process started), `secs_after_first`
//! (drain time without the group join), and `cpu_ticks` (user + system of every thread so far, in
//! `/proc/self/stat` clock ticks: the bench divides by `getconf CLK_TCK`).

use clap::Parser;
use runtime::ingest::config::IngestConfig;
use runtime::ingest::consumer::subscribed;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bare_consumer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, String> {
    let started = Instant::now();
    let expect: u64 = std::env::args()
        .nth(1)
        .ok_or("usage: bare_consumer <messages to wait for>")?
        .parse()
        .map_err(|e| format!("the message count must be a whole number: {e}"))?;
    let since_start = || -> f64 {
        let bench_start = std::env::var("BENCH_START")
            .ok()
            .and_then(|s| s.parse::<f64>().ok());
        match (bench_start, SystemTime::now().duration_since(UNIX_EPOCH)) {
            (Some(t0), Ok(now)) => now.as_secs_f64() - t0,
            _ => started.elapsed().as_secs_f64(),
        }
    };
    let cfg = IngestConfig::try_parse_from(["bare_consumer"])
        .map_err(|e| format!("worker settings in the environment: {e}"))?;
    let consumer = subscribed(&cfg)?;

    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut messages, mut payload_bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    while messages < expect {
        if Instant::now() > deadline {
            return Err(format!(
                "only {messages} of {expect} messages arrived in 600 s"
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                messages += 1;
                payload_bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => eprintln!("bare_consumer: consume error (retrying): {e}"),
            None => {}
        }
    }
    let secs = since_start();
    let secs_after_first = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    let cpu_ticks = cpu_ticks().map_err(|e| format!("cannot read /proc/self/stat: {e}"))?;
    Ok(format!(
        r#"{{"messages": {messages}, "payload_bytes": {payload_bytes}, "secs": {secs:.3}, "secs_after_first": {secs_after_first:.3}, "cpu_ticks": {cpu_ticks}}}"#
    ))
}

/// utime + stime of the whole process (fields 14 and 15 of `/proc/self/stat`).
fn cpu_ticks() -> Result<u64, String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| e.to_string())?;
    let after_name = stat.rsplit_once(')').ok_or("no `)` in it")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .ok_or("too few fields")?
            .parse::<u64>()
            .map_err(|e| e.to_string())
    };
    Ok(field(11)? + field(12)?)
}

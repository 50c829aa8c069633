//! Where the ingest worker's CPU goes, stage by stage, on real messages from the bench's broker.
//!
//! Reads `<messages>` messages (the worker's environment variables and librdkafka settings, a fresh
//! group), cuts them into batches of `BATCH_SIZE` per partition as the worker does, then measures
//! the CPU time of this thread (`/proc/thread-self/schedstat`, so other load on the machine does not
//! count), best of three passes, of:
//! * `parse, general`: `records::parse_general` of every message (a `serde_json::Value` tree),
//! * `parse`: `records::parse` of every message (the typed parser, the general one as fallback),
//! * `ids + times`: the per-message `msg_id` and the `buffer_meta` timestamp text,
//! * `rows, serde`: parse + every row serialised into plain buffers by serde with the `json.dumps`
//!   formatter (`pyjson`), as the worker did before,
//! * `rows, by hand`: the same with `rowjson` (the worker now; the same bytes, checked here too),
//! * `gzip L`: gzip of those buffers, one call per file, for the settings in `GZIP_LEVELS` (`rows`,
//!   the row encoder, or zlib levels 0-9; default `rows,2,6`), and the compressed size of the files
//!   with each,
//! * `assemble`: the worker's whole batch encoding (`layout::assemble_at`) at `RAW_GZIP_LEVEL`.
//!
//! Consuming itself is the bare consumer's CPU (`examples/bare_consumer.rs`), not repeated here.
//! Usage: `ingest_stages <messages>`; prints a table of seconds and microseconds per message.

use clap::Parser;
use runtime::ingest::config::IngestConfig;
use runtime::ingest::consumer::{subscribed, to_raw};
use runtime::ingest::gzip::RawGzip;
use runtime::ingest::layout::{self, Batch};
use runtime::ingest::records::{self, buffer_row, log_row};
use runtime::ingest::timefmt;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest_stages: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let expect: usize = std::env::args()
        .nth(1)
        .ok_or("usage: ingest_stages <messages>")?
        .parse()
        .map_err(|e| format!("the message count must be a whole number: {e}"))?;
    let cfg = IngestConfig::try_parse_from(["ingest_stages"])
        .map_err(|e| format!("worker settings in the environment: {e}"))?;
    let batches = read_batches(&cfg, expect)?;
    let n = batches.iter().map(|b| b.messages.len()).sum::<usize>() as f64;
    println!("{n} messages in {} batches", batches.len());
    let row =
        |name: &str, secs: f64| println!("{name:<28} {secs:>8.3} s {:>8.2} us/msg", secs * 1e6 / n);

    row(
        "parse, general",
        best_of(3, || {
            for b in &batches {
                for m in &b.messages {
                    let _ =
                        std::hint::black_box(records::parse_general(&b.topic, m.value.as_deref()));
                }
            }
        }),
    );
    row(
        "parse",
        best_of(3, || {
            for b in &batches {
                for m in &b.messages {
                    let _ = std::hint::black_box(records::parse(&b.topic, m.value.as_deref()));
                }
            }
        }),
    );
    row(
        "ids + times",
        best_of(3, || {
            for b in &batches {
                let mut times = timefmt::EpochMsText::new();
                for m in &b.messages {
                    let id = layout::msg_id(&b.topic, m.partition, m.offset).to_string();
                    let t = m.timestamp_ms.and_then(|ms| times.text(ms).map(str::len));
                    std::hint::black_box((id, t));
                }
            }
        }),
    );
    let mut by_serde: Vec<[Vec<u8>; 3]> = Vec::new();
    row(
        "rows, serde",
        best_of(3, || {
            by_serde = batches.iter().map(|b| rows(b, |r, o| r.serde(o))).collect();
        }),
    );
    let mut plain: Vec<[Vec<u8>; 3]> = Vec::new();
    row(
        "rows, by hand",
        best_of(3, || {
            plain = batches.iter().map(|b| rows(b, |r, o| r.hand(o))).collect();
        }),
    );
    if plain != by_serde {
        return Err("the rows written by hand differ from serde's".into());
    }
    let levels = std::env::var("GZIP_LEVELS").unwrap_or_else(|_| "rows,2,6".into());
    for level in levels.split(',').map(str::parse::<RawGzip>) {
        let level = level?;
        let mut gz_bytes = 0;
        row(
            &format!("gzip {level}"),
            best_of(3, || {
                gz_bytes = 0;
                for files in &plain {
                    for f in files {
                        gz_bytes += level.compress(f).map_or(0, |b| b.len());
                    }
                }
            }),
        );
        println!(
            "  (gzip {level}: {gz_bytes} bytes, {:.0} per message)",
            gz_bytes as f64 / n
        );
    }
    let raw_bytes: usize = plain.iter().flatten().map(Vec::len).sum();
    println!(
        "(raw JSON written: {raw_bytes} bytes, {:.0} per message)",
        raw_bytes as f64 / n
    );
    let level = cfg.raw_gzip_level;
    row(
        &format!("assemble, gzip {level}"),
        best_of(3, || {
            for b in &batches {
                std::hint::black_box(layout::assemble_at(b, level).ok());
            }
        }),
    );
    Ok(())
}

/// Least CPU time of this thread over `passes` runs of `f`, in seconds.
fn best_of(passes: usize, mut f: impl FnMut()) -> f64 {
    (0..passes)
        .map(|_| {
            let t = thread_cpu_ns();
            f();
            (thread_cpu_ns() - t) as f64 / 1e9
        })
        .fold(f64::INFINITY, f64::min)
}

/// Nanoseconds this thread has run (first field of `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The rows of a batch as the worker writes them, each file's JSON array by `write`: buffer, log,
/// task.
fn rows(batch: &Batch, write: fn(&dyn erased::Row, &mut Vec<u8>)) -> [Vec<u8>; 3] {
    let etl = layout::etl_id(
        &batch.topic,
        batch.partition,
        batch.first_offset(),
        batch.last_offset(),
    )
    .to_string();
    let mut files = [Vec::new(), Vec::new(), Vec::new()];
    let [buffers, logs, tasks] = &mut files;
    let push = |out: &mut Vec<u8>, row: &dyn erased::Row| {
        out.extend_from_slice(if out.is_empty() { b"[" } else { b", " });
        write(row, out);
    };
    for m in &batch.messages {
        let id = layout::msg_id(&batch.topic, m.partition, m.offset).to_string();
        let Ok(p) = records::parse(&batch.topic, m.value.as_deref()) else {
            continue;
        };
        push(buffers, &buffer_row(&etl, &id, m));
        push(logs, &log_row(&etl, &id, &p.envelope));
        p.task.for_each_row(&etl, &id, |row| push(tasks, &row));
    }
    for out in &mut files {
        out.push(b']');
    }
    files
}

mod erased {
    use runtime::ingest::pyjson;
    use runtime::ingest::rowjson::RowJson;

    /// A row written either way.
    pub trait Row {
        fn serde(&self, out: &mut Vec<u8>);
        fn hand(&self, out: &mut Vec<u8>);
    }
    impl<T: serde::Serialize + RowJson> Row for T {
        fn serde(&self, out: &mut Vec<u8>) {
            let _ = pyjson::write(out, self);
        }
        fn hand(&self, out: &mut Vec<u8>) {
            self.write_json(out);
        }
    }
}

/// The first `expect` messages of the worker's topics, cut into batches as the worker cuts them.
fn read_batches(cfg: &IngestConfig, expect: usize) -> Result<Vec<Batch>, String> {
    let consumer = subscribed(cfg)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut open: BTreeMap<(String, i32), Vec<_>> = BTreeMap::new();
    let mut batches = Vec::new();
    let mut seen = 0;
    while seen < expect {
        if Instant::now() > deadline {
            return Err(format!("only {seen} of {expect} messages arrived in 600 s"));
        }
        let Some(r) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = r.map_err(|e| format!("consume error: {e}"))?;
        let topic = rdkafka::Message::topic(&m).to_string();
        let raw = to_raw(&m, Arc::from(topic.as_str()));
        seen += 1;
        let key = (topic, raw.partition);
        let msgs = open.entry(key.clone()).or_default();
        msgs.push(raw);
        if msgs.len() >= cfg.batch_size {
            batches.push(batch(&key, std::mem::take(msgs)));
        }
    }
    for (key, msgs) in open {
        if !msgs.is_empty() {
            batches.push(batch(&key, msgs));
        }
    }
    Ok(batches)
}

fn batch(key: &(String, i32), messages: Vec<records::RawMessage>) -> Batch {
    Batch {
        topic: Arc::from(key.0.as_str()),
        partition: key.1,
        messages,
    }
}

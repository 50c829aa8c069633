//! End to end against a real tansu broker, redis-server and Azurite: counts, golden formats,
//! quarantine, Redis clean-up, time-based flush, flush on SIGTERM and resume from Redis offsets.
#![allow(clippy::unwrap_used)]

mod ingest_common;

use flate2::read::GzDecoder;
use ingest_common::{landed, offsets_in, rows_in, wait_for_raw};
use redis::Commands;
use runtime::ingest::layout::{etl_id, msg_id};
use runtime::ingest::pyjson;
use runtime::loadgen::plan::Planner;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

const FOLDERS: [&str; 5] = [
    "etl_meta",
    "buffer_meta",
    "log_meta",
    "lib_server_lobby",
    "lib_server_game",
];

/// Key order plus a format tag per value.
fn shape(row: &Value) -> Vec<(String, String)> {
    let tag = |v: &Value| -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(_) => "bool".into(),
            Value::Number(n) if n.is_i64() => "int".into(),
            Value::Number(_) => "float".into(),
            Value::Array(a) if a.is_empty() => "[]".into(),
            Value::Array(_) => "array".into(),
            Value::Object(_) => "object".into(),
            Value::String(s) => {
                if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 {
                    "uuid".into()
                } else if s.len() == 26
                    && runtime::ingest::timefmt::parse_loose(s).is_some()
                    && s.as_bytes()[19] == b'.'
                {
                    "ts.ffffff".into()
                } else {
                    "str".into()
                }
            }
        }
    };
    row.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), tag(v)))
        .collect()
}

fn gunzip_text(bytes: &[u8]) -> String {
    let mut s = String::new();
    GzDecoder::new(bytes).read_to_string(&mut s).unwrap();
    s
}

/// The first row of the golden sample of `folder`, and its raw text.
fn golden(folder: &str) -> (Value, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/raw")
        .join(folder);
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = gunzip_text(&std::fs::read(&p).unwrap());
                let v: Value = serde_json::from_str(&text).unwrap();
                return (v[0].clone(), text);
            }
        }
    }
    panic!("no golden file for {folder}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_formats_exactly_once_with_quarantine_and_redis_cleanup() {
    let s = services_or_skip!();
    let mut lg = s.loadgen(40, 7);
    lg.write_redis = true;
    lg.poison_every = 20;
    let counts = runtime::loadgen::run(&lg).await.unwrap();
    assert_eq!(counts.delivered, counts.total_messages);
    assert!(counts.poison_total > 0);

    let mut w = s.spawn_ingest("w", &[("BATCH_SIZE", "50"), ("BATCH_MAX_AGE", "1")]);
    let store = s.raw_store();
    let total = counts.total_messages as usize;
    let files = wait_for_raw(&store, Duration::from_secs(90), |f| landed(f).0 >= total).await;
    assert!(
        w.is_running(),
        "worker died on poison messages:\n{}",
        s.ingest_log("w")
    );
    let status = w
        .terminate(Duration::from_secs(30))
        .expect("exit after SIGTERM");
    assert!(status.success(), "{status}\n{}", s.ingest_log("w"));

    // Every produced message exactly once; valid ones in buffer/log, bad ones in _quarantine.
    let (distinct, repeats) = landed(&files);
    assert_eq!((distinct, repeats), (total, 0));
    let valid: u64 = counts.valid_messages.values().sum();
    assert_eq!(rows_in(&files, "buffer_meta") as u64, valid);
    assert_eq!(rows_in(&files, "log_meta") as u64, valid);
    assert_eq!(rows_in(&files, "_quarantine") as u64, counts.poison_total);
    assert_eq!(
        rows_in(&files, "lib_server_lobby") as u64,
        counts.lobby_rows
    );
    assert_eq!(rows_in(&files, "lib_server_game") as u64, counts.game_rows);
    let stats = s.ingest_stats("w");
    assert_eq!(stats["quarantined"], counts.poison_total);
    assert_eq!(stats["messages"], counts.total_messages);
    for (topic, per_partition) in &counts.partitions {
        for (p, n) in per_partition.iter().enumerate() {
            let mut landed_here: Vec<i64> = offsets_in(&files, "buffer_meta")
                .into_iter()
                .chain(offsets_in(&files, "_quarantine"))
                .filter(|(t, pp, _)| t == topic && *pp == p as i64)
                .map(|(_, _, o)| o)
                .collect();
            landed_here.sort();
            assert_eq!(landed_here.len() as u64, *n, "{topic}/{p}");
            // Redis holds the last written offset, and no batch is left pending.
            let mut r = s.redis();
            let last: Option<i64> = r
                .get(format!(
                    "kafka.topic.{topic}.partition.{p}.state.last_offset"
                ))
                .unwrap();
            assert_eq!(last, landed_here.last().copied(), "{topic}/{p}");
            let pending: Option<String> = r
                .get(format!(
                    "kafka.topic.{topic}.partition.{p}.state.pending_batch"
                ))
                .unwrap();
            assert_eq!(pending, None);
        }
    }

    // Golden shapes: key order and value formats identical to the original's files.
    for folder in FOLDERS {
        let (sample, sample_text) = golden(folder);
        // The formatter reproduces the original's bytes.
        let reparsed: Value = serde_json::from_str(&sample_text).unwrap();
        assert_eq!(
            pyjson::to_string(&reparsed).unwrap(),
            sample_text,
            "{folder}"
        );
        let want = shape(&sample);
        let ours: Vec<_> = files
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{folder}/")))
            .collect();
        assert!(!ours.is_empty(), "no {folder} files");
        for (path, rows) in ours {
            for row in rows.as_array().unwrap() {
                let mut got = shape(row);
                if folder == "log_meta" && row["timestamp"].as_str().map(str::len) == Some(19) {
                    // isoformat() without a fraction is copied verbatim, as the original does.
                    got = got
                        .into_iter()
                        .map(|(k, t)| {
                            if k == "timestamp" {
                                (k, "ts.ffffff".into())
                            } else {
                                (k, t)
                            }
                        })
                        .collect();
                }
                assert_eq!(got, want, "{path}: {row}");
            }
        }
    }
    // Raw bytes are Python json.dumps output, paths carry the deterministic batch id.
    let store_files: Vec<_> = files.keys().cloned().collect();
    let mut batches: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &store_files {
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts.len(), 5, "{path}");
        let name = parts[4].strip_suffix(".json.gzip").unwrap();
        let fields: Vec<&str> = name.split('_').collect();
        assert_eq!(fields.len(), 5, "{path}");
        let (partition, first, last): (i32, i64, i64) = (
            fields[2].parse().unwrap(),
            fields[3].parse().unwrap(),
            fields[4].parse().unwrap(),
        );
        assert_eq!(
            fields[0],
            etl_id(fields[1], partition, first, last).to_string()
        );
        batches
            .entry(name.to_string())
            .or_default()
            .insert(parts[0].to_string());
        for row in files[path].as_array().unwrap() {
            if let Some(e) = row.get("etl_id") {
                assert_eq!(e, fields[0]);
            }
            if path.starts_with("buffer_meta/") {
                let o = row["offset"].as_i64().unwrap();
                assert!((first..=last).contains(&o));
                assert_eq!(row["msg_id"], msg_id(fields[1], partition, o).to_string());
            }
        }
    }
    let store = s.raw_store();
    for path in store_files.iter().take(10) {
        let bytes = store
            .get(&object_store::path::Path::from(path.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let text = gunzip_text(&bytes);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(pyjson::to_string(&v).unwrap(), text, "{path}");
    }
    for (name, folders) in &batches {
        if folders.contains("buffer_meta") {
            for f in ["etl_meta", "log_meta"] {
                assert!(folders.contains(f), "{name} lacks {f}");
            }
        }
    }

    // Quarantine rows carry what is needed to find and replay the message.
    for (path, rows) in files.iter().filter(|(p, _)| p.starts_with("_quarantine/")) {
        for row in rows.as_array().unwrap() {
            for k in [
                "topic",
                "partition",
                "offset",
                "error",
                "value_encoding",
                "value",
            ] {
                assert!(row.get(k).is_some(), "{path}: {row}");
            }
            assert!(!row["error"].as_str().unwrap().is_empty());
        }
    }

    // Redis clean-up: every finished game's keys expire; lists and sets no longer hold it.
    let mut r = s.redis();
    let opts = lg.plan_options().unwrap();
    for game in Planner::new(opts) {
        let g = &game.state.game_token;
        let ttl: i64 = r.ttl(format!("games:{g}:host")).unwrap();
        assert!(ttl > 0 && ttl <= 600, "games:{g}:host ttl {ttl}");
        for key in ["status", "participants"] {
            let ttl: i64 = r.ttl(format!("games:{g}:{key}")).unwrap();
            assert!(ttl > 0, "games:{g}:{key} ttl {ttl}");
        }
        let logs: bool = r.exists(format!("games:{g}:logs")).unwrap();
        assert!(!logs, "games:{g}:logs not deleted");
        let listed: Vec<String> = r
            .lrange(format!("games:players:{}", game.state.size), 0, -1)
            .unwrap();
        assert!(
            !listed.contains(g),
            "{g} still in games:players:{}",
            game.state.size
        );
        let score: Option<f64> = r.zscore("games:participants", g).unwrap();
        assert_eq!(score, None);
        for (u, _, _) in &game.state.heroes {
            let ttl: i64 = r.ttl(format!("games:{g}:superheros:{u}")).unwrap();
            assert!(ttl > 0, "games:{g}:superheros:{u} ttl {ttl}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_by_age_then_on_sigterm_and_resumes_from_redis() {
    let s = services_or_skip!();
    let store = s.raw_store();

    // 1. Size limit never reached: only BATCH_MAX_AGE can flush, while the worker keeps running.
    let c1 = runtime::loadgen::run(&s.loadgen(4, 1)).await.unwrap();
    let mut w = s.spawn_ingest("age", &[("BATCH_SIZE", "100000"), ("BATCH_MAX_AGE", "2")]);
    let total1 = c1.total_messages as usize;
    let files = wait_for_raw(&store, Duration::from_secs(60), |f| landed(f).0 >= total1).await;
    assert_eq!(landed(&files), (total1, 0), "{}", s.ingest_log("age"));
    assert!(
        w.is_running(),
        "files must come from the age trigger, not from an exit"
    );
    let nonempty = c1.partitions.values().flatten().filter(|n| **n > 0).count();
    let buffers = files
        .keys()
        .filter(|p| p.starts_with("buffer_meta/"))
        .count();
    assert_eq!(buffers, nonempty, "one age-closed batch per partition");
    assert!(w.terminate(Duration::from_secs(30)).unwrap().success());

    // 2. Neither size nor age can flush: only SIGTERM does. The restart starts after the committed
    //    offsets, so nothing of step 1 is written twice.
    let mut w = s.spawn_ingest(
        "term",
        &[("BATCH_SIZE", "100000"), ("BATCH_MAX_AGE", "3600")],
    );
    let c2 = runtime::loadgen::run(&s.loadgen(4, 2)).await.unwrap();
    let total = total1 + c2.total_messages as usize;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let before = ingest_common::read_raw(&store).await;
    assert_eq!(
        landed(&before).0,
        total1,
        "nothing may flush before SIGTERM"
    );
    let status = w
        .terminate(Duration::from_secs(30))
        .expect("exit after SIGTERM");
    assert!(status.success(), "{}", s.ingest_log("term"));
    let files = ingest_common::read_raw(&store).await;
    assert_eq!(landed(&files), (total, 0), "{}", s.ingest_log("term"));
    let stats = s.ingest_stats("term");
    assert_eq!(stats["messages"], c2.total_messages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_dependencies_are_retried_without_crashing_or_leaking_secrets() {
    let s = services_or_skip!();
    let closed = ingest_common::free_port().to_string();
    let dead_storage = format!("http://127.0.0.1:{closed}/{}", ingest_common::ACCOUNT);
    let dead_kafka = format!("127.0.0.1:{closed}");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 3] = [
        (
            "storage",
            vec![("RAW_ACCOUNT_URL", dead_storage.as_str())],
            "raw storage",
        ),
        (
            "redis",
            vec![("REDIS_PORT", closed.as_str())],
            "what=\"redis\"",
        ),
        (
            "kafka",
            vec![("KAFKA_BOOTSTRAP_SERVERS", dead_kafka.as_str())],
            "Kafka client error",
        ),
    ];
    for (name, env, expect) in cases {
        let mut w = s.spawn_ingest(name, &env);
        let mut log = String::new();
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            log = s.ingest_log(name);
            if log.contains(expect) {
                break;
            }
        }
        assert!(w.is_running(), "{name}: worker exited:\n{log}");
        assert!(
            log.contains(expect),
            "{name}: no clear message ({expect}):\n{log}"
        );
        assert!(
            !log.contains(ingest_common::ACCOUNT_KEY),
            "{name}: account key in the logs"
        );
        let status = w
            .terminate(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("{name}: no exit after SIGTERM:\n{}", s.ingest_log(name)));
        assert!(status.success(), "{name}: {status}");
    }
}

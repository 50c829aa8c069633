//! Local services for the ingest tests: a tansu broker (sqlite storage), redis-server and Azurite,
//! started by the shared test kit on free 127.0.0.1 ports and killed on drop. A missing binary
//! skips the test with a notice, and fails it under CI (overrides: TANSU_BIN, REDIS_SERVER_BIN,
//! AZURITE_BLOB_BIN).
#![allow(dead_code, clippy::unwrap_used)]

use flate2::read::GzDecoder;
use futures::TryStreamExt;
use object_store::ObjectStore;
use runtime::ingest::config::IngestConfig;
use runtime::ingest::sink::RawSink;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_kit::{Service, Tool};

/// Azurite's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Skips the calling test (returns) when the services cannot start.
#[macro_export]
macro_rules! services_or_skip {
    () => {
        match ingest_common::Services::start() {
            Some(s) => s,
            None => return,
        }
    };
}

/// A free port on 127.0.0.1 (the shared test kit's).
pub fn free_port() -> u16 {
    test_kit::free_port()
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Services {
    dir: Option<tempfile::TempDir>,
    pub kafka_port: u16,
    pub redis_port: u16,
    pub blob_port: u16,
    services: Vec<Service>,
}

impl Services {
    /// Starts tansu, redis and Azurite; `None` (with a printed notice) when one is missing, a
    /// panic under CI.
    pub fn start() -> Option<Services> {
        let tansu = Tool::Tansu.for_test()?;
        let redis = Tool::Redis.for_test()?;
        let azurite = Tool::Azurite.for_test()?;
        let started = (|| -> anyhow::Result<[Service; 3]> {
            Ok([
                test_kit::tansu(&tansu)?,
                test_kit::redis(&redis)?,
                test_kit::Azurite::new(&azurite).start()?,
            ])
        })();
        let [kafka, redis, blob] =
            started.unwrap_or_else(|e| panic!("a service did not start: {e:#}"));
        let s = Services {
            dir: Some(tempfile::tempdir().unwrap()),
            kafka_port: kafka.port,
            redis_port: redis.port,
            blob_port: blob.port,
            services: vec![kafka, redis, blob],
        };
        s.create_container("raw");
        Some(s)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    pub fn account_url(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.blob_port)
    }

    fn create_container(&self, name: &str) {
        let key = azure::storage::AccountKey::new(ACCOUNT, ACCOUNT_KEY).unwrap();
        let client = azure::storage::BlobClient::new(
            &self.account_url(),
            azure::storage::BlobAuth::SharedKey(key),
        )
        .unwrap();
        let path = format!("{name}?restype=container");
        // Runs on its own thread: callers may already be inside a tokio runtime.
        let status = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                client
                    .send(azure::Method::PUT, &path, &[], bytes::Bytes::new())
                    .await
                    .unwrap()
                    .status
            })
        })
        .join()
        .unwrap();
        assert!(
            (200..300).contains(&status) || status == 409,
            "create container: {status}"
        );
    }

    /// Ingest settings pointing at these services.
    pub fn ingest_env(&self) -> Vec<(String, String)> {
        [
            ("KAFKA_BOOTSTRAP_SERVERS", self.bootstrap()),
            ("REDIS_HOST", "127.0.0.1".into()),
            ("REDIS_PORT", self.redis_port.to_string()),
            ("RAW_ACCOUNT_URL", self.account_url()),
            ("RAW_ACCOUNT_KEY", ACCOUNT_KEY.into()),
            ("RAW_CONTAINER", "raw".into()),
            ("REDIS_EXPIRY", "600".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Starts the `ingest` binary with extra env; stdout/stderr go to `<dir>/<name>.{out,err}`.
    pub fn spawn_ingest(&self, name: &str, extra: &[(&str, &str)]) -> Proc {
        let out = std::fs::File::create(self.path().join(format!("{name}.out"))).unwrap();
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path().join(format!("{name}.err")))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ingest"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.ingest_env());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.stdout(out).stderr(err).spawn().unwrap();
        Proc {
            child,
            name: name.into(),
        }
    }

    /// The final stats line an ingest process printed.
    pub fn ingest_stats(&self, name: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.path().join(format!("{name}.out"))).unwrap_or_default();
        serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null)
    }

    pub fn ingest_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(format!("{name}.err"))).unwrap_or_default()
    }

    /// A reader of the raw container.
    pub fn raw_store(&self) -> Arc<dyn ObjectStore> {
        use clap::Parser;
        let cfg = IngestConfig::parse_from([
            "ingest",
            "--raw-account-url",
            &self.account_url(),
            "--raw-account-key",
            ACCOUNT_KEY,
        ]);
        RawSink::from_config(&cfg).unwrap().store().clone()
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/0", self.redis_port))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Loadgen settings for these services.
    pub fn loadgen(&self, games: u64, seed: u64) -> runtime::loadgen::LoadgenConfig {
        use clap::Parser;
        runtime::loadgen::LoadgenConfig::parse_from([
            "loadgen",
            "--bootstrap-servers",
            &self.bootstrap(),
            "--games",
            &games.to_string(),
            "--seed",
            &seed.to_string(),
            "--start-time",
            "2024-01-13T23:59:20",
            "--redis-host",
            "127.0.0.1",
            "--redis-port",
            &self.redis_port.to_string(),
        ])
    }

    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/nonexistent"))
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.services.clear();
        if std::thread::panicking() {
            if let Some(d) = self.dir.take() {
                eprintln!("test failed: service logs kept in {}", d.keep().display());
            }
        }
    }
}

/// Every file of the raw container: path -> decompressed JSON array.
pub async fn read_raw(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, serde_json::Value> {
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut out = BTreeMap::new();
    for m in metas {
        let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
        let mut text = String::new();
        GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{} is not gzip: {e}", m.location));
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", m.location));
        out.insert(m.location.to_string(), v);
    }
    out
}

/// `(topic, partition, offset)` of every row of every file under `folder`, with repeats.
pub fn offsets_in(
    files: &BTreeMap<String, serde_json::Value>,
    folder: &str,
) -> Vec<(String, i64, i64)> {
    files
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{folder}/")))
        .flat_map(|(_, v)| v.as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["topic"].as_str().unwrap_or_default().to_string(),
                r["partition"].as_i64().unwrap_or(-1),
                r["offset"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// Rows under `folder`.
pub fn rows_in(files: &BTreeMap<String, serde_json::Value>, folder: &str) -> usize {
    files
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{folder}/")))
        .map(|(_, v)| v.as_array().map_or(0, |a| a.len()))
        .sum()
}

/// Polls raw storage until `done(files)` or the timeout; returns the last listing.
pub async fn wait_for_raw(
    store: &Arc<dyn ObjectStore>,
    timeout: Duration,
    done: impl Fn(&BTreeMap<String, serde_json::Value>) -> bool,
) -> BTreeMap<String, serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let files = read_raw(store).await;
        if done(&files) || Instant::now() > deadline {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Distinct message positions landed (buffer_meta + _quarantine) and how many rows repeat one.
pub fn landed(files: &BTreeMap<String, serde_json::Value>) -> (usize, usize) {
    let mut all = offsets_in(files, "buffer_meta");
    all.extend(offsets_in(files, "_quarantine"));
    let distinct: BTreeSet<_> = all.iter().cloned().collect();
    (distinct.len(), all.len() - distinct.len())
}

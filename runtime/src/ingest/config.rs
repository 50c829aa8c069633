//! Worker settings: the original's environment variables plus the raw-storage ones, each also a flag.

use crate::ingest::gzip::RawGzip;
use clap::Parser;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Kafka topics -> raw gzip-JSON batches, exactly once, offsets in Redis.
#[derive(Debug, Clone, Parser)]
#[command(name = "ingest", version)]
pub struct IngestConfig {
    /// Kafka broker host.
    #[arg(long, env = "KAFKA_HOST", default_value = "localhost")]
    pub kafka_host: String,
    /// Kafka broker port.
    #[arg(long, env = "KAFKA_PORT", default_value_t = 9092)]
    pub kafka_port: u16,
    /// Full bootstrap list (`host:port,...`); overrides KAFKA_HOST/KAFKA_PORT.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// Topics to consume.
    #[arg(
        long,
        env = "INGEST_TOPICS",
        value_delimiter = ',',
        default_value = "lib.server.lobby,lib.server.game"
    )]
    pub topics: Vec<String>,
    /// Consumer group; run more instances with the same group to scale out.
    #[arg(long, env = "INGEST_GROUP_ID", default_value = "superhero_ingest")]
    pub group_id: String,
    /// Close a partition's batch at this many messages.
    #[arg(long, env = "BATCH_SIZE", default_value_t = 1000)]
    pub batch_size: usize,
    /// Close a partition's batch when its oldest message has waited this many seconds.
    #[arg(long, env = "BATCH_MAX_AGE", default_value_t = 30.0)]
    pub batch_max_age: f64,
    /// Give up a flush (and re-read its messages) after this many seconds of storage/Redis errors.
    /// Keep it well below the consumer's max.poll.interval (300 s).
    #[arg(long, env = "FLUSH_TIMEOUT", default_value_t = 120.0)]
    pub flush_timeout: f64,
    #[arg(long, env = "REDIS_HOST", default_value = "localhost")]
    pub redis_host: String,
    #[arg(long, env = "REDIS_PORT", default_value_t = 6379)]
    pub redis_port: u16,
    #[arg(long, env = "REDIS_DB", default_value_t = 0)]
    pub redis_db: i64,
    #[arg(long, env = "REDIS_PASSWORD", hide_env_values = true)]
    pub redis_password: Option<Secret>,
    /// TTL (seconds) the clean-up sets on a finished game's keys.
    #[arg(long, env = "REDIS_EXPIRY", default_value_t = 30)]
    pub redis_expiry: i64,
    /// Do not run the Redis clean-up for `Cleaning Game Records`.
    #[arg(long, env = "INGEST_NO_CLEANUP")]
    pub no_cleanup: bool,
    /// Blob endpoint of the raw account: `https://<acct>.blob.core.windows.net` or, for an emulator,
    /// `http://127.0.0.1:<port>/<acct>`.
    #[arg(long, env = "RAW_ACCOUNT_URL")]
    pub raw_account_url: Option<String>,
    /// Container of the raw files.
    #[arg(long, env = "RAW_CONTAINER", default_value = "raw")]
    pub raw_container: String,
    /// Shared key of the raw account (local/emulator use). Without it, Entra credentials are used
    /// (AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID, workload or managed identity).
    #[arg(long, env = "RAW_ACCOUNT_KEY", hide_env_values = true)]
    pub raw_account_key: Option<Secret>,
    /// How the raw files are gzipped: `rows` (the default), an encoder made for these JSON rows
    /// (back-references only where a string starts, one deflate block per file), or a zlib level
    /// 0-9. `rows` costs a fraction of zlib level 2's CPU for files about as small
    /// (runtime/docs/ingest-performance.md). Every setting writes ordinary gzip of the same JSON,
    /// so a replay with another setting rewrites the same content.
    #[arg(long, env = "RAW_GZIP_LEVEL", default_value_t = RawGzip::Rows)]
    pub raw_gzip_level: RawGzip,
    /// Write to this local directory instead of blob storage (tests, benchmarks).
    #[arg(long, env = "RAW_LOCAL_DIR", conflicts_with = "raw_account_url")]
    pub raw_local_dir: Option<PathBuf>,
    /// Extra librdkafka consumer properties, `key=value` (comma-separated in the env var), e.g.
    /// `max.partition.fetch.bytes=4194304`.
    #[arg(
        long = "kafka-config",
        env = "KAFKA_CONSUMER_CONFIG",
        value_delimiter = ','
    )]
    pub kafka_config: Vec<String>,
    /// Consumer-group session timeout: how long a dead worker keeps its partitions.
    #[arg(long, env = "KAFKA_SESSION_TIMEOUT_MS", default_value_t = 10_000)]
    pub session_timeout_ms: u32,
    /// Test hook: abort the process right after the N-th batch's files are uploaded, before its
    /// offset is committed (proves replays rewrite the same files).
    #[arg(long, env = "INGEST_FAULT_ABORT_AFTER_UPLOADS", hide = true)]
    pub fault_abort_after_uploads: Option<u64>,
    /// Log as JSON lines.
    #[arg(long, env = "LOG_JSON")]
    pub log_json: bool,
}

impl IngestConfig {
    pub fn bootstrap(&self) -> String {
        self.bootstrap_servers
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.kafka_host, self.kafka_port))
    }

    pub fn batch_max_age(&self) -> Duration {
        Duration::from_secs_f64(self.batch_max_age.max(0.001))
    }

    pub fn flush_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.flush_timeout.max(1.0))
    }

    /// Redis connection info (password kept out of any printed form).
    pub fn redis_info(&self) -> redis::ConnectionInfo {
        redis::ConnectionInfo {
            addr: redis::ConnectionAddr::Tcp(self.redis_host.clone(), self.redis_port),
            redis: redis::RedisConnectionInfo {
                db: self.redis_db,
                password: self.redis_password.as_ref().map(|p| p.expose().to_string()),
                ..Default::default()
            },
        }
    }

    /// Checks values clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("BATCH_SIZE must be at least 1".into());
        }
        if self.batch_max_age.is_nan() || self.batch_max_age <= 0.0 {
            return Err("BATCH_MAX_AGE must be a positive number of seconds".into());
        }
        if self.topics.iter().all(|t| t.trim().is_empty()) {
            return Err("no topics to consume".into());
        }
        if self.raw_account_url.is_none() && self.raw_local_dir.is_none() {
            return Err("set RAW_ACCOUNT_URL (blob storage) or RAW_LOCAL_DIR".into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_printed() {
        let c = IngestConfig::parse_from([
            "ingest",
            "--raw-account-url",
            "http://127.0.0.1:1/acct",
            "--raw-account-key",
            "c3VwZXJzZWNyZXQ=",
            "--redis-password",
            "hunter2",
        ]);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("c3VwZXJzZWNyZXQ="), "{dbg}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert_eq!(c.bootstrap(), "localhost:9092");
        assert_eq!(c.topics, vec!["lib.server.lobby", "lib.server.game"]);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn rejects_nonsense() {
        let c = IngestConfig::parse_from(["ingest", "--batch-size", "0", "--raw-local-dir", "/x"]);
        assert!(c.validate().is_err());
        let c = IngestConfig::parse_from(["ingest"]);
        assert!(c.validate().unwrap_err().contains("RAW_ACCOUNT_URL"));
    }

    #[test]
    fn raw_gzip_setting_defaults_to_rows_and_a_bad_one_names_the_choices() {
        let c = IngestConfig::parse_from(["ingest"]);
        assert_eq!(c.raw_gzip_level, RawGzip::Rows);
        let c = IngestConfig::parse_from(["ingest", "--raw-gzip-level", "6"]);
        assert_eq!(c.raw_gzip_level, RawGzip::Zlib(6));
        for bad in ["10", "fast"] {
            let err = IngestConfig::try_parse_from(["ingest", "--raw-gzip-level", bad])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("--raw-gzip-level") && err.contains("`rows`") && err.contains("0-9"),
                "{err}"
            );
        }
    }
}

//! Superhero game-server load generator.
//!
//! - [`plan`]: sans-io game simulation; the messages are a pure function of the seed.
//! - [`heroes`]: the hero table (stat ranges of the original).
//! - [`report`]: the counts printed as JSON.
//! - [`producer`]: topic creation and producing.
//! - [`redis_state`]: the game-state keys the game server would leave in Redis.

pub mod heroes;
pub mod plan;
pub mod producer;
pub mod redis_state;
pub mod report;

use crate::ingest::records::{GAME_TOPIC, LOBBY_TOPIC};
use chrono::NaiveDateTime;
use clap::Parser;
use futures::future::join_all;
use plan::{PlanOptions, Planner};
use report::Counts;
use std::time::Duration;
use tokio::time::Instant;

/// Produce simulated superhero game-server logs to Kafka.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", version)]
pub struct LoadgenConfig {
    #[arg(long, env = "KAFKA_HOST", default_value = "localhost")]
    pub kafka_host: String,
    #[arg(long, env = "KAFKA_PORT", default_value_t = 9092)]
    pub kafka_port: u16,
    /// Full bootstrap list; overrides KAFKA_HOST/KAFKA_PORT.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// Games to play.
    #[arg(long, default_value_t = 100)]
    pub games: u64,
    /// Seed of the game plan (same seed, same messages).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Messages per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Envelope time of the first message (`YYYY-MM-DDTHH:MM:SS`, UTC); default now.
    #[arg(long)]
    pub start_time: Option<String>,
    /// Share of lobbies that time out.
    #[arg(long, default_value_t = 0.05)]
    pub timeout_ratio: f64,
    /// Insert one bad message after every N good ones (0 = none).
    #[arg(long, default_value_t = 0)]
    pub poison_every: u64,
    /// Also write each game's Redis keys as the game server does.
    #[arg(long)]
    pub write_redis: bool,
    #[arg(long, env = "REDIS_HOST", default_value = "localhost")]
    pub redis_host: String,
    #[arg(long, env = "REDIS_PORT", default_value_t = 6379)]
    pub redis_port: u16,
    #[arg(long, env = "REDIS_DB", default_value_t = 0)]
    pub redis_db: i64,
    /// Do not create the topics.
    #[arg(long)]
    pub no_create_topics: bool,
    /// Create the topics and exit.
    #[arg(long)]
    pub create_topics_only: bool,
    /// Print the counts of the plan without producing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the counts JSON to this file.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
}

impl LoadgenConfig {
    pub fn bootstrap(&self) -> String {
        self.bootstrap_servers
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.kafka_host, self.kafka_port))
    }

    pub fn plan_options(&self) -> Result<PlanOptions, String> {
        let start = match &self.start_time {
            Some(s) => crate::ingest::timefmt::parse_loose(s)
                .ok_or_else(|| format!("--start-time {s:?} is not YYYY-MM-DDTHH:MM:SS"))?,
            None => chrono::Utc::now().naive_utc(),
        };
        let mut o = PlanOptions::new(self.seed, self.games, start);
        if self.rate > 0.0 {
            o.step = chrono::Duration::microseconds((1e6 / self.rate) as i64);
        }
        o.timeout_ratio = self.timeout_ratio.clamp(0.0, 1.0);
        o.poison_every = self.poison_every;
        Ok(o)
    }
}

/// Counts of a plan without any I/O.
pub fn count_plan(opts: &PlanOptions) -> Counts {
    let mut c = Counts::new(opts.seed, opts.lobby_partitions, opts.game_partitions);
    for g in Planner::new(opts.clone()) {
        c.add(&g);
    }
    c
}

/// The topics with the original's partition counts.
pub const TOPICS: [(&str, i32); 2] = [(LOBBY_TOPIC, 2), (GAME_TOPIC, 4)];

/// Runs the generator: creates topics, produces every planned message (rate-limited), optionally
/// writes Redis game state, and returns the counts.
pub async fn run(cfg: &LoadgenConfig) -> anyhow::Result<Counts> {
    let opts = cfg.plan_options().map_err(anyhow::Error::msg)?;
    if cfg.dry_run {
        return Ok(count_plan(&opts));
    }
    let bootstrap = cfg.bootstrap();
    if !cfg.no_create_topics {
        producer::ensure_topics(&bootstrap, &TOPICS).await?;
    }
    let mut counts = Counts::new(opts.seed, opts.lobby_partitions, opts.game_partitions);
    if cfg.create_topics_only {
        return Ok(counts);
    }
    let mut redis = if cfg.write_redis {
        let info = redis::ConnectionInfo {
            addr: redis::ConnectionAddr::Tcp(cfg.redis_host.clone(), cfg.redis_port),
            redis: redis::RedisConnectionInfo {
                db: cfg.redis_db,
                ..Default::default()
            },
        };
        Some(redis::aio::ConnectionManager::new(redis::Client::open(info)?).await?)
    } else {
        None
    };
    let producer = producer::producer(&bootstrap)?;
    let started = Instant::now();
    let interval = (cfg.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / cfg.rate));
    let mut inflight = Vec::new();
    let mut sent: u64 = 0;
    for game in Planner::new(opts) {
        if let Some(conn) = redis.as_mut() {
            redis_state::write_game(conn, &game.state).await?;
        }
        for m in &game.messages {
            if let Some(step) = interval {
                let due = started + step.mul_f64(sent as f64);
                tokio::time::sleep_until(due).await;
            }
            inflight.push(producer::enqueue(&producer, m).await?);
            sent += 1;
            if inflight.len() >= 5_000 {
                settle(&mut counts, std::mem::take(&mut inflight)).await;
            }
        }
        counts.add(&game);
    }
    settle(&mut counts, inflight).await;
    producer::flush(&producer)?;
    counts.elapsed_secs = started.elapsed().as_secs_f64();
    counts.messages_per_sec = if counts.elapsed_secs > 0.0 {
        counts.total_messages as f64 / counts.elapsed_secs
    } else {
        0.0
    };
    Ok(counts)
}

async fn settle(counts: &mut Counts, inflight: Vec<rdkafka::producer::DeliveryFuture>) {
    for r in join_all(inflight).await {
        match r {
            Ok(Ok(_)) => counts.delivered += 1,
            Ok(Err((e, _))) => {
                counts.delivery_failures += 1;
                tracing::warn!(error = %e, "delivery failed");
            }
            Err(_) => counts.delivery_failures += 1,
        }
    }
}

/// Parses a naive UTC time (helper for tests).
pub fn parse_start(s: &str) -> Option<NaiveDateTime> {
    crate::ingest::timefmt::parse_loose(s)
}

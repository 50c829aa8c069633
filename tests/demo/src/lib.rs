//! The whole pipeline on the local cloud, as a user meets it: local cloud up, `provision up`, the
//! load generator and the ingest worker, the function turning every raw file into Parquet, a
//! summary with a sample query, then `provision down`. The integration test runs the same flow.

mod summary;
mod tools;

pub use summary::print_human;
pub use tools::sibling_bin;

use local_cloud::blob_client::BlobClient;
use local_cloud::config::EmulatorConfig;
use local_cloud::state::lock;
use local_cloud::Emulator;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use summary::{gunzip_json, summarise};
use test_kit::{Service, Tool};
use tools::{run_tool, run_tool_streaming, Progress};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub games: u64,
    pub seed: u64,
    pub keep: bool,
    /// Emulator port; 18080 is what environments/local.toml points at.
    pub emulator_port: u16,
    /// A prebuilt package zip; otherwise `provision` builds function/ itself.
    pub package: Option<PathBuf>,
    pub batch_size: u64,
    pub timeout: Duration,
    pub workspace: PathBuf,
    pub progress: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TableSummary {
    pub files: usize,
    pub rows: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct DemoReport {
    pub seed: u64,
    pub games: u64,
    pub stages: Vec<(String, f64)>,
    pub loadgen: Value,
    pub tables: BTreeMap<String, TableSummary>,
    pub raw_files: usize,
    pub quarantined_messages: usize,
    pub quarantined_files: usize,
    /// Distinct (topic, partition, offset) in buffer_meta Parquet, and how many rows it has.
    pub buffer_distinct_offsets: usize,
    pub log_distinct_msg_ids: usize,
    pub top_heroes: Vec<(u64, u64)>,
    pub verify_ok: bool,
    pub drift_in_sync: bool,
    pub down_ok: Option<bool>,
}

/// Redis or the tansu broker on a free loopback port (the kit waits for it off the runtime).
async fn start_service(tool: Tool) -> anyhow::Result<Service> {
    let bin = tool.locate()?;
    tokio::task::spawn_blocking(move || match tool {
        Tool::Tansu => test_kit::tansu(&bin),
        Tool::Redis => test_kit::redis(&bin),
        Tool::Azurite => test_kit::Azurite::new(&bin).start(),
    })
    .await?
}

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    run_on_plan(opts, "B1").await
}

/// The demo on another App Service plan sku (`demo --plan FC1`); `run` is B1, as environments/local.toml.
pub async fn run_on_plan(opts: DemoOptions, plan: &str) -> anyhow::Result<DemoReport> {
    let p = Progress(opts.progress);
    let mut report = DemoReport {
        seed: opts.seed,
        games: opts.games,
        ..Default::default()
    };
    let stage = |name: &str, started: Instant, report: &mut DemoReport| {
        report
            .stages
            .push((name.to_string(), started.elapsed().as_secs_f64()))
    };

    let t = Instant::now();
    p.say("starting the local cloud: emulator (Entra + ARM + Graph + Functions host, Azurite per account), Redis, tansu");
    let data = tempfile::tempdir()?;
    let emulator = Emulator::start(
        EmulatorConfig::new(data.path().to_path_buf()),
        opts.emulator_port,
    )
    .await?;
    let redis = start_service(Tool::Redis).await?;
    let kafka = start_service(Tool::Tansu).await?;
    stage("local cloud up", t, &mut report);

    let provision = sibling_bin("provision")?;
    let env_args: Vec<String> = if opts.emulator_port == 18080 && plan == "B1" {
        vec!["--env".into(), "local".into()]
    } else {
        let text = std::fs::read_to_string(opts.workspace.join("environments/local.toml"))?
            .replace("http://127.0.0.1:18080", &emulator.url())
            .replace("sku = \"B1\"", &format!("sku = \"{plan}\""));
        let file = data.path().join("local.toml");
        std::fs::write(&file, text)?;
        vec!["--env-file".into(), file.display().to_string()]
    };
    let secret = [(
        "AZURE_CLIENT_SECRET",
        local_cloud::DEPLOYER_SECRET.to_string(),
    )];
    let provision_run = |args: Vec<&str>| {
        let mut full: Vec<String> = args.into_iter().map(str::to_string).collect();
        full.extend(env_args.iter().cloned());
        full
    };

    let t = Instant::now();
    p.say("provision up --env local --yes (builds and deploys the function package)");
    let mut up_args = provision_run(vec!["up", "--yes"]);
    if let Some(pkg) = &opts.package {
        up_args.extend(["--package".to_string(), pkg.display().to_string()]);
    }
    let (code, out, err) =
        run_tool_streaming(&provision, &up_args, &secret, &opts.workspace, &p).await?;
    if code != 0 {
        anyhow::bail!("provision up failed ({code}):\n{out}\n{err}");
    }
    stage("provision up", t, &mut report);

    let (code, out, err) = run_tool(
        &provision,
        &provision_run(vec!["output", "--output", "json"]),
        &secret,
        &opts.workspace,
    )
    .await?;
    if code != 0 {
        anyhow::bail!("provision output failed ({code}):\n{out}\n{err}");
    }
    let outputs: Value = serde_json::from_str(out.trim()).map_err(|e| {
        anyhow::anyhow!("provision output --output json printed no JSON ({e}): {out}")
    })?;
    let raw_account = outputs["raw_account"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let standard_account = outputs["standard_account"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let raw_data = lock(&emulator.state.cloud)
        .accounts
        .get(&raw_account)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("raw account {raw_account} missing"))?;
    let standard_data = lock(&emulator.state.cloud)
        .accounts
        .get(&standard_account)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("standard account missing"))?;

    let t = Instant::now();
    p.say(&format!(
        "load generator: {} games, seed {}",
        opts.games, opts.seed
    ));
    let loadgen = sibling_bin("loadgen")?;
    let (code, out, err) = run_tool(
        &loadgen,
        &[
            "--bootstrap-servers".into(),
            format!("127.0.0.1:{}", kafka.port),
            "--games".into(),
            opts.games.to_string(),
            "--seed".into(),
            opts.seed.to_string(),
        ],
        &[],
        &opts.workspace,
    )
    .await?;
    if code != 0 {
        anyhow::bail!("loadgen failed ({code}): {err}");
    }
    report.loadgen = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_default();
    let expected: u64 = report.loadgen["valid_messages"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    stage("load generator", t, &mut report);

    let t = Instant::now();
    p.say("ingest worker: Kafka → raw batch files (exactly once, offsets in Redis)");
    let ingest = sibling_bin("ingest")?;
    let raw_url = raw_data.blob_endpoint().trim_end_matches('/').to_string();
    let mut worker = tokio::process::Command::new(&ingest)
        .env("KAFKA_HOST", "127.0.0.1")
        .env("KAFKA_PORT", kafka.port.to_string())
        .env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", redis.port.to_string())
        .env("BATCH_SIZE", opts.batch_size.to_string())
        .env("BATCH_MAX_AGE", "2")
        .env("RAW_ACCOUNT_URL", &raw_url)
        .env("RAW_ACCOUNT_KEY", &raw_data.key1)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let raw = BlobClient::new(&emulator.state.http, raw_data.clone());
    let deadline = Instant::now() + opts.timeout;
    let mut landed = 0usize;
    let mut raw_cache: HashMap<String, usize> = HashMap::new();
    while Instant::now() < deadline {
        landed = 0;
        for item in raw.list_blobs("raw").await.unwrap_or_default() {
            if !(item.name.starts_with("buffer_meta/") || item.name.starts_with("_quarantine/")) {
                continue;
            }
            if !raw_cache.contains_key(&item.name) {
                let count = raw
                    .get_blob("raw", &item.name)
                    .await
                    .ok()
                    .and_then(|b| gunzip_json(&b))
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0);
                raw_cache.insert(item.name.clone(), count);
            }
            landed += raw_cache[&item.name];
        }
        if landed as u64 >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if let Some(pid) = worker.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), worker.wait()).await;
    if (landed as u64) < expected {
        anyhow::bail!("ingest landed {landed} of {expected} messages in raw before the timeout");
    }
    stage("ingest to raw", t, &mut report);

    let t = Instant::now();
    p.say("waiting for the function to turn every raw file into Parquet (Event Grid → custom handler)");
    let standard = BlobClient::new(&emulator.state.http, standard_data);
    let raw_names: Vec<String> = raw
        .list_blobs("raw")
        .await?
        .into_iter()
        .map(|b| b.name)
        .filter(|n| !n.starts_with("_quarantine/") && !n.starts_with("_canary/"))
        .collect();
    report.raw_files = raw_names.len();
    let wanted: BTreeSet<String> = raw_names
        .iter()
        .map(|n| n.trim_end_matches(".json.gzip").to_string())
        .collect();
    loop {
        let present: BTreeSet<String> = standard
            .list_blobs("standard")
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|b| {
                b.name
                    .trim_start_matches("_quarantine/")
                    .trim_end_matches(".parquet")
                    .trim_end_matches(".json.gzip")
                    .to_string()
            })
            .collect();
        let missing = wanted.difference(&present).count();
        if missing == 0 {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "{missing} of {} raw files have no Parquet after the timeout",
                wanted.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stage("function to Parquet", t, &mut report);

    let t = Instant::now();
    summarise(&standard, &raw, &mut report).await?;
    stage("summary query", t, &mut report);

    let t = Instant::now();
    let mut drift_args = provision_run(vec!["drift"]);
    if let Some(pkg) = &opts.package {
        drift_args.extend(["--package".to_string(), pkg.display().to_string()]);
    }
    let (code, _, _) = run_tool(&provision, &drift_args, &secret, &opts.workspace).await?;
    report.drift_in_sync = code == 0;
    let (code, out, err) = run_tool(
        &provision,
        &provision_run(vec!["verify"]),
        &secret,
        &opts.workspace,
    )
    .await?;
    report.verify_ok = code == 0;
    if code != 0 {
        p.say(&format!("verify failed: {out}{err}"));
    }
    stage("drift + verify", t, &mut report);

    if !opts.keep {
        let t = Instant::now();
        p.say("provision down --env local --yes");
        let (code, out, err) = run_tool(
            &provision,
            &provision_run(vec!["down", "--yes"]),
            &secret,
            &opts.workspace,
        )
        .await?;
        report.down_ok = Some(code == 0);
        if code != 0 {
            p.say(&format!("down failed: {out}{err}"));
        }
        stage("provision down", t, &mut report);
    }
    drop(redis);
    drop(kafka);
    if opts.keep {
        p.say(&format!(
            "--keep: the local cloud stays up at {} until you press Ctrl-C",
            emulator.url()
        ));
        let _ = tokio::signal::ctrl_c().await;
    }
    emulator.shutdown().await;
    Ok(report)
}

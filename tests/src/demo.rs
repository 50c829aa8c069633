//! The whole pipeline on the local cloud, as a user meets it: local cloud up, `provision up`, the
//! load generator and the ingest worker, the function turning every raw file into Parquet, a
//! summary with a sample query, then `provision down`. The integration test runs the same flow.

use crate::blob_client::BlobClient;
use crate::config::EmulatorConfig;
use crate::Emulator;
use arrow::array::{Array, AsArray};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// A binary built beside the running one (`target/<profile>/`), also from `deps/`.
pub fn sibling_bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    for _ in 0..2 {
        if dir.join(name).is_file() {
            return Ok(dir.join(name));
        }
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    anyhow::bail!(
        "{name} is not built next to {}; run `cargo build --workspace --bins` first",
        exe.display()
    )
}

struct Progress(bool);

impl Progress {
    fn say(&self, message: &str) {
        if self.0 {
            eprintln!("[demo] {message}");
        }
    }
}

async fn run_tool(
    bin: &Path,
    args: &[String],
    envs: &[(&str, String)],
    cwd: &Path,
) -> anyhow::Result<(i32, String, String)> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", bin.display()))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn gunzip_json(bytes: &[u8]) -> Option<Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(&text).ok()
}

fn read_parquet(bytes: Vec<u8>) -> anyhow::Result<Vec<arrow::record_batch::RecordBatch>> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )?
    .build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

fn strings(batch: &arrow::record_batch::RecordBatch, column: &str) -> Vec<String> {
    batch
        .column_by_name(column)
        .and_then(|c| {
            c.as_string_opt::<i32>()
                .map(|a| (0..a.len()).map(|i| a.value(i).to_string()).collect())
        })
        .unwrap_or_default()
}

fn numbers(batch: &arrow::record_batch::RecordBatch, column: &str) -> Vec<u64> {
    let Some(col) = batch.column_by_name(column) else {
        return vec![];
    };
    let Ok(cast) = arrow::compute::cast(col, &arrow::datatypes::DataType::UInt64) else {
        return vec![];
    };
    let array = cast.as_primitive::<arrow::datatypes::UInt64Type>();
    (0..array.len()).map(|i| array.value(i)).collect()
}

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
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
    let redis = crate::services::redis().await?;
    let kafka = crate::services::kafka().await?;
    stage("local cloud up", t, &mut report);

    let provision = sibling_bin("provision")?;
    let env_args: Vec<String> = if opts.emulator_port == 18080 {
        vec!["--env".into(), "local".into()]
    } else {
        let text = std::fs::read_to_string(opts.workspace.join("environments/local.toml"))?
            .replace("http://127.0.0.1:18080", &emulator.url());
        let file = data.path().join("local.toml");
        std::fs::write(&file, text)?;
        vec!["--env-file".into(), file.display().to_string()]
    };
    let secret = [("AZURE_CLIENT_SECRET", crate::DEPLOYER_SECRET.to_string())];
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
    let (code, out, err) = run_tool(&provision, &up_args, &secret, &opts.workspace).await?;
    if code != 0 {
        anyhow::bail!("provision up failed ({code}):\n{out}\n{err}");
    }
    stage("provision up", t, &mut report);

    let (_, out, _) = run_tool(
        &provision,
        &provision_run(vec!["output", "--json"]),
        &secret,
        &opts.workspace,
    )
    .await?;
    let outputs: Value = serde_json::from_str(out.trim())?;
    let raw_account = outputs["raw_account"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let standard_account = outputs["standard_account"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let raw_data = crate::server::lock(&emulator.state.cloud)
        .accounts
        .get(&raw_account)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("raw account {raw_account} missing"))?;
    let standard_data = crate::server::lock(&emulator.state.cloud)
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

async fn summarise(
    standard: &BlobClient<'_>,
    raw: &BlobClient<'_>,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let mut offsets = BTreeSet::new();
    let mut log_ids = BTreeSet::new();
    let mut heroes: HashMap<(String, String), u64> = HashMap::new();
    let mut damage: Vec<(String, String, u64)> = Vec::new();
    for item in standard.list_blobs("standard").await? {
        if item.name.starts_with("_quarantine/") {
            report.quarantined_files += 1;
            continue;
        }
        let folder = item.name.split('/').next().unwrap_or_default().to_string();
        let batches = read_parquet(standard.get_blob("standard", &item.name).await?)?;
        let entry = report.tables.entry(folder.clone()).or_default();
        entry.files += 1;
        for b in &batches {
            entry.rows += b.num_rows();
            match folder.as_str() {
                "buffer_meta" => {
                    let (topics, parts, offs) = (
                        strings(b, "topic"),
                        numbers(b, "partition"),
                        numbers(b, "offset"),
                    );
                    for i in 0..b.num_rows() {
                        offsets.insert((topics[i].clone(), parts[i], offs[i]));
                    }
                }
                "log_meta" => log_ids.extend(strings(b, "msg_id")),
                "lib_server_lobby" => {
                    let (g, u, h) = (
                        strings(b, "game_token"),
                        strings(b, "user_token"),
                        numbers(b, "superhero_id"),
                    );
                    for i in 0..b.num_rows() {
                        heroes.insert((g[i].clone(), u[i].clone()), h[i]);
                    }
                }
                "lib_server_game" => {
                    let (g, u, d) = (
                        strings(b, "game_token"),
                        strings(b, "user_token"),
                        numbers(b, "enemy_damage"),
                    );
                    for i in 0..b.num_rows() {
                        damage.push((g[i].clone(), u[i].clone(), d[i]));
                    }
                }
                _ => {}
            }
        }
    }
    for item in raw.list_blobs("raw").await? {
        if item.name.starts_with("_quarantine/") {
            report.quarantined_messages += raw
                .get_blob("raw", &item.name)
                .await
                .ok()
                .and_then(|b| gunzip_json(&b))
                .and_then(|v| v.as_array().map(Vec::len))
                .unwrap_or(0);
        }
    }
    report.buffer_distinct_offsets = offsets.len();
    report.log_distinct_msg_ids = log_ids.len();
    let mut by_hero: HashMap<u64, u64> = HashMap::new();
    for (g, u, d) in damage {
        if let Some(hero) = heroes.get(&(g, u)) {
            *by_hero.entry(*hero).or_default() += d;
        }
    }
    let mut top: Vec<(u64, u64)> = by_hero.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(5);
    report.top_heroes = top;
    Ok(())
}

pub fn print_human(r: &DemoReport) {
    println!(
        "Superhero dataflow on the local cloud — {} games, seed {}",
        r.games, r.seed
    );
    println!("\n  {:<24} {:>8}", "stage", "seconds");
    for (name, secs) in &r.stages {
        println!("  {name:<24} {secs:>8.1}");
    }
    println!(
        "\n  {:<18} {:>6} {:>8}",
        "table (standard)", "files", "rows"
    );
    for (table, s) in &r.tables {
        println!("  {table:<18} {:>6} {:>8}", s.files, s.rows);
    }
    println!("\n  messages produced: {}   distinct offsets in buffer_meta: {}   quarantined messages: {}   quarantined files: {}",
        r.loadgen["total_messages"], r.buffer_distinct_offsets, r.quarantined_messages, r.quarantined_files);
    println!("\n  top heroes by damage dealt (lib_server_game ⋈ lib_server_lobby):");
    for (hero, dmg) in &r.top_heroes {
        println!("    hero {hero:>4}  {dmg:>14}");
    }
    println!(
        "\n  provision drift in sync: {}   provision verify: {}",
        r.drift_in_sync,
        if r.verify_ok { "ok" } else { "FAILED" }
    );
}

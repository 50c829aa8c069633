//! What landed, read back: the Parquet tables in standard, quarantined raw files, and a sample
//! query (damage per hero, joining the game and lobby tables).

use crate::DemoReport;
use arrow::array::{Array, AsArray};
use local_cloud::blob_client::BlobClient;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;

pub(crate) fn gunzip_json(bytes: &[u8]) -> Option<Value> {
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

pub(crate) async fn summarise(
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

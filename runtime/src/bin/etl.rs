//! `etl`: the function's raw -> Parquet conversion on local files, and a generator of raw batches
//! for benchmarks (runtime/benches/etl_bench.sh).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use runtime::etl::{
    convert, ConvertAllocator, ConvertOptions, ConvertOutcome, Folder, ParquetCodec,
};

#[global_allocator]
static ALLOCATOR: ConvertAllocator = ConvertAllocator;

#[derive(Parser)]
#[command(about = "Raw batch (gzip JSON array) -> Parquet, as the function does it")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert one raw batch file.
    Convert {
        /// etl_meta, buffer_meta, log_meta, lib_server_lobby or lib_server_game
        #[arg(long)]
        folder: Folder,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Rejected records as JSON lines (default: <output>.rejects.jsonl).
        #[arg(long)]
        rejects: Option<PathBuf>,
        #[arg(long, default_value = "zstd")]
        codec: ParquetCodec,
        #[arg(long, default_value_t = ConvertOptions::default().batch_rows)]
        batch_rows: usize,
    },
    /// Time each prefix of the pipeline on one raw batch held in memory (see
    /// runtime/docs/etl-performance.md).
    Stages {
        #[arg(long)]
        folder: Folder,
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = ConvertOptions::default().batch_rows)]
        batch_rows: usize,
    },
    /// Write a synthetic raw batch shaped like the original worker's files.
    Generate {
        #[arg(long)]
        folder: Folder,
        /// Stop after this many uncompressed JSON bytes.
        #[arg(long)]
        bytes: u64,
        #[arg(long)]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("etl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Convert {
            folder,
            input,
            output,
            rejects,
            codec,
            batch_rows,
        } => {
            let rejects = rejects.unwrap_or_else(|| output.with_extension("rejects.jsonl"));
            let started = Instant::now();
            let input_size = std::fs::metadata(&input)?.len();
            let outcome = convert(
                folder,
                File::open(&input)?,
                BufWriter::new(File::create(&output)?),
                File::create(&rejects)?,
                &ConvertOptions { codec, batch_rows },
            )?;
            let seconds = started.elapsed().as_secs_f64();
            let report = match &outcome {
                ConvertOutcome::Converted(s) => serde_json::json!({
                    "outcome": "converted", "rows": s.rows_written, "rejected": s.rows_rejected,
                    "row_groups": s.row_groups, "input_bytes": input_size,
                    "output_bytes": std::fs::metadata(&output)?.len(), "seconds": seconds,
                }),
                ConvertOutcome::Rejected(r) => serde_json::json!({
                    "outcome": "rejected", "kind": r.kind(), "reason": r.to_string(), "seconds": seconds,
                }),
            };
            println!("{report}");
            Ok(match outcome {
                ConvertOutcome::Converted(_) => ExitCode::SUCCESS,
                ConvertOutcome::Rejected(_) => ExitCode::from(3),
            })
        }
        Command::Stages {
            folder,
            input,
            batch_rows,
        } => {
            let raw = std::fs::read(&input)?;
            let seconds = runtime::etl::stages::measure(folder, &raw, batch_rows)?;
            println!("{}", serde_json::to_string(&seconds)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            folder,
            bytes,
            output,
        } => {
            let rows = generate(folder, bytes, &output)?;
            println!("{}", serde_json::json!({"rows": rows, "output": output}));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Rows in the original's key order and value shapes, with varying values.
fn generate(folder: Folder, limit: u64, output: &PathBuf) -> anyhow::Result<u64> {
    let file = BufWriter::new(File::create(output)?);
    let mut out = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
    let etl = "3febb019-42a1-40ff-8b3f-19e53c6ab6b9";
    let mut written = 1u64;
    let mut rows = 0u64;
    out.write_all(b"[")?;
    while written < limit {
        let i = rows;
        let msg = format!(
            "{:08x}-4e3a-4b1c-9d2e-{:012x}",
            i as u32,
            i.wrapping_mul(2_654_435_761)
        );
        let second = 1_705_190_361 + i / 50;
        let ts = chrono::DateTime::from_timestamp(second as i64, ((i % 1000) * 997_000) as u32)
            .unwrap_or_default()
            .naive_utc()
            .format("%Y-%m-%dT%H:%M:%S%.6f");
        let row = match folder {
            Folder::BufferMeta => format!(
                r#"{{"etl_id": "{etl}", "msg_id": "{msg}", "checksum": null, "headers": [], "key": "", "offset": {i}, "partition": {}, "serialized_key_size": -1, "serialized_value_size": {}, "timestamp": "{ts}", "timestamp_type": 0, "topic": "lib.server.game", "_is_protocol": false}}"#,
                i % 4,
                490 + i % 40
            ),
            Folder::LibServerGame => format!(
                r#"{{"etl_id": "{etl}", "msg_id": "{msg}", "timestamp": "{}", "game_token": "45ffb65d-9f9b-46d3-adae-{:012x}", "user_token": "2db3997f-e396-49be-ba60-{:012x}", "action": "ATTACK", "enemy_token": "e4c717fd-fe48-4f63-9e56-{:012x}", "enemy_damage": {}, "enemy_health_prior": {}, "enemy_health_post": {}}}"#,
                chrono::DateTime::from_timestamp(second as i64, 0)
                    .unwrap_or_default()
                    .naive_utc()
                    .format("%Y-%m-%dT%H:%M:%S.000000"),
                i / 30,
                i % 3,
                (i + 1) % 3,
                1 + i * 7919 % 1_000_000,
                10 + i * 104_729 % 10_000_000,
                (10 + i * 104_729 % 10_000_000).saturating_sub(1 + i * 7919 % 1_000_000)
            ),
            other => {
                anyhow::bail!("generate supports buffer_meta and lib_server_game, not {other}")
            }
        };
        if rows > 0 {
            out.write_all(b", ")?;
            written += 2;
        }
        out.write_all(row.as_bytes())?;
        written += row.len() as u64;
        rows += 1;
    }
    out.write_all(b"]")?;
    out.finish()?.flush()?;
    Ok(rows)
}

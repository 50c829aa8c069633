//! The whole pipeline with a fixed seed: every produced message lands exactly once in the Parquet
//! output, the task tables match the generator's own counts, `provision verify` passes, drift is
//! clean after `up`, and `down` leaves nothing of ours.

use demo::{run, DemoOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;
use test_kit::Tool;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace holds tests/demo")
        .to_path_buf()
}

/// The binaries the flow runs, and a package made from the debug handler (the local cloud runs it here).
/// Built as `cargo test --workspace` builds them (same features, so nothing is rebuilt when the
/// suite already built them; a `-p` selection would resolve other features and rebuild).
fn build_binaries_and_package() -> PathBuf {
    let status = test_kit::build_as_the_suite(&workspace(), &[]).expect("cargo runs");
    assert!(status.success(), "the pipeline's binaries build");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    let handler = std::fs::read(target.join("debug/handler")).expect("handler");
    let zip = function_zip::package::zip_package(&handler).expect("zip");
    test_kit::keep_package(&target, &zip).expect("write package")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_lands_exactly_once_and_the_deployment_checks_out() {
    for tool in [Tool::Azurite, Tool::Redis, Tool::Tansu] {
        if tool.for_test().is_none() {
            return;
        }
    }
    let package = build_binaries_and_package();
    let report = run(DemoOptions {
        games: 12,
        seed: 42,
        keep: false,
        emulator_port: 0,
        package: Some(package),
        batch_size: 40,
        timeout: Duration::from_secs(240),
        workspace: workspace(),
        progress: true,
    })
    .await
    .expect("the pipeline runs");
    let produced: u64 = report.loadgen["valid_messages"]
        .as_object()
        .expect("counts")
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert!(produced > 0);
    let rows = |t: &str| report.tables.get(t).map(|s| s.rows).unwrap_or(0) as u64;
    assert_eq!(
        rows("buffer_meta"),
        produced,
        "one buffer_meta row per message"
    );
    assert_eq!(
        report.buffer_distinct_offsets as u64, produced,
        "no offset twice, none missing"
    );
    assert_eq!(rows("log_meta"), produced);
    assert_eq!(report.log_distinct_msg_ids as u64, produced);
    assert_eq!(
        rows("lib_server_lobby"),
        report.loadgen["lobby_rows"].as_u64().expect("lobby rows")
    );
    assert_eq!(
        rows("lib_server_game"),
        report.loadgen["game_rows"].as_u64().expect("game rows")
    );
    assert_eq!(report.quarantined_files, 0);
    assert!(
        report.raw_files > 0
            && report.tables.values().map(|t| t.files).sum::<usize>() == report.raw_files,
        "one Parquet file per raw file"
    );
    assert!(
        !report.top_heroes.is_empty(),
        "the sample query finds heroes"
    );
    assert!(report.drift_in_sync, "drift exits 0 after up");
    assert!(report.verify_ok, "provision verify passes");
    assert_eq!(report.down_ok, Some(true), "down succeeds");
}

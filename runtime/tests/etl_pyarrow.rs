//! Our Parquet read by pyarrow (and DuckDB): see tests/pyarrow_check.py. Skipped with a notice when
//! python3 cannot import pyarrow, except under CI (`CI` set), which installs it: there a missing
//! pyarrow is a broken install and fails.
#![allow(clippy::unwrap_used)]

mod etl_support;

use std::process::Command;

use runtime::etl::{ConvertOptions, ConvertOutcome, ParquetCodec, RawBlobPath};

use etl_support::{convert_bytes, fixtures, fixtures_dir};

fn pyarrow_available() -> bool {
    Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn pyarrow_and_duckdb_read_our_parquet_like_the_original() {
    if !pyarrow_available() {
        assert!(
            !test_kit::in_ci(|k| std::env::var_os(k)),
            "python3 cannot import pyarrow and duckdb under CI, which installs them \
             (tests/local-cloud.sh install; or pip install pyarrow duckdb)"
        );
        eprintln!(
            "SKIPPED etl_pyarrow: python3 cannot import pyarrow (pip install pyarrow duckdb)"
        );
        return;
    }
    for codec in [ParquetCodec::Zstd, ParquetCodec::Gzip] {
        let out_dir = tempfile::tempdir().unwrap();
        let options = ConvertOptions {
            codec,
            ..ConvertOptions::default()
        };
        for (name, raw) in fixtures() {
            let path = RawBlobPath::parse(&name).unwrap();
            let converted = convert_bytes(path.folder(), &raw, &options);
            assert!(matches!(converted.outcome, ConvertOutcome::Converted(_)));
            let target = out_dir.path().join(path.parquet_name());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, converted.parquet).unwrap();
        }
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyarrow_check.py");
        let output = Command::new("python3")
            .arg(script)
            .arg(fixtures_dir())
            .arg(out_dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}");
        assert!(output.status.success(), "{codec}: {stdout}\n{stderr}");
        assert!(stdout.contains("pyarrow_check: OK"), "{stdout}");
    }
}

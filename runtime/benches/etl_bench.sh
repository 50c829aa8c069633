#!/usr/bin/env bash
# ETL benchmark: our streaming raw -> Parquet conversion against the original Python/pyarrow transform
# on the same generated raw batches (buffer_meta and lib_server_game shaped).
#
#   runtime/benches/etl_bench.sh            # ~100 MB of JSON per folder (ETL_BENCH_MB to change)
#
# Needs python3 with pyarrow (pip install pyarrow) and GNU time at /usr/bin/time for peak RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB="${ETL_BENCH_MB:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p superhero-runtime --bin etl
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
etl="$target_dir/release/etl"

# Runs "$@" under /usr/bin/time -v; prints "<seconds> <peak RSS in MB>".
measure() {
  /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt"
  python3 - "$work/time.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.*)", t).group(1)
secs = 0.0
for part in wall.split(":"):
    secs = secs * 60 + float(part)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
print(f"{secs:.3f} {rss:.0f}")
PY
}

printf '%-16s %-10s %9s %9s %10s %12s %9s\n' folder impl seconds "MB/s" "rows/s" "peak RSS MB" ratio
for folder in lib_server_game buffer_meta; do
  raw="$work/$folder.json.gzip"
  rows=$("$etl" generate --folder "$folder" --bytes $((MB * 1024 * 1024)) --output "$raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')
  json_mb=$(python3 -c "print($MB)")
  gz_mb=$(python3 -c "import os; print(round(os.path.getsize('$raw')/2**20, 1))")
  echo "# $folder: $rows rows, ${json_mb} MB JSON, ${gz_mb} MB gzip"
  results=()
  for codec in zstd gzip; do
    read -r secs rss < <(measure "$etl" convert --folder "$folder" --input "$raw" --output "$work/rust-$codec.parquet" --codec "$codec")
    results+=("$secs")
    python3 -c "print(f'%-16s %-10s %9.2f %9.1f %10.0f %12s' % ('$folder', 'rust-$codec', $secs, $json_mb/$secs, $rows/$secs, '$rss'))"
  done
  if python3 -c 'import pyarrow' 2>/dev/null; then
    read -r secs rss < <(measure python3 runtime/benches/original_transform.py "$folder" "$raw" "$work/python.parquet")
    python3 -c "print(f'%-16s %-10s %9.2f %9.1f %10.0f %12s %8.1fx' % ('$folder', 'python-gz', $secs, $json_mb/$secs, $rows/$secs, '$rss', $secs/${results[1]}))"
  else
    echo "(pyarrow not installed: python comparison skipped)"
  fi
done
echo "ratio = python seconds / rust-gzip seconds (same codec as the original)"

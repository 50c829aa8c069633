#!/usr/bin/env bash
# ETL benchmark: our streaming raw -> Parquet conversion against the original Python/pyarrow transform
# on the same generated raw batches (buffer_meta and lib_server_game shaped).
#
#   runtime/benches/etl_bench.sh            # ~100 MB of JSON per folder (ETL_BENCH_MB to change)
#   ETL_BENCH_MB=1024 ETL_BENCH_ORIGINAL=0 ETL_BENCH_RUNS=1 runtime/benches/etl_bench.sh   # memory at 1 GiB, ours only
#
# Each run prints wall seconds, CPU seconds (user + sys) and peak RSS; "rust-*-1cpu" rows are the same
# conversion pinned to one core (taskset -c 0), as on a one-core Functions instance. The stage
# profile (`etl stages`, cumulative prefixes of the pipeline, one thread) is printed per folder, with
# the gzip floor: inflate + deflate-9 of the pages our file holds, beside the original's time / 20.
# On a loaded machine compare the ratio, which is taken within the same run. Every conversion, ours
# and the original's, runs ETL_BENCH_RUNS times (default 3) and prints its fastest wall and CPU
# seconds and its largest peak RSS, so one disturbed run on a shared machine does not decide a ratio.
#
# Needs python3 with pyarrow (pip install pyarrow) and GNU time at /usr/bin/time for peak RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB="${ETL_BENCH_MB:-100}"
RUNS="${ETL_BENCH_RUNS:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A -p selection would flip features and rebuild the heavy crates for everyone: build the workspace.
cargo build --release -q --workspace --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
etl="$target_dir/release/etl"

# Runs "$@" under /usr/bin/time -v; prints "<seconds> <peak RSS in MB> <CPU seconds>".
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
cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", t).group(1)) for k in ("User", "System"))
print(f"{secs:.3f} {rss:.0f} {cpu:.2f}")
PY
}

# measure, RUNS times: "<fastest seconds> <largest peak RSS in MB> <least CPU seconds>".
best_of_runs() {
  for _ in $(seq "$RUNS"); do measure "$@"; done | python3 -c '
import sys
runs = [[float(x) for x in line.split()] for line in sys.stdin]
print(f"{min(r[0] for r in runs):.3f} {max(r[1] for r in runs):.0f} {min(r[2] for r in runs):.2f}")'
}

printf '%-16s %-15s %9s %8s %9s %10s %12s %9s\n' folder impl seconds "CPU s" "MB/s" "rows/s" "peak RSS MB" ratio
for folder in lib_server_game buffer_meta; do
  raw="$work/$folder.json.gzip"
  rows=$("$etl" generate --folder "$folder" --bytes $((MB * 1024 * 1024)) --output "$raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')
  json_mb=$(python3 -c "print($MB)")
  gz_mb=$(python3 -c "import os; print(round(os.path.getsize('$raw')/2**20, 1))")
  echo "# $folder: $rows rows, ${json_mb} MB JSON, ${gz_mb} MB gzip"
  declare -A secs_of=()
  for run in zstd gzip zstd-1cpu gzip-1cpu; do
    codec=${run%-1cpu}
    pin=()
    [ "$run" != "$codec" ] && pin=(taskset -c 0)
    read -r secs rss cpu < <(best_of_runs "${pin[@]}" "$etl" convert --folder "$folder" --input "$raw" --output "$work/rust-$codec.parquet" --codec "$codec")
    secs_of[$run]=$secs
    python3 -c "print(f'%-16s %-15s %9.2f %8.2f %9.1f %10.0f %12s' % ('$folder', 'rust-$run', $secs, $cpu, $json_mb/$secs, $rows/$secs, '$rss'))"
  done
  stages=$("$etl" stages --folder "$folder" --input "$raw")
  if [ "${ETL_BENCH_ORIGINAL:-1}" = 1 ] && python3 -c 'import pyarrow' 2>/dev/null; then
    read -r secs rss cpu < <(best_of_runs python3 runtime/benches/original_transform.py "$folder" "$raw" "$work/python.parquet")
    python3 -c "print(f'%-16s %-15s %9.2f %8.2f %9.1f %10.0f %12s %8.1fx' % ('$folder', 'python-gz', $secs, $cpu, $json_mb/$secs, $rows/$secs, '$rss', $secs/${secs_of[gzip]}))"
    python3 -c "print(f'%-16s %-15s %9s %8s %9s %10s %12s %8.1fx' % ('$folder', '  vs 1 cpu', '', '', '', '', '', $secs/${secs_of[gzip-1cpu]}))"
    # The floor: no one-core gzip conversion beats inflating the input plus deflate-9 of our pages.
    python3 -c "import json; s = json.loads('$stages'); f = s['gzip_floor']; print(f'# {\"$folder\"}: gzip floor on one core (inflate {s[\"inflate\"]:.3f} + deflate-9 of our pages {s[\"deflate_pages\"]:.3f}) = {f:.3f} s; python / 20 = {$secs / 20:.3f} s; best ratio this floor allows: {$secs / f:.1f}x')"
  elif [ "${ETL_BENCH_ORIGINAL:-1}" = 1 ]; then
    echo "(pyarrow not installed: python comparison skipped)"
  fi
  echo "# stages ($folder, one thread, cumulative seconds): $stages"
done
echo "ratio = python seconds / rust-gzip seconds (same codec and level as the original: GZIP 9, pyarrow's default; second line: ours on one core)"

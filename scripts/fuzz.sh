#!/usr/bin/env bash
# The long fuzz profile (issue 13). The stable toolchain has no cargo-fuzz, so the fuzz targets are the
# property tests themselves, run with FUZZ=1: a random seed per run and FUZZ_FACTOR (default 200)
# times the cases `cargo test` runs. Not run by CI; run it by hand and put its summary in the note.
#
#   scripts/fuzz.sh                 # every target, 200x the cargo-test case counts
#   FUZZ_FACTOR=20 scripts/fuzz.sh  # a shorter pass
#   scripts/fuzz.sh etl             # one target: etl, ingest, handler or env
#
# Targets (test binaries) and what they fuzz:
#   etl      runtime/tests/etl_prop.rs         raw batch decoder / converter, blob entry point
#   ingest   runtime/tests/ingest_prop.rs      Kafka message decoder, batcher + offsets across crashes
#   handler  function/tests/invocation_prop.rs the custom handler's invocation parser and endpoint
#   env      provisioner/tests/env_fuzz.rs     environment-file parser
#
# A failure prints the shrunk input (proptest) or the seed (env): keep it as a named regression test
# next to the property, then fix the code. The summary (cases per property, failures) goes to
# target/fuzz/summary.txt under CARGO_TARGET_DIR.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/superhero-dataflow/target}"
export FUZZ=1
export FUZZ_FACTOR="${FUZZ_FACTOR:-200}"

declare -A TARGETS=(
  [etl]="--workspace --test etl_prop"
  [ingest]="--workspace --test ingest_prop"
  [handler]="--workspace --test invocation_prop"
  [env]="--workspace --test env_fuzz"
)
# --workspace, not -p: a -p selection changes the features the shared target was built with and
# rebuilds the heavy crates.
ORDER=(etl ingest handler env)
if [ $# -gt 0 ]; then ORDER=("$@"); fi

out_dir="$CARGO_TARGET_DIR/fuzz"
mkdir -p "$out_dir"
summary="$out_dir/summary.txt"
{
  echo "fuzz run $(date -u +%Y-%m-%dT%H:%M:%SZ) FUZZ_FACTOR=$FUZZ_FACTOR commit $(git rev-parse --short HEAD)"
} >"$summary"

status=0
for t in "${ORDER[@]}"; do
  args="${TARGETS[$t]:-}"
  if [ -z "$args" ]; then
    echo "unknown target $t (expected: ${!TARGETS[*]})" >&2
    exit 2
  fi
  log="$out_dir/$t.log"
  echo "== $t: cargo test $args (log: $log)" >&2
  start=$(date +%s)
  # shellcheck disable=SC2086
  if cargo test $args -- --test-threads=2 --nocapture >"$log" 2>&1; then
    result=passed
  else
    result=FAILED
    status=1
  fi
  took=$(( $(date +%s) - start ))
  {
    echo "$t: $result in ${took}s"
    grep -E '^\[property\]' "$log" | sed 's/^/  /'
    grep -E 'minimal failing input|seed 0x|panicked|Test failed' "$log" | head -20 | sed 's/^/  ! /'
  } >>"$summary"
done
cat "$summary"
exit $status

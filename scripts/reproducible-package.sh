#!/usr/bin/env bash
# Shows that the function package is reproducible across machines: builds it twice — once here,
# once from a copy of the checkout at another path with a fresh, empty target directory (a clean
# build, as on a new CI runner) — and compares the sha256 provision names the package blob by.
# Prints both hashes; exits 1 if they differ. Not part of scripts/test.sh: the clean release build
# takes about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh && ensure_pinned_toolchain
bash tests/local-cloud.sh install >&2
ROOT="$(pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/reproducible.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "[repro] build 1: $ROOT, target ${CARGO_TARGET_DIR:-$ROOT/target}" >&2
# The whole workspace, as the tests build it: a -p selection would change the shared target's
# features and rebuild the heavy crates for everyone else.
cargo build --quiet --workspace --bins
"${CARGO_TARGET_DIR:-$ROOT/target}/debug/provision" package --out "$WORK/one.zip" --output json >"$WORK/one.json"

mkdir -p "$WORK/elsewhere/checkout"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK/elsewhere/checkout"
echo "[repro] build 2: $WORK/elsewhere/checkout, fresh target $WORK/elsewhere/target (clean build)" >&2
(
  cd "$WORK/elsewhere/checkout"
  CARGO_TARGET_DIR="$WORK/elsewhere/target" cargo run --quiet -p provisioner --bin provision -- \
    package --out "$WORK/two.zip" --output json >"$WORK/two.json"
)
one="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$WORK/one.json")"
two="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$WORK/two.json")"
echo "build 1 sha256 $one"
echo "build 2 sha256 $two"
if [ "$one" != "$two" ]; then
  echo "[repro] the two builds differ" >&2
  exit 1
fi
echo "[repro] identical"

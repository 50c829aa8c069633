#!/usr/bin/env bash
# The test command: every crate's tests against the local cloud (real Azurite, Redis and tansu,
# started per test on free loopback ports). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh && ensure_pinned_toolchain
bash tests/local-cloud.sh install >&2
export AZURITE_BLOB_BIN="${AZURITE_BLOB_BIN:-$HOME/.cache/superhero-dataflow/azurite/node_modules/.bin/azurite-blob}"
export TANSU_BIN="${TANSU_BIN:-$HOME/.cache/superhero-dataflow/tansu/bin/tansu}"
export REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server)}"
# cargo-nextest (on the machine, or installed once into the cache) runs tests from every binary side
# by side, as .config/nextest.toml says; `cargo test` would run the binaries one after another.
# Every test runs either way; a failing one does not hide the others' results.
NEXTEST_ROOT="$HOME/.cache/superhero-dataflow/nextest"
if ! cargo nextest --version >/dev/null 2>&1 && [ ! -x "$NEXTEST_ROOT/bin/cargo-nextest" ]; then
  echo "installing cargo-nextest into $NEXTEST_ROOT (once)" >&2
  cargo install cargo-nextest --locked --root "$NEXTEST_ROOT" >&2
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  export PATH="$NEXTEST_ROOT/bin:$PATH"
fi
cargo nextest run --workspace --no-fail-fast

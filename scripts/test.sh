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
# Two cores: service-backed tests run two at a time.
# --no-fail-fast: one failing test binary does not hide the results of the others.
cargo test --workspace --no-fail-fast -- --test-threads=2

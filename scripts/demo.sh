#!/usr/bin/env bash
# The demo: the whole pipeline on the local cloud. Installs what is missing (first run: tansu and the
# zig toolchain take a while to build), builds the binaries, then runs `demo` with any flags given
# (--games N, --seed S, --keep, --json). The function package is built and deployed by
# `provision up --env local`, the same code path as for Azure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh && ensure_pinned_toolchain
bash tests/local-cloud.sh install >&2
export AZURITE_BLOB_BIN="${AZURITE_BLOB_BIN:-$HOME/.cache/superhero-dataflow/azurite/node_modules/.bin/azurite-blob}"
export TANSU_BIN="${TANSU_BIN:-$HOME/.cache/superhero-dataflow/tansu/bin/tansu}"
export REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server)}"
echo "[demo] building the binaries" >&2
cargo build --workspace --bins
exec "${CARGO_TARGET_DIR:-target}/debug/demo" "$@"

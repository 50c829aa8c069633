#!/usr/bin/env bash
# The local cloud's services: install what is missing, start/stop them idempotently on 127.0.0.1.
#
#   tests/local-cloud.sh install   # Azurite (npm), Redis (Debian), tansu (crates.io, cached build), pyarrow (PyPI)
#   tests/local-cloud.sh up        # Redis, tansu with the original's topics, the Azure emulator (which runs Azurite)
#   tests/local-cloud.sh down
#   tests/local-cloud.sh status
#   tests/local-cloud.sh env       # prints the exports that point tools at the running services
#
# Ports come from LOCAL_CLOUD_{EMULATOR,REDIS,KAFKA}_PORT (defaults 18080, 16379, 19092). A taken port or
# a missing tool stops the script with a message naming it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SUPERHERO_CACHE:-$HOME/.cache/superhero-dataflow}"
RUN="${LOCAL_CLOUD_DIR:-$ROOT/.local-cloud}"
EMULATOR_PORT="${LOCAL_CLOUD_EMULATOR_PORT:-18080}"
REDIS_PORT="${LOCAL_CLOUD_REDIS_PORT:-16379}"
KAFKA_PORT="${LOCAL_CLOUD_KAFKA_PORT:-19092}"
TANSU_VERSION="0.6.0"
# Pinned with rust-toolchain.toml: the handler links through zig, so its bytes (and the package
# hash provision compares) depend on these versions too.
ZIG_VERSION="0.17.1"
ZIGBUILD_VERSION="0.24.1"
AZURITE_VERSION="3"

export AZURITE_BLOB_BIN="${AZURITE_BLOB_BIN:-$CACHE/azurite/node_modules/.bin/azurite-blob}"
export TANSU_BIN="${TANSU_BIN:-$CACHE/tansu/bin/tansu}"
export REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-$(command -v redis-server || echo /usr/bin/redis-server)}"

say() { printf '[local-cloud] %s\n' "$*" >&2; }
die() { printf '[local-cloud] error: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"; }

install() {
  # shellcheck source=../scripts/toolchain.sh
  . "$ROOT/scripts/toolchain.sh" && ensure_pinned_toolchain
  mkdir -p "$CACHE"
  if [ ! -x "$AZURITE_BLOB_BIN" ]; then
    need npm "install Node.js and npm (Debian: apt-get install nodejs npm)"
    say "installing azurite@$AZURITE_VERSION from npm into $CACHE/azurite"
    mkdir -p "$CACHE/azurite"
    (cd "$CACHE/azurite" && npm install --no-audit --no-fund --silent "azurite@$AZURITE_VERSION" >/dev/null)
  fi
  if [ ! -x "$REDIS_SERVER_BIN" ]; then
    need apt-get "install redis-server (Debian package) by hand"
    say "installing redis-server from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    REDIS_SERVER_BIN="$(command -v redis-server)"
  fi
  if [ ! -x "$TANSU_BIN" ]; then
    need cargo "install Rust (cargo)"
    say "building tansu $TANSU_VERSION (features dynostore,libsql) into $CACHE/tansu — about 11 minutes, once"
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql --root "$CACHE/tansu" >"$CACHE/tansu-build.log" 2>&1 \
      || die "tansu build failed; see $CACHE/tansu-build.log"
  fi
  if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("ziglang"))' 2>/dev/null)" != "$ZIG_VERSION" ]; then
    say "installing zig $ZIG_VERSION (PyPI ziglang): the function package links against glibc 2.31"
    python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIG_VERSION" >/dev/null 2>&1 || die "pip install ziglang==$ZIG_VERSION failed"
  fi
  if [ "$("$CACHE/zigbuild/bin/cargo-zigbuild" --version 2>/dev/null | awk '{print $2}')" != "$ZIGBUILD_VERSION" ]; then
    say "building cargo-zigbuild $ZIGBUILD_VERSION (crates.io) into $CACHE/zigbuild"
    cargo install cargo-zigbuild --version "$ZIGBUILD_VERSION" --locked --force --root "$CACHE/zigbuild" >"$CACHE/zigbuild-build.log" 2>&1 \
      || die "cargo-zigbuild build failed; see $CACHE/zigbuild-build.log"
  fi
  if ! python3 -c 'import pyarrow, duckdb' >/dev/null 2>&1; then
    say "installing pyarrow and duckdb from PyPI (golden Parquet cross-checks)"
    python3 -m pip install --quiet --disable-pip-version-check pyarrow duckdb >/dev/null 2>&1 \
      || { in_ci && die "pip install pyarrow duckdb failed (CI needs them for the Parquet cross-checks)"; say "pyarrow/duckdb not installed; the cross-check tests will say they were skipped"; }
  fi
  say "installed: azurite-blob=$AZURITE_BLOB_BIN redis-server=$REDIS_SERVER_BIN tansu=$TANSU_BIN"
}

# CI as the tests read it (test_kit::in_ci): set, and not empty, 0 or false.
in_ci() { case "${CI:-}" in "" | 0 | [Ff][Aa][Ll][Ss][Ee]) return 1 ;; *) return 0 ;; esac; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    running "$name" || die "$name exited while starting; see $RUN/$name.log"
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within 30 s; see $RUN/$name.log"
}

start() {
  local name=$1 port=$2; shift 2
  if running "$name"; then say "$name already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  port_free "$port" || die "port $port for $name is taken by another process; set LOCAL_CLOUD_${name^^}_PORT"
  say "starting $name on 127.0.0.1:$port"
  nohup "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  wait_port "$name" "$port"
}

emulator_bin() {
  local bin="$ROOT/target/debug/azure-emulator"
  if [ ! -x "$bin" ] || [ -n "$(find "$ROOT/tests/src" "$ROOT/runtime/src/azure_blob.rs" -newer "$bin" -print -quit 2>/dev/null)" ]; then
    say "building azure-emulator"
    (cd "$ROOT" && cargo build -q -p local-cloud --bin azure-emulator) || die "azure-emulator did not build"
  fi
  echo "$bin"
}

up() {
  [ -x "$AZURITE_BLOB_BIN" ] && [ -x "$TANSU_BIN" ] && [ -x "$REDIS_SERVER_BIN" ] || install
  mkdir -p "$RUN"
  start redis "$REDIS_PORT" "$REDIS_SERVER_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no
  # tansu resolves a sqlite:// path against its working directory.
  start kafka "$KAFKA_PORT" bash -c "cd '$RUN' && exec '$TANSU_BIN' broker --listener-url tcp://127.0.0.1:$KAFKA_PORT \
    --advertised-listener-url tcp://127.0.0.1:$KAFKA_PORT --storage-engine sqlite://tansu.db"
  for topic in "lib.server.lobby:2" "lib.server.game:4" "client.__main__:1"; do
    "$TANSU_BIN" topic create "${topic%%:*}" --partitions "${topic##*:}" --broker "tcp://127.0.0.1:$KAFKA_PORT" >>"$RUN/kafka.log" 2>&1 || true
  done
  local bin; bin="$(emulator_bin)"
  start emulator "$EMULATOR_PORT" "$bin" --port "$EMULATOR_PORT" --data-dir "$RUN/emulator" \
    --request-log "$RUN/emulator-requests.jsonl" --latency "${LOCAL_CLOUD_LATENCY:-fast}" --time-scale "${LOCAL_CLOUD_TIME_SCALE:-0.01}"
  env_file >"$RUN/env"
  say "up: emulator http://127.0.0.1:$EMULATOR_PORT, redis 127.0.0.1:$REDIS_PORT, kafka 127.0.0.1:$KAFKA_PORT (exports in $RUN/env)"
}

down() {
  for name in emulator kafka redis; do
    if running "$name"; then
      say "stopping $name"
      kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do running "$name" || break; sleep 0.1; done
      running "$name" && kill -9 "$(cat "$RUN/$name.pid")" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
  rm -rf "$RUN/emulator" "$RUN/tansu.db"*
}

status() {
  for name in emulator kafka redis; do
    if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

env_file() {
  cat <<ENV
export LOCAL_CLOUD_URL=http://127.0.0.1:$EMULATOR_PORT
export KAFKA_HOST=127.0.0.1
export KAFKA_PORT=$KAFKA_PORT
export REDIS_HOST=127.0.0.1
export REDIS_PORT=$REDIS_PORT
export AZURITE_BLOB_BIN=$AZURITE_BLOB_BIN
export TANSU_BIN=$TANSU_BIN
export REDIS_SERVER_BIN=$REDIS_SERVER_BIN
ENV
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_file ;;
  *) echo "usage: $0 install|up|down|status|env" >&2; exit 2 ;;
esac

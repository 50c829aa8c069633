#!/usr/bin/env bash
# Makes the toolchain rust-toolchain.toml pins available, without a download where possible.
# Sourced by .ci/run, scripts/test.sh, scripts/demo.sh and tests/local-cloud.sh before any cargo call.
ensure_pinned_toolchain() {
  local root channel
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$root/rust-toolchain.toml")"
  [ -n "$channel" ] || { echo "error: no channel in $root/rust-toolchain.toml" >&2; return 1; }
  command -v rustup >/dev/null || return 0 # a toolchain without rustup: cargo is what it is
  if rustup toolchain list | grep -q "^$channel-"; then return 0; fi
  local stable_version
  stable_version="$(rustup run stable rustc --version 2>/dev/null | awk '{print $2}')"
  if [ "$stable_version" = "$channel" ]; then
    rustup toolchain link "$channel" "$(rustup run stable rustc --print sysroot)"
    echo "[toolchain] linked the installed stable ($stable_version) as $channel" >&2
    return 0
  fi
  rustup toolchain install "$channel" --profile minimal -c rustfmt -c clippy >&2 || {
    echo "error: rust $channel (rust-toolchain.toml) is not installed and could not be downloaded;" \
      "install it with 'rustup toolchain install $channel' or link a local one" >&2
    return 1
  }
}

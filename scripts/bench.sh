#!/usr/bin/env bash
# Foundation benchmarks (see docs/BENCHMARKS.md): generator throughput,
# resident lookup by identity number over HTTP (wrk, 64 connections) on
# SQLite and PostgreSQL, duplicate detection quality and speed, and the
# referral cycle and booking under contention (scripts/bench-referrals.mjs),
# the health record (scripts/bench-records.mjs), the recomputation of
# the generated year's insurance claims (`yilian insurance recompute`), and the
# whole-system mixed HTTP load (scripts/bench-http-mix.sh, issue 9).
# Usage: bash scripts/bench.sh [residents-for-http=100000] [residents-for-scale=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N_HTTP=${1:-100000}
N_BIG=${2:-1000000}
Y=./target/release/yilian
OUT=bench-results
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "install wrk (Debian package wrk)"; exit 1; }

gen() { # db residents log
  /usr/bin/time -v "$Y" --db "$1" generate --residents "$2" --seed 2026 --demo-password bench-pass-1 2> "$3" >/dev/null
  grep -E "residents:|claims:|Elapsed|Maximum resident" "$3"
}

recompute() { # db log — three runs over the current year (China Standard Time)
  local year
  year=$(TZ=Asia/Shanghai date +%Y)
  for _ in 1 2 3; do YILIAN_LOG=error "$Y" --db "$1" insurance recompute --year "$year"; done | tee "$2"
}

http_bench() { # db label
  local db=$1 label=$2 port=18181
  "$Y" --db "$db" export residents --out "$OUT/residents-$label.csv" 2>/dev/null
  cut -d, -f1 "$OUT/residents-$label.csv" | tail -n +2 | shuf -n 20000 --random-source=<(yes) > "$OUT/ids-$label.txt"
  YILIAN_LOG=warn "$Y" --db "$db" serve --addr 127.0.0.1:$port & local pid=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
  local token
  token=$(curl -sf -X POST http://127.0.0.1:$port/api/v1/auth/login -H 'content-type: application/json' \
    -d '{"username":"admin","password":"bench-pass-1"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  for c in 16 64; do
    echo "--- $label, $c connections"
    IDS="$OUT/ids-$label.txt" TOKEN=$token wrk -t2 -c$c -d15s --latency -s scripts/lookup.lua http://127.0.0.1:$port \
      | tee "$OUT/wrk-$label-c$c.txt" | grep -E "Requests/sec|99%|50%|Non-2xx"
  done
  # Work lists: the busiest team, and the whole county (admin scope).
  local team
  team=$(curl -sf "http://127.0.0.1:$port/api/v1/teams?limit=500" -H "Authorization: Bearer $token" | python3 -c '
import json, sys, urllib.request
teams = json.load(sys.stdin)["items"]
print(max(teams, key=lambda t: t["capacity"])["id"])')
  local n
  n=$(curl -sf "http://127.0.0.1:$port/api/v1/contracts?team_id=$team&status=active&limit=1" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  echo "--- $label, work list of team $team ($n active contracts), 8 connections"
  PATHQ="/api/v1/worklist?team_id=$team" TOKEN=$token wrk -t2 -c8 -d10s --latency -s scripts/path.lua http://127.0.0.1:$port \
    | tee "$OUT/wrk-$label-worklist-team.txt" | grep -E "Requests/sec|99%|50%|Non-2xx"
  echo "--- $label, work list of the whole county (first 500 lines), 8 connections"
  PATHQ="/api/v1/worklist" TOKEN=$token wrk -t2 -c8 -d10s --latency -s scripts/path.lua http://127.0.0.1:$port \
    | tee "$OUT/wrk-$label-worklist-county.txt" | grep -E "Requests/sec|99%|50%|Non-2xx"
  echo "--- $label, work list of the whole county (5000 lines), 8 connections"
  PATHQ="/api/v1/worklist?limit=5000" TOKEN=$token wrk -t2 -c8 -d10s --latency -s scripts/path.lua http://127.0.0.1:$port \
    | tee "$OUT/wrk-$label-worklist-county-5000.txt" | grep -E "Requests/sec|99%|50%|Non-2xx"
  echo "--- $label, referral cycle and booking under contention"
  BASE_URL=http://127.0.0.1:$port PASSWORD=bench-pass-1 node scripts/bench-referrals.mjs 2000 16 | tee "$OUT/referrals-$label.txt"
  echo "--- $label, health record: timeline, access-log append, recognition lookup"
  BASE_URL=http://127.0.0.1:$port PASSWORD=bench-pass-1 node scripts/bench-records.mjs 10 16 | tee "$OUT/records-$label.txt"
  kill $pid; wait $pid 2>/dev/null || true
}

echo "== generator, SQLite"
rm -f /tmp/yb-http.db* /tmp/yb-big.db*
gen sqlite:///tmp/yb-http.db "$N_HTTP" "$OUT/gen-sqlite-$N_HTTP.log"
gen sqlite:///tmp/yb-big.db "$N_BIG" "$OUT/gen-sqlite-$N_BIG.log"

echo "== insurance: recompute the generated year's claims, SQLite"
recompute sqlite:///tmp/yb-http.db "$OUT/recompute-sqlite-$N_HTTP.txt"
recompute sqlite:///tmp/yb-big.db "$OUT/recompute-sqlite-$N_BIG.txt"

echo "== duplicate detection"
"$Y" --db sqlite:///tmp/yb-http.db mpi scan 2>&1 | tee "$OUT/mpi-$N_HTTP.txt"
"$Y" --db sqlite:///tmp/yb-big.db mpi scan 2>&1 | tee "$OUT/mpi-$N_BIG.txt"

echo "== HTTP lookup by identity number, SQLite"
http_bench sqlite:///tmp/yb-http.db sqlite

if pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "== generator and HTTP lookup, PostgreSQL"
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS yilian_bench" -c "CREATE DATABASE yilian_bench"
  gen "$PG_BASE/yilian_bench" "$N_HTTP" "$OUT/gen-pg-$N_HTTP.log"
  recompute "$PG_BASE/yilian_bench" "$OUT/recompute-pg-$N_HTTP.txt"
  http_bench "$PG_BASE/yilian_bench" postgres
else
  echo "!!! PostgreSQL not reachable: PostgreSQL leg of the benchmark SKIPPED"
fi
bash scripts/bench-monitoring.sh "$N_BIG" # monitoring indicators beside DuckDB (issue 7; docs/BENCHMARKS.md)
bash scripts/bench-fhir.sh # FHIR transaction-bundle ingest, both backends (issue 10; docs/BENCHMARKS.md)
bash scripts/bench-http-mix.sh "$N_HTTP" # whole-system HTTP load, mixed workload, both backends (issue 9; docs/BENCHMARKS.md)

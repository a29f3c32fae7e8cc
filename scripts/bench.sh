#!/usr/bin/env bash
# The whole benchmark set (`make bench`; docs/BENCHMARKS.md). Every script
# appends its figures to bench-results/results.jsonl (scripts/bench_record.py)
# and this one ends with the results table, bench-results/results.md and
# results.json (scripts/bench_table.py): command, data size, backend, median
# and spread, targets, and each peer (DuckDB, Splink, helios-hfs) measured in
# the same run as a ratio.
#
# In order: the generator at 100k and at N_BIG residents with a year of
# activity (and GEN_HUGE, e.g. 10000000, when set) with wall time and peak
# RSS; recomputing the year's insurance claims; resident lookup by identity
# number, work lists, the referral cycle and the health record over HTTP on
# SQLite and PostgreSQL; record linkage beside Splink
# (scripts/bench-linkage.sh); surveillance (scripts/bench-surveillance.sh);
# the monitoring indicators beside DuckDB (scripts/bench-monitoring.sh); FHIR
# transaction ingest (scripts/bench-fhir.sh); the FHIR peer helios-hfs
# (scripts/bench-fhir-peer.sh); the whole-system mixed HTTP load
# (scripts/bench-http-mix.sh).
# Usage: bash scripts/bench.sh [residents-for-http=100000] [residents-for-scale=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N_HTTP=${1:-100000}
N_BIG=${2:-1000000}
GEN_HUGE=${GEN_HUGE:-}
OUT=bench-results
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
mkdir -p "$OUT"
: > "$OUT/results.jsonl" # this run's figures only
command -v wrk >/dev/null || { echo "install wrk (Debian package wrk)"; exit 1; }
cargo build --release -p yilian-cli
mkdir -p target/bench-bin && cp target/release/yilian target/bench-bin/yilian.new && mv -f target/bench-bin/yilian.new target/bench-bin/yilian
Y=./target/bench-bin/yilian # a copy: the scripts below rebuild
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "install wrk (Debian package wrk)"; exit 1; }

gen() { # db residents log backend
  /usr/bin/time -v "$Y" --db "$1" generate --residents "$2" --seed 2026 --demo-password bench-pass-1 2> "$3" >/dev/null
  grep -E "residents:|claims:|stage times|Elapsed|Maximum resident" "$3"
  local wall rss target=()
  wall=$(sed -nE 's/.*Elapsed \(wall clock\) time.*: ([0-9:.]+)$/\1/p' "$3" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$3")
  [ "$2" = 1000000 ] && target=(--target "<60")
  local common=(--bench generator --case "$(printf "%d" "$2") residents, a year of activity" --backend "$4"
    --size "$(printf "%d" "$2") residents" --command "yilian generate --residents $2 --seed 2026")
  python3 scripts/bench_record.py "${common[@]}" --metric "wall time" --unit s --better lower "${target[@]}" "$wall"
  python3 scripts/bench_record.py "${common[@]}" --metric "peak RSS" --unit MB --better lower "$((rss / 1024))"
}

wrk_record() { # wrk-output bench case backend [target-rps target-p99]
  local rps p99
  rps=$(sed -nE 's/^Requests\/sec: +([0-9.]+)/\1/p' "$1")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; print v }' "$1")
  local common=(--bench "$2" --case "$3" --backend "$4" --size "$(printf "%d" "$N_HTTP") residents" --command "wrk (scripts/bench.sh)")
  python3 scripts/bench_record.py "${common[@]}" --metric "requests/s" --unit /s --better higher ${5:+--target "$5"} "$rps"
  python3 scripts/bench_record.py "${common[@]}" --metric p99 --unit ms --better lower ${6:+--target "$6"} "$p99"
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
    wrk_record "$OUT/wrk-$label-c$c.txt" lookup "resident by identity number, $c connections" "$label"
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
  wrk_record "$OUT/wrk-$label-worklist-team.txt" worklist "busiest team's work list, 8 connections" "$label"
  echo "--- $label, work list of the whole county (first 500 lines), 8 connections"
  PATHQ="/api/v1/worklist" TOKEN=$token wrk -t2 -c8 -d10s --latency -s scripts/path.lua http://127.0.0.1:$port \
    | tee "$OUT/wrk-$label-worklist-county.txt" | grep -E "Requests/sec|99%|50%|Non-2xx"
  wrk_record "$OUT/wrk-$label-worklist-county.txt" worklist "county work list, first 500 lines, 8 connections" "$label"
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
gen sqlite:///tmp/yb-http.db "$N_HTTP" "$OUT/gen-sqlite-$N_HTTP.log" sqlite
gen sqlite:///tmp/yb-big.db "$N_BIG" "$OUT/gen-sqlite-$N_BIG.log" sqlite
if [ -n "$GEN_HUGE" ]; then
  rm -f /tmp/yb-huge.db*
  gen sqlite:///tmp/yb-huge.db "$GEN_HUGE" "$OUT/gen-sqlite-$GEN_HUGE.log" sqlite
  rm -f /tmp/yb-huge.db*
else
  echo "!!! GEN_HUGE unset: the 10M generator run SKIPPED (GEN_HUGE=10000000 make bench; hours on 2 cores, see docs/BENCHMARKS.md)"
fi

echo "== insurance: recompute the generated year's claims, SQLite"
recompute sqlite:///tmp/yb-http.db "$OUT/recompute-sqlite-$N_HTTP.txt"
recompute sqlite:///tmp/yb-big.db "$OUT/recompute-sqlite-$N_BIG.txt"


echo "== HTTP lookup by identity number, SQLite"
http_bench sqlite:///tmp/yb-http.db sqlite

if pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "== generator and HTTP lookup, PostgreSQL"
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS yilian_bench" -c "CREATE DATABASE yilian_bench"
  gen "$PG_BASE/yilian_bench" "$N_HTTP" "$OUT/gen-pg-$N_HTTP.log" postgres
  recompute "$PG_BASE/yilian_bench" "$OUT/recompute-pg-$N_HTTP.txt"
  http_bench "$PG_BASE/yilian_bench" postgres
else
  echo "!!! PostgreSQL not reachable: PostgreSQL leg of the benchmark SKIPPED"
fi
bash scripts/bench-linkage.sh "$N_BIG" # record linkage beside Splink (issue 9)
bash scripts/bench-surveillance.sh # EARS + percentile + CUSUM county-year, space-time scan (issues 8, 9)
bash scripts/bench-monitoring.sh "$N_BIG" # monitoring indicators beside DuckDB (issues 7, 9)
bash scripts/bench-fhir.sh # FHIR transaction-bundle ingest, both backends (issue 10)
bash scripts/bench-fhir-peer.sh || echo "!!! the FHIR peer benchmark FAILED (helios-hfs not built or not answering; see above): no peer figures" # helios-hfs, same Patient/Encounter/Observation mix (issue 9)
bash scripts/bench-http-mix.sh "$N_HTTP" # whole-system HTTP load, mixed workload, both backends (issue 9)
python3 scripts/bench_table.py "$OUT/results.jsonl" "$OUT"
cat "$OUT/results.md"

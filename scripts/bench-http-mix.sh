#!/usr/bin/env bash
# Whole-system HTTP load (issue 9) — see docs/BENCHMARKS.md, "Whole-system HTTP
# load (issue 9)". A county's mixed day (scripts/mix.lua: resident lookup,
# record timeline read, slot listing, follow-up write, slot booking, referral
# create → accept → schedule) against `yilian serve`, on SQLite and on
# PostgreSQL, at 16 and 64 connections, with Debian's wrk.
#
# 1. Builds yilian (release; honours CARGO_TARGET_DIR) and copies the binary.
# 2. Generates an N-resident county into SQLite with the demo logins (reused
#    if the file exists: REUSE=0 to regenerate), and copies it table by table
#    into PostgreSQL (reused when the resident count matches), the same way
#    as scripts/bench-monitoring.sh.
# 3. Per backend: starts the server, picks the data the mix needs (identity
#    numbers, residents the township clinician has grounds to read, active
#    enrolments of the township, the village's residents), and per
#    (connections, run) opens fresh slot pools, runs a warm-up and a measured
#    wrk run (one connection per wrk thread, so per-type figures are exact).
# 4. Writes bench-results/http-mix/{backend}-c{N}-r{k}.{txt,json} and
#    summary.md / summary.json (medians over runs).
#
# Usage: bash scripts/bench-http-mix.sh [residents=100000]
# Environment: RUNS (measured runs per backend × connections, 3), SECONDS_RUN
# (30), WARMUP (5), CONNS ("16 64"), BACKENDS ("sqlite postgres"), REUSE (1),
# BENCH_PG (server URL without database, postgres://postgres@127.0.0.1:5432),
# MIX_DB (SQLite file), SKIP (generator stages skipped, "claims,surveillance"),
# WEIGHTS (see scripts/mix.lua), BIN (use this binary, no build), PROFILE=1 (record
# `perf` for 10 s during the last 64-connection run of each backend).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${RUNS:-3}
SECONDS_RUN=${SECONDS_RUN:-30}
WARMUP=${WARMUP:-5}
CONNS=${CONNS:-"16 64"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
REUSE=${REUSE:-1}
SKIP_STAGES=${SKIP-claims,surveillance}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PG_DB=yilian_bench_mix
PG_URL=$PG_BASE/$PG_DB
TGT=${CARGO_TARGET_DIR:-target}
Y=$TGT/bench-mix-bin/yilian # a copy: concurrent release builds must not swap the binary mid-run
DB=${MIX_DB:-$TGT/bench-mix-$N.db}
case "$DB" in /*) ;; *) DB=$PWD/$DB ;; esac
OUT=bench-results/http-mix
PW=bench-pass-1
PORT=${PORT:-18191}
BASE=http://127.0.0.1:$PORT
mkdir -p "$OUT"
rm -f "$OUT"/*-c*-r*.json "$OUT"/*-c*-r*.txt "$OUT"/*-warmup.* # the summary reads this run's files only
for t in wrk sqlite3 curl python3 tsort; do
  command -v $t >/dev/null || { echo "install $t (Debian packages wrk, sqlite3, curl, python3, coreutils)"; exit 1; }
done

if [ -n "${BIN:-}" ]; then # an A/B comparison: a binary built elsewhere
  Y=$BIN
  echo "binary: $BIN (given)" | tee "$OUT/binary.txt"
else
  echo "== build (release)"
  cargo build --release -p yilian-cli
  mkdir -p "$(dirname "$Y")" && cp "$TGT/release/yilian" "$Y.new" && mv -f "$Y.new" "$Y"
  echo "binary: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/')" | tee "$OUT/binary.txt"
fi

echo "== county: $N residents, SQLite ($DB)"
if [ "$REUSE" = 1 ] && [ -s "$DB" ] && [ "$(sqlite3 "$DB" "SELECT COUNT(*) FROM users WHERE username = 'zhuanzhen'" 2>/dev/null)" = 1 ]; then
  echo "reusing $DB"
else
  rm -f "$DB" "$DB-wal" "$DB-shm"
  # Claims and surveillance are not read by the mix (and cost minutes): SKIP="" to generate them.
  /usr/bin/time -v "$Y" --db "sqlite://$DB" generate --residents "$N" --seed 2026 --demo-password $PW \
    ${SKIP_STAGES:+--skip "$SKIP_STAGES"} > /dev/null 2> "$OUT/generate.log"
  grep -E "residents:|Elapsed|Maximum resident" "$OUT/generate.log" || true
fi
sqlite3 -separator ' ' "$DB" "SELECT 'residents', COUNT(*) FROM residents UNION ALL SELECT 'record_entries', COUNT(*) FROM record_entries
  UNION ALL SELECT 'enrolments', COUNT(*) FROM enrolments UNION ALL SELECT 'contracts', COUNT(*) FROM contracts
  UNION ALL SELECT 'referrals', COUNT(*) FROM referrals UNION ALL SELECT 'slots', COUNT(*) FROM slots" | tee "$OUT/counts.txt"

pg_copy() { # SQLite file → fresh PostgreSQL database, table by table (as scripts/bench-monitoring.sh)
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
  "$Y" --db "$PG_URL" migrate
  psql "$PG_URL" -v ON_ERROR_STOP=1 -qc "DO \$\$ BEGIN EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', relname), ', ') || ' CASCADE' FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname <> '_sqlx_migrations'); END \$\$"
  local order t cols sel c typ n t0
  order=$( {
    psql "$PG_URL" -At -F' ' -c "SELECT relname, relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
    psql "$PG_URL" -At -F' ' -c "SELECT confrelid::regclass, conrelid::regclass FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND confrelid <> conrelid"
  } | tsort )
  t0=$(date +%s)
  for t in $order; do
    [ "$t" = _sqlx_migrations ] && continue
    cols=() sel=()
    while IFS='|' read -r c typ; do
      cols+=("\"$c\"")
      if [ "$typ" = bytea ]; then sel+=("CASE WHEN \"$c\" IS NULL THEN NULL ELSE '\\x' || hex(\"$c\") END")
      else sel+=("\"$c\""); fi
    done < <(psql "$PG_URL" -At -c "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '$t' AND is_generated = 'NEVER' ORDER BY ordinal_position")
    n=$(sqlite3 "$DB" "SELECT COUNT(*) FROM \"$t\"")
    [ "$n" = 0 ] && continue
    sqlite3 -bail -csv -header -cmd '.nullvalue \\N' "$DB" "SELECT $(IFS=,; echo "${sel[*]}") FROM \"$t\"" \
      | psql "$PG_URL" -v ON_ERROR_STOP=1 -q -c "COPY \"$t\" ($(IFS=,; echo "${cols[*]}")) FROM STDIN WITH (FORMAT csv, HEADER true, NULL '\\N')"
  done
  psql "$PG_URL" -v ON_ERROR_STOP=1 -qAt <<'EOF' > /dev/null
SELECT format('SELECT setval(%L, COALESCE((SELECT max(%I) FROM %I), 0) + 1, false)',
              pg_get_serial_sequence(format('%I', table_name), column_name), column_name, table_name)
FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'
\gexec
EOF
  psql "$PG_URL" -qc "VACUUM ANALYZE"
  echo "copied into $PG_DB and analysed in $(( $(date +%s) - t0 )) s"
}

have_pg=0
if [[ " $BACKENDS " == *" postgres "* ]]; then
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    have_pg=1
    if [ "$REUSE" = 1 ] && [ "$(psql "$PG_URL" -Atc "SELECT COUNT(*) FROM users WHERE username = 'zhuanzhen'" 2>/dev/null)" = 1 ] \
      && [ "$(psql "$PG_URL" -Atc "SELECT COUNT(*) FROM residents" 2>/dev/null)" = "$(sqlite3 "$DB" 'SELECT COUNT(*) FROM residents')" ]; then
      echo "== PostgreSQL: reusing $PG_DB"
    else
      echo "== PostgreSQL: copying the county into $PG_DB"
      pg_copy
    fi
  else
    echo "!!! PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL leg SKIPPED" | tee "$OUT/skipped.txt"
  fi
fi

q() { # backend sql → rows
  if [ "$1" = sqlite ]; then sqlite3 -separator '|' "$DB" "$2"; else psql "$PG_URL" -At -F'|' -c "$2"; fi
}
login() { # username → token
  curl -sf -X POST $BASE/api/v1/auth/login -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$PW\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'
}
wait_load() { # wait (up to 60 s) for the 1-minute load average to fall under 1.5; print it
  for _ in $(seq 1 12); do
    awk '{ exit !($1 > 1.5) }' /proc/loadavg || break
    sleep 5
  done
  cut -d' ' -f1-3 /proc/loadavg
}

prepare_data() { # backend dir — the lists mix.lua draws from
  local be=$1 d=$2 since
  mkdir -p "$d"
  since=$(TZ=Asia/Shanghai date -d '-170 days' +%F)
  local inst town clinic_region
  IFS='|' read -r inst town < <(q "$be" "SELECT i.id, i.region_code FROM institutions i JOIN users u ON u.scope_code = i.code WHERE u.username = 'jiceng'")
  clinic_region=$(q "$be" "SELECT i.region_code FROM institutions i JOIN users u ON u.scope_code = i.code WHERE u.username = 'cunyi'")
  IFS='|' read -r HOSPITAL_ID HOSPITAL_CODE < <(q "$be" "SELECT i.id, i.code FROM institutions i JOIN users u ON u.scope_code = i.code WHERE u.username = 'zhuanzhen'")
  q "$be" "SELECT id_number FROM residents WHERE merged_into IS NULL ORDER BY random() LIMIT 20000" > "$d/ids.txt"
  # Residents the township clinician may read: an active contract with one of its
  # teams, or an encounter there within the encounter ground (180 days).
  q "$be" "SELECT id FROM residents WHERE merged_into IS NULL AND id IN (
      SELECT c.resident_id FROM contracts c JOIN teams t ON t.id = c.team_id WHERE c.status = 'active' AND t.institution_id = $inst
      UNION SELECT resident_id FROM record_entries WHERE institution_id = $inst AND kind = 'encounter' AND occurred_at >= '$since')
    ORDER BY random() LIMIT 20000" > "$d/record.txt"
  q "$be" "SELECT e.id FROM enrolments e JOIN residents r ON r.id = e.resident_id WHERE e.status = 'active' AND r.merged_into IS NULL
    AND r.region_code LIKE '$town%' ORDER BY random() LIMIT 20000" > "$d/enrol.txt"
  q "$be" "SELECT id FROM residents WHERE merged_into IS NULL AND region_code = '$clinic_region' ORDER BY id LIMIT 500" > "$d/village.txt"
  echo "  data: $(wc -l < "$d/ids.txt") identity numbers, $(wc -l < "$d/record.txt") readable residents (institution $inst), $(wc -l < "$d/enrol.txt") enrolments (township $town), $(wc -l < "$d/village.txt") village residents; hospital $HOSPITAL_CODE (id $HOSPITAL_ID)"
}

open_pool() { # backend desk-token department first-day calls(480 slots each) file
  local be=$1 tok=$2 dep=$3 day=$4 calls=$5 file=$6 k date
  for k in $(seq 0 $((calls - 1))); do
    date=$(TZ=Asia/Shanghai date -d "+$((day + 2 * k)) days" +%F)
    curl -sf -o /dev/null -X POST $BASE/api/v1/slots -H "Authorization: Bearer $tok" -H 'content-type: application/json' \
      -d "{\"starts_at\":\"${date}T00:00\",\"minutes\":5,\"count\":480,\"department\":\"$dep\",\"reserved_bp\":0}"
  done
  q "$be" "SELECT id FROM slots WHERE institution_id = $HOSPITAL_ID AND department = '$dep' ORDER BY id" > "$file"
}

one_run() { # backend conns label(run name) seconds — fresh slot pools, then wrk
  local be=$1 c=$2 name=$3 secs=$4 d=$OUT/data-$1
  local n0 day0 dates k tag
  tag=mix-$name-$(date +%s) # unique: the database may hold pools of earlier runs
  n0=$(q "$be" "SELECT COUNT(DISTINCT department) FROM slots WHERE department LIKE 'mix-%'")
  day0=$((60 + n0 * 32))
  open_pool "$be" "$DESK" "$tag-chain" "$day0" 10 "$d/chain-slots.txt"
  open_pool "$be" "$DESK" "$tag-book" "$((day0 + 32))" 15 "$d/book-slots.txt"
  dates=""
  for k in $(seq 0 14); do dates+="$(TZ=Asia/Shanghai date -d "+$((day0 + 32 + 2 * k)) days" +%F),"; done
  { echo "ADMIN=$ADMIN"; echo "CLINICIAN=$CLIN"; echo "VILLAGE_DOCTOR=$VD"; echo "DESK=$DESK"
    echo "HOSPITAL_ID=$HOSPITAL_ID"; echo "HOSPITAL_CODE=$HOSPITAL_CODE"; echo "DEPARTMENT=$tag"
    echo "SLOT_DAYS=${dates%,}"; } > "$d/env.txt"
  DATA=$d THREADS=$c OUT_JSON=$OUT/$name.json wrk -t"$c" -c"$c" -d"${secs}s" --timeout 10s --latency -s scripts/mix.lua $BASE
}

bench_backend() { # backend db-url
  local be=$1 url=$2 pid c r load
  echo "== $be"
  ! curl -sf $BASE/healthz >/dev/null || { echo "!!! something already listens on port $PORT (PORT=… to choose another)"; exit 1; }
  YILIAN_LOG=warn "$Y" --db "$url" serve --addr 127.0.0.1:$PORT > "$OUT/server-$be.log" 2>&1 & pid=$!; SERVER_PID=$pid
  trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do curl -sf $BASE/healthz >/dev/null && break; sleep 0.2; done
  ADMIN=$(login admin); CLIN=$(login jiceng); VD=$(login cunyi); DESK=$(login zhuanzhen)
  [ -n "$ADMIN" ] && [ -n "$CLIN" ] && [ -n "$VD" ] && [ -n "$DESK" ] || { echo "!!! demo logins failed (password $PW?)"; kill $pid; exit 1; }
  prepare_data "$be" "$OUT/data-$be" > "$OUT/data-$be.txt"; cat "$OUT/data-$be.txt"
  for c in $CONNS; do
    echo "--- $be, $c connections: warm-up ${WARMUP} s"
    one_run "$be" "$c" "$be-c$c-warmup" "$WARMUP" > "$OUT/$be-c$c-warmup.txt"
    for r in $(seq 1 "$RUNS"); do
      load=$(wait_load)
      echo "--- $be, $c connections, run $r (load average before: $load)"
      if [ "${PROFILE:-0}" = 1 ] && [ "$c" = "${CONNS##* }" ] && [ "$r" = "$RUNS" ] && command -v perf >/dev/null; then
        (sleep 8; perf record -F 499 -g -p $pid -o "$OUT/perf-$be.data" -- sleep 10 > /dev/null 2>&1 || true) & perf_pid=$!
      fi
      { echo "load average before: $load"; one_run "$be" "$c" "$be-c$c-r$r" "$SECONDS_RUN"; } > "$OUT/$be-c$c-r$r.txt"
      [ -z "${perf_pid:-}" ] || { wait "$perf_pid" 2>/dev/null || true; perf_pid=; }
      python3 - "$OUT/$be-c$c-r$r.json" "$load" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1])); j["load_before"] = sys.argv[2]; json.dump(j, open(sys.argv[1], "w"))
t = j["types"]
bad = {k: v["other"] for k, v in t.items() if v["other"]}
print(f"  {j['rps']:8.0f} req/s  p50 {j['p50_ms']:.1f} ms  p90 {j['p90_ms']:.1f} ms  p99 {j['p99_ms']:.1f} ms"
      f"  409s: {sum(v['conflict_409'] for v in t.values())} (book {t['book']['conflict_409']})  other non-2xx: {bad or 0}")
EOF
    done
  done
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  if [ -s "$OUT/perf-$be.data" ]; then
    { perf report -i "$OUT/perf-$be.data" --no-children --sort dso -g none --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -6
      perf report -i "$OUT/perf-$be.data" --no-children --sort symbol -g none --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40 | cut -c1-160
    } > "$OUT/perf-$be.txt" || true
  fi
}

[[ " $BACKENDS " == *" sqlite "* ]] && bench_backend sqlite "sqlite://$DB"
[ $have_pg = 1 ] && bench_backend postgres "$PG_URL"

echo "== summary (median over runs)"
python3 - "$OUT" "$N" "$RUNS" "$SECONDS_RUN" <<'EOF'
import glob, json, os, re, statistics, sys
out, n, runs, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows, table = [], {}
for f in sorted(glob.glob(os.path.join(out, "*-c*-r*.json"))):
    m = re.match(r"(sqlite|postgres)-c(\d+)-r(\d+)\.json", os.path.basename(f))
    if m:
        table.setdefault((m[1], int(m[2])), []).append(json.load(open(f)))
types = ["lookup", "record", "slots", "followup", "book", "ref_create", "ref_accept", "ref_schedule"]
med = lambda xs: statistics.median(xs) if xs else 0
summary = {"residents": int(n), "seconds_per_run": int(secs), "results": []}
md = [f"# Whole-system HTTP load — {n} residents, wrk {secs} s per run, median of the runs\n",
      "| backend | connections | runs | requests/s (min–max) | p50 | p90 | p99 | 409 book | other non-2xx | load before |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
for (be, c), js in sorted(table.items(), key=lambda kv: (kv[0][0] != "sqlite", kv[0][1])):
    rps = [j["rps"] for j in js]
    other = {}
    for j in js:
        for t, v in j["types"].items():
            for code, k in v["other"].items():
                other[f"{t} {code}"] = other.get(f"{t} {code}", 0) + k
    r = {"backend": be, "connections": c, "runs": len(js), "rps_median": med(rps), "rps_min": min(rps), "rps_max": max(rps),
         "p50_ms": med([j["p50_ms"] for j in js]), "p90_ms": med([j["p90_ms"] for j in js]),
         "p99_ms": med([j["p99_ms"] for j in js]), "book_409": sum(j["types"]["book"]["conflict_409"] for j in js),
         "other_non_2xx": other, "load_before": [j.get("load_before") for j in js],
         "types": {t: {"rps": med([j["types"][t]["rps"] for j in js]), "p50_ms": med([j["types"][t]["p50_ms"] for j in js]),
                       "p99_ms": med([j["types"][t]["p99_ms"] for j in js]),
                       "conflict_409": sum(j["types"][t]["conflict_409"] for j in js)} for t in types}}
    summary["results"].append(r)
    md.append(f"| {be} | {c} | {len(js)} | {r['rps_median']:,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | {r['p50_ms']:.1f} ms | "
              f"{r['p90_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['book_409']} | {other or 0} | {' / '.join(r['load_before'])} |")
md += ["", "Per type (median req/s, p50 / p99 ms):", "",
       "| backend | conns | " + " | ".join(types) + " |", "|---|---:|" + "---|" * len(types)]
for r in summary["results"]:
    md.append(f"| {r['backend']} | {r['connections']} | " + " | ".join(
        f"{r['types'][t]['rps']:,.0f}/s {r['types'][t]['p50_ms']:.1f} / {r['types'][t]['p99_ms']:.1f}" for t in types) + " |")
open(os.path.join(out, "summary.md"), "w").write("\n".join(md) + "\n")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print("\n".join(md))
import subprocess
for (be, c), js in table.items():  # the results table of `make bench` (scripts/bench_table.py)
    common = ["--bench", "http-mix", "--case", f"mixed workload, {c} connections", "--system", "yilian", "--backend", be,
              "--size", f"{int(n):,} residents", "--command", f"bash scripts/bench-http-mix.sh {n}"]
    for metric, unit, better, target, key in (("requests/s", "/s", "higher", ">=3000", "rps"), ("p99", "ms", "lower", "<50", "p99_ms")):
        subprocess.run([sys.executable, "scripts/bench_record.py", *common, "--metric", metric, "--unit", unit, "--better", better,
                        *(["--target", target] if c == 64 else []), *[str(j[key]) for j in js]], check=True)
EOF

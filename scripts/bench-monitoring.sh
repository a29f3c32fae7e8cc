#!/usr/bin/env bash
# Monitoring indicators (issue 7) beside DuckDB — see docs/BENCHMARKS.md,
# "Monitoring indicators (issue 7) beside DuckDB".
#
# 1. Generates a county into SQLite (claims and surveillance skipped: they
#    are not read by what is measured here, and the claims alone take ~20
#    minutes at 1M residents; the fund/capitation indicators read an empty
#    ledger).
# 2. Times `yilian evaluate` (every tiered-care indicator of every scope,
#    scored) and `yilian indicators` (the planning indicators) on SQLite.
# 3. Copies the SQLite file table by table into a fresh PostgreSQL database
#    (loading 1M residents through the generator on PostgreSQL takes an
#    hour) and times the same two commands there.
# 4. Exports the tables the aggregations read to Parquet and runs the same
#    aggregations in DuckDB (scripts/bench_monitoring_duckdb.py), checking
#    that its figures equal yilian's.
#
# Usage: bash scripts/bench-monitoring.sh [residents=1000000]
# Environment: RUNS (timed runs per command, 5), BENCH_PG (server URL without
# database, postgres://postgres@127.0.0.1:5432), REUSE=1 (keep an already
# generated SQLite file, PostgreSQL copy and Parquet export of this size).
# Output: bench-results/monitoring-N/ (raw logs, JSON outputs, summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-5}
REUSE=${REUSE:-0}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PG_DB=yilian_bench_mon
PG_URL=$PG_BASE/$PG_DB
Y=target/bench-mon-bin/ylbench # a copy: concurrent release builds must not swap the binary mid-run
OUT=bench-results/monitoring-$N
DB=$PWD/target/bench-mon-$N.db
PQ=target/bench-mon-$N-parquet
VENV=target/bench-venv
PLAN=config/plans/seed002-a.toml
mkdir -p "$OUT"
for t in sqlite3 python3 tsort; do
  command -v $t >/dev/null || { echo "install $t (Debian packages sqlite3, python3-venv, coreutils)"; exit 1; }
done

echo "== build (release) and DuckDB (PyPI, in $VENV)"
cargo build --release -p yilian-cli
mkdir -p "$(dirname $Y)" && cp target/release/yilian "$Y"
echo "binary: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/')" | tee "$OUT/binary.txt"
[ -x $VENV/bin/python ] || python3 -m venv $VENV
$VENV/bin/python -c 'import duckdb, numpy' 2>/dev/null || $VENV/bin/pip install -q duckdb numpy

# evaluate scores the year up to min(Dec 31, today in China Standard Time).
YEAR=$(TZ=Asia/Shanghai date +%Y)
AT=$(TZ=Asia/Shanghai date +%F)

summarize() { # label file-of-seconds -> "label  median  (min–max)"
  python3 - "$1" "$2" <<'EOF'
import statistics, sys
xs = [float(x) for x in open(sys.argv[2]).read().split()]
print(f"{sys.argv[1]:<28} median {statistics.median(xs):8.3f} s  (min–max {min(xs):.3f}–{max(xs):.3f}; runs: {' / '.join(f'{x:.2f}' for x in xs)})")
EOF
}

timed() { # name cmd... — one untimed warm-up (under /usr/bin/time -v), then RUNS timed runs
  local name=$1; shift
  YILIAN_LOG=warn /usr/bin/time -v "$@" > "$OUT/$name.json" 2> "$OUT/$name.warmup.log"
  : > "$OUT/$name.times"
  for _ in $(seq 1 "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    YILIAN_LOG=warn "$@" > "$OUT/$name.json" 2>> "$OUT/$name.err"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >> "$OUT/$name.times"
  done
  summarize "$name" "$OUT/$name.times" | tee -a "$OUT/summary.txt"
  grep -E "Maximum resident" "$OUT/$name.warmup.log" | sed "s/^\s*/  $name warm-up: /"
}

statements() { # name db-url — one evaluate with every statement logged; the slowest ones
  YILIAN_LOG=warn,sqlx::query=trace "$Y" --db "$2" evaluate --year "$YEAR" --format json \
    > /dev/null 2> "$OUT/$1.statements.log"
  python3 - "$OUT/$1.statements.log" <<'EOF' | tee "$OUT/$1.statements.txt"
import re, sys
rows = []
for line in open(sys.argv[1], errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"elapsed(?:_secs)?=([0-9.]+)(ms|µs|us|s|ns)?", line)
    s = re.search(r'db.statement="((?:[^"\\]|\\.)*)"', line)
    if not m:
        continue
    v = float(m.group(1)); unit = m.group(2) or "s"
    v *= {"s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}[unit]
    text = re.sub(r"(\\[nt]|\s)+", " ", s.group(1)).strip() if s else line.strip()
    rows.append((v, text[:150]))
total = sum(v for v, _ in rows)
print(f"  {len(rows)} statements, {total:.2f} s in the store; slowest:")
for v, s in sorted(rows, reverse=True)[:8]:
    print(f"  {v:8.3f} s  {100 * v / total if total else 0:5.1f} %  {s}")
EOF
}

: > "$OUT/summary.txt"

echo "== 1. generate $N residents into SQLite ($DB)"
if [ "$REUSE" = 1 ] && [ -s "$DB" ]; then
  echo "reusing $DB (REUSE=1)"
else
  rm -f "$DB" "$DB-wal" "$DB-shm"
  /usr/bin/time -v "$Y" --db "sqlite://$DB" generate --residents "$N" --seed 2026 --skip claims,surveillance \
    > /dev/null 2> "$OUT/generate.log"
  grep -vE "^\s+(Command|User|System|Percent|Average|Exit|Socket|Signal|Swap|File system|Page size|Major|Minor|Voluntary|Involuntary)" \
    "$OUT/generate.log" | grep -E "residents|record|Elapsed|Maximum resident|s\)|rows" | head -30
fi
sqlite3 -separator ' ' "$DB" "
  SELECT 'residents', COUNT(*) FROM residents UNION ALL
  SELECT 'record_entries', COUNT(*) FROM record_entries UNION ALL
  SELECT 'encounters', COUNT(*) FROM record_entries WHERE kind = 'encounter' UNION ALL
  SELECT 'encounters_in_$YEAR', COUNT(*) FROM record_entries WHERE kind = 'encounter' AND occurred_at >= '$YEAR-01-01' UNION ALL
  SELECT 'institutions', COUNT(*) FROM institutions UNION ALL
  SELECT 'consortia', COUNT(*) FROM consortia UNION ALL
  SELECT 'referrals', COUNT(*) FROM referrals UNION ALL
  SELECT 'test_orders', COUNT(*) FROM test_orders UNION ALL
  SELECT 'remote_requests', COUNT(*) FROM remote_requests UNION ALL
  SELECT 'enrolments', COUNT(*) FROM enrolments UNION ALL
  SELECT 'followups', COUNT(*) FROM followups UNION ALL
  SELECT 'contracts', COUNT(*) FROM contracts UNION ALL
  SELECT 'contracts_active', COUNT(*) FROM contracts WHERE status = 'active' UNION ALL
  SELECT 'contract_packages', COUNT(*) FROM contract_packages UNION ALL
  SELECT 'service_deliveries', COUNT(*) FROM service_deliveries UNION ALL
  SELECT 'claims', COUNT(*) FROM claims UNION ALL
  SELECT 'fund_ledger', COUNT(*) FROM fund_ledger" | tee "$OUT/counts.txt"
ls -l "$DB" | awk '{printf "SQLite file: %.0f MB\n", $5 / 1e6}' | tee -a "$OUT/counts.txt"

echo "== 2. SQLite: evaluate and indicators, $RUNS runs each after a warm-up"
timed sqlite-evaluate "$Y" --db "sqlite://$DB" evaluate --year "$YEAR" --format json
timed sqlite-indicators "$Y" --db "sqlite://$DB" indicators --plan "$PLAN" --format json
statements sqlite "sqlite://$DB"

echo "== 3. PostgreSQL: a copy of the same data"
if pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ "$REUSE" = 1 ] && psql "$PG_URL" -Atc "SELECT COUNT(*) FROM residents" 2>/dev/null | grep -qx "$(sqlite3 "$DB" 'SELECT COUNT(*) FROM residents')"; then
    echo "reusing $PG_DB (REUSE=1)"
  else
    psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
    "$Y" --db "$PG_URL" migrate
    # Rows the migrations seed (e.g. the access log's head) come from the SQLite file instead.
    psql "$PG_URL" -v ON_ERROR_STOP=1 -qc "DO \$\$ BEGIN EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', relname), ', ') || ' CASCADE' FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname <> '_sqlx_migrations'); END \$\$"
    t_copy=$(date +%s)
    # Tables in foreign-key order, from PostgreSQL's catalog (tsort).
    order=$( {
      psql "$PG_URL" -At -F' ' -c "SELECT relname, relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
      psql "$PG_URL" -At -F' ' -c "SELECT confrelid::regclass, conrelid::regclass FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND confrelid <> conrelid"
    } | tsort )
    in_sqlite=" $(sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'" | tr '\n' ' ') "
    for t in $order; do
      [ "$t" = _sqlx_migrations ] && continue
      case "$in_sqlite" in *" $t "*) ;; *) echo "!!! $t is in PostgreSQL's schema but not in the SQLite file"; exit 1 ;; esac
      cols=() sel=()
      while IFS='|' read -r c typ; do
        cols+=("\"$c\"")
        if [ "$typ" = bytea ]; then sel+=("CASE WHEN \"$c\" IS NULL THEN NULL ELSE '\\x' || hex(\"$c\") END")
        else sel+=("\"$c\""); fi
      done < <(psql "$PG_URL" -At -c "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '$t' AND is_generated = 'NEVER' ORDER BY ordinal_position")
      n=$(sqlite3 "$DB" "SELECT COUNT(*) FROM \"$t\"")
      [ "$n" = 0 ] && continue
      t0=$(date +%s.%N)
      # NULL as \N so that it stays distinct from ''. Triggers are off for the copy
      # (session_replication_role): the rollups they keep are copied as they are.
      sqlite3 -bail -csv -header -cmd '.nullvalue \\N' "$DB" "SELECT $(IFS=,; echo "${sel[*]}") FROM \"$t\"" \
        | psql "$PG_URL" -v ON_ERROR_STOP=1 -q -c "SET session_replication_role = replica" -c "COPY \"$t\" ($(IFS=,; echo "${cols[*]}")) FROM STDIN WITH (FORMAT csv, HEADER true, NULL '\\N')"
      printf '  %-24s %10s rows  %6.1f s\n' "$t" "$n" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
    done
    # Identity columns continue after the copied ids.
    psql "$PG_URL" -v ON_ERROR_STOP=1 -qAt <<'EOF' > /dev/null
SELECT format('SELECT setval(%L, COALESCE((SELECT max(%I) FROM %I), 0) + 1, false)',
              pg_get_serial_sequence(format('%I', table_name), column_name), column_name, table_name)
FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'
\gexec
EOF
    psql "$PG_URL" -qc "VACUUM ANALYZE"
    echo "copied and analysed in $(( $(date +%s) - t_copy )) s"
  fi
  psql "$PG_URL" -Atc "SELECT 'PostgreSQL database: ' || pg_size_pretty(pg_database_size(current_database()))" | tee -a "$OUT/counts.txt"
  for t in residents record_entries followups contracts; do
    [ "$(psql "$PG_URL" -Atc "SELECT COUNT(*) FROM $t")" = "$(sqlite3 "$DB" "SELECT COUNT(*) FROM $t")" ] \
      || { echo "!!! $t: PostgreSQL and SQLite row counts differ"; exit 1; }
  done
  timed pg-evaluate "$Y" --db "$PG_URL" evaluate --year "$YEAR" --format json
  timed pg-indicators "$Y" --db "$PG_URL" indicators --plan "$PLAN" --format json
  statements pg "$PG_URL"
  for c in evaluate indicators; do
    if cmp -s "$OUT/sqlite-$c.json" "$OUT/pg-$c.json"; then echo "$c: SQLite and PostgreSQL outputs identical"
    else echo "!!! $c: SQLite and PostgreSQL outputs differ (diff $OUT/sqlite-$c.json $OUT/pg-$c.json)"; fi
  done | tee -a "$OUT/summary.txt"
else
  echo "!!! PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL leg SKIPPED" | tee -a "$OUT/summary.txt"
fi

echo "== 4. DuckDB: the same aggregations on a Parquet export of the same data"
if [ "$REUSE" = 1 ] && [ -e "$PQ/COMPLETE" ]; then
  echo "reusing $PQ (REUSE=1)"
else
  rm -rf "$PQ"
  $VENV/bin/python scripts/bench_monitoring_duckdb.py prepare --sqlite "$DB" --parquet "$PQ"
fi
$VENV/bin/python scripts/bench_monitoring_duckdb.py run --sqlite "$DB" --parquet "$PQ" --year "$YEAR" --at "$AT" \
  --runs "$RUNS" --evaluation "$OUT/sqlite-evaluate.json" --json-out "$OUT/duckdb.json" | tee "$OUT/duckdb.txt"
[ "$(TZ=Asia/Shanghai date +%F)" = "$AT" ] || echo "!!! the date (China Standard Time) changed during the run: periods may differ"

echo "== summary (medians of $RUNS runs; ratio = yilian / DuckDB)"
python3 - "$OUT" <<'EOF' | tee -a "$OUT/summary.txt"
import json, os, statistics, sys
out = sys.argv[1]
d = json.load(open(os.path.join(out, "duckdb.json")))["results"]
for cmd in ("evaluate", "indicators"):
    duck = d[cmd]["total_median_s"]
    print(f"DuckDB, the queries of {cmd:<10}  {duck:8.3f} s")
    for be in ("sqlite", "pg"):
        f = os.path.join(out, f"{be}-{cmd}.times")
        if os.path.exists(f):
            m = statistics.median(float(x) for x in open(f).read().split())
            print(f"yilian {cmd:<10} on {be:<6}  {m:8.3f} s   ratio {m / duck:6.1f}×")
EOF
record() { # command system backend [--target …] values… — the results table of `make bench`
  python3 scripts/bench_record.py --bench analytics --case "monitoring indicators: $1" --system "$2" --backend "$3" \
    --size "$N residents (encounters: see docs/BENCHMARKS.md)" --command "bash scripts/bench-monitoring.sh $N" \
    --metric "wall time" --unit s --better lower "${@:4}"
}
for cmd in evaluate indicators; do
  targets=(); [ $cmd = evaluate ] && targets=(--target "<2" --ratio-target "<=1.5")
  for be in sqlite pg; do
    [ -f "$OUT/$be-$cmd.times" ] || continue
    label=$be; [ $be = pg ] && label=postgres
    record $cmd yilian $label "${targets[@]}" $(cat "$OUT/$be-$cmd.times")
  done
  record $cmd duckdb duckdb $(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["results"][sys.argv[2]]["total_s"])' "$OUT/duckdb.json" $cmd)
done

#!/usr/bin/env bash
# Record linkage at scale (issue 9) beside Splink — see docs/BENCHMARKS.md,
# "Duplicate detection (MPI record linkage)".
#
# 1. Builds yilian (release) and copies the binary (concurrent builds must not
#    swap it mid-run); installs Splink + DuckDB (PyPI, pinned) into a venv.
# 2. Generates a county of N residents into SQLite with the generator's
#    ground truth (2 % duplicate registrations, table synth_truth), unless the
#    file exists (claims and surveillance skipped: not read here).
# 3. Runs `yilian mpi scan` once untimed (it stores its candidates; the later
#    runs find them known), then RUNS timed runs; each prints comparisons,
#    seconds, precision and recall against synth_truth.
# 4. Runs Splink with the DuckDB backend on the same rows and the same truth
#    (scripts/bench_linkage_splink.py): same fields, blocking rules equal to
#    yilian's six passes, u by random sampling, m by EM, predict, pairs at
#    match probability >= 0.5, precision/recall counted as yilian counts them.
# 5. Records every figure with scripts/bench_record.py (bench "linkage").
#
# Usage: bash scripts/bench-linkage.sh [residents=1000000]
# Environment: RUNS (timed runs per system, 3), SPLINK_THREADS (DuckDB
# threads, default all cores), CARGO_TARGET_DIR (target), SKIP_BUILD=1 (reuse
# the copied binary, e.g. while others rebuild the workspace).
# Output: bench-results/linkage-N/ (logs, splink.json, summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
THREADS=${SPLINK_THREADS:-$(nproc)}
TARGET=${CARGO_TARGET_DIR:-target}
Y=target/bench-linkage-bin/yilian # a copy: concurrent release builds must not swap the binary mid-run
OUT=bench-results/linkage-$N
DB=$PWD/target/bench-linkage-$N.db
VENV=target/splink-venv
# Pinned: the versions measured in docs/BENCHMARKS.md.
PIP_PINS="splink==4.0.17 duckdb==1.4.4 pandas==3.1.1 numpy==2.4.6 sqlglot==30.30.0 altair==6.3.0"
NFMT=$(python3 -c "print(f'{int(\"$N\"):,}')")
CASE="dedupe $NFMT residents"
SIZE="$NFMT residents"
mkdir -p "$OUT"
for t in python3 sqlite3; do
  command -v $t >/dev/null || { echo "install $t (Debian packages python3-venv, sqlite3)"; exit 1; }
done

echo "== build (release) and Splink (PyPI, in $VENV)"
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$Y" ]; then
  echo "SKIP_BUILD=1: reusing $Y"
else
  CARGO_TARGET_DIR=$TARGET nice -n 5 cargo build --release -p yilian-cli
  mkdir -p "$(dirname $Y)" && cp "$TARGET/release/yilian" "$Y.tmp" && mv -f "$Y.tmp" "$Y" # rename: a running copy keeps its file
fi
[ "${SKIP_BUILD:-0}" = 1 ] || echo "binary: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/')" | tee "$OUT/binary.txt"
[ -x $VENV/bin/python ] || python3 -m venv $VENV
# shellcheck disable=SC2086
$VENV/bin/python -c 'import splink, duckdb; assert splink.__version__ == "4.0.17" and duckdb.__version__ == "1.4.4"' 2>/dev/null \
  || $VENV/bin/pip install -q $PIP_PINS

echo "== generate $N residents into SQLite ($DB)"
if [ -s "$DB" ]; then
  echo "reusing $DB"
else
  rm -f "$DB" "$DB-wal" "$DB-shm"
  /usr/bin/time -v "$Y" --db "sqlite://$DB" generate --residents "$N" --seed 2026 --skip claims,surveillance \
    > /dev/null 2> "$OUT/generate.log" || { tail -20 "$OUT/generate.log"; exit 1; }
  grep -E "Elapsed|Maximum resident" "$OUT/generate.log"
fi
sqlite3 -separator ' ' "$DB" "
  SELECT 'residents', COUNT(*) FROM residents UNION ALL
  SELECT 'active (merged_into IS NULL)', COUNT(*) FROM residents WHERE merged_into IS NULL UNION ALL
  SELECT 'truth pairs (synth_truth)', COUNT(*) FROM synth_truth" | tee "$OUT/data.txt"

: > "$OUT/summary.txt"
echo "== yilian mpi scan: 1 untimed + $RUNS timed runs"
YILIAN_LOG=warn "$Y" --db "sqlite://$DB" mpi scan 2> "$OUT/yilian-warmup.log"
cat "$OUT/yilian-warmup.log"
: > "$OUT/yilian.runs"
for i in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  YILIAN_LOG=warn "$Y" --db "sqlite://$DB" mpi scan 2> "$OUT/yilian-$i.log"
  t1=$(date +%s.%N)
  # wall, then the scan's own figures: "records R, comparisons C, … S s (…)" and "precision P, recall Q (tp …)"
  python3 - "$t0" "$t1" "$OUT/yilian-$i.log" >> "$OUT/yilian.runs" <<'EOF'
import re, sys
t0, t1, log = float(sys.argv[1]), float(sys.argv[2]), open(sys.argv[3]).read()
m = re.search(r"records (\d+), comparisons (\d+), candidates (\d+) .*?, ([0-9.]+) s", log)
q = re.search(r"precision ([0-9.]+), recall ([0-9.]+) \(tp (\d+), fp (\d+), fn (\d+)\)", log)
if not (m and q):
    sys.exit(f"cannot parse {sys.argv[3]}:\n{log}")
print(f"{t1 - t0:.3f} {m.group(1)} {m.group(2)} {m.group(3)} {m.group(4)} {q.group(1)} {q.group(2)} {q.group(3)} {q.group(4)} {q.group(5)}")
EOF
  tail -1 "$OUT/yilian.runs" | awk '{ printf "run: wall %s s, scan %s s, %d comparisons (%.0f/s), found %d, precision %s, recall %s (tp %s, fp %s, fn %s)\n", $1, $5, $3, $3 / $5, $4, $6, $7, $8, $9, $10 }'
done

echo "== Splink $(cd $VENV && bin/python -c 'import splink; print(splink.__version__)') (DuckDB backend, $THREADS threads): $RUNS runs"
$VENV/bin/python scripts/bench_linkage_splink.py --db "$DB" --runs "$RUNS" --threads "$THREADS" \
  --json "$OUT/splink.json" 2>&1 | tee "$OUT/splink.log"

echo "== summary and bench_record.py"
python3 - "$OUT" "$CASE" "$SIZE" "$THREADS" <<'EOF' | tee "$OUT/summary.txt"
import json, statistics, subprocess, sys
out, case, size, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
y = [list(map(float, l.split())) for l in open(f"{out}/yilian.runs") if l.strip()]
s = json.load(open(f"{out}/splink.json"))
runs = s["runs"]

def rec(system, backend, command, metric, unit, better, target, values, note=""):
    subprocess.run([sys.executable, "scripts/bench_record.py", "--bench", "linkage", "--case", case,
                    "--system", system, "--backend", backend, "--size", size, "--command", command,
                    "--metric", metric, "--unit", unit, "--better", better, "--target", target,
                    "--note", note] + [repr(v) for v in values], check=True)

def mm(xs):
    return f"{statistics.median(xs):,.4g} ({min(xs):,.4g}–{max(xs):,.4g})"

yc = "yilian mpi scan"
comparisons = int(y[0][2])
y_wall = [r[0] for r in y]
y_cps = [r[2] / r[4] for r in y]
y_p = [r[5] for r in y]
y_r = [r[6] for r in y]
scan = [r[4] for r in y]
note = f"{comparisons:,} comparisons, one thread; scan alone {statistics.median(scan):.2f} s, the rest is loading from SQLite and storing candidates"
rec("yilian", "sqlite", yc, "wall time", "s", "lower", "", y_wall, note)
rec("yilian", "sqlite", yc, "comparisons/s per core", "/s", "higher", ">=1000000", y_cps, note)
rec("yilian", "sqlite", yc, "precision", "ratio", "higher", ">=0.99", y_p, f"tp {int(y[0][7])}, fp {int(y[0][8])}")
rec("yilian", "sqlite", yc, "recall", "ratio", "higher", ">=0.97", y_r, f"tp {int(y[0][7])}, fn {int(y[0][9])}")

sc = f"scripts/bench_linkage_splink.py (splink {s['splink']}, duckdb {s['duckdb']}, {threads} threads)"
pairs = s["pairs_scored"]
s_wall = [r["wall_s"] for r in runs]
s_cps = [r["comparisons_per_s_per_core"] for r in runs]
s_p = [r["precision"] for r in runs]
s_r = [r["recall"] for r in runs]
snote = (f"{pairs:,} pairs scored, {threads} DuckDB threads; train {statistics.median(r['train_s'] for r in runs):.1f} s, "
         f"predict {statistics.median(r['predict_s'] for r in runs):.1f} s, load {statistics.median(r['load_s'] for r in runs):.1f} s; "
         f"match probability >= {s['threshold']}")
rec("splink", "duckdb", sc, "wall time", "s", "lower", "", s_wall, snote)
rec("splink", "duckdb", sc, "comparisons/s per core", "/s", "higher", "", s_cps, snote + "; per core = pairs / predict s / threads")
rec("splink", "duckdb", sc, "precision", "ratio", "higher", ">=0.99", s_p, f"tp {runs[0]['tp']}, fp {runs[0]['fp']}")
rec("splink", "duckdb", sc, "recall", "ratio", "higher", ">=0.97", s_r, f"tp {runs[0]['tp']}, fn {runs[0]['fn']}")

print(f"{case}: median (min–max) of {len(y)} / {len(runs)} runs")
print(f"yilian  wall {mm(y_wall)} s (scan alone {mm(scan)} s); {comparisons:,} comparisons; "
      f"{mm(y_cps)} comparisons/s per core; precision {mm(y_p)}; recall {mm(y_r)}")
print(f"splink  wall {mm(s_wall)} s (train {mm([r['train_s'] for r in runs])} s, predict {mm([r['predict_s'] for r in runs])} s, "
      f"load {mm([r['load_s'] for r in runs])} s); {pairs:,} pairs; {mm(s_cps)} comparisons/s per core ({threads} threads); "
      f"precision {mm(s_p)}; recall {mm(s_r)}")
EOF

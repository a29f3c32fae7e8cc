#!/usr/bin/env bash
# Surveillance speed (issue 9) — see docs/BENCHMARKS.md, "Surveillance and
# early warning".
#
# 1. Builds yilian (release, honouring CARGO_TARGET_DIR) and copies the
#    binary (a concurrent release build must not swap it mid-run).
# 2. Runs `yilian surveil evaluate --residents 100000 --seed 2026 --days 730`
#    RUNS times. No store is needed: the county, its years of daily counts
#    and the injected outbreaks are generated in memory. Each run prints on
#    stderr a `timing-ms:` line with the two figures:
#      county-year — EARS C1 + C2 + C3, moving percentile (5 years of
#                    history) and CUSUM over every day of one county-year,
#                    all channels (375 series × 365 days);
#      scan        — the space-time permutation scan, 999 replications
#                    (15 townships × 30 days).
# 3. Records both with scripts/bench_record.py (bench "surveillance").
#
# Usage: bash scripts/bench-surveillance.sh
# Environment: RUNS (timed runs, 5), CARGO_TARGET_DIR (target).
# Output: bench-results/surveillance/ (run logs, summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
TARGET=${CARGO_TARGET_DIR:-target}
Y=target/bench-surveillance-bin/yilian # a copy: concurrent release builds must not swap the binary mid-run
OUT=bench-results/surveillance
ARGS=(surveil evaluate --residents 100000 --seed 2026 --days 730)
COMMAND="yilian ${ARGS[*]}"
mkdir -p "$OUT"

echo "== build (release)"
CARGO_TARGET_DIR=$TARGET cargo build --release -p yilian-cli
mkdir -p "$(dirname $Y)" && cp "$TARGET/release/yilian" "$Y"
echo "binary: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/')" | tee "$OUT/binary.txt"

echo "== $COMMAND, $RUNS runs"
county=()
scan=()
for i in $(seq 1 "$RUNS"); do
  YILIAN_LOG=error "$Y" "${ARGS[@]}" > "$OUT/run-$i.out" 2> "$OUT/run-$i.err" \
    || { tail -20 "$OUT/run-$i.err"; exit 1; }
  line=$(grep '^timing-ms:' "$OUT/run-$i.err" || true)
  [ -n "$line" ] || { echo "run $i printed no timing-ms line"; tail -5 "$OUT/run-$i.err"; exit 1; }
  # timing-ms: county-year=<ms> scan=<ms> series=<n> alarms=<n>
  c=$(sed -E 's/.*county-year=([0-9.]+).*/\1/' <<< "$line")
  s=$(sed -E 's/.*scan=([0-9.]+).*/\1/' <<< "$line")
  county+=("$c")
  scan+=("$s")
  echo "run $i: county-year $c ms, scan $s ms"
done
# The tables (detection quality) must not depend on the run.
for i in $(seq 2 "$RUNS"); do
  cmp -s "$OUT/run-1.out" "$OUT/run-$i.out" || { echo "run $i printed other tables than run 1"; exit 1; }
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }
{
  echo "county-year (375 series × 365 days): median $(median "${county[@]}") ms ($(minmax "${county[@]}")), runs: ${county[*]}"
  echo "scan (999 replications): median $(median "${scan[@]}") ms ($(minmax "${scan[@]}")), runs: ${scan[*]}"
} | tee "$OUT/summary.txt"

echo "== record"
python3 scripts/bench_record.py --bench surveillance \
  --case "EARS C1+C2+C3, moving percentile, CUSUM: one county-year, all channels" \
  --system yilian --backend memory --size "375 series × 365 days (100,000 residents)" \
  --command "$COMMAND" --metric "wall time" --unit ms --better lower --target '<100' \
  "${county[@]}"
python3 scripts/bench_record.py --bench surveillance \
  --case "space-time permutation scan, 999 replications" \
  --system yilian --backend memory --size "15 townships × 30 days" \
  --command "$COMMAND" --metric "wall time" --unit ms --better lower --target '<10000' \
  "${scan[@]}"

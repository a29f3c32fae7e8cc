#!/usr/bin/env python3
"""Append one benchmark result to bench-results/results.jsonl (issue 9).

Every benchmark script calls this once per figure it measures; `make bench`
ends with scripts/bench_table.py, which turns the lines into
bench-results/results.md and results.json (medians, spread, targets, and
the ratio to each peer measured in the same run).

  python3 scripts/bench_record.py --bench linkage --case "dedupe 1M residents" \
      --system yilian --backend sqlite --size "1,000,000 residents" \
      --command "yilian mpi scan" --metric "comparisons/s" --unit "/s" \
      --better higher --target ">=1000000" 6.3e6 6.1e6 6.4e6

Records with the same --bench and --case but another --system are peers:
the table shows yilian's median divided by the peer's.  --backend
distinguishes SQLite / PostgreSQL legs.  --note adds a short remark
(e.g. "precision 0.996 recall 0.978").  BENCH_RESULTS overrides the file.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", required=True, help="benchmark family, e.g. 'http-mix'")
    p.add_argument("--case", required=True, help="what is measured, e.g. '64 connections'")
    p.add_argument("--system", default="yilian", help="yilian, or the peer: duckdb, splink, helios-hfs")
    p.add_argument("--backend", default="", help="sqlite, postgres, memory, duckdb …")
    p.add_argument("--size", default="", help="data size, e.g. '100,000 residents'")
    p.add_argument("--command", default="", help="the command that produced the figure")
    p.add_argument("--metric", required=True, help="e.g. 'wall time', 'requests/s', 'p99'")
    p.add_argument("--unit", required=True, help="s, ms, /s, MB, ratio …")
    p.add_argument("--better", choices=["lower", "higher"], required=True)
    p.add_argument("--target", default="", help="e.g. '<100', '>=3000' (in --unit)")
    p.add_argument("--ratio-target", default="", help="target on yilian ÷ peer, e.g. '<=1.5'")
    p.add_argument("--note", default="")
    p.add_argument("values", nargs="+", type=float, help="one value per run")
    a = p.parse_args()
    for t in (a.target, a.ratio_target):
        if t and t.rstrip("0123456789.e+-_ ") not in ("<", "<=", ">", ">="):
            sys.exit(f"bench_record: a target must start with <, <=, > or >= (got {t!r})")
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""
    rec = {k: getattr(a, k) for k in ("bench", "case", "system", "backend", "size", "command", "metric",
                                      "unit", "better", "target", "ratio_target", "note", "values")}
    rec["revision"] = rev
    rec["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    path = os.environ.get("BENCH_RESULTS", "bench-results/results.jsonl")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

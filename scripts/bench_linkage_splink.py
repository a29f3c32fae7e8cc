#!/usr/bin/env python3
"""Splink (DuckDB backend) on the residents of a yilian SQLite file, beside
`yilian mpi scan` (issue 9, "Duplicate detection (MPI record linkage)").

Reads the same rows yilian links (`residents` WHERE merged_into IS NULL, with
a parseable birth date and sex) and the generator's ground truth
(`synth_truth`: resident_id is a duplicate registration of original_id)
straight from the SQLite file, then per run:

  load      SQLite -> pandas, the derived keys yilian also derives (birth date
            as YYYYMMDD, township = first 9 digits of the region code,
            surname = first character, phone digits)
  train     estimate_probability_two_random_records_match (deterministic rule
            name + birth date, recall 0.5), estimate_u_using_random_sampling,
            two EM sessions (blocked on birth date + sex; on township + pinyin)
  predict   the six blocking rules of yilian's BLOCKING_PASSES, every pair
            scored, pairs at or above the match-probability threshold kept

and compares the kept pairs with the truth exactly as yilian's
`linkage::evaluate` does: unordered pairs, counted once; TP = found ∩ truth,
FP = found − TP, FN = truth − TP. No clustering: yilian reports pairs, and a
cluster would add transitive pairs that are not in the truth.

The number of pairs scored (for comparisons/s) is counted once, outside the
timed runs, with splink.blocking_analysis (the same de-duplication across
rules that predict applies).

Prints a human summary and writes --json (one object with every run).
"""
import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from datetime import date

import duckdb
import pandas as pd
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import cumulative_comparisons_to_be_scored_from_blocking_rules_data

# yilian_domain::id_number::Sex::parse, exactly.
SEX = {"male": "M", "m": "M", "M": "M", "男": "M", "female": "F", "f": "F", "F": "F", "女": "F"}


def digits_of_phone(p: str) -> str:
    """Digits only, without a +86 / 0086 prefix before the number (as yilian's Prep)."""
    d = "".join(c for c in p if c.isdigit())
    s = p.lstrip()
    if len(d) == 13 and s.startswith("+86"):
        d = d[2:]
    elif len(d) == 15 and s.startswith("0086"):
        d = d[4:]
    return d[:16]


def load(db: str) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT id, name, name_pinyin, name_initials, birth_date, sex, phone, region_code, address "
        "FROM residents WHERE merged_into IS NULL ORDER BY id"
    ).fetchall()
    truth = con.execute("SELECT resident_id, original_id FROM synth_truth").fetchall()
    con.close()
    recs = []
    for rid, name, pinyin, initials, birth, sex, phone, region, address in rows:
        try:
            d = date.fromisoformat(birth)
        except (TypeError, ValueError):
            continue  # yilian's link_records skips an unparseable birth date
        sx = SEX.get(sex or "")
        if sx is None:
            continue  # … and an unknown sex
        name = (name or "").strip()
        region = (region or "").strip()
        phone = digits_of_phone(phone or "")
        recs.append(
            (
                rid,
                name or None,
                (pinyin or "").strip() or None,
                (initials or "").strip() or None,
                f"{d.year % 10000:04d}{d.month:02d}{d.day:02d}",
                d.year,
                d.month,
                d.day,
                f"{d.month:02d}{d.day:02d}",
                sx,
                phone or None,
                region or None,
                (region[:9] if len(region) >= 9 else region) or None,
                (address or "").strip() or None,
                name[0] if name else None,
            )
        )
    cols = ["unique_id", "name", "pinyin", "initials", "dob", "birth_year", "birth_month", "birth_day",
            "month_day", "sex", "phone", "region", "township", "address", "surname"]
    return pd.DataFrame.from_records(recs, columns=cols), truth


def blocking_rules():
    """yilian's BLOCKING_PASSES, in order (nulls never block, as yilian skips empty keys)."""
    return [
        block_on("initials", "birth_year"),
        block_on("dob", "sex"),
        block_on("phone"),
        block_on("township", "pinyin"),
        block_on("township", "surname", "month_day"),
        block_on("township", "surname", "birth_year"),
    ]


def settings(tf: bool) -> SettingsCreator:
    # yilian's `compare` levels, each of its "Close" alternatives a level of its
    # own so that EM estimates its m separately.
    contained = (
        "((length(name_l) >= 2 AND length(name_r) > length(name_l) AND"
        "  (contains(name_r, name_l) OR (length(name_r) = length(name_l) + 1 AND"
        "   levenshtein(name_r, name_l) = strlen(name_r) - strlen(name_l))))"
        " OR (length(name_r) >= 2 AND length(name_l) > length(name_r) AND"
        "  (contains(name_l, name_r) OR (length(name_l) = length(name_r) + 1 AND"
        "   levenshtein(name_l, name_r) = strlen(name_l) - strlen(name_r)))))"
    )
    exact_name = cll.ExactMatchLevel("name", term_frequency_adjustments=tf)
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            exact_name,
            cll.CustomLevel("pinyin_l = pinyin_r", label_for_charts="same pinyin (homophone)"),
            cll.CustomLevel(contained, label_for_charts="one name contained / one character dropped"),
            cll.CustomLevel(
                "initials_l = initials_r AND jaro_winkler_similarity(pinyin_l, pinyin_r) >= 0.9",
                label_for_charts="same initials, pinyin Jaro-Winkler >= 0.9",
            ),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(
                "damerau_levenshtein(dob_l, dob_r) <= 1",
                label_for_charts="one digit differs or two adjacent digits swapped",
            ),
            cll.CustomLevel(
                "birth_year_l = birth_year_r AND birth_month_l = birth_day_r AND birth_day_l = birth_month_r",
                label_for_charts="day and month swapped",
            ),
            cll.ElseLevel(),
        ],
    )
    sex = cl.ExactMatch("sex")
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone"),
            cll.ExactMatchLevel("phone"),
            cll.CustomLevel(
                "strlen(phone_l) = strlen(phone_r) AND damerau_levenshtein(phone_l, phone_r) <= 1",
                label_for_charts="one digit differs or two adjacent digits swapped",
            ),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="region",
        comparison_levels=[
            cll.NullLevel("region"),
            cll.CustomLevel("region_l = region_r AND address_l = address_r", label_for_charts="same village and address"),
            cll.CustomLevel("region_l = region_r", label_for_charts="same village"),
            cll.CustomLevel(
                "length(region_l) >= 9 AND length(region_r) >= 9 AND township_l = township_r",
                label_for_charts="same township",
            ),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=blocking_rules(),
        comparisons=[name, birth, sex, phone, address],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def evaluate(found: set, truth: set) -> dict:
    """yilian's linkage::evaluate: unordered pairs, each counted once."""
    tp = len(found & truth)
    fp = len(found) - tp
    fn = len(truth) - tp
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def norm(a, b):
    a, b = int(a), int(b)
    return (a, b) if a <= b else (b, a)


def one_run(args, threads: int) -> dict:
    t0 = time.perf_counter()
    df, truth_rows = load(args.db)
    truth = {norm(a, b) for a, b in truth_rows}
    t_load = time.perf_counter()

    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    db_api = DuckDBAPI(connection=con)
    linker = Linker(df, settings(args.tf), db_api)
    tr = linker.training
    tr.estimate_probability_two_random_records_match([block_on("name", "dob")], recall=args.prior_recall)
    tr.estimate_u_using_random_sampling(max_pairs=args.u_max_pairs, seed=args.seed)
    tr.estimate_parameters_using_expectation_maximisation(block_on("dob", "sex"))
    tr.estimate_parameters_using_expectation_maximisation(block_on("township", "pinyin"))
    t_train = time.perf_counter()

    low = min(args.sweep + [args.threshold])
    pred = linker.inference.predict(threshold_match_probability=low)
    out = pred.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability", "match_weight"]]
    t_predict = time.perf_counter()

    kept = out[out["match_probability"] >= args.threshold]
    q = evaluate({norm(a, b) for a, b in zip(kept["unique_id_l"], kept["unique_id_r"])}, truth)
    t_end = time.perf_counter()

    sweep = {}
    for p in sorted(set(args.sweep + [args.threshold])):
        k = out[out["match_probability"] >= p]
        sweep[str(p)] = evaluate({norm(a, b) for a, b in zip(k["unique_id_l"], k["unique_id_r"])}, truth)
    params = {}
    for c in linker._settings_obj.comparisons:
        for lvl in c.comparison_levels:
            if lvl.is_null_level:
                continue
            params[f"{c.output_column_name}: {lvl.label_for_charts}"] = {
                "m": lvl.m_probability,
                "u": lvl.u_probability,
            }
    res = {
        "records": len(df),
        "truth_pairs": len(truth),
        "load_s": t_load - t0,
        "train_s": t_train - t_load,
        "predict_s": t_predict - t_train,
        "evaluate_s": t_end - t_predict,
        "wall_s": t_end - t0,
        "found": len(kept),
        "probability_two_random_records_match": linker._settings_obj._probability_two_random_records_match,
        "sweep": sweep,
        "parameters": params,
        **q,
    }
    con.close()
    return res


def count_pairs(args, threads: int) -> tuple[int, list]:
    df, _ = load(args.db)
    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    db_api = DuckDBAPI(connection=con)
    c = cumulative_comparisons_to_be_scored_from_blocking_rules_data(
        table_or_tables=df,
        blocking_rules=blocking_rules(),
        link_type="dedupe_only",
        db_api=db_api,
        unique_id_column_name="unique_id",
        max_rows_limit=int(1e11),
    )
    con.close()
    per_rule = [(str(r["blocking_rule"]), int(r["row_count"])) for _, r in c.iterrows()]
    return sum(n for _, n in per_rule), per_rule


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, help="yilian SQLite file")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="DuckDB threads (default: all cores)")
    p.add_argument("--threshold", type=float, default=0.5, help="match probability of a reported pair")
    p.add_argument("--sweep", type=float, nargs="*", default=[0.01, 0.1, 0.9, 0.99, 0.999],
                   help="other thresholds evaluated on the same predictions (not timed)")
    p.add_argument("--u-max-pairs", type=float, default=5e6,
                   help="pairs sampled to estimate u (Splink default 1e6; its warning suggests 1e8+)")
    p.add_argument("--prior-recall", type=float, default=0.5,
                   help="assumed recall of the deterministic rule name + birth date")
    p.add_argument("--tf", action="store_true", help="term-frequency adjustment on the exact-name level")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--memory-limit", default="")
    p.add_argument("--json", help="write every run's figures here")
    a = p.parse_args()

    print(f"splink {splink.__version__}, duckdb {duckdb.__version__}, pandas {pd.__version__}, "
          f"threads {a.threads}", flush=True)
    t = time.perf_counter()
    pairs, per_rule = count_pairs(a, a.threads)
    print(f"pairs scored by predict: {pairs:,} (counted in {time.perf_counter() - t:.1f} s, not timed)", flush=True)
    for rule, n in per_rule:
        print(f"  {n:>14,}  {rule}", flush=True)
    runs = []
    for i in range(a.runs):
        r = one_run(a, a.threads)
        r["comparisons_per_s"] = pairs / r["predict_s"]
        r["comparisons_per_s_per_core"] = r["comparisons_per_s"] / a.threads
        runs.append(r)
        print(
            f"run {i + 1}: load {r['load_s']:.2f} s, train {r['train_s']:.2f} s, predict {r['predict_s']:.2f} s, "
            f"wall {r['wall_s']:.2f} s; {r['comparisons_per_s']:,.0f} pairs/s "
            f"({r['comparisons_per_s_per_core']:,.0f} per core); found {r['found']:,}; precision {r['precision']:.4f}, "
            f"recall {r['recall']:.4f} (tp {r['tp']}, fp {r['fp']}, fn {r['fn']})",
            flush=True,
        )
    last = runs[-1]
    print(f"λ (probability two random records match): {last['probability_two_random_records_match']:.3g}")
    print("threshold sweep (last run, same predictions):")
    for thr, q in last["sweep"].items():
        print(f"  p >= {thr:<6} precision {q['precision']:.4f} recall {q['recall']:.4f} "
              f"(tp {q['tp']}, fp {q['fp']}, fn {q['fn']})")
    print("m / u (last run):")
    for k, v in last["parameters"].items():
        m, u = v["m"], v["u"]
        print(f"  {k:<62} m {m if m is None else f'{m:.4g}'}  u {u if u is None else f'{u:.4g}'}")
    med = lambda k: statistics.median(r[k] for r in runs)
    print(f"median: wall {med('wall_s'):.2f} s, train {med('train_s'):.2f} s, predict {med('predict_s'):.2f} s, "
          f"{med('comparisons_per_s_per_core'):,.0f} pairs/s per core")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "splink": splink.__version__,
                    "duckdb": duckdb.__version__,
                    "pandas": pd.__version__,
                    "threads": a.threads,
                    "threshold": a.threshold,
                    "tf": a.tf,
                    "u_max_pairs": a.u_max_pairs,
                    "pairs_scored": pairs,
                    "pairs_per_rule": per_rule,
                    "runs": runs,
                },
                f,
                ensure_ascii=False,
                indent=1,
            )


if __name__ == "__main__":
    sys.exit(main())

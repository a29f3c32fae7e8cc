#!/usr/bin/env python3
"""DuckDB side of the monitoring benchmark (issue 7; scripts/bench-monitoring.sh).

Two steps:

  prepare  export the tables the monitoring queries read from the yilian
           SQLite file with the `sqlite3` shell (CSV, NULL written as \\N) and
           convert them to Parquet with DuckDB (untimed). DuckDB's own sqlite
           extension would download itself, which this machine may not do.

  run      run the same aggregations as crates/yilian-store/src/monitoring.rs
           (and the small registry reads around them) on the Parquet files,
           RUNS times each, a fresh in-memory DuckDB connection per run;
           print per-query and total medians, then check DuckDB's figures
           against `yilian evaluate --format json` and against the store's
           own SQL run by the sqlite3 shell.

The statements mirror crates/yilian-store/src/monitoring.rs as of commit
1fa4553 (update them with it). They keep the store's GROUP BY keys (month,
institution, resident township), filters and output rows; only the chronic query's "last
follow-up of the period per enrolment" is written the way DuckDB prefers
(one grouped pass with arg_max_null over (date, id) instead of three
correlated subqueries) — the result rows are the same. Results are handed
to the client as columns (fetchnumpy), as yilian's store hands rows to the
server.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time

import duckdb

# Table -> columns to export (None: every column). Only what the queries read.
TABLES = {
    "record_entries": ["id", "resident_id", "institution_id", "kind", "encounter_type", "occurred_at"],
    "residents": ["id", "region_code", "birth_date", "tags", "insurance", "merged_into"],
    "referrals": ["id", "resident_id", "direction", "from_institution_id", "submitted_at"],
    "test_orders": ["id", "resident_id", "institution_id", "ordered_at", "outcome", "saved_fen"],
    "remote_requests": ["id", "resident_id", "from_institution_id", "state", "requested_at", "due_at", "signed_at"],
    "enrolments": ["id", "resident_id", "program", "status", "enrolled_on"],
    "followups": ["id", "enrolment_id", "date", "institution_id", "controlled"],
    "contracts": ["id", "resident_id", "team_id", "status", "start_date", "end_date"],
    "contract_packages": ["contract_id", "package_code"],
    "service_deliveries": ["id", "contract_id", "kind"],
    "claims": ["id", "resident_id", "institution_id", "consortium_id", "service_date", "in_county", "fund_fen", "state"],
    "fund_ledger": ["id", "kind", "year", "month", "consortium_id", "amount_fen"],
    "teams": None,
    "institutions": None,
    "regions": None,
    "consortia": None,
    "consortium_members": None,
    "practitioners": None,
    "practice_sites": None,
    "region_statistics": None,
    "service_packages": None,
    "capitation_settlements": None,
}

PRIMARY_KINDS = (
    "village_clinic",
    "township_health_center",
    "community_health_center",
    "community_health_station",
    "private_clinic",
)


def duck_type(decl):
    d = (decl or "").upper()
    if "INT" in d:
        return "BIGINT"
    if "REAL" in d or "DOUB" in d or "FLOA" in d:
        return "DOUBLE"
    return "VARCHAR"


def prepare(db, out):
    os.makedirs(out, exist_ok=True)
    con = duckdb.connect()
    for table, cols in TABLES.items():
        info = subprocess.run(
            ["sqlite3", "-bail", "-separator", "\t", db, f"PRAGMA table_info({table})"],
            check=True, capture_output=True, text=True,
        ).stdout
        decl = {}
        order = []
        for line in info.splitlines():
            _, name, typ, *_ = line.split("\t")
            decl[name] = typ
            order.append(name)
        cols = cols or order
        missing = [c for c in cols if c not in decl]
        if missing:
            sys.exit(f"{table}: no column(s) {missing} in {db}")
        csv = os.path.join(out, f"{table}.csv")
        t0 = time.time()
        with open(csv, "w") as f:
            subprocess.run(
                ["sqlite3", "-bail", "-csv", "-header", "-cmd", r".nullvalue \\N", db,
                 f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM {table}"],
                check=True, stdout=f,
            )
        types = ", ".join(f"'{c}': '{duck_type(decl[c])}'" for c in cols)
        pq = os.path.join(out, f"{table}.parquet")
        if os.path.getsize(csv) == 0:  # an empty table: the shell prints no header either
            source = "SELECT " + ", ".join(f'CAST(NULL AS {duck_type(decl[c])}) AS "{c}"' for c in cols) + " LIMIT 0"
        else:
            source = (f"SELECT * FROM read_csv('{csv}', header=true, delim=',', nullstr='\\N', quote='\"', "
                      f"escape='\"', columns={{{types}}})")
        con.execute(f"COPY ({source}) TO '{pq}' (FORMAT parquet)")
        n = con.execute(f"SELECT COUNT(*) FROM read_parquet('{pq}')").fetchone()[0]
        os.remove(csv)
        if n != int(subprocess.run(["sqlite3", db, f"SELECT COUNT(*) FROM {table}"], check=True,
                                   capture_output=True, text=True).stdout):
            sys.exit(f"{table}: {n} rows in Parquet, a different count in {db}")
        print(f"  {table}: {n:,} rows, {len(cols)} columns, {os.path.getsize(pq) / 1e6:.1f} MB Parquet "
              f"({time.time() - t0:.1f} s)", flush=True)
    open(os.path.join(out, "COMPLETE"), "w").write(db + "\n")


# ------------------------------------------------------------------ queries

def periods(year, at):
    end = dt.date(year + 1, 1, 1)
    to = min(end, at + dt.timedelta(days=1))

    def day(years):
        return dt.date(at.year - years, at.month, min(at.day, 28)).isoformat()

    return {"from": f"{year:04d}-01-01", "to": to.isoformat(), "born_by_65": day(65), "born_after_7": day(7),
            "at": at.isoformat(), "year": year}


def evaluate_queries(p, county, consortia_regions):
    """(name, sql, params) in the order monitoring::evaluate runs them."""
    f, t = p["from"], p["to"]
    q = [
        ("institutions (all)", "SELECT * FROM institutions ORDER BY id", []),
        ("encounters",
         "SELECT substr(e.occurred_at, 1, 7) AS month, e.institution_id, substr(r.region_code, 1, 9) AS township, "
         "COUNT(*) AS n FROM record_entries e JOIN residents r ON r.id = e.resident_id "
         "WHERE e.kind = 'encounter' AND e.occurred_at >= ? AND e.occurred_at < ? "
         "GROUP BY substr(e.occurred_at, 1, 7), e.institution_id, substr(r.region_code, 1, 9)", [f, t]),
    ]
    for d in ("up", "down"):
        q.append((f"referrals {d}",
                  "SELECT substr(f.submitted_at, 1, 7) AS month, f.from_institution_id AS institution_id, "
                  "substr(r.region_code, 1, 9) AS township, COUNT(*) AS n "
                  "FROM referrals f JOIN residents r ON r.id = f.resident_id WHERE f.direction = ? "
                  "AND f.submitted_at >= ? AND f.submitted_at < ? "
                  "GROUP BY substr(f.submitted_at, 1, 7), f.from_institution_id, substr(r.region_code, 1, 9)",
                  [d, f, t]))
    q += [
        ("test_orders",
         "SELECT substr(o.ordered_at, 1, 7) AS month, o.institution_id, substr(r.region_code, 1, 9) AS township, "
         "o.outcome, COUNT(*) AS n, COALESCE(SUM(o.saved_fen), 0) AS saved_fen "
         "FROM test_orders o JOIN residents r ON r.id = o.resident_id WHERE o.ordered_at >= ? AND o.ordered_at < ? "
         "GROUP BY substr(o.ordered_at, 1, 7), o.institution_id, substr(r.region_code, 1, 9), o.outcome", [f, t]),
        ("remote_reads",
         "SELECT substr(q.requested_at, 1, 7) AS month, q.from_institution_id AS institution_id, "
         "substr(r.region_code, 1, 9) AS township, q.requested_at, q.due_at, q.signed_at "
         "FROM remote_requests q JOIN residents r ON r.id = q.resident_id "
         "WHERE q.state = 'signed' AND q.signed_at IS NOT NULL AND q.requested_at >= ? AND q.requested_at < ?",
         [f, t]),
        ("chronic",
         "WITH last AS (SELECT enrolment_id, COUNT(*) AS followups, "
         "arg_max_null(institution_id, (date, id)) AS institution_id, "
         "arg_max_null(controlled, (date, id)) AS controlled "
         "FROM followups WHERE date >= ? AND date < ? GROUP BY enrolment_id) "
         "SELECT e.id AS enrolment_id, e.resident_id, e.program, e.enrolled_on, substr(r.region_code, 1, 9) AS township, "
         "l.institution_id, COALESCE(l.followups, 0) AS followups, l.controlled "
         "FROM enrolments e JOIN residents r ON r.id = e.resident_id LEFT JOIN last l ON l.enrolment_id = e.id "
         "WHERE e.status = 'active' AND e.program IN ('hypertension', 'diabetes_t2') AND e.enrolled_on < ?",
         [f, t, t]),
        ("populations",
         "SELECT substr(r.region_code, 1, 9) AS township, r.tags, "
         "CASE WHEN r.birth_date <= ? THEN 1 ELSE 0 END AS elderly, "
         "CASE WHEN r.birth_date > ? THEN 1 ELSE 0 END AS child, "
         "CASE WHEN EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.status = 'active') "
         "THEN 1 ELSE 0 END AS contracted, COUNT(*) AS n FROM residents r "
         "WHERE r.merged_into IS NULL AND starts_with(r.region_code, ?) GROUP BY 1, 2, 3, 4, 5",
         [p["born_by_65"], p["born_after_7"], county]),
        ("packages in force",
         "SELECT code, version, name, target, valid_from, yearly_fee_fen, payers, items FROM service_packages "
         "WHERE valid_from <= ? ORDER BY code, valid_from DESC, version DESC", [p["at"]]),
        ("active contract packages",
         "SELECT p.contract_id, p.package_code FROM contract_packages p JOIN contracts c ON c.id = p.contract_id "
         "WHERE c.status = 'active'", []),
        ("active deliveries",
         "SELECT d.contract_id, d.kind, COUNT(*) AS n FROM service_deliveries d "
         "JOIN contracts c ON c.id = d.contract_id WHERE c.status = 'active' GROUP BY d.contract_id, d.kind", []),
        ("active contracts",
         "SELECT c.id, c.resident_id, t.institution_id, substr(r.region_code, 1, 9) AS township, c.start_date, c.end_date "
         "FROM contracts c JOIN teams t ON t.id = c.team_id JOIN residents r ON r.id = c.resident_id "
         "WHERE c.status = 'active'", []),
        ("fund",
         "SELECT substr(c.service_date, 1, 7) AS month, c.institution_id, substr(r.region_code, 1, 9) AS township, "
         "c.in_county, COALESCE(SUM(c.fund_fen), 0) AS fund_fen FROM claims c JOIN residents r ON r.id = c.resident_id "
         "WHERE c.state = 'valuated' AND c.service_date >= ? AND c.service_date < ? "
         "GROUP BY substr(c.service_date, 1, 7), c.institution_id, substr(r.region_code, 1, 9), c.in_county", [f, t]),
        ("capitation: consortia",
         "SELECT * FROM consortia WHERE kind = 'county_consortium' ORDER BY id", []),
    ]
    y = p["year"]
    for cid, region in consortia_regions:
        q += [
            (f"capitation: insured of {region}",
             "SELECT insurance, COUNT(*) FROM residents WHERE merged_into IS NULL AND starts_with(region_code, ?) "
             "GROUP BY insurance ORDER BY insurance", [region]),
            (f"capitation: spent by month {cid}",
             "SELECT month, SUM(amount_fen) AS fen FROM fund_ledger WHERE kind = 'claim' AND consortium_id = ? "
             "AND year = ? GROUP BY month", [cid, y]),
            (f"capitation: leakage {cid}",
             "SELECT COUNT(*) AS claims, COALESCE(SUM(fund_fen), 0) AS fund_fen, "
             "COALESCE(SUM(CASE WHEN in_county = 0 THEN 1 ELSE 0 END), 0) AS outside_claims, "
             "COALESCE(SUM(CASE WHEN in_county = 0 THEN fund_fen ELSE 0 END), 0) AS outside_fund_fen "
             "FROM claims WHERE state = 'valuated' AND consortium_id = ? AND service_date >= ? AND service_date <= ?",
             [cid, f"{y:04d}-01-01", f"{y:04d}-12-31"]),
            (f"capitation: settlement {cid}",
             "SELECT * FROM capitation_settlements WHERE consortium_id = ? AND year = ?", [cid, y]),
        ]
    q += snapshot_queries(county, y)
    q += [
        ("scopes: regions", "SELECT * FROM regions WHERE starts_with(code, ?) ORDER BY code", [county]),
        ("scopes: consortia",
         "SELECT * FROM consortia WHERE kind = 'county_consortium' AND starts_with(region_code, ?) ORDER BY id",
         [county]),
        ("scopes: members",
         "SELECT m.consortium_id, i.* FROM consortium_members m JOIN institutions i ON i.id = m.institution_id "
         "ORDER BY m.consortium_id, i.id", []),
    ]
    return q


def snapshot_queries(county, year):
    return [
        ("snapshot: region", "SELECT * FROM regions WHERE code = ?", [county]),
        ("snapshot: institutions",
         "SELECT * FROM institutions WHERE starts_with(region_code, ?) ORDER BY id", [county]),
        ("snapshot: practitioners",
         "SELECT p.id, s.institution_id, p.profession, p.is_gp, p.is_tcm FROM practitioners p "
         "JOIN practice_sites s ON s.practitioner_id = p.id AND s.is_main = 1 "
         "JOIN institutions i ON i.id = s.institution_id WHERE starts_with(i.region_code, ?) ORDER BY p.id",
         [county]),
        ("snapshot: statistics",
         "SELECT region_code, year, key, value FROM region_statistics WHERE year = ? AND starts_with(region_code, ?) "
         "ORDER BY region_code, key", [year, county]),
    ]


THREADS = None  # --threads: DuckDB's default is one per core


def connect(pq):
    con = duckdb.connect()
    if THREADS:
        con.execute(f"SET threads = {int(THREADS)}")
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{os.path.join(pq, table + '.parquet')}')")
    return con


def time_set(pq, queries, runs):
    """Runs the set `runs` times (fresh connection each); per-query and total seconds."""
    per = {name: [] for name, _, _ in queries}
    totals = []
    for _ in range(runs):
        t_all = time.perf_counter()
        con = connect(pq)
        for name, sql, params in queries:
            t0 = time.perf_counter()
            con.execute(sql, params).fetchnumpy()
            per[name].append(time.perf_counter() - t0)
        con.close()
        totals.append(time.perf_counter() - t_all)
    return per, totals


def fmt_s(xs):
    return f"{statistics.median(xs):8.3f} s  ({min(xs):.3f}–{max(xs):.3f})"


# ------------------------------------------------------------------ checks

def sqlite_scalar(db, sql):
    out = subprocess.run(["sqlite3", "-bail", db, sql], check=True, capture_output=True, text=True).stdout
    return out.strip()


def checks(pq, db, p, county, evaluation):
    con = connect(pq)
    f, t = p["from"], p["to"]
    ok = True

    def same(label, a, b, tol=0.0):
        nonlocal ok
        good = (a is None and b is None) or (a is not None and b is not None and abs(float(a) - float(b)) <= tol)
        ok = ok and good
        print(f"  {label:<58} DuckDB {a!s:>14}   yilian {b!s:>14}   {'same' if good else 'DIFFERENT'}")

    # County totals in the period: DuckDB vs the store's SQL in the sqlite3 shell.
    tot, prim = con.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE i.kind IN " + str(PRIMARY_KINDS) + ") "
        "FROM record_entries e JOIN residents r ON r.id = e.resident_id JOIN institutions i ON i.id = e.institution_id "
        "WHERE e.kind = 'encounter' AND e.occurred_at >= ? AND e.occurred_at < ? AND starts_with(i.region_code, ?)",
        [f, t, county]).fetchone()
    s_tot, s_prim = sqlite_scalar(
        db,
        "SELECT COUNT(*) || ' ' || SUM(i.kind IN " + str(PRIMARY_KINDS) + ") FROM record_entries e "
        "JOIN residents r ON r.id = e.resident_id JOIN institutions i ON i.id = e.institution_id "
        f"WHERE e.kind = 'encounter' AND e.occurred_at >= '{f}' AND e.occurred_at < '{t}' "
        f"AND i.region_code >= '{county}' AND i.region_code < '{county}~'").split()
    print(f"County {county}, period [{f}, {t}) — DuckDB vs the store's SQL (sqlite3 shell):")
    same("encounters at institutions in the county", tot, int(s_tot))
    same("  of which at primary level", prim, int(s_prim))
    # Every grouped fact, row for row: the encounter facts' checksum.
    d_sum = con.execute(
        "SELECT COUNT(*), SUM(n), SUM(hash(month, institution_id, township, n) % 1000003) FROM ("
        + evaluate_queries(p, county, [])[1][1] + ")", [f, t]).fetchone()
    s_rows = subprocess.run(
        ["sqlite3", "-bail", "-separator", "\t", "-cmd", r".nullvalue \\N", db,
         "SELECT substr(e.occurred_at, 1, 7), e.institution_id, substr(r.region_code, 1, 9), COUNT(*) "
         "FROM record_entries e JOIN residents r ON r.id = e.resident_id WHERE e.kind = 'encounter' "
         f"AND e.occurred_at >= '{f}' AND e.occurred_at < '{t}' "
         "GROUP BY substr(e.occurred_at, 1, 7), e.institution_id, substr(r.region_code, 1, 9)"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    d_rows = {tuple(map(str, r)) for r in con.execute(
        "SELECT month, institution_id, COALESCE(township, '\\N'), n FROM ("
        + evaluate_queries(p, county, [])[1][1] + ")", [f, t]).fetchall()}
    s_set = {tuple(line.split("\t")) for line in s_rows}
    same("encounter facts (month × institution × township), rows", len(d_rows), len(s_set))
    same("  rows identical", int(d_rows == s_set), 1)
    # What `yilian evaluate` reads: the per-day rollup kept at write time (migration 0011).
    r_rows = subprocess.run(
        ["sqlite3", "-bail", "-separator", "\t", "-cmd", r".nullvalue \\N", db,
         "SELECT substr(day, 1, 7), institution_id, township, SUM(n) FROM encounter_days "
         f"WHERE day >= '{f}' AND day < '{t}' GROUP BY substr(day, 1, 7), institution_id, township"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    same("  the store's rollup (encounter_days), rows identical", int(d_rows == {tuple(x.split("\t")) for x in r_rows}), 1)
    print(f"  (DuckDB facts: {d_sum[0]:,} rows summing to {d_sum[1]:,} encounters)")

    # Chronic: DuckDB's grouped form vs the store's correlated subqueries.
    ch_d = con.execute(
        "SELECT COUNT(*), SUM(followups), SUM(COALESCE(institution_id, 0)), SUM(COALESCE(controlled, -1)) FROM ("
        + [q for q in evaluate_queries(p, county, []) if q[0] == "chronic"][0][1] + ")", [f, t, t]).fetchone()
    ch_s = sqlite_scalar(
        db,
        "SELECT COUNT(*) || ' ' || SUM(followups) || ' ' || SUM(COALESCE(institution_id, 0)) || ' ' || "
        "SUM(COALESCE(controlled, -1)) FROM (SELECT e.id, "
        f"(SELECT COUNT(*) FROM followups f WHERE f.enrolment_id = e.id AND f.date >= '{f}' AND f.date < '{t}') AS followups, "
        f"(SELECT f.institution_id FROM followups f WHERE f.enrolment_id = e.id AND f.date >= '{f}' AND f.date < '{t}' "
        "ORDER BY f.date DESC, f.id DESC LIMIT 1) AS institution_id, "
        f"(SELECT f.controlled FROM followups f WHERE f.enrolment_id = e.id AND f.date >= '{f}' AND f.date < '{t}' "
        "ORDER BY f.date DESC, f.id DESC LIMIT 1) AS controlled "
        "FROM enrolments e JOIN residents r ON r.id = e.resident_id WHERE e.status = 'active' "
        f"AND e.program IN ('hypertension', 'diabetes_t2') AND e.enrolled_on < '{t}')").split()
    same("chronic enrolments", ch_d[0], int(ch_s[0]))
    same("  follow-ups in the period", ch_d[1], int(ch_s[1]))
    same("  checksum of last follow-ups' institution", ch_d[2], int(ch_s[2]))
    same("  checksum of last follow-ups' control", ch_d[3], int(ch_s[3]))

    if evaluation is None:
        return ok
    # Per consortium: the scorecard's care-order values recomputed from DuckDB's facts.
    ev = json.load(open(evaluation))
    print(f"Per county consortium, {ev['county']} {ev['year']} — DuckDB's facts vs `yilian evaluate` values:")
    for s in ev["consortia"]:
        cid = int(s["scope"]["id"])
        vals = {}
        for d in s["sheet"]["dimensions"]:
            for i in d["indicators"]:
                if i["indicator"].get("source") == "tiered":
                    vals[i["indicator"]["code"]] = i["value"]
        row = con.execute(
            """
            WITH ids AS (SELECT institution_id AS id FROM consortium_members WHERE consortium_id = $c
                         UNION SELECT lead_institution_id FROM consortia WHERE id = $c),
                 towns AS (SELECT DISTINCT substr(i.region_code, 1, 9) AS t FROM ids JOIN institutions i USING (id)
                           WHERE i.kind IN """ + str(PRIMARY_KINDS) + """ AND length(i.region_code) >= 9),
                 enc AS (SELECT e.institution_id, substr(r.region_code, 1, 9) AS township, i.kind, i.region_code AS ireg
                         FROM record_entries e JOIN residents r ON r.id = e.resident_id
                         JOIN institutions i ON i.id = e.institution_id
                         WHERE e.kind = 'encounter' AND e.occurred_at >= $f AND e.occurred_at < $t),
                 refs AS (SELECT direction, COUNT(*) AS n FROM referrals
                          WHERE submitted_at >= $f AND submitted_at < $t
                            AND from_institution_id IN (SELECT id FROM ids) GROUP BY direction)
            SELECT
              (SELECT COUNT(*) FROM enc WHERE institution_id IN (SELECT id FROM ids)),
              (SELECT COUNT(*) FROM enc WHERE institution_id IN (SELECT id FROM ids) AND kind IN """
            + str(PRIMARY_KINDS) + """),
              (SELECT COUNT(*) FROM enc WHERE township IN (SELECT t FROM towns)),
              (SELECT COUNT(*) FROM enc WHERE township IN (SELECT t FROM towns)
                 AND starts_with(ireg, substr(township, 1, 6))),
              (SELECT COALESCE(SUM(n), 0) FROM refs WHERE direction = 'up'),
              (SELECT COALESCE(SUM(n), 0) FROM refs WHERE direction = 'down')
            """, {"c": cid, "f": f, "t": t}).fetchone()
        visits, primary, rv, rv_in, up, down = row
        print(f"  {s['scope']['name']} (id {cid}): {visits:,} visits at its institutions, {primary:,} at primary "
              f"level; {rv:,} visits of its townships' residents, {rv_in:,} in county; referrals {up:,} up, "
              f"{down:,} down")
        for code, num, den, scale in (("primary_visit_share", primary, visits, 100.0),
                                      ("in_county_rate", rv_in, rv, 100.0),
                                      ("down_up_ratio", down, up, 1.0)):
            if code in vals:
                mine = None if den == 0 else num * scale / den
                same(f"    {code}", None if mine is None else round(mine, 9),
                     None if vals[code] is None else round(vals[code], 9), 1e-9)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["prepare", "run"])
    ap.add_argument("--sqlite", required=True)
    ap.add_argument("--parquet", required=True)
    ap.add_argument("--year", type=int)
    ap.add_argument("--at", help="evaluate's date: min(YEAR-12-31, today in China Standard Time)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--evaluation", help="`yilian evaluate --format json` output to check against")
    ap.add_argument("--json-out")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: one per core)")
    ap.add_argument("--no-checks", action="store_true")
    a = ap.parse_args()
    global THREADS
    THREADS = a.threads
    if a.step == "prepare":
        prepare(a.sqlite, a.parquet)
        return
    at = dt.date.fromisoformat(a.at)
    p = periods(a.year, at)
    con = connect(a.parquet)
    county = con.execute(
        "SELECT code FROM regions WHERE level = 'county' ORDER BY code LIMIT 1").fetchone()[0]
    cons = con.execute(
        "SELECT id, region_code FROM consortia WHERE kind = 'county_consortium' ORDER BY id").fetchall()
    con.close()
    threads = connect(a.parquet).execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"DuckDB {duckdb.__version__}, {threads} "
          f"threads; county {county}; period [{p['from']}, {p['to']}); {len(cons)} county consortia")
    results = {}
    for label, queries in (("evaluate", evaluate_queries(p, county, cons)),
                           ("indicators", snapshot_queries(county, at.year))):
        per, totals = time_set(a.parquet, queries, a.runs)
        print(f"== DuckDB, the queries of `yilian {label}` ({len(queries)} statements), {a.runs} runs:")
        for name, xs in per.items():
            if statistics.median(xs) >= 0.002 or not name.startswith(("capitation", "snapshot", "scopes")):
                print(f"  {name:<40} {fmt_s(xs)}")
        small = [n for n in per if n.startswith(("capitation", "snapshot", "scopes"))]
        if small:
            print(f"  {'(registry and capitation reads, summed)':<40} "
                  f"{statistics.median([sum(per[n][i] for n in small) for i in range(a.runs)]):8.3f} s")
        print(f"  {'TOTAL (connect + all statements)':<40} {fmt_s(totals)}")
        results[label] = {"per_query_median_s": {n: statistics.median(x) for n, x in per.items()},
                          "total_s": totals, "total_median_s": statistics.median(totals)}
    ok = True
    if not a.no_checks:
        ok = checks(a.parquet, a.sqlite, p, county, a.evaluation)
        print("checks:", "all same" if ok else "SOME DIFFER")
    if a.json_out:
        json.dump({"duckdb": duckdb.__version__, "period": p, "county": county, "results": results,
                   "checks_ok": ok}, open(a.json_out, "w"), indent=1)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()

//! 监测评估 — what the monitoring indicators read: grouped activity facts
//! (encounters, referrals, recognitions, remote reads, chronic care, fund
//! payments) for a period, the registry snapshot behind the planning
//! indicators, region statistics, the road network and map boundaries; and
//! the drill-down lists (the records behind a figure).
//!
//! Every grouped query keys its counts by (month, institution, township of
//! the resident), so one query per source serves every scope — county,
//! consortium, institution — and every month; the server sums.

use serde::Serialize;
use sqlx::FromRow;

use crate::registry::InstitutionRow;
use crate::sql::{Sql, Val};
use crate::{Conn, StoreError, now_text};

/// A period `[from, to)` of ISO dates (`YYYY-MM-DD`).
#[derive(Debug, Clone)]
pub struct Period {
    pub from: String,
    pub to: String,
}

/// A grouped count: the month (`YYYY-MM`), where it happened (institution)
/// and whose it was (the resident's township, 9 digits).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct Fact {
    pub month: String,
    pub institution_id: Option<i64>,
    pub township: Option<String>,
    pub n: i64,
}

/// Encounters (就诊: outpatient, emergency, inpatient, follow-up, home
/// visit) in the period, read from the per-day rollup `encounter_days`
/// (migration 0011), which the database keeps in step with every encounter
/// written. The township is the resident's when the encounter was written.
pub async fn encounters(conn: &mut Conn, p: &Period) -> Result<Vec<Fact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(day, 1, 7) AS month, institution_id, township, CAST(SUM(n) AS BIGINT) AS n \
         FROM encounter_days WHERE day >= ",
    );
    q.bind(p.from.as_str())
        .push(" AND day < ")
        .bind(p.to.as_str())
        .push(" GROUP BY substr(day, 1, 7), institution_id, township");
    q.fetch_all(conn).await
}

/// The same facts counted from the record itself (every encounter entry,
/// the resident's current township): what the rollup is checked against.
pub async fn encounters_from_record(conn: &mut Conn, p: &Period) -> Result<Vec<Fact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(e.occurred_at, 1, 7) AS month, e.institution_id AS institution_id, \
         substr(r.region_code, 1, 9) AS township, CAST(COUNT(*) AS BIGINT) AS n \
         FROM record_entries e JOIN residents r ON r.id = e.resident_id \
         WHERE e.kind = 'encounter' AND e.occurred_at >= ",
    );
    q.bind(p.from.as_str())
        .push(" AND e.occurred_at < ")
        .bind(p.to.as_str())
        .push(
            " GROUP BY substr(e.occurred_at, 1, 7), e.institution_id, substr(r.region_code, 1, 9)",
        );
    q.fetch_all(conn).await
}

/// Referrals submitted in the period in one direction (`up`, `down`,
/// `lateral`), at the referring institution.
pub async fn referrals(
    conn: &mut Conn,
    p: &Period,
    direction: &str,
) -> Result<Vec<Fact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(f.submitted_at, 1, 7) AS month, f.from_institution_id AS institution_id, \
         substr(r.region_code, 1, 9) AS township, CAST(COUNT(*) AS BIGINT) AS n \
         FROM referrals f JOIN residents r ON r.id = f.resident_id WHERE f.direction = ",
    );
    q.bind(direction)
        .push(" AND f.submitted_at >= ")
        .bind(p.from.as_str())
        .push(" AND f.submitted_at < ")
        .bind(p.to.as_str())
        .push(" GROUP BY substr(f.submitted_at, 1, 7), f.from_institution_id, substr(r.region_code, 1, 9)");
    q.fetch_all(conn).await
}

/// Test orders (互认) in the period by outcome, at the ordering institution.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct OrderFact {
    pub month: String,
    pub institution_id: Option<i64>,
    pub township: Option<String>,
    pub outcome: String,
    pub n: i64,
    pub saved_fen: i64,
}

pub async fn test_orders(conn: &mut Conn, p: &Period) -> Result<Vec<OrderFact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(o.ordered_at, 1, 7) AS month, o.institution_id AS institution_id, \
         substr(r.region_code, 1, 9) AS township, o.outcome AS outcome, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(COALESCE(SUM(o.saved_fen), 0) AS BIGINT) AS saved_fen \
         FROM test_orders o JOIN residents r ON r.id = o.resident_id WHERE o.ordered_at >= ",
    );
    q.bind(p.from.as_str())
        .push(" AND o.ordered_at < ")
        .bind(p.to.as_str())
        .push(" GROUP BY substr(o.ordered_at, 1, 7), o.institution_id, substr(r.region_code, 1, 9), o.outcome");
    q.fetch_all(conn).await
}

/// A signed remote read requested in the period (one row each: turnaround
/// medians cannot be summed). The township here and in [`ChronicFact`] and
/// [`ContractFact`] is the copy the database keeps on the row (migration
/// 0013): always the resident's current township, read without a join to the
/// residents.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct ReadFact {
    pub month: String,
    pub institution_id: Option<i64>,
    pub township: Option<String>,
    pub requested_at: String,
    pub due_at: String,
    pub signed_at: String,
}

pub async fn remote_reads(conn: &mut Conn, p: &Period) -> Result<Vec<ReadFact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(q.requested_at, 1, 7) AS month, q.from_institution_id AS institution_id, \
         q.township, q.requested_at, q.due_at, q.signed_at FROM remote_requests q \
         WHERE q.state = 'signed' AND q.signed_at IS NOT NULL AND q.requested_at >= ",
    );
    q.bind(p.from.as_str())
        .push(" AND q.requested_at < ")
        .bind(p.to.as_str());
    q.fetch_all(conn).await
}

/// An active chronic-programme enrolment (hypertension, diabetes) as it
/// stands at the period's end: follow-ups in the period, the institution and
/// control of the last one.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct ChronicFact {
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub program: String,
    pub enrolled_on: String,
    pub township: Option<String>,
    pub institution_id: Option<i64>,
    pub followups: i64,
    pub controlled: Option<i64>,
}

pub async fn chronic(conn: &mut Conn, p: &Period) -> Result<Vec<ChronicFact>, StoreError> {
    // Placeholders are positional on SQLite, so each use binds again.
    let mut q = Sql::new(
        "SELECT e.id AS enrolment_id, e.resident_id, e.program, e.enrolled_on, e.township, ",
    );
    for (what, alias) in [
        ("f.institution_id", "institution_id"),
        ("f.controlled", "controlled"),
    ] {
        if alias == "controlled" {
            q.push("(SELECT CAST(COUNT(*) AS BIGINT) FROM followups f WHERE f.enrolment_id = e.id AND f.date >= ")
                .bind(p.from.as_str())
                .push(" AND f.date < ")
                .bind(p.to.as_str())
                .push(") AS followups, ");
        }
        q.push(&format!(
            "(SELECT {what} FROM followups f WHERE f.enrolment_id = e.id AND f.date >= "
        ))
        .bind(p.from.as_str())
        .push(" AND f.date < ")
        .bind(p.to.as_str())
        .push(&format!(
            " ORDER BY f.date DESC, f.id DESC LIMIT 1) AS {alias}"
        ));
        if alias == "institution_id" {
            q.push(", ");
        }
    }
    q.push(
        " FROM enrolments e WHERE e.status = 'active' AND e.program IN ('hypertension', 'diabetes_t2') AND e.enrolled_on < ",
    )
    .bind(p.to.as_str());
    q.fetch_all(conn).await
}

/// Residents (merged ones excluded) by township, recorded tags, the age
/// flags on `on` (65+, 0–6) and whether they hold an active contract.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct PopulationFact {
    pub township: String,
    pub tags: String,
    pub elderly: i64,
    pub child: i64,
    pub contracted: i64,
    pub n: i64,
}

pub async fn populations(
    conn: &mut Conn,
    region_prefix: &str,
    born_by_65: &str,
    born_after_7: &str,
) -> Result<Vec<PopulationFact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(r.region_code, 1, 9) AS township, r.tags AS tags, CASE WHEN r.birth_date <= ",
    );
    q.bind(born_by_65)
        .push(" THEN 1 ELSE 0 END AS elderly, CASE WHEN r.birth_date > ")
        .bind(born_after_7)
        .push(
            " THEN 1 ELSE 0 END AS child, \
             CASE WHEN EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.status = 'active') THEN 1 ELSE 0 END AS contracted, \
             CAST(COUNT(*) AS BIGINT) AS n FROM residents r WHERE r.merged_into IS NULL AND r.region_code >= ",
        )
        .bind(region_prefix)
        .push(" AND r.region_code < ")
        .bind(format!("{region_prefix}\u{10FFFF}"))
        .push(" GROUP BY 1, 2, 3, 4, 5");
    q.fetch_all(conn).await
}

/// An active contract with where its team works, whose township, its
/// packages and what has been delivered under it (kind → count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractFact {
    pub id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub township: String,
    pub start_date: String,
    pub end_date: String,
    pub packages: Vec<String>,
    pub delivered: Vec<(String, u32)>,
}

/// The row as read: packages and deliveries folded into one text each.
#[derive(FromRow)]
struct ContractFactRow {
    id: i64,
    resident_id: i64,
    institution_id: i64,
    township: String,
    start_date: String,
    end_date: String,
    packages: Option<String>,
    delivered: Option<String>,
}

/// Separates the items of a folded list (ASCII unit separator) …
const ITEM_SEP: char = '\u{1f}';
/// … and a delivered kind from its count (ASCII record separator).
const COUNT_SEP: char = '\u{1e}';

/// Every active contract, one row each: its packages and delivered counts
/// are folded into the row by `string_agg` rather than read as rows of their
/// own (at 1M residents that is 1.5 M fewer rows handed over, the larger
/// part of what reading them cost).
pub async fn active_contracts(conn: &mut Conn) -> Result<Vec<ContractFact>, StoreError> {
    let mut q = Sql::new(
        "SELECT c.id, c.resident_id, t.institution_id, COALESCE(c.township, '') AS township, c.start_date, c.end_date, \
         (SELECT string_agg(p.package_code, ",
    );
    q.bind(ITEM_SEP.to_string())
        .push(
            ") FROM contract_packages p WHERE p.contract_id = c.id) AS packages, \
             (SELECT string_agg(d.kind || ",
        )
        .bind(COUNT_SEP.to_string())
        .push(" || CAST(d.n AS TEXT), ")
        .bind(ITEM_SEP.to_string())
        .push(
            ") FROM (SELECT s.kind, COUNT(*) AS n FROM service_deliveries s WHERE s.contract_id = c.id GROUP BY s.kind) d) AS delivered \
             FROM contracts c JOIN teams t ON t.id = c.team_id WHERE c.status = 'active'",
        );
    let rows: Vec<ContractFactRow> = q.fetch_all(conn).await?;
    rows.into_iter().map(unfold_contract).collect()
}

fn unfold_contract(r: ContractFactRow) -> Result<ContractFact, StoreError> {
    let items = |s: &Option<String>| -> Vec<String> {
        s.as_deref()
            .map(|s| s.split(ITEM_SEP).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let delivered = items(&r.delivered)
        .into_iter()
        .map(|item| {
            item.split_once(COUNT_SEP)
                .and_then(|(kind, n)| Some((kind.to_string(), n.parse().ok()?)))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("contract {}: delivered {item:?}", r.id))
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(ContractFact {
        packages: items(&r.packages),
        delivered,
        id: r.id,
        resident_id: r.resident_id,
        institution_id: r.institution_id,
        township: r.township,
        start_date: r.start_date,
        end_date: r.end_date,
    })
}

/// Fund payments of valuated claims in the period, by whether the care was
/// inside the resident's county.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct FundFact {
    pub month: String,
    pub institution_id: Option<i64>,
    pub township: Option<String>,
    pub in_county: i64,
    pub fund_fen: i64,
}

pub async fn fund(conn: &mut Conn, p: &Period) -> Result<Vec<FundFact>, StoreError> {
    let mut q = Sql::new(
        "SELECT substr(c.service_date, 1, 7) AS month, c.institution_id AS institution_id, \
         substr(r.region_code, 1, 9) AS township, c.in_county AS in_county, \
         CAST(COALESCE(SUM(c.fund_fen), 0) AS BIGINT) AS fund_fen \
         FROM claims c JOIN residents r ON r.id = c.resident_id WHERE c.state = 'valuated' AND c.service_date >= ",
    );
    q.bind(p.from.as_str())
        .push(" AND c.service_date < ")
        .bind(p.to.as_str())
        .push(" GROUP BY substr(c.service_date, 1, 7), c.institution_id, substr(r.region_code, 1, 9), c.in_county");
    q.fetch_all(conn).await
}

// ------------------------------------------------------------------ registry

/// Institutions registered in a region (prefix), every field.
pub async fn institutions_in(
    conn: &mut Conn,
    region_prefix: &str,
) -> Result<Vec<InstitutionRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {} FROM institutions WHERE region_code >= ",
        crate::registry::INSTITUTION_COLS
    ));
    q.bind(region_prefix)
        .push(" AND region_code < ")
        .bind(format!("{region_prefix}\u{10FFFF}"))
        .push(" ORDER BY id");
    q.fetch_all(conn).await
}

/// Every region under a prefix (the prefix's own region included), in code
/// order: a county has a few hundred.
pub async fn regions_in(
    conn: &mut Conn,
    region_prefix: &str,
) -> Result<Vec<crate::registry::RegionRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {} FROM regions WHERE code >= ",
        crate::registry::REGION_COLS
    ));
    q.bind(region_prefix)
        .push(" AND code < ")
        .bind(format!("{region_prefix}\u{10FFFF}"))
        .push(" ORDER BY code");
    q.fetch_all(conn).await
}

/// A practitioner's facts for the planning indicators, at their main site.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct PractitionerFact {
    pub id: i64,
    pub institution_id: i64,
    pub profession: String,
    pub is_gp: i64,
    pub is_tcm: i64,
}

pub async fn practitioners_in(
    conn: &mut Conn,
    region_prefix: &str,
) -> Result<Vec<PractitionerFact>, StoreError> {
    let mut q = Sql::new(
        "SELECT p.id, s.institution_id, p.profession, p.is_gp, p.is_tcm FROM practitioners p \
         JOIN practice_sites s ON s.practitioner_id = p.id AND s.is_main = 1 \
         JOIN institutions i ON i.id = s.institution_id WHERE i.region_code >= ",
    );
    q.bind(region_prefix)
        .push(" AND i.region_code < ")
        .bind(format!("{region_prefix}\u{10FFFF}"))
        .push(" ORDER BY p.id");
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- statistics

/// One stored statistic.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct StatisticRow {
    pub region_code: String,
    pub year: i64,
    pub key: String,
    pub value: f64,
}

/// Stores statistics; a figure already there for (region, year, key) is
/// replaced (a correction).
pub async fn put_statistics(conn: &mut Conn, rows: &[StatisticRow]) -> Result<(), StoreError> {
    let now = now_text();
    for chunk in rows.chunks(200) {
        let mut q = Sql::new(
            "INSERT INTO region_statistics (region_code, year, key, value, updated_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind_list([
                    r.region_code.as_str().into(),
                    r.year.into(),
                    r.key.as_str().into(),
                    Val::Real(r.value),
                    now.as_str().into(),
                ])
                .push(")");
        }
        q.push(
            " ON CONFLICT (region_code, year, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        );
        q.execute(conn).await?;
    }
    Ok(())
}

/// Statistics of regions under `region_prefix` for `year`.
pub async fn statistics(
    conn: &mut Conn,
    region_prefix: &str,
    year: i32,
) -> Result<Vec<StatisticRow>, StoreError> {
    let mut q =
        Sql::new("SELECT region_code, year, key, value FROM region_statistics WHERE year = ");
    q.bind(i64::from(year))
        .push(" AND region_code >= ")
        .bind(region_prefix)
        .push(" AND region_code < ")
        .bind(format!("{region_prefix}\u{10FFFF}"))
        .push(" ORDER BY region_code, key");
    q.fetch_all(conn).await
}

// --------------------------------------------------------------- geography

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct RoadNodeRow {
    pub id: i64,
    pub region_code: String,
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct RoadEdgeRow {
    pub from_node: i64,
    pub to_node: i64,
    pub km: f64,
    pub minutes: f64,
    pub class: String,
}

/// Replaces the road network.
pub async fn put_roads(
    conn: &mut Conn,
    nodes: &[RoadNodeRow],
    edges: &[RoadEdgeRow],
) -> Result<(), StoreError> {
    Sql::new("DELETE FROM road_edges").execute(conn).await?;
    Sql::new("DELETE FROM road_nodes").execute(conn).await?;
    for chunk in nodes.chunks(200) {
        let mut q = Sql::new("INSERT INTO road_nodes (id, region_code, lon, lat) VALUES ");
        for (i, n) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind_list([
                    n.id.into(),
                    n.region_code.as_str().into(),
                    Val::Real(n.lon),
                    Val::Real(n.lat),
                ])
                .push(")");
        }
        q.execute(conn).await?;
    }
    for chunk in edges.chunks(200) {
        let mut q =
            Sql::new("INSERT INTO road_edges (from_node, to_node, km, minutes, class) VALUES ");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind_list([
                    e.from_node.into(),
                    e.to_node.into(),
                    Val::Real(e.km),
                    Val::Real(e.minutes),
                    e.class.as_str().into(),
                ])
                .push(")");
        }
        q.execute(conn).await?;
    }
    Ok(())
}

pub async fn road_nodes(conn: &mut Conn) -> Result<Vec<RoadNodeRow>, StoreError> {
    Sql::new("SELECT id, region_code, lon, lat FROM road_nodes ORDER BY id")
        .fetch_all(conn)
        .await
}

pub async fn road_edges(conn: &mut Conn) -> Result<Vec<RoadEdgeRow>, StoreError> {
    Sql::new(
        "SELECT from_node, to_node, km, minutes, class FROM road_edges ORDER BY from_node, to_node",
    )
    .fetch_all(conn)
    .await
}

/// Stores (or replaces) a county's boundaries (GeoJSON text).
pub async fn put_boundaries(
    conn: &mut Conn,
    region_code: &str,
    geojson: &str,
) -> Result<(), StoreError> {
    let mut q = Sql::new("INSERT INTO geo_boundaries (region_code, geojson, updated_at) VALUES (");
    q.bind_list([region_code.into(), geojson.into(), now_text().into()])
        .push(") ON CONFLICT (region_code) DO UPDATE SET geojson = excluded.geojson, updated_at = excluded.updated_at");
    q.execute(conn).await.map(|_| ())
}

pub async fn boundaries(conn: &mut Conn, region_code: &str) -> Result<Option<String>, StoreError> {
    let mut q = Sql::new("SELECT geojson FROM geo_boundaries WHERE region_code = ");
    q.bind(region_code);
    let row: Option<(String,)> = q.fetch_optional(conn).await?;
    Ok(row.map(|r| r.0))
}

// --------------------------------------------------------------- drill-down

/// What a drill-down lists: the records behind one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Encounter entries (`record_entries`, kind encounter).
    Encounters,
    /// Referrals submitted, one direction.
    Referrals(&'static str),
    /// Test orders with any of these outcomes (`recognized`, `repeated`, `new`).
    TestOrders(&'static [&'static str]),
    /// Signed remote reads (only those signed by their due time).
    RemoteReads { on_time: bool },
}

/// Who a drill-down row concerns and where: enough for the platform's
/// clinicians to open the record, never its clinical content — the label is
/// the encounter type, the referral's state, the test item or the read's
/// kind (oversight roles do not read health records).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, utoipa::ToSchema)]
pub struct DrillRow {
    pub id: i64,
    pub at: String,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub township: String,
    pub label: String,
}

/// Filters of a drill-down: the period, and optionally the institutions
/// where it happened and the townships whose residents it concerns.
#[derive(Debug, Clone)]
pub struct DrillFilter {
    pub period: Period,
    pub institutions: Option<Vec<i64>>,
    pub townships: Option<Vec<String>>,
}

fn drill_sql(source: Source, f: &DrillFilter, select: &str, tail: &str) -> Sql {
    let (table, at, inst, label, cond): (&str, &str, &str, &str, String) = match source {
        Source::Encounters => (
            "record_entries x",
            "x.occurred_at",
            "x.institution_id",
            "COALESCE(x.encounter_type, '')",
            "x.kind = 'encounter'".into(),
        ),
        Source::Referrals(d) => (
            "referrals x",
            "x.submitted_at",
            "x.from_institution_id",
            "x.state",
            format!("x.direction = '{}'", sanitize(d)),
        ),
        Source::TestOrders(o) => (
            "test_orders x",
            "x.ordered_at",
            "x.institution_id",
            "x.item_code",
            format!(
                "x.outcome IN ({})",
                o.iter()
                    .map(|o| format!("'{}'", sanitize(o)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Source::RemoteReads { on_time } => (
            "remote_requests x",
            "x.requested_at",
            "x.from_institution_id",
            "x.kind",
            if on_time {
                "x.state = 'signed' AND x.signed_at IS NOT NULL AND x.signed_at <= x.due_at".into()
            } else {
                "x.state = 'signed' AND x.signed_at IS NOT NULL".into()
            },
        ),
    };
    let select = select
        .replace("{at}", at)
        .replace("{inst}", inst)
        .replace("{label}", label);
    let mut q = Sql::new(&format!(
        "SELECT {select} FROM {table} JOIN residents r ON r.id = x.resident_id \
         JOIN institutions i ON i.id = {inst} WHERE {cond} AND {at} >= "
    ));
    q.bind(f.period.from.as_str())
        .push(&format!(" AND {at} < "))
        .bind(f.period.to.as_str());
    if let Some(ids) = &f.institutions {
        q.push(&format!(" AND {inst} IN ("));
        in_list(&mut q, ids.iter().map(|i| Val::from(*i)));
    }
    if let Some(ts) = &f.townships {
        q.push(" AND substr(r.region_code, 1, 9) IN (");
        in_list(&mut q, ts.iter().map(|t| Val::from(t.as_str())));
    }
    q.push(tail);
    q
}

/// Codes in drill-down conditions come from the fixed [`Source`] variants;
/// this keeps them to identifier characters regardless.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn in_list(q: &mut Sql, vals: impl Iterator<Item = Val>) {
    let mut any = false;
    for (i, v) in vals.enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v);
        any = true;
    }
    if !any {
        q.push("NULL");
    }
    q.push(")");
}

/// How many records lie behind the figure (equals the figure).
pub async fn drill_count(
    conn: &mut Conn,
    source: Source,
    f: &DrillFilter,
) -> Result<i64, StoreError> {
    drill_sql(source, f, "COUNT(*)", "").scalar_i64(conn).await
}

/// The records behind the figure, newest first, a page at a time.
pub async fn drill_rows(
    conn: &mut Conn,
    source: Source,
    f: &DrillFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<DrillRow>, StoreError> {
    let mut q = drill_sql(
        source,
        f,
        "x.id AS id, {at} AS at, x.resident_id AS resident_id, {inst} AS institution_id, \
         i.name AS institution_name, substr(r.region_code, 1, 9) AS township, {label} AS label",
        " ORDER BY 2 DESC, 1 DESC LIMIT ",
    );
    q.bind(limit).push(" OFFSET ").bind(offset);
    q.fetch_all(conn).await
}

//! 医保 — stored policy versions, claims, the fund ledger and capitation
//! settlements (migration 0008). The rules are in
//! `yilian_domain::insurance`; this module only reads and writes rows.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

// ------------------------------------------------------------------ policies

/// A stored policy version; `body` is the domain `PolicyVersion` as JSON.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PolicyRow {
    pub id: String,
    pub region: String,
    pub valid_from: String,
    pub valid_to: String,
    pub body: String,
    pub created_by: Option<i64>,
    pub created_at: String,
}

/// Stores a version (never updated afterwards).
pub async fn insert_policy(
    conn: &mut Conn,
    id: &str,
    region: &str,
    valid_from: &str,
    valid_to: &str,
    body: &str,
    created_by: Option<i64>,
) -> Result<(), StoreError> {
    let mut q = Sql::new(
        "INSERT INTO insurance_policies (id, region, valid_from, valid_to, body, created_by, created_at) VALUES (",
    );
    q.bind_list([
        id.into(),
        region.into(),
        valid_from.into(),
        valid_to.into(),
        body.into(),
        created_by.into(),
        now_text().into(),
    ])
    .push(")");
    q.execute(conn).await?;
    Ok(())
}

/// Every stored version, by region and start.
pub async fn policies(conn: &mut Conn) -> Result<Vec<PolicyRow>, StoreError> {
    Sql::new(
        "SELECT id, region, valid_from, valid_to, body, created_by, created_at FROM insurance_policies \
         ORDER BY region, valid_from",
    )
    .fetch_all(conn)
    .await
}

// ------------------------------------------------------------------ claims

/// A claim to store: the encounter, its adjudication and where it is charged.
#[derive(Debug, Clone, Default)]
pub struct NewClaim {
    pub resident_id: i64,
    pub institution_id: i64,
    pub consortium_id: Option<i64>,
    pub referral_id: Option<i64>,
    pub encounter_entry_id: Option<i64>,
    pub service_date: String,
    pub scheme: String,
    pub setting: String,
    pub level: String,
    pub referral_context: String,
    pub in_county: bool,
    /// JSON `CostItem[]`.
    pub items: String,
    pub total_fen: i64,
    pub covered_fen: i64,
    pub uncovered_fen: i64,
    pub deductible_fen: i64,
    pub ratio_bp: i64,
    pub fund_fen: i64,
    pub resident_fen: i64,
    pub capped_fen: i64,
    pub ytd_fund_fen: i64,
    pub policy_id: String,
    /// JSON `AppliedRule[]`.
    pub rules: String,
    pub state: String,
    pub source: String,
    pub created_by: Option<i64>,
}

pub const CLAIM_INSERT: &str = "INSERT INTO claims (resident_id, institution_id, consortium_id, referral_id, encounter_entry_id, \
     service_date, scheme, setting, level, referral_context, in_county, items, total_fen, covered_fen, uncovered_fen, \
     deductible_fen, ratio_bp, fund_fen, resident_fen, capped_fen, ytd_fund_fen, policy_id, rules, state, source, created_by, \
     created_at, updated_at) VALUES ";

/// The values of [`CLAIM_INSERT`] for one claim, in column order.
pub fn claim_vals(c: &NewClaim, now: &str) -> Vec<Val> {
    vec![
        c.resident_id.into(),
        c.institution_id.into(),
        c.consortium_id.into(),
        c.referral_id.into(),
        c.encounter_entry_id.into(),
        c.service_date.as_str().into(),
        c.scheme.as_str().into(),
        c.setting.as_str().into(),
        c.level.as_str().into(),
        c.referral_context.as_str().into(),
        i64::from(c.in_county).into(),
        c.items.as_str().into(),
        c.total_fen.into(),
        c.covered_fen.into(),
        c.uncovered_fen.into(),
        c.deductible_fen.into(),
        c.ratio_bp.into(),
        c.fund_fen.into(),
        c.resident_fen.into(),
        c.capped_fen.into(),
        c.ytd_fund_fen.into(),
        c.policy_id.as_str().into(),
        c.rules.as_str().into(),
        c.state.as_str().into(),
        c.source.as_str().into(),
        c.created_by.into(),
        now.into(),
        now.into(),
    ]
}

pub async fn insert_claim(conn: &mut Conn, c: &NewClaim) -> Result<i64, StoreError> {
    let mut q = Sql::new(CLAIM_INSERT);
    q.push("(")
        .bind_list(claim_vals(c, &now_text()))
        .push(") RETURNING id");
    q.scalar_i64(conn).await
}

/// A stored claim with the names a list shows.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ClaimRow {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub resident_id_number: String,
    pub resident_region: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub consortium_id: Option<i64>,
    pub referral_id: Option<i64>,
    pub encounter_entry_id: Option<i64>,
    pub service_date: String,
    pub scheme: String,
    pub setting: String,
    pub level: String,
    pub referral_context: String,
    pub in_county: i64,
    pub items: String,
    pub total_fen: i64,
    pub covered_fen: i64,
    pub uncovered_fen: i64,
    pub deductible_fen: i64,
    pub ratio_bp: i64,
    pub fund_fen: i64,
    pub resident_fen: i64,
    pub capped_fen: i64,
    pub ytd_fund_fen: i64,
    pub policy_id: String,
    pub rules: String,
    pub state: String,
    pub reject_reason: Option<String>,
    pub source: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

const CLAIM_COLS: &str = "c.id, c.resident_id, r.name AS resident_name, r.id_number AS resident_id_number, r.region_code AS resident_region, \
     c.institution_id, i.name AS institution_name, c.consortium_id, c.referral_id, c.encounter_entry_id, c.service_date, \
     c.scheme, c.setting, c.level, c.referral_context, c.in_county, c.items, c.total_fen, c.covered_fen, c.uncovered_fen, \
     c.deductible_fen, c.ratio_bp, c.fund_fen, c.resident_fen, c.capped_fen, c.ytd_fund_fen, c.policy_id, c.rules, \
     c.state, c.reject_reason, c.source, c.created_at, c.updated_at, c.version";
const CLAIM_FROM: &str = "claims c JOIN residents r ON r.id = c.resident_id JOIN institutions i ON i.id = c.institution_id";

pub async fn get_claim(conn: &mut Conn, id: i64) -> Result<Option<ClaimRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {CLAIM_COLS} FROM {CLAIM_FROM} WHERE c.id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Which claims a list shows.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    pub resident_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub consortium_id: Option<i64>,
    /// Residents living under this region prefix.
    pub region_prefix: Option<String>,
    pub state: Option<String>,
    pub level: Option<String>,
    /// `YYYY-MM-DD` bounds, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// One claim (FHIR `_id`).
    pub id: Option<i64>,
    /// Any of these states (empty: any state).
    pub states: Vec<String>,
    /// `created_at` bounds as stored (`YYYY-MM-DDTHH:MM:SSZ`, UTC): from
    /// inclusive, before exclusive.
    pub created_from: Option<String>,
    pub created_before: Option<String>,
}

impl ClaimFilter {
    fn clause(&self) -> Where {
        let mut w = Where::new();
        if let Some(v) = self.id {
            w.and("c.id = ?", [v.into()]);
        }
        if !self.states.is_empty() {
            let marks = vec!["?"; self.states.len()].join(", ");
            w.and(
                &format!("c.state IN ({marks})"),
                self.states.iter().map(|s| Val::from(s.as_str())),
            );
        }
        if let Some(v) = &self.created_from {
            w.and("c.created_at >= ?", [v.as_str().into()]);
        }
        if let Some(v) = &self.created_before {
            w.and("c.created_at < ?", [v.as_str().into()]);
        }
        if let Some(v) = self.resident_id {
            w.and("c.resident_id = ?", [v.into()]);
        }
        if let Some(v) = self.institution_id {
            w.and("c.institution_id = ?", [v.into()]);
        }
        if let Some(v) = self.consortium_id {
            w.and("c.consortium_id = ?", [v.into()]);
        }
        if let Some(p) = &self.region_prefix {
            w.prefix("r.region_code", p);
        }
        if let Some(v) = &self.state {
            w.and("c.state = ?", [v.as_str().into()]);
        }
        if let Some(v) = &self.level {
            w.and("c.level = ?", [v.as_str().into()]);
        }
        if let Some(v) = &self.from {
            w.and("c.service_date >= ?", [v.as_str().into()]);
        }
        if let Some(v) = &self.to {
            w.and("c.service_date <= ?", [v.as_str().into()]);
        }
        w
    }
}

/// Claims, newest first.
pub async fn list_claims(
    conn: &mut Conn,
    f: &ClaimFilter,
    paging: Paging,
) -> Result<Page<ClaimRow>, StoreError> {
    f.clause()
        .page(
            conn,
            CLAIM_COLS,
            CLAIM_FROM,
            "c.service_date DESC, c.id DESC",
            paging,
        )
        .await
}

/// Every claim of a year in adjudication order (service date, then id), for
/// recomputation.
pub async fn claims_of_year(conn: &mut Conn, year: i32) -> Result<Vec<ClaimRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {CLAIM_COLS} FROM {CLAIM_FROM} WHERE c.service_date >= "
    ));
    q.bind(format!("{year:04}-01-01"))
        .push(" AND c.service_date <= ")
        .bind(format!("{year:04}-12-31"))
        .push(" ORDER BY c.service_date, c.id");
    q.fetch_all(conn).await
}

/// What the fund already paid this resident in `year` for `scheme` and
/// `setting` (claims not rejected, on or before `date`) — the yearly cap's
/// running total.
pub async fn ytd_fund(
    conn: &mut Conn,
    resident_id: i64,
    scheme: &str,
    setting: &str,
    date: &str,
) -> Result<i64, StoreError> {
    let mut q = Sql::new("SELECT ");
    q.push(&ytd_sum("p.r", "p.s", "p.t", "p.d"))
        .push(" FROM (SELECT ")
        .bind(resident_id)
        .push(" AS r, ")
        .bind(scheme)
        .push(" AS s, ")
        .bind(setting)
        .push(" AS t, ")
        .bind(date)
        .push(" AS d) p");
    q.scalar_i64(conn).await
}

/// SQL: the year to date of [`ytd_fund`] for column expressions — the
/// resident, scheme, setting and day (`YYYY-MM-DD`). Shared by
/// [`ytd_fund`] and [`claim_facts`].
fn ytd_sum(resident: &str, scheme: &str, setting: &str, day: &str) -> String {
    format!(
        "(SELECT CAST(COALESCE(SUM(c.fund_fen), 0) AS BIGINT) FROM claims c WHERE c.resident_id = {resident} \
         AND c.scheme = {scheme} AND c.setting = {setting} AND c.state <> 'rejected' \
         AND c.service_date >= substr({day}, 1, 4) || '-01-01' AND c.service_date <= {day})"
    )
}

/// Moves a claim from `from` to `to` (optimistic: only if still in `from`
/// at `version`); false when someone else moved it first.
pub async fn set_claim_state(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
    reject_reason: Option<&str>,
    version: i64,
) -> Result<bool, StoreError> {
    let mut q = Sql::new("UPDATE claims SET state = ");
    q.bind(to)
        .push(", reject_reason = ")
        .bind(reject_reason)
        .push(", updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id)
        .push(" AND state = ")
        .bind(from)
        .push(" AND version = ")
        .bind(version);
    Ok(q.execute(conn).await? == 1)
}

// ------------------------------------------------------------------ where charged

// ------------------------------------------------------------------ ledger

/// One payment of the fund.
#[derive(Debug, Clone, Default)]
pub struct LedgerEntry {
    /// `claim`, `contract_fee` or `capitation_surplus`.
    pub kind: String,
    pub year: i32,
    pub month: u32,
    pub consortium_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub team_id: Option<i64>,
    pub source_id: Option<i64>,
    pub amount_fen: i64,
}

const LEDGER_INSERT: &str = "INSERT INTO fund_ledger (kind, year, month, consortium_id, institution_id, team_id, source_id, \
     amount_fen, created_at) VALUES ";

fn ledger_vals(e: &LedgerEntry, now: &str) -> Vec<Val> {
    vec![
        e.kind.as_str().into(),
        i64::from(e.year).into(),
        i64::from(e.month).into(),
        e.consortium_id.into(),
        e.institution_id.into(),
        e.team_id.into(),
        e.source_id.into(),
        e.amount_fen.into(),
        now.into(),
    ]
}

/// Appends ledger entries (multi-row).
pub async fn append_ledger(conn: &mut Conn, rows: &[LedgerEntry]) -> Result<(), StoreError> {
    let now = now_text();
    for chunk in rows.chunks(crate::bulk::BATCH) {
        let mut q = Sql::new(LEDGER_INSERT);
        for (i, e) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind_list(ledger_vals(e, &now))
                .push(")");
        }
        q.execute(conn).await?;
    }
    Ok(())
}

/// Fund payments of one kind per month of `year` charged to a consortium
/// (index 0 = January).
pub async fn spent_by_month(
    conn: &mut Conn,
    consortium_id: i64,
    year: i32,
) -> Result<[i64; 12], StoreError> {
    #[derive(FromRow)]
    struct M {
        month: i64,
        fen: i64,
    }
    let mut q = Sql::new(
        "SELECT month, CAST(SUM(amount_fen) AS BIGINT) AS fen FROM fund_ledger WHERE kind = 'claim' AND consortium_id = ",
    );
    q.bind(consortium_id)
        .push(" AND year = ")
        .bind(i64::from(year))
        .push(" GROUP BY month");
    let rows: Vec<M> = q.fetch_all(conn).await?;
    let mut out = [0i64; 12];
    for r in rows {
        if let Some(slot) = usize::try_from(r.month - 1)
            .ok()
            .and_then(|m| out.get_mut(m))
        {
            *slot = r.fen;
        }
    }
    Ok(out)
}

/// Contract fees paid to teams in `year`, per team (team id, name, fen).
pub async fn contract_fees(
    conn: &mut Conn,
    year: i32,
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    let mut q = Sql::new(
        "SELECT l.team_id, t.name, CAST(SUM(l.amount_fen) AS BIGINT) FROM fund_ledger l JOIN teams t ON t.id = l.team_id \
         WHERE l.kind = 'contract_fee' AND l.year = ",
    );
    q.bind(i64::from(year))
        .push(" GROUP BY l.team_id, t.name ORDER BY t.name");
    q.fetch_all(conn).await
}

// ------------------------------------------------------------------ capitation

/// Insured residents of a consortium's region, per scheme (scheme, count).
pub async fn insured_of(
    conn: &mut Conn,
    region_prefix: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut w = Where::new();
    w.and("merged_into IS NULL", []);
    w.prefix("region_code", region_prefix);
    let mut q = Sql::new("SELECT insurance, COUNT(*) FROM residents");
    w.append_to(&mut q);
    q.push(" GROUP BY insurance ORDER BY insurance");
    q.fetch_all(conn).await
}

/// A consortium's fund payments in `year`: total, and outside its county
/// (in_county = 0, 县外就医), from valuated claims.
#[derive(Debug, Clone, Default, Serialize, FromRow, ToSchema)]
pub struct Leakage {
    pub claims: i64,
    pub fund_fen: i64,
    pub outside_claims: i64,
    pub outside_fund_fen: i64,
}

pub async fn leakage(
    conn: &mut Conn,
    consortium_id: i64,
    year: i32,
) -> Result<Leakage, StoreError> {
    let mut q = Sql::new(
        "SELECT COUNT(*) AS claims, CAST(COALESCE(SUM(fund_fen), 0) AS BIGINT) AS fund_fen, \
         CAST(COALESCE(SUM(CASE WHEN in_county = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS outside_claims, \
         CAST(COALESCE(SUM(CASE WHEN in_county = 0 THEN fund_fen ELSE 0 END), 0) AS BIGINT) AS outside_fund_fen \
         FROM claims WHERE state = 'valuated' AND consortium_id = ",
    );
    q.bind(consortium_id)
        .push(" AND service_date >= ")
        .bind(format!("{year:04}-01-01"))
        .push(" AND service_date <= ")
        .bind(format!("{year:04}-12-31"));
    q.fetch_one(conn).await
}

/// A stored capitation settlement.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SettlementRow {
    pub id: i64,
    pub consortium_id: i64,
    pub year: i64,
    pub insured: i64,
    pub budget_fen: i64,
    pub spent_fen: i64,
    pub surplus_fen: i64,
    pub overrun_fen: i64,
    pub fund_pays_fen: i64,
    pub policy_id: String,
    /// JSON `[[institution_id, fen], …]`.
    pub distribution: String,
    pub settled_by: Option<i64>,
    pub settled_at: String,
}

const SETTLEMENT_COLS: &str = "id, consortium_id, year, insured, budget_fen, spent_fen, surplus_fen, overrun_fen, \
     fund_pays_fen, policy_id, distribution, settled_by, settled_at";

pub async fn get_settlement(
    conn: &mut Conn,
    consortium_id: i64,
    year: i32,
) -> Result<Option<SettlementRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {SETTLEMENT_COLS} FROM capitation_settlements WHERE consortium_id = "
    ));
    q.bind(consortium_id)
        .push(" AND year = ")
        .bind(i64::from(year));
    q.fetch_optional(conn).await
}

/// The values of a settlement to insert.
#[derive(Debug, Clone, Default)]
pub struct NewSettlement {
    pub consortium_id: i64,
    pub year: i32,
    pub insured: i64,
    pub budget_fen: i64,
    pub spent_fen: i64,
    pub surplus_fen: i64,
    pub overrun_fen: i64,
    pub fund_pays_fen: i64,
    pub policy_id: String,
    pub distribution: String,
    pub settled_by: Option<i64>,
}

/// Stores a settlement; `None` when (consortium, year) is already settled
/// (the unique key refuses the second row; nothing is written).
pub async fn insert_settlement(
    conn: &mut Conn,
    s: &NewSettlement,
) -> Result<Option<i64>, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO capitation_settlements (consortium_id, year, insured, budget_fen, spent_fen, surplus_fen, \
         overrun_fen, fund_pays_fen, policy_id, distribution, settled_by, settled_at) VALUES (",
    );
    q.bind_list([
        s.consortium_id.into(),
        i64::from(s.year).into(),
        s.insured.into(),
        s.budget_fen.into(),
        s.spent_fen.into(),
        s.surplus_fen.into(),
        s.overrun_fen.into(),
        s.fund_pays_fen.into(),
        s.policy_id.as_str().into(),
        s.distribution.as_str().into(),
        s.settled_by.into(),
        now_text().into(),
    ])
    .push(") ON CONFLICT (consortium_id, year) DO NOTHING RETURNING id");
    let got: Option<(i64,)> = q.fetch_optional(conn).await?;
    Ok(got.map(|(id,)| id))
}

/// Every settlement of a year.
pub async fn settlements_of(conn: &mut Conn, year: i32) -> Result<Vec<SettlementRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {SETTLEMENT_COLS} FROM capitation_settlements WHERE year = "
    ));
    q.bind(i64::from(year)).push(" ORDER BY consortium_id");
    q.fetch_all(conn).await
}

// ------------------------------------------------------------------ facts for adjudication

/// What one claim is looked up by: the encounter's resident, institution,
/// day and setting, and the referral it names (if any).
#[derive(Debug, Clone)]
pub struct FactKey {
    pub resident_id: i64,
    pub institution_id: i64,
    /// The service day, `YYYY-MM-DD`.
    pub date: String,
    /// The first day a referral counts from (`date` less its validity).
    pub since: String,
    pub setting: String,
    pub referral_id: Option<i64>,
}

/// The stored facts a claim is adjudicated on (the rules are the domain's).
/// Every column is `None`/0 where the row it comes from is missing.
#[derive(Debug, Clone, Default, FromRow)]
pub struct ClaimFacts {
    pub resident_region: Option<String>,
    pub resident_insurance: Option<String>,
    pub resident_merged_into: Option<i64>,
    pub institution_kind: Option<String>,
    pub institution_grade: Option<String>,
    pub institution_region: Option<String>,
    /// The named referral, or else the most recent one of the resident to
    /// the institution that was accepted (accepted, scheduled, arrived or
    /// completed) and submitted from `since` to the end of `date`.
    pub referral_id: Option<i64>,
    pub referral_resident_id: Option<i64>,
    pub referral_to_institution_id: Option<i64>,
    pub referral_direction: Option<String>,
    /// 1 when the referral's two institutions share a consortium.
    pub referral_in_consortium: i64,
    /// 1 when the institution is a hospital of the resident's active
    /// "1+1+1" contract.
    pub in_combination: i64,
    /// The fund's payments to the resident this year up to `date` under the
    /// stored insurance scheme and the setting (rejected claims left out).
    pub ytd_fund_fen: i64,
    /// The county consortium of the resident's region.
    pub consortium_id: Option<i64>,
}

/// Claim keys per facts statement: 7 parameters each.
pub const FACTS_BATCH: usize = 500;

/// The facts of each key, in order, read in one statement per
/// [`FACTS_BATCH`] keys. Each key sees the store as it is: the year to date
/// of two keys of one resident does not include each other.
pub async fn claim_facts(conn: &mut Conn, keys: &[FactKey]) -> Result<Vec<ClaimFacts>, StoreError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(FACTS_BATCH) {
        let mut q = Sql::new(
            "WITH k (n, resident_id, institution_id, day, since, setting, named) AS (VALUES ",
        );
        for (n, k) in chunk.iter().enumerate() {
            q.push(if n == 0 { "(" } else { ", (" });
            q.bind_list([
                (n as i64).into(),
                k.resident_id.into(),
                k.institution_id.into(),
                k.date.as_str().into(),
                k.since.as_str().into(),
                k.setting.as_str().into(),
                k.referral_id.into(),
            ]);
            q.push(")");
        }
        q.push(&format!(
            ") SELECT r.region_code AS resident_region, r.insurance AS resident_insurance, \
             r.merged_into AS resident_merged_into, i.kind AS institution_kind, i.grade AS institution_grade, \
             i.region_code AS institution_region, f.id AS referral_id, f.resident_id AS referral_resident_id, \
             f.to_institution_id AS referral_to_institution_id, f.direction AS referral_direction, \
             CASE WHEN f.id IS NOT NULL AND {shared} THEN 1 ELSE 0 END AS referral_in_consortium, \
             CASE WHEN EXISTS (SELECT 1 FROM contracts ct WHERE ct.status = 'active' AND ct.resident_id = k.resident_id \
               AND (ct.secondary_hospital_id = k.institution_id OR ct.tertiary_hospital_id = k.institution_id)) \
               THEN 1 ELSE 0 END AS in_combination, \
             {ytd} AS ytd_fund_fen, \
             (SELECT MIN(o.id) FROM consortia o WHERE o.kind = 'county_consortium' \
               AND r.region_code LIKE o.region_code || '%') AS consortium_id \
             FROM k LEFT JOIN residents r ON r.id = k.resident_id \
             LEFT JOIN institutions i ON i.id = k.institution_id \
             LEFT JOIN referrals f ON f.id = COALESCE(k.named, (SELECT x.id FROM referrals x \
               WHERE x.resident_id = k.resident_id AND x.to_institution_id = k.institution_id \
               AND x.state IN ('accepted', 'scheduled', 'arrived', 'completed') \
               AND x.submitted_at >= k.since AND x.submitted_at <= k.day || 'T23:59:59' \
               ORDER BY x.submitted_at DESC, x.id DESC LIMIT 1)) \
             ORDER BY k.n",
            shared = crate::remote::in_one_consortium("f.from_institution_id", "f.to_institution_id"),
            ytd = ytd_sum("k.resident_id", "r.insurance", "k.setting", "k.day"),
        ));
        out.extend(q.fetch_all::<ClaimFacts>(conn).await?);
    }
    Ok(out)
}

/// A consortium's lead and members with their kind and grade.
#[derive(Debug, Clone, FromRow)]
pub struct Member {
    pub id: i64,
    pub kind: String,
    pub grade: Option<String>,
}

pub async fn members_of(conn: &mut Conn, consortium_id: i64) -> Result<Vec<Member>, StoreError> {
    let mut q = Sql::new(
        "SELECT i.id, i.kind, i.grade FROM institutions i WHERE i.id IN (SELECT lead_institution_id FROM consortia WHERE id = ",
    );
    q.bind(consortium_id)
        .push(") OR i.id IN (SELECT institution_id FROM consortium_members WHERE consortium_id = ")
        .bind(consortium_id)
        .push(") ORDER BY i.id");
    q.fetch_all(conn).await
}

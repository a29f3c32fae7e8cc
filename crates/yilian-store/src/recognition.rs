//! 检查检验结果互认 — what the recognition rule
//! (`yilian_domain::recognition`) needs from the store, and what it records:
//! - the candidates: a resident's earlier lab / exam results for an item
//!   (`record_entries` of kind `lab` / `exam` whose `code` is the catalogue
//!   item code), each with its institution's kind and grade, whether a
//!   passed external quality assessment covers the day it was taken
//!   ([`lab_quality`](insert_lab_quality)), and the consortia of the
//!   institutions involved ([`consortia_of`]);
//! - the treatments that may have changed a result since: the resident's
//!   inpatient admissions and emergency visits ([`treatments`]);
//! - the orders (`test_orders`): recognised, repeated for a reason, or new;
//! - the report: counts and money saved per ordering institution and per
//!   consortium over a period.
//!
//! A merged resident's records are read through the survivor (as the
//! architecture says), so candidates and treatments include the entries of
//! residents merged into the one asked about.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, StoreError, now_text};

/// Appends the set of residents whose records are one person's: `id` and
/// those merged into it.
fn same_person(s: &mut Sql, resident_id: i64) {
    s.push("(SELECT id FROM residents WHERE id = ")
        .bind(resident_id)
        .push(" OR merged_into = ")
        .bind(resident_id)
        .push(")");
}

// ------------------------------------------------------------------ lab quality

/// A passed external quality assessment (室间质评) of an institution's lab
/// and imaging departments, valid from `passed_on` to `valid_until`
/// (`YYYY-MM-DD`, inclusive).
#[derive(Debug, Clone)]
pub struct NewLabQuality {
    pub institution_id: i64,
    pub passed_on: String,
    pub valid_until: String,
    /// Who assessed: e.g. 省临床检验中心.
    pub assessor: String,
    pub note: String,
    pub recorded_by: Option<i64>,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct LabQualityRow {
    pub id: i64,
    pub institution_id: i64,
    pub passed_on: String,
    pub valid_until: String,
    pub assessor: String,
    pub note: String,
    pub created_at: String,
}

const LAB_QUALITY_COLS: &str =
    "id, institution_id, passed_on, valid_until, assessor, note, created_at";

/// Records a passed assessment; returns the stored row.
pub async fn insert_lab_quality(
    conn: &mut Conn,
    q: &NewLabQuality,
) -> Result<LabQualityRow, StoreError> {
    let mut s = Sql::new(
        "INSERT INTO lab_quality (institution_id, passed_on, valid_until, assessor, note, recorded_by, created_at) VALUES (",
    );
    s.bind_list([
        q.institution_id.into(),
        q.passed_on.as_str().into(),
        q.valid_until.as_str().into(),
        q.assessor.as_str().into(),
        q.note.as_str().into(),
        q.recorded_by.into(),
        now_text().into(),
    ])
    .push(") RETURNING id");
    let id = s.scalar_i64(conn).await?;
    let mut s = Sql::new(&format!(
        "SELECT {LAB_QUALITY_COLS} FROM lab_quality WHERE id = "
    ));
    s.bind(id);
    s.fetch_one(conn).await
}

/// An institution's assessments, the most recent validity first.
pub async fn lab_quality_of(
    conn: &mut Conn,
    institution_id: i64,
) -> Result<Vec<LabQualityRow>, StoreError> {
    let mut s = Sql::new(&format!(
        "SELECT {LAB_QUALITY_COLS} FROM lab_quality WHERE institution_id = "
    ));
    s.bind(institution_id)
        .push(" ORDER BY valid_until DESC, id DESC");
    s.fetch_all(conn).await
}

/// Whether a passed assessment of `institution_id` covers `day` (`YYYY-MM-DD`).
pub async fn in_good_standing(
    conn: &mut Conn,
    institution_id: i64,
    day: &str,
) -> Result<bool, StoreError> {
    let mut s = Sql::new("SELECT COUNT(*) FROM lab_quality WHERE institution_id = ");
    s.bind(institution_id)
        .push(" AND passed_on <= ")
        .bind(day)
        .push(" AND valid_until >= ")
        .bind(day);
    Ok(s.scalar_i64(conn).await? > 0)
}

// ------------------------------------------------------------------ candidates

/// An earlier result of the resident for an item, with what the rule weighs.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CandidateRow {
    /// The `record_entries` id of the result.
    pub entry_id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    /// The producing institution's kind and grade (registry codes).
    pub institution_kind: String,
    pub institution_grade: Option<String>,
    /// `lab` or `exam`.
    pub kind: String,
    pub code: String,
    pub title: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: i64,
    /// 1 when the result carries the recognition mark "HR".
    pub hr_mark: i64,
    /// When the specimen was taken / the exam performed (CST text).
    pub occurred_at: String,
    /// The encounter the result belongs to, if any (it does not count as a
    /// treatment after the result).
    pub encounter_id: Option<i64>,
    /// 1 when a passed external quality assessment of the producing
    /// institution covers the day the result was taken.
    pub eqa_passed: i64,
}

/// The resident's lab and exam results for `item_code`, newest first.
pub async fn candidates(
    conn: &mut Conn,
    resident_id: i64,
    item_code: &str,
) -> Result<Vec<CandidateRow>, StoreError> {
    let mut s = Sql::new(
        "SELECT e.id AS entry_id, e.resident_id, e.institution_id, i.name AS institution_name, \
         i.kind AS institution_kind, i.grade AS institution_grade, e.kind, e.code, e.title, e.value, e.unit, \
         e.reference_range, e.abnormal, e.hr_mark, e.occurred_at, e.encounter_id, \
         (SELECT COUNT(*) FROM lab_quality q WHERE q.institution_id = e.institution_id \
          AND q.passed_on <= substr(e.occurred_at, 1, 10) AND q.valid_until >= substr(e.occurred_at, 1, 10)) AS eqa_passed \
         FROM record_entries e JOIN institutions i ON i.id = e.institution_id \
         WHERE e.resident_id IN ",
    );
    same_person(&mut s, resident_id);
    s.push(" AND e.kind IN ('lab', 'exam') AND e.code = ")
        .bind(item_code)
        .push(" ORDER BY e.occurred_at DESC, e.id DESC");
    let mut rows: Vec<CandidateRow> = s.fetch_all(conn).await?;
    for r in &mut rows {
        r.eqa_passed = i64::from(r.eqa_passed > 0);
    }
    Ok(rows)
}

/// (institution id, consortium id) for every consortium each institution
/// belongs to, as a member or as its lead.
pub async fn consortia_of(
    conn: &mut Conn,
    institution_ids: &[i64],
) -> Result<Vec<(i64, i64)>, StoreError> {
    if institution_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = |s: &mut Sql| {
        s.push("(")
            .bind_list(institution_ids.iter().map(|i| Val::from(*i)))
            .push(")");
    };
    let mut s = Sql::new(
        "SELECT institution_id, consortium_id FROM consortium_members WHERE institution_id IN ",
    );
    list(&mut s);
    s.push(" UNION SELECT lead_institution_id, id FROM consortia WHERE lead_institution_id IN ");
    list(&mut s);
    s.push(" ORDER BY 1, 2");
    s.fetch_all(conn).await
}

/// A treatment that may change results taken before it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct TreatmentRow {
    /// The encounter's `record_entries` id.
    pub entry_id: i64,
    /// `inpatient` or `emergency`.
    pub encounter_type: String,
    pub occurred_at: String,
    pub institution_id: i64,
}

/// 期间治疗 — the resident's inpatient admissions and emergency visits
/// (encounters of type `inpatient` / `emergency`) at or after `since` (CST
/// text), oldest first. yilian records no finer treatment data (a
/// transfusion, an operation, a dose change): an admission or an emergency
/// visit after a result stands for a treatment that may have changed it.
pub async fn treatments(
    conn: &mut Conn,
    resident_id: i64,
    since: &str,
) -> Result<Vec<TreatmentRow>, StoreError> {
    let mut s = Sql::new(
        "SELECT id AS entry_id, COALESCE(encounter_type, '') AS encounter_type, occurred_at, institution_id \
         FROM record_entries WHERE resident_id IN ",
    );
    same_person(&mut s, resident_id);
    s.push(" AND kind = 'encounter' AND encounter_type IN ('inpatient', 'emergency') AND occurred_at >= ")
        .bind(since)
        .push(" ORDER BY occurred_at, id");
    s.fetch_all(conn).await
}

// ------------------------------------------------------------------ orders

/// An order to record.
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    pub resident_id: i64,
    pub institution_id: i64,
    pub item_code: String,
    /// `lab` or `exam`.
    pub item_kind: String,
    pub ordered_by: Option<i64>,
    /// CST text `YYYY-MM-DDTHH:MM:SS`.
    pub ordered_at: String,
    /// `recognized`, `repeated` or `new`.
    pub outcome: String,
    /// The recognised result (recognized), or the recognisable one offered
    /// and not used (repeated).
    pub recognized_entry_id: Option<i64>,
    pub result_institution_id: Option<i64>,
    pub saved_fen: i64,
    pub repeat_reason: Option<String>,
    pub repeat_text: String,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct OrderRow {
    pub id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub item_code: String,
    pub item_kind: String,
    pub ordered_by: Option<i64>,
    pub ordered_at: String,
    pub outcome: String,
    pub recognized_entry_id: Option<i64>,
    pub result_institution_id: Option<i64>,
    pub result_institution_name: Option<String>,
    pub saved_fen: i64,
    pub repeat_reason: Option<String>,
    pub repeat_text: String,
    pub created_at: String,
}

const ORDER_SELECT: &str = "SELECT o.id, o.resident_id, o.institution_id, i.name AS institution_name, o.item_code, \
     o.item_kind, o.ordered_by, o.ordered_at, o.outcome, o.recognized_entry_id, o.result_institution_id, \
     r.name AS result_institution_name, o.saved_fen, o.repeat_reason, o.repeat_text, o.created_at \
     FROM test_orders o JOIN institutions i ON i.id = o.institution_id \
     LEFT JOIN institutions r ON r.id = o.result_institution_id";

/// Records an order; returns its id.
pub async fn insert_order(conn: &mut Conn, o: &NewOrder) -> Result<i64, StoreError> {
    let mut s = Sql::new(
        "INSERT INTO test_orders (resident_id, institution_id, item_code, item_kind, ordered_by, ordered_at, outcome, \
         recognized_entry_id, result_institution_id, saved_fen, repeat_reason, repeat_text, created_at) VALUES (",
    );
    s.bind_list([
        o.resident_id.into(),
        o.institution_id.into(),
        o.item_code.as_str().into(),
        o.item_kind.as_str().into(),
        o.ordered_by.into(),
        o.ordered_at.as_str().into(),
        o.outcome.as_str().into(),
        o.recognized_entry_id.into(),
        o.result_institution_id.into(),
        o.saved_fen.into(),
        o.repeat_reason.clone().into(),
        o.repeat_text.as_str().into(),
        now_text().into(),
    ])
    .push(") RETURNING id");
    s.scalar_i64(conn).await
}

pub async fn get_order(conn: &mut Conn, id: i64) -> Result<Option<OrderRow>, StoreError> {
    let mut s = Sql::new(ORDER_SELECT);
    s.push(" WHERE o.id = ").bind(id);
    s.fetch_optional(conn).await
}

/// A resident's orders, newest first (at most `limit`).
pub async fn orders_of(
    conn: &mut Conn,
    resident_id: i64,
    limit: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let mut s = Sql::new(ORDER_SELECT);
    s.push(" WHERE o.resident_id = ")
        .bind(resident_id)
        .push(" ORDER BY o.ordered_at DESC, o.id DESC LIMIT ")
        .bind(limit.clamp(1, 500));
    s.fetch_all(conn).await
}

/// The number of orders stored (tests and the report's totals).
pub async fn count_orders(conn: &mut Conn) -> Result<i64, StoreError> {
    Sql::new("SELECT COUNT(*) FROM test_orders")
        .scalar_i64(conn)
        .await
}

// ------------------------------------------------------------------ report

/// The report's period and scope.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// First day (`YYYY-MM-DD`, CST), inclusive.
    pub from: String,
    /// Last day (`YYYY-MM-DD`, CST), inclusive.
    pub to: String,
    /// Only ordering institutions (and consortia) whose region code starts
    /// with this prefix (a region-bound reader's area).
    pub region_prefix: Option<String>,
}

/// One count of the report: a group (institution or consortium), an outcome
/// and — for repeats — a reason, with the number of orders and the money saved.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ReportCell {
    pub group_id: i64,
    pub group_name: String,
    pub outcome: String,
    /// The repeat reason for `repeated`; empty otherwise.
    pub reason: String,
    pub orders: i64,
    pub saved_fen: i64,
}

fn period(w: &mut Where, f: &ReportFilter) {
    let end = chrono::NaiveDate::parse_from_str(&f.to, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map_or_else(|| format!("{}\u{10FFFF}", f.to), |d| d.to_string());
    w.and(
        "o.ordered_at >= ? AND o.ordered_at < ?",
        [Val::from(f.from.as_str()), Val::from(end)],
    );
}

/// Counts per ordering institution, outcome and repeat reason.
pub async fn report_by_institution(
    conn: &mut Conn,
    f: &ReportFilter,
) -> Result<Vec<ReportCell>, StoreError> {
    let mut w = Where::new();
    period(&mut w, f);
    if let Some(p) = &f.region_prefix {
        w.prefix("i.region_code", p);
    }
    let mut s = Sql::new(
        "SELECT o.institution_id AS group_id, i.name AS group_name, o.outcome, COALESCE(o.repeat_reason, '') AS reason, \
         COUNT(*) AS orders, CAST(COALESCE(SUM(o.saved_fen), 0) AS BIGINT) AS saved_fen \
         FROM test_orders o JOIN institutions i ON i.id = o.institution_id",
    );
    w.append_to(&mut s);
    s.push(
        " GROUP BY o.institution_id, i.name, o.outcome, COALESCE(o.repeat_reason, '') \
         ORDER BY o.institution_id, o.outcome, 4",
    );
    s.fetch_all(conn).await
}

/// Counts per consortium (orders placed by its members and its lead),
/// outcome and repeat reason. An institution in several consortia counts in
/// each.
pub async fn report_by_consortium(
    conn: &mut Conn,
    f: &ReportFilter,
) -> Result<Vec<ReportCell>, StoreError> {
    let mut w = Where::new();
    period(&mut w, f);
    if let Some(p) = &f.region_prefix {
        w.prefix("c.region_code", p);
    }
    let mut s = Sql::new(
        "SELECT c.id AS group_id, c.name AS group_name, o.outcome, COALESCE(o.repeat_reason, '') AS reason, \
         COUNT(*) AS orders, CAST(COALESCE(SUM(o.saved_fen), 0) AS BIGINT) AS saved_fen \
         FROM test_orders o JOIN (SELECT consortium_id, institution_id FROM consortium_members \
         UNION SELECT id, lead_institution_id FROM consortia) m ON m.institution_id = o.institution_id \
         JOIN consortia c ON c.id = m.consortium_id",
    );
    w.append_to(&mut s);
    s.push(
        " GROUP BY c.id, c.name, o.outcome, COALESCE(o.repeat_reason, '') \
         ORDER BY c.id, o.outcome, 4",
    );
    s.fetch_all(conn).await
}

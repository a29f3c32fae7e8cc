//! Family doctor contracting and chronic care: service packages (versioned),
//! contracts with their packages, delivered services, programme enrolments
//! with risk history and follow-ups, prescriptions, fee settlements.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use yilian_domain::access::ResidentScope;
use yilian_domain::contract::ServicePackage;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

// ---------------------------------------------------------------- packages

#[derive(Debug, FromRow)]
struct PackageRow {
    code: String,
    version: i64,
    name: String,
    target: Option<String>,
    valid_from: String,
    yearly_fee_fen: i64,
    payers: String,
    items: String,
}

impl PackageRow {
    fn decode(self) -> Result<ServicePackage, StoreError> {
        Ok(ServicePackage {
            code: self.code,
            version: u32::try_from(self.version)
                .map_err(|_| StoreError::Corrupt("package version".into()))?,
            name: self.name,
            target: self.target,
            valid_from: self
                .valid_from
                .parse()
                .map_err(|_| StoreError::Corrupt("package valid_from".into()))?,
            yearly_fee_fen: self.yearly_fee_fen,
            payers: serde_json::from_str(&self.payers)?,
            items: serde_json::from_str(&self.items)?,
        })
    }
}

/// Stores a package version; an existing (code, version) is kept as it is.
pub async fn upsert_package(conn: &mut Conn, p: &ServicePackage) -> Result<bool, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO service_packages (code, version, name, target, valid_from, yearly_fee_fen, payers, items, created_at) VALUES (",
    );
    q.bind_list([
        p.code.clone().into(),
        i64::from(p.version).into(),
        p.name.clone().into(),
        p.target.clone().into(),
        p.valid_from.to_string().into(),
        p.yearly_fee_fen.into(),
        serde_json::to_string(&p.payers)?.into(),
        serde_json::to_string(&p.items)?.into(),
        now_text().into(),
    ]);
    q.push(") ON CONFLICT (code, version) DO NOTHING");
    Ok(q.execute(conn).await? == 1)
}

/// The version of each package in force on `date` (the latest valid_from ≤ date).
pub async fn packages_in_force(
    conn: &mut Conn,
    date: &str,
) -> Result<Vec<ServicePackage>, StoreError> {
    let mut q = Sql::new(
        "SELECT code, version, name, target, valid_from, yearly_fee_fen, payers, items FROM service_packages WHERE valid_from <= ",
    );
    q.bind(date)
        .push(" ORDER BY code, valid_from DESC, version DESC");
    let rows: Vec<PackageRow> = q.fetch_all(conn).await?;
    let mut out: Vec<ServicePackage> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|p| p.code != r.code) {
            out.push(r.decode()?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- contracts

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ContractRow {
    pub id: i64,
    pub resident_id: i64,
    pub team_id: i64,
    pub team_name: String,
    pub doctor_id: i64,
    pub doctor_name: String,
    pub household_code: Option<String>,
    pub start_date: String,
    pub end_date: String,
    pub status: String,
    pub secondary_hospital_id: Option<i64>,
    pub tertiary_hospital_id: Option<i64>,
    pub fee_fen: i64,
    pub cancel_reason: Option<String>,
    pub previous_id: Option<i64>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

const CONTRACT_COLS: &str = "c.id, c.resident_id, c.team_id, t.name AS team_name, c.doctor_id, p.name AS doctor_name, c.household_code, \
     c.start_date, c.end_date, c.status, c.secondary_hospital_id, c.tertiary_hospital_id, c.fee_fen, c.cancel_reason, c.previous_id, \
     c.version, c.created_at, c.updated_at";
const CONTRACT_FROM: &str =
    "contracts c JOIN teams t ON t.id = c.team_id JOIN practitioners p ON p.id = c.doctor_id";

/// A contract to write (already checked by the domain rules).
#[derive(Debug, Clone)]
pub struct NewContract {
    pub resident_id: i64,
    pub team_id: i64,
    pub doctor_id: i64,
    pub household_code: Option<String>,
    pub start_date: String,
    pub end_date: String,
    pub secondary_hospital_id: Option<i64>,
    pub tertiary_hospital_id: Option<i64>,
    pub fee_fen: i64,
    pub previous_id: Option<i64>,
    pub signed_by: Option<i64>,
    pub packages: Vec<(String, u32)>,
}

/// Inserts an active contract and its packages. A second active contract of
/// the resident violates `contracts_one_active` (→ `Unique`).
pub async fn insert_contract(conn: &mut Conn, c: &NewContract) -> Result<i64, StoreError> {
    let ids = crate::bulk::insert_contracts(conn, std::slice::from_ref(c)).await?;
    ids.first()
        .copied()
        .ok_or_else(|| StoreError::Corrupt("contract insert returned no id".into()))
}

pub async fn get_contract(conn: &mut Conn, id: i64) -> Result<Option<ContractRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {CONTRACT_COLS} FROM {CONTRACT_FROM} WHERE c.id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// The resident's active contract, if any.
pub async fn active_contract(
    conn: &mut Conn,
    resident_id: i64,
) -> Result<Option<ContractRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {CONTRACT_COLS} FROM {CONTRACT_FROM} WHERE c.status = 'active' AND c.resident_id = "
    ));
    q.bind(resident_id);
    q.fetch_optional(conn).await
}

/// Every contract of a resident, newest first.
pub async fn contracts_of(
    conn: &mut Conn,
    resident_ids: &[i64],
) -> Result<Vec<ContractRow>, StoreError> {
    if resident_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(&format!(
        "SELECT {CONTRACT_COLS} FROM {CONTRACT_FROM} WHERE c.resident_id IN ("
    ));
    q.bind_list(resident_ids.iter().map(|i| Val::from(*i)))
        .push(") ORDER BY c.start_date DESC, c.id DESC");
    q.fetch_all(conn).await
}

/// (package code, version) of a contract.
pub async fn contract_packages(
    conn: &mut Conn,
    contract_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut q = Sql::new(
        "SELECT package_code, package_version FROM contract_packages WHERE contract_id = ",
    );
    q.bind(contract_id).push(" ORDER BY package_code");
    q.fetch_all(conn).await
}

/// Active contracts held by a doctor (over all teams) and by a team.
pub async fn active_counts(
    conn: &mut Conn,
    doctor_id: i64,
    team_id: i64,
) -> Result<(i64, i64), StoreError> {
    let mut d = Sql::new("SELECT COUNT(*) FROM contracts WHERE status = 'active' AND doctor_id = ");
    d.bind(doctor_id);
    let mut t = Sql::new("SELECT COUNT(*) FROM contracts WHERE status = 'active' AND team_id = ");
    t.bind(team_id);
    Ok((d.scalar_i64(conn).await?, t.scalar_i64(conn).await?))
}

/// Moves a contract from `from` to `to` (optimistic on the current status).
pub async fn set_status(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE contracts SET status = ");
    q.bind(to)
        .push(", cancel_reason = COALESCE(")
        .bind(reason)
        .push(", cancel_reason), updated_at = ")
        .bind(now_text());
    q.push(", version = version + 1 WHERE id = ")
        .bind(id)
        .push(" AND status = ")
        .bind(from);
    if q.execute(conn).await? == 1 {
        Ok(())
    } else {
        Err(StoreError::VersionConflict { expected: 0 })
    }
}

/// Marks active contracts whose period ended before `today` as expired.
pub async fn expire_ended(conn: &mut Conn, today: &str) -> Result<u64, StoreError> {
    let mut q =
        Sql::new("UPDATE contracts SET status = 'expired', version = version + 1, updated_at = ");
    q.bind(now_text())
        .push(" WHERE status = 'active' AND end_date < ")
        .bind(today);
    q.execute(conn).await
}

#[derive(Debug, Clone, Default)]
pub struct ContractFilter {
    pub team_id: Option<i64>,
    pub doctor_id: Option<i64>,
    pub resident_id: Option<i64>,
    pub status: Option<String>,
    pub household_code: Option<String>,
}

/// Contracts of residents visible under `scope`, filtered.
pub async fn list_contracts(
    conn: &mut Conn,
    f: &ContractFilter,
    scope: &ResidentScope,
    paging: Paging,
) -> Result<Page<ContractRow>, StoreError> {
    let mut w = Where::new();
    crate::residents::scope_clause_on(&mut w, "r.", scope);
    if let Some(v) = f.team_id {
        w.and("c.team_id = ?", [v.into()]);
    }
    if let Some(v) = f.doctor_id {
        w.and("c.doctor_id = ?", [v.into()]);
    }
    if let Some(v) = f.resident_id {
        w.and("c.resident_id = ?", [v.into()]);
    }
    if let Some(v) = &f.status {
        w.and("c.status = ?", [v.as_str().into()]);
    }
    if let Some(v) = &f.household_code {
        w.and("c.household_code = ?", [v.as_str().into()]);
    }
    let from = format!("{CONTRACT_FROM} JOIN residents r ON r.id = c.resident_id");
    w.page(conn, CONTRACT_COLS, &from, "c.id", paging).await
}

/// Records one delivered service of a contract (随访, 体检, 上门 …).
pub async fn record_delivery(
    conn: &mut Conn,
    contract_id: i64,
    kind: &str,
    date: &str,
    practitioner_id: Option<i64>,
) -> Result<(), StoreError> {
    let mut q = Sql::new(
        "INSERT INTO service_deliveries (contract_id, kind, date, practitioner_id, created_at) VALUES (",
    );
    q.bind_list([
        contract_id.into(),
        kind.into(),
        date.into(),
        practitioner_id.into(),
        now_text().into(),
    ])
    .push(")");
    q.execute(conn).await.map(|_| ())
}

/// Delivered services per (contract, kind) for a team's active contracts.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryCount {
    pub contract_id: i64,
    pub kind: String,
    pub n: i64,
}

pub async fn delivery_counts(
    conn: &mut Conn,
    team_id: i64,
) -> Result<Vec<DeliveryCount>, StoreError> {
    let mut q = Sql::new(
        "SELECT d.contract_id, d.kind, COUNT(*) AS n FROM service_deliveries d JOIN contracts c ON c.id = d.contract_id \
         WHERE c.status = 'active' AND c.team_id = ",
    );
    q.bind(team_id).push(" GROUP BY d.contract_id, d.kind");
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- enrolments and follow-ups

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct EnrolmentRow {
    pub id: i64,
    pub resident_id: i64,
    pub program: String,
    pub source: String,
    pub enrolled_on: String,
    pub status: String,
    pub factors: String,
    pub risk: String,
    pub risk_on: String,
    pub assessment_on: Option<String>,
    pub plan: Option<String>,
    pub last_followup: Option<String>,
    pub next_due: String,
    pub last_specialist_review: Option<String>,
    pub version: i64,
}

const ENROLMENT_COLS: &str = "id, resident_id, program, source, enrolled_on, status, factors, risk, risk_on, assessment_on, plan, \
     last_followup, next_due, last_specialist_review, version";

#[derive(Debug, Clone)]
pub struct NewEnrolment {
    pub resident_id: i64,
    pub program: String,
    pub source: String,
    pub enrolled_on: String,
    pub factors: String,
    pub risk: String,
    pub next_due: String,
    pub assessment_on: Option<String>,
    pub plan: Option<String>,
}

/// Enrols a resident (one active enrolment per programme: `Unique` otherwise)
/// and records the first risk in the history.
pub async fn insert_enrolment(
    conn: &mut Conn,
    e: &NewEnrolment,
) -> Result<EnrolmentRow, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO enrolments (resident_id, program, source, enrolled_on, status, factors, risk, risk_on, assessment_on, plan, next_due, created_at, updated_at) VALUES (",
    );
    q.bind_list([
        e.resident_id.into(),
        e.program.clone().into(),
        e.source.clone().into(),
        e.enrolled_on.clone().into(),
        "active".into(),
        e.factors.clone().into(),
        e.risk.clone().into(),
        e.enrolled_on.clone().into(),
        e.assessment_on.clone().into(),
        e.plan.clone().into(),
        e.next_due.clone().into(),
        now.clone().into(),
        now.into(),
    ]);
    q.push(&format!(") RETURNING {ENROLMENT_COLS}"));
    let row: EnrolmentRow = q.fetch_one(conn).await?;
    add_risk_history(conn, row.id, &e.enrolled_on, &e.risk, "enrolment").await?;
    Ok(row)
}

pub async fn add_risk_history(
    conn: &mut Conn,
    enrolment_id: i64,
    at: &str,
    risk: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let mut q = Sql::new("INSERT INTO risk_history (enrolment_id, at, risk, reason) VALUES (");
    q.bind_list([enrolment_id.into(), at.into(), risk.into(), reason.into()])
        .push(")");
    q.execute(conn).await.map(|_| ())
}

pub async fn get_enrolment(conn: &mut Conn, id: i64) -> Result<Option<EnrolmentRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {ENROLMENT_COLS} FROM enrolments WHERE id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

pub async fn enrolments_of(
    conn: &mut Conn,
    resident_ids: &[i64],
) -> Result<Vec<EnrolmentRow>, StoreError> {
    if resident_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(&format!(
        "SELECT {ENROLMENT_COLS} FROM enrolments WHERE resident_id IN ("
    ));
    q.bind_list(resident_ids.iter().map(|i| Val::from(*i)))
        .push(") ORDER BY id");
    q.fetch_all(conn).await
}

/// After a follow-up: the new risk, dates and schedule.
pub async fn update_schedule(
    conn: &mut Conn,
    id: i64,
    risk: &str,
    risk_on: &str,
    last_followup: &str,
    next_due: &str,
    specialist_review: Option<&str>,
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE enrolments SET risk = ");
    q.bind(risk)
        .push(", risk_on = ")
        .bind(risk_on)
        .push(", last_followup = ")
        .bind(last_followup);
    q.push(", next_due = ")
        .bind(next_due)
        .push(", last_specialist_review = COALESCE(")
        .bind(specialist_review);
    q.push(", last_specialist_review), assessment_on = COALESCE(assessment_on, ")
        .bind(last_followup);
    q.push("), updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id);
    q.execute(conn).await.map(|_| ())
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct FollowUpRow {
    pub id: i64,
    pub enrolment_id: i64,
    pub date: String,
    pub specialist_review: i64,
    pub sbp: Option<i64>,
    pub dbp: Option<i64>,
    pub heart_rate: Option<i64>,
    pub fasting_glucose: Option<f64>,
    pub hba1c: Option<f64>,
    pub weight_kg: Option<f64>,
    pub smoking: i64,
    pub adherence: String,
    pub controlled: Option<i64>,
    pub risk_after: String,
    pub note: String,
}

/// A follow-up to write.
#[derive(Debug, Clone)]
pub struct NewFollowUp {
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub date: String,
    pub specialist_review: bool,
    pub sbp: Option<i64>,
    pub dbp: Option<i64>,
    pub heart_rate: Option<i64>,
    pub fasting_glucose: Option<f64>,
    pub hba1c: Option<f64>,
    pub weight_kg: Option<f64>,
    pub smoking: bool,
    pub adherence: String,
    pub controlled: Option<bool>,
    pub risk_after: String,
    pub note: String,
    pub practitioner_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub recorded_by: Option<i64>,
}

const FOLLOWUP_COLS: &str = "id, enrolment_id, date, specialist_review, sbp, dbp, heart_rate, fasting_glucose, hba1c, weight_kg, smoking, adherence, controlled, risk_after, note";

pub(crate) fn followup_vals(f: &NewFollowUp) -> [Val; 19] {
    [
        f.enrolment_id.into(),
        f.resident_id.into(),
        f.date.clone().into(),
        f.specialist_review.into(),
        f.sbp.into(),
        f.dbp.into(),
        f.heart_rate.into(),
        f.fasting_glucose.into(),
        f.hba1c.into(),
        f.weight_kg.into(),
        f.smoking.into(),
        f.adherence.clone().into(),
        f.controlled.map(i64::from).into(),
        f.risk_after.clone().into(),
        f.note.clone().into(),
        f.practitioner_id.into(),
        f.institution_id.into(),
        f.recorded_by.into(),
        now_text().into(),
    ]
}

pub(crate) const FOLLOWUP_INSERT: &str = "INSERT INTO followups (enrolment_id, resident_id, date, specialist_review, sbp, dbp, heart_rate, \
     fasting_glucose, hba1c, weight_kg, smoking, adherence, controlled, risk_after, note, practitioner_id, institution_id, recorded_by, created_at) VALUES ";

pub async fn insert_followup(conn: &mut Conn, f: &NewFollowUp) -> Result<i64, StoreError> {
    let mut q = Sql::new(FOLLOWUP_INSERT);
    q.push("(")
        .bind_list(followup_vals(f))
        .push(") RETURNING id");
    q.scalar_i64(conn).await
}

pub async fn followups_of(
    conn: &mut Conn,
    enrolment_id: i64,
) -> Result<Vec<FollowUpRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {FOLLOWUP_COLS} FROM followups WHERE enrolment_id = "
    ));
    q.bind(enrolment_id).push(" ORDER BY date, id");
    q.fetch_all(conn).await
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RiskChange {
    pub at: String,
    pub risk: String,
    pub reason: String,
}

pub async fn risk_history(
    conn: &mut Conn,
    enrolment_id: i64,
) -> Result<Vec<RiskChange>, StoreError> {
    let mut q = Sql::new("SELECT at, risk, reason FROM risk_history WHERE enrolment_id = ");
    q.bind(enrolment_id).push(" ORDER BY at, id");
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- work lists

/// One line of a work list: an enrolment whose follow-up is due or overdue.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct WorkItem {
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub name: String,
    pub region_code: String,
    pub program: String,
    pub risk: String,
    pub next_due: String,
    pub last_followup: Option<String>,
    pub last_specialist_review: Option<String>,
    pub team_id: Option<i64>,
}

/// Active enrolments due on or before `horizon`, of residents visible under
/// `scope`, optionally only those contracted with `team_id`; most overdue first.
pub async fn work_list(
    conn: &mut Conn,
    scope: &ResidentScope,
    team_id: Option<i64>,
    horizon: &str,
    limit: i64,
) -> Result<Vec<WorkItem>, StoreError> {
    let mut w = Where::new();
    w.and(
        "e.status = 'active' AND r.merged_into IS NULL AND e.next_due <= ?",
        [horizon.into()],
    );
    match scope {
        ResidentScope::All => {}
        ResidentScope::Area {
            prefix,
            institution_id,
        } => {
            let vals = [
                Val::from(prefix.as_str()),
                Val::from(crate::prefix_end(prefix)),
                Val::from(institution_id.unwrap_or(-1)),
            ];
            w.and(
                "(r.region_code >= ? AND r.region_code < ?) OR r.registered_at = ?",
                vals,
            );
        }
        ResidentScope::Only(id) => {
            w.and("r.id = ?", [(*id).into()]);
        }
        ResidentScope::Nobody => {
            w.and("1 = 0", []);
        }
    }
    if let Some(t) = team_id {
        w.and("c.team_id = ?", [t.into()]);
    }
    let mut q = Sql::new(
        "SELECT e.id AS enrolment_id, r.id AS resident_id, r.name, r.region_code, e.program, e.risk, e.next_due, e.last_followup, \
         e.last_specialist_review, c.team_id FROM enrolments e JOIN residents r ON r.id = e.resident_id \
         LEFT JOIN contracts c ON c.resident_id = r.id AND c.status = 'active'",
    );
    w.append_to(&mut q);
    q.push(" ORDER BY e.next_due, e.id LIMIT ").bind(limit);
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- prescriptions and settlements

#[derive(Debug, Clone)]
pub struct NewPrescription {
    pub resident_id: i64,
    pub drug: String,
    pub drug_class: String,
    pub daily_dose: String,
    pub days_supplied: i64,
    pub long_rx: bool,
    pub assessment_recorded: bool,
    pub patient_signed: bool,
    pub institution_id: Option<i64>,
    pub prescribed_by: Option<i64>,
    pub date: String,
}

pub async fn insert_prescription(conn: &mut Conn, p: &NewPrescription) -> Result<i64, StoreError> {
    let mut q = Sql::new(
        "INSERT INTO prescriptions (resident_id, drug, drug_class, daily_dose, days_supplied, long_rx, assessment_recorded, patient_signed, \
         institution_id, prescribed_by, date, created_at) VALUES (",
    );
    q.bind_list([
        p.resident_id.into(),
        p.drug.clone().into(),
        p.drug_class.clone().into(),
        p.daily_dose.clone().into(),
        p.days_supplied.into(),
        p.long_rx.into(),
        p.assessment_recorded.into(),
        p.patient_signed.into(),
        p.institution_id.into(),
        p.prescribed_by.into(),
        p.date.clone().into(),
        now_text().into(),
    ]);
    q.push(") RETURNING id");
    q.scalar_i64(conn).await
}

/// The structured fields of a recorded prescription.
#[derive(Debug, Clone, FromRow)]
pub struct PrescriptionRow {
    pub id: i64,
    pub drug_class: String,
    pub days_supplied: i64,
    pub assessment_recorded: i64,
    pub patient_signed: i64,
}

/// Prescriptions by id (those that exist).
pub async fn prescriptions(
    conn: &mut Conn,
    ids: &[i64],
) -> Result<Vec<PrescriptionRow>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(
        "SELECT id, drug_class, days_supplied, assessment_recorded, patient_signed FROM prescriptions WHERE id IN (",
    );
    q.bind_list(ids.iter().map(|i| (*i).into())).push(")");
    q.fetch_all(conn).await
}

/// Sum of fees of a team's contracts that started in `period` (YYYY).
pub async fn fees_collected(
    conn: &mut Conn,
    team_id: i64,
    period: &str,
) -> Result<i64, StoreError> {
    let mut q = Sql::new(
        "SELECT CAST(COALESCE(SUM(fee_fen), 0) AS BIGINT) FROM contracts WHERE team_id = ",
    );
    q.bind(team_id)
        .push(" AND start_date >= ")
        .bind(format!("{period}-01-01"))
        .push(" AND start_date <= ")
        .bind(format!("{period}-12-31"));
    q.push(" AND status <> 'cancelled'");
    q.scalar_i64(conn).await
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SettlementRow {
    pub id: i64,
    pub team_id: i64,
    pub period: String,
    pub collected_fen: i64,
    pub team_share_bp: i64,
    pub team_pay_fen: i64,
    pub institution_fen: i64,
    pub members: String,
    pub created_at: String,
}

pub async fn insert_settlement(
    conn: &mut Conn,
    team_id: i64,
    period: &str,
    team_share_bp: i64,
    s: &yilian_domain::contract::Settlement,
    by: Option<i64>,
) -> Result<SettlementRow, StoreError> {
    let members = serde_json::to_string(&s.members)?;
    let (collected, team_pay, institution, bp) = (
        s.collected_fen,
        s.team_pay_fen,
        s.institution_fen,
        team_share_bp,
    );
    let mut q = Sql::new(
        "INSERT INTO fee_settlements (team_id, period, collected_fen, team_share_bp, team_pay_fen, institution_fen, members, created_by, created_at) VALUES (",
    );
    q.bind_list([
        team_id.into(),
        period.into(),
        collected.into(),
        bp.into(),
        team_pay.into(),
        institution.into(),
        members.into(),
        by.into(),
        now_text().into(),
    ]);
    q.push(") RETURNING id, team_id, period, collected_fen, team_share_bp, team_pay_fen, institution_fen, members, created_at");
    q.fetch_one(conn).await
}

/// Brings a resident's active enrolments forward to be due by `date` (the
/// referring side follows up within two weeks of an up-referral; a downward
/// referral's plan starts within two weeks).
pub async fn pull_next_due(
    conn: &mut Conn,
    resident_id: i64,
    program: Option<&str>,
    date: &str,
) -> Result<u64, StoreError> {
    let mut q = Sql::new("UPDATE enrolments SET next_due = ");
    q.bind(date)
        .push(", version = version + 1 WHERE status = 'active' AND resident_id = ")
        .bind(resident_id);
    q.push(" AND next_due > ").bind(date);
    if let Some(p) = program {
        q.push(" AND program = ").bind(p);
    }
    q.execute(conn).await
}

//! Family doctor contracting and chronic care, as operations: each parses,
//! authorizes, applies the domain rules and writes in one transaction.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_domain::access::{Action, Principal, allowed, resident_scope};
use yilian_domain::chronic::{
    self, DiabetesFactors, DueState, HypertensionFactors, Program, Risk, SixOnes, bp_controlled,
    check_range, due_state, glucose_controlled, next_due, specialist_review_due,
};
use yilian_domain::contract::{
    self, CapPolicy, ContractError, ContractEvent, ContractFacts, ContractStatus, Priority,
    ServicePackage, check_caps, default_end, priority_of, transition,
};
use yilian_domain::error::FieldError;
use yilian_domain::prescription::{DrugClass, LongRxCase, check_long_prescription};
use yilian_domain::registry::{Profession, TeamRole};
use yilian_domain::resident::age_on;
use yilian_store::care::{
    self as store, ContractRow, EnrolmentRow, FollowUpRow, NewContract, NewEnrolment, NewFollowUp,
    RiskChange, WorkItem,
};
use yilian_store::residents::{self, ResidentRow};
use yilian_store::{Conn, Store, StoreError, audit, registry};

use crate::error::{ApiError, ApiResult};

/// The default packages shipped in `config/service_packages.toml`.
pub const DEFAULT_PACKAGES: &str = include_str!("../../../config/service_packages.toml");

#[derive(Debug, Deserialize)]
struct PackageFile {
    package: Vec<ServicePackage>,
}

/// Parses and validates a packages file.
pub fn parse_packages(text: &str) -> Result<Vec<ServicePackage>, String> {
    let f: PackageFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for p in &f.package {
        p.validate()
            .map_err(|e| format!("package {}: {}", p.code, e.en))?;
    }
    Ok(f.package)
}

/// Loads the shipped default packages into the store (new versions only).
pub async fn load_default_packages(store: &Store) -> Result<usize, StoreError> {
    let packages = parse_packages(DEFAULT_PACKAGES).map_err(StoreError::Corrupt)?;
    let mut tx = store.write().await?;
    let mut added = 0;
    for p in &packages {
        added += usize::from(store::upsert_package(&mut tx, p).await?);
    }
    tx.commit().await?;
    Ok(added)
}

fn require(p: &Principal, action: Action) -> ApiResult<()> {
    if allowed(p.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

fn parse_date(field: &'static str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        FieldError::new(field, "日期格式应为 YYYY-MM-DD", "a date is YYYY-MM-DD").into()
    })
}

/// A resident the caller may see (404 otherwise, never revealing existence).
pub async fn visible_resident(conn: &mut Conn, p: &Principal, id: i64) -> ApiResult<ResidentRow> {
    match residents::get(conn, id).await? {
        Some(r) if r.merged_into.is_none() && residents::admits(&resident_scope(p), &r) => Ok(r),
        _ => Err(ApiError::not_found("居民")),
    }
}

// ---------------------------------------------------------------- contracts

/// A contract to sign for one resident or a whole household.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SignRequest {
    /// One resident, or …
    pub resident_id: Option<i64>,
    /// … every member of a household without an active contract.
    pub household_code: Option<String>,
    pub team_id: i64,
    /// The responsible doctor (a physician or village doctor of the team);
    /// defaults to the team lead.
    pub doctor_id: Option<i64>,
    /// Package codes; `basic` is always included.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Defaults to today; the period is one year.
    pub start_date: Option<String>,
    /// "1+1+1": the chosen secondary and tertiary hospitals (institution codes).
    pub secondary_hospital_code: Option<String>,
    pub tertiary_hospital_code: Option<String>,
}

async fn hospital_id(
    conn: &mut Conn,
    code: Option<&str>,
    field: &'static str,
    grade3: bool,
) -> ApiResult<Option<i64>> {
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    let i = registry::get_institution_by_code(conn, code)
        .await?
        .ok_or_else(|| ApiError::unknown_institution(code))?;
    let level_ok = match i.grade.as_deref() {
        Some(g) if grade3 => g.starts_with('3'),
        Some(g) => g.starts_with('2') || g.starts_with('3'),
        None => false,
    };
    if !level_ok {
        let (zh, en) = if grade3 {
            ("须选择一家三级医院", "choose a grade-III hospital")
        } else {
            (
                "须选择一家二级及以上医院",
                "choose a grade-II or higher hospital",
            )
        };
        return Err(FieldError::new(field, zh, en).into());
    }
    Ok(Some(i.id))
}

/// 签约 — signs one resident or a whole household with a team. All or
/// nothing: a household member who already has a contract, or a cap reached,
/// refuses the whole signing.
pub async fn sign(
    store: &Store,
    p: &Principal,
    req: &SignRequest,
    today: NaiveDate,
    caps: &CapPolicy,
) -> ApiResult<Vec<ContractRow>> {
    require(p, Action::WriteCare)?;
    let start = match &req.start_date {
        Some(s) => parse_date("start_date", s)?,
        None => today,
    };
    let end = default_end(start);
    let mut tx = store.write().await?;
    let team = registry::get_team(&mut tx, req.team_id)
        .await?
        .ok_or_else(|| ApiError::not_found("团队"))?;
    let team_inst = registry::get_institution(&mut tx, team.row.institution_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    // The members to sign.
    let members: Vec<ResidentRow> = match (&req.resident_id, &req.household_code) {
        (Some(id), None) => vec![visible_resident(&mut tx, p, *id).await?],
        (None, Some(h)) => {
            let f = residents::ResidentFilter {
                household_code: Some(h.clone()),
                ..Default::default()
            };
            let page = residents::search(
                &mut tx,
                &f,
                &resident_scope(p),
                yilian_store::Paging::new(Some(50), None),
            )
            .await?;
            if page.items.is_empty() {
                return Err(ApiError::not_found("家庭成员"));
            }
            page.items
        }
        _ => {
            return Err(FieldError::new(
                "resident_id",
                "请指定居民或家庭户编号之一",
                "give resident_id or household_code",
            )
            .into());
        }
    };
    // 团队服务本乡镇: the team's center serves the resident's township.
    let town = &team_inst.region_code[..team_inst.region_code.len().min(9)];
    if let Some(r) = members.iter().find(|r| !r.region_code.starts_with(town)) {
        return Err(FieldError::new(
            "team_id",
            format!("{}不在该团队服务的乡镇（街道）", r.name),
            "the resident lives outside the team's township",
        )
        .into());
    }
    let (doctor, cap) = responsible_doctor(&team, req.doctor_id, caps)?;
    let doctor_id = doctor.practitioner_id;
    // Packages in force, basic always included.
    let in_force = store::packages_in_force(&mut tx, &start.to_string()).await?;
    let mut codes: Vec<String> = req.packages.clone();
    if !codes.iter().any(|c| c == "basic") {
        codes.insert(0, "basic".into());
    }
    codes.dedup();
    let mut chosen: Vec<&ServicePackage> = Vec::new();
    for c in &codes {
        let pkg = in_force.iter().find(|p| &p.code == c).ok_or_else(|| {
            FieldError::new(
                "packages",
                format!("服务包 {c} 不存在或未生效"),
                format!("package {c} is unknown or not in force"),
            )
        })?;
        if !chosen.iter().any(|x| x.code == pkg.code) {
            chosen.push(pkg);
        }
    }
    let fee: i64 = chosen.iter().map(|p| p.yearly_fee_fen).sum();
    let secondary = hospital_id(
        &mut tx,
        req.secondary_hospital_code.as_deref(),
        "secondary_hospital_code",
        false,
    )
    .await?;
    let tertiary = hospital_id(
        &mut tx,
        req.tertiary_hospital_code.as_deref(),
        "tertiary_hospital_code",
        true,
    )
    .await?;
    // One team per resident at a time.
    for r in &members {
        if let Some(c) = store::active_contract(&mut tx, r.id).await? {
            return Err(ContractError::Exists { team: c.team_name }.into());
        }
    }
    let (doctor_active, team_active) =
        store::active_counts(&mut tx, doctor_id, team.row.id).await?;
    check_caps(
        &doctor.name,
        doctor_active as u32,
        cap,
        &team.row.name,
        team_active as u32,
        team.row.capacity as u32,
        members.len() as u32,
    )?;
    let mut out = Vec::new();
    for r in &members {
        let c = NewContract {
            resident_id: r.id,
            team_id: team.row.id,
            doctor_id,
            household_code: req
                .household_code
                .clone()
                .or_else(|| r.household_code.clone()),
            start_date: start.to_string(),
            end_date: end.to_string(),
            secondary_hospital_id: secondary,
            tertiary_hospital_id: tertiary,
            fee_fen: fee,
            previous_id: None,
            signed_by: Some(p.user_id),
            packages: chosen.iter().map(|p| (p.code.clone(), p.version)).collect(),
        };
        let id = insert_contract(&mut tx, &c).await?;
        audit::record(
            &mut tx,
            Some(p.user_id),
            "sign",
            "contract",
            &id.to_string(),
            &serde_json::json!({"resident_id": r.id, "team_id": team.row.id}),
        )
        .await?;
        out.push(
            store::get_contract(&mut tx, id)
                .await?
                .ok_or_else(ApiError::internal)?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

/// 签约医生 — the responsible doctor (the team lead unless named): a member of
/// the team whose profession has a contract cap (physician or village doctor).
fn responsible_doctor<'t>(
    team: &'t registry::Team,
    wanted: Option<i64>,
    caps: &CapPolicy,
) -> ApiResult<(&'t registry::TeamMember, u32)> {
    let id = wanted.or_else(|| {
        team.members
            .iter()
            .find(|m| m.role == TeamRole::Lead.as_str())
            .map(|m| m.practitioner_id)
    });
    let doctor = team
        .members
        .iter()
        .find(|m| Some(m.practitioner_id) == id)
        .ok_or_else(|| {
            FieldError::new(
                "doctor_id",
                "签约医生须为该团队成员",
                "the doctor must be a member of the team",
            )
        })?;
    let cap = Profession::parse(&doctor.profession).map_or(0, |pr| caps.cap(pr));
    if cap == 0 {
        return Err(FieldError::new(
            "doctor_id",
            "签约医生须为医师或乡村医生",
            "the responsible doctor is a physician or village doctor",
        )
        .into());
    }
    Ok((doctor, cap))
}

/// Inserts a contract, turning the one-active-contract index into its rule.
async fn insert_contract(conn: &mut Conn, c: &NewContract) -> ApiResult<i64> {
    match store::insert_contract(conn, c).await {
        Err(StoreError::Unique(t)) if t == "contracts.resident_id" => {
            let team = store::active_contract(conn, c.resident_id)
                .await?
                .map_or_else(String::new, |c| c.team_name);
            Err(ContractError::Exists { team }.into())
        }
        other => Ok(other?),
    }
}

/// A change to a contract.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ContractChange {
    /// `renew`, `cancel`, `transfer` or `expire`.
    pub event: String,
    /// Required for `cancel`.
    pub reason: Option<String>,
    /// For `transfer`: the new team (and doctor).
    pub team_id: Option<i64>,
    pub doctor_id: Option<i64>,
}

/// 续约、解约、转签、到期 — one state machine for every change.
pub async fn change(
    store: &Store,
    p: &Principal,
    id: i64,
    ch: &ContractChange,
    today: NaiveDate,
    caps: &CapPolicy,
) -> ApiResult<ContractRow> {
    require(p, Action::WriteCare)?;
    let event = match ch.event.as_str() {
        "renew" => ContractEvent::Renew,
        "cancel" => ContractEvent::Cancel,
        "transfer" => ContractEvent::Transfer,
        "expire" => ContractEvent::Expire,
        other => {
            return Err(FieldError::new(
                "event",
                "应为 renew、cancel、transfer 或 expire",
                format!("unknown event {other:?}"),
            )
            .into());
        }
    };
    let mut tx = store.write().await?;
    let c = store::get_contract(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("签约"))?;
    visible_resident(&mut tx, p, c.resident_id).await?;
    let from = ContractStatus::parse(&c.status).ok_or_else(ApiError::internal)?;
    let to = transition(from, event)?;
    let reason = ch
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if event == ContractEvent::Cancel && reason.is_none() {
        return Err(ContractError::ReasonRequired.into());
    }
    store::set_status(&mut tx, id, from.as_str(), to.as_str(), reason).await?;
    let successor = match event {
        ContractEvent::Renew | ContractEvent::Transfer => {
            let team_id = if event == ContractEvent::Transfer {
                ch.team_id.ok_or_else(|| {
                    FieldError::new(
                        "team_id",
                        "转签须指定新团队",
                        "a transfer names the new team",
                    )
                })?
            } else {
                c.team_id
            };
            if event == ContractEvent::Transfer && team_id == c.team_id {
                return Err(FieldError::new(
                    "team_id",
                    "转签须换到另一个团队",
                    "a transfer goes to another team",
                )
                .into());
            }
            let team = registry::get_team(&mut tx, team_id)
                .await?
                .ok_or_else(|| ApiError::not_found("团队"))?;
            let wanted = if event == ContractEvent::Renew {
                Some(c.doctor_id)
            } else {
                ch.doctor_id
            };
            let (doctor, cap) = responsible_doctor(&team, wanted, caps)?;
            let doctor_id = doctor.practitioner_id;
            let (d, t) = store::active_counts(&mut tx, doctor_id, team_id).await?;
            check_caps(
                &doctor.name,
                d as u32,
                cap,
                &team.row.name,
                t as u32,
                team.row.capacity as u32,
                1,
            )?;
            let end: NaiveDate = c.end_date.parse().map_err(|_| ApiError::internal())?;
            let start = if event == ContractEvent::Renew {
                (end + chrono::Duration::days(1)).max(today)
            } else {
                today
            };
            let packages = store::contract_packages(&mut tx, id)
                .await?
                .into_iter()
                .map(|(c, v)| (c, v as u32))
                .collect();
            let new = NewContract {
                resident_id: c.resident_id,
                team_id,
                doctor_id,
                household_code: c.household_code.clone(),
                start_date: start.to_string(),
                end_date: if event == ContractEvent::Renew {
                    default_end(start).to_string()
                } else {
                    c.end_date.clone()
                },
                secondary_hospital_id: c.secondary_hospital_id,
                tertiary_hospital_id: c.tertiary_hospital_id,
                fee_fen: if event == ContractEvent::Renew {
                    c.fee_fen
                } else {
                    0
                },
                previous_id: Some(id),
                signed_by: Some(p.user_id),
                packages,
            };
            Some(insert_contract(&mut tx, &new).await?)
        }
        _ => None,
    };
    audit::record(
        &mut tx,
        Some(p.user_id),
        event.as_str(),
        "contract",
        &id.to_string(),
        &serde_json::json!({"to": to.as_str(), "successor": successor, "reason": reason}),
    )
    .await?;
    let shown = store::get_contract(&mut tx, successor.unwrap_or(id))
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(shown)
}

/// `priority_of(resident, date)` over the stored contracts.
pub async fn priority(
    store: &Store,
    p: &Principal,
    resident_id: i64,
    date: NaiveDate,
) -> ApiResult<Priority> {
    let mut c = store.read().await?;
    visible_resident(&mut c, p, resident_id).await?;
    let facts: Vec<ContractFacts> = store::contracts_of(&mut c, &[resident_id])
        .await?
        .iter()
        .filter_map(|r| {
            Some(ContractFacts {
                id: r.id,
                team_id: r.team_id,
                status: ContractStatus::parse(&r.status)?,
                start: r.start_date.parse().ok()?,
                end: r.end_date.parse().ok()?,
            })
        })
        .collect();
    Ok(priority_of(&facts, date))
}

// ---------------------------------------------------------------- prescriptions

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PrescriptionRequest {
    pub resident_id: i64,
    pub drug: String,
    /// `ordinary`, `narcotic`, `psychotropic_1`, `psychotropic_2`, `toxic`,
    /// `radioactive`, `antimicrobial`, `anti_tb`.
    pub drug_class: String,
    pub daily_dose: String,
    pub days_supplied: u32,
    #[serde(default)]
    pub stability_assessment: bool,
    #[serde(default)]
    pub patient_signed: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrescriptionResult {
    pub id: i64,
    pub long_prescription: bool,
}

/// The facts the long-prescription rule needs about the patient: a contract
/// in force today, and an active chronic programme not at high risk.
pub async fn long_rx_facts(
    conn: &mut Conn,
    resident_id: i64,
    today: NaiveDate,
) -> ApiResult<(bool, bool)> {
    let contracted = store::active_contract(conn, resident_id)
        .await?
        .is_some_and(|c| c.start_date <= today.to_string() && today.to_string() <= c.end_date);
    let enrolments = store::enrolments_of(conn, &[resident_id]).await?;
    let stable_chronic = enrolments
        .iter()
        .any(|e| e.status == "active" && e.risk != Risk::High.as_str());
    Ok((contracted, stable_chronic))
}

/// 开具处方 — checks the long-prescription rule with the resident's contract
/// and programme status, then records the line.
pub async fn prescribe(
    store: &Store,
    p: &Principal,
    req: &PrescriptionRequest,
    today: NaiveDate,
) -> ApiResult<PrescriptionResult> {
    let mut tx = store.write().await?;
    let r = prescribe_in(&mut tx, p, req, today).await?;
    tx.commit().await?;
    Ok(r)
}

/// [`prescribe`] inside the caller's transaction (FHIR MedicationRequest).
pub async fn prescribe_in(
    tx: &mut Conn,
    p: &Principal,
    req: &PrescriptionRequest,
    today: NaiveDate,
) -> ApiResult<PrescriptionResult> {
    require(p, Action::WriteCare)?;
    let class = DrugClass::parse_field("drug_class", &req.drug_class)?;
    let drug = crate::api::registry::text("drug", &req.drug, 100)?;
    let dose = crate::api::registry::text("daily_dose", &req.daily_dose, 60)?;
    visible_resident(tx, p, req.resident_id).await?;
    let (contracted, stable_chronic) = long_rx_facts(tx, req.resident_id, today).await?;
    let case = LongRxCase {
        days_supplied: req.days_supplied,
        class,
        contracted,
        stable_chronic,
        assessment_recorded: req.stability_assessment,
        patient_signed: req.patient_signed,
    };
    check_long_prescription(&case)?;
    let long = req.days_supplied > yilian_domain::prescription::NORMAL_MAX_DAYS;
    let id = store::insert_prescription(
        tx,
        &store::NewPrescription {
            resident_id: req.resident_id,
            drug,
            drug_class: class.as_str().into(),
            daily_dose: dose,
            days_supplied: i64::from(req.days_supplied),
            long_rx: long,
            assessment_recorded: req.stability_assessment,
            patient_signed: req.patient_signed,
            institution_id: p.institution.as_ref().map(|i| i.id),
            prescribed_by: Some(p.user_id),
            date: today.to_string(),
        },
    )
    .await?;
    audit::record(
        tx,
        Some(p.user_id),
        "prescribe",
        "resident",
        &req.resident_id.to_string(),
        &serde_json::json!({"prescription": id, "days": req.days_supplied}),
    )
    .await?;
    Ok(PrescriptionResult {
        id,
        long_prescription: long,
    })
}

// ---------------------------------------------------------------- enrolment and follow-ups

/// Risk factors recorded at enrolment (see the domain's stratification).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct Factors {
    #[serde(default)]
    pub risk_factors: u8,
    #[serde(default)]
    pub organ_damage: bool,
    #[serde(default)]
    pub clinical_complications: bool,
    #[serde(default)]
    pub ckd: bool,
    /// Diabetes complications (count).
    #[serde(default)]
    pub complications: u8,
    #[serde(default)]
    pub exacerbations: u8,
    #[serde(default)]
    pub hospitalised: bool,
    #[serde(default)]
    pub mmrc: u8,
}

/// Measurements of one visit (screening or follow-up).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct Measures {
    pub sbp: Option<u16>,
    pub dbp: Option<u16>,
    pub heart_rate: Option<u16>,
    pub fasting_glucose: Option<f64>,
    pub hba1c: Option<f64>,
    pub weight_kg: Option<f64>,
}

impl Measures {
    /// Every given value must lie in its physiological range.
    pub fn check(&self) -> ApiResult<()> {
        let pairs = [
            ("sbp", self.sbp.map(f64::from)),
            ("dbp", self.dbp.map(f64::from)),
            ("heart_rate", self.heart_rate.map(f64::from)),
            ("fasting_glucose", self.fasting_glucose),
            ("hba1c", self.hba1c),
            ("weight_kg", self.weight_kg),
        ];
        for (field, v) in pairs {
            if let Some(v) = v {
                check_range(field, v)?;
            }
        }
        Ok(())
    }
}

/// 风险评估 — the risk of a programme from the factors and the latest values.
pub fn assess(program: Program, f: &Factors, m: &Measures, diabetic: bool) -> Risk {
    match program {
        Program::Hypertension => {
            let hf = HypertensionFactors {
                risk_factors: f.risk_factors,
                organ_damage: f.organ_damage,
                diabetes: diabetic,
                clinical_complications: f.clinical_complications,
            };
            chronic::hypertension_risk(m.sbp.unwrap_or(0), m.dbp.unwrap_or(0), hf)
        }
        Program::Diabetes => chronic::diabetes_risk(DiabetesFactors {
            hba1c: m.hba1c,
            fasting_glucose: m.fasting_glucose,
            complications: f.complications,
        }),
        Program::Copd => chronic::copd_risk(f.exacerbations, f.hospitalised, f.mmrc),
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EnrolRequest {
    pub resident_id: i64,
    /// `hypertension`, `diabetes_t2`, `copd`.
    pub program: String,
    /// `diagnosis` or `screening`.
    pub source: Option<String>,
    #[serde(default)]
    pub factors: Factors,
    #[serde(default)]
    pub measures: Measures,
    pub date: Option<String>,
    /// 健康管理方案 text.
    pub plan: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Enrolled {
    pub enrolment: EnrolmentRow,
    /// 应签尽签: a newly found patient without a contract should be signed.
    pub contract_proposed: bool,
}

/// 纳入管理 — enrols a resident in a programme and sets the first schedule.
pub async fn enrol(
    store: &Store,
    p: &Principal,
    req: &EnrolRequest,
    today: NaiveDate,
) -> ApiResult<Enrolled> {
    require(p, Action::WriteCare)?;
    let program = Program::parse_field("program", &req.program)?;
    let source = req.source.clone().unwrap_or_else(|| "diagnosis".into());
    if !matches!(source.as_str(), "diagnosis" | "screening") {
        return Err(FieldError::new(
            "source",
            "来源应为 diagnosis 或 screening",
            "source is diagnosis or screening",
        )
        .into());
    }
    req.measures.check()?;
    let date = match &req.date {
        Some(d) => parse_date("date", d)?,
        None => today,
    };
    let mut tx = store.write().await?;
    let r = visible_resident(&mut tx, p, req.resident_id).await?;
    let diabetic = r.tags.contains("diabetes_t2") || program == Program::Diabetes;
    let risk = assess(program, &req.factors, &req.measures, diabetic);
    let e = NewEnrolment {
        resident_id: r.id,
        program: program.as_str().into(),
        source: source.clone(),
        enrolled_on: date.to_string(),
        factors: serde_json::to_string(&req.factors).unwrap_or_else(|_| "{}".into()),
        risk: risk.as_str().into(),
        next_due: next_due(date, risk).to_string(),
        assessment_on: Some(date.to_string()),
        plan: req.plan.clone().filter(|p| !p.trim().is_empty()),
    };
    let row = match store::insert_enrolment(&mut tx, &e).await {
        Err(StoreError::Unique(_)) => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "already_enrolled",
                format!("该居民已纳入{}管理", program.label_zh()),
                format!("already enrolled in {}", program.as_str()),
            ));
        }
        other => other?,
    };
    let contract_proposed = store::active_contract(&mut tx, r.id).await?.is_none();
    audit::record(
        &mut tx,
        Some(p.user_id),
        "enrol",
        "resident",
        &r.id.to_string(),
        &serde_json::json!({"program": program.as_str(), "risk": risk.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(Enrolled {
        enrolment: row,
        contract_proposed,
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FollowUpRequest {
    pub date: Option<String>,
    #[serde(flatten)]
    pub measures: Measures,
    #[serde(default)]
    pub smoking: bool,
    /// `regular`, `intermittent`, `none`.
    pub adherence: Option<String>,
    /// A face-to-face review by a lead-hospital specialist.
    #[serde(default)]
    pub specialist_review: bool,
    /// Symptoms of a hypertensive emergency (headache, chest pain, …).
    #[serde(default)]
    pub symptoms: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpResult {
    pub followup_id: i64,
    pub risk: String,
    pub previous_risk: String,
    pub controlled: Option<bool>,
    pub next_due: String,
    /// 转诊建议 — an up-referral the guideline proposes from this follow-up
    /// (`emergency_up` or `routine_up`), if any.
    #[schema(value_type = Option<String>)]
    pub referral_proposal: Option<yilian_domain::referral::Trigger>,
}

/// Months a hypertensive patient has stayed uncontrolled on regular
/// treatment: the span of the latest unbroken run of such follow-ups.
fn months_uncontrolled_on_treatment(followups: &[FollowUpRow]) -> u32 {
    let run: Vec<&FollowUpRow> = followups
        .iter()
        .rev()
        .take_while(|f| f.controlled == Some(0) && f.adherence == "regular")
        .collect();
    match (run.last(), run.first()) {
        (Some(first), Some(last)) => {
            let days = match (
                first.date.parse::<NaiveDate>(),
                last.date.parse::<NaiveDate>(),
            ) {
                (Ok(a), Ok(b)) => (b - a).num_days(),
                _ => 0,
            };
            (days / 30).max(0) as u32
        }
        _ => 0,
    }
}

/// 随访 — records a follow-up, recomputes the risk (with history), the
/// control status and the next due date, and counts it as a delivered
/// service of the resident's contract.
pub async fn follow_up(
    store: &Store,
    p: &Principal,
    enrolment_id: i64,
    req: &FollowUpRequest,
    today: NaiveDate,
) -> ApiResult<FollowUpResult> {
    require(p, Action::WriteCare)?;
    req.measures.check()?;
    let date = match &req.date {
        Some(d) => parse_date("date", d)?,
        None => today,
    };
    if date > today {
        return Err(FieldError::new(
            "date",
            "随访日期不能晚于今天",
            "a follow-up cannot be in the future",
        )
        .into());
    }
    let adherence = req.adherence.clone().unwrap_or_else(|| "regular".into());
    if !matches!(adherence.as_str(), "regular" | "intermittent" | "none") {
        return Err(FieldError::new(
            "adherence",
            "服药依从性应为 regular、intermittent 或 none",
            "adherence is regular, intermittent or none",
        )
        .into());
    }
    if req.specialist_review
        && p.role != yilian_domain::access::Role::Specialist
        && p.role != yilian_domain::access::Role::Admin
    {
        return Err(FieldError::new(
            "specialist_review",
            "专科医生面对面指导须由牵头医院专科医生记录",
            "a specialist review is recorded by a specialist",
        )
        .into());
    }
    let mut tx = store.write().await?;
    let e = store::get_enrolment(&mut tx, enrolment_id)
        .await?
        .filter(|e| e.status == "active")
        .ok_or_else(|| ApiError::not_found("管理档案"))?;
    let r = visible_resident(&mut tx, p, e.resident_id).await?;
    let program = Program::parse(&e.program).ok_or_else(ApiError::internal)?;
    let factors: Factors = serde_json::from_str(&e.factors).unwrap_or_default();
    let diabetic = r.tags.contains("diabetes_t2");
    let risk = assess(program, &factors, &req.measures, diabetic);
    let birth: NaiveDate = r.birth_date.parse().map_err(|_| ApiError::internal())?;
    let controlled = match program {
        Program::Hypertension => match (req.measures.sbp, req.measures.dbp) {
            (Some(s), Some(d)) => Some(bp_controlled(
                s,
                d,
                age_on(birth, date),
                diabetic,
                factors.ckd,
            )),
            _ => None,
        },
        Program::Diabetes => glucose_controlled(req.measures.hba1c, req.measures.fasting_glucose),
        Program::Copd => None,
    };
    let nd = next_due(date, risk);
    let f = NewFollowUp {
        enrolment_id,
        resident_id: r.id,
        date: date.to_string(),
        specialist_review: req.specialist_review,
        sbp: req.measures.sbp.map(i64::from),
        dbp: req.measures.dbp.map(i64::from),
        heart_rate: req.measures.heart_rate.map(i64::from),
        fasting_glucose: req.measures.fasting_glucose,
        hba1c: req.measures.hba1c,
        weight_kg: req.measures.weight_kg,
        smoking: req.smoking,
        adherence,
        controlled,
        risk_after: risk.as_str().into(),
        note: req
            .note
            .clone()
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect(),
        practitioner_id: None,
        institution_id: p.institution.as_ref().map(|i| i.id),
        recorded_by: Some(p.user_id),
    };
    let id = store::insert_followup(&mut tx, &f).await?;
    let referral_proposal = match (program, req.measures.sbp, req.measures.dbp) {
        (Program::Hypertension, Some(s), Some(d)) => {
            let history = store::followups_of(&mut tx, enrolment_id).await?;
            yilian_domain::referral::hypertension_trigger(
                s,
                d,
                req.symptoms,
                months_uncontrolled_on_treatment(&history),
            )
        }
        _ => None,
    };
    if risk.as_str() != e.risk {
        store::add_risk_history(
            &mut tx,
            enrolment_id,
            &date.to_string(),
            risk.as_str(),
            "follow_up",
        )
        .await?;
    }
    let review = req.specialist_review.then(|| date.to_string());
    store::update_schedule(
        &mut tx,
        enrolment_id,
        risk.as_str(),
        &date.to_string(),
        &date.to_string(),
        &nd.to_string(),
        review.as_deref(),
    )
    .await?;
    if let Some(c) = store::active_contract(&mut tx, r.id).await? {
        store::record_delivery(&mut tx, c.id, "follow_up", &date.to_string(), None).await?;
    }
    audit::record(
        &mut tx,
        Some(p.user_id),
        "follow_up",
        "resident",
        &r.id.to_string(),
        &serde_json::json!({"enrolment": enrolment_id, "risk": risk.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(FollowUpResult {
        followup_id: id,
        risk: risk.as_str().into(),
        previous_risk: e.risk,
        controlled,
        next_due: nd.to_string(),
        referral_proposal,
    })
}

/// A managed patient's programme page: enrolment, risk history, follow-ups
/// and the "六个一" checklist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChronicRecord {
    pub enrolment: EnrolmentRow,
    pub risk_history: Vec<RiskChange>,
    pub followups: Vec<FollowUpRow>,
    #[schema(value_type = Object)]
    pub six_ones: SixOnes,
    pub missing: Vec<String>,
    #[schema(value_type = String)]
    pub due: DueState,
    pub specialist_review_due: bool,
}

pub async fn chronic_record(
    store: &Store,
    p: &Principal,
    enrolment_id: i64,
    today: NaiveDate,
) -> ApiResult<ChronicRecord> {
    let mut tx = store.write().await?;
    let e = store::get_enrolment(&mut tx, enrolment_id)
        .await?
        .ok_or_else(|| ApiError::not_found("管理档案"))?;
    let r = visible_resident(&mut tx, p, e.resident_id).await?;
    let risk_history = store::risk_history(&mut tx, enrolment_id).await?;
    let followups = store::followups_of(&mut tx, enrolment_id).await?;
    let contract = store::active_contract(&mut tx, r.id).await?;
    let six_ones = SixOnes {
        record: true,
        contract: contract.is_some(),
        assessment: e.assessment_on.is_some(),
        plan: e.plan.is_some(),
        schedule: !e.next_due.is_empty(),
        service_record: !followups.is_empty(),
    };
    let risk = Risk::parse(&e.risk).unwrap_or(Risk::Medium);
    let next: NaiveDate = e.next_due.parse().unwrap_or(today);
    let review_due = specialist_review_due(
        risk,
        e.last_specialist_review
            .as_deref()
            .and_then(|d| d.parse().ok()),
        today,
    );
    audit::record(
        &mut tx,
        Some(p.user_id),
        "read",
        "resident",
        &r.id.to_string(),
        &serde_json::json!({"part": "chronic", "enrolment": enrolment_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(ChronicRecord {
        missing: six_ones.missing().into_iter().map(String::from).collect(),
        due: due_state(next, today, 0),
        specialist_review_due: review_due,
        enrolment: e,
        risk_history,
        followups,
        six_ones,
    })
}

/// One work-list line with its state and colour.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkLine {
    #[serde(flatten)]
    pub item: WorkItem,
    pub colour: String,
    #[schema(value_type = String)]
    pub state: DueState,
    pub days_overdue: i64,
    pub specialist_review_due: bool,
}

/// 工作清单 — due (within `window` days) and overdue follow-ups of the
/// caller's residents (or one team's contracted residents), most overdue
/// first; at most `limit` lines (1..=5000).
pub async fn work_list(
    store: &Store,
    p: &Principal,
    team_id: Option<i64>,
    window: i64,
    limit: i64,
    today: NaiveDate,
) -> ApiResult<Vec<WorkLine>> {
    require(p, Action::WriteCare)?;
    let horizon = today + chrono::Duration::days(window.clamp(0, 90));
    let mut c = store.read().await?;
    let items = store::work_list(
        &mut c,
        &resident_scope(p),
        team_id,
        &horizon.to_string(),
        limit.clamp(1, 5_000),
    )
    .await?;
    Ok(items
        .into_iter()
        .map(|item| {
            let next: NaiveDate = item.next_due.parse().unwrap_or(today);
            let risk = Risk::parse(&item.risk).unwrap_or(Risk::Medium);
            let review = specialist_review_due(
                risk,
                item.last_specialist_review
                    .as_deref()
                    .and_then(|d| d.parse().ok()),
                today,
            );
            WorkLine {
                colour: risk.colour().into(),
                state: due_state(next, today, window),
                days_overdue: (today - next).num_days().max(0),
                specialist_review_due: review,
                item,
            }
        })
        .collect())
}

/// 有效签约 — a team's active contracts whose promised services are behind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractProgress {
    pub contract_id: i64,
    pub resident_id: i64,
    pub doctor_name: String,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<contract::ItemProgress>,
    pub effective: bool,
}

pub async fn effective_contracts(
    store: &Store,
    p: &Principal,
    team_id: i64,
    today: NaiveDate,
) -> ApiResult<Vec<ContractProgress>> {
    require(p, Action::WriteCare).or_else(|_| require(p, Action::ManageFees))?;
    let mut c = store.read().await?;
    let packages = store::packages_in_force(&mut c, &today.to_string()).await?;
    let counts = store::delivery_counts(&mut c, team_id).await?;
    let page = store::list_contracts(
        &mut c,
        &store::ContractFilter {
            team_id: Some(team_id),
            status: Some("active".into()),
            ..Default::default()
        },
        &resident_scope(p),
        yilian_store::Paging::new(Some(500), None),
    )
    .await?;
    let mut out = Vec::new();
    for k in page.items {
        let (Ok(start), Ok(end)) = (
            k.start_date.parse::<NaiveDate>(),
            k.end_date.parse::<NaiveDate>(),
        ) else {
            continue;
        };
        let codes: Vec<String> = store::contract_packages(&mut c, k.id)
            .await?
            .into_iter()
            .map(|(code, _)| code)
            .collect();
        let delivered = |kind: contract::ServiceKind| {
            counts
                .iter()
                .filter(|d| d.contract_id == k.id && d.kind == kind.as_str())
                .map(|d| d.n)
                .sum::<i64>() as u32
        };
        let items = contract::progress(&packages, &codes, delivered, start, end, today);
        let effective = contract::is_effective(&items);
        out.push(ContractProgress {
            contract_id: k.id,
            resident_id: k.resident_id,
            doctor_name: k.doctor_name,
            items,
            effective,
        });
    }
    Ok(out)
}

/// A delivered service to record against a contract (两卡制 verification).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DeliveryRequest {
    /// `follow_up`, `exam`, `home_visit`, `assessment`, `education`.
    pub kind: String,
    pub date: Option<String>,
}

pub async fn record_delivery(
    store: &Store,
    p: &Principal,
    contract_id: i64,
    req: &DeliveryRequest,
    today: NaiveDate,
) -> ApiResult<()> {
    require(p, Action::WriteCare)?;
    let kind = contract::ServiceKind::parse_field("kind", &req.kind)?;
    let date = match &req.date {
        Some(d) => parse_date("date", d)?,
        None => today,
    };
    let mut tx = store.write().await?;
    let c = store::get_contract(&mut tx, contract_id)
        .await?
        .filter(|c| c.status == "active")
        .ok_or_else(|| ApiError::not_found("签约"))?;
    visible_resident(&mut tx, p, c.resident_id).await?;
    store::record_delivery(&mut tx, contract_id, kind.as_str(), &date.to_string(), None).await?;
    tx.commit().await?;
    Ok(())
}

/// A team's fee settlement for a year.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SettlementRequest {
    /// The year settled, `YYYY`.
    pub period: String,
    /// Team pay share in basis points (≥ 7000 = 70 %).
    pub team_share_bp: u32,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub weights: Option<contract::SettlementWeights>,
    /// Per-member scores: volume (services delivered), quality and
    /// satisfaction (0–1) from the team's assessment; a member without a
    /// score counts 1 on each.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub scores: Vec<contract::MemberScore>,
}

/// 签约服务费结算 — ≥ 70 % of the team's collected fees to its members.
pub async fn settle(
    store: &Store,
    p: &Principal,
    team_id: i64,
    req: &SettlementRequest,
) -> ApiResult<store::SettlementRow> {
    require(p, Action::ManageFees)?;
    if req.period.len() != 4 || !req.period.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new("period", "结算年度格式为 YYYY", "period is YYYY").into());
    }
    let mut tx = store.write().await?;
    let team = registry::get_team(&mut tx, team_id)
        .await?
        .ok_or_else(|| ApiError::not_found("团队"))?;
    let collected = store::fees_collected(&mut tx, team_id, &req.period).await?;
    let members: Vec<contract::MemberScore> = team
        .members
        .iter()
        .map(|m| {
            let given = req
                .scores
                .iter()
                .find(|s| s.practitioner_id == m.practitioner_id);
            contract::MemberScore {
                practitioner_id: m.practitioner_id,
                volume: given.map_or(1.0, |s| s.volume),
                quality: given.map_or(1.0, |s| s.quality),
                satisfaction: given.map_or(1.0, |s| s.satisfaction),
            }
        })
        .collect();
    let s = contract::settle_fees(
        collected,
        req.team_share_bp,
        req.weights.unwrap_or_default(),
        &members,
    )?;
    let row = store::insert_settlement(
        &mut tx,
        team_id,
        &req.period,
        i64::from(req.team_share_bp),
        &s,
        Some(p.user_id),
    )
    .await?;
    // The fees paid to the team are fund payments: the same ledger as claims.
    yilian_store::insurance::append_ledger(
        &mut tx,
        &[crate::insurance::contract_fee_ledger(
            team_id,
            &req.period,
            row.id,
            collected,
        )],
    )
    .await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "settle",
        "team",
        &team_id.to_string(),
        &serde_json::json!({"period": req.period}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_packages_parse_and_cover_the_required_kinds() {
        let p = parse_packages(DEFAULT_PACKAGES).unwrap();
        let codes: Vec<&str> = p.iter().map(|p| p.code.as_str()).collect();
        for c in [
            "basic",
            "hypertension",
            "diabetes",
            "elderly",
            "maternal",
            "child",
            "severe_mental",
        ] {
            assert!(codes.contains(&c), "{c} missing");
        }
        assert!(parse_packages("[[package]]\ncode = \"x\"").is_err());
    }

    #[test]
    fn a_crisis_reading_is_high_risk_for_hypertension() {
        let m = Measures {
            sbp: Some(186),
            dbp: Some(112),
            ..Default::default()
        };
        assert_eq!(
            assess(Program::Hypertension, &Factors::default(), &m, false),
            Risk::High
        );
        let ok = Measures {
            sbp: Some(150),
            dbp: Some(92),
            ..Default::default()
        };
        assert_eq!(
            assess(Program::Hypertension, &Factors::default(), &ok, false),
            Risk::Low
        );
        assert_eq!(
            assess(Program::Hypertension, &Factors::default(), &ok, true),
            Risk::High,
            "diabetes raises the risk"
        );
    }
}

//! 医保 — the insurance service: policy versions, claims (结算) with their
//! adjudication under the version in force, the fund ledger, the
//! consortium's capitation position (按人头打包付费) and its settlement. The
//! rules are `yilian_domain::insurance`; this module finds the facts
//! (benefit level, referral, "1+1+1" combination, year-to-date payments),
//! applies the rules and stores the outcome.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_domain::access::{Action, Principal, ResidentScope, allowed, resident_scope};
use yilian_domain::insurance::{
    self as rules, Adjudication, AppliedRule, BenefitLevel, ClaimInput, ClaimState, CostCategory,
    CostItem, Forecast, InsuranceError, PolicySet, PolicyVersion, ReferralLink, Setting,
    YearToDate, adjudicate, benefit_level, claim_transition, policy_in_force, referral_context,
};
use yilian_domain::money::yuan;
use yilian_domain::referral::Direction;
use yilian_domain::registry::{Grade, InstitutionKind, Insurance};
use yilian_store::insurance::{
    self as store, ClaimFacts, ClaimFilter, ClaimRow, FactKey, Leakage, LedgerEntry, NewClaim,
    NewSettlement, SettlementRow,
};
use yilian_store::{Conn, Page, Paging, Store, audit, registry};

use crate::care::visible_resident;
use crate::error::{ApiError, ApiResult};

/// The shipped policy versions (a county edits `config/insurance_policy.toml`).
pub const DEFAULT_POLICY: &str = include_str!("../../../config/insurance_policy.toml");
/// Where the server looks for the county's edited policy file.
pub const POLICY_FILE: &str = "config/insurance_policy.toml";
pub use yilian_domain::insurance::REFERRAL_VALID_DAYS;

fn require(p: &Principal, action: Action) -> ApiResult<()> {
    if allowed(p.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The policy file in force: `YILIAN_INSURANCE_POLICY`, else
/// [`POLICY_FILE`] in the working directory, else the shipped one.
pub fn load_policy_file() -> Result<PolicySet, InsuranceError> {
    let text = std::env::var("YILIAN_INSURANCE_POLICY")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::fs::read_to_string(POLICY_FILE).ok())
        .unwrap_or_else(|| DEFAULT_POLICY.to_string());
    PolicySet::from_toml(&text)
}

/// Stores the policy file's versions the store lacks (by id); a version that
/// would overlap a stored one of its region is skipped with a warning.
/// Returns how many were added.
pub async fn seed_policies(store: &Store) -> Result<usize, yilian_store::StoreError> {
    let set = match load_policy_file() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e.message_en(), "insurance policy file refused; none loaded");
            return Ok(0);
        }
    };
    let mut tx = store.write().await?;
    let mut stored = parse_rows(&store::policies(&mut tx).await?);
    let mut added = 0;
    for v in set.versions {
        if stored.iter().any(|s| s.id == v.id) {
            continue;
        }
        if let Err(e) = rules::validate_new_version(&stored, &v) {
            tracing::warn!(id = %v.id, error = %e.message_en(), "policy version skipped");
            continue;
        }
        insert_version(&mut tx, &v, None).await?;
        stored.push(v);
        added += 1;
    }
    tx.commit().await?;
    Ok(added)
}

use yilian_domain::Explain as _;

fn parse_rows(rows: &[store::PolicyRow]) -> Vec<PolicyVersion> {
    rows.iter()
        .filter_map(|r| serde_json::from_str(&r.body).ok())
        .collect()
}

async fn insert_version(
    conn: &mut Conn,
    v: &PolicyVersion,
    by: Option<i64>,
) -> Result<(), yilian_store::StoreError> {
    let body = serde_json::to_string(v).unwrap_or_default();
    store::insert_policy(
        conn,
        &v.id,
        &v.region,
        &v.valid_from.to_string(),
        &v.valid_to.to_string(),
        &body,
        by,
    )
    .await
}

/// Every stored policy version.
pub async fn policies(store: &Store) -> ApiResult<Vec<PolicyVersion>> {
    let mut c = store.read().await?;
    Ok(parse_rows(&store::policies(&mut c).await?))
}

/// 发布政策版本 — a new version (422 `invalid_policy` when a ratio is outside
/// 0–100 %, periods overlap, or the gap does not favour primary care).
pub async fn publish_policy(
    store: &Store,
    p: &Principal,
    v: &PolicyVersion,
) -> ApiResult<PolicyVersion> {
    require(p, Action::Adjudicate)?;
    let mut tx = store.write().await?;
    let stored = parse_rows(&store::policies(&mut tx).await?);
    rules::validate_new_version(&stored, v)?;
    insert_version(&mut tx, v, Some(p.user_id)).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "insurance.policy",
        "insurance_policy",
        &v.id,
        &serde_json::json!({"region": v.region, "valid_from": v.valid_from, "valid_to": v.valid_to}),
    )
    .await?;
    tx.commit().await?;
    Ok(v.clone())
}

// ---------------------------------------------------------------- claims

/// One cost line of a claim.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ItemRequest {
    /// `drugs`, `exams`, `treatment`, `beds` or `materials`.
    pub category: String,
    pub amount_fen: i64,
    /// Inside the insurance catalogue (default true); false = 自费.
    pub covered: Option<bool>,
}

/// 费用录入 — an encounter's itemised cost.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ClaimRequest {
    pub resident_id: i64,
    /// The institution that gave the care; a clinician's own by default.
    pub institution_id: Option<i64>,
    /// The encounter's day, `YYYY-MM-DD`.
    pub service_date: String,
    /// `outpatient` or `inpatient`.
    pub setting: String,
    pub items: Vec<ItemRequest>,
    /// The referral the encounter follows; found automatically (an accepted
    /// referral of the resident to this institution within 90 days) when
    /// left out.
    pub referral_id: Option<i64>,
    /// The encounter's entry in the health record, if any.
    pub encounter_entry_id: Option<i64>,
}

/// A claim with its items and the rules that decided it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimView {
    #[serde(flatten)]
    pub claim: ClaimRow,
    #[schema(value_type = Vec<Object>)]
    pub cost_items: Vec<CostItem>,
    #[schema(value_type = Vec<Object>)]
    pub applied: Vec<AppliedRule>,
    pub level_zh: String,
    pub state_zh: String,
    pub total_yuan: String,
    pub fund_yuan: String,
    pub resident_yuan: String,
}

impl From<ClaimRow> for ClaimView {
    fn from(c: ClaimRow) -> ClaimView {
        ClaimView {
            cost_items: serde_json::from_str(&c.items).unwrap_or_default(),
            applied: serde_json::from_str(&c.rules).unwrap_or_default(),
            level_zh: BenefitLevel::parse(&c.level)
                .map(|l| l.label_zh().to_string())
                .unwrap_or_default(),
            state_zh: ClaimState::parse(&c.state)
                .map(|s| s.label_zh().to_string())
                .unwrap_or_default(),
            total_yuan: yuan(c.total_fen),
            fund_yuan: yuan(c.fund_fen),
            resident_yuan: yuan(c.resident_fen),
            claim: c,
        }
    }
}

fn bad(field: &str, zh: &str, en: &str) -> ApiError {
    ApiError::rule(&InsuranceError::InvalidClaim {
        field: field.into(),
        zh: zh.into(),
        en: en.into(),
    })
}

/// Establishes the facts of a claim (benefit level, referral context,
/// pooling region, consortium charged, year to date) and adjudicates it
/// under the version in force on its date.
pub async fn assess(
    conn: &mut Conn,
    versions: &[PolicyVersion],
    req: &ClaimRequest,
    institution_id: i64,
) -> ApiResult<(NewClaim, Adjudication)> {
    let form = ClaimForm::parse(req, institution_id)?;
    let facts = store::claim_facts(conn, std::slice::from_ref(&form.key))
        .await?
        .pop()
        .unwrap_or_default();
    decide(conn, versions, req, form, facts).await
}

/// [`assess`] for many claims at once, with one facts statement per
/// [`store::FACTS_BATCH`] claims instead of one claim's seven statements:
/// the generator's year of claims. Each claim is decided on the store as it
/// is, so its year to date counts none of the others: a caller puts at most
/// one claim of a resident in a call, and stores them before the next call.
/// The outer error is the store's; each claim has its own outcome.
pub async fn assess_batch(
    conn: &mut Conn,
    versions: &[PolicyVersion],
    claims: &[(ClaimRequest, i64)],
) -> ApiResult<Vec<ApiResult<(NewClaim, Adjudication)>>> {
    let forms: Vec<ApiResult<ClaimForm>> = claims
        .iter()
        .map(|(req, institution_id)| ClaimForm::parse(req, *institution_id))
        .collect();
    let keys: Vec<FactKey> = forms
        .iter()
        .filter_map(|f| f.as_ref().ok().map(|f| f.key.clone()))
        .collect();
    let mut facts = store::claim_facts(conn, &keys).await?.into_iter();
    let mut out = Vec::with_capacity(claims.len());
    for ((req, _), form) in claims.iter().zip(forms) {
        out.push(match form {
            Ok(form) => {
                let f = facts.next().unwrap_or_default();
                decide(conn, versions, req, form, f).await
            }
            Err(e) => Err(e),
        });
    }
    Ok(out)
}

/// A claim request checked for form, with the key its facts are read by.
struct ClaimForm {
    date: NaiveDate,
    setting: Setting,
    items: Vec<CostItem>,
    key: FactKey,
}

impl ClaimForm {
    fn parse(req: &ClaimRequest, institution_id: i64) -> ApiResult<ClaimForm> {
        let date =
            NaiveDate::parse_from_str(req.service_date.trim(), "%Y-%m-%d").map_err(|_| {
                bad(
                    "service_date",
                    "就诊日期格式为 YYYY-MM-DD",
                    "service_date is YYYY-MM-DD",
                )
            })?;
        let setting = Setting::parse_field("setting", req.setting.trim())?;
        let mut items = Vec::with_capacity(req.items.len());
        for (n, i) in req.items.iter().enumerate() {
            let category = CostCategory::parse(i.category.trim()).ok_or_else(|| {
                bad(
                    &format!("items[{n}].category"),
                    "费用类别须为 drugs/exams/treatment/beds/materials",
                    "category is one of drugs, exams, treatment, beds, materials",
                )
            })?;
            items.push(CostItem {
                category,
                amount_fen: i.amount_fen,
                covered: i.covered.unwrap_or(true),
            });
        }
        let key = FactKey {
            resident_id: req.resident_id,
            institution_id,
            date: date.to_string(),
            since: (date - Duration::days(REFERRAL_VALID_DAYS)).to_string(),
            setting: setting.as_str().into(),
            referral_id: req.referral_id,
        };
        Ok(ClaimForm {
            date,
            setting,
            items,
            key,
        })
    }
}

/// Applies the rules to a claim's stored facts.
async fn decide(
    conn: &mut Conn,
    versions: &[PolicyVersion],
    req: &ClaimRequest,
    form: ClaimForm,
    f: ClaimFacts,
) -> ApiResult<(NewClaim, Adjudication)> {
    let ClaimForm {
        date,
        setting,
        items,
        key,
    } = form;
    let (Some(home), Some(insurance), None) = (
        f.resident_region.as_deref(),
        f.resident_insurance.as_deref(),
        f.resident_merged_into,
    ) else {
        return Err(ApiError::not_found("居民"));
    };
    let (Some(kind), Some(inst_region)) = (
        f.institution_kind.as_deref(),
        f.institution_region.as_deref(),
    ) else {
        return Err(ApiError::not_found("机构"));
    };
    let kind = InstitutionKind::parse(kind).ok_or_else(ApiError::internal)?;
    let grade = f.institution_grade.as_deref().and_then(Grade::parse);
    let (in_region, in_county) = rules::pooling(home, inst_region);
    let level = benefit_level(kind, grade, in_region).ok_or_else(|| {
        bad(
            "institution_id",
            "公共卫生机构不结算医疗费用",
            "public-health institutions give no reimbursable care",
        )
    })?;
    let policy = policy_in_force(versions, home, date)?;
    if req.referral_id.is_some()
        && (f.referral_resident_id != Some(key.resident_id)
            || f.referral_to_institution_id != Some(key.institution_id))
    {
        return Err(bad(
            "referral_id",
            "不是该居民转往该机构的转诊",
            "not a referral of this resident to this institution",
        ));
    }
    let link = match &f.referral_direction {
        Some(d) => Some(ReferralLink {
            direction: Direction::parse(d).ok_or_else(ApiError::internal)?,
            in_consortium: f.referral_in_consortium != 0,
        }),
        None => None,
    };
    let context = referral_context(level, link, f.in_combination != 0);
    let scheme = Insurance::parse(insurance).unwrap_or(Insurance::Resident);
    let input = ClaimInput {
        scheme,
        setting,
        level,
        date,
        items,
        referral: context,
    };
    // The facts count the stored scheme; one that does not parse is
    // adjudicated as the residents' scheme, and its year to date with it.
    let ytd = if scheme.as_str() == insurance {
        f.ytd_fund_fen
    } else {
        store::ytd_fund(
            conn,
            key.resident_id,
            scheme.as_str(),
            setting.as_str(),
            &key.date,
        )
        .await?
    };
    let adj = adjudicate(policy, &input, &YearToDate { fund_paid_fen: ytd })?;
    let claim = NewClaim {
        resident_id: key.resident_id,
        institution_id: key.institution_id,
        consortium_id: f.consortium_id,
        referral_id: f.referral_id,
        encounter_entry_id: req.encounter_entry_id,
        service_date: key.date,
        scheme: scheme.as_str().into(),
        setting: setting.as_str().into(),
        level: level.as_str().into(),
        referral_context: context.as_str().into(),
        in_county,
        items: serde_json::to_string(&input.items).unwrap_or_default(),
        ytd_fund_fen: ytd,
        state: ClaimState::Entered.as_str().into(),
        ..Default::default()
    };
    Ok((with_adjudication(claim, &adj), adj))
}

/// The claim's amounts and rules from an adjudication.
pub fn with_adjudication(mut c: NewClaim, a: &Adjudication) -> NewClaim {
    c.total_fen = a.total_fen;
    c.covered_fen = a.covered_fen;
    c.uncovered_fen = a.uncovered_fen;
    c.deductible_fen = a.deductible_fen;
    c.ratio_bp = i64::from(a.ratio_bp);
    c.fund_fen = a.fund_fen;
    c.resident_fen = a.resident_fen;
    c.capped_fen = a.capped_fen;
    c.policy_id = a.policy_id.clone();
    c.rules = serde_json::to_string(&a.rules).unwrap_or_default();
    c
}

/// 费用录入 — enters and adjudicates an encounter's claim (state `entered`).
/// 422 `no_policy_in_force` names the date when no version covers it.
pub async fn enter_claim(store: &Store, p: &Principal, req: &ClaimRequest) -> ApiResult<ClaimView> {
    require(p, Action::EnterClaim)?;
    let institution_id = match (&p.institution, req.institution_id) {
        (Some(own), Some(id)) if own.id != id && !allowed(p.role, Action::Adjudicate) => {
            return Err(ApiError::forbidden());
        }
        (Some(own), None) => own.id,
        (_, Some(id)) => id,
        (None, None) => {
            return Err(bad(
                "institution_id",
                "须指明就诊机构",
                "institution_id is required",
            ));
        }
    };
    let mut tx = store.write().await?;
    visible_resident(&mut tx, p, req.resident_id).await?;
    let versions = parse_rows(&store::policies(&mut tx).await?);
    let (mut claim, _) = assess(&mut tx, &versions, req, institution_id).await?;
    claim.source = "api".into();
    claim.created_by = Some(p.user_id);
    let id = store::insert_claim(&mut tx, &claim).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "insurance.claim",
        "claim",
        &id.to_string(),
        &serde_json::json!({"resident_id": claim.resident_id, "fund_fen": claim.fund_fen,
            "resident_fen": claim.resident_fen, "policy_id": claim.policy_id}),
    )
    .await?;
    let row = store::get_claim(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row.into())
}

/// Which claims a caller may see: the insurer and the commission their
/// area's residents', an institution its own, a resident their own.
fn scope_claims(p: &Principal, f: &mut ClaimFilter) -> ApiResult<()> {
    if allowed(p.role, Action::ReadInsurance) {
        match resident_scope(p) {
            ResidentScope::All => {}
            ResidentScope::Area { prefix, .. } => f.region_prefix = Some(prefix),
            ResidentScope::Only(id) => f.resident_id = Some(id),
            ResidentScope::Nobody => return Err(ApiError::forbidden()),
        }
        return Ok(());
    }
    if let Some(id) = p.resident_id {
        f.resident_id = Some(id);
        return Ok(());
    }
    match &p.institution {
        Some(i) if allowed(p.role, Action::EnterClaim) => {
            f.institution_id = Some(i.id);
            Ok(())
        }
        _ => Err(ApiError::forbidden()),
    }
}

/// Claims the caller may see, newest first.
pub async fn list_claims(
    store: &Store,
    p: &Principal,
    mut f: ClaimFilter,
    paging: Paging,
) -> ApiResult<Page<ClaimView>> {
    scope_claims(p, &mut f)?;
    let mut c = store.read().await?;
    let page = store::list_claims(&mut c, &f, paging).await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|mut r| {
                r.resident_id_number = yilian_domain::mask::mask_id_number(&r.resident_id_number);
                r.into()
            })
            .collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    })
}

/// One claim the caller may see.
pub async fn get_claim(store: &Store, p: &Principal, id: i64) -> ApiResult<ClaimView> {
    let mut c = store.read().await?;
    Ok(visible_claim(&mut c, p, id).await?.into())
}

/// A claim inside the caller's scope (404 otherwise, so existence does not leak).
async fn visible_claim(conn: &mut Conn, p: &Principal, id: i64) -> ApiResult<ClaimRow> {
    let mut f = ClaimFilter::default();
    scope_claims(p, &mut f)?;
    store::get_claim(conn, id)
        .await?
        .filter(|r| visible(&f, r))
        .ok_or_else(|| ApiError::not_found("结算单"))
}

fn visible(f: &ClaimFilter, r: &ClaimRow) -> bool {
    f.resident_id.is_none_or(|id| id == r.resident_id)
        && f.institution_id.is_none_or(|id| id == r.institution_id)
        && f.region_prefix
            .as_ref()
            .is_none_or(|p| r.resident_region.starts_with(p.as_str()))
}

/// 审核 / 核定 / 拒付 — moves a claim on. Valuating books the fund's share in
/// the ledger, charged to the resident's consortium.
pub async fn move_claim(
    store: &Store,
    p: &Principal,
    id: i64,
    to: ClaimState,
    reason: Option<&str>,
) -> ApiResult<ClaimView> {
    require(p, Action::Adjudicate)?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if to == ClaimState::Rejected && reason.is_none_or(|r| r.chars().count() < 2) {
        return Err(ApiError::invalid(
            "reason",
            "拒付须说明理由",
            "a rejection needs a reason",
        ));
    }
    let mut tx = store.write().await?;
    let row = visible_claim(&mut tx, p, id).await?;
    let from = ClaimState::parse(&row.state).ok_or_else(ApiError::internal)?;
    claim_transition(from, to)?;
    let moved = store::set_claim_state(
        &mut tx,
        id,
        from.as_str(),
        to.as_str(),
        if to == ClaimState::Rejected {
            reason
        } else {
            None
        },
        row.version,
    )
    .await?;
    if !moved {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "version_conflict",
            "结算单已被他人更新，请刷新后重试",
            "the claim was changed by someone else; reload and retry",
        ));
    }
    if to == ClaimState::Valuated {
        store::append_ledger(&mut tx, &[claim_ledger(&row)]).await?;
    }
    audit::record(
        &mut tx,
        Some(p.user_id),
        &format!("insurance.claim.{}", to.as_str()),
        "claim",
        &id.to_string(),
        &serde_json::json!({"reason": reason}),
    )
    .await?;
    let row = store::get_claim(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row.into())
}

/// The ledger entry of a valuated claim: its fund share, in the month of
/// its service date, charged to the resident's consortium.
pub fn claim_ledger(c: &ClaimRow) -> LedgerEntry {
    ledger_for(
        c.id,
        &c.service_date,
        c.consortium_id,
        c.institution_id,
        c.fund_fen,
    )
}

/// A claim's ledger entry from its parts (the generator's path too).
pub fn ledger_for(
    claim_id: i64,
    service_date: &str,
    consortium_id: Option<i64>,
    institution_id: i64,
    fund_fen: i64,
) -> LedgerEntry {
    let d = NaiveDate::parse_from_str(service_date, "%Y-%m-%d").unwrap_or_default();
    LedgerEntry {
        kind: "claim".into(),
        year: d.year(),
        month: d.month(),
        consortium_id,
        institution_id: Some(institution_id),
        team_id: None,
        source_id: Some(claim_id),
        amount_fen: fund_fen,
    }
}

// ---------------------------------------------------------------- recomputation

/// The outcome of recomputing every claim of a year from its stored policy
/// version, encounter and year-to-date payments.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Recomputed {
    pub claims: usize,
    pub identical: usize,
    /// Ids of claims whose recomputation differs (should be empty).
    pub differing: Vec<i64>,
}

/// The adjudication input a stored claim was decided on.
pub fn input_of(c: &ClaimRow) -> Option<(ClaimInput, YearToDate)> {
    Some((
        ClaimInput {
            scheme: Insurance::parse(&c.scheme)?,
            setting: Setting::parse(&c.setting)?,
            level: BenefitLevel::parse(&c.level)?,
            date: NaiveDate::parse_from_str(&c.service_date, "%Y-%m-%d").ok()?,
            items: serde_json::from_str(&c.items).ok()?,
            referral: rules::ReferralContext::parse(&c.referral_context)?,
        },
        YearToDate {
            fund_paid_fen: c.ytd_fund_fen,
        },
    ))
}

/// Whether a stored claim equals its recomputation under `policy`.
pub fn reproduces(c: &ClaimRow, policy: &PolicyVersion) -> bool {
    let Some((input, ytd)) = input_of(c) else {
        return false;
    };
    let Ok(a) = adjudicate(policy, &input, &ytd) else {
        return false;
    };
    a.total_fen == c.total_fen
        && a.covered_fen == c.covered_fen
        && a.uncovered_fen == c.uncovered_fen
        && a.deductible_fen == c.deductible_fen
        && i64::from(a.ratio_bp) == c.ratio_bp
        && a.fund_fen == c.fund_fen
        && a.resident_fen == c.resident_fen
        && a.capped_fen == c.capped_fen
        && a.policy_id == c.policy_id
        && serde_json::to_string(&a.rules).ok().as_deref() == Some(c.rules.as_str())
}

/// Recomputes every claim of `year` from the stored policy versions.
pub async fn recompute_year(store: &Store, year: i32) -> ApiResult<Recomputed> {
    let mut c = store.read().await?;
    let versions = parse_rows(&store::policies(&mut c).await?);
    let claims = store::claims_of_year(&mut c, year).await?;
    let mut out = Recomputed {
        claims: claims.len(),
        ..Default::default()
    };
    for claim in &claims {
        let ok = versions
            .iter()
            .find(|v| v.id == claim.policy_id)
            .is_some_and(|v| reproduces(claim, v));
        if ok {
            out.identical += 1;
        } else {
            out.differing.push(claim.id);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- capitation

/// A consortium's capitation position for a year.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Position {
    pub consortium_id: i64,
    pub consortium_name: String,
    pub region_code: String,
    pub year: i32,
    pub policy_id: String,
    /// Insured residents per scheme.
    #[schema(value_type = Vec<Object>)]
    pub insured: Vec<(String, i64)>,
    pub insured_total: i64,
    pub budget_fen: i64,
    /// Fund payments charged to it per month (valuated claims).
    pub spent_by_month: Vec<i64>,
    pub months_elapsed: u32,
    #[schema(value_type = Object)]
    pub forecast: Forecast,
    pub leakage: Leakage,
    pub settlement: Option<SettlementRow>,
}

/// Months of `year` elapsed on `today` (the current month counts).
pub fn months_elapsed(year: i32, today: NaiveDate) -> u32 {
    match year.cmp(&today.year()) {
        std::cmp::Ordering::Less => 12,
        std::cmp::Ordering::Equal => today.month(),
        std::cmp::Ordering::Greater => 0,
    }
}

/// The capitation budget of a consortium: per-capita amount of the version
/// in force on 1 January × its insured residents, per scheme.
async fn budget(
    conn: &mut Conn,
    versions: &[PolicyVersion],
    region: &str,
    year: i32,
) -> ApiResult<(PolicyVersion, Vec<(String, i64)>, i64)> {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| ApiError::invalid("year", "年度无效", "invalid year"))?;
    let policy = policy_in_force(versions, region, jan1)?.clone();
    let insured = store::insured_of(conn, region).await?;
    let budget = insured
        .iter()
        .filter_map(|(scheme, n)| {
            Insurance::parse(scheme).map(|s| rules::capitation_budget(policy.capitation_fen(s), *n))
        })
        .sum();
    Ok((policy, insured, budget))
}

/// 按人头打包付费 — each county consortium's budget, monthly spend, forecast
/// and leakage for `year`.
pub async fn positions(
    store: &Store,
    p: &Principal,
    year: i32,
    today: NaiveDate,
) -> ApiResult<Vec<Position>> {
    require(p, Action::ReadInsurance)?;
    let prefix = match resident_scope(p) {
        ResidentScope::All => String::new(),
        ResidentScope::Area { prefix, .. } => prefix,
        _ => return Err(ApiError::forbidden()),
    };
    let mut c = store.read().await?;
    let versions = parse_rows(&store::policies(&mut c).await?);
    let mut out = Vec::new();
    let all = registry::list_consortia(
        &mut c,
        &registry::ConsortiumFilter {
            kind: Some("county_consortium".into()),
            ..Default::default()
        },
        Paging::new(Some(500), None),
    )
    .await?;
    for cons in all.items {
        if !(cons.region_code.starts_with(&prefix) || prefix.starts_with(&cons.region_code)) {
            continue;
        }
        let Ok((policy, insured, budget_fen)) =
            budget(&mut c, &versions, &cons.region_code, year).await
        else {
            continue;
        };
        let spent = store::spent_by_month(&mut c, cons.id, year).await?;
        let elapsed = months_elapsed(year, today);
        let forecast = rules::forecast_year_end(budget_fen, &spent[..elapsed as usize], elapsed);
        out.push(Position {
            consortium_id: cons.id,
            consortium_name: cons.name.clone(),
            region_code: cons.region_code.clone(),
            year,
            policy_id: policy.id.clone(),
            insured_total: insured.iter().map(|(_, n)| n).sum(),
            insured,
            budget_fen,
            spent_by_month: spent.to_vec(),
            months_elapsed: elapsed,
            forecast,
            leakage: store::leakage(&mut c, cons.id, year).await?,
            settlement: store::get_settlement(&mut c, cons.id, year).await?,
        });
    }
    Ok(out)
}

/// 年度清算 — settles a consortium's year once it is over: a surplus is
/// retained (结余留用) and split among members by the policy's key, an
/// overrun is not covered (超支不补). 409 `already_settled` the second time.
pub async fn settle(
    store: &Store,
    p: &Principal,
    consortium_id: i64,
    year: i32,
    today: NaiveDate,
) -> ApiResult<SettlementRow> {
    require(p, Action::Adjudicate)?;
    if year >= today.year() {
        return Err(ApiError::invalid(
            "year",
            "年度结束后方可清算",
            "a year is settled once it is over",
        ));
    }
    let mut tx = store.write().await?;
    let cons = registry::get_consortium(&mut tx, consortium_id)
        .await?
        .filter(|c| c.kind == "county_consortium")
        .ok_or_else(|| ApiError::not_found("医共体"))?;
    if let ResidentScope::Area { prefix, .. } = resident_scope(p)
        && !cons.region_code.starts_with(&prefix)
    {
        return Err(ApiError::forbidden());
    }
    let already = || {
        ApiError::rule(&InsuranceError::AlreadySettled {
            consortium_id,
            period: year.to_string(),
        })
    };
    if store::get_settlement(&mut tx, consortium_id, year)
        .await?
        .is_some()
    {
        return Err(already());
    }
    let versions = parse_rows(&store::policies(&mut tx).await?);
    let (policy, insured, budget_fen) = budget(&mut tx, &versions, &cons.region_code, year).await?;
    let spent: i64 = store::spent_by_month(&mut tx, consortium_id, year)
        .await?
        .iter()
        .sum();
    let mut members = Vec::new();
    for m in store::members_of(&mut tx, consortium_id).await? {
        if let Some(kind) = InstitutionKind::parse(&m.kind)
            && let Some(level) =
                benefit_level(kind, m.grade.as_deref().and_then(Grade::parse), true)
        {
            members.push((m.id, level));
        }
    }
    let s = rules::settle(budget_fen, spent, &members, &policy.surplus_key);
    let row = NewSettlement {
        consortium_id,
        year,
        insured: insured.iter().map(|(_, n)| n).sum(),
        budget_fen: s.budget_fen,
        spent_fen: s.spent_fen,
        surplus_fen: s.surplus_fen,
        overrun_fen: s.overrun_fen,
        fund_pays_fen: s.fund_pays_fen,
        policy_id: policy.id.clone(),
        distribution: serde_json::to_string(&s.distribution).unwrap_or_default(),
        settled_by: Some(p.user_id),
    };
    let Some(id) = store::insert_settlement(&mut tx, &row).await? else {
        return Err(already());
    };
    let shares: Vec<LedgerEntry> = s
        .distribution
        .iter()
        .filter(|(_, fen)| *fen > 0)
        .map(|(inst, fen)| LedgerEntry {
            kind: "capitation_surplus".into(),
            year,
            month: 12,
            consortium_id: Some(consortium_id),
            institution_id: Some(*inst),
            team_id: None,
            source_id: Some(id),
            amount_fen: *fen,
        })
        .collect();
    store::append_ledger(&mut tx, &shares).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "insurance.settle",
        "consortium",
        &consortium_id.to_string(),
        &serde_json::json!({"year": year, "surplus_fen": s.surplus_fen, "overrun_fen": s.overrun_fen}),
    )
    .await?;
    let out = store::get_settlement(&mut tx, consortium_id, year)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(out)
}

/// A team's contract fees enter the fund ledger when they are settled.
pub fn contract_fee_ledger(
    team_id: i64,
    period: &str,
    settlement_id: i64,
    fen: i64,
) -> LedgerEntry {
    LedgerEntry {
        kind: "contract_fee".into(),
        year: period.parse().unwrap_or_default(),
        month: 12,
        consortium_id: None,
        institution_id: None,
        team_id: Some(team_id),
        source_id: Some(settlement_id),
        amount_fen: fen,
    }
}

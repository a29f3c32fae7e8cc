//! Operations shared by the API, the web pages and the CLI: each parses with
//! the domain, authorizes, runs in one store transaction, audits. Handlers
//! stay thin by calling these.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_analytics::linkage::{self, LinkConfig, LinkRecord};
use yilian_domain::access::{
    Action, Principal, ResidentScope, Role, ScopeKind, allowed, may_administer, region_scope_ok,
    resident_scope,
};
use yilian_domain::id_number::Sex;
use yilian_domain::mask::{mask_id_number, mask_phone};
use yilian_domain::mpi::{MergeParty, check_merge, check_unmerge};
use yilian_domain::region::{RegionCode, RegionTable, Warning, id_prefix_warning};
use yilian_domain::resident::{
    KeyPopulation, ResidentInput, ValidResident, age_on, decode_tags, key_populations,
};
use yilian_store::mpi::{self as store_mpi, MergeRow, NewCandidate};
use yilian_store::residents::{self, ResidentFilter, ResidentRow};
use yilian_store::users::{self, NewUser, UserRow};
use yilian_store::{Conn, Page, Paging, Store, audit, registry};

use crate::auth::{check_password_policy, hash_password};
use crate::error::{ApiError, ApiResult};

/// A resident as shown in lists: identity number and phone masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResidentSummary {
    pub id: i64,
    pub health_card_id: String,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub age: i32,
    /// Masked: first four and last four characters.
    pub id_number: String,
    /// Masked: first three and last four digits.
    pub phone: String,
    pub region_code: String,
    pub household_code: Option<String>,
    /// Key-population codes, including the age-derived ones.
    #[schema(value_type = Vec<String>)]
    pub tags: Vec<KeyPopulation>,
    pub merged_into: Option<i64>,
}

/// A resident on their detail page: whole identity number and phone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResidentDetail {
    pub id: i64,
    pub health_card_id: String,
    pub id_number: String,
    pub name: String,
    pub name_pinyin: String,
    pub sex: String,
    pub birth_date: String,
    pub age: i32,
    pub phone: String,
    pub region_code: String,
    pub address: String,
    pub household_code: Option<String>,
    pub insurance: String,
    /// Key-population codes, including the age-derived ones.
    #[schema(value_type = Vec<String>)]
    pub tags: Vec<KeyPopulation>,
    pub registered_at: Option<i64>,
    pub merged_into: Option<i64>,
    /// Residents merged into this one (their records read through it).
    pub merged_residents: Vec<i64>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn birth(r: &ResidentRow) -> NaiveDate {
    NaiveDate::parse_from_str(&r.birth_date, "%Y-%m-%d").unwrap_or_default()
}

pub fn summary(r: &ResidentRow, today: NaiveDate) -> ResidentSummary {
    let b = birth(r);
    ResidentSummary {
        id: r.id,
        health_card_id: r.health_card_id.clone(),
        name: r.name.clone(),
        sex: r.sex.clone(),
        birth_date: r.birth_date.clone(),
        age: age_on(b, today),
        id_number: mask_id_number(&r.id_number),
        phone: mask_phone(&r.phone),
        region_code: r.region_code.clone(),
        household_code: r.household_code.clone(),
        tags: key_populations(b, today, &decode_tags(&r.tags)),
        merged_into: r.merged_into,
    }
}

fn detail(r: ResidentRow, merged: Vec<i64>, today: NaiveDate) -> ResidentDetail {
    let b = birth(&r);
    ResidentDetail {
        id: r.id,
        health_card_id: r.health_card_id,
        id_number: r.id_number,
        name: r.name,
        name_pinyin: r.name_pinyin,
        sex: r.sex,
        birth_date: r.birth_date,
        age: age_on(b, today),
        phone: r.phone,
        region_code: r.region_code,
        address: r.address,
        household_code: r.household_code,
        insurance: r.insurance,
        tags: key_populations(b, today, &decode_tags(&r.tags)),
        registered_at: r.registered_at,
        merged_into: r.merged_into,
        merged_residents: merged,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Whether `code` is a registered region.
async fn require_region(conn: &mut Conn, code: &RegionCode) -> ApiResult<()> {
    match registry::get_region(conn, code.as_str()).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::unknown_region(code.as_str())),
    }
}

/// The identity-number prefix check: known if in GB/T 2260 or registered.
async fn prefix_warnings(
    conn: &mut Conn,
    table: &RegionTable,
    v: &ValidResident,
) -> ApiResult<Vec<Warning>> {
    let prefix = v.id_number.region_prefix();
    if table.knows(prefix) || registry::get_region(conn, prefix).await?.is_some() {
        return Ok(vec![]);
    }
    Ok(id_prefix_warning(prefix, table).into_iter().collect())
}

/// A registration's result: the new resident and any warnings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Registered {
    #[serde(flatten)]
    pub resident: ResidentDetail,
    /// Non-fatal findings, e.g. `unknown_id_region_prefix`.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Warning>,
}

/// 居民建档 — registers a resident and issues the health card id. The caller's
/// institution is recorded as where they were registered.
pub async fn register_resident(
    store: &Store,
    table: &RegionTable,
    p: &Principal,
    input: &ResidentInput,
    today: NaiveDate,
) -> ApiResult<Registered> {
    let mut tx = store.write().await?;
    let r = register_resident_in(&mut tx, table, p, input, today).await?;
    tx.commit().await?;
    Ok(r)
}

/// [`register_resident`] inside the caller's transaction (imports).
pub async fn register_resident_in(
    conn: &mut Conn,
    table: &RegionTable,
    p: &Principal,
    input: &ResidentInput,
    today: NaiveDate,
) -> ApiResult<Registered> {
    if !allowed(p.role, Action::WriteResident) {
        return Err(ApiError::forbidden());
    }
    let input = with_default_region(conn, p, input).await?;
    let v = input.validate(today)?;
    require_region(conn, &v.region_code).await?;
    let warnings = prefix_warnings(conn, table, &v).await?;
    let row = residents::insert(conn, &v, p.institution.as_ref().map(|i| i.id)).await?;
    let detail_json = serde_json::json!({"warnings": warnings.len()});
    audit::record(
        conn,
        Some(p.user_id),
        "create",
        "resident",
        &row.id.to_string(),
        &detail_json,
    )
    .await?;
    Ok(Registered {
        resident: detail(row, vec![], today),
        warnings,
    })
}

/// 默认住址区划 — a registration without a region lives where the registering
/// institution is, or else in the identity number's county when that county
/// is registered; otherwise the region stays empty and is refused.
async fn with_default_region(
    conn: &mut Conn,
    p: &Principal,
    input: &ResidentInput,
) -> ApiResult<ResidentInput> {
    if !input.region_code.trim().is_empty() {
        return Ok(input.clone());
    }
    let mut out = input.clone();
    if let Some(i) = &p.institution {
        out.region_code = i.region_code.as_str().to_string();
    } else if let Some(prefix) = input.id_number.trim().get(..6) {
        if registry::get_region(conn, prefix).await?.is_some() {
            out.region_code = prefix.to_string();
        } else {
            return Err(ApiError::unknown_region(prefix));
        }
    }
    Ok(out)
}

/// The principal of the command line (an operator at the console): admin.
pub fn console_principal() -> Principal {
    Principal {
        user_id: 0,
        username: "console".into(),
        role: Role::Admin,
        institution: None,
        region: None,
        resident_id: None,
    }
}

/// Loads a resident the caller may see, or 404 (never revealing existence).
async fn visible(conn: &mut Conn, p: &Principal, id: i64) -> ApiResult<ResidentRow> {
    let scope = resident_scope(p);
    match residents::get(conn, id).await? {
        Some(r) if residents::admits(&scope, &r) => Ok(r),
        _ => Err(ApiError::not_found("居民")),
    }
}

/// A resident's detail (whole identity number and phone); the read is
/// written to the audit log in the same transaction.
pub async fn resident_detail(
    store: &Store,
    p: &Principal,
    id: i64,
    today: NaiveDate,
) -> ApiResult<ResidentDetail> {
    let mut tx = store.write().await?;
    let r = visible(&mut tx, p, id).await?;
    let merged = residents::merged_into(&mut tx, r.id)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    audit::record(
        &mut tx,
        Some(p.user_id),
        "read",
        "resident",
        &r.id.to_string(),
        &serde_json::json!({"part": "demographics", "role": p.role.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(detail(r, merged, today))
}

/// Scoped, masked search.
pub async fn search_residents(
    store: &Store,
    p: &Principal,
    f: &ResidentFilter,
    paging: Paging,
    today: NaiveDate,
) -> ApiResult<Page<ResidentSummary>> {
    let mut conn = store.read().await?;
    let page = residents::search(&mut conn, f, &resident_scope(p), paging).await?;
    Ok(Page {
        items: page.items.iter().map(|r| summary(r, today)).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    })
}

/// Corrects a resident's demographics (optimistic by `version`).
pub async fn update_resident(
    store: &Store,
    p: &Principal,
    id: i64,
    version: i64,
    input: &ResidentInput,
    today: NaiveDate,
) -> ApiResult<ResidentDetail> {
    let mut tx = store.write().await?;
    let d = update_resident_in(&mut tx, p, id, version, input, today).await?;
    tx.commit().await?;
    Ok(d)
}

/// [`update_resident`] inside the caller's transaction.
pub async fn update_resident_in(
    tx: &mut Conn,
    p: &Principal,
    id: i64,
    version: i64,
    input: &ResidentInput,
    today: NaiveDate,
) -> ApiResult<ResidentDetail> {
    if !allowed(p.role, Action::WriteResident) {
        return Err(ApiError::forbidden());
    }
    let v = input.validate(today)?;
    visible(tx, p, id).await?;
    require_region(tx, &v.region_code).await?;
    let row = residents::update(tx, id, version, &v).await?;
    audit::record(
        tx,
        Some(p.user_id),
        "update",
        "resident",
        &id.to_string(),
        &serde_json::json!({"version": row.version}),
    )
    .await?;
    Ok(detail(row, vec![], today))
}

// ---------------------------------------------------------------- MPI

/// Result of a duplicate scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScanReport {
    /// Seconds spent matching (blocking, comparing, scoring) on one core.
    pub seconds: f64,
    /// The pairs found (smaller id first); not part of the API response.
    #[serde(skip)]
    pub pairs: Vec<(i64, i64)>,
    pub records: usize,
    pub comparisons: u64,
    pub candidates: usize,
    pub new_candidates: u64,
}

/// Converts stored rows to linkage records (rows with bad dates are skipped).
pub fn link_records(rows: Vec<store_mpi::LinkFields>) -> Vec<LinkRecord> {
    rows.into_iter()
        .filter_map(|r| {
            Some(LinkRecord {
                id: r.id,
                birth_date: NaiveDate::parse_from_str(&r.birth_date, "%Y-%m-%d").ok()?,
                sex: Sex::parse(&r.sex)?,
                name: r.name,
                pinyin: r.name_pinyin,
                initials: r.name_initials,
                phone: r.phone,
                region_code: r.region_code,
                address: r.address,
            })
        })
        .collect()
}

fn mpi_area(p: &Principal) -> ApiResult<Option<String>> {
    if !allowed(p.role, Action::ManageMpi) {
        return Err(ApiError::forbidden());
    }
    Ok(match resident_scope(p) {
        ResidentScope::All => None,
        ResidentScope::Area { prefix, .. } => Some(prefix),
        _ => return Err(ApiError::forbidden()),
    })
}

/// 疑似重复检测 — runs probabilistic matching over the caller's area and
/// stores new candidate pairs (known pairs keep their decision).
pub async fn scan_duplicates(store: &Store, p: &Principal) -> ApiResult<ScanReport> {
    let area = mpi_area(p)?;
    let rows = {
        let mut conn = store.read().await?;
        store_mpi::link_fields(&mut conn, area.as_deref()).await?
    };
    let records = link_records(rows);
    let (pairs, stats, seconds) = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let (pairs, stats) = linkage::find_duplicates(&records, &LinkConfig::default());
        (pairs, stats, started.elapsed().as_secs_f64())
    })
    .await
    .map_err(|_| ApiError::internal())?;
    let cands: Vec<NewCandidate> = pairs
        .iter()
        .map(|c| NewCandidate {
            a_id: c.a,
            b_id: c.b,
            score: c.score,
            comparison: serde_json::to_string(&c.comparison).unwrap_or_default(),
        })
        .collect();
    let mut tx = store.write().await?;
    let added = store_mpi::insert_candidates(&mut tx, &cands).await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "scan",
        "mpi",
        area.as_deref().unwrap_or("*"),
        &serde_json::json!({"candidates": cands.len(), "new": added}),
    )
    .await?;
    tx.commit().await?;
    Ok(ScanReport {
        seconds,
        pairs: pairs.iter().map(|c| (c.a, c.b)).collect(),
        records: stats.records,
        comparisons: stats.comparisons,
        candidates: cands.len(),
        new_candidates: added,
    })
}

pub async fn list_candidates(
    store: &Store,
    p: &Principal,
    status: Option<&str>,
    paging: Paging,
) -> ApiResult<Page<store_mpi::CandidateRow>> {
    mpi_area(p)?;
    let mut conn = store.read().await?;
    Ok(store_mpi::list_candidates(&mut conn, status, &resident_scope(p), paging).await?)
}

/// Marks a candidate pair as not a duplicate.
pub async fn reject_candidate(store: &Store, p: &Principal, id: i64) -> ApiResult<()> {
    mpi_area(p)?;
    let mut tx = store.write().await?;
    let c = store_mpi::get_candidate(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("候选对"))?;
    visible(&mut tx, p, c.a_id).await?;
    visible(&mut tx, p, c.b_id).await?;
    store_mpi::set_candidate_status(&mut tx, id, "rejected").await?;
    audit::record(
        &mut tx,
        Some(p.user_id),
        "reject",
        "dup_candidate",
        &id.to_string(),
        &serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MergeRequest {
    pub survivor_id: i64,
    pub merged_id: i64,
    pub candidate_id: Option<i64>,
    pub reason: String,
}

/// 合并 — merges `merged_id` into `survivor_id`; every record of both stays.
pub async fn merge(store: &Store, p: &Principal, req: &MergeRequest) -> ApiResult<MergeRow> {
    mpi_area(p)?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "须填写合并理由（不超过500字）",
            "a merge needs a reason (at most 500 characters)",
        ));
    }
    let mut tx = store.write().await?;
    let s = visible(&mut tx, p, req.survivor_id).await?;
    let m = visible(&mut tx, p, req.merged_id).await?;
    check_merge(
        MergeParty {
            id: s.id,
            merged_into: s.merged_into,
        },
        MergeParty {
            id: m.id,
            merged_into: m.merged_into,
        },
    )?;
    let row = store_mpi::merge(&mut tx, s.id, m.id, req.candidate_id, reason, p.user_id).await?;
    if let Some(c) = req.candidate_id {
        store_mpi::set_candidate_status(&mut tx, c, "merged").await?;
    }
    audit::record(
        &mut tx,
        Some(p.user_id),
        "merge",
        "resident",
        &s.id.to_string(),
        &serde_json::json!({"merged_id": m.id, "merge_id": row.id, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// 撤销合并 — undoes a merge; the merged resident stands alone again.
pub async fn unmerge(store: &Store, p: &Principal, merge_id: i64) -> ApiResult<MergeRow> {
    mpi_area(p)?;
    let mut tx = store.write().await?;
    let m = store_mpi::get_merge(&mut tx, merge_id)
        .await?
        .ok_or_else(|| ApiError::not_found("合并记录"))?;
    visible(&mut tx, p, m.survivor_id).await?;
    check_unmerge(m.undone_at.is_some())?;
    let row = store_mpi::unmerge(&mut tx, merge_id, p.user_id).await?;
    if let Some(c) = m.candidate_id {
        store_mpi::set_candidate_status(&mut tx, c, "open").await?;
    }
    audit::record(
        &mut tx,
        Some(p.user_id),
        "unmerge",
        "resident",
        &m.survivor_id.to_string(),
        &serde_json::json!({"merged_id": m.merged_id, "merge_id": merge_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------- users

/// A login to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct UserInput {
    pub username: String,
    pub password: String,
    pub role: String,
    /// Institution code, region code, or the resident's identity number or
    /// health card id — whichever the role is bound to. None for admin.
    pub scope: Option<String>,
}

/// Creates a login, resolving its scope code to what the role is bound to.
pub async fn create_user(store: &Store, input: &UserInput) -> ApiResult<UserRow> {
    let username = input.username.trim();
    let ok_name = (3..=40).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !ok_name {
        return Err(ApiError::invalid(
            "username",
            "用户名为3至40位字母、数字或 _ - .",
            "a username is 3 to 40 of letters, digits, _ - .",
        ));
    }
    check_password_policy(&input.password)?;
    let role = Role::parse_field("role", &input.role)?;
    let scope = input
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut tx = store.write().await?;
    let mut user = NewUser {
        username: username.to_string(),
        password_hash: hash_password(&input.password)?,
        role: role.as_str().into(),
        scope_code: scope.map(str::to_string),
        institution_id: None,
        region_code: None,
        resident_id: None,
    };
    match (role.scope_kind(), scope) {
        (ScopeKind::None, _) => user.scope_code = None,
        (_, None) => {
            return Err(ApiError::invalid(
                "scope",
                "该角色须绑定机构、区划或居民",
                "this role needs a scope (institution, region or resident)",
            ));
        }
        (ScopeKind::Institution, Some(code)) => {
            let i = registry::get_institution_by_code(&mut tx, code)
                .await?
                .ok_or_else(|| ApiError::unknown_institution(code))?;
            user.institution_id = Some(i.id);
        }
        (ScopeKind::Region, Some(code)) => {
            let r = RegionCode::parse(code)?;
            require_region(&mut tx, &r).await?;
            if !region_scope_ok(r.level()) {
                return Err(ApiError::invalid(
                    "scope",
                    "区划范围须为县级及以上",
                    "a region scope is a county or above",
                ));
            }
            user.region_code = Some(r.as_str().to_string());
        }
        (ScopeKind::Resident, Some(code)) => {
            let upper = code.to_ascii_uppercase();
            let r = match residents::get_by_id_number(&mut tx, &upper).await? {
                Some(r) => Some(r),
                None => residents::get_by_card(&mut tx, &upper).await?,
            };
            user.resident_id = Some(r.ok_or_else(|| ApiError::not_found("居民"))?.id);
        }
    }
    let row = users::insert(&mut tx, &user).await?;
    audit::record(
        &mut tx,
        None,
        "create",
        "user",
        &row.id.to_string(),
        &serde_json::json!({"role": row.role}),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Registry writes inside the caller's administrative area only.
pub fn authorize_registry_write(p: &Principal, region: &RegionCode) -> ApiResult<()> {
    if allowed(p.role, Action::WriteRegistry) && may_administer(p, region) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

//! `/api/v1` registries: regions, institutions, consortia, practitioners,
//! family doctor teams. Reads are open to every login; writes need
//! `WriteRegistry` inside the caller's administrative area.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::access::{Action, Principal};
use yilian_domain::phone::Phone;
use yilian_domain::region::RegionCode;
use yilian_domain::registry::{
    BedType, ConsortiumKind, Grade, InstitutionKind, Location, Ownership, Profession, Service,
    TeamRole, check_counts, check_institution_region, check_team_lead,
};
use yilian_store::registry::{self, *};
use yilian_store::{CodeList, Conn, CountMap, Page, Paging};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::service::authorize_registry_write;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_regions, create_region))
        .routes(routes!(get_region, update_region))
        .routes(routes!(list_institutions, create_institution))
        .routes(routes!(get_institution, update_institution))
        .routes(routes!(list_consortia, create_consortium))
        .routes(routes!(get_consortium, update_consortium))
        .routes(routes!(add_consortium_member))
        .routes(routes!(remove_consortium_member))
        .routes(routes!(list_practitioners, create_practitioner))
        .routes(routes!(get_practitioner, update_practitioner))
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team))
}

/// Trimmed text of 1..=max characters.
pub fn text(field: &'static str, v: &str, max: usize) -> ApiResult<String> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            &format!("不能为空且不超过{max}字"),
            &format!("must be 1 to {max} characters"),
        ));
    }
    Ok(t.to_string())
}

/// A code: 1..=40 of ASCII letters, digits, `-`, `_`.
fn code(field: &'static str, v: &str) -> ApiResult<String> {
    let t = v.trim();
    if t.is_empty()
        || t.len() > 40
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid(
            field,
            "编码为1至40位字母、数字、-或_",
            "a code is 1 to 40 of letters, digits, - or _",
        ));
    }
    Ok(t.to_string())
}

async fn registered_region(conn: &mut Conn, code: &str) -> ApiResult<(RegionCode, RegionRow)> {
    let rc = RegionCode::parse(code)?;
    let row = registry::get_region(conn, rc.as_str())
        .await?
        .ok_or_else(|| ApiError::unknown_region(code))?;
    Ok((rc, row))
}

async fn institution_by_code(conn: &mut Conn, code: &str) -> ApiResult<InstitutionRow> {
    registry::get_institution_by_code(conn, code)
        .await?
        .ok_or_else(|| ApiError::unknown_institution(code))
}

fn region_of(i: &InstitutionRow) -> ApiResult<RegionCode> {
    RegionCode::parse(&i.region_code).map_err(|_| ApiError::internal())
}

/// Version for an update, carried in the body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Versioned<T> {
    pub version: i64,
    #[serde(flatten)]
    pub data: T,
}

// ---------------------------------------------------------------- regions

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegionInput {
    /// 6 (GB/T 2260), 9 (township) or 12 (village) digits.
    pub code: String,
    pub name: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub population: Option<i64>,
}

pub async fn region_data(conn: &mut Conn, p: &Principal, i: &RegionInput) -> ApiResult<RegionData> {
    let rc = RegionCode::parse(&i.code)?;
    authorize_registry_write(p, &rc)?;
    let parent = rc.parent();
    if let Some(p) = &parent {
        // A township or village hangs under a registered parent.
        if rc.as_str().len() > 6 && registry::get_region(conn, p.as_str()).await?.is_none() {
            return Err(ApiError::unknown_region(p.as_str()));
        }
    }
    if let (Some(lon), Some(lat)) = (i.lon, i.lat) {
        Location::parse(lon, lat)?;
    }
    if i.population
        .is_some_and(|p| !(0..=100_000_000).contains(&p))
    {
        return Err(ApiError::invalid(
            "population",
            "人口数超出范围",
            "population out of range",
        ));
    }
    let parent_code = match parent {
        Some(p) if registry::get_region(conn, p.as_str()).await?.is_some() => {
            Some(p.as_str().to_string())
        }
        _ => None,
    };
    Ok(RegionData {
        code: rc.as_str().into(),
        name: text("name", &i.name, 60)?,
        level: rc.level().as_str().into(),
        parent_code,
        lon: i.lon,
        lat: i.lat,
        population: i.population,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegionQuery {
    pub parent_code: Option<String>,
    pub level: Option<String>,
    /// Only regions inside this code.
    pub within: Option<String>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List regions.
#[utoipa::path(get, path = "/regions", params(RegionQuery), responses((status = 200, body = Page<RegionRow>)), tag = "registries")]
async fn list_regions(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<RegionQuery>,
) -> ApiResult<Json<Page<RegionRow>>> {
    auth.require(Action::ReadRegistry)?;
    let f = RegionFilter {
        parent_code: q.parent_code,
        level: q.level,
        within: q.within,
        q: q.q,
    };
    let mut c = s.store.read().await?;
    Ok(Json(
        registry::list_regions(&mut c, &f, Paging::new(q.limit, q.offset)).await?,
    ))
}

/// Register a region (township or village under a registered parent).
#[utoipa::path(post, path = "/regions", request_body = RegionInput, responses((status = 201, body = RegionRow), (status = 422, body = crate::error::ErrorBody)), tag = "registries")]
async fn create_region(
    State(s): State<AppState>,
    auth: Auth,
    Json(i): Json<RegionInput>,
) -> ApiResult<(StatusCode, Json<RegionRow>)> {
    let mut tx = s.store.write().await?;
    let d = region_data(&mut tx, &auth.principal, &i).await?;
    let row = registry::insert_region(&mut tx, &d).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Get a region.
#[utoipa::path(get, path = "/regions/{code}", responses((status = 200, body = RegionRow), (status = 404, body = crate::error::ErrorBody)), tag = "registries")]
async fn get_region(
    State(s): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<RegionRow>> {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    registry::get_region(&mut c, &code)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("区划"))
}

/// Update a region's name, location or population.
#[utoipa::path(put, path = "/regions/{code}", request_body = Versioned<RegionInput>, responses((status = 200, body = RegionRow), (status = 409, body = crate::error::ErrorBody)), tag = "registries")]
async fn update_region(
    State(s): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
    Json(v): Json<Versioned<RegionInput>>,
) -> ApiResult<Json<RegionRow>> {
    if v.data.code != code {
        return Err(ApiError::invalid(
            "code",
            "区划代码不可修改",
            "a region code cannot change",
        ));
    }
    let mut tx = s.store.write().await?;
    let d = region_data(&mut tx, &auth.principal, &v.data).await?;
    let row = registry::update_region(&mut tx, &d, v.version).await?;
    tx.commit().await?;
    Ok(Json(row))
}

// ---------------------------------------------------------------- institutions

#[derive(Debug, Deserialize, ToSchema)]
pub struct InstitutionInput {
    pub code: String,
    pub name: String,
    /// e.g. `village_clinic`, `township_health_center`, `county_general_hospital`.
    pub kind: String,
    /// `1`, `2B`, `2A`, `3B`, `3A`.
    pub grade: Option<String>,
    /// `public` or `private`.
    pub ownership: String,
    pub region_code: String,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// Beds by type (`general`, `icu`, `rehabilitation`, `psychiatric`, `tcm`).
    #[serde(default)]
    pub beds: BTreeMap<String, i64>,
    /// Staff by profession (`licensed_physician`, `registered_nurse`, …).
    #[serde(default)]
    pub staff: BTreeMap<String, i64>,
    /// Services, e.g. `fever_clinic`, `tcm_hall`, `chest_pain_center`.
    #[serde(default)]
    pub services: Vec<String>,
}

pub async fn institution_data(
    conn: &mut Conn,
    p: &Principal,
    i: &InstitutionInput,
) -> ApiResult<InstitutionData> {
    let kind = InstitutionKind::parse_field("kind", &i.kind)?;
    let (rc, _) = registered_region(conn, &i.region_code).await?;
    authorize_registry_write(p, &rc)?;
    check_institution_region(kind, rc.level())?;
    let grade = match i.grade.as_deref().filter(|g| !g.is_empty()) {
        Some(g) => Some(Grade::parse_field("grade", g)?),
        None => None,
    };
    let (lon, lat) = match (i.lon, i.lat) {
        (Some(lon), Some(lat)) => {
            let l = Location::parse(lon, lat)?;
            (Some(l.lon), Some(l.lat))
        }
        (None, None) => (None, None),
        _ => {
            return Err(ApiError::invalid(
                "location",
                "经纬度须同时提供",
                "give both lon and lat",
            ));
        }
    };
    let beds: Vec<(String, i64)> = i.beds.clone().into_iter().collect();
    check_counts("beds", &beds, |k| BedType::parse(k).is_some())?;
    let staff: Vec<(String, i64)> = i.staff.clone().into_iter().collect();
    check_counts("staff", &staff, |k| Profession::parse(k).is_some())?;
    let services = i
        .services
        .iter()
        .map(|s| Service::parse_field("services", s).map(|v| v.as_str().to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InstitutionData {
        code: code("code", &i.code)?,
        name: text("name", &i.name, 100)?,
        kind,
        grade,
        ownership: Ownership::parse_field("ownership", &i.ownership)?,
        region_code: rc.as_str().into(),
        address: i
            .address
            .clone()
            .unwrap_or_default()
            .trim()
            .chars()
            .take(200)
            .collect(),
        lon,
        lat,
        beds: CountMap(i.beds.clone()),
        staff: CountMap(i.staff.clone()),
        services: CodeList(services),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InstitutionQuery {
    pub kind: Option<String>,
    /// Only institutions inside this region code.
    pub within: Option<String>,
    pub service: Option<String>,
    pub consortium_id: Option<i64>,
    pub ownership: Option<String>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List institutions with filters.
#[utoipa::path(get, path = "/institutions", params(InstitutionQuery), responses((status = 200, body = Page<InstitutionRow>)), tag = "registries")]
async fn list_institutions(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<InstitutionQuery>,
) -> ApiResult<Json<Page<InstitutionRow>>> {
    auth.require(Action::ReadRegistry)?;
    let f = InstitutionFilter {
        kind: q.kind,
        within: q.within,
        service: q.service,
        consortium_id: q.consortium_id,
        ownership: q.ownership,
        q: q.q,
    };
    let mut c = s.store.read().await?;
    Ok(Json(
        registry::list_institutions(&mut c, &f, Paging::new(q.limit, q.offset)).await?,
    ))
}

/// Register an institution.
#[utoipa::path(post, path = "/institutions", request_body = InstitutionInput, responses((status = 201, body = InstitutionRow), (status = 422, body = crate::error::ErrorBody)), tag = "registries")]
async fn create_institution(
    State(s): State<AppState>,
    auth: Auth,
    Json(i): Json<InstitutionInput>,
) -> ApiResult<(StatusCode, Json<InstitutionRow>)> {
    let mut tx = s.store.write().await?;
    let d = institution_data(&mut tx, &auth.principal, &i).await?;
    let row = registry::insert_institution(&mut tx, &d).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Get an institution.
#[utoipa::path(get, path = "/institutions/{id}", responses((status = 200, body = InstitutionRow), (status = 404, body = crate::error::ErrorBody)), tag = "registries")]
async fn get_institution(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<InstitutionRow>> {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    registry::get_institution(&mut c, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("机构"))
}

/// Update an institution (optimistic: send the version you read).
#[utoipa::path(put, path = "/institutions/{id}", request_body = Versioned<InstitutionInput>, responses((status = 200, body = InstitutionRow), (status = 409, body = crate::error::ErrorBody)), tag = "registries")]
async fn update_institution(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(v): Json<Versioned<InstitutionInput>>,
) -> ApiResult<Json<InstitutionRow>> {
    let mut tx = s.store.write().await?;
    let old = registry::get_institution(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("机构"))?;
    authorize_registry_write(&auth.principal, &region_of(&old)?)?;
    let d = institution_data(&mut tx, &auth.principal, &v.data).await?;
    let row = registry::update_institution(&mut tx, id, v.version, &d).await?;
    tx.commit().await?;
    Ok(Json(row))
}

// ---------------------------------------------------------------- consortia

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsortiumInput {
    pub code: String,
    pub name: String,
    /// `county_consortium`, `city_group`, `specialty_alliance`, `telemedicine_network`.
    pub kind: String,
    pub lead_institution_code: String,
    pub region_code: String,
}

pub async fn consortium_data(
    conn: &mut Conn,
    p: &Principal,
    i: &ConsortiumInput,
) -> ApiResult<ConsortiumData> {
    let (rc, _) = registered_region(conn, &i.region_code).await?;
    authorize_registry_write(p, &rc)?;
    let lead = institution_by_code(conn, &i.lead_institution_code).await?;
    Ok(ConsortiumData {
        code: code("code", &i.code)?,
        name: text("name", &i.name, 100)?,
        kind: ConsortiumKind::parse_field("kind", &i.kind)?,
        lead_institution_id: lead.id,
        region_code: rc.as_str().into(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ConsortiumQuery {
    pub kind: Option<String>,
    pub member_institution_id: Option<i64>,
    pub within: Option<String>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List consortia.
#[utoipa::path(get, path = "/consortia", params(ConsortiumQuery), responses((status = 200, body = Page<ConsortiumRow>)), tag = "registries")]
async fn list_consortia(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ConsortiumQuery>,
) -> ApiResult<Json<Page<ConsortiumRow>>> {
    auth.require(Action::ReadRegistry)?;
    let f = ConsortiumFilter {
        kind: q.kind,
        member_institution_id: q.member_institution_id,
        within: q.within,
        q: q.q,
    };
    let mut c = s.store.read().await?;
    Ok(Json(
        registry::list_consortia(&mut c, &f, Paging::new(q.limit, q.offset)).await?,
    ))
}

/// Create a consortium; its lead becomes its first member.
#[utoipa::path(post, path = "/consortia", request_body = ConsortiumInput, responses((status = 201, body = ConsortiumRow)), tag = "registries")]
async fn create_consortium(
    State(s): State<AppState>,
    auth: Auth,
    Json(i): Json<ConsortiumInput>,
) -> ApiResult<(StatusCode, Json<ConsortiumRow>)> {
    let mut tx = s.store.write().await?;
    let d = consortium_data(&mut tx, &auth.principal, &i).await?;
    let row = registry::insert_consortium(&mut tx, &d).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ConsortiumDetail {
    #[serde(flatten)]
    pub consortium: ConsortiumRow,
    pub members: Vec<InstitutionBrief>,
}

/// Get a consortium with its members.
#[utoipa::path(get, path = "/consortia/{id}", responses((status = 200, body = ConsortiumDetail)), tag = "registries")]
async fn get_consortium(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConsortiumDetail>> {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    let consortium = registry::get_consortium(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("医联体"))?;
    let members = registry::members(&mut c, id).await?;
    Ok(Json(ConsortiumDetail {
        consortium,
        members,
    }))
}

async fn consortium_region(conn: &mut Conn, id: i64) -> ApiResult<RegionCode> {
    let c = registry::get_consortium(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("医联体"))?;
    RegionCode::parse(&c.region_code).map_err(|_| ApiError::internal())
}

/// Update a consortium.
#[utoipa::path(put, path = "/consortia/{id}", request_body = Versioned<ConsortiumInput>, responses((status = 200, body = ConsortiumRow)), tag = "registries")]
async fn update_consortium(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(v): Json<Versioned<ConsortiumInput>>,
) -> ApiResult<Json<ConsortiumRow>> {
    let mut tx = s.store.write().await?;
    authorize_registry_write(&auth.principal, &consortium_region(&mut tx, id).await?)?;
    let d = consortium_data(&mut tx, &auth.principal, &v.data).await?;
    let row = registry::update_consortium(&mut tx, id, v.version, &d).await?;
    tx.commit().await?;
    Ok(Json(row))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberInput {
    pub institution_code: String,
}

/// Add a member institution (an institution may be in several consortia).
#[utoipa::path(post, path = "/consortia/{id}/members", request_body = MemberInput, responses((status = 201, body = ConsortiumDetail)), tag = "registries")]
async fn add_consortium_member(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(m): Json<MemberInput>,
) -> ApiResult<(StatusCode, Json<ConsortiumDetail>)> {
    let mut tx = s.store.write().await?;
    authorize_registry_write(&auth.principal, &consortium_region(&mut tx, id).await?)?;
    let inst = institution_by_code(&mut tx, &m.institution_code).await?;
    registry::add_member(&mut tx, id, inst.id).await?;
    let consortium = registry::get_consortium(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("医联体"))?;
    let members = registry::members(&mut tx, id).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ConsortiumDetail {
            consortium,
            members,
        }),
    ))
}

/// Remove a member (never the lead).
#[utoipa::path(delete, path = "/consortia/{id}/members/{institution_id}", responses((status = 204)), tag = "registries")]
async fn remove_consortium_member(
    State(s): State<AppState>,
    auth: Auth,
    Path((id, institution_id)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    let mut tx = s.store.write().await?;
    authorize_registry_write(&auth.principal, &consortium_region(&mut tx, id).await?)?;
    let c = registry::get_consortium(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("医联体"))?;
    if c.lead_institution_id == institution_id {
        return Err(ApiError::invalid(
            "institution_id",
            "牵头机构不能移出",
            "the lead institution cannot be removed",
        ));
    }
    registry::remove_member(&mut tx, id, institution_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- practitioners

#[derive(Debug, Deserialize, ToSchema)]
pub struct PractitionerInput {
    pub code: String,
    pub name: String,
    /// `male` or `female`.
    pub sex: String,
    pub profession: String,
    pub specialty: Option<String>,
    #[serde(default)]
    pub is_gp: bool,
    #[serde(default)]
    pub is_tcm: bool,
    pub phone: Option<String>,
    /// Institution codes where they practice; the first is the main site.
    pub sites: Vec<String>,
}

pub async fn practitioner_data(
    conn: &mut Conn,
    p: &Principal,
    i: &PractitionerInput,
) -> ApiResult<PractitionerData> {
    if i.sites.is_empty() || i.sites.len() > 5 {
        return Err(ApiError::invalid(
            "sites",
            "执业机构为1至5个",
            "1 to 5 practice sites",
        ));
    }
    let mut site_ids = Vec::new();
    for (n, code) in i.sites.iter().enumerate() {
        let inst = institution_by_code(conn, code).await?;
        if n == 0 {
            authorize_registry_write(p, &region_of(&inst)?)?;
        }
        if site_ids.contains(&inst.id) {
            return Err(ApiError::invalid(
                "sites",
                "执业机构重复",
                "a practice site is listed twice",
            ));
        }
        site_ids.push(inst.id);
    }
    let sex = yilian_domain::id_number::Sex::parse(&i.sex).ok_or_else(|| {
        ApiError::invalid(
            "sex",
            "性别应为 male 或 female",
            "sex must be male or female",
        )
    })?;
    let phone = match i.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => Phone::parse(p)?.as_str().to_string(),
        None => String::new(),
    };
    Ok(PractitionerData {
        code: code("code", &i.code)?,
        name: yilian_domain::name::PersonName::parse(&i.name)?.name,
        sex: sex.as_str().into(),
        profession: Profession::parse_field("profession", &i.profession)?,
        specialty: i
            .specialty
            .as_deref()
            .map(|s| text("specialty", s, 60))
            .transpose()?,
        is_gp: i.is_gp,
        is_tcm: i.is_tcm,
        phone,
        site_ids,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PractitionerQuery {
    pub institution_id: Option<i64>,
    pub profession: Option<String>,
    pub is_gp: Option<bool>,
    pub is_tcm: Option<bool>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List practitioners (phones masked).
#[utoipa::path(get, path = "/practitioners", params(PractitionerQuery), responses((status = 200, body = Page<PractitionerRow>)), tag = "registries")]
async fn list_practitioners(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PractitionerQuery>,
) -> ApiResult<Json<Page<PractitionerRow>>> {
    auth.require(Action::ReadRegistry)?;
    let f = PractitionerFilter {
        institution_id: q.institution_id,
        profession: q.profession,
        is_gp: q.is_gp,
        is_tcm: q.is_tcm,
        q: q.q,
    };
    let mut c = s.store.read().await?;
    let mut page = registry::list_practitioners(&mut c, &f, Paging::new(q.limit, q.offset)).await?;
    for p in &mut page.items {
        p.phone = yilian_domain::mask::mask_phone(&p.phone);
    }
    Ok(Json(page))
}

/// Register a practitioner with their practice sites.
#[utoipa::path(post, path = "/practitioners", request_body = PractitionerInput, responses((status = 201, body = Practitioner)), tag = "registries")]
async fn create_practitioner(
    State(s): State<AppState>,
    auth: Auth,
    Json(i): Json<PractitionerInput>,
) -> ApiResult<(StatusCode, Json<Practitioner>)> {
    let mut tx = s.store.write().await?;
    let d = practitioner_data(&mut tx, &auth.principal, &i).await?;
    let row = registry::insert_practitioner(&mut tx, &d).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Get a practitioner.
#[utoipa::path(get, path = "/practitioners/{id}", responses((status = 200, body = Practitioner)), tag = "registries")]
async fn get_practitioner(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Practitioner>> {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    registry::get_practitioner(&mut c, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("人员"))
}

/// Update a practitioner.
#[utoipa::path(put, path = "/practitioners/{id}", request_body = Versioned<PractitionerInput>, responses((status = 200, body = Practitioner)), tag = "registries")]
async fn update_practitioner(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(v): Json<Versioned<PractitionerInput>>,
) -> ApiResult<Json<Practitioner>> {
    let mut tx = s.store.write().await?;
    let old = registry::get_practitioner(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("人员"))?;
    if let Some(main) = old.sites.first() {
        let inst = registry::get_institution(&mut tx, main.id)
            .await?
            .ok_or_else(ApiError::internal)?;
        authorize_registry_write(&auth.principal, &region_of(&inst)?)?;
    }
    let d = practitioner_data(&mut tx, &auth.principal, &v.data).await?;
    let row = registry::update_practitioner(&mut tx, id, v.version, &d).await?;
    tx.commit().await?;
    Ok(Json(row))
}

// ---------------------------------------------------------------- teams

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamMemberInput {
    pub practitioner_code: String,
    /// `lead`, `gp`, `nurse`, `village_doctor`, `specialist`, `public_health`, `pharmacist`.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamInput {
    pub code: String,
    pub name: String,
    /// The township or community health center the team belongs to.
    pub institution_code: String,
    /// Contract capacity (residents).
    pub capacity: i64,
    pub members: Vec<TeamMemberInput>,
}

pub async fn team_data(conn: &mut Conn, p: &Principal, i: &TeamInput) -> ApiResult<TeamData> {
    let inst = institution_by_code(conn, &i.institution_code).await?;
    authorize_registry_write(p, &region_of(&inst)?)?;
    if !(1..=100_000).contains(&i.capacity) {
        return Err(ApiError::invalid(
            "capacity",
            "签约容量应为1至100000",
            "capacity must be 1..=100000",
        ));
    }
    let mut members = Vec::new();
    let mut leads = 0;
    for m in &i.members {
        let role = TeamRole::parse_field("members.role", &m.role)?;
        let p = registry::get_practitioner_by_code(conn, &m.practitioner_code)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_practitioner",
                    format!("人员 {} 未登记", m.practitioner_code),
                    format!("practitioner {} is not registered", m.practitioner_code),
                )
            })?;
        if role == TeamRole::Lead {
            leads += 1;
            let prof = Profession::parse(&p.profession).ok_or_else(ApiError::internal)?;
            check_team_lead(p.is_gp.0, prof)?;
        }
        if members.iter().any(|(id, _)| *id == p.id) {
            return Err(ApiError::invalid(
                "members",
                "成员重复",
                "a member is listed twice",
            ));
        }
        members.push((p.id, role));
    }
    if leads != 1 {
        return Err(ApiError::invalid(
            "members",
            "团队须有且仅有一名团队长",
            "a team has exactly one lead",
        ));
    }
    Ok(TeamData {
        code: code("code", &i.code)?,
        name: text("name", &i.name, 100)?,
        institution_id: inst.id,
        capacity: i.capacity,
        members,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TeamQuery {
    pub institution_id: Option<i64>,
    pub practitioner_id: Option<i64>,
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List family doctor teams.
#[utoipa::path(get, path = "/teams", params(TeamQuery), responses((status = 200, body = Page<TeamRow>)), tag = "registries")]
async fn list_teams(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<TeamQuery>,
) -> ApiResult<Json<Page<TeamRow>>> {
    auth.require(Action::ReadRegistry)?;
    let f = TeamFilter {
        institution_id: q.institution_id,
        practitioner_id: q.practitioner_id,
        q: q.q,
    };
    let mut c = s.store.read().await?;
    Ok(Json(
        registry::list_teams(&mut c, &f, Paging::new(q.limit, q.offset)).await?,
    ))
}

/// Create a family doctor team (exactly one lead, a GP physician).
#[utoipa::path(post, path = "/teams", request_body = TeamInput, responses((status = 201, body = Team)), tag = "registries")]
async fn create_team(
    State(s): State<AppState>,
    auth: Auth,
    Json(i): Json<TeamInput>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    let mut tx = s.store.write().await?;
    let d = team_data(&mut tx, &auth.principal, &i).await?;
    let row = registry::insert_team(&mut tx, &d).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Get a team with its members.
#[utoipa::path(get, path = "/teams/{id}", responses((status = 200, body = Team)), tag = "registries")]
async fn get_team(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Team>> {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    registry::get_team(&mut c, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("团队"))
}

/// Update a team.
#[utoipa::path(put, path = "/teams/{id}", request_body = Versioned<TeamInput>, responses((status = 200, body = Team)), tag = "registries")]
async fn update_team(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(v): Json<Versioned<TeamInput>>,
) -> ApiResult<Json<Team>> {
    let mut tx = s.store.write().await?;
    let old = registry::get_team(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("团队"))?;
    let inst = registry::get_institution(&mut tx, old.row.institution_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    authorize_registry_write(&auth.principal, &region_of(&inst)?)?;
    let d = team_data(&mut tx, &auth.principal, &v.data).await?;
    let row = registry::update_team(&mut tx, id, v.version, &d).await?;
    tx.commit().await?;
    Ok(Json(row))
}

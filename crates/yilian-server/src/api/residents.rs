//! `/api/v1/residents` — the master patient index: register, search (masked),
//! detail (whole, logged), correct; `/api/v1/mpi` — duplicates, merge, unmerge.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::access::Action;
use yilian_domain::resident::ResidentInput;
use yilian_store::mpi::{CandidateRow, MergeRow};
use yilian_store::residents::ResidentFilter;
use yilian_store::{Page, Paging};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::service::{self, MergeRequest, Registered, ResidentDetail, ResidentSummary, ScanReport};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_residents, register_resident))
        .routes(routes!(get_resident, update_resident))
        .routes(routes!(scan_duplicates))
        .routes(routes!(list_candidates))
        .routes(routes!(reject_candidate))
        .routes(routes!(merge_residents))
        .routes(routes!(unmerge_residents))
}

/// Registration input (see `ResidentInput` in the domain crate).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResidentBody {
    /// 18-character GB 11643 identity number.
    pub id_number: String,
    pub name: String,
    pub phone: String,
    /// Optional; must agree with the identity number.
    pub sex: Option<String>,
    /// Optional `YYYY-MM-DD`; must agree with the identity number.
    pub birth_date: Option<String>,
    /// Registered region (usually the 12-digit village code) where they live.
    /// Defaults to the registering institution's region, or else the
    /// identity number's county when that county is registered.
    pub region_code: Option<String>,
    pub address: Option<String>,
    pub household_code: Option<String>,
    /// `employee`, `resident` (default) or `none`.
    pub insurance: Option<String>,
    /// Recorded key-population tags, e.g. `hypertension`, `diabetes_t2`.
    pub tags: Option<Vec<String>>,
}

impl From<ResidentBody> for ResidentInput {
    fn from(b: ResidentBody) -> Self {
        ResidentInput {
            id_number: b.id_number,
            name: b.name,
            phone: b.phone,
            sex: b.sex,
            birth_date: b.birth_date,
            region_code: b.region_code.unwrap_or_default(),
            address: b.address,
            household_code: b.household_code,
            insurance: b.insurance,
            tags: b.tags,
        }
    }
}

/// Register a resident; issues the electronic health card id.
#[utoipa::path(post, path = "/residents", request_body = ResidentBody,
    responses((status = 201, body = Registered), (status = 409, description = "duplicate_id_number", body = crate::error::ErrorBody), (status = 422, description = "invalid_id_number, unknown_region, …", body = crate::error::ErrorBody)),
    tag = "residents")]
async fn register_resident(
    State(s): State<AppState>,
    auth: Auth,
    Json(b): Json<ResidentBody>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let r = service::register_resident(&s.store, &s.regions, &auth.principal, &b.into(), s.today())
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResidentQuery {
    /// Free text: name or its prefix, pinyin prefix, initials, identity
    /// number, health card id or phone.
    pub q: Option<String>,
    pub id_number: Option<String>,
    pub health_card_id: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    /// Only residents living inside this region code.
    pub within: Option<String>,
    pub household_code: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Search residents visible to the caller; identity numbers and phones masked.
#[utoipa::path(get, path = "/residents", params(ResidentQuery), responses((status = 200, body = Page<ResidentSummary>)), tag = "residents")]
async fn search_residents(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ResidentQuery>,
) -> ApiResult<Json<Page<ResidentSummary>>> {
    auth.require(Action::ReadResident)?;
    let f = ResidentFilter {
        q: q.q,
        id_number: q.id_number,
        health_card_id: q.health_card_id,
        phone: q.phone,
        name: q.name,
        within: q.within,
        household_code: q.household_code,
        include_merged: false,
        ..Default::default()
    };
    Ok(Json(
        service::search_residents(
            &s.store,
            &auth.principal,
            &f,
            Paging::new(q.limit, q.offset),
            s.today(),
        )
        .await?,
    ))
}

/// A resident's detail (whole identity number and phone). The read is logged.
#[utoipa::path(get, path = "/residents/{id}", responses((status = 200, body = ResidentDetail), (status = 404, body = crate::error::ErrorBody)), tag = "residents")]
async fn get_resident(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ResidentDetail>> {
    auth.require(Action::ReadResident)?;
    Ok(Json(
        service::resident_detail(&s.store, &auth.principal, id, s.today()).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResidentUpdate {
    pub version: i64,
    #[serde(flatten)]
    pub body: ResidentBody,
}

/// Correct a resident's demographics (send the version you read).
#[utoipa::path(put, path = "/residents/{id}", request_body = ResidentUpdate, responses((status = 200, body = ResidentDetail), (status = 409, body = crate::error::ErrorBody)), tag = "residents")]
async fn update_resident(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(u): Json<ResidentUpdate>,
) -> ApiResult<Json<ResidentDetail>> {
    Ok(Json(
        service::update_resident(
            &s.store,
            &auth.principal,
            id,
            u.version,
            &u.body.into(),
            s.today(),
        )
        .await?,
    ))
}

/// Run duplicate detection over the caller's area; stores candidate pairs.
#[utoipa::path(post, path = "/mpi/scan", responses((status = 200, body = ScanReport)), tag = "mpi")]
async fn scan_duplicates(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<ScanReport>> {
    Ok(Json(
        service::scan_duplicates(&s.store, &auth.principal).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CandidateQuery {
    /// `open` (default), `merged`, `rejected`, or `all`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Candidate duplicate pairs, best score first.
#[utoipa::path(get, path = "/mpi/candidates", params(CandidateQuery), responses((status = 200, body = Page<CandidateRow>)), tag = "mpi")]
async fn list_candidates(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<CandidateQuery>,
) -> ApiResult<Json<Page<CandidateRow>>> {
    let status = match q.status.as_deref() {
        None => Some("open"),
        Some("all") => None,
        Some(other) => Some(other),
    };
    Ok(Json(
        service::list_candidates(
            &s.store,
            &auth.principal,
            status,
            Paging::new(q.limit, q.offset),
        )
        .await?,
    ))
}

/// Mark a candidate pair as not the same person.
#[utoipa::path(post, path = "/mpi/candidates/{id}/reject", responses((status = 204)), tag = "mpi")]
async fn reject_candidate(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    service::reject_candidate(&s.store, &auth.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Merge a duplicate into a survivor; every record of both is kept.
#[utoipa::path(post, path = "/mpi/merges", request_body = MergeRequest, responses((status = 201, body = MergeRow), (status = 409, body = crate::error::ErrorBody)), tag = "mpi")]
async fn merge_residents(
    State(s): State<AppState>,
    auth: Auth,
    Json(m): Json<MergeRequest>,
) -> ApiResult<(StatusCode, Json<MergeRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::merge(&s.store, &auth.principal, &m).await?),
    ))
}

/// Undo a merge.
#[utoipa::path(post, path = "/mpi/merges/{id}/unmerge", responses((status = 200, body = MergeRow), (status = 409, body = crate::error::ErrorBody)), tag = "mpi")]
async fn unmerge_residents(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<MergeRow>> {
    Ok(Json(service::unmerge(&s.store, &auth.principal, id).await?))
}

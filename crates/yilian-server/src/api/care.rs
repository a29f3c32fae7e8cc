//! `/api/v1` family doctor contracting and chronic care.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::access::Action;
use yilian_domain::contract::ServicePackage;
use yilian_store::care::{self as store, ContractFilter, ContractRow, SettlementRow};
use yilian_store::{Page, Paging};

use crate::auth::Auth;
use crate::care::{
    self, ChronicRecord, ContractChange, ContractProgress, DeliveryRequest, EnrolRequest, Enrolled,
    FollowUpRequest, FollowUpResult, PrescriptionRequest, PrescriptionResult, SettlementRequest,
    SignRequest, WorkLine,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packages))
        .routes(routes!(list_contracts, sign_contract))
        .routes(routes!(get_contract))
        .routes(routes!(change_contract))
        .routes(routes!(record_delivery))
        .routes(routes!(resident_priority))
        .routes(routes!(prescribe))
        .routes(routes!(enrol))
        .routes(routes!(chronic_record))
        .routes(routes!(follow_up))
        .routes(routes!(work_list))
        .routes(routes!(effective_contracts))
        .routes(routes!(settle_fees))
}

/// Service packages in force today (服务包目录).
#[utoipa::path(get, path = "/packages", responses((status = 200, body = Vec<Object>)), tag = "contracting")]
async fn list_packages(
    State(s): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Vec<ServicePackage>>> {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    Ok(Json(
        store::packages_in_force(&mut c, &s.today().to_string()).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ContractQuery {
    pub team_id: Option<i64>,
    pub doctor_id: Option<i64>,
    pub resident_id: Option<i64>,
    /// `active`, `renewed`, `cancelled`, `transferred`, `expired`.
    pub status: Option<String>,
    pub household_code: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// List contracts (care roles: of their own area's residents via team filter).
#[utoipa::path(get, path = "/contracts", params(ContractQuery), responses((status = 200, body = Page<ContractRow>)), tag = "contracting")]
async fn list_contracts(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ContractQuery>,
) -> ApiResult<Json<Page<ContractRow>>> {
    if !(yilian_domain::access::allowed(auth.principal.role, Action::WriteCare)
        || yilian_domain::access::allowed(auth.principal.role, Action::ManageFees))
    {
        return Err(ApiError::forbidden());
    }
    let mut c = s.store.read().await?;
    if let Some(r) = q.resident_id {
        care::visible_resident(&mut c, &auth.principal, r).await?;
    }
    let f = ContractFilter {
        team_id: q.team_id,
        doctor_id: q.doctor_id,
        resident_id: q.resident_id,
        status: q.status,
        household_code: q.household_code,
    };
    let scope = yilian_domain::access::resident_scope(&auth.principal);
    let page = store::list_contracts(&mut c, &f, &scope, Paging::new(q.limit, q.offset)).await?;
    Ok(Json(page))
}

/// Sign a resident or a whole household with a family doctor team.
#[utoipa::path(post, path = "/contracts", request_body = SignRequest,
    responses((status = 201, body = Vec<ContractRow>), (status = 409, description = "contract_exists, contract_cap_reached", body = crate::error::ErrorBody)), tag = "contracting")]
async fn sign_contract(
    State(s): State<AppState>,
    auth: Auth,
    Json(r): Json<SignRequest>,
) -> ApiResult<(StatusCode, Json<Vec<ContractRow>>)> {
    let rows = care::sign(&s.store, &auth.principal, &r, s.today(), &s.settings.caps).await?;
    Ok((StatusCode::CREATED, Json(rows)))
}

/// A contract.
#[utoipa::path(get, path = "/contracts/{id}", responses((status = 200, body = ContractRow)), tag = "contracting")]
async fn get_contract(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ContractRow>> {
    auth.require(Action::ReadResident)?;
    let mut c = s.store.read().await?;
    let k = store::get_contract(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("签约"))?;
    care::visible_resident(&mut c, &auth.principal, k.resident_id).await?;
    Ok(Json(k))
}

/// Renew, cancel (with reason), transfer or expire a contract.
#[utoipa::path(post, path = "/contracts/{id}/events", request_body = ContractChange,
    responses((status = 200, body = ContractRow), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)), tag = "contracting")]
async fn change_contract(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(ch): Json<ContractChange>,
) -> ApiResult<Json<ContractRow>> {
    Ok(Json(
        care::change(
            &s.store,
            &auth.principal,
            id,
            &ch,
            s.today(),
            &s.settings.caps,
        )
        .await?,
    ))
}

/// Record a delivered service of a contract.
#[utoipa::path(post, path = "/contracts/{id}/deliveries", request_body = DeliveryRequest, responses((status = 204)), tag = "contracting")]
async fn record_delivery(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(d): Json<DeliveryRequest>,
) -> ApiResult<StatusCode> {
    care::record_delivery(&s.store, &auth.principal, id, &d, s.today()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PriorityQuery {
    /// Defaults to today.
    pub date: Option<String>,
}

/// `priority_of(resident, date)`: contracted residents come first.
#[utoipa::path(get, path = "/residents/{id}/priority", params(PriorityQuery), responses((status = 200, body = Object)), tag = "contracting")]
async fn resident_priority(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Query(q): Query<PriorityQuery>,
) -> ApiResult<Json<yilian_domain::contract::Priority>> {
    let date = match q.date {
        Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid("date", "日期格式应为 YYYY-MM-DD", "date is YYYY-MM-DD")
        })?,
        None => s.today(),
    };
    Ok(Json(
        care::priority(&s.store, &auth.principal, id, date).await?,
    ))
}

/// Prescribe (long-prescription rules apply beyond 28 days).
#[utoipa::path(post, path = "/prescriptions", request_body = PrescriptionRequest,
    responses((status = 201, body = PrescriptionResult), (status = 422, description = "long_prescription_limit", body = crate::error::ErrorBody)), tag = "chronic")]
async fn prescribe(
    State(s): State<AppState>,
    auth: Auth,
    Json(r): Json<PrescriptionRequest>,
) -> ApiResult<(StatusCode, Json<PrescriptionResult>)> {
    Ok((
        StatusCode::CREATED,
        Json(care::prescribe(&s.store, &auth.principal, &r, s.today()).await?),
    ))
}

/// Enrol a resident in a chronic programme (from a diagnosis or a screening).
#[utoipa::path(post, path = "/enrolments", request_body = EnrolRequest, responses((status = 201, body = Enrolled)), tag = "chronic")]
async fn enrol(
    State(s): State<AppState>,
    auth: Auth,
    Json(r): Json<EnrolRequest>,
) -> ApiResult<(StatusCode, Json<Enrolled>)> {
    Ok((
        StatusCode::CREATED,
        Json(care::enrol(&s.store, &auth.principal, &r, s.today()).await?),
    ))
}

/// A managed patient's programme record (risk history, follow-ups, 六个一).
#[utoipa::path(get, path = "/enrolments/{id}", responses((status = 200, body = ChronicRecord)), tag = "chronic")]
async fn chronic_record(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChronicRecord>> {
    auth.require(Action::ReadResident)?;
    Ok(Json(
        care::chronic_record(&s.store, &auth.principal, id, s.today()).await?,
    ))
}

/// Record a follow-up; the risk colour and schedule are recomputed.
#[utoipa::path(post, path = "/enrolments/{id}/followups", request_body = FollowUpRequest,
    responses((status = 201, body = FollowUpResult), (status = 422, description = "value_out_of_range", body = crate::error::ErrorBody)), tag = "chronic")]
async fn follow_up(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<FollowUpRequest>,
) -> ApiResult<(StatusCode, Json<FollowUpResult>)> {
    Ok((
        StatusCode::CREATED,
        Json(care::follow_up(&s.store, &auth.principal, id, &r, s.today()).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WorkListQuery {
    pub team_id: Option<i64>,
    /// Days ahead counted as due (default 7).
    pub window: Option<i64>,
    /// At most this many lines, most overdue first (default 500, max 5000).
    pub limit: Option<i64>,
}

/// Today's due and overdue follow-ups of the caller's residents, colour-coded.
#[utoipa::path(get, path = "/worklist", params(WorkListQuery), responses((status = 200, body = Vec<WorkLine>)), tag = "chronic")]
async fn work_list(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<WorkListQuery>,
) -> ApiResult<Json<Vec<WorkLine>>> {
    Ok(Json(
        care::work_list(
            &s.store,
            &auth.principal,
            q.team_id,
            q.window.unwrap_or(7),
            q.limit.unwrap_or(500),
            s.today(),
        )
        .await?,
    ))
}

/// 有效签约: a team's contracts and whether their promised services are on schedule.
#[utoipa::path(get, path = "/teams/{id}/effective-contracts", responses((status = 200, body = Vec<ContractProgress>)), tag = "contracting")]
async fn effective_contracts(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ContractProgress>>> {
    Ok(Json(
        care::effective_contracts(&s.store, &auth.principal, id, s.today()).await?,
    ))
}

/// Settle a team's contract fees for a year (≥ 70 % to the team's pay).
#[utoipa::path(post, path = "/teams/{id}/settlements", request_body = SettlementRequest,
    responses((status = 201, body = SettlementRow), (status = 422, description = "fee_share_below_minimum", body = crate::error::ErrorBody)), tag = "contracting")]
async fn settle_fees(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<SettlementRequest>,
) -> ApiResult<(StatusCode, Json<SettlementRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(care::settle(&s.store, &auth.principal, id, &r).await?),
    ))
}

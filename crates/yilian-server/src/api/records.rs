//! `/api/v1` shared health record: timelines read on stated grounds (every
//! read logged), entries, the resident's consents and access log.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_store::Paging;
use yilian_store::records::{AccessRow, ConsentRow, EntryRow};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::record::{self, ConsentRequest, EntryRequest, Timeline, TimelineQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(resident_record, add_entry))
        .routes(routes!(my_record))
        .routes(routes!(my_access_log))
        .routes(routes!(my_consents, grant_consent))
        .routes(routes!(revoke_consent))
        .routes(routes!(review_list))
}

/// A resident's timeline, newest first. Needs a ground (treating
/// relationship, consent, or `break_glass` with a reason); the read — or the
/// refusal, 403 `no_access_grounds` — is logged.
#[utoipa::path(get, path = "/residents/{id}/record", params(TimelineQuery),
    responses((status = 200, body = Timeline), (status = 403, description = "no_access_grounds", body = crate::error::ErrorBody)), tag = "record")]
async fn resident_record(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Query(q): Query<TimelineQuery>,
) -> ApiResult<Json<Timeline>> {
    Ok(Json(
        record::timeline(&s.store, &auth.principal, id, &q, s.settings.encounter_days).await?,
    ))
}

/// Add an entry (encounter, diagnosis, prescription, result, document) at the caller's institution.
#[utoipa::path(post, path = "/residents/{id}/record", request_body = EntryRequest,
    responses((status = 201, body = EntryRow)), tag = "record")]
async fn add_entry(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(req): Json<EntryRequest>,
) -> ApiResult<(StatusCode, Json<EntryRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(record::add_entry(&s.store, &auth.principal, id, &req).await?),
    ))
}

/// The caller's own record (residents).
#[utoipa::path(get, path = "/me/record", params(TimelineQuery), responses((status = 200, body = Timeline)), tag = "record")]
async fn my_record(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<TimelineQuery>,
) -> ApiResult<Json<Timeline>> {
    let me = auth.principal.resident_id.ok_or_else(ApiError::forbidden)?;
    Ok(Json(
        record::timeline(&s.store, &auth.principal, me, &q, s.settings.encounter_days).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Who read the caller's record, newest first (residents).
#[utoipa::path(get, path = "/me/access-log", params(PageQuery), responses((status = 200, body = yilian_store::Page<AccessRow>)), tag = "record")]
async fn my_access_log(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<yilian_store::Page<AccessRow>>> {
    Ok(Json(
        record::my_access_log(&s.store, &auth.principal, Paging::new(q.limit, q.offset)).await?,
    ))
}

/// The caller's consents (residents).
#[utoipa::path(get, path = "/me/consents", responses((status = 200, body = Vec<ConsentRow>)), tag = "record")]
async fn my_consents(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<ConsentRow>>> {
    Ok(Json(record::my_consents(&s.store, &auth.principal).await?))
}

/// Grant an institution or consortium access for a period; a period in the past is 422 `invalid_consent_period`.
#[utoipa::path(post, path = "/me/consents", request_body = ConsentRequest,
    responses((status = 201, body = ConsentRow), (status = 422, description = "invalid_consent_period", body = crate::error::ErrorBody)), tag = "record")]
async fn grant_consent(
    State(s): State<AppState>,
    auth: Auth,
    Json(req): Json<ConsentRequest>,
) -> ApiResult<(StatusCode, Json<ConsentRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(record::grant_consent(&s.store, &auth.principal, &req).await?),
    ))
}

/// Revoke a consent; effective at once.
#[utoipa::path(post, path = "/me/consents/{id}/revoke", responses((status = 200, body = ConsentRow)), tag = "record")]
async fn revoke_consent(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConsentRow>> {
    Ok(Json(
        record::revoke_consent(&s.store, &auth.principal, id).await?,
    ))
}

/// Emergency (break-glass) reads awaiting review (health commission, administrators).
#[utoipa::path(get, path = "/access-log/review", params(PageQuery), responses((status = 200, body = yilian_store::Page<AccessRow>)), tag = "record")]
async fn review_list(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<yilian_store::Page<AccessRow>>> {
    Ok(Json(
        record::review_list(&s.store, &auth.principal, Paging::new(q.limit, q.offset)).await?,
    ))
}

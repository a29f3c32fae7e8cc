//! `/api/v1` 检查检验结果互认: the check before an order, the order (using
//! a recognisable result, repeating it for a listed reason, or new), the
//! report per institution and consortium, the catalogue, and the labs'
//! external quality assessment.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::access::Action;
use yilian_store::recognition::{LabQualityRow, OrderRow};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::recognition::{
    self as service, CatalogView, CheckRequest, LabQuality, LabQualityRequest, OrderOutcome,
    OrderRequest, RecognitionView, Report, ReportQuery,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(list_orders, place_order))
        .routes(routes!(report))
        .routes(routes!(catalog))
        .routes(routes!(lab_quality, record_lab_quality))
}

/// 开单前核查 — the recognisable earlier result of an item, if any, with a
/// verdict per earlier result. Reads the resident's results: needs a ground
/// (treating relationship, consent, or `break_glass`), logged as part `results`.
#[utoipa::path(post, path = "/residents/{id}/orders/check", request_body = CheckRequest,
    responses((status = 200, body = RecognitionView),
        (status = 403, description = "forbidden / no_access_grounds", body = crate::error::ErrorBody),
        (status = 422, description = "invalid_field (item not in the catalogue)", body = crate::error::ErrorBody)),
    tag = "recognition")]
async fn check(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(req): Json<CheckRequest>,
) -> ApiResult<Json<RecognitionView>> {
    Ok(Json(
        service::check(
            &s.store,
            &s.recognition_catalog,
            &auth.principal,
            id,
            &req,
            s.settings.encounter_days,
        )
        .await?,
    ))
}

/// 开单 — records an order. `use_result_id` uses a recognisable result
/// (`recognized`, with the money saved); without it, while a recognisable
/// result exists, a listed `repeat_reason` is required (422
/// `repeat_reason_required`, nothing stored) and is written into the chart
/// (`repeated`); with no recognisable result the order is `new`.
#[utoipa::path(post, path = "/residents/{id}/orders", request_body = OrderRequest,
    responses((status = 201, body = OrderOutcome),
        (status = 403, description = "forbidden / no_access_grounds", body = crate::error::ErrorBody),
        (status = 422, description = "repeat_reason_required, result_not_recognizable, invalid_field", body = crate::error::ErrorBody)),
    tag = "recognition")]
async fn place_order(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(req): Json<OrderRequest>,
) -> ApiResult<(StatusCode, Json<OrderOutcome>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            service::place_order(
                &s.store,
                &s.recognition_catalog,
                &auth.principal,
                id,
                &req,
                s.settings.encounter_days,
            )
            .await?,
        ),
    ))
}

/// A resident's recent orders, newest first (clinical roles).
#[utoipa::path(get, path = "/residents/{id}/orders",
    responses((status = 200, body = Vec<OrderRow>)), tag = "recognition")]
async fn list_orders(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<OrderRow>>> {
    Ok(Json(
        service::orders_of(&s.store, &auth.principal, id).await?,
    ))
}

/// 互认统计 — recognitions, repeats by reason, new orders and money saved
/// per ordering institution and per consortium (health commission,
/// administrators, insurer; region-bound readers see their region).
#[utoipa::path(get, path = "/recognition/report", params(ReportQuery),
    responses((status = 200, body = Report), (status = 403, body = crate::error::ErrorBody)), tag = "recognition")]
async fn report(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Report>> {
    Ok(Json(service::report(&s.store, &auth.principal, &q).await?))
}

/// The recognition catalogue in force (items, windows, prices) and the listed repeat reasons.
#[utoipa::path(get, path = "/recognition/catalog",
    responses((status = 200, body = CatalogView)), tag = "recognition")]
async fn catalog(State(s): State<AppState>, _auth: Auth) -> Json<CatalogView> {
    Json(service::catalog_view(&s.recognition_catalog))
}

/// 室间质评 — an institution's passed external quality assessments and
/// whether one covers today (its results count as from a lab in good standing).
#[utoipa::path(get, path = "/institutions/{id}/lab-quality",
    responses((status = 200, body = LabQuality)), tag = "recognition")]
async fn lab_quality(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<LabQuality>> {
    auth.require(Action::ReadRegistry)?;
    Ok(Json(service::lab_quality(&s.store, id).await?))
}

/// Record a passed external quality assessment (administrators; the health
/// commission for institutions in its region). Results taken on a day it
/// covers count as from a lab in good standing.
#[utoipa::path(post, path = "/institutions/{id}/lab-quality", request_body = LabQualityRequest,
    responses((status = 201, body = LabQualityRow), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)), tag = "recognition")]
async fn record_lab_quality(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(req): Json<LabQualityRequest>,
) -> ApiResult<(StatusCode, Json<LabQualityRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::record_lab_quality(&s.store, &auth.principal, id, &req).await?),
    ))
}

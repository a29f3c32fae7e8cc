//! `/api/v1` two-way referral and appointments.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_store::referrals::{AppointmentRow, SlotRow};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::referral::{self, BoxLine, ReferralChange, ReferralRequest, ReferralView, SlotPlan};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_referral))
        .routes(routes!(get_referral))
        .routes(routes!(change_referral))
        .routes(routes!(redirect_referral))
        .routes(routes!(inbox))
        .routes(routes!(outbox))
        .routes(routes!(open_slots, list_slots))
        .routes(routes!(book))
        .routes(routes!(cancel_appointment))
        .routes(routes!(reschedule_appointment))
        .routes(routes!(no_show))
        .routes(routes!(list_outbox))
        .routes(routes!(retry_outbox))
}

/// Create a referral; with `submit` (default) the rules run first.
#[utoipa::path(post, path = "/referrals", request_body = ReferralRequest,
    responses((status = 201, body = ReferralView), (status = 422, description = "justification_required, service_not_available, unknown_icd10", body = crate::error::ErrorBody)),
    tag = "referral")]
async fn create_referral(
    State(s): State<AppState>,
    auth: Auth,
    Json(r): Json<ReferralRequest>,
) -> ApiResult<(StatusCode, Json<ReferralView>)> {
    let v = referral::create(
        &s.store,
        &auth.principal,
        &r,
        &s.catalog,
        &s.settings.response_limits,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// A referral with its rule findings and event trail.
#[utoipa::path(get, path = "/referrals/{id}", responses((status = 200, body = ReferralView)), tag = "referral")]
async fn get_referral(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ReferralView>> {
    Ok(Json(referral::get(&s.store, &auth.principal, id).await?))
}

/// Move a referral through its states (the allowed side only).
#[utoipa::path(post, path = "/referrals/{id}/events", request_body = ReferralChange,
    responses((status = 200, body = ReferralView), (status = 409, description = "illegal_transition, slot_unavailable", body = crate::error::ErrorBody)), tag = "referral")]
async fn change_referral(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(c): Json<ReferralChange>,
) -> ApiResult<Json<ReferralView>> {
    Ok(Json(
        referral::change(
            &s.store,
            &auth.principal,
            id,
            &c,
            &s.settings.response_limits,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RedirectRequest {
    pub to_institution_code: String,
    pub justification: Option<String>,
}

/// Redirect a declined referral to another institution.
#[utoipa::path(post, path = "/referrals/{id}/redirect", request_body = RedirectRequest, responses((status = 201, body = ReferralView)), tag = "referral")]
async fn redirect_referral(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<RedirectRequest>,
) -> ApiResult<(StatusCode, Json<ReferralView>)> {
    let v = referral::redirect(
        &s.store,
        &auth.principal,
        id,
        &r.to_institution_code,
        r.justification,
        &s.catalog,
        &s.settings.response_limits,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BoxQuery {
    /// Include closed referrals (default: open only).
    #[serde(default)]
    pub all: bool,
    /// Only referrals past their response deadline.
    #[serde(default)]
    pub overdue: bool,
}

/// Referrals received by the caller's institution, in priority order.
#[utoipa::path(get, path = "/referrals/inbox", params(BoxQuery), responses((status = 200, body = Vec<BoxLine>)), tag = "referral")]
async fn inbox(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<BoxQuery>,
) -> ApiResult<Json<Vec<BoxLine>>> {
    let lines = referral::referral_box(&s.store, &auth.principal, true, !q.all).await?;
    Ok(Json(
        lines
            .into_iter()
            .filter(|l| !q.overdue || l.overdue)
            .collect(),
    ))
}

/// Referrals sent by the caller's institution, with their states.
#[utoipa::path(get, path = "/referrals/outbox", params(BoxQuery), responses((status = 200, body = Vec<BoxLine>)), tag = "referral")]
async fn outbox(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<BoxQuery>,
) -> ApiResult<Json<Vec<BoxLine>>> {
    Ok(Json(
        referral::referral_box(&s.store, &auth.principal, false, !q.all).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Opened {
    pub opened: u64,
}

/// Open time-sliced slots at the caller's institution.
#[utoipa::path(post, path = "/slots", request_body = SlotPlan, responses((status = 201, body = Opened)), tag = "appointments")]
async fn open_slots(
    State(s): State<AppState>,
    auth: Auth,
    Json(p): Json<SlotPlan>,
) -> ApiResult<(StatusCode, Json<Opened>)> {
    let opened = referral::open_slots(&s.store, &auth.principal, &p).await?;
    Ok((StatusCode::CREATED, Json(Opened { opened })))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SlotQuery {
    pub institution_id: i64,
    /// From (inclusive), `YYYY-MM-DDTHH:MM:SS`.
    pub from: String,
    /// To (exclusive).
    pub to: String,
}

/// Slots of an institution in a time range, with whether each is booked.
#[utoipa::path(get, path = "/slots", params(SlotQuery), responses((status = 200, body = Vec<SlotRow>)), tag = "appointments")]
async fn list_slots(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<SlotQuery>,
) -> ApiResult<Json<Vec<SlotRow>>> {
    auth.require(yilian_domain::access::Action::ReadRegistry)?;
    Ok(Json(
        referral::list_slots(&s.store, q.institution_id, &q.from, &q.to).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BookRequest {
    pub slot_id: i64,
    pub resident_id: i64,
}

/// Book a slot; a taken or reserved slot is 409 `slot_unavailable`.
#[utoipa::path(post, path = "/appointments", request_body = BookRequest,
    responses((status = 201, body = AppointmentRow), (status = 409, description = "slot_unavailable", body = crate::error::ErrorBody)), tag = "appointments")]
async fn book(
    State(s): State<AppState>,
    auth: Auth,
    Json(b): Json<BookRequest>,
) -> ApiResult<(StatusCode, Json<AppointmentRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(referral::book(&s.store, &auth.principal, b.slot_id, b.resident_id).await?),
    ))
}

/// Cancel an appointment (the slot opens again).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RescheduleRequest {
    pub slot_id: i64,
}

/// Move a booked appointment to another slot of the same institution; a taken or reserved slot is 409 and the old booking stays.
#[utoipa::path(post, path = "/appointments/{id}/reschedule", request_body = RescheduleRequest,
    responses((status = 200, body = AppointmentRow), (status = 409, description = "slot_unavailable", body = crate::error::ErrorBody)), tag = "appointments")]
async fn reschedule_appointment(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<RescheduleRequest>,
) -> ApiResult<Json<AppointmentRow>> {
    Ok(Json(
        referral::reschedule(&s.store, &auth.principal, id, r.slot_id).await?,
    ))
}

/// Record that the resident did not come (the slot's institution, once the time has begun).
#[utoipa::path(post, path = "/appointments/{id}/no-show", responses((status = 200, body = AppointmentRow)), tag = "appointments")]
async fn no_show(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<AppointmentRow>> {
    Ok(Json(
        referral::no_show(&s.store, &auth.principal, id).await?,
    ))
}

#[utoipa::path(post, path = "/appointments/{id}/cancel", responses((status = 200, body = AppointmentRow)), tag = "appointments")]
async fn cancel_appointment(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<AppointmentRow>> {
    Ok(Json(
        referral::cancel_appointment(&s.store, &auth.principal, id).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// `pending` (default), `delivered` or `dead`.
    pub state: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Notification outbox (admin): pending, delivered and dead letters.
#[utoipa::path(get, path = "/outbox", params(OutboxQuery), responses((status = 200, body = yilian_store::Page<yilian_store::referrals::OutboxRow>)), tag = "referral")]
async fn list_outbox(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Json<yilian_store::Page<yilian_store::referrals::OutboxRow>>> {
    auth.require(yilian_domain::access::Action::ManageUsers)?;
    let mut c = s.store.read().await?;
    let state = q.state.as_deref().unwrap_or("pending");
    Ok(Json(
        yilian_store::referrals::outbox(
            &mut c,
            state,
            yilian_store::Paging::new(q.limit, q.offset),
        )
        .await?,
    ))
}

/// Requeue a dead letter (admin).
#[utoipa::path(post, path = "/outbox/{id}/retry", responses((status = 204)), tag = "referral")]
async fn retry_outbox(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    auth.require(yilian_domain::access::Action::ManageUsers)?;
    let mut c = s.store.read().await?;
    yilian_store::referrals::retry_dead(&mut c, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1` remote diagnosis (远程影像/心电/病理/会诊): requests with the exam
//! file as `multipart/form-data`, the readers' work list with clocks,
//! claim / release / report / sign / cancel, the overdue list, and the file
//! (a logged read of the resident's record).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::remote::RemoteEvent;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::referral::now_cst;
use crate::remote::{self, RemoteInput, RemoteLine, RemoteView, ReportInput};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    // Only the upload route takes a body this large; it is read in bounded
    // chunks (`remote::read_form`) and past the limit answered with 413.
    let upload = OpenApiRouter::new()
        .routes(routes!(create_request))
        .layer(DefaultBodyLimit::max(remote::BODY_LIMIT));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(worklist))
        .routes(routes!(sent))
        .routes(routes!(overdue))
        .routes(routes!(get_request))
        .routes(routes!(get_file))
        .routes(routes!(claim))
        .routes(routes!(release))
        .routes(routes!(report))
        .routes(routes!(sign))
        .routes(routes!(cancel))
}

/// The multipart form of a request (for the OpenAPI document).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RemoteUpload {
    pub resident_id: i64,
    /// `imaging`, `ecg`, `pathology`, `consultation`.
    pub kind: String,
    /// `routine` (default), `urgent`, `emergency`.
    pub urgency: Option<String>,
    pub to_institution_code: String,
    pub question: String,
    /// A reference to the exam held elsewhere (PACS accession number, URL).
    pub file_ref: Option<String>,
    /// Required when the hospital is outside the requester's consortium.
    pub reason: Option<String>,
    /// The exam file (DICOM, JPEG, PNG, PDF or HL7 aECG XML; ≤ 20 MiB).
    #[schema(value_type = Option<String>, format = Binary)]
    pub file: Option<Vec<u8>>,
}

fn multipart_rejection(r: MultipartRejection) -> ApiError {
    ApiError::malformed(format!("expected multipart/form-data ({})", r.body_text()))
}

/// Request a remote read or consultation (`multipart/form-data`). The file
/// is checked before anything is stored: over 20 MiB → 413
/// `payload_too_large`; not what it claims (or not an exam file) → 415
/// `unsupported_media_type`.
#[utoipa::path(post, path = "/remote-requests",
    request_body(content = RemoteUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = RemoteView),
        (status = 413, description = "payload_too_large", body = crate::error::ErrorBody),
        (status = 415, description = "unsupported_media_type", body = crate::error::ErrorBody),
        (status = 422, description = "invalid_field, invalid_target, justification_required, unknown_institution", body = crate::error::ErrorBody)),
    tag = "remote")]
async fn create_request(
    State(s): State<AppState>,
    auth: Auth,
    mp: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<RemoteView>)> {
    let form = remote::read_form(mp.map_err(multipart_rejection)?).await?;
    let input = RemoteInput::from_form(&form)?;
    let v = remote::create(
        &s.store,
        &auth.principal,
        &input,
        form.file,
        &s.settings.remote_limits,
        now_cst(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// The reading hospital's work list: open requests, emergency first, then
/// urgent, then routine, oldest first, each with its turnaround clock.
#[utoipa::path(get, path = "/remote-requests/worklist", responses((status = 200, body = Vec<RemoteLine>)), tag = "remote")]
async fn worklist(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<RemoteLine>>> {
    Ok(Json(
        remote::worklist(&s.store, &auth.principal, now_cst()).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SentQuery {
    /// Only this resident's requests.
    pub resident_id: Option<i64>,
}

/// Requests sent by the caller's institution, newest first, with states and clocks.
#[utoipa::path(get, path = "/remote-requests/sent", params(SentQuery), responses((status = 200, body = Vec<RemoteLine>)), tag = "remote")]
async fn sent(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<SentQuery>,
) -> ApiResult<Json<Vec<RemoteLine>>> {
    Ok(Json(
        remote::sent(&s.store, &auth.principal, q.resident_id, now_cst()).await?,
    ))
}

/// Open requests past their due time, on either side of the caller's institution.
#[utoipa::path(get, path = "/remote-requests/overdue", responses((status = 200, body = Vec<RemoteLine>)), tag = "remote")]
async fn overdue(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<RemoteLine>>> {
    Ok(Json(
        remote::overdue(&s.store, &auth.principal, now_cst()).await?,
    ))
}

/// A request (its two sides only), with its clock and trail.
#[utoipa::path(get, path = "/remote-requests/{id}", responses((status = 200, body = RemoteView)), tag = "remote")]
async fn get_request(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<RemoteView>> {
    Ok(Json(
        remote::get(&s.store, &auth.principal, id, now_cst()).await?,
    ))
}

/// The exam file (the two sides only). A read of the resident's record:
/// needs a ground and is written to the access log.
#[utoipa::path(get, path = "/remote-requests/{id}/file",
    responses((status = 200, description = "the file, with its media type and `X-Checksum-SHA256`"),
        (status = 403, description = "no_access_grounds", body = crate::error::ErrorBody)), tag = "remote")]
async fn get_file(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let f = remote::file(&s.store, &auth.principal, id, s.settings.encounter_days).await?;
    let mut res = f.bytes.into_response();
    let h = res.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
    h.insert(header::CONTENT_TYPE, value(&f.media_type));
    let ascii: String = f
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    h.insert(
        header::CONTENT_DISPOSITION,
        value(&format!("attachment; filename=\"{ascii}\"")),
    );
    h.insert("x-checksum-sha256", value(&f.sha256));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn act(
    s: &AppState,
    auth: &Auth,
    id: i64,
    event: RemoteEvent,
    report: Option<&ReportInput>,
    reason: Option<&str>,
) -> ApiResult<Json<RemoteView>> {
    Ok(Json(
        remote::act(
            &s.store,
            &auth.principal,
            id,
            event,
            report,
            reason,
            now_cst(),
        )
        .await?,
    ))
}

/// Claim a request from the work list (readers of the receiving hospital).
/// Two readers cannot both claim it: the second gets 409 `illegal_transition`.
#[utoipa::path(post, path = "/remote-requests/{id}/claim",
    responses((status = 200, body = RemoteView), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)), tag = "remote")]
async fn claim(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<RemoteView>> {
    act(&s, &auth, id, RemoteEvent::Claim, None, None).await
}

/// Give a claimed request back to the work list (the claimant only).
#[utoipa::path(post, path = "/remote-requests/{id}/release",
    responses((status = 200, body = RemoteView), (status = 409, description = "not_claimed_by_you", body = crate::error::ErrorBody)), tag = "remote")]
async fn release(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<RemoteView>> {
    act(&s, &auth, id, RemoteEvent::Release, None, None).await
}

/// Write (or amend, before signing) the report: the claimant only.
#[utoipa::path(post, path = "/remote-requests/{id}/report", request_body = ReportInput,
    responses((status = 200, body = RemoteView), (status = 409, description = "not_claimed_by_you, illegal_transition", body = crate::error::ErrorBody)), tag = "remote")]
async fn report(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<ReportInput>,
) -> ApiResult<Json<RemoteView>> {
    act(&s, &auth, id, RemoteEvent::Report, Some(&r), None).await
}

/// Sign the report (the claimant): it lands in the resident's record and
/// the requester is notified.
#[utoipa::path(post, path = "/remote-requests/{id}/sign",
    responses((status = 200, body = RemoteView), (status = 409, description = "not_claimed_by_you, illegal_transition", body = crate::error::ErrorBody)), tag = "remote")]
async fn sign(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<RemoteView>> {
    act(&s, &auth, id, RemoteEvent::Sign, None, None).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelInput {
    pub reason: String,
}

/// Withdraw a request not yet reported (the requesting side), with a reason.
#[utoipa::path(post, path = "/remote-requests/{id}/cancel", request_body = CancelInput,
    responses((status = 200, body = RemoteView), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)), tag = "remote")]
async fn cancel(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(c): Json<CancelInput>,
) -> ApiResult<Json<RemoteView>> {
    act(&s, &auth, id, RemoteEvent::Cancel, None, Some(&c.reason)).await
}

//! `/api/v1` 监测预警: daily counts (JSON and CSV), case reports, the
//! early-warning run, signals and their workflow, events.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::surveillance::SignalState;
use yilian_store::surveillance::{SignalFilter, SignalRow};
use yilian_store::{Page, Paging};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::surveillance::{
    self as service, CaseReportRequest, CountRequest, EventView, ImportOutcome, RunOutcome,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_counts))
        .routes(routes!(import_csv))
        .routes(routes!(report_cases))
        .routes(routes!(run))
        .routes(routes!(list_signals))
        .routes(routes!(get_signal))
        .routes(routes!(act))
        .routes(routes!(get_event))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Store the good rows and list the bad ones (default: any bad row
    /// refuses the whole submission).
    #[serde(default)]
    pub skip_invalid: bool,
}

/// 监测数据报送 — daily counts per township, channel and code. A bad row
/// (negative count, future date, unknown township or code) → 422
/// `invalid_rows` naming each row, and nothing is stored unless
/// `skip_invalid=true`.
#[utoipa::path(post, path = "/surveillance/counts", params(ImportQuery), request_body = Vec<CountRequest>,
    responses((status = 200, body = ImportOutcome), (status = 422, description = "invalid_rows", body = crate::error::ErrorBody)),
    tag = "surveillance")]
async fn submit_counts(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ImportQuery>,
    Json(rows): Json<Vec<CountRequest>>,
) -> ApiResult<Json<ImportOutcome>> {
    Ok(Json(
        service::submit_counts(
            &s.store,
            &auth.principal,
            &rows,
            q.skip_invalid,
            "api",
            s.today(),
        )
        .await?,
    ))
}

/// The same as CSV text (`text/csv`): header `date,township_code,channel,code,count`.
#[utoipa::path(post, path = "/surveillance/counts.csv", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportOutcome), (status = 422, description = "invalid_rows", body = crate::error::ErrorBody)),
    tag = "surveillance")]
async fn import_csv(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ImportQuery>,
    body: String,
) -> ApiResult<Json<ImportOutcome>> {
    Ok(Json(
        service::import_csv(&s.store, &auth.principal, &body, q.skip_invalid, s.today()).await?,
    ))
}

/// 传染病报告 — notifiable-disease case reports (disease, onset date,
/// township, address); each also counts in the `case_report` series.
#[utoipa::path(post, path = "/surveillance/case-reports", request_body = Vec<CaseReportRequest>,
    responses((status = 201, body = Vec<i64>), (status = 422, description = "invalid_rows", body = crate::error::ErrorBody)),
    tag = "surveillance")]
async fn report_cases(
    State(s): State<AppState>,
    auth: Auth,
    Json(rows): Json<Vec<CaseReportRequest>>,
) -> ApiResult<(StatusCode, Json<Vec<i64>>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::report_cases(&s.store, &auth.principal, &rows, s.today()).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RunQuery {
    /// The day evaluated, `YYYY-MM-DD` (default today).
    pub date: Option<String>,
}

/// 预警运算 — runs every algorithm over every series of the caller's area
/// for one day and raises the signals (a re-run raises nothing twice).
#[utoipa::path(post, path = "/surveillance/run", params(RunQuery), responses((status = 200, body = RunOutcome)), tag = "surveillance")]
async fn run(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<RunQuery>,
) -> ApiResult<Json<RunOutcome>> {
    let date = match q.date.as_deref() {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid("date", "日期格式为 YYYY-MM-DD", "date is YYYY-MM-DD")
        })?,
        None => s.today(),
    };
    Ok(Json(
        service::run_day(&s.store, &auth.principal, date, s.today()).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SignalQuery {
    /// raised, verifying, confirmed, dismissed.
    pub state: Option<String>,
    pub channel: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl SignalQuery {
    pub fn filter(&self) -> SignalFilter {
        SignalFilter {
            region_prefix: None,
            state: self.state.clone(),
            channel: self.channel.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

#[utoipa::path(get, path = "/surveillance/signals", params(SignalQuery), responses((status = 200, body = Object)), tag = "surveillance")]
async fn list_signals(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<SignalQuery>,
) -> ApiResult<Json<Page<SignalRow>>> {
    Ok(Json(
        service::signals(
            &s.store,
            &auth.principal,
            q.filter(),
            Paging::new(q.limit, q.offset),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/surveillance/signals/{id}", responses((status = 200, body = SignalRow), (status = 404, body = crate::error::ErrorBody)), tag = "surveillance")]
async fn get_signal(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<SignalRow>> {
    Ok(Json(service::signal(&s.store, &auth.principal, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActRequest {
    /// verifying, confirmed or dismissed.
    pub to: String,
    #[serde(default)]
    pub note: String,
}

/// 信号处置 — raised → verifying → confirmed | dismissed (a dismissal needs
/// a note); confirming opens an event with the linked case reports. 409
/// `illegal_transition` otherwise.
#[utoipa::path(post, path = "/surveillance/signals/{id}/state", request_body = ActRequest,
    responses((status = 200, body = SignalRow), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)),
    tag = "surveillance")]
async fn act(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<ActRequest>,
) -> ApiResult<Json<SignalRow>> {
    let to = SignalState::parse_field("to", r.to.trim())?;
    Ok(Json(
        service::act(&s.store, &auth.principal, id, to, &r.note).await?,
    ))
}

#[utoipa::path(get, path = "/surveillance/events/{id}", responses((status = 200, body = EventView), (status = 404, body = crate::error::ErrorBody)), tag = "surveillance")]
async fn get_event(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(service::event(&s.store, &auth.principal, id).await?))
}

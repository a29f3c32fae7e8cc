//! `/api/v1` 监测评估: the plan's indicators (a shipped plan or one posted
//! as TOML), a planning figure's parts, tiered-care indicators per scope,
//! the performance evaluation, accessibility, the drill-down to records,
//! and the statistics other departments report.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::plan::Plan;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::monitoring::{
    self as service, Accessibility, Drill, Evaluation, PlanReport, StatisticInput, TieredReport,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(plan_report))
        .routes(routes!(evaluate_posted_plan))
        .routes(routes!(plan_parts))
        .routes(routes!(tiered))
        .routes(routes!(evaluation))
        .routes(routes!(drill))
        .routes(routes!(accessibility))
        .routes(routes!(put_statistics))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PlanQuery {
    /// Which shipped plan (0: seed 002 Table 1 version A, 1: version B).
    pub plan: Option<usize>,
    /// The evaluation date `YYYY-MM-DD` (default today).
    pub at: Option<String>,
    /// The year of activity (default the evaluation date's).
    pub year: Option<i32>,
    /// A name for a posted plan, used in error messages.
    pub name: Option<String>,
    /// `YYYY-MM`: the tiered report's flow figures for that month.
    pub month: Option<String>,
}

impl PlanQuery {
    fn at(&self, s: &AppState) -> ApiResult<chrono::NaiveDate> {
        match &self.at {
            Some(a) => a.parse().map_err(|_| {
                ApiError::invalid("at", "日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD")
            }),
            None => Ok(s.today()),
        }
    }
}

/// 规划指标 — a shipped plan's indicators for the caller's county: actual,
/// target, status and alarms (binding targets behind or missed).
#[utoipa::path(get, path = "/monitoring/plan", params(PlanQuery),
    responses((status = 200, body = PlanReport)), tag = "monitoring")]
async fn plan_report(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Json<PlanReport>> {
    let plans = service::shipped_plans()?;
    let plan = plans
        .get(q.plan.unwrap_or(0))
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok(Json(
        service::plan_report(&s.store, &auth.principal, plan, q.at(&s)?).await?,
    ))
}

/// Evaluates a plan posted as TOML (`text/plain`). A plan with an unknown
/// indicator, a missing field or a unit that does not match → 422
/// `invalid_plan` naming the file, line and field; nothing is kept.
#[utoipa::path(post, path = "/monitoring/plan", params(PlanQuery), request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = PlanReport), (status = 422, description = "invalid_plan", body = crate::error::ErrorBody)),
    tag = "monitoring")]
async fn evaluate_posted_plan(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PlanQuery>,
    body: String,
) -> ApiResult<Json<PlanReport>> {
    service::area(&auth.principal)?;
    let plan = Plan::from_toml(q.name.as_deref().unwrap_or("plan.toml"), &body)?;
    Ok(Json(
        service::plan_report(&s.store, &auth.principal, &plan, q.at(&s)?).await?,
    ))
}

/// The parts behind a planning figure.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanParts {
    pub code: String,
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    /// (institution id, label, numerator, denominator); they sum to the figure.
    #[schema(value_type = Vec<Object>)]
    pub parts: Vec<yilian_domain::plan::Part>,
}

/// 下钻 — the institutions (or age bands) behind a planning figure.
#[utoipa::path(get, path = "/monitoring/plan/{code}", params(("code" = String, Path), PlanQuery),
    responses((status = 200, body = PlanParts)), tag = "monitoring")]
async fn plan_parts(
    State(s): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Json<PlanParts>> {
    let (code, m) = service::plan_drill(&s.store, &auth.principal, &code, q.at(&s)?).await?;
    Ok(Json(PlanParts {
        code: code.as_str().into(),
        value: m.value,
        numerator: m.numerator,
        denominator: m.denominator,
        parts: m.parts,
    }))
}

/// 分级诊疗指标 — every scope (county, county consortia, institutions) for
/// the year up to `at`, and the county by month.
#[utoipa::path(get, path = "/monitoring/tiered", params(PlanQuery),
    responses((status = 200, body = TieredReport)), tag = "monitoring")]
async fn tiered(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Json<TieredReport>> {
    let at = q.at(&s)?;
    Ok(Json(
        service::tiered(
            &s.store,
            &auth.principal,
            q.year.unwrap_or(chrono::Datelike::year(&at)),
            at,
            q.month.as_deref(),
        )
        .await?,
    ))
}

/// 医共体绩效考核 — the scorecard (`config/scorecard.toml`) per consortium
/// and institution, ranked.
#[utoipa::path(get, path = "/monitoring/evaluation", params(PlanQuery),
    responses((status = 200, body = Evaluation)), tag = "monitoring")]
async fn evaluation(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Json<Evaluation>> {
    let at = q.at(&s)?;
    Ok(Json(
        service::evaluate(
            &s.store,
            &auth.principal,
            q.year.unwrap_or(chrono::Datelike::year(&at)),
            at,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DrillQuery {
    /// `county`, `consortium` or `institution`.
    pub kind: String,
    /// The county code, consortium id or institution id.
    pub id: String,
    /// A tiered-care indicator code.
    pub indicator: String,
    /// `numerator` (default) or `denominator`.
    pub part: Option<String>,
    pub year: Option<i32>,
    pub at: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// 下钻 — the records behind a tiered-care figure: their total equals the
/// figure; rows carry ids, times, institution and category, never clinical
/// content.
#[utoipa::path(get, path = "/monitoring/drill", params(DrillQuery),
    responses((status = 200, body = Drill)), tag = "monitoring")]
async fn drill(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<DrillQuery>,
) -> ApiResult<Json<Drill>> {
    let pq = PlanQuery {
        at: q.at.clone(),
        ..Default::default()
    };
    let at = pq.at(&s)?;
    let year = q.year.unwrap_or(chrono::Datelike::year(&at));
    let r = service::tiered(&s.store, &auth.principal, year, at, None).await?;
    let scope = r
        .rows
        .iter()
        .find(|row| row.scope.kind == q.kind && row.scope.id == q.id)
        .ok_or_else(|| ApiError::not_found("scope"))?;
    let indicator =
        yilian_domain::monitoring::TieredIndicator::parse_field("indicator", &q.indicator)?;
    Ok(Json(
        service::drill(
            &s.store,
            &auth.principal,
            &scope.scope,
            indicator,
            q.part.as_deref().unwrap_or("numerator"),
            yilian_store::monitoring::Period {
                from: r.from.clone(),
                to: r.to.clone(),
            },
            q.limit.unwrap_or(100),
            q.offset.unwrap_or(0),
        )
        .await?,
    ))
}

/// 可及性 — residents within 15 minutes of primary care and 30 minutes of
/// a township center on the road network, and 2SFCA per village.
#[utoipa::path(get, path = "/monitoring/accessibility",
    responses((status = 200, body = Accessibility)), tag = "monitoring")]
async fn accessibility(State(s): State<AppState>, auth: Auth) -> ApiResult<Json<Accessibility>> {
    Ok(Json(
        service::accessibility(&s.store, &auth.principal).await?,
    ))
}

/// Statistics reported by other departments (childcare places per
/// township; population, deaths and disability share per age band for the
/// county). Every row is checked; one bad row stores nothing.
#[utoipa::path(put, path = "/monitoring/statistics", request_body = Vec<StatisticInput>,
    responses((status = 200, body = usize), (status = 422, description = "invalid_field", body = crate::error::ErrorBody)),
    tag = "monitoring")]
async fn put_statistics(
    State(s): State<AppState>,
    auth: Auth,
    Json(rows): Json<Vec<StatisticInput>>,
) -> ApiResult<Json<usize>> {
    Ok(Json(
        service::put_statistics(&s.store, &auth.principal, &rows).await?,
    ))
}

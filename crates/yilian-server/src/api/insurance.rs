//! `/api/v1` 医保: policy versions, claims (entry, review, valuation,
//! rejection) with the rules that decided them, capitation positions and
//! the yearly settlement, and a year's recomputation check.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yilian_domain::access::Action;
use yilian_domain::insurance::ClaimState;
use yilian_store::insurance::{ClaimFilter, SettlementRow};
use yilian_store::{Page, Paging};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Json, Path, Query};
use crate::insurance::{self as service, ClaimRequest, ClaimView, Position, Recomputed};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_policies, publish_policy))
        .routes(routes!(list_claims, enter_claim))
        .routes(routes!(get_claim))
        .routes(routes!(check_claim))
        .routes(routes!(valuate_claim))
        .routes(routes!(reject_claim))
        .routes(routes!(capitation))
        .routes(routes!(settle))
        .routes(routes!(recompute))
}

/// Policy versions in store, by region and start.
#[utoipa::path(get, path = "/insurance/policies", responses((status = 200, body = Vec<Object>)), tag = "insurance")]
async fn list_policies(
    State(s): State<AppState>,
    _auth: Auth,
) -> ApiResult<Json<Vec<yilian_domain::insurance::PolicyVersion>>> {
    Ok(Json(service::policies(&s.store).await?))
}

/// 发布政策版本 — a new version: ratios per scheme, setting and level,
/// deductibles, yearly caps, the missing-referral penalty, capitation amounts
/// and the surplus key. 422 `invalid_policy` (ratio outside 0–100 %,
/// overlapping validity, a gap not favouring primary care).
#[utoipa::path(post, path = "/insurance/policies", request_body = Object,
    responses((status = 201, body = Object), (status = 422, description = "invalid_policy", body = crate::error::ErrorBody)),
    tag = "insurance")]
async fn publish_policy(
    State(s): State<AppState>,
    auth: Auth,
    Json(v): Json<yilian_domain::insurance::PolicyVersion>,
) -> ApiResult<(StatusCode, Json<yilian_domain::insurance::PolicyVersion>)> {
    auth.require(Action::Adjudicate)?;
    Ok((
        StatusCode::CREATED,
        Json(service::publish_policy(&s.store, &auth.principal, &v).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ClaimQuery {
    pub resident_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub consortium_id: Option<i64>,
    /// entered, checked, valuated, rejected.
    pub state: Option<String>,
    /// Benefit level: village, primary, county, city, tertiary, out_of_region.
    pub level: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl ClaimQuery {
    pub fn filter(&self) -> ClaimFilter {
        ClaimFilter {
            resident_id: self.resident_id,
            institution_id: self.institution_id,
            consortium_id: self.consortium_id,
            state: self.state.clone(),
            level: self.level.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            region_prefix: None,
            ..Default::default()
        }
    }
}

/// Claims the caller may see (insurer: its area; an institution: its own;
/// a resident: theirs), newest first; identity numbers masked.
#[utoipa::path(get, path = "/claims", params(ClaimQuery), responses((status = 200, body = Object)), tag = "insurance")]
async fn list_claims(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<ClaimQuery>,
) -> ApiResult<Json<Page<ClaimView>>> {
    Ok(Json(
        service::list_claims(
            &s.store,
            &auth.principal,
            q.filter(),
            Paging::new(q.limit, q.offset),
        )
        .await?,
    ))
}

/// 费用录入 — enters an encounter's itemised cost; it is adjudicated at once
/// under the policy version in force on its date (state `entered`), and the
/// result names every rule applied. 422 `no_policy_in_force` (names the
/// date), `invalid_claim`.
#[utoipa::path(post, path = "/claims", request_body = ClaimRequest,
    responses((status = 201, body = ClaimView),
        (status = 422, description = "no_policy_in_force, invalid_claim, invalid_field", body = crate::error::ErrorBody)),
    tag = "insurance")]
async fn enter_claim(
    State(s): State<AppState>,
    auth: Auth,
    Json(req): Json<ClaimRequest>,
) -> ApiResult<(StatusCode, Json<ClaimView>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::enter_claim(&s.store, &auth.principal, &req).await?),
    ))
}

#[utoipa::path(get, path = "/claims/{id}", responses((status = 200, body = ClaimView), (status = 404, body = crate::error::ErrorBody)), tag = "insurance")]
async fn get_claim(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ClaimView>> {
    Ok(Json(
        service::get_claim(&s.store, &auth.principal, id).await?,
    ))
}

/// 审核 — entered → checked.
#[utoipa::path(post, path = "/claims/{id}/check", responses((status = 200, body = ClaimView), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)), tag = "insurance")]
async fn check_claim(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ClaimView>> {
    Ok(Json(
        service::move_claim(&s.store, &auth.principal, id, ClaimState::Checked, None).await?,
    ))
}

/// 核定 — checked → valuated; the fund share is booked in the ledger.
#[utoipa::path(post, path = "/claims/{id}/valuate", responses((status = 200, body = ClaimView), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)), tag = "insurance")]
async fn valuate_claim(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ClaimView>> {
    Ok(Json(
        service::move_claim(&s.store, &auth.principal, id, ClaimState::Valuated, None).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    pub reason: String,
}

/// 拒付 — entered or checked → rejected, with a reason.
#[utoipa::path(post, path = "/claims/{id}/reject", request_body = RejectRequest, responses((status = 200, body = ClaimView), (status = 409, description = "illegal_transition", body = crate::error::ErrorBody)), tag = "insurance")]
async fn reject_claim(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
    Json(r): Json<RejectRequest>,
) -> ApiResult<Json<ClaimView>> {
    Ok(Json(
        service::move_claim(
            &s.store,
            &auth.principal,
            id,
            ClaimState::Rejected,
            Some(&r.reason),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct YearQuery {
    /// `YYYY`; this year by default.
    pub year: Option<i32>,
}

/// 按人头打包付费 — each county consortium's budget, monthly fund spend,
/// year-end forecast, outside-county leakage and settlement (if any).
#[utoipa::path(get, path = "/insurance/capitation", params(YearQuery), responses((status = 200, body = Vec<Position>)), tag = "insurance")]
async fn capitation(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<YearQuery>,
) -> ApiResult<Json<Vec<Position>>> {
    let today = s.today();
    let year = q.year.unwrap_or_else(|| chrono::Datelike::year(&today));
    Ok(Json(
        service::positions(&s.store, &auth.principal, year, today).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SettleRequest {
    pub consortium_id: i64,
    pub year: i32,
}

/// 年度清算 — settles a consortium's ended year: surplus retained and split
/// by the policy's key (结余留用), overrun not covered (超支不补). 409
/// `already_settled` the second time.
#[utoipa::path(post, path = "/insurance/settlements", request_body = SettleRequest,
    responses((status = 201, body = SettlementRow), (status = 409, description = "already_settled", body = crate::error::ErrorBody)),
    tag = "insurance")]
async fn settle(
    State(s): State<AppState>,
    auth: Auth,
    Json(r): Json<SettleRequest>,
) -> ApiResult<(StatusCode, Json<SettlementRow>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            service::settle(
                &s.store,
                &auth.principal,
                r.consortium_id,
                r.year,
                s.today(),
            )
            .await?,
        ),
    ))
}

/// Recomputes every claim of a year from its stored policy version and
/// reports which (if any) differ from what was stored.
#[utoipa::path(post, path = "/insurance/recompute", params(YearQuery), responses((status = 200, body = Recomputed)), tag = "insurance")]
async fn recompute(
    State(s): State<AppState>,
    auth: Auth,
    Query(q): Query<YearQuery>,
) -> ApiResult<Json<Recomputed>> {
    auth.require(Action::Adjudicate)?;
    let year = q.year.unwrap_or_else(|| chrono::Datelike::year(&s.today()));
    Ok(Json(service::recompute_year(&s.store, year).await?))
}

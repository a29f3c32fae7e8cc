//! 医保 pages: the insurer's dashboard (每个医共体的按人头打包预算、逐月支出
//! 燃尽图、年终预测、县外就医流失、年度清算), the claims list with the rules
//! that decided each claim and the review actions, the settlement report as
//! CSV and Excel, and the resident's own 我的医保结算 (what they paid and
//! why). Every read and write calls the same service operation as
//! `/api/v1` ([`crate::insurance`]).

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use chrono::Datelike;
use minijinja::{Value, context};
use serde::Deserialize;
use yilian_domain::access::{Action, Role, allowed};
use yilian_domain::insurance::{BenefitLevel, ClaimState};
use yilian_domain::money::yuan;
use yilian_store::Paging;

use super::export::{Cell, Format, Table, download};
use super::{
    Fields, NavItem, WebAuth, WebError, WebResult, base, check_csrf, render, safe_json, see_other,
    with,
};
use crate::api::insurance::ClaimQuery;
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::insurance::{self as service, Position};
use crate::state::AppState;

/// The page templates of this module, registered by [`super::templates`].
pub(super) const TEMPLATES: [(&str, &str); 3] = [
    (
        "insurance_dashboard.html",
        include_str!("../../templates/insurance_dashboard.html"),
    ),
    (
        "insurance_claims.html",
        include_str!("../../templates/insurance_claims.html"),
    ),
    (
        "insurance_claim.html",
        include_str!("../../templates/insurance_claim.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/insurance", get(dashboard))
        .route("/insurance/settle", post(settle_submit))
        .route("/insurance/settlement/{file}", get(settlement_export))
        .route("/insurance/claims", get(claims_page))
        .route("/insurance/claims/{id}", get(claim_page))
        .route("/insurance/claims/{id}/{step}", post(step_submit))
        .route("/me/claims", get(my_claims))
}

/// The navigation entry, for the roles that read the fund's positions.
pub(super) fn nav(role: Role) -> Option<NavItem> {
    allowed(role, Action::ReadInsurance).then_some(NavItem {
        href: "/insurance",
        label: "医保结算",
    })
}

#[derive(Debug, Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

/// The burn-down data of a position, for echarts: cumulative spend per
/// elapsed month against the budget, and the straight-line forecast.
fn burn(p: &Position) -> serde_json::Value {
    let mut cum = 0i64;
    let spent: Vec<f64> = p
        .spent_by_month
        .iter()
        .take(p.months_elapsed as usize)
        .map(|m| {
            cum += m;
            cum as f64 / 100.0
        })
        .collect();
    let last = spent.last().copied().unwrap_or(0.0);
    let monthly = if p.months_elapsed > 0 {
        last / f64::from(p.months_elapsed)
    } else {
        0.0
    };
    let forecast: Vec<Option<f64>> = (1..=12u32)
        .map(|m| {
            (m >= p.months_elapsed.max(1))
                .then(|| last + monthly * f64::from(m.saturating_sub(p.months_elapsed)))
        })
        .collect();
    serde_json::json!({
        "id": p.consortium_id,
        "months": (1..=12).map(|m| format!("{m}月")).collect::<Vec<_>>(),
        "spent": spent,
        "forecast": forecast,
        "budget": p.budget_fen as f64 / 100.0,
    })
}

/// Fen as 万元 with two decimals, for the dashboard's headline figures.
fn wan(fen: i64) -> String {
    format!("{:.2}", fen as f64 / 1_000_000.0)
}

async fn dashboard(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<YearQuery>,
) -> WebResult {
    let today = s.today();
    let year = q.year.unwrap_or(today.year());
    let positions = service::positions(&s.store, &auth.principal, year, today).await?;
    let charts: Vec<serde_json::Value> = positions.iter().map(burn).collect();
    let rows: Vec<Value> = positions
        .iter()
        .map(|p| {
            let spent: i64 = p.spent_by_month.iter().sum();
            let share = |part: i64, whole: i64| {
                if whole > 0 {
                    format!("{:.1}", part as f64 * 100.0 / whole as f64)
                } else {
                    "—".into()
                }
            };
            context! {
                p => Value::from_serialize(p),
                budget => yuan(p.budget_fen),
                spent => yuan(spent),
                projected => yuan(p.forecast.projected_fen),
                balance => yuan(p.forecast.projected_balance_fen),
                budget_wan => wan(p.budget_fen),
                spent_wan => wan(spent),
                projected_wan => wan(p.forecast.projected_fen),
                balance_wan => wan(p.forecast.projected_balance_fen),
                over => p.forecast.projected_balance_fen < 0,
                burn => format!("{:.1}", f64::from(p.forecast.burn_rate_bp) / 100.0),
                leak_share => share(p.leakage.outside_fund_fen, p.leakage.fund_fen),
                leak_fund => yuan(p.leakage.outside_fund_fen),
                settled => p.settlement.as_ref().map(|s| context! {
                    surplus => yuan(s.surplus_fen), overrun => yuan(s.overrun_fen),
                    fund_pays => yuan(s.fund_pays_fen), at => s.settled_at.clone(),
                }),
                can_settle => year < today.year() && p.settlement.is_none()
                    && allowed(auth.principal.role, Action::Adjudicate),
            }
        })
        .collect();
    let mut c = s.store.read().await?;
    let fees: Vec<Value> = yilian_store::insurance::contract_fees(&mut c, year)
        .await?
        .into_iter()
        .map(|(id, name, fen)| context! { id, name, fee => yuan(fen) })
        .collect();
    Ok(render(
        "insurance_dashboard.html",
        with(
            base(&auth, &jar, "/insurance"),
            context! {
                year, years => vec![year - 1, year, year + 1].into_iter().filter(|y| *y <= today.year()).collect::<Vec<_>>(),
                rows, fees, charts => safe_json(&serde_json::Value::from(charts)),
                error => Option::<String>::None,
            },
        ),
    ))
}

async fn settle_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let id: i64 = f
        .raw("consortium_id")
        .parse()
        .map_err(|_| ApiError::invalid("consortium_id", "医共体无效", "invalid consortium"))?;
    let year: i32 = f
        .raw("year")
        .parse()
        .map_err(|_| ApiError::invalid("year", "年度无效", "invalid year"))?;
    service::settle(&s.store, &auth.principal, id, year, s.today()).await?;
    see_other(&format!("/insurance?year={year}"))
}

/// 清算报告 — `{year}.csv` or `{year}.xlsx`: per consortium the insured, the
/// budget, the spend, surplus or overrun and what the fund pays; then each
/// member's share of a retained surplus; then the teams' contract fees.
async fn settlement_export(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path(file): Path<String>,
) -> WebResult {
    let (year, ext) = file
        .split_once('.')
        .ok_or_else(|| WebError::from(ApiError::not_found("报告")))?;
    let year: i32 = year
        .parse()
        .map_err(|_| WebError::from(ApiError::not_found("报告")))?;
    let format = Format::parse(ext).ok_or_else(|| WebError::from(ApiError::not_found("报告")))?;
    let positions = service::positions(&s.store, &auth.principal, year, s.today()).await?;
    let mut c = s.store.read().await?;
    let mut rows = Vec::new();
    for p in &positions {
        let spent: i64 = p.spent_by_month.iter().sum();
        let (surplus, overrun, pays, status) = match &p.settlement {
            Some(st) => (st.surplus_fen, st.overrun_fen, st.fund_pays_fen, "已清算"),
            None => (
                (p.budget_fen - spent).max(0),
                (spent - p.budget_fen).max(0),
                spent.min(p.budget_fen),
                "未清算（按当前支出测算）",
            ),
        };
        rows.push(vec![
            Cell::Text("医共体".into()),
            Cell::Text(p.consortium_name.clone()),
            Cell::Int(p.insured_total),
            Cell::Money(p.budget_fen),
            Cell::Money(spent),
            Cell::Money(surplus),
            Cell::Money(overrun),
            Cell::Money(pays),
            Cell::Money(p.leakage.outside_fund_fen),
            Cell::Text(status.into()),
        ]);
        if let Some(st) = &p.settlement {
            let parts: Vec<(i64, i64)> = serde_json::from_str(&st.distribution).unwrap_or_default();
            for (inst, fen) in parts {
                let name = yilian_store::registry::get_institution(&mut c, inst)
                    .await?
                    .map(|i| i.name)
                    .unwrap_or_default();
                rows.push(vec![
                    Cell::Text("结余分配".into()),
                    Cell::Text(name),
                    Cell::Text(String::new()),
                    Cell::Text(String::new()),
                    Cell::Text(String::new()),
                    Cell::Money(fen),
                    Cell::Text(String::new()),
                    Cell::Text(String::new()),
                    Cell::Text(String::new()),
                    Cell::Text(p.consortium_name.clone()),
                ]);
            }
        }
    }
    for (_, name, fen) in yilian_store::insurance::contract_fees(&mut c, year).await? {
        let mut r = vec![Cell::Text("签约服务费".into()), Cell::Text(name)];
        r.extend((0..5).map(|_| Cell::Text(String::new())));
        r.push(Cell::Money(fen));
        r.extend((0..2).map(|_| Cell::Text(String::new())));
        rows.push(r);
    }
    let t = Table {
        name: format!("{year}年度医保清算报告"),
        headers: vec![
            "类别",
            "名称",
            "参保人数",
            "预算（元）",
            "支出（元）",
            "结余（元）",
            "超支（元）",
            "基金支付（元）",
            "县外就医基金支出（元）",
            "状态/所属",
        ],
        rows,
    };
    Ok(download(&t, format)?)
}

fn claim_filter_labels() -> Value {
    context! {
        states => ClaimState::ALL.iter().map(|s| context! { code => s.as_str(), label => s.label_zh() }).collect::<Vec<_>>(),
        levels => BenefitLevel::ALL.iter().map(|s| context! { code => s.as_str(), label => s.label_zh() }).collect::<Vec<_>>(),
    }
}

async fn claims_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<ClaimQuery>,
) -> WebResult {
    let page = service::list_claims(
        &s.store,
        &auth.principal,
        q.filter(),
        Paging::new(q.limit, q.offset),
    )
    .await?;
    Ok(render(
        "insurance_claims.html",
        with(
            base(&auth, &jar, "/insurance"),
            context! {
                page => Value::from_serialize(&page),
                q => context! { state => q.state, level => q.level, from => q.from, to => q.to },
                labels => claim_filter_labels(),
                mine => false,
            },
        ),
    ))
}

async fn claim_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    let c = service::get_claim(&s.store, &auth.principal, id).await?;
    let reviews = allowed(auth.principal.role, Action::Adjudicate);
    let active = if auth.principal.role == Role::Resident {
        "/me"
    } else {
        "/insurance"
    };
    Ok(render(
        "insurance_claim.html",
        with(
            base(&auth, &jar, active),
            context! { c => Value::from_serialize(&c), reviews, error => Option::<String>::None },
        ),
    ))
}

async fn step_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path((id, step)): Path<(i64, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let to = match step.as_str() {
        "check" => ClaimState::Checked,
        "valuate" => ClaimState::Valuated,
        "reject" => ClaimState::Rejected,
        _ => return Err(ApiError::not_found("操作").into()),
    };
    let reason = f.text("reason");
    match service::move_claim(&s.store, &auth.principal, id, to, reason.as_deref()).await {
        Ok(_) => see_other(&format!("/insurance/claims/{id}")),
        Err(e) if super::shown_on_form(&e) => {
            let c = service::get_claim(&s.store, &auth.principal, id).await?;
            let page = render(
                "insurance_claim.html",
                with(
                    base(&auth, &jar, "/insurance"),
                    context! { c => Value::from_serialize(&c), reviews => true, error => e.body.message_zh },
                ),
            );
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// 我的医保结算 — the resident's own claims: what each cost, what the fund
/// paid, what they paid, and the rules that decided it.
async fn my_claims(State(s): State<AppState>, WebAuth(auth): WebAuth, jar: CookieJar) -> WebResult {
    if auth.principal.role != Role::Resident {
        return see_other("/insurance/claims");
    }
    let page = service::list_claims(
        &s.store,
        &auth.principal,
        Default::default(),
        Paging::new(Some(200), None),
    )
    .await?;
    let paid: i64 = page.items.iter().map(|c| c.claim.resident_fen).sum();
    let fund: i64 = page.items.iter().map(|c| c.claim.fund_fen).sum();
    Ok(render(
        "insurance_claims.html",
        with(
            base(&auth, &jar, "/me"),
            context! {
                page => Value::from_serialize(&page),
                mine => true, paid => yuan(paid), fund => yuan(fund),
                labels => claim_filter_labels(),
                q => context! {},
            },
        ),
    ))
}

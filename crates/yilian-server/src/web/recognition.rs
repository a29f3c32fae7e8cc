//! 检查检验结果互认 pages: the ordering view of a resident (开单: choose an
//! item, 开单前核查 shows the recognisable earlier result with 采用该结果 and
//! the repeat form with the national reasons, or 开单 directly when there
//! is none; the outcome is shown after submit) and the report for the health
//! commission (互认统计). Every read and write calls the same service
//! operation as `/api/v1` ([`crate::recognition`]).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use yilian_domain::access::{Action, Principal, Role, allowed};
use yilian_domain::recognition::{ItemKind, RepeatReason};

use super::{NavItem, WebAuth, WebError, WebResult, base, check_csrf, render, with};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::recognition::{
    self as service, CheckRequest, ItemView, OrderRequest, RECOGNIZED, REPEATED, ReportQuery,
};
use crate::state::AppState;

/// The page templates of this module, registered by [`super::templates`].
pub(super) const TEMPLATES: [(&str, &str); 2] = [
    (
        "recognition_orders.html",
        include_str!("../../templates/recognition_orders.html"),
    ),
    (
        "recognition_report.html",
        include_str!("../../templates/recognition_report.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/residents/{id}/orders",
            get(orders_page).post(order_submit),
        )
        .route("/recognition/report", get(report_page))
}

/// The navigation entry of the report, for the roles that read it.
pub(super) fn nav(role: Role) -> Option<NavItem> {
    service::reads_report(role).then_some(NavItem {
        href: "/recognition/report",
        label: "结果互认",
    })
}

/// Clinical roles bound to an institution order tests.
fn orders_tests(p: &Principal) -> bool {
    p.institution.is_some() && allowed(p.role, Action::WriteCare)
}

/// The outcomes as shown.
const OUTCOMES: [(&str, &str); 3] = [
    ("recognized", "互认（采用已有结果）"),
    ("repeated", "重复检查（已记录理由）"),
    ("new", "新开检查"),
];

fn outcome_label(code: &str) -> &'static str {
    OUTCOMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("—", |(_, l)| l)
}

/// What the ordering form was filled with (shown again when refused).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    item_code: String,
    /// `use` (采用该结果), `repeat` (仍需重新检查) or `new` (开单).
    #[serde(default)]
    action: String,
    #[serde(default)]
    use_result_id: String,
    #[serde(default)]
    repeat_reason: String,
    #[serde(default)]
    repeat_text: String,
    #[serde(default)]
    break_glass: String,
}

#[derive(Debug, Default, Deserialize)]
struct OrdersQuery {
    item_code: Option<String>,
    break_glass: Option<String>,
    /// The order just placed (after submit).
    done: Option<String>,
}

/// The catalogue's items grouped 检验 / 检查 for the select.
fn item_groups(s: &AppState) -> Vec<Value> {
    ItemKind::ALL
        .iter()
        .map(|k| {
            let items: Vec<ItemView> = s
                .recognition_catalog
                .items
                .iter()
                .filter(|i| i.kind == *k)
                .map(ItemView::from)
                .collect();
            context! { label => k.label_zh(), items }
        })
        .collect()
}

fn reason_options() -> Vec<Value> {
    RepeatReason::ALL
        .iter()
        .map(|r| context! { code => r.as_str(), label => r.label_zh(), needs_text => r.needs_text() })
        .collect()
}

/// Refusals shown on the page next to what was entered: the rules' 422s and
/// a missing ground for reading the record (the page offers 紧急调阅).
fn shown_on_page(e: &ApiError) -> bool {
    e.status == StatusCode::UNPROCESSABLE_ENTITY || e.body.code == "no_access_grounds"
}

/// Renders the ordering view: the item select, the check's outcome for the
/// chosen item (if any), the order just placed, the recent orders, and a
/// refusal with the entered values.
async fn orders_view(
    s: &AppState,
    auth: &Auth,
    jar: &CookieJar,
    resident_id: i64,
    form: OrderForm,
    done: Option<i64>,
    error: Option<ApiError>,
) -> WebResult {
    let p = &auth.principal;
    if !orders_tests(p) {
        return Err(ApiError::forbidden().into());
    }
    let r = {
        let mut c = s.store.read().await?;
        crate::care::visible_resident(&mut c, p, resident_id).await?
    };
    let item_code = form.item_code.trim().to_string();
    let mut error = error;
    let check = if item_code.is_empty() || done.is_some() {
        None
    } else {
        let req = CheckRequest {
            item_code: item_code.clone(),
            break_glass: Some(form.break_glass.clone()).filter(|b| !b.trim().is_empty()),
        };
        match service::check(
            &s.store,
            &s.recognition_catalog,
            p,
            resident_id,
            &req,
            s.settings.encounter_days,
        )
        .await
        {
            Ok(v) => Some(v),
            Err(e) if shown_on_page(&e) => {
                error.get_or_insert(e);
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let orders = service::orders_of(&s.store, p, resident_id).await?;
    let placed = done.and_then(|id| orders.iter().find(|o| o.id == id)).map(|o| {
        context! {
            id => o.id, outcome => o.outcome.clone(), outcome_label => outcome_label(&o.outcome),
            item_name => s.recognition_catalog.item(&o.item_code).map(|i| i.name_zh.clone()),
            saved_yuan => yilian_domain::money::yuan(o.saved_fen),
            result_institution_name => o.result_institution_name.clone(),
            repeat_reason => o.repeat_reason.as_deref().and_then(RepeatReason::parse).map(RepeatReason::label_zh),
            recognized => o.outcome == RECOGNIZED, repeated => o.outcome == REPEATED,
        }
    });
    let orders: Vec<Value> = orders
        .iter()
        .map(|o| {
            context! {
                id => o.id, ordered_at => o.ordered_at.clone(), outcome => o.outcome.clone(),
                outcome_label => outcome_label(&o.outcome),
                item_name => s.recognition_catalog.item(&o.item_code).map_or_else(|| o.item_code.clone(), |i| i.name_zh.clone()),
                institution_name => o.institution_name.clone(),
                result_institution_name => o.result_institution_name.clone(),
                saved_yuan => yilian_domain::money::yuan(o.saved_fen), saved_fen => o.saved_fen,
                repeat_reason => o.repeat_reason.as_deref().and_then(RepeatReason::parse).map(RepeatReason::label_zh),
                repeat_text => o.repeat_text.clone(),
                current => Some(o.id) == done,
            }
        })
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let no_grounds = error
        .as_ref()
        .is_some_and(|e| e.body.code == "no_access_grounds");
    let error = error.map(|e| e.body.message_zh);
    let page = render(
        "recognition_orders.html",
        with(
            base(auth, jar, "/residents"),
            context! {
                resident => context! { id => r.id, name => r.name.clone(), birth_date => r.birth_date.clone(), sex => r.sex.clone() },
                from_name => p.institution.as_ref().map(|i| i.name.clone()),
                groups => item_groups(s), reasons => reason_options(),
                v => Value::from_serialize(&form), item_code, check, placed, orders, error, no_grounds,
                catalog => context! {
                    version => s.recognition_catalog.version,
                    is_default => s.recognition_catalog.is_default,
                },
            },
        ),
    );
    Ok((status, page).into_response())
}

async fn orders_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Query(q): Query<OrdersQuery>,
) -> WebResult {
    let form = OrderForm {
        item_code: q.item_code.unwrap_or_default(),
        break_glass: q.break_glass.unwrap_or_default(),
        ..Default::default()
    };
    let done = q.done.as_deref().and_then(|d| d.trim().parse().ok());
    orders_view(&s, &auth, &jar, id, form, done, None).await
}

async fn order_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<OrderForm>,
) -> WebResult {
    check_csrf(&auth, &f.csrf)?;
    let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let use_result_id = match f.action.as_str() {
        "use" => Some(f.use_result_id.trim().parse::<i64>().map_err(|_| {
            WebError::from(ApiError::invalid(
                "use_result_id",
                "请选择要采用的结果",
                "choose the result to use",
            ))
        })?),
        _ => None,
    };
    let repeat = f.action == "repeat";
    let req = OrderRequest {
        item_code: f.item_code.clone(),
        use_result_id,
        repeat_reason: if repeat { some(&f.repeat_reason) } else { None },
        repeat_text: if repeat { some(&f.repeat_text) } else { None },
        break_glass: some(&f.break_glass),
    };
    match service::place_order(
        &s.store,
        &s.recognition_catalog,
        &auth.principal,
        id,
        &req,
        s.settings.encounter_days,
    )
    .await
    {
        Ok(o) => Ok(
            Redirect::to(&format!("/residents/{id}/orders?done={}", o.order.id)).into_response(),
        ),
        Err(e) if shown_on_page(&e) => orders_view(&s, &auth, &jar, id, f, None, Some(e)).await,
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- 互认统计

async fn report_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<ReportQuery>,
) -> WebResult {
    let (report, error) = match service::report(&s.store, &auth.principal, &q).await {
        Ok(r) => (r, None),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => (
            service::report(&s.store, &auth.principal, &ReportQuery::default()).await?,
            Some(e.body.message_zh),
        ),
        Err(e) => return Err(e.into()),
    };
    let reasons: Vec<Value> = RepeatReason::ALL
        .iter()
        .map(|r| context! { code => r.as_str(), label => r.label_zh() })
        .collect();
    // The chart: money saved per institution (top 15), as JSON for echarts.
    let mut top: Vec<(&str, i64)> = report
        .institutions
        .iter()
        .filter(|g| g.counts.saved_fen > 0)
        .map(|g| (g.name.as_str(), g.counts.saved_fen))
        .collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    top.truncate(15);
    let chart = serde_json::json!({
        "names": top.iter().map(|t| t.0).collect::<Vec<_>>(),
        "yuan": top.iter().map(|t| t.1 as f64 / 100.0).collect::<Vec<_>>(),
    })
    .to_string()
    // Safe inside a <script> element: no `</script>` can close it early.
    .replace('<', "\\u003c");
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = render(
        "recognition_report.html",
        with(
            base(&auth, &jar, "/recognition/report"),
            context! {
                report, reasons, error, chart => Value::from_safe_string(chart),
                has_chart => !top.is_empty(),
            },
        ),
    );
    Ok((status, page).into_response())
}

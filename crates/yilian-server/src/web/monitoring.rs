//! 监测评估 pages for the health commission (and the insurer): the plan's
//! indicator cards (actual against target, coloured by status, alarms for
//! binding targets), the county's tiered-care trend by month, the map of
//! townships and villages, the tiered-care table of every scope, the
//! consortium performance ranking, accessibility, and the drill-down from a
//! figure to the records behind it. Every table exports to CSV and Excel.
//! Each page calls the same service operation as `/api/v1`
//! ([`crate::monitoring`]).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum_extra::extract::CookieJar;
use chrono::{Datelike, NaiveDate};
use minijinja::{Value, context};
use serde::Deserialize;
use yilian_domain::access::{Action, Role, allowed};
use yilian_domain::monitoring::{TieredIndicator, value};
use yilian_domain::plan::Plan;

use super::export::{Cell, Format, Table, download};
use super::{NavItem, WebAuth, WebResult, base, render, safe_json, with};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::monitoring::{self as service, Accessibility, Evaluation, PlanReport, TieredReport};
use crate::state::AppState;

/// The page templates of this module, registered by [`super::templates`].
pub(super) const TEMPLATES: [(&str, &str); 5] = [
    (
        "monitoring_dashboard.html",
        include_str!("../../templates/monitoring_dashboard.html"),
    ),
    (
        "monitoring_tiered.html",
        include_str!("../../templates/monitoring_tiered.html"),
    ),
    (
        "monitoring_evaluation.html",
        include_str!("../../templates/monitoring_evaluation.html"),
    ),
    (
        "monitoring_access.html",
        include_str!("../../templates/monitoring_access.html"),
    ),
    (
        "monitoring_drill.html",
        include_str!("../../templates/monitoring_drill.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/monitoring", get(dashboard))
        .route("/monitoring/plan/{code}", get(plan_drill))
        .route("/monitoring/tiered", get(tiered_page))
        .route("/monitoring/evaluation", get(evaluation_page))
        .route("/monitoring/accessibility", get(access_page))
        .route("/monitoring/drill", get(drill_page))
        .route("/monitoring/map.geojson", get(map))
        .route("/monitoring/export/{file}", get(export))
}

pub(super) fn nav(role: Role) -> Option<NavItem> {
    allowed(role, Action::ReadMonitoring).then_some(NavItem {
        href: "/monitoring",
        label: "监测评估",
    })
}

/// `?plan=0|1&year=Y&at=YYYY-MM-DD` — which shipped plan, which year, which day.
#[derive(Debug, Default, Deserialize)]
struct Q {
    plan: Option<usize>,
    year: Option<i32>,
    at: Option<String>,
}

impl Q {
    fn at(&self, today: NaiveDate) -> ApiResult<NaiveDate> {
        match &self.at {
            Some(s) if !s.is_empty() => s.parse().map_err(|_| {
                ApiError::invalid("at", "日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD")
            }),
            _ => Ok(today),
        }
    }
    fn year(&self, at: NaiveDate) -> i32 {
        self.year.unwrap_or(at.year())
    }
    fn plan(&self) -> ApiResult<(usize, Plan)> {
        let plans = service::shipped_plans()?;
        let i = self.plan.unwrap_or(0).min(plans.len().saturating_sub(1));
        plans
            .into_iter()
            .nth(i)
            .map(|p| (i, p))
            .ok_or_else(|| ApiError::not_found("plan"))
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map(|v| {
        if v.abs() >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    })
    .unwrap_or_else(|| "—".into())
}

// ---------------------------------------------------------------- tables

fn plan_table(r: &PlanReport) -> Table {
    Table {
        name: format!("规划指标-{}", r.at),
        headers: vec![
            "指标",
            "单位",
            "性质",
            "方向",
            "基期年",
            "基期值",
            "目标年",
            "目标值",
            "现值",
            "分子",
            "分母",
            "状态",
            "告警",
        ],
        rows: r
            .rows
            .iter()
            .map(|x| {
                vec![
                    Cell::Text(x.name.clone()),
                    Cell::Text(x.unit.clone()),
                    Cell::Text(x.nature_zh.clone()),
                    Cell::Text(x.direction.clone()),
                    Cell::Text(x.baseline_year.map(|y| y.to_string()).unwrap_or_default()),
                    Cell::Real(x.baseline),
                    Cell::Int(i64::from(x.target_year)),
                    Cell::Real(x.target),
                    Cell::Real(x.actual),
                    Cell::Real(Some(x.numerator)),
                    Cell::Real(Some(x.denominator)),
                    Cell::Text(x.status_zh.clone()),
                    Cell::Text(if x.alarm { "是" } else { "" }.into()),
                ]
            })
            .collect(),
    }
}

/// The tiered-care indicators shown as table columns (the rest are in the
/// JSON API and the CSV).
const COLUMNS: [TieredIndicator; 9] = [
    TieredIndicator::PrimaryVisitShare,
    TieredIndicator::InCountyRate,
    TieredIndicator::ReferralsUp,
    TieredIndicator::ReferralsDown,
    TieredIndicator::DownUpRatio,
    TieredIndicator::EffectiveContractRate,
    TieredIndicator::HtnControlRate,
    TieredIndicator::DmControlRate,
    TieredIndicator::RecognitionRate,
];

fn tiered_table(r: &TieredReport) -> Table {
    let mut headers: Vec<&'static str> = vec!["范围", "名称"];
    headers.extend(TieredIndicator::ALL.iter().map(|i| i.label_zh()));
    Table {
        name: format!("分级诊疗指标-{}至{}", r.from, r.to),
        headers,
        rows: r
            .rows
            .iter()
            .map(|row| {
                let mut cells = vec![
                    Cell::Text(scope_label(&row.scope.kind).into()),
                    Cell::Text(row.scope.name.clone()),
                ];
                cells.extend(row.values.iter().map(|(_, v)| Cell::Real(*v)));
                cells
            })
            .collect(),
    }
}

fn scope_label(kind: &str) -> &'static str {
    match kind {
        "county" => "县域",
        "consortium" => "医共体",
        _ => "机构",
    }
}

fn evaluation_table(e: &Evaluation) -> Table {
    Table {
        name: format!("绩效考核-{}", e.year),
        headers: vec!["排名", "范围", "名称", "总分"],
        rows: e
            .consortia
            .iter()
            .chain(e.institutions.iter())
            .map(|s| {
                vec![
                    Cell::Int(i64::from(s.rank)),
                    Cell::Text(scope_label(&s.scope.kind).into()),
                    Cell::Text(s.scope.name.clone()),
                    Cell::Real(Some(s.total)),
                ]
            })
            .collect(),
    }
}

fn access_table(a: &Accessibility) -> Table {
    Table {
        name: "可及性".into(),
        headers: vec![
            "村（社区）代码",
            "名称",
            "常住人口",
            "到最近基层医疗点（分钟）",
            "到乡镇卫生院/社区卫生服务中心（分钟）",
            "每千人口可及医师数（2SFCA）",
        ],
        rows: a
            .villages
            .iter()
            .map(|v| {
                vec![
                    Cell::Text(v.code.clone()),
                    Cell::Text(v.name.clone()),
                    Cell::Int(v.population),
                    Cell::Real(v.minutes_primary),
                    Cell::Real(v.minutes_center),
                    Cell::Real(Some(v.physicians_per_1000)),
                ]
            })
            .collect(),
    }
}

// ----------------------------------------------------------------- pages

async fn dashboard(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<Q>,
) -> WebResult {
    let at = q.at(s.today())?;
    let (plan_index, plan) = q.plan()?;
    let report = service::plan_report(&s.store, &auth.principal, &plan, at).await?;
    let cards: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            context! {
                r => Value::from_serialize(r),
                actual => fmt(r.actual), target => fmt(r.target), baseline => fmt(r.baseline),
                colour => service::status_colour(&r.status),
            }
        })
        .collect();
    let tiered = service::tiered(&s.store, &auth.principal, at.year(), at, None).await?;
    let county = tiered.rows.first();
    let kpis: Vec<Value> = county
        .map(|c| {
            COLUMNS
                .iter()
                .map(|i| {
                    context! {
                        code => i.as_str(), label => i.label_zh(), unit => i.unit().label_zh(),
                        value => fmt(value(*i, &c.counts)),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let trend = serde_json::json!({
        "months": tiered.months.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        "primary": tiered.months.iter().map(|(_, k)| value(TieredIndicator::PrimaryVisitShare, k)).collect::<Vec<_>>(),
        "in_county": tiered.months.iter().map(|(_, k)| value(TieredIndicator::InCountyRate, k)).collect::<Vec<_>>(),
        "up": tiered.months.iter().map(|(_, k)| k.referrals_up).collect::<Vec<_>>(),
        "down": tiered.months.iter().map(|(_, k)| k.referrals_down).collect::<Vec<_>>(),
    });
    let townships: Vec<serde_json::Value> = tiered
        .rows
        .iter()
        .filter(|r| r.scope.kind == "institution" && !r.scope.townships.is_empty())
        .filter_map(|r| {
            Some(serde_json::json!({
                "code": r.scope.townships.iter().next()?,
                "name": r.scope.name,
                "value": value(TieredIndicator::PrimaryVisitShare, &r.counts),
            }))
        })
        .collect();
    let plans: Vec<Value> = service::shipped_plans()
        .map_err(ApiError::from)?
        .iter()
        .enumerate()
        .map(|(i, p)| context! { i, name => p.name.clone() })
        .collect();
    Ok(render(
        "monitoring_dashboard.html",
        with(
            base(&auth, &jar, "/monitoring"),
            context! {
                report => Value::from_serialize(&report), cards, kpis, plans, plan_index,
                at => at.to_string(), year => at.year(),
                trend => safe_json(&trend),
                townships => safe_json(&serde_json::Value::from(townships)),
            },
        ),
    ))
}

async fn plan_drill(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(code): Path<String>,
    Query(q): Query<Q>,
) -> WebResult {
    let at = q.at(s.today())?;
    let (code, m) = service::plan_drill(&s.store, &auth.principal, &code, at).await?;
    let parts: Vec<Value> = m
        .parts
        .iter()
        .map(|p| context! { p => Value::from_serialize(p) })
        .collect();
    Ok(render(
        "monitoring_drill.html",
        with(
            base(&auth, &jar, "/monitoring"),
            context! {
                title => code.label_zh(), definition => code.definition_zh(),
                value => fmt(m.value), numerator => m.numerator, denominator => m.denominator,
                parts, at => at.to_string(), plan_drill => true,
            },
        ),
    ))
}

async fn tiered_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<Q>,
) -> WebResult {
    let at = q.at(s.today())?;
    let year = q.year(at);
    let r = service::tiered(&s.store, &auth.principal, year, at, None).await?;
    let columns: Vec<Value> = COLUMNS
        .iter()
        .map(|i| context! { code => i.as_str(), label => i.label_zh(), unit => i.unit().label_zh(), definition => i.definition_zh() })
        .collect();
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|row| {
            context! {
                kind => row.scope.kind.clone(), kind_zh => scope_label(&row.scope.kind),
                id => row.scope.id.clone(), name => row.scope.name.clone(),
                values => COLUMNS.iter().map(|i| context! { code => i.as_str(), v => fmt(value(*i, &row.counts)) }).collect::<Vec<_>>(),
            }
        })
        .collect();
    Ok(render(
        "monitoring_tiered.html",
        with(
            base(&auth, &jar, "/monitoring"),
            context! { columns, rows, from => r.from, to => r.to, year, at => at.to_string() },
        ),
    ))
}

async fn evaluation_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<Q>,
) -> WebResult {
    let at = q.at(s.today())?;
    let year = q.year(at);
    let e = service::evaluate(&s.store, &auth.principal, year, at).await?;
    let ranking = serde_json::json!({
        "names": e.consortia.iter().map(|s| s.scope.name.clone()).collect::<Vec<_>>(),
        "totals": e.consortia.iter().map(|s| (s.total * 10.0).round() / 10.0).collect::<Vec<_>>(),
    });
    let labels: std::collections::BTreeMap<&str, &str> = TieredIndicator::ALL
        .iter()
        .map(|i| (i.as_str(), i.label_zh()))
        .chain(
            yilian_domain::plan::PlanIndicatorCode::ALL
                .iter()
                .map(|i| (i.as_str(), i.label_zh())),
        )
        .collect();
    let drillable: Vec<&str> = TieredIndicator::ALL
        .iter()
        .filter(|i| service::drillable(**i))
        .map(|i| i.as_str())
        .collect();
    Ok(render(
        "monitoring_evaluation.html",
        with(
            base(&auth, &jar, "/monitoring"),
            context! {
                e => Value::from_serialize(&e), year, at => at.to_string(), labels, drillable,
                ranking => safe_json(&ranking),
            },
        ),
    ))
}

async fn access_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
) -> WebResult {
    let a = service::accessibility(&s.store, &auth.principal).await?;
    let points: Vec<serde_json::Value> = a
        .villages
        .iter()
        .map(|v| serde_json::json!({"name": v.name, "value": [v.lon, v.lat, v.minutes_center, v.physicians_per_1000]}))
        .collect();
    let pct = |v: Option<f64>| {
        v.map(|v| format!("{:.1}", v * 100.0))
            .unwrap_or_else(|| "—".into())
    };
    Ok(render(
        "monitoring_access.html",
        with(
            base(&auth, &jar, "/monitoring"),
            context! {
                a => Value::from_serialize(&a),
                within_15 => pct(a.within_15_share), within_30 => pct(a.within_30_share),
                points => safe_json(&serde_json::Value::from(points)),
            },
        ),
    ))
}

/// `?kind=county|consortium|institution&id=…&indicator=…&part=numerator|denominator&page=N`
#[derive(Debug, Default, Deserialize)]
struct DrillQ {
    kind: String,
    id: String,
    indicator: String,
    part: Option<String>,
    page: Option<i64>,
    year: Option<i32>,
    at: Option<String>,
}

const DRILL_PAGE: i64 = 100;

async fn drill_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<DrillQ>,
) -> WebResult {
    let at = Q {
        at: q.at.clone(),
        ..Default::default()
    }
    .at(s.today())?;
    let year = q.year.unwrap_or(at.year());
    let part = q.part.clone().unwrap_or_else(|| "numerator".into());
    let r = service::tiered(&s.store, &auth.principal, year, at, None).await?;
    let row = r
        .rows
        .iter()
        .find(|row| row.scope.kind == q.kind && row.scope.id == q.id)
        .ok_or_else(|| ApiError::not_found("scope"))?;
    let indicator =
        TieredIndicator::parse_field("indicator", &q.indicator).map_err(ApiError::from)?;
    let page = q.page.unwrap_or(0).max(0);
    let d = service::drill(
        &s.store,
        &auth.principal,
        &row.scope,
        indicator,
        &part,
        yilian_store::monitoring::Period {
            from: r.from.clone(),
            to: r.to.clone(),
        },
        DRILL_PAGE,
        page * DRILL_PAGE,
    )
    .await?;
    let figure = yilian_domain::monitoring::fraction(indicator, &row.counts);
    Ok(render(
        "monitoring_drill.html",
        with(
            base(&auth, &jar, "/monitoring"),
            context! {
                title => format!("{} · {}", row.scope.name, indicator.label_zh()),
                definition => indicator.definition_zh(),
                value => fmt(value(indicator, &row.counts)),
                numerator => figure.map(|f| f.0), denominator => figure.map(|f| f.1),
                part, total => d.total, rows => Value::from_serialize(&d.rows),
                page, pages => (d.total + DRILL_PAGE - 1) / DRILL_PAGE,
                q => context! { kind => q.kind.clone(), id => q.id.clone(), indicator => q.indicator.clone() },
                at => at.to_string(),
            },
        ),
    ))
}

async fn map(State(s): State<AppState>, WebAuth(auth): WebAuth) -> WebResult {
    let geo = service::boundaries(&s.store, &auth.principal).await?;
    let mut res = geo.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    Ok(res)
}

/// `/monitoring/export/{plan|tiered|evaluation|accessibility}.{csv|xlsx}`
async fn export(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path(file): Path<String>,
    Query(q): Query<Q>,
) -> WebResult {
    let (name, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::not_found("export"))?;
    let format = Format::parse(ext).ok_or_else(|| ApiError::not_found("export"))?;
    let at = q.at(s.today())?;
    let p = &auth.principal;
    let table = match name {
        "plan" => plan_table(&service::plan_report(&s.store, p, &q.plan()?.1, at).await?),
        "tiered" => tiered_table(&service::tiered(&s.store, p, q.year(at), at, None).await?),
        "evaluation" => evaluation_table(&service::evaluate(&s.store, p, q.year(at), at).await?),
        "accessibility" => access_table(&service::accessibility(&s.store, p).await?),
        _ => return Err(ApiError::not_found("export").into()),
    };
    Ok(download(&table, format)?)
}

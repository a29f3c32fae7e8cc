//! 监测预警 pages for the CDC: the dashboard (a map of the current signals
//! over the townships, the signal list with strength and the response
//! clock, today's run), a signal's page (its series with the threshold line,
//! the verification workflow) and an event's page with its linked cases.
//! Every read and write calls the same service operation as `/api/v1`
//! ([`crate::surveillance`]).

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use chrono::{Duration, NaiveDate};
use minijinja::{Value, context};
use yilian_domain::access::{Action, Role, allowed};
use yilian_domain::surveillance::SignalState;
use yilian_store::Paging;
use yilian_store::surveillance::SignalFilter;

use super::{
    Fields, NavItem, WebAuth, WebResult, base, check_csrf, render, safe_json, see_other, with,
};
use crate::error::ApiError;
use crate::extract::{Form, Path};
use crate::state::AppState;
use crate::surveillance::{self as service, Algo, algorithm_label, series_label};

/// The page templates of this module, registered by [`super::templates`].
pub(super) const TEMPLATES: [(&str, &str); 3] = [
    (
        "surveillance_dashboard.html",
        include_str!("../../templates/surveillance_dashboard.html"),
    ),
    (
        "surveillance_signal.html",
        include_str!("../../templates/surveillance_signal.html"),
    ),
    (
        "surveillance_event.html",
        include_str!("../../templates/surveillance_event.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/surveillance", get(dashboard))
        .route("/surveillance/run", post(run_submit))
        .route("/surveillance/signals/{id}", get(signal_page))
        .route("/surveillance/signals/{id}/{to}", post(act_submit))
        .route("/surveillance/events/{id}", get(event_page))
}

pub(super) fn nav(role: Role) -> Option<NavItem> {
    allowed(role, Action::ReadSurveillance).then_some(NavItem {
        href: "/surveillance",
        label: "监测预警",
    })
}

fn signal_view(s: &yilian_store::surveillance::SignalRow) -> Value {
    context! {
        s => Value::from_serialize(s),
        series => if s.channel == "multi" { format!("多渠道 · {}", s.code) } else { series_label(&s.channel, &s.code) },
        algorithm => algorithm_label(&s.algorithm),
        state => SignalState::parse(&s.state).map_or("", |x| x.label_zh()),
    }
}

async fn dashboard(State(s): State<AppState>, WebAuth(auth): WebAuth, jar: CookieJar) -> WebResult {
    let today = s.today();
    let from = (today - Duration::days(13)).to_string();
    let open = service::signals(
        &s.store,
        &auth.principal,
        SignalFilter {
            from: Some(from.clone()),
            ..Default::default()
        },
        Paging::new(Some(200), None),
    )
    .await?;
    let rows: Vec<Value> = open.items.iter().map(signal_view).collect();
    // The map: each township with its open signals (size = strongest).
    let prefix = service::area(&auth.principal)?;
    let mut c = s.store.read().await?;
    let towns = yilian_store::surveillance::townships(&mut c, &prefix).await?;
    let points: Vec<serde_json::Value> = towns
        .iter()
        .filter_map(|(code, name, lon, lat)| {
            let mine: Vec<_> = open
                .items
                .iter()
                .filter(|x| &x.township_code == code && (x.state == "raised" || x.state == "verifying"))
                .collect();
            let strength = mine.iter().map(|x| x.strength).max().unwrap_or(0);
            Some(serde_json::json!({"name": name, "value": [(*lon)?, (*lat)?, mine.len(), strength]}))
        })
        .collect();
    let times =
        yilian_store::surveillance::response_times(&mut c, &from, &today.to_string()).await?;
    let mut minutes: Vec<i64> = times
        .iter()
        .filter_map(|(a, b)| {
            let a = chrono::DateTime::parse_from_rfc3339(a).ok()?;
            let b = chrono::DateTime::parse_from_rfc3339(b).ok()?;
            Some((b - a).num_minutes())
        })
        .collect();
    minutes.sort_unstable();
    let median = minutes.get(minutes.len() / 2).copied();
    Ok(render(
        "surveillance_dashboard.html",
        with(
            base(&auth, &jar, "/surveillance"),
            context! {
                rows, total => open.total, from, today => today.to_string(),
                map => safe_json(&serde_json::Value::from(points)),
                median_minutes => median, responded => minutes.len(),
                target => yilian_domain::surveillance::RESPONSE_TARGET_MINUTES,
                runs => allowed(auth.principal.role, Action::ManageSignals),
            },
        ),
    ))
}

async fn run_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let date = match f.text("date") {
        Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid("date", "日期格式为 YYYY-MM-DD", "date is YYYY-MM-DD")
        })?,
        None => s.today(),
    };
    service::run_day(&s.store, &auth.principal, date, s.today()).await?;
    see_other("/surveillance")
}

/// Days of the series a signal's chart shows.
const CHART_DAYS: i64 = 90;

async fn signal_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    let sig = service::signal(&s.store, &auth.principal, id).await?;
    let day =
        NaiveDate::parse_from_str(&sig.raised_on, "%Y-%m-%d").map_err(|_| ApiError::internal())?;
    // The series over the chart's days with the signal's own threshold line
    // (the standard EARS C2 line for scan and multi-point signals).
    let chart = if sig.channel == "multi" {
        None
    } else {
        let start = day
            - Duration::days(366 * i64::from(yilian_domain::surveillance::PERCENTILE_YEARS) + 40);
        let mut c = s.store.read().await?;
        let rows = yilian_store::surveillance::series(
            &mut c,
            &sig.township_code,
            &sig.channel,
            &sig.code,
            &start.to_string(),
            &day.to_string(),
        )
        .await?;
        let len = (day - start).num_days() as usize + 1;
        let mut counts = vec![0.0; len];
        for r in &rows {
            if let Ok(d) = NaiveDate::parse_from_str(&r.date, "%Y-%m-%d")
                && let Some(slot) = counts.get_mut((d - start).num_days() as usize)
            {
                *slot = r.count as f64;
            }
        }
        let algo = Algo::standard(&sig.code)
            .into_iter()
            .find(|a| a.name() == sig.algorithm)
            .unwrap_or(Algo::standard(&sig.code)[1]);
        let from = len.saturating_sub(CHART_DAYS as usize);
        let line = threshold_line(algo, start, &counts, from);
        let weekly = matches!(algo, Algo::Percentile(_));
        let observed: Vec<f64> = (from..len)
            .map(|d| {
                if weekly {
                    counts[d.saturating_sub(6)..=d].iter().sum()
                } else {
                    counts[d]
                }
            })
            .collect();
        Some(serde_json::json!({
            "days": (from..len).map(|d| (start + Duration::days(d as i64)).format("%m-%d").to_string()).collect::<Vec<_>>(),
            "observed": observed,
            "threshold": line,
            "weekly": weekly,
            "label": algorithm_label(algo.name()),
        }))
    };
    Ok(render(
        "surveillance_signal.html",
        with(
            base(&auth, &jar, "/surveillance"),
            context! {
                v => signal_view(&sig),
                detail => Value::from_serialize(serde_json::from_str::<serde_json::Value>(&sig.detail).unwrap_or_default()),
                chart => chart.as_ref().map(safe_json),
                acts => allowed(auth.principal.role, Action::ManageSignals),
                error => Option::<String>::None,
            },
        ),
    ))
}

/// The algorithm's threshold on each day `from..` (None where it has none).
fn threshold_line(algo: Algo, start: NaiveDate, counts: &[f64], from: usize) -> Vec<Option<f64>> {
    use yilian_analytics::surveillance::{
        CusumParams, EarsParams, PercentileParams, cusum, ears_with, moving_percentile,
    };
    let mut line = vec![None; counts.len() - from];
    match algo {
        Algo::Ears(m, alpha) => {
            let p = EarsParams {
                alpha,
                min_sigma: yilian_analytics::surveillance::ears::FLAT_BASELINE_SIGMA,
                ..EarsParams::new(m)
            };
            for x in ears_with(counts, &p).into_iter().filter(|x| x.day >= from) {
                line[x.day - from] = Some(x.upperbound);
            }
        }
        Algo::Percentile(pct) => {
            let p = PercentileParams {
                years: yilian_domain::surveillance::PERCENTILE_YEARS,
                percentile: pct,
                min_count: 1.0,
                season: None,
            };
            for (i, slot) in line.iter_mut().enumerate() {
                let d = start + Duration::days((from + i) as i64);
                *slot = moving_percentile(start, counts, d, &p).map(|x| x.threshold);
            }
        }
        Algo::Cusum => {
            for x in cusum(counts, &CusumParams::default())
                .into_iter()
                .filter(|x| x.day >= from)
            {
                line[x.day - from] = Some(x.upperbound);
            }
        }
    }
    line
}

async fn act_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path((id, to)): Path<(i64, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let to = SignalState::parse(&to).ok_or_else(|| ApiError::not_found("操作"))?;
    match service::act(&s.store, &auth.principal, id, to, f.raw("note")).await {
        Ok(sig) => match sig.event_id {
            Some(e) if to == SignalState::Confirmed => {
                see_other(&format!("/surveillance/events/{e}"))
            }
            _ => see_other(&format!("/surveillance/signals/{id}")),
        },
        Err(e) if super::shown_on_form(&e) => {
            let page = render(
                "error.html",
                context! { message => e.body.message_zh.clone(), csrf => "" },
            );
            Ok((e.status, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn event_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    let e = service::event(&s.store, &auth.principal, id).await?;
    Ok(render(
        "surveillance_event.html",
        with(
            base(&auth, &jar, "/surveillance"),
            context! { e => Value::from_serialize(&e), v => signal_view(&e.signal) },
        ),
    ))
}

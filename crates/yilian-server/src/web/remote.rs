//! 远程诊断 pages: the requester's form (with the exam file, from the
//! resident's page) and their list of requests with states; the reading
//! hospital's work list with turnaround clocks (time left / overdue, in
//! colour); a request with the actions the state machine allows the
//! caller (claim, release, report, sign, cancel) and the signed report.
//! Every read and write is the `/api/v1` operation of [`crate::remote`].

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use minijinja::{Environment, Value, context};
use serde::Serialize;
use yilian_domain::access::Role;
use yilian_domain::remote::{
    MAX_FILE_BYTES, RemoteEvent, RemoteKind, RemoteSide, RemoteState, RemoteUrgency, transition,
};
use yilian_store::residents;

use super::{
    Fields, NavItem, WebAuth, WebError, WebResult, base, check_csrf, render, see_other,
    shown_on_form, with,
};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::referral::now_cst;
use crate::remote::{
    self as service, ClockView, RemoteInput, RemoteLine, ReportInput, UploadForm, actor_of,
};
use crate::state::AppState;

pub(super) const TEMPLATES: [(&str, &str); 3] = [
    (
        "remote_list.html",
        include_str!("../../templates/remote_list.html"),
    ),
    (
        "remote_new.html",
        include_str!("../../templates/remote_new.html"),
    ),
    (
        "remote_detail.html",
        include_str!("../../templates/remote_detail.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/remote", get(list_page))
        .route(
            "/remote/new",
            get(new_page)
                .post(new_submit)
                .layer(DefaultBodyLimit::max(service::BODY_LIMIT)),
        )
        .route("/remote/{id}", get(detail_page))
        .route("/remote/{id}/file", get(file_download))
        .route("/remote/{id}/{event}", post(event_submit))
}

/// The vocabularies as template globals.
pub fn add_globals(env: &mut Environment<'static>) {
    fn labels<T: Copy>(all: &[T], code: fn(T) -> &'static str, zh: fn(T) -> &'static str) -> Value {
        Value::from_serialize(
            all.iter()
                .map(|v| (code(*v), zh(*v)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
    }
    env.add_global(
        "remote_kind_labels",
        labels(RemoteKind::ALL, RemoteKind::as_str, RemoteKind::label_zh),
    );
    env.add_global(
        "remote_urgency_labels",
        labels(
            RemoteUrgency::ALL,
            RemoteUrgency::as_str,
            RemoteUrgency::label_zh,
        ),
    );
    env.add_global(
        "remote_state_labels",
        labels(RemoteState::ALL, RemoteState::as_str, RemoteState::label_zh),
    );
}

/// The navigation entry, for the roles that take part.
pub(super) fn nav(role: Role) -> Option<NavItem> {
    service::takes_part(role).then_some(NavItem {
        href: "/remote",
        label: "远程诊断",
    })
}

/// "剩余 1 小时 5 分" / "已超时 12 分" / "已停止".
fn clock_text(c: &ClockView) -> String {
    fn span(m: i64) -> String {
        let (d, h, m) = (m / 1440, (m % 1440) / 60, m % 60);
        match (d, h) {
            (0, 0) => format!("{m} 分"),
            (0, _) => format!("{h} 小时 {m} 分"),
            _ => format!("{d} 天 {h} 小时"),
        }
    }
    if c.colour == "stopped" {
        "已停止".into()
    } else if c.overdue {
        format!("已超时 {}", span(-c.minutes_left))
    } else {
        format!("剩余 {}", span(c.minutes_left))
    }
}

#[derive(Debug, Serialize)]
struct LineView<'a> {
    #[serde(flatten)]
    line: &'a RemoteLine,
    clock_text: String,
}

fn lines(v: &[RemoteLine]) -> Vec<LineView<'_>> {
    v.iter()
        .map(|l| LineView {
            clock_text: clock_text(&l.clock),
            line: l,
        })
        .collect()
}

// ---------------------------------------------------------------- 列表

async fn list_page(State(s): State<AppState>, WebAuth(auth): WebAuth, jar: CookieJar) -> WebResult {
    let p = &auth.principal;
    if !service::takes_part(p.role) || p.institution.is_none() {
        return Err(ApiError::forbidden().into());
    }
    let now = now_cst();
    let reader = matches!(p.role, Role::Specialist | Role::ReferralDesk);
    let worklist = if reader {
        service::worklist(&s.store, p, now).await?
    } else {
        Vec::new()
    };
    let sent = service::sent(&s.store, p, None, now).await?;
    let overdue = service::overdue(&s.store, p, now).await?;
    Ok(render(
        "remote_list.html",
        with(
            base(&auth, &jar, "/remote"),
            context! {
                reader,
                worklist => lines(&worklist),
                sent => lines(&sent),
                overdue => lines(&overdue),
            },
        ),
    ))
}

// ---------------------------------------------------------------- 申请

#[derive(Debug, serde::Deserialize)]
struct NewQuery {
    resident_id: Option<String>,
}

async fn new_form(
    s: &AppState,
    auth: &Auth,
    jar: &CookieJar,
    resident_id: i64,
    values: Value,
    error: Option<ApiError>,
) -> WebResult {
    let p = &auth.principal;
    let mut c = s.store.read().await?;
    let resident = crate::care::visible_resident(&mut c, p, resident_id).await?;
    drop(c);
    let targets = service::targets(&s.store, p).await?;
    let kinds: Vec<Value> = RemoteKind::ALL
        .iter()
        .map(|k| context! { code => k.as_str(), label => k.label_zh() })
        .collect();
    let urgencies: Vec<Value> = RemoteUrgency::ALL
        .iter()
        .map(|k| context! { code => k.as_str(), label => k.label_zh() })
        .collect();
    let limits = &s.settings.remote_limits;
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let page = render(
        "remote_new.html",
        with(
            base(auth, jar, "/remote"),
            context! {
                resident => context! { id => resident.id, name => resident.name, birth_date => resident.birth_date },
                from_name => p.institution.as_ref().map(|i| i.name.clone()),
                targets, kinds, urgencies, v => values,
                max_mb => MAX_FILE_BYTES / (1024 * 1024),
                limits => context! {
                    emergency => limits.emergency_minutes, urgent => limits.urgent_minutes, routine => limits.routine_minutes,
                },
                error => error.map(|e| e.body.message_zh),
            },
        ),
    );
    Ok((status, page).into_response())
}

async fn new_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<NewQuery>,
) -> WebResult {
    let resident_id = q
        .resident_id
        .as_deref()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::invalid("resident_id", "请指定居民", "resident_id is required"))?;
    new_form(&s, &auth, &jar, resident_id, context! {}, None).await
}

fn entered(f: &UploadForm) -> Value {
    let get = |k: &str| f.raw(k).to_string();
    context! {
        kind => get("kind"), urgency => get("urgency"), to_institution_code => get("to_institution_code"),
        question => get("question"), file_ref => get("file_ref"), reason => get("reason"),
    }
}

async fn new_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> WebResult {
    let mp = mp.map_err(|r| ApiError::malformed(r.body_text()))?;
    let form = service::read_form(mp).await?;
    check_csrf(&auth, form.raw("csrf"))?;
    let input = RemoteInput::from_form(&form)?;
    let values = entered(&form);
    match service::create(
        &s.store,
        &auth.principal,
        &input,
        form.file,
        &s.settings.remote_limits,
        now_cst(),
    )
    .await
    {
        Ok(v) => see_other(&format!("/remote/{}", v.request.id)),
        Err(e)
            if shown_on_form(&e)
                || matches!(
                    e.status,
                    StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
                ) =>
        {
            new_form(&s, &auth, &jar, input.resident_id, values, Some(e)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- 申请详情

/// A refused action, shown next to its form.
#[derive(Debug, Default, Serialize)]
struct Problem {
    form: String,
    message: String,
    report: String,
    conclusion: String,
    reason: String,
    #[serde(skip)]
    status: Option<StatusCode>,
}

async fn detail(
    s: &AppState,
    auth: &Auth,
    jar: &CookieJar,
    id: i64,
    problem: Option<Problem>,
) -> WebResult {
    let p = &auth.principal;
    let v = service::get(&s.store, p, id, now_cst()).await?;
    let r = &v.request;
    let actions: Vec<&str> = match (actor_of(p, r), RemoteState::parse(&r.state)) {
        (Some(actor), Some(from)) => RemoteEvent::ALL
            .iter()
            .filter(|e| **e != RemoteEvent::Request)
            .filter(|_| actor.side == RemoteSide::Requesting || service::reads(p.role))
            .filter(|e| transition(Some(from), **e, actor).is_ok())
            .map(|e| e.as_str())
            .collect(),
        _ => Vec::new(),
    };
    let mut c = s.store.read().await?;
    let users: std::collections::BTreeMap<i64, String> = yilian_store::users::list(&mut c)
        .await?
        .into_iter()
        .filter(|u| v.trail.iter().any(|t| t.user_id == Some(u.id)) || Some(u.id) == r.signed_by)
        .map(|u| (u.id, u.username))
        .collect();
    let resident_visible = residents::get(&mut c, r.resident_id)
        .await?
        .is_some_and(|x| {
            yilian_store::residents::admits(&yilian_domain::access::resident_scope(p), &x)
        });
    drop(c);
    let status = problem
        .as_ref()
        .and_then(|x| x.status)
        .unwrap_or(StatusCode::OK);
    let trail: Vec<Value> = v
        .trail
        .iter()
        .map(|t| {
            let d: serde_json::Value = serde_json::from_str(&t.detail).unwrap_or_default();
            context! {
                at => t.at.clone(),
                event => t.action.trim_start_matches("remote.").to_string(),
                user => t.user_id.and_then(|u| users.get(&u).cloned()).unwrap_or_default(),
                to => d.get("to").and_then(|x| x.as_str()).unwrap_or_default().to_string(),
                reason => d.get("reason").and_then(|x| x.as_str()).unwrap_or_default().to_string(),
            }
        })
        .collect();
    let page = render(
        "remote_detail.html",
        with(
            base(auth, jar, "/remote"),
            context! {
                q => Value::from_serialize(&v),
                clock_text => clock_text(&v.clock),
                actions, trail, problem, resident_visible,
                signed_by_name => r.signed_by.and_then(|u| users.get(&u).cloned()),
                event_labels => Value::from_serialize(
                    RemoteEvent::ALL.iter().map(|e| (e.as_str(), e.label_zh())).collect::<std::collections::BTreeMap<_, _>>()
                ),
            },
        ),
    );
    Ok((status, page).into_response())
}

async fn detail_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    detail(&s, &auth, &jar, id, None).await
}

async fn event_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path((id, event)): Path<(i64, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let event = RemoteEvent::parse(&event)
        .filter(|e| *e != RemoteEvent::Request)
        .ok_or_else(|| WebError::from(ApiError::not_found("操作")))?;
    let report = ReportInput {
        report: f.raw("report").to_string(),
        conclusion: f.raw("conclusion").to_string(),
    };
    let reason = f.text("reason");
    match service::act(
        &s.store,
        &auth.principal,
        id,
        event,
        Some(&report),
        reason.as_deref(),
        now_cst(),
    )
    .await
    {
        Ok(v) => see_other(&format!("/remote/{}", v.request.id)),
        Err(e) if shown_on_form(&e) => {
            let problem = Problem {
                form: event.as_str().into(),
                message: e.body.message_zh.clone(),
                report: report.report,
                conclusion: report.conclusion,
                reason: reason.unwrap_or_default(),
                status: Some(e.status),
            };
            detail(&s, &auth, &jar, id, Some(problem)).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn file_download(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path(id): Path<i64>,
) -> WebResult {
    let f = service::file(&s.store, &auth.principal, id, s.settings.encounter_days).await?;
    let mut res = f.bytes.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&f.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let ascii: String = f
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

//! The web shell: server-rendered pages in Simplified Chinese, enhanced with
//! htmx (live resident search). Forms carry a CSRF token; the session is an
//! HttpOnly, SameSite=Lax cookie. Residents get an elder mode (长者模式).

mod care;
pub(crate) mod export;
mod insurance;
mod integration;
mod monitoring;
mod recognition;
mod record;
mod referral;
mod remote;
mod surveillance;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::{Environment, Value, context};
use serde::{Deserialize, Serialize};
use yilian_domain::access::{Action, Role, allowed};
use yilian_domain::registry::{
    BedType, ConsortiumKind, Grade, InstitutionKind, Insurance, Profession, Service,
};
use yilian_domain::resident::KeyPopulation;
use yilian_store::registry::{self, ConsortiumFilter, InstitutionFilter};
use yilian_store::residents::ResidentFilter;
use yilian_store::{Page, Paging};

use crate::auth::{self, Auth, MaybeAuth, SESSION_COOKIE};
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::service::{self, MergeRequest};
use crate::state::AppState;

const ELDER_COOKIE: &str = "yl_elder";
const LOGIN_CSRF_COOKIE: &str = "yl_login_csrf";

macro_rules! labels {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|v| (v.as_str(), v.label_zh()))
            .collect::<BTreeMap<_, _>>()
    };
}

/// The page templates, compiled once, with the vocabularies' Chinese labels
/// as globals.
pub fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("home.html", include_str!("../../templates/home.html")),
            (
                "residents.html",
                include_str!("../../templates/residents.html"),
            ),
            (
                "resident_results.html",
                include_str!("../../templates/resident_results.html"),
            ),
            (
                "resident.html",
                include_str!("../../templates/resident.html"),
            ),
            (
                "institutions.html",
                include_str!("../../templates/institutions.html"),
            ),
            (
                "institution.html",
                include_str!("../../templates/institution.html"),
            ),
            (
                "consortia.html",
                include_str!("../../templates/consortia.html"),
            ),
            (
                "consortium.html",
                include_str!("../../templates/consortium.html"),
            ),
            ("me.html", include_str!("../../templates/me.html")),
            (
                "care_workspace.html",
                include_str!("../../templates/care_workspace.html"),
            ),
            (
                "care_packages.html",
                include_str!("../../templates/care_packages.html"),
            ),
            (
                "care_sign.html",
                include_str!("../../templates/care_sign.html"),
            ),
            (
                "care_enrolment.html",
                include_str!("../../templates/care_enrolment.html"),
            ),
            (
                "care_resident.html",
                include_str!("../../templates/care_resident.html"),
            ),
            (
                "care_badge.html",
                include_str!("../../templates/care_badge.html"),
            ),
            ("mpi.html", include_str!("../../templates/mpi.html")),
            ("pager.html", include_str!("../../templates/pager.html")),
            ("error.html", include_str!("../../templates/error.html")),
        ]
        .into_iter()
        .chain(referral::TEMPLATES)
        .chain(recognition::TEMPLATES)
        .chain(record::TEMPLATES)
        .chain(remote::TEMPLATES)
        .chain(insurance::TEMPLATES)
        .chain(surveillance::TEMPLATES)
        .chain(monitoring::TEMPLATES)
        .chain(integration::TEMPLATES)
        {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env.add_global("tag_labels", Value::from_serialize(labels!(KeyPopulation)));
        env.add_global(
            "kind_labels",
            Value::from_serialize(labels!(InstitutionKind)),
        );
        env.add_global("grade_labels", Value::from_serialize(labels!(Grade)));
        env.add_global("bed_labels", Value::from_serialize(labels!(BedType)));
        env.add_global(
            "profession_labels",
            Value::from_serialize(labels!(Profession)),
        );
        env.add_global("service_labels", Value::from_serialize(labels!(Service)));
        env.add_global(
            "consortium_labels",
            Value::from_serialize(labels!(ConsortiumKind)),
        );
        care::add_globals(&mut env);
        referral::add_globals(&mut env);
        record::add_globals(&mut env);
        remote::add_globals(&mut env);
        env
    })
}

/// A page-level failure: 401 goes to the login page, others render a page.
#[derive(Debug)]
pub struct WebError(ApiError);

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError(e)
    }
}
impl From<yilian_store::StoreError> for WebError {
    fn from(e: yilian_store::StoreError) -> Self {
        WebError(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.0.status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/login").into_response();
        }
        let body = render(
            "error.html",
            context! { message => self.0.body.message_zh.clone(), csrf => "" },
        );
        (self.0.status, body).into_response()
    }
}

type WebResult = Result<Response, WebError>;

/// The signed-in user of a page; anonymous visitors go to the login page.
#[derive(Debug)]
pub struct WebAuth(pub Auth);

impl FromRequestParts<AppState> for WebAuth {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Auth::from_request_parts(parts, state)
            .await
            .map(WebAuth)
            .map_err(WebError)
    }
}

fn render(name: &str, ctx: Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "render failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>页面渲染失败</h1>".to_string()),
            )
                .into_response()
        }
    }
}

#[derive(Debug, Serialize)]
struct NavItem {
    href: &'static str,
    label: &'static str,
}

/// 导航 — what each role sees in the navigation.
fn nav_for(role: Role) -> Vec<NavItem> {
    let mut v = vec![NavItem {
        href: "/",
        label: "工作台",
    }];
    if role == Role::Resident {
        v.push(NavItem {
            href: "/me",
            label: "我的档案",
        });
    } else {
        v.push(NavItem {
            href: "/residents",
            label: "居民查询",
        });
    }
    if allowed(role, Action::WriteCare) {
        v.push(NavItem {
            href: "/care",
            label: "签约与慢病",
        });
    }
    if referral::works_referrals(role) {
        v.push(NavItem {
            href: "/referrals",
            label: "双向转诊",
        });
    }
    v.extend(recognition::nav(role));
    v.extend(remote::nav(role));
    v.extend(insurance::nav(role));
    v.extend(surveillance::nav(role));
    v.extend(monitoring::nav(role));
    v.push(NavItem {
        href: "/institutions",
        label: "医疗机构",
    });
    v.push(NavItem {
        href: "/consortia",
        label: "医联体",
    });
    if allowed(role, Action::ManageMpi) {
        v.push(NavItem {
            href: "/mpi",
            label: "主索引维护",
        });
    }
    v.extend(integration::nav(role));
    v
}

/// The context every signed-in page shares.
fn base(auth: &Auth, jar: &CookieJar, active: &str) -> Value {
    let p = &auth.principal;
    let scope = p
        .institution
        .as_ref()
        .map(|i| i.name.clone())
        .or_else(|| p.region.as_ref().map(|r| r.as_str().to_string()));
    context! {
        user => context! { name => p.username.clone(), role_label => p.role.label_zh(), scope => scope },
        nav => nav_for(p.role),
        csrf => auth.csrf.clone(),
        elder => jar.get(ELDER_COOKIE).is_some_and(|c| c.value() == "1"),
        active => active,
    }
}

fn with(base: Value, extra: Value) -> Value {
    context! { ..base, ..extra }
}

pub(crate) fn see_other(path: &str) -> WebResult {
    Ok(Redirect::to(path).into_response())
}

/// A submitted form as its (name, value) pairs.
#[derive(Debug)]
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    /// A trimmed, non-empty value.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        let v = self.raw(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }
    /// An optional number; text that is not one is refused.
    pub(crate) fn num<T: FromStr>(&self, name: &'static str) -> Result<Option<T>, WebError> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(name, "应填写数字", "must be a number").into()),
        }
    }
}

/// A refusal the form can show next to the entered values (the rules' 422s,
/// a conflict such as a slot just taken); anything else is an error page.
pub(crate) fn shown_on_form(e: &ApiError) -> bool {
    matches!(
        e.status,
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT
    )
}

/// Checks a form's CSRF token against the session's.
fn check_csrf(auth: &Auth, sent: &str) -> Result<(), WebError> {
    if !sent.is_empty() && sent == auth.csrf {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "请求校验失败，请刷新页面后重试",
            "CSRF check failed",
        )
        .into())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/elder", post(toggle_elder))
        .route("/me", get(me))
        .route("/residents", get(residents_page))
        .route("/residents/{id}", get(resident_page))
        .route("/institutions", get(institutions_page))
        .route("/institutions/{id}", get(institution_page))
        .route("/consortia", get(consortia_page))
        .route("/consortia/{id}", get(consortium_page))
        .route("/mpi", get(mpi_page))
        .route("/mpi/scan", post(mpi_scan))
        .route("/mpi/merge", post(mpi_merge))
        .merge(care::router())
        .merge(referral::router())
        .merge(recognition::router())
        .merge(record::router())
        .merge(remote::router())
        .merge(insurance::router())
        .merge(surveillance::router())
        .merge(monitoring::router())
        .merge(integration::router())
}

async fn home(State(s): State<AppState>, MaybeAuth(auth): MaybeAuth, jar: CookieJar) -> WebResult {
    let Some(auth) = auth else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mut stats = Vec::new();
    if auth.principal.role != Role::Resident {
        let page = service::search_residents(
            &s.store,
            &auth.principal,
            &ResidentFilter::default(),
            Paging::new(Some(1), None),
            s.today(),
        )
        .await?;
        stats.push(context! { label => "可查看居民", value => page.total });
        let mut c = s.store.read().await?;
        let within = auth
            .principal
            .institution
            .as_ref()
            .map(|i| yilian_domain::access::catchment(i.kind, &i.region_code))
            .or_else(|| {
                auth.principal
                    .region
                    .as_ref()
                    .map(|r| r.scope_prefix().to_string())
            });
        let inst = registry::list_institutions(
            &mut c,
            &InstitutionFilter {
                within,
                ..Default::default()
            },
            Paging::new(Some(1), None),
        )
        .await?;
        stats.push(context! { label => "辖区医疗机构", value => inst.total });
    }
    Ok(render(
        "home.html",
        with(base(&auth, &jar, "/"), context! { stats }),
    ))
}

/// The login form with a fresh double-submit CSRF token (cookie + field).
fn login_form(jar: CookieJar, status: StatusCode, error: Option<String>) -> WebResult {
    let token = auth::random_token()?;
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, token.clone()))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    let page = render(
        "login.html",
        context! { login_csrf => token, csrf => "", error },
    );
    Ok((status, jar.add(cookie), page).into_response())
}

async fn login_page(jar: CookieJar) -> WebResult {
    login_form(jar, StatusCode::OK, None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login_submit(
    State(s): State<AppState>,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> WebResult {
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if expected.is_empty() || expected != f.csrf {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "登录页面已过期，请刷新后重试",
            "login form expired",
        )
        .into());
    }
    match auth::login(&s, &f.username, &f.password).await {
        Ok((token, _)) => {
            let cookie = Cookie::build((SESSION_COOKIE, token))
                .path("/")
                .http_only(true)
                .secure(s.settings.secure_cookies)
                .same_site(SameSite::Lax)
                .max_age(time_hours(auth::SESSION_HOURS))
                .build();
            Ok((jar.add(cookie), Redirect::to("/")).into_response())
        }
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED
                || e.status == StatusCode::TOO_MANY_REQUESTS =>
        {
            login_form(jar, e.status, Some(e.body.message_zh))
        }
        Err(e) => Err(e.into()),
    }
}

fn time_hours(h: i64) -> time::Duration {
    time::Duration::hours(h)
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Form(f): Form<CsrfForm>,
) -> WebResult {
    check_csrf(&auth, &f.csrf)?;
    let mut c = s.store.read().await?;
    yilian_store::users::delete_session(&mut c, &auth.token_hash).await?;
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response())
}

async fn toggle_elder(
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> WebResult {
    check_csrf(&auth, &f.csrf)?;
    let on = jar.get(ELDER_COOKIE).is_some_and(|c| c.value() == "1");
    let cookie = Cookie::build((ELDER_COOKIE, if on { "0" } else { "1" }))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time_hours(24 * 365))
        .build();
    let back = headers
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("://")
                .and_then(|i| r[i + 3..].find('/').map(|j| r[i + 3 + j..].to_string()))
        })
        .unwrap_or_else(|| "/".into());
    Ok((jar.add(cookie), Redirect::to(&back)).into_response())
}

fn insurance_label(code: &str) -> &'static str {
    Insurance::parse(code).map_or("—", |i| i.label_zh())
}

async fn region_name(s: &AppState, code: &str) -> Result<String, WebError> {
    let mut c = s.store.read().await?;
    Ok(registry::get_region(&mut c, code)
        .await?
        .map_or_else(|| code.to_string(), |r| r.name))
}

async fn me(State(s): State<AppState>, WebAuth(auth): WebAuth, jar: CookieJar) -> WebResult {
    let Some(id) = auth.principal.resident_id else {
        return Ok(Redirect::to("/").into_response());
    };
    let r = service::resident_detail(&s.store, &auth.principal, id, s.today()).await?;
    let ins = insurance_label(&r.insurance);
    let care =
        care::resident_care(&s, &auth, r.id, r.household_code.as_deref(), &r.region_code).await?;
    let referral = referral::resident_referrals(&s, &auth, r.id).await?;
    Ok(render(
        "me.html",
        with(
            base(&auth, &jar, "/me"),
            context! { r, insurance_label => ins, care, referral },
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    offset: Option<i64>,
}

async fn residents_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> WebResult {
    auth.require(Action::ReadResident)?;
    let text = q.q.clone().unwrap_or_default();
    let page = if text.trim().is_empty() {
        None
    } else {
        let f = ResidentFilter {
            q: Some(text.clone()),
            ..Default::default()
        };
        Some(
            service::search_residents(
                &s.store,
                &auth.principal,
                &f,
                Paging::new(Some(50), q.offset),
                s.today(),
            )
            .await?,
        )
    };
    let ctx = with(
        base(&auth, &jar, "/residents"),
        context! { q => text, page },
    );
    let partial = headers.get("hx-request").is_some() && headers.get("hx-boosted").is_none();
    Ok(render(
        if partial {
            "resident_results.html"
        } else {
            "residents.html"
        },
        ctx,
    ))
}

async fn resident_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    let r = service::resident_detail(&s.store, &auth.principal, id, s.today()).await?;
    let region = region_name(&s, &r.region_code).await?;
    let ins = insurance_label(&r.insurance);
    let care =
        care::resident_care(&s, &auth, r.id, r.household_code.as_deref(), &r.region_code).await?;
    let referral = referral::resident_referrals(&s, &auth, r.id).await?;
    Ok(render(
        "resident.html",
        with(
            base(&auth, &jar, "/residents"),
            context! { links_record => record::links_record(auth.principal.role), r, region_name => region, insurance_label => ins, care, referral },
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct InstitutionPageQuery {
    q: Option<String>,
    kind: Option<String>,
    offset: Option<i64>,
}

/// Previous/next links for a page, keeping the other query parameters.
fn pager<T>(path: &str, page: &Page<T>, keep: &[(&str, &str)]) -> (Option<String>, Option<String>) {
    let qs: String = keep
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("&{k}={}", urlencode(v)))
        .collect();
    let prev = (page.offset > 0)
        .then(|| format!("{path}?offset={}{qs}", (page.offset - page.limit).max(0)));
    let next = (page.offset + page.limit < page.total)
        .then(|| format!("{path}?offset={}{qs}", page.offset + page.limit));
    (prev, next)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn institutions_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<InstitutionPageQuery>,
) -> WebResult {
    auth.require(Action::ReadRegistry)?;
    let text = q.q.clone().unwrap_or_default();
    let kind = q.kind.clone().unwrap_or_default();
    let f = InstitutionFilter {
        q: Some(text.clone()).filter(|t| !t.is_empty()),
        kind: Some(kind.clone()).filter(|k| !k.is_empty()),
        ..Default::default()
    };
    let mut c = s.store.read().await?;
    let page = registry::list_institutions(&mut c, &f, Paging::new(Some(50), q.offset)).await?;
    let (prev_href, next_href) = pager("/institutions", &page, &[("q", &text), ("kind", &kind)]);
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            with(
                Value::from_serialize(i),
                context! { beds_total => i.beds.total(), staff_total => i.staff.total() },
            )
        })
        .collect();
    let kinds: Vec<Value> = InstitutionKind::ALL
        .iter()
        .map(|k| context! { code => k.as_str(), label => k.label_zh() })
        .collect();
    let page = context! { items, total => page.total };
    Ok(render(
        "institutions.html",
        with(
            base(&auth, &jar, "/institutions"),
            context! { page, q => text, kind, kinds, prev_href, next_href },
        ),
    ))
}

async fn institution_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    let i = registry::get_institution(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("机构"))?;
    let consortia = registry::list_consortia(
        &mut c,
        &ConsortiumFilter {
            member_institution_id: Some(id),
            ..Default::default()
        },
        Paging::default(),
    )
    .await?
    .items;
    drop(c);
    let region = region_name(&s, &i.region_code).await?;
    Ok(render(
        "institution.html",
        with(
            base(&auth, &jar, "/institutions"),
            context! { i, consortia, region_name => region },
        ),
    ))
}

async fn consortia_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
) -> WebResult {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    let page = registry::list_consortia(
        &mut c,
        &ConsortiumFilter::default(),
        Paging::new(Some(200), None),
    )
    .await?;
    Ok(render(
        "consortia.html",
        with(base(&auth, &jar, "/consortia"), context! { page }),
    ))
}

async fn consortium_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> WebResult {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    let cons = registry::get_consortium(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("医联体"))?;
    let members = registry::members(&mut c, id).await?;
    let lead_name = members
        .iter()
        .find(|m| m.id == cons.lead_institution_id)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    Ok(render(
        "consortium.html",
        with(
            base(&auth, &jar, "/consortia"),
            context! { c => cons, members, lead_name },
        ),
    ))
}

async fn mpi_page(State(s): State<AppState>, WebAuth(auth): WebAuth, jar: CookieJar) -> WebResult {
    let page = service::list_candidates(
        &s.store,
        &auth.principal,
        Some("open"),
        Paging::new(Some(100), None),
    )
    .await?;
    Ok(render(
        "mpi.html",
        with(base(&auth, &jar, "/mpi"), context! { page }),
    ))
}

async fn mpi_scan(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Form(f): Form<CsrfForm>,
) -> WebResult {
    check_csrf(&auth, &f.csrf)?;
    let report = service::scan_duplicates(&s.store, &auth.principal).await?;
    let page = service::list_candidates(
        &s.store,
        &auth.principal,
        Some("open"),
        Paging::new(Some(100), None),
    )
    .await?;
    Ok(render(
        "mpi.html",
        with(base(&auth, &jar, "/mpi"), context! { page, report }),
    ))
}

#[derive(Debug, Deserialize)]
struct MergeForm {
    csrf: String,
    candidate_id: i64,
    survivor_id: i64,
    merged_id: i64,
}

async fn mpi_merge(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Form(f): Form<MergeForm>,
) -> WebResult {
    check_csrf(&auth, &f.csrf)?;
    let req = MergeRequest {
        survivor_id: f.survivor_id,
        merged_id: f.merged_id,
        candidate_id: Some(f.candidate_id),
        reason: "疑似重复档案人工确认合并".into(),
    };
    service::merge(&s.store, &auth.principal, &req).await?;
    Ok(Redirect::to("/mpi").into_response())
}

/// JSON for a page's `<script>` (chart data): safe inside the element, no
/// `</script>` can close it early.
pub(super) fn safe_json(v: &serde_json::Value) -> Value {
    Value::from_safe_string(v.to_string().replace('<', "\\u003c"))
}

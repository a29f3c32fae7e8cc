//! 签约与慢病 pages: the team workspace (work list), the service-package
//! catalogue, signing, contract changes, enrolment and the chronic patient
//! page. Every write calls the same service operation as `/api/v1`
//! ([`crate::care`]); handlers only parse forms and arrange what is shown.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use chrono::NaiveDate;
use minijinja::{Environment, Value, context};
use serde::Deserialize;
use yilian_domain::access::{Action, Principal, Role, allowed, resident_scope};
use yilian_domain::chronic::{DueState, Program, Risk, SixOnes, due_state};
use yilian_domain::contract::{ContractStatus, Payer, ServiceKind, ServicePackage};
use yilian_domain::money::yuan;
use yilian_domain::registry::{CareLevel, InstitutionKind, Profession, TeamRole};
use yilian_store::care::{self as store, ContractFilter, ContractRow, EnrolmentRow};
use yilian_store::registry::{self, InstitutionFilter, TeamFilter, TeamRow};
use yilian_store::residents::{self, ResidentFilter, ResidentRow};
use yilian_store::{Conn, Paging};

use super::{WebAuth, WebError, WebResult, base, check_csrf, render, urlencode, with};
use crate::auth::Auth;
use crate::care::{
    self as service, ContractChange, EnrolRequest, Factors, FollowUpRequest, Measures, SignRequest,
};
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::state::AppState;

/// Work-list windows offered on the workspace (days ahead counted as due).
const WINDOWS: [i64; 3] = [7, 30, 90];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/care", get(workspace))
        .route("/care/packages", get(packages_page))
        .route("/care/sign", get(sign_page).post(sign_submit))
        .route("/care/contracts/{id}/events", post(contract_event))
        .route("/care/enrolments", post(enrol_submit))
        .route("/care/enrolments/{id}", get(enrolment_page))
        .route("/care/enrolments/{id}/followups", post(follow_up_submit))
}

/// The vocabularies of contracting and chronic care as template globals.
pub fn add_globals(env: &mut Environment<'static>) {
    fn labels<T: Copy>(all: &[T], code: fn(T) -> &'static str, zh: fn(T) -> &'static str) -> Value {
        Value::from_serialize(
            all.iter()
                .map(|v| (code(*v), zh(*v)))
                .collect::<BTreeMap<_, _>>(),
        )
    }
    env.add_global(
        "program_labels",
        labels(Program::ALL, Program::as_str, Program::label_zh),
    );
    env.add_global(
        "contract_status_labels",
        labels(
            ContractStatus::ALL,
            ContractStatus::as_str,
            ContractStatus::label_zh,
        ),
    );
    env.add_global(
        "team_role_labels",
        labels(TeamRole::ALL, TeamRole::as_str, TeamRole::label_zh),
    );
    env.add_global(
        "service_kind_labels",
        labels(ServiceKind::ALL, ServiceKind::as_str, ServiceKind::label_zh),
    );
    env.add_global(
        "payer_labels",
        labels(Payer::ALL, Payer::as_str, Payer::label_zh),
    );
    // 分色管理: risk code → colour, and colour → the short label on its badge.
    env.add_global(
        "risk_colours",
        labels(Risk::ALL, Risk::as_str, Risk::colour),
    );
    env.add_global(
        "colour_labels",
        labels(Risk::ALL, Risk::colour, |r| {
            r.label_zh().split('（').next().unwrap_or_default()
        }),
    );
    env.add_global(
        "adherence_labels",
        Value::from_serialize(ADHERENCE.iter().copied().collect::<BTreeMap<_, _>>()),
    );
}

/// 服药依从性 — the follow-up's adherence codes (checked by the service).
const ADHERENCE: [(&str, &str); 3] = [
    ("regular", "规律服药"),
    ("intermittent", "间断服药"),
    ("none", "不服药"),
];

// ---------------------------------------------------------------- forms

/// A submitted form as its (name, value) pairs: repeated names (checkboxes)
/// keep every value, and numbers are parsed here so a bad one is an error
/// page (422) instead of a rejected request.
#[derive(Debug)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The raw value (for the CSRF token).
    fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    /// A trimmed, non-empty value.
    fn text(&self, name: &str) -> Option<String> {
        let v = self.raw(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }
    /// Every non-empty value given under `name`.
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
    /// A checkbox.
    fn flag(&self, name: &str) -> bool {
        self.text(name)
            .is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "off"))
    }
    /// An optional number; text that is not one is refused.
    fn num<T: FromStr>(&self, name: &'static str) -> Result<Option<T>, WebError> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(name, "应填写数字", "must be a number").into()),
        }
    }
    fn measures(&self) -> Result<Measures, WebError> {
        Ok(Measures {
            sbp: self.num("sbp")?,
            dbp: self.num("dbp")?,
            heart_rate: self.num("heart_rate")?,
            fasting_glucose: self.num("fasting_glucose")?,
            hba1c: self.num("hba1c")?,
            weight_kg: self.num("weight_kg")?,
        })
    }
}

fn required<T>(v: Option<T>, field: &str, zh: &str) -> Result<T, WebError> {
    v.ok_or_else(|| ApiError::invalid(field, zh, "required").into())
}

fn see_other(path: &str) -> WebResult {
    Ok(Redirect::to(path).into_response())
}

/// A query parameter that should be a number (absent, empty or junk: none).
fn query_id(v: Option<&str>) -> Option<i64> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------- teams

/// The township (乡镇/街道) part of a region code: its first nine digits.
fn township(region_code: &str) -> &str {
    region_code.get(..9).unwrap_or(region_code)
}

/// The family-doctor teams of the township health centres and community
/// health centres inside a township.
async fn township_teams(conn: &mut Conn, region_code: &str) -> Result<Vec<TeamRow>, WebError> {
    let mut out = Vec::new();
    for kind in [
        InstitutionKind::TownshipHealthCenter,
        InstitutionKind::CommunityHealthCenter,
    ] {
        let f = InstitutionFilter {
            kind: Some(kind.as_str().into()),
            within: Some(township(region_code).into()),
            ..Default::default()
        };
        let centres = registry::list_institutions(conn, &f, Paging::new(Some(500), None)).await?;
        for i in centres.items {
            out.extend(institution_teams(conn, Some(i.id)).await?);
        }
    }
    Ok(out)
}

async fn institution_teams(
    conn: &mut Conn,
    institution_id: Option<i64>,
) -> Result<Vec<TeamRow>, WebError> {
    let f = TeamFilter {
        institution_id,
        ..Default::default()
    };
    Ok(registry::list_teams(conn, &f, Paging::new(Some(500), None))
        .await?
        .items)
}

/// The teams a caller works with: a village doctor (or community station)
/// those of their township's centres, a centre its own teams, the platform
/// administrator every team.
async fn caller_teams(conn: &mut Conn, p: &Principal) -> Result<Vec<TeamRow>, WebError> {
    match &p.institution {
        Some(i)
            if matches!(
                i.kind,
                InstitutionKind::VillageClinic | InstitutionKind::CommunityHealthStation
            ) =>
        {
            township_teams(conn, i.region_code.as_str()).await
        }
        Some(i) => institution_teams(conn, Some(i.id)).await,
        None => institution_teams(conn, None).await,
    }
}

/// Active contracts of a team (签约人数).
async fn signed_count(conn: &mut Conn, team_id: i64) -> Result<i64, WebError> {
    let f = ContractFilter {
        team_id: Some(team_id),
        status: Some(ContractStatus::Active.as_str().into()),
        ..Default::default()
    };
    // Capacity used counts every contract of the team, whoever asks.
    let all = yilian_domain::access::ResidentScope::All;
    Ok(
        store::list_contracts(conn, &f, &all, Paging::new(Some(1), None))
            .await?
            .total,
    )
}

// ---------------------------------------------------------------- 团队工作台

#[derive(Debug, Deserialize)]
struct WorkQuery {
    team_id: Option<String>,
    window: Option<String>,
}

async fn workspace(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<WorkQuery>,
) -> WebResult {
    auth.require(Action::WriteCare)?;
    let today = s.today();
    let window = query_id(q.window.as_deref()).unwrap_or(WINDOWS[0]);
    let mut c = s.store.read().await?;
    let teams = caller_teams(&mut c, &auth.principal).await?;
    let team_id = match q.team_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .filter(|id| teams.iter().any(|x| x.id == *id))
                .ok_or_else(|| ApiError::not_found("团队"))?,
        ),
    };
    let mut team_rows = Vec::with_capacity(teams.len());
    for t in &teams {
        let signed = signed_count(&mut c, t.id).await?;
        team_rows.push(context! {
            id => t.id, name => t.name.clone(), code => t.code.clone(),
            capacity => t.capacity, signed,
        });
    }
    drop(c);
    let lines = service::work_list(&s.store, &auth.principal, team_id, window, 500, today).await?;
    let (due, overdue) = lines.iter().fold((0, 0), |(d, o), l| match l.state {
        DueState::Overdue => (d, o + 1),
        _ => (d + 1, o),
    });
    Ok(render(
        "care_workspace.html",
        with(
            base(&auth, &jar, "/care"),
            context! {
                teams => team_rows, team_id, window, windows => WINDOWS.to_vec(),
                lines, due, overdue, today => today.to_string(),
            },
        ),
    ))
}

// ---------------------------------------------------------------- 服务包目录

fn percent(bp: u32) -> String {
    if bp.is_multiple_of(100) {
        format!("{}%", bp / 100)
    } else {
        format!("{}.{:02}%", bp / 100, bp % 100)
    }
}

fn package_view(p: &ServicePackage) -> Value {
    let payers: Vec<Value> = p
        .payers
        .iter()
        .zip(p.fee_by_payer())
        .map(|((payer, bp), (_, fen))| {
            context! { label => payer.label_zh(), percent => percent(*bp), fee => yuan(fen) }
        })
        .collect();
    let items: Vec<Value> = p
        .items
        .iter()
        .map(|i| context! { name => i.name.clone(), kind => i.kind.as_str(), per_year => i.per_year })
        .collect();
    context! {
        code => p.code.clone(), version => p.version, name => p.name.clone(),
        target => p.target.clone(), valid_from => p.valid_from.to_string(),
        fee => yuan(p.yearly_fee_fen), payers, items,
    }
}

async fn packages_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
) -> WebResult {
    auth.require(Action::ReadRegistry)?;
    let mut c = s.store.read().await?;
    let pkgs = store::packages_in_force(&mut c, &s.today().to_string()).await?;
    let packages: Vec<Value> = pkgs.iter().map(package_view).collect();
    Ok(render(
        "care_packages.html",
        with(base(&auth, &jar, "/care"), context! { packages }),
    ))
}

// ---------------------------------------------------------------- 签约

#[derive(Debug, Deserialize)]
struct SignQuery {
    resident_id: Option<String>,
    household_code: Option<String>,
}

/// Teams with the members who may be the responsible doctor (the cap policy
/// gives them a cap above zero).
async fn teams_with_doctors(
    s: &AppState,
    conn: &mut Conn,
    teams: &[TeamRow],
) -> Result<Vec<Value>, WebError> {
    let mut out = Vec::with_capacity(teams.len());
    for t in teams {
        let Some(team) = registry::get_team(conn, t.id).await? else {
            continue;
        };
        let doctors: Vec<Value> = team
            .members
            .iter()
            .filter(|m| Profession::parse(&m.profession).is_some_and(|p| s.settings.caps.cap(p) > 0))
            .map(|m| context! { id => m.practitioner_id, name => m.name.clone(), role => m.role.clone() })
            .collect();
        let signed = signed_count(conn, t.id).await?;
        out.push(context! {
            id => t.id, name => t.name.clone(), capacity => t.capacity, signed, doctors,
        });
    }
    Ok(out)
}

/// Hospitals for "1+1+1": grade II or above, and grade III.
async fn hospitals(conn: &mut Conn) -> Result<(Vec<Value>, Vec<Value>), WebError> {
    let (mut secondary, mut tertiary) = (Vec::new(), Vec::new());
    for kind in InstitutionKind::ALL.iter().filter(|k| {
        matches!(
            k.care_level(),
            CareLevel::County | CareLevel::City | CareLevel::Tertiary
        )
    }) {
        let f = InstitutionFilter {
            kind: Some(kind.as_str().into()),
            ..Default::default()
        };
        for i in registry::list_institutions(conn, &f, Paging::new(Some(500), None))
            .await?
            .items
        {
            let grade = i.grade.clone().unwrap_or_default();
            let v =
                context! { code => i.code.clone(), name => i.name.clone(), grade => grade.clone() };
            if grade.starts_with('3') {
                tertiary.push(v.clone());
            }
            if grade.starts_with('2') || grade.starts_with('3') {
                secondary.push(v);
            }
        }
    }
    Ok((secondary, tertiary))
}

fn has_tag(r: &ResidentRow, tag: &str) -> bool {
    r.tags.split(',').any(|t| t.trim() == tag)
}

async fn sign_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<SignQuery>,
) -> WebResult {
    auth.require(Action::WriteCare)?;
    let p = &auth.principal;
    let today = s.today();
    let household = q
        .household_code
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(String::from);
    let mut c = s.store.read().await?;
    let members: Vec<ResidentRow> = match (query_id(q.resident_id.as_deref()), &household) {
        (Some(id), None) => vec![service::visible_resident(&mut c, p, id).await?],
        (None, Some(h)) => {
            let f = ResidentFilter {
                household_code: Some(h.clone()),
                ..Default::default()
            };
            let page =
                residents::search(&mut c, &f, &resident_scope(p), Paging::new(Some(50), None))
                    .await?;
            if page.items.is_empty() {
                return Err(ApiError::not_found("家庭成员").into());
            }
            page.items
        }
        _ => {
            return Err(ApiError::invalid(
                "resident_id",
                "请指定居民或家庭户编号之一",
                "give resident_id or household_code",
            )
            .into());
        }
    };
    let mut people = Vec::with_capacity(members.len());
    for r in &members {
        let existing = store::active_contract(&mut c, r.id).await?;
        people.push(context! {
            id => r.id, name => r.name.clone(), birth_date => r.birth_date.clone(),
            contracted_team => existing.map(|k| k.team_name),
        });
    }
    let first = members.first().ok_or_else(|| ApiError::not_found("居民"))?;
    let teams = township_teams(&mut c, &first.region_code).await?;
    let teams = teams_with_doctors(&s, &mut c, &teams).await?;
    let single = household.is_none();
    let packages: Vec<Value> = store::packages_in_force(&mut c, &today.to_string())
        .await?
        .iter()
        .map(|pk| {
            let suggested = single
                && pk
                    .target
                    .as_deref()
                    .is_some_and(|t| has_tag(first, t));
            with(
                package_view(pk),
                context! { basic => pk.code == "basic", checked => pk.code == "basic" || suggested },
            )
        })
        .collect();
    let (secondary, tertiary) = hospitals(&mut c).await?;
    Ok(render(
        "care_sign.html",
        with(
            base(&auth, &jar, "/care"),
            context! {
                resident_id => single.then_some(first.id), household, people, teams, packages,
                secondary, tertiary, today => today.to_string(),
            },
        ),
    ))
}

async fn sign_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let req = SignRequest {
        resident_id: f.num("resident_id")?,
        household_code: f.text("household_code"),
        team_id: required(f.num("team_id")?, "team_id", "请选择签约团队")?,
        doctor_id: f.num("doctor_id")?,
        packages: f.all("packages"),
        start_date: f.text("start_date"),
        secondary_hospital_code: f.text("secondary_hospital_code"),
        tertiary_hospital_code: f.text("tertiary_hospital_code"),
    };
    let rows = service::sign(&s.store, &auth.principal, &req, s.today(), &s.settings.caps).await?;
    let first = rows
        .first()
        .map(|k| k.resident_id)
        .ok_or_else(ApiError::internal)?;
    see_other(&format!("/residents/{first}"))
}

async fn contract_event(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let ch = ContractChange {
        event: f.text("event").unwrap_or_default(),
        reason: f.text("reason"),
        team_id: f.num("team_id")?,
        doctor_id: f.num("doctor_id")?,
    };
    let row = service::change(
        &s.store,
        &auth.principal,
        id,
        &ch,
        s.today(),
        &s.settings.caps,
    )
    .await?;
    see_other(&format!("/residents/{}", row.resident_id))
}

// ---------------------------------------------------------------- 居民页、我的档案

fn risk_colour(code: &str) -> &'static str {
    Risk::parse(code).map_or("", Risk::colour)
}

fn due_view(next_due: &str, today: NaiveDate) -> Value {
    match next_due.parse::<NaiveDate>() {
        Ok(next) => {
            let state = due_state(next, today, 7);
            context! {
                state => match state { DueState::Due => "due", DueState::Overdue => "overdue", DueState::Later => "later" },
                days_overdue => (today - next).num_days().max(0),
            }
        }
        Err(_) => context! { state => "later", days_overdue => 0 },
    }
}

fn enrolment_view(e: &EnrolmentRow, today: NaiveDate) -> Value {
    with(
        Value::from_serialize(e),
        context! { colour => risk_colour(&e.risk), due => due_view(&e.next_due, today) },
    )
}

async fn institution_name(conn: &mut Conn, id: Option<i64>) -> Result<Option<String>, WebError> {
    Ok(match id {
        Some(id) => registry::get_institution(conn, id).await?.map(|i| i.name),
        None => None,
    })
}

/// A contract with its packages, hospitals and team members, for display.
async fn contract_view(
    conn: &mut Conn,
    k: &ContractRow,
    today: NaiveDate,
) -> Result<Value, WebError> {
    let in_force = store::packages_in_force(conn, &today.to_string()).await?;
    let packages: Vec<Value> = store::contract_packages(conn, k.id)
        .await?
        .into_iter()
        .map(|(code, version)| {
            let name = in_force
                .iter()
                .find(|p| p.code == code)
                .map_or_else(|| code.clone(), |p| p.name.clone());
            context! { code, version, name }
        })
        .collect();
    let secondary = institution_name(conn, k.secondary_hospital_id).await?;
    let tertiary = institution_name(conn, k.tertiary_hospital_id).await?;
    let members: Vec<Value> = registry::get_team(conn, k.team_id)
        .await?
        .map(|t| t.members)
        .unwrap_or_default()
        .into_iter()
        .map(|m| context! { name => m.name, role => m.role })
        .collect();
    Ok(with(
        Value::from_serialize(k),
        context! { packages, secondary, tertiary, members, fee => yuan(k.fee_fen) },
    ))
}

/// The contracting and chronic-care part of a resident's page (and of the
/// resident's own portal). The caller has already been shown the resident
/// (`service::resident_detail` checks the scope); forms appear only for
/// roles that may write care.
pub(super) async fn resident_care(
    s: &AppState,
    auth: &Auth,
    resident_id: i64,
    household_code: Option<&str>,
    region_code: &str,
) -> Result<Value, WebError> {
    let today = s.today();
    let can_write = allowed(auth.principal.role, Action::WriteCare);
    let mut c = s.store.read().await?;
    let contracts = store::contracts_of(&mut c, &[resident_id]).await?;
    let active = contracts
        .iter()
        .find(|k| k.status == ContractStatus::Active.as_str());
    let contract = match active {
        Some(k) => Some(contract_view(&mut c, k, today).await?),
        None => None,
    };
    let history: Vec<Value> = contracts
        .iter()
        .filter(|k| active.is_none_or(|a| a.id != k.id))
        .map(Value::from_serialize)
        .collect();
    let enrolments = store::enrolments_of(&mut c, &[resident_id]).await?;
    let active_programs: Vec<&str> = enrolments
        .iter()
        .filter(|e| e.status == "active")
        .map(|e| e.program.as_str())
        .collect();
    let programs: Vec<Value> = Program::ALL
        .iter()
        .filter(|p| !active_programs.contains(&p.as_str()))
        .map(|p| context! { code => p.as_str(), label => p.label_zh() })
        .collect();
    // 下次随访 of the programmes under management, soonest first.
    let mut next_followups: Vec<&EnrolmentRow> =
        enrolments.iter().filter(|e| e.status == "active").collect();
    next_followups.sort_by(|a, b| a.next_due.cmp(&b.next_due));
    let next_followups: Vec<Value> = next_followups
        .into_iter()
        .map(|e| enrolment_view(e, today))
        .collect();
    let enrolments: Vec<Value> = enrolments
        .iter()
        .map(|e| enrolment_view(e, today))
        .collect();
    let transfer_teams: Vec<Value> = if can_write && active.is_some() {
        township_teams(&mut c, region_code)
            .await?
            .into_iter()
            .filter(|t| active.is_none_or(|a| a.team_id != t.id))
            .map(|t| context! { id => t.id, name => t.name })
            .collect()
    } else {
        Vec::new()
    };
    // Percent-encoded, so free of HTML-special characters (and not escaped
    // to `&#x2f;` by the template).
    let household_sign_href = household_code
        .map(|h| Value::from_safe_string(format!("/care/sign?household_code={}", urlencode(h))));
    Ok(context! {
        can_write, contract, history, enrolments, next_followups, programs, transfer_teams,
        can_sign => can_write && active.is_none(),
        sign_href => Value::from_safe_string(format!("/care/sign?resident_id={resident_id}")),
        household_sign_href, today => today.to_string(),
    })
}

// ---------------------------------------------------------------- 纳入管理、随访

async fn enrol_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let req = EnrolRequest {
        resident_id: required(f.num("resident_id")?, "resident_id", "请指定居民")?,
        program: f.text("program").unwrap_or_default(),
        source: f.text("source"),
        factors: Factors {
            risk_factors: f.num("risk_factors")?.unwrap_or(0),
            organ_damage: f.flag("organ_damage"),
            clinical_complications: f.flag("clinical_complications"),
            ckd: f.flag("ckd"),
            complications: f.num("complications")?.unwrap_or(0),
            exacerbations: f.num("exacerbations")?.unwrap_or(0),
            hospitalised: f.flag("hospitalised"),
            mmrc: f.num("mmrc")?.unwrap_or(0),
        },
        measures: f.measures()?,
        date: f.text("date"),
        plan: f.text("plan"),
    };
    let done = service::enrol(&s.store, &auth.principal, &req, s.today()).await?;
    see_other(&format!("/care/enrolments/{}", done.enrolment.id))
}

#[derive(Debug, Deserialize)]
struct SavedQuery {
    saved: Option<String>,
    prev: Option<String>,
}

/// The measurements over time for the chart, as JSON safe inside a
/// `<script type="application/json">` block.
fn series_json(rec: &service::ChronicRecord) -> Value {
    let f = &rec.followups;
    let json = serde_json::json!({
        "program": rec.enrolment.program,
        "dates": f.iter().map(|x| x.date.as_str()).collect::<Vec<_>>(),
        "sbp": f.iter().map(|x| x.sbp).collect::<Vec<_>>(),
        "dbp": f.iter().map(|x| x.dbp).collect::<Vec<_>>(),
        "fasting_glucose": f.iter().map(|x| x.fasting_glucose).collect::<Vec<_>>(),
        "hba1c": f.iter().map(|x| x.hba1c).collect::<Vec<_>>(),
    })
    .to_string()
    .replace('<', "\\u003c")
    .replace('>', "\\u003e")
    .replace('&', "\\u0026");
    Value::from_safe_string(json)
}

async fn enrolment_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> WebResult {
    auth.require(Action::ReadResident)?;
    let today = s.today();
    let rec = service::chronic_record(&s.store, &auth.principal, id, today).await?;
    let mut c = s.store.read().await?;
    let r = service::visible_resident(&mut c, &auth.principal, rec.enrolment.resident_id).await?;
    drop(c);
    let six_ones: Vec<Value> = SixOnes::default()
        .missing()
        .into_iter()
        .map(|name| context! { name, ok => !rec.missing.iter().any(|m| m == name) })
        .collect();
    let followups: Vec<Value> = rec
        .followups
        .iter()
        .rev()
        .map(|f| {
            with(
                Value::from_serialize(f),
                context! { colour => risk_colour(&f.risk_after) },
            )
        })
        .collect();
    let history: Vec<Value> = rec
        .risk_history
        .iter()
        .map(|h| {
            with(
                Value::from_serialize(h),
                context! { colour => risk_colour(&h.risk) },
            )
        })
        .collect();
    let program = rec.enrolment.program.clone();
    let has = |pick: fn(&store::FollowUpRow) -> bool| rec.followups.iter().any(pick);
    let show_bp = program == Program::Hypertension.as_str() || has(|f| f.sbp.is_some());
    let show_glucose = program == Program::Diabetes.as_str()
        || has(|f| f.fasting_glucose.is_some() || f.hba1c.is_some());
    let saved = q.saved.is_some().then(|| {
        context! {
            prev => q.prev.as_deref().and_then(Risk::parse).map(|r| r.as_str()),
        }
    });
    let can_follow_up =
        allowed(auth.principal.role, Action::WriteCare) && rec.enrolment.status == "active";
    let may_record_review = matches!(auth.principal.role, Role::Specialist | Role::Admin);
    let adherence: Vec<Value> = ADHERENCE
        .iter()
        .map(|(code, label)| context! { code, label })
        .collect();
    Ok(render(
        "care_enrolment.html",
        with(
            base(&auth, &jar, "/care"),
            context! {
                e => Value::from_serialize(&rec.enrolment),
                colour => risk_colour(&rec.enrolment.risk),
                due => due_view(&rec.enrolment.next_due, today),
                specialist_review_due => rec.specialist_review_due,
                missing => rec.missing.clone(),
                resident => context! { id => r.id, name => r.name.clone() },
                six_ones, followups, history, series => series_json(&rec),
                show_bp, show_glucose, saved, can_follow_up, may_record_review, adherence,
                today => today.to_string(),
            },
        ),
    ))
}

async fn follow_up_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let req = FollowUpRequest {
        date: f.text("date"),
        measures: f.measures()?,
        smoking: f.flag("smoking"),
        adherence: f.text("adherence"),
        specialist_review: f.flag("specialist_review"),
        symptoms: f.flag("symptoms"),
        note: f.text("note"),
    };
    let done = service::follow_up(&s.store, &auth.principal, id, &req, s.today()).await?;
    see_other(&format!(
        "/care/enrolments/{id}?saved={}&prev={}",
        done.followup_id, done.previous_risk
    ))
}

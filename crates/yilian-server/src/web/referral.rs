//! 双向转诊 pages: the referral form, the institution's work bench (收到的 /
//! 发出的转诊), a referral with its findings, trail and the actions open to
//! the caller's side, the slot calendar (号源日历), and the referral part of
//! a resident's page. Every write calls the same service operation as
//! `/api/v1` ([`crate::referral`]); handlers only parse forms and arrange
//! what is shown, and which actions are offered is asked of the domain state
//! machine ([`transition`]).

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use minijinja::{Environment, Value, context};
use serde::{Deserialize, Serialize};
use yilian_domain::access::{InstitutionRef, Principal, Role};
use yilian_domain::referral::{
    Direction, GreenChannel, ReferralEvent, ReferralState, Side, Urgency, transition,
};
use yilian_domain::registry::{CareLevel, Grade, InstitutionKind};
use yilian_store::referrals::{self as store, ReferralFilter, ReferralRow, SlotRow};
use yilian_store::registry::{self, ConsortiumFilter, InstitutionFilter, InstitutionRow};
use yilian_store::{Conn, Paging};

use super::{
    Fields, WebAuth, WebError, WebResult, base, check_csrf, render, see_other, shown_on_form, with,
};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Form, Path, Query};
use crate::referral::{self as service, ReferralChange, ReferralRequest, SlotPlan, now_cst};
use crate::state::AppState;

/// The page templates of this module, registered by [`super::templates`].
pub(super) const TEMPLATES: [(&str, &str); 6] = [
    (
        "referral_new.html",
        include_str!("../../templates/referral_new.html"),
    ),
    (
        "referral_targets.html",
        include_str!("../../templates/referral_targets.html"),
    ),
    (
        "referral_workbench.html",
        include_str!("../../templates/referral_workbench.html"),
    ),
    (
        "referral_detail.html",
        include_str!("../../templates/referral_detail.html"),
    ),
    (
        "referral_slots.html",
        include_str!("../../templates/referral_slots.html"),
    ),
    (
        "referral_resident.html",
        include_str!("../../templates/referral_resident.html"),
    ),
];

/// Days of free slots offered when scheduling a referral.
const SCHEDULE_DAYS: i64 = 14;
/// Days shown on the slot calendar.
const CALENDAR_DAYS: i64 = 7;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/referrals", get(workbench))
        .route("/referrals/new", get(new_page).post(new_submit))
        .route("/referrals/new/targets", get(targets_fragment))
        .route("/referrals/{id}", get(detail_page))
        .route("/referrals/{id}/events", post(event_submit))
        .route("/referrals/{id}/redirect", post(redirect_submit))
        .route("/referrals/{id}/appointment", post(appointment_submit))
        .route("/slots", get(slots_page).post(slots_submit))
}

/// 预约状态 — appointment statuses as shown.
const APPOINTMENT_STATUS: [(&str, &str); 5] = [
    ("booked", "已预约"),
    ("cancelled", "已取消"),
    ("rescheduled", "已改约"),
    ("attended", "已就诊"),
    ("no_show", "未到诊"),
];

/// The referral vocabularies as template globals, and the `when` filter
/// (`2026-05-01T09:00:00` → `2026-05-01 09:00`).
pub fn add_globals(env: &mut Environment<'static>) {
    fn labels<T: Copy>(all: &[T], code: fn(T) -> &'static str, zh: fn(T) -> &'static str) -> Value {
        Value::from_serialize(
            all.iter()
                .map(|v| (code(*v), zh(*v)))
                .collect::<BTreeMap<_, _>>(),
        )
    }
    env.add_global(
        "direction_labels",
        labels(Direction::ALL, Direction::as_str, Direction::label_zh),
    );
    env.add_global(
        "urgency_labels",
        labels(Urgency::ALL, Urgency::as_str, Urgency::label_zh),
    );
    env.add_global(
        "green_channel_labels",
        labels(
            GreenChannel::ALL,
            GreenChannel::as_str,
            GreenChannel::label_zh,
        ),
    );
    env.add_global(
        "referral_state_labels",
        labels(
            ReferralState::ALL,
            ReferralState::as_str,
            ReferralState::label_zh,
        ),
    );
    env.add_global(
        "referral_event_labels",
        labels(
            ReferralEvent::ALL,
            ReferralEvent::as_str,
            ReferralEvent::label_zh,
        ),
    );
    env.add_global(
        "role_labels",
        labels(Role::ALL, Role::as_str, Role::label_zh),
    );
    env.add_global(
        "appointment_status_labels",
        Value::from_serialize(
            APPOINTMENT_STATUS
                .iter()
                .copied()
                .collect::<BTreeMap<_, _>>(),
        ),
    );
    env.add_filter("when", when);
}

/// A stored time for display, to the minute, in China Standard Time: the
/// referral times are stored in CST (`2026-05-01T09:00:00`), audit stamps
/// such as the trail's in UTC (`2026-05-01T01:00:00Z`).
fn when(v: Option<String>) -> String {
    let Some(s) = v else {
        return String::new();
    };
    match s
        .strip_suffix('Z')
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok())
    {
        Some(utc) => (utc + Duration::hours(8))
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => s.get(..16).unwrap_or(&s).replace('T', " "),
    }
}

/// The roles that work referrals; the navigation and the page gates use it,
/// and the service checks again on every read and write.
pub(super) fn works_referrals(role: Role) -> bool {
    matches!(
        role,
        Role::VillageDoctor | Role::PrimaryClinician | Role::Specialist | Role::ReferralDesk
    )
}

/// The roles that open slots (放号).
fn opens_slots(role: Role) -> bool {
    matches!(
        role,
        Role::ReferralDesk | Role::Specialist | Role::PrimaryClinician
    )
}

/// The caller's institution, for pages that only make sense with one.
fn my_institution(p: &Principal) -> Result<&InstitutionRef, WebError> {
    match &p.institution {
        Some(i) if works_referrals(p.role) => Ok(i),
        _ => Err(ApiError::forbidden().into()),
    }
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

// ---------------------------------------------------------------- 接收机构

/// Referral levels: village 0, township/community 1, county 2, city 3,
/// tertiary 4 (public-health institutions take no referrals).
fn rank(kind: InstitutionKind) -> Option<u8> {
    match kind.care_level() {
        CareLevel::Village => Some(0),
        CareLevel::Primary => Some(1),
        CareLevel::County => Some(2),
        CareLevel::City => Some(3),
        CareLevel::Tertiary => Some(4),
        CareLevel::PublicHealth => None,
    }
}

/// The kinds offered as receivers for a direction from the caller's kind:
/// hospitals above the caller for 上转 (county, city, tertiary), lower
/// levels for 下转, the same tier (primary care, or the same hospital level)
/// for 平转.
fn kinds_for(direction: Direction, mine: InstitutionKind) -> Vec<InstitutionKind> {
    let Some(me) = rank(mine) else {
        return Vec::new();
    };
    let tier = |r: u8| r.max(1);
    InstitutionKind::ALL
        .iter()
        .copied()
        .filter(|k| {
            rank(*k).is_some_and(|r| match direction {
                Direction::Up => r >= 2 && r > me,
                Direction::Down => r < me,
                Direction::Lateral => tier(r) == tier(me),
            })
        })
        .collect()
}

/// The institutions sharing a consortium with `institution_id`, with the
/// consortium's name (the membership hint on the form).
async fn partners(conn: &mut Conn, institution_id: i64) -> Result<HashMap<i64, String>, WebError> {
    let f = ConsortiumFilter {
        member_institution_id: Some(institution_id),
        ..Default::default()
    };
    let mut out = HashMap::new();
    for c in registry::list_consortia(conn, &f, Paging::new(Some(100), None))
        .await?
        .items
    {
        for m in registry::members(conn, c.id).await? {
            out.entry(m.id).or_insert_with(|| c.name.clone());
        }
    }
    Ok(out)
}

fn target_view(i: &InstitutionRow, partner: Option<&String>, selected: &str) -> Value {
    let kind = InstitutionKind::parse(&i.kind);
    let grade = i
        .grade
        .as_deref()
        .and_then(Grade::parse)
        .map(Grade::label_zh);
    context! {
        code => i.code.clone(), name => i.name.clone(),
        kind => kind.map_or_else(|| i.kind.clone(), |k| k.label_zh().to_string()), grade,
        consortium => partner.cloned(), selected => i.code == selected,
    }
}

/// 接收机构 choices for a direction: never the caller's own institution (nor
/// `except`); institutions of the caller's consortia first and marked.
/// Primary institutions are listed from the caller's county (a city or
/// tertiary hospital: its city). The selected code is kept even when it is
/// not among them.
async fn targets(
    conn: &mut Conn,
    me: &InstitutionRef,
    direction: Direction,
    selected: &str,
    except: Option<i64>,
) -> Result<Value, WebError> {
    let partners = partners(conn, me.id).await?;
    let region = me.region_code.as_str();
    let area = match me.kind.care_level() {
        CareLevel::City | CareLevel::Tertiary => region.get(..4),
        _ => region.get(..6),
    }
    .unwrap_or(region)
    .to_string();
    let mut found: Vec<InstitutionRow> = Vec::new();
    for kind in kinds_for(direction, me.kind) {
        let f = InstitutionFilter {
            kind: Some(kind.as_str().into()),
            within: kind.is_primary().then(|| area.clone()),
            ..Default::default()
        };
        found.extend(
            registry::list_institutions(conn, &f, Paging::new(Some(500), None))
                .await?
                .items,
        );
    }
    if !selected.is_empty() && !found.iter().any(|i| i.code == selected) {
        found.extend(registry::get_institution_by_code(conn, selected).await?);
    }
    found.retain(|i| i.id != me.id && Some(i.id) != except);
    found.sort_by_key(|i| {
        (
            !partners.contains_key(&i.id),
            InstitutionKind::parse(&i.kind).and_then(rank),
            i.region_code.clone(),
            i.id,
        )
    });
    let (inside, outside): (Vec<_>, Vec<_>) =
        found.iter().partition(|i| partners.contains_key(&i.id));
    let inside: Vec<Value> = inside
        .into_iter()
        .map(|i| target_view(i, partners.get(&i.id), selected))
        .collect();
    let outside: Vec<Value> = outside
        .into_iter()
        .map(|i| target_view(i, None, selected))
        .collect();
    Ok(context! { inside, outside, selected, direction => direction.as_str() })
}

// ---------------------------------------------------------------- 发起转诊

/// What the referral form was filled with (shown again when refused).
#[derive(Debug, Default, Serialize)]
struct NewValues {
    resident_id: Option<i64>,
    direction: String,
    to_institution_code: String,
    to_department: String,
    icd10: String,
    diagnosis: String,
    reason: String,
    urgency: String,
    green_channel: String,
    justification: String,
    summary: String,
    results: String,
    follow_up_plan: String,
}

impl NewValues {
    fn from_fields(f: &Fields) -> Result<NewValues, WebError> {
        let t = |n: &str| f.text(n).unwrap_or_default();
        Ok(NewValues {
            resident_id: f.num("resident_id")?,
            direction: t("direction"),
            to_institution_code: t("to_institution_code"),
            to_department: t("to_department"),
            icd10: t("icd10"),
            diagnosis: t("diagnosis"),
            reason: t("reason"),
            urgency: t("urgency"),
            green_channel: t("green_channel"),
            justification: t("justification"),
            summary: t("summary"),
            results: t("results"),
            follow_up_plan: t("follow_up_plan"),
        })
    }

    fn request(&self, resident_id: i64) -> ReferralRequest {
        let some = |v: &String| (!v.is_empty()).then(|| v.clone());
        ReferralRequest {
            resident_id,
            direction: self.direction.clone(),
            to_institution_code: self.to_institution_code.clone(),
            to_department: some(&self.to_department),
            icd10: self.icd10.clone(),
            diagnosis: self.diagnosis.clone(),
            reason: self.reason.clone(),
            urgency: some(&self.urgency),
            green_channel: some(&self.green_channel),
            justification: some(&self.justification),
            summary: some(&self.summary),
            results: some(&self.results),
            follow_up_plan: some(&self.follow_up_plan),
            submit: true,
        }
    }
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    resident_id: Option<String>,
    direction: Option<String>,
}

/// The usual direction from an institution: up from primary care, down
/// from a hospital.
fn default_direction(me: &InstitutionRef) -> Direction {
    if me.kind.is_primary() {
        Direction::Up
    } else {
        Direction::Down
    }
}

/// The catalogue's conditions as suggestions for the ICD-10 field.
fn icd10_suggestions(s: &AppState) -> Vec<Value> {
    let c = &s.catalog;
    let mut seen = std::collections::HashSet::new();
    c.first_contact
        .iter()
        .chain(&c.no_refer_up)
        .chain(&c.downward)
        .filter(|e| seen.insert(e.icd10.clone()))
        .map(|e| context! { code => e.icd10.clone(), name => e.name.clone() })
        .collect()
}

/// Renders the referral form (fresh, or again with a refusal).
async fn new_form(
    s: &AppState,
    auth: &Auth,
    jar: &CookieJar,
    values: NewValues,
    error: Option<ApiError>,
) -> WebResult {
    let p = &auth.principal;
    let me = my_institution(p)?;
    let resident_id = values.resident_id.ok_or_else(|| {
        ApiError::invalid(
            "resident_id",
            "请先在居民档案页选择居民，再发起转诊",
            "open the form from a resident's page",
        )
    })?;
    let direction = Direction::parse(&values.direction).unwrap_or_else(|| default_direction(me));
    let mut c = s.store.read().await?;
    let r = crate::care::visible_resident(&mut c, p, resident_id).await?;
    let targets = targets(&mut c, me, direction, &values.to_institution_code, None).await?;
    drop(c);
    let directions: Vec<Value> = Direction::ALL
        .iter()
        .map(|d| context! { code => d.as_str(), label => d.label_zh() })
        .collect();
    let urgencies: Vec<Value> = Urgency::ALL
        .iter()
        .map(|u| context! { code => u.as_str(), label => u.label_zh() })
        .collect();
    let channels: Vec<Value> = GreenChannel::ALL
        .iter()
        .map(|g| context! { code => g.as_str(), label => g.label_zh() })
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let error = error.map(|e| e.body.message_zh);
    let page = render(
        "referral_new.html",
        with(
            base(auth, jar, "/referrals"),
            context! {
                resident => context! { id => r.id, name => r.name.clone(), birth_date => r.birth_date.clone() },
                from_name => me.name.clone(),
                v => Value::from_serialize(&values), direction => direction.as_str(),
                directions, urgencies, channels, targets, error,
                icd10_suggestions => icd10_suggestions(s),
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
    let values = NewValues {
        resident_id: q.resident_id.as_deref().and_then(|v| v.trim().parse().ok()),
        direction: q.direction.unwrap_or_default(),
        ..Default::default()
    };
    new_form(&s, &auth, &jar, values, None).await
}

async fn new_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let values = NewValues::from_fields(&f)?;
    let resident_id = values
        .resident_id
        .ok_or_else(|| ApiError::invalid("resident_id", "请指定居民", "resident_id is required"))?;
    let req = values.request(resident_id);
    match service::create(
        &s.store,
        &auth.principal,
        &req,
        &s.catalog,
        &s.settings.response_limits,
    )
    .await
    {
        Ok(v) => see_other(&format!("/referrals/{}", v.referral.id)),
        Err(e) if shown_on_form(&e) => new_form(&s, &auth, &jar, values, Some(e)).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct TargetsQuery {
    direction: Option<String>,
    to_institution_code: Option<String>,
}

/// The receiving-institution field for another direction (htmx swaps it in
/// when the direction changes).
async fn targets_fragment(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Query(q): Query<TargetsQuery>,
) -> WebResult {
    let me = my_institution(&auth.principal)?;
    let direction = q
        .direction
        .as_deref()
        .and_then(Direction::parse)
        .unwrap_or_else(|| default_direction(me));
    let mut c = s.store.read().await?;
    let selected = q.to_institution_code.unwrap_or_default();
    let targets = targets(&mut c, me, direction, &selected, None).await?;
    Ok(render("referral_targets.html", context! { targets }))
}

// ---------------------------------------------------------------- 工作台

#[derive(Debug, Deserialize)]
struct BoxQuery {
    all: Option<String>,
}

async fn workbench(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<BoxQuery>,
) -> WebResult {
    let p = &auth.principal;
    let all = q.all.as_deref().is_some_and(|v| v == "1");
    let inbox = service::referral_box(&s.store, p, true, !all).await?;
    let outbox = service::referral_box(&s.store, p, false, !all).await?;
    let overdue = inbox.iter().filter(|l| l.overdue).count();
    Ok(render(
        "referral_workbench.html",
        with(
            base(&auth, &jar, "/referrals"),
            context! {
                inbox, outbox, overdue, all, may_open_slots => opens_slots(p.role),
            },
        ),
    ))
}

// ---------------------------------------------------------------- 转诊详情

/// A refused action, shown on the detail page next to its form.
#[derive(Debug, Default, Serialize)]
struct Problem {
    /// Which form: an event code, or `redirect`.
    form: String,
    message: String,
    reason: String,
    to_institution_code: String,
    justification: String,
    #[serde(skip)]
    status: Option<StatusCode>,
}

fn side_of(p: &Principal, r: &ReferralRow) -> Option<Side> {
    let mine = p.institution.as_ref().map(|i| i.id)?;
    if mine == r.from_institution_id {
        Some(Side::Referring)
    } else if mine == r.to_institution_id {
        Some(Side::Receiving)
    } else {
        None
    }
}

/// The events the caller's side may take now, as the state machine says.
fn actions(side: Option<Side>, state: &str) -> Vec<&'static str> {
    let (Some(side), Some(from)) = (side, ReferralState::parse(state)) else {
        return Vec::new();
    };
    ReferralEvent::ALL
        .iter()
        .filter(|e| **e != ReferralEvent::Expire && transition(from, **e, side).is_ok())
        .map(|e| e.as_str())
        .collect()
}

fn slot_view(x: &SlotRow) -> Value {
    let day = x.starts_at.get(5..10).unwrap_or_default().to_string();
    let from = x.starts_at.get(11..16).unwrap_or_default().to_string();
    let to = x.ends_at.get(11..16).unwrap_or_default().to_string();
    context! {
        id => x.id, day, from, to, department => x.department.clone(),
        reserved => x.reserved_for_referral == 1, booked => x.booked > 0,
        date => x.starts_at.get(..10).unwrap_or_default().to_string(),
    }
}

async fn detail(
    s: &AppState,
    auth: &Auth,
    jar: &CookieJar,
    id: i64,
    problem: Option<Problem>,
) -> WebResult {
    let p = &auth.principal;
    let v = service::get(&s.store, p, id).await?;
    let r = &v.referral;
    let side = side_of(p, r);
    let actions = actions(side, &r.state);
    let now = now_cst();
    // 改约 / 爽约: the receiving side manages a scheduled referral's appointment.
    let manages_appointment =
        side == Some(Side::Receiving) && r.state == ReferralState::Scheduled.as_str();
    let slots: Vec<Value> =
        if actions.contains(&ReferralEvent::Schedule.as_str()) || manages_appointment {
            let from = stamp(now);
            service::list_slots(
                &s.store,
                r.to_institution_id,
                &from,
                &stamp(now + Duration::days(SCHEDULE_DAYS)),
            )
            .await?
            .iter()
            .filter(|x| x.booked == 0 && x.starts_at > from)
            .map(slot_view)
            .collect()
        } else {
            Vec::new()
        };
    let can_redirect = side == Some(Side::Referring) && r.state == ReferralState::Declined.as_str();
    let mut c = s.store.read().await?;
    let redirect_targets = match (&p.institution, can_redirect) {
        (Some(me), true) => {
            let direction = Direction::parse(&r.direction).unwrap_or(Direction::Up);
            let keep = problem
                .as_ref()
                .map(|x| x.to_institution_code.clone())
                .unwrap_or_default();
            Some(targets(&mut c, me, direction, &keep, Some(r.to_institution_id)).await?)
        }
        _ => None,
    };
    let appointment = match r.appointment_id {
        Some(a) => store::get_appointment(&mut c, a).await?,
        None => None,
    };
    drop(c);
    let status = problem
        .as_ref()
        .and_then(|x| x.status)
        .unwrap_or(StatusCode::OK);
    let page = render(
        "referral_detail.html",
        with(
            base(auth, jar, "/referrals"),
            context! {
                rf => Value::from_serialize(&v),
                side => side.map(|x| match x { Side::Referring => "referring", Side::Receiving => "receiving", Side::System => "system" }),
                missed_ok => appointment.as_ref().is_some_and(|a| a.status == "booked" && a.starts_at.as_str() <= stamp(now).as_str()),
                manages_appointment, actions, slots, redirect_targets, appointment, problem,
                show_resident_link => p.role != Role::Resident,
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
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let ch = ReferralChange {
        event: f.text("event").unwrap_or_default(),
        reason: f.text("reason"),
        slot_id: f.num("slot_id")?,
    };
    match service::change(
        &s.store,
        &auth.principal,
        id,
        &ch,
        &s.settings.response_limits,
    )
    .await
    {
        Ok(v) => see_other(&format!("/referrals/{}", v.referral.id)),
        Err(e) if shown_on_form(&e) => {
            let problem = Problem {
                form: ch.event.clone(),
                message: e.body.message_zh.clone(),
                reason: ch.reason.clone().unwrap_or_default(),
                status: Some(e.status),
                ..Default::default()
            };
            detail(&s, &auth, &jar, id, Some(problem)).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn redirect_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let to = f.text("to_institution_code").unwrap_or_default();
    let justification = f.text("justification");
    match service::redirect(
        &s.store,
        &auth.principal,
        id,
        &to,
        justification.clone(),
        &s.catalog,
        &s.settings.response_limits,
    )
    .await
    {
        Ok(v) => see_other(&format!("/referrals/{}", v.referral.id)),
        Err(e) if shown_on_form(&e) => {
            let problem = Problem {
                form: "redirect".into(),
                message: e.body.message_zh.clone(),
                to_institution_code: to,
                justification: justification.unwrap_or_default(),
                status: Some(e.status),
                ..Default::default()
            };
            detail(&s, &auth, &jar, id, Some(problem)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- 号源日历

#[derive(Debug, Deserialize)]
struct SlotsQuery {
    opened: Option<String>,
}

const WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

async fn slots_page(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    jar: CookieJar,
    Query(q): Query<SlotsQuery>,
) -> WebResult {
    let p = &auth.principal;
    let me = my_institution(p)?;
    if !opens_slots(p.role) {
        return Err(ApiError::forbidden().into());
    }
    let now = now_cst();
    let today = now.date();
    let start = today.and_hms_opt(0, 0, 0).unwrap_or(now);
    let slots = service::list_slots(
        &s.store,
        me.id,
        &stamp(start),
        &stamp(start + Duration::days(CALENDAR_DAYS)),
    )
    .await?;
    let mut days: Vec<Value> = Vec::new();
    for offset in 0..CALENDAR_DAYS {
        let day = today + Duration::days(offset);
        let key = day.to_string();
        let of_day: Vec<&SlotRow> = slots
            .iter()
            .filter(|x| x.starts_at.starts_with(&key))
            .collect();
        let booked = of_day.iter().filter(|x| x.booked > 0).count();
        let reserved = of_day
            .iter()
            .filter(|x| x.booked == 0 && x.reserved_for_referral == 1)
            .count();
        days.push(context! {
            date => key.clone(),
            label => format!("{}月{}日 {}", day.month(), day.day(), WEEKDAYS[day.weekday().num_days_from_monday() as usize]),
            today => offset == 0,
            total => of_day.len(), booked, reserved, free => of_day.len() - booked - reserved,
            slots => of_day.iter().map(|x| slot_view(x)).collect::<Vec<_>>(),
        });
    }
    let tomorrow: NaiveDate = today + Duration::days(1);
    let opened = q.opened.as_deref().and_then(|n| n.parse::<u64>().ok());
    Ok(render(
        "referral_slots.html",
        with(
            base(&auth, &jar, "/referrals"),
            context! {
                institution => me.name.clone(), days, opened,
                default_start => format!("{tomorrow}T08:00"),
            },
        ),
    ))
}

async fn slots_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let percent: f64 = f.num("reserved_percent")?.unwrap_or(0.0);
    if !percent.is_finite() || percent < 0.0 {
        return Err(ApiError::invalid(
            "reserved_percent",
            "转诊预留比例应为 0–100",
            "a percentage from 0 to 100",
        )
        .into());
    }
    let plan = SlotPlan {
        starts_at: f.text("starts_at").unwrap_or_default(),
        minutes: f.num("minutes")?.unwrap_or(0),
        count: f.num("count")?.unwrap_or(0),
        department: f.text("department"),
        // Saturates for absurd input; the service refuses more than 100 %.
        reserved_bp: (percent * 100.0).round() as u32,
        release_hours: f.num("release_hours")?,
    };
    let opened = service::open_slots(&s.store, &auth.principal, &plan).await?;
    see_other(&format!("/slots?opened={opened}"))
}

// ---------------------------------------------------------------- 居民页、我的档案

/// The referral part of a resident's page (and of the resident's own
/// portal): their referrals, newest first, and their appointments. The
/// caller has already been shown the resident (`resident_detail` checks the
/// scope).
pub(super) async fn resident_referrals(
    s: &AppState,
    auth: &Auth,
    resident_id: i64,
) -> Result<Value, WebError> {
    let p = &auth.principal;
    let mut c = s.store.read().await?;
    let f = ReferralFilter {
        resident_id: Some(resident_id),
        ..Default::default()
    };
    let mut referrals = store::list(&mut c, &f, Paging::new(Some(200), None))
        .await?
        .items;
    referrals.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let appointments = store::appointments_of(&mut c, &[resident_id]).await?;
    drop(c);
    let now = stamp(now_cst());
    let referrals: Vec<Value> = referrals
        .iter()
        .map(|r| {
            context! {
                id => r.id, state => r.state.clone(), direction => r.direction.clone(),
                urgency => r.urgency.clone(), from_name => r.from_name.clone(),
                to_name => r.to_name.clone(), to_department => r.to_department.clone(),
                diagnosis => r.diagnosis.clone(), icd10 => r.icd10.clone(),
                date => r.submitted_at.clone().unwrap_or_else(|| r.created_at.clone()),
            }
        })
        .collect();
    let appointments: Vec<Value> = appointments
        .iter()
        .map(|a| {
            with(
                Value::from_serialize(a),
                context! { upcoming => a.status == "booked" && a.starts_at > now },
            )
        })
        .collect();
    let can_refer = works_referrals(p.role) && p.institution.is_some();
    Ok(context! {
        referrals, appointments, can_refer,
        linked => p.role != Role::Resident,
        new_href => Value::from_safe_string(format!("/referrals/new?resident_id={resident_id}")),
    })
}

/// 改约 / 爽约 on a scheduled referral's appointment (the receiving side).
async fn appointment_submit(
    State(s): State<AppState>,
    WebAuth(auth): WebAuth,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = Fields(f);
    check_csrf(&auth, f.raw("csrf"))?;
    let v = service::get(&s.store, &auth.principal, id).await?;
    let appointment = v
        .referral
        .appointment_id
        .ok_or_else(|| ApiError::not_found("预约"))?;
    match f.raw("action") {
        "reschedule" => {
            let slot = f
                .num("slot_id")?
                .ok_or_else(|| ApiError::invalid("slot_id", "请选择号源", "choose a slot"))?;
            service::reschedule(&s.store, &auth.principal, appointment, slot).await?;
        }
        "no_show" => {
            service::no_show(&s.store, &auth.principal, appointment).await?;
        }
        _ => return Err(ApiError::malformed("action").into()),
    }
    see_other(&format!("/referrals/{id}"))
}

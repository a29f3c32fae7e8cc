//! The referral workflow: ServiceRequest + Task, Schedule, Slot, Appointment.
//!
//! A referral is `ServiceRequest/{id}` (what is asked) and `Task/{id}`
//! (where it stands); both carry the referral row's `version`. The mapping
//! lives in `yilian_fhir::referral` and `yilian_fhir::scheduling`; every
//! step goes through the same services as `/api/v1/referrals`
//! (`crate::referral`), so the same roles, sides, rules, audit trail and
//! outbox notifications apply:
//!
//! - `POST ServiceRequest` = `create` (`status` `active` submits, `draft` saves);
//! - `PUT Task/{id}` = `change` (accept, decline, schedule with an `input`
//!   slot, arrive, complete, cancel) or `redirect` (a declined referral's
//!   Task sent back `requested` with a new `owner`: the answer is the **new**
//!   referral's Task), with `If-Match` against the referral's version;
//! - `Schedule`s are derived from the slots (one per institution and
//!   department); `POST Slot` = `open_slots` with one slot;
//! - `POST Appointment` = `book` (or, `basedOn` a referral, `change` with
//!   `schedule`); `PUT Appointment/{id}` = `reschedule` (another `slot`: the
//!   answer is the **new** booking, the old one reads `cancelled` 改约),
//!   `cancel_appointment` or `no_show`.
//!
//! Reads of one referral are `referral::get` (the two parties, the resident,
//! clinicians who may see the resident). Searches of ServiceRequest and Task
//! are the caller institution's inbox and outbox (sent or received), as
//! `referral_box`: a caller without an institution is refused (403).
//! Slots and schedules are readable by every login (as `GET /api/v1/slots`).
//! An appointment is seen by the institution that gave the slot, the
//! referral's parties, and clinicians (or the resident) who may see the
//! resident.

use std::collections::HashMap;

use serde_json::Value;
use yilian_domain::access::{Action, Principal, Role, allowed};
use yilian_domain::referral::{Direction, GreenChannel, ReferralState, Urgency};
use yilian_fhir::capability::{Interaction, ParamType, ResourceSupport};
use yilian_fhir::reference::Ref;
use yilian_fhir::referral::{self as fr, ReferralEventFhir, ReferralFhir, TaskAction};
use yilian_fhir::scheduling::{
    self as fs, AppointmentAction, AppointmentFhir, AppointmentStatus, ScheduleKey, SlotFhir,
};
use yilian_fhir::{IssueType, Outcome};
use yilian_store::referrals::{
    self as store, AppointmentFilter, AppointmentRow, ReferralEventRow, ReferralFilter,
    ReferralRow, SlotFilter, SlotRow, SlotSpan,
};
use yilian_store::residents::ResidentFilter;
use yilian_store::{Conn, Paging, registry};

use super::params::DateBound;
use super::people::stored_id;
use super::{
    FhirError, FhirResult, Found, Params, check_version, not_found, parse_id, unsupported,
};
use crate::error::ApiError;
use crate::referral::{
    self as svc, ReferralChange, ReferralRequest, ReferralView, SlotPlan, stored_time,
};
use crate::service;
use crate::state::AppState;

/// `_include` on ServiceRequest: the referral's Patient.
pub const INCLUDE_SUBJECT: &str = "ServiceRequest:subject";

/// What this module serves (see [`super::support`]).
pub fn support() -> Vec<ResourceSupport> {
    use Interaction::{Create, Read, SearchType, Update};
    use ParamType::{Date, Reference, Token};
    let mut sr = ResourceSupport::new("ServiceRequest", &[Read, SearchType, Create])
        .search(&[
            ("_id", Token),
            ("patient", Reference),
            ("subject", Reference),
            ("status", Token),
            ("authored", Date),
            ("date", Date),
            ("requester", Reference),
            ("performer", Reference),
        ])
        .versioned();
    sr.search_include.push(INCLUDE_SUBJECT.into());
    vec![
        sr,
        ResourceSupport::new("Task", &[Read, SearchType, Update])
            .search(&[
                ("_id", Token),
                ("focus", Reference),
                ("patient", Reference),
                ("status", Token),
                ("owner", Reference),
                ("requester", Reference),
            ])
            .versioned(),
        ResourceSupport::new("Schedule", &[Read, SearchType])
            .search(&[("_id", Token), ("actor", Reference)]),
        ResourceSupport::new("Slot", &[Read, SearchType, Create]).search(&[
            ("_id", Token),
            ("schedule", Reference),
            ("start", Date),
            ("status", Token),
        ]),
        ResourceSupport::new("Appointment", &[Read, SearchType, Create, Update]).search(&[
            ("_id", Token),
            ("patient", Reference),
            ("date", Date),
            ("status", Token),
            ("slot", Reference),
            ("based-on", Reference),
        ]),
    ]
}

pub async fn read(s: &AppState, p: &Principal, rt: &str, id: &str) -> FhirResult<Value> {
    match rt {
        "ServiceRequest" | "Task" => {
            let v = svc::get(&s.store, p, parse_id(rt, id)?).await?;
            referral_resource(rt, &v.referral, &v.events)
        }
        "Schedule" => read_schedule(s, p, id).await,
        "Slot" => read_slot(s, p, id).await,
        "Appointment" => {
            let a = visible_appointment(s, p, parse_id(rt, id)?).await?;
            let mut c = s.store.read().await?;
            appointment_to_fhir(&mut c, &a).await
        }
        _ => Err(unsupported(rt)),
    }
}

pub async fn search(s: &AppState, p: &Principal, rt: &str, q: &Params) -> FhirResult<Found> {
    match rt {
        "ServiceRequest" | "Task" => search_referrals(s, p, rt, q).await,
        "Schedule" => search_schedules(s, p, q).await,
        "Slot" => search_slots(s, p, q).await,
        "Appointment" => search_appointments(s, p, q).await,
        _ => Err(unsupported(rt)),
    }
}

pub async fn create(s: &AppState, p: &Principal, rt: &str, v: &Value) -> FhirResult<Value> {
    match rt {
        "ServiceRequest" => create_service_request(s, p, v).await,
        "Slot" => create_slot(s, p, v).await,
        "Appointment" => create_appointment(s, p, v).await,
        _ => Err(unsupported(rt)),
    }
}

pub async fn update(
    s: &AppState,
    p: &Principal,
    rt: &str,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    match rt {
        "Task" => update_task(s, p, id, v, want).await,
        // Appointments carry no version: their status changes are guarded
        // by the stored status itself.
        "Appointment" => update_appointment(s, p, id, v).await,
        _ => Err(unsupported(rt)),
    }
}

// ------------------------------------------------------------ helpers

fn internal() -> FhirError {
    ApiError::internal().into()
}

fn forbidden() -> FhirError {
    ApiError::forbidden().into()
}

/// A stored id, or a refusal naming `path` (placeholders are for transactions).
fn stored(r: &Ref, path: &str) -> FhirResult<i64> {
    stored_id(r, path)
}

fn unknown(path: &str, r: &Ref) -> FhirError {
    FhirError(Outcome::new(
        IssueType::NotFound,
        "unknown_reference",
        path,
        format!("引用 {} 无法解析", r.as_reference()),
        format!("reference {} cannot be resolved", r.as_reference()),
    ))
}

/// Places a service refusal at the FHIR element it concerns (when it names none).
fn at(e: impl Into<FhirError>, path: &str) -> FhirError {
    let mut e = e.into();
    for i in &mut e.0.issues {
        if i.expression.is_none() {
            i.expression = Some(path.to_string());
        }
    }
    e
}

/// Two ways of naming one id: both given and different match nothing (0).
fn both(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Some(0),
        (x, y) => x.or(y),
    }
}

/// The intersection of two date ranges.
fn intersect(a: DateBound, b: DateBound) -> DateBound {
    DateBound {
        from: a.from.max(b.from),
        to: match (a.to, b.to) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
    }
}

/// The comma-separated values of a token parameter.
fn codes(q: &Params, name: &str) -> FhirResult<Option<Vec<String>>> {
    Ok(q.one(name)?.map(|v| {
        v.split(',')
            .map(|c| c.rsplit('|').next().unwrap_or(c).trim().to_string())
            .filter(|c| !c.is_empty())
            .collect()
    }))
}

fn found(matches: Vec<Value>, total: i64, included: Vec<Value>) -> Found {
    Found {
        matches,
        total: u64::try_from(total).unwrap_or(0),
        included,
    }
}

/// One page of an in-memory list.
fn page_of(all: Vec<Value>, q: &Params) -> Found {
    let total = all.len() as u64;
    let matches = all
        .into_iter()
        .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
        .take(q.count as usize)
        .collect();
    Found {
        matches,
        total,
        included: vec![],
    }
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| (*x).to_string()).collect()
}

fn my_institution(p: &Principal) -> Option<i64> {
    p.institution.as_ref().map(|i| i.id)
}

// ------------------------------------------------------------ ServiceRequest + Task

fn referral_fhir(r: &ReferralRow, events: &[ReferralEventRow]) -> FhirResult<ReferralFhir> {
    Ok(ReferralFhir {
        id: r.id,
        resident_id: r.resident_id,
        resident_name: r.resident_name.clone(),
        direction: Direction::parse(&r.direction).ok_or_else(internal)?,
        urgency: Urgency::parse(&r.urgency).unwrap_or(Urgency::Routine),
        green_channel: r.green_channel.as_deref().and_then(GreenChannel::parse),
        from_institution_id: r.from_institution_id,
        from_name: r.from_name.clone(),
        to_institution_id: r.to_institution_id,
        to_name: r.to_name.clone(),
        to_department: r.to_department.clone(),
        icd10: r.icd10.clone(),
        diagnosis: r.diagnosis.clone(),
        reason: r.reason.clone(),
        justification: r.justification.clone(),
        summary: r.summary.clone(),
        results: r.results.clone(),
        follow_up_plan: r.follow_up_plan.clone(),
        state: ReferralState::parse(&r.state).ok_or_else(internal)?,
        submitted_at: r.submitted_at.clone(),
        deadline_at: r.deadline_at.clone(),
        decline_reason: r.decline_reason.clone(),
        redirected_from: r.redirected_from,
        appointment_id: r.appointment_id,
        version: r.version,
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
        events: events
            .iter()
            .map(|e| ReferralEventFhir {
                at: e.at.clone(),
                event: e.event.clone(),
                from_state: e.from_state.clone(),
                to_state: e.to_state.clone(),
                user_id: e.user_id,
                role: e.role.clone(),
                note: e.note.clone(),
            })
            .collect(),
    })
}

/// The referral as `rt` (`ServiceRequest` or `Task`).
fn referral_resource(rt: &str, r: &ReferralRow, events: &[ReferralEventRow]) -> FhirResult<Value> {
    let f = referral_fhir(r, events)?;
    Ok(if rt == "Task" {
        fr::task_to_fhir(&f)
    } else {
        fr::service_request_to_fhir(&f)
    })
}

/// The referral states a `status` code stands for on `rt`.
fn states_for(rt: &str, code: &str) -> Vec<ReferralState> {
    fr::TASK_STATUS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| {
            if rt == "Task" {
                fr::task_status(*s) == code
            } else {
                fr::service_request_status(*s) == code
            }
        })
        .collect()
}

async fn search_referrals(s: &AppState, p: &Principal, rt: &str, q: &Params) -> FhirResult<Found> {
    // The caller institution's inbox and outbox, as `referral_box`.
    let inst = my_institution(p).ok_or_else(forbidden)?;
    let mut f = ReferralFilter {
        party_institution_id: Some(inst),
        id: q.id()?,
        ..Default::default()
    };
    let subject = if rt == "ServiceRequest" {
        q.reference("subject", "Patient")?
    } else {
        None
    };
    f.resident_id = both(q.reference("patient", "Patient")?, subject);
    if rt == "Task" {
        f.id = both(f.id, q.reference("focus", "ServiceRequest")?);
        f.to_institution_id = q.reference("owner", "Organization")?;
    } else {
        f.to_institution_id = q.reference("performer", "Organization")?;
        let d = intersect(q.date("authored")?, q.date("date")?);
        (f.authored_from, f.authored_before) = d.text();
    }
    f.from_institution_id = q.reference("requester", "Organization")?;
    if let Some(cs) = codes(q, "status")? {
        f.states = cs
            .iter()
            .flat_map(|c| states_for(rt, c))
            .map(|s| s.as_str().to_string())
            .collect();
        if f.states.is_empty() {
            // No referral state has that status.
            f.id = Some(0);
        }
    }
    let mut c = s.store.read().await?;
    let page = store::list(&mut c, &f, q.paging()).await?;
    let mut matches = Vec::with_capacity(page.items.len());
    for r in &page.items {
        let events = if rt == "Task" {
            store::events(&mut c, r.id).await?
        } else {
            vec![]
        };
        matches.push(referral_resource(rt, r, &events)?);
    }
    drop(c);
    let included = if q.include.iter().any(|i| i == INCLUDE_SUBJECT) {
        subjects(s, p, &page.items).await?
    } else {
        vec![]
    };
    Ok(found(matches, page.total, included))
}

/// The referrals' patients the caller may see, each once, masked as in a list.
async fn subjects(s: &AppState, p: &Principal, rows: &[ReferralRow]) -> FhirResult<Vec<Value>> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for r in rows {
        if seen.contains(&r.resident_id) {
            continue;
        }
        seen.push(r.resident_id);
        let f = ResidentFilter {
            id: Some(r.resident_id),
            ..Default::default()
        };
        let page =
            service::search_residents(&s.store, p, &f, Paging::new(Some(1), None), s.today())
                .await?;
        out.extend(page.items.iter().map(super::patient::summary_to_fhir));
    }
    Ok(out)
}

/// A `requester` must be the caller: its institution, or a practitioner
/// (role) practising there.
async fn check_requester(c: &mut Conn, p: &Principal, r: &Ref) -> FhirResult<()> {
    const PATH: &str = "ServiceRequest.requester.reference";
    let mine = my_institution(p);
    let ok = match r {
        Ref::Stored { resource_type, id } => match resource_type.as_str() {
            "Organization" => id.parse::<i64>().ok() == mine && mine.is_some(),
            "PractitionerRole" => yilian_fhir::practitioner::parse_role_id(id)
                .is_some_and(|(_, inst)| Some(inst) == mine),
            _ => {
                let pid = stored(r, PATH)?;
                let pr = registry::get_practitioner(c, pid)
                    .await?
                    .ok_or_else(|| unknown(PATH, r))?;
                pr.sites.iter().any(|s| Some(s.id) == mine)
            }
        },
        Ref::Placeholder(_) => return Err(unknown(PATH, r)),
    };
    if ok {
        Ok(())
    } else {
        Err(FhirError(Outcome::new(
            IssueType::Forbidden,
            "forbidden",
            PATH,
            "转诊只能以本机构名义发起",
            "a referral is requested in the name of the caller's own institution",
        )))
    }
}

async fn create_service_request(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let i = fr::service_request_from_fhir(v)?;
    let resident_id = stored(&i.patient, "ServiceRequest.subject.reference")?;
    let to_path = "ServiceRequest.performer[0].reference";
    let to = {
        let mut c = s.store.read().await?;
        if let Some(r) = &i.requester {
            check_requester(&mut c, p, r).await?;
        }
        registry::get_institution(&mut c, stored(&i.to_institution, to_path)?)
            .await?
            .ok_or_else(|| unknown(to_path, &i.to_institution))?
    };
    let req = ReferralRequest {
        resident_id,
        direction: i.direction.as_str().into(),
        to_institution_code: to.code,
        to_department: i.to_department,
        icd10: i.icd10,
        diagnosis: i.diagnosis,
        reason: i.reason,
        urgency: Some(i.urgency.as_str().into()),
        green_channel: i.green_channel.map(|g| g.as_str().into()),
        justification: i.justification,
        summary: i.summary,
        results: i.results,
        follow_up_plan: i.follow_up_plan,
        submit: i.submit,
    };
    let view = svc::create(&s.store, p, &req, &s.catalog, &s.settings.response_limits).await?;
    referral_resource("ServiceRequest", &view.referral, &view.events)
}

async fn update_task(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let t = fr::task_from_fhir(v)?;
    let n = parse_id("Task", id)?;
    let cur = svc::get(&s.store, p, n).await?;
    check_version(want, cur.referral.version)?;
    let action = t.action(&referral_fhir(&cur.referral, &cur.events)?)?;
    let out: ReferralView = match action {
        TaskAction::Unchanged => cur,
        TaskAction::Change {
            event,
            reason,
            slot,
        } => {
            let slot_path = "Task.input[0].valueReference.reference";
            let slot_id = slot.map(|r| stored(&r, slot_path)).transpose()?;
            let ch = ReferralChange {
                event: event.as_str().into(),
                reason,
                slot_id,
            };
            svc::change(&s.store, p, n, &ch, &s.settings.response_limits)
                .await
                .map_err(|e| {
                    let path = match e.body.code.as_str() {
                        "slot_unavailable" | "not_found" if slot_id.is_some() => slot_path,
                        _ => "Task.status",
                    };
                    at(e, path)
                })?
        }
        TaskAction::Redirect { to, justification } => {
            let path = "Task.owner.reference";
            let inst = {
                let mut c = s.store.read().await?;
                registry::get_institution(&mut c, stored(&to, path)?).await?
            }
            .ok_or_else(|| unknown(path, &to))?;
            svc::redirect(
                &s.store,
                p,
                n,
                &inst.code,
                justification,
                &s.catalog,
                &s.settings.response_limits,
            )
            .await
            .map_err(|e| at(e, path))?
        }
    };
    referral_resource("Task", &out.referral, &out.events)
}

// ------------------------------------------------------------ Schedule and Slot

fn require_read(p: &Principal) -> FhirResult<()> {
    if allowed(p.role, Action::ReadRegistry) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// Institution names for displays, looked up once each.
async fn names(c: &mut Conn, ids: Vec<i64>) -> FhirResult<HashMap<i64, String>> {
    let mut out = HashMap::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(e) = out.entry(id) {
            let n = registry::get_institution(c, id).await?.map(|i| i.name);
            e.insert(n.unwrap_or_default());
        }
    }
    Ok(out)
}

/// The Schedules of these spans (one per institution and department).
async fn schedules(c: &mut Conn, spans: &[SlotSpan]) -> FhirResult<Vec<Value>> {
    let ids: Vec<i64> = spans.iter().map(|s| s.institution_id).collect();
    let names = names(c, ids).await?;
    let slots: Vec<SlotFhir> = spans
        .iter()
        .map(|s| SlotFhir {
            institution_id: s.institution_id,
            institution_name: names.get(&s.institution_id).cloned().unwrap_or_default(),
            department: s.department.clone(),
            starts_at: s.first_start.clone(),
            ends_at: s.last_end.clone(),
            ..Default::default()
        })
        .collect();
    Ok(fs::schedules_from_slots(&slots)
        .iter()
        .map(fs::schedule_to_fhir)
        .collect())
}

/// The spans a Schedule id names (none if it names no department with slots).
async fn schedule_spans(c: &mut Conn, id: &str) -> FhirResult<Vec<SlotSpan>> {
    let Some(key) = ScheduleKey::parse(id) else {
        return Ok(vec![]);
    };
    Ok(store::slot_spans(c, Some(key.institution_id))
        .await?
        .into_iter()
        .filter(|s| key.matches(s.institution_id, &s.department))
        .collect())
}

async fn read_schedule(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let spans = schedule_spans(&mut c, id).await?;
    schedules(&mut c, &spans)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| not_found("Schedule", id))
}

async fn search_schedules(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let actor = q.reference("actor", "Organization")?;
    let mut spans = match q.one("_id")? {
        Some(id) => schedule_spans(&mut c, id).await?,
        None => store::slot_spans(&mut c, actor).await?,
    };
    if let Some(a) = actor {
        spans.retain(|s| s.institution_id == a);
    }
    Ok(page_of(schedules(&mut c, &spans).await?, q))
}

fn slot_fhir(r: &SlotRow) -> Value {
    fs::slot_to_fhir(&SlotFhir {
        id: r.id,
        institution_id: r.institution_id,
        institution_name: String::new(),
        department: r.department.clone(),
        starts_at: r.starts_at.clone(),
        ends_at: r.ends_at.clone(),
        reserved_for_referral: r.reserved_for_referral != 0,
        release_hours: r.release_hours,
        booked: r.booked > 0,
    })
}

async fn read_slot(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let row = store::get_slot(&mut c, parse_id("Slot", id)?)
        .await?
        .ok_or_else(|| not_found("Slot", id))?;
    Ok(slot_fhir(&row))
}

async fn search_slots(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let mut f = SlotFilter {
        id: q.id()?,
        ..Default::default()
    };
    if let Some(v) = q.one("schedule")? {
        let id = v.strip_prefix("Schedule/").unwrap_or(v);
        let spans = schedule_spans(&mut c, id).await?;
        let Some(span) = spans.first() else {
            return Ok(Found::default());
        };
        f.institution_id = Some(span.institution_id);
        f.department = Some(span.department.clone());
    }
    (f.from, f.before) = q.date("start")?.text();
    if let Some(cs) = codes(q, "status")? {
        let (free, busy) = (
            cs.iter().any(|c| c == "free"),
            cs.iter().any(|c| c == "busy"),
        );
        match (free, busy) {
            (true, true) => {}
            (true, false) => f.booked = Some(false),
            (false, true) => f.booked = Some(true),
            // yilian's slots are only ever free or busy.
            (false, false) => return Ok(Found::default()),
        }
    }
    let page = store::search_slots(&mut c, &f, q.paging()).await?;
    Ok(found(
        page.items.iter().map(slot_fhir).collect(),
        page.total,
        vec![],
    ))
}

/// `POST Slot` opens one slot through `open_slots` (the same roles, at the
/// caller's own institution).
async fn create_slot(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let i = fs::slot_from_fhir(v)?;
    const PATH: &str = "Slot.schedule.reference";
    if my_institution(p) != Some(i.schedule.institution_id) {
        return Err(FhirError(Outcome::new(
            IssueType::Forbidden,
            "forbidden",
            PATH,
            "只能在本机构的号源表中放号",
            "slots are opened in the caller's own institution's schedules",
        )));
    }
    let department = match (&i.department, i.schedule.department_hash) {
        (Some(d), _) => d.clone(),
        (None, None) => String::new(),
        (None, Some(_)) => {
            let mut c = s.store.read().await?;
            let spans = store::slot_spans(&mut c, Some(i.schedule.institution_id)).await?;
            i.schedule
                .resolve(spans.iter().map(|s| s.department.as_str()))
                .ok_or_else(|| {
                    FhirError(Outcome::new(
                        IssueType::NotFound,
                        "unknown_reference",
                        PATH,
                        "号源表所指科室尚无号源：请用 Schedule/{机构id} 并在 serviceType.text 中写明科室",
                        "the schedule names no known department: use Schedule/{institution id} with serviceType.text",
                    ))
                })?
        }
    };
    let span = i.ends_at - i.starts_at;
    if span.num_seconds() % 60 != 0 {
        return Err(FhirError(Outcome::value(
            "Slot.end",
            "号源时长应为整分钟",
            "a slot lasts whole minutes",
        )));
    }
    let plan = SlotPlan {
        starts_at: i.starts_at_text(),
        minutes: span.num_minutes(),
        count: 1,
        department: Some(department.clone()),
        reserved_bp: if i.reserved_for_referral { 10_000 } else { 0 },
        release_hours: Some(i.release_hours),
    };
    svc::open_slots(&s.store, p, &plan).await?;
    // The slot just opened: the newest one of that department at that start.
    let f = SlotFilter {
        institution_id: Some(i.schedule.institution_id),
        department: Some(department),
        from: Some(i.starts_at_text()),
        before: Some(stored_time(i.starts_at + chrono::Duration::seconds(1))),
        ..Default::default()
    };
    let mut c = s.store.read().await?;
    let page = store::search_slots(&mut c, &f, Paging::new(Some(500), None)).await?;
    let row = page
        .items
        .iter()
        .max_by_key(|r| r.id)
        .ok_or_else(internal)?;
    Ok(slot_fhir(row))
}

// ------------------------------------------------------------ Appointment

async fn appointment_struct(c: &mut Conn, a: &AppointmentRow) -> FhirResult<AppointmentFhir> {
    let slot = store::get_slot(c, a.slot_id).await?.ok_or_else(internal)?;
    let state = match a.referral_id {
        Some(r) => store::get(c, r)
            .await?
            .and_then(|r| ReferralState::parse(&r.state)),
        None => None,
    };
    let resident_name = yilian_store::residents::get(c, a.resident_id)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    Ok(AppointmentFhir {
        id: a.id,
        slot_id: a.slot_id,
        resident_id: a.resident_id,
        resident_name,
        referral_id: a.referral_id,
        status: AppointmentStatus::from_store(&a.status, state).ok_or_else(internal)?,
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        institution_id: a.institution_id,
        institution_name: a.institution_name.clone(),
        department: a.department.clone(),
    })
}

async fn appointment_to_fhir(c: &mut Conn, a: &AppointmentRow) -> FhirResult<Value> {
    Ok(fs::appointment_to_fhir(&appointment_struct(c, a).await?))
}

/// Whether the caller may see the resident as `referral::get` lets a
/// non-party see a referral: clinicians of the resident's area, or the
/// resident themself.
async fn sees_resident(c: &mut Conn, p: &Principal, resident_id: i64) -> FhirResult<()> {
    if p.institution.is_none() && p.role != Role::Resident {
        return Err(forbidden());
    }
    crate::care::visible_resident(c, p, resident_id).await?;
    Ok(())
}

/// The appointment, if the caller may see it: the institution that gave
/// the slot, the referral's parties, or whoever may see the resident.
async fn visible_appointment(s: &AppState, p: &Principal, id: i64) -> FhirResult<AppointmentRow> {
    let a = {
        let mut c = s.store.read().await?;
        let a = store::get_appointment(&mut c, id)
            .await?
            .ok_or_else(|| not_found("Appointment", &id.to_string()))?;
        if my_institution(p) == Some(a.institution_id)
            || sees_resident(&mut c, p, a.resident_id).await.is_ok()
        {
            return Ok(a);
        }
        a
    };
    match a.referral_id {
        Some(r) if svc::get(&s.store, p, r).await.is_ok() => Ok(a),
        _ => Err(not_found("Appointment", &id.to_string())),
    }
}

async fn search_appointments(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    let mut f = AppointmentFilter {
        id: q.id()?,
        slot_id: q.reference("slot", "Slot")?,
        ..Default::default()
    };
    let based_on = q.reference("based-on", "ServiceRequest")?;
    let patient = q.reference("patient", "Patient")?;
    if let Some(r) = based_on {
        // The referral's parties (and who may see it) see its appointments.
        svc::get(&s.store, p, r).await?;
        f.referral_id = Some(r);
    }
    let mut c = s.store.read().await?;
    if let Some(r) = patient {
        sees_resident(&mut c, p, r).await?;
        f.resident_id = Some(r);
    } else if based_on.is_none() {
        match (my_institution(p), p.resident_id) {
            (Some(i), _) => f.institution_id = Some(i),
            (None, Some(r)) if p.role == Role::Resident => f.resident_id = Some(r),
            _ => return Err(forbidden()),
        }
    }
    (f.from, f.before) = q.date("date")?.text();
    if let Some(cs) = codes(q, "status")? {
        let [code] = cs.as_slice() else {
            return Err(FhirError(
                Outcome::not_supported(
                    "status",
                    "预约检索一次只能指定一个状态",
                    "an Appointment search takes one status at a time",
                )
                .with_status(400),
            ));
        };
        match code.as_str() {
            "booked" => {
                f.statuses = strings(&["booked"]);
                f.not_referral_states = strings(&["arrived", "completed"]);
            }
            "arrived" => {
                f.statuses = strings(&["booked"]);
                f.referral_states = strings(&["arrived"]);
            }
            "fulfilled" => {
                f.statuses = strings(&["booked"]);
                f.referral_states = strings(&["completed"]);
                f.also_statuses = strings(&["attended"]);
            }
            "noshow" => f.statuses = strings(&["no_show"]),
            "cancelled" => f.statuses = strings(&["cancelled", "rescheduled"]),
            _ => return Ok(Found::default()),
        }
    }
    let page = store::search_appointments(&mut c, &f, q.paging()).await?;
    let mut matches = Vec::with_capacity(page.items.len());
    for a in &page.items {
        matches.push(appointment_to_fhir(&mut c, a).await?);
    }
    Ok(found(matches, page.total, vec![]))
}

async fn create_appointment(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let i = fs::appointment_from_fhir(v)?;
    let AppointmentAction::Book {
        slot,
        patient,
        referral,
    } = i.action(None)?
    else {
        return Err(internal());
    };
    let slot_path = "Appointment.slot[0].reference";
    let slot_id = stored(&slot, slot_path)?;
    let resident_id = stored(&patient, "Appointment.participant")?;
    {
        let mut c = s.store.read().await?;
        let row = store::get_slot(&mut c, slot_id)
            .await?
            .ok_or_else(|| unknown(slot_path, &slot))?;
        for (name, given, stored_at) in [
            ("start", i.start, &row.starts_at),
            ("end", i.end, &row.ends_at),
        ] {
            if given.is_some_and(|t| stored_time(t) != *stored_at) {
                return Err(FhirError(Outcome::new(
                    IssueType::Invariant,
                    "invalid_fhir",
                    &format!("Appointment.{name}"),
                    format!("{name} 与号源时间不一致"),
                    format!("{name} differs from the slot's time"),
                )));
            }
        }
    }
    let id = match referral {
        None => {
            svc::book(&s.store, p, slot_id, resident_id)
                .await
                .map_err(|e| at(e, slot_path))?
                .id
        }
        Some(r) => {
            let path = "Appointment.basedOn[0].reference";
            let rid = stored(&r, path)?;
            let cur = svc::get(&s.store, p, rid).await?;
            if cur.referral.resident_id != resident_id {
                return Err(FhirError(Outcome::new(
                    IssueType::Invariant,
                    "invalid_fhir",
                    "Appointment.participant",
                    format!(
                        "预约的患者应为转诊患者 Patient/{}",
                        cur.referral.resident_id
                    ),
                    format!(
                        "the patient must be the referral's, Patient/{}",
                        cur.referral.resident_id
                    ),
                )));
            }
            let ch = ReferralChange {
                event: "schedule".into(),
                reason: None,
                slot_id: Some(slot_id),
            };
            let view = svc::change(&s.store, p, rid, &ch, &s.settings.response_limits)
                .await
                .map_err(|e| {
                    let path = if e.body.code == "slot_unavailable" {
                        slot_path
                    } else {
                        path
                    };
                    at(e, path)
                })?;
            view.referral.appointment_id.ok_or_else(internal)?
        }
    };
    let mut c = s.store.read().await?;
    let row = store::get_appointment(&mut c, id)
        .await?
        .ok_or_else(internal)?;
    appointment_to_fhir(&mut c, &row).await
}

async fn update_appointment(s: &AppState, p: &Principal, id: &str, v: &Value) -> FhirResult<Value> {
    let i = fs::appointment_from_fhir(v)?;
    let n = parse_id("Appointment", id)?;
    let row = visible_appointment(s, p, n).await?;
    let cur = {
        let mut c = s.store.read().await?;
        appointment_struct(&mut c, &row).await?
    };
    let slot_path = "Appointment.slot[0].reference";
    let after = match i.action(Some(&cur))? {
        AppointmentAction::Unchanged => return Ok(fs::appointment_to_fhir(&cur)),
        AppointmentAction::Reschedule { slot } => {
            svc::reschedule(&s.store, p, n, stored(&slot, slot_path)?)
                .await
                .map_err(|e| at(e, slot_path))?
        }
        AppointmentAction::Cancel => svc::cancel_appointment(&s.store, p, n)
            .await
            .map_err(|e| at(e, "Appointment.status"))?,
        AppointmentAction::NoShow => svc::no_show(&s.store, p, n)
            .await
            .map_err(|e| at(e, "Appointment.status"))?,
        AppointmentAction::Book { .. } => return Err(internal()),
    };
    let mut c = s.store.read().await?;
    appointment_to_fhir(&mut c, &after).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_name_their_states() {
        let sr = |c| {
            states_for("ServiceRequest", c)
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sr("active"),
            ["submitted", "accepted", "scheduled", "arrived"]
        );
        assert_eq!(sr("revoked"), ["declined", "cancelled", "expired"]);
        assert_eq!(states_for("Task", "ready"), [ReferralState::Scheduled]);
        assert!(states_for("Task", "on-hold").is_empty());
    }
}

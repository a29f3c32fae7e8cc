//! Two-way referral and appointments, as operations: rule findings at
//! submission, the state machine for every change (each audited as an event
//! and queued in the outbox in the same transaction), slot booking that
//! cannot double-book, and priority-ordered inboxes.

use chrono::{Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yilian_domain::access::{Principal, Role};
use yilian_domain::error::FieldError;
use yilian_domain::icd10::{Icd10Code, ReferralCatalog};
use yilian_domain::referral::{
    self, Direction, Finding, GreenChannel, ReferralEvent, ReferralFacts, ReferralState,
    ResponseLimits, Side, Urgency, check_referral, first_block, priority_rank, response_deadline,
    slot_bookable,
};
use yilian_store::referrals::{
    self as store, AppointmentRow, NewReferral, NewSlot, ReferralEventRow, ReferralRow, SlotRow,
};
use yilian_store::{Conn, Store, StoreError, Val, care as care_store, registry};

use crate::care::visible_resident;
use crate::error::{ApiError, ApiResult};

/// The default referral catalogue shipped in `config/referral_catalog.toml`.
pub const DEFAULT_CATALOG: &str = include_str!("../../../config/referral_catalog.toml");

/// Parses and validates a referral catalogue.
pub fn parse_catalog(text: &str) -> Result<ReferralCatalog, String> {
    let c: ReferralCatalog = toml::from_str(text).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

/// The catalogue in force: `YILIAN_REFERRAL_CATALOG` or the shipped default.
pub fn load_catalog() -> ReferralCatalog {
    let custom = std::env::var("YILIAN_REFERRAL_CATALOG")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok());
    let text = custom.as_deref().unwrap_or(DEFAULT_CATALOG);
    parse_catalog(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "referral catalogue does not parse; using the shipped default");
        parse_catalog(DEFAULT_CATALOG).unwrap_or_default()
    })
}

/// Now in China Standard Time, as stored (`YYYY-MM-DDTHH:MM:SS`).
pub fn now_cst() -> NaiveDateTime {
    (Utc::now() + Duration::hours(8)).naive_utc()
}

/// A China Standard Time as the referral tables store it
/// (`YYYY-MM-DDTHH:MM:SS`, no zone).
pub fn stored_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub(crate) fn parse_time(field: &'static str, s: &str) -> ApiResult<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            FieldError::new(
                field,
                "时间格式应为 YYYY-MM-DDTHH:MM",
                "a time is YYYY-MM-DDTHH:MM",
            )
            .into()
        })
}

/// The caller's institution (referrals are made and received by institutions).
fn my_institution(p: &Principal) -> ApiResult<i64> {
    p.institution
        .as_ref()
        .map(|i| i.id)
        .ok_or_else(ApiError::forbidden)
}

fn clinical(p: &Principal) -> ApiResult<()> {
    match p.role {
        Role::VillageDoctor | Role::PrimaryClinician | Role::Specialist | Role::ReferralDesk => {
            Ok(())
        }
        _ => Err(ApiError::forbidden()),
    }
}

fn text(field: &'static str, v: &str, max: usize) -> ApiResult<String> {
    crate::api::registry::text(field, v, max)
}

/// A referral to create (and, with `submit`, to submit at once).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReferralRequest {
    pub resident_id: i64,
    /// `up`, `down`, `lateral`.
    pub direction: String,
    pub to_institution_code: String,
    pub to_department: Option<String>,
    /// ICD-10 code of the diagnosis.
    pub icd10: String,
    pub diagnosis: String,
    pub reason: String,
    /// `routine` (default), `urgent`, `emergency`.
    pub urgency: Option<String>,
    /// For `emergency`: `chest_pain`, `stroke`, `trauma`, `critical_maternal`, `critical_neonatal`.
    pub green_channel: Option<String>,
    pub justification: Option<String>,
    /// 病情摘要 / discharge summary (required for downward referrals).
    pub summary: Option<String>,
    /// Recent results.
    pub results: Option<String>,
    /// Follow-up plan for the receiving primary team (downward).
    pub follow_up_plan: Option<String>,
    #[serde(default = "yes")]
    pub submit: bool,
}

fn yes() -> bool {
    true
}

/// A referral with its rule findings and event trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReferralView {
    #[serde(flatten)]
    pub referral: ReferralRow,
    #[schema(value_type = Vec<Object>)]
    pub rule_findings: Vec<Finding>,
    pub events: Vec<ReferralEventRow>,
}

async fn view(conn: &mut Conn, id: i64) -> ApiResult<ReferralView> {
    let referral = store::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("转诊"))?;
    let rule_findings = serde_json::from_str(&referral.findings).unwrap_or_default();
    let events = store::events(conn, id).await?;
    Ok(ReferralView {
        referral,
        rule_findings,
        events,
    })
}

/// Whether the caller is on one side of the referral (or may see it at all).
fn side_of(p: &Principal, r: &ReferralRow) -> Option<Side> {
    let mine = p.institution.as_ref().map(|i| i.id);
    if mine == Some(r.from_institution_id) {
        Some(Side::Referring)
    } else if mine == Some(r.to_institution_id) {
        Some(Side::Receiving)
    } else {
        None
    }
}

/// Builds the facts the rules need and checks them.
async fn findings_for(
    conn: &mut Conn,
    req: &ReferralRequest,
    from_id: i64,
    to: &yilian_store::registry::InstitutionRow,
    catalog: &ReferralCatalog,
) -> ApiResult<(Vec<Finding>, Option<i64>, bool)> {
    let direction = Direction::parse_field("direction", &req.direction)?;
    let urgency = match req.urgency.as_deref() {
        Some(u) if !u.is_empty() => Urgency::parse_field("urgency", u)?,
        _ => Urgency::Routine,
    };
    let green = match req.green_channel.as_deref().filter(|g| !g.is_empty()) {
        Some(g) => Some(GreenChannel::parse_field("green_channel", g)?),
        None => None,
    };
    let code = Icd10Code::parse(&req.icd10)?;
    let from_consortia = registry::list_consortia(
        conn,
        &registry::ConsortiumFilter {
            member_institution_id: Some(from_id),
            ..Default::default()
        },
        yilian_store::Paging::new(Some(100), None),
    )
    .await?;
    let mut same_consortium = false;
    for c in &from_consortia.items {
        if registry::is_member(conn, c.id, to.id).await? {
            same_consortium = true;
        }
    }
    let contract = care_store::active_contract(conn, req.resident_id).await?;
    let combination = contract
        .as_ref()
        .map(|c| [c.secondary_hospital_id, c.tertiary_hospital_id]);
    let hospital =
        !yilian_domain::registry::InstitutionKind::parse(&to.kind).is_some_and(|k| k.is_primary());
    let outside_combination = direction == Direction::Up
        && hospital
        && combination
            .is_some_and(|ids| ids.iter().any(Option::is_some) && !ids.contains(&Some(to.id)));
    let by_family_doctor = match &contract {
        Some(c) => {
            registry::get_team(conn, c.team_id)
                .await?
                .is_some_and(|t| t.row.institution_id == from_id)
                || registry::get_institution(conn, from_id)
                    .await?
                    .is_some_and(|i| i.kind == "village_clinic")
        }
        None => false,
    };
    let facts = ReferralFacts {
        direction: Some(direction),
        urgency: Some(urgency),
        green_channel: green,
        to_has_centre: green.is_some_and(|g| to.services.0.iter().any(|s| s == g.service())),
        first_contact: catalog.first_contact_match(&code).map(|e| e.name.clone()),
        no_refer_up: catalog.no_refer_up_match(&code).map(|e| e.name.clone()),
        same_consortium,
        outside_combination,
        by_family_doctor,
        has_discharge_summary: req.summary.as_deref().is_some_and(|s| !s.trim().is_empty()),
        has_follow_up_plan: req
            .follow_up_plan
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty()),
        justification: req.justification.clone(),
    };
    Ok((
        check_referral(&facts),
        contract.as_ref().map(|c| c.team_id),
        contract.is_some(),
    ))
}

/// 发起转诊 — creates a referral; with `submit` the rules run and a blocking
/// finding refuses it (nothing stored), otherwise it is submitted with its
/// findings and a response deadline, and the receiving side is notified.
pub async fn create(
    store: &Store,
    p: &Principal,
    req: &ReferralRequest,
    catalog: &ReferralCatalog,
    limits: &ResponseLimits,
) -> ApiResult<ReferralView> {
    clinical(p)?;
    let from_id = my_institution(p)?;
    let mut tx = store.write().await?;
    visible_resident(&mut tx, p, req.resident_id).await?;
    let to = registry::get_institution_by_code(&mut tx, &req.to_institution_code)
        .await?
        .ok_or_else(|| ApiError::unknown_institution(&req.to_institution_code))?;
    if to.id == from_id {
        return Err(FieldError::new(
            "to_institution_code",
            "不能转诊给本机构",
            "a referral goes to another institution",
        )
        .into());
    }
    let (findings, team_id, contracted) = findings_for(&mut tx, req, from_id, &to, catalog).await?;
    let urgency =
        Urgency::parse(req.urgency.as_deref().unwrap_or("routine")).unwrap_or(Urgency::Routine);
    let now = now_cst();
    let state = if req.submit {
        first_block(&findings)?;
        ReferralState::Submitted
    } else {
        ReferralState::Draft
    };
    let n = NewReferral {
        resident_id: req.resident_id,
        direction: Direction::parse_field("direction", &req.direction)?
            .as_str()
            .into(),
        urgency: urgency.as_str().into(),
        green_channel: req.green_channel.clone().filter(|g| !g.is_empty()),
        from_institution_id: from_id,
        to_institution_id: to.id,
        to_department: req
            .to_department
            .clone()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect(),
        icd10: Icd10Code::parse(&req.icd10)?.as_str().into(),
        diagnosis: text("diagnosis", &req.diagnosis, 200)?,
        reason: text("reason", &req.reason, 1000)?,
        justification: req.justification.clone().filter(|j| !j.trim().is_empty()),
        summary: req.summary.clone().unwrap_or_default(),
        results: req.results.clone().unwrap_or_default(),
        follow_up_plan: req.follow_up_plan.clone().unwrap_or_default(),
        team_id,
        contracted,
        priority: i64::from(priority_rank(urgency, contracted)),
        state: state.as_str().into(),
        findings: serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into()),
        submitted_at: req.submit.then(|| stored_time(now)),
        deadline_at: req
            .submit
            .then(|| stored_time(response_deadline(now, urgency, limits))),
        redirected_from: None,
        created_by: Some(p.user_id),
    };
    let id = store::insert(&mut tx, &n).await?;
    store::add_event(
        &mut tx,
        id,
        store::Step {
            event: "create",
            from: "draft",
            to: state.as_str(),
            user_id: Some(p.user_id),
            role: p.role.as_str(),
            note: "",
        },
    )
    .await?;
    if req.submit && n.direction == Direction::Up.as_str() {
        // The referring side follows up within two weeks.
        let by = (now.date() + Duration::days(referral::FOLLOW_UP_AFTER_REFERRAL_DAYS)).to_string();
        care_store::pull_next_due(&mut tx, req.resident_id, None, &by).await?;
    }
    if req.submit {
        store::enqueue(&mut tx, "referral.submitted", &serde_json::json!({"referral_id": id, "to_institution_id": to.id, "urgency": urgency.as_str()}), Some(to.id)).await?;
    }
    let v = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(v)
}

/// A change to a referral.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReferralChange {
    /// `submit`, `accept`, `decline`, `schedule`, `arrive`, `complete`, `cancel`.
    pub event: String,
    /// Required for `decline` and `cancel`.
    pub reason: Option<String>,
    /// For `schedule`: the slot to book (in the same transaction).
    pub slot_id: Option<i64>,
}

/// 转诊状态变更 — every change goes through the domain state machine, is
/// recorded as an event and queued for the other side.
pub async fn change(
    store: &Store,
    p: &Principal,
    id: i64,
    ch: &ReferralChange,
    limits: &ResponseLimits,
) -> ApiResult<ReferralView> {
    clinical(p)?;
    let event = ReferralEvent::parse_field("event", &ch.event)?;
    let mut tx = store.write().await?;
    let r = store::get(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("转诊"))?;
    let side = side_of(p, &r).ok_or_else(|| ApiError::not_found("转诊"))?;
    let from = ReferralState::parse(&r.state).ok_or_else(ApiError::internal)?;
    let to = referral::transition(from, event, side)?;
    let reason = ch
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut extra: Vec<(&str, Val)> = Vec::new();
    match event {
        ReferralEvent::Decline | ReferralEvent::Cancel if reason.is_none() => {
            return Err(FieldError::new(
                "reason",
                "拒绝或取消须说明原因",
                "a decline or cancellation needs a reason",
            )
            .into());
        }
        ReferralEvent::Decline => extra.push(("decline_reason", Val::from(reason))),
        ReferralEvent::Submit => {
            // A draft's findings were recorded when it was saved: a blocking
            // one still refuses submission.
            let findings: Vec<Finding> = serde_json::from_str(&r.findings).unwrap_or_default();
            first_block(&findings)?;
            let now = now_cst();
            let urgency = Urgency::parse(&r.urgency).unwrap_or(Urgency::Routine);
            extra.push(("submitted_at", Val::from(stored_time(now))));
            extra.push((
                "deadline_at",
                Val::from(stored_time(response_deadline(now, urgency, limits))),
            ));
        }
        ReferralEvent::Schedule => {
            let slot_id = ch.slot_id.ok_or_else(|| {
                FieldError::new("slot_id", "预约须选择号源", "scheduling books a slot")
            })?;
            let appt = book_in(
                &mut tx,
                p,
                slot_id,
                r.resident_id,
                Some(r.id),
                r.to_institution_id,
            )
            .await?;
            extra.push(("appointment_id", Val::from(appt)));
        }
        _ => {}
    }
    store::set_state(&mut tx, id, from.as_str(), to.as_str(), &extra).await?;
    if event == ReferralEvent::Accept && r.direction == Direction::Down.as_str() {
        hand_over_downward(&mut tx, &r).await?;
    }
    record_in_chart(&mut tx, &r, event, p.user_id).await?;
    store::add_event(
        &mut tx,
        id,
        store::Step {
            event: event.as_str(),
            from: from.as_str(),
            to: to.as_str(),
            user_id: Some(p.user_id),
            role: p.role.as_str(),
            note: reason.unwrap_or(""),
        },
    )
    .await?;
    let notify = if side == Side::Referring {
        r.to_institution_id
    } else {
        r.from_institution_id
    };
    store::enqueue(
        &mut tx,
        &format!("referral.{}", to.as_str()),
        &serde_json::json!({"referral_id": id, "state": to.as_str()}),
        Some(notify),
    )
    .await?;
    let v = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(v)
}

/// 下转交接 — a downward referral accepted by the primary side becomes
/// follow-up work for its team: the patient's programme (by diagnosis) is due
/// within two weeks, with the hospital's follow-up plan as the management plan.
async fn hand_over_downward(conn: &mut Conn, r: &ReferralRow) -> ApiResult<()> {
    let Ok(code) = Icd10Code::parse(&r.icd10) else {
        return Ok(());
    };
    let Some(program) = yilian_domain::chronic::program_for_icd10(code.category()) else {
        return Ok(());
    };
    let by =
        (now_cst().date() + Duration::days(referral::FOLLOW_UP_AFTER_REFERRAL_DAYS)).to_string();
    if care_store::pull_next_due(conn, r.resident_id, Some(program.as_str()), &by).await? > 0 {
        return Ok(());
    }
    let e = care_store::NewEnrolment {
        resident_id: r.resident_id,
        program: program.as_str().into(),
        source: "referral".into(),
        enrolled_on: now_cst().date().to_string(),
        factors: "{}".into(),
        risk: yilian_domain::chronic::Risk::Medium.as_str().into(),
        next_due: by,
        assessment_on: None,
        plan: Some(r.follow_up_plan.clone()).filter(|p| !p.trim().is_empty()),
    };
    match care_store::insert_enrolment(conn, &e).await {
        // Enrolled already and due sooner: nothing to bring forward.
        Ok(_) | Err(StoreError::Unique(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// 病历随人走 — a referral leaves its trace in the shared health record:
/// the visit and diagnosis at the receiving institution when it completes,
/// and the hospital's discharge summary and plan when the primary side
/// accepts a downward referral.
async fn record_in_chart(
    conn: &mut Conn,
    r: &ReferralRow,
    event: ReferralEvent,
    user_id: i64,
) -> ApiResult<()> {
    use yilian_domain::record::{EncounterType, EntryKind};
    use yilian_store::records::{NewEntry, insert_entry};
    let entry = |institution_id, kind: EntryKind, title: String| NewEntry {
        resident_id: r.resident_id,
        institution_id,
        kind: kind.as_str().into(),
        occurred_at: stored_time(now_cst()),
        title,
        source: "referral".into(),
        source_id: Some(r.id),
        created_by: Some(user_id),
        ..Default::default()
    };
    match event {
        ReferralEvent::Complete => {
            let mut visit = entry(
                r.to_institution_id,
                EntryKind::Encounter,
                format!("转诊就诊：{}", r.diagnosis),
            );
            visit.encounter_type = Some(EncounterType::Outpatient.as_str().into());
            visit.body = r.reason.clone();
            let visit_id = insert_entry(conn, &visit).await?;
            let mut dx = entry(
                r.to_institution_id,
                EntryKind::Diagnosis,
                r.diagnosis.clone(),
            );
            dx.code = r.icd10.clone();
            dx.encounter_id = Some(visit_id);
            insert_entry(conn, &dx).await?;
        }
        ReferralEvent::Accept if r.direction == Direction::Down.as_str() => {
            let mut doc = entry(
                r.from_institution_id,
                EntryKind::Document,
                "出院小结（下转）".into(),
            );
            doc.body = format!(
                "{}\n随访计划：{}",
                r.summary.trim(),
                r.follow_up_plan.trim()
            );
            insert_entry(conn, &doc).await?;
        }
        _ => {}
    }
    Ok(())
}

/// 超时升级 — submitted referrals past their response deadline are
/// escalated once to the coordinator (the lead institution) of each
/// consortium the receiving institution belongs to; returns how many.
pub async fn escalate_overdue(store: &Store) -> Result<usize, StoreError> {
    let mut tx = store.write().await?;
    let overdue = store::overdue_unescalated(&mut tx, &stored_time(now_cst())).await?;
    for r in &overdue {
        let consortia = registry::list_consortia(
            &mut tx,
            &registry::ConsortiumFilter {
                member_institution_id: Some(r.to_institution_id),
                ..Default::default()
            },
            yilian_store::Paging::new(Some(50), None),
        )
        .await?;
        let mut leads: Vec<i64> = consortia
            .items
            .iter()
            .map(|c| c.lead_institution_id)
            .filter(|l| *l != r.to_institution_id)
            .collect();
        if leads.is_empty() {
            leads.push(r.to_institution_id);
        }
        leads.dedup();
        for lead in leads {
            store::enqueue(&mut tx, "referral.escalated", &serde_json::json!({"referral_id": r.id, "deadline_at": r.deadline_at, "to_institution_id": r.to_institution_id}), Some(lead)).await?;
        }
        store::add_event(
            &mut tx,
            r.id,
            store::Step {
                event: "escalate",
                from: &r.state,
                to: &r.state,
                user_id: None,
                role: "system",
                note: "超过响应时限，已上报医联体协调中心",
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(overdue.len())
}

/// 改转 — redirects a declined referral to another institution as a new
/// referral that remembers where it came from.
pub async fn redirect(
    store: &Store,
    p: &Principal,
    id: i64,
    to_code: &str,
    justification: Option<String>,
    catalog: &ReferralCatalog,
    limits: &ResponseLimits,
) -> ApiResult<ReferralView> {
    let old = {
        let mut c = store.read().await?;
        store::get(&mut c, id)
            .await?
            .ok_or_else(|| ApiError::not_found("转诊"))?
    };
    if side_of(p, &old) != Some(Side::Referring) {
        return Err(ApiError::not_found("转诊"));
    }
    if old.state != ReferralState::Declined.as_str() {
        return Err(yilian_domain::referral::ReferralError::IllegalTransition {
            from: ReferralState::parse(&old.state).unwrap_or(ReferralState::Draft),
            event: ReferralEvent::Submit,
        }
        .into());
    }
    let req = ReferralRequest {
        resident_id: old.resident_id,
        direction: old.direction.clone(),
        to_institution_code: to_code.to_string(),
        to_department: Some(old.to_department.clone()),
        icd10: old.icd10.clone(),
        diagnosis: old.diagnosis.clone(),
        reason: old.reason.clone(),
        urgency: Some(old.urgency.clone()),
        green_channel: old.green_channel.clone(),
        justification: justification.or(old.justification.clone()),
        summary: Some(old.summary.clone()),
        results: Some(old.results.clone()),
        follow_up_plan: Some(old.follow_up_plan.clone()),
        submit: true,
    };
    let v = create(store, p, &req, catalog, limits).await?;
    let mut tx = store.write().await?;
    let mut q = yilian_store::sql::Sql::new("UPDATE referrals SET redirected_from = ");
    q.bind(id).push(" WHERE id = ").bind(v.referral.id);
    q.execute(&mut tx).await?;
    let out = view(&mut tx, v.referral.id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Books a slot inside the caller's transaction, checking the referral quota.
async fn book_in(
    conn: &mut Conn,
    p: &Principal,
    slot_id: i64,
    resident_id: i64,
    referral_id: Option<i64>,
    institution_id: i64,
) -> ApiResult<i64> {
    let slot = store::get_slot(conn, slot_id)
        .await?
        .filter(|s| s.institution_id == institution_id)
        .ok_or_else(|| ApiError::not_found("号源"))?;
    let start = parse_time("starts_at", &slot.starts_at)?;
    let by_referral = referral_id.is_some();
    if slot.booked > 0
        || !slot_bookable(
            slot.reserved_for_referral == 1,
            by_referral,
            start,
            now_cst(),
            slot.release_hours,
        )
    {
        return Err(slot_unavailable());
    }
    match store::book(conn, slot_id, resident_id, referral_id, Some(p.user_id)).await {
        Err(StoreError::Unique(t)) if t == "appointments.slot_id" => Err(slot_unavailable()),
        other => Ok(other?),
    }
}

fn slot_unavailable() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "slot_unavailable",
        "该号源已被预约或为转诊预留",
        "the slot is taken or reserved for referrals",
    )
}

/// 预约挂号 — books a slot for a resident (outside a referral).
pub async fn book(
    store: &Store,
    p: &Principal,
    slot_id: i64,
    resident_id: i64,
) -> ApiResult<AppointmentRow> {
    clinical(p).or_else(|_| {
        if p.role == Role::Resident {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    })?;
    let mut tx = store.write().await?;
    visible_resident(&mut tx, p, resident_id).await?;
    let slot = store::get_slot(&mut tx, slot_id)
        .await?
        .ok_or_else(|| ApiError::not_found("号源"))?;
    let id = book_in(&mut tx, p, slot_id, resident_id, None, slot.institution_id).await?;
    let row = store::get_appointment(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row)
}

fn not_booked(zh: &str, en: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "illegal_transition",
        zh,
        en,
    )
}

/// 改约 — moves a booked appointment to another slot of the same
/// institution in one transaction: the new slot is booked first (a taken or
/// reserved slot is 409 and the old booking stays), then the old one is
/// freed; a referral's appointment follows the move.
pub async fn reschedule(
    store: &Store,
    p: &Principal,
    id: i64,
    slot_id: i64,
) -> ApiResult<AppointmentRow> {
    clinical(p).or_else(|_| {
        if p.role == Role::Resident {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    })?;
    let mut tx = store.write().await?;
    let a = store::get_appointment(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("预约"))?;
    visible_resident(&mut tx, p, a.resident_id).await?;
    if a.status != "booked" {
        return Err(not_booked(
            "只有待就诊的预约可以改约",
            "only a booked appointment can be rescheduled",
        ));
    }
    let new_id = book_in(
        &mut tx,
        p,
        slot_id,
        a.resident_id,
        a.referral_id,
        a.institution_id,
    )
    .await?;
    store::set_appointment_status(&mut tx, id, "booked", "rescheduled")
        .await
        .map_err(|_| slot_unavailable())?;
    if let Some(referral_id) = a.referral_id {
        store::set_referral_appointment(&mut tx, referral_id, new_id).await?;
    }
    let row = store::get_appointment(&mut tx, new_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row)
}

/// 爽约 — the institution that gave the slot records that the resident did
/// not come; only once the appointment's time has begun.
pub async fn no_show(store: &Store, p: &Principal, id: i64) -> ApiResult<AppointmentRow> {
    clinical(p)?;
    let mut tx = store.write().await?;
    let a = store::get_appointment(&mut tx, id)
        .await?
        .filter(|a| p.institution.as_ref().map(|i| i.id) == Some(a.institution_id))
        .ok_or_else(|| ApiError::not_found("预约"))?;
    if parse_time("starts_at", &a.starts_at)? > now_cst() {
        return Err(not_booked(
            "就诊时间未到，不能登记爽约",
            "the appointment has not begun yet",
        ));
    }
    store::set_appointment_status(&mut tx, id, "booked", "no_show")
        .await
        .map_err(|_| {
            not_booked(
                "只有待就诊的预约可以登记爽约",
                "only a booked appointment can be marked missed",
            )
        })?;
    let row = store::get_appointment(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row)
}

pub async fn cancel_appointment(
    store: &Store,
    p: &Principal,
    id: i64,
) -> ApiResult<AppointmentRow> {
    let mut tx = store.write().await?;
    let a = store::get_appointment(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("预约"))?;
    visible_resident(&mut tx, p, a.resident_id).await?;
    store::set_appointment_status(&mut tx, id, "booked", "cancelled")
        .await
        .map_err(|_| slot_unavailable())?;
    let row = store::get_appointment(&mut tx, id)
        .await?
        .ok_or_else(ApiError::internal)?;
    tx.commit().await?;
    Ok(row)
}

/// Time-sliced slots to open at the caller's institution.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SlotPlan {
    /// First slot start, `YYYY-MM-DDTHH:MM`.
    pub starts_at: String,
    pub minutes: i64,
    pub count: i64,
    pub department: Option<String>,
    /// Share of the slots reserved for referrals from primary institutions,
    /// in basis points (2000 = 20 %).
    #[serde(default)]
    pub reserved_bp: u32,
    /// Reserved slots open to everyone this many hours before they start.
    pub release_hours: Option<i64>,
}

/// The slots a plan opens at an institution: consecutive, every fifth (by
/// the reserved share) kept for referrals until its release time. Also used
/// by the generator to open the demo's slots.
pub fn plan_slots(institution_id: i64, plan: &SlotPlan) -> ApiResult<Vec<NewSlot>> {
    if !(5..=240).contains(&plan.minutes)
        || !(1..=500).contains(&plan.count)
        || plan.reserved_bp > 10_000
    {
        return Err(FieldError::new(
            "count",
            "号源时长5–240分钟、数量1–500、预留比例不超过100%",
            "5–240 minutes, 1–500 slots, reserve ≤ 100 %",
        )
        .into());
    }
    let start = parse_time("starts_at", &plan.starts_at)?;
    let reserved_every = if plan.reserved_bp == 0 {
        0
    } else {
        (10_000 / plan.reserved_bp.max(1)).max(1) as i64
    };
    Ok((0..plan.count)
        .map(|i| NewSlot {
            institution_id,
            department: plan.department.clone().unwrap_or_default(),
            starts_at: stored_time(start + Duration::minutes(i * plan.minutes)),
            ends_at: stored_time(start + Duration::minutes((i + 1) * plan.minutes)),
            reserved_for_referral: reserved_every > 0 && i % reserved_every == 0,
            release_hours: plan.release_hours.unwrap_or(24).clamp(0, 720),
        })
        .collect())
}

/// 放号 — opens consecutive slots; every fifth (by the reserved share) is
/// kept for referrals until its release time.
pub async fn open_slots(store: &Store, p: &Principal, plan: &SlotPlan) -> ApiResult<u64> {
    if !matches!(
        p.role,
        Role::ReferralDesk | Role::Specialist | Role::PrimaryClinician
    ) {
        return Err(ApiError::forbidden());
    }
    let inst = my_institution(p)?;
    let slots = plan_slots(inst, plan)?;
    let mut tx = store.write().await?;
    let n = store::insert_slots(&mut tx, &slots).await?;
    tx.commit().await?;
    Ok(n)
}

pub async fn list_slots(
    store: &Store,
    institution_id: i64,
    from: &str,
    to: &str,
) -> ApiResult<Vec<SlotRow>> {
    let mut c = store.read().await?;
    Ok(store::list_slots(
        &mut c,
        institution_id,
        from,
        to,
        yilian_store::Paging::new(Some(500), None),
    )
    .await?
    .items)
}

/// An inbox or outbox line, with whether its response deadline passed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoxLine {
    #[serde(flatten)]
    pub referral: ReferralRow,
    pub overdue: bool,
}

/// 转诊收件箱 / 发件箱 — the caller institution's received or sent referrals,
/// emergency first, then contracted residents, then others, then deadline.
pub async fn referral_box(
    store: &Store,
    p: &Principal,
    inbox: bool,
    open_only: bool,
) -> ApiResult<Vec<BoxLine>> {
    clinical(p)?;
    let inst = my_institution(p)?;
    let f = store::ReferralFilter {
        to_institution_id: inbox.then_some(inst),
        from_institution_id: (!inbox).then_some(inst),
        open_only,
        ..Default::default()
    };
    let mut c = store.read().await?;
    let now = stored_time(now_cst());
    let page = store::list(&mut c, &f, yilian_store::Paging::new(Some(500), None)).await?;
    Ok(page
        .items
        .into_iter()
        .map(|r| BoxLine {
            overdue: r.state == "submitted"
                && r.deadline_at.as_deref().is_some_and(|d| d < now.as_str()),
            referral: r,
        })
        .collect())
}

/// A referral the caller is party to (or may see as the resident's clinician).
pub async fn get(store: &Store, p: &Principal, id: i64) -> ApiResult<ReferralView> {
    let mut c = store.read().await?;
    let r = store::get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("转诊"))?;
    // Besides the two parties: the resident themself and clinicians who may
    // see the resident (their own catchment). Payers, planners and the CDC
    // see referrals in aggregate, not one by one.
    if side_of(p, &r).is_none() {
        if clinical(p).is_err() && p.role != Role::Resident {
            return Err(ApiError::not_found("转诊"));
        }
        visible_resident(&mut c, p, r.resident_id).await?;
    }
    view(&mut c, id).await
}

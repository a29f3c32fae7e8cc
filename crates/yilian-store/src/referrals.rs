//! Referrals with their event trail, time-sliced slots and appointments, and
//! the notification outbox written in the same transaction as each change.

use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::sql::{Sql, Val, Where};
use crate::{Conn, Page, Paging, StoreError, now_text};

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ReferralRow {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub direction: String,
    pub urgency: String,
    pub green_channel: Option<String>,
    pub from_institution_id: i64,
    pub from_name: String,
    pub to_institution_id: i64,
    pub to_name: String,
    pub to_department: String,
    pub icd10: String,
    pub diagnosis: String,
    pub reason: String,
    pub justification: Option<String>,
    pub summary: String,
    pub results: String,
    pub follow_up_plan: String,
    pub team_id: Option<i64>,
    pub contracted: i64,
    pub priority: i64,
    pub state: String,
    pub findings: String,
    pub submitted_at: Option<String>,
    pub deadline_at: Option<String>,
    pub decline_reason: Option<String>,
    pub redirected_from: Option<i64>,
    pub appointment_id: Option<i64>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

const COLS: &str = "f.id, f.resident_id, r.name AS resident_name, f.direction, f.urgency, f.green_channel, f.from_institution_id, \
     fi.name AS from_name, f.to_institution_id, ti.name AS to_name, f.to_department, f.icd10, f.diagnosis, f.reason, f.justification, \
     f.summary, f.results, f.follow_up_plan, f.team_id, f.contracted, f.priority, f.state, f.findings, f.submitted_at, f.deadline_at, \
     f.decline_reason, f.redirected_from, f.appointment_id, f.version, f.created_at, f.updated_at";
const FROM: &str = "referrals f JOIN residents r ON r.id = f.resident_id JOIN institutions fi ON fi.id = f.from_institution_id \
     JOIN institutions ti ON ti.id = f.to_institution_id";

/// A referral to write.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub resident_id: i64,
    pub direction: String,
    pub urgency: String,
    pub green_channel: Option<String>,
    pub from_institution_id: i64,
    pub to_institution_id: i64,
    pub to_department: String,
    pub icd10: String,
    pub diagnosis: String,
    pub reason: String,
    pub justification: Option<String>,
    pub summary: String,
    pub results: String,
    pub follow_up_plan: String,
    pub team_id: Option<i64>,
    pub contracted: bool,
    pub priority: i64,
    pub state: String,
    pub findings: String,
    pub submitted_at: Option<String>,
    pub deadline_at: Option<String>,
    pub redirected_from: Option<i64>,
    pub created_by: Option<i64>,
}

/// The columns every referral insert writes from a [`NewReferral`], in the
/// order of [`NewReferral::values`] (the single and the bulk insert share them).
pub(crate) const INSERT_COLS: &str = "resident_id, direction, urgency, green_channel, from_institution_id, to_institution_id, to_department, icd10, \
     diagnosis, reason, justification, summary, results, follow_up_plan, team_id, contracted, priority, state, findings, submitted_at, \
     deadline_at, redirected_from, created_by";

impl NewReferral {
    /// The values of [`INSERT_COLS`], in order.
    pub(crate) fn values(&self) -> [Val; 23] {
        [
            self.resident_id.into(),
            self.direction.clone().into(),
            self.urgency.clone().into(),
            self.green_channel.clone().into(),
            self.from_institution_id.into(),
            self.to_institution_id.into(),
            self.to_department.clone().into(),
            self.icd10.clone().into(),
            self.diagnosis.clone().into(),
            self.reason.clone().into(),
            self.justification.clone().into(),
            self.summary.clone().into(),
            self.results.clone().into(),
            self.follow_up_plan.clone().into(),
            self.team_id.into(),
            self.contracted.into(),
            self.priority.into(),
            self.state.clone().into(),
            self.findings.clone().into(),
            self.submitted_at.clone().into(),
            self.deadline_at.clone().into(),
            self.redirected_from.into(),
            self.created_by.into(),
        ]
    }
}

pub async fn insert(conn: &mut Conn, n: &NewReferral) -> Result<i64, StoreError> {
    let now = now_text();
    let mut q = Sql::new(&format!(
        "INSERT INTO referrals ({INSERT_COLS}, created_at, updated_at) VALUES ("
    ));
    q.bind_list(
        n.values()
            .into_iter()
            .chain([now.clone().into(), now.into()]),
    );
    q.push(") RETURNING id");
    q.scalar_i64(conn).await
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<ReferralRow>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {COLS} FROM {FROM} WHERE f.id = "));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Moves a referral from `from` to `to` (refused if someone moved it first)
/// and sets the given extra columns.
pub async fn set_state(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
    extra: &[(&str, Val)],
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE referrals SET state = ");
    q.bind(to);
    for (col, v) in extra {
        q.push(", ").push(col).push(" = ").bind(v.clone());
    }
    q.push(", updated_at = ")
        .bind(now_text())
        .push(", version = version + 1 WHERE id = ")
        .bind(id)
        .push(" AND state = ")
        .bind(from);
    if q.execute(conn).await? == 1 {
        Ok(())
    } else {
        Err(StoreError::VersionConflict { expected: 0 })
    }
}

/// One step of a referral's trail: who moved it from which state to which.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub event: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub user_id: Option<i64>,
    pub role: &'a str,
    pub note: &'a str,
}

pub async fn add_event(conn: &mut Conn, id: i64, s: Step<'_>) -> Result<(), StoreError> {
    let mut q = Sql::new(
        "INSERT INTO referral_events (referral_id, at, event, from_state, to_state, user_id, role, note) VALUES (",
    );
    q.bind_list([
        id.into(),
        now_text().into(),
        s.event.into(),
        s.from.into(),
        s.to.into(),
        s.user_id.into(),
        s.role.into(),
        s.note.into(),
    ])
    .push(")");
    q.execute(conn).await.map(|_| ())
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ReferralEventRow {
    pub at: String,
    pub event: String,
    pub from_state: String,
    pub to_state: String,
    pub user_id: Option<i64>,
    pub role: String,
    pub note: String,
}

pub async fn events(conn: &mut Conn, id: i64) -> Result<Vec<ReferralEventRow>, StoreError> {
    let mut q = Sql::new(
        "SELECT at, event, from_state, to_state, user_id, role, note FROM referral_events WHERE referral_id = ",
    );
    q.bind(id).push(" ORDER BY id");
    q.fetch_all(conn).await
}

/// Which referrals a list shows.
#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    /// Received by this institution (inbox) …
    pub to_institution_id: Option<i64>,
    /// … or sent by it (outbox).
    pub from_institution_id: Option<i64>,
    pub resident_id: Option<i64>,
    /// Only open states.
    pub open_only: bool,
    pub state: Option<String>,
    /// One referral by id (FHIR `_id`).
    pub id: Option<i64>,
    /// Sent **or** received by this institution (FHIR searches).
    pub party_institution_id: Option<i64>,
    /// Any of these states (empty: any state).
    pub states: Vec<String>,
    /// Authored (submitted, else created) at or after this China Standard
    /// Time, `YYYY-MM-DDTHH:MM:SS` …
    pub authored_from: Option<String>,
    /// … and before this one (exclusive).
    pub authored_before: Option<String>,
}

/// A CST bound (`YYYY-MM-DDTHH:MM:SS`) as the UTC text `created_at` is
/// stored in; unreadable text is compared as given.
fn cst_as_utc_text(cst: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(cst, "%Y-%m-%dT%H:%M:%S").map_or_else(
        |_| cst.to_string(),
        |t| crate::utc_text(t - chrono::Duration::hours(8)),
    )
}

/// Referrals in priority order: emergency, contracted, others; then the
/// earliest deadline.
pub async fn list(
    conn: &mut Conn,
    f: &ReferralFilter,
    paging: Paging,
) -> Result<Page<ReferralRow>, StoreError> {
    let mut w = Where::new();
    if let Some(i) = f.to_institution_id {
        w.and("f.to_institution_id = ?", [i.into()]);
    }
    if let Some(i) = f.from_institution_id {
        w.and("f.from_institution_id = ?", [i.into()]);
    }
    if let Some(i) = f.resident_id {
        w.and("f.resident_id = ?", [i.into()]);
    }
    if f.open_only {
        w.and(
            "f.state IN ('draft', 'submitted', 'accepted', 'scheduled', 'arrived')",
            [],
        );
    }
    if let Some(s) = &f.state {
        w.and("f.state = ?", [s.as_str().into()]);
    }
    if let Some(i) = f.id {
        w.and("f.id = ?", [i.into()]);
    }
    if let Some(i) = f.party_institution_id {
        w.and(
            "f.from_institution_id = ? OR f.to_institution_id = ?",
            [i.into(), i.into()],
        );
    }
    if !f.states.is_empty() {
        let marks = vec!["?"; f.states.len()].join(", ");
        w.and(
            &format!("f.state IN ({marks})"),
            f.states.iter().map(|s| Val::from(s.as_str())),
        );
    }
    // `submitted_at` is stored in China Standard Time, `created_at` in UTC.
    if let Some(t) = &f.authored_from {
        w.and(
            "f.submitted_at >= ? OR (f.submitted_at IS NULL AND f.created_at >= ?)",
            [t.as_str().into(), cst_as_utc_text(t).into()],
        );
    }
    if let Some(t) = &f.authored_before {
        w.and(
            "f.submitted_at < ? OR (f.submitted_at IS NULL AND f.created_at < ?)",
            [t.as_str().into(), cst_as_utc_text(t).into()],
        );
    }
    w.page(conn, COLS, FROM, "f.priority, f.deadline_at, f.id", paging)
        .await
}

/// Submitted referrals past their response deadline that have not been
/// escalated yet.
pub async fn overdue_unescalated(
    conn: &mut Conn,
    now: &str,
) -> Result<Vec<ReferralRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM {FROM} WHERE f.state = 'submitted' AND f.deadline_at < "
    ));
    q.bind(now).push(" AND NOT EXISTS (SELECT 1 FROM referral_events e WHERE e.referral_id = f.id AND e.event = 'escalate') ORDER BY f.id");
    q.fetch_all(conn).await
}

/// Open referrals whose response deadline passed while still submitted.
pub async fn overdue(conn: &mut Conn, now: &str) -> Result<Vec<ReferralRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM {FROM} WHERE f.state = 'submitted' AND f.deadline_at < "
    ));
    q.bind(now).push(" ORDER BY f.priority, f.deadline_at");
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- slots and appointments

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SlotRow {
    pub id: i64,
    pub institution_id: i64,
    pub department: String,
    pub starts_at: String,
    pub ends_at: String,
    pub reserved_for_referral: i64,
    pub release_hours: i64,
    /// 1 when a booked appointment holds it.
    pub booked: i64,
}

const SLOT_COLS: &str = "s.id, s.institution_id, s.department, s.starts_at, s.ends_at, s.reserved_for_referral, s.release_hours, \
     (SELECT COUNT(*) FROM appointments a WHERE a.slot_id = s.id AND a.status = 'booked') AS booked";

/// A slot to create.
#[derive(Debug, Clone)]
pub struct NewSlot {
    pub institution_id: i64,
    pub department: String,
    pub starts_at: String,
    pub ends_at: String,
    pub reserved_for_referral: bool,
    pub release_hours: i64,
}

pub async fn insert_slots(conn: &mut Conn, slots: &[NewSlot]) -> Result<u64, StoreError> {
    let now = now_text();
    let mut n = 0;
    for chunk in slots.chunks(200) {
        let mut q = Sql::new(
            "INSERT INTO slots (institution_id, department, starts_at, ends_at, reserved_for_referral, release_hours, created_at) VALUES ",
        );
        for (i, s) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind_list([
                s.institution_id.into(),
                s.department.clone().into(),
                s.starts_at.clone().into(),
                s.ends_at.clone().into(),
                s.reserved_for_referral.into(),
                s.release_hours.into(),
                now.clone().into(),
            ]);
            q.push(")");
        }
        n += q.execute(conn).await?;
    }
    Ok(n)
}

pub async fn get_slot(conn: &mut Conn, id: i64) -> Result<Option<SlotRow>, StoreError> {
    let mut q = Sql::new(&format!("SELECT {SLOT_COLS} FROM slots s WHERE s.id = "));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Slots of an institution starting in `[from, to)`.
pub async fn list_slots(
    conn: &mut Conn,
    institution_id: i64,
    from: &str,
    to: &str,
    paging: Paging,
) -> Result<Page<SlotRow>, StoreError> {
    let mut w = Where::new();
    w.and(
        "s.institution_id = ? AND s.starts_at >= ? AND s.starts_at < ?",
        [institution_id.into(), from.into(), to.into()],
    );
    w.page(conn, SLOT_COLS, "slots s", "s.starts_at, s.id", paging)
        .await
}

/// Which slots a search shows (FHIR `Slot`).
#[derive(Debug, Clone, Default)]
pub struct SlotFilter {
    pub id: Option<i64>,
    pub institution_id: Option<i64>,
    /// Exactly this department (`""`: the slots without one).
    pub department: Option<String>,
    /// Starting at or after (CST, `YYYY-MM-DDTHH:MM:SS`) …
    pub from: Option<String>,
    /// … and before (exclusive).
    pub before: Option<String>,
    /// `Some(true)`: held by a booked appointment; `Some(false)`: free.
    pub booked: Option<bool>,
}

/// Slots matching `f`, by start time.
pub async fn search_slots(
    conn: &mut Conn,
    f: &SlotFilter,
    paging: Paging,
) -> Result<Page<SlotRow>, StoreError> {
    let mut w = Where::new();
    if let Some(i) = f.id {
        w.and("s.id = ?", [i.into()]);
    }
    if let Some(i) = f.institution_id {
        w.and("s.institution_id = ?", [i.into()]);
    }
    if let Some(d) = &f.department {
        w.and("s.department = ?", [d.as_str().into()]);
    }
    if let Some(t) = &f.from {
        w.and("s.starts_at >= ?", [t.as_str().into()]);
    }
    if let Some(t) = &f.before {
        w.and("s.starts_at < ?", [t.as_str().into()]);
    }
    if let Some(b) = f.booked {
        let held =
            "EXISTS (SELECT 1 FROM appointments a WHERE a.slot_id = s.id AND a.status = 'booked')";
        w.and(
            &if b {
                held.to_string()
            } else {
                format!("NOT {held}")
            },
            [],
        );
    }
    w.page(conn, SLOT_COLS, "slots s", "s.starts_at, s.id", paging)
        .await
}

/// The departments an institution has opened slots in, with the first
/// start and last end (the derived FHIR `Schedule`s).
#[derive(Debug, Clone, FromRow)]
pub struct SlotSpan {
    pub institution_id: i64,
    pub department: String,
    pub first_start: String,
    pub last_end: String,
}

/// Every (institution, department) with slots, of one institution or all.
pub async fn slot_spans(
    conn: &mut Conn,
    institution_id: Option<i64>,
) -> Result<Vec<SlotSpan>, StoreError> {
    let mut q = Sql::new(
        "SELECT s.institution_id, s.department, MIN(s.starts_at) AS first_start, MAX(s.ends_at) AS last_end FROM slots s",
    );
    if let Some(i) = institution_id {
        q.push(" WHERE s.institution_id = ").bind(i);
    }
    q.push(" GROUP BY s.institution_id, s.department ORDER BY s.institution_id, s.department");
    q.fetch_all(conn).await
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct AppointmentRow {
    pub id: i64,
    pub slot_id: i64,
    pub resident_id: i64,
    pub referral_id: Option<i64>,
    pub status: String,
    pub starts_at: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub department: String,
}

const APPT_COLS: &str = "a.id, a.slot_id, a.resident_id, a.referral_id, a.status, s.starts_at, s.institution_id, i.name AS institution_name, s.department";
const APPT_FROM: &str = "appointments a JOIN slots s ON s.id = a.slot_id JOIN institutions i ON i.id = s.institution_id";

/// Books a slot. A slot already booked violates `appointments_one_per_slot`
/// (→ `Unique("appointments.slot_id")`), on both backends, whatever the race.
pub async fn book(
    conn: &mut Conn,
    slot_id: i64,
    resident_id: i64,
    referral_id: Option<i64>,
    by: Option<i64>,
) -> Result<i64, StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO appointments (slot_id, resident_id, referral_id, status, booked_by, created_at, updated_at) VALUES (",
    );
    q.bind_list([
        slot_id.into(),
        resident_id.into(),
        referral_id.into(),
        "booked".into(),
        by.into(),
        now.clone().into(),
        now.into(),
    ]);
    q.push(") RETURNING id");
    q.scalar_i64(conn).await
}

pub async fn get_appointment(
    conn: &mut Conn,
    id: i64,
) -> Result<Option<AppointmentRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {APPT_COLS} FROM {APPT_FROM} WHERE a.id = "
    ));
    q.bind(id);
    q.fetch_optional(conn).await
}

/// Points a referral at its (new) appointment.
pub async fn set_referral_appointment(
    conn: &mut Conn,
    referral_id: i64,
    appointment_id: i64,
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE referrals SET appointment_id = ");
    q.bind(appointment_id)
        .push(", updated_at = ")
        .bind(now_text())
        .push(" WHERE id = ")
        .bind(referral_id);
    q.execute(conn).await.map(|_| ())
}

pub async fn set_appointment_status(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE appointments SET status = ");
    q.bind(to)
        .push(", updated_at = ")
        .bind(now_text())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND status = ")
        .bind(from);
    if q.execute(conn).await? == 1 {
        Ok(())
    } else {
        Err(StoreError::VersionConflict { expected: 0 })
    }
}

/// Which appointments a search shows (FHIR `Appointment`).
#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    pub id: Option<i64>,
    pub resident_id: Option<i64>,
    pub slot_id: Option<i64>,
    pub referral_id: Option<i64>,
    /// The institution that gave the slot.
    pub institution_id: Option<i64>,
    /// Any of these `appointments.status` values (empty: any).
    pub statuses: Vec<String>,
    /// The referral the appointment serves is in one of these states …
    pub referral_states: Vec<String>,
    /// … or is in none of these (or there is no referral).
    pub not_referral_states: Vec<String>,
    /// Appointments with one of these statuses match whatever their
    /// referral's state (e.g. `attended` beside a booked one whose referral
    /// completed).
    pub also_statuses: Vec<String>,
    /// Slot starting at or after (CST) …
    pub from: Option<String>,
    /// … and before (exclusive).
    pub before: Option<String>,
}

fn in_list(column: &str, vals: &[String], negate: bool) -> (String, Vec<Val>) {
    let marks = vec!["?"; vals.len()].join(", ");
    let not = if negate { "NOT " } else { "" };
    (
        format!("{column} {not}IN ({marks})"),
        vals.iter().map(|v| Val::from(v.as_str())).collect(),
    )
}

/// Appointments matching `f`, latest slot first.
pub async fn search_appointments(
    conn: &mut Conn,
    f: &AppointmentFilter,
    paging: Paging,
) -> Result<Page<AppointmentRow>, StoreError> {
    let mut w = Where::new();
    for (col, v) in [
        ("a.id", f.id),
        ("a.resident_id", f.resident_id),
        ("a.slot_id", f.slot_id),
        ("a.referral_id", f.referral_id),
        ("s.institution_id", f.institution_id),
    ] {
        if let Some(v) = v {
            w.and(&format!("{col} = ?"), [v.into()]);
        }
    }
    let state = "(SELECT rf.state FROM referrals rf WHERE rf.id = a.referral_id)";
    if !f.also_statuses.is_empty() {
        // (status IN statuses AND state IN referral_states) OR status IN also_statuses
        let (s1, mut v1) = in_list("a.status", &f.statuses, false);
        let (s2, v2) = in_list(state, &f.referral_states, false);
        let (s3, v3) = in_list("a.status", &f.also_statuses, false);
        v1.extend(v2);
        v1.extend(v3);
        w.and(&format!("({s1} AND {s2}) OR {s3}"), v1);
    } else {
        if !f.statuses.is_empty() {
            let (c, v) = in_list("a.status", &f.statuses, false);
            w.and(&c, v);
        }
        if !f.referral_states.is_empty() {
            let (c, v) = in_list(state, &f.referral_states, false);
            w.and(&c, v);
        }
    }
    if !f.not_referral_states.is_empty() {
        let (c, v) = in_list(state, &f.not_referral_states, true);
        w.and(&format!("a.referral_id IS NULL OR {c}"), v);
    }
    if let Some(t) = &f.from {
        w.and("s.starts_at >= ?", [t.as_str().into()]);
    }
    if let Some(t) = &f.before {
        w.and("s.starts_at < ?", [t.as_str().into()]);
    }
    w.page(
        conn,
        APPT_COLS,
        APPT_FROM,
        "s.starts_at DESC, a.id DESC",
        paging,
    )
    .await
}

pub async fn appointments_of(
    conn: &mut Conn,
    resident_ids: &[i64],
) -> Result<Vec<AppointmentRow>, StoreError> {
    if resident_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(&format!(
        "SELECT {APPT_COLS} FROM {APPT_FROM} WHERE a.resident_id IN ("
    ));
    q.bind_list(resident_ids.iter().map(|i| Val::from(*i)))
        .push(") ORDER BY s.starts_at DESC");
    q.fetch_all(conn).await
}

// ---------------------------------------------------------------- outbox

/// Queues a notification in the caller's transaction: it is delivered after
/// commit, retried until it succeeds, and never lost.
pub async fn enqueue(
    conn: &mut Conn,
    topic: &str,
    payload: &serde_json::Value,
    institution_id: Option<i64>,
) -> Result<(), StoreError> {
    let now = now_text();
    let mut q = Sql::new(
        "INSERT INTO outbox (topic, payload, institution_id, created_at, next_attempt_at) VALUES (",
    );
    q.bind_list([
        topic.into(),
        payload.to_string().into(),
        institution_id.into(),
        now.clone().into(),
        now.into(),
    ])
    .push(")");
    q.execute(conn).await.map(|_| ())
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct OutboxRow {
    pub id: i64,
    pub topic: String,
    pub payload: String,
    pub institution_id: Option<i64>,
    pub created_at: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub dead: i64,
}

const OUTBOX_COLS: &str = "id, topic, payload, institution_id, created_at, attempts, next_attempt_at, delivered_at, last_error, dead";

/// Undelivered, live messages due for an attempt at `now`, oldest first.
pub async fn due_messages(
    conn: &mut Conn,
    now: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {OUTBOX_COLS} FROM outbox WHERE delivered_at IS NULL AND dead = 0 AND next_attempt_at <= "
    ));
    q.bind(now).push(" ORDER BY id LIMIT ").bind(limit);
    q.fetch_all(conn).await
}

pub async fn mark_delivered(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE outbox SET delivered_at = ");
    q.bind(now_text())
        .push(", attempts = attempts + 1 WHERE id = ")
        .bind(id)
        .push(" AND delivered_at IS NULL");
    q.execute(conn).await.map(|_| ())
}

/// Records a failed attempt: the next one at `next`, or dead letter.
pub async fn mark_failed(
    conn: &mut Conn,
    id: i64,
    error: &str,
    next: &str,
    dead: bool,
) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE outbox SET attempts = attempts + 1, last_error = ");
    q.bind(error)
        .push(", next_attempt_at = ")
        .bind(next)
        .push(", dead = ")
        .bind(dead)
        .push(" WHERE id = ")
        .bind(id);
    q.execute(conn).await.map(|_| ())
}

/// Messages by state: `pending`, `delivered` or `dead`.
pub async fn outbox(
    conn: &mut Conn,
    state: &str,
    paging: Paging,
) -> Result<Page<OutboxRow>, StoreError> {
    let mut w = Where::new();
    match state {
        "delivered" => w.and("delivered_at IS NOT NULL", []),
        "dead" => w.and("dead = 1", []),
        _ => w.and("delivered_at IS NULL AND dead = 0", []),
    };
    w.page(conn, OUTBOX_COLS, "outbox", "id", paging).await
}

/// Puts a dead letter back in the queue.
pub async fn retry_dead(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    let mut q = Sql::new("UPDATE outbox SET dead = 0, next_attempt_at = ");
    q.bind(now_text())
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND dead = 1");
    if q.execute(conn).await? == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

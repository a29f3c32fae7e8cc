//! 分时段预约 (time-sliced appointments) ↔ `Schedule`, `Slot`, `Appointment`.
//!
//! yilian stores slots (`SlotRow`) and appointments (`AppointmentRow`); a
//! **Schedule** is derived: one per institution and department (科室/门诊),
//! with the id [`schedule_id`] — `{institution_id}` when the department is
//! empty, else `{institution_id}-{fnv}` where `fnv` is the 16-hex-digit
//! FNV-1a 64 hash of the department's UTF-8 bytes ([`ScheduleKey`] reads
//! it back; the server matches the hash against the institution's
//! departments). A Schedule's actor must be a Location, HealthcareService,
//! Practitioner… — not an Organization — so each Schedule and Appointment
//! carries a **contained** `HealthcareService` (`#service`, `name` = the
//! department, `providedBy` = the institution's Organization).
//!
//! ## Schedule ↔ [`ScheduleFhir`] (read only)
//!
//! | FHIR element | yilian |
//! |---|---|
//! | `id` | [`schedule_id`]`(institution_id, department)` |
//! | `actor[0]` → contained `HealthcareService` | `department`, `providedBy` `Organization/{institution_id}` |
//! | `serviceType[0].text` | `department` |
//! | `planningHorizon` | first slot start … last slot end |
//!
//! ## Slot ↔ [`SlotFhir`] / [`SlotIn`]
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id` | `id` |
//! | `schedule` | `Schedule/`[`schedule_id`]`(institution_id, department)` |
//! | `status` `busy` / `free` | `booked` > 0 / 0 (in: `free` only) |
//! | `start`, `end` (`+08:00`) | `starts_at`, `ends_at` (CST) |
//! | `serviceType[0].text` | `department` |
//! | extension [`SLOT_RESERVED_EXTENSION`] (`valueBoolean`) | `reserved_for_referral` (转诊预留号源) |
//! | extension [`SLOT_RELEASE_HOURS_EXTENSION`] (`valueInteger`, 0–720, default 24) | `release_hours` |
//! | `comment` (out) | the reserve explained in Chinese |
//!
//! ## Appointment ↔ [`AppointmentFhir`] / [`AppointmentIn`]
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id` | `id` |
//! | `status` (table below) | `status` (and the referral's state) |
//! | `cancelationReason.text` | 改约 for `rescheduled` |
//! | `start`, `end` | the slot's `starts_at`, `ends_at` |
//! | `slot[0]` | `Slot/{slot_id}` |
//! | `basedOn[0]` | `ServiceRequest/{referral_id}` |
//! | `participant[]` (`status` `accepted`) | `Patient/{resident_id}`; `#service` (the department at `Organization/{institution_id}`) |
//! | `serviceType[0].text`, `description` | `department`, institution and department |
//!
//! | yilian `appointments.status` | FHIR `Appointment.status` |
//! |---|---|
//! | `booked` | `booked` |
//! | `booked`, the referral `arrived` | `arrived` |
//! | `booked`, the referral `completed` | `fulfilled` |
//! | `no_show` | `noshow` |
//! | `cancelled` | `cancelled` |
//! | `rescheduled` (moved to another slot) | `cancelled`, `cancelationReason` 改约 |
//!
//! Input ([`AppointmentIn::action`]): `POST` with status `booked` books the
//! slot (server `book`, or — with `basedOn` a referral — `change` with
//! event `schedule` and the slot); `PUT` with `cancelled` cancels, with
//! `noshow` records a no-show, with `booked` and another `slot` reschedules.

use chrono::NaiveDateTime;
use serde_json::{Value, json};
use yilian_domain::referral::ReferralState;

use crate::json::Node;
use crate::outcome::{IssueType, Outcome};
use crate::reference::{Ref, read_ref};
use crate::referral::{check_len, code_in, concept_text, extension_value, fhir_time, reference};

/// Extension on `Slot`: kept for referrals from primary institutions
/// (转诊预留号源) until its release time (`valueBoolean`).
pub const SLOT_RESERVED_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/slot-reserved-for-referral";
/// Extension on `Slot`: a reserved slot opens to everyone this many hours
/// before it starts (`valueInteger`, 0–720).
pub const SLOT_RELEASE_HOURS_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/slot-release-hours";

/// The id of the contained `HealthcareService` (the department) in a
/// Schedule or Appointment.
pub const SERVICE_CONTAINED_ID: &str = "service";

/// FNV-1a 64 of the department's UTF-8 bytes.
fn department_hash(department: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in department.trim().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The Schedule id of an institution's department (`12`, `12-9f0c…`).
pub fn schedule_id(institution_id: i64, department: &str) -> String {
    if department.trim().is_empty() {
        institution_id.to_string()
    } else {
        format!("{institution_id}-{:016x}", department_hash(department))
    }
}

/// A Schedule id read back: the institution and the department's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleKey {
    pub institution_id: i64,
    /// `None` for the institution's schedule without a department.
    pub department_hash: Option<u64>,
}

impl ScheduleKey {
    /// Reads a [`schedule_id`]; `None` if it is not one.
    pub fn parse(id: &str) -> Option<ScheduleKey> {
        let (inst, dept) = match id.split_once('-') {
            Some((i, d)) => (i, Some(d)),
            None => (id, None),
        };
        if inst.is_empty() || !inst.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let institution_id: i64 = inst.parse().ok()?;
        let department_hash = match dept {
            Some(d) if d.len() == 16 && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(u64::from_str_radix(d, 16).ok()?)
            }
            Some(_) => return None,
            None => None,
        };
        Some(ScheduleKey {
            institution_id,
            department_hash,
        })
    }

    /// Whether this is the schedule of `department` at `institution_id`.
    pub fn matches(&self, institution_id: i64, department: &str) -> bool {
        self.institution_id == institution_id
            && self.department_hash
                == (!department.trim().is_empty()).then(|| department_hash(department))
    }

    /// The department among `departments` (of the key's institution) this
    /// key names: `Some("")` for the department-less schedule, `None` if
    /// no department matches.
    pub fn resolve<'a>(&self, departments: impl IntoIterator<Item = &'a str>) -> Option<String> {
        match self.department_hash {
            None => Some(String::new()),
            Some(h) => departments
                .into_iter()
                .find(|d| !d.trim().is_empty() && department_hash(d) == h)
                .map(|d| d.trim().to_string()),
        }
    }
}

/// One slot as FHIR needs it (mirrors `SlotRow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotFhir {
    pub id: i64,
    pub institution_id: i64,
    /// For displays; may be empty (`SlotRow` has none).
    pub institution_name: String,
    pub department: String,
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub starts_at: String,
    pub ends_at: String,
    pub reserved_for_referral: bool,
    pub release_hours: i64,
    /// A booked appointment holds it (`SlotRow.booked > 0`).
    pub booked: bool,
}

/// A derived schedule: one institution's department.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleFhir {
    pub institution_id: i64,
    pub institution_name: String,
    pub department: String,
    /// First slot start and last slot end (CST), if known.
    pub horizon_start: Option<String>,
    pub horizon_end: Option<String>,
}

/// The schedules the `slots` belong to, one per institution and department,
/// in first-seen order, with the planning horizon the slots span.
pub fn schedules_from_slots(slots: &[SlotFhir]) -> Vec<ScheduleFhir> {
    let mut out: Vec<ScheduleFhir> = Vec::new();
    for s in slots {
        let dept = s.department.trim();
        match out
            .iter_mut()
            .find(|x| x.institution_id == s.institution_id && x.department == dept)
        {
            Some(x) => {
                if x.horizon_start
                    .as_deref()
                    .is_none_or(|h| s.starts_at.as_str() < h)
                {
                    x.horizon_start = Some(s.starts_at.clone());
                }
                if x.horizon_end
                    .as_deref()
                    .is_none_or(|h| s.ends_at.as_str() > h)
                {
                    x.horizon_end = Some(s.ends_at.clone());
                }
                if x.institution_name.is_empty() {
                    x.institution_name = s.institution_name.clone();
                }
            }
            None => out.push(ScheduleFhir {
                institution_id: s.institution_id,
                institution_name: s.institution_name.clone(),
                department: dept.to_string(),
                horizon_start: Some(s.starts_at.clone()),
                horizon_end: Some(s.ends_at.clone()),
            }),
        }
    }
    out
}

fn service_display(institution_name: &str, department: &str) -> String {
    [institution_name.trim(), department.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The contained `HealthcareService` standing for a department.
fn contained_service(institution_id: i64, institution_name: &str, department: &str) -> Value {
    let name = if department.trim().is_empty() {
        institution_name
    } else {
        department
    };
    let mut s = json!({
        "resourceType": "HealthcareService",
        "id": SERVICE_CONTAINED_ID,
        "active": true,
        "providedBy": reference("Organization", institution_id, institution_name),
    });
    if !name.trim().is_empty() {
        s["name"] = json!(name);
    }
    s
}

fn service_actor(institution_name: &str, department: &str) -> Value {
    let mut a = json!({ "reference": format!("#{SERVICE_CONTAINED_ID}") });
    let d = service_display(institution_name, department);
    if !d.is_empty() {
        a["display"] = json!(d);
    }
    a
}

/// The schedule as a FHIR `Schedule`.
pub fn schedule_to_fhir(s: &ScheduleFhir) -> Value {
    let mut o = json!({
        "resourceType": "Schedule",
        "id": schedule_id(s.institution_id, &s.department),
        "contained": [contained_service(s.institution_id, &s.institution_name, &s.department)],
        "active": true,
        "actor": [service_actor(&s.institution_name, &s.department)],
    });
    if !s.department.trim().is_empty() {
        o["serviceType"] = json!([{ "text": s.department }]);
    }
    let mut h = serde_json::Map::new();
    if let Some(t) = &s.horizon_start {
        h.insert("start".into(), json!(fhir_time(t)));
    }
    if let Some(t) = &s.horizon_end {
        h.insert("end".into(), json!(fhir_time(t)));
    }
    if !h.is_empty() {
        o["planningHorizon"] = Value::Object(h);
    }
    o
}

/// The slot as a FHIR `Slot`.
pub fn slot_to_fhir(s: &SlotFhir) -> Value {
    let mut o = json!({
        "resourceType": "Slot",
        "id": s.id.to_string(),
        "extension": [{ "url": SLOT_RESERVED_EXTENSION, "valueBoolean": s.reserved_for_referral }],
        "schedule": { "reference": format!("Schedule/{}", schedule_id(s.institution_id, &s.department)) },
        "status": if s.booked { "busy" } else { "free" },
        "start": fhir_time(&s.starts_at),
        "end": fhir_time(&s.ends_at),
    });
    if s.reserved_for_referral {
        o["extension"]
            .as_array_mut()
            .expect("extension is an array")
            .push(json!({ "url": SLOT_RELEASE_HOURS_EXTENSION, "valueInteger": s.release_hours }));
        o["comment"] = json!(format!(
            "转诊预留号源，开始前{}小时向所有人开放",
            s.release_hours
        ));
    }
    if !s.department.trim().is_empty() {
        o["serviceType"] = json!([{ "text": s.department }]);
    }
    o
}

/// yilian's appointment status as FHIR sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentStatus {
    Booked,
    /// Booked, and the referral it serves is `arrived`.
    Arrived,
    /// Booked, and the referral it serves is `completed`; or stored `attended` (已就诊).
    Fulfilled,
    NoShow,
    Cancelled,
    /// Moved to another slot (`rescheduled`).
    Rescheduled,
}

impl AppointmentStatus {
    /// From `appointments.status` and, for a referral's appointment, the
    /// referral's state; `None` for an unknown status.
    pub fn from_store(status: &str, referral_state: Option<ReferralState>) -> Option<Self> {
        Some(match status {
            "booked" => match referral_state {
                Some(ReferralState::Arrived) => AppointmentStatus::Arrived,
                Some(ReferralState::Completed) => AppointmentStatus::Fulfilled,
                _ => AppointmentStatus::Booked,
            },
            // 已就诊: the patient came (the generator's and the desk's record).
            "attended" => AppointmentStatus::Fulfilled,
            "no_show" => AppointmentStatus::NoShow,
            "cancelled" => AppointmentStatus::Cancelled,
            "rescheduled" => AppointmentStatus::Rescheduled,
            _ => return None,
        })
    }

    /// `Appointment.status`.
    pub fn fhir_code(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Arrived => "arrived",
            AppointmentStatus::Fulfilled => "fulfilled",
            AppointmentStatus::NoShow => "noshow",
            AppointmentStatus::Cancelled | AppointmentStatus::Rescheduled => "cancelled",
        }
    }

    /// `appointments.status` as stored.
    pub fn store_code(self) -> &'static str {
        match self {
            AppointmentStatus::Booked
            | AppointmentStatus::Arrived
            | AppointmentStatus::Fulfilled => "booked",
            AppointmentStatus::NoShow => "no_show",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::Rescheduled => "rescheduled",
        }
    }
}

/// An appointment as FHIR needs it (mirrors `AppointmentRow`, with the
/// slot's end and the patient's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentFhir {
    pub id: i64,
    pub slot_id: i64,
    pub resident_id: i64,
    /// For displays; may be empty.
    pub resident_name: String,
    pub referral_id: Option<i64>,
    pub status: AppointmentStatus,
    /// The slot's times (`YYYY-MM-DDTHH:MM:SS`, CST). FHIR requires both
    /// for a booked appointment, so the server reads `ends_at` from the slot.
    pub starts_at: String,
    pub ends_at: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub department: String,
}

/// The appointment as a FHIR `Appointment`.
pub fn appointment_to_fhir(a: &AppointmentFhir) -> Value {
    let mut o = json!({
        "resourceType": "Appointment",
        "id": a.id.to_string(),
        "contained": [contained_service(a.institution_id, &a.institution_name, &a.department)],
        "status": a.status.fhir_code(),
        "start": fhir_time(&a.starts_at),
        "end": fhir_time(&a.ends_at),
        "slot": [{ "reference": format!("Slot/{}", a.slot_id) }],
        "participant": [
            {
                "actor": reference("Patient", a.resident_id, &a.resident_name),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": service_actor(&a.institution_name, &a.department),
                "required": "required",
                "status": "accepted",
            },
        ],
    });
    if a.status == AppointmentStatus::Rescheduled {
        o["cancelationReason"] = json!({ "text": "改约（已改到其他号源）" });
    }
    let d = service_display(&a.institution_name, &a.department);
    if !d.is_empty() {
        o["description"] = json!(d);
    }
    if !a.department.trim().is_empty() {
        o["serviceType"] = json!([{ "text": a.department }]);
    }
    if let Some(r) = a.referral_id {
        o["basedOn"] = json!([{ "reference": format!("ServiceRequest/{r}") }]);
    }
    o
}

// ------------------------------------------------------------------ Slot from FHIR

/// A slot to open, read from a `Slot` (mirrors the server's `NewSlot`; the
/// server fills the institution and department from [`SlotIn::schedule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotIn {
    pub id: Option<String>,
    /// `schedule`: the institution (the server checks it is the caller's)
    /// and the department's hash.
    pub schedule: ScheduleKey,
    /// `serviceType[0].text`, if sent (agrees with the schedule's hash when
    /// that names a department; with `Schedule/{institution_id}` it opens
    /// slots in a new department).
    pub department: Option<String>,
    /// China Standard Time.
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub reserved_for_referral: bool,
    pub release_hours: i64,
}

impl SlotIn {
    /// `starts_at` as stored (`YYYY-MM-DDTHH:MM:SS`).
    pub fn starts_at_text(&self) -> String {
        self.starts_at.format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    /// `ends_at` as stored.
    pub fn ends_at_text(&self) -> String {
        self.ends_at.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

const SLOT_ELEMENTS: &[&str] = &[
    "serviceCategory",
    "serviceType",
    "specialty",
    "appointmentType",
    "schedule",
    "status",
    "start",
    "end",
    "overbooked",
    "comment",
];

/// Reads a standalone `Slot` to open.
pub fn slot_from_fhir(v: &Value) -> Result<SlotIn, Outcome> {
    slot_from_fhir_at(&Node::new(v, "Slot"))
}

/// Reads a `Slot` at `node`: `schedule`, `status` `free`, `start` and `end`
/// 5–240 minutes apart (the server's slot-plan rule), the reserve extensions.
pub fn slot_from_fhir_at(node: &Node<'_>) -> Result<SlotIn, Outcome> {
    node.resource_type("Slot")?;
    node.known_resource_elements(SLOT_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let sched = node.req("schedule")?;
    let r = read_ref(&sched, &["Schedule"])?;
    let ref_path = format!("{}.reference", sched.path);
    let schedule = match &r {
        Ref::Stored { id, .. } => ScheduleKey::parse(id),
        Ref::Placeholder(_) => None,
    }
    .ok_or_else(|| {
        Outcome::value(
            &ref_path,
            "号源表 id 应为 {机构id} 或 {机构id}-{科室哈希}（日程由号源派生，不能在事务中新建）",
            "a Schedule id is {institution id} or {institution id}-{department hash}; schedules are derived from slots",
        )
    })?;
    let (status, status_path) = code_in(
        node,
        "status",
        &[
            "busy",
            "free",
            "busy-unavailable",
            "busy-tentative",
            "entered-in-error",
        ],
    )?;
    if status != "free" {
        return Err(Outcome::value(
            &status_path,
            format!("新开号源的状态应为 free，实际为 {status}"),
            format!("a slot to open is free, got {status}"),
        ));
    }
    if let Some(o) = node.field("overbooked")
        && o.boolean()?
    {
        return Err(Outcome::not_supported(
            &o.path,
            "号源不能超额预约",
            "a slot is never double-booked",
        ));
    }
    let starts_at = node.req("start")?.date_time_cst()?;
    let end = node.req("end")?;
    let ends_at = end.date_time_cst()?;
    let minutes = (ends_at - starts_at).num_minutes();
    if !(5..=240).contains(&minutes) || ends_at <= starts_at {
        return Err(Outcome::value(
            &end.path,
            format!("号源时长应为5–240分钟，实际为{minutes}分钟"),
            format!("a slot lasts 5–240 minutes, got {minutes}"),
        ));
    }
    let mut department = None;
    if let Some(st) = node.field("serviceType") {
        let first = st.array()?.remove(0);
        if let Some(t) = concept_text(&first)?.filter(|t| !t.is_empty()) {
            let p = format!("{}.text", first.path);
            check_len(&p, &t, 60)?;
            if schedule.department_hash.is_some() && !schedule.matches(schedule.institution_id, &t)
            {
                return Err(Outcome::new(
                    IssueType::Invariant,
                    "invalid_fhir",
                    &p,
                    "serviceType 的科室与 schedule 所指科室不一致",
                    "serviceType names another department than the schedule",
                ));
            }
            department = Some(t);
        }
    }
    let reserved_for_referral = match extension_value(node, SLOT_RESERVED_EXTENSION, "Boolean")? {
        Some(v) => v.boolean()?,
        None => false,
    };
    let release_hours = match extension_value(node, SLOT_RELEASE_HOURS_EXTENSION, "Integer")? {
        Some(v) => {
            let h = v
                .value
                .as_i64()
                .ok_or_else(|| Outcome::structure(&v.path, "应为整数", "expected an integer"))?;
            if !(0..=720).contains(&h) {
                return Err(Outcome::value(
                    &v.path,
                    format!("开放时间应为开始前0–720小时，实际为{h}"),
                    format!("release hours are 0–720, got {h}"),
                ));
            }
            h
        }
        None => 24,
    };
    Ok(SlotIn {
        id,
        schedule,
        department,
        starts_at,
        ends_at,
        reserved_for_referral,
        release_hours,
    })
}

// ------------------------------------------------------------------ Appointment from FHIR

/// An `Appointment` read: a booking (POST) or a change to one (PUT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentIn {
    pub id: Option<String>,
    /// `booked`, `cancelled` or `noshow` (the others follow the referral).
    pub status: AppointmentStatus,
    /// `slot[0]`.
    pub slot: Ref,
    /// The participant whose actor is a Patient.
    pub patient: Ref,
    /// `basedOn[0]`: the referral the appointment serves.
    pub referral: Option<Ref>,
    /// `start`, `end` if sent (CST); the server checks them against the slot.
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    /// The FHIRPath of the Appointment, for later refusals.
    pub path: String,
}

/// What an Appointment create or update asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppointmentAction {
    /// Book `slot` for `patient`: server `book(slot, resident)`; with a
    /// referral, `change(referral, ReferralChange { event: "schedule", slot_id })`
    /// (the server checks the patient is the referral's).
    Book {
        slot: Ref,
        patient: Ref,
        referral: Option<Ref>,
    },
    /// Server `reschedule(id, slot)`.
    Reschedule { slot: Ref },
    /// Server `cancel_appointment`.
    Cancel,
    /// Server `no_show`.
    NoShow,
    /// Nothing changes.
    Unchanged,
}

const APPOINTMENT_ELEMENTS: &[&str] = &[
    "status",
    "cancelationReason",
    "serviceCategory",
    "serviceType",
    "specialty",
    "appointmentType",
    "reasonCode",
    "reasonReference",
    "priority",
    "description",
    "supportingInformation",
    "start",
    "end",
    "minutesDuration",
    "slot",
    "created",
    "comment",
    "patientInstruction",
    "basedOn",
    "participant",
    "requestedPeriod",
];

/// Reads a standalone `Appointment`.
pub fn appointment_from_fhir(v: &Value) -> Result<AppointmentIn, Outcome> {
    appointment_from_fhir_at(&Node::new(v, "Appointment"))
}

/// Reads an `Appointment` at `node`: `status`, one `slot`, a `participant`
/// whose actor is the Patient (each participant with its required
/// `status`), `basedOn` the referral.
pub fn appointment_from_fhir_at(node: &Node<'_>) -> Result<AppointmentIn, Outcome> {
    node.resource_type("Appointment")?;
    node.known_resource_elements(APPOINTMENT_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let (status, status_path) = code_in(
        node,
        "status",
        &[
            "proposed",
            "pending",
            "booked",
            "arrived",
            "fulfilled",
            "cancelled",
            "noshow",
            "entered-in-error",
            "checked-in",
            "waitlist",
        ],
    )?;
    let status = match status {
        "booked" => AppointmentStatus::Booked,
        "cancelled" => AppointmentStatus::Cancelled,
        "noshow" => AppointmentStatus::NoShow,
        other => {
            return Err(Outcome::not_supported(
                &status_path,
                format!(
                    "预约只能设为 booked、cancelled 或 noshow，实际为 {other}（到诊、完成随转诊变化）"
                ),
                format!(
                    "an appointment is set booked, cancelled or noshow, got {other} (arrival and completion follow the referral)"
                ),
            ));
        }
    };
    let slots = node.req("slot")?.array()?;
    if let Some(extra) = slots.get(1) {
        return Err(Outcome::not_supported(
            &extra.path,
            "一个预约只占一个号源",
            "an appointment takes one slot",
        ));
    }
    let slot = read_ref(&slots[0], &["Slot"])?;
    let participants = node.req("participant")?;
    let mut patient = None;
    for p in participants.array()? {
        p.object()?;
        code_in(
            &p,
            "status",
            &["accepted", "declined", "tentative", "needs-action"],
        )?;
        if let Some(actor) = p.field("actor") {
            let r = actor.opt_str("reference")?.unwrap_or("");
            if r.starts_with("Patient/") || r.starts_with("urn:uuid:") {
                if patient.is_some() {
                    return Err(Outcome::not_supported(
                        &actor.path,
                        "一个预约只有一位患者",
                        "an appointment has one patient",
                    ));
                }
                patient = Some(read_ref(&actor, &["Patient"])?);
            }
        }
    }
    let patient = patient.ok_or_else(|| {
        Outcome::required(
            &participants.path,
            "预约须有患者参与者（participant.actor = Patient/…）",
            "an appointment needs a Patient participant (participant.actor)",
        )
    })?;
    let referral = match node.field("basedOn") {
        Some(b) => {
            let items = b.array()?;
            if let Some(extra) = items.get(1) {
                return Err(Outcome::not_supported(
                    &extra.path,
                    "一个预约只对应一个转诊",
                    "an appointment serves one referral",
                ));
            }
            Some(read_ref(&items[0], &["ServiceRequest"])?)
        }
        None => None,
    };
    let start = node.field("start").map(|s| s.date_time_cst()).transpose()?;
    let end = match node.field("end") {
        Some(e) => {
            let t = e.date_time_cst()?;
            if start.is_some_and(|s| t <= s) {
                return Err(Outcome::new(
                    IssueType::Invariant,
                    "invalid_fhir",
                    &e.path,
                    "结束时间应晚于开始时间",
                    "end must be after start",
                ));
            }
            Some(t)
        }
        None => None,
    };
    Ok(AppointmentIn {
        id,
        status,
        slot,
        patient,
        referral,
        start,
        end,
        path: node.path.clone(),
    })
}

impl AppointmentIn {
    fn at(&self, element: &str) -> String {
        format!("{}.{element}", self.path)
    }

    /// What this appointment asks: `current` = `None` for a create (must be
    /// `booked`), else the stored appointment (a PUT).
    pub fn action(&self, current: Option<&AppointmentFhir>) -> Result<AppointmentAction, Outcome> {
        let Some(cur) = current else {
            if self.status != AppointmentStatus::Booked {
                return Err(Outcome::value(
                    &self.at("status"),
                    "新建预约的状态应为 booked",
                    "a new appointment is booked",
                ));
            }
            return Ok(AppointmentAction::Book {
                slot: self.slot.clone(),
                patient: self.patient.clone(),
                referral: self.referral.clone(),
            });
        };
        let same =
            |r: &Ref, id: i64| matches!(r, Ref::Stored { id: s, .. } if *s == id.to_string());
        if !same(&self.patient, cur.resident_id) {
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &self.at("participant"),
                format!("预约的患者应为 Patient/{}", cur.resident_id),
                format!("the appointment's patient is Patient/{}", cur.resident_id),
            ));
        }
        let slot_changed = !same(&self.slot, cur.slot_id);
        let booked = matches!(cur.status, AppointmentStatus::Booked);
        let conflict = |zh: &str, en: &str| {
            Outcome::new(
                IssueType::Processing,
                "illegal_transition",
                &self.at("status"),
                zh,
                en,
            )
            .with_status(409)
        };
        match (self.status, slot_changed) {
            (s, false) if s.fhir_code() == cur.status.fhir_code() => {
                Ok(AppointmentAction::Unchanged)
            }
            (AppointmentStatus::Booked, true) if booked => Ok(AppointmentAction::Reschedule {
                slot: self.slot.clone(),
            }),
            (AppointmentStatus::Cancelled, false) if booked => Ok(AppointmentAction::Cancel),
            (AppointmentStatus::NoShow, false) if booked => Ok(AppointmentAction::NoShow),
            (_, true) if booked => Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &self.at("slot[0].reference"),
                "改约时状态须保持 booked",
                "a rescheduled appointment stays booked",
            )),
            _ => Err(conflict(
                "只有待就诊（booked）的预约可以取消、登记爽约或改约",
                "only a booked appointment can be cancelled, marked no-show or rescheduled",
            )),
        }
    }
}

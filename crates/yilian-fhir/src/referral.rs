//! 双向转诊 (two-way referral) ↔ `ServiceRequest` + `Task`.
//!
//! A referral is one `ServiceRequest` (what is asked for: the patient, the
//! diagnosis, where to) and one `Task` (where the request stands: who holds
//! it and in which state). Both carry the referral's id: `ServiceRequest/7`
//! and `Task/7` are referral 7. The workflow is driven purely through FHIR:
//! `POST ServiceRequest` creates the referral (server `create`), and every
//! later step is a `PUT Task/{id}` whose `status` names the state asked for
//! (server `change`, or `redirect` for a declined one).
//!
//! ## ServiceRequest ↔ [`ReferralFhir`] / [`ServiceRequestIn`]
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id`, `meta.versionId`, `meta.lastUpdated` | `id`, `version`, `updated_at` |
//! | `status` (see the table below) | `state` (in: `draft` → save as draft, `active` → submit) |
//! | `intent` = `order` | — |
//! | `category[0].coding` ([`REFERRAL_DIRECTION_SYSTEM`]) | `direction` (`up` 上转 / `down` 下转 / `lateral` 平转) |
//! | `priority` `routine` / `urgent` / `stat` (in: `asap` = `urgent`) | `urgency` `routine` / `urgent` / `emergency` (绿色通道) |
//! | `code` = SNOMED CT 3457005 *Patient referral* | — |
//! | `subject` (Patient) | `resident_id` |
//! | `requester` (Organization; in also Practitioner / PractitionerRole) | `from_institution_id` (the server takes the caller's) |
//! | `performer[0]` (Organization) | `to_institution_id` (the server looks up its code) |
//! | `performerType.text` | `to_department` |
//! | `reasonCode[0].coding` ([`ICD10_SYSTEM`]), `reasonCode[0].text` | `icd10`, `diagnosis` |
//! | `note[0].text` | `reason` (转诊原因) |
//! | `authoredOn` | `submitted_at`, else `created_at` |
//! | `replaces` (out only) | `redirected_from` |
//! | extension [`GREEN_CHANNEL_EXTENSION`] (`valueCoding` in [`GREEN_CHANNEL_SYSTEM`]) | `green_channel` |
//! | extension [`JUSTIFICATION_EXTENSION`] (`valueString`) | `justification` |
//! | extension [`SUMMARY_EXTENSION`] (`valueString`) | `summary` (病情摘要 / 出院小结) |
//! | extension [`RESULTS_EXTENSION`] (`valueString`) | `results` |
//! | extension [`FOLLOW_UP_PLAN_EXTENSION`] (`valueString`) | `follow_up_plan` |
//!
//! ## Task ↔ [`ReferralFhir`] / [`TaskUpdateIn`]
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id` | the referral's `id` |
//! | `status` (see the table below) | `state` |
//! | `businessStatus.coding` ([`REFERRAL_STATE_SYSTEM`]) and `.text` | `state` and its Chinese label (已提交, 已接收, …) |
//! | `statusReason.text` | `decline_reason`; a cancellation's note; 超过响应时限 for `expired` |
//! | `intent` = `order`, `code` = `fulfill` | — |
//! | `priority` | `urgency` (as on the ServiceRequest) |
//! | `focus` | `ServiceRequest/{id}` |
//! | `for` | `Patient/{resident_id}` |
//! | `requester`, `owner` | `Organization/{from_institution_id}`, `Organization/{to_institution_id}` |
//! | `executionPeriod.start`, `.end` | `submitted_at`, the time the referral closed |
//! | `authoredOn`, `lastModified` | `created_at`, `updated_at` |
//! | `note[]` (`time`, `authorString` = role, `text`) | the event trail (`ReferralEventRow`) |
//! | `output[]` type `appointment` ([`REFERRAL_TASK_PARAM_SYSTEM`]) | `appointment_id` |
//! | `input[]` type `slot` (in only) | the slot to book when scheduling |
//! | extension [`RESPONSE_DEADLINE_EXTENSION`] (`valueDateTime`) | `deadline_at` (响应时限) |
//!
//! ## States
//!
//! Every yilian state has its own Task status (a bijection), so
//! `Task.status` alone says where the referral stands; `businessStatus`
//! repeats it in yilian's words.
//!
//! | yilian state | ServiceRequest.status | Task.status | `PUT Task` with this status → [`TaskAction`] |
//! |---|---|---|---|
//! | `draft` 草稿 | `draft` | `draft` | refused (a referral never returns to draft) |
//! | `submitted` 已提交 | `active` | `requested` | from `draft`: `submit`; from `declined`: redirect to `owner` |
//! | `accepted` 已接收 | `active` | `accepted` | `accept` |
//! | `declined` 已拒绝 | `revoked` | `rejected` | `decline` (`statusReason` or a new `note` required) |
//! | `scheduled` 已预约 | `active` | `ready` | `schedule` (`input` of type `slot` required: the slot to book) |
//! | `arrived` 已到诊 | `active` | `in-progress` | `arrive` |
//! | `completed` 已完成 | `completed` | `completed` | `complete` |
//! | `cancelled` 已取消 | `revoked` | `cancelled` | `cancel` (`statusReason` or a new `note` required) |
//! | `expired` 已过期 | `revoked` | `failed` | refused (only the platform expires a referral) |
//!
//! `received`, `on-hold` and `entered-in-error` are refused. A `PUT` whose
//! status is the current one (and whose owner is unchanged) changes nothing
//! ([`TaskAction::Unchanged`]). Which side may take a step (the referring
//! side submits and cancels, the receiving side does the rest) is the
//! server's check, with `yilian_domain::referral::transition`; this module
//! refuses only steps no side may take from the current state
//! (`illegal_transition`, 409, at `Task.status`).
//!
//! The reason of a decline, cancellation or redirect is `statusReason.text`
//! (or its first coding's display), else the text of the `note` entries
//! without a `time` — the trail this module emits always carries times, so
//! a client that sends a fetched Task back adds its reason as a new note.

use serde_json::{Value, json};
use yilian_domain::icd10::Icd10Code;
use yilian_domain::referral::{
    self, Direction, GreenChannel, ReferralEvent, ReferralFacts, ReferralState, Side, Urgency,
};

use crate::identifiers::ICD10_SYSTEM;
use crate::json::{Node, cst_to_fhir};
use crate::outcome::{IssueType, Outcome};
use crate::reference::{Ref, read_ref};

/// yilian's referral directions (`Direction::as_str`: `up`, `down`, `lateral`).
pub const REFERRAL_DIRECTION_SYSTEM: &str =
    "https://yilian.example/fhir/CodeSystem/referral-direction";
/// yilian's referral states (`ReferralState::as_str`), the codes of `Task.businessStatus`.
pub const REFERRAL_STATE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/referral-state";
/// yilian's green channels (`GreenChannel::as_str`: `chest_pain`, `stroke`, …).
pub const GREEN_CHANNEL_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/green-channel";
/// Types of the referral Task's `input` / `output`: `slot` (the slot to book
/// when scheduling) and `appointment` (the appointment booked).
pub const REFERRAL_TASK_PARAM_SYSTEM: &str =
    "https://yilian.example/fhir/CodeSystem/referral-task-parameter";
/// Extension on `ServiceRequest`: the green channel (急诊绿色通道) as `valueCoding`.
pub const GREEN_CHANNEL_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-green-channel";
/// Extension on `ServiceRequest`: the stated justification (`valueString`),
/// needed when a rule asks for one (do-not-refer-up list, outside the consortium, …).
pub const JUSTIFICATION_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-justification";
/// Extension on `ServiceRequest`: 病情摘要 / discharge summary (`valueString`).
pub const SUMMARY_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-summary";
/// Extension on `ServiceRequest`: recent results (`valueString`).
pub const RESULTS_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-results";
/// Extension on `ServiceRequest`: the follow-up plan for the receiving primary team (`valueString`).
pub const FOLLOW_UP_PLAN_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-follow-up-plan";
/// Extension on `Task`: the receiving side's response deadline (响应时限, `valueDateTime`).
pub const RESPONSE_DEADLINE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-response-deadline";
/// SNOMED CT.
pub const SNOMED_SYSTEM: &str = "http://snomed.info/sct";
/// SNOMED CT 3457005 *Patient referral (procedure)*, the `ServiceRequest.code`.
pub const SNOMED_PATIENT_REFERRAL: &str = "3457005";
/// The FHIR task codes (`fulfill`).
pub const TASK_CODE_SYSTEM: &str = "http://hl7.org/fhir/CodeSystem/task-code";

/// One step of a referral's trail (mirrors `ReferralEventRow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralEventFhir {
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub at: String,
    /// `create`, `escalate` or a `ReferralEvent` code.
    pub event: String,
    pub from_state: String,
    pub to_state: String,
    pub user_id: Option<i64>,
    pub role: String,
    pub note: String,
}

/// A referral as FHIR needs it (mirrors `ReferralRow`, with its events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralFhir {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub direction: Direction,
    pub urgency: Urgency,
    pub green_channel: Option<GreenChannel>,
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
    pub state: ReferralState,
    /// Times are `YYYY-MM-DDTHH:MM:SS`, China Standard Time, as stored.
    pub submitted_at: Option<String>,
    pub deadline_at: Option<String>,
    pub decline_reason: Option<String>,
    pub redirected_from: Option<i64>,
    pub appointment_id: Option<i64>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The trail (`referrals::events`), oldest first; may be empty.
    pub events: Vec<ReferralEventFhir>,
}

/// `ServiceRequest.status` for a referral state.
pub fn service_request_status(s: ReferralState) -> &'static str {
    match s {
        ReferralState::Draft => "draft",
        ReferralState::Submitted
        | ReferralState::Accepted
        | ReferralState::Scheduled
        | ReferralState::Arrived => "active",
        ReferralState::Completed => "completed",
        ReferralState::Declined | ReferralState::Cancelled | ReferralState::Expired => "revoked",
    }
}

/// `Task.status` for each referral state — a bijection (see the module table).
pub const TASK_STATUS: &[(ReferralState, &str)] = &[
    (ReferralState::Draft, "draft"),
    (ReferralState::Submitted, "requested"),
    (ReferralState::Accepted, "accepted"),
    (ReferralState::Declined, "rejected"),
    (ReferralState::Scheduled, "ready"),
    (ReferralState::Arrived, "in-progress"),
    (ReferralState::Completed, "completed"),
    (ReferralState::Cancelled, "cancelled"),
    (ReferralState::Expired, "failed"),
];

/// `Task.status` for a referral state.
pub fn task_status(s: ReferralState) -> &'static str {
    TASK_STATUS
        .iter()
        .find(|(st, _)| *st == s)
        .map(|(_, c)| *c)
        .unwrap_or("requested")
}

/// The referral state a `Task.status` code stands for; `None` for task
/// statuses yilian does not use (`received`, `on-hold`, `entered-in-error`)
/// and non-codes.
pub fn state_for_task_status(code: &str) -> Option<ReferralState> {
    TASK_STATUS
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(s, _)| *s)
}

/// `ServiceRequest.priority` / `Task.priority` for an urgency.
pub fn priority_code(u: Urgency) -> &'static str {
    match u {
        Urgency::Routine => "routine",
        Urgency::Urgent => "urgent",
        Urgency::Emergency => "stat",
    }
}

/// The urgency of a request priority (`asap` counts as `urgent`).
pub fn urgency_for_priority(code: &str) -> Option<Urgency> {
    match code {
        "routine" => Some(Urgency::Routine),
        "urgent" | "asap" => Some(Urgency::Urgent),
        "stat" => Some(Urgency::Emergency),
        _ => None,
    }
}

// ------------------------------------------------------------------ shared helpers
// (also used by `scheduling` and `orders`)

/// A store time as FHIR `dateTime` with `+08:00` (as given when unreadable).
pub(crate) fn fhir_time(s: &str) -> String {
    cst_to_fhir(s).unwrap_or_else(|| s.to_string())
}

/// `{ "reference": "Type/id" }`, with `display` when not empty.
pub(crate) fn reference(resource_type: &str, id: impl std::fmt::Display, display: &str) -> Value {
    let mut r = json!({ "reference": format!("{resource_type}/{id}") });
    if !display.trim().is_empty() {
        r["display"] = json!(display);
    }
    r
}

/// A CodeableConcept with one coding (and its display) and `text`.
pub(crate) fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({
        "coding": [{ "system": system, "code": code, "display": display }],
        "text": display,
    })
}

/// A coding found: (code, display, path of the code).
pub(crate) type CodingHit = (String, Option<String>, String);

/// The first coding of `system` in the CodeableConcept at `node`.
pub(crate) fn coding_in(node: &Node<'_>, system: &str) -> Result<Option<CodingHit>, Outcome> {
    node.object()?;
    let Some(codings) = node.field("coding") else {
        return Ok(None);
    };
    for c in codings.array()? {
        c.object()?;
        if c.opt_str("system")? == Some(system) {
            let code = c.req("code")?;
            return Ok(Some((
                code.string()?.trim().to_string(),
                c.opt_str("display")?.map(|s| s.trim().to_string()),
                code.path.clone(),
            )));
        }
    }
    Ok(None)
}

/// [`coding_in`] over every CodeableConcept of the array at `node`.
pub(crate) fn coding_in_any(
    node: &Node<'_>,
    system: &str,
) -> Result<Option<(CodingHit, usize)>, Outcome> {
    for (i, cc) in node.array()?.into_iter().enumerate() {
        if let Some(hit) = coding_in(&cc, system)? {
            return Ok(Some((hit, i)));
        }
    }
    Ok(None)
}

/// The `value{kind}` of the first extension of `node` with `url`, or `None`
/// when there is none. An extension of that url without `value{kind}` is
/// refused (`…extension[i].value{kind}` required).
pub(crate) fn extension_value<'a>(
    node: &Node<'a>,
    url: &str,
    kind: &str,
) -> Result<Option<Node<'a>>, Outcome> {
    let Some(exts) = node.field("extension") else {
        return Ok(None);
    };
    for x in exts.array()? {
        x.object()?;
        if x.req("url")?.string()? == url {
            return x.req(&format!("value{kind}")).map(Some);
        }
    }
    Ok(None)
}

/// An optional trimmed string extension.
pub(crate) fn string_extension(
    node: &Node<'_>,
    url: &str,
    max_chars: usize,
) -> Result<Option<String>, Outcome> {
    let Some(v) = extension_value(node, url, "String")? else {
        return Ok(None);
    };
    let s = v.string()?.trim().to_string();
    check_len(&v.path, &s, max_chars)?;
    Ok(Some(s))
}

/// A boolean extension (absent = false).
pub(crate) fn bool_extension(node: &Node<'_>, url: &str) -> Result<(bool, String), Outcome> {
    match extension_value(node, url, "Boolean")? {
        Some(v) => Ok((v.boolean()?, v.path)),
        None => Ok((false, format!("{}.extension", node.path))),
    }
}

/// Refuses text longer than `max` characters.
pub(crate) fn check_len(path: &str, s: &str, max: usize) -> Result<(), Outcome> {
    let n = s.chars().count();
    if n > max {
        return Err(Outcome::value(
            path,
            format!("不能超过{max}个字符（实际{n}个）"),
            format!("at most {max} characters (got {n})"),
        ));
    }
    Ok(())
}

/// A required code element that must be one of `allowed`.
/// ServiceRequest's `intent` codes (RequestIntent).
const REQUEST_INTENTS: &[&str] = &[
    "proposal",
    "plan",
    "directive",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
];

/// A request yilian acts on is an `order` that is to be performed: reads
/// `intent` (one of `codes`, the resource's value set) and refuses any other
/// intent and `doNotPerform: true` as not supported; `what_zh`/`what_en`
/// name the request in the refusal ("转诊", "a referral").
pub(crate) fn order_intent(
    node: &Node<'_>,
    codes: &[&str],
    what_zh: &str,
    what_en: &str,
) -> Result<(), Outcome> {
    let (intent, intent_path) = code_in(node, "intent", codes)?;
    if intent != "order" {
        return Err(Outcome::not_supported(
            &intent_path,
            format!("{what_zh}的 intent 应为 order，实际为 {intent}"),
            format!("{what_en}'s intent is order, got {intent}"),
        ));
    }
    if let Some(d) = node.field("doNotPerform")
        && d.boolean()?
    {
        return Err(Outcome::not_supported(
            &d.path,
            format!("不支持 doNotPerform（禁止执行的{what_zh}）"),
            format!("doNotPerform is not supported for {what_en}"),
        ));
    }
    Ok(())
}

pub(crate) fn code_in<'a>(
    node: &Node<'a>,
    name: &str,
    allowed: &[&'a str],
) -> Result<(&'a str, String), Outcome> {
    let n = node.req(name)?;
    let s = n.string()?;
    match allowed.iter().find(|a| **a == s) {
        Some(a) => Ok((a, n.path)),
        None => Err(Outcome::value(
            &n.path,
            format!("{name} 应为 {} 之一，实际为 {s}", allowed.join("、")),
            format!("{name} must be one of {}, got {s}", allowed.join(", ")),
        )),
    }
}

/// The text of the CodeableConcept at `node`: `text`, else the first display.
pub(crate) fn concept_text(node: &Node<'_>) -> Result<Option<String>, Outcome> {
    node.object()?;
    if let Some(t) = node.opt_str("text")? {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(codings) = node.field("coding") {
        for c in codings.array()? {
            if let Some(d) = c.opt_str("display")? {
                return Ok(Some(d.trim().to_string()));
            }
        }
    }
    Ok(None)
}

/// `meta` with `versionId` and `lastUpdated`.
fn meta(version: i64, updated_at: &str) -> Value {
    json!({ "versionId": version.to_string(), "lastUpdated": fhir_time(updated_at) })
}

// ------------------------------------------------------------------ to FHIR

/// The referral as a FHIR `ServiceRequest`.
pub fn service_request_to_fhir(r: &ReferralFhir) -> Value {
    let icd = Icd10Code::parse(&r.icd10)
        .map(|c| c.as_str().to_string())
        .unwrap_or_else(|_| r.icd10.clone());
    let mut dx = json!({ "system": ICD10_SYSTEM, "code": icd });
    if !r.diagnosis.trim().is_empty() {
        dx["display"] = json!(r.diagnosis);
    }
    let mut reason = json!({ "coding": [dx] });
    if !r.diagnosis.trim().is_empty() {
        reason["text"] = json!(r.diagnosis);
    }
    let mut o = json!({
        "resourceType": "ServiceRequest",
        "id": r.id.to_string(),
        "meta": meta(r.version, &r.updated_at),
        "status": service_request_status(r.state),
        "intent": "order",
        "category": [concept(REFERRAL_DIRECTION_SYSTEM, r.direction.as_str(), r.direction.label_zh())],
        "priority": priority_code(r.urgency),
        "code": {
            "coding": [{ "system": SNOMED_SYSTEM, "code": SNOMED_PATIENT_REFERRAL, "display": "Patient referral" }],
            "text": "转诊",
        },
        "subject": reference("Patient", r.resident_id, &r.resident_name),
        "authoredOn": fhir_time(r.submitted_at.as_deref().unwrap_or(&r.created_at)),
        "requester": reference("Organization", r.from_institution_id, &r.from_name),
        "performer": [reference("Organization", r.to_institution_id, &r.to_name)],
        "reasonCode": [reason],
    });
    let mut ext = Vec::new();
    if let Some(g) = r.green_channel {
        ext.push(json!({ "url": GREEN_CHANNEL_EXTENSION, "valueCoding": {
            "system": GREEN_CHANNEL_SYSTEM, "code": g.as_str(), "display": g.label_zh(),
        }}));
    }
    let texts = [
        (
            JUSTIFICATION_EXTENSION,
            r.justification.as_deref().unwrap_or(""),
        ),
        (SUMMARY_EXTENSION, r.summary.as_str()),
        (RESULTS_EXTENSION, r.results.as_str()),
        (FOLLOW_UP_PLAN_EXTENSION, r.follow_up_plan.as_str()),
    ];
    for (url, s) in texts {
        if !s.trim().is_empty() {
            ext.push(json!({ "url": url, "valueString": s }));
        }
    }
    if !ext.is_empty() {
        o["extension"] = json!(ext);
    }
    if !r.to_department.trim().is_empty() {
        o["performerType"] = json!({ "text": r.to_department });
    }
    if !r.reason.trim().is_empty() {
        o["note"] = json!([{ "text": r.reason }]);
    }
    if let Some(old) = r.redirected_from {
        o["replaces"] = json!([{ "reference": format!("ServiceRequest/{old}") }]);
    }
    o
}

fn event_label(code: &str) -> &str {
    match code {
        "create" => "创建",
        "escalate" => "超时上报",
        c => ReferralEvent::parse(c).map_or(c, |e| e.label_zh()),
    }
}

fn state_label(code: &str) -> &str {
    ReferralState::parse(code).map_or(code, |s| s.label_zh())
}

/// Why the referral is in its closed state, if it says.
fn status_reason(r: &ReferralFhir) -> Option<String> {
    let last_note = |to: ReferralState| {
        r.events
            .iter()
            .rev()
            .find(|e| e.to_state == to.as_str())
            .map(|e| e.note.trim().to_string())
            .filter(|n| !n.is_empty())
    };
    match r.state {
        ReferralState::Declined => r
            .decline_reason
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| last_note(ReferralState::Declined)),
        ReferralState::Cancelled => last_note(ReferralState::Cancelled),
        ReferralState::Expired => Some("超过响应时限未处理".to_string()),
        _ => None,
    }
}

/// The referral's `Task`: where the request stands.
pub fn task_to_fhir(r: &ReferralFhir) -> Value {
    let mut o = json!({
        "resourceType": "Task",
        "id": r.id.to_string(),
        "meta": meta(r.version, &r.updated_at),
        "status": task_status(r.state),
        "businessStatus": concept(REFERRAL_STATE_SYSTEM, r.state.as_str(), r.state.label_zh()),
        "intent": "order",
        "priority": priority_code(r.urgency),
        "code": { "coding": [{ "system": TASK_CODE_SYSTEM, "code": "fulfill", "display": "Fulfill the focal request" }] },
        "focus": { "reference": format!("ServiceRequest/{}", r.id) },
        "for": reference("Patient", r.resident_id, &r.resident_name),
        "authoredOn": fhir_time(&r.created_at),
        "lastModified": fhir_time(&r.updated_at),
        "requester": reference("Organization", r.from_institution_id, &r.from_name),
        "owner": reference("Organization", r.to_institution_id, &r.to_name),
    });
    if let Some(d) = &r.deadline_at {
        o["extension"] =
            json!([{ "url": RESPONSE_DEADLINE_EXTENSION, "valueDateTime": fhir_time(d) }]);
    }
    if let Some(why) = status_reason(r) {
        o["statusReason"] = json!({ "text": why });
    }
    let mut period = serde_json::Map::new();
    if let Some(s) = &r.submitted_at {
        period.insert("start".into(), json!(fhir_time(s)));
    }
    if !r.state.is_open() {
        let end = r
            .events
            .iter()
            .rev()
            .find(|e| e.to_state == r.state.as_str())
            .map_or(r.updated_at.as_str(), |e| e.at.as_str());
        period.insert("end".into(), json!(fhir_time(end)));
    }
    if !period.is_empty() {
        o["executionPeriod"] = Value::Object(period);
    }
    let notes: Vec<Value> = r
        .events
        .iter()
        .map(|e| {
            let mut text = format!(
                "{}：{} → {}",
                event_label(&e.event),
                state_label(&e.from_state),
                state_label(&e.to_state)
            );
            if !e.note.trim().is_empty() {
                text.push('；');
                text.push_str(e.note.trim());
            }
            let mut a = json!({ "time": fhir_time(&e.at), "text": text });
            if !e.role.trim().is_empty() {
                a["authorString"] = json!(e.role);
            }
            a
        })
        .collect();
    if !notes.is_empty() {
        o["note"] = json!(notes);
    }
    if let Some(a) = r.appointment_id {
        o["output"] = json!([{
            "type": concept(REFERRAL_TASK_PARAM_SYSTEM, "appointment", "预约"),
            "valueReference": { "reference": format!("Appointment/{a}") },
        }]);
    }
    o
}

// ------------------------------------------------------------------ ServiceRequest from FHIR

/// A referral to create, read from a `ServiceRequest` — what the server's
/// `create` needs (`ReferralRequest`), with references still to resolve:
/// the patient's id, and the receiving Organization's institution code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequestIn {
    /// `ServiceRequest.id`, if given (ignored on create; the server assigns).
    pub id: Option<String>,
    /// `subject`: `Patient/{id}` or a placeholder.
    pub patient: Ref,
    /// `requester`, if given: the server checks it is the caller (or the caller's institution).
    pub requester: Option<Ref>,
    /// `performer[0]`: the receiving Organization.
    pub to_institution: Ref,
    /// `performerType.text` (at most 60 characters).
    pub to_department: Option<String>,
    pub direction: Direction,
    pub urgency: Urgency,
    pub green_channel: Option<GreenChannel>,
    /// Normalised ICD-10.
    pub icd10: String,
    /// At most 200 characters.
    pub diagnosis: String,
    /// At most 1000 characters.
    pub reason: String,
    pub justification: Option<String>,
    pub summary: Option<String>,
    pub results: Option<String>,
    pub follow_up_plan: Option<String>,
    /// `status` `active` (submit now, the rules run) or `draft` (save only).
    pub submit: bool,
}

const SERVICE_REQUEST_ELEMENTS: &[&str] = &[
    "instantiatesCanonical",
    "instantiatesUri",
    "basedOn",
    "replaces",
    "requisition",
    "status",
    "intent",
    "category",
    "priority",
    "doNotPerform",
    "code",
    "orderDetail",
    "quantityQuantity",
    "quantityRatio",
    "quantityRange",
    "subject",
    "encounter",
    "occurrenceDateTime",
    "occurrencePeriod",
    "occurrenceTiming",
    "asNeededBoolean",
    "asNeededCodeableConcept",
    "authoredOn",
    "requester",
    "performerType",
    "performer",
    "locationCode",
    "locationReference",
    "reasonCode",
    "reasonReference",
    "insurance",
    "supportingInfo",
    "specimen",
    "bodySite",
    "note",
    "patientInstruction",
    "relevantHistory",
];

/// Reads a standalone `ServiceRequest` (paths start with `ServiceRequest`).
pub fn service_request_from_fhir(v: &Value) -> Result<ServiceRequestIn, Outcome> {
    service_request_from_fhir_at(&Node::new(v, "ServiceRequest"))
}

/// Reads a referral `ServiceRequest` at `node`. Runs the submission rule
/// that depends on the request alone (a downward referral carries the
/// discharge summary and follow-up plan); the server runs every rule again
/// with the facts it knows (consortium, contract, centres).
pub fn service_request_from_fhir_at(node: &Node<'_>) -> Result<ServiceRequestIn, Outcome> {
    node.resource_type("ServiceRequest")?;
    node.known_resource_elements(SERVICE_REQUEST_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let (status, _) = code_in(
        node,
        "status",
        &[
            "draft",
            "active",
            "on-hold",
            "revoked",
            "completed",
            "entered-in-error",
            "unknown",
        ],
    )?;
    let submit = match status {
        "active" => true,
        "draft" => false,
        other => {
            let p = format!("{}.status", node.path);
            return Err(Outcome::value(
                &p,
                format!("新建转诊的状态只能是 active（提交）或 draft（草稿），实际为 {other}"),
                format!(
                    "a new referral is active (submitted) or draft (saved), got {other}; later steps are Task updates"
                ),
            ));
        }
    };
    order_intent(node, REQUEST_INTENTS, "转诊", "a referral")?;
    if let Some(r) = node.field("replaces") {
        return Err(Outcome::not_supported(
            &r.path,
            "改转请更新 Task（status = requested，owner = 新的接收机构）",
            "to redirect a declined referral, update its Task (status requested, owner the new Organization)",
        ));
    }

    let category = node.req("category")?;
    let ((dir_code, _, dir_path), _) = coding_in_any(&category, REFERRAL_DIRECTION_SYSTEM)?
        .ok_or_else(|| {
            Outcome::required(
                &category.path,
                format!("缺少转诊方向（category.coding.system = {REFERRAL_DIRECTION_SYSTEM}）"),
                format!(
                    "the referral direction is required (category.coding.system = {REFERRAL_DIRECTION_SYSTEM})"
                ),
            )
        })?;
    let direction = Direction::parse_field("direction", &dir_code)
        .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &dir_path))?;

    let urgency = match node.field("priority") {
        None => Urgency::Routine,
        Some(p) => {
            let s = p.string()?;
            urgency_for_priority(s).ok_or_else(|| {
                Outcome::value(
                    &p.path,
                    format!("{s} 不是请求优先级代码（routine、urgent、asap、stat）"),
                    format!("{s} is not a request priority (routine, urgent, asap, stat)"),
                )
            })?
        }
    };

    let patient = read_ref(&node.req("subject")?, &["Patient"])?;
    let requester = node
        .field("requester")
        .map(|r| read_ref(&r, &["Organization", "Practitioner", "PractitionerRole"]))
        .transpose()?;
    let performers = node.req("performer")?.array()?;
    if let Some(extra) = performers.get(1) {
        return Err(Outcome::not_supported(
            &extra.path,
            "转诊只能有一个接收机构",
            "a referral goes to one receiving Organization",
        ));
    }
    let to_institution = read_ref(&performers[0], &["Organization"])?;
    let to_department = match node.field("performerType") {
        Some(pt) => {
            let t = concept_text(&pt)?;
            if let Some(t) = &t {
                check_len(&format!("{}.text", pt.path), t, 60)?;
            }
            t.filter(|t| !t.is_empty())
        }
        None => None,
    };

    let reasons = node.req("reasonCode")?;
    let ((code, display, code_path), i) =
        coding_in_any(&reasons, ICD10_SYSTEM)?.ok_or_else(|| {
            Outcome::required(
                &reasons.path,
                format!("转诊须有 ICD-10 诊断（reasonCode.coding.system = {ICD10_SYSTEM}）"),
                format!("a referral needs an ICD-10 diagnosis (reasonCode.coding.system = {ICD10_SYSTEM})"),
            )
        })?;
    let icd10 = Icd10Code::parse(&code)
        .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &code_path))?
        .as_str()
        .to_string();
    let reason_cc = Node::new(&reasons.value[i], format!("{}[{i}]", reasons.path));
    let diagnosis = reason_cc
        .opt_str("text")?
        .map(|s| s.trim().to_string())
        .or(display)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            let p = format!("{}.text", reason_cc.path);
            Outcome::required(
                &p,
                "缺少诊断名称（reasonCode.text 或 coding.display）",
                "the diagnosis name is required (reasonCode.text or coding.display)",
            )
        })?;
    check_len(&format!("{}.text", reason_cc.path), &diagnosis, 200)?;

    let note_path = format!("{}.note", node.path);
    let mut reason_parts = Vec::new();
    if let Some(notes) = node.field("note") {
        for n in notes.array()? {
            reason_parts.push(n.req("text")?.string()?.trim().to_string());
        }
    }
    let reason = reason_parts.join("\n");
    if reason.is_empty() {
        return Err(Outcome::required(
            &note_path,
            "缺少转诊原因（note.text）",
            "the reason for referral is required (note.text)",
        ));
    }
    check_len(&note_path, &reason, 1000)?;

    let green_channel = match extension_value(node, GREEN_CHANNEL_EXTENSION, "Coding")? {
        Some(v) => {
            v.object()?;
            let sys = v.req("system")?;
            if sys.string()? != GREEN_CHANNEL_SYSTEM {
                return Err(Outcome::value(
                    &sys.path,
                    format!("绿色通道的 system 应为 {GREEN_CHANNEL_SYSTEM}"),
                    format!("the green channel's system must be {GREEN_CHANNEL_SYSTEM}"),
                ));
            }
            let c = v.req("code")?;
            Some(
                GreenChannel::parse_field("green_channel", c.string()?)
                    .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &c.path))?,
            )
        }
        None => None,
    };
    let justification = string_extension(node, JUSTIFICATION_EXTENSION, 1000)?;
    let summary = string_extension(node, SUMMARY_EXTENSION, 8000)?;
    let results = string_extension(node, RESULTS_EXTENSION, 8000)?;
    let follow_up_plan = string_extension(node, FOLLOW_UP_PLAN_EXTENSION, 8000)?;

    let input = ServiceRequestIn {
        id,
        patient,
        requester,
        to_institution,
        to_department,
        direction,
        urgency,
        green_channel,
        icd10,
        diagnosis,
        reason,
        justification: justification.filter(|s| !s.is_empty()),
        summary: summary.filter(|s| !s.is_empty()),
        results: results.filter(|s| !s.is_empty()),
        follow_up_plan: follow_up_plan.filter(|s| !s.is_empty()),
        submit,
    };
    if submit {
        // The downward hand-over rule needs nothing but the request itself.
        let facts = ReferralFacts {
            direction: Some(direction),
            urgency: Some(urgency),
            has_discharge_summary: input.summary.is_some(),
            has_follow_up_plan: input.follow_up_plan.is_some(),
            same_consortium: true,
            justification: input.justification.clone(),
            ..Default::default()
        };
        let findings = referral::check_referral(&facts);
        if findings
            .iter()
            .any(|f| f.rule == "downward_handover" && f.severity == "block")
            && let Err(e) = referral::first_block(&findings)
        {
            let p = format!("{}.extension", node.path);
            return Err(Outcome::from_explain(&e, &p));
        }
    }
    Ok(input)
}

// ------------------------------------------------------------------ Task from FHIR

/// A `PUT Task/{id}` read: the referral state asked for and what comes
/// with it. Call [`TaskUpdateIn::action`] with the stored referral to learn
/// what the server must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdateIn {
    /// `Task.id`, if given (must equal the URL's; the server checks).
    pub id: Option<String>,
    /// `Task.status` as sent.
    pub status: String,
    /// The referral state that status stands for.
    pub target: ReferralState,
    /// `businessStatus` in [`REFERRAL_STATE_SYSTEM`], if sent (already
    /// checked to agree with `target`).
    pub business_status: Option<ReferralState>,
    /// The reason (decline, cancel) or justification (redirect), see the module doc.
    pub reason: Option<String>,
    /// `owner`: the receiving Organization (a new one asks for a redirect).
    pub owner: Option<Ref>,
    /// `focus` (ServiceRequest), if sent.
    pub focus: Option<Ref>,
    /// `for` (Patient), if sent.
    pub patient: Option<Ref>,
    /// `input` of type `slot`: the Slot to book when scheduling.
    pub slot: Option<Ref>,
    /// The FHIRPath of the Task (`Task`, `Bundle.entry[3].resource`) for later refusals.
    pub path: String,
}

/// What a Task update asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAction {
    /// Nothing: the Task already stands there.
    Unchanged,
    /// Server `change` with `ReferralChange { event, reason, slot_id }`
    /// (`slot` resolved to its id; only for `schedule`).
    Change {
        event: ReferralEvent,
        reason: Option<String>,
        slot: Option<Ref>,
    },
    /// Server `redirect` of the declined referral to the Organization `to`
    /// (its institution code), with the justification, if any.
    Redirect {
        to: Ref,
        justification: Option<String>,
    },
}

const TASK_ELEMENTS: &[&str] = &[
    "instantiatesCanonical",
    "instantiatesUri",
    "basedOn",
    "groupIdentifier",
    "partOf",
    "status",
    "statusReason",
    "businessStatus",
    "intent",
    "priority",
    "code",
    "description",
    "focus",
    "for",
    "encounter",
    "executionPeriod",
    "authoredOn",
    "lastModified",
    "requester",
    "performerType",
    "owner",
    "location",
    "reasonCode",
    "reasonReference",
    "insurance",
    "note",
    "relevantHistory",
    "restriction",
    "input",
    "output",
];

const ALL_TASK_STATUSES: &[&str] = &[
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
];

/// Reads a standalone `Task` update (paths start with `Task`).
pub fn task_from_fhir(v: &Value) -> Result<TaskUpdateIn, Outcome> {
    task_from_fhir_at(&Node::new(v, "Task"))
}

/// Reads a referral `Task` update at `node`.
pub fn task_from_fhir_at(node: &Node<'_>) -> Result<TaskUpdateIn, Outcome> {
    node.resource_type("Task")?;
    node.known_resource_elements(TASK_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let (status, status_path) = code_in(node, "status", ALL_TASK_STATUSES)?;
    let target = state_for_task_status(status).ok_or_else(|| {
        Outcome::not_supported(
            &status_path,
            format!("转诊任务不使用状态 {status}（可用：requested、accepted、rejected、ready、in-progress、completed、cancelled）"),
            format!("referral tasks do not use status {status} (use requested, accepted, rejected, ready, in-progress, completed, cancelled)"),
        )
    })?;
    let (intent, intent_path) = code_in(
        node,
        "intent",
        &[
            "unknown",
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        ],
    )?;
    if intent != "order" {
        return Err(Outcome::not_supported(
            &intent_path,
            format!("转诊任务的 intent 应为 order，实际为 {intent}"),
            format!("a referral task's intent is order, got {intent}"),
        ));
    }
    let business_status = match node.field("businessStatus") {
        Some(bs) => match coding_in(&bs, REFERRAL_STATE_SYSTEM)? {
            Some((code, _, path)) => {
                let s = ReferralState::parse_field("state", &code)
                    .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &path))?;
                if s != target {
                    return Err(Outcome::new(
                        IssueType::Invariant,
                        "invalid_fhir",
                        &path,
                        format!(
                            "businessStatus（{}）与 status {status}（{}）不一致",
                            s.label_zh(),
                            target.label_zh()
                        ),
                        format!(
                            "businessStatus {} disagrees with status {status} ({})",
                            s.as_str(),
                            target.as_str()
                        ),
                    ));
                }
                Some(s)
            }
            None => None,
        },
        None => None,
    };
    let mut reason = match node.field("statusReason") {
        Some(sr) => concept_text(&sr)?.filter(|s| !s.is_empty()),
        None => None,
    };
    if reason.is_none()
        && let Some(notes) = node.field("note")
    {
        let mut fresh = Vec::new();
        for n in notes.array()? {
            let text = n.req("text")?.string()?.trim().to_string();
            if n.field("time").is_none() {
                fresh.push(text);
            }
        }
        reason = Some(fresh.join("；")).filter(|s| !s.is_empty());
    }
    if let Some(r) = &reason {
        check_len(&format!("{}.statusReason.text", node.path), r, 1000)?;
    }
    let owner = node
        .field("owner")
        .map(|o| read_ref(&o, &["Organization"]))
        .transpose()?;
    let focus = node
        .field("focus")
        .map(|f| read_ref(&f, &["ServiceRequest"]))
        .transpose()?;
    let patient = node
        .field("for")
        .map(|f| read_ref(&f, &["Patient"]))
        .transpose()?;
    let mut slot = None;
    if let Some(inputs) = node.field("input") {
        for inp in inputs.array()? {
            inp.object()?;
            let ty = inp.req("type")?;
            if let Some((code, _, path)) = coding_in(&ty, REFERRAL_TASK_PARAM_SYSTEM)? {
                if code != "slot" {
                    return Err(Outcome::value(
                        &path,
                        format!("转诊任务的 input 类型只有 slot，实际为 {code}"),
                        format!("the referral task's only input type is slot, got {code}"),
                    ));
                }
                slot = Some(read_ref(&inp.req("valueReference")?, &["Slot"])?);
            }
        }
    }
    Ok(TaskUpdateIn {
        id,
        status: status.to_string(),
        target,
        business_status,
        reason,
        owner,
        focus,
        patient,
        slot,
        path: node.path.clone(),
    })
}

/// The domain event that moves a referral into `target` (not for redirects).
pub fn event_for_target(target: ReferralState) -> Option<ReferralEvent> {
    match target {
        ReferralState::Submitted => Some(ReferralEvent::Submit),
        ReferralState::Accepted => Some(ReferralEvent::Accept),
        ReferralState::Declined => Some(ReferralEvent::Decline),
        ReferralState::Scheduled => Some(ReferralEvent::Schedule),
        ReferralState::Arrived => Some(ReferralEvent::Arrive),
        ReferralState::Completed => Some(ReferralEvent::Complete),
        ReferralState::Cancelled => Some(ReferralEvent::Cancel),
        ReferralState::Draft | ReferralState::Expired => None,
    }
}

fn stored_id(r: &Ref) -> Option<&str> {
    match r {
        Ref::Stored { id, .. } => Some(id),
        Ref::Placeholder(_) => None,
    }
}

impl TaskUpdateIn {
    fn at(&self, element: &str) -> String {
        format!("{}.{element}", self.path)
    }

    /// What this update asks of `current` (the stored referral): checks that
    /// `focus` and `for` name it, that some side may take the step from its
    /// state (else `illegal_transition`, 409), and that the step has what it
    /// needs (a reason to decline or cancel, a slot to schedule, a new owner
    /// to redirect). Which side the caller is on is the server's check.
    pub fn action(&self, current: &ReferralFhir) -> Result<TaskAction, Outcome> {
        if let Some(f) = &self.focus
            && stored_id(f) != Some(current.id.to_string().as_str())
        {
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &self.at("focus.reference"),
                format!("focus 应为 ServiceRequest/{}", current.id),
                format!("focus must be ServiceRequest/{}", current.id),
            ));
        }
        if let Some(p) = &self.patient
            && stored_id(p) != Some(current.resident_id.to_string().as_str())
        {
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &self.at("for.reference"),
                format!("for 应为 Patient/{}（转诊的患者）", current.resident_id),
                format!(
                    "for must be Patient/{} (the referral's patient)",
                    current.resident_id
                ),
            ));
        }
        let current_owner = current.to_institution_id.to_string();
        let owner_changed = self
            .owner
            .as_ref()
            .is_some_and(|o| stored_id(o) != Some(current_owner.as_str()));

        if current.state == ReferralState::Declined && self.target == ReferralState::Submitted {
            let to = match &self.owner {
                Some(o) if owner_changed => o.clone(),
                _ => {
                    return Err(Outcome::required(
                        &self.at("owner"),
                        "改转须在 owner 中指定另一接收机构",
                        "a redirect names another receiving Organization as owner",
                    ));
                }
            };
            return Ok(TaskAction::Redirect {
                to,
                justification: self.reason.clone(),
            });
        }
        if owner_changed {
            return Err(Outcome::new(
                IssueType::Invariant,
                "illegal_transition",
                &self.at("owner.reference"),
                "只有已拒绝的转诊可以改转（更换接收机构）",
                "only a declined referral can be redirected to another Organization",
            )
            .with_status(409));
        }
        if self.target == current.state {
            return Ok(TaskAction::Unchanged);
        }
        let status_path = self.at("status");
        let Some(event) = event_for_target(self.target) else {
            let (zh, en) = if self.target == ReferralState::Draft {
                (
                    "转诊不能退回草稿",
                    "a referral cannot return to draft".to_string(),
                )
            } else {
                (
                    "过期由平台按响应时限执行，不能手工设置",
                    "only the platform expires a referral (response time limit)".to_string(),
                )
            };
            return Err(Outcome::new(
                IssueType::Processing,
                "illegal_transition",
                &status_path,
                zh,
                en,
            )
            .with_status(409));
        };
        // The domain refuses a step no side may take before it looks at the side.
        if let Err(e @ referral::ReferralError::IllegalTransition { .. }) =
            referral::transition(current.state, event, Side::System)
        {
            return Err(Outcome::from_explain(&e, &status_path).with_status(409));
        }
        match event {
            ReferralEvent::Decline | ReferralEvent::Cancel if self.reason.is_none() => {
                Err(Outcome::required(
                    &self.at("statusReason"),
                    "拒绝或取消须说明原因（statusReason.text）",
                    "a decline or cancellation needs a reason (statusReason.text)",
                ))
            }
            ReferralEvent::Schedule if self.slot.is_none() => Err(Outcome::required(
                &self.at("input"),
                format!("预约须在 input 中给出号源（type = {REFERRAL_TASK_PARAM_SYSTEM}|slot）"),
                format!(
                    "scheduling books a slot: an input of type {REFERRAL_TASK_PARAM_SYSTEM}|slot"
                ),
            )),
            _ => Ok(TaskAction::Change {
                event,
                reason: self.reason.clone(),
                slot: if event == ReferralEvent::Schedule {
                    self.slot.clone()
                } else {
                    None
                },
            }),
        }
    }
}

//! 档案调阅日志 → `AuditEvent` (read-only): one entry of the record access
//! log (`access_log`, the store's `AccessRow`): who read — or tried to
//! read — whose record, when, on what grounds (调阅依据), and whether it
//! was allowed.
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id` | `id` (the log's sequence number) |
//! | `type` = DICOM [`DICOM_SYSTEM`] `110110` Patient Record | — |
//! | `subtype` = [`RESTFUL_INTERACTION_SYSTEM`] `read` | — |
//! | `action` = `R` | — |
//! | `recorded` (instant, `+08:00`) | `at` |
//! | `outcome` `0` success / `4` minor failure (refused) | `outcome` granted / refused |
//! | `outcomeDesc` | the refusal (zh), or the break-glass reason |
//! | `purposeOfEvent` (HL7 v3 ActReason + [`GROUND_SYSTEM`]) | `ground` |
//! | `agent[0]` `who` (`identifier` [`USER_SID`], or `Patient/{id}` reading their own), `altId`, `name`, `role` ([`ROLE_SYSTEM`]), `requestor` = true | `user_id`, `username`, `role` |
//! | `agent[1]` `who` `Organization/{id}`, `requestor` = false | `institution_id`, `institution_name` |
//! | `source.site` = `yilian`, `source.observer` display `yilian`, `source.type` `4` application server | — |
//! | `entity[0].what` `Patient/{id}`, type `1` Person, role `1` Patient, `detail` `part` | `resident_id`, `part` |
//! | extension [`REVIEW_EXTENSION`] (`valueBoolean`) | `review` (紧急调阅 awaiting review) |
//!
//! Ground → `purposeOfEvent` (v3 ActReason): own → `PATRQT`, referral and
//! remote read → `COC` (coordination of care), contract, encounter and
//! consent → `TREAT`, break glass → `BTG`. A refusal has no ground and no
//! `purposeOfEvent`.

use serde_json::{Value, json};
use yilian_domain::access::Role;
use yilian_domain::record::Ground;

use crate::json::cst_to_fhir;

/// DICOM controlled terminology (audit event types).
pub const DICOM_SYSTEM: &str = "http://dicom.nema.org/resources/ontology/DCM";
/// FHIR RESTful interactions (AuditEvent subtype).
pub const RESTFUL_INTERACTION_SYSTEM: &str = "http://hl7.org/fhir/restful-interaction";
/// HL7 v3 ActReason (purpose of use).
pub const ACT_REASON_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
/// HL7 audit source type (`4` application server).
pub const AUDIT_SOURCE_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/security-source-type";
/// HL7 audit entity type (`1` Person).
pub const AUDIT_ENTITY_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/audit-entity-type";
/// HL7 object role (`1` Patient).
pub const OBJECT_ROLE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// yilian's access grounds (调阅依据, `Ground::as_str`).
pub const GROUND_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/access-ground";
/// yilian's roles (`Role::as_str`).
pub const ROLE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/role";
/// Identifier system of a yilian user account (its numeric id).
pub const USER_SID: &str = "https://yilian.example/fhir/sid/user";
/// Extension on `AuditEvent`: `valueBoolean` true when the read was an
/// emergency access (紧急调阅) flagged for review.
pub const REVIEW_EXTENSION: &str = "https://yilian.example/fhir/StructureDefinition/access-review";
/// `source.site` and `source.observer.display`.
pub const SOURCE_NAME: &str = "yilian";

/// One access-log entry (mirrors the store's `AccessRow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFhir {
    pub id: i64,
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub at: String,
    pub user_id: Option<i64>,
    pub username: String,
    /// `Role::parse(&row.role)`; `None` if the row's role is unknown.
    pub role: Option<Role>,
    pub institution_id: Option<i64>,
    pub institution_name: Option<String>,
    pub resident_id: i64,
    /// `timeline`, `entry`, `consents`, …
    pub part: String,
    /// `Ground::parse(&row.ground)`: `None` for a refusal (`none`).
    pub ground: Option<Ground>,
    /// `row.outcome == "granted"`.
    pub granted: bool,
    /// The break-glass reason given, if any.
    pub reason: String,
    /// `row.review != 0`.
    pub review: bool,
}

/// The v3 ActReason purpose of use of a ground: (code, display).
pub fn purpose_of(g: Ground) -> (&'static str, &'static str) {
    match g {
        Ground::Own => ("PATRQT", "patient requested"),
        Ground::Referral | Ground::RemoteRead => ("COC", "coordination of care"),
        Ground::Contract | Ground::Encounter | Ground::Consent => ("TREAT", "treatment"),
        Ground::BreakGlass => ("BTG", "break the glass"),
    }
}

/// The access-log entry as a FHIR `AuditEvent`.
pub fn to_fhir(a: &AccessFhir) -> Value {
    let own = a.ground == Some(Ground::Own) && a.role == Some(Role::Resident);
    let mut who = if own {
        json!({ "reference": format!("Patient/{}", a.resident_id) })
    } else {
        match a.user_id {
            Some(u) => json!({ "identifier": { "system": USER_SID, "value": u.to_string() } }),
            None => json!({}),
        }
    };
    if !a.username.is_empty() {
        who["display"] = json!(a.username);
    }
    let mut user = json!({ "requestor": true });
    if who.as_object().is_some_and(|o| !o.is_empty()) {
        user["who"] = who;
    }
    if let Some(r) = a.role {
        user["role"] = json!([{
            "coding": [{ "system": ROLE_SYSTEM, "code": r.as_str(), "display": r.label_zh() }],
            "text": r.label_zh(),
        }]);
    }
    if !a.username.is_empty() {
        user["altId"] = json!(a.username);
        user["name"] = json!(a.username);
    }
    let mut agents = vec![user];
    if let Some(i) = a.institution_id {
        let mut org = json!({ "reference": format!("Organization/{i}") });
        if let Some(n) = a.institution_name.as_deref().filter(|n| !n.is_empty()) {
            org["display"] = json!(n);
        }
        agents.push(json!({ "who": org, "requestor": false }));
    }

    let mut e = json!({
        "resourceType": "AuditEvent",
        "id": a.id.to_string(),
        "type": { "system": DICOM_SYSTEM, "code": "110110", "display": "Patient Record" },
        "subtype": [{ "system": RESTFUL_INTERACTION_SYSTEM, "code": "read", "display": "read" }],
        "action": "R",
        "recorded": cst_to_fhir(&a.at).unwrap_or_else(|| a.at.clone()),
        "outcome": if a.granted { "0" } else { "4" },
        "agent": agents,
        "source": {
            "site": SOURCE_NAME,
            "observer": { "display": SOURCE_NAME },
            "type": [{ "system": AUDIT_SOURCE_TYPE_SYSTEM, "code": "4", "display": "Application Server" }],
        },
    });
    if a.review {
        e["extension"] = json!([{ "url": REVIEW_EXTENSION, "valueBoolean": true }]);
    }
    let reason = a.reason.trim();
    let desc = if !a.granted {
        Some(if reason.is_empty() {
            "无调阅依据：无诊疗关系或居民授权".to_string()
        } else {
            format!("无调阅依据（紧急调阅理由：{reason}）")
        })
    } else if !reason.is_empty() {
        Some(format!("紧急调阅理由：{reason}"))
    } else {
        None
    };
    if let Some(d) = desc {
        e["outcomeDesc"] = json!(d);
    }
    if let Some(g) = a.ground {
        let (code, display) = purpose_of(g);
        e["purposeOfEvent"] = json!([{
            "coding": [
                { "system": ACT_REASON_SYSTEM, "code": code, "display": display },
                { "system": GROUND_SYSTEM, "code": g.as_str(), "display": g.label_zh() },
            ],
            "text": g.label_zh(),
        }]);
    }
    let mut entity = json!({
        "what": { "reference": format!("Patient/{}", a.resident_id) },
        "type": { "system": AUDIT_ENTITY_TYPE_SYSTEM, "code": "1", "display": "Person" },
        "role": { "system": OBJECT_ROLE_SYSTEM, "code": "1", "display": "Patient" },
    });
    if !a.part.trim().is_empty() {
        entity["detail"] = json!([{ "type": "part", "valueString": a.part }]);
    }
    e["entity"] = json!([entity]);
    e
}

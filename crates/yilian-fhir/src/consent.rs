//! `Consent` ↔ a resident's record-sharing consent (授权调阅).
//!
//! A resident lets an institution or a consortium (医联体) read their
//! health record for a period, and can revoke it at once.
//!
//! | FHIR element | yilian field (`ConsentRow`) |
//! |---|---|
//! | `status` `active` / `inactive` | `revoked_at` absent / present |
//! | `scope` `patient-privacy` | — |
//! | `category` LOINC `64292-6` (release of information consent) + v3 `INFA` | — |
//! | `patient`, `performer[0]` | `resident_id` (the resident grants) |
//! | `dateTime` | `created_at` (`+08:00`) |
//! | `policyRule` [`CONSENT_POLICY_SYSTEM`] `record-sharing` | — (R4 requires a policy or policyRule) |
//! | `provision.type` `permit`, `provision.action` `access` | — |
//! | `provision.period.start` / `.end` | `starts_on` / `ends_on` |
//! | `provision.actor[0]` (role v3 `IRCP`) | the grantee: institution `Organization/{id}`; consortium see below |
//! | `extension[`[`CONSENT_NOTE_EXTENSION`]`].valueString` | `note` |
//! | `extension[`[`REVOKED_AT_EXTENSION`]`].valueDateTime` | `revoked_at` |
//!
//! A **consortium** is not an Organization resource in yilian's facade, so
//! it is named by a logical reference: `{"type": "Organization",
//! "identifier": {"system": `[`CONSORTIUM_ID_SYSTEM`]`, "value": "<id>"},
//! "display": name}`.
//!
//! Creating a Consent is granting it (`grant_consent`; the server checks
//! the patient is the caller); updating an active one to `inactive` is
//! revoking it. [`ConsentIn`] checks the period with the domain's
//! `record::check_consent_period` when the consent is active.

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::record::{GranteeKind, check_consent_period};

use crate::json::{Node, cst_to_fhir, is_fhir_id};
use crate::outcome::{IssueType, Outcome};
use crate::practitioner::{FieldPaths, bounded_text, coding_of, extension_of};
use crate::reference::{Ref, read_ref};

/// yilian consortium ids (医联体 row id) in logical references.
pub const CONSORTIUM_ID_SYSTEM: &str = "https://yilian.example/fhir/sid/consortium-id";
/// yilian's consent policies: `record-sharing` (健康档案授权调阅).
pub const CONSENT_POLICY_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/consent-policy";
/// Extension on `Consent`: the resident's note as `valueString`.
pub const CONSENT_NOTE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/consent-note";
/// Extension on `Consent`: when it was revoked, as `valueDateTime`.
pub const REVOKED_AT_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/consent-revoked-at";

const SCOPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const LOINC: &str = "http://loinc.org";
const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const ACTION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/consentaction";

/// The consent fields a FHIR Consent carries (mirrors `ConsentRow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentFhir {
    pub id: i64,
    pub resident_id: i64,
    pub grantee_kind: GranteeKind,
    pub grantee_id: i64,
    pub grantee_name: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`.
    pub ends_on: String,
    pub note: String,
    /// CST timestamp.
    pub revoked_at: Option<String>,
    /// CST timestamp.
    pub created_at: String,
}

fn grantee_reference(c: &ConsentFhir) -> Value {
    match c.grantee_kind {
        GranteeKind::Institution => json!({
            "reference": format!("Organization/{}", c.grantee_id),
            "display": c.grantee_name,
        }),
        GranteeKind::Consortium => json!({
            "type": "Organization",
            "identifier": { "system": CONSORTIUM_ID_SYSTEM, "value": c.grantee_id.to_string() },
            "display": c.grantee_name,
        }),
    }
}

/// The consent as a FHIR `Consent`.
pub fn to_fhir(c: &ConsentFhir) -> Value {
    let patient = json!({ "reference": format!("Patient/{}", c.resident_id) });
    let mut r = json!({
        "resourceType": "Consent",
        "id": c.id.to_string(),
        "status": if c.revoked_at.is_some() { "inactive" } else { "active" },
        "scope": { "coding": [{ "system": SCOPE_SYSTEM, "code": "patient-privacy", "display": "Privacy Consent" }] },
        "category": [{
            "coding": [
                { "system": LOINC, "code": "64292-6", "display": "Release of information consent" },
                { "system": ACT_CODE_SYSTEM, "code": "INFA", "display": "information access" },
            ],
            "text": "健康档案授权调阅",
        }],
        "patient": patient,
        "performer": [patient],
        "policyRule": {
            "coding": [{ "system": CONSENT_POLICY_SYSTEM, "code": "record-sharing", "display": "健康档案授权调阅" }],
        },
        "provision": {
            "type": "permit",
            "period": { "start": c.starts_on, "end": c.ends_on },
            "actor": [{
                "role": { "coding": [{ "system": PARTICIPATION_SYSTEM, "code": "IRCP", "display": "information recipient" }] },
                "reference": grantee_reference(c),
            }],
            "action": [{ "coding": [{ "system": ACTION_SYSTEM, "code": "access", "display": "Access" }] }],
        },
    });
    if let Some(t) = cst_to_fhir(&c.created_at) {
        r["dateTime"] = json!(t);
    }
    let mut ext = Vec::new();
    if !c.note.trim().is_empty() {
        ext.push(json!({ "url": CONSENT_NOTE_EXTENSION, "valueString": c.note }));
    }
    if let Some(t) = c.revoked_at.as_deref().and_then(cst_to_fhir) {
        ext.push(json!({ "url": REVOKED_AT_EXTENSION, "valueDateTime": t }));
    }
    if !ext.is_empty() {
        r["extension"] = json!(ext);
    }
    r
}

/// Whom a consent read from FHIR names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// `Organization/{id}` (or a placeholder): an institution.
    Institution(Ref),
    /// A consortium by its id ([`CONSORTIUM_ID_SYSTEM`]).
    Consortium(i64),
}

impl Grantee {
    pub fn kind(&self) -> GranteeKind {
        match self {
            Grantee::Institution(_) => GranteeKind::Institution,
            Grantee::Consortium(_) => GranteeKind::Consortium,
        }
    }
}

/// A Consent read from FHIR: the server's `ConsentRequest` (grantee kind and
/// id, period, note) and whether it is active (grant) or inactive (revoke).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentIn {
    pub id: Option<String>,
    /// `patient` (the server checks it is the caller's own record).
    pub patient: Ref,
    pub grantee: Grantee,
    /// `provision.period.start`; today when absent.
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// The note (at most 200 characters), if any.
    pub note: Option<String>,
    /// `status` active (true) or inactive (false: revoke).
    pub active: bool,
    /// Paths of `grantee_kind`, `grantee_id`, `starts_on`, `ends_on`, `note`.
    pub paths: FieldPaths,
}

const CONSENT_ELEMENTS: &[&str] = &[
    "status",
    "scope",
    "category",
    "patient",
    "dateTime",
    "performer",
    "organization",
    "sourceAttachment",
    "sourceReference",
    "policy",
    "policyRule",
    "verification",
    "provision",
];

/// Reads a standalone `Consent`.
pub fn from_fhir(v: &Value, today: NaiveDate) -> Result<ConsentIn, Outcome> {
    from_fhir_at(&Node::new(v, "Consent"), today)
}

/// Reads a `Consent` at `node`: status `active` or `inactive`, scope
/// `patient-privacy`, `patient`, and a `permit` provision with a period end
/// and one actor (the grantee).
pub fn from_fhir_at(node: &Node<'_>, today: NaiveDate) -> Result<ConsentIn, Outcome> {
    node.resource_type("Consent")?;
    node.known_resource_elements(CONSENT_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);
    let status = node.req("status")?;
    let active = match status.string()? {
        "active" => true,
        "inactive" => false,
        s => {
            return Err(Outcome::not_supported(
                &status.path,
                format!("授权状态只能为 active（授予）或 inactive（撤销），实际为 {s}"),
                format!("a consent is active (granted) or inactive (revoked), got {s}"),
            ));
        }
    };
    let scope = node.req("scope")?;
    match coding_of(&scope, SCOPE_SYSTEM)? {
        Some((c, _, _)) if c == "patient-privacy" => {}
        Some((c, _, p)) => {
            return Err(Outcome::not_supported(
                &p,
                format!("只支持 patient-privacy（授权调阅），实际为 {c}"),
                format!("only scope patient-privacy is supported, got {c}"),
            ));
        }
        None => {
            let p = format!("{}.coding", scope.path);
            return Err(Outcome::required(
                &p,
                format!("scope 须为 {SCOPE_SYSTEM} patient-privacy"),
                format!("scope must be {SCOPE_SYSTEM} patient-privacy"),
            ));
        }
    }
    node.req("category")?.array()?;
    let patient = read_ref(&node.req("patient")?, &["Patient"])?;

    let provision = node.req("provision")?;
    provision.object()?;
    let ty = provision.req("type")?;
    if ty.string()? != "permit" {
        return Err(Outcome::not_supported(
            &ty.path,
            "只支持允许调阅（permit）",
            "only permit provisions are supported",
        ));
    }
    let period = provision.req("period")?;
    let starts_on = match period.field("start") {
        Some(s) => {
            paths.set("starts_on", &s.path);
            s.date_time_cst()?.date()
        }
        None => today,
    };
    let end = period.req("end")?;
    let ends_on = end.date_time_cst()?.date();
    paths.set("ends_on", &end.path);

    let actors = provision.req("actor")?.array()?;
    if actors.len() > 1 {
        return Err(Outcome::not_supported(
            &actors[1].path,
            "一份授权只对应一个授权对象",
            "a consent names one grantee",
        ));
    }
    let actor = &actors[0];
    actor.object()?;
    let role = actor.req("role")?;
    if let Some((c, _, p)) = coding_of(&role, PARTICIPATION_SYSTEM)?
        && c != "IRCP"
    {
        return Err(Outcome::value(
            &p,
            format!("授权对象的角色应为 IRCP（信息接收方），实际为 {c}"),
            format!("the grantee's role is IRCP (information recipient), got {c}"),
        ));
    }
    let r = actor.req("reference")?;
    r.object()?;
    let grantee = if r.field("reference").is_some() {
        let g = read_ref(&r, &["Organization"])?;
        paths.set("grantee_id", &format!("{}.reference", r.path));
        Grantee::Institution(g)
    } else {
        let ident = r.field("identifier").ok_or_else(|| {
            let p = format!("{}.reference", r.path);
            Outcome::required(
                &p,
                "授权对象须为 Organization 引用，或医联体标识符",
                format!(
                    "the grantee is an Organization reference or a consortium identifier ({CONSORTIUM_ID_SYSTEM})"
                ),
            )
        })?;
        ident.object()?;
        let sys = ident.req("system")?;
        if sys.string()? != CONSORTIUM_ID_SYSTEM {
            return Err(Outcome::value(
                &sys.path,
                format!("医联体标识符的 system 应为 {CONSORTIUM_ID_SYSTEM}"),
                format!("a consortium identifier has system {CONSORTIUM_ID_SYSTEM}"),
            ));
        }
        let v = ident.req("value")?;
        let s = v.string()?.trim();
        let id = (is_fhir_id(s) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .ok_or_else(|| {
                Outcome::value(
                    &v.path,
                    format!("{s} 不是有效的医联体 id"),
                    format!("{s} is not a consortium id"),
                )
            })?;
        paths.set("grantee_id", &v.path);
        Grantee::Consortium(id)
    };
    paths.set("grantee_kind", &r.path);

    let mut note = None;
    if let Some(x) = extension_of(node, CONSENT_NOTE_EXTENSION)? {
        let v = x.req("valueString")?;
        note = Some(bounded_text(&v, 200)?);
        paths.set("note", &v.path);
    }

    if active {
        check_consent_period(starts_on, ends_on, today).map_err(|e| {
            // A start after the end is the start's fault when one was given.
            let at = if ends_on >= today && starts_on > ends_on {
                paths.get("starts_on")
            } else {
                paths.get("ends_on")
            };
            Outcome::from_explain_as(&e, IssueType::Value, at)
        })?;
    }
    Ok(ConsentIn {
        id,
        patient,
        grantee,
        starts_on,
        ends_on,
        note,
        active,
        paths,
    })
}

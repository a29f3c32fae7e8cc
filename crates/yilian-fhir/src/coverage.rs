//! `Coverage` ↔ a resident's basic medical insurance (基本医疗保险).
//!
//! yilian keeps one field per resident, `insurance` = `employee` (职工医保,
//! 城镇职工基本医疗保险) / `resident` (城乡居民医保, 城乡居民基本医疗保险) /
//! `none`. So a resident has at most one Coverage, with the **resident's
//! id** as its id (`Coverage/42` covers `Patient/42`); an uninsured
//! resident has none ([`to_fhir`] gives `None`, the server answers 404).
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id` | the resident's id |
//! | `status` `active` (`cancelled` on input = `none`) | `insurance` ≠ `none` |
//! | `type` in [`INSURANCE_TYPE_SYSTEM`] (+ v3 `PUBLICPOL`) | `insurance` |
//! | `beneficiary` `Patient/{id}` | the resident |
//! | `relationship` `self` | — |
//! | `payor[0]` display [`PAYOR_DISPLAY`] | — (the medical insurance fund; no Organization in yilian) |
//!
//! There is no separate insurance write in yilian: creating or updating a
//! Coverage updates the resident's `insurance` ([`CoverageIn`]).

use serde_json::{Value, json};
use yilian_domain::registry::Insurance;

use crate::json::Node;
use crate::outcome::{IssueType, Outcome};
use crate::practitioner::{FieldPaths, required_coding};
use crate::reference::{Ref, read_ref};

/// yilian's insurance schemes (`Insurance::as_str`: employee, resident, none).
pub const INSURANCE_TYPE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/insurance-type";
/// The payor's display: the basic medical insurance fund's agency.
pub const PAYOR_DISPLAY: &str = "基本医疗保险经办机构";

const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const RELATIONSHIP_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/subscriber-relationship";

/// The resident fields a Coverage carries (mirrors `ResidentRow.insurance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageFhir {
    pub resident_id: i64,
    pub resident_name: String,
    pub insurance: Insurance,
    /// The resident row's version (the Coverage changes with it).
    pub version: Option<i64>,
}

/// The scheme's full name (城镇职工基本医疗保险, 城乡居民基本医疗保险).
pub fn scheme_name(i: Insurance) -> &'static str {
    match i {
        Insurance::Employee => "城镇职工基本医疗保险",
        Insurance::Resident => "城乡居民基本医疗保险",
        Insurance::Uninsured => "未参保",
    }
}

/// The resident's insurance as a FHIR `Coverage`; `None` when uninsured.
pub fn to_fhir(c: &CoverageFhir) -> Option<Value> {
    if c.insurance == Insurance::Uninsured {
        return None;
    }
    let mut r = json!({
        "resourceType": "Coverage",
        "id": c.resident_id.to_string(),
        "status": "active",
        "type": {
            "coding": [
                { "system": INSURANCE_TYPE_SYSTEM, "code": c.insurance.as_str(), "display": c.insurance.label_zh() },
                { "system": ACT_CODE_SYSTEM, "code": "PUBLICPOL", "display": "public healthcare" },
            ],
            "text": scheme_name(c.insurance),
        },
        "beneficiary": { "reference": format!("Patient/{}", c.resident_id), "display": c.resident_name },
        "relationship": { "coding": [{ "system": RELATIONSHIP_SYSTEM, "code": "self", "display": "Self" }] },
        "payor": [{ "display": PAYOR_DISPLAY }],
    });
    if let Some(v) = c.version {
        r["meta"] = json!({ "versionId": v.to_string() });
    }
    Some(r)
}

/// A Coverage read from FHIR: the insurance to set on the beneficiary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageIn {
    /// `Coverage.id`, if given: the server checks it is the beneficiary's id.
    pub id: Option<String>,
    /// `beneficiary`.
    pub patient: Ref,
    /// `employee` / `resident` from `type`; `none` for status `cancelled`.
    pub insurance: Insurance,
    /// Paths of `insurance` and `resident_id`.
    pub paths: FieldPaths,
}

const COVERAGE_ELEMENTS: &[&str] = &[
    "status",
    "type",
    "policyHolder",
    "subscriber",
    "subscriberId",
    "beneficiary",
    "dependent",
    "relationship",
    "period",
    "payor",
    "class",
    "order",
    "network",
    "costToBeneficiary",
    "subrogation",
    "contract",
];

/// Reads a standalone `Coverage`.
pub fn from_fhir(v: &Value) -> Result<CoverageIn, Outcome> {
    from_fhir_at(&Node::new(v, "Coverage"))
}

/// Reads a `Coverage` at `node`: `status`, `beneficiary` and `payor` are
/// required (R4); an active Coverage needs a `type` coding in
/// [`INSURANCE_TYPE_SYSTEM`] (`employee` or `resident`); a `cancelled` one
/// sets the resident uninsured.
pub fn from_fhir_at(node: &Node<'_>) -> Result<CoverageIn, Outcome> {
    node.resource_type("Coverage")?;
    node.known_resource_elements(COVERAGE_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let mut paths = FieldPaths::new(&node.path);
    let status = node.req("status")?;
    let active = match status.string()? {
        "active" => true,
        "cancelled" => false,
        s => {
            return Err(Outcome::not_supported(
                &status.path,
                format!("参保状态只能为 active 或 cancelled，实际为 {s}"),
                format!("a coverage is active or cancelled, got {s}"),
            ));
        }
    };
    let ben = node.req("beneficiary")?;
    let patient = read_ref(&ben, &["Patient"])?;
    paths.set("resident_id", &format!("{}.reference", ben.path));
    node.req("payor")?.array()?;

    let insurance = if active {
        let ty = node.req("type")?;
        let (code, _, path) = required_coding(
            &ty,
            INSURANCE_TYPE_SYSTEM,
            "缺少医保类型",
            "the insurance type is required",
        )?;
        paths.set("insurance", &path);
        let i = Insurance::parse_field("insurance", &code)
            .map_err(|e| Outcome::from_explain(&e, &path))?;
        if i == Insurance::Uninsured {
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_field",
                &path,
                "未参保请用 status = cancelled",
                "an uninsured resident has status cancelled, not type none",
            ));
        }
        i
    } else {
        paths.set("insurance", &status.path);
        Insurance::Uninsured
    };
    Ok(CoverageIn {
        id,
        patient,
        insurance,
        paths,
    })
}

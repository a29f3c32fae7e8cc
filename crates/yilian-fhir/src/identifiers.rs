//! Identifier and code system URIs yilian uses in FHIR, and the parsing of a
//! resource's `identifier` array.
//!
//! Choices (documented so that hospital systems can match on them):
//!
//! - **居民身份证号** (resident identity number, GB 11643):
//!   `urn:oid:2.16.156.10011.1.3` — the OID the national health-information
//!   standards (WS/T 500 电子病历共享文档规范, CDA headers: 患者身份证号标识)
//!   assign to the patient's identity number, and which Chinese FHIR
//!   integrations reuse as `Identifier.system`.
//! - **电子健康卡** (yilian's electronic health card id: `E`, county, serial
//!   and a MOD 11-2 check): `https://yilian.example/fhir/sid/health-card`. The
//!   national OID `2.16.156.10011.1.19` names the *居民健康卡号* of the
//!   national card scheme, whose format differs from yilian's platform-local
//!   id, so it is deliberately not reused.
//! - **机构代码** (yilian institution code): `https://yilian.example/fhir/sid/institution-code`.
//!   A county that registers institutions by 统一社会信用代码 would add the
//!   national system beside it.
//! - **医务人员编码** (yilian practitioner code): `https://yilian.example/fhir/sid/practitioner-code`.
//!
//! `yilian.example` is a placeholder host: a deployment replaces it once
//! (see [`YILIAN_BASE`]) and keeps the paths.

use chrono::NaiveDate;
use yilian_domain::health_card::HealthCardId;
use yilian_domain::id_number::IdNumber;

use crate::json::Node;
use crate::outcome::{IssueType, Outcome};

/// The placeholder base of yilian's own naming systems and code systems.
pub const YILIAN_BASE: &str = "https://yilian.example/fhir";

/// 居民身份证号 — WS/T 500 OID for the patient's identity number.
pub const ID_NUMBER_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
/// 电子健康卡 — yilian's electronic health card id.
pub const HEALTH_CARD_SYSTEM: &str = "https://yilian.example/fhir/sid/health-card";
/// 机构代码 — yilian's institution code.
pub const INSTITUTION_CODE_SYSTEM: &str = "https://yilian.example/fhir/sid/institution-code";
/// 医务人员编码 — yilian's practitioner code.
pub const PRACTITIONER_CODE_SYSTEM: &str = "https://yilian.example/fhir/sid/practitioner-code";

/// ICD-10 (国标 GB/T 14396 follows WHO ICD-10), the HL7 canonical URI.
pub const ICD10_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10";
/// yilian's local lab item codes (检验项目编码); LOINC is not required.
pub const LAB_ITEM_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/lab-item";
/// yilian's institution kinds (`InstitutionKind::as_str`).
pub const INSTITUTION_KIND_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/institution-kind";
/// yilian's encounter types (`EncounterType::as_str`).
pub const ENCOUNTER_TYPE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/encounter-type";
/// yilian's stable error codes, as in `OperationOutcome.issue.details`.
pub const ERROR_CODE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/error-code";
/// Extension on `Address`: the 12-digit 统计用区划代码 (region code) as `valueCode`.
pub const REGION_CODE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/region-code";
/// Extension on `Condition`: the institution where it was recorded, as
/// `valueReference` to an Organization (Condition has no performer element).
pub const RECORDED_AT_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/recorded-at";

/// The identifiers yilian reads from a Patient's `identifier` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientIdentifiers {
    /// The validated identity number and the index of the identifier it came from.
    pub id_number: Option<(IdNumber, usize)>,
    /// The health card id, if one was given (validated).
    pub health_card: Option<(HealthCardId, usize)>,
}

/// Reads `identifier` at `path` (e.g. `Patient.identifier`): each entry an
/// object with a string `system` and `value`. The identity number is parsed
/// with the GB 11643 rules as of `today`; a refusal names
/// `{path}[i].value`. A second identity number is refused. Identifiers of
/// other systems are ignored.
pub fn patient_identifiers(
    node: Option<Node<'_>>,
    today: NaiveDate,
) -> Result<PatientIdentifiers, Outcome> {
    let mut out = PatientIdentifiers {
        id_number: None,
        health_card: None,
    };
    let Some(node) = node else {
        return Ok(out);
    };
    for (i, ident) in node.array()?.into_iter().enumerate() {
        ident.object()?;
        let system = ident.opt_str("system")?;
        let value_node = ident.field("value");
        match system {
            Some(ID_NUMBER_SYSTEM) => {
                let v = ident.req("value")?;
                let s = v.string()?;
                let id =
                    IdNumber::parse(s, today).map_err(|e| Outcome::from_explain(&e, &v.path))?;
                if out.id_number.is_some() {
                    return Err(Outcome::new(
                        IssueType::Value,
                        "invalid_id_number",
                        &v.path,
                        "只能有一个身份证号码",
                        "only one identity number may be given",
                    ));
                }
                out.id_number = Some((id, i));
            }
            Some(HEALTH_CARD_SYSTEM) => {
                let v = ident.req("value")?;
                let s = v.string()?;
                let card = HealthCardId::parse(s).ok_or_else(|| {
                    Outcome::new(
                        IssueType::Value,
                        "invalid_health_card",
                        &v.path,
                        "电子健康卡号格式或校验码错误",
                        "the health card id is malformed or its check character is wrong",
                    )
                })?;
                out.health_card = Some((card, i));
            }
            _ => {
                if let Some(v) = value_node {
                    v.string()?;
                }
            }
        }
    }
    Ok(out)
}

/// The `value` of the first identifier of `system` in `identifier`, with its path.
pub fn identifier_value<'a>(
    node: Option<Node<'a>>,
    system: &str,
) -> Result<Option<(String, String)>, Outcome> {
    let Some(node) = node else {
        return Ok(None);
    };
    for ident in node.array()? {
        ident.object()?;
        if ident.opt_str("system")? == Some(system) {
            let v = ident.req("value")?;
            return Ok(Some((v.string()?.trim().to_string(), v.path.clone())));
        }
    }
    Ok(None)
}

/// An `Identifier` JSON object.
pub fn identifier(system: &str, value: &str) -> serde_json::Value {
    serde_json::json!({ "system": system, "value": value })
}

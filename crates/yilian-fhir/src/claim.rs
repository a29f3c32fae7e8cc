//! 医保结算单 ↔ `Claim` and `ClaimResponse`.
//!
//! yilian adjudicates a claim the moment it is entered (`yilian_domain::insurance::adjudicate`),
//! so one stored claim row gives both resources, with the same `id`:
//! the **Claim** is what the institution billed, the **ClaimResponse** is
//! the fund's adjudication of it (read-only). From FHIR only a `Claim` is
//! read ([`from_fhir`]): a hospital system submits an encounter's itemised
//! cost exactly as `POST /api/v1/claims` (`ClaimRequest`) would.
//!
//! Money is [`CURRENCY`] (`CNY`) yuan with at most two decimals (the store
//! keeps integer fen, `yilian_domain::money`); a `Money.value` with a third
//! decimal is refused rather than rounded.
//!
//! `Claim` ([`to_fhir`], [`from_fhir`]):
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `id`, `meta.versionId`, `meta.lastUpdated` | `id`, `version`, `updated_at` |
//! | `status` = `active` | — (the claim's state is on the ClaimResponse) |
//! | `type` ([`CLAIM_TYPE_SYSTEM`]) `institutional` / `professional` | `setting` inpatient / outpatient |
//! | `subType` ([`SETTING_SYSTEM`]) | `setting` (read first when given; must agree with `type`) |
//! | `use` = `claim` | — |
//! | `patient` `Patient/{id}` | `resident_id` |
//! | `billablePeriod` (`start`+`end` outpatient, `end` = discharge for inpatient) | `service_date` |
//! | `created` | `created_at` |
//! | `provider` `Organization/{id}` | `institution_id` |
//! | `priority` = [`PROCESS_PRIORITY_SYSTEM`] `normal` | — |
//! | `referral` `ServiceRequest/{id}` | `referral_id` |
//! | `diagnosis[].diagnosisCodeableConcept` ([`ICD10_SYSTEM`]) | the encounter's diagnoses (server-supplied) |
//! | `insurance[0]` sequence 1, focal, `coverage` `Coverage/{resident id}` (display only when uninsured) | `scheme` |
//! | `item[]` `productOrService` ([`COST_CATEGORY_SYSTEM`]), `net`, `servicedDate`, extension [`ITEM_COVERED_EXTENSION`], `encounter` | `items` (`CostItem`), `encounter_entry_id` |
//! | `total` | `total_fen` |
//!
//! `ClaimResponse` ([`response_to_fhir`], read-only):
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `status` = `active`, `type`, `subType`, `use`, `patient`, `insurance` | as on the Claim |
//! | `created` | `updated_at` (the last adjudication step) |
//! | `insurer` (display, [`DEFAULT_INSURER_DISPLAY`] by default; `Organization/{insurer_id}` if given) | `insurer_name`, `insurer_id` |
//! | `requestor` | `institution_id` |
//! | `request` `Claim/{id}` | `id` |
//! | `outcome` `partial` (entered, checked) / `complete` (valuated) / `error` (rejected) | `state` |
//! | `disposition` | state label, or the rejection reason |
//! | `item[i].adjudication` `submitted` / `eligible` | each cost item (eligible 0 when 自费) |
//! | `adjudication` `eligpercent` (`value`, percent) | `ratio_bp` |
//! | `total` [`ADJUDICATION_SYSTEM`] `submitted` / `eligible` / `deductible` / `benefit` | `total_fen`, `covered_fen`, `deductible_fen`, `fund_fen` (统筹基金支付) |
//! | `total` [`YILIAN_ADJUDICATION_SYSTEM`] `uncovered` / `capped` / `resident` | `uncovered_fen` (自费), `capped_fen`, `resident_fen` (个人负担) |
//! | `payment` (valuated only) | `fund_fen` |
//! | `processNote[]` (zh, en as translation) + extension [`APPLIED_RULE_EXTENSION`] | `rules` |
//! | `error[0].code.text` (rejected) | `reject_reason` |
//! | extensions [`BENEFIT_LEVEL_EXTENSION`], [`IN_COUNTY_EXTENSION`], [`REFERRAL_CONTEXT_EXTENSION`], [`CLAIM_STATE_EXTENSION`], [`POLICY_VERSION_EXTENSION`] | `level` (档次), `in_county` (县域内), `referral_context`, `state`, `policy_id` |

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use yilian_domain::icd10::Icd10Code;
use yilian_domain::insurance::{
    AppliedRule, BenefitLevel, ClaimState, CostCategory, CostItem, ReferralContext, Setting,
};
use yilian_domain::registry::Insurance;

use crate::identifiers::ICD10_SYSTEM;
use crate::json::{Node, cst_to_fhir, parse_date};
use crate::outcome::{IssueType, Outcome};
use crate::reference::{Ref, read_ref};

/// The currency of every `Money` (人民币).
pub const CURRENCY: &str = "CNY";

/// `ClaimResponse.insurer.display` when no fund name is given (as the
/// Coverage's payor: yilian registers no Organization for the fund).
pub const DEFAULT_INSURER_DISPLAY: &str = "基本医疗保险经办机构";

/// HL7 claim type (`institutional`, `professional`, …).
pub const CLAIM_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
/// HL7 process priority (`stat`, `normal`, `deferred`).
pub const PROCESS_PRIORITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/processpriority";
/// HL7 adjudication categories (`submitted`, `eligible`, `deductible`, `eligpercent`, `benefit`, …).
pub const ADJUDICATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
/// HL7 payment type (`complete`, `partial`).
pub const PAYMENT_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/ex-paymenttype";

/// yilian's care settings (`Setting::as_str`: `outpatient` 门诊, `inpatient` 住院).
pub const SETTING_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/care-setting";
/// yilian's cost categories (`CostCategory::as_str`: `drugs` 药品费, `exams`, …).
pub const COST_CATEGORY_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/cost-category";
/// yilian's benefit levels (报销档次, `BenefitLevel::as_str`).
pub const BENEFIT_LEVEL_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/benefit-level";
/// yilian's referral contexts (转诊情形, `ReferralContext::as_str`).
pub const REFERRAL_CONTEXT_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/referral-context";
/// yilian's claim states (结算单状态, `ClaimState::as_str`).
pub const CLAIM_STATE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/claim-state";
/// yilian's adjudication categories beyond HL7's: `uncovered` (自费),
/// `capped` (moved to the resident by the yearly cap), `resident` (个人负担).
pub const YILIAN_ADJUDICATION_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/adjudication";
/// The stable codes of the rules an adjudication applied (`yilian_domain::insurance::rule`).
pub const ADJUDICATION_RULE_SYSTEM: &str =
    "https://yilian.example/fhir/CodeSystem/adjudication-rule";

/// Extension on `Claim.item`: `valueBoolean` false for an item outside the
/// insurance catalogue (自费); absent means covered.
pub const ITEM_COVERED_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/claim-item-covered";
/// Extension on `ClaimResponse`: the benefit level (报销档次) as `valueCoding`
/// in [`BENEFIT_LEVEL_SYSTEM`].
pub const BENEFIT_LEVEL_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/benefit-level";
/// Extension on `ClaimResponse`: `valueBoolean` whether the care was inside
/// the resident's county (县域内就医).
pub const IN_COUNTY_EXTENSION: &str = "https://yilian.example/fhir/StructureDefinition/in-county";
/// Extension on `ClaimResponse`: the referral context as `valueCoding` in
/// [`REFERRAL_CONTEXT_SYSTEM`].
pub const REFERRAL_CONTEXT_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/referral-context";
/// Extension on `ClaimResponse`: the claim state as `valueCoding` in [`CLAIM_STATE_SYSTEM`].
pub const CLAIM_STATE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/claim-state";
/// Extension on `ClaimResponse`: the policy version applied, `valueString`.
pub const POLICY_VERSION_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/insurance-policy-version";
/// Extension on `ClaimResponse`, repeated: each applied rule as
/// `valueCoding` in [`ADJUDICATION_RULE_SYSTEM`] (zh display), in order.
pub const APPLIED_RULE_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/applied-rule";

/// One diagnosis of the claimed encounter (the server takes them from the
/// encounter's diagnosis entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimDiagnosis {
    /// ICD-10, normalised (`E11.9`).
    pub code: String,
    /// The diagnosis as written (may be empty).
    pub title: String,
}

/// A stored claim as FHIR needs it (mirrors the store's `ClaimRow`, with
/// `items` and `rules` parsed as the server's `ClaimView` does).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimFhir {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub referral_id: Option<i64>,
    pub encounter_entry_id: Option<i64>,
    /// `YYYY-MM-DD` (the discharge date of a stay).
    pub service_date: String,
    pub scheme: Insurance,
    pub setting: Setting,
    pub level: BenefitLevel,
    pub referral_context: ReferralContext,
    pub in_county: bool,
    pub items: Vec<CostItem>,
    pub diagnoses: Vec<ClaimDiagnosis>,
    pub total_fen: i64,
    pub covered_fen: i64,
    pub uncovered_fen: i64,
    pub deductible_fen: i64,
    pub ratio_bp: i64,
    pub fund_fen: i64,
    pub resident_fen: i64,
    pub capped_fen: i64,
    pub policy_id: String,
    pub rules: Vec<AppliedRule>,
    pub state: ClaimState,
    pub reject_reason: Option<String>,
    /// Store timestamps (`YYYY-MM-DDTHH:MM:SS`, China Standard Time).
    pub created_at: String,
    pub updated_at: String,
    pub version: Option<i64>,
    /// The paying fund's name (e.g. `示例县医疗保障局`); empty →
    /// [`DEFAULT_INSURER_DISPLAY`].
    pub insurer_name: String,
    /// The fund's `Organization` id, if the deployment registers one.
    pub insurer_id: Option<i64>,
}

/// A money amount in fen as FHIR `Money`.
pub fn money(fen: i64) -> Value {
    json!({ "value": fen as f64 / 100.0, "currency": CURRENCY })
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [coding(system, code, display)] })
}

/// HL7 claim type of a setting: inpatient care is `institutional`,
/// outpatient `professional`.
pub fn claim_type(setting: Setting) -> (&'static str, &'static str) {
    match setting {
        Setting::Inpatient => ("institutional", "Institutional"),
        Setting::Outpatient => ("professional", "Professional"),
    }
}

fn time(s: &str) -> String {
    cst_to_fhir(s).unwrap_or_else(|| s.to_string())
}

fn meta(c: &ClaimFhir) -> Option<Value> {
    let mut m = serde_json::Map::new();
    if let Some(v) = c.version {
        m.insert("versionId".into(), json!(v.to_string()));
    }
    if let Some(t) = cst_to_fhir(&c.updated_at) {
        m.insert("lastUpdated".into(), json!(t));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

fn type_of(c: &ClaimFhir) -> Value {
    let (code, display) = claim_type(c.setting);
    concept(CLAIM_TYPE_SYSTEM, code, display)
}

fn sub_type_of(c: &ClaimFhir) -> Value {
    let mut v = concept(SETTING_SYSTEM, c.setting.as_str(), c.setting.label_zh());
    v["text"] = json!(c.setting.label_zh());
    v
}

fn patient_of(c: &ClaimFhir) -> Value {
    let mut r = json!({ "reference": format!("Patient/{}", c.resident_id) });
    if !c.resident_name.is_empty() {
        r["display"] = json!(c.resident_name);
    }
    r
}

fn provider_of(c: &ClaimFhir) -> Value {
    let mut r = json!({ "reference": format!("Organization/{}", c.institution_id) });
    if !c.institution_name.is_empty() {
        r["display"] = json!(c.institution_name);
    }
    r
}

/// `insurance[0]`: the resident's scheme. An uninsured resident has no
/// Coverage to point at, so the coverage is a display only.
fn insurance_of(c: &ClaimFhir) -> Value {
    let coverage = if c.scheme == Insurance::Uninsured {
        json!({ "display": c.scheme.label_zh() })
    } else {
        json!({ "reference": format!("Coverage/{}", c.resident_id), "display": c.scheme.label_zh() })
    };
    json!([{ "sequence": 1, "focal": true, "coverage": coverage }])
}

/// The claim as a FHIR `Claim`.
pub fn to_fhir(c: &ClaimFhir) -> Value {
    let mut r = json!({
        "resourceType": "Claim",
        "id": c.id.to_string(),
        "status": "active",
        "type": type_of(c),
        "subType": sub_type_of(c),
        "use": "claim",
        "patient": patient_of(c),
        "created": time(&c.created_at),
        "provider": provider_of(c),
        "priority": concept(PROCESS_PRIORITY_SYSTEM, "normal", "Normal"),
        "insurance": insurance_of(c),
    });
    if let Some(m) = meta(c) {
        r["meta"] = m;
    }
    if parse_date(&c.service_date).is_some() {
        r["billablePeriod"] = match c.setting {
            Setting::Outpatient => json!({ "start": c.service_date, "end": c.service_date }),
            Setting::Inpatient => json!({ "end": c.service_date }),
        };
    }
    if let Some(id) = c.referral_id {
        r["referral"] = json!({ "reference": format!("ServiceRequest/{id}") });
    }
    if !c.diagnoses.is_empty() {
        let dx: Vec<Value> = c
            .diagnoses
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut code = json!({ "system": ICD10_SYSTEM, "code": d.code });
                let mut cc = json!({});
                if !d.title.is_empty() {
                    code["display"] = json!(d.title);
                    cc["text"] = json!(d.title);
                }
                cc["coding"] = json!([code]);
                json!({ "sequence": i + 1, "diagnosisCodeableConcept": cc })
            })
            .collect();
        r["diagnosis"] = json!(dx);
    }
    if !c.items.is_empty() {
        let items: Vec<Value> = c
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let mut v = json!({
                    "extension": [{ "url": ITEM_COVERED_EXTENSION, "valueBoolean": it.covered }],
                    "sequence": i + 1,
                    "productOrService": {
                        "coding": [coding(COST_CATEGORY_SYSTEM, it.category.as_str(), it.category.label_zh())],
                        "text": it.category.label_zh(),
                    },
                    "net": money(it.amount_fen),
                });
                if parse_date(&c.service_date).is_some() {
                    v["servicedDate"] = json!(c.service_date);
                }
                if let Some(e) = c.encounter_entry_id {
                    v["encounter"] = json!([{ "reference": format!("Encounter/{e}") }]);
                }
                v
            })
            .collect();
        r["item"] = json!(items);
    }
    r["total"] = money(c.total_fen);
    r
}

/// `ClaimResponse.outcome` for a claim state: adjudicated at entry but not
/// fixed (`partial`), fixed by valuation (`complete`), or rejected (`error`).
pub fn outcome_of(state: ClaimState) -> &'static str {
    match state {
        ClaimState::Entered | ClaimState::Checked => "partial",
        ClaimState::Valuated => "complete",
        ClaimState::Rejected => "error",
    }
}

fn adjudication(system: &str, code: &str, display: &str, fen: i64) -> Value {
    json!({ "category": concept(system, code, display), "amount": money(fen) })
}

fn translated(en: &str) -> Value {
    json!({ "extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/translation",
        "extension": [
            { "url": "lang", "valueCode": "en" },
            { "url": "content", "valueString": en },
        ],
    }]})
}

/// The claim's adjudication as a FHIR `ClaimResponse` (same `id` as the Claim).
pub fn response_to_fhir(c: &ClaimFhir) -> Value {
    let mut ext = vec![
        json!({ "url": CLAIM_STATE_EXTENSION,
            "valueCoding": coding(CLAIM_STATE_SYSTEM, c.state.as_str(), c.state.label_zh()) }),
        json!({ "url": BENEFIT_LEVEL_EXTENSION,
            "valueCoding": coding(BENEFIT_LEVEL_SYSTEM, c.level.as_str(), c.level.label_zh()) }),
        json!({ "url": IN_COUNTY_EXTENSION, "valueBoolean": c.in_county }),
        json!({ "url": REFERRAL_CONTEXT_EXTENSION,
            "valueCoding": coding(REFERRAL_CONTEXT_SYSTEM, c.referral_context.as_str(), c.referral_context.label_zh()) }),
    ];
    if !c.policy_id.is_empty() {
        ext.push(json!({ "url": POLICY_VERSION_EXTENSION, "valueString": c.policy_id }));
    }
    for rule in &c.rules {
        if !rule.code.trim().is_empty() {
            let mut cd = json!({ "system": ADJUDICATION_RULE_SYSTEM, "code": rule.code });
            if !rule.zh.trim().is_empty() {
                cd["display"] = json!(rule.zh);
            }
            ext.push(json!({ "url": APPLIED_RULE_EXTENSION, "valueCoding": cd }));
        }
    }
    let mut insurer = json!({
        "display": if c.insurer_name.trim().is_empty() {
            DEFAULT_INSURER_DISPLAY.to_string()
        } else {
            c.insurer_name.clone()
        },
    });
    if let Some(id) = c.insurer_id {
        insurer["reference"] = json!(format!("Organization/{id}"));
    }
    let disposition = match (&c.state, &c.reject_reason) {
        (ClaimState::Rejected, Some(reason)) if !reason.trim().is_empty() => {
            format!("{}：{}", c.state.label_zh(), reason.trim())
        }
        _ => c.state.label_zh().to_string(),
    };
    let mut r = json!({
        "resourceType": "ClaimResponse",
        "id": c.id.to_string(),
        "extension": ext,
        "status": "active",
        "type": type_of(c),
        "subType": sub_type_of(c),
        "use": "claim",
        "patient": patient_of(c),
        "created": time(&c.updated_at),
        "insurer": insurer,
        "requestor": provider_of(c),
        "request": { "reference": format!("Claim/{}", c.id) },
        "outcome": outcome_of(c.state),
        "disposition": disposition,
    });
    if let Some(m) = meta(c) {
        r["meta"] = m;
    }
    if !c.items.is_empty() {
        let items: Vec<Value> = c
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                json!({
                    "itemSequence": i + 1,
                    "adjudication": [
                        adjudication(ADJUDICATION_SYSTEM, "submitted", "Submitted Amount", it.amount_fen),
                        adjudication(ADJUDICATION_SYSTEM, "eligible", "Eligible Amount",
                            if it.covered { it.amount_fen } else { 0 }),
                    ],
                })
            })
            .collect();
        r["item"] = json!(items);
    }
    r["adjudication"] = json!([{
        "category": concept(ADJUDICATION_SYSTEM, "eligpercent", "Eligible %"),
        "value": c.ratio_bp as f64 / 100.0,
    }]);
    r["total"] = json!([
        adjudication(
            ADJUDICATION_SYSTEM,
            "submitted",
            "Submitted Amount",
            c.total_fen
        ),
        adjudication(
            ADJUDICATION_SYSTEM,
            "eligible",
            "Eligible Amount",
            c.covered_fen
        ),
        adjudication(
            ADJUDICATION_SYSTEM,
            "deductible",
            "Deductible",
            c.deductible_fen
        ),
        adjudication(ADJUDICATION_SYSTEM, "benefit", "Benefit Amount", c.fund_fen),
        adjudication(
            YILIAN_ADJUDICATION_SYSTEM,
            "uncovered",
            "自费",
            c.uncovered_fen
        ),
        adjudication(
            YILIAN_ADJUDICATION_SYSTEM,
            "capped",
            "超封顶线",
            c.capped_fen
        ),
        adjudication(
            YILIAN_ADJUDICATION_SYSTEM,
            "resident",
            "个人负担",
            c.resident_fen
        ),
    ]);
    if c.state == ClaimState::Valuated {
        r["payment"] = json!({
            "type": concept(PAYMENT_TYPE_SYSTEM, "complete", "Complete"),
            "amount": money(c.fund_fen),
        });
    }
    let notes: Vec<Value> = c
        .rules
        .iter()
        .filter(|rule| !rule.zh.trim().is_empty())
        .enumerate()
        .map(|(i, rule)| {
            let mut n = json!({ "number": i + 1, "type": "display", "text": rule.zh });
            if !rule.en.trim().is_empty() {
                n["_text"] = translated(&rule.en);
            }
            n
        })
        .collect();
    if !notes.is_empty() {
        r["processNote"] = json!(notes);
    }
    if c.state == ClaimState::Rejected {
        let text = c
            .reject_reason
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(c.state.label_zh());
        r["error"] = json!([{ "code": { "text": text } }]);
    }
    r
}

// ------------------------------------------------------------------ reading

/// R4 `Claim` elements (besides DomainResource's). Elements yilian does not
/// map (enterer, payee, careTeam, …) are accepted and ignored.
const CLAIM_ELEMENTS: &[&str] = &[
    "status",
    "type",
    "subType",
    "use",
    "patient",
    "billablePeriod",
    "created",
    "enterer",
    "insurer",
    "provider",
    "priority",
    "fundsReserve",
    "related",
    "prescription",
    "originalPrescription",
    "payee",
    "referral",
    "facility",
    "careTeam",
    "supportingInfo",
    "diagnosis",
    "procedure",
    "insurance",
    "accident",
    "item",
    "total",
];

/// Elements of a BackboneElement besides its own.
const BACKBONE: &[&str] = &["id", "extension", "modifierExtension"];

const ITEM_ELEMENTS: &[&str] = &[
    "sequence",
    "careTeamSequence",
    "diagnosisSequence",
    "procedureSequence",
    "informationSequence",
    "revenue",
    "category",
    "productOrService",
    "modifier",
    "programCode",
    "servicedDate",
    "servicedPeriod",
    "locationCodeableConcept",
    "locationAddress",
    "locationReference",
    "quantity",
    "unitPrice",
    "factor",
    "net",
    "udi",
    "bodySite",
    "subSite",
    "encounter",
    "detail",
];

const INSURANCE_ELEMENTS: &[&str] = &[
    "sequence",
    "focal",
    "identifier",
    "coverage",
    "businessArrangement",
    "preAuthRef",
    "claimResponse",
];

const DIAGNOSIS_ELEMENTS: &[&str] = &[
    "sequence",
    "diagnosisCodeableConcept",
    "diagnosisReference",
    "type",
    "onAdmission",
    "packageCode",
];

const MONEY_ELEMENTS: &[&str] = &["id", "extension", "value", "currency"];

/// A Claim read from FHIR: the fields of `POST /api/v1/claims`
/// (`ClaimRequest`), checked for structure and yilian's claim rules that
/// need no store (the server resolves the references, checks scope and
/// adjudicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimIn {
    /// `Claim.id`, if given (ignored on create; claims are not updated).
    pub id: Option<String>,
    /// `Patient/{id}` → `resident_id`.
    pub patient: Ref,
    /// `Organization/{id}` → `institution_id`.
    pub provider: Ref,
    /// `Claim.created`, China Standard Time (informational).
    pub created: NaiveDateTime,
    /// → `service_date`.
    pub service_date: NaiveDate,
    /// → `setting`.
    pub setting: Setting,
    /// → `items` (category, amount in fen, covered); never empty, amounts ≥ 0.
    pub items: Vec<CostItem>,
    /// `ServiceRequest/{id}` → `referral_id`.
    pub referral: Option<Ref>,
    /// `Encounter/{id}` (the items' `encounter`) → `encounter_entry_id`.
    pub encounter: Option<Ref>,
    /// ICD-10 codes of `diagnosis[]`, normalised (informational; not in `ClaimRequest`).
    pub diagnoses: Vec<String>,
}

impl ClaimIn {
    /// `service_date` as the API takes it (`YYYY-MM-DD`).
    pub fn service_date_text(&self) -> String {
        self.service_date.to_string()
    }

    /// Every reference, for the server to check it exists.
    pub fn references(&self) -> Vec<&Ref> {
        let mut v = vec![&self.patient, &self.provider];
        v.extend(self.referral.iter());
        v.extend(self.encounter.iter());
        v
    }
}

/// The FHIR path, under `base` (`Claim`, `Bundle.entry[0].resource`), of a
/// `ClaimRequest` field as the server's claim rules name it (`items[2].category`,
/// `referral_id`, …), so that a refusal after [`from_fhir`] still names the
/// element the hospital sent.
pub fn claim_field_path(base: &str, field: &str) -> String {
    if let Some(rest) = field.strip_prefix("items[")
        && let Some((n, sub)) = rest.split_once(']')
    {
        let sub = sub.trim_start_matches('.');
        let el = match sub {
            "category" => ".productOrService",
            "amount_fen" => ".net.value",
            "covered" => ".extension",
            _ => "",
        };
        return format!("{base}.item[{n}]{el}");
    }
    let el = match field {
        "resident_id" => "patient.reference",
        "institution_id" => "provider.reference",
        "service_date" => "billablePeriod",
        "setting" => "type",
        "items" => "item",
        "referral_id" => "referral.reference",
        "encounter_entry_id" => "item[0].encounter[0].reference",
        _ => return base.to_string(),
    };
    format!("{base}.{el}")
}

/// Reads a standalone `Claim` (paths start with `Claim`).
pub fn from_fhir(v: &Value) -> Result<ClaimIn, Outcome> {
    from_fhir_at(&Node::new(v, "Claim"))
}

fn positive_int(n: &Node<'_>) -> Result<u64, Outcome> {
    match n.value.as_u64() {
        Some(i) if i >= 1 && i <= i32::MAX as u64 => Ok(i),
        _ => Err(Outcome::structure(
            &n.path,
            "应为正整数",
            "expected a positive integer",
        )),
    }
}

/// The first coding of `system` in the CodeableConcept at `node`: (code, path of code).
fn coding_in(node: &Node<'_>, system: &str) -> Result<Option<(String, String)>, Outcome> {
    node.object()?;
    node.known_elements(&["id", "extension", "coding", "text"])?;
    let Some(codings) = node.field("coding") else {
        return Ok(None);
    };
    for c in codings.array()? {
        c.object()?;
        if c.opt_str("system")? == Some(system) {
            let code = c.req("code")?;
            return Ok(Some((code.string()?.trim().to_string(), code.path.clone())));
        }
    }
    Ok(None)
}

fn required_coding_in(
    node: &Node<'_>,
    system: &str,
    zh: &str,
    en: &str,
) -> Result<(String, String), Outcome> {
    coding_in(node, system)?.ok_or_else(|| {
        let p = format!("{}.coding", node.path);
        Outcome::required(
            &p,
            format!("{zh}（system = {system}）"),
            format!("{en} (system = {system})"),
        )
    })
}

/// A `Money` in CNY with at most two decimals, as fen.
fn money_fen(node: &Node<'_>) -> Result<i64, Outcome> {
    node.object()?;
    node.known_elements(MONEY_ELEMENTS)?;
    if let Some(c) = node.field("currency") {
        let s = c.string()?;
        if s != CURRENCY {
            return Err(Outcome::value(
                &c.path,
                format!("币种应为 {CURRENCY}，实际为 {s}"),
                format!("currency must be {CURRENCY}, got {s}"),
            ));
        }
    }
    let v = node.req("value")?;
    let x = v
        .value
        .as_f64()
        .ok_or_else(|| Outcome::structure(&v.path, "金额应为数字", "value must be a number"))?;
    let fen = (x * 100.0).round();
    if (x * 100.0 - fen).abs() > 1e-6 {
        return Err(Outcome::value(
            &v.path,
            format!("金额 {x} 超出两位小数（分）"),
            format!("amount {x} has more than two decimals (fen)"),
        ));
    }
    if fen < 0.0 {
        return Err(Outcome::value(
            &v.path,
            format!("费用金额不能为负数（{x} 元）"),
            format!("the amount must not be negative ({x} yuan)"),
        ));
    }
    if fen > 1e15 {
        return Err(Outcome::value(
            &v.path,
            "金额过大",
            "the amount is too large",
        ));
    }
    Ok(fen as i64)
}

fn setting_of_type(code: &str, path: &str) -> Result<Setting, Outcome> {
    match code {
        "institutional" => Ok(Setting::Inpatient),
        "professional" => Ok(Setting::Outpatient),
        other => Err(Outcome::not_supported(
            path,
            format!("不支持的结算类型 {other}（institutional 住院、professional 门诊）"),
            format!(
                "claim type {other} is not supported (institutional = inpatient, professional = outpatient)"
            ),
        )),
    }
}

/// Reads a `Claim` at `node` (e.g. `Bundle.entry[0].resource`).
pub fn from_fhir_at(node: &Node<'_>) -> Result<ClaimIn, Outcome> {
    node.resource_type("Claim")?;
    node.known_resource_elements(CLAIM_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);

    let status = node.req("status")?;
    match status.string()? {
        "active" => {}
        s @ ("cancelled" | "draft" | "entered-in-error") => {
            return Err(Outcome::not_supported(
                &status.path,
                format!("只接收 active 的结算单，实际为 {s}"),
                format!("only active claims are accepted, got {s}"),
            ));
        }
        s => {
            return Err(Outcome::value(
                &status.path,
                format!("{s} 不是结算单状态（active、cancelled、draft、entered-in-error）"),
                format!("{s} is not a claim status (active, cancelled, draft, entered-in-error)"),
            ));
        }
    }
    let use_ = node.req("use")?;
    match use_.string()? {
        "claim" => {}
        s @ ("preauthorization" | "predetermination") => {
            return Err(Outcome::not_supported(
                &use_.path,
                format!("只接收结算（claim），不支持 {s}"),
                format!("only use = claim is accepted, not {s}"),
            ));
        }
        s => {
            return Err(Outcome::value(
                &use_.path,
                format!("{s} 不是用途代码（claim、preauthorization、predetermination）"),
                format!("{s} is not a claim use (claim, preauthorization, predetermination)"),
            ));
        }
    }

    // Setting: yilian's subType first, else the HL7 type; they must agree.
    let ty = node.req("type")?;
    let (type_code, type_path) = required_coding_in(
        &ty,
        CLAIM_TYPE_SYSTEM,
        "须有结算类型",
        "a claim type is required",
    )?;
    let from_type = setting_of_type(&type_code, &type_path)?;
    let mut setting = from_type;
    if let Some(st) = node.field("subType")
        && let Some((code, path)) = coding_in(&st, SETTING_SYSTEM)?
    {
        let s = Setting::parse_field("setting", &code)
            .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &path))?;
        if s != from_type {
            return Err(Outcome::new(
                IssueType::Invariant,
                "setting_mismatch",
                &path,
                format!("就医类别 {} 与结算类型 {type_code} 不一致", s.as_str()),
                format!(
                    "setting {} disagrees with claim type {type_code}",
                    s.as_str()
                ),
            ));
        }
        setting = s;
    }

    let patient = read_ref(&node.req("patient")?, &["Patient"])?;
    let created = node.req("created")?.date_time_cst()?;
    let provider = read_ref(&node.req("provider")?, &["Organization"])?;
    let priority = node.req("priority")?;
    if let Some((code, path)) = coding_in(&priority, PROCESS_PRIORITY_SYSTEM)?
        && !matches!(code.as_str(), "stat" | "normal" | "deferred")
    {
        return Err(Outcome::value(
            &path,
            format!("{code} 不是优先级代码（stat、normal、deferred）"),
            format!("{code} is not a process priority (stat, normal, deferred)"),
        ));
    }

    read_insurance(&node.req("insurance")?)?;

    let referral = node
        .field("referral")
        .map(|r| read_ref(&r, &["ServiceRequest"]))
        .transpose()?;

    let mut diagnoses = Vec::new();
    if let Some(dx) = node.field("diagnosis") {
        for d in dx.array()? {
            d.object()?;
            d.known_elements(&[BACKBONE, DIAGNOSIS_ELEMENTS].concat())?;
            positive_int(&d.req("sequence")?)?;
            if let Some(r) = d.field("diagnosisReference") {
                return Err(Outcome::not_supported(
                    &r.path,
                    "诊断请以 diagnosisCodeableConcept 的 ICD-10 编码给出",
                    "give diagnoses as ICD-10 codings in diagnosisCodeableConcept",
                ));
            }
            let cc = d.req("diagnosisCodeableConcept")?;
            let (code, path) = required_coding_in(
                &cc,
                ICD10_SYSTEM,
                "诊断须有 ICD-10 编码",
                "a diagnosis needs an ICD-10 coding",
            )?;
            let code = Icd10Code::parse(&code)
                .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &path))?;
            diagnoses.push(code.as_str().to_string());
        }
    }

    // The service date: billablePeriod.end (a stay's discharge), else
    // .start, else the items' servicedDate.
    let mut service_date = None;
    if let Some(bp) = node.field("billablePeriod") {
        bp.object()?;
        bp.known_elements(&["id", "extension", "start", "end"])?;
        let end = bp.field("end").map(|e| e.date_time_cst()).transpose()?;
        let start = bp.field("start").map(|s| s.date_time_cst()).transpose()?;
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            let p = format!("{}.end", bp.path);
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &p,
                "结算期间的结束早于开始",
                "billablePeriod ends before it starts",
            ));
        }
        service_date = end.or(start).map(|d| d.date());
    }

    let items_node = node.field("item").ok_or_else(|| {
        let p = format!("{}.item", node.path);
        Outcome::required(&p, "结算单没有费用明细", "the claim has no cost items")
    })?;
    let mut items = Vec::new();
    let mut encounter: Option<Ref> = None;
    let mut sum: i64 = 0;
    for it in items_node.array()? {
        it.object()?;
        it.known_elements(&[BACKBONE, ITEM_ELEMENTS].concat())?;
        positive_int(&it.req("sequence")?)?;
        if let Some(d) = it.field("detail") {
            return Err(Outcome::not_supported(
                &d.path,
                "费用明细不支持再分项（detail），请逐项给出",
                "item details are not supported; give each cost as an item",
            ));
        }
        let ps = it.req("productOrService")?;
        let (code, path) = required_coding_in(
            &ps,
            COST_CATEGORY_SYSTEM,
            "费用明细须有费用类别",
            "an item needs a cost category",
        )?;
        let category = CostCategory::parse_field("category", &code)
            .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &path))?;
        let net = it.field("net").ok_or_else(|| {
            let p = format!("{}.net", it.path);
            Outcome::required(
                &p,
                "费用明细须有金额（net）",
                "an item needs its amount (net)",
            )
        })?;
        let amount_fen = money_fen(&net)?;
        sum = sum.saturating_add(amount_fen);
        let mut covered = true;
        if let Some(exts) = it.field("extension") {
            for x in exts.array()? {
                if x.req("url")?.string()? == ITEM_COVERED_EXTENSION {
                    covered = x.req("valueBoolean")?.boolean()?;
                }
            }
        }
        if let Some(sd) = it.field("servicedDate") {
            let d = sd.date()?;
            match service_date {
                None => service_date = Some(d),
                Some(day) if d > day || (setting == Setting::Outpatient && d != day) => {
                    return Err(Outcome::new(
                        IssueType::Invariant,
                        "invalid_fhir",
                        &sd.path,
                        format!("费用日期 {d} 与就诊日期 {day} 不符"),
                        format!("servicedDate {d} does not fit the service date {day}"),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(encs) = it.field("encounter") {
            for e in encs.array()? {
                let r = read_ref(&e, &["Encounter"])?;
                match &encounter {
                    None => encounter = Some(r),
                    Some(prev) if *prev != r => {
                        let p = format!("{}.reference", e.path);
                        return Err(Outcome::not_supported(
                            &p,
                            "一张结算单只对应一次就诊",
                            "a claim covers one encounter",
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        items.push(CostItem {
            category,
            amount_fen,
            covered,
        });
    }
    if let Some(t) = node.field("total") {
        let total = money_fen(&t)?;
        if total != sum {
            let p = format!("{}.value", t.path);
            return Err(Outcome::new(
                IssueType::Invariant,
                "invalid_fhir",
                &p,
                format!(
                    "合计 {} 元与明细之和 {} 元不符",
                    yilian_domain::money::yuan(total),
                    yilian_domain::money::yuan(sum)
                ),
                format!(
                    "total {} yuan differs from the items' sum {} yuan",
                    yilian_domain::money::yuan(total),
                    yilian_domain::money::yuan(sum)
                ),
            ));
        }
    }
    let service_date = service_date.ok_or_else(|| {
        let p = format!("{}.billablePeriod", node.path);
        Outcome::required(
            &p,
            "缺少就诊日期（billablePeriod 或 item.servicedDate）",
            "the service date is required (billablePeriod or item.servicedDate)",
        )
    })?;

    Ok(ClaimIn {
        id,
        patient,
        provider,
        created,
        service_date,
        setting,
        items,
        referral,
        encounter,
        diagnoses,
    })
}

/// `insurance`: each entry a sequence, a focal flag and a coverage; exactly
/// one focal. yilian takes the scheme from the resident's registration, so
/// the coverage itself is not read.
fn read_insurance(node: &Node<'_>) -> Result<(), Outcome> {
    let mut focal = 0;
    for ins in node.array()? {
        ins.object()?;
        ins.known_elements(&[BACKBONE, INSURANCE_ELEMENTS].concat())?;
        positive_int(&ins.req("sequence")?)?;
        if ins.req("focal")?.boolean()? {
            focal += 1;
        }
        let cov = ins.req("coverage")?;
        cov.object()?;
        if cov.field("reference").is_some() {
            read_ref(&cov, &["Coverage"])?;
        }
    }
    if focal != 1 {
        let p = format!("{}[0].focal", node.path);
        return Err(Outcome::new(
            IssueType::Invariant,
            "invalid_fhir",
            &p,
            format!("须恰有一项 focal = true 的保险，实际为 {focal} 项"),
            format!("exactly one insurance must be focal, got {focal}"),
        ));
    }
    Ok(())
}

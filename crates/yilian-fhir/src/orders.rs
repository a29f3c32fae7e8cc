//! Prescriptions (处方) ↔ `MedicationRequest`; exams (检查结果) and remote
//! reads (远程影像/心电/病理) ↔ `DiagnosticReport`.
//!
//! ## MedicationRequest ↔ [`PrescriptionFhir`] / [`MedicationRequestIn`]
//!
//! The resource id is the prescription's **record entry** id (`EntryRow`,
//! kind `prescription`); the structured fields of a `prescriptions` row
//! (`prescribe`: class, days supplied, long-prescription consent) are
//! optional beside it.
//!
//! | FHIR element | yilian field |
//! |---|---|
//! | `status` | `active` while `authoredOn` + days supplied is after today, else `completed`; `unknown` without days supplied (in: `active` only) |
//! | `intent` = `order` | — |
//! | `medicationCodeableConcept.text`, `.coding` ([`DRUG_CODE_SYSTEM`]) | `drug` (`EntryRow.title` / `prescriptions.drug`), `code` |
//! | `subject`, `encounter` | `resident_id`, `encounter_id` |
//! | `authoredOn` | `occurred_at` |
//! | `requester` (Organization) | `institution_id` |
//! | `dosageInstruction[0].text` | `daily_dose` (`EntryRow.value` / `prescriptions.daily_dose`) |
//! | `dispenseRequest.expectedSupplyDuration` (UCUM `d`; in also `wk`) | `days_supplied` |
//! | `note[0].text` | `body` |
//! | extension [`DRUG_CLASS_EXTENSION`] (`valueCoding` in [`DRUG_CLASS_SYSTEM`]) | `drug_class` (药品管理类别) |
//! | extension [`LONG_PRESCRIPTION_EXTENSION`] (`valueBoolean`, out) | days supplied > 28 (长处方) |
//! | extension [`STABILITY_ASSESSMENT_EXTENSION`] (`valueBoolean`) | `stability_assessment` |
//! | extension [`PATIENT_SIGNED_EXTENSION`] (`valueBoolean`) | `patient_signed` |
//!
//! The long-prescription rule (`yilian_domain::prescription::check_long_prescription`:
//! ≤ 28 days always, ≤ 84 days for a contracted stable chronic patient with a
//! recorded assessment and signature, never long for excluded classes) runs
//! twice: at reading with the facts the server alone knows assumed true (so
//! a refusal that depends on the request names its element), and by the
//! server through [`MedicationRequestIn::check`] with the real facts.
//!
//! ## DiagnosticReport ↔ [`ExamFhir`] / [`DiagnosticReportIn`], [`RemoteReadFhir`]
//!
//! | FHIR element | exam entry (`EntryRow`, kind `exam`) | remote read (`RemoteRow`) |
//! |---|---|---|
//! | `id` | `id` | `remote-{id}` |
//! | `meta.tag` [`RECOGNITION_MARK_SYSTEM`]`|HR` | `hr_mark` (互认标识) | — |
//! | `status` | `final` | `registered` (requested, claimed), `preliminary` (reported), `final` (signed), `cancelled` |
//! | `category` (v2-0074 `RAD` / `EC` / `PAT`) | the remote kind, if known | `kind` |
//! | `code` | `code` ([`EXAM_ITEM_SYSTEM`]), `title` as text | `kind` ([`REMOTE_KIND_SYSTEM`]) |
//! | `subject`, `encounter` | `resident_id`, `encounter_id` | `resident_id` |
//! | `effectiveDateTime` | `occurred_at` | `requested_at` |
//! | `issued` | `issued` (the entry's `created_at`) | `signed_at`, else `reported_at` |
//! | `performer` | `Organization/{institution_id}` | `Organization/{to_institution_id}` (the reader's) |
//! | `conclusion` | `value` | `conclusion` |
//! | `conclusionCode` (v3 interpretation `A` / `N`) | `abnormal` | — |
//! | `presentedForm[0]` (`text/plain; charset=utf-8`, base64) | `body` (the report) | `report` |
//!
//! Remote consultations (会诊) are not reports and have no DiagnosticReport.
//! Once a read is signed its report is also an exam entry (`record_entry_id`);
//! the server lists that entry and may leave the signed request out.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use yilian_domain::prescription::{DrugClass, LongRxCase, LongRxError, check_long_prescription};
use yilian_domain::remote::{RemoteKind, RemoteState};

use crate::json::{Node, parse_date};
use crate::outcome::{IssueType, Outcome};
use crate::reference::{Ref, read_ref};
use crate::referral::{
    bool_extension, check_len, code_in, coding_in, concept_text, extension_value, fhir_time,
    order_intent, reference,
};

/// yilian's local drug codes (药品编码), when an entry has one.
pub const DRUG_CODE_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/drug";
/// yilian's drug classes (`DrugClass::as_str`: `ordinary`, `narcotic`, …, `anti_tb`).
pub const DRUG_CLASS_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/drug-class";
/// Extension on `MedicationRequest`: the drug class (`valueCoding` in [`DRUG_CLASS_SYSTEM`]).
pub const DRUG_CLASS_EXTENSION: &str = "https://yilian.example/fhir/StructureDefinition/drug-class";
/// Extension on `MedicationRequest`: a long prescription (> 28 days, `valueBoolean`).
pub const LONG_PRESCRIPTION_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/long-prescription";
/// Extension on `MedicationRequest`: the stability assessment is recorded (`valueBoolean`).
pub const STABILITY_ASSESSMENT_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/long-prescription-assessment";
/// Extension on `MedicationRequest`: the patient signed the long-prescription consent (`valueBoolean`).
pub const PATIENT_SIGNED_EXTENSION: &str =
    "https://yilian.example/fhir/StructureDefinition/long-prescription-patient-signed";
/// yilian's local exam item codes (检查项目编码, the recognition catalogue's).
pub const EXAM_ITEM_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/exam-item";
/// yilian's remote kinds (`RemoteKind::as_str`: `imaging`, `ecg`, `pathology`).
pub const REMOTE_KIND_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/remote-kind";
/// `meta.tag` system of the mutual-recognition mark: code `HR` (互认标识).
pub const RECOGNITION_MARK_SYSTEM: &str = "https://yilian.example/fhir/CodeSystem/recognition-mark";
/// UCUM.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";
/// HL7 v2 table 0074, diagnostic service sections.
pub const DIAGNOSTIC_SECTION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

// ------------------------------------------------------------------ base64 (presentedForm)

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (FHIR `base64Binary`).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (whitespace ignored); `None` if malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for (ci, chunk) in clean.chunks(4).enumerate() {
        let last = ci == clean.len() / 4 - 1;
        let mut n: u32 = 0;
        let mut pad = 0;
        for (i, c) in chunk.iter().enumerate() {
            let v = if *c == b'=' && last && i >= 2 {
                pad += 1;
                0
            } else if pad > 0 {
                return None;
            } else {
                B64.iter().position(|x| x == c)? as u32
            };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

// ------------------------------------------------------------------ MedicationRequest

/// A prescription as FHIR needs it (mirrors `EntryRow` of kind
/// `prescription`, with the `prescriptions` row's fields when known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrescriptionFhir {
    /// The record entry's id.
    pub id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub occurred_at: String,
    /// Local drug code; empty when none.
    pub code: String,
    /// The drug as written (`EntryRow.title`, `prescriptions.drug`).
    pub drug: String,
    /// `EntryRow.value`, `prescriptions.daily_dose`; may be empty.
    pub daily_dose: String,
    /// `EntryRow.body`; may be empty.
    pub body: String,
    pub encounter_id: Option<i64>,
    pub drug_class: Option<DrugClass>,
    pub days_supplied: Option<u32>,
    pub assessment_recorded: bool,
    pub patient_signed: bool,
}

/// `MedicationRequest.status` of a recorded prescription on `today`.
pub fn medication_status(p: &PrescriptionFhir, today: NaiveDate) -> &'static str {
    let Some(days) = p.days_supplied else {
        return "unknown";
    };
    match p.occurred_at.trim().get(..10).and_then(parse_date) {
        Some(d) if d + Duration::days(i64::from(days)) > today => "active",
        Some(_) => "completed",
        None => "unknown",
    }
}

/// The prescription as a FHIR `MedicationRequest` (status as of `today`).
pub fn medication_request_to_fhir(p: &PrescriptionFhir, today: NaiveDate) -> Value {
    let mut med = json!({ "text": p.drug });
    if !p.code.trim().is_empty() {
        med["coding"] = json!([{ "system": DRUG_CODE_SYSTEM, "code": p.code, "display": p.drug }]);
    }
    let mut o = json!({
        "resourceType": "MedicationRequest",
        "id": p.id.to_string(),
        "status": medication_status(p, today),
        "intent": "order",
        "medicationCodeableConcept": med,
        "subject": { "reference": format!("Patient/{}", p.resident_id) },
        "authoredOn": fhir_time(&p.occurred_at),
        "requester": reference("Organization", p.institution_id, &p.institution_name),
    });
    let mut ext = Vec::new();
    if let Some(c) = p.drug_class {
        ext.push(json!({ "url": DRUG_CLASS_EXTENSION, "valueCoding": {
            "system": DRUG_CLASS_SYSTEM, "code": c.as_str(), "display": c.label_zh(),
        }}));
    }
    if let Some(d) = p.days_supplied {
        let long = d > yilian_domain::prescription::NORMAL_MAX_DAYS;
        ext.push(json!({ "url": LONG_PRESCRIPTION_EXTENSION, "valueBoolean": long }));
        if long {
            ext.push(json!({ "url": STABILITY_ASSESSMENT_EXTENSION, "valueBoolean": p.assessment_recorded }));
            ext.push(json!({ "url": PATIENT_SIGNED_EXTENSION, "valueBoolean": p.patient_signed }));
        }
        o["dispenseRequest"] = json!({ "expectedSupplyDuration": {
            "value": d, "unit": "天", "system": UCUM_SYSTEM, "code": "d",
        }});
    }
    if !ext.is_empty() {
        o["extension"] = json!(ext);
    }
    if let Some(e) = p.encounter_id {
        o["encounter"] = json!({ "reference": format!("Encounter/{e}") });
    }
    if !p.daily_dose.trim().is_empty() {
        o["dosageInstruction"] = json!([{ "text": p.daily_dose }]);
    }
    if !p.body.trim().is_empty() {
        o["note"] = json!([{ "text": p.body }]);
    }
    o
}

/// MedicationRequest's `intent` codes (medicationrequest-intent).
const MEDICATION_REQUEST_INTENTS: &[&str] = &[
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
];

/// Where in the MedicationRequest each long-prescription fact came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPaths {
    /// `…dispenseRequest.expectedSupplyDuration.value`
    pub days: String,
    /// The drug-class extension's `valueCoding.code`, else `…extension`.
    pub class: String,
    pub assessment: String,
    pub signed: String,
    /// `…subject` (contract and chronic status are the patient's).
    pub subject: String,
}

/// A prescription read from a `MedicationRequest` — the server's
/// `PrescriptionRequest`, with the patient still a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicationRequestIn {
    pub id: Option<String>,
    pub patient: Ref,
    /// `requester`, if sent (the server checks it is the caller's institution).
    pub requester: Option<Ref>,
    pub encounter: Option<Ref>,
    /// At most 100 characters.
    pub drug: String,
    pub drug_code: Option<String>,
    /// `None` when not sent: only allowed up to 28 days; the server records `ordinary`.
    pub drug_class: Option<DrugClass>,
    /// At most 60 characters.
    pub daily_dose: String,
    pub days_supplied: u32,
    pub stability_assessment: bool,
    pub patient_signed: bool,
    pub authored_at: Option<NaiveDateTime>,
    pub paths: RxPaths,
}

impl MedicationRequestIn {
    /// The rule's input, with the facts the server knows.
    pub fn long_rx_case(&self, contracted: bool, stable_chronic: bool) -> LongRxCase {
        LongRxCase {
            days_supplied: self.days_supplied,
            class: self.drug_class.unwrap_or(DrugClass::Ordinary),
            contracted,
            stable_chronic,
            assessment_recorded: self.stability_assessment,
            patient_signed: self.patient_signed,
        }
    }

    /// More than 28 days (长处方).
    pub fn is_long(&self) -> bool {
        self.days_supplied > yilian_domain::prescription::NORMAL_MAX_DAYS
    }

    /// The domain's long-prescription rule with the patient's real facts;
    /// a refusal (`long_prescription_limit`, 422) names the element it is about.
    pub fn check(&self, contracted: bool, stable_chronic: bool) -> Result<(), Outcome> {
        check_long_prescription(&self.long_rx_case(contracted, stable_chronic)).map_err(|e| {
            let path = match &e {
                LongRxError::NoDays | LongRxError::OverTwelveWeeks { .. } => &self.paths.days,
                LongRxError::ExcludedClass { .. } => &self.paths.class,
                LongRxError::ConditionsMissing { missing, .. } => match *missing {
                    "a recorded stability assessment" => &self.paths.assessment,
                    "the patient's signature" => &self.paths.signed,
                    _ => &self.paths.subject,
                },
            };
            Outcome::from_explain(&e, path)
        })
    }
}

const MEDICATION_REQUEST_ELEMENTS: &[&str] = &[
    "status",
    "statusReason",
    "intent",
    "category",
    "priority",
    "doNotPerform",
    "reportedBoolean",
    "reportedReference",
    "medicationCodeableConcept",
    "medicationReference",
    "subject",
    "encounter",
    "supportingInformation",
    "authoredOn",
    "requester",
    "performer",
    "performerType",
    "recorder",
    "reasonCode",
    "reasonReference",
    "instantiatesCanonical",
    "instantiatesUri",
    "basedOn",
    "groupIdentifier",
    "courseOfTherapyType",
    "insurance",
    "note",
    "dosageInstruction",
    "dispenseRequest",
    "substitution",
    "priorPrescription",
    "detectedIssue",
    "eventHistory",
];

/// Reads a standalone `MedicationRequest`.
pub fn medication_request_from_fhir(v: &Value) -> Result<MedicationRequestIn, Outcome> {
    medication_request_from_fhir_at(&Node::new(v, "MedicationRequest"))
}

/// Reads a `MedicationRequest` to prescribe at `node`.
pub fn medication_request_from_fhir_at(node: &Node<'_>) -> Result<MedicationRequestIn, Outcome> {
    node.resource_type("MedicationRequest")?;
    node.known_resource_elements(MEDICATION_REQUEST_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let (status, status_path) = code_in(
        node,
        "status",
        &[
            "active",
            "on-hold",
            "cancelled",
            "completed",
            "entered-in-error",
            "stopped",
            "draft",
            "unknown",
        ],
    )?;
    if status != "active" {
        return Err(Outcome::not_supported(
            &status_path,
            format!("开具处方的状态应为 active，实际为 {status}"),
            format!("a prescription to issue is active, got {status}"),
        ));
    }
    order_intent(node, MEDICATION_REQUEST_INTENTS, "处方", "a prescription")?;
    if let Some(m) = node.field("medicationReference") {
        return Err(Outcome::not_supported(
            &m.path,
            "药品请用 medicationCodeableConcept 表示",
            "give the drug as medicationCodeableConcept",
        ));
    }
    let med = node.req("medicationCodeableConcept")?;
    let drug_code = coding_in(&med, DRUG_CODE_SYSTEM)?.map(|(c, _, _)| c);
    let drug = concept_text(&med)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            let p = format!("{}.text", med.path);
            Outcome::required(
                &p,
                "缺少药品名称（text 或 coding.display）",
                "the drug name is required (text or coding.display)",
            )
        })?;
    check_len(&format!("{}.text", med.path), &drug, 100)?;
    let patient = read_ref(&node.req("subject")?, &["Patient"])?;
    let requester = node
        .field("requester")
        .map(|r| read_ref(&r, &["Organization", "Practitioner", "PractitionerRole"]))
        .transpose()?;
    let encounter = node
        .field("encounter")
        .map(|e| read_ref(&e, &["Encounter"]))
        .transpose()?;
    let authored_at = node
        .field("authoredOn")
        .map(|a| a.date_time_cst())
        .transpose()?;

    let dosage = node.req("dosageInstruction")?.array()?.remove(0);
    let dose = dosage.req("text")?;
    let daily_dose = dose.string()?.trim().to_string();
    check_len(&dose.path, &daily_dose, 60)?;

    let dur = node.req("dispenseRequest")?.req("expectedSupplyDuration")?;
    let value = dur.req("value")?;
    let n = value
        .value
        .as_f64()
        .ok_or_else(|| Outcome::structure(&value.path, "应为数字", "expected a number"))?;
    let sys = dur.req("system")?;
    if sys.string()? != UCUM_SYSTEM {
        return Err(Outcome::value(
            &sys.path,
            format!("用药天数的单位须为 UCUM（{UCUM_SYSTEM}）"),
            format!("the supply duration's unit system is UCUM ({UCUM_SYSTEM})"),
        ));
    }
    let unit = dur.req("code")?;
    let factor = match unit.string()? {
        "d" => 1.0,
        "wk" => 7.0,
        other => {
            return Err(Outcome::value(
                &unit.path,
                format!("用药时长单位应为 d（天）或 wk（周），实际为 {other}"),
                format!("the supply duration is in d or wk, got {other}"),
            ));
        }
    };
    let days = n * factor;
    if !(0.0..=36_500.0).contains(&days) || days.fract() != 0.0 {
        return Err(Outcome::value(
            &value.path,
            "用药天数应为非负整数天",
            "days supplied is a whole, non-negative number of days",
        ));
    }
    let days_supplied = days as u32;

    let ext_path = format!("{}.extension", node.path);
    let (drug_class, class_path) = match extension_value(node, DRUG_CLASS_EXTENSION, "Coding")? {
        Some(v) => {
            v.object()?;
            let sys = v.req("system")?;
            if sys.string()? != DRUG_CLASS_SYSTEM {
                return Err(Outcome::value(
                    &sys.path,
                    format!("药品类别的 system 应为 {DRUG_CLASS_SYSTEM}"),
                    format!("the drug class's system must be {DRUG_CLASS_SYSTEM}"),
                ));
            }
            let c = v.req("code")?;
            let class = DrugClass::parse_field("drug_class", c.string()?)
                .map_err(|e| Outcome::from_explain_as(&e, IssueType::Value, &c.path))?;
            (Some(class), c.path)
        }
        None => (None, ext_path.clone()),
    };
    let (stability_assessment, assessment) = bool_extension(node, STABILITY_ASSESSMENT_EXTENSION)?;
    let (patient_signed, signed) = bool_extension(node, PATIENT_SIGNED_EXTENSION)?;
    let input = MedicationRequestIn {
        id,
        patient,
        requester,
        encounter,
        drug,
        drug_code,
        drug_class,
        daily_dose,
        days_supplied,
        stability_assessment,
        patient_signed,
        authored_at,
        paths: RxPaths {
            days: value.path.clone(),
            class: class_path,
            assessment,
            signed,
            subject: format!("{}.subject", node.path),
        },
    };
    if input.is_long() && input.drug_class.is_none() {
        return Err(Outcome::required(
            &ext_path,
            format!("超过28天的处方须注明药品管理类别（扩展 {DRUG_CLASS_EXTENSION}）"),
            format!(
                "a prescription over 28 days states its drug class (extension {DRUG_CLASS_EXTENSION})"
            ),
        ));
    }
    // What the request alone decides; contract and stability are the server's.
    input.check(true, true)?;
    Ok(input)
}

// ------------------------------------------------------------------ DiagnosticReport

/// An exam result as FHIR needs it (mirrors `EntryRow` of kind `exam`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExamFhir {
    pub id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub occurred_at: String,
    /// Local exam item code; empty when none.
    pub code: String,
    pub title: String,
    /// The short conclusion (`EntryRow.value`).
    pub value: String,
    pub abnormal: bool,
    /// 互认标识 "HR".
    pub hr_mark: bool,
    /// The report text (`EntryRow.body`).
    pub body: String,
    pub encounter_id: Option<i64>,
    /// The entry's `created_at`, emitted as `issued`.
    pub issued: Option<String>,
    /// The remote kind when the entry is a signed remote read.
    pub remote_kind: Option<RemoteKind>,
}

fn section(kind: RemoteKind) -> Option<(&'static str, &'static str)> {
    match kind {
        RemoteKind::Imaging => Some(("RAD", "Radiology")),
        RemoteKind::Ecg => Some(("EC", "Electrocardiac")),
        RemoteKind::Pathology => Some(("PAT", "Pathology")),
        RemoteKind::Consultation => None,
    }
}

fn category(kind: RemoteKind) -> Option<Value> {
    section(kind).map(|(code, display)| {
        json!([{ "coding": [{ "system": DIAGNOSTIC_SECTION_SYSTEM, "code": code, "display": display }] }])
    })
}

fn presented_form(text: &str) -> Value {
    json!([{ "contentType": TEXT_PLAIN, "language": "zh-CN", "data": base64_encode(text.as_bytes()) }])
}

/// The exam entry as a FHIR `DiagnosticReport`.
pub fn diagnostic_report_to_fhir(e: &ExamFhir) -> Value {
    let mut code = json!({ "text": e.title });
    if !e.code.trim().is_empty() {
        code["coding"] =
            json!([{ "system": EXAM_ITEM_SYSTEM, "code": e.code, "display": e.title }]);
    }
    let mut o = json!({
        "resourceType": "DiagnosticReport",
        "id": e.id.to_string(),
        "status": "final",
        "code": code,
        "subject": { "reference": format!("Patient/{}", e.resident_id) },
        "effectiveDateTime": fhir_time(&e.occurred_at),
        "performer": [reference("Organization", e.institution_id, &e.institution_name)],
        "conclusionCode": [{ "coding": [{
            "system": INTERPRETATION_SYSTEM,
            "code": if e.abnormal { "A" } else { "N" },
            "display": if e.abnormal { "Abnormal" } else { "Normal" },
        }]}],
    });
    if e.hr_mark {
        o["meta"] = json!({ "tag": [{ "system": RECOGNITION_MARK_SYSTEM, "code": "HR", "display": "检查检验结果互认" }] });
    }
    if let Some(c) = e.remote_kind.and_then(category) {
        o["category"] = c;
    }
    if let Some(enc) = e.encounter_id {
        o["encounter"] = json!({ "reference": format!("Encounter/{enc}") });
    }
    if let Some(t) = &e.issued {
        o["issued"] = json!(fhir_time(t));
    }
    if !e.value.trim().is_empty() {
        o["conclusion"] = json!(e.value);
    }
    if !e.body.trim().is_empty() {
        o["presentedForm"] = presented_form(&e.body);
    }
    o
}

/// A remote read request as FHIR needs it (mirrors `RemoteRow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReadFhir {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub kind: RemoteKind,
    pub state: RemoteState,
    pub from_institution_id: i64,
    pub from_name: String,
    pub to_institution_id: i64,
    pub to_name: String,
    pub question: String,
    pub report: String,
    pub conclusion: String,
    /// Times `YYYY-MM-DDTHH:MM:SS`, CST.
    pub requested_at: String,
    pub reported_at: Option<String>,
    pub signed_at: Option<String>,
    pub version: i64,
    pub updated_at: String,
}

/// `DiagnosticReport.status` for a remote request's state.
pub fn remote_report_status(s: RemoteState) -> &'static str {
    match s {
        RemoteState::Requested | RemoteState::Claimed => "registered",
        RemoteState::Reported => "preliminary",
        RemoteState::Signed => "final",
        RemoteState::Cancelled => "cancelled",
    }
}

/// The DiagnosticReport id of a remote request (`remote-{id}`).
pub fn remote_report_id(id: i64) -> String {
    format!("remote-{id}")
}

/// A remote read (影像/心电/病理) as a FHIR `DiagnosticReport`; `None` for a
/// consultation, which is not a report.
pub fn remote_report_to_fhir(r: &RemoteReadFhir) -> Option<Value> {
    if !r.kind.is_read() {
        return None;
    }
    let mut o = json!({
        "resourceType": "DiagnosticReport",
        "id": remote_report_id(r.id),
        "meta": { "versionId": r.version.to_string(), "lastUpdated": fhir_time(&r.updated_at) },
        "status": remote_report_status(r.state),
        "category": category(r.kind)?,
        "code": {
            "coding": [{ "system": REMOTE_KIND_SYSTEM, "code": r.kind.as_str(), "display": r.kind.label_zh() }],
            "text": r.kind.label_zh(),
        },
        "subject": reference("Patient", r.resident_id, &r.resident_name),
        "effectiveDateTime": fhir_time(&r.requested_at),
        "performer": [reference("Organization", r.to_institution_id, &r.to_name)],
    });
    if let Some(t) = r.signed_at.as_ref().or(r.reported_at.as_ref()) {
        o["issued"] = json!(fhir_time(t));
    }
    let reported = matches!(r.state, RemoteState::Reported | RemoteState::Signed);
    if reported && !r.conclusion.trim().is_empty() {
        o["conclusion"] = json!(r.conclusion);
    }
    if reported && !r.report.trim().is_empty() {
        o["presentedForm"] = presented_form(&r.report);
    }
    Some(o)
}

/// An exam result read from a `DiagnosticReport` — a new record entry of
/// kind `exam` (the server's `EntryRequest`), references still to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticReportIn {
    pub id: Option<String>,
    pub patient: Ref,
    /// `performer` (Organization); `None` → the encounter's institution.
    pub institution: Option<Ref>,
    pub encounter: Option<Ref>,
    /// `effectiveDateTime`, CST.
    pub occurred_at: NaiveDateTime,
    /// Exam item code ([`EXAM_ITEM_SYSTEM`]); empty when none.
    pub code: String,
    /// At most 200 characters.
    pub title: String,
    /// `conclusion`, at most 100 characters.
    pub conclusion: String,
    /// `presentedForm[0]` decoded, at most 8000 characters.
    pub body: String,
    pub abnormal: bool,
    pub hr_mark: bool,
}

impl DiagnosticReportIn {
    /// The store's `occurred_at` text.
    pub fn occurred_at_text(&self) -> String {
        self.occurred_at.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

const DIAGNOSTIC_REPORT_ELEMENTS: &[&str] = &[
    "basedOn",
    "status",
    "category",
    "code",
    "subject",
    "encounter",
    "effectiveDateTime",
    "effectivePeriod",
    "issued",
    "performer",
    "resultsInterpreter",
    "specimen",
    "result",
    "imagingStudy",
    "media",
    "conclusion",
    "conclusionCode",
    "presentedForm",
];

/// Reads a standalone `DiagnosticReport`.
pub fn diagnostic_report_from_fhir(v: &Value) -> Result<DiagnosticReportIn, Outcome> {
    diagnostic_report_from_fhir_at(&Node::new(v, "DiagnosticReport"))
}

/// Reads an exam `DiagnosticReport` at `node`: a released result (`final`,
/// `amended`, `corrected`, `appended`), `code` with a name, `subject`,
/// `effectiveDateTime`, `performer` (Organization) or `encounter`.
pub fn diagnostic_report_from_fhir_at(node: &Node<'_>) -> Result<DiagnosticReportIn, Outcome> {
    node.resource_type("DiagnosticReport")?;
    node.known_resource_elements(DIAGNOSTIC_REPORT_ELEMENTS)?;
    let id = node.opt_str("id")?.map(str::to_string);
    let (status, status_path) = code_in(
        node,
        "status",
        &[
            "registered",
            "partial",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "appended",
            "cancelled",
            "entered-in-error",
            "unknown",
        ],
    )?;
    if !matches!(status, "final" | "amended" | "corrected" | "appended") {
        return Err(Outcome::not_supported(
            &status_path,
            format!("只接收已签发的报告（final、amended、corrected、appended），实际为 {status}"),
            format!(
                "only released reports are accepted (final, amended, corrected, appended), got {status}"
            ),
        ));
    }
    let code_node = node.req("code")?;
    let code = coding_in(&code_node, EXAM_ITEM_SYSTEM)?
        .map(|(c, _, _)| c)
        .unwrap_or_default();
    let title = concept_text(&code_node)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            let p = format!("{}.text", code_node.path);
            Outcome::required(
                &p,
                "缺少检查名称（code.text 或 coding.display）",
                "the exam name is required (code.text or coding.display)",
            )
        })?;
    check_len(&format!("{}.text", code_node.path), &title, 200)?;
    let patient = read_ref(&node.req("subject")?, &["Patient"])?;
    let occurred_at = match node.field("effectiveDateTime") {
        Some(d) => d.date_time_cst()?,
        None => {
            let p = format!("{}.effectiveDateTime", node.path);
            return Err(Outcome::required(
                &p,
                "缺少检查时间",
                "effectiveDateTime is required",
            ));
        }
    };
    let encounter = node
        .field("encounter")
        .map(|e| read_ref(&e, &["Encounter"]))
        .transpose()?;
    let mut institution = None;
    if let Some(perf) = node.field("performer") {
        for p in perf.array()? {
            let r = p.opt_str("reference")?.unwrap_or("");
            if r.starts_with("Organization/") || r.starts_with("urn:uuid:") {
                institution = Some(read_ref(&p, &["Organization"])?);
                break;
            }
        }
    }
    if institution.is_none() && encounter.is_none() {
        let p = format!("{}.performer", node.path);
        return Err(Outcome::required(
            &p,
            "须有执行机构（performer）或 encounter",
            "a performing Organization or an encounter is required",
        ));
    }
    let conclusion = node
        .opt_str("conclusion")?
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    check_len(&format!("{}.conclusion", node.path), &conclusion, 100)?;
    let mut body = String::new();
    if let Some(forms) = node.field("presentedForm") {
        let first = forms.array()?.remove(0);
        if let Some(ct) = first.field("contentType")
            && !ct.string()?.starts_with("text/plain")
        {
            return Err(Outcome::not_supported(
                &ct.path,
                "报告正文只支持 text/plain",
                "the report text is text/plain only",
            ));
        }
        if let Some(d) = first.field("data") {
            let s = d.string()?;
            let bytes = base64_decode(s)
                .ok_or_else(|| Outcome::value(&d.path, "不是有效的 base64", "not valid base64"))?;
            body = String::from_utf8(bytes).map_err(|_| {
                Outcome::value(
                    &d.path,
                    "报告正文须为 UTF-8 文本",
                    "the report text must be UTF-8",
                )
            })?;
            check_len(&d.path, &body, 8000)?;
        }
    }
    let mut abnormal = false;
    if let Some(cc) = node.field("conclusionCode") {
        for c in cc.array()? {
            if let Some((code, _, _)) = coding_in(&c, INTERPRETATION_SYSTEM)? {
                abnormal = code != "N";
            }
        }
    }
    let mut hr_mark = false;
    if let Some(tags) = node.field("meta").and_then(|m| m.field("tag")) {
        for t in tags.array()? {
            if t.opt_str("system")? == Some(RECOGNITION_MARK_SYSTEM)
                && t.opt_str("code")? == Some("HR")
            {
                hr_mark = true;
            }
        }
    }
    Ok(DiagnosticReportIn {
        id,
        patient,
        institution,
        encounter,
        occurred_at,
        code,
        title,
        conclusion,
        body,
        abnormal,
        hr_mark,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "结论：未见异常",
        ] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&e).unwrap(), s.as_bytes(), "{s}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("Zm8").is_none());
        assert!(base64_decode("Z=8=").is_none());
        assert!(base64_decode("Zm$=").is_none());
    }
}

//! Record entries (档案条目) ↔ `Encounter`, `Condition`, `Observation`.
//!
//! | entry kind | FHIR | code |
//! |---|---|---|
//! | `encounter` | Encounter (`class` from the encounter type, `type` in [`ENCOUNTER_TYPE_SYSTEM`]) | — |
//! | `diagnosis` | Condition (category `encounter-diagnosis`) | ICD-10, [`ICD10_SYSTEM`] |
//! | `lab` | Observation (category `laboratory`) | local lab item, [`LAB_ITEM_SYSTEM`] |
//!
//! Times: the store keeps `YYYY-MM-DDTHH:MM:SS` in China Standard Time; FHIR
//! gets `+08:00`, and FHIR input with any offset is converted to CST.
//! Institutions: Encounter.serviceProvider, Observation.performer, and for
//! Condition the extension [`RECORDED_AT_EXTENSION`] (Condition has no
//! performer); when absent the server takes the institution of the
//! referenced Encounter. Prescriptions (MedicationRequest), exams
//! (DiagnosticReport) and documents are not mapped yet.

use chrono::NaiveDateTime;
use serde_json::{Value, json};
use yilian_domain::icd10::Icd10Code;
use yilian_domain::record::{EncounterType, EntryKind};

use crate::identifiers::{
    ENCOUNTER_TYPE_SYSTEM, ICD10_SYSTEM, LAB_ITEM_SYSTEM, RECORDED_AT_EXTENSION,
};
use crate::json::{Node, cst_to_fhir};
use crate::outcome::{IssueType, Outcome};
use crate::reference::{Ref, read_ref};

const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const CONDITION_CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const CONDITION_VER_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const OBS_CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// One record entry as FHIR needs it (mirrors the store's `EntryRow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFhir {
    pub id: i64,
    pub resident_id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub kind: EntryKind,
    pub encounter_type: Option<EncounterType>,
    /// `YYYY-MM-DDTHH:MM:SS`, China Standard Time.
    pub occurred_at: String,
    pub code: String,
    pub title: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: bool,
    /// The encounter entry this one belongs to.
    pub encounter_id: Option<i64>,
}

/// HL7 v3 ActCode encounter class for a yilian encounter type.
pub fn encounter_class(t: EncounterType) -> (&'static str, &'static str) {
    match t {
        EncounterType::Outpatient | EncounterType::FollowUp => ("AMB", "ambulatory"),
        EncounterType::Inpatient => ("IMP", "inpatient encounter"),
        EncounterType::Emergency => ("EMER", "emergency"),
        EncounterType::HomeVisit => ("HH", "home health"),
    }
}

/// The entry as its FHIR resource; `None` for kinds not mapped yet
/// (prescription, exam, document).
pub fn to_fhir(e: &EntryFhir) -> Option<Value> {
    match e.kind {
        EntryKind::Encounter => Some(encounter_to_fhir(e)),
        EntryKind::Diagnosis => Some(condition_to_fhir(e)),
        EntryKind::Lab => Some(observation_to_fhir(e)),
        _ => None,
    }
}

fn when(e: &EntryFhir) -> String {
    cst_to_fhir(&e.occurred_at).unwrap_or_else(|| e.occurred_at.clone())
}

fn org_ref(e: &EntryFhir) -> Value {
    json!({ "reference": format!("Organization/{}", e.institution_id), "display": e.institution_name })
}

/// An `encounter` entry as `Encounter`.
pub fn encounter_to_fhir(e: &EntryFhir) -> Value {
    let t = e.encounter_type.unwrap_or(EncounterType::Outpatient);
    let (class, class_display) = encounter_class(t);
    let mut r = json!({
        "resourceType": "Encounter",
        "id": e.id.to_string(),
        "status": "finished",
        "class": { "system": ACT_CODE_SYSTEM, "code": class, "display": class_display },
        "type": [{
            "coding": [{ "system": ENCOUNTER_TYPE_SYSTEM, "code": t.as_str(), "display": t.label_zh() }],
        }],
        "subject": { "reference": format!("Patient/{}", e.resident_id) },
        "period": { "start": when(e) },
        "serviceProvider": org_ref(e),
    });
    if !e.title.is_empty() {
        r["type"][0]["text"] = json!(e.title);
    }
    if let Ok(code) = Icd10Code::parse(&e.code) {
        r["reasonCode"] =
            json!([{ "coding": [{ "system": ICD10_SYSTEM, "code": code.as_str() }] }]);
    }
    r
}

/// A `diagnosis` entry as `Condition`.
pub fn condition_to_fhir(e: &EntryFhir) -> Value {
    let code = Icd10Code::parse(&e.code)
        .map(|c| c.as_str().to_string())
        .unwrap_or_else(|_| e.code.clone());
    let mut coding = json!({ "system": ICD10_SYSTEM, "code": code });
    if !e.title.is_empty() {
        coding["display"] = json!(e.title);
    }
    let mut r = json!({
        "resourceType": "Condition",
        "id": e.id.to_string(),
        "extension": [{ "url": RECORDED_AT_EXTENSION, "valueReference": org_ref(e) }],
        "verificationStatus": { "coding": [{ "system": CONDITION_VER_SYSTEM, "code": "confirmed" }] },
        "category": [{ "coding": [{ "system": CONDITION_CATEGORY_SYSTEM, "code": "encounter-diagnosis" }] }],
        "code": { "coding": [coding] },
        "subject": { "reference": format!("Patient/{}", e.resident_id) },
        "recordedDate": when(e),
    });
    if !e.title.is_empty() {
        r["code"]["text"] = json!(e.title);
    }
    if let Some(enc) = e.encounter_id {
        r["encounter"] = json!({ "reference": format!("Encounter/{enc}") });
    }
    r
}

/// A `lab` entry as `Observation`: a numeric value becomes `valueQuantity`
/// (unit as text; yilian's units are not UCUM-checked), anything else
/// `valueString`.
pub fn observation_to_fhir(e: &EntryFhir) -> Value {
    let mut coding = json!({ "system": LAB_ITEM_SYSTEM, "code": e.code });
    if !e.title.is_empty() {
        coding["display"] = json!(e.title);
    }
    let mut r = json!({
        "resourceType": "Observation",
        "id": e.id.to_string(),
        "status": "final",
        "category": [{ "coding": [{ "system": OBS_CATEGORY_SYSTEM, "code": "laboratory" }] }],
        "code": { "coding": [coding] },
        "subject": { "reference": format!("Patient/{}", e.resident_id) },
        "effectiveDateTime": when(e),
        "performer": [org_ref(e)],
        "interpretation": [{ "coding": [{
            "system": INTERPRETATION_SYSTEM,
            "code": if e.abnormal { "A" } else { "N" },
        }]}],
    });
    if !e.title.is_empty() {
        r["code"]["text"] = json!(e.title);
    }
    match e.value.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => {
            let mut q = json!({ "value": n });
            if !e.unit.is_empty() {
                q["unit"] = json!(e.unit);
            }
            r["valueQuantity"] = q;
        }
        _ if !e.value.trim().is_empty() => r["valueString"] = json!(e.value),
        _ => {}
    }
    if !e.reference_range.is_empty() {
        r["referenceRange"] = json!([{ "text": e.reference_range }]);
    }
    if let Some(enc) = e.encounter_id {
        r["encounter"] = json!({ "reference": format!("Encounter/{enc}") });
    }
    r
}

/// A record entry read from FHIR — neutral, with references still to be
/// resolved by the server (a [`Ref::Placeholder`] names an entry of the
/// same transaction bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntryInput {
    /// `id` of the resource, if given (update).
    pub id: Option<String>,
    pub kind: EntryKind,
    /// `Patient/{id}` or a placeholder.
    pub patient: Ref,
    /// `Organization/{id}` or a placeholder; `None` → the encounter's institution.
    pub institution: Option<Ref>,
    /// `Encounter/{id}` or a placeholder.
    pub encounter: Option<Ref>,
    pub encounter_type: Option<EncounterType>,
    /// China Standard Time.
    pub occurred_at: NaiveDateTime,
    /// ICD-10 (normalised) for a diagnosis, the lab item code for a lab.
    pub code: String,
    pub title: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub abnormal: bool,
}

impl RecordEntryInput {
    /// The store's `occurred_at` text.
    pub fn occurred_at_text(&self) -> String {
        self.occurred_at.format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    /// Every reference, with the path it came from relative to the resource.
    pub fn references(&self) -> Vec<&Ref> {
        let mut v = vec![&self.patient];
        v.extend(self.institution.iter());
        v.extend(self.encounter.iter());
        v
    }
}

fn known(node: &Node<'_>, specific: &[&str]) -> Result<(), Outcome> {
    node.known_resource_elements(specific)
}

/// [`coding_of`], refusing a CodeableConcept without a coding of `system`.
fn required_coding(
    node: &Node<'_>,
    system: &str,
    zh: &str,
    en: &str,
) -> Result<(String, Option<String>, String), Outcome> {
    coding_of(node, system)?.ok_or_else(|| {
        let p = format!("{}.coding", node.path);
        Outcome::required(
            &p,
            format!("{zh}（system = {system}）"),
            format!("{en} (system = {system})"),
        )
    })
}

/// The first coding of `system` in the CodeableConcept at `node`: (code, display, path of code).
fn coding_of(
    node: &Node<'_>,
    system: &str,
) -> Result<Option<(String, Option<String>, String)>, Outcome> {
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
                c.opt_str("display")?.map(str::to_string),
                code.path.clone(),
            )));
        }
    }
    Ok(None)
}

fn text_of(node: &Node<'_>) -> Result<Option<String>, Outcome> {
    Ok(node.opt_str("text")?.map(|s| s.trim().to_string()))
}

fn blank(kind: EntryKind, patient: Ref, occurred_at: NaiveDateTime) -> RecordEntryInput {
    RecordEntryInput {
        id: None,
        kind,
        patient,
        institution: None,
        encounter: None,
        encounter_type: None,
        occurred_at,
        code: String::new(),
        title: String::new(),
        value: String::new(),
        unit: String::new(),
        reference_range: String::new(),
        abnormal: false,
    }
}

/// Reads any of Encounter, Condition, Observation at `node`.
pub fn from_fhir_at(node: &Node<'_>) -> Result<RecordEntryInput, Outcome> {
    let rt = node.req("resourceType")?;
    match rt.string()? {
        "Encounter" => encounter_from_fhir_at(node),
        "Condition" => condition_from_fhir_at(node),
        "Observation" => observation_from_fhir_at(node),
        other => Err(Outcome::not_supported(
            &rt.path,
            format!("不支持的资源类型 {other}"),
            format!("resource type {other} is not supported here"),
        )),
    }
}

/// Reads a standalone Encounter, Condition or Observation.
pub fn from_fhir(v: &Value) -> Result<RecordEntryInput, Outcome> {
    let rt = v
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("Resource");
    from_fhir_at(&Node::new(v, rt))
}

/// Reads an `Encounter`: `subject` (Patient), `serviceProvider`
/// (Organization, required), `period.start`, `class` or yilian `type`.
pub fn encounter_from_fhir_at(node: &Node<'_>) -> Result<RecordEntryInput, Outcome> {
    node.resource_type("Encounter")?;
    known(
        node,
        &[
            "status",
            "statusHistory",
            "class",
            "classHistory",
            "type",
            "serviceType",
            "priority",
            "subject",
            "episodeOfCare",
            "basedOn",
            "participant",
            "appointment",
            "period",
            "length",
            "reasonCode",
            "reasonReference",
            "diagnosis",
            "account",
            "hospitalization",
            "location",
            "serviceProvider",
            "partOf",
        ],
    )?;
    let status = node.req("status")?;
    if !matches!(
        status.string()?,
        "finished" | "in-progress" | "arrived" | "triaged" | "onleave"
    ) {
        return Err(Outcome::not_supported(
            &status.path,
            "只接收已发生的就诊（finished、in-progress 等）",
            "only encounters that took place are accepted (finished, in-progress, …)",
        ));
    }
    let patient = read_ref(&node.req("subject")?, &["Patient"])?;
    let institution = read_ref(&node.req("serviceProvider")?, &["Organization"])?;
    let start = node.req("period")?.req("start")?.date_time_cst()?;
    let mut e = blank(EntryKind::Encounter, patient, start);
    e.id = node.opt_str("id")?.map(str::to_string);
    e.institution = Some(institution);

    let mut etype = None;
    if let Some(types) = node.field("type") {
        for t in types.array()? {
            if let Some((code, _, path)) = coding_of(&t, ENCOUNTER_TYPE_SYSTEM)? {
                etype = Some(
                    EncounterType::parse_field("encounter_type", &code)
                        .map_err(|err| Outcome::from_explain(&err, &path))?,
                );
            }
            if let Some(text) = text_of(&t)? {
                e.title = text;
            }
        }
    }
    let class = node.req("class")?;
    let class_code = class.req("code")?;
    let from_class = match class_code.string()? {
        "AMB" => EncounterType::Outpatient,
        "IMP" | "ACUTE" | "NONAC" | "SS" => EncounterType::Inpatient,
        "EMER" => EncounterType::Emergency,
        "HH" => EncounterType::HomeVisit,
        other => {
            return Err(Outcome::value(
                &class_code.path,
                format!("不支持的就诊类别 {other}（AMB、IMP、EMER、HH）"),
                format!("encounter class {other} is not supported (AMB, IMP, EMER, HH)"),
            ));
        }
    };
    e.encounter_type = Some(etype.unwrap_or(from_class));
    if let Some(reasons) = node.field("reasonCode") {
        for r in reasons.array()? {
            if let Some((code, _, path)) = coding_of(&r, ICD10_SYSTEM)? {
                e.code = Icd10Code::parse(&code)
                    .map_err(|err| Outcome::from_explain(&err, &path))?
                    .as_str()
                    .to_string();
                break;
            }
        }
    }
    Ok(e)
}

/// Reads a `Condition`: ICD-10 `code` (required), `subject`, `encounter`,
/// `recordedDate` or `onsetDateTime`, the [`RECORDED_AT_EXTENSION`].
pub fn condition_from_fhir_at(node: &Node<'_>) -> Result<RecordEntryInput, Outcome> {
    node.resource_type("Condition")?;
    known(
        node,
        &[
            "clinicalStatus",
            "verificationStatus",
            "category",
            "severity",
            "code",
            "bodySite",
            "subject",
            "encounter",
            "onsetDateTime",
            "onsetAge",
            "onsetPeriod",
            "onsetRange",
            "onsetString",
            "abatementDateTime",
            "abatementAge",
            "abatementPeriod",
            "abatementRange",
            "abatementString",
            "recordedDate",
            "recorder",
            "asserter",
            "stage",
            "evidence",
            "note",
        ],
    )?;
    let patient = read_ref(&node.req("subject")?, &["Patient"])?;
    let when = match (node.field("recordedDate"), node.field("onsetDateTime")) {
        (Some(d), _) | (None, Some(d)) => d.date_time_cst()?,
        (None, None) => {
            let p = format!("{}.recordedDate", node.path);
            return Err(Outcome::required(
                &p,
                "缺少诊断日期（recordedDate 或 onsetDateTime）",
                "recordedDate or onsetDateTime is required",
            ));
        }
    };
    let mut e = blank(EntryKind::Diagnosis, patient, when);
    e.id = node.opt_str("id")?.map(str::to_string);
    let code = node.req("code")?;
    let (c, display, path) = required_coding(
        &code,
        ICD10_SYSTEM,
        "诊断须有 ICD-10 编码",
        "a diagnosis needs an ICD-10 coding",
    )?;
    e.code = Icd10Code::parse(&c)
        .map_err(|err| Outcome::from_explain_as(&err, IssueType::Value, &path))?
        .as_str()
        .to_string();
    e.title = text_of(&code)?.or(display).unwrap_or_default();
    if let Some(enc) = node.field("encounter") {
        e.encounter = Some(read_ref(&enc, &["Encounter"])?);
    }
    if let Some(exts) = node.field("extension") {
        for x in exts.array()? {
            if x.req("url")?.string()? == RECORDED_AT_EXTENSION {
                e.institution = Some(read_ref(&x.req("valueReference")?, &["Organization"])?);
            }
        }
    }
    if e.institution.is_none() && e.encounter.is_none() {
        let p = format!("{}.encounter", node.path);
        return Err(Outcome::required(
            &p,
            "须有 encounter 或记录机构扩展，以确定诊断机构",
            "encounter or the recorded-at extension is required to know the institution",
        ));
    }
    Ok(e)
}

/// Reads a laboratory `Observation`: local lab item `code` (required),
/// `subject`, `effectiveDateTime`, `performer` (Organization), `encounter`,
/// `valueQuantity` / `valueString`, `referenceRange[0].text`,
/// `interpretation` (anything but `N` is abnormal).
pub fn observation_from_fhir_at(node: &Node<'_>) -> Result<RecordEntryInput, Outcome> {
    node.resource_type("Observation")?;
    known(
        node,
        &[
            "basedOn",
            "partOf",
            "status",
            "category",
            "code",
            "subject",
            "focus",
            "encounter",
            "effectiveDateTime",
            "effectivePeriod",
            "effectiveTiming",
            "effectiveInstant",
            "issued",
            "performer",
            "valueQuantity",
            "valueCodeableConcept",
            "valueString",
            "valueBoolean",
            "valueInteger",
            "valueRange",
            "valueRatio",
            "valueSampledData",
            "valueTime",
            "valueDateTime",
            "valuePeriod",
            "dataAbsentReason",
            "interpretation",
            "note",
            "bodySite",
            "method",
            "specimen",
            "device",
            "referenceRange",
            "hasMember",
            "derivedFrom",
            "component",
        ],
    )?;
    let status = node.req("status")?;
    if !matches!(
        status.string()?,
        "final" | "amended" | "corrected" | "preliminary"
    ) {
        return Err(Outcome::not_supported(
            &status.path,
            "只接收已出结果的检验（final、amended、corrected、preliminary）",
            "only resulted observations are accepted (final, amended, corrected, preliminary)",
        ));
    }
    let patient = read_ref(&node.req("subject")?, &["Patient"])?;
    let when = match node.field("effectiveDateTime") {
        Some(d) => d.date_time_cst()?,
        None => {
            let p = format!("{}.effectiveDateTime", node.path);
            return Err(Outcome::required(
                &p,
                "缺少检验时间",
                "effectiveDateTime is required",
            ));
        }
    };
    let mut e = blank(EntryKind::Lab, patient, when);
    e.id = node.opt_str("id")?.map(str::to_string);
    let code = node.req("code")?;
    let (c, display, _) = required_coding(
        &code,
        LAB_ITEM_SYSTEM,
        "检验须有本地项目编码",
        "a lab result needs a local item coding",
    )?;
    e.code = c;
    e.title = text_of(&code)?.or(display).unwrap_or_default();
    if let Some(enc) = node.field("encounter") {
        e.encounter = Some(read_ref(&enc, &["Encounter"])?);
    }
    if let Some(perf) = node.field("performer") {
        for p in perf.array()? {
            let r = p.req("reference")?;
            if r.string()?.starts_with("Organization/") || r.string()?.starts_with("urn:uuid:") {
                e.institution = Some(read_ref(&p, &["Organization"])?);
                break;
            }
        }
    }
    if e.institution.is_none() && e.encounter.is_none() {
        let p = format!("{}.performer", node.path);
        return Err(Outcome::required(
            &p,
            "须有执行机构（performer）或 encounter",
            "a performing Organization or an encounter is required",
        ));
    }
    if let Some(q) = node.field("valueQuantity") {
        let v = q.req("value")?;
        let n = v
            .value
            .as_f64()
            .ok_or_else(|| Outcome::structure(&v.path, "数值应为数字", "value must be a number"))?;
        e.value = n.to_string();
        e.unit = q.opt_str("unit")?.unwrap_or("").to_string();
    } else if let Some(s) = node.field("valueString") {
        e.value = s.string()?.to_string();
    } else if let Some(other) = [
        "valueCodeableConcept",
        "valueBoolean",
        "valueInteger",
        "valueRange",
    ]
    .iter()
    .find_map(|k| node.field(k))
    {
        return Err(Outcome::not_supported(
            &other.path,
            "检验结果只支持 valueQuantity 或 valueString",
            "lab values are valueQuantity or valueString only",
        ));
    }
    if let Some(rr) = node.field("referenceRange") {
        let first = rr.array()?.remove(0);
        e.reference_range = first.opt_str("text")?.unwrap_or("").to_string();
    }
    if let Some(interp) = node.field("interpretation") {
        for i in interp.array()? {
            if let Some((code, _, _)) = coding_of(&i, INTERPRETATION_SYSTEM)? {
                e.abnormal = code != "N";
            }
        }
    }
    Ok(e)
}

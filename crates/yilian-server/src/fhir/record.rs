//! The shared health record as FHIR: `Encounter`, `Condition`,
//! `Observation`, `MedicationRequest` (a prescription) and
//! `DiagnosticReport` (an exam report) are entries of one resident's
//! timeline.
//!
//! Reads go through the record's access rule (`record::begin_read`): the
//! grounds are weighed, the read is logged (part `fhir:<type>`), and a read
//! without grounds is refused with 403 and logged too. A search must name
//! its `patient` (or `subject`): the record is read one resident at a time,
//! as on `/api/v1`. Entries are append-only — a correction is a new entry —
//! so there is no update, and every entry is version 1.
//!
//! A create is written at the caller's institution (as `/api/v1`): a
//! resource naming another institution as its provider is refused.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Value, json};
use yilian_domain::access::Principal;
use yilian_domain::prescription::DrugClass;
use yilian_domain::record::{EncounterType, EntryKind};
use yilian_fhir::Outcome;
use yilian_fhir::clinical::{self, EntryFhir, RecordEntryInput};
use yilian_fhir::orders::{
    self, DiagnosticReportIn, ExamFhir, MedicationRequestIn, PrescriptionFhir,
};
use yilian_fhir::reference::Ref;
use yilian_store::Conn;
use yilian_store::care::{self as care_store, PrescriptionRow};
use yilian_store::records::{self as store, EntryRow, TimelineFilter};

use super::{FhirError, FhirResult, Found, Params, not_found, parse_id};
use crate::error::ApiError;
use crate::record::{EntryRequest, add_entry_in, add_linked_entry_in, begin_read};
use crate::state::AppState;

/// The entry kind a resource type stores as.
pub fn kind_of(rt: &str) -> Option<EntryKind> {
    match rt {
        "Encounter" => Some(EntryKind::Encounter),
        "Condition" => Some(EntryKind::Diagnosis),
        "Observation" => Some(EntryKind::Lab),
        "MedicationRequest" => Some(EntryKind::Prescription),
        "DiagnosticReport" => Some(EntryKind::Exam),
        _ => None,
    }
}

/// An entry as its FHIR resource, with `meta` (entries never change:
/// version 1). A prescription carries its structured row when it has one.
pub fn to_fhir(e: &EntryRow, rx: Option<&PrescriptionRow>, today: NaiveDate) -> FhirResult<Value> {
    let kind = EntryKind::parse(&e.kind).ok_or_else(internal)?;
    let mut r = match kind {
        EntryKind::Prescription => orders::medication_request_to_fhir(
            &PrescriptionFhir {
                id: e.id,
                resident_id: e.resident_id,
                institution_id: e.institution_id,
                institution_name: e.institution_name.clone(),
                occurred_at: e.occurred_at.clone(),
                code: e.code.clone(),
                drug: e.title.clone(),
                daily_dose: e.value.clone(),
                body: e.body.clone(),
                encounter_id: e.encounter_id,
                drug_class: rx.and_then(|x| DrugClass::parse(&x.drug_class)),
                days_supplied: rx.and_then(|x| u32::try_from(x.days_supplied).ok()),
                assessment_recorded: rx.is_some_and(|x| x.assessment_recorded != 0),
                patient_signed: rx.is_some_and(|x| x.patient_signed != 0),
            },
            today,
        ),
        EntryKind::Exam => orders::diagnostic_report_to_fhir(&ExamFhir {
            id: e.id,
            resident_id: e.resident_id,
            institution_id: e.institution_id,
            institution_name: e.institution_name.clone(),
            occurred_at: e.occurred_at.clone(),
            code: e.code.clone(),
            title: e.title.clone(),
            value: e.value.clone(),
            abnormal: e.abnormal != 0,
            hr_mark: e.hr_mark != 0,
            body: e.body.clone(),
            encounter_id: e.encounter_id,
            issued: yilian_fhir::json::cst_to_fhir(&e.created_at),
            remote_kind: None,
        }),
        _ => clinical::to_fhir(&EntryFhir {
            id: e.id,
            resident_id: e.resident_id,
            institution_id: e.institution_id,
            institution_name: e.institution_name.clone(),
            kind,
            encounter_type: e.encounter_type.as_deref().and_then(EncounterType::parse),
            occurred_at: e.occurred_at.clone(),
            code: e.code.clone(),
            title: e.title.clone(),
            value: e.value.clone(),
            unit: e.unit.clone(),
            reference_range: e.reference_range.clone(),
            abnormal: e.abnormal != 0,
            encounter_id: e.encounter_id,
        })
        .ok_or_else(internal)?,
    };
    let mut meta = r.get("meta").cloned().unwrap_or_else(|| json!({}));
    meta["versionId"] = json!("1");
    if let Some(t) = yilian_fhir::json::cst_to_fhir(&e.created_at) {
        meta["lastUpdated"] = json!(t);
    }
    r["meta"] = meta;
    Ok(r)
}

fn internal() -> FhirError {
    FhirError::from(ApiError::internal())
}

/// The entries as resources, with the prescriptions rows they mirror.
async fn entries_to_fhir(
    c: &mut Conn,
    rows: &[EntryRow],
    today: NaiveDate,
) -> FhirResult<Vec<Value>> {
    let ids: Vec<i64> = rows
        .iter()
        .filter(|e| e.source == RX_SOURCE)
        .filter_map(|e| e.source_id)
        .collect();
    let rx: HashMap<i64, PrescriptionRow> = care_store::prescriptions(c, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    rows.iter()
        .map(|e| {
            let linked = (e.source == RX_SOURCE)
                .then(|| e.source_id.and_then(|i| rx.get(&i)))
                .flatten();
            to_fhir(e, linked, today)
        })
        .collect()
}

/// The `source` of a prescription entry that mirrors a `prescriptions` row.
const RX_SOURCE: &str = "prescription";

fn part(rt: &str) -> String {
    format!("fhir:{rt}")
}

pub async fn read(s: &AppState, p: &Principal, rt: &str, id: &str) -> FhirResult<Value> {
    let kind = kind_of(rt).ok_or_else(|| not_found(rt, id))?;
    let n = parse_id(rt, id)?;
    let row = {
        let mut c = s.store.read().await?;
        store::get_entry(&mut c, n).await?
    }
    .filter(|e| e.kind == kind.as_str())
    .ok_or_else(|| not_found(rt, id))?;
    let (mut tx, _) = begin_read(
        &s.store,
        p,
        row.resident_id,
        &part(rt),
        None,
        s.settings.encounter_days,
    )
    .await?;
    let out = entries_to_fhir(&mut tx, std::slice::from_ref(&row), s.today()).await?;
    tx.commit().await?;
    out.into_iter().next().ok_or_else(internal)
}

pub async fn search(s: &AppState, p: &Principal, rt: &str, q: &Params) -> FhirResult<Found> {
    let kind = kind_of(rt).ok_or_else(|| not_found(rt, ""))?;
    let patient = match (
        q.reference("patient", "Patient")?,
        q.reference("subject", "Patient")?,
    ) {
        // Two different residents: nothing matches both.
        (Some(a), Some(b)) if a != b => Some(0),
        (a, b) => a.or(b),
    };
    let Some(resident_id) = patient else {
        return Err(FhirError(
            Outcome::required(
                "patient",
                format!("检索 {rt} 须指定 patient（健康档案按居民逐人调阅）"),
                format!("a {rt} search needs patient: the record is read one resident at a time"),
            )
            .with_status(400),
        ));
    };
    if resident_id == 0 {
        return Ok(Found::default());
    }
    let (from, before) = q.date("date")?.text();
    let f = TimelineFilter {
        kind: Some(kind.as_str().into()),
        id: q.id()?,
        from,
        before,
        ..Default::default()
    };
    let (mut tx, _) = begin_read(
        &s.store,
        p,
        resident_id,
        &part(rt),
        None,
        s.settings.encounter_days,
    )
    .await?;
    let page = store::timeline(&mut tx, resident_id, &f, q.paging()).await?;
    let matches = entries_to_fhir(&mut tx, &page.items, s.today()).await?;
    tx.commit().await?;
    Ok(Found {
        matches,
        total: u64::try_from(page.total).unwrap_or(0),
        included: vec![],
    })
}

/// Where a resource names its institution (for the refusal's path).
fn institution_path(rt: &str) -> &'static str {
    match rt {
        "Encounter" => "Encounter.serviceProvider.reference",
        "Condition" => "Condition.extension",
        "MedicationRequest" => "MedicationRequest.requester.reference",
        "DiagnosticReport" => "DiagnosticReport.performer",
        _ => "Observation.performer",
    }
}

/// A stored id, or a placeholder resolved from earlier transaction entries.
fn resolve(r: &Ref, created: &HashMap<String, String>, path: &str) -> FhirResult<i64> {
    r.resolve(created)
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| {
            FhirError(Outcome::new(
                yilian_fhir::IssueType::NotFound,
                "unknown_reference",
                path,
                format!("引用 {} 无法解析", r.as_reference()),
                format!("reference {} cannot be resolved", r.as_reference()),
            ))
        })
}

/// The `/api/v1` entry request a FHIR record resource amounts to, and the
/// resident it belongs to.
pub fn entry_request(
    rt: &str,
    e: &RecordEntryInput,
    p: &Principal,
    created: &HashMap<String, String>,
) -> FhirResult<(i64, EntryRequest)> {
    let resident_id = resolve(&e.patient, created, &format!("{rt}.subject.reference"))?;
    if let Some(inst) = &e.institution {
        let id = resolve(inst, created, institution_path(rt))?;
        if p.institution.as_ref().map(|i| i.id) != Some(id) {
            return Err(FhirError(Outcome::new(
                yilian_fhir::IssueType::Forbidden,
                "forbidden",
                institution_path(rt),
                "只能以本机构名义写入健康档案",
                "records are written in the name of the caller's own institution",
            )));
        }
    }
    let encounter_id = e
        .encounter
        .as_ref()
        .map(|r| resolve(r, created, &format!("{rt}.encounter.reference")))
        .transpose()?;
    Ok((
        resident_id,
        EntryRequest {
            kind: e.kind.as_str().into(),
            encounter_type: e.encounter_type.map(|t| t.as_str().to_string()),
            occurred_at: Some(e.occurred_at_text()),
            code: Some(e.code.clone()),
            title: e.title.clone(),
            value: Some(e.value.clone()),
            unit: Some(e.unit.clone()),
            reference_range: Some(e.reference_range.clone()),
            abnormal: e.abnormal,
            hr_mark: false,
            body: None,
            encounter_id,
        },
    ))
}

/// The caller's own institution, when a resource names one.
fn own_institution(
    p: &Principal,
    r: Option<&Ref>,
    created: &HashMap<String, String>,
    path: &str,
) -> FhirResult<()> {
    if let Some(inst) = r {
        let id = resolve(inst, created, path)?;
        if p.institution.as_ref().map(|i| i.id) != Some(id) {
            return Err(FhirError(Outcome::new(
                yilian_fhir::IssueType::Forbidden,
                "forbidden",
                path,
                "只能以本机构名义写入健康档案",
                "records are written in the name of the caller's own institution",
            )));
        }
    }
    Ok(())
}

/// A prescription: the long-prescription rule with the patient's facts
/// (refusals at the element they concern), the `prescriptions` row, and
/// its timeline entry — in the caller's transaction.
pub async fn write_prescription(
    tx: &mut Conn,
    p: &Principal,
    m: &MedicationRequestIn,
    created: &HashMap<String, String>,
    today: NaiveDate,
) -> FhirResult<EntryRow> {
    let resident_id = resolve(&m.patient, created, &m.paths.subject)?;
    own_institution(
        p,
        m.requester.as_ref(),
        created,
        "MedicationRequest.requester.reference",
    )?;
    let encounter_id = m
        .encounter
        .as_ref()
        .map(|r| resolve(r, created, "MedicationRequest.encounter.reference"))
        .transpose()?;
    crate::care::visible_resident(tx, p, resident_id).await?;
    let (contracted, stable) = crate::care::long_rx_facts(tx, resident_id, today).await?;
    m.check(contracted, stable)?;
    let rx = crate::care::prescribe_in(
        tx,
        p,
        &crate::care::PrescriptionRequest {
            resident_id,
            drug: m.drug.clone(),
            drug_class: m.drug_class.unwrap_or(DrugClass::Ordinary).as_str().into(),
            daily_dose: m.daily_dose.clone(),
            days_supplied: m.days_supplied,
            stability_assessment: m.stability_assessment,
            patient_signed: m.patient_signed,
        },
        today,
    )
    .await?;
    let req = EntryRequest {
        kind: EntryKind::Prescription.as_str().into(),
        occurred_at: m
            .authored_at
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()),
        code: m.drug_code.clone(),
        title: m.drug.clone(),
        value: Some(m.daily_dose.clone()),
        encounter_id,
        ..Default::default()
    };
    Ok(add_linked_entry_in(tx, p, resident_id, &req, Some((RX_SOURCE, rx.id))).await?)
}

/// An exam report as a timeline entry, in the caller's transaction.
pub async fn write_report(
    tx: &mut Conn,
    p: &Principal,
    d: &DiagnosticReportIn,
    created: &HashMap<String, String>,
) -> FhirResult<EntryRow> {
    let resident_id = resolve(&d.patient, created, "DiagnosticReport.subject.reference")?;
    own_institution(
        p,
        d.institution.as_ref(),
        created,
        "DiagnosticReport.performer",
    )?;
    let encounter_id = d
        .encounter
        .as_ref()
        .map(|r| resolve(r, created, "DiagnosticReport.encounter.reference"))
        .transpose()?;
    let req = EntryRequest {
        kind: EntryKind::Exam.as_str().into(),
        occurred_at: Some(d.occurred_at_text()),
        code: Some(d.code.clone()),
        title: d.title.clone(),
        value: Some(d.conclusion.clone()),
        abnormal: d.abnormal,
        hr_mark: d.hr_mark,
        body: Some(d.body.clone()),
        encounter_id,
        ..Default::default()
    };
    Ok(add_entry_in(tx, p, resident_id, &req).await?)
}

pub async fn create(s: &AppState, p: &Principal, rt: &str, v: &Value) -> FhirResult<Value> {
    let none = HashMap::new();
    let mut tx = s.store.write().await?;
    let row = match rt {
        "MedicationRequest" => {
            let m = orders::medication_request_from_fhir(v)?;
            write_prescription(&mut tx, p, &m, &none, s.today()).await?
        }
        "DiagnosticReport" => {
            let d = orders::diagnostic_report_from_fhir(v)?;
            write_report(&mut tx, p, &d, &none).await?
        }
        _ => {
            let e = clinical::from_fhir(v)?;
            if e.kind.as_str() != kind_of(rt).map_or("", EntryKind::as_str) {
                return Err(FhirError(Outcome::structure(
                    &format!("{rt}.resourceType"),
                    format!("地址为 {rt}，资源类型不符"),
                    format!("the URL names {rt}; the resource type differs"),
                )));
            }
            let (resident_id, req) = entry_request(rt, &e, p, &none)?;
            add_entry_in(&mut tx, p, resident_id, &req).await?
        }
    };
    let out = entries_to_fhir(&mut tx, std::slice::from_ref(&row), s.today()).await?;
    tx.commit().await?;
    out.into_iter().next().ok_or_else(internal)
}

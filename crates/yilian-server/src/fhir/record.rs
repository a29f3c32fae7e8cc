//! The shared health record as FHIR: `Encounter`, `Condition` and
//! `Observation` are entries of one resident's timeline.
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

use serde_json::{Value, json};
use yilian_domain::access::Principal;
use yilian_domain::record::{EncounterType, EntryKind};
use yilian_fhir::Outcome;
use yilian_fhir::clinical::{self, EntryFhir, RecordEntryInput};
use yilian_fhir::reference::Ref;
use yilian_store::records::{self as store, EntryRow, TimelineFilter};

use super::{FhirError, FhirResult, Found, Params, not_found, parse_id};
use crate::error::ApiError;
use crate::record::{EntryRequest, add_entry, begin_read};
use crate::state::AppState;

/// The entry kind a resource type stores as.
pub fn kind_of(rt: &str) -> Option<EntryKind> {
    match rt {
        "Encounter" => Some(EntryKind::Encounter),
        "Condition" => Some(EntryKind::Diagnosis),
        "Observation" => Some(EntryKind::Lab),
        _ => None,
    }
}

/// An entry as its FHIR resource, with `meta` (entries never change: version 1).
pub fn to_fhir(e: &EntryRow) -> FhirResult<Value> {
    let kind = EntryKind::parse(&e.kind).ok_or_else(|| FhirError::from(ApiError::internal()))?;
    let f = EntryFhir {
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
    };
    let mut r = clinical::to_fhir(&f).ok_or_else(|| FhirError::from(ApiError::internal()))?;
    let mut meta = json!({ "versionId": "1" });
    if let Some(t) = yilian_fhir::json::cst_to_fhir(&e.created_at) {
        meta["lastUpdated"] = json!(t);
    }
    r["meta"] = meta;
    Ok(r)
}

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
    let (tx, _) = begin_read(
        &s.store,
        p,
        row.resident_id,
        &part(rt),
        None,
        s.settings.encounter_days,
    )
    .await?;
    tx.commit().await?;
    to_fhir(&row)
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
    tx.commit().await?;
    Ok(Found {
        matches: page.items.iter().map(to_fhir).collect::<FhirResult<_>>()?,
        total: u64::try_from(page.total).unwrap_or(0),
        included: vec![],
    })
}

/// Where a resource names its institution (for the refusal's path).
fn institution_path(rt: &str) -> &'static str {
    match rt {
        "Encounter" => "Encounter.serviceProvider.reference",
        "Condition" => "Condition.extension",
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

pub async fn create(s: &AppState, p: &Principal, rt: &str, v: &Value) -> FhirResult<Value> {
    let e = clinical::from_fhir(v)?;
    if e.kind.as_str() != kind_of(rt).map_or("", EntryKind::as_str) {
        return Err(FhirError(Outcome::structure(
            &format!("{rt}.resourceType"),
            format!("地址为 {rt}，资源类型不符"),
            format!("the URL names {rt}; the resource type differs"),
        )));
    }
    let (resident_id, req) = entry_request(rt, &e, p, &HashMap::new())?;
    let row = add_entry(&s.store, p, resident_id, &req).await?;
    to_fhir(&row)
}

//! `Patient` — the master patient index through `service`: a read is the
//! resident's detail (whole identity number, logged); a search is the masked,
//! scoped list (no identity-number identifier, phone masked); create and
//! update are registration and correction with the same rules.

use serde_json::Value;
use yilian_domain::access::Principal;
use yilian_domain::resident::ResidentInput;
use yilian_fhir::patient::{self as fp, ResidentFhir};
use yilian_store::residents::{ResidentFilter, ResidentRow};

use super::{FhirResult, Found, Params, check_version, parse_id};
use crate::service::{self, ResidentDetail, ResidentSummary};
use crate::state::AppState;

fn instant(t: &str) -> Option<String> {
    yilian_fhir::json::cst_to_fhir(t)
}

/// A resident's whole detail as a Patient.
pub fn detail_to_fhir(d: &ResidentDetail) -> Value {
    fp::to_fhir(&ResidentFhir {
        id: d.id,
        id_number: Some(d.id_number.clone()),
        health_card_id: Some(d.health_card_id.clone()),
        name: d.name.clone(),
        sex: d.sex.clone(),
        birth_date: d.birth_date.clone(),
        phone: Some(d.phone.clone()),
        region_code: d.region_code.clone(),
        address: d.address.clone(),
        version: Some(d.version),
        last_updated: instant(&d.updated_at),
    })
}

/// A list row as a Patient: the masked identity number is left out (a
/// masked value must not carry the identity-number system), phone masked.
pub(crate) fn summary_to_fhir(r: &ResidentSummary) -> Value {
    fp::to_fhir(&ResidentFhir {
        id: r.id,
        id_number: None,
        health_card_id: Some(r.health_card_id.clone()),
        name: r.name.clone(),
        sex: r.sex.clone(),
        birth_date: r.birth_date.clone(),
        phone: Some(r.phone.clone()),
        region_code: r.region_code.clone(),
        address: String::new(),
        version: None,
        last_updated: None,
    })
}

/// What a Patient does not carry is kept from the stored resident, so an
/// update never drops it: the region (when the extension is absent), the
/// household, the insurance (that is `Coverage`) and the recorded tags.
pub fn keep_unmapped(input: &mut ResidentInput, row: &ResidentRow) {
    if input.region_code.trim().is_empty() {
        input.region_code = row.region_code.clone();
    }
    input.household_code = row.household_code.clone();
    input.insurance = Some(row.insurance.clone());
    input.tags = Some(
        row.tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
    );
}

pub async fn read(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    let id = parse_id("Patient", id)?;
    let d = service::resident_detail(&s.store, p, id, s.today()).await?;
    Ok(detail_to_fhir(&d))
}

pub async fn search(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    let mut f = ResidentFilter {
        id: q.id()?,
        q: q.one("name")?.map(str::to_string),
        phone: q.one("phone")?.map(str::to_string),
        ..Default::default()
    };
    if let Some((system, value)) = q.token("identifier")? {
        match system.as_deref() {
            Some(yilian_fhir::identifiers::HEALTH_CARD_SYSTEM) => f.health_card_id = Some(value),
            Some(yilian_fhir::identifiers::ID_NUMBER_SYSTEM) => f.id_number = Some(value),
            // Without a system the value is recognised by its shape.
            None if value.trim().starts_with(['E', 'e']) => f.health_card_id = Some(value),
            None => f.id_number = Some(value),
            // An identifier system yilian does not keep matches nobody.
            Some(_) => f.id = Some(0),
        }
    }
    let (born_from, born_before) = q.date("birthdate")?.dates();
    f.born_from = born_from;
    f.born_before = born_before;
    let page = service::search_residents(&s.store, p, &f, q.paging(), s.today()).await?;
    Ok(Found {
        matches: page.items.iter().map(summary_to_fhir).collect(),
        total: u64::try_from(page.total).unwrap_or(0),
        included: vec![],
    })
}

pub async fn create(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let pin = fp::from_fhir(v, s.today())?;
    let r = service::register_resident(&s.store, &s.regions, p, &pin.input, s.today()).await?;
    Ok(detail_to_fhir(&r.resident))
}

pub async fn update(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let id = parse_id("Patient", id)?;
    let mut pin = fp::from_fhir(v, s.today())?;
    let current = service::resident_detail(&s.store, p, id, s.today()).await?;
    check_version(want, current.version)?;
    let row = {
        let mut c = s.store.read().await?;
        yilian_store::residents::get(&mut c, id).await?
    }
    .ok_or_else(|| super::not_found("Patient", &id.to_string()))?;
    keep_unmapped(&mut pin.input, &row);
    let d = service::update_resident(
        &s.store,
        p,
        id,
        want.unwrap_or(current.version),
        &pin.input,
        s.today(),
    )
    .await?;
    Ok(detail_to_fhir(&d))
}

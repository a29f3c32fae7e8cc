//! `Organization` — the institution registry, with the same checks as
//! `/api/v1/institutions` (registered region, kind fitting the region's
//! level, writes by the region's health commission or an administrator).
//!
//! FHIR carries code, name, kind, region and address; an update keeps the
//! institution's grade, ownership, location, beds, staff and services
//! (they have no place in Organization), and a create registers a public
//! institution with none of them, to be completed on `/api/v1`.

use serde_json::Value;
use yilian_domain::access::{Action, Principal, allowed};
use yilian_domain::registry::InstitutionKind;
use yilian_fhir::organization::{self as fo, InstitutionFhir, OrganizationIn};
use yilian_store::registry::{self, InstitutionFilter, InstitutionRow};

use super::{FhirError, FhirResult, Found, Params, check_version, not_found, parse_id};
use crate::api::registry::{InstitutionInput, institution_data};
use crate::error::ApiError;
use crate::state::AppState;

/// An institution as an Organization.
pub fn to_fhir(i: &InstitutionRow) -> FhirResult<Value> {
    let kind = InstitutionKind::parse_field("kind", &i.kind).map_err(|_| ApiError::internal())?;
    Ok(fo::to_fhir(&InstitutionFhir {
        id: i.id,
        code: i.code.clone(),
        name: i.name.clone(),
        kind,
        region_code: i.region_code.clone(),
        address: i.address.clone(),
        part_of: None,
        version: Some(i.version),
    }))
}

fn require_read(p: &Principal) -> FhirResult<()> {
    if allowed(p.role, Action::ReadRegistry) {
        Ok(())
    } else {
        Err(ApiError::forbidden().into())
    }
}

pub async fn read_organization(s: &AppState, p: &Principal, id: &str) -> FhirResult<Value> {
    require_read(p)?;
    let n = parse_id("Organization", id)?;
    let mut c = s.store.read().await?;
    let row = registry::get_institution(&mut c, n)
        .await?
        .ok_or_else(|| not_found("Organization", id))?;
    to_fhir(&row)
}

pub async fn search_organizations(s: &AppState, p: &Principal, q: &Params) -> FhirResult<Found> {
    require_read(p)?;
    let mut c = s.store.read().await?;
    let rows: Vec<InstitutionRow> = match (q.id()?, q.token("identifier")?) {
        (Some(id), _) => registry::get_institution(&mut c, id)
            .await?
            .into_iter()
            .collect(),
        (None, Some((system, code))) => {
            if system
                .as_deref()
                .is_some_and(|s| s != yilian_fhir::identifiers::INSTITUTION_CODE_SYSTEM)
            {
                vec![]
            } else {
                registry::get_institution_by_code(&mut c, &code)
                    .await?
                    .into_iter()
                    .collect()
            }
        }
        (None, None) => {
            let f = InstitutionFilter {
                kind: q.token("type")?.map(|(_, k)| k),
                q: q.one("name")?.map(str::to_string),
                ..Default::default()
            };
            let page = registry::list_institutions(&mut c, &f, q.paging()).await?;
            let matches = page.items.iter().map(to_fhir).collect::<FhirResult<_>>()?;
            return Ok(Found {
                matches,
                total: u64::try_from(page.total).unwrap_or(0),
                included: vec![],
            });
        }
    };
    // A lookup by id or code still honours the other parameters.
    let name = q.one("name")?;
    let kind = q.token("type")?.map(|(_, k)| k);
    let rows: Vec<&InstitutionRow> = rows
        .iter()
        .filter(|r| name.is_none_or(|n| r.name.contains(n)))
        .filter(|r| kind.as_ref().is_none_or(|k| &r.kind == k))
        .collect();
    Ok(Found {
        total: rows.len() as u64,
        matches: rows
            .into_iter()
            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
            .take(q.count as usize)
            .map(to_fhir)
            .collect::<FhirResult<_>>()?,
        included: vec![],
    })
}

pub(super) fn input_of(o: &OrganizationIn, old: Option<&InstitutionRow>) -> InstitutionInput {
    InstitutionInput {
        code: o.code.clone(),
        name: o.name.clone(),
        kind: o.kind.as_str().into(),
        grade: old.and_then(|r| r.grade.clone()),
        ownership: old.map_or_else(|| "public".to_string(), |r| r.ownership.clone()),
        region_code: o.region_code.as_str().into(),
        address: Some(o.address.clone()),
        lon: old.and_then(|r| r.lon),
        lat: old.and_then(|r| r.lat),
        beds: old.map(|r| r.beds.0.clone()).unwrap_or_default(),
        staff: old.map(|r| r.staff.0.clone()).unwrap_or_default(),
        services: old.map(|r| r.services.0.clone()).unwrap_or_default(),
    }
}

pub async fn create_organization(s: &AppState, p: &Principal, v: &Value) -> FhirResult<Value> {
    let o = fo::from_fhir(v)?;
    let mut tx = s.store.write().await?;
    let d = institution_data(&mut tx, p, &input_of(&o, None)).await?;
    let row = registry::insert_institution(&mut tx, &d).await?;
    tx.commit().await?;
    to_fhir(&row)
}

pub async fn update_organization(
    s: &AppState,
    p: &Principal,
    id: &str,
    v: &Value,
    want: Option<i64>,
) -> FhirResult<Value> {
    let n = parse_id("Organization", id)?;
    let o = fo::from_fhir(v)?;
    let mut tx = s.store.write().await?;
    let old = registry::get_institution(&mut tx, n)
        .await?
        .ok_or_else(|| not_found("Organization", id))?;
    check_version(want, old.version)?;
    // Both the old and the new region must be the caller's to write.
    let old_region = yilian_domain::region::RegionCode::parse(&old.region_code)
        .map_err(|_| FhirError::from(ApiError::internal()))?;
    crate::service::authorize_registry_write(p, &old_region)?;
    let d = institution_data(&mut tx, p, &input_of(&o, Some(&old))).await?;
    let row = registry::update_institution(&mut tx, n, old.version, &d).await?;
    tx.commit().await?;
    to_fhir(&row)
}

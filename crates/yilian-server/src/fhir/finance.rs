//! Insurance claims: `Claim` and `ClaimResponse` (医保结算).
//!
//! One stored claim row is both resources, with the same id: the `Claim` is
//! what the institution billed, the `ClaimResponse` the fund's adjudication
//! of it (yilian adjudicates at entry). Everything goes through the
//! `/api/v1/claims` services (`crate::insurance`): the same scoping (the
//! insurer and the commission their area's residents, an institution its
//! own claims, a resident their own) and, for a `Claim` create, the same
//! entry rules and adjudication (`enter_claim`). A refusal of those rules
//! names the FHIR element the hospital sent (`claim_field_path`).
//!
//! Claims are not updated through FHIR (review, valuation and rejection are
//! the fund's steps on `/api/v1`). The Claim's `diagnosis` is left out: the
//! encounter's diagnoses are record entries, read only with grounds.

use chrono::{Duration, NaiveDateTime};
use serde_json::Value;
use yilian_domain::access::{Action, Principal, allowed};
use yilian_domain::insurance::{BenefitLevel, ClaimState, ReferralContext, Setting};
use yilian_domain::record::EntryKind;
use yilian_domain::registry::Insurance;
use yilian_fhir::capability::{Interaction, ParamType, ResourceSupport};
use yilian_fhir::claim::{self as fc, ClaimFhir, ClaimIn};
use yilian_fhir::reference::Ref;
use yilian_fhir::{IssueType, Outcome};
use yilian_store::insurance::ClaimFilter;

use super::{DateBound, FhirError, FhirResult, Found, Params, not_found, parse_id, unsupported};
use crate::error::ApiError;
use crate::insurance::{self as service, ClaimRequest, ClaimView, ItemRequest};
use crate::state::AppState;

/// What this module serves (see [`super::support`]).
pub fn support() -> Vec<ResourceSupport> {
    use Interaction::{Create, Read, SearchType};
    use ParamType::{Date, Reference, Token};
    vec![
        ResourceSupport::new("Claim", &[Read, SearchType, Create])
            .search(&[
                ("_id", Token),
                ("patient", Reference),
                ("status", Token),
                ("created", Date),
                ("provider", Reference),
            ])
            .versioned(),
        ResourceSupport::new("ClaimResponse", &[Read, SearchType])
            .search(&[
                ("_id", Token),
                ("patient", Reference),
                ("request", Reference),
                ("requestor", Reference),
                ("outcome", Token),
                ("status", Token),
            ])
            .versioned(),
    ]
}

fn internal() -> FhirError {
    ApiError::internal().into()
}

/// A stored UTC time (`…Z`) as China Standard Time text (`YYYY-MM-DDTHH:MM:SS`).
pub(crate) fn utc_to_cst(t: &str) -> String {
    NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%dT%H:%M:%SZ")
        .map(|u| {
            (u + Duration::hours(8))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

/// A search's date bounds (China Standard Time) as stored UTC text.
pub(crate) fn utc_bounds(b: &DateBound) -> (Option<String>, Option<String>) {
    let f = |t: NaiveDateTime| yilian_store::utc_text(t - Duration::hours(8));
    (b.from.map(f), b.to.map(f))
}

/// A stored claim as the mappers need it.
fn claim_fhir(v: &ClaimView) -> FhirResult<ClaimFhir> {
    let c = &v.claim;
    Ok(ClaimFhir {
        id: c.id,
        resident_id: c.resident_id,
        resident_name: c.resident_name.clone(),
        institution_id: c.institution_id,
        institution_name: c.institution_name.clone(),
        referral_id: c.referral_id,
        encounter_entry_id: c.encounter_entry_id,
        service_date: c.service_date.clone(),
        scheme: Insurance::parse(&c.scheme).unwrap_or(Insurance::Resident),
        setting: Setting::parse(&c.setting).ok_or_else(internal)?,
        level: BenefitLevel::parse(&c.level).ok_or_else(internal)?,
        referral_context: ReferralContext::parse(&c.referral_context).ok_or_else(internal)?,
        in_county: c.in_county != 0,
        items: v.cost_items.clone(),
        diagnoses: vec![],
        total_fen: c.total_fen,
        covered_fen: c.covered_fen,
        uncovered_fen: c.uncovered_fen,
        deductible_fen: c.deductible_fen,
        ratio_bp: c.ratio_bp,
        fund_fen: c.fund_fen,
        resident_fen: c.resident_fen,
        capped_fen: c.capped_fen,
        policy_id: c.policy_id.clone(),
        rules: v.applied.clone(),
        state: ClaimState::parse(&c.state).ok_or_else(internal)?,
        reject_reason: c.reject_reason.clone(),
        created_at: utc_to_cst(&c.created_at),
        updated_at: utc_to_cst(&c.updated_at),
        version: Some(c.version),
        insurer_name: String::new(),
        insurer_id: None,
    })
}

fn to_fhir(rt: &str, v: &ClaimView) -> FhirResult<Value> {
    let c = claim_fhir(v)?;
    Ok(if rt == "ClaimResponse" {
        fc::response_to_fhir(&c)
    } else {
        fc::to_fhir(&c)
    })
}

pub async fn read(s: &AppState, p: &Principal, rt: &str, id: &str) -> FhirResult<Value> {
    if !matches!(rt, "Claim" | "ClaimResponse") {
        return Err(unsupported(rt));
    }
    let n = parse_id(rt, id)?;
    let v = service::get_claim(&s.store, p, n).await.map_err(|e| {
        if e.status == axum::http::StatusCode::NOT_FOUND {
            not_found(rt, id)
        } else {
            e.into()
        }
    })?;
    to_fhir(rt, &v)
}

/// The claim states a `ClaimResponse.outcome` stands for (empty: none).
fn states_of_outcome(outcome: &str) -> Vec<String> {
    let states: &[ClaimState] = match outcome {
        "partial" => &[ClaimState::Entered, ClaimState::Checked],
        "complete" => &[ClaimState::Valuated],
        "error" => &[ClaimState::Rejected],
        _ => &[],
    };
    states.iter().map(|s| s.as_str().to_string()).collect()
}

pub async fn search(s: &AppState, p: &Principal, rt: &str, q: &Params) -> FhirResult<Found> {
    let mut f = ClaimFilter {
        id: q.id()?,
        resident_id: q.reference("patient", "Patient")?,
        ..Default::default()
    };
    // Every claim is `active` (its progress is on the ClaimResponse).
    if let Some((_, st)) = q.token("status")?
        && st != "active"
    {
        return Ok(Found::default());
    }
    match rt {
        "Claim" => {
            f.institution_id = q.reference("provider", "Organization")?;
            let (from, before) = utc_bounds(&q.date("created")?);
            f.created_from = from;
            f.created_before = before;
        }
        "ClaimResponse" => {
            f.institution_id = q.reference("requestor", "Organization")?;
            if let Some(r) = q.reference("request", "Claim")? {
                if f.id.is_some_and(|i| i != r) {
                    return Ok(Found::default());
                }
                f.id = Some(r);
            }
            if let Some((_, o)) = q.token("outcome")? {
                f.states = states_of_outcome(&o);
                if f.states.is_empty() {
                    return Ok(Found::default());
                }
            }
        }
        _ => return Err(unsupported(rt)),
    }
    let (want_resident, want_institution) = (f.resident_id, f.institution_id);
    let page = service::list_claims(&s.store, p, f, q.paging()).await?;
    // The caller's scope replaces a resident or institution it is bound
    // to; asked for another one, nothing matches both.
    if let Some(first) = page.items.first()
        && (want_resident.is_some_and(|r| r != first.claim.resident_id)
            || want_institution.is_some_and(|i| i != first.claim.institution_id))
    {
        return Ok(Found::default());
    }
    Ok(Found {
        matches: page
            .items
            .iter()
            .map(|v| to_fhir(rt, v))
            .collect::<FhirResult<_>>()?,
        total: u64::try_from(page.total).unwrap_or(0),
        included: vec![],
    })
}

/// A stored id a reference names (a `urn:uuid` placeholder has none here).
fn stored_id(r: &Ref, path: &str) -> FhirResult<i64> {
    match r {
        Ref::Stored { id, .. } => id.parse::<i64>().ok().filter(|n| *n > 0),
        Ref::Placeholder(_) => None,
    }
    .ok_or_else(|| {
        FhirError(Outcome::new(
            IssueType::NotFound,
            "unknown_reference",
            path,
            format!("引用 {} 无法解析", r.as_reference()),
            format!("reference {} cannot be resolved", r.as_reference()),
        ))
    })
}

/// The `/api/v1` claim request a FHIR `Claim` amounts to.
pub fn claim_request(c: &ClaimIn) -> FhirResult<ClaimRequest> {
    Ok(ClaimRequest {
        resident_id: stored_id(&c.patient, "Claim.patient.reference")?,
        institution_id: Some(stored_id(&c.provider, "Claim.provider.reference")?),
        service_date: c.service_date_text(),
        setting: c.setting.as_str().into(),
        items: c
            .items
            .iter()
            .map(|i| ItemRequest {
                category: i.category.as_str().into(),
                amount_fen: i.amount_fen,
                covered: Some(i.covered),
            })
            .collect(),
        referral_id: c
            .referral
            .as_ref()
            .map(|r| stored_id(r, "Claim.referral.reference"))
            .transpose()?,
        encounter_entry_id: c
            .encounter
            .as_ref()
            .map(|r| {
                stored_id(
                    r,
                    fc::claim_field_path("Claim", "encounter_entry_id").as_str(),
                )
            })
            .transpose()?,
    })
}

/// An `/api/v1` refusal of a claim placed at the FHIR element it concerns.
fn at_element(e: ApiError, p: &Principal, req: &ClaimRequest) -> FhirError {
    let code = e.body.code.as_str();
    let path = match code {
        // `InvalidClaim`'s English message is "invalid claim: {field}: …".
        "invalid_claim" => e
            .body
            .message_en
            .strip_prefix("invalid claim: ")
            .and_then(|m| m.split_once(": "))
            .map(|(field, _)| fc::claim_field_path("Claim", field))
            .unwrap_or_else(|| "Claim".into()),
        "no_policy_in_force" => "Claim.billablePeriod".into(),
        "not_found" if e.body.message_zh.contains("居民") => "Claim.patient.reference".into(),
        "not_found" if e.body.message_zh.contains("机构") => "Claim.provider.reference".into(),
        "forbidden"
            if p.institution.as_ref().map(|i| i.id).is_some()
                && p.institution.as_ref().map(|i| i.id) != req.institution_id =>
        {
            "Claim.provider.reference".into()
        }
        _ => String::new(),
    };
    let mut o = Outcome::new(
        IssueType::for_code(code),
        code,
        &path,
        e.body.message_zh,
        e.body.message_en,
    );
    o.status = e.status.as_u16();
    FhirError(o)
}

/// The encounter a claim names must be an encounter entry of its resident
/// (checked before entry, so the refusal names the element; only for a
/// caller who may enter claims for that resident, as `enter_claim` checks).
async fn check_encounter(s: &AppState, p: &Principal, req: &ClaimRequest) -> FhirResult<()> {
    let Some(id) = req.encounter_entry_id else {
        return Ok(());
    };
    if !allowed(p.role, Action::EnterClaim) {
        return Err(ApiError::forbidden().into());
    }
    let entry = {
        let mut c = s.store.read().await?;
        crate::care::visible_resident(&mut c, p, req.resident_id)
            .await
            .map_err(|e| at_element(e, p, req))?;
        yilian_store::records::get_entry(&mut c, id).await?
    };
    if entry.is_some_and(|e| {
        e.kind == EntryKind::Encounter.as_str() && e.resident_id == req.resident_id
    }) {
        return Ok(());
    }
    Err(FhirError(Outcome::new(
        IssueType::NotFound,
        "unknown_reference",
        &fc::claim_field_path("Claim", "encounter_entry_id"),
        format!("Encounter/{id} 不是该居民的就诊记录"),
        format!("Encounter/{id} is not an encounter of this patient"),
    )))
}

pub async fn create(s: &AppState, p: &Principal, rt: &str, v: &Value) -> FhirResult<Value> {
    if rt != "Claim" {
        return Err(unsupported(rt));
    }
    let c = fc::from_fhir(v)?;
    let req = claim_request(&c)?;
    check_encounter(s, p, &req).await?;
    let view = service::enter_claim(&s.store, p, &req)
        .await
        .map_err(|e| at_element(e, p, &req))?;
    to_fhir(rt, &view)
}
